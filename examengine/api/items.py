"""JSON API of the item bank: item-set uploads, items, the lifecycle, coverage and export."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from examengine.deps import DB, PICTURE_ROUTE, FindingsBlock, ReleasingRoute, Staff, picture_response
from examengine.errors import ExamEngineError
from examengine.services import items as svc
from examengine.services import quality

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["item bank"])
#: The bulk export holds every key and IRT parameter of the bank: admins only (app.py).
admin_router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["item bank"])

EXPORT_TYPES = {
    "qti3": ("application/zip", "zip"), "qti21": ("application/zip", "zip"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "csv": ("text/csv; charset=utf-8", "csv"), "json": ("application/json", "json"),
}

#: The item statuses, stated in /openapi.json; the service checks them (400 for another).
STATUSES = {"enum": [s.value for s in svc.ItemStatus]}


@router.post("/item-sets", summary="Upload an item set (XLSX, CSV, JSON or a QTI 2.1/3.0 package)")
def upload_item_set(
    db: DB,
    member: Staff,
    block_on: FindingsBlock,
    file: UploadFile = File(..., description="题目文件"),
    dry_run: bool = Form(False, description="只检查，不写入"),
    requirement: list[str] = Form(default=[], description="给没有标注代码的题目统一标注的职业技能要求代码"),
    status: str = Form("draft", description="新题目的状态（只有管理员可以指定 draft 以外的状态）",
                       json_schema_extra=STATUSES),
) -> svc.ImportReport:
    """Everything is validated before anything is written: one problem means nothing is
    written, and the answer is a 422 listing every problem with file, location and field.
    The item checker's ``findings`` come with the report; they block the import only where the
    centre's ``EXAMENGINE_ITEM_FINDINGS_BLOCK`` says so (then as problems, 422)."""
    return svc.import_upload(db, filename=file.filename or "upload", data=file.file.read(),
                             default_requirements=[r for r in requirement if r], actor=member.username,
                             dry_run=dry_run, status_for_new=svc.parse_status(status), role=member.role,
                             block_on=block_on)


@router.get("/items", summary="Browse the bank")
def list_items(
    db: DB, code: str = "", status: str = "", type: str = "", q: str = "",
    limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
) -> svc.ItemPage:
    return svc.list_items(db, code=code, status=status, item_type=type, text=q, limit=limit, offset=offset)


@admin_router.get("/items/export", summary="Export the bank's current versions (qti3, qti21, xlsx, csv, json; admins)",
                  response_class=Response, responses={200: {"description": "The export file", "content": {
                      media.split(";")[0]: {} for media, _ in EXPORT_TYPES.values()}}})
def export_items(db: DB, format: str = "qti3", code: str = "", status: str = "") -> Response:
    if format not in EXPORT_TYPES:
        raise ExamEngineError(f"不支持的导出格式：{format}（可用：{'、'.join(EXPORT_TYPES)}）")
    data = svc.export_items(db, format, code=code, status=status).data
    media, ext = EXPORT_TYPES[format]
    return Response(data, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="examengine-items-{format}.{ext}"'})


@router.get("/items/{external_id}", summary="One item with its versions and history (IRT parameters for admins)")
def get_item(external_id: str, db: DB, member: Staff) -> svc.ItemDetail:
    return svc.get_item(db, external_id, role=member.role)


class TransitionIn(BaseModel):
    to: str = Field(json_schema_extra=STATUSES)
    note: str = Field("", max_length=svc.MAX_COMMENT_CHARS, description="审核意见，记入变更记录")


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=svc.MAX_COMMENT_CHARS, description="审核意见")


@router.post("/items/{external_id}/transitions",
             summary="Move an item through the lifecycle (writers: submit/withdraw; reviewers and admins: approve others' items)")
def transition(external_id: str, body: TransitionIn, db: DB, member: Staff) -> svc.ItemDetail:
    return svc.transition_item(db, external_id, svc.parse_status(body.to), actor=member.username,
                               note=body.note, role=member.role)


@router.post("/items/{external_id}/comments", summary="A review comment, kept in the item's history")
def comment(external_id: str, body: CommentIn, db: DB, member: Staff) -> svc.ItemDetail:
    svc.comment_item(db, external_id, actor=member.username, text=body.text)
    return svc.get_item(db, external_id, role=member.role)


@router.get("/bank/review-queue", summary="Items in review with the checker's findings; `own` marks those the caller may not approve")
def review_queue(db: DB, member: Staff, code: str = "") -> list[svc.QueueEntry]:
    return svc.review_queue(db, viewer=member.username, code=code)


@router.get("/items/{external_id}/versions/{version}/images/{name}", summary="A picture of an item version",
            **PICTURE_ROUTE)
def item_image(external_id: str, version: int, name: str, db: DB) -> Response:
    _, data = svc.get_image(db, external_id, version, name)
    return picture_response(data, name)


@router.get("/items/{external_id}/findings", summary="The item checker's findings for an item (docs/item-quality.md)")
def item_findings(db: DB, external_id: str) -> list[quality.FindingView]:
    return [quality.view(f) for f in quality.item_findings(db, external_id)]


@router.get("/bank/findings", summary="The item checker's findings for the bank's items under a code")
def bank_findings(db: DB, code: str = Query(..., min_length=1, description="标准、级别、领域、任务或要求代码")
                  ) -> list[quality.FindingView]:
    return [quality.view(f) for f in quality.check_code(db, code=code)]


@router.get("/bank/cues", summary="What test-wise strategies score on the bank, per level, against chance")
def bank_cues(db: DB, code: str = "") -> list[quality.LevelCues]:
    return quality.bank_cues(db, code=code)


@router.get("/bank/coverage", summary="Items per requirement code, by status")
def bank_coverage(db: DB, code: str = "") -> list[svc.CoverageRow]:
    return svc.coverage(db, code=code)
