"""EAP, MAP and MLE against independent computations (scipy quad, scipy optimize, catsim)."""

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy.stats import norm

from examengine.irt import models
from examengine.irt.estimation import (
    EstimateNote,
    EstimationMethod,
    GridPosterior,
    NormalPrior,
    ThetaGrid,
    eap,
    eap_many,
    map_estimate,
    mle,
)
from examengine.irt.params import ItemParams
from examengine.irt.simulate import synthetic_bank


def _bank_and_pattern(seed, n_items, theta=0.5):
    rng = np.random.default_rng(seed)
    params = synthetic_bank(n_items, rng)
    u = models.simulate_responses(theta, params, rng)
    return params, u


def _quad_eap(params, u, prior, lower, upper):
    def post(t):
        return np.exp(models.log_likelihood(t, params, u)) * norm.pdf(t, prior.mean, prior.sd)

    opts = {"limit": 200, "epsabs": 0, "epsrel": 1e-12}
    z = integrate.quad(post, lower, upper, **opts)[0]
    m1 = integrate.quad(lambda t: t * post(t), lower, upper, **opts)[0] / z
    m2 = integrate.quad(lambda t: t * t * post(t), lower, upper, **opts)[0] / z
    return m1, np.sqrt(m2 - m1 * m1)


@pytest.mark.parametrize(("seed", "n_items"), [(1, 20), (2, 30), (3, 40)])
def test_eap_equals_brute_force_integration_over_the_whole_line(seed, n_items):
    params, u = _bank_and_pattern(seed, n_items)
    est = eap(params, u)
    mean, sd = _quad_eap(params, u, NormalPrior(), -np.inf, np.inf)
    assert est.theta == pytest.approx(mean, abs=1e-6)
    assert est.se == pytest.approx(sd, abs=1e-6)


@pytest.mark.parametrize(("seed", "n_items", "prior"), [(4, 3, NormalPrior()), (5, 8, NormalPrior(0.5, 1.5)),
                                                        (6, 12, NormalPrior(-1.0, 0.8))])
def test_eap_of_short_patterns_equals_brute_force_integration_over_the_grid_range(seed, n_items, prior):
    params, u = _bank_and_pattern(seed, n_items)
    grid = ThetaGrid(-6.0, 6.0, 121)
    est = eap(params, u, grid=grid, prior=prior)
    mean, sd = _quad_eap(params, u, prior, -6.0, 6.0)
    assert est.theta == pytest.approx(mean, abs=1e-6)
    assert est.se == pytest.approx(sd, abs=1e-6)


def test_eap_is_finite_when_every_answer_is_right():
    params = synthetic_bank(30, np.random.default_rng(7))
    est = eap(params, np.ones(30))
    assert np.isfinite(est.theta) and np.isfinite(est.se)
    assert 1.0 < est.theta < 6.0 and est.se > 0


def test_eap_is_finite_when_every_answer_is_wrong():
    params = synthetic_bank(30, np.random.default_rng(7))
    est = eap(params, np.zeros(30))
    assert np.isfinite(est.theta) and -6.0 < est.theta < -1.0 and est.se > 0


def test_incremental_eap_equals_eap_from_all_responses():
    params, u = _bank_and_pattern(8, 25)
    posterior = GridPosterior.start()
    for i, score in enumerate(u):
        posterior = posterior.update_item(params, i, int(score))
    inc = posterior.estimate()
    batch = eap(params, u)
    assert inc.theta == pytest.approx(batch.theta, abs=1e-12)
    assert inc.se == pytest.approx(batch.se, abs=1e-12)


def test_eap_many_equals_eap_person_by_person_with_missing_responses():
    rng = np.random.default_rng(9)
    params = synthetic_bank(15, rng)
    thetas = rng.normal(size=6)
    u = models.simulate_responses(thetas, params, rng)
    mask = rng.random(u.shape) < 0.7
    many = eap_many(params, u, mask=mask)
    for p in range(6):
        one = eap(params.take(np.flatnonzero(mask[p])), u[p, mask[p]])
        assert many.theta[p] == pytest.approx(one.theta, abs=1e-12)
        assert many.se[p] == pytest.approx(one.se, abs=1e-12)


