"""The web application: ``create_app(settings)`` builds it; nothing happens at import."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError as SQLDataError
from sqlalchemy.exc import DBAPIError, OperationalError

from examengine import __version__
from examengine.api.errors import DetailOut, ErrorOut
from examengine.config import Settings, allowed_origins, origin_of
from examengine.db.engine import make_engine, make_sessionmaker, write_problem
from examengine.db.migrate import ensure_current
from examengine.deps import configure_candidate_threads
from examengine.errors import (
    ConflictError,
    DataFileError,
    ExamEngineError,
    NotFoundError,
    TooManyAttemptsError,
)
from examengine.rendering.env import display_zone
from examengine.services.accounts import ForbiddenError, NotSignedInError, Role
from examengine.services.attempts import (
    ApprovalPendingError,
    ExamNotOpenError,
    NotAuthorizedError,
    SignInError,
)

# The one table mapping domain errors to HTTP status codes (most specific first).
ERROR_STATUS: list[tuple[type[ExamEngineError], int]] = [
    (NotSignedInError, 401),
    (ForbiddenError, 403),
    (SignInError, 401),
    (NotAuthorizedError, 401),
    (ApprovalPendingError, 403),
    (TooManyAttemptsError, 429),
    (ExamNotOpenError, 403),
    (NotFoundError, 404),
    (DataFileError, 422),
    (ConflictError, 409),
    (ExamEngineError, 400),
]
#: What /openapi.json says every JSON route may answer besides its own body: a domain error in
#: the one error shape (ERROR_STATUS), and 503 when the database refuses. 422 stays FastAPI's own
#: (request validation, whose body is ``detail``); a DataFileError's 422 body fits it as well. A
#: 400 may also be FastAPI's refusal of a body that does not parse.
ERROR_RESPONSES: dict[int | str, dict] = {
    code: {"model": ErrorOut | DetailOut if code == 400 else ErrorOut, "description": text} for code, text in [
        (400, "请求有误"), (401, "未登录，或令牌无效"), (403, "无权进行此操作"), (404, "编号不存在"),
        (409, "与当前状态冲突"), (429, "失败次数过多，见 Retry-After"), (503, "数据库暂时不可用，本次操作没有保存")]
}

logger = logging.getLogger("examengine")

#: SQLSTATEs of a database that cannot take writes now: read-only transaction, disk full, out of
#: memory, too many connections, cannot connect, shutting down.
STORAGE_SQLSTATES = {"25006", "53100", "53200", "53300", "08000", "08001", "08006", "57P01", "57P03"}


def storage_message(exc: DBAPIError) -> str | None:
    """What to tell people when the database refused (Chinese), or None for any other database
    error (a constraint, a bug)."""
    reason = str(exc.orig).lower()
    state = getattr(exc.orig, "sqlstate", None)
    if not isinstance(exc, OperationalError) and state not in STORAGE_SQLSTATES:
        return None
    if "readonly" in reason or "read-only" in reason or "read only" in reason or state == "25006":
        return "系统数据库当前只读，无法写入。"
    if ("disk" in reason and "full" in reason) or state == "53100":
        return "系统数据库所在磁盘已满，无法写入。"
    if "locked" in reason or "busy" in reason:
        return "系统数据库正忙，请稍后重试。"
    return "暂时无法访问系统数据库。"


class DisplayZoneMiddleware:
    """Pages rendered while serving a request show times in this app's zone (Settings.timezone):
    the rendering environment reads it from the request's context (rendering.env.display_zone),
    so every page helper need not carry it."""

    def __init__(self, app, *, zone: str) -> None:
        self.app, self.zone = app, zone

    async def __call__(self, scope, receive, send) -> None:
        with display_zone(self.zone):
            await self.app(scope, receive, send)


class HealthOut(BaseModel):
    """The body of /healthz, 200 and 503 alike."""

    status: str  # ok or unavailable
    version: str
    database: str  # the dialect: sqlite, postgresql
    writable: bool
    message: str | None = None  # only when unavailable (Chinese)


def _error_frame(request: Request) -> dict:
    """The error page wears the navigation of the member's own pages: a proctor (or an admin on a
    proctor's page) the proctor's, everyone else the item bank's. A proctor refused a bank page
    must not be handed the bank's links again."""
    member = getattr(request.state, "staff", None)
    if member is not None and (member.role is Role.PROCTOR
                               or (member.role is Role.ADMIN and request.url.path.startswith("/proctor"))):
        return {"layout": "proctor/base.html", "bank_link": member.reads_bank, "home_url": "/proctor",
                "home_label": "考试列表"}
    return {"layout": "base.html", "nav": "", "home_url": "/writer/items", "home_label": "题库浏览"}


