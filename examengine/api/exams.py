"""JSON API of exams (proctors) and attempts (candidates).

Candidates send the token from ``POST /api/v1/attempts`` as ``Authorization: Bearer``.
No candidate response ever holds a key, an IRT parameter or a requirement code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Header, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from examengine.db.models import Attempt
from examengine.deps import (
    DB,
    PICTURE_ROUTE,
    CandidateRoute,
    ExamStaff,
    ReleasingRoute,
    Staff,
    Zone,
    centre_zone,
    client_of,
    exam_staff,
    in_candidate_thread,
    picture_response,
    release_connection,
)
from examengine.services import attempts as att
from examengine.services import exams as svc
from examengine.services import linear
from examengine.services.accounts import require_exam

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["exams (proctors)"])
candidate_router = APIRouter(route_class=CandidateRoute, prefix="/api/v1", tags=["attempts (candidates)"])


class ExamIn(BaseModel):
    blueprint: str = Field("", description="蓝图编号，如 530046-L2（指定试卷时可省略，取试卷的蓝图）")
    form_id: int | None = Field(None, description="试卷编号：指定时为固定试卷（线性）考试，按该试卷的题目和顺序作答")
    mode: Literal["adaptive", "linear", "loft"] | None = Field(
        None, description="考试方式：adaptive 自适应（默认）；linear 固定试卷（须给 form_id，可省略 mode）；loft 随机组卷"
                          "（每位考生开考时按蓝图抽一套试卷，题数为蓝图的最长题数，按固定试卷方式作答）")
    name: str = ""
    window_start: datetime | None = Field(None, description="时间窗开始（默认现在）；不带时区偏移的时间按本中心时区"
                                                           "（EXAMENGINE_TIMEZONE）理解")
    window_end: datetime | None = Field(None, description="时间窗结束（默认开始后一天）；不带时区偏移同上")
    time_limit_minutes: int | None = None
    results_policy: str = Field("immediate", description="immediate（考完即显示）或 release（稍后发布）",
                                json_schema_extra={"enum": ["immediate", "release"]})
    require_id_last4: bool = Field(False, description="登录时核验身份证号后四位")
    approve_new_device: bool = Field(False, description="考生换设备继续作答须经监考人员批准")


class SignInRulesIn(BaseModel):
    require_id_last4: bool | None = None
    approve_new_device: bool | None = None


class ExamExtendedOut(BaseModel):
    exam_id: int
    minutes: int
    attempts: list[att.Extension]


class ClosedOut(BaseModel):
    exam_id: int
    closed: list[int] = Field(description="收卷的作答编号")


class UnlockedOut(BaseModel):
    exam_id: int
    ticket: str
    unlocked: bool


class DecidedOut(BaseModel):
    sign_in_id: int
    approved: bool


class AttemptExtendedOut(BaseModel):
    attempt_id: int
    extended_minutes: int
    reopened: bool = Field(description="已超时的作答重新开放，从待答题继续")
    deadline: str = Field(description="新的截止时间（ISO，UTC）；尚未开始计时的作答为空")


class AttemptStatusOut(BaseModel):
    attempt_id: int
    status: str


class SignedOut(BaseModel):
    signed_out: bool


@router.post("/exams", summary="Create an exam from a blueprint (adaptive, or mode loft: a form drawn for each "
             "candidate), or from an assembled form (form_id: linear); the proctor who creates it runs it")
def create_exam(body: ExamIn, db: DB, member: Staff, zone: Zone) -> svc.ExamView:
    return svc.create_exam(db, blueprint=body.blueprint, form_id=body.form_id, mode=body.mode, name=body.name, actor=member.username,
                           zone=zone, window_start=body.window_start, window_end=body.window_end,
                           time_limit_minutes=body.time_limit_minutes, results_policy=body.results_policy,
                           proctor_id=member.id if member.role.value == "proctor" else None,
                           require_id_last4=body.require_id_last4, approve_new_device=body.approve_new_device)


@router.patch("/exams/{exam_id}", summary="Change the exam's sign-in rules (身份证号后四位, approval of a second device)")
def set_sign_in_rules(exam_id: int, body: SignInRulesIn, db: DB, member: ExamStaff) -> svc.ExamView:
    return svc.set_sign_in_rules(db, exam_id, actor=member.username, require_id_last4=body.require_id_last4,
                                 approve_new_device=body.approve_new_device)


@router.get("/exams", summary="The exams this proctor runs (all, for an admin)")
def list_exams(db: DB, member: Staff) -> list[svc.ExamView]:
    return [e for e in svc.list_exams(db) if member.can_run_exam(db, e.id)]


@router.get("/exams/{exam_id}", summary="One exam", dependencies=[Depends(exam_staff)])
def get_exam(exam_id: int, db: DB) -> svc.ExamView:
    return svc.exam_view(db, exam_id)


@router.post("/exams/{exam_id}/roster", summary="Import a roster (CSV or XLSX: 准考证号, 姓名, 身份证号后四位, 考场, 座位号)")
def import_roster(exam_id: int, db: DB, member: ExamStaff, file: UploadFile = File(...)) -> svc.RosterReport:
    return svc.import_roster(db, exam_id, file.filename or "roster", file.file.read(), actor=member.username)


@router.get("/exams/{exam_id}/tickets", summary="准考证号, 姓名, access code, 考场 and 座位号 of each candidate "
                                                "(JSON, or CSV with the window in the centre's local time)",
            dependencies=[Depends(exam_staff)],
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "JSON, or CSV "
                             "with ?format=csv"}})
def get_tickets(exam_id: int, db: DB, zone: Zone, format: str = "json") -> list[svc.Ticket]:
    if format == "csv":  # a Response is sent as it is, unvalidated
        return Response(svc.tickets_csv(db, exam_id, zone), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="exam-{exam_id}-tickets.csv"'})
    return svc.tickets(db, exam_id)


@router.get("/exams/{exam_id}/attempts", summary="Monitor: every candidate's attempt, live", dependencies=[Depends(exam_staff)])
def monitor(exam_id: int, db: DB) -> list[att.MonitorRow]:
    return att.monitor(db, exam_id)


@router.get("/exams/{exam_id}/sign-ins", summary="Every sign-in of the exam's candidates (time, address, browser, "
            "outcome, device switches)", dependencies=[Depends(exam_staff)])
def sign_ins(exam_id: int, db: DB) -> list[att.SignInView]:
    return att.sign_ins(db, exam_id)


class ReleaseIn(BaseModel):
    confirm_provisional: bool = Field(False, description="确认发布基于暂定参数（未经校准）的成绩；不确认时这类成绩使发布"
                                                         "被拒绝（409），确认记入审计日志")


@router.post("/exams/{exam_id}/release", summary="Release the results of an exam (attempts whose time is up are "
             "closed first); results on provisional parameters need confirm_provisional")
def release(exam_id: int, db: DB, member: ExamStaff, body: ReleaseIn | None = None) -> svc.ExamView:
    return att.release_results(db, exam_id, actor=member.username,
                               confirm_provisional=body is not None and body.confirm_provisional)


class ExtendIn(BaseModel):
    minutes: int = Field(ge=1, le=240)
    reason: str = Field("", max_length=500)


class ExamExtendIn(ExtendIn):
    tickets: list[str] = Field(default_factory=list, description="只为这些准考证号延时；不填则为所有作答中的考生及"
                                                                 "成绩发布前已超时的考生延时")


@router.post("/exams/{exam_id}/extend", summary="Give time back to every candidate of an exam (after an outage), or "
             "to the named tickets; timed-out attempts reopen at their pending item while results are unreleased")
def extend_exam(exam_id: int, body: ExamExtendIn, db: DB, member: ExamStaff) -> ExamExtendedOut:
    out = att.extend_exam(db, exam_id, body.minutes, actor=member.username, reason=body.reason,
                          tickets=body.tickets or None)
    return ExamExtendedOut(exam_id=exam_id, minutes=body.minutes, attempts=out)


@router.post("/exams/{exam_id}/close-expired", summary="收卷: close every attempt whose time is up")
def close_expired(exam_id: int, db: DB, member: ExamStaff) -> ClosedOut:
    return ClosedOut(exam_id=exam_id, closed=att.close_expired(db, exam_id, actor=member.username))


class UnlockIn(BaseModel):
    ticket: str


@router.post("/exams/{exam_id}/unlock", summary="Unlock a ticket locked after failed sign-ins")
def unlock(exam_id: int, body: UnlockIn, db: DB, member: ExamStaff) -> UnlockedOut:
    att.unlock_ticket(db, exam_id, body.ticket, actor=member.username)
    return UnlockedOut(exam_id=exam_id, ticket=body.ticket, unlocked=True)


class DecisionIn(BaseModel):
    approve: bool


@router.post("/sign-ins/{sign_in_id}/decision", summary="Approve or reject a second device's sign-in")
def decide_sign_in(sign_in_id: int, body: DecisionIn, db: DB, member: Staff) -> DecidedOut:
    require_exam(db, member, att.sign_in_exam(db, sign_in_id))
    att.decide_sign_in(db, sign_in_id, approve=body.approve, actor=member.username)
    return DecidedOut(sign_in_id=sign_in_id, approved=body.approve)


class VoidIn(BaseModel):
    reason: str


def _attempt_staff(attempt_id: int, db: Session, member: Staff) -> None:
    require_exam(db, member, att.get_attempt(db, attempt_id).exam_id)


@router.post("/attempts/{attempt_id}/extend", summary="Give a candidate extra time")
def extend(attempt_id: int, body: ExtendIn, db: DB, member: Staff) -> AttemptExtendedOut:
    _attempt_staff(attempt_id, db, member)
    ext = att.extend_time(db, attempt_id, body.minutes, actor=member.username, reason=body.reason)
    return AttemptExtendedOut(attempt_id=attempt_id, extended_minutes=body.minutes, reopened=ext.reopened,
                              deadline=ext.deadline)


@router.post("/attempts/{attempt_id}/void", summary="Void an attempt (with a reason, recorded)")
def void(attempt_id: int, body: VoidIn, db: DB, member: Staff) -> AttemptStatusOut:
    _attempt_staff(attempt_id, db, member)
    att.void_attempt(db, attempt_id, actor=member.username, reason=body.reason)
    return AttemptStatusOut(attempt_id=attempt_id, status=att.AttemptStatus.VOIDED.value)


@router.post("/attempts/{attempt_id}/restore", summary="Undo a void (with a reason, recorded): the attempt returns "
             "to the status it had")
def restore(attempt_id: int, body: VoidIn, db: DB, member: Staff) -> AttemptStatusOut:
    _attempt_staff(attempt_id, db, member)
    return AttemptStatusOut(attempt_id=attempt_id, status=att.restore_attempt(db, attempt_id, actor=member.username,
                                                                              reason=body.reason))


# ---------------------------------------------------------------- candidates


class SignInBody(BaseModel):
    ticket: str = Field(description="准考证号", max_length=100)
    code: str = Field(description="访问码", max_length=100)
    id_last4: str = Field("", description="身份证号后四位（考试要求核验时必填）", max_length=10)
    device: str = Field("", description="客户端设备标识（可选，用于识别换设备登录）", max_length=200)


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        return ""
    return authorization[7:].strip()


async def candidate_attempt(attempt_id: int, db: DB, authorization: str | None = Header(None)) -> Attempt:
    return await in_candidate_thread(_authenticated, db, attempt_id, _bearer(authorization))


def _authenticated(db: Session, attempt_id: int, token: str) -> Attempt:
    attempt = att.authenticate(db, attempt_id, token)
    release_connection(db)  # the route runs in another thread-pool turn: don't hold the connection meanwhile
    return attempt


#: The attempt of the path's ``attempt_id``, for the bearer of its token.
CandidateAttempt = Annotated[Attempt, Depends(candidate_attempt)]


@candidate_router.post("/attempts", summary="Sign in with 准考证号 and access code; returns the attempt and a token "
                       "(status pending_approval: this device waits for a proctor's approval)")
def sign_in(body: SignInBody, request: Request, db: DB) -> att.SignIn:
    return att.sign_in(db, body.ticket, body.code, zone=centre_zone(request), id_last4=body.id_last4,
                       client=client_of(request, body.device))


@candidate_router.delete("/attempts/{attempt_id}/token", summary="Sign out: the token stops working")
def sign_out(attempt: CandidateAttempt, db: DB) -> SignedOut:
    att.sign_out(db, attempt)
    return SignedOut(signed_out=True)


@candidate_router.get("/attempts/{attempt_id}", summary="The attempt's status and time left")
def get_attempt(attempt: CandidateAttempt, db: DB) -> att.Overview:
    return att.overview(db, attempt)


@candidate_router.get("/attempts/{attempt_id}/item", summary="The pending item (starts the clock on the first call)")
def get_item(attempt: CandidateAttempt, db: DB) -> att.ItemForCandidate | att.Finished:
    att.start(db, attempt) if attempt.status == att.AttemptStatus.NOT_STARTED else None
    return att.pending(db, attempt)


class AnswerIn(BaseModel):
    position: int
    item_id: str
    answer: list[str] = Field(description="所选选项的字母，如 [\"B\"] 或 [\"A\", \"C\"]；判断题 A=正确，B=错误")


@candidate_router.post("/attempts/{attempt_id}/answers", summary="Answer the pending item; returns the next item or finished")
def post_answer(body: AnswerIn, attempt: CandidateAttempt, db: DB) -> att.NextItem | att.FinishedAfterAnswer:
    """``recorded``: whether the stored answer of this position is this request's answer (false: another
    window answered it first with a different choice, and that answer stands)."""
    return att.answer_body(att.answer(db, attempt, position=body.position, item_id=body.item_id, labels=body.answer))


@candidate_router.post("/attempts/{attempt_id}/finish", summary="交卷 once the time is up (409 before: an adaptive "
                       "exam cannot be handed in early)")
def finish(attempt: CandidateAttempt, db: DB) -> AttemptStatusOut:
    return AttemptStatusOut(attempt_id=attempt.id, status=att.finish(db, attempt))


@candidate_router.get("/attempts/{attempt_id}/items/{position}/images/{name}",
                      summary="A picture in the stem of an item this attempt was shown ([图片:name])",
                      **PICTURE_ROUTE)
def get_item_image(position: int, name: str, attempt: CandidateAttempt, db: DB) -> Response:
    _, data = att.item_image(db, attempt, position, name)
    return picture_response(data, name, cache="private, max-age=3600")


@candidate_router.get("/attempts/{attempt_id}/result", summary="The result (band, passed, score, theta, se, domains)")
def get_result(attempt: CandidateAttempt, db: DB) -> att.CandidateResult | att.ResultNotReleased:
    return att.candidate_result(db, attempt)


# ---------------------------------------------------------------- candidates of linear exams


class LinearAnswerIn(BaseModel):
    labels: list[str] = Field(description="所选选项的字母，如 [\"B\"] 或 [\"A\", \"C\"]；[] 清除本题答案；判断题 A=正确，B=错误",
                              max_length=10)


class LinearAnswersIn(BaseModel):
    answers: dict[int, list[str]] = Field(description="题号 → 所选选项的字母（[] 清除）；全部通过检查才保存",
                                          max_length=500)


class FlagIn(BaseModel):
    flagged: bool = Field(description="标记本题以便稍后检查（true）或取消标记（false）")


@candidate_router.get("/attempts/{attempt_id}/items/{position}", summary="Linear exams: the item at a position, with "
                      "the saved answer and flag (starts the clock on the first call)")
def get_linear_item(position: int, attempt: CandidateAttempt, db: DB) -> linear.LinearItem:
    att.start(db, attempt) if attempt.status == att.AttemptStatus.NOT_STARTED else None
    return linear.item_at(db, attempt, position)


@candidate_router.put("/attempts/{attempt_id}/items/{position}/answer", summary="Linear exams: save, change or "
                      "clear ([]) the answer at a position (until submitted or the time is up)")
def put_linear_answer(position: int, body: LinearAnswerIn, attempt: CandidateAttempt, db: DB) -> linear.PositionState:
    return linear.save_answer(db, attempt, position=position, labels=body.labels)


@candidate_router.put("/attempts/{attempt_id}/answers", summary="Linear exams: save several positions' answers at "
                      "once ({\"answers\": {\"3\": [\"B\"], \"4\": []}}): all or nothing, one bad answer named by "
                      "its position changes nothing")
def put_linear_answers(body: LinearAnswersIn, attempt: CandidateAttempt, db: DB) -> linear.LinearOverview:
    return linear.save_answers(db, attempt, body.answers)


@candidate_router.put("/attempts/{attempt_id}/items/{position}/flag", summary="Linear exams: flag or unflag a position")
def put_linear_flag(position: int, body: FlagIn, attempt: CandidateAttempt, db: DB) -> linear.PositionState:
    return linear.set_flag(db, attempt, position=position, flagged=body.flagged)


@candidate_router.get("/attempts/{attempt_id}/overview", summary="Linear exams: every position answered or flagged, "
                      "the counts and the time left")
def get_linear_overview(attempt: CandidateAttempt, db: DB) -> linear.LinearOverview:
    return linear.overview(db, attempt)


@candidate_router.post("/attempts/{attempt_id}/submit", summary="Linear exams: hand in (交卷); the attempt is scored "
                       "with its saved answers. Submitting again returns the same outcome")
def submit(attempt: CandidateAttempt, db: DB) -> att.Finished:
    return linear.submit(db, attempt)
