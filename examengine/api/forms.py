"""JSON API: paper forms (assembly, printing, paper scoring).

Assembly reads the keys and IRT parameters of a whole level: admins only (``admin_router``).
Proctors print and score for the exams they run (``accounts.require_exam``) and see forms
without keys or parameters; a printed key only for an exam of theirs (``accounts.require_keys``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field, model_validator

from examengine.deps import (
    DB,
    ExamStaff,
    ReleasingRoute,
    Staff,
    exam_staff,
    pdf_response,
)
from examengine.services import form_assignments as assign_svc
from examengine.services import forms as svc
from examengine.services import reconciliation as rec
from examengine.services.accounts import require_exam, require_keys

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["forms"])
admin_router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["forms"])


class AssembleIn(BaseModel):
    blueprint: str = Field(examples=["530046-L2"])
    forms: int = Field(2, ge=svc.ASSEMBLY_BOUNDS["forms"][0], le=svc.ASSEMBLY_BOUNDS["forms"][1])
    length: int = Field(40, ge=svc.ASSEMBLY_BOUNDS["length"][0], le=svc.ASSEMBLY_BOUNDS["length"][1])
    overlap: int = Field(0, ge=svc.ASSEMBLY_BOUNDS["overlap"][0], le=svc.ASSEMBLY_BOUNDS["overlap"][1])
    avoid_recent: int = Field(0, ge=svc.ASSEMBLY_BOUNDS["avoid_recent"][0], le=svc.ASSEMBLY_BOUNDS["avoid_recent"][1])
    tolerance: float = Field(0.03, gt=svc.ASSEMBLY_BOUNDS["tolerance"][0], lt=svc.ASSEMBLY_BOUNDS["tolerance"][1])
    seed: int = Field(1, ge=svc.ASSEMBLY_BOUNDS["seed"][0], le=svc.ASSEMBLY_BOUNDS["seed"][1])
    time_limit: float = Field(30.0, gt=svc.ASSEMBLY_BOUNDS["time_limit"][0], le=svc.ASSEMBLY_BOUNDS["time_limit"][1])
    balance_keys: bool = Field(True, description="每套答案均衡：单选答案在 A–D 间大致均匀，判断题“对”占 30%–70%，"
                                                 "同一答案不连续超过 3 题")


@admin_router.post("/forms/assemble", summary="Assemble N parallel forms of a blueprint (MILP; admins); 422 explains an infeasible request")
def assemble(body: AssembleIn, db: DB, member: Staff) -> svc.AssemblyView:
    return svc.assemble(db, blueprint=body.blueprint, n_forms=body.forms, length=body.length, actor=member.username,
                     max_overlap=body.overlap, avoid_recent=body.avoid_recent, seed=body.seed,
                     parallel_tolerance=body.tolerance, time_limit=body.time_limit, balance_keys=body.balance_keys)


@router.get("/forms", summary="Paper forms")
def list_forms(db: DB) -> list[svc.FormView]:
    return svc.list_forms(db)


@router.get("/forms/{form_id}", summary="A form with its items (keys and IRT parameters for admins only)")
def get_form(form_id: int, db: DB, member: Staff) -> svc.FormView:
    return svc.form_view(db, form_id, keys=member.sees_keys)


#: The PDF routes answer with a file, not JSON: said so in /openapi.json.
PDF = {"response_class": Response, "responses": {200: {"content": {"application/pdf": {}}, "description": "PDF"}}}


def _pdf(printed: svc.Printed, document: str) -> Response:
    return pdf_response(getattr(printed, document), printed.file_name(document), printed.ascii_file_name(document))


@router.get("/forms/{form_id}/booklet.pdf", summary="The booklet (freezes the form's item versions)", **PDF)
def booklet(form_id: int, db: DB, member: Staff) -> Response:
    p = svc.print_form(db, form_id, sheets=False, key=False, actor=member.username)
    return _pdf(p, "booklet")


@router.get("/forms/{form_id}/sheets.pdf", summary="Answer sheets: one per candidate of ?exam= who sits this form "
            "(all of them while no form is assigned: they are then assigned to this one), and ?blank= blank ones", **PDF)
def sheets(form_id: int, db: DB, member: Staff, exam: int | None = None,
           blank: int = Query(0, ge=0, le=svc.MAX_BLANK_SHEETS)) -> Response:
    if exam is not None:
        require_exam(db, member, exam)
    p = svc.print_form(db, form_id, booklet=False, key=False, exam_id=exam, blank_sheets=blank,
                       actor=member.username)
    return _pdf(p, "sheets")


@router.get("/forms/{form_id}/key.pdf", summary="The key and the score conversion table (admins; a proctor with ?exam= of theirs)", **PDF)
def key(form_id: int, db: DB, member: Staff, exam: int | None = None) -> Response:
    require_keys(db, member, exam)
    p = svc.print_form(db, form_id, booklet=False, sheets=False, exam_id=exam, actor=member.username)
    return _pdf(p, "key")


@router.post("/exams/{exam_id}/paper-results", summary="Score paper answers (CSV/XLSX: 准考证号, 试卷, 答案 or one column per item)")
def score(exam_id: int, db: DB, member: ExamStaff, file: UploadFile = File(...),
          assembly: int | None = Form(None)) -> svc.PaperScoreReport:
    return svc.score_paper(db, exam_id, file.filename or "answers", file.file.read(), actor=member.username,
                           assembly_id=assembly)


@router.get("/exams/{exam_id}/paper-results", summary="Paper results of an exam", dependencies=[Depends(exam_staff)])
def results(exam_id: int, db: DB) -> list[svc.PaperRow]:
    return svc.paper_results(db, exam_id)


@router.get("/exams/{exam_id}/paper-results/overview", dependencies=[Depends(exam_staff)],
            summary="Paper results of an exam with the roster candidates who have none, and counts")
def results_overview(exam_id: int, db: DB) -> svc.PaperResultsView:
    return svc.paper_results_view(db, exam_id)


@router.get("/exams/{exam_id}/reconciliation", summary="Online and paper results of each candidate side by side "
            "(?online_exam=: the online attempts of another exam, matched by ticket); disagreements flagged first")
def reconciliation(exam_id: int, db: DB, member: ExamStaff, online_exam: int | None = None) -> rec.Reconciliation:
    if online_exam is not None:
        require_exam(db, member, online_exam)
    return rec.reconcile(db, exam_id, online_exam_id=online_exam)


class AssignIn(BaseModel):
    by: Literal["seat", "room", "column"] = Field(
        "seat", description="seat（同一考场按座位号交替）、room（各考场轮换）或 column（名单的“试卷”列）", examples=["seat"])
    assembly: int | None = Field(None, description="组卷编号：分配到它的全部试卷")
    forms: list[int] = Field(default_factory=list, max_length=10, description="或：试卷编号列表")
    only_unassigned: bool = Field(False, description="只为尚未分配试卷的考生分配（已分配的保持不变，如名单后补的考生）")

    @model_validator(mode="after")
    def _one_source_of_forms(self) -> AssignIn:
        # exactly one of the two, checked in the schema's place (422), not as a 400 from the service
        if (self.assembly is None) == (not self.forms):
            raise ValueError("请指定组卷编号（assembly）或试卷编号（forms）之一")
        return self


@router.post("/exams/{exam_id}/form-assignments",
             summary="Assign the exam's candidates to paper forms by seat, room or the roster's 试卷 column "
                     "(409 when a candidate was scored on another form)")
def assign_forms(exam_id: int, body: AssignIn, db: DB, member: ExamStaff) -> assign_svc.AssignmentReport:
    return assign_svc.assign(db, exam_id, rule=body.by, actor=member.username, assembly_id=body.assembly,
                             form_ids=body.forms or None, only_unassigned=body.only_unassigned)


@router.get("/exams/{exam_id}/form-assignments", summary="The exam's roster with each candidate's paper form",
            dependencies=[Depends(exam_staff)])
def form_assignments(exam_id: int, db: DB) -> list[assign_svc.AssignedCandidate]:
    return assign_svc.roster_forms(db, exam_id)
