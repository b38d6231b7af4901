"""The measurement behind the engine-recovery table of docs/calibration.md (not a test):

    .venv/bin/python -m tests.calibration.measure_engine_recovery 0.35 2026,7,11,3,5

One JSON line a seed: items with >= 200 responses, r(a), r(b), the r(a) of an oracle that
knows the true thetas (per-item logistic regression, no EM, no prior), the largest
administered rate, and the seconds of each part. About 25 s a seed.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from scipy.special import expit

from examengine.irt.calibration import CalibrationModel, calibrate
from examengine.irt.params import IrtModel
from examengine.irt.simulate import synthetic_bank

from .test_engine_recovery import N_ITEMS, EngineLogs, engine_logs, recovery


def oracle_r_a(logs: EngineLogs, seed: int, a_log_sd: float, seen: np.ndarray) -> float:
    """r(a) of per-item logistic regressions on the true thetas (redrawn as engine_logs does)."""
    rng = np.random.default_rng(seed)
    bank = synthetic_bank(N_ITEMS, rng, model=IrtModel.TWO_PL, a_median=1.2, a_log_sd=a_log_sd)
    assert np.array_equal(bank.a, logs.bank.a)
    theta = rng.normal(size=logs.data.n_persons)
    d = logs.data
    a_hat = np.full(N_ITEMS, np.nan)
    for i in np.flatnonzero(seen):
        m = d.item == i
        x = np.column_stack([np.ones(int(m.sum())), theta[d.person[m]]])
        u = d.score[m]
        w = np.zeros(2)
        for _ in range(30):
            p = expit(x @ w)
            w += np.linalg.solve(x.T @ (x * (p * (1 - p))[:, None]) + 1e-9 * np.eye(2), x.T @ (u - p))
        a_hat[i] = w[1]
    return float(np.corrcoef(a_hat[seen], logs.bank.a[seen])[0, 1])


def main(argv: list[str]) -> None:
    a_log_sd = float(argv[0])
    for seed in (int(s) for s in argv[1].split(",")):
        started = time.perf_counter()
        logs = engine_logs(seed, a_log_sd=a_log_sd)
        simulated = time.perf_counter()
        result = calibrate(logs.data, CalibrationModel.TWO_PL, compute_se=False)
        done = time.perf_counter()
        n_seen, r_a, r_b = recovery(logs, result)
        seen = result.n_responses >= 200
        print(json.dumps({
            "seed": seed, "a_log_sd": a_log_sd, "items_200": n_seen, "r_a": round(r_a, 3), "r_b": round(r_b, 4),
            "oracle_r_a": round(oracle_r_a(logs, seed, a_log_sd, seen), 3),
            "max_exposure": round(logs.max_exposure, 3), "k_below_1": int((logs.exposure.k < 1).sum()),
            "true_log_a_sd_200": round(float(np.log(logs.bank.a[seen]).std()), 3),
            "seconds_exposure": round(logs.seconds["exposure"], 1),
            "seconds_simulation": round(logs.seconds["simulation"], 1),
            "seconds_em": round(done - simulated, 1), "seconds": round(done - started, 1),
        }), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
