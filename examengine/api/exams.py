"""JSON API of exams (proctors) and attempts (candidates).

Candidates send the token from ``POST /api/v1/attempts`` as ``Authorization: Bearer``.
No candidate response ever holds a key, an IRT parameter or a requirement code.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter, Depends, File, Header, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from examengine.deps import (
    CandidateRoute,
    ReleasingRoute,
    current_staff,
    exam_staff,
    get_db,
    in_candidate_thread,
    release_connection,
)
from examengine.services import attempts as att
from examengine.services import exams as svc

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["exams (proctors)"])
candidate_router = APIRouter(route_class=CandidateRoute, prefix="/api/v1", tags=["attempts (candidates)"])


class ExamIn(BaseModel):
    blueprint: str = Field(description="蓝图编号，如 530046-L2")
    name: str = ""
    window_start: datetime | None = None
    window_end: datetime | None = None
    time_limit_minutes: int | None = None
    results_policy: str = Field("immediate", description="immediate（考完即显示）或 release（稍后发布）")


@router.post("/exams", summary="Create an exam from a blueprint (the proctor who creates it runs it)")
def create_exam(body: ExamIn, db: Session = Depends(get_db), member=Depends(current_staff)) -> dict:
    return asdict(svc.create_exam(db, blueprint=body.blueprint, name=body.name, actor=member.username,
                                  window_start=body.window_start, window_end=body.window_end,
                                  time_limit_minutes=body.time_limit_minutes, results_policy=body.results_policy,
                                  proctor_id=member.id if member.role.value == "proctor" else None))


@router.get("/exams", summary="The exams this proctor runs (all, for an admin)")
def list_exams(db: Session = Depends(get_db), member=Depends(current_staff)) -> list[dict]:
    return [asdict(e) for e in svc.list_exams(db) if member.can_run_exam(db, e.id)]


@router.get("/exams/{exam_id}", summary="One exam", dependencies=[Depends(exam_staff)])
def get_exam(exam_id: int, db: Session = Depends(get_db)) -> dict:
    return asdict(svc.exam_view(db, exam_id))


@router.post("/exams/{exam_id}/roster", summary="Import a roster (CSV or XLSX: 准考证号, 姓名, 身份证号后四位, 考场)", dependencies=[Depends(exam_staff)])
def import_roster(exam_id: int, file: UploadFile = File(...), db: Session = Depends(get_db)) -> dict:
    return asdict(svc.import_roster(db, exam_id, file.filename or "roster", file.file.read(), actor="api"))  # noqa


@router.get("/exams/{exam_id}/tickets", summary="准考证号, 姓名 and access code of each candidate (JSON or CSV)", dependencies=[Depends(exam_staff)])
def get_tickets(exam_id: int, format: str = "json", db: Session = Depends(get_db)):
    if format == "csv":
        return Response(svc.tickets_csv(db, exam_id), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="exam-{exam_id}-tickets.csv"'})
    return [asdict(t) for t in svc.tickets(db, exam_id)]


@router.get("/exams/{exam_id}/attempts", summary="Monitor: every candidate's attempt, live", dependencies=[Depends(exam_staff)])
def monitor(exam_id: int, db: Session = Depends(get_db)) -> list[dict]:
    return [asdict(r) for r in att.monitor(db, exam_id)]


@router.post("/exams/{exam_id}/release", summary="Release the results of an exam", dependencies=[Depends(exam_staff)])
def release(exam_id: int, db: Session = Depends(get_db)) -> dict:
    return asdict(svc.release_results(db, exam_id, actor="api"))


class ExtendIn(BaseModel):
    minutes: int
    reason: str = ""


class VoidIn(BaseModel):
    reason: str


def _attempt_staff(attempt_id: int, db: Session, member) -> None:
    from examengine.services.accounts import require_exam

    require_exam(db, member, att.get_attempt(db, attempt_id).exam_id)


@router.post("/attempts/{attempt_id}/extend", summary="Give a candidate extra time")
def extend(attempt_id: int, body: ExtendIn, db: Session = Depends(get_db), member=Depends(current_staff)) -> dict:
    _attempt_staff(attempt_id, db, member)
    svc.extend_time(db, attempt_id, body.minutes, actor=member.username, reason=body.reason)
    return {"attempt_id": attempt_id, "extended_minutes": body.minutes}


@router.post("/attempts/{attempt_id}/void", summary="Void an attempt (with a reason, recorded)")
def void(attempt_id: int, body: VoidIn, db: Session = Depends(get_db), member=Depends(current_staff)) -> dict:
    _attempt_staff(attempt_id, db, member)
    svc.void_attempt(db, attempt_id, actor=member.username, reason=body.reason)
    return {"attempt_id": attempt_id, "status": "voided"}


# ---------------------------------------------------------------- candidates


class SignInBody(BaseModel):
    ticket: str = Field(description="准考证号")
    code: str = Field(description="访问码")


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        return ""
    return authorization[7:].strip()


async def candidate_attempt(attempt_id: int, authorization: str | None = Header(None),
                            db: Session = Depends(get_db)):
    return await in_candidate_thread(_authenticated, db, attempt_id, _bearer(authorization))


def _authenticated(db: Session, attempt_id: int, token: str):
    attempt = att.authenticate(db, attempt_id, token)
    release_connection(db)  # the route runs in another thread-pool turn: don't hold the connection meanwhile
    return attempt


@candidate_router.post("/attempts", summary="Sign in with 准考证号 and access code; returns the attempt and a token")
def sign_in(body: SignInBody, db: Session = Depends(get_db)) -> dict:
    s = att.sign_in(db, body.ticket, body.code)
    return {"attempt_id": s.attempt_id, "token": s.token, "status": s.status}


@candidate_router.get("/attempts/{attempt_id}", summary="The attempt's status and time left")
def get_attempt(attempt=Depends(candidate_attempt), db: Session = Depends(get_db)) -> dict:
    return asdict(att.overview(db, attempt))


@candidate_router.get("/attempts/{attempt_id}/item", summary="The pending item (starts the clock on the first call)")
def get_item(attempt=Depends(candidate_attempt), db: Session = Depends(get_db)) -> dict:
    att.start(db, attempt) if attempt.status == "not_started" else None
    return asdict(att.pending(db, attempt))


class AnswerIn(BaseModel):
    position: int
    item_id: str
    answer: list[str] = Field(description="所选选项的字母，如 [\"B\"] 或 [\"A\", \"C\"]；判断题 A=正确，B=错误")


@candidate_router.post("/attempts/{attempt_id}/answers", summary="Answer the pending item; returns the next item or finished")
def post_answer(body: AnswerIn, attempt=Depends(candidate_attempt), db: Session = Depends(get_db)) -> dict:
    return asdict(att.answer(db, attempt, position=body.position, item_id=body.item_id, labels=body.answer))


@candidate_router.get("/attempts/{attempt_id}/items/{position}/images/{name}",
                      summary="A picture in the stem of an item this attempt was shown ([图片:name])",
                      response_class=Response, responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}})
def get_item_image(position: int, name: str, attempt=Depends(candidate_attempt),
                   db: Session = Depends(get_db)) -> Response:
    media, data = att.item_image(db, attempt, position, name)
    return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=3600"})


@candidate_router.get("/attempts/{attempt_id}/result", summary="The result (band, passed, score, theta, se, domains)")
def get_result(attempt=Depends(candidate_attempt), db: Session = Depends(get_db)) -> dict:
    view = att.result(db, attempt)
    if not view.released:
        return {"released": False, "message": view.message}
    r = view.result
    return {"released": True, "band": r["band_name"], "band_confidence": r["band_confidence"],
            "registered_level": r["registered_level"], "passed": r["passed"],
            "pass_confidence": r["pass_confidence"], "score": round(r["score"], 1), "theta": r["theta"],
            "se": r["se"], "n_scored": r["n_scored"],
            "domains": [{"domain": d["name"], "n_items": d["n_items"], "n_correct": d["n_correct"],
                         "statement": d["statement"]} for d in r["domains"]]}
