"""The web application: ``create_app(settings)`` builds it; nothing happens at import."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from examengine import __version__
from examengine.config import Settings, allowed_origins, origin_of
from examengine.db.engine import make_engine, make_sessionmaker
from examengine.db.migrate import ensure_current
from examengine.deps import configure_candidate_threads
from examengine.errors import ConflictError, DataFileError, ExamEngineError, NotFoundError, TooManyAttemptsError
from examengine.services.accounts import ForbiddenError, NotSignedInError
from examengine.services.attempts import ApprovalPendingError, ExamNotOpenError, NotAuthorizedError, SignInError

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
    app.add_middleware(SameOriginMiddleware, origins=allowed_origins(settings))
    app.add_middleware(BodySizeLimitMiddleware, limit=settings.max_upload_mb * 1024 * 1024)

    @app.exception_handler(ExamEngineError)
    async def domain_error(request: Request, exc: ExamEngineError):
        status = next(code for cls, code in ERROR_STATUS if isinstance(exc, cls))
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, TooManyAttemptsError) else None
        if request.url.path.startswith(HTML_PREFIXES):
            from urllib.parse import quote

            from fastapi.responses import HTMLResponse, RedirectResponse

            if isinstance(exc, NotSignedInError):
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

            from examengine.rendering.env import render

            return HTMLResponse(render("error.html", nav="", message=exc.message), status_code=status,
                                headers=headers)
        return JSONResponse(status_code=status, content=exc.to_dict(), headers=headers)

    @app.exception_handler(OverflowError)
    async def out_of_range(request: Request, exc: OverflowError):
        # an id too large for the database's integers names nothing that exists
        return JSONResponse(status_code=404, content={"error": "NotFoundError", "message": "编号超出范围，未找到。"})

    @app.get("/healthz", tags=["ops"], summary="Liveness and database check")
    def healthz(request: Request) -> dict:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__, "database": request.app.state.engine.dialect.name}

    _mount_offline_docs(app)

    _include_routes(app)
    return app


def _include_routes(app: FastAPI) -> None:
    """Every router, with the role it needs (the one place access is declared)."""
    from fastapi import Depends
    from fastapi.responses import RedirectResponse
    from fastapi.staticfiles import StaticFiles

    from examengine.api import audit as audit_api
    from examengine.api import blueprints as blueprints_api
    from examengine.api import calibration as calibration_api
    from examengine.api import catalog as catalog_api
    from examengine.api import exams as exams_api
    from examengine.api import forms as forms_api
    from examengine.api import items as items_api
    from examengine.api import sessions as sessions_api
    from examengine.config import PACKAGE_DIR
    from examengine.deps import staff
    from examengine.ui import candidate as candidate_ui
    from examengine.ui import forms as forms_ui
    from examengine.ui import proctor as proctor_ui
    from examengine.ui import reports as reports_ui
    from examengine.ui import staff as staff_ui
    from examengine.ui import writer as writer_ui

    writer, proctor, any_staff, admin = (staff("item_writer"), staff("proctor"),
                                         staff("item_writer", "proctor"), staff())
    # public: the published standards catalog, sign-in, health, docs
    app.include_router(catalog_api.router)
    app.include_router(sessions_api.router)
    app.include_router(staff_ui.router)
    # candidates: their own attempt token (checked in every route of these routers)
    app.include_router(exams_api.candidate_router)
    app.include_router(candidate_ui.router)
    # staff
    app.include_router(items_api.router, dependencies=[Depends(writer)])
    app.include_router(blueprints_api.router, dependencies=[Depends(any_staff)])
    app.include_router(exams_api.router, dependencies=[Depends(proctor)])
    app.include_router(forms_api.router, dependencies=[Depends(proctor)])
    app.include_router(calibration_api.router, dependencies=[Depends(admin)])
    app.include_router(audit_api.router, dependencies=[Depends(admin)])
    app.include_router(writer_ui.router, dependencies=[Depends(writer)])
    app.include_router(proctor_ui.router, dependencies=[Depends(proctor)])
    app.include_router(forms_ui.router, dependencies=[Depends(proctor)])
    app.include_router(reports_ui.router, dependencies=[Depends(any_staff)])

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


class SameOriginMiddleware:
    """CSRF protection for cookie-authenticated requests: a state-changing request (POST, PUT,
    PATCH, DELETE) that carries a session cookie must come from a page of this site (its Origin,
    or else its Referer, names this host or an origin of ``config.allowed_origins``: the public
    address behind a reverse proxy). Bearer-token API calls are not affected: a browser
    never adds those by itself. (OWASP: "verifying origin with standard headers"; the cookies are
    SameSite=Strict as well.)"""

    UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
    COOKIES = ("ee_staff=", "ee_attempt=")

    def __init__(self, app, origins: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in self.UNSAFE:
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            has_cookie = any(c in headers.get("cookie", "") for c in self.COOKIES)
            bearer = headers.get("authorization", "").lower().startswith("bearer ")
            if has_cookie and not bearer:
                from urllib.parse import urlsplit

                source = headers.get("origin") or headers.get("referer") or ""
                if urlsplit(source).netloc != headers.get("host", "") and origin_of(source) not in self.origins:
                    response = JSONResponse(status_code=403, content={
                        "error": "CsrfError", "message": "请求来源不是本站页面，已拒绝（跨站请求防护）。请从本站页面重新操作。"})
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _mount_offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the swagger-ui-bundle-v2 package, so the docs work offline."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static/swagger-ui", StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="examengine API 文档",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
        )
