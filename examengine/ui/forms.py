"""Pages: paper forms: assemble (admins), preview, download the PDFs, score paper answers.

A proctor sees only the exams assigned to them, forms without keys or IRT parameters, and a
printed key only for an exam of theirs (``accounts.require_exam`` / ``require_keys``)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from examengine.deps import ReleasingRoute, current_staff, get_db, pdf_response
from examengine.errors import DataFileError, ExamEngineError
from examengine.rendering.env import render
from examengine.services import exams as exams_svc
from examengine.services import forms as svc
from examengine.services.accounts import require_exam, require_keys
from examengine.services.blueprints import list_blueprints

router = APIRouter(route_class=ReleasingRoute, prefix="/proctor/forms", include_in_schema=False)
admin_router = APIRouter(route_class=ReleasingRoute, prefix="/proctor/forms", include_in_schema=False)


def _own_exams(db: Session, member) -> list[dict]:
    return [asdict(e) for e in exams_svc.list_exams(db) if member.can_run_exam(db, e.id)]


def _index(db: Session, member, message: str = "", cls: str = "ok", status_code: int = 200,
           problems=(), scored_exam: int | None = None) -> HTMLResponse:
    return HTMLResponse(render("forms/index.html", nav="", bank_link=member.reads_bank,
                               assemblies=[asdict(a) for a in svc.list_assemblies(db, keys=member.sees_keys)],
                               blueprints=[asdict(b) for b in list_blueprints(db)], can_assemble=member.sees_keys,
                               exams=_own_exams(db, member), message=message,
                               message_class=cls, problems=list(problems), scored_exam=scored_exam),
                        status_code=status_code)


@router.get("")
def index(db: Session = Depends(get_db), member=Depends(current_staff)) -> HTMLResponse:
    return _index(db, member)


@admin_router.post("/assemble")
def assemble(blueprint: str = Form(...), forms: int = Form(2, ge=1, le=10), length: int = Form(40, ge=1, le=200),
             overlap: int = Form(0, ge=0, le=200), seed: int = Form(1, ge=0, le=2**31 - 1), db: Session = Depends(get_db), member=Depends(current_staff)) -> Response:
    try:
        a = svc.assemble(db, blueprint=blueprint, n_forms=forms, length=length, max_overlap=overlap, seed=seed,
                         actor=member.username)
    except DataFileError as exc:
        return _index(db, member, "无法组卷，未保存任何试卷：", "bad", 422, [p.message for p in exc.problems])
    except ExamEngineError as exc:
        return _index(db, member, exc.message, "bad", 400)
    return RedirectResponse(f"/proctor/forms/{a.forms[0].id}", 303)


@router.get("/{form_id}")
def show(form_id: int, db: Session = Depends(get_db), member=Depends(current_staff)) -> HTMLResponse:
    f = svc.form_view(db, form_id, keys=member.sees_keys)
    a = svc.assembly_view(db, f.assembly_id, keys=member.sees_keys)
    return HTMLResponse(render("forms/form.html", nav="", bank_link=member.reads_bank, form=asdict(f), assembly=asdict(a),
                               exams=[e for e in _own_exams(db, member) if e["blueprint"] == f.blueprint],
                               keys=member.sees_keys, message=""))


@router.get("/{form_id}/booklet.pdf")
def booklet(form_id: int, db: Session = Depends(get_db), member=Depends(current_staff)) -> Response:
    return _pdf(svc.print_form(db, form_id, sheets=False, key=False, actor=member.username), "booklet")


def _pdf(printed: svc.Printed, document: str) -> Response:
    """Shown in the browser, saved under the form's and the document's name (not 'booklet.pdf')."""
    return pdf_response(getattr(printed, document), printed.file_name(document), printed.ascii_file_name(document),
                        inline=True)


def _exam_id(exam: str) -> int | None:
    try:
        return int(exam) if exam.strip() else None
    except ValueError:
        raise ExamEngineError(f"考试编号应为整数，实际为“{exam}”") from None


@router.get("/{form_id}/sheets.pdf")
def sheets(form_id: int, exam: str = "", blank: int = Query(0, ge=0, le=500), db: Session = Depends(get_db),
           member=Depends(current_staff)) -> Response:
    exam_id = _exam_id(exam)
    if exam_id is not None:
        require_exam(db, member, exam_id)
    return _pdf(svc.print_form(db, form_id, booklet=False, key=False, exam_id=exam_id, blank_sheets=blank,
                               actor=member.username), "sheets")


@router.get("/{form_id}/key.pdf")
def key(form_id: int, exam: str = "", db: Session = Depends(get_db), member=Depends(current_staff)) -> Response:
    exam_id = _exam_id(exam)
    require_keys(db, member, exam_id)
    return _pdf(svc.print_form(db, form_id, booklet=False, sheets=False, exam_id=exam_id, actor=member.username), "key")


@router.post("/score")
def score(exam: int = Form(...), file: UploadFile = File(...), db: Session = Depends(get_db),
          member=Depends(current_staff)) -> HTMLResponse:
    require_exam(db, member, exam)
    try:
        r = svc.score_paper(db, exam, file.filename or "answers", file.file.read(), actor=member.username)
    except DataFileError as exc:
        return _index(db, member, "答案有误，未写入任何成绩：", "bad", 422, [str(p) for p in exc.problems])
    except ExamEngineError as exc:
        return _index(db, member, exc.message, "bad", 409)
    return _index(db, member, f"考试 {r.exam_id}：新增 {r.added} 名、更新 {r.updated} 名的纸笔成绩。"
                  + svc.replaced_summary(r.rows), scored_exam=r.exam_id)
