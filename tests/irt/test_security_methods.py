"""Test-security maths (issue #22, points 4-6): response-time effort and the lognormal model
(against a statsmodels WLS fit and by simulation), the pre-knowledge flag, Wollack's omega (by
hand, its exact tail by enumeration, its null distribution and planted copiers by simulation),
Holm against statsmodels, and the item CUSUM (by hand, a drifting item against stable ones)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from examengine.irt import compromise as cp
from examengine.irt import response_times as rt
from examengine.irt import similarity as sim

# ---------------------------------------------------------------- response times


def test_response_time_effort_by_hand_with_nt10_thresholds_capped_at_ten_seconds():
    t = np.array([[30.0, 200.0, 5.0],
                  [2.0, 150.0, np.nan],
                  [40.0, 10.0, 7.0]])
    e = rt.response_time_effort(t)
    # item means 24, 120, 6 -> 10 % = 2.4, 12 (capped at 10), 0.6
    assert e.threshold == pytest.approx([2.4, 10.0, 0.6])
    # person 2: 2.0 < 2.4 (rapid) of 2 -> RTE 0.5; person 3: 10.0 is not below 10 -> RTE 1
    assert e.n_rapid.tolist() == [0, 1, 0] and e.n_responses.tolist() == [3, 2, 3]
    assert e.rte == pytest.approx([1.0, 0.5, 1.0])
    assert e.low_effort.tolist() == [False, True, False]


def _lognormal(rng, persons, items, per_person):
    beta = rng.normal(4.0, 0.4, items)
    alpha = rng.uniform(1.5, 2.5, items)
    tau = rng.normal(0, 0.3, persons)
    y = beta[None, :] - tau[:, None] + rng.normal(size=(persons, items)) / alpha[None, :]
    mask = np.zeros((persons, items), bool)
    for j in range(persons):
        mask[j, rng.choice(items, per_person, replace=False)] = True
    return np.where(mask, np.exp(y), np.nan), beta, alpha, tau


def test_the_lognormal_fit_solves_the_weighted_least_squares_equations_of_statsmodels():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    t, *_ = _lognormal(rng, 40, 8, 5)
    fit = rt.fit_lognormal(t, tol=1e-10, trim=None)
    assert fit.converged
    j, i = np.nonzero(~np.isnan(t))
    y = np.log(t[j, i])
    # y = beta_i - tau_j with weights alpha_i^2; tau identified by sum tau = 0 (last = -sum of others)
    x = np.zeros((len(y), 8 + 39))
    x[np.arange(len(y)), i] = 1.0
    for r, jj in enumerate(j):
        if jj < 39:
            x[r, 8 + jj] = -1.0
        else:
            x[r, 8:] = 1.0
    wls = sm.WLS(y, x, weights=fit.alpha[i] ** 2).fit()
    assert fit.beta == pytest.approx(wls.params[:8], abs=1e-6)
    assert fit.tau[:39] == pytest.approx(wls.params[8:], abs=1e-6)
    # 1/alpha_i^2 = mean of e_ij^2 - 1/W_j^(-i), e_ij = y_ij - beta_i + tau_j^(-i) (loops, by hand)
    a2 = fit.alpha**2
    for k in range(8):
        terms = []
        for r in np.nonzero(i == k)[0]:
            others = [q for q in np.nonzero(j == j[r])[0] if q != r]
            w_loo = sum(a2[i[q]] for q in others)
            tau_loo = sum(a2[i[q]] * (fit.beta[i[q]] - y[q]) for q in others) / w_loo
            e = y[r] - fit.beta[k] + tau_loo
            terms.append(e**2 - 1 / w_loo)
            assert fit.z[j[r], k] == pytest.approx(math.sqrt(a2[k]) * e / math.sqrt(1 + a2[k] / w_loo), rel=1e-6)
        assert 1 / a2[k] == pytest.approx(np.mean(terms), rel=1e-5)


def test_the_lognormal_model_recovers_sparse_adaptive_data_and_its_residuals_are_standard_normal():
    rng = np.random.default_rng(11)
    t, beta, alpha, tau = _lognormal(rng, 1500, 120, 25)
    fit = rt.fit_lognormal(t)
    assert np.corrcoef(fit.beta, beta)[0, 1] > 0.99 and np.corrcoef(fit.alpha, alpha)[0, 1] > 0.9
    assert np.corrcoef(fit.tau, tau)[0, 1] > 0.93
    z = fit.z[~np.isnan(t)]
    assert abs(z.mean()) < 0.02 and z.std() == pytest.approx(1.0, abs=0.03)
    assert (z < -1.96).mean() == pytest.approx(0.025, abs=0.004)


def test_the_fast_correct_p_value_is_the_binomial_tail_by_hand():
    z = np.array([[-2.5, -3.0, 0.1, -2.2, np.nan]])
    u = np.array([[1, 1, 1, 0, 1]], float)
    b = np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    res = rt.fast_correct_flags(z, u, [0.0], b)
    # hard and correct with a residual: items 1-3 (item 4 wrong, item 5 without time): 2 of 3 fast
    q = stats.norm.cdf(-1.96)
    by_hand = 3 * q**2 * (1 - q) + q**3
    assert (res.n_hard_correct[0], res.n_fast[0]) == (3, 2)
    assert res.p_value[0] == pytest.approx(by_hand) and res.flag[0]
    easy = rt.fast_correct_flags(z, u, [2.0], b)  # no item above theta-hat: nothing to test
    assert easy.n_hard_correct[0] == 0 and np.isnan(easy.p_value[0]) and not easy.flag[0]


def test_simulated_pre_knowledge_is_flagged_by_response_times_and_honest_candidates_rarely():
    rng = np.random.default_rng(5)
    persons, items = 1000, 150
    t, *_ = _lognormal(rng, persons, items, 30)
    theta = rng.normal(size=persons)
    b = rng.normal(size=items)
    u = (rng.random((persons, items)) < 1 / (1 + np.exp(-(theta[:, None] - b[None, :])))).astype(float)
    leaked = np.argsort(-b)[:30]  # the 30 hardest items leaked
    knowers = np.arange(50)
    for j in knowers:  # a knower answers a leaked item at once (a few seconds) and right
        seen = leaked[~np.isnan(t[j, leaked])]
        t[j, seen] = rng.uniform(3, 8, len(seen))
        u[j, seen] = 1.0
    u = np.where(np.isnan(t), np.nan, u)
    fit = rt.fit_lognormal(t)
    res = rt.fast_correct_flags(fit.z, u, theta, b)
    honest = res.flag[50:]
    had_leaked = np.array([(~np.isnan(t[j, leaked])).sum() >= 3 for j in knowers])
    assert honest.mean() <= 0.05  # measured 1.2 % (the binomial tail is discrete, so conservative)
    assert res.flag[knowers][had_leaked].mean() >= 0.9


# ---------------------------------------------------------------- answer similarity


def test_omega_of_one_pair_by_hand():
    # 6 sheets, 3 items; a single stratum (too few for more), smoothing 0.5
    answers = [["A", "B", "C"], ["A", "B", "D"], ["B", "B", "C"], ["A", "C", ""], ["A", "B", "C"], ["C", "A", "D"]]
    codes, options = sim.encode(answers)
    model = sim.option_model(codes, options, np.zeros(6))
    [row] = [r for r in sim.room_pairs(model, [0, 4], alpha=0.05) if r.copier == 0]
    # copier 0 left out: item 1 options A,B,C seen as A x3, B x1, C x1 of 5 -> P(A) = 3.5 / 6.5
    # item 2 A,B,C: B x3 (of 5); item 3 C,D: C x2, D x2 of 4 answered (the omission counts nowhere)
    p = [3.5 / 6.5, 3.5 / 6.5, 2.5 / 5.0]
    e, v = sum(p), sum(x * (1 - x) for x in p)
    assert (row.n_items, row.matches) == (3, 3)
    assert row.expected == pytest.approx(e)
    assert row.omega == pytest.approx((3 - e) / math.sqrt(v))
    assert row.p_value == pytest.approx(p[0] * p[1] * p[2])  # exact: all three match


def test_the_exact_tail_equals_enumeration_and_holm_equals_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(2)
    p = rng.uniform(0.05, 0.8, size=(3, 7))
    for r in range(3):
        for h in (0, 3, 5, 7):
            brute = sum(np.prod([p[r, i] if bit else 1 - p[r, i] for i, bit in enumerate(bits)])
                        for bits in itertools.product((0, 1), repeat=7) if sum(bits) >= h)
            assert sim.poisson_binomial_sf(p[r:r + 1], np.array([h]))[0] == pytest.approx(brute, abs=1e-12)
    pv = rng.uniform(0, 0.05, 25)
    assert sim.holm(pv) == pytest.approx(multipletests(pv, method="holm")[1])


def _nominal(rng, persons, items, options=4):
    """Bock's nominal response model: option 0 (the key) rises with theta."""
    theta = rng.normal(size=persons)
    slope = rng.normal(0, 0.8, (items, options))
    slope[:, 0] = np.abs(slope[:, 0]) + 1.0
    icept = rng.normal(0, 0.7, (items, options))
    z = np.exp(theta[:, None, None] * slope[None] + icept[None])
    prob = z / z.sum(axis=2, keepdims=True)
    return (prob.cumsum(axis=2) < rng.random((persons, items, 1))).sum(axis=2)