def test_map_is_the_mode_found_by_scipy():
    params, u = _bank_and_pattern(10, 15)
    prior = NormalPrior(0.2, 1.1)
    est = map_estimate(params, u, prior=prior)

    def neg(t):
        return -(models.log_likelihood(t, params, u) + norm.logpdf(t, prior.mean, prior.sd))

    ref = optimize.minimize_scalar(neg, bounds=(-6, 6), method="bounded", options={"xatol": 1e-10})
    assert est.theta == pytest.approx(ref.x, abs=1e-6)
    info = models.form_information(est.theta, params) + 1 / prior.sd**2
    assert est.se == pytest.approx(1 / np.sqrt(info), rel=1e-12)
    assert est.method is EstimationMethod.MAP and est.converged


@pytest.mark.parametrize(("seed", "n_bank"), [(11, 500), (12, 5000), (13, 20000)])
def test_mle_equals_catsims_estimate_on_the_same_responses(seed, n_bank):
    from catsim.estimation import NumericalSearchEstimator
    from catsim.item_bank import ItemBank

    rng = np.random.default_rng(seed)
    params = synthetic_bank(n_bank, rng)
    items = rng.choice(n_bank, 20, replace=False)
    u = models.simulate_responses(0.5, params.take(items), rng)
    assert 0 < u.sum() < 20
    bank = ItemBank(np.column_stack([params.a, params.b, params.c, np.ones(n_bank)]))
    theirs = NumericalSearchEstimator().estimate(
        item_bank=bank, administered_items=[int(i) for i in items],
        response_vector=[bool(x) for x in u], est_theta=0.0)
    ours = mle(params.take(items), u)
    assert ours.method is EstimationMethod.MLE and ours.converged
    assert ours.theta == pytest.approx(theirs, abs=1e-4)


def test_mle_has_zero_score_and_fisher_standard_error():
    params, u = _bank_and_pattern(14, 30)
    est = mle(params, u)
    assert abs(models.score_function(est.theta, params, u)) < 1e-8
    assert est.se == pytest.approx(1 / np.sqrt(models.form_information(est.theta, params)), rel=1e-12)


@pytest.mark.parametrize("answer", [0, 1])
def test_mle_falls_back_to_map_when_every_answer_is_the_same(answer):
    params = synthetic_bank(10, np.random.default_rng(15))
    est = mle(params, np.full(10, answer))
    ref = map_estimate(params, np.full(10, answer))
    assert est.method is EstimationMethod.MAP
    assert est.note is EstimateNote.CONSTANT_PATTERN
    assert est.theta == pytest.approx(ref.theta) and np.isfinite(est.se)
    assert (est.theta > 0) == bool(answer)


def test_mle_of_no_response_is_the_prior_mode():
    est = mle(ItemParams.two_pl([], []), [], prior=NormalPrior(0.3, 1.0))
    assert est.theta == pytest.approx(0.3) and est.note is EstimateNote.CONSTANT_PATTERN


def test_mle_stays_on_the_bound_for_a_pattern_that_looks_like_guessing():
    # right on the hard 3PL items, wrong on the easy ones: L rises towards -inf
    params = ItemParams.three_pl([2.0, 2.0, 2.0, 2.0], [-2.0, -1.5, 2.0, 2.5], [0.25, 0.25, 0.25, 0.25])
    est = mle(params, [0, 0, 1, 1])
    assert est.theta == -6.0
    assert est.note is EstimateNote.AT_BOUND and not est.converged
    assert np.isfinite(est.se)


def test_grid_rejects_fewer_than_61_points():
    with pytest.raises(ValueError, match="61"):
        ThetaGrid(-4, 4, 41)
