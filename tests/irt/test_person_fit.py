"""Person fit l_z* (Snijders 2001): a hand computation of the formulas on five items, the
estimators' equations, the null distribution and planted pre-knowledge, complete and sparse."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from examengine.irt import person_fit as pf
from examengine.irt.params import ItemParams
from examengine.irt.person_fit import Estimator

B5 = [-1.0, -0.5, 0.0, 0.5, 1.0]
X5 = [1, 1, 0, 1, 0]


def _rasch_p(theta, b):
    return 1 / (1 + math.exp(-(theta - b)))


def test_rasch_ml_lz_star_equals_snijders_formulas_by_hand():
    # ML estimate: sum_i P_i(theta) = number right = 3 (Rasch), solved independently
    theta = optimize.brentq(lambda t: sum(_rasch_p(t, b) for b in B5) - 3, -5, 5, xtol=1e-14)
    p = [_rasch_p(theta, b) for b in B5]
    # Rasch: P' = PQ, w_i = ln(P/Q) = theta - b_i, r_i = P'/(PQ) = 1, r_0 = 0 (ML)
    w = [theta - b for b in B5]
    c_n = sum(pi * (1 - pi) * wi for pi, wi in zip(p, w)) / sum(pi * (1 - pi) for pi in p)
    big_w = sum((x - pi) * wi for x, pi, wi in zip(X5, p, w))
    var = sum((wi - c_n) ** 2 * pi * (1 - pi) for pi, wi in zip(p, w))
    by_hand = big_w / math.sqrt(var)
    res = pf.person_fit(np.array([X5], float), ItemParams.one_pl(B5), estimator=Estimator.ML)
    assert res.theta[0] == pytest.approx(theta, abs=1e-9)
    assert res.lz_star[0] == pytest.approx(by_hand, abs=1e-9)
    assert res.p_value[0] == pytest.approx(stats.norm.cdf(by_hand), abs=1e-9)
    # the numbers, for the record: theta-hat 0.4545, c_n 0.3582, W 0.4395, n tau~^2 0.4884, l_z* 0.6289
    assert (theta, c_n, big_w, var, by_hand) == pytest.approx((0.4545, 0.3582, 0.4395, 0.4884, 0.6289), abs=1e-4)


def test_2pl_wle_lz_star_adds_the_correction_term_c_n_r0():
    a = [0.8, 1.2, 1.5, 1.0, 2.0]
    params = ItemParams.two_pl(a, B5)
    theta = 0.3  # any theta-hat: the statistic is a function of it
    s = [1 / (1 + math.exp(-ai * (theta - bi))) for ai, bi in zip(a, B5)]
    d1 = [ai * si * (1 - si) for ai, si in zip(a, s)]  # P'
    d2 = [ai * ai * si * (1 - si) * (1 - 2 * si) for ai, si in zip(a, s)]  # P''
    w = [math.log(si / (1 - si)) for si in s]  # = a_i (theta - b_i)
    r = list(a)  # P' / (PQ) = a_i for the 2PL
    info = sum(ai * ai * si * (1 - si) for ai, si in zip(a, s))
    j = sum(d1i * d2i / (si * (1 - si)) for d1i, d2i, si in zip(d1, d2, s))
    r0 = j / (2 * info)  # Warm's WLE term
    c_n = sum(d * wi for d, wi in zip(d1, w)) / sum(d * ri for d, ri in zip(d1, r))
    big_w = sum((x - si) * wi for x, si, wi in zip(X5, s, w))
    var = sum((wi - c_n * ri) ** 2 * si * (1 - si) for wi, ri, si in zip(w, r, s))
    by_hand = (big_w + c_n * r0) / math.sqrt(var)
    got = pf.lz_star_at([theta], np.array([X5], float), params, estimator=Estimator.WLE)
    assert got[0] == pytest.approx(by_hand, abs=1e-12)
    ml = pf.lz_star_at([theta], np.array([X5], float), params, estimator=Estimator.ML)
    assert ml[0] == pytest.approx(big_w / math.sqrt(var), abs=1e-12)


def test_wle_solves_warms_equation_and_is_finite_for_a_perfect_score():
    a = np.array([0.8, 1.2, 1.5, 1.0, 2.0])
    params = ItemParams.two_pl(a, B5)
    x = np.array([X5, [1, 1, 1, 1, 1]], float)
    theta = pf.estimate(x, params, estimator=Estimator.WLE)
    f = pf.estimating_function(theta, x, np.ones_like(x, bool), params, Estimator.WLE)
    assert np.abs(f).max() < 1e-9
    assert -6 < theta[1] < 6
    ml = pf.person_fit(x, params, estimator=Estimator.ML)
    assert np.isnan(ml.lz_star[1]) and not ml.flag[1]  # no finite ML estimate


def _bank(seed, n_items=40):
    rng = np.random.default_rng(seed)
    return ItemParams.two_pl(rng.uniform(0.8, 2.0, n_items), rng.normal(0, 1, n_items))


def _answers(params, theta, rng):
    p = 1 / (1 + np.exp(-(params.a * theta[:, None] - params.ab)))
    return (rng.random(p.shape) < p).astype(float)


def test_lz_star_is_near_standard_normal_for_fitting_persons():
    rng = np.random.default_rng(21)
    params = _bank(21)
    x = _answers(params, rng.normal(size=2000), rng)
    res = pf.person_fit(x, params)
    lz = res.lz_star[~np.isnan(res.lz_star)]
    assert abs(lz.mean()) < 0.2
    assert 0.9 < lz.std() < 1.1
    assert 0.03 < res.flag.mean() < 0.075  # the nominal 5 %


def test_planted_pre_knowledge_persons_get_lower_lz_star_and_are_flagged():
    rng = np.random.default_rng(22)
    params = _bank(22)
    theta = np.r_[np.full(100, -0.5), rng.normal(size=900)]
    x = _answers(params, theta, rng)
    hard = np.argsort(params.b)[-8:]
    x[:100, hard] = 1.0  # the leaked hardest items, all right
    res = pf.person_fit(x, params)
    assert np.nanmean(res.lz_star[:100]) < np.nanmean(res.lz_star[100:]) - 2
    assert res.flag[:100].mean() > 0.8
    assert res.flag[100:].mean() < 0.08


def test_sparse_patterns_are_scored_on_the_items_presented_only():
    rng = np.random.default_rng(23)
    params = _bank(23)
    x = _answers(params, rng.normal(size=50), rng)
    shown = rng.random(x.shape) < 0.5
    sparse = np.where(shown, x, np.nan)
    res = pf.person_fit(sparse, params)
    k = 7
    alone = pf.person_fit(x[k:k + 1, shown[k]], params.take(np.flatnonzero(shown[k])))
    assert res.lz_star[k] == pytest.approx(alone.lz_star[0], abs=1e-9)
    assert res.n_items[k] == shown[k].sum()
    masked = pf.person_fit(x, params, mask=shown)
    assert np.allclose(masked.lz_star, res.lz_star, equal_nan=True)
