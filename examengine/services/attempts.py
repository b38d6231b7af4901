"""Online attempts: sign-in, the pending item, answers, time, results.

Durability rules (ARCHITECTURE.md, habits 5): each answer is committed before the next item is
chosen; the next item is chosen once and stored before it is shown; the engine state is never
stored but rebuilt from the attempt's rows (seed + responses), so a restart loses nothing and
resumes at the same item with the same theta. (attempt, position) is unique and an answer is
written with ``... WHERE answer IS NULL``, so an answer posted twice or from two tabs at once
is recorded once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import weakref
from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from examengine.db.models import Attempt, AttemptItem, Candidate, Item, ItemVersion
from examengine.errors import ConflictError, ExamEngineError, NotFoundError
from examengine.exam.cat import StoredResponse, next_item, replay
from examengine.exam.items import LETTERS, ItemType, image_refs
from examengine.exam.scoring import attempt_result
from examengine.exam.study import blueprint_policy
from examengine.services.blueprints import (
    bank_stamp,
    blueprint_by_id,
    get_blueprint_version,
    load_pool,
    resolve_cuts,
)
from examengine.services.exams import as_utc
from examengine.services.simulation import stored_exposure


class SignInError(ExamEngineError):
    """Wrong ticket or access code (401)."""


class NotAuthorizedError(ExamEngineError):
    """A token that does not belong to this attempt (401)."""


class ExamNotOpenError(ExamEngineError):
    """The exam's window is not open (403)."""


