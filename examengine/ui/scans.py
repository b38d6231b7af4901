"""Pages for proctors: scanned answer sheets of an exam (upload a multi-page PDF or pictures,
the sheets and what is missing, the annotated returns of a candidate or a room), and the review
queue (each open position with the image of its row, confirmed or corrected).

Post/redirect/get as the monitor (ui/flash.py): an upload that writes, a resolution, an
assignment and a deletion answer 303 with a message; a preview (nothing written) is shown at
once."""

from __future__ import annotations

from dataclasses import asdict
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from examengine.deps import (
    ReleasingRoute,
    centre_zone,
    current_staff,
    exam_staff,
    get_db,
    pdf_response,
    picture_response,
)
from examengine.errors import DataFileError, ExamEngineError
from examengine.rendering.env import render
from examengine.services import exams as exams_svc
from examengine.services import scan_returns
from examengine.services import scans as svc
from examengine.services.accounts import require_exam
from examengine.services.forms import replaced_summary
from examengine.ui import flash

router = APIRouter(route_class=ReleasingRoute, prefix="/proctor", include_in_schema=False)

STATUS_NAMES = {s.value: name for s, name in svc.STATUS_NAMES.items()}
OUTCOME_NAMES = {o.value: name for o, name in svc.OUTCOME_NAMES.items()}


def _scans_path(exam_id: int) -> str:
    return f"/proctor/exams/{exam_id}/scans"


def _review_path(exam_id: int) -> str:
    return f"/proctor/exams/{exam_id}/scans/review"


def _message(exc: ExamEngineError) -> str:
    problems = getattr(exc, "problems", None)
    return "；".join(p.message for p in problems) if problems else exc.message


def _page(request: Request, db: Session, member, exam_id: int, *, report=None, message: str = "",
          cls: str = "ok", status_code: int = 200) -> HTMLResponse:
    shown = flash.take(request)
    if shown and not message:
        message, cls = shown.message, shown.cls
    page = HTMLResponse(render("proctor/scans.html", nav="", bank_link=member.reads_bank,
                               exam=asdict(exams_svc.exam_view(db, exam_id)),
                               overview=asdict(svc.overview(db, exam_id)),
                               rooms=[asdict(r) for r in scan_returns.return_rooms(db, exam_id)],
                               report=asdict(report) if report is not None else None,
                               status_names=STATUS_NAMES, outcome_names=OUTCOME_NAMES,
                               message=message, message_class=cls), status_code=status_code)
    return flash.forget(request, page)


@router.get("/exams/{exam_id}/scans", dependencies=[Depends(exam_staff)])
def scans(exam_id: int, request: Request, db: Session = Depends(get_db),
          member=Depends(current_staff)) -> HTMLResponse:
    return _page(request, db, member, exam_id)


@router.post("/exams/{exam_id}/scans")
def upload(exam_id: int, request: Request, files: list[UploadFile] = File(...), preview: str = Form(""),
           db: Session = Depends(get_db), member=Depends(exam_staff)) -> Response:
    apply = preview != "1"
    read = [(f.filename or "scan", f.file.read()) for f in files]
    try:
        r = svc.scan(db, read, exam_id=exam_id, actor=member.username, apply=apply)
    except ExamEngineError as exc:
        return _page(request, db, member, exam_id, message=_message(exc), cls="bad", status_code=422)
    if not apply:
        return _page(request, db, member, exam_id, report=r,
                     message=f"预览：共 {len(r.pages)} 页，未保存任何内容（见下方“预览结果”）。")
    c = r.counts
    text = (f"已读取 {len(r.pages)} 页：新读入 {c['new']}，未变 {c['unchanged']}，拒收 {c['refused']}，"
            f"无法识别 {c['unreadable']}；已评分 {len(r.scored)} 名。")
    text += replaced_summary(r.scored)
    refused = [p for p in r.pages if p.outcome in ("refused", "unreadable")]
    if refused:
        text += " 拒收或无法识别：" + "；".join(
            f"{p.file}" + (f" 第 {p.page} 页" if p.page else "") + f"：{p.problem}" for p in refused[:5])
    waiting = sum(len(p.review) for p in r.pages if p.outcome == "new")
    if waiting:
        text += f" 另有 {waiting} 处涂点待复核。"
    return flash.redirect(request, _scans_path(exam_id), text, "bad" if refused else "ok")


