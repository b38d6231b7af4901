"""Where the bank's IRT parameters come from, and what that means for results and for the
adaptive exam (issue 20: a programme's life cycle made visible).

* :func:`provenances`: each item version's :class:`~examengine.exam.items.ParameterOrigin`
  (provisional, calibrated here and by which run, linked, imported), with its Chinese label.
* :func:`versions_provisional_mark`: the 暂定 mark of a result scored on some item versions
  (for a scorer that holds version ids, e.g. a linear form; the adaptive scorer reads the
  origins from its pool, ``services.attempts._result``). The rule itself is
  ``exam.items.is_provisional``.
* :func:`bank_readiness`: per work domain of a blueprint, calibrated and provisional
  operational items, pretest items and their responses, the items the adaptive blueprint needs
  and the gap; ready or not, with the reasons.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from examengine.db.calibration_models import CalibrationEstimate, CalibrationRun
from examengine.db.forms_models import FormItem, PaperResult
from examengine.db.models import Attempt, AttemptItem, Domain, ItemVersion
from examengine.errors import DataFileError
from examengine.exam.attempts import AttemptStatus
from examengine.exam.blueprint import LOWER_LEVEL, Blueprint
from examengine.exam.items import (
    ParameterOrigin,
    ProvisionalMark,
    calibration_run_of,
    is_provisional,
    parameter_origin,
    provisional_mark,
)
from examengine.services.blueprints import get_blueprint_version
from examengine.services.mapping import BlueprintPool, load_pool

# ---------------------------------------------------------------- provenance of parameters


@dataclass(frozen=True)
class Provenance:
    """Where one item version's parameters come from."""

    origin: ParameterOrigin
    label: str  # Chinese: 暂定参数 / 已校准 / 已校准（等值链接）/ 外部导入
    run_id: int | None  # the calibration run that wrote them (calibrated, linked)
    stored: str  # the stored irt_origin as it is

    @property
    def text(self) -> str:
        """The label with the run: "已校准（校准记录 3）"."""
        if self.run_id is not None:
            return f"{self.label}（校准记录 {self.run_id}）"
        if self.origin is ParameterOrigin.IMPORTED:
            return f"{self.label}（{self.stored}）"
        return self.label


def _applied_runs(db: Session, version_ids: list[int]) -> dict[tuple[int, int], tuple[str, bool]]:
    """(version id, run id) -> (run mode, linked) for every estimate a run applied to these versions."""
    out: dict[tuple[int, int], tuple[str, bool]] = {}
    if not version_ids:
        return out
    rows = db.execute(select(CalibrationEstimate.item_version_id, CalibrationRun.id, CalibrationRun.mode,
                             CalibrationRun.options)
                      .join(CalibrationRun, CalibrationEstimate.run_id == CalibrationRun.id)
                      .where(CalibrationEstimate.applied.is_(True), CalibrationEstimate.item_version_id.in_(version_ids)))
    for vid, run_id, mode, options in rows:
        out[(vid, run_id)] = (mode, bool((options or {}).get("linking")))
    return out


def provenance_of(origin: str, version_id: int, applied: dict[tuple[int, int], tuple[str, bool]]) -> Provenance:
    run = calibration_run_of(origin)
    applied_run = applied.get((version_id, run)) if run is not None else None
    kind = parameter_origin(origin, applied_run)
    return Provenance(kind, kind.label, run if applied_run is not None else None, origin)


def provenances(db: Session, version_ids: Iterable[int]) -> dict[int, Provenance]:
    """Version id -> where its parameters come from. "calibration:<run>" is CALIBRATED or
    LINKED only when that run of this database applied an estimate to this very version
    (an item set exported elsewhere and imported here keeps its origin text: IMPORTED)."""
    ids = sorted(set(version_ids))
    if not ids:
        return {}
    origins = dict(db.execute(select(ItemVersion.id, ItemVersion.irt_origin).where(ItemVersion.id.in_(ids))).all())
    applied = _applied_runs(db, [i for i in ids if calibration_run_of(origins.get(i, "")) is not None])
    return {vid: provenance_of(o, vid, applied) for vid, o in origins.items()}


