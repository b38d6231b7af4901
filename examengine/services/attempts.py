"""Online attempts: sign-in, the pending item, answers, time, results.

Durability rules (ARCHITECTURE.md, habits 5): each answer is committed before the next item is
chosen; the next item is chosen once and stored before it is shown; the engine state is never
stored but rebuilt from the attempt's rows (seed + responses), so a restart loses nothing and
resumes at the same item with the same theta. (attempt, position) is unique and an answer is
written with ``... WHERE answer IS NULL``, so an answer posted twice or from two tabs at once
is recorded once.

Integrity rules (README, candidates and proctors): reading never closes an attempt (only an
answer past the deadline, the candidate's 交卷 after the time is up, or a proctor's action does);
an attempt that closes with fewer scored answers than the blueprint's minimum is incomplete (not
passed, no band, no score), and above the minimum an item shown but not answered counts as
wrong; a timed-out attempt reopens at its pending item when a proctor gives time back; every
sign-in is recorded, failures are throttled per ticket and per address.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from examengine.config import local_time, local_time_with_zone, zone_label
from examengine.db.models import (
    Attempt,
    AttemptEvent,
    AttemptItem,
    Candidate,
    Domain,
    Exam,
    Item,
    ItemImage,
    ItemVersion,
    Level,
    SignInRecord,
)
from examengine.errors import ConflictError, ExamEngineError, NotFoundError, TooManyAttemptsError
from examengine.exam.attempts import AttemptStatus, ExamMode, FinishReason, SignInOutcome, is_complete
from examengine.exam.cat import StoredResponse, next_item, replay
from examengine.exam.items import LETTERS, ItemType, image_refs, provisional_mark
from examengine.exam.scoring import AttemptResult, StoredResult, attempt_result
from examengine.services.blueprints import get_blueprint_version, load_pool, resolve_cuts
from examengine.services import audit, exams, mapping
from examengine.services.exams import accommodation_text, as_utc, get_exam
from examengine.services.mapping import Engine, VersionContent

S = AttemptStatus


class SignInError(ExamEngineError):
    """Wrong ticket or access code (401)."""


class NotAuthorizedError(ExamEngineError):
    """A token that does not belong to this attempt (401)."""


class ExamNotOpenError(ExamEngineError):
    """The exam's window is not open (403)."""


class AttemptClosedError(ConflictError):
    """The attempt is finished or voided (409)."""


class ApprovalPendingError(ExamEngineError):
    """This device's sign-in waits for a proctor's approval (403)."""


VOIDED_MESSAGE = "你的本场作答已被监考人员作废，请联系监考人员。"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- sign-in and tokens

#: failed sign-ins of one ticket within TICKET_WINDOW that lock it for TICKET_LOCK (a proctor can unlock)
TICKET_FAILURES = 5
TICKET_WINDOW = timedelta(minutes=15)
TICKET_LOCK = timedelta(minutes=15)
#: failed sign-ins from one client address within ADDRESS_WINDOW after which further failures from it
#: are refused with 429 unrecorded (generous: a hall of candidates may share one address behind NAT;
#: a correct sign-in from the address is never refused)
ADDRESS_FAILURES = 30
ADDRESS_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class Client:
    """Where a sign-in comes from: the client address, the browser, and the browser's device
    cookie (the candidate pages set one; API clients may send none)."""

    address: str = ""
    user_agent: str = ""
    device: str = ""


@dataclass(frozen=True)
class SignIn:
    attempt_id: int
    token: str
    status: str  # an AttemptStatus value, or "pending_approval" (a second device waits for a proctor)
    message: str = ""


