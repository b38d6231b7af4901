"""Recovery from adaptive-exam logs made by the project's own CAT engine (issue #8): the
state machine of ``exam.cat`` (``simulate_cat``) with Sympson-Hetter exposure control,
then the EM on the sparse logs with its default priors.

``engine_logs`` is shared with ``measure_engine_recovery.py``, whose numbers
docs/calibration.md quotes: the table there comes from this very code."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from examengine.exam.cat import calibrate_exposure, simulate_cat
from examengine.exam.policy import CatPolicy
from examengine.exam.pool import ItemPool
from examengine.irt.calibration import (
    CalibrationModel,
    CalibrationResult,
    ResponseData,
    calibrate,
)
from examengine.irt.exposure import ExposureParameters
from examengine.irt.params import IrtModel, ItemParams
from examengine.irt.selection import StartRule
from examengine.irt.simulate import synthetic_bank

N_ITEMS = 500
N_PERSONS = 10_000
LENGTH = 40
EXPOSURE_MAX = 0.25
A_LOG_SD = 0.35


@dataclass(frozen=True, eq=False)
class EngineLogs:
    bank: ItemParams
    exposure: ExposureParameters
    max_exposure: float  # the largest administered rate in the N_PERSONS run
    lengths: np.ndarray
    data: ResponseData
    seconds: dict[str, float]


def engine_logs(seed: int, *, a_log_sd: float = A_LOG_SD, n_items: int = N_ITEMS, n_persons: int = N_PERSONS,
                length: int = LENGTH) -> EngineLogs:
    """A 2PL bank (a ~ lognormal(log 1.2, a_log_sd), b ~ N(0, 1)), Sympson-Hetter parameters
    for a 25 % ceiling, then ``n_persons`` (theta ~ N(0, 1)) through ``simulate_cat``.

    Policy: fixed length, maximum information at the EAP, the first item at a random theta
    in [-1, 1], no randomesque (the lottery is the exposure control). The parameters are
    calibrated as ``exam.study.calibrate_blueprint_exposure`` does, at 0.9 x the ceiling,
    with 500 simulees a round and 8 rounds (the best round is kept); rounds of 500 are noisy
    (SD 0.019 a rate), which is why the ceiling and not the calibration target is checked."""
    rng = np.random.default_rng(seed)
    bank = synthetic_bank(n_items, rng, model=IrtModel.TWO_PL, a_median=1.2, a_log_sd=a_log_sd)
    pool = ItemPool.build([f"I{i:04d}" for i in range(n_items)], bank)
    policy = CatPolicy.fixed_length(length, start=StartRule.RANDOM_THETA, exposure_target=EXPOSURE_MAX)
    started = time.perf_counter()
    sh = calibrate_exposure(pool, policy, target=0.9 * EXPOSURE_MAX, n_simulees=500, seed=seed, max_iterations=8)
    calibrated = time.perf_counter()
    theta = rng.normal(size=n_persons)
    person: list[np.ndarray] = []
    item: list[np.ndarray] = []
    score: list[np.ndarray] = []

    def keep(i: int, state) -> None:
        person.append(np.full(len(state.items), i))
        item.append(np.asarray(state.items))
        score.append(np.asarray(state.scores))

    sim = simulate_cat(pool, policy, theta, seed=seed + 1, exposure=sh.parameters, on_finish=keep)
    data = ResponseData.from_cells(np.concatenate(person), np.concatenate(item), np.concatenate(score),
                                   n_persons, n_items)
    return EngineLogs(bank, sh.parameters, float(sim.exposure_rates().administered.max()), sim.lengths, data,
                      {"exposure": calibrated - started, "simulation": time.perf_counter() - calibrated})


def recovery(logs: EngineLogs, result: CalibrationResult, min_responses: int = 200) -> tuple[int, float, float]:
    """(items with at least ``min_responses``, r(a), r(b)) on those items."""
    seen = result.n_responses >= min_responses
    r_a = float(np.corrcoef(result.params.a[seen], logs.bank.a[seen])[0, 1])
    r_b = float(np.corrcoef(result.params.b[seen], logs.bank.b[seen])[0, 1])
    return int(seen.sum()), r_a, r_b


def test_logs_of_the_cat_engine_with_exposure_control_recover_difficulty_and_discrimination():
    """Issue #8: 500 items, 10,000 persons, 40 answered each, Sympson-Hetter on; on the items
    with at least 200 responses r(a) >= 0.85 and r(b) >= 0.98. log a SD 0.35 is the top of
    the realistic range for these banks; at 0.30 the bar does not hold for every seed (the
    table and the reasons are in docs/calibration.md)."""
    logs = engine_logs(2026)
    assert (logs.lengths == LENGTH).all()
    assert (logs.data.person_counts() == LENGTH).all()
    # exposure control was on and held the ceiling up to sampling noise (without it the most
    # used item reaches 85 % of the persons)
    assert (logs.exposure.k < 1).sum() >= 100
    assert logs.max_exposure <= EXPOSURE_MAX + 0.03
    result = calibrate(logs.data, CalibrationModel.TWO_PL, compute_se=False)
    assert result.convergence.converged
    n_seen, r_a, r_b = recovery(logs, result)
    assert n_seen >= 150
    assert r_b >= 0.98
    assert r_a >= 0.85