def versions_provisional_mark(db: Session, version_ids: Iterable[int]) -> ProvisionalMark:
    """The 暂定 mark of a result scored on these item versions (one entry per scored item), by
    their parameters as stored now: call it when the result is computed. Reusable by any
    scorer (a linear form, a paper form): the rule is ``exam.items.is_provisional``."""
    ids = list(version_ids)
    origins = dict(db.execute(select(ItemVersion.id, ItemVersion.irt_origin)
                              .where(ItemVersion.id.in_(set(ids)))).all()) if ids else {}
    return provisional_mark(origins[v] for v in ids)


def pool_provisional(bpool: BlueprintPool) -> int:
    """How many of a pool's items have provisional parameters."""
    return sum(1 for o in bpool.origins if is_provisional(o))


# ---------------------------------------------------------------- readiness of a blueprint


@dataclass(frozen=True)
class DomainReadiness:
    """One content area of the blueprint (a work domain, or "lower-level" when the blueprint
    draws on lower levels): its operational items by the origin of their parameters, its
    pretest items and their responses, and what the adaptive blueprint needs.

    ``need`` = ceil(max_length x content weight / exposure cap): the exposure rates of a
    domain's items sum to its share of the test, each at most the cap (the rule
    ``services.blueprints.exposure_capacity`` applies to the whole operational pool, here to
    the calibrated part at the blueprint's maximum length). ``calibrated`` counts every
    operational item whose parameters are not provisional (calibrated here, linked or
    imported with an origin other than provisional); ``by_origin`` breaks it down."""

    code: str
    name: str
    weight: float  # the content weight (share of an exam's items)
    operational: int
    calibrated: int
    provisional: int
    by_origin: dict[str, int]  # ParameterOrigin value -> operational items
    pretest: int  # pretest items of the blueprint's level in this domain
    pretest_responses_min: int | None  # scored answers (online) + paper results, per pretest item
    pretest_responses_median: float | None
    need: int
    gap: int  # max(0, need - calibrated)


@dataclass(frozen=True)
class Readiness:
    """Can the pool support the adaptive blueprint on calibrated parameters? ``ready`` iff no
    operational item of the pool has provisional parameters and every content area's
    calibrated items reach its need. ``reasons``: Chinese sentences (why not, or why so)."""

    blueprint: str
    version: int
    max_length: int
    exposure_max_rate: float
    ready: bool
    reasons: list[str]
    operational: int
    provisional: int
    domains: list[DomainReadiness] = field(default_factory=list)


def _pool_or_empty(db: Session, bp: Blueprint, status: str) -> BlueprintPool | None:
    try:
        return load_pool(db, bp, status=status)
    except DataFileError:  # no item of that status
        return None


def _responses_per_item(db: Session, item_ids: list[int]) -> dict[int, int]:
    """Item id -> stored scored answers to any of its versions (voided attempts left out) plus
    paper results of forms that hold one of its versions."""
    if not item_ids:
        return {}
    online = db.execute(
        select(ItemVersion.item_id, func.count())
        .join(AttemptItem, AttemptItem.item_version_id == ItemVersion.id)
        .join(Attempt, AttemptItem.attempt_id == Attempt.id)
        .where(ItemVersion.item_id.in_(item_ids), AttemptItem.answer.is_not(None), AttemptItem.score.is_not(None),
               Attempt.status != AttemptStatus.VOIDED.value)
        .group_by(ItemVersion.item_id)).all()
    paper = db.execute(
        select(ItemVersion.item_id, func.count())
        .join(FormItem, FormItem.item_version_id == ItemVersion.id)
        .join(PaperResult, PaperResult.form_id == FormItem.form_id)
        .where(ItemVersion.item_id.in_(item_ids))
        .group_by(ItemVersion.item_id)).all()
    out: Counter = Counter()
    for item_id, n in [*online, *paper]:
        out[item_id] += int(n)
    return dict(out)