class _AddressFailures:
    """Failed sign-ins per client address in a sliding window, in this process (checked before the
    database is asked anything more than the ticket, so a flood costs little)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, deque[datetime]] = {}

    def _window(self, address: str, t: datetime) -> deque[datetime]:
        q = self._seen.setdefault(address, deque())
        while q and q[0] <= t - ADDRESS_WINDOW:
            q.popleft()
        return q

    def retry_after(self, address: str, t: datetime) -> int:
        """Seconds until a failure from ``address`` may be recorded again (0: not throttled)."""
        if not address:
            return 0
        with self._lock:
            q = self._window(address, t)
            if len(q) < ADDRESS_FAILURES:
                return 0
            return int((q[-ADDRESS_FAILURES] + ADDRESS_WINDOW - t).total_seconds()) + 1

    def add(self, address: str, t: datetime) -> None:
        if address:
            with self._lock:
                self._window(address, t).append(t)
                if len(self._seen) > 100_000:  # a spray of addresses: forget the oldest half
                    for key in list(self._seen)[:50_000]:
                        del self._seen[key]

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


_ADDRESSES = _AddressFailures()


def _device_hash(client: Client) -> str:
    return _hash(client.device)[:64] if client.device else ""


def _clock(t: datetime, zone: ZoneInfo) -> str:
    """'北京时间 09:30' (the zone first, as people say it)."""
    return f"{zone_label(zone, as_utc(t))} {local_time(as_utc(t), zone)[-5:]}"


def ticket_locked_until(db: Session, ticket: str, exam_id: int | None = None, t: datetime | None = None
                        ) -> datetime | None:
    """When the ticket's lock ends, or None when it is not locked: a lock starts at the failure that
    makes TICKET_FAILURES within TICKET_WINDOW and lasts TICKET_LOCK; failures before a proctor's
    unlock do not count. Failures of an unknown ticket count against that ticket string too."""
    t = t or now()
    since = t - TICKET_WINDOW - TICKET_LOCK
    unlocked = db.scalar(select(func.max(Candidate.unlocked_at)).where(
        Candidate.ticket == ticket, *([Candidate.exam_id == exam_id] if exam_id is not None else [])))
    if unlocked is not None:
        since = max(since, as_utc(unlocked))
    failures = [as_utc(x) for x in db.scalars(
        select(SignInRecord.at).where(SignInRecord.ticket == ticket, SignInRecord.at > since,
                                      SignInRecord.outcome.in_([o.value for o in SignInOutcome if o.failure]))
        .order_by(SignInRecord.at))]
    for k in range(TICKET_FAILURES - 1, len(failures)):
        if failures[k] - failures[k - TICKET_FAILURES + 1] <= TICKET_WINDOW and failures[k] + TICKET_LOCK > t:
            return failures[k] + TICKET_LOCK
    return None


def _record(db: Session, *, ticket: str, client: Client, outcome: SignInOutcome, candidate: Candidate | None = None,
            attempt: Attempt | None = None, new_device: bool = False, token: str | None = None) -> SignInRecord:
    row = SignInRecord(at=now(), ticket=ticket[:40], candidate_id=candidate.id if candidate else None,
                       attempt_id=attempt.id if attempt else None, address=client.address[:64],
                       user_agent=client.user_agent[:300], device=_device_hash(client), outcome=outcome.value,
                       new_device=new_device, token_hash=_hash(token) if token else None)
    db.add(row)
    return row


def _failed(db: Session, ticket: str, client: Client, outcome: SignInOutcome, candidate: Candidate | None,
            message: str, t: datetime, zone: ZoneInfo) -> SignInError:
    """Record a failed sign-in (unless the address is already throttled: then 429, unrecorded)."""
    wait = _ADDRESSES.retry_after(client.address, t)
    if wait:
        raise TooManyAttemptsError(f"本机登录失败次数过多，请 {(wait + 59) // 60} 分钟后再试，或请监考人员协助。", wait)
    _record(db, ticket=ticket, client=client, outcome=outcome, candidate=candidate)
    db.commit()
    _ADDRESSES.add(client.address, t)
    until = ticket_locked_until(db, ticket, candidate.exam_id if candidate else None, t)
    if until is not None:
        message += f"该准考证号已连续输错 {TICKET_FAILURES} 次，已锁定至{_clock(until, zone)}，或请监考人员解锁。"
    return SignInError(message)


def _moved(db: Session, attempt: Attempt, client: Client) -> bool:
    """Does this sign-in move the attempt to another device than its last successful sign-in's?
    Devices are told apart by the device cookie when both sign-ins carry one, else by address
    and browser."""
    prev = db.scalars(select(SignInRecord).where(
        SignInRecord.attempt_id == attempt.id,
        SignInRecord.outcome.in_([SignInOutcome.OK.value, SignInOutcome.APPROVED.value]))
        .order_by(SignInRecord.id.desc()).limit(1)).first()
    if prev is None:
        return False
    device = _device_hash(client)
    if device and prev.device:
        return device != prev.device
    return (prev.address, prev.user_agent) != (client.address[:64], client.user_agent[:300])


def sign_in(db: Session, ticket: str, code: str, *, zone: ZoneInfo, id_last4: str = "",
            client: Client = Client()) -> SignIn:
    """准考证号 + access code (+ 身份证号后四位 when the exam asks for it). Times in messages are in
    ``zone``, the centre's (Settings.timezone). Creates the attempt on the first sign-in; every
    sign-in issues a new token (an older one stops working), so a candidate
    can move to another device, unless the exam wants a proctor's approval for that. Every
    sign-in is recorded; failures lock the ticket (TICKET_FAILURES) and throttle the address."""
    t = now()
    ticket, code = ticket.strip()[:40], code.strip().upper()
    cands = list(db.scalars(select(Candidate).where(Candidate.ticket == ticket).options(
        selectinload(Candidate.exam))))
    cand = next((c for c in cands if hmac.compare_digest(c.access_code, code)), None)
    until = ticket_locked_until(db, ticket, cand.exam_id if cand else None, t)
    if until is not None:  # locked: refused even with the right code
        if cand is not None and not _ADDRESSES.retry_after(client.address, t):
            _record(db, ticket=ticket, client=client, outcome=SignInOutcome.LOCKED, candidate=cand)
            db.commit()
        raise TooManyAttemptsError(
            f"该准考证号连续输错次数过多，已锁定至{_clock(until, zone)}。请稍后再试，或请监考人员解锁。",
            int((until - t).total_seconds()) + 1)
    if cand is None:  # a wrong code for a ticket on one roster shows on that exam's monitor
        raise _failed(db, ticket, client, SignInOutcome.BAD_CODE, cands[0] if len(cands) == 1 else None,
                      "准考证号或访问码不正确，请核对后重新输入。", t, zone)
    exam = cand.exam
    if exam.require_id_last4 and not (cand.id_last4 and hmac.compare_digest(
            cand.id_last4.upper(), id_last4.strip().upper())):
        raise _failed(db, ticket, client, SignInOutcome.BAD_ID, cand,
                      "身份证号后四位不正确，请核对后重新输入。" if cand.id_last4 else
                      "名单中没有你的身份证号后四位，无法核验身份，请联系监考人员。", t, zone)
    attempt = db.scalars(select(Attempt).where(Attempt.candidate_id == cand.id)).first()
    if attempt is None or attempt.status == S.NOT_STARTED:
        if t < as_utc(exam.window_start):
            raise ExamNotOpenError(
                f"考试尚未开始，开考时间为 {local_time_with_zone(as_utc(exam.window_start), zone)}。")
        if t > as_utc(exam.window_end):
            raise ExamNotOpenError("考试已结束，不能再进入。")
    if attempt is not None and attempt.status == S.VOIDED:
        raise AttemptClosedError(VOIDED_MESSAGE)
    token = secrets.token_urlsafe(32)
    window_end = as_utc(exam.window_end)
    expires = None if t < window_end else t + LATE_TOKEN_LIFETIME  # in the window: follows the window
    if attempt is None:
        row, bp = get_blueprint_version(db, exam.blueprint_version.code, exam.blueprint_version.version)
        if ExamMode(exam.mode) is ExamMode.LINEAR and exam.form is not None:
            # a linear exam is scored with the cuts its form was assembled with (as paper answers are)
            cuts = [float(c) for c in exam.form.assembly.cuts]
        else:
            cuts = [c.theta for c in resolve_cuts(bp, load_pool(db, bp).pool.params)]
        attempt = Attempt(exam_id=exam.id, candidate_id=cand.id, blueprint_version_id=row.id,
                          seed=secrets.randbits(31), cuts=cuts, status=S.NOT_STARTED.value, token_hash=_hash(token),
                          token_expires_at=expires, extra_seconds=accommodation_seconds(cand, exam.time_limit_minutes))
        db.add(attempt)
        try:
            db.flush()
        except IntegrityError:  # the same candidate signing in twice at once
            db.rollback()
            attempt = db.scalars(select(Attempt).where(Attempt.candidate_id == cand.id)).one()
            attempt.token_hash, attempt.token_expires_at = _hash(token), expires
        else:
            _record_accommodations(db, attempt, cand)
        _record(db, ticket=ticket, client=client, outcome=SignInOutcome.OK, candidate=cand, attempt=attempt)
        db.commit()
        return SignIn(attempt.id, token, attempt.status)
    moved = _moved(db, attempt, client)
    if moved and exam.approve_new_device and attempt.status == S.IN_PROGRESS:
        _record(db, ticket=ticket, client=client, outcome=SignInOutcome.PENDING, candidate=cand, attempt=attempt,
                new_device=True, token=token)
        db.commit()
        return SignIn(attempt.id, token, "pending_approval", PENDING_MESSAGE)
    attempt.token_hash, attempt.token_expires_at = _hash(token), expires
    _record(db, ticket=ticket, client=client, outcome=SignInOutcome.OK, candidate=cand, attempt=attempt,
            new_device=moved)
    db.commit()
    return SignIn(attempt.id, token, attempt.status)


def accommodation_seconds(cand: Candidate, time_limit_minutes: int) -> int:
    """The extra time of a candidate's accommodation (延时 on the roster): time limit × share, plus
    minutes. Given as the attempt's ``extra_seconds`` when it is created (at the first sign-in),
    so the deadline, the countdown and the monitor all include it; a proctor's 延时 adds to it."""
    return round(time_limit_minutes * 60 * (cand.extra_percent or 0) / 100) + (cand.extra_minutes or 0) * 60