@router.get("/exams/{exam_id}/scans/return.pdf")
def annotated_return(exam_id: int, request: Request, ticket: str = "", room: str = "", db: Session = Depends(get_db),
                     member=Depends(exam_staff), zone: ZoneInfo = Depends(centre_zone)) -> Response:
    """A candidate's or a room's annotated return, shown in the browser; a refusal goes back to
    the scans page with its reason."""
    try:
        r = scan_returns.annotated_return(db, exam_id, ticket=ticket, room=room, zone=zone, actor=member.username)
    except ExamEngineError as exc:
        return flash.redirect(request, _scans_path(exam_id), f"未生成答题卡回执：{_message(exc)}", "bad")
    return pdf_response(r.pdf, r.file_name, r.ascii_file_name, inline=True)


@router.get("/exams/{exam_id}/scans/review", dependencies=[Depends(exam_staff)])
def review(exam_id: int, request: Request, db: Session = Depends(get_db),
           member=Depends(current_staff)) -> HTMLResponse:
    shown = flash.take(request)
    page = HTMLResponse(render("proctor/scan_review.html", nav="", bank_link=member.reads_bank,
                               exam=asdict(exams_svc.exam_view(db, exam_id)),
                               queue=[asdict(q) for q in svc.review_queue(db, exam_id)],
                               message=shown.message if shown else "", message_class=shown.cls if shown else "ok"))
    return flash.forget(request, page)


def _sheet_exam(db: Session, member, sheet_id: int) -> int:
    exam_id = svc.sheet_exam(db, sheet_id)
    require_exam(db, member, exam_id)
    return exam_id


@router.post("/scans/{sheet_id}/positions/{position}")
def resolve(sheet_id: int, position: int, request: Request, letters: str = Form(""),
            db: Session = Depends(get_db), member=Depends(current_staff)) -> RedirectResponse:
    exam_id = _sheet_exam(db, member, sheet_id)
    try:
        r = svc.resolve(db, sheet_id, position, letters, actor=member.username)
    except (DataFileError, ExamEngineError) as exc:
        return flash.redirect(request, _review_path(exam_id), f"答题卡 {sheet_id} 第 {position} 题未保存：{_message(exc)}",
                              "bad")
    who = r.sheet.ticket and f"{r.sheet.ticket} {r.sheet.name}" or "空白答题卡"
    text = f"{who} 第 {position} 题：" + ("确认" if r.before == r.after else "更正为") + f" {r.after or '未作答'}。"
    if r.scored is not None:
        s = r.scored
        text += (f" 该答题卡已评分：答对 {s.raw_score}/{s.n_items}，{s.band_name}，{'合格' if s.passed else '不合格'}，"
                 f"成绩 {s.score:.1f}。")
        if s.replaced:
            text += f" 注意：此成绩{s.replaced}，先前成绩保留在记录中。"
    return flash.redirect(request, _review_path(exam_id), text)


@router.get("/scans/{sheet_id}/positions/{position}.png")
def row_image(sheet_id: int, position: int, db: Session = Depends(get_db),
              member=Depends(current_staff)) -> Response:
    _sheet_exam(db, member, sheet_id)
    return picture_response(svc.row_image(db, sheet_id, position), f"sheet-{sheet_id}-{position}.png",
                            cache="private, no-cache")


@router.post("/scans/{sheet_id}/ticket")
def assign(sheet_id: int, request: Request, ticket: str = Form(""), db: Session = Depends(get_db),
           member=Depends(current_staff)) -> RedirectResponse:
    exam_id = _sheet_exam(db, member, sheet_id)
    try:
        v = svc.assign_ticket(db, sheet_id, ticket, actor=member.username)
    except (DataFileError, ExamEngineError) as exc:
        return flash.redirect(request, _scans_path(exam_id), _message(exc), "bad")
    return flash.redirect(request, _scans_path(exam_id), f"答题卡 {sheet_id} 已指定给 {v.ticket} {v.name}"
                          + ("，已评分。" if v.status == "scored" else "。"))


@router.post("/scans/{sheet_id}/delete")
def delete(sheet_id: int, request: Request, reason: str = Form(""), confirm: str = Form(""),
           db: Session = Depends(get_db), member=Depends(current_staff)) -> RedirectResponse:
    exam_id = _sheet_exam(db, member, sheet_id)
    if confirm != "1":
        return flash.redirect(request, _scans_path(exam_id), f"未删除：请勾选“确认删除”后再删除答题卡 {sheet_id}。", "bad")
    v = svc.delete_sheet(db, sheet_id, actor=member.username, reason=reason)
    return flash.redirect(request, _scans_path(exam_id), f"已删除答题卡 {sheet_id}（{v.ticket or '空白答题卡'}）。")
