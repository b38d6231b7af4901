"""Staff sign-in and sign-out pages."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from examengine.deps import (
    STAFF_COOKIE,
    ReleasingRoute,
    client_address,
    current_staff,
    get_db,
    signin_limits,
    staff_token,
)
from examengine.rendering.env import render
from examengine.services import accounts

router = APIRouter(route_class=ReleasingRoute, include_in_schema=False)
HOME = {"admin": "/proctor", "proctor": "/proctor", "item_writer": "/writer/items", "reviewer": "/writer/items"}


#: The staff pages a sign-in may go on to (``next=``): never the API, static files or pictures.
NEXT_PAGES = ("writer", "proctor", "reports")


def _safe_next(target: str) -> str:
    """``target`` when it is a staff page of this app, else "" (the role's home page).

    A sign-in link is a lure when ``next`` leads elsewhere: another site (``//host``,
    ``https://host``, ``/\\host`` and ``/<tab>/host``, which browsers read as ``//host``), a
    ``javascript:`` URL, or a file of this origin that is no page (an API answer, a picture)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return ""
    segments = [unquote(seg) for seg in parts.path.split("/")[1:]]
    if not segments or segments[0] not in NEXT_PAGES:
        return ""
    if any(seg in (".", "..") or "/" in seg or "\\" in seg for seg in segments):
        return ""
    return target


@router.get("/login")
def login_form(request: Request, next: str = "", member=Depends(current_staff)) -> Response:
    if member is not None:
        return RedirectResponse(_safe_next(next) or HOME[member.role.value], 303)
    return HTMLResponse(render("login.html", nav="", message="", next=_safe_next(next), username=""))


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form(""),
          db: Session = Depends(get_db)) -> Response:
    try:
        token = accounts.sign_in(db, username, password, address=client_address(request),
                                 limits=signin_limits(request))
    except accounts.TooManySignInsError as exc:
        return HTMLResponse(render("login.html", nav="", message=exc.message, next=_safe_next(next),
                                   username=username), status_code=429,
                            headers={"Retry-After": str(exc.retry_after)})
    except accounts.NotSignedInError as exc:
        return HTMLResponse(render("login.html", nav="", message=exc.message, next=_safe_next(next),
                                   username=username), status_code=401)
    member = accounts.resolve(db, token)
    resp = RedirectResponse(_safe_next(next) or HOME[member.role.value], 303)
    resp.set_cookie(STAFF_COOKIE, token, httponly=True, samesite="strict", max_age=accounts.SESSION_HOURS * 3600)
    return resp


@router.post("/logout")
def logout(request: Request, db: Session = Depends(get_db)) -> Response:
    accounts.sign_out(db, staff_token(request))
    resp = RedirectResponse("/login", 303)
    resp.delete_cookie(STAFF_COOKIE)
    return resp