def _record_accommodations(db: Session, attempt: Attempt, cand: Candidate) -> None:
    """Audit the accommodations a new attempt starts with (none: nothing recorded)."""
    flags = {"extra_percent": cand.extra_percent or 0, "extra_minutes": cand.extra_minutes or 0,
             "large_print": bool(cand.large_print), "reader": bool(cand.reader)}
    if not any(flags.values()):
        return
    detail = {**flags, "extra_seconds": attempt.extra_seconds}
    audit.record(db, actor="system", action="attempt.accommodation", target=f"attempt {attempt.id}",
                 before={"extra_seconds": 0}, after=detail)
    db.add(AttemptEvent(attempt_id=attempt.id, action="accommodation", actor="system", detail=detail))


PENDING_MESSAGE = "你的作答已在另一台设备上进行。本设备需经监考人员批准后才能继续作答，请举手示意监考人员，批准后本页会自动继续。"


def authenticate(db: Session, attempt_id: int, token: str) -> Attempt:
    attempt = db.scalars(select(Attempt).where(Attempt.id == attempt_id).options(
        joinedload(Attempt.exam), selectinload(Attempt.items))).first()
    if attempt is None or not token:
        raise NotAuthorizedError("登录已失效，请重新输入准考证号和访问码。")
    if not hmac.compare_digest(attempt.token_hash, _hash(token)):
        held = db.scalar(select(SignInRecord.outcome).where(SignInRecord.attempt_id == attempt.id,
                                                            SignInRecord.token_hash == _hash(token)))
        if held == SignInOutcome.PENDING.value:
            raise ApprovalPendingError(PENDING_MESSAGE)
        if held == SignInOutcome.REJECTED.value:
            raise NotAuthorizedError("监考人员未批准在本设备上继续作答。如有疑问，请联系监考人员。")
        raise NotAuthorizedError("登录已失效，请重新输入准考证号和访问码。")
    if _token_expired(attempt):
        raise NotAuthorizedError("考试时间窗已结束，登录已失效。如需查看成绩，请重新输入准考证号和访问码。")
    return attempt


def sign_out(db: Session, attempt: Attempt) -> None:
    """The candidate signs out: the token stops working (a new sign-in issues another)."""
    attempt.token_hash = _hash(secrets.token_urlsafe(32))
    db.commit()


# A sign-in after the exam window (only a started attempt can: to finish within its own time,
# or to read a result released later) gets a token this long.
LATE_TOKEN_LIFETIME = timedelta(hours=2)


def _token_expired(attempt: Attempt) -> bool:
    """A token ends with the exam window (as the window stands now: a proctor may move it), or
    at the end of a late token's lifetime, whichever is later; an attempt in progress keeps
    its token until its own deadline."""
    t = now()
    limit = as_utc(attempt.exam.window_end)
    if attempt.token_expires_at is not None:
        limit = max(limit, as_utc(attempt.token_expires_at))
    if t <= limit:
        return False
    d = deadline(attempt) if attempt.status == S.IN_PROGRESS else None
    return d is None or t > d  # an attempt in progress keeps its token until its own deadline


# ---------------------------------------------------------------- time


def deadline(attempt: Attempt) -> datetime | None:
    if attempt.started_at is None:
        return None
    exam = attempt.exam
    return as_utc(attempt.started_at) + timedelta(minutes=exam.time_limit_minutes, seconds=attempt.extra_seconds)


def time_left_s(attempt: Attempt) -> int:
    d = deadline(attempt)
    if d is None:
        return attempt.exam.time_limit_minutes * 60 + attempt.extra_seconds
    return max(0, int((d - now()).total_seconds()))


def time_up(attempt: Attempt) -> bool:
    """In progress and past its deadline, but not closed yet (reading never closes an attempt)."""
    d = deadline(attempt)
    return attempt.status == S.IN_PROGRESS and d is not None and now() >= d


@dataclass(frozen=True)
class Overview:
    attempt_id: int
    exam: str
    candidate: str
    ticket: str
    status: str
    time_limit_minutes: int
    min_items: int  # items shown, pretest items included
    max_items: int
    time_left_s: int
    answered: int
    time_up: bool = False
    min_scored: int = 0  # the blueprint's length bounds: scored items
    max_scored: int = 0
    pretest_items: int = 0  # unscored pretest items mixed in (the blueprint's pretest count)
    mode: str = ExamMode.ADAPTIVE.value  # an ExamMode value: linear and loft attempts use services.linear


def overview(db: Session, attempt: Attempt) -> Overview:
    """The attempt's status and time. For a linear exam once started, the item counts are the
    attempt's own (all positions are stored at the start); ``services.linear.overview`` has more."""
    _, bp = get_blueprint_version(db, attempt.exam.blueprint_version.code, attempt.exam.blueprint_version.version)
    answered = sum(1 for r in attempt.items if r.answer is not None)
    if is_linear(attempt) and attempt.items:
        n, scored = len(attempt.items), sum(1 for r in attempt.items if r.scored)
        return Overview(attempt.id, attempt.exam.name, attempt.candidate.name, attempt.candidate.ticket,
                        attempt.status, attempt.exam.time_limit_minutes, n, n, time_left_s(attempt), answered,
                        time_up(attempt), min_scored=scored, max_scored=scored, pretest_items=n - scored,
                        mode=attempt.exam.mode)
    return Overview(attempt.id, attempt.exam.name, attempt.candidate.name, attempt.candidate.ticket, attempt.status,
                    attempt.exam.time_limit_minutes, bp.min_length + bp.pretest_count,
                    bp.max_length + bp.pretest_count, time_left_s(attempt), answered, time_up(attempt),
                    min_scored=bp.min_length, max_scored=bp.max_length, pretest_items=bp.pretest_count,
                    mode=attempt.exam.mode)


def start(db: Session, attempt: Attempt) -> None:
    """The candidate has read the instructions and confirmed: the clock starts now (once). A
    linear exam's attempt stores its positions then (``services.linear.start``)."""
    if is_linear(attempt):
        from examengine.services import linear  # linear builds on this module

        linear.start(db, attempt)
        return
    if S(attempt.status).closed:
        raise AttemptClosedError("本场考试已经结束。")
    if attempt.status == S.NOT_STARTED:
        attempt.status = S.IN_PROGRESS.value
        attempt.started_at = now()
        db.commit()


def is_linear(attempt: Attempt) -> bool:
    """Delivered position by position with changeable answers (linear and loft exams)."""
    return ExamMode(attempt.exam.mode).linear


def _require_adaptive(attempt: Attempt) -> None:
    if is_linear(attempt):
        raise ConflictError("本场考试为固定试卷考试，请按题号作答（可返回修改答案），完成后交卷。")