class AttemptClosedError(ConflictError):
    """The attempt is finished or voided (409)."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- sign-in and tokens


@dataclass(frozen=True)
class SignIn:
    attempt_id: int
    token: str
    status: str


def sign_in(db: Session, ticket: str, code: str) -> SignIn:
    """准考证号 + access code. Creates the attempt on first sign-in; every sign-in issues a new
    token (an older one stops working), so a candidate can move to another device."""
    ticket, code = ticket.strip(), code.strip().upper()
    cands = list(db.scalars(select(Candidate).where(Candidate.ticket == ticket).options(
        selectinload(Candidate.exam))))
    cand = next((c for c in cands if hmac.compare_digest(c.access_code, code)), None)
    if cand is None:
        raise SignInError("准考证号或访问码不正确，请核对后重新输入。")
    exam = cand.exam
    attempt = db.scalars(select(Attempt).where(Attempt.candidate_id == cand.id)).first()
    t = now()
    if attempt is None or attempt.status == "not_started":
        if t < as_utc(exam.window_start):
            from zoneinfo import ZoneInfo

            from examengine.config import DISPLAY_TIMEZONE

            opens = as_utc(exam.window_start).astimezone(ZoneInfo(DISPLAY_TIMEZONE))
            raise ExamNotOpenError(f"考试尚未开始，开考时间为北京时间 {opens:%Y-%m-%d %H:%M}。")
        if t > as_utc(exam.window_end):
            raise ExamNotOpenError("考试已结束，不能再进入。")
    if attempt is not None and attempt.status == "voided":
        raise AttemptClosedError("你的本场作答已被监考人员作废，请联系监考人员。")
    token = secrets.token_urlsafe(32)
    window_end = as_utc(exam.window_end)
    expires = None if t < window_end else t + LATE_TOKEN_LIFETIME  # in the window: follows the window
    if attempt is None:
        row, bp = get_blueprint_version(db, exam.blueprint_version.code, exam.blueprint_version.version)
        cuts = [c.theta for c in resolve_cuts(bp, load_pool(db, bp).pool.params)]
        attempt = Attempt(exam_id=exam.id, candidate_id=cand.id, blueprint_version_id=row.id,
                          seed=secrets.randbits(31), cuts=cuts, status="not_started", token_hash=_hash(token),
                          token_expires_at=expires)
        db.add(attempt)
        try:
            db.commit()
        except IntegrityError:  # the same candidate signing in twice at once
            db.rollback()
            attempt = db.scalars(select(Attempt).where(Attempt.candidate_id == cand.id)).one()
            attempt.token_hash, attempt.token_expires_at = _hash(token), expires
            db.commit()
    else:
        attempt.token_hash, attempt.token_expires_at = _hash(token), expires
        db.commit()
    return SignIn(attempt.id, token, attempt.status)


def authenticate(db: Session, attempt_id: int, token: str) -> Attempt:
    attempt = db.scalars(select(Attempt).where(Attempt.id == attempt_id).options(
        joinedload(Attempt.exam), selectinload(Attempt.items))).first()
    if attempt is None or not token or not hmac.compare_digest(attempt.token_hash, _hash(token)):
        raise NotAuthorizedError("登录已失效，请重新输入准考证号和访问码。")
    if _token_expired(attempt):
        raise NotAuthorizedError("考试时间窗已结束，登录已失效。如需查看成绩，请重新输入准考证号和访问码。")
    return attempt


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
    d = deadline(attempt) if attempt.status == "in_progress" else None
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


@dataclass(frozen=True)
class Overview:
    attempt_id: int
    exam: str
    candidate: str
    ticket: str
    status: str
    time_limit_minutes: int
    min_items: int
    max_items: int
    time_left_s: int
    answered: int


def overview(db: Session, attempt: Attempt) -> Overview:
    _, bp = get_blueprint_version(db, attempt.exam.blueprint_version.code, attempt.exam.blueprint_version.version)
    _check_time(db, attempt)
    answered = sum(1 for r in attempt.items if r.answer is not None)
    return Overview(attempt.id, attempt.exam.name, attempt.candidate.name, attempt.candidate.ticket, attempt.status,
                    attempt.exam.time_limit_minutes, bp.min_length + bp.pretest_count,
                    bp.max_length + bp.pretest_count, time_left_s(attempt), answered)


def start(db: Session, attempt: Attempt) -> None:
    """The candidate has read the instructions and confirmed: the clock starts now (once)."""
    if attempt.status in ("finished", "voided"):
        raise AttemptClosedError("本场考试已经结束。")
    if attempt.status == "not_started":
        attempt.status = "in_progress"
        attempt.started_at = now()
        db.commit()


def _check_time(db: Session, attempt: Attempt) -> None:
    if attempt.status == "in_progress" and time_left_s(attempt) <= 0:
        _finish(db, attempt, "time")


# ---------------------------------------------------------------- the engine, rebuilt from rows


@dataclass
class _Engine:
    bp: object
    pool: object
    policy: object
    exposure: object
    state: object
    domains: tuple
    version_ids: tuple


# Per-process caches that only save work: each is keyed on everything its value is built from
# and is rebuilt from the database on a miss, so workers that disagree about what is cached
# still agree about every answer. States are immutable (exam.cat.CatState), so a cached state
# of an attempt's first k answers is extended by the answers that came after it, in any worker.
_POLICIES: dict[tuple, tuple] = {}
_STATES: OrderedDict[int, tuple] = OrderedDict()
_STATES_MAX = 4096
_LOCK = threading.Lock()
# Blueprint versions by (row id, bank stamp): the YAML of a version never changes, and storing its
# Sympson-Hetter parameters raises the bank revision (db.revision watches BlueprintVersion).
_BLUEPRINTS: dict[tuple, tuple] = {}
# What a candidate sees of a frozen item version, by (database, version id): a frozen version never
# changes (services.items.edit_item makes a new version), and every version an attempt shows is
# frozen in the transaction that stores it.
_CONTENT: OrderedDict[tuple, VersionContent] = OrderedDict()
_CONTENT_MAX = 20000


@dataclass(frozen=True)
class VersionContent:
    type: str
    stem: str
    options: tuple[str, ...]
    key: tuple[int, ...]


@dataclass(frozen=True)
class _BlueprintRow:
    """The parts of a BlueprintVersion row the engine reads (a detached ORM row would not do)."""

    id: int
    sha256: str
    exposure: dict | None


def _database(db: Session) -> str:
    return str(db.get_bind().url)


def _cached_content(db: Session, version_id: int) -> VersionContent | None:
    return _CONTENT.get((_database(db), version_id))


def _content(db: Session, row: AttemptItem) -> VersionContent:
    """The content of the item version an attempt row shows (cached once the version is frozen)."""
    key = (_database(db), row.item_version_id)
    hit = _CONTENT.get(key)
    if hit is not None:
        return hit
    v = row.version
    content = VersionContent(v.type, v.stem, tuple(v.options), tuple(v.key))
    if v.frozen:
        with _LOCK:
            _CONTENT[key] = content
            while len(_CONTENT) > _CONTENT_MAX:
                _CONTENT.popitem(last=False)
    return content


def _blueprint(db: Session, version_id: int, stamp: tuple) -> tuple[_BlueprintRow, object]:
    key = (version_id, stamp)
    hit = _BLUEPRINTS.get(key)
    if hit is None:
        row, bp = blueprint_by_id(db, version_id)
        hit = (_BlueprintRow(row.id, row.sha256, row.exposure), bp)
        with _LOCK:
            if len(_BLUEPRINTS) > 256:
                _BLUEPRINTS.clear()
            _BLUEPRINTS[key] = hit
    return hit


# Pools and policies are held by weak reference: the caches never keep a pool alive that the
# pool cache has dropped (a pool may weigh a few hundred KB), they just miss and rebuild.


def _policy(row: _BlueprintRow, bp, cuts: tuple, pool, stamp: tuple):
    """The policy and the stored exposure parameters of a blueprint version on a pool."""
    key = (row.id, row.sha256, cuts, id(pool), stamp)
    hit = _POLICIES.get(key)
    if hit is not None and hit[0]() is pool:
        return hit[1], hit[2]
    policy = blueprint_policy(bp, cuts, pool=pool)
    exposure = stored_exposure(row, pool)
    with _LOCK:
        if len(_POLICIES) > 256:
            _POLICIES.clear()
        _POLICIES[key] = (weakref.ref(pool), policy, exposure)
    return policy, exposure


def _state(attempt: Attempt, pool, policy, responses: tuple):
    with _LOCK:
        hit = _STATES.get(attempt.id)
    done = 0
    start = None
    if hit is not None:
        h_pool, h_policy, h_seed, h_responses, h_state = hit
        if (h_pool() is pool and h_policy() is policy and h_seed == attempt.seed
                and responses[: len(h_responses)] == h_responses):
            start, done = h_state, len(h_responses)
    state = replay(pool, policy, seed=attempt.seed, responses=responses[done:], state=start)
    with _LOCK:
        _STATES[attempt.id] = (weakref.ref(pool), weakref.ref(policy), attempt.seed, responses, state)
        _STATES.move_to_end(attempt.id)
        while len(_STATES) > _STATES_MAX:
            _STATES.popitem(last=False)
    return state


def _engine(db: Session, attempt: Attempt) -> _Engine:
    stamp = bank_stamp(db)
    row, bp = _blueprint(db, attempt.blueprint_version_id, stamp)
    used = frozenset(r.item_version_id for r in attempt.items if r.scored)
    bpool = load_pool(db, bp, include_versions=used, stamp=stamp)
    policy, exposure = _policy(row, bp, tuple(attempt.cuts), bpool.pool, stamp)
    responses = tuple(StoredResponse(r.external_id, int(r.score), True, tuple(r.set_aside or ()))
                      for r in attempt.items if r.scored and r.answer is not None)
    state = _state(attempt, bpool.pool, policy, responses)
    return _Engine(bp, bpool.pool, policy, exposure, state, bpool.domains, bpool.version_ids)


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


@dataclass(frozen=True)
class Finished:
    finished: bool
    reason: str


def _present(db: Session, attempt: Attempt, row: AttemptItem) -> ItemForCandidate:
    v = _content(db, row)
    return ItemForCandidate(
        position=row.position, item_id=f"Q{row.id}", type=v.type, stem=v.stem,
        options=[{"label": LETTERS[i], "text": text} for i, text in enumerate(v.options)],
        time_left_s=time_left_s(attempt), multiple=v.type == ItemType.MULTIPLE.value,
        images=image_refs(v.stem),
    )


def item_image(db: Session, attempt: Attempt, position: int, name: str) -> tuple[str, bytes]:
    """A picture of the item this attempt was shown at ``position`` (and of no other item)."""
    from examengine.db.models import ItemImage

    row = next((r for r in attempt.items if r.position == position), None)
    found = None if row is None else db.execute(
        select(ItemImage.media_type, ItemImage.data)
        .where(ItemImage.version_id == row.item_version_id, ItemImage.name == name)).first()
    if found is None:
        raise NotFoundError("图片", f"第 {position} 题 {name}")
    return found[0], found[1]


def pending(db: Session, attempt: Attempt) -> ItemForCandidate | Finished:
    """The item the candidate is on: the stored pending one, or a newly chosen one (stored
    before it is returned), or Finished."""
    if attempt.status == "voided":
        raise AttemptClosedError("你的本场作答已被监考人员作废，请联系监考人员。")
    if attempt.status == "not_started":
        raise ConflictError("请先阅读考试须知并确认开始考试。")
    _check_time(db, attempt)
    if attempt.status == "finished":
        return Finished(True, attempt.finish_reason or "finished")
    open_row = next((r for r in attempt.items if r.answer is None), None)
    if open_row is not None:
        return _present(db, attempt, open_row)
    return _choose_next(db, attempt)


def _choose_next(db: Session, attempt: Attempt) -> ItemForCandidate | Finished:
    eng = _engine(db, attempt)
    position = len(attempt.items) + 1
    if eng.state.stop.stop:
        _finish(db, attempt, eng.state.stop.reason.value, eng)
        return Finished(True, attempt.finish_reason)
    row = None
    if position in eng.bp.pretest_positions:
        row = _pretest_row(db, attempt, eng, position)
    if row is None:
        choice = next_item(eng.state, eng.pool, eng.policy, exposure=eng.exposure)
        if choice is None:
            _finish(db, attempt, "pool_exhausted", eng)
            return Finished(True, attempt.finish_reason)
        set_aside = [eng.pool.item_ids[p] for p in choice.considered if p != choice.position]
        row = AttemptItem(attempt_id=attempt.id, position=position,
                          item_version_id=eng.version_ids[choice.position], external_id=choice.item_id,
                          scored=True, set_aside=set_aside)
    try:
        attempt.items.append(row)
        db.flush()
        # used by an attempt: its content can no longer change (a cached content is of a frozen
        # version; otherwise the version is read here, in this transaction, for _present)
        if _cached_content(db, row.item_version_id) is None:
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


def _pretest_row(db: Session, attempt: Attempt, eng: _Engine, position: int) -> AttemptItem | None:
    """An unscored pretest item of the blueprint's level for a pretest slot (None when the bank
    has none left for this candidate)."""
    from examengine.db.models import Level

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


def answer(db: Session, attempt: Attempt, *, position: int, item_id: str, labels: list[str]) -> ItemForCandidate | Finished:
    """Record the answer to the pending position, then return the next item (or Finished).
    The same position answered again returns the outcome of the first answer and records
    nothing; any other position is a conflict."""
    if attempt.status == "voided":
        raise AttemptClosedError("你的本场作答已被监考人员作废，请联系监考人员。")
    if attempt.status == "not_started":
        raise ConflictError("请先阅读考试须知并确认开始考试。")
    row = next((r for r in attempt.items if r.position == position), None)
    if row is not None and row.answer is not None:
        return pending(db, attempt)  # a repeat: the first answer stands
    if attempt.status == "finished":
        raise AttemptClosedError("本场考试已经结束，不能再作答。")
    if row is None or f"Q{row.id}" != item_id:
        current = next((r for r in attempt.items if r.answer is None), None)
        raise ConflictError(f"第 {position} 题不是当前题目" + (f"（当前为第 {current.position} 题）" if current else "") + "。")
    _check_time(db, attempt)
    if attempt.status == "finished":
        raise AttemptClosedError("考试时间已到，本题未被记录。")
    version = _content(db, row)
    labels = sorted({str(x).strip().upper() for x in labels})
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
    else:  # the other tab was first: its answer stands
        db.refresh(attempt)
        for r in attempt.items:
            db.refresh(r)
    return pending(db, attempt)


# ---------------------------------------------------------------- finishing and results


def _finish(db: Session, attempt: Attempt, reason: str, eng: _Engine | None = None) -> None:
    eng = eng or _engine(db, attempt)
    # an unanswered pending item (time over) is dropped from the scoring but kept as a row
    cuts = tuple(attempt.cuts)
    state = eng.state
    positions = {eng.pool.item_ids[p]: p for p in range(eng.pool.n_items)}
    responses = []
    for r in attempt.items:
        if r.scored and r.answer is not None:
            p = positions[r.external_id]
            responses.append((eng.domains[p], int(r.score), float(eng.pool.params.a[p]), float(eng.pool.params.b[p]),
                              float(eng.pool.params.c[p])))
    mass = state.posterior.band_probabilities(cuts)
    res = attempt_result(eng.bp, cuts, state.estimate.theta, state.estimate.se, responses=responses, band_mass=mass)
    attempt.status = "finished"
    attempt.finish_reason = reason
    attempt.finished_at = now()
    attempt.theta = res.theta
    attempt.se = res.se
    attempt.result = asdict(res) | {"n_scored": len(responses),
                                    "n_pretest": sum(1 for r in attempt.items if not r.scored)}
    db.commit()


@dataclass(frozen=True)
class ResultView:
    released: bool
    message: str
    result: dict | None


def result(db: Session, attempt: Attempt) -> ResultView:
    if attempt.status == "voided":
        raise AttemptClosedError("你的本场作答已被监考人员作废，请联系监考人员。")
    _check_time(db, attempt)
    if attempt.status != "finished":
        raise ConflictError("考试尚未结束。")
    exam = attempt.exam
    if exam.results_policy == "release" and not exam.results_released:
        return ResultView(False, "你已完成本场考试。成绩将由考点统一发布，请留意通知。", None)
    r = dict(attempt.result)
    domain_names = _domain_names(db, [d["domain"] for d in r["domains"]])
    r["domains"] = [d | {"name": domain_names.get(d["domain"], d["domain"])} for d in r["domains"]]
    return ResultView(True, "", r)


def _domain_names(db: Session, codes: list[str]) -> dict[str, str]:
    from examengine.db.models import Domain

    return dict(db.execute(select(Domain.code, Domain.name).where(Domain.code.in_(codes))).all())


def get_attempt(db: Session, attempt_id: int) -> Attempt:
    attempt = db.get(Attempt, attempt_id)
    if attempt is None:
        raise NotFoundError("作答", str(attempt_id))
    return attempt


@dataclass(frozen=True)
class MonitorRow:
    candidate_id: int
    ticket: str
    name: str
    room: str
    attempt_id: int | None
    status: str  # not_signed_in / not_started / in_progress / finished / voided
    position: int
    answered: int
    time_left_s: int | None
    band: str | None
    score: float | None
    void_reason: str | None


def monitor(db: Session, exam_id: int) -> list[MonitorRow]:
    """The exam's candidates and their attempts, live."""
    from examengine.services.exams import get_exam

    exam = get_exam(db, exam_id)
    attempts = {a.candidate_id: a for a in db.scalars(select(Attempt).where(Attempt.exam_id == exam.id)
                                                       .options(selectinload(Attempt.items)))}
    out = []
    for c in exam.candidates:
        a = attempts.get(c.id)
        if a is None:
            out.append(MonitorRow(c.id, c.ticket, c.name, c.room, None, "not_signed_in", 0, 0, None, None, None, None))
            continue
        _check_time(db, a)
        answered = sum(1 for r in a.items if r.answer is not None)
        res = a.result or {}
        out.append(MonitorRow(c.id, c.ticket, c.name, c.room, a.id, a.status, len(a.items), answered,
                              time_left_s(a) if a.status == "in_progress" else None,
                              res.get("band_name"), res.get("score"), a.void_reason))
    return out