def _omega_rooms(x, room_size):
    codes, options = sim.encode([["ABCD"[v] for v in row] for row in x])
    model = sim.option_model(codes, options, (x == 0).sum(axis=1))
    rows = []
    for start in range(0, len(x), room_size):
        rows += sim.room_pairs(model, list(range(start, start + room_size)))
    return rows


def test_omega_null_p_values_are_uniform_and_rooms_of_independent_sheets_are_rarely_flagged():
    rng = np.random.default_rng(1)
    rows = _omega_rooms(_nominal(rng, 400, 50), 40)  # 10 rooms, 15,600 ordered pairs
    p = np.array([r.p_value for r in rows])
    # measured: 0.041, 0.0082, 0.00096 (the tail is exact given the shares; the shares are estimates)
    assert 0.03 <= (p < 0.05).mean() <= 0.065
    assert 0.004 <= (p < 0.01).mean() <= 0.014
    assert (p < 0.001).mean() <= 0.002
    assert sum(r.flag for r in rows) <= 1  # family-wise 5 % a room: measured 0 flags here


def test_planted_copiers_are_flagged_at_the_family_wise_level():
    rng = np.random.default_rng(4)
    x = _nominal(rng, 400, 60)
    pairs = []
    for k in range(10):  # rooms of 20: the copier and its source are the first two of each room
        c, s = 20 * k, 20 * k + 1
        share = (0.3, 0.4, 0.5)[k % 3]
        copied = rng.choice(60, int(share * 60), replace=False)
        x[c, copied] = x[s, copied]
        pairs.append((c, s))
    rows = _omega_rooms(x, 20)[:10 * 380]  # the 10 rooms with copiers
    flagged = {(r.copier, r.source) for r in rows if r.flag}
    found = sum((c, s) in flagged or (s, c) in flagged for c, s in pairs)
    false = {f for f in flagged if f not in set(pairs) and f[::-1] not in set(pairs)}
    assert found >= 7 and len(false) <= 1  # measured: 9 of 10 found, one false pair in the 10 rooms