def _close_if_time_up(db: Session, attempt: Attempt, actor: str) -> bool:
    """A write found the attempt past its deadline: close it as a time-out, dated at the deadline."""
    if not time_up(attempt):
        return False
    _finish(db, attempt, FinishReason.TIME.value, at=deadline(attempt), actor=actor)
    return True


def finish(db: Session, attempt: Attempt) -> str:
    """The candidate hands in (交卷) once the time is up: the attempt closes as a time-out. Before
    the deadline an adaptive exam cannot be handed in early (409). Returns the status."""
    if attempt.status == S.VOIDED:
        raise AttemptClosedError(VOIDED_MESSAGE)
    if S(attempt.status).scored:
        return attempt.status
    if is_linear(attempt):  # a linear exam may be handed in at any time
        from examengine.services import linear  # linear builds on this module

        return linear.submit(db, attempt).status
    if not _close_if_time_up(db, attempt, "candidate"):
        raise ConflictError("考试时间未到，自适应考试不能提前交卷，请继续作答。")
    return attempt.status


# ---------------------------------------------------------------- items for the candidate


@dataclass(frozen=True)
class ItemForCandidate:
    position: int
    item_id: str
    type: str
    stem: str
    options: list[dict]
    time_left_s: int
    multiple: bool
    images: list[str]  # pictures the stem shows ([图片:name]), served for this position only
    image_alts: dict[str, str] = field(default_factory=dict)  # their descriptions (alt text), by name


@dataclass(frozen=True)
class Finished:
    finished: bool
    reason: str
    status: str = S.FINISHED.value  # in_progress: the time is up but the attempt is not closed yet



def _present(db: Session, attempt: Attempt, row: AttemptItem) -> ItemForCandidate:
    v = mapping.content(db, row)
    return ItemForCandidate(
        position=row.position, item_id=f"Q{row.id}", type=v.type, stem=v.stem,
        options=[{"label": LETTERS[i], "text": text} for i, text in enumerate(v.options)],
        time_left_s=time_left_s(attempt), multiple=v.type == ItemType.MULTIPLE.value,
        images=image_refs(v.stem), image_alts=dict(v.alts),
    )


def item_image(db: Session, attempt: Attempt, position: int, name: str) -> tuple[str, bytes]:
    """A picture of the item this attempt was shown at ``position`` (and of no other item)."""
    row = next((r for r in attempt.items if r.position == position), None)
    found = None if row is None else db.execute(
        select(ItemImage.media_type, ItemImage.data)
        .where(ItemImage.version_id == row.item_version_id, ItemImage.name == name)).first()
    if found is None:
        raise NotFoundError("图片", f"第 {position} 题 {name}")
    return found[0], found[1]


def pending(db: Session, attempt: Attempt) -> ItemForCandidate | Finished:
    """The item the candidate is on: the stored pending one, or a newly chosen one (stored
    before it is returned), or Finished (closed, or the time is up: reading closes nothing)."""
    _require_adaptive(attempt)
    if attempt.status == S.VOIDED:
        raise AttemptClosedError(VOIDED_MESSAGE)
    if attempt.status == S.NOT_STARTED:
        raise ConflictError("请先阅读考试须知并确认开始考试。")
    if S(attempt.status).scored:
        return Finished(True, attempt.finish_reason or S.FINISHED.value, attempt.status)
    if time_up(attempt):
        return Finished(True, FinishReason.TIME.value, attempt.status)
    open_row = next((r for r in attempt.items if r.answer is None), None)
    if open_row is not None:
        return _present(db, attempt, open_row)
    return _choose_next(db, attempt)


def _choose_next(db: Session, attempt: Attempt) -> ItemForCandidate | Finished:
    eng = mapping.engine(db, attempt)
    position = len(attempt.items) + 1
    if eng.state.stop.stop:
        _finish(db, attempt, eng.state.stop.reason.value, eng)
        return Finished(True, attempt.finish_reason, attempt.status)
    row = None
    if position in eng.bp.pretest_positions:
        row = _pretest_row(db, attempt, eng, position)
    if row is None:
        choice = next_item(eng.state, eng.pool, eng.policy, exposure=eng.exposure)
        if choice is None:
            _finish(db, attempt, FinishReason.POOL_EXHAUSTED.value, eng)
            return Finished(True, attempt.finish_reason, attempt.status)
        set_aside = [eng.pool.item_ids[p] for p in choice.considered if p != choice.position]
        row = AttemptItem(attempt_id=attempt.id, position=position,
                          item_version_id=eng.version_ids[choice.position], external_id=choice.item_id,
                          scored=True, set_aside=set_aside)
    try:
        attempt.items.append(row)
        db.flush()
        # used by an attempt: its content can no longer change (a cached content is of a frozen
        # version; otherwise the version is read here, in this transaction, for _present)
        if mapping.cached_content(db, row.item_version_id) is None:
            version = db.get(ItemVersion, row.item_version_id)
            if not version.frozen:
                db.execute(update(ItemVersion).where(ItemVersion.id == version.id, ItemVersion.frozen.is_(False))
                           .values(frozen=True).execution_options(synchronize_session=False))
                set_committed_value(version, "frozen", True)
        db.commit()
    except IntegrityError:  # another request stored this position first: show that one
        db.rollback()
        db.refresh(attempt)
        row = next(r for r in attempt.items if r.position == position)
    return _present(db, attempt, row)


def _pretest_row(db: Session, attempt: Attempt, eng: Engine, position: int) -> AttemptItem | None:
    """An unscored pretest item of the blueprint's level for a pretest slot (None when the bank
    has none left for this candidate)."""
    level_id = db.scalar(select(Level.id).where(Level.code == eng.bp.id))
    used = {r.external_id for r in attempt.items}
    items = [it for it in db.scalars(select(Item).where(Item.level_id == level_id, Item.status == "pretest")
                                     .order_by(Item.external_id).options(selectinload(Item.versions)))
             if it.external_id not in used]
    if not items:
        return None
    rng = np.random.default_rng([attempt.seed, position, 1])
    it = items[int(rng.integers(len(items)))]
    v = next(v for v in it.versions if v.number == it.current_version)
    return AttemptItem(attempt_id=attempt.id, position=position, item_version_id=v.id, external_id=it.external_id,
                       scored=False, set_aside=[])


# ---------------------------------------------------------------- answers


def _score(version: VersionContent, labels: list[str]) -> int:
    chosen = sorted(LETTERS.index(x) for x in labels)
    return int(chosen == sorted(version.key))


@dataclass(frozen=True)
class AnswerOutcome:
    """``recorded``: the stored answer of the position is this request's answer (False: another
    window answered first with a different choice, and that one stands)."""

    recorded: bool
    next: ItemForCandidate | Finished


