"""Linear online exams: a fixed assembled form delivered position by position.

An exam of mode ``linear`` delivers its form (``Exam.form_id``) in form order, with the
blueprint's pretest slots filled by unscored pretest items of the level. The whole sequence is
planned (:func:`plan`) and stored as the attempt's rows once, when the clock starts
(:func:`start`), freezing the item versions; from then on the candidate moves freely between
positions, answers may change (or be cleared) until the attempt is submitted (:func:`submit`) or
the time is up, and positions may be flagged to come back to.

Scoring (:func:`linear_result`): number-correct over the scored positions, unanswered ones
counting as wrong, scored exactly as a paper sitting of the same form is
(``exam.forms.score_paper_form`` with the policy's grid and prior and the attempt's cuts, which
for a linear exam are the form's assembly cuts), so online and paper results of the same answers
agree. An attempt with fewer scored answers than the minimum (the blueprint's minimum length, or
the form's scored length when that is shorter) is incomplete: not passed, no band, no score.

Shared with adaptive attempts (``services.attempts``): sign-in, tokens, the clock and deadline,
closing (time-outs, 收卷), voids, extensions and the monitor. Mode ``loft`` is planned by
:func:`loft_plan` (a form drawn for each attempt, services.loft) and delivered like ``linear``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from examengine.db.forms_models import Form
from examengine.db.models import Attempt, AttemptItem, Item, ItemVersion, Level
from examengine.errors import ConflictError, ExamEngineError, NotFoundError
from examengine.exam.attempts import AttemptStatus, ExamMode, FinishReason, is_complete
from examengine.exam.blueprint import Blueprint
from examengine.exam.forms import score_paper_form
from examengine.exam.items import LETTERS, ItemType, provisional_mark
from examengine.exam.policy import blueprint_policy
from examengine.exam.scoring import AttemptResult
from examengine.irt.params import ItemParams
from examengine.services import attempts as att
from examengine.services import loft, mapping
from examengine.services.blueprints import get_blueprint_version, load_pool

S = AttemptStatus

NOT_LINEAR_MESSAGE = "本场考试为自适应考试，请按当前题目依次作答。"
NOT_STARTED_MESSAGE = "请先阅读考试须知并确认开始考试。"


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class PlannedItem:
    """One position of a linear attempt as planned: the item version, and whether it is scored
    (False: an unscored pretest item)."""

    item_version_id: int
    external_id: str
    scored: bool


def exam_mode(attempt: Attempt) -> ExamMode:
    return ExamMode(attempt.exam.mode)


def _require_linear(attempt: Attempt) -> ExamMode:
    mode = exam_mode(attempt)
    if not mode.linear:
        raise ConflictError(NOT_LINEAR_MESSAGE)
    return mode


def _blueprint(db: Session, attempt: Attempt) -> Blueprint:
    bv = attempt.exam.blueprint_version
    return get_blueprint_version(db, bv.code, bv.version)[1]


def _form(db: Session, attempt: Attempt) -> Form:
    form = db.get(Form, attempt.exam.form_id) if attempt.exam.form_id is not None else None
    if form is None:
        raise ConflictError(f"考试 {attempt.exam.id} 为固定试卷考试，但没有指定试卷，请联系监考人员。")
    return form


def plan(db: Session, attempt: Attempt) -> list[PlannedItem]:
    """The positions of a linear attempt, in order: for mode linear the exam's form in form
    order with the blueprint's pretest slots filled (:func:`with_pretest`); for mode loft
    :func:`loft_plan`. Deterministic given the attempt (its seed) and the bank."""
    mode = _require_linear(attempt)
    if mode is ExamMode.LOFT:
        return loft_plan(db, attempt)
    form = _form(db, attempt)
    operational = [PlannedItem(fi.item_version_id, fi.external_id, True) for fi in form.items]
    return with_pretest(db, attempt, _blueprint(db, attempt), operational)


def loft_plan(db: Session, attempt: Attempt) -> list[PlannedItem]:
    """A linear-on-the-fly attempt's positions: a form drawn for it from the blueprint's pool
    (``services.loft.loft_items``: the blueprint's content targets, no enemy pair, the exam's
    exposure so far, seeded by the attempt), in print order, with the blueprint's pretest slots
    filled as a fixed form's are (:func:`with_pretest`)."""
    operational = [PlannedItem(i.item_version_id, i.external_id, True) for i in loft.loft_items(db, attempt)]
    return with_pretest(db, attempt, _blueprint(db, attempt), operational)