HTML_PREFIXES = ("/writer", "/exam", "/proctor", "/reports", "/login")  # pages answer errors with a page, the API with JSON


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        ensure_current(settings.database_url)
        engine = make_engine(settings.database_url, echo=settings.echo_sql)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        configure_candidate_threads(settings.candidate_thread_count)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="examengine",
        version=__version__,
        description="1+X 职业技能等级证书自适应考试与题库引擎 API",
        lifespan=lifespan,
        docs_url=None,  # served below from local files: exam centres often have no internet
        redoc_url=None,
    )
    app.state.settings = settings
    app.add_middleware(DisplayZoneMiddleware, zone=settings.timezone)
    app.add_middleware(SameOriginMiddleware, origins=allowed_origins(settings))
    app.add_middleware(BodySizeLimitMiddleware, limit=settings.max_upload_mb * 1024 * 1024)
    # outermost (added last): every answer, the 413 and CSRF refusals included, gets the headers
    app.add_middleware(SecurityHeadersMiddleware, page_csp=page_csp(), secure_cookies=settings.secure_cookies)

    @app.exception_handler(ExamEngineError)
    async def domain_error(request: Request, exc: ExamEngineError):
        status = next(code for cls, code in ERROR_STATUS if isinstance(exc, cls))
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttemptsError) else None
        if request.url.path.startswith(HTML_PREFIXES):
            from urllib.parse import quote

            from fastapi.responses import HTMLResponse, RedirectResponse

            if isinstance(exc, NotSignedInError):
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

            from examengine.rendering.env import render

            return HTMLResponse(render("error.html", message=exc.message, **_error_frame(request)),
                                status_code=status, headers=headers)
        return JSONResponse(status_code=status, content=exc.to_dict(), headers=headers)

    @app.exception_handler(OverflowError)
    async def out_of_range(request: Request, exc: OverflowError):
        # an id too large for the database's integers names nothing that exists
        return JSONResponse(status_code=404, content={"error": "NotFoundError", "message": "编号超出范围，未找到。"})

    @app.exception_handler(SQLDataError)
    async def data_error(request: Request, exc: SQLDataError):
        # PostgreSQL's "integer out of range" (SQLSTATE 22003) is SQLite's OverflowError
        if getattr(exc.orig, "sqlstate", None) == "22003":
            return await out_of_range(request, OverflowError())
        raise exc

    @app.exception_handler(DBAPIError)
    async def storage_error(request: Request, exc: DBAPIError):
        """The database refused to read or write (read-only, disk full, locked, gone): a 503 that
        says so, in Chinese, a page for the pages and JSON for the API, instead of a bare 500.
        Any other database error (a bug) stays a 500."""
        message = storage_message(exc)
        if message is None:
            raise exc
        logger.error("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        headers = {"Retry-After": "30", "Cache-Control": "no-store"}
        if request.url.path.startswith(HTML_PREFIXES):
            from fastapi.responses import HTMLResponse

            from examengine.rendering.env import render

            page = render("unavailable.html", message=message, candidate=request.url.path.startswith("/exam"))
            return HTMLResponse(page, status_code=503, headers=headers)
        return JSONResponse(status_code=503, headers=headers,
                            content={"error": "DatabaseUnavailable", "message": message + "本次操作没有保存。"})

    @app.get("/healthz", tags=["ops"], summary="Liveness and database check: a write probe, rolled back",
             responses={200: {"model": HealthOut}, 503: {"model": HealthOut,
                                                         "description": "The database cannot be written"}})
    def healthz(request: Request) -> JSONResponse:
        engine = request.app.state.engine
        problem = write_problem(engine)
        body = {"status": "ok" if problem is None else "unavailable", "version": __version__,
                "database": engine.dialect.name, "writable": problem is None}
        if problem is not None:
            body["message"] = f"数据库不可写：{problem}"
        return JSONResponse(body, status_code=200 if problem is None else 503)

    _mount_offline_docs(app)

    _include_routes(app)
    return app


def _include_routes(app: FastAPI) -> None:
    """Every router, with the role it needs (the one place access is declared)."""
    from fastapi import Depends
    from fastapi.responses import RedirectResponse
    from fastapi.staticfiles import StaticFiles

    from examengine.api import analysis as analysis_api
    from examengine.api import audit as audit_api
    from examengine.api import blueprints as blueprints_api
    from examengine.api import calibration as calibration_api
    from examengine.api import catalog as catalog_api
    from examengine.api import exams as exams_api
    from examengine.api import forms as forms_api
    from examengine.api import items as items_api
    from examengine.api import scans as scans_api
    from examengine.api import sessions as sessions_api
    from examengine.config import PACKAGE_DIR
    from examengine.deps import staff
    from examengine.ui import candidate as candidate_ui
    from examengine.ui import forms as forms_ui
    from examengine.ui import proctor as proctor_ui
    from examengine.ui import reports as reports_ui
    from examengine.ui import scans as scans_ui
    from examengine.ui import staff as staff_ui
    from examengine.ui import writer as writer_ui

    # roles: admin (passes everywhere), item_writer, reviewer (an item writer who may also approve
    # other people's items: services/items.transition_item), proctor (their own exams:
    # accounts.require_exam); the full table is docs/security.md
    writer, proctor, any_staff, admin = (staff("item_writer", "reviewer"), staff("proctor"),
                                         staff("item_writer", "reviewer", "proctor"), staff())
    # public: the published standards catalog, sign-in, health, docs
    app.include_router(catalog_api.router, responses=ERROR_RESPONSES)
    app.include_router(sessions_api.router, responses=ERROR_RESPONSES)
    app.include_router(staff_ui.router)
    # candidates: their own attempt token (checked in every route of these routers)
    app.include_router(exams_api.candidate_router, responses=ERROR_RESPONSES)
    app.include_router(candidate_ui.router)
    # staff
    app.include_router(items_api.admin_router, dependencies=[Depends(admin)], responses=ERROR_RESPONSES)  # before /items/{external_id}
    app.include_router(items_api.router, dependencies=[Depends(writer)], responses=ERROR_RESPONSES)
    app.include_router(blueprints_api.router, dependencies=[Depends(any_staff)], responses=ERROR_RESPONSES)
    app.include_router(exams_api.router, dependencies=[Depends(proctor)], responses=ERROR_RESPONSES)
    app.include_router(forms_api.router, dependencies=[Depends(proctor)], responses=ERROR_RESPONSES)
    app.include_router(forms_api.admin_router, dependencies=[Depends(admin)], responses=ERROR_RESPONSES)
    app.include_router(scans_api.router, dependencies=[Depends(proctor)], responses=ERROR_RESPONSES)
    app.include_router(calibration_api.router, dependencies=[Depends(admin)], responses=ERROR_RESPONSES)
    app.include_router(analysis_api.router, dependencies=[Depends(admin)], responses=ERROR_RESPONSES)
    app.include_router(audit_api.router, dependencies=[Depends(admin)], responses=ERROR_RESPONSES)
    app.include_router(writer_ui.router, dependencies=[Depends(writer)])
    app.include_router(proctor_ui.router, dependencies=[Depends(proctor)])
    app.include_router(scans_ui.router, dependencies=[Depends(proctor)])
    app.include_router(forms_ui.admin_router, dependencies=[Depends(admin)])
    app.include_router(forms_ui.router, dependencies=[Depends(proctor)])
    app.include_router(reports_ui.router, dependencies=[Depends(any_staff)])
    app.include_router(reports_ui.calibration_router, dependencies=[Depends(admin)])  # as calibration_api
    app.include_router(reports_ui.items_router, dependencies=[Depends(writer)])  # as the item pages

    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)