@dataclass(frozen=True, kw_only=True)
class NextItem(ItemForCandidate):
    """The body of an answer: the next item, and whether this request's answer was recorded
    (:class:`AnswerOutcome`)."""

    recorded: bool


@dataclass(frozen=True, kw_only=True)
class FinishedAfterAnswer(Finished):
    """The body of an answer that ended the attempt, and whether this request's answer was recorded."""

    recorded: bool


def answer_body(out: AnswerOutcome) -> NextItem | FinishedAfterAnswer:
    """An answer's outcome as one flat body: the next item's (or the end's) fields and ``recorded``."""
    kind = NextItem if isinstance(out.next, ItemForCandidate) else FinishedAfterAnswer
    return kind(**{f.name: getattr(out.next, f.name) for f in fields(out.next)}, recorded=out.recorded)


def _labels(labels: list[str]) -> list[str]:
    return sorted({str(x).strip().upper() for x in labels})


def answer(db: Session, attempt: Attempt, *, position: int, item_id: str, labels: list[str]) -> AnswerOutcome:
    """Record the answer to the pending position, then return the next item (or Finished).
    The same position answered again returns the outcome of the first answer and records
    nothing; any other position is a conflict. An answer after the deadline closes the attempt
    (a time-out) and is not recorded."""
    _require_adaptive(attempt)
    if attempt.status == S.VOIDED:
        raise AttemptClosedError(VOIDED_MESSAGE)
    if attempt.status == S.NOT_STARTED:
        raise ConflictError("请先阅读考试须知并确认开始考试。")
    row = next((r for r in attempt.items if r.position == position), None)
    if row is not None and row.answer is not None:  # a repeat: the first answer stands
        return AnswerOutcome(list(row.answer) == _labels(labels), pending(db, attempt))
    if S(attempt.status).closed:
        raise AttemptClosedError("本场考试已经结束，不能再作答。")
    if row is None or f"Q{row.id}" != item_id:
        current = next((r for r in attempt.items if r.answer is None), None)
        raise ConflictError(f"第 {position} 题不是当前题目" + (f"（当前为第 {current.position} 题）" if current else "") + "。")
    if _close_if_time_up(db, attempt, "candidate"):
        raise AttemptClosedError("考试时间已到，本题未被记录。")
    version = mapping.content(db, row)
    labels = _labels(labels)
    valid = LETTERS[: len(version.options)]
    if not labels or any(x not in valid for x in labels):
        raise ExamEngineError("请选择答案后再提交。" if not labels else f"选项应为 {'、'.join(valid)} 之一。")
    if version.type != ItemType.MULTIPLE.value and len(labels) != 1:
        raise ExamEngineError("本题为单选题，只能选择一个选项。" if version.type == "单选" else "判断题只能选择一个选项。")
    score, at = _score(version, labels), now()
    result = db.execute(
        update(AttemptItem).where(AttemptItem.id == row.id, AttemptItem.answer.is_(None))
        .values(answer=labels, score=score, answered_at=at).execution_options(synchronize_session=False)
    )
    db.commit()
    if result.rowcount == 1:  # ours: the row in memory now says what the database says
        for key, value in (("answer", labels), ("score", score), ("answered_at", at)):
            set_committed_value(row, key, value)
        recorded = True
    else:  # the other tab was first: its answer stands
        db.refresh(attempt)
        for r in attempt.items:
            db.refresh(r)
        recorded = list(row.answer or []) == labels
    return AnswerOutcome(recorded, pending(db, attempt))


# ---------------------------------------------------------------- finishing and results

ENGINE_STOPS = frozenset(r.value for r in FinishReason) - {FinishReason.TIME.value, FinishReason.SUBMITTED.value}


def _result(attempt: Attempt, eng: Engine, reason: str) -> tuple[AttemptResult, dict]:
    """The result of an attempt closing for ``reason``, from its rows: incomplete below the
    blueprint's minimum of scored answers; above it, a scored item shown but not answered counts
    as wrong (its row stays unanswered, so a reopened attempt continues at it)."""
    cuts = tuple(attempt.cuts)
    positions = {eng.pool.item_ids[p]: p for p in range(eng.pool.n_items)}
    answered = [r for r in attempt.items if r.scored and r.answer is not None]
    unanswered = [r for r in attempt.items if r.scored and r.answer is None]
    complete = is_complete(len(answered), eng.bp.min_length)
    state = eng.state
    scores = [(r, int(r.score)) for r in answered]
    if complete and unanswered and reason not in ENGINE_STOPS:
        state = replay(eng.pool, eng.policy, seed=attempt.seed, state=state,
                       responses=[StoredResponse(r.external_id, 0, True, tuple(r.set_aside or ())) for r in unanswered])
        scores += [(r, 0) for r in unanswered]
    else:
        unanswered = []
    responses = []
    mark = provisional_mark(eng.origins[positions[r.external_id]] for r, _ in scores)
    for r, score in scores:
        p = positions[r.external_id]
        responses.append((eng.domains[p], score, float(eng.pool.params.a[p]), float(eng.pool.params.b[p]),
                          float(eng.pool.params.c[p])))
    mass = state.posterior.band_probabilities(cuts)
    res = attempt_result(eng.bp, cuts, state.estimate.theta, state.estimate.se, responses=responses, band_mass=mass,
                         complete=complete)
    extra = {"n_scored": len(answered), "n_unanswered_wrong": len(unanswered), "min_items": eng.bp.min_length,
             "n_pretest": sum(1 for r in attempt.items if not r.scored),
             "provisional": mark.provisional, "n_provisional": mark.n_provisional}
    return res, extra


def _scored(db: Session, attempt: Attempt, reason: str, eng: Engine | None = None) -> tuple[AttemptResult, dict]:
    """The result of the attempt closing for ``reason``, by its exam's mode."""
    if is_linear(attempt):
        from examengine.services import linear  # linear builds on this module

        return linear.linear_result(db, attempt, reason)
    return _result(attempt, eng or mapping.engine(db, attempt), reason)


def _finish(db: Session, attempt: Attempt, reason: str, eng: Engine | None = None, *, at: datetime | None = None,
            actor: str = "system") -> None:
    res, extra = _scored(db, attempt, reason, eng)
    attempt.status = (S.FINISHED if res.complete else S.INCOMPLETE).value
    attempt.finish_reason = reason
    attempt.finished_at = at or now()  # a time-out is dated at the deadline
    attempt.theta = res.theta
    attempt.se = res.se
    attempt.result = asdict(res) | extra
    if reason == FinishReason.TIME.value:
        db.add(AttemptEvent(attempt_id=attempt.id, action="close", actor=actor,
                            detail={"reason": reason, "deadline": attempt.finished_at.isoformat(),
                                    "closed_at": now().isoformat(), "status": attempt.status}))
    db.commit()


@dataclass(frozen=True)
class ResultView:
    released: bool
    message: str
    result: StoredResult | None
    complete: bool = True
    domain_names: dict[str, str] | None = None  # domain code -> 工作领域 name