# ---------------------------------------------------------------- item compromise


def test_the_cusum_by_hand():
    u = [1, 1, 0, 1, 1]
    p = [0.5, 0.8, 0.5, 0.2, 0.5]
    z = [(x - q) / math.sqrt(q * (1 - q)) for x, q in zip(u, p)]  # 1, 0.5, -1, 2, 1
    s, path = 0.0, []
    for zt in z:
        s = max(0.0, s + zt - 0.25)
        path.append(s)
    res = cp.item_cusum(u, p, k=0.25, h=2.5, window=2)
    assert res.cusum == pytest.approx(path)  # 0.75, 1.0, 0, 1.75, 2.5 -> never above 2.5
    assert res.alarm_at is None
    assert cp.item_cusum(u, p, k=0.25, h=2.4).alarm_at == 5
    assert [(w.first, w.last, w.observed) for w in res.windows] == [(1, 2, 2.0), (3, 4, 1.0), (5, 5, 1.0)]
    assert res.windows[0].expected == pytest.approx(1.3) and res.windows[1].residual == pytest.approx(0.3)


def _item(rng, n, shift_after=None, shift=1.0, a=1.2, b=0.0):
    theta = b + rng.normal(0, 0.7, n)  # an adaptive exam gives the item to persons near b
    true_b = np.full(n, b)
    if shift_after is not None:
        true_b[shift_after:] -= shift
    u = (rng.random(n) < 1 / (1 + np.exp(-a * (theta - true_b)))).astype(float)
    return u, cp.probabilities(theta, a, b)


def test_an_item_that_gets_easier_after_its_200th_exposure_is_flagged_and_stable_items_rarely():
    rng = np.random.default_rng(8)
    drifted = [cp.item_cusum(*_item(rng, 600, shift_after=200)) for _ in range(20)]
    assert all(d.flag and d.alarm_at > 200 for d in drifted)
    assert np.median([d.alarm_at for d in drifted]) < 300  # measured ~260: about 60 exposures after the leak
    stable = [cp.item_cusum(*_item(rng, 600)) for _ in range(200)]
    assert sum(s.flag for s in stable) <= 4  # <= 2 % at k = 0.25, h = 20 (benchmark: 0.5 % by 1,000 exposures)
