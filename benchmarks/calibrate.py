"""Calibration speed and recovery: examengine's EM vs girth 0.8, measured in the same run.

Designs (2PL truth: synthetic_bank(model=2PL), seed 2024; theta ~ N(0, 1)):
  complete         200 items x 20,000 persons, every cell answered
  random_sparse    1,000 x 20,000, 40 random items each (missing completely at random)
  adaptive_sparse  1,000 x 20,000, 40 items each from a vectorised max-information router
                   (EAP, randomesque k = 5, 25 % exposure cap; irt.calibration.adaptive_design)

girth runs on the complete design, and on the sparse ones (missing cells as girth's
INVALID_RESPONSE) unless --skip-girth-sparse (each takes minutes). Recovery: correlation
and RMSE with the truth on items with >= 200 responses. Prints JSON.

    .venv/bin/python benchmarks/calibrate.py [--skip-girth-sparse] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examengine.irt.calibration import (  # noqa: E402
    CalibrationModel,
    ResponseData,
    adaptive_design,
    calibrate,
    random_design,
)
from examengine.irt.params import IrtModel  # noqa: E402
from examengine.irt.simulate import synthetic_bank  # noqa: E402


def recovery(est_a, est_b, bank, mask) -> dict:
    return {
        "items": int(mask.sum()),
        "r_a": round(float(np.corrcoef(est_a[mask], bank.a[mask])[0, 1]), 4),
        "r_b": round(float(np.corrcoef(est_b[mask], bank.b[mask])[0, 1]), 4),
        "rmse_a": round(float(np.sqrt(np.mean((est_a[mask] - bank.a[mask]) ** 2))), 4),
        "rmse_b": round(float(np.sqrt(np.mean((est_b[mask] - bank.b[mask]) ** 2))), 4),
    }


def run_em(data: ResponseData, bank) -> dict:
    t = time.perf_counter()
    r = calibrate(data, CalibrationModel.TWO_PL)
    secs = time.perf_counter() - t
    mask = r.n_responses >= 200
    return {"seconds": round(secs, 2), "iterations": r.convergence.iterations, "converged": r.convergence.converged,
            **recovery(r.params.a, r.params.b, bank, mask)}


def run_girth(data: ResponseData, bank) -> dict:
    import girth

    u = data.to_matrix()
    ds = np.where(np.isnan(u), girth.INVALID_RESPONSE, u).T.astype(int)
    t = time.perf_counter()
    try:
        res = girth.twopl_mml(ds)
    except Exception as exc:  # noqa: BLE001 - report whatever girth raises
        return {"error": f"{type(exc).__name__}: {exc}"}
    secs = time.perf_counter() - t
    mask = data.item_counts() >= 200
    return {"seconds": round(secs, 2), **recovery(np.asarray(res["Discrimination"], float),
                                                 np.asarray(res["Difficulty"], float), bank, mask)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-girth-sparse", action="store_true")
    ap.add_argument("--skip-girth", action="store_true", help="no girth at all (EM numbers only)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out: dict = {"machine_cores": __import__("os").cpu_count()}
    rng = np.random.default_rng(2024)
    bank200 = synthetic_bank(200, rng, model=IrtModel.TWO_PL)
    theta = rng.normal(size=20_000)
    p = 1 / (1 + np.exp(-bank200.a * (theta[:, None] - bank200.b)))
    complete = ResponseData.from_matrix((rng.random(p.shape) < p).astype(float))
    out["complete_200x20000"] = {"em": run_em(complete, bank200)}
    if not args.skip_girth:
        out["complete_200x20000"]["girth"] = run_girth(complete, bank200)
    bank = synthetic_bank(1000, rng, model=IrtModel.TWO_PL)
    rand = random_design(bank, theta, 40, np.random.default_rng(1))
    adapt = adaptive_design(bank, theta, 40, np.random.default_rng(2), randomesque=5, max_exposure=0.25)
    for name, design in (("random_sparse_1000x20000", rand), ("adaptive_sparse_1000x20000", adapt)):
        entry = {"simulation_seconds": round(design.seconds, 2), "responses": design.data.n_observations,
                 "em": run_em(design.data, bank)}
        if not (args.skip_girth_sparse or args.skip_girth):
            entry["girth"] = run_girth(design.data, bank)
        out[name] = entry
    em_sparse = [out[k]["em"]["seconds"] for k in ("random_sparse_1000x20000", "adaptive_sparse_1000x20000")]
    out["targets_met"] = {"sparse_under_10s": max(em_sparse) < 10.0}
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
