"""The candidate web app: sign in -> instructions -> one item at a time -> result.

The attempt id and token live in an HttpOnly cookie; everything else (the pending item, the
time left) is read from the server on every page, so a reload, a lost network or a server
restart resumes at the same item with the time that was left.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from examengine.deps import CandidateRoute, get_db, in_candidate_thread, picture_response
from examengine.errors import ExamEngineError
from examengine.rendering.env import render
from examengine.services import attempts as att

router = APIRouter(route_class=CandidateRoute, prefix="/exam", include_in_schema=False)
COOKIE = "ee_attempt"


def _page(template: str, status_code: int = 200, **ctx) -> HTMLResponse:
    return HTMLResponse(render(template, nav="", **ctx), status_code=status_code,
                        headers={"Cache-Control": "no-store"})


def _login(message: str = "", ticket: str = "", status_code: int = 200) -> HTMLResponse:
    resp = _page("exam/login.html", status_code, message=message, ticket=ticket)
    return resp


def _attempt(request: Request, db: Session):
    raw = request.cookies.get(COOKIE, "")
    attempt_id, _, token = raw.partition(":")
    if not attempt_id.isdigit():
        return None
    try:
        return att.authenticate(db, int(attempt_id), token)
    except att.NotAuthorizedError:
        return None


def _expired() -> Response:
    resp = _login("登录已失效（可能已在其他设备登录），请重新输入准考证号和访问码。", status_code=401)
    resp.delete_cookie(COOKIE, path="/exam")
    return resp


@router.get("")
def login_form(request: Request, db: Session = Depends(get_db)) -> Response:
    attempt = _attempt(request, db)
    if attempt is not None:
        return RedirectResponse("/exam/item" if attempt.status == "in_progress" else
                                "/exam/result" if attempt.status == "finished" else "/exam/instructions", 303)
    return _login()


@router.post("/login")
def login(ticket: str = Form(""), code: str = Form(""), db: Session = Depends(get_db)) -> Response:
    if not ticket.strip() or not code.strip():
        return _login("请输入准考证号和访问码。", ticket, 400)
    try:
        s = att.sign_in(db, ticket, code)
    except (att.SignInError, att.ExamNotOpenError, att.AttemptClosedError) as exc:
        return _login(exc.message, ticket, 401 if isinstance(exc, att.SignInError) else 403)
    target = {"finished": "/exam/result", "in_progress": "/exam/item"}.get(s.status, "/exam/instructions")
    resp = RedirectResponse(target, 303)
    resp.set_cookie(COOKIE, f"{s.attempt_id}:{s.token}", httponly=True, samesite="strict", path="/exam")
    return resp


@router.get("/instructions")
def instructions(request: Request, db: Session = Depends(get_db)) -> Response:
    attempt = _attempt(request, db)
    if attempt is None:
        return _expired()
    if attempt.status == "finished":
        return RedirectResponse("/exam/result", 303)
    return _page("exam/instructions.html", o=asdict(att.overview(db, attempt)))


@router.post("/start")
def start(request: Request, agree: str = Form(""), db: Session = Depends(get_db)) -> Response:
    attempt = _attempt(request, db)
    if attempt is None:
        return _expired()
    if agree != "1":
        return _page("exam/instructions.html", o=asdict(att.overview(db, attempt)))
    att.start(db, attempt)
    return RedirectResponse("/exam/item", 303)


@router.get("/item")
def item(request: Request, db: Session = Depends(get_db)) -> Response:
    attempt = _attempt(request, db)
    if attempt is None:
        return _expired()
    if attempt.status == "not_started":
        return RedirectResponse("/exam/instructions", 303)
    current = att.pending(db, attempt)
    if isinstance(current, att.Finished):
        return RedirectResponse("/exam/result", 303)
    return _page("exam/item.html", item=asdict(current), message="")


@router.get("/images/{position}/{name}")
def image(position: int, name: str, request: Request, db: Session = Depends(get_db)) -> Response:
    """A picture in the stem of an item this candidate was shown (no other item's)."""
    attempt = _attempt(request, db)
    if attempt is None:
        return _expired()
    return picture_response(att.item_image(db, attempt, position, name)[1], name, cache="private, max-age=3600")


@router.post("/answer")
async def answer(request: Request, db: Session = Depends(get_db)) -> Response:
    form = await request.form()  # async for the body; the database work runs in the candidates' threads
    return await in_candidate_thread(_answer, request, db, form)


def _answer(request: Request, db: Session, form) -> Response:
    attempt = _attempt(request, db)
    if attempt is None:
        return _expired()
    try:
        position = int(str(form.get("position", "0")))
    except ValueError:
        position = 0
    labels = [str(v) for v in form.getlist("answer")]
    try:
        att.answer(db, attempt, position=position, item_id=str(form.get("item_id", "")), labels=labels)
    except att.AttemptClosedError:
        return RedirectResponse("/exam/result", 303)
    except ExamEngineError as exc:
        current = att.pending(db, attempt)
        if isinstance(current, att.Finished):
            return RedirectResponse("/exam/result", 303)
        return _page("exam/item.html", 409 if position != current.position else 400, item=asdict(current),
                     message=exc.message)
    return RedirectResponse("/exam/item", 303)


@router.get("/result")
def result(request: Request, db: Session = Depends(get_db)) -> Response:
    attempt = _attempt(request, db)
    if attempt is None:
        return _expired()
    if attempt.status != "finished":
        return RedirectResponse("/exam/item", 303)
    return _page("exam/result.html", view=asdict(att.result(db, attempt)), reason=attempt.finish_reason or "")


@router.post("/logout")
def logout() -> Response:
    resp = RedirectResponse("/exam", 303)
    resp.delete_cookie(COOKIE, path="/exam")
    return resp
