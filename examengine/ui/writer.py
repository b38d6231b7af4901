"""Pages for item writers and reviewers: upload -> validation report -> confirm; the bank
browser; an item page with the lifecycle moves the member's role allows."""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from examengine.deps import FindingsBlock, ReleasingRoute, current_staff, get_db
from examengine.errors import ConflictError
from examengine.rendering.env import render
from examengine.services import items as svc
from examengine.services import quality
from examengine.services.accounts import ForbiddenError

router = APIRouter(route_class=ReleasingRoute, prefix="/writer", include_in_schema=False)


def page(template: str, status_code: int = 200, **context) -> HTMLResponse:
    return HTMLResponse(render(template, **context), status_code=status_code)


@router.get("")
def home() -> RedirectResponse:
    return RedirectResponse("/writer/items", status_code=303)


@router.get("/upload")
def upload_form() -> HTMLResponse:
    return page("writer/upload.html", nav="upload", error="")


@router.post("/upload")
def upload(
    block_on: FindingsBlock,
    file: UploadFile = File(...),
    requirements: str = Form(""),
    db: Session = Depends(get_db),
    member=Depends(current_staff),
) -> Response:
    data = file.file.read()
    if not data:
        return page("writer/upload.html", nav="upload", error="请选择一个非空的文件。")
    staged = svc.stage_upload(db, filename=file.filename or "upload", data=data, actor=member.username,
                              role=member.role, default_requirements=svc.split_codes(requirements),
                              block_on=block_on)
    return RedirectResponse(f"/writer/uploads/{staged.item_set_id}", status_code=303)


@router.get("/uploads/{item_set_id}")
def upload_report(item_set_id: int, db: Session = Depends(get_db)) -> HTMLResponse:
    return page("writer/report.html", nav="upload", upload=asdict(svc.get_upload(db, item_set_id)))


@router.post("/uploads/{item_set_id}/confirm")
def confirm(item_set_id: int, block_on: FindingsBlock, db: Session = Depends(get_db),
            member=Depends(current_staff)) -> RedirectResponse:
    svc.confirm_upload(db, item_set_id, actor=member.username, role=member.role, block_on=block_on)
    return RedirectResponse(f"/writer/uploads/{item_set_id}", status_code=303)


@router.get("/items")
def browse(request: Request, code: str = "", status: str = "", type: str = "", q: str = "",
           offset: int = 0, db: Session = Depends(get_db)) -> HTMLResponse:
    limit = 50
    offset = max(0, offset)
    f = {"code": code.strip(), "status": status, "type": type, "q": q.strip(), "offset": offset, "limit": limit}
    result = svc.list_items(db, code=f["code"], status=status, item_type=type, text=f["q"], limit=limit, offset=offset)

    def query(**changes) -> str:
        params = {k: v for k, v in {**f, **changes}.items() if k != "limit" and v not in ("", None)}
        return urlencode(params)

    return page("writer/items.html", nav="items", page=asdict(result), f=f, query=query)


def _item_page(db: Session, item: svc.ItemDetail, message: str = "", cls: str = "",
               status_code: int = 200) -> HTMLResponse:
    from examengine.services.calibration import item_statistics

    stats = [asdict(s) for s in item_statistics(db, scope=item.level, items=[item.external_id])]
    findings = [asdict(quality.view(f)) for f in quality.item_findings(db, item.external_id)]
    return page("writer/item.html", status_code, nav="items", item=asdict(item), stats=stats, message=message,
                message_class=cls, findings=findings)


@router.get("/items/{external_id}")
def item_page(external_id: str, db: Session = Depends(get_db), member=Depends(current_staff)) -> HTMLResponse:
    return _item_page(db, svc.get_item(db, external_id, role=member.role))


@router.post("/items/{external_id}/transition")
def transition(external_id: str, to: str = Form(...), note: str = Form("", max_length=svc.MAX_COMMENT_CHARS),
               db: Session = Depends(get_db), member=Depends(current_staff)) -> HTMLResponse:
    try:
        item = svc.transition_item(db, external_id, svc.parse_status(to), actor=member.username, role=member.role,
                                   note=note.strip())
        message, cls, code = f"状态已改为“{item.status_label}”。", "ok", 200
    except ConflictError as exc:
        item, message, cls, code = svc.get_item(db, external_id, role=member.role), exc.message, "bad", 200
    except ForbiddenError as exc:
        item, message, cls, code = svc.get_item(db, external_id, role=member.role), exc.message, "bad", 403
    return _item_page(db, item, message, cls, code)


@router.post("/items/{external_id}/comment")
def comment(external_id: str, text: str = Form(..., max_length=svc.MAX_COMMENT_CHARS), db: Session = Depends(get_db),
            member=Depends(current_staff)) -> HTMLResponse:
    svc.comment_item(db, external_id, actor=member.username, text=text)
    return _item_page(db, svc.get_item(db, external_id, role=member.role), "意见已记入变更记录。", "ok")


@router.get("/review")
def review_page(code: str = "", db: Session = Depends(get_db), member=Depends(current_staff)) -> HTMLResponse:
    entries = svc.review_queue(db, viewer=member.username, code=code.strip())
    return page("writer/review.html", nav="review", entries=[{**asdict(e), "errors": e.errors} for e in entries],
                code=code)


@router.get("/cues")
def cues_page(code: str = "", db: Session = Depends(get_db)) -> HTMLResponse:
    return page("writer/cues.html", nav="cues", levels=[asdict(c) for c in quality.bank_cues(db, code=code.strip())],
                code=code)


@router.get("/coverage")
def coverage_page(code: str = "", db: Session = Depends(get_db)) -> HTMLResponse:
    rows = svc.coverage(db, code=code.strip())
    return page("writer/coverage.html", nav="coverage", rows=[asdict(r) for r in rows], code=code,
                short=sum(1 for r in rows if r.operational < 2))


@router.get("/template.{fmt}")
def template(fmt: str) -> Response:
    if fmt == "xlsx":
        return Response(svc.upload_template(fmt), media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": "attachment; filename*=UTF-8''%E9%A2%98%E7%9B%AE%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.xlsx"})
    if fmt == "csv":
        return Response(svc.upload_template(fmt), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": "attachment; filename*=UTF-8''%E9%A2%98%E7%9B%AE%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.csv"})
    return Response("不支持的模板格式", status_code=404)