def _pretest_items(db: Session, level_code: str) -> list[Item]:
    level_id = db.scalar(select(Level.id).where(Level.code == level_code))
    return list(db.scalars(select(Item).where(Item.level_id == level_id, Item.status == "pretest")
                           .order_by(Item.external_id).options(selectinload(Item.versions))))


def with_pretest(db: Session, attempt: Attempt, bp: Blueprint, operational: list[PlannedItem]) -> list[PlannedItem]:
    """``operational`` with an unscored pretest item of the blueprint's level at each of the
    blueprint's pretest positions (``Blueprint.pretest_positions``, 1-based in the whole
    sequence, at most ``pretest_count``) that falls within the sequence; each drawn as the
    adaptive exam draws it (seeded by the attempt's seed and the position), never an item
    already in the sequence. A slot stays operational when the bank has no pretest item left."""
    slots = sorted(bp.pretest_positions)[: bp.pretest_count] if bp.pretest_count else []
    if not slots:
        return list(operational)
    used = {p.external_id for p in operational}
    pretest = [it for it in _pretest_items(db, bp.id) if it.external_id not in used]
    out: list[PlannedItem] = []
    queue = list(operational)
    position = 0
    while queue:
        position += 1
        if position in slots and pretest:
            rng = np.random.default_rng([attempt.seed, position, 1])
            it = pretest.pop(int(rng.integers(len(pretest))))
            v = next(v for v in it.versions if v.number == it.current_version)
            out.append(PlannedItem(v.id, it.external_id, False))
        else:
            out.append(queue.pop(0))
    return out


def start(db: Session, attempt: Attempt) -> None:
    """The clock starts (once) and the plan is stored as the attempt's rows, their item versions
    frozen. Safe when two requests start at once: (attempt, position) is unique, the loser rolls
    back and reads the winner's rows."""
    _require_linear(attempt)
    if S(attempt.status).closed:
        raise att.AttemptClosedError("本场考试已经结束。")
    if attempt.status == S.IN_PROGRESS and attempt.items:
        return
    planned = plan(db, attempt)
    if not planned:
        raise ConflictError("本场考试的试卷没有题目，请联系监考人员。")
    if attempt.status == S.NOT_STARTED:
        attempt.status = S.IN_PROGRESS.value
        attempt.started_at = att.now()
    try:
        for k, p in enumerate(planned, start=1):
            attempt.items.append(AttemptItem(attempt_id=attempt.id, position=k, item_version_id=p.item_version_id,
                                             external_id=p.external_id, scored=p.scored, set_aside=[]))
        db.flush()
        # used by an attempt: the versions' content can no longer change
        for v in db.scalars(select(ItemVersion).where(ItemVersion.id.in_({p.item_version_id for p in planned}),
                                                      ItemVersion.frozen.is_(False))):
            v.frozen = True
        db.commit()
    except IntegrityError:  # another request stored the plan first: use its rows
        db.rollback()
        db.refresh(attempt)
        db.refresh(attempt, ["items"])


# ---------------------------------------------------------------- positions


@dataclass(frozen=True, kw_only=True)
class LinearItem(att.ItemForCandidate):
    """One position of a linear attempt as the candidate sees it: the item, the saved answer
    (letters chosen, [] none), the flag and the number of positions."""

    answer: list[str]
    flagged: bool
    n_items: int


@dataclass(frozen=True)
class PositionState:
    """A position after a change: its saved answer and flag, and the attempt's counts."""

    position: int
    answer: list[str]
    flagged: bool
    answered: int  # positions answered
    n_items: int
    time_left_s: int


def _open(attempt: Attempt) -> None:
    """Readable: started and not voided (a closed attempt is refused by the writes)."""
    if attempt.status == S.VOIDED:
        raise att.AttemptClosedError(att.VOIDED_MESSAGE)
    if attempt.status == S.NOT_STARTED:
        raise ConflictError(NOT_STARTED_MESSAGE)


def _row(attempt: Attempt, position: int) -> AttemptItem:
    row = next((r for r in attempt.items if r.position == position), None)
    if row is None:
        raise NotFoundError("题目", f"第 {position} 题（本场共 {len(attempt.items)} 题）")
    return row


def _writable(db: Session, attempt: Attempt) -> None:
    """A write to a position: refused once the attempt is closed; past the deadline the attempt
    closes as a time-out (scored with the answers saved so far) and the write is refused."""
    _open(attempt)
    if S(attempt.status).closed:
        raise att.AttemptClosedError("本场考试已经结束，不能再作答。")
    if att._close_if_time_up(db, attempt, "candidate"):
        raise att.AttemptClosedError("考试时间已到，本题未被记录。")