def bank_readiness(db: Session, *, blueprint: str) -> Readiness:
    """``examengine bank readiness --blueprint B``: the latest version of blueprint ``B``
    against the bank as it is now (see :class:`Readiness`)."""
    row, bp = get_blueprint_version(db, blueprint)
    weights = bp.content_weights()
    operational = _pool_or_empty(db, bp, "operational")
    pretest = _pool_or_empty(db, bp, "pretest")
    names = {d.code: d.name for d in db.scalars(select(Domain).where(Domain.code.in_(bp.domains)))}
    names[LOWER_LEVEL] = "低级别内容"

    prov = provenances(db, operational.version_ids if operational else ())
    by_domain: dict[str, Counter] = {code: Counter() for code in weights}
    if operational is not None:
        for vid, dom in zip(operational.version_ids, operational.domains, strict=True):
            by_domain.setdefault(dom, Counter())[prov[vid].origin.value] += 1

    pretest_items: dict[str, list[int]] = {code: [] for code in weights}
    if pretest is not None:
        item_of = dict(db.execute(select(ItemVersion.id, ItemVersion.item_id)
                                  .where(ItemVersion.id.in_(pretest.version_ids))).all())
        for vid, dom in zip(pretest.version_ids, pretest.domains, strict=True):
            if dom != LOWER_LEVEL:  # the blueprint's pretest slots take items of its own level
                pretest_items.setdefault(dom, []).append(item_of[vid])
    responses = _responses_per_item(db, [i for ids in pretest_items.values() for i in ids])

    domains = []
    for code in weights:
        counts = by_domain.get(code, Counter())
        n_op = sum(counts.values())
        n_prov = counts.get(ParameterOrigin.PROVISIONAL.value, 0)
        need = math.ceil(bp.max_length * weights[code] / bp.exposure_max_rate - 1e-9) if weights[code] > 0 else 0
        resp = [responses.get(i, 0) for i in pretest_items.get(code, [])]
        domains.append(DomainReadiness(
            code=code, name=names.get(code, ""), weight=round(float(weights[code]), 4), operational=n_op,
            calibrated=n_op - n_prov, provisional=n_prov,
            by_origin={o.value: counts.get(o.value, 0) for o in ParameterOrigin},
            pretest=len(resp), pretest_responses_min=min(resp) if resp else None,
            pretest_responses_median=float(np.median(resp)) if resp else None,
            need=need, gap=max(0, need - (n_op - n_prov))))

    n_operational = sum(d.operational for d in domains)
    n_provisional = sum(d.provisional for d in domains)
    reasons = []
    if n_operational == 0:
        reasons.append(f"蓝图 {bp.id} 没有正式使用的题目。")
    elif n_provisional:
        reasons.append(f"正式使用的 {n_operational} 道题目中有 {n_provisional} 道仍是暂定参数（未经作答数据校准），"
                       "按它们计分的成绩只能是暂定成绩；请先收集作答并校准（examengine calibrate、calibration apply）。")
    for d in domains:
        if d.gap:
            reasons.append(f"{d.code}（{d.name}）：已校准的正式使用题目 {d.calibrated} 道，少于自适应考试所需的 "
                           f"{d.need} 道（最长 {bp.max_length} 题 × 内容比例 {d.weight:g} ÷ 曝光上限 "
                           f"{bp.exposure_max_rate:g}），还差 {d.gap} 道。")
    ready = not reasons
    if ready:
        reasons.append(f"全部 {n_operational} 道正式使用题目的参数均已校准，各工作领域的已校准题目都达到最长 "
                       f"{bp.max_length} 题、曝光上限 {bp.exposure_max_rate:g} 所需的题量。")
    return Readiness(blueprint=bp.id, version=row.version, max_length=bp.max_length,
                     exposure_max_rate=bp.exposure_max_rate, ready=ready, reasons=reasons, operational=n_operational,
                     provisional=n_provisional, domains=domains)
