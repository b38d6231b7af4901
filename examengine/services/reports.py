"""What the report pages show: an item's model curves beside its observed proportions
correct by ability group, with its classical statistics and calibration history; a
blueprint's operational pool information with the cut scores. Read-only use cases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from examengine.db.calibration_models import CalibrationEstimate, CalibrationRun
from examengine.db.models import Attempt, AttemptItem, Item, ItemVersion
from examengine.errors import NotFoundError
from examengine.exam.attempts import AttemptStatus
from examengine.irt.item_analysis import empirical_icc, icc_group_count, wilson_interval
from examengine.irt.models import item_information, probability
from examengine.irt.params import ItemParams
from examengine.services.blueprints import (
    ResolvedCut,
    exposure_calibrated,
    get_blueprint_version,
    load_pool,
    resolve_cuts,
)
from examengine.services.calibration import PROMOTION_LABELS, ItemStatsView, item_statistics
from examengine.services.parameters import provenances

THETA_GRID = np.round(np.linspace(-4.0, 4.0, 161), 6)  # the abscissa of every curve (step 0.05)


@dataclass(frozen=True)
class ParamsView:
    source: str  # "bank" or "calibration:<run id>"
    model: str
    a: float
    b: float
    c: float
    se_a: float | None = None
    se_b: float | None = None
    run_id: int | None = None


@dataclass(frozen=True)
class IccGroup:
    theta: float  # mean ability of the group
    low: float
    high: float
    n: int
    observed: float  # proportion correct
    expected: float  # mean model probability (bank parameters) over the group's persons
    ci_low: float  # Wilson 95 % interval of the observed proportion
    ci_high: float


@dataclass(frozen=True)
class CalibrationHistoryRow:
    run_id: int
    created_at: str
    model: str
    role: str
    n_responses: int
    a: float
    b: float
    c: float
    se_a: float | None
    se_b: float | None
    rmsd: float | None
    infit: float | None
    outfit: float | None
    drift: bool
    eligible: bool | None
    reason_labels: list[str]
    applied: bool


@dataclass(frozen=True)
class ItemReport:
    external_id: str
    status: str
    level: str
    version: int
    versions_with_responses: dict[int, int]  # version number -> answered responses
    bank: ParamsView
    calibrated: ParamsView | None  # the latest run's estimate of this version, when it differs from the bank
    n_answered: int  # answered (scored) responses of this version, in attempts not voided
    n_with_theta: int  # of those, in attempts with an ability estimate (finished)
    groups: list[IccGroup]
    theta_grid: list[float]
    icc_bank: list[float]
    info_bank: list[float]
    icc_calibrated: list[float] | None
    info_calibrated: list[float] | None
    stats: ItemStatsView | None
    history: list[CalibrationHistoryRow]
    origin: str = ""  # where the bank parameters come from (exam.items.ParameterOrigin value)
    origin_label: str = ""  # Chinese, with the run: 已校准（校准记录 3）


def _params(model: str, a: float, b: float, c: float) -> ItemParams:
    return ItemParams.three_pl([a], [b], [c])


def _curve(values: np.ndarray) -> list[float]:
    return [round(float(x), 5) for x in values]


def item_report(db: Session, external_id: str, *, version: int | None = None) -> ItemReport:
    """The report of one item version (default: the newest version with responses, else the
    current one). Abilities are the attempts' final estimates (EAP on the bank scale);
    responses of attempts without one (unfinished) are counted but not grouped."""
    item = db.scalars(select(Item).where(Item.external_id == external_id)
                      .options(selectinload(Item.versions), selectinload(Item.level))).first()
    if item is None:
        raise NotFoundError("题目", external_id)
    answered = (AttemptItem.answer.is_not(None), AttemptItem.score.is_not(None), Attempt.status != AttemptStatus.VOIDED.value)
    counts = dict(db.execute(
        select(ItemVersion.number, func.count()).select_from(AttemptItem)
        .join(ItemVersion, AttemptItem.item_version_id == ItemVersion.id)
        .join(Attempt, AttemptItem.attempt_id == Attempt.id)
        .where(ItemVersion.item_id == item.id, *answered).group_by(ItemVersion.number)).all())
    by_number = {v.number: v for v in item.versions}
    if version is None:
        number = max(counts) if counts else item.current_version
    elif version in by_number:
        number = version
    else:
        raise NotFoundError("题目版本", f"{external_id} v{version}")
    v = by_number[number]
    rows = db.execute(select(Attempt.theta, AttemptItem.score).join(Attempt, AttemptItem.attempt_id == Attempt.id)
                      .where(AttemptItem.item_version_id == v.id, *answered)
                      .order_by(AttemptItem.attempt_id)).all()
    theta = np.array([np.nan if t is None else t for t, _ in rows], dtype=float)
    score = np.array([1.0 if s > 0 else 0.0 for _, s in rows])
    has = np.isfinite(theta)
    bank_params = _params(v.irt_model, v.irt_a, v.irt_b, v.irt_c)
    groups: list[IccGroup] = []
    g = icc_group_count(int(has.sum()))
    if g:
        th, sc = theta[has], score[has]
        emp = empirical_icc(th, sc, g, model_p=probability(th, bank_params)[:, 0])
        lo, hi = wilson_interval(np.rint(emp.proportion * emp.n), emp.n)
        groups = [IccGroup(float(emp.theta[k]), float(emp.low[k]), float(emp.high[k]), int(emp.n[k]),
                           float(emp.proportion[k]), float(emp.expected[k]), float(lo[k]), float(hi[k]))
                  for k in range(g)]
    history_rows = db.execute(
        select(CalibrationEstimate, CalibrationRun).join(CalibrationRun, CalibrationEstimate.run_id == CalibrationRun.id)
        .where(CalibrationEstimate.item_version_id == v.id).order_by(CalibrationRun.id.desc())).all()
    history = [CalibrationHistoryRow(
        run.id, run.created_at.isoformat(), run.model, e.role, e.n_responses, e.a, e.b, e.c, e.se_a, e.se_b, e.rmsd,
        e.infit, e.outfit, e.drift, e.eligible, [PROMOTION_LABELS.get(r, r) for r in e.reasons], e.applied)
        for e, run in history_rows]
    calibrated = None
    latest = next((h for h in history if h.role == "estimated"), None)
    if latest is not None and (round(latest.a, 4), round(latest.b, 4), round(latest.c, 4)) != (
            round(v.irt_a, 4), round(v.irt_b, 4), round(v.irt_c, 4)):
        calibrated = ParamsView(f"calibration:{latest.run_id}", latest.model, latest.a, latest.b, latest.c,
                                latest.se_a, latest.se_b, latest.run_id)
    stats = next((s for s in item_statistics(db, scope=item.level.code, items=[external_id])
                  if s.version_id == v.id), None) if counts else None
    prov = provenances(db, [v.id])[v.id]
    cal_params = None if calibrated is None else _params(calibrated.model, calibrated.a, calibrated.b, calibrated.c)
    return ItemReport(
        external_id=item.external_id, status=item.status, level=item.level.code, version=number,
        versions_with_responses=dict(sorted(counts.items())),
        bank=ParamsView("bank", v.irt_model, v.irt_a, v.irt_b, v.irt_c),
        calibrated=calibrated, n_answered=len(rows), n_with_theta=int(has.sum()), groups=groups,
        theta_grid=[float(x) for x in THETA_GRID],
        icc_bank=_curve(probability(THETA_GRID, bank_params)[:, 0]),
        info_bank=_curve(item_information(THETA_GRID, bank_params)[:, 0]),
        icc_calibrated=None if cal_params is None else _curve(probability(THETA_GRID, cal_params)[:, 0]),
        info_calibrated=None if cal_params is None else _curve(item_information(THETA_GRID, cal_params)[:, 0]),
        stats=stats, history=history, origin=prov.origin.value, origin_label=prov.text,
    )


# ---------------------------------------------------------------- blueprints


@dataclass(frozen=True)
class CutInformation:
    level_name: str
    theta: float
    percent_correct: float
    given: str  # theta / percent_correct
    pool_information: float
    best_information: float  # the max_length most informative items at this theta
    best_se: float


@dataclass(frozen=True)
class BlueprintInformation:
    code: str
    version: int
    name: str
    pool_size: int
    max_length: int
    se_target: float | None
    theta_grid: list[float]
    pool_information: list[float]  # sum over the operational pool
    best_information: list[float]  # at each theta, the max_length most informative pool items
    cuts: list[CutInformation]
    exposure: ExposureStatus


@dataclass(frozen=True)
class ExposureStatus:
    """A blueprint version's exposure control as online exams run it."""

    max_rate: float
    progressive_items: int
    calibrated: bool  # False: no Sympson-Hetter parameters stored, no exposure control online
    calibrated_at: str  # ISO time, "" when unknown
    restricted_items: int  # items whose stored k < 1
    check: dict  # the calibration's check simulation (keys of services.simulation.calibrate_and_store)