def result(db: Session, attempt: Attempt) -> ResultView:
    if attempt.status == S.VOIDED:
        raise AttemptClosedError(VOIDED_MESSAGE)
    if not S(attempt.status).scored:
        raise ConflictError("考试时间已到，请先交卷。" if time_up(attempt) else "考试尚未结束。")
    exam = attempt.exam
    complete = attempt.status == S.FINISHED
    if exam.results_policy == "release" and not exam.results_released:
        return ResultView(False, "你已完成本场考试。成绩将由考点统一发布，请留意通知。", None, complete)
    r = mapping.stored_result(attempt.result)
    names = _domain_names(db, [d.domain for d in r.domains])
    return ResultView(True, "", r, complete, {d.domain: names.get(d.domain, d.domain) for d in r.domains})


@dataclass(frozen=True)
class ResultNotReleased:
    """What a candidate sees before the exam's results are released."""

    released: bool  # always False
    complete: bool
    message: str


@dataclass(frozen=True)
class DomainStatement:
    domain: str  # the domain's name
    n_items: int
    n_correct: int
    statement: str


@dataclass(frozen=True)
class CandidateResult:
    """What a candidate sees of a released result: the band only when stated (the blueprint's
    ``reporting.band_confidence``), theta and SE only for a complete attempt, the score to one
    decimal. No key, IRT parameter or requirement code."""

    released: bool  # always True
    complete: bool
    status: str
    band: str | None
    band_confidence: float | None
    registered_level: str
    passed: bool
    pass_confidence: float | None
    score: float | None
    theta: float | None
    se: float | None
    n_scored: int
    min_items: int | None
    domains: list[DomainStatement]


def candidate_result(db: Session, attempt: Attempt) -> CandidateResult | ResultNotReleased:
    """The candidate's view of :func:`result`."""
    view = result(db, attempt)
    if not view.released:
        return ResultNotReleased(released=False, complete=view.complete, message=view.message)
    r = view.result
    stated = r.band_stated
    return CandidateResult(
        released=True, complete=view.complete, status=attempt.status,
        band=r.band_name if stated else None, band_confidence=r.band_confidence if stated else None,
        registered_level=r.registered_level, passed=r.passed, pass_confidence=r.pass_confidence,
        score=None if r.score is None else round(r.score, 1),
        theta=r.theta if view.complete else None, se=r.se if view.complete else None,
        n_scored=r.n_scored, min_items=r.min_items,
        domains=[DomainStatement(domain=view.domain_names.get(d.domain, d.domain), n_items=d.n_items,
                                 n_correct=d.n_correct, statement=d.statement) for d in r.domains])


def _domain_names(db: Session, codes: list[str]) -> dict[str, str]:
    return dict(db.execute(select(Domain.code, Domain.name).where(Domain.code.in_(codes))).all())


def get_attempt(db: Session, attempt_id: int) -> Attempt:
    """An attempt with its exam and its rows (what every proctor action on it reads)."""
    attempt = db.scalars(select(Attempt).where(Attempt.id == attempt_id).options(
        joinedload(Attempt.exam), selectinload(Attempt.items))).first()
    if attempt is None:
        raise NotFoundError("作答", str(attempt_id))
    return attempt


# ---------------------------------------------------------------- the monitor


@dataclass(frozen=True)
class MonitorRow:
    candidate_id: int
    ticket: str
    name: str
    room: str
    attempt_id: int | None
    status: str  # not_signed_in, an AttemptStatus value, or time_up (in progress past its deadline, not closed)
    position: int
    answered: int
    time_left_s: int | None
    band: str | None
    score: float | None
    void_reason: str | None
    complete: bool | None = None  # closed attempts: enough scored answers to be scored
    sign_ins: int = 0
    device_switches: int = 0
    pending_sign_in: int | None = None  # a second device waiting for approval (its sign-in id)
    locked_until: str | None = None  # the ticket is locked after failed sign-ins (ISO, UTC)
    finish_reason: str | None = None
    # linear exams store every position at the start: ``position`` is then the number of positions
    # (``n_items``), ``answered`` the positions answered now, ``flagged`` those flagged
    mode: str = ExamMode.ADAPTIVE.value
    n_items: int = 0
    flagged: int = 0
    # closed attempts: scored on provisional parameters (None: stored before the mark existed, unknown)
    provisional: bool | None = None
    n_provisional: int = 0  # scored items with provisional parameters
    accommodations: str = ""  # from the roster, in words: "延时 +50% · 大字号 · 读屏"


@dataclass(frozen=True)
class SignInView:
    id: int
    at: str
    ticket: str
    name: str
    attempt_id: int | None
    address: str
    user_agent: str
    outcome: str
    outcome_label: str
    new_device: bool
    decided_by: str | None


def monitor(db: Session, exam_id: int) -> list[MonitorRow]:
    """The exam's candidates and their attempts, live. Reading closes nothing: an attempt past its
    deadline shows as time_up until a write closes it."""
    exam = get_exam(db, exam_id)
    attempts = {a.candidate_id: a for a in db.scalars(select(Attempt).where(Attempt.exam_id == exam.id)
                                                       .options(selectinload(Attempt.items)))}
    records: dict[int, list[SignInRecord]] = {}
    for rec in db.scalars(select(SignInRecord).join(Candidate, SignInRecord.candidate_id == Candidate.id)
                          .where(Candidate.exam_id == exam.id).order_by(SignInRecord.id)):
        records.setdefault(rec.candidate_id, []).append(rec)
    t = now()
    out = []
    for c in exam.candidates:
        recs = records.get(c.id, [])
        until = ticket_locked_until(db, c.ticket, exam.id, t) if any(
            SignInOutcome(r.outcome).failure for r in recs) else None
        signs = dict(sign_ins=sum(1 for r in recs if r.outcome in (SignInOutcome.OK.value, SignInOutcome.APPROVED.value)),
                     device_switches=sum(1 for r in recs if r.new_device),
                     pending_sign_in=next((r.id for r in reversed(recs) if r.outcome == SignInOutcome.PENDING.value), None),
                     locked_until=until.isoformat(timespec="seconds") if until else None)
        signs["accommodations"] = accommodation_text(extra_percent=c.extra_percent or 0, extra_minutes=c.extra_minutes or 0,
                                                     large_print=bool(c.large_print), reader=bool(c.reader))
        a = attempts.get(c.id)
        if a is None:
            out.append(MonitorRow(c.id, c.ticket, c.name, c.room, None, "not_signed_in", 0, 0, None, None, None, None,
                                  mode=exam.mode, **signs))
            continue
        answered = sum(1 for r in a.items if r.answer is not None)
        res = mapping.stored_result(a.result)
        status = "time_up" if time_up(a) else a.status
        out.append(MonitorRow(c.id, c.ticket, c.name, c.room, a.id, status, len(a.items), answered,
                              time_left_s(a) if a.status == S.IN_PROGRESS else None,
                              res.band_name if res else None, res.score if res else None, a.void_reason,
                              complete=(a.status == S.FINISHED) if S(a.status).scored else None,
                              finish_reason=a.finish_reason, mode=exam.mode, n_items=len(a.items),
                              flagged=sum(1 for r in a.items if r.flagged),
                              provisional=res.provisional if res else None,
                              n_provisional=res.n_provisional if res else 0, **signs))
    return out


