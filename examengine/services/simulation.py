"""Simulation studies: a CAT policy on a synthetic bank (``examengine simulate``), a blueprint's
real policy (``--blueprint``), and Sympson-Hetter calibration stored with a blueprint version.
A study's options are the domain's Enums (the shells take them from ``services.study_options``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from examengine.errors import DataFileError, Problem
from examengine.exam.cat import CatSimulation, calibrate_exposure, simulate_cat
from examengine.exam.policy import CatPolicy
from examengine.exam.pool import ItemPool
from examengine.exam.study import (
    EXPOSURE_CALIBRATION_SHARE,
    BlueprintStudy,
    calibrate_blueprint_exposure,
    simulate_blueprint,
    synthetic_blueprint_pool,
)
from examengine.irt.estimation import EstimationMethod
from examengine.irt.exposure import ExposureParameters
from examengine.irt.params import IrtModel
from examengine.irt.selection import SelectionRule, StartRule
from examengine.irt.simulate import SimulationReport, grid_thetas, normal_thetas, synthetic_bank
from examengine.services.blueprints import (
    exposure_capacity,
    get_blueprint_version,
    load_pool,
    resolve_cuts,
)
from examengine.services.mapping import stored_exposure

Progress = Callable[[str, int, int], None]


# ---------------------------------------------------------------- a policy on a synthetic bank


@dataclass(frozen=True)
class StudyResult:
    """A finished study: the raw simulation, its report, and the exposure
    parameters used (if Sympson-Hetter was calibrated)."""

    simulation: CatSimulation
    report: SimulationReport
    exposure: ExposureParameters | None
    calibration_iterations: int | None
    seconds: float

    def to_dict(self, settings: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"settings": settings}
        out.update(self.report.to_dict())
        out["stop_reasons"] = self.simulation.stop_reason_counts()
        out["exposure_control"] = (
            None if self.exposure is None else
            {"method": "sympson_hetter", "target": self.exposure.target,
             "calibration_iterations": self.calibration_iterations,
             "restricted_items": int(np.sum(self.exposure.k < 1.0))})
        out["seconds"] = self.seconds
        return out


def run_study(
    pool: ItemPool,
    policy: CatPolicy,
    thetas: np.ndarray,
    *,
    seed: int,
    exposure: ExposureParameters | None = None,
    calibrate: bool = False,
    calibration_simulees: int = 1000,
    progress: Progress | None = None,
) -> StudyResult:
    """Simulate ``policy`` on ``pool`` for the given true thetas.

    With ``calibrate`` (and ``policy.exposure_target``), Sympson-Hetter
    parameters are first found by iterative simulation on separate
    N(0, 1) simulees. ``progress(stage, done, total)`` reports progress.
    """
    started = time.perf_counter()
    iterations = None
    if calibrate:
        max_iter = 20

        def on_round(iteration: int, _max_exposure: float) -> None:
            if progress is not None:
                progress("calibrate", iteration, max_iter)

        cal = calibrate_exposure(pool, policy, n_simulees=calibration_simulees, seed=seed + 1,
                                 max_iterations=max_iter, tolerance=0.01, progress=on_round)
        exposure, iterations = cal.parameters, cal.iterations
    total = int(thetas.size)
    sim = simulate_cat(pool, policy, thetas, seed=seed, exposure=exposure,
                       progress=None if progress is None else (lambda k: progress("simulate", k, total)))
    return StudyResult(sim, sim.report(policy), exposure, iterations, time.perf_counter() - started)


def study_policy(*, length: int | None = None, min_length: int | None = None, max_length: int | None = None,
                 se_target: float | None = None, confidence: float = 0.95, cuts: tuple[float, ...] = (),
                 selection: SelectionRule = SelectionRule.MAX_INFO, start: StartRule = StartRule.PRIOR_MEAN,
                 randomesque: int = 1, estimator: EstimationMethod = EstimationMethod.EAP,
                 exposure_target: float | None = None) -> CatPolicy:
    """The policy of a study: fixed ``length``, or variable up to ``max_length`` (at least
    ``min_length``, default 1) stopping on ``se_target`` or, with ``cuts``, on the confidence
    interval. A ValueError names a bad setting."""
    common: dict[str, Any] = dict(selection=selection, start=start, randomesque_k=randomesque, estimator=estimator,
                                  cuts=cuts, exposure_target=exposure_target)
    if length is not None:
        return CatPolicy.fixed_length(length, **common)
    if max_length is None:
        raise ValueError("give a length or a maximum length")
    return CatPolicy(min_length=min(min_length if min_length is not None else 1, max_length),
                     max_length=max_length, se_target=se_target, confidence=confidence, **common)


def theta_grid(text: str) -> np.ndarray:
    """True thetas on a grid written ``lower:upper:n`` (one simulee a point)."""
    parts = text.split(":")
    try:
        lower, upper, n = float(parts[0]), float(parts[1]), int(parts[2])
        if len(parts) != 3:
            raise ValueError
        return grid_thetas(lower, upper, n)
    except (ValueError, IndexError):
        raise ValueError(f"--theta-grid must look like -3:3:61, got {text!r}") from None


def synthetic_study(policy: CatPolicy, *, bank_size: int, seed: int, model: IrtModel = IrtModel.THREE_PL,
                    thetas: np.ndarray | None = None, n_simulees: int = 1000, theta_mean: float = 0.0,
                    theta_sd: float = 1.0, calibration_simulees: int = 1000,
                    progress: Progress | None = None) -> StudyResult:
    """``examengine simulate --synthetic-bank N``: ``policy`` on a synthetic bank of ``bank_size``
    items (``irt.simulate.synthetic_bank``, seeded by ``[seed, 0]``), for ``thetas`` or else
    ``n_simulees`` drawn from N(theta_mean, theta_sd^2) (seeded by ``[seed, 1]``). With
    ``policy.exposure_target``, Sympson-Hetter parameters are calibrated first."""
    params = synthetic_bank(bank_size, np.random.default_rng([seed, 0]), model=model)
    pool = ItemPool.from_params(params)
    if thetas is None:
        thetas = normal_thetas(n_simulees, np.random.default_rng([seed, 1]), theta_mean, theta_sd)
    return run_study(pool, policy, thetas, seed=seed, calibrate=policy.exposure_target is not None,
                     calibration_simulees=calibration_simulees, progress=progress)


# ---------------------------------------------------------------- a blueprint's policy


def blueprint_study(db: Session, code: str, *, n_simulees: int, seed: int, synthetic_bank: int | None = None,
                    calibration_simulees: int = 600, progress: Progress | None = None) -> tuple[BlueprintStudy, dict]:
    """Simulate a blueprint's real policy on the stored operational pool, or on a synthetic pool
    of ``synthetic_bank`` items laid out like it. Returns the study and its settings."""
    row, bp = get_blueprint_version(db, code)
    stored = load_pool(db, bp)
    cuts = tuple(c.theta for c in resolve_cuts(bp, stored.pool.params))
    exposure = None
    if synthetic_bank:
        pool = synthetic_blueprint_pool(bp, synthetic_bank, np.random.default_rng([seed, 3]), cuts)
        source = f"synthetic:{synthetic_bank}"
    else:
        pool = stored.pool
        exposure = stored_exposure(row, pool)
        source = "stored"
    exposure_source = "stored" if exposure is not None else "calibrated for this run"
    started = time.perf_counter()
    if exposure is None:
        exposure = calibrate_blueprint_exposure(bp, pool, cuts, seed=seed, n_simulees=calibration_simulees,
                                                progress=progress)
    study = simulate_blueprint(bp, pool, cuts, n_simulees=n_simulees, seed=seed, exposure=exposure,
                               progress=progress)
    # the whole run, the Sympson-Hetter calibration included
    study = dataclasses.replace(study, seconds=time.perf_counter() - started)
    settings = {"blueprint": code, "blueprint_version": row.version, "pool": source, "simulees": n_simulees,
                "seed": seed, "theta": "N(0, 1)", "exposure_parameters": exposure_source}
    return study, settings


@dataclass(frozen=True)
class ExposureCalibration:
    code: str
    version: int
    target: float
    n_items: int
    restricted_items: int
    max_exposure: float
    pool_used_share: float
    exhausted_share: float  # check attempts that ran out of items


# a calibration is refused when more check attempts than this ran out of items
EXHAUSTED_SHARE_LIMIT = 0.01


def calibration_problem(bp, stored, check: BlueprintStudy, *, has_stored: bool = False) -> str | None:
    """Why Sympson-Hetter parameters checked by ``check`` (a fresh simulation with them) must
    not be stored, or None. Two failures: attempts that run out of items (each rejection by the
    exposure lottery sets an item aside for the rest of the attempt, so on a pool too small for
    the cap long attempts end early, less accurate than the blueprint promises), and a maximum
    exposure above the cap by more than the check's sampling error (2.5 binomial SDs at the cap,
    which covers the maximum of a pool's noisy rates).

    The advice sizes cap and pool for the length attempts would have had: the maximum when the
    blueprint decides the band (nearly every attempt runs to it), else the check's mean length
    raised as if the share of attempts that ran out of items had run on from it to the maximum
    (an estimate: 530046-L2 on the sample bank, 112 items, is refused at 0.25 with the advice
    0.41, and calibrates at 0.41 with no attempt running out). ``has_stored``: the version keeps
    parameters of an earlier calibration, which the message says stay in use."""
    n = max(check.n_simulees, 1)
    exhausted = _exhausted(check)
    cap = bp.exposure_max_rate
    slack = 2.5 * float(np.sqrt(cap * (1 - cap) / n))
    if exhausted <= EXHAUSTED_SHARE_LIMIT and check.max_exposure <= cap + slack:
        return None
    found = []
    if exhausted > EXHAUSTED_SHARE_LIMIT:
        found.append(f"{exhausted:.0%} 的考试因题库用尽提前结束")
    if check.max_exposure > cap + slack:
        found.append(f"最大曝光率 {check.max_exposure:.3f} 超过上限 {cap:g}")
    length = float(bp.max_length) if bp.decide == "band" else min(
        float(bp.max_length), check.mean_length + exhausted * (bp.max_length - check.mean_length))
    need, pool_need = exposure_capacity(bp, stored, length, EXPOSURE_CALIBRATION_SHARE)
    advice = (f"请把曝光上限提高到至少 {need:g}，或" if need > cap else "请再提高曝光上限，或")
    meanwhile = "此版本已保存的参数保持不变" if has_stored else "保存之前，此版本的在线考试不做曝光控制"
    return (f"{len(stored.pool)} 道正式使用的题目在曝光率上限 {cap:g} 下无法标定（{check.n_simulees} 名模拟考生的"
            f"检验中，{'，'.join(found)}），未保存参数（{meanwhile}）。"
            f"各题曝光率之和等于平均考试长度（此处约 {length:.1f} 题），"
            f"标定以上限的 {EXPOSURE_CALIBRATION_SHARE:g} 倍为目标：{advice}把题库扩充到至少 {pool_need} 道正式题（按领域权重分配）")


def calibrate_and_store(db: Session, code: str, *, seed: int = 0, n_simulees: int = 1000,
                        progress: Progress | None = None) -> ExposureCalibration:
    """``examengine exposure calibrate``: Sympson-Hetter parameters for the blueprint's policy on
    the stored pool, by iterative simulation, checked on fresh simulees, stored with the version."""
    row, bp = get_blueprint_version(db, code)
    stored = load_pool(db, bp)
    cuts = tuple(c.theta for c in resolve_cuts(bp, stored.pool.params))
    params = calibrate_blueprint_exposure(bp, stored.pool, cuts, seed=seed, n_simulees=n_simulees,
                                          progress=progress)
    check = simulate_blueprint(bp, stored.pool, cuts, n_simulees=n_simulees, seed=seed + 99, exposure=params)
    unmet = calibration_problem(bp, stored, check, has_stored=bool(row.exposure))
    if unmet:  # parameters that end exams early or break the cap are not stored
        raise DataFileError([Problem(f"{bp.id}.yaml", "", "exposure.max_rate", unmet)])
    row.exposure = {
        "target": bp.exposure_max_rate,
        "k": {item: float(k) for item, k in zip(stored.pool.item_ids, params.k, strict=True)},
        "calibrated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "check": {"max_exposure": check.max_exposure, "pool_used_share": check.pool_used_share,
                  "pass_fail_accuracy": check.pass_fail_accuracy, "mean_length": check.mean_length,
                  "exhausted_share": _exhausted(check)},
    }
    db.commit()
    return ExposureCalibration(code, row.version, bp.exposure_max_rate, stored.pool.n_items,
                               int(np.sum(params.k < 1.0)), check.max_exposure, check.pool_used_share,
                               _exhausted(check))


def _exhausted(check: BlueprintStudy) -> float:
    return check.stop_reasons.get("pool_exhausted", 0) / max(check.n_simulees, 1)


# ---------------------------------------------------------------- exposure parameters shipped with the sample bank

#: Sympson-Hetter parameters calibrated on the shipped sample bank, one entry per blueprint, in
#: the blueprints folder; ``examengine init`` stores an entry when it was calibrated on exactly
#: the blueprint and the operational pool in the database (``exposure_digest``), so a fresh
#: install runs its online exams with exposure control without a minute of simulation per
#: blueprint. Written by ``scripts/ship_exposure.py``.
SHIPPED_EXPOSURE_FILE = "exposure.json"


def exposure_digest(bp, bpool) -> str:
    """What exposure parameters were calibrated on: the blueprint's content, and the pool's items
    in order with their parameters, domains, types and enemy groups (SHA-256 of canonical JSON)."""
    pool = bpool.pool
    payload = {
        "blueprint": json.loads(json.dumps(bp.source, ensure_ascii=False, sort_keys=True, default=str)),
        "items": [[item, round(float(a), 6), round(float(b), 6), round(float(c), 6), domain, kind]
                  for item, a, b, c, domain, kind in zip(pool.item_ids, pool.params.a, pool.params.b, pool.params.c,
                                                         bpool.domains, bpool.types, strict=True)],
        "enemies": sorted(sorted(pool.item_ids[i] for i in group) for group in pool.enemy_groups),
    }
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def export_exposure(db: Session, codes: list[str]) -> dict:
    """The stored parameters of ``codes`` (latest versions) with their digests, as the file keeps them."""
    out = {}
    for code in codes:
        row, bp = get_blueprint_version(db, code)
        if not (row.exposure or {}).get("k"):
            raise DataFileError([Problem(f"{code}.yaml", "", "exposure", f"{code} 没有已标定的曝光参数，无法导出")])
        out[code] = {"digest": exposure_digest(bp, load_pool(db, bp)), "exposure": row.exposure}
    return out


@dataclass(frozen=True)
class ShippedExposure:
    code: str
    action: str  # stored / kept (the version has parameters already) / stale (calibrated on another pool) / absent


def load_shipped_exposure(db: Session, shipped: dict, codes: list[str]) -> list[ShippedExposure]:
    """Store the shipped parameters of each blueprint in ``codes`` whose latest version has none
    and whose blueprint and operational pool are exactly those they were calibrated on."""
    out = []
    for code in codes:
        row, bp = get_blueprint_version(db, code)
        entry = shipped.get(code)
        if (row.exposure or {}).get("k"):
            out.append(ShippedExposure(code, "kept"))
        elif entry is None:
            out.append(ShippedExposure(code, "absent"))
        elif entry.get("digest") != exposure_digest(bp, load_pool(db, bp)):
            out.append(ShippedExposure(code, "stale"))
        else:
            row.exposure = entry["exposure"]
            out.append(ShippedExposure(code, "stored"))
    db.commit()
    return out