def _state(attempt: Attempt, row: AttemptItem) -> PositionState:
    return PositionState(row.position, list(row.answer or []), bool(row.flagged),
                         sum(1 for r in attempt.items if r.answer is not None), len(attempt.items),
                         att.time_left_s(attempt))


def item_at(db: Session, attempt: Attempt, position: int) -> LinearItem:
    """The item at ``position`` with its saved answer and flag. Reading closes nothing (past the
    deadline the item still shows, with no time left; a write closes the attempt)."""
    _require_linear(attempt)
    _open(attempt)
    if S(attempt.status).scored:
        raise att.AttemptClosedError("本场考试已经结束。")
    row = _row(attempt, position)
    shown = att._present(db, attempt, row)
    return LinearItem(**{f.name: getattr(shown, f.name) for f in fields(shown)}, answer=list(row.answer or []),
                      flagged=bool(row.flagged), n_items=len(attempt.items))


def _checked(db: Session, row: AttemptItem, labels: list[str], where: str = "") -> tuple[list[str], int | None]:
    """``labels`` normalised and checked as an adaptive answer is (letters of the item's options,
    one letter for 单选 and 判断), with the score they earn (None for a cleared answer)."""
    labels = att._labels(labels)
    if not labels:
        return labels, None
    version = mapping.content(db, row)
    valid = LETTERS[: len(version.options)]
    if any(x not in valid for x in labels):
        raise ExamEngineError(f"{where}选项应为 {'、'.join(valid)} 之一。")
    if version.type != ItemType.MULTIPLE.value and len(labels) != 1:
        raise ExamEngineError(where + ("本题为单选题，只能选择一个选项。" if version.type == ItemType.SINGLE.value
                                       else "判断题只能选择一个选项。"))
    return labels, att._score(version, labels)


def _store(row: AttemptItem, labels: list[str], score: int | None) -> bool:
    if list(row.answer or []) == labels:
        return False
    row.answer = labels or None
    row.score = score
    row.answered_at = att.now() if labels else None
    return True


def save_answer(db: Session, attempt: Attempt, *, position: int, labels: list[str]) -> PositionState:
    """Save (or change) the answer at ``position``; ``[]`` clears it. Checked as an adaptive
    answer is (letters of the item's options, one letter for 单选 and 判断). Saving the same
    answer again changes nothing. After the deadline the attempt closes as a time-out and the
    answer is not saved."""
    _require_linear(attempt)
    _writable(db, attempt)
    row = _row(attempt, position)
    labels, score = _checked(db, row, labels)
    if _store(row, labels, score):
        db.commit()
    return _state(attempt, row)


def save_answers(db: Session, attempt: Attempt, answers: dict[int, list[str]]) -> LinearOverview:
    """Save several positions' answers at once (a client that queued answers while the network
    was down sends them together; a page of several items): all or nothing, each checked as
    :func:`save_answer` checks one, the first bad one named by its position. One commit."""
    _require_linear(attempt)
    _writable(db, attempt)
    checked = []
    for position in sorted(answers):
        row = _row(attempt, position)
        checked.append((row, *_checked(db, row, answers[position], f"第 {position} 题：")))
    if any([_store(row, labels, score) for row, labels, score in checked]):
        db.commit()
    return overview(db, attempt)


def set_flag(db: Session, attempt: Attempt, *, position: int, flagged: bool) -> PositionState:
    """Flag (or unflag) a position to come back to. Refused once the attempt is closed."""
    _require_linear(attempt)
    _writable(db, attempt)
    row = _row(attempt, position)
    if bool(row.flagged) != bool(flagged):
        row.flagged = bool(flagged)
        db.commit()
    return _state(attempt, row)


@dataclass(frozen=True)
class PositionSummary:
    position: int
    type: str  # 单选 / 多选 / 判断
    answered: bool
    flagged: bool


@dataclass(frozen=True)
class LinearOverview:
    """A linear attempt at a glance: each position answered or flagged, the counts, the time."""

    attempt_id: int
    exam: str
    candidate: str
    ticket: str
    mode: str
    status: str
    time_limit_minutes: int
    time_left_s: int
    time_up: bool
    n_items: int
    answered: int
    flagged: int
    positions: list[PositionSummary]
    finish_reason: str | None = None


