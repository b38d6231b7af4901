"""Per-step latency and a full simulation: examengine vs catsim 0.21, same run.

Per step (select + update) on synthetic 3PL banks of 500, 5,000 and 20,000
items with 20 items already given adaptively to a simulee with theta = 0.5:

* examengine: ``next_item`` (exact max-info, pruned search) + ``record``
  (incremental EAP on 81 grid points, stop check), through the real
  ``CatState`` machine;
* catsim: ``MaxInfoSelector().select`` + ``NumericalSearchEstimator().estimate``
  (defaults: bounded Brent on [-6, 6], Dodd) on the same bank, the same
  administered items (a list of numpy.int64, as catsim's own Simulator
  passes them) and the same responses.

Full simulation: 1,000 simulees, theta ~ N(0, 1) (seed 2024), fixed length 30,
5,000-item bank, start at theta = 0, max-info selection; examengine
(``simulate_cat``, EAP) vs catsim's ``Simulator`` (MaxInfo + MLE), on the same
U(0, 1) response draws (common random numbers: catsim draws one per step
from ``default_rng(seed)``), so the RMSE comparison is paired. Also reported:
examengine with its own draws, and our EAP on catsim's own item paths and
responses.
``--quick`` runs catsim on the first 100 simulees only (≈15 s instead of
≈140 s) and extrapolates its time to 1,000; the JSON says so.

Usage:  .venv/bin/python benchmarks/cat_step.py [--quick] [--json out.json]
Prints JSON. catsim is a dev/benchmark dependency only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examengine.exam.cat import next_item, record, simulate_cat, start_attempt  # noqa: E402
from examengine.exam.policy import CatPolicy  # noqa: E402
from examengine.exam.pool import ItemPool  # noqa: E402
from examengine.irt import models  # noqa: E402
from examengine.irt.simulate import synthetic_bank  # noqa: E402

BANK_SEED = 2024
THETA = 0.5
GIVEN = 20


def per_call(fn: Callable[[], object], *, min_seconds: float, repeats: int) -> dict[str, float]:
    """Median over ``repeats`` of the mean per-call wall and CPU time (µs) of
    a loop that runs for at least ``min_seconds``."""
    fn()
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t >= min_seconds / 5:
            break
        n *= 2
    n = max(1, int(n * 5 * min_seconds / max(time.perf_counter() - t, 1e-9) / 5))
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            fn()
        walls.append((time.perf_counter() - w) / n * 1e6)
        cpus.append((time.process_time() - c) / n * 1e6)
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus), "calls_per_repeat": n}


def catsim_bank(params):
    from catsim.item_bank import ItemBank

    return ItemBank(np.column_stack([params.a, params.b, params.c, np.ones(params.n_items)]))


def step_benchmark(n_items: int, *, min_seconds: float, repeats: int) -> dict[str, object]:
    from catsim.estimation import NumericalSearchEstimator
    from catsim.selection import MaxInfoSelector

    params = synthetic_bank(n_items, np.random.default_rng([BANK_SEED, n_items]))
    pool = ItemPool.from_params(params)
    policy = CatPolicy.fixed_length(40)
    rng = np.random.default_rng([BANK_SEED, n_items, 1])
    state = start_attempt(pool, policy, seed=1)
    for _ in range(GIVEN):
        choice = next_item(state, pool, policy)
        p = models.probability(THETA, params.take([choice.position]))[0]
        state = record(state, choice, int(rng.random() < p), pool, policy)
    theta = state.estimate.theta
    upcoming = next_item(state, pool, policy)
    next_score = int(rng.random() < models.probability(THETA, params.take([upcoming.position]))[0])

    def ours() -> object:
        choice = next_item(state, pool, policy)
        return record(state, choice, next_score, pool, policy)

    bank = catsim_bank(params)
    administered = [np.int64(i) for i in state.items]
    responses = [bool(s) for s in state.scores]
    selector, estimator = MaxInfoSelector(), NumericalSearchEstimator()
    their_item = selector.select(item_bank=bank, administered_items=administered, est_theta=theta)

    def theirs_select() -> object:
        return selector.select(item_bank=bank, administered_items=administered, est_theta=theta)

    def theirs_estimate() -> object:
        return estimator.estimate(item_bank=bank, administered_items=administered + [np.int64(their_item)],
                                  response_vector=responses + [bool(next_score)], est_theta=theta)

    def theirs() -> object:
        item = selector.select(item_bank=bank, administered_items=administered, est_theta=theta)
        return estimator.estimate(item_bank=bank, administered_items=administered + [np.int64(item)],
                                  response_vector=responses + [bool(next_score)], est_theta=theta)

    t_ours = per_call(ours, min_seconds=min_seconds, repeats=repeats)
    t_theirs = per_call(theirs, min_seconds=min_seconds, repeats=repeats)
    t_sel = per_call(theirs_select, min_seconds=min_seconds / 2, repeats=max(3, repeats // 2))
    t_est = per_call(theirs_estimate, min_seconds=min_seconds / 2, repeats=max(3, repeats // 2))
    t_next = per_call(lambda: next_item(state, pool, policy), min_seconds=min_seconds / 2,
                      repeats=max(3, repeats // 2))
    return {
        "examengine": round(t_ours["wall"], 2),
        "catsim": round(t_theirs["wall"], 2),
        "ratio": round(t_theirs["wall"] / t_ours["wall"], 1),
        "examengine_cpu": round(t_ours["cpu"], 2),
        "catsim_cpu": round(t_theirs["cpu"], 2),
        "ratio_cpu": round(t_theirs["cpu"] / max(t_ours["cpu"], 1e-9), 1),
        "examengine_select_only": round(t_next["wall"], 2),
        "catsim_select_only": round(t_sel["wall"], 2),
        "catsim_estimate_only": round(t_est["wall"], 2),
        "same_next_item": bool(int(their_item) == upcoming.position),
        "theta_hat_after_20": round(theta, 6),
    }


def simulation_benchmark(*, catsim_simulees: int) -> dict[str, object]:
    from catsim.estimation import NumericalSearchEstimator
    from catsim.initialization import FixedPointInitializer
    from catsim.selection import MaxInfoSelector
    from catsim.simulation import Simulator
    from catsim.stopping import TestLengthStopper

    n_items, n_sim, length = 5000, 1000, 30
    params = synthetic_bank(n_items, np.random.default_rng([BANK_SEED, n_items]))
    thetas = np.random.default_rng(2024).normal(0.0, 1.0, n_sim)
    pool = ItemPool.from_params(params)
    policy = CatPolicy.fixed_length(length)

    # catsim's Simulator draws one U(0, 1) per step from default_rng(seed), in
    # order, and scores P >= u; the same draws make the comparison paired.
    uniforms = np.random.default_rng(2024).uniform(size=n_sim * length).reshape(n_sim, length)
    w, c = time.perf_counter(), time.process_time()
    sim = simulate_cat(pool, policy, thetas, seed=2024, uniforms=uniforms)
    ours_wall, ours_cpu = time.perf_counter() - w, time.process_time() - c
    report = sim.report(policy)
    own = simulate_cat(pool, policy, thetas, seed=2024).report(policy)  # independent response draws

    sub = thetas[:catsim_simulees]
    simulator = Simulator(catsim_bank(params), sub, seed=2024)
    w, c = time.perf_counter(), time.process_time()
    simulator.simulate(FixedPointInitializer(0.0), MaxInfoSelector(), NumericalSearchEstimator(),
                       TestLengthStopper(max_items=length))
    theirs_wall, theirs_cpu = time.perf_counter() - w, time.process_time() - c
    their_est = np.asarray(simulator.latest_estimations, dtype=float)
    their_rmse = float(np.sqrt(np.mean((their_est - sub) ** 2)))
    # our EAP on catsim's own item paths and responses (same items, same answers)
    from examengine.irt.estimation import eap

    eap_on_theirs = np.array([eap(params.take([int(i) for i in items]), np.asarray(resp, dtype=float)).theta
                              for items, resp in zip(simulator.administered_items, simulator.response_vectors)])
    eap_on_theirs_rmse = float(np.sqrt(np.mean((eap_on_theirs - sub) ** 2)))
    scale = n_sim / catsim_simulees
    our_rmse_same = float(np.sqrt(np.mean((sim.theta[:catsim_simulees] - sub) ** 2)))
    return {
        "setup": {"bank": n_items, "simulees": n_sim, "length": length, "theta": "N(0,1) seed 2024",
                  "start_theta": 0.0, "selection": "max_info", "examengine_estimator": "EAP (81 pts, N(0,1))",
                  "catsim_estimator": "NumericalSearchEstimator (MLE, bounded, Dodd)"},
        "examengine": {"seconds": round(ours_wall, 3), "cpu_seconds": round(ours_cpu, 3), "simulees": n_sim,
                       "rmse": round(report.rmse, 4), "bias": round(report.bias, 4),
                       "rmse_on_catsim_simulees": round(our_rmse_same, 4),
                       "response_draws": "catsim's (common random numbers)",
                       "rmse_with_own_response_draws": round(own.rmse, 4),
                       "eap_on_catsim_items_and_responses_rmse": round(eap_on_theirs_rmse, 4),
                       "max_exposure": report.max_exposure, "pool_never_used_share": report.pool_never_used_share},
        "catsim": {"seconds": round(theirs_wall * scale, 3), "cpu_seconds": round(theirs_cpu * scale, 3),
                   "extrapolated": catsim_simulees < n_sim, "measured_seconds": round(theirs_wall, 3),
                   "measured_simulees": catsim_simulees, "rmse": round(their_rmse, 4),
                   "bias": round(float(np.mean(their_est - sub)), 4)},
        "ratio": round(theirs_wall * scale / ours_wall, 1),
        "ratio_cpu": round(theirs_cpu * scale / max(ours_cpu, 1e-9), 1),
        "rmse_not_worse_than_catsim": our_rmse_same <= their_rmse,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="catsim simulation on 100 simulees, shorter timing loops")
    parser.add_argument("--sizes", default="500,5000,20000")
    parser.add_argument("--skip-simulation", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the JSON to this file")
    args = parser.parse_args(argv)
    min_seconds, repeats = (0.1, 5) if args.quick else (0.3, 7)
    started = time.perf_counter()
    out: dict[str, object] = {
        "quick": args.quick,
        "environment": {
            "python": platform.python_version(), "numpy": np.__version__, "scipy": version("scipy"),
            "catsim": version("catsim"), "cpus": os.cpu_count(),
            "load_average_start": [round(x, 2) for x in os.getloadavg()],
        },
        "timing": f"median over {repeats} repeats of a >= {min_seconds} s loop; wall µs (cpu µs alongside)",
    }
    out["step_us"] = {
        str(n): step_benchmark(int(n), min_seconds=min_seconds, repeats=repeats) for n in args.sizes.split(",")
    }
    if not args.skip_simulation:
        out["simulation"] = simulation_benchmark(catsim_simulees=100 if args.quick else 1000)
        if args.quick:
            out["simulation_note"] = ("--quick: catsim ran the first 100 of the 1,000 simulees; its seconds are "
                                      "extrapolated x10 and its RMSE is compared with examengine's on those 100")
    steps = out["step_us"]
    targets: dict[str, object] = {}
    if "5000" in steps:
        targets["step_5000_at_least_50x_catsim"] = steps["5000"]["ratio"] >= 50
        targets["step_5000_under_200us"] = steps["5000"]["examengine"] < 200
    if "20000" in steps:
        targets["step_20000_under_500us"] = steps["20000"]["examengine"] < 500
    if "simulation" in out:
        targets["simulation_at_least_30x_catsim"] = out["simulation"]["ratio"] >= 30
        targets["simulation_rmse_not_worse"] = out["simulation"]["rmse_not_worse_than_catsim"]
    out["targets_met"] = targets
    out["environment"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    out["total_seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(out, indent=2, ensure_ascii=False)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