class BodySizeLimitMiddleware:
    """Refuse request bodies over the limit (413) before they are read into memory."""

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        too_big = JSONResponse(status_code=413, content={
            "error": "PayloadTooLarge", "message": f"上传内容超过 {self.limit // (1024 * 1024)} MB 的上限，未处理。"})
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_big(scope, receive, send)
            return
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise PayloadTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except PayloadTooLarge:
            await too_big(scope, receive, send)


class PayloadTooLarge(Exception):
    pass


def page_csp(script_hashes: tuple[str, ...] | None = None) -> str:
    """The Content-Security-Policy of the app's HTML pages: scripts only from this origin or the
    templates' own inline scripts by hash (no other inline script, no ``javascript:`` link or
    ``on...=`` attribute, no eval); styles from this origin plus inline styles (the templates
    use style attributes; a style runs no script and every value is escaped); pictures from
    this origin and data: URIs; no plugins; forms post only here; no framing; no <base>."""
    from examengine.rendering.env import inline_script_hashes

    hashes = inline_script_hashes() if script_hashes is None else script_hashes
    return ("default-src 'self'; " + " ".join(("script-src 'self'", *hashes)) + "; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


class SecurityHeadersMiddleware:
    """Security headers on every response (docs/security.md): ``nosniff`` and
    ``Referrer-Policy: same-origin`` on all; on HTML the page CSP (unless the route set its own,
    as /docs and the picture routes do) and ``X-Frame-Options: DENY``. With
    ``secure_cookies``, every cookie the app sets is marked ``Secure``."""

    def __init__(self, app, *, page_csp: str, secure_cookies: bool = False) -> None:
        self.app = app
        self.page_csp = page_csp.encode("latin-1")
        self.secure_cookies = secure_cookies

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = self.headers(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def headers(self, raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        names = {k.lower() for k, _ in raw}
        content_type = next((v for k, v in raw if k.lower() == b"content-type"), b"")
        add = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
        if content_type.lower().startswith(b"text/html"):
            add += [(b"x-frame-options", b"DENY"), (b"content-security-policy", self.page_csp)]
        raw += [(k, v) for k, v in add if k not in names]
        if self.secure_cookies:
            raw = [(k, v + b"; Secure") if k.lower() == b"set-cookie" and b"secure" not in v.lower() else (k, v)
                   for k, v in raw]
        return raw


class SameOriginMiddleware:
    """CSRF protection for cookie-authenticated requests: a state-changing request (POST, PUT,
    PATCH, DELETE) that carries a session cookie must come from a page of this site (its Origin,
    or else its Referer, names this host or an origin of ``config.allowed_origins``: the public
    address behind a reverse proxy). A request authenticated by a *valid* staff bearer
    token (``Authorization: Bearer st_...`` naming an active session) is not affected: a
    browser never adds that header by itself, and the route then acts for the token, not the
    cookie. Any other Authorization header (a made-up or expired token, a candidate's) does
    not lift the check. (OWASP: "verifying origin with standard headers"; the cookies are
    SameSite=Strict as well.)"""

    UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
    COOKIES = ("ee_staff=", "ee_attempt=")

    def __init__(self, app, origins: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in self.UNSAFE:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            has_cookie = any(c in headers.get("cookie", "") for c in self.COOKIES)
            if has_cookie and not await self._valid_staff_bearer(scope, headers.get("authorization", "")):
                from urllib.parse import urlsplit

                source = headers.get("origin") or headers.get("referer") or ""
                if urlsplit(source).netloc != headers.get("host", "") and origin_of(source) not in self.origins:
                    response = JSONResponse(status_code=403, content={
                        "error": "CsrfError", "message": "请求来源不是本站页面，已拒绝（跨站请求防护）。请从本站页面重新操作。"})
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _valid_staff_bearer(scope, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token.startswith("st_"):
            return False
        import anyio.to_thread

        from examengine.services.accounts import resolve

        def check() -> bool:
            with scope["app"].state.sessionmaker() as db:
                return resolve(db, token) is not None

        return await anyio.to_thread.run_sync(check)


def _mount_offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the swagger-ui-bundle-v2 package, so the docs work offline."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static/swagger-ui", StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs():
        from examengine.rendering.env import INLINE_SCRIPT, csp_hash

        page = get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="examengine API 文档",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
        )
        # the page's own inline script (Swagger UI's configuration, written by this app) by hash
        hashes = tuple(csp_hash(s) for s in INLINE_SCRIPT.findall(page.body.decode("utf-8")))
        page.headers["Content-Security-Policy"] = page_csp(hashes)
        return page