def overview(db: Session, attempt: Attempt) -> LinearOverview:
    """Before the start: the number of positions planned (no positions listed yet)."""
    mode = _require_linear(attempt)
    if attempt.status == S.VOIDED:
        raise att.AttemptClosedError(att.VOIDED_MESSAGE)
    rows = list(attempt.items)
    types = dict(db.execute(select(ItemVersion.id, ItemVersion.type).where(
        ItemVersion.id.in_({r.item_version_id for r in rows}))).all()) if rows else {}
    n = len(rows) if rows else len(plan(db, attempt))  # before the start: as planned (a LOFT draw reads, never writes)
    return LinearOverview(
        attempt.id, attempt.exam.name, attempt.candidate.name, attempt.candidate.ticket, mode.value, attempt.status,
        attempt.exam.time_limit_minutes, att.time_left_s(attempt), att.time_up(attempt), n,
        sum(1 for r in rows if r.answer is not None), sum(1 for r in rows if r.flagged),
        [PositionSummary(r.position, types.get(r.item_version_id, ""), r.answer is not None, bool(r.flagged))
         for r in rows], attempt.finish_reason)


def submit(db: Session, attempt: Attempt) -> att.Finished:
    """The candidate hands in (交卷): the attempt closes with reason ``submitted`` and is scored
    with its saved answers. Submitting again returns the same outcome; after the deadline the
    attempt closes as a time-out instead (dated at the deadline)."""
    _require_linear(attempt)
    if attempt.status == S.VOIDED:
        raise att.AttemptClosedError(att.VOIDED_MESSAGE)
    if S(attempt.status).scored:
        return att.Finished(True, attempt.finish_reason or S.FINISHED.value, attempt.status)
    if attempt.status == S.NOT_STARTED:
        raise ConflictError(NOT_STARTED_MESSAGE)
    if not att._close_if_time_up(db, attempt, "candidate"):
        att._finish(db, attempt, FinishReason.SUBMITTED.value, actor="candidate")
    return att.Finished(True, attempt.finish_reason, attempt.status)


# ---------------------------------------------------------------- scoring


def linear_result(db: Session, attempt: Attempt, reason: str) -> tuple[AttemptResult, dict]:
    """The result of a linear attempt closing for ``reason``, from its rows: number-correct over
    the scored positions (an unanswered one counts as wrong), scored by
    ``exam.forms.score_paper_form`` exactly as a paper sitting of the same items (item versions'
    parameters in position order, the policy's grid and prior, the attempt's cuts). Incomplete
    below the minimum of scored answers: the blueprint's minimum length, or the number of scored
    positions when that is smaller (a form shorter than the adaptive minimum can be complete).
    Returns the result and the counts stored beside it (as ``attempts._result``)."""
    bp = _blueprint(db, attempt)
    scored = [r for r in sorted(attempt.items, key=lambda r: r.position) if r.scored]
    ids = [r.item_version_id for r in scored]
    versions = {v.id: v for v in db.scalars(select(ItemVersion).where(ItemVersion.id.in_(ids)))} if ids else {}
    params = ItemParams.three_pl([versions[i].irt_a for i in ids], [versions[i].irt_b for i in ids],
                                 [versions[i].irt_c for i in ids])
    scores = [int(r.score or 0) if r.answer is not None else 0 for r in scored]
    answered = sum(1 for r in scored if r.answer is not None)
    min_items = min(bp.min_length, len(scored))
    complete = is_complete(answered, min_items) and len(scored) > 0
    cuts = [float(c) for c in attempt.cuts]
    policy = blueprint_policy(bp, tuple(cuts))
    bpool = load_pool(db, bp, include_versions=frozenset(ids))
    domain_of = dict(zip(bpool.version_ids, bpool.domains))
    res = score_paper_form(bp, cuts, params, scores, grid=policy.grid, prior=policy.prior,
                           domains=[domain_of.get(i, "") for i in ids], complete=complete)
    extra = {"n_scored": answered, "n_unanswered_wrong": len(scored) - answered if complete else 0,
             "min_items": min_items, "n_pretest": sum(1 for r in attempt.items if not r.scored),
             "mode": attempt.exam.mode, "form_id": attempt.exam.form_id, "raw_score": int(sum(scores)),
             "n_items": len(scored)}
    mark = provisional_mark(versions[i].irt_origin for i in ids)  # the 暂定 mark, as adaptive results carry it
    extra |= {"provisional": mark.provisional, "n_provisional": mark.n_provisional}
    return res, extra
