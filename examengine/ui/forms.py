"""Pages: paper forms for proctors: assemble, preview, download the PDFs, score paper answers."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from examengine.deps import ReleasingRoute, get_db
from examengine.errors import DataFileError, ExamEngineError
from examengine.rendering.env import render
from examengine.services import exams as exams_svc
from examengine.services import forms as svc
from examengine.services.blueprints import list_blueprints

router = APIRouter(route_class=ReleasingRoute, prefix="/proctor/forms", include_in_schema=False)
ACTOR = "监考"


def _index(db: Session, message: str = "", cls: str = "ok", status_code: int = 200, problems=()) -> HTMLResponse:
    return HTMLResponse(render("forms/index.html", nav="", assemblies=[asdict(a) for a in svc.list_assemblies(db)],
                               blueprints=[asdict(b) for b in list_blueprints(db)],
                               exams=[asdict(e) for e in exams_svc.list_exams(db)], message=message,
                               message_class=cls, problems=list(problems)), status_code=status_code)


@router.get("")
def index(db: Session = Depends(get_db)) -> HTMLResponse:
    return _index(db)


@router.post("/assemble")
def assemble(blueprint: str = Form(...), forms: int = Form(2), length: int = Form(40), overlap: int = Form(0),
             seed: int = Form(1), db: Session = Depends(get_db)) -> Response:
    try:
        a = svc.assemble(db, blueprint=blueprint, n_forms=forms, length=length, max_overlap=overlap, seed=seed,
                         actor=ACTOR)
    except DataFileError as exc:
        return _index(db, "无法组卷，未保存任何试卷：", "bad", 422, [p.message for p in exc.problems])
    except ExamEngineError as exc:
        return _index(db, exc.message, "bad", 400)
    return RedirectResponse(f"/proctor/forms/{a.forms[0].id}", 303)


@router.get("/{form_id}")
def show(form_id: int, db: Session = Depends(get_db), message: str = "") -> HTMLResponse:
    f = svc.form_view(db, form_id)
    a = svc.assembly_view(db, f.assembly_id)
    return HTMLResponse(render("forms/form.html", nav="", form=asdict(f), assembly=asdict(a),
                               exams=[asdict(e) for e in exams_svc.list_exams(db) if e.blueprint == f.blueprint],
                               message=message))


@router.get("/{form_id}/booklet.pdf")
def booklet(form_id: int, db: Session = Depends(get_db)) -> Response:
    return Response(svc.print_form(db, form_id, sheets=False, key=False).booklet, media_type="application/pdf")


@router.get("/{form_id}/sheets.pdf")
def sheets(form_id: int, exam: str = "", blank: int = 0, db: Session = Depends(get_db)) -> Response:
    p = svc.print_form(db, form_id, booklet=False, key=False, exam_id=int(exam) if exam.strip() else None,
                       blank_sheets=blank)
    return Response(p.sheets, media_type="application/pdf")


@router.get("/{form_id}/key.pdf")
def key(form_id: int, db: Session = Depends(get_db)) -> Response:
    return Response(svc.print_form(db, form_id, booklet=False, sheets=False).key, media_type="application/pdf")


@router.post("/score")
def score(exam: int = Form(...), file: UploadFile = File(...), db: Session = Depends(get_db)) -> HTMLResponse:
    try:
        r = svc.score_paper(db, exam, file.filename or "answers", file.file.read(), actor=ACTOR)
    except DataFileError as exc:
        return _index(db, "答案有误，未写入任何成绩：", "bad", 422, [str(p) for p in exc.problems])
    except ExamEngineError as exc:
        return _index(db, exc.message, "bad", 409)
    return _index(db, f"考试 {r.exam_id}：新增 {r.added} 名、更新 {r.updated} 名的纸笔成绩。")
