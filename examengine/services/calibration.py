"""Calibration and item analysis use cases: collect stored responses, classical statistics,
calibrate (pretest items against fixed operational items, or the whole bank linked back by
Stocking-Lord), store the run, list promotion candidates and apply estimates explicitly.
One function, one transaction."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from examengine.db.calibration_models import CalibrationEstimate, CalibrationRun
from examengine.db.models import Attempt, AttemptItem, Exam, Item, ItemEvent, ItemVersion, Level, Standard
from examengine.errors import ConflictError, ExamEngineError, NotFoundError
from examengine.exam.attempts import AttemptStatus
from examengine.exam.items import LETTERS
from examengine.irt import calibration as cal
from examengine.irt.calibration import CalibrationModel, PromotionCriteria  # also the shells' door to them
from examengine.irt.item_analysis import FLAG_LABELS, AnalysisThresholds, analyse_items
from examengine.irt.params import ItemParams
from examengine.itemfiles.tables import read_response_matrix, spreadsheet_text

# ---------------------------------------------------------------- stored responses


@dataclass(frozen=True)
class StoredResponses:
    """Answered cells of the attempts in a scope: persons = attempts, items = item versions."""

    attempt_ids: list[int]
    version_ids: list[int]
    external_ids: list[str]
    statuses: list[str]
    operational: list[bool]  # True: the version was given scored at least once
    current: list[tuple[str, float, float, float, str]]  # model, a, b, c, origin
    person: np.ndarray
    item: np.ndarray
    score: np.ndarray
    presented_person: np.ndarray
    presented_item: np.ndarray
    answers: list[list[str]]  # per answered cell, the chosen labels
    n_options: list[int]
    keys: list[list[int]]
    theta: np.ndarray  # per attempt (NaN when none)
    version_numbers: list[int] = field(default_factory=list)  # per item version


def _scope_filter(db: Session, scope: str):
    if "-L" in scope:
        level = db.scalar(select(Level).where(Level.code == scope))
        if level is None:
            raise NotFoundError("级别", scope)
        return Item.level_id == level.id
    standard = db.scalar(select(Standard).where(Standard.code == scope))
    if standard is None:
        raise NotFoundError("标准", scope)
    return Item.standard_id == standard.id


def _scoped(db: Session, q, *, scope: str, since: datetime | None, until: datetime | None, exam_id: int | None):
    """``q`` (over AttemptItem) joined to its item and attempt, limited to the scope (a standard
    or a level code), the window (by presentation time) and the exam; voided attempts left out."""
    q = (q.join(ItemVersion, AttemptItem.item_version_id == ItemVersion.id)
         .join(Item, ItemVersion.item_id == Item.id)
         .join(Attempt, AttemptItem.attempt_id == Attempt.id)
         .where(_scope_filter(db, scope), Attempt.status != AttemptStatus.VOIDED.value))
    if since is not None:
        q = q.where(AttemptItem.presented_at >= since)
    if until is not None:
        q = q.where(AttemptItem.presented_at < until)
    if exam_id is not None:
        if db.get(Exam, exam_id) is None:
            raise NotFoundError("考试", str(exam_id))
        q = q.where(Attempt.exam_id == exam_id)
    return q


def collect_responses(db: Session, *, scope: str, since: datetime | None = None, until: datetime | None = None,
                      exam_id: int | None = None, attempts_with: list[str] | None = None) -> StoredResponses:
    """Every presented attempt item of the scope (a standard or a level code) in the window
    (by presentation time); voided attempts are left out. ``attempts_with``: only the attempts
    that were shown one of these items (external ids), with all their items in the scope."""
    q = _scoped(db, select(AttemptItem.attempt_id, AttemptItem.item_version_id, AttemptItem.scored,
                           AttemptItem.answer, AttemptItem.score, Attempt.theta),
                scope=scope, since=since, until=until, exam_id=exam_id)
    if attempts_with is not None:
        q = q.where(AttemptItem.attempt_id.in_(
            select(AttemptItem.attempt_id).where(AttemptItem.external_id.in_(attempts_with))))
    rows = db.execute(q.order_by(AttemptItem.attempt_id, AttemptItem.position)).all()
    meta = {v.id: (v, it) for v, it in db.execute(
        select(ItemVersion, Item).join(Item, ItemVersion.item_id == Item.id)
        .where(ItemVersion.id.in_({r[1] for r in rows}))).all()} if rows else {}
    att_index: dict[int, int] = {}
    ver_index: dict[int, int] = {}
    out = StoredResponses([], [], [], [], [], [], np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0, np.int8),
                          np.empty(0, np.intp), np.empty(0, np.intp), [], [], [], np.empty(0))
    person, item, score, pp, pi, thetas = [], [], [], [], [], []
    for attempt_id, version_id, scored, answer, score_value, theta in rows:
        p = att_index.setdefault(attempt_id, len(att_index))
        if p == len(thetas):
            thetas.append(np.nan if theta is None else theta)
            out.attempt_ids.append(attempt_id)
        v, it = meta[version_id]
        if v.id not in ver_index:
            ver_index[v.id] = len(ver_index)
            out.version_ids.append(v.id)
            out.version_numbers.append(v.number)
            out.external_ids.append(it.external_id)
            out.statuses.append(it.status)
            out.operational.append(False)
            out.current.append((v.irt_model, v.irt_a, v.irt_b, v.irt_c, v.irt_origin))
            out.n_options.append(len(v.options))
            out.keys.append(list(v.key))
        j = ver_index[v.id]
        if scored:
            out.operational[j] = True
        pp.append(p)
        pi.append(j)
        if answer is not None and score_value is not None:
            person.append(p)
            item.append(j)
            score.append(1 if score_value > 0 else 0)
            out.answers.append(list(answer))
    return StoredResponses(
        out.attempt_ids, out.version_ids, out.external_ids, out.statuses, out.operational, out.current,
        np.asarray(person, np.intp), np.asarray(item, np.intp), np.asarray(score, np.int8),
        np.asarray(pp, np.intp), np.asarray(pi, np.intp), out.answers, out.n_options, out.keys,
        np.asarray(thetas, float), out.version_numbers,
    )


# ---------------------------------------------------------------- classical item analysis


def item_level(db: Session, external_id: str) -> str:
    """The level code of an item (the default scope of its statistics)."""
    code = db.scalar(select(Level.code).join(Item, Item.level_id == Level.id).where(Item.external_id == external_id))
    if code is None:
        raise NotFoundError("题目", external_id)
    return code


@dataclass(frozen=True)
class OptionView:
    label: str
    is_key: bool
    n: int
    share: float | None
    point_biserial: float | None


@dataclass(frozen=True)
class ItemStatsView:
    external_id: str
    version_id: int
    status: str
    n_presented: int
    n_answered: int
    p_value: float | None
    point_biserial: float | None
    omit_rate: float | None
    options: list[OptionView]
    flags: list[str]
    flag_labels: list[str]
    criterion: str = "rest"  # what the point-biserials correlate with: rest (score) or theta
    version: int = 0  # the version number


def _num(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def item_statistics(db: Session, *, scope: str, since: datetime | None = None, until: datetime | None = None,
                    exam_id: int | None = None, criterion: str = "auto", items: list[str] | None = None,
                    thresholds: AnalysisThresholds = AnalysisThresholds()) -> list[ItemStatsView]:
    """Classical statistics of every item version answered in the scope and window.

    ``criterion``: ``rest`` (total minus the item: fixed forms), ``theta`` (the attempt's
    ability estimate: adaptive exams, whose raw totals are not comparable), or ``auto``
    (theta when every attempt of the scope and window has one).

    ``items`` (external ids) limits the answer to those items; their statistics are exactly
    those of the whole scope (an item's statistics depend only on the attempts that answered
    it, whose other answers in the scope are all read), only cheaper. An unknown id is a
    NotFoundError; a known item without responses is simply absent."""
    if criterion not in ("auto", "rest", "theta"):
        raise ExamEngineError(f"未知的效标：{criterion}（可用：auto、rest、theta）")
    wanted: set[str] | None = None
    if items is not None:
        wanted = set(items)
        known = set(db.scalars(select(Item.external_id).where(Item.external_id.in_(wanted))))
        if wanted - known:
            raise NotFoundError("题目", "、".join(sorted(wanted - known)))
    data = collect_responses(db, scope=scope, since=since, until=until, exam_id=exam_id,
                             attempts_with=None if wanted is None else sorted(wanted))
    n_p, n_i = len(data.attempt_ids), len(data.version_ids)
    if n_i == 0:
        return []
    scores = np.full((n_p, n_i), np.nan)
    scores[data.person, data.item] = data.score
    presented = np.zeros((n_p, n_i), dtype=bool)
    presented[data.presented_person, data.presented_item] = True
    k = max(data.n_options)
    choices = np.zeros((n_p, n_i, k), dtype=bool)
    for p, i, labels in zip(data.person, data.item, data.answers, strict=True):
        for lab in labels:
            if lab in LETTERS:
                choices[p, i, LETTERS.index(lab)] = True
    keys = np.zeros((n_i, k), dtype=bool)
    for i, key in enumerate(data.keys):
        keys[i, key] = True
    if criterion == "auto" and wanted is not None:
        # decided on the whole scope and window, as without ``items``
        use_theta = not db.scalar(_scoped(db, select(func.count()).select_from(AttemptItem), scope=scope, since=since,
                                          until=until, exam_id=exam_id).where(Attempt.theta.is_(None)))
    else:
        use_theta = criterion == "theta" or (criterion == "auto" and n_p > 0 and np.isfinite(data.theta).all())
    stats = analyse_items(scores, presented, choices=choices, keys=keys, n_options=data.n_options,
                          criterion=data.theta if use_theta else None, thresholds=thresholds)
    out = []
    for s in stats:
        if wanted is not None and data.external_ids[s.position] not in wanted:
            continue
        out.append(ItemStatsView(
            external_id=data.external_ids[s.position], version_id=data.version_ids[s.position],
            status=data.statuses[s.position], n_presented=s.n_presented, n_answered=s.n_answered,
            p_value=_num(s.p_value), point_biserial=_num(s.point_biserial), omit_rate=_num(s.omit_rate),
            options=[OptionView(LETTERS[o.index], o.is_key, o.n, _num(o.share), _num(o.point_biserial))
                     for o in s.options],
            flags=[f.value for f in s.flags], flag_labels=[FLAG_LABELS[f] for f in s.flags],
            criterion="theta" if use_theta else "rest", version=data.version_numbers[s.position],
        ))
    return sorted(out, key=lambda v: (v.external_id, v.version_id))


# ---------------------------------------------------------------- calibration runs


@dataclass(frozen=True)
class EstimateView:
    external_id: str
    role: str
    status: str
    n_responses: int
    a: float
    b: float
    c: float
    se_a: float | None
    se_b: float | None
    se_c: float | None
    rmsd: float | None
    outfit: float | None
    drift: bool
    eligible: bool | None
    reasons: list[str]
    prev: tuple[str, float, float, float, str]
    applied: bool
    p_value: float | None = None
    infit: float | None = None
    misfit: bool = False  # RMSD or outfit beyond the run's criteria (as for promotion)
    reason_labels: list[str] = field(default_factory=list)


PROMOTION_LABELS = {
    cal.PromotionReason.FEW_RESPONSES.value: "作答数不足",
    cal.PromotionReason.LOW_DISCRIMINATION.value: "区分度低",
    cal.PromotionReason.POOR_FIT.value: "拟合不佳",
    cal.PromotionReason.IMPRECISE.value: "估计不够精确",
}


def _misfit(rmsd: float | None, outfit: float | None, criteria: dict) -> bool:
    """The fit part of the promotion rule, for every item (anchors too)."""
    max_rmsd = criteria.get("max_rmsd", cal.PromotionCriteria.max_rmsd)
    lo, hi = criteria.get("outfit_range", cal.PromotionCriteria.outfit_range)
    return (rmsd is not None and rmsd > max_rmsd) or (outfit is not None and not lo <= outfit <= hi)


@dataclass(frozen=True)
class RunView:
    id: int
    model: str
    engine: str
    mode: str
    scope: str
    since: str | None
    until: str | None
    n_persons: int
    n_responses: int
    n_items: int
    n_parameters: int
    loglik: float
    aic: float
    bic: float
    population_mean: float
    population_sd: float
    converged: bool
    iterations: int
    max_change: float
    seconds: float
    status: str
    options: dict
    created_by: str
    created_at: str
    applied_by: str | None
    estimates: list[EstimateView] = field(default_factory=list)

    @property
    def eligible(self) -> list[EstimateView]:
        return [e for e in self.estimates if e.eligible]


def _iso(d: datetime | None) -> str | None:
    return None if d is None else d.isoformat()


def _run_view(run: CalibrationRun) -> RunView:
    criteria = dict(run.options).get("criteria", {})
    return RunView(
        id=run.id, model=run.model, engine=run.engine, mode=run.mode, scope=run.scope, since=_iso(run.since),
        until=_iso(run.until), n_persons=run.n_persons, n_responses=run.n_responses, n_items=run.n_items,
        n_parameters=run.n_parameters, loglik=run.loglik, aic=run.aic, bic=run.bic,
        population_mean=run.population_mean, population_sd=run.population_sd, converged=run.converged,
        iterations=run.iterations, max_change=run.max_change, seconds=run.seconds, status=run.status,
        options=dict(run.options), created_by=run.created_by, created_at=_iso(run.created_at) or "",
        applied_by=run.applied_by,
        estimates=[EstimateView(e.external_id, e.role, e.status, e.n_responses, e.a, e.b, e.c, e.se_a, e.se_b, e.se_c,
                                e.rmsd, e.outfit, e.drift, e.eligible, list(e.reasons),
                                (e.prev_model, e.prev_a, e.prev_b, e.prev_c, e.prev_origin), e.applied,
                                p_value=e.p_value, infit=e.infit, misfit=_misfit(e.rmsd, e.outfit, criteria),
                                reason_labels=[PROMOTION_LABELS.get(r, r) for r in e.reasons])
                   for e in run.estimates],
    )


# pretest: operational items fixed; full: all estimated, linked to the operational items;
# initial: all estimated, the scale set by the cohort (a programme's first calibration)
CALIBRATION_MODES = ("pretest", "full", "initial")
PROVISIONAL_ORIGIN = "provisional"  # ItemVersion.irt_origin of parameters nobody estimated from data


def run_calibration(
    db: Session,
    *,
    scope: str,
    model: CalibrationModel = CalibrationModel.TWO_PL,
    mode: str = "pretest",
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str,
    criteria: PromotionCriteria = PromotionCriteria(),
    drift_z: float = 2.0,
    progress: Callable[[int, float, float], None] | None = None,
) -> RunView:
    """Calibrate the stored responses of ``scope`` and store the run (nothing reaches the bank).

    ``mode="pretest"``: operational items (given scored) are held at their bank parameters
    and the others are estimated on that scale (fixed-parameter calibration). ``mode="full"``:
    every item is estimated, then linked back to the bank scale by Stocking-Lord with the
    operational items as anchors, and anchors that moved beyond ``drift_z`` SEs are flagged.
    ``mode="initial"``: a programme's first calibration, when the bank's parameters are only
    provisional guesses: every item is estimated and nothing is linked, so the scale is the one
    the model's N(0, 1) population prior sets on this cohort (``options["scale"]``). Anchors
    with provisional parameters in the other modes are counted in ``options["provisional_anchors"]``:
    a scale taken from guesses is no scale (docs/launch.md).
    """
    if mode not in CALIBRATION_MODES:
        raise ExamEngineError(f"未知的校准方式：{mode}（可用：{'、'.join(CALIBRATION_MODES)}）")
    data = collect_responses(db, scope=scope, since=since, until=until)
    if data.person.size == 0:
        raise ExamEngineError(f"{scope} 在所选时间范围内没有作答记录，无法校准")
    resp = cal.ResponseData.from_cells(data.person, data.item, data.score, len(data.attempt_ids),
                                       len(data.version_ids))
    anchors = np.flatnonzero(np.asarray(data.operational))
    cur = data.current
    bank = ItemParams(a=[c[1] for c in cur], b=[c[2] for c in cur], c=[c[3] for c in cur])
    options: dict = {"tolerance": 1e-4, "drift_z": drift_z, "criteria": criteria.__dict__ | {
        "outfit_range": list(criteria.outfit_range)}}
    if mode == "initial":
        anchors = np.empty(0, np.intp)
        options["scale"] = "population"
    else:
        options["provisional_anchors"] = int(sum(cur[i][4] == PROVISIONAL_ORIGIN for i in anchors))
    if mode == "pretest":
        if anchors.size == 0:
            raise ExamEngineError("没有正式题（计分作答）可作锚题；请改用 --mode full")
        if anchors.size == resp.n_items:
            raise ExamEngineError("所选范围内没有预测试题需要校准")
        res = cal.calibrate(resp, model, fixed=cal.FixedItems(anchors, bank.take(anchors)), progress=progress)
        params, se_a, se_b = res.params, res.se_a, res.se_b
        flagged = np.zeros(resp.n_items, dtype=bool)
    else:
        res = cal.calibrate(resp, model, progress=progress)
        params, se_a, se_b = res.params, res.se_a, res.se_b
        flagged = np.zeros(resp.n_items, dtype=bool)
        if anchors.size >= 2:
            link = cal.stocking_lord(bank.take(anchors), params.take(anchors))
            params = link.transform(params)
            se_a, se_b = link.transform_se(se_a, se_b)
            rep = cal.drift(bank.take(anchors), params.take(anchors), se_a[anchors], se_b[anchors], z=drift_z)
            flagged[anchors] = rep.flagged
            options["linking"] = {"method": link.method, "A": link.A, "B": link.B}
    checks = {c.position: c for c in cal.promotion_checks(
        _with(res, params, se_a, se_b), [i for i in range(resp.n_items) if not data.operational[i]], criteria)}
    run = CalibrationRun(
        model=model.value, engine="em", mode=mode, scope=scope, since=since, until=until,
        n_persons=resp.n_persons, n_responses=resp.n_observations, n_items=resp.n_items,
        n_parameters=res.n_parameters, loglik=res.loglik, aic=res.aic, bic=res.bic,
        population_mean=res.population_mean, population_sd=res.population_sd,
        converged=res.convergence.converged, iterations=res.convergence.iterations,
        max_change=res.convergence.max_change, seconds=res.convergence.seconds, options=options,
        status="estimated", created_by=actor,
    )
    db.add(run)
    db.flush()

    def f(x) -> float | None:
        return None if x is None or not np.isfinite(x) else float(x)

    for i, vid in enumerate(data.version_ids):
        chk = checks.get(i)
        db.add(CalibrationEstimate(
            run_id=run.id, item_version_id=vid, external_id=data.external_ids[i],
            role="estimated" if res.free[i] else "anchor", status=data.statuses[i],
            n_responses=int(res.n_responses[i]), p_value=f(res.p_values[i]),
            a=float(params.a[i]), b=float(params.b[i]), c=float(params.c[i]),
            se_a=f(se_a[i]), se_b=f(se_b[i]), se_c=f(res.se_c[i]), rmsd=f(res.fit.rmsd[i]),
            infit=f(res.fit.infit[i]), outfit=f(res.fit.outfit[i]), drift=bool(flagged[i]),
            eligible=None if chk is None else chk.eligible,
            reasons=[] if chk is None else [r.value for r in chk.reasons],
            prev_model=cur[i][0], prev_a=cur[i][1], prev_b=cur[i][2], prev_c=cur[i][3], prev_origin=cur[i][4],
        ))
    db.commit()
    return get_run(db, run.id)


# ---------------------------------------------------------------- a CSV response matrix


@dataclass(frozen=True)
class MatrixCalibration:
    """Parameters calibrated from a CSV response matrix (nothing stored): one entry per item in
    the file's order; an SE is NaN where the engine gives none (girth). The fit statistics are
    None for girth."""

    filename: str
    item_ids: list[str]
    n_persons: int
    engine: str
    model: str
    a: list[float]
    b: list[float]
    c: list[float]
    se_a: list[float]
    se_b: list[float]
    se_c: list[float]
    loglik: float | None = None
    aic: float | None = None
    bic: float | None = None
    converged: bool | None = None
    iterations: int | None = None
    seconds: float | None = None


def calibrate_matrix(filename: str, data: bytes, *, model: str = "2pl", engine: str = "em", no_priors: bool = False,
                     progress: Callable[[int, float, float], None] | None = None) -> MatrixCalibration:
    """``examengine calibrate --responses``: calibrate a persons x items CSV matrix (read by
    ``itemfiles.tables.read_response_matrix``) with the EM (``engine="em"``, missing responses
    allowed) or girth (complete matrices only)."""
    parsed_model = CalibrationModel.parse(model)
    matrix = read_response_matrix(filename, data)
    u = np.array(matrix.rows, dtype=float)
    ids = matrix.item_ids
    if engine == "girth":
        if np.isnan(u).any():
            raise ExamEngineError("girth 只能校准完整矩阵（无缺失）；含缺失的数据请用 --engine em")
        params = cal.calibrate_girth(u, parsed_model)
        nan = [float("nan")] * len(ids)
        return MatrixCalibration(filename, ids, u.shape[0], engine, parsed_model.value, params.a.tolist(),
                                 params.b.tolist(), params.c.tolist(), nan, nan, nan)
    if engine != "em":
        raise ExamEngineError(f"未知的校准引擎：{engine}（可用：em、girth）")
    res = cal.calibrate(cal.ResponseData.from_matrix(u), parsed_model,
                        priors=cal.Priors.none() if no_priors else None, progress=progress)
    conv = res.convergence
    return MatrixCalibration(filename, ids, u.shape[0], engine, parsed_model.value, res.params.a.tolist(),
                             res.params.b.tolist(), res.params.c.tolist(), np.asarray(res.se_a, float).tolist(),
                             np.asarray(res.se_b, float).tolist(), np.asarray(res.se_c, float).tolist(),
                             res.loglik, res.aic, res.bic, conv.converged, conv.iterations, conv.seconds)


def parameters_csv(res: MatrixCalibration) -> str:
    """``item,a,b,c,se_a,se_b,se_c``, one row an item (an unknown SE blank)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["item", "a", "b", "c", "se_a", "se_b", "se_c"])
    for j, item in enumerate(res.item_ids):
        w.writerow([spreadsheet_text(item), f"{res.a[j]:.4f}", f"{res.b[j]:.4f}", f"{res.c[j]:.4f}",
                    *("" if not math.isfinite(s[j]) else f"{s[j]:.4f}" for s in (res.se_a, res.se_b, res.se_c))])
    return buf.getvalue()


