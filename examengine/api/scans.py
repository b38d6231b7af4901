"""JSON API: scanned answer sheets (upload, listings, the review queue, resolving a position, the
annotated return as PDF).

Proctors work on the exams they run (``accounts.require_exam``): the exam of the path, or the
exam a sheet belongs to."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field

from examengine.deps import (
    DB,
    PICTURE_ROUTE,
    ExamStaff,
    ReleasingRoute,
    Staff,
    Zone,
    exam_staff,
    pdf_response,
    picture_response,
)
from examengine.services import scan_returns
from examengine.services import scans as svc
from examengine.services.accounts import require_exam

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["scans"])


@router.post("/exams/{exam_id}/scans",
             summary="Read scanned answer sheets (multi-page PDF, JPEG/PNG); apply=false: a dry run that writes nothing")
def upload(exam_id: int, db: DB, member: ExamStaff, files: list[UploadFile] = File(...),
           apply: bool = Form(False)) -> svc.ScanReport:
    read = [(f.filename or "scan", f.file.read()) for f in files]
    return svc.scan(db, read, exam_id=exam_id, actor=member.username, apply=apply)


@router.get("/exams/{exam_id}/scans", summary="The exam's scanned sheets, counts by status, and what is missing",
            dependencies=[Depends(exam_staff)])
def overview(exam_id: int, db: DB) -> svc.ScanOverview:
    return svc.overview(db, exam_id)


@router.get("/exams/{exam_id}/scans/review", summary="Positions of scanned sheets waiting for a person",
            dependencies=[Depends(exam_staff)])
def review(exam_id: int, db: DB) -> list[svc.ReviewPosition]:
    return svc.review_queue(db, exam_id)


#: The return answers with a file, not JSON: said so in /openapi.json.
PDF = {"response_class": Response, "responses": {200: {"content": {"application/pdf": {}}, "description": "PDF"}}}


@router.get("/exams/{exam_id}/scans/return.pdf", **PDF,
            summary="The annotated return of scanned sheets for appeals (audited): ?ticket= one candidate, or ?room= "
                    "every candidate of the room with a scored sheet, each from a new page (1-3 s a candidate)")
def annotated_return(exam_id: int, db: DB, member: ExamStaff, zone: Zone,
                     ticket: str | None = Query(None, max_length=40), room: str | None = Query(None, max_length=50)
                     ) -> Response:
    if (ticket is None) == (room is None):  # the request's shape, so 422 naming the parameters (not a 400)
        raise RequestValidationError([{"type": "value_error", "loc": ("query", "ticket"), "input": None,
                                       "msg": "请指定准考证号（ticket）或考场（room）之一"}])
    r = scan_returns.annotated_return(db, exam_id, ticket=ticket, room=room, zone=zone, actor=member.username)
    return pdf_response(r.pdf, r.file_name, r.ascii_file_name)


class ResolveIn(BaseModel):
    letters: str = Field(max_length=12, examples=["B", "AC", "对", ""],
                         description="the answer as decided: option letters, 对/错 for 判断, \"\" for none")


@router.put("/scans/{sheet_id}/positions/{position}",
            summary="Confirm or correct a position of a scanned sheet (audited); the sheet is scored once none is open")
def resolve(sheet_id: int, position: int, body: ResolveIn, db: DB, member: Staff) -> svc.Resolved:
    require_exam(db, member, svc.sheet_exam(db, sheet_id))
    return svc.resolve(db, sheet_id, position, body.letters, actor=member.username)


@router.get("/scans/{sheet_id}/positions/{position}.png", summary="The image of a row of a scanned sheet",
            **PICTURE_ROUTE)
def row_image(sheet_id: int, position: int, db: DB, member: Staff) -> Response:
    require_exam(db, member, svc.sheet_exam(db, sheet_id))
    return picture_response(svc.row_image(db, sheet_id, position), f"sheet-{sheet_id}-{position}.png",
                            cache="private, no-cache")


class TicketIn(BaseModel):
    ticket: str = Field(min_length=1, max_length=40)


@router.put("/scans/{sheet_id}/ticket", summary="Give a blank scanned sheet to a roster candidate (audited)")
def assign(sheet_id: int, body: TicketIn, db: DB, member: Staff) -> svc.ScannedPage:
    require_exam(db, member, svc.sheet_exam(db, sheet_id))
    return svc.assign_ticket(db, sheet_id, body.ticket, actor=member.username)


@router.delete("/scans/{sheet_id}", summary="Delete a scanned sheet and the paper result it gave (audited)")
def delete(sheet_id: int, db: DB, member: Staff, reason: str = "") -> svc.ScannedPage:
    require_exam(db, member, svc.sheet_exam(db, sheet_id))
    return svc.delete_sheet(db, sheet_id, actor=member.username, reason=reason)