def sign_ins(db: Session, exam_id: int) -> list[SignInView]:
    """Every sign-in of the exam's candidates, newest first: time, address, browser, outcome, and
    whether it moved the attempt to another device."""
    exam = get_exam(db, exam_id)
    rows = db.execute(select(SignInRecord, Candidate.name).join(Candidate, SignInRecord.candidate_id == Candidate.id)
                      .where(Candidate.exam_id == exam.id).order_by(SignInRecord.id.desc())).all()
    return [SignInView(r.id, as_utc(r.at).isoformat(timespec="seconds"), r.ticket, name, r.attempt_id, r.address,
                       r.user_agent, r.outcome, SignInOutcome(r.outcome).label, r.new_device, r.decided_by)
            for r, name in rows]


# ---------------------------------------------------------------- proctor actions


@dataclass(frozen=True)
class Extension:
    attempt_id: int
    ticket: str
    minutes: int
    reopened: bool  # a timed-out attempt opened again at its pending item
    deadline: str  # the new deadline (ISO, UTC); "" for an attempt whose clock has not started


def _reopenable(attempt: Attempt) -> bool:
    return (S(attempt.status).scored and attempt.finish_reason == FinishReason.TIME.value
            and not attempt.exam.results_released)


def _extend(db: Session, attempt: Attempt, minutes: int, *, actor: str, reason: str) -> Extension:
    """Give ``minutes`` more: the deadline moves to max(deadline, now) + minutes, so time lost past
    the deadline (an outage) is given back too; a timed-out attempt reopens at its pending item."""
    status = S(attempt.status)
    if status in (S.VOIDED,) or (status.scored and not _reopenable(attempt)):
        raise ConflictError("该作答已结束，不能延长时间" + ("（成绩已发布）" if attempt.exam.results_released else "")
                            + "。")
    t = now()
    d = deadline(attempt)
    catch_up = int((t - d).total_seconds()) if d is not None and t > d else 0
    before = {"extra_seconds": attempt.extra_seconds, "status": attempt.status,
              "deadline": d.isoformat(timespec="seconds") if d else None}
    attempt.extra_seconds += minutes * 60 + catch_up
    reopened = status.scored
    if reopened:
        attempt.status, attempt.finish_reason, attempt.finished_at = S.IN_PROGRESS.value, None, None
        attempt.theta = attempt.se = attempt.result = None
    nd = deadline(attempt)
    detail = {"minutes": minutes, "reason": reason, "catch_up_seconds": catch_up, "reopened": reopened}
    audit.record(db, actor=actor, action="attempt.extend", target=f"attempt {attempt.id}", before=before,
                 after={"extra_seconds": attempt.extra_seconds, "status": attempt.status,
                        "deadline": nd.isoformat(timespec="seconds") if nd else None, **detail})
    db.add(AttemptEvent(attempt_id=attempt.id, action="extend", actor=actor, detail=detail))
    return Extension(attempt.id, attempt.candidate.ticket, minutes, reopened, nd.isoformat(timespec="seconds") if nd else "")


def _check_minutes(minutes: int) -> None:
    if not 1 <= minutes <= 240:
        raise ExamEngineError("延长时间应为 1–240 分钟")


def extend_time(db: Session, attempt_id: int, minutes: int, *, actor: str, reason: str = "") -> Extension:
    """Extend one attempt (a timed-out one reopens while the exam's results are unreleased)."""
    _check_minutes(minutes)
    ext = _extend(db, get_attempt(db, attempt_id), minutes, actor=actor, reason=reason)
    db.commit()
    return ext


def extend_exam(db: Session, exam_id: int, minutes: int, *, actor: str, reason: str = "",
                tickets: list[str] | None = None) -> list[Extension]:
    """Give time back to a whole exam in one action (after an outage): every attempt in progress,
    and every timed-out attempt while results are unreleased; or only the named tickets (each must
    be on the roster and extendable). Each extension is audited; all or nothing."""
    _check_minutes(minutes)
    exam = get_exam(db, exam_id)
    rows = list(db.scalars(select(Attempt).where(Attempt.exam_id == exam.id).options(
        joinedload(Attempt.candidate), selectinload(Attempt.items)).order_by(Attempt.id)))
    if tickets:
        wanted = [t.strip() for t in tickets if t.strip()]
        by_ticket = {a.candidate.ticket: a for a in rows}
        roster = {c.ticket for c in exam.candidates}
        unknown = [t for t in wanted if t not in roster]
        if unknown:
            raise NotFoundError("准考证号", "、".join(unknown))
        missing = [t for t in wanted if t not in by_ticket]
        if missing:
            raise ConflictError(f"以下考生尚未登录，没有可延时的作答：{'、'.join(missing)}")
        chosen = [by_ticket[t] for t in wanted]
    else:
        chosen = [a for a in rows if a.status == S.IN_PROGRESS or _reopenable(a)]
    try:
        out = [_extend(db, a, minutes, actor=actor, reason=reason) for a in chosen]
    except ExamEngineError:
        db.rollback()
        raise
    audit.record(db, actor=actor, action="exam.extend", target=f"exam {exam.id}",
                 after={"minutes": minutes, "reason": reason, "tickets": [e.ticket for e in out],
                        "reopened": [e.ticket for e in out if e.reopened]})
    db.commit()
    return out


def release_results(db: Session, exam_id: int, *, actor: str, confirm_provisional: bool = False) -> exams.ExamView:
    """Release an exam's results: attempts whose time is up are closed first (收卷). Results
    scored on provisional parameters need ``confirm_provisional`` (exams.release_results)."""
    close_expired(db, exam_id, actor=actor)
    return exams.release_results(db, exam_id, actor=actor, confirm_provisional=confirm_provisional)


def close_expired(db: Session, exam_id: int, *, actor: str) -> list[int]:
    """收卷: close every attempt of the exam whose time is up (a time-out dated at its deadline,
    scored by the run-out-of-time rule). Returns the closed attempts' ids."""
    exam = get_exam(db, exam_id)
    closed = []
    for a in db.scalars(select(Attempt).where(Attempt.exam_id == exam.id, Attempt.status == S.IN_PROGRESS.value)
                        .options(joinedload(Attempt.exam), selectinload(Attempt.items)).order_by(Attempt.id)):
        if _close_if_time_up(db, a, actor):
            closed.append(a.id)
    if closed:
        audit.record(db, actor=actor, action="exam.close_expired", target=f"exam {exam.id}", after={"attempts": closed})
        db.commit()
    return closed


