"""FastAPI dependencies: a database session per request, and who is asking.

Every route declares who may call it (``app.py`` attaches these to whole routers):
``public``, ``staff(*roles)`` for admins, item writers, reviewers and proctors, or the candidate token of
one attempt (``api/exams.py``). Staff authenticate with the session cookie set by /login or an
``Authorization: Bearer st_...`` token from ``POST /api/v1/sessions``. Routes name what they need
with the typed aliases :data:`DB`, :data:`Staff` and :data:`ExamStaff`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
import weakref
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from examengine.db.engine import has_uncommitted_writes
from examengine.services import accounts
from examengine.services.accounts import ForbiddenError, NotSignedInError, Role, SignInLimits, require_exam, resolve
from examengine.services.attempts import Client
from examengine.services.items import served_picture_type
from examengine.services.quality import Severity, parse_block_setting

STAFF_COOKIE = "ee_staff"
#: Served with every item picture: even bytes a browser would render as a page run no script
#: and load nothing (a sandboxed, opaque origin).
PICTURE_CSP = "default-src 'none'; sandbox"


async def get_db(request: Request) -> AsyncIterator[Session]:
    """A session per request. Async on purpose: FastAPI runs a sync generator's clean-up in its
    thread pool, so when every pool thread is a request waiting for a database connection, the
    finished requests cannot run the clean-up that returns theirs - a deadlock until the
    connection pool's timeout (seen at 200 concurrent candidates). Here the clean-up runs on
    the event loop. The session itself is used by the sync route in a pool thread."""
    db = request.app.state.sessionmaker()
    try:
        yield db
    finally:
        db.close()


def centre_zone(request: Request) -> ZoneInfo:
    """The centre's time zone (Settings.timezone) of the app serving the request: windows typed
    without an offset are read in it, messages show times in it."""
    return request.app.state.settings.zone


def public_url(request: Request) -> str | None:
    """The address candidates open (Settings.public_url), without a trailing slash; None when unset."""
    url = request.app.state.settings.public_url
    return url.rstrip("/") if url else None


def release_connection(db: Session) -> None:
    """Hand the request's database connection back to the pool when its transaction only
    read: commit it (nothing is written; loaded objects stay usable, no expiry). A transaction
    with writes nobody committed is left alone, for the request's end to roll back.

    FastAPI runs a sync dependency, the sync route and the validation of the route's return
    value in separate turns of its thread pool: a request that kept its connection across
    them would hold it while waiting for a thread, and with every thread waiting for a
    connection nothing moves until the pool's timeout (seen at 200 concurrent candidates).
    Dependencies call this when they have read what they need; :class:`ReleasingRoute` calls
    it when a route returns."""
    if db.in_transaction() and not has_uncommitted_writes(db):
        db.commit()


class ReleasingRoute(APIRoute):
    """The route class of every router. Without it, 300 concurrent staff requests deadlocked
    (80 errors, 219 timeouts; why: :func:`release_connection`). A sync endpoint is wrapped so
    that, when it returns, the sessions it was given end their read-only transaction
    (:func:`release_connection`) in the same thread. Anything read later (a lazy load while
    the value is serialized) takes a connection in that thread and gives it back at the
    request's end."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _releasing(endpoint)
        super().__init__(path, endpoint, **kwargs)


#: Threads that run the candidates' routes, per worker, unless the app configured them
#: (Settings.candidate_threads). Measured with benchmarks/load.py, 200 candidates at zero think
#: time: FastAPI's shared pool of 40 threads cost 30-50 % more server CPU per answer (threads
#: contending for the GIL and the database) than 1 (SQLite) or 2 (PostgreSQL); docs/performance.md.
CANDIDATE_THREADS = 2
_CANDIDATE_LIMITERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def configure_candidate_threads(n: int) -> None:
    """Set the candidates' thread count for the running event loop (the app's lifespan)."""
    _CANDIDATE_LIMITERS[asyncio.get_running_loop()] = anyio.CapacityLimiter(n)


def candidate_limiter() -> anyio.CapacityLimiter:
    """The candidates' thread limiter of the running event loop."""
    loop = asyncio.get_running_loop()
    limiter = _CANDIDATE_LIMITERS.get(loop)
    if limiter is None:
        limiter = _CANDIDATE_LIMITERS[loop] = anyio.CapacityLimiter(CANDIDATE_THREADS)
    return limiter


