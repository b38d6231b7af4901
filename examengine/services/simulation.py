"""Simulation studies of a blueprint, and Sympson-Hetter calibration stored with it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy.orm import Session

from examengine.exam.study import (
    BlueprintStudy,
    calibrate_blueprint_exposure,
    simulate_blueprint,
    synthetic_blueprint_pool,
)
from examengine.irt.exposure import ExposureParameters
from examengine.services.blueprints import get_blueprint_version, load_pool, resolve_cuts

Progress = Callable[[str, int, int], None]


def stored_exposure(row, pool) -> ExposureParameters | None:
    """The blueprint version's stored Sympson-Hetter parameters for this pool: items retired
    since the calibration are dropped; an item that joined the pool since has K = 1 (no
    restriction yet, as at the start of a calibration) until the next `exposure calibrate`.
    None when nothing is stored or none of the pool's items was calibrated."""
    data = (row.exposure or {}).get("k")
    if not data or not any(i in data for i in pool.item_ids):
        return None
    return ExposureParameters(np.array([float(data.get(i, 1.0)) for i in pool.item_ids]),
                              target=row.exposure.get("target"))


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
    row.exposure = {
        "target": bp.exposure_max_rate,
        "k": {item: float(k) for item, k in zip(stored.pool.item_ids, params.k, strict=True)},
        "calibrated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "check": {"max_exposure": check.max_exposure, "pool_used_share": check.pool_used_share,
                  "pass_fail_accuracy": check.pass_fail_accuracy, "mean_length": check.mean_length},
    }
    db.commit()
    return ExposureCalibration(code, row.version, bp.exposure_max_rate, stored.pool.n_items,
                               int(np.sum(params.k < 1.0)), check.max_exposure, check.pool_used_share)
