"""Flash messages for post/redirect/get: a staff POST answers 303 to a page's GET URL and leaves
a short message ("已为 张三 延长 5 分钟。") for that page to show once.

The message travels in a cookie, not in the URL, because:

- a message in a query parameter (``?msg=成绩已发布``) is text anyone can put in a link: an
  outsider could send a proctor a monitor URL that announces something that never happened;
  it also stays in the history and in server logs, and shows again on every reload;
- a query parameter holding only an id needs the message stored on the server and a check that
  the id belongs to this member, for a message that lives a few seconds.

The cookie is signed with HMAC-SHA256 under a key derived from the member's own staff session
token (the ``ee_staff`` cookie or the bearer token that made the request). Someone on the network
who can plant a cookie on a plain-HTTP hop, or a sibling host, cannot forge a message without the
token, and a message set for one session is never shown to another. The payload also names the
page path and an expiry (``FLASH_SECONDS``); the cookie is limited to that path, ``HttpOnly``,
``SameSite=Strict`` (``Secure`` when ``EXAMENGINE_SECURE_COOKIES``), and the page that shows it
deletes it, so it is shown once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from examengine.deps import staff_token

FLASH_COOKIE = "ee_flash"
#: How long a flash waits for its page (the redirect is followed at once).
FLASH_SECONDS = 60
#: Longest message kept (a cookie holds about 4 KB; a Chinese character is 4 base64 characters).
MAX_CHARS = 600


@dataclass(frozen=True)
class Flash:
    message: str
    cls: str  # "ok" or "bad", the CSS class of the message


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(token: str) -> bytes:
    return hashlib.sha256(b"examengine flash\0" + token.encode("utf-8")).digest()


def _sign(token: str, payload: str) -> str:
    return _b64(hmac.new(_key(token), payload.encode("utf-8"), hashlib.sha256).digest())


def redirect(request: Request, path: str, message: str, cls: str = "ok") -> RedirectResponse:
    """303 to ``path`` (a page of this app), leaving ``message`` for it to show once."""
    resp = RedirectResponse(path, 303)
    token = staff_token(request)
    if not token:  # no session to bind it to: no message rather than an unsigned one
        return resp
    if len(message) > MAX_CHARS:
        message = message[:MAX_CHARS - 1] + "…"
    body = json.dumps({"p": path, "m": message, "c": cls, "x": int(time.time()) + FLASH_SECONDS},
                      ensure_ascii=False, separators=(",", ":"))
    payload = _b64(body.encode("utf-8"))
    resp.set_cookie(FLASH_COOKIE, f"{payload}.{_sign(token, payload)}", max_age=FLASH_SECONDS, path=path,
                    httponly=True, samesite="strict")
    return resp


def take(request: Request) -> Flash | None:
    """The message left for this page by the redirect that led here, if it is genuine (signed for
    this session, for this path, not expired). Call :func:`forget` on the response."""
    raw = request.cookies.get(FLASH_COOKIE, "")
    token = staff_token(request)
    payload, _, signature = raw.partition(".")
    if not (token and payload and signature):
        return None
    if not hmac.compare_digest(signature.encode("utf-8"), _sign(token, payload).encode("utf-8")):
        return None
    try:
        data = json.loads(_unb64(payload).decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("p") != request.url.path:
        return None
    if not isinstance(data.get("x"), int) or data["x"] < time.time():
        return None
    cls = "bad" if data.get("c") == "bad" else "ok"
    return Flash(str(data.get("m", "")), cls)


def forget(request: Request, resp: Response) -> Response:
    """Delete the flash cookie of this page (when the request carried one): shown once."""
    if FLASH_COOKIE in request.cookies:
        resp.delete_cookie(FLASH_COOKIE, path=request.url.path, httponly=True, samesite="strict")
    return resp
