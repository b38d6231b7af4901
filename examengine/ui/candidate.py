"""The candidate web app: sign in -> instructions -> one item at a time -> result.

The attempt id and token live in an HttpOnly cookie; everything else (the pending item, the
time left) is read from the server on every page, so a reload, a lost network or a server
restart resumes at the same item with the time that was left.

Linear and LOFT exams (``exam.mode``) are delivered on pages of their own (``/exam/q/{position}``,
``/exam/review``): every position can be visited, answered, changed and flagged until the
candidate hands in (交卷) on the review page. Every write is a form POST answered with a redirect
to a GET page, so the pages work without JavaScript and a reload never repeats a write.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from examengine.deps import CandidateRoute, centre_zone, client_of, get_db, in_candidate_thread, picture_response
from examengine.errors import ExamEngineError, TooManyAttemptsError
from examengine.rendering.env import render
from examengine.services import attempts as att
from examengine.services import linear as lin

router = APIRouter(route_class=CandidateRoute, prefix="/exam", include_in_schema=False)
COOKIE = "ee_attempt"
DEVICE_COOKIE = "ee_device"  # a random id per browser: tells a second device from a reload
CLOSED = (att.AttemptStatus.FINISHED, att.AttemptStatus.INCOMPLETE)


#: The errors a form of an item page can come back with, named in the address of the page it is
#: redirected to (post/redirect/get: a reload repeats no write), never free text from the address.
ERRORS = {
    "none": "请先选择答案，再提交本题。",
    "one": "本题只能选择一个选项。",
    "bad": "所选选项无效，请重新选择。",
    "stale": "该题的答案已经提交过（或页面已过期），下面是当前题目。",
    "confirm": "请勾选“我已检查完毕，确认交卷”后再交卷。",
    "agree": "请先勾选“我已阅读并理解以上考试须知”，再开始考试。",
}
FONT_COOKIE = "ee_font"  # the candidate's font size: 0-4 (100 %-200 %), set by the A-/A+ buttons
FONT_SIZES = (100, 125, 150, 175, 200)
LARGE_PRINT_LEVEL = 2  # large print (大字号 on the roster) starts at 150 %


def _error_code(exc: ExamEngineError) -> str:
    """An answer's error as one of ERRORS' codes (the service's messages, by their wording)."""
    text = exc.message
    return "one" if "只能选择一个" in text else "none" if "请选择" in text else "bad"


def _page(template: str, status_code: int = 200, **ctx) -> HTMLResponse:
    return HTMLResponse(render(template, nav="", **ctx), status_code=status_code,
                        headers={"Cache-Control": "no-store"})


def _login(message: str = "", ticket: str = "", status_code: int = 200) -> HTMLResponse:
    resp = _page("exam/login.html", status_code, message=message, ticket=ticket)
    return resp


class _Waiting(Exception):
    """This browser's sign-in waits for a proctor's approval."""


def _attempt(request: Request, db: Session):
    raw = request.cookies.get(COOKIE, "")
    attempt_id, _, token = raw.partition(":")
    if not attempt_id.isdigit():
        return None
    try:
        return att.authenticate(db, int(attempt_id), token)
    except att.ApprovalPendingError as exc:
        raise _Waiting() from exc
    except att.NotAuthorizedError:
        return None


def _guard(request: Request, db: Session):
    """(attempt, None) for a signed-in candidate, else (None, the page to show instead)."""
    try:
        attempt = _attempt(request, db)
    except _Waiting:
        return None, RedirectResponse("/exam/wait", 303)
    return (attempt, None) if attempt is not None else (None, _expired())


def _expired() -> Response:
    resp = _login("登录已失效（可能已在其他设备登录），请重新输入准考证号和访问码。", status_code=401)
    resp.delete_cookie(COOKIE, path="/exam")
    return resp


def _linear(attempt) -> bool:
    """Whether the attempt's exam is delivered linearly (a fixed form, or LOFT: one form per candidate)."""
    return att.is_linear(attempt)


def _where(status: str) -> str:
    return "/exam/result" if status in CLOSED else "/exam/item" if status == att.AttemptStatus.IN_PROGRESS else "/exam/instructions"


@router.get("")
def login_form(request: Request, db: Session = Depends(get_db)) -> Response:
    attempt, _ = _guard(request, db)
    if attempt is not None:
        return RedirectResponse(_where(attempt.status), 303)
    resp = _login()
    if not request.cookies.get(DEVICE_COOKIE):
        resp.set_cookie(DEVICE_COOKIE, secrets.token_urlsafe(24), max_age=400 * 24 * 3600, httponly=True,
                        samesite="strict", path="/exam")
    return resp


@router.post("/login")
def login(request: Request, ticket: str = Form(""), code: str = Form(""), id_last4: str = Form(""),
          db: Session = Depends(get_db)) -> Response:
    if not ticket.strip() or not code.strip():
        return _login("请输入准考证号和访问码。", ticket, 400)
    try:
        s = att.sign_in(db, ticket, code, zone=centre_zone(request), id_last4=id_last4,
                        client=client_of(request, request.cookies.get(DEVICE_COOKIE, "")))
    except (att.SignInError, att.ExamNotOpenError, att.AttemptClosedError, TooManyAttemptsError) as exc:
        status = 401 if isinstance(exc, att.SignInError) else 429 if isinstance(exc, TooManyAttemptsError) else 403
        return _login(exc.message, ticket, status)
    target = "/exam/wait" if s.status == "pending_approval" else _where(s.status)
    resp = RedirectResponse(target, 303)
    resp.set_cookie(COOKIE, f"{s.attempt_id}:{s.token}", httponly=True, samesite="strict", path="/exam")
    if not request.cookies.get(FONT_COOKIE) and att.get_attempt(db, s.attempt_id).candidate.large_print:
        _set_font(resp, LARGE_PRINT_LEVEL)  # 大字号 on the roster: the pages start at 150 %
    return resp


@router.get("/wait")
def wait(request: Request, db: Session = Depends(get_db)) -> Response:
    """A second device waiting for a proctor's approval: the page looks again every 5 seconds."""
    try:
        attempt = _attempt(request, db)
    except _Waiting:
        return _page("exam/wait.html", message=att.PENDING_MESSAGE)
    if attempt is None:
        return _expired()
    return RedirectResponse(_where(attempt.status), 303)


@router.get("/instructions")
def instructions(request: Request, db: Session = Depends(get_db)) -> Response:
    attempt, page = _guard(request, db)
    if page is not None:
        return page
    if attempt.status in CLOSED:
        return RedirectResponse("/exam/result", 303)
    return _instructions(db, attempt, ERRORS["agree"] if request.query_params.get("error") == "agree" else "")


def _instructions(db: Session, attempt, message: str = "") -> HTMLResponse:
    try:
        n_items = lin.overview(db, attempt).n_items if _linear(attempt) else 0
    except ExamEngineError:  # a LOFT form is assembled at the start: its length is not known before
        n_items = 0
    return _page("exam/instructions.html", o=asdict(att.overview(db, attempt)), mode=attempt.exam.mode,
                 n_items=n_items, message=message)


@router.post("/start")
def start(request: Request, agree: str = Form(""), db: Session = Depends(get_db)) -> Response:
    attempt, page = _guard(request, db)
    if page is not None:
        return page
    if agree != "1":
        return RedirectResponse("/exam/instructions?error=agree", 303)
    att.start(db, attempt)
    return RedirectResponse("/exam/item", 303)


@router.get("/item")
def item(request: Request, lost: int = 0, done: int = 0, error: str = "", pick: str = "",
         db: Session = Depends(get_db)) -> Response:
    attempt, page = _guard(request, db)
    if page is not None:
        return page
    if attempt.status == att.AttemptStatus.NOT_STARTED:
        return RedirectResponse("/exam/instructions", 303)
    if _linear(attempt):
        return _linear_resume(db, attempt)
    current = att.pending(db, attempt)
    if isinstance(current, att.Finished):
        return RedirectResponse("/exam/result", 303)
    message = (f"另一个窗口已先提交了第 {lost} 题的答案，本窗口的选择未被记录（以先提交的答案为准）。请只在一个窗口中作答。"
               if lost else f"第 {done} 题的答案已经记录，不能再修改；下面是当前题目。" if done else ERRORS.get(error, ""))
    valid = {o["label"] for o in current.options}
    picked = [x for x in pick.split(",") if x in valid] if not message else []  # 返回修改: the choice ticked again
    return _page("exam/item.html", item=asdict(current), message=message, picked=picked,
                 invalid=error in ("none", "one", "bad"))


@router.get("/confirm")
def confirm(request: Request, position: int = 0, db: Session = Depends(get_db)) -> Response:
    """The review of an adaptive answer before it is final: the item and the choice, 确认提交 or
    返回修改. The choice travels in the address (a GET page: a reload repeats nothing)."""
    attempt, page = _guard(request, db)
    if page is not None:
        return page
    if _linear(attempt) or attempt.status == att.AttemptStatus.NOT_STARTED:
        return RedirectResponse("/exam/item", 303)
    current = att.pending(db, attempt)
    if isinstance(current, att.Finished):
        return RedirectResponse("/exam/result", 303)
    if 0 < position < current.position:  # Back to the confirmation of an answer already recorded
        return RedirectResponse(f"/exam/item?done={position}", 303)
    if position != current.position:
        return _stale(position, current)
    code = _choice_error(current, request.query_params.getlist("answer"))
    if code:
        return RedirectResponse(f"/exam/item?error={code}", 303)
    picked = sorted(set(request.query_params.getlist("answer")))
    return _page("exam/confirm.html", item=asdict(current), picked=picked)


def _stale(position: int, current) -> RedirectResponse:
    """A page of an item that is no longer the pending one: an earlier position was answered in
    another window (or by a repeat), a later one is an old or made-up address."""
    return RedirectResponse(f"/exam/item?lost={position}" if 0 < position < current.position else "/exam/item?error=stale",
                            303)


def _choice_error(current, labels: list[str]) -> str:
    """Why a choice cannot be an answer of the item ("" when it can)."""
    if not labels:
        return "none"
    if not set(labels) <= {o["label"] for o in current.options}:
        return "bad"
    return "one" if len(set(labels)) > 1 and not current.multiple else ""


@router.get("/images/{position}/{name}")
def image(position: int, name: str, request: Request, db: Session = Depends(get_db)) -> Response:
    """A picture in the stem of an item this candidate was shown (no other item's)."""
    attempt, page = _guard(request, db)
    if page is not None:
        return page
    return picture_response(att.item_image(db, attempt, position, name)[1], name, cache="private, max-age=3600")


@router.post("/answer")
async def answer(request: Request, db: Session = Depends(get_db)) -> Response:
    form = await request.form()  # async for the body; the database work runs in the candidates' threads
    return await in_candidate_thread(_answer, request, db, form)


def _answer(request: Request, db: Session, form) -> Response:
    attempt, page = _guard(request, db)
    if page is not None:
        return page
    if _linear(attempt):  # an adaptive page's answer cannot belong to a linear attempt
        return RedirectResponse("/exam/item", 303)
    try:
        position = int(str(form.get("position", "0")))
    except ValueError:
        position = 0
    labels = [str(v) for v in form.getlist("answer")]
    if str(form.get("confirm", "")) != "1":  # 提交本题: first the confirmation page, nothing recorded yet
        if attempt.status == att.AttemptStatus.NOT_STARTED:
            return RedirectResponse("/exam/instructions", 303)
        current = att.pending(db, attempt)
        if isinstance(current, att.Finished):
            return RedirectResponse("/exam/result", 303)
        if position != current.position:
            return _stale(position, current)
        code = _choice_error(current, labels)
        if code:
            return RedirectResponse(f"/exam/item?error={code}", 303)
        return RedirectResponse(f"/exam/confirm?{urlencode([('position', position)] + [('answer', x) for x in labels])}",
                                303)
    try:
        out = att.answer(db, attempt, position=position, item_id=str(form.get("item_id", "")), labels=labels)
    except att.AttemptClosedError:
        return RedirectResponse("/exam/result", 303)
    except ExamEngineError as exc:
        current = att.pending(db, attempt)
        if isinstance(current, att.Finished):
            return RedirectResponse("/exam/result", 303)
        if position != current.position:
            return _stale(position, current)
        return RedirectResponse(f"/exam/item?error={_error_code(exc)}", 303)
    if not out.recorded:
        return RedirectResponse(f"/exam/item?lost={position}", 303)
    return RedirectResponse("/exam/item", 303)


@router.get("/result")
def result(request: Request, db: Session = Depends(get_db)) -> Response:
    attempt, page = _guard(request, db)
    if page is not None:
        return page
    if attempt.status not in CLOSED:
        if att.time_up(attempt):  # reading closes nothing: the candidate hands in (交卷) with a write
            return _page("exam/time_up.html")
        return RedirectResponse("/exam/item", 303)
    return _page("exam/result.html", view=asdict(att.result(db, attempt)), reason=attempt.finish_reason or "",
                 mode=attempt.exam.mode)


@router.post("/finish")
def finish(request: Request, db: Session = Depends(get_db)) -> Response:
    attempt, page = _guard(request, db)
    if page is not None:
        return page
    try:
        if _linear(attempt):
            lin.submit(db, attempt)
        else:
            att.finish(db, attempt)
    except att.AttemptClosedError:
        return RedirectResponse("/exam/result", 303)
    except ExamEngineError:
        return RedirectResponse("/exam/item", 303)
    return RedirectResponse("/exam/result", 303)


# ---------------------------------------------------------------- linear and LOFT exams


def _linear_guard(request: Request, db: Session, *, write: bool = False):
    """(attempt, None) for a signed-in candidate of a linear exam who may answer now, else
    (None, where to go instead): the adaptive pages, the instructions, or the end of the exam
    (the result, or the time-up page that asks to hand in). A write past the deadline goes on
    to the service, which closes the attempt as a time-out (as an adaptive answer does)."""
    attempt, page = _guard(request, db)
    if page is not None:
        return None, page
    if not _linear(attempt):
        return None, RedirectResponse("/exam/item", 303)
    if attempt.status == att.AttemptStatus.NOT_STARTED:
        return None, RedirectResponse("/exam/instructions", 303)
    if attempt.status != att.AttemptStatus.IN_PROGRESS or (att.time_up(attempt) and not write):
        return None, RedirectResponse("/exam/result", 303)
    return attempt, None


def _linear_resume(db: Session, attempt) -> Response:
    """Where a linear attempt continues: its first unanswered position (else the first)."""
    if attempt.status != att.AttemptStatus.IN_PROGRESS or att.time_up(attempt):
        return RedirectResponse("/exam/result", 303)
    o = lin.overview(db, attempt)
    first = next((p.position for p in o.positions if not p.answered), 1)
    return RedirectResponse(f"/exam/q/{first}", 303)


def _linear_item_page(db: Session, attempt, position: int, message: str = "", status_code: int = 200) -> Response:
    """The page of one position; ``message``: an error to show (its choices marked invalid)."""
    try:
        current = lin.item_at(db, attempt, position)
    except att.AttemptClosedError:
        return RedirectResponse("/exam/result", 303)
    except ExamEngineError:  # no such position: back to where the candidate was
        return _linear_resume(db, attempt)
    return _page("exam/linear_item.html", status_code, item=asdict(current),
                 o=asdict(lin.overview(db, attempt)), message=message)


@router.get("/q/{position}")
def linear_item(position: str, request: Request, error: str = "", db: Session = Depends(get_db)) -> Response:
    attempt, page = _linear_guard(request, db)
    if page is not None:
        return page
    if not position.isdigit():  # a mistyped address: back to the exam, not a validation error
        return _linear_resume(db, attempt)
    message = ERRORS.get(error, "") if error in ("none", "one", "bad") else ""
    return _linear_item_page(db, attempt, int(position), message, 400 if message else 200)


@router.post("/q/{position}")
async def linear_save(position: str, request: Request, db: Session = Depends(get_db)) -> Response:
    form = await request.form()  # async for the body; the database work runs in the candidates' threads
    if not position.isdigit():
        return RedirectResponse("/exam/item", 303)
    return await in_candidate_thread(_linear_save, request, db, int(position), form)


#: What a button of the item page does after saving the choice shown: "go" names the button.
_GO = ("stay", "prev", "next", "flag", "unflag", "clear", "review")


def _linear_save(request: Request, db: Session, position: int, form) -> Response:
    """Save the choice shown on the page at ``position`` (only if it differs from the answer the
    page was rendered with, so a stale second window does not undo a newer answer by flagging),
    then flag or move as the button says. Never hands in: 交卷 is the review page's own form."""
    attempt, page = _linear_guard(request, db, write=True)
    if page is not None:
        return page
    go = str(form.get("go", "stay"))
    go = go if go in _GO else "stay"
    labels = sorted({str(v).strip().upper() for v in form.getlist("answer")})
    was = sorted(x for x in str(form.get("was", "")).split(",") if x)
    try:
        if go == "clear":
            lin.save_answer(db, attempt, position=position, labels=[])
        elif labels != was:
            lin.save_answer(db, attempt, position=position, labels=labels)
        if go in ("flag", "unflag"):
            lin.set_flag(db, attempt, position=position, flagged=go == "flag")
    except att.AttemptClosedError:  # handed in, or the time ran out: the end-of-exam pages say which
        return RedirectResponse("/exam/result", 303)
    except ExamEngineError as exc:  # a choice the item does not have, two choices for a 单选, ...
        return RedirectResponse(f"/exam/q/{position}?error={_error_code(exc)}", 303)
    to = str(form.get("to", ""))  # a link of the page followed with a choice not yet saved (static/linear.js)
    if to == "review" or go == "review":
        return RedirectResponse("/exam/review", 303)
    if to.isdigit():
        return RedirectResponse(f"/exam/q/{int(to)}", 303)
    target = position - 1 if go == "prev" else position + 1 if go == "next" else position
    return RedirectResponse(f"/exam/q/{max(1, target)}", 303)


@router.get("/review")
def linear_review(request: Request, db: Session = Depends(get_db)) -> Response:
    attempt, page = _linear_guard(request, db)
    if page is not None:
        return page
    if request.query_params.get("error") == "confirm":
        return _review_page(db, attempt, ERRORS["confirm"], 400)
    return _review_page(db, attempt)


def _review_page(db: Session, attempt, message: str = "", status_code: int = 200) -> HTMLResponse:
    return _page("exam/linear_review.html", status_code, o=asdict(lin.overview(db, attempt)), message=message)


@router.post("/submit")
def linear_submit(request: Request, confirm: str = Form(""), db: Session = Depends(get_db)) -> Response:
    """交卷 from the review page: only with its confirmation ticked; a repeat finds the exam closed."""
    attempt, page = _linear_guard(request, db, write=True)
    if page is not None:
        return page
    if confirm != "1":
        return RedirectResponse("/exam/review?error=confirm", 303)
    try:
        lin.submit(db, attempt)
    except att.AttemptClosedError:
        pass
    return RedirectResponse("/exam/result", 303)


def _font_level(request: Request) -> int:
    """The candidate's font size (0-4) from its cookie: set by the A-/A+ buttons, or at sign-in to
    150 % for a candidate with large print (大字号 on the roster); 100 % without one."""
    raw = request.cookies.get(FONT_COOKIE, "")
    return min(int(raw), len(FONT_SIZES) - 1) if raw.isdigit() else 0


def _set_font(resp: Response, level: int) -> None:
    resp.set_cookie(FONT_COOKIE, str(level), max_age=86400, samesite="strict", path="/exam")


@router.get("/font.css")
def font_css(request: Request) -> Response:
    """The root font size of the candidate pages (every size on them is in rem); no database."""
    return Response(f"html {{ font-size: {FONT_SIZES[_font_level(request)]}%; }}\n", media_type="text/css",
                    headers={"Cache-Control": "no-store"})


@router.get("/font")
def font(request: Request, d: str = "") -> Response:
    """A-/A+ without JavaScript: store the size in a cookie and go back to the page (the same
    address, read from the Referer of this origin; else the exam's start)."""
    level = max(0, min(len(FONT_SIZES) - 1, _font_level(request) + (1 if d == "up" else -1 if d == "down" else 0)))
    back = urlsplit(request.headers.get("referer", ""))
    here = back.path + (f"?{back.query}" if back.query else "")
    target = here if back.netloc == request.url.netloc and back.path.startswith("/exam") and \
        back.path not in ("/exam/answer", "/exam/login", "/exam/font") else "/exam"
    resp = RedirectResponse(target, 303)
    _set_font(resp, level)
    return resp


@router.post("/logout")
def logout(request: Request, db: Session = Depends(get_db)) -> Response:
    """Sign out: the token stops working on the server, not only in this browser."""
    try:
        attempt = _attempt(request, db)
    except _Waiting:
        attempt = None
    if attempt is not None:
        att.sign_out(db, attempt)
    resp = RedirectResponse("/exam", 303)
    resp.delete_cookie(COOKIE, path="/exam")
    return resp