async def in_candidate_thread(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run blocking work of a candidate's request in the candidates' threads."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=candidate_limiter())


class CandidateRoute(ReleasingRoute):
    """The route class of the candidates' routers: a sync endpoint runs in threads of its own
    (:data:`CANDIDATE_THREADS`), so the exam's hot path neither contends with 40 threads nor
    waits behind staff work (PDF printing, uploads, assembly) in FastAPI's shared pool; its
    return value is then validated on the event loop. The threads: :func:`candidate_limiter`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            sync = _releasing(endpoint)

            @functools.wraps(sync)
            async def endpoint(*args: Any, **kw: Any) -> Any:
                return await in_candidate_thread(sync, *args, **kw)

        super().__init__(path, endpoint, **kwargs)


def _releasing(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads the signature and annotations through __wrapped__
    def run(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session):
                release_connection(value)
        return result

    return run


def staff_token(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer st_"):
        return auth[7:].strip()
    return request.cookies.get(STAFF_COOKIE, "")


def client_address(request: Request) -> str:
    """The address a sign-in came from (the peer: a reverse proxy's own address behind one)."""
    return request.client.host if request.client else ""


def signin_limits(request: Request) -> SignInLimits:
    """The sign-in bounds of this app's settings."""
    s = request.app.state.settings
    return SignInLimits(s.signin_failures_per_user, s.signin_failures_per_address,
                        timedelta(minutes=s.signin_window_minutes))


def current_staff(request: Request, db: Session = Depends(get_db)) -> accounts.Staff | None:
    """The signed-in staff member, or None."""
    cached = getattr(request.state, "staff", "unset")
    if cached != "unset":
        return cached
    staff = resolve(db, staff_token(request))
    release_connection(db)
    request.state.staff = staff
    return staff


def staff(*roles: str) -> Callable:
    """A dependency: a signed-in staff member with one of ``roles`` (admins always pass)."""
    allowed = {Role(r) for r in roles} | {Role.ADMIN}

    def require(member=Depends(current_staff)):
        if member is None:
            raise NotSignedInError("请先登录（工作人员账号）。")
        if member.role not in allowed:
            raise ForbiddenError(f"{member.role.label}账号无权进行此操作。")
        return member

    require.roles = tuple(sorted(r.value for r in allowed))  # for the route-walking test
    return require


def exam_staff(exam_id: int, member=Depends(staff("proctor")), db: Session = Depends(get_db)) -> accounts.Staff:
    """A proctor assigned to this exam, or an admin."""
    try:
        require_exam(db, member, exam_id)
    finally:
        release_connection(db)
    return member


def client_of(request: Request, device: str = "") -> Client:
    """Where a candidate's request comes from (address, browser, device cookie), for the sign-in record."""
    return Client(address=request.client.host if request.client else "",
                  user_agent=request.headers.get("user-agent", ""), device=device)


#: The request's database session (:func:`get_db`), for a route's parameter: ``db: DB``.
DB = Annotated[Session, Depends(get_db)]
#: The signed-in staff member. The router's role dependency (``app.py``) has already refused
#: everyone else, so a route behind one never sees None.
Staff = Annotated[accounts.Staff, Depends(current_staff)]
#: A proctor assigned to the exam of the path's ``exam_id``, or an admin (:func:`exam_staff`).
ExamStaff = Annotated[accounts.Staff, Depends(exam_staff)]
#: The centre's time zone (Settings.timezone).
Zone = Annotated[ZoneInfo, Depends(centre_zone)]


def item_findings_block(request: Request) -> Severity | None:
    """The centre's ``item_findings_block`` setting: which checker findings block an import."""
    return parse_block_setting(request.app.state.settings.item_findings_block)


#: The severity of checker findings that blocks an import, or None (:func:`item_findings_block`).
FindingsBlock = Annotated[Severity | None, Depends(item_findings_block)]


#: The route arguments of every picture route: it answers with the picture's bytes, not JSON, and
#: /openapi.json says so (the types :func:`picture_response` serves).
PICTURE_ROUTE: dict[str, Any] = {"response_class": Response, "responses": {200: {"description": "The picture", "content": {
    "image/png": {}, "image/jpeg": {}, "image/gif": {}, "image/webp": {}, "application/octet-stream": {}}}}}


def pdf_response(data: bytes | None, name: str, ascii_name: str, *, inline: bool = False) -> Response:
    """A PDF named for what it is: ``filename*`` (RFC 5987/6266, UTF-8) carries the Chinese name
    browsers save it under, ``filename`` an ASCII one for older clients. ``inline``: shown in
    the browser (the pages' links), else downloaded (the API)."""
    disposition = "inline" if inline else "attachment"
    return Response(data or b"", media_type="application/pdf", headers={
        "Content-Disposition": f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"})


def picture_response(data: bytes, name: str, *, cache: str | None = None) -> Response:
    """An item picture as a response, for every picture route (writer, staff and candidate): the
    type sniffed from the bytes (never the stored one), ``nosniff``, a sandboxing CSP, and a
    Content-Disposition with a safe name (``attachment`` for bytes that are no picture)."""
    media = served_picture_type(data)
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "picture"
    disposition = "inline" if media.startswith("image/") else "attachment"
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": PICTURE_CSP,
        "Content-Disposition": f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}",
    }
    if cache:
        headers["Cache-Control"] = cache
    return Response(data, media_type=media, headers=headers)