def exposure_status(row, bp) -> ExposureStatus:
    if not exposure_calibrated(row):
        return ExposureStatus(bp.exposure_max_rate, bp.progressive_items, False, "", 0, {})
    stored = row.exposure
    return ExposureStatus(bp.exposure_max_rate, bp.progressive_items, True, stored.get("calibrated_at", ""),
                          sum(1 for v in stored["k"].values() if v < 1.0), dict(stored.get("check") or {}))


def blueprint_information(db: Session, code: str, *, version: int | None = None) -> BlueprintInformation:
    """The information of a blueprint's operational pool (the items an exam draws from, current
    parameters) over theta, and at each cut score (as ``resolve_cuts`` gives it). ``best``: at
    each theta, the sum of the ``max_length`` largest item informations, the most a
    maximum-length exam could gather there (before content and exposure rules)."""
    row, bp = get_blueprint_version(db, code, version)
    params = load_pool(db, bp).pool.params
    cuts: list[ResolvedCut] = resolve_cuts(bp, params)

    def info_at(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        info = item_information(theta, params)
        top = np.sort(info, axis=-1)[..., ::-1][..., : bp.max_length]
        return info.sum(axis=-1), top.sum(axis=-1)

    pool_curve, best_curve = info_at(THETA_GRID)
    cut_pool, cut_best = info_at(np.array([c.theta for c in cuts]))
    return BlueprintInformation(
        code=row.code, version=row.version, name=row.name, pool_size=params.n_items, max_length=bp.max_length,
        se_target=bp.se_target, theta_grid=[float(x) for x in THETA_GRID], pool_information=_curve(pool_curve),
        best_information=_curve(best_curve),
        cuts=[CutInformation(c.level_name, c.theta, c.percent_correct, c.given, float(cut_pool[k]),
                             float(cut_best[k]), float(1.0 / np.sqrt(cut_best[k])))
              for k, c in enumerate(cuts)],
        exposure=exposure_status(row, bp),
    )