def estimates_csv(run: RunView) -> str:
    """``item,role,n,a,b,c,se_a,se_b,se_c``: a stored run's estimates, one row an item."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["item", "role", "n", "a", "b", "c", "se_a", "se_b", "se_c"])
    for e in run.estimates:
        w.writerow([spreadsheet_text(e.external_id), e.role, e.n_responses, f"{e.a:.4f}", f"{e.b:.4f}", f"{e.c:.4f}",
                    *("" if s is None else f"{s:.4f}" for s in (e.se_a, e.se_b, e.se_c))])
    return buf.getvalue()


def _with(res: cal.CalibrationResult, params: ItemParams, se_a, se_b) -> cal.CalibrationResult:
    from dataclasses import replace

    return replace(res, params=params, se_a=se_a, se_b=se_b)


def get_run(db: Session, run_id: int) -> RunView:
    run = db.scalar(select(CalibrationRun).where(CalibrationRun.id == run_id)
                    .options(selectinload(CalibrationRun.estimates)))
    if run is None:
        raise NotFoundError("校准记录", str(run_id))
    return _run_view(run)


def list_runs(db: Session) -> list[RunView]:
    runs = db.scalars(select(CalibrationRun).order_by(CalibrationRun.id.desc())
                      .options(selectinload(CalibrationRun.estimates))).all()
    return [_run_view(r) for r in runs]


@dataclass(frozen=True)
class ApplyReport:
    run_id: int
    applied: list[str]
    skipped: list[str]


def apply_run(db: Session, run_id: int, *, actor: str, items: list[str] | None = None,
              include_drifted: bool = False) -> ApplyReport:
    """Write a run's estimated (not anchor) parameters to the bank: the item versions' IRT
    fields, with origin ``calibration:<run>``; the replaced values stay in the run
    (``prev_*``) and in an ``irt_calibrated`` item event. ``items`` limits it to some external
    ids. A version whose parameters changed since the run was made is skipped."""
    run = db.scalar(select(CalibrationRun).where(CalibrationRun.id == run_id)
                    .options(selectinload(CalibrationRun.estimates)))
    if run is None:
        raise NotFoundError("校准记录", str(run_id))
    wanted = None if items is None else set(items)
    if wanted is not None:
        unknown = wanted - {e.external_id for e in run.estimates}
        if unknown:
            raise NotFoundError("校准记录中的题目", "、".join(sorted(unknown)))
    applied, skipped = [], []
    for e in run.estimates:
        if e.role != "estimated" or e.applied or (wanted is not None and e.external_id not in wanted):
            continue
        if e.drift and not include_drifted:
            skipped.append(e.external_id)
            continue
        v = db.get(ItemVersion, e.item_version_id)
        if (v.irt_model, v.irt_a, v.irt_b, v.irt_c) != (e.prev_model, e.prev_a, e.prev_b, e.prev_c):
            skipped.append(e.external_id)
            continue
        before = {"model": v.irt_model, "a": v.irt_a, "b": v.irt_b, "c": v.irt_c, "origin": v.irt_origin}
        v.irt_model = "1pl" if run.model == "rasch" else run.model
        v.irt_a, v.irt_b, v.irt_c = round(e.a, 4), round(e.b, 4), round(e.c, 4)
        v.irt_origin = f"calibration:{run.id}"
        e.applied = True
        db.add(ItemEvent(item_id=v.item_id, version_number=v.number, action="irt_calibrated", actor=actor,
                         detail={"run": run.id, "before": before,
                                 "after": {"model": v.irt_model, "a": v.irt_a, "b": v.irt_b, "c": v.irt_c,
                                           "se_a": e.se_a, "se_b": e.se_b}}))
        applied.append(e.external_id)
    if not applied:
        db.rollback()
        if wanted is not None or skipped:
            raise ConflictError(f"校准记录 {run_id} 没有可写入的估计值（跳过：{'、'.join(skipped) or '无'}）")
        return ApplyReport(run_id, [], skipped)
    run.status = "applied"
    run.applied_by = actor
    run.applied_at = datetime.now(UTC)
    db.commit()
    return ApplyReport(run_id, applied, skipped)