def void_attempt(db: Session, attempt_id: int, *, actor: str, reason: str) -> None:
    attempt = get_attempt(db, attempt_id)
    if not reason.strip():
        raise ExamEngineError("作废必须填写原因")
    if attempt.status == S.VOIDED:
        raise ConflictError("该作答已作废")
    before = attempt.status
    audit.record(db, actor=actor, action="attempt.void", target=f"attempt {attempt.id}",
                 before={"status": before}, after={"status": S.VOIDED.value, "reason": reason.strip()})
    attempt.status = S.VOIDED.value
    attempt.void_reason = reason.strip()
    db.add(AttemptEvent(attempt_id=attempt.id, action="void", actor=actor,
                        detail={"reason": reason.strip(), "status_before": before}))
    db.commit()


def restore_attempt(db: Session, attempt_id: int, *, actor: str, reason: str) -> str:
    """Undo a void (the way back from a mistaken 作废): the attempt returns to the status it had,
    its answers untouched. Audited with the reason. Returns the restored status."""
    attempt = get_attempt(db, attempt_id)
    if attempt.status != S.VOIDED:
        raise ConflictError("该作答未被作废，无需撤销")
    if not reason.strip():
        raise ExamEngineError("撤销作废必须填写原因")
    last = db.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id == attempt.id, AttemptEvent.action == "void")
                      .order_by(AttemptEvent.id.desc()).limit(1)).first()
    status = (last.detail or {}).get("status_before") if last else None
    status = status if status in {x.value for x in S} and status != S.VOIDED else (
        S.IN_PROGRESS.value if attempt.started_at else S.NOT_STARTED.value)
    audit.record(db, actor=actor, action="attempt.restore", target=f"attempt {attempt.id}",
                 before={"status": S.VOIDED.value, "void_reason": attempt.void_reason},
                 after={"status": status, "reason": reason.strip()})
    attempt.status, attempt.void_reason = status, None
    db.add(AttemptEvent(attempt_id=attempt.id, action="restore", actor=actor,
                        detail={"reason": reason.strip(), "status": status}))
    db.commit()
    return status


def _sign_in_record(db: Session, sign_in_id: int) -> SignInRecord:
    rec = db.get(SignInRecord, sign_in_id)
    if rec is None or rec.attempt_id is None:
        raise NotFoundError("登录记录", str(sign_in_id))
    return rec


def sign_in_exam(db: Session, sign_in_id: int) -> int:
    """The exam a sign-in belongs to (for the access check)."""
    return get_attempt(db, _sign_in_record(db, sign_in_id).attempt_id).exam_id


def decide_sign_in(db: Session, sign_in_id: int, *, approve: bool, actor: str) -> None:
    """A proctor approves (the waiting device continues, the other device's token stops working)
    or rejects a second device's sign-in."""
    rec = _sign_in_record(db, sign_in_id)
    if rec.outcome != SignInOutcome.PENDING.value:
        raise ConflictError("该登录请求已处理。")
    attempt = get_attempt(db, rec.attempt_id)
    rec.outcome = (SignInOutcome.APPROVED if approve else SignInOutcome.REJECTED).value
    rec.decided_by, rec.decided_at = actor, now()
    if approve:
        attempt.token_hash = rec.token_hash
    audit.record(db, actor=actor, action="attempt.device", target=f"attempt {attempt.id}",
                 after={"sign_in": rec.id, "approved": approve, "address": rec.address, "user_agent": rec.user_agent})
    db.commit()


def unlock_ticket(db: Session, exam_id: int, ticket: str, *, actor: str) -> None:
    """Lift a ticket's lock after failed sign-ins (earlier failures stop counting)."""
    exam = get_exam(db, exam_id)
    cand = next((c for c in exam.candidates if c.ticket == ticket.strip()), None)
    if cand is None:
        raise NotFoundError("准考证号", ticket)
    cand.unlocked_at = now()
    audit.record(db, actor=actor, action="candidate.unlock", target=f"exam {exam.id} ticket {cand.ticket}")
    db.commit()


# ---------------------------------------------------------------- re-scoring stored results


@dataclass(frozen=True)
class Rescored:
    attempt_id: int
    exam_id: int
    ticket: str
    before: dict
    after: dict
    theta_before: float | None = None
    theta_after: float | None = None
    provisional_before: bool | None = None  # None: stored before the mark existed
    provisional_after: bool | None = None
    n_provisional_after: int = 0


def _summary(status: str, result: dict | None) -> dict:
    r = mapping.stored_result(result)
    return {"status": status, "passed": None if r is None else r.passed, "band": None if r is None else r.band_name,
            "score": None if r is None or r.score is None else round(r.score, 1)}


def results_visible(exam: Exam) -> bool:
    """Whether candidates can see the exam's results: shown at the end, or released."""
    return exam.results_policy != "release" or exam.results_released


def rescore(db: Session, *, exam_id: int | None = None, apply: bool = False, actor: str,
            include_released: bool = False) -> list[Rescored]:
    """Re-score stored results of closed attempts by today's rules (the run-out-of-time rule, the
    band statement) and today's parameters (after ``calibration apply``: theta, band and the
    暂定 mark follow the calibrated parameters): list what would change, and with ``apply``
    write it, each change audited. Only attempts of exams whose results candidates cannot see
    yet (policy ``release``, not released), unless ``include_released``: a result a candidate
    has seen is changed only on purpose."""
    q = select(Attempt).where(Attempt.status.in_([S.FINISHED.value, S.INCOMPLETE.value])).options(
        joinedload(Attempt.exam), joinedload(Attempt.candidate), selectinload(Attempt.items)).order_by(Attempt.id)
    if exam_id is not None:
        q = q.where(Attempt.exam_id == get_exam(db, exam_id).id)
    out = []
    for a in db.scalars(q):
        if not include_released and results_visible(a.exam):
            continue
        res, extra = _scored(db, a, a.finish_reason or "")
        stored = json.loads(json.dumps(asdict(res) | extra))  # as the JSON column gives it back
        status = (S.FINISHED if res.complete else S.INCOMPLETE).value
        before, after = _summary(a.status, a.result), _summary(status, stored)
        if before == after and a.result == stored:
            continue
        old = mapping.stored_result(a.result)
        out.append(Rescored(a.id, a.exam_id, a.candidate.ticket, before, after,
                            theta_before=None if old is None else old.theta, theta_after=res.theta,
                            provisional_before=None if old is None else old.provisional,
                            provisional_after=extra["provisional"], n_provisional_after=extra["n_provisional"]))
        if apply:
            audit.record(db, actor=actor, action="attempt.rescore", target=f"attempt {a.id}",
                         before=before | {"theta": None if old is None else old.theta,
                                          "provisional": None if old is None else old.provisional},
                         after=after | {"theta": res.theta, "provisional": extra["provisional"]})
            a.status, a.result, a.theta, a.se = status, stored, res.theta, res.se
    if apply:
        db.commit()
    return out
