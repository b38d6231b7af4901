"""Issue 20: the sample-size study behind docs/launch.md (benchmarks/launch_sample_size.py) agrees
with the asymptotic theory of its own design, and the doc quotes what the script computes."""

from __future__ import annotations

import importlib.util
import sys
from contextlib import nullcontext

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import erf, expit

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("launch_sample_size", REPO / "benchmarks" / "launch_sample_size.py")
study = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = study  # its dataclasses look their module up there
spec.loader.exec_module(study)

RASCH = study.CalibrationModel.RASCH
N = 500


def one_blas_thread():
    """The products here are small: BLAS threads only spin against the other test worker."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a dev dependency's dependency; the test runs the same without it, only slower
        return nullcontext()
    return threadpool_limits(1)


def asymptotic_se_of_b(b: np.ndarray, n_persons: int, rng: np.random.Generator, m: int = 20_000) -> np.ndarray:
    """SE of the marginal ML estimates of Rasch difficulties for a complete design of
    ``n_persons`` from N(0, 1): the inverse of n x the expected information of one person,
    E[s s^T], with s_i = d/db_i log integral prod_i P_i^u (1 - P_i)^(1 - u) phi(theta) dtheta
    = E[P_i(theta) - u_i | u] (the posterior mean), estimated over m simulated persons and
    integrated by 61-point Gauss-Hermite quadrature (not the EM's grid)."""
    nodes, weights = hermegauss(61)
    weights = weights / weights.sum()
    theta = rng.normal(size=m)
    u = (rng.random((m, b.size)) < expit(theta[:, None] - b)).astype(float)
    p = expit(nodes[:, None] - b)  # Q x items
    loglik = u @ np.log(p).T + (1 - u) @ np.log1p(-p).T  # persons x Q
    post = np.exp(loglik - loglik.max(axis=1, keepdims=True)) * weights
    post /= post.sum(axis=1, keepdims=True)
    s = post @ p - u
    info = n_persons * (s.T @ s) / m
    return np.sqrt(np.diag(np.linalg.inv(info)))


def test_the_study_rmse_of_rasch_difficulties_is_the_asymptotic_se_of_its_design():
    reps = study.REPLICATIONS["complete"]
    with one_blas_thread():
        runs = [study.complete_replication(RASCH, N, r) for r in range(reps)]
        row = study.summarize_cell(RASCH, N, runs)
        rng = np.random.default_rng(7)
        se = np.concatenate([asymptotic_se_of_b(r.true.b, N, rng) for r in runs])
    predicted = float(np.sqrt(np.mean(se**2)))
    assert 0.09 < predicted < 0.15  # about 1 / sqrt(500 x 0.16): the design is what the doc says
    # 400 items: the empirical RMSE has a relative SD of about 4 % (more with the shared scale)
    assert abs(row["rmse_b"] / predicted - 1) < 0.15, (row["rmse_b"], predicted)
    # and the share within +-0.2 is what normal errors of those SEs give: mean_i P(|N(0, se_i^2)| <= 0.2)
    expected_share = float(np.mean(erf(0.2 / (se * np.sqrt(2)))))
    assert abs(row["within_0.2"] - expected_share) < 0.06, (row["within_0.2"], expected_share)
    doc = (REPO / "docs" / "launch.md").read_text(encoding="utf-8")
    assert study.row_line(study.MODEL_NAMES[RASCH], row) in doc


def test_the_doc_quotes_the_blueprint_table_the_script_computes():
    doc = (REPO / "docs" / "launch.md").read_text(encoding="utf-8")
    table = study.blueprint_table()
    assert table in doc
    rows = study.blueprint_needs()
    assert {r["blueprint"] for r in rows} == {"530046-L1", "530046-L2", "530046-L3", "560003-L1", "560003-L2",
                                               "560003-L3"}
    one = next(r for r in rows if r["domain"] == "530046-L2-4")  # weight 0.28, 40 items, cap 0.25
    assert (one["need"], one["need_at_aim"]) == (45, 56)  # ceil(11.2 / 0.25), ceil(11.2 / 0.2)
