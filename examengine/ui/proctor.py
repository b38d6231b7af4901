"""Pages for proctors: exams, roster import, printable tickets, the live monitor with time
extensions and voids, releasing results."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from examengine.deps import get_db
from examengine.errors import DataFileError, ExamEngineError
from examengine.rendering.env import render
from examengine.services import attempts as att
from examengine.services import exams as svc
from examengine.services.blueprints import list_blueprints

router = APIRouter(prefix="/proctor", include_in_schema=False)
ACTOR = "监考"


def _exam_page(db: Session, exam_id: int, message: str = "", cls: str = "ok", status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(render("proctor/exam.html", nav="", exam=asdict(svc.exam_view(db, exam_id)),
                               rows=[asdict(r) for r in att.monitor(db, exam_id)], message=message,
                               message_class=cls), status_code=status_code)


@router.get("")
def exams(db: Session = Depends(get_db), message: str = "") -> HTMLResponse:
    return HTMLResponse(render("proctor/exams.html", nav="", exams=[asdict(e) for e in svc.list_exams(db)],
                               blueprints=[asdict(b) for b in list_blueprints(db)], message=message))


@router.post("/exams")
def create(blueprint: str = Form(...), name: str = Form(""), time_limit: str = Form(""),
           results: str = Form("immediate"), db: Session = Depends(get_db)) -> Response:
    try:
        exam = svc.create_exam(db, blueprint=blueprint, name=name.strip(), actor=ACTOR, results_policy=results,
                               time_limit_minutes=int(time_limit) if time_limit.strip() else None)
    except (ExamEngineError, ValueError) as exc:
        return exams(db, message=getattr(exc, "message", "时长应为整数"))
    return RedirectResponse(f"/proctor/exams/{exam.id}", 303)


@router.get("/exams/{exam_id}")
def exam(exam_id: int, db: Session = Depends(get_db)) -> HTMLResponse:
    return _exam_page(db, exam_id)


@router.post("/exams/{exam_id}/roster")
def roster(exam_id: int, file: UploadFile = File(...), db: Session = Depends(get_db)) -> HTMLResponse:
    try:
        r = svc.import_roster(db, exam_id, file.filename or "roster", file.file.read(), actor=ACTOR)
    except DataFileError as exc:
        return _exam_page(db, exam_id, "名单有误，未导入任何考生：" + "；".join(str(p) for p in exc.problems), "bad", 422)
    return _exam_page(db, exam_id, f"已导入：新增 {r.added} 名，更新 {r.updated} 名，名单共 {r.total} 名。")


@router.get("/exams/{exam_id}/tickets")
def tickets(exam_id: int, request: Request, db: Session = Depends(get_db)) -> HTMLResponse:
    return HTMLResponse(render("proctor/tickets.html", nav="", exam=asdict(svc.exam_view(db, exam_id)),
                               tickets=[asdict(t) for t in svc.tickets(db, exam_id)], base_url=str(request.base_url)))


@router.post("/exams/{exam_id}/release")
def release(exam_id: int, db: Session = Depends(get_db)) -> HTMLResponse:
    svc.release_results(db, exam_id, actor=ACTOR)
    return _exam_page(db, exam_id, "成绩已发布，考生重新登录即可查看。")


@router.post("/attempts/{attempt_id}/extend")
def extend(attempt_id: int, minutes: int = Form(...), db: Session = Depends(get_db)) -> HTMLResponse:
    attempt = att.get_attempt(db, attempt_id)
    try:
        svc.extend_time(db, attempt_id, minutes, actor=ACTOR)
        return _exam_page(db, attempt.exam_id, f"已为 {attempt.candidate.name} 延长 {minutes} 分钟。")
    except ExamEngineError as exc:
        return _exam_page(db, attempt.exam_id, exc.message, "bad", 409)


@router.post("/attempts/{attempt_id}/void")
def void(attempt_id: int, reason: str = Form(""), db: Session = Depends(get_db)) -> HTMLResponse:
    attempt = att.get_attempt(db, attempt_id)
    try:
        svc.void_attempt(db, attempt_id, actor=ACTOR, reason=reason)
        return _exam_page(db, attempt.exam_id, f"已作废 {attempt.candidate.name} 的作答。")
    except ExamEngineError as exc:
        return _exam_page(db, attempt.exam_id, exc.message, "bad", 409)
