"""The EM calibration against a published table (LSAT6 / ltm), against girth on complete
data, and by recovery on simulated complete, random-sparse and adaptive designs."""

from __future__ import annotations

import numpy as np
import pytest

from examengine.irt.calibration import (
    CalibrationModel,
    FixedItems,
    Priors,
    PromotionCriteria,
    PromotionReason,
    ResponseData,
    adaptive_design,
    calibrate,
    calibrate_girth,
    drift,
    mean_sigma,
    promotion_checks,
    random_design,
    stocking_lord,
)
from examengine.irt.params import IrtModel, ItemParams
from examengine.irt.simulate import synthetic_bank

from .lsat6 import LTM_A, LTM_AIC, LTM_B, LTM_BIC, LTM_LOGLIK, LTM_SE_A, LTM_SE_B, lsat6_matrix


def _corr(x, y) -> float:
    return float(np.corrcoef(x, y)[0, 1])


def _complete_2pl(n_items: int, n_persons: int, seed: int) -> tuple[ItemParams, np.ndarray]:
    rng = np.random.default_rng(seed)
    bank = synthetic_bank(n_items, rng, model=IrtModel.TWO_PL)
    theta = rng.normal(size=n_persons)
    p = 1.0 / (1.0 + np.exp(-bank.a * (theta[:, None] - bank.b)))
    return bank, (rng.random(p.shape) < p).astype(float)


@pytest.fixture(scope="module")
def lsat6_fit():
    return calibrate(ResponseData.from_matrix(lsat6_matrix()), CalibrationModel.TWO_PL,
                     priors=Priors.none(), tolerance=1e-6)


def test_lsat6_has_the_published_thousand_persons():
    u = lsat6_matrix()
    assert u.shape == (1000, 5)
    np.testing.assert_array_equal(u.sum(axis=0), [924, 709, 553, 763, 870])  # ltm's descript()


def test_lsat6_2pl_reproduces_ltm_estimates_and_log_likelihood(lsat6_fit):
    r = lsat6_fit
    assert r.convergence.converged
    np.testing.assert_allclose(r.params.a, LTM_A, atol=0.05)
    np.testing.assert_allclose(r.params.b, LTM_B, atol=0.1)
    assert r.loglik == pytest.approx(LTM_LOGLIK, abs=0.1)
    assert r.aic == pytest.approx(LTM_AIC, abs=0.2)
    assert r.bic == pytest.approx(LTM_BIC, abs=0.2)
    assert r.n_parameters == 10


def test_lsat6_standard_errors_are_within_ten_percent_of_ltm(lsat6_fit):
    np.testing.assert_allclose(lsat6_fit.se_a, LTM_SE_A, rtol=0.1)
    np.testing.assert_allclose(lsat6_fit.se_b, LTM_SE_B, rtol=0.1)


def test_lsat6_em_agrees_with_girth_within_a_hundredth():
    g = calibrate_girth(lsat6_matrix(), CalibrationModel.TWO_PL)
    r = calibrate(ResponseData.from_matrix(lsat6_matrix()), priors=Priors.none(), tolerance=1e-6)
    np.testing.assert_allclose(r.params.a, g.a, atol=0.01)
    np.testing.assert_allclose(r.params.b, g.b, atol=0.01)


def test_complete_2pl_agrees_with_girth_and_recovers_the_truth():
    bank, u = _complete_2pl(40, 2000, seed=11)
    r = calibrate(ResponseData.from_matrix(u), CalibrationModel.TWO_PL, priors=Priors.none(), tolerance=1e-6)
    g = calibrate_girth(u, CalibrationModel.TWO_PL)
    np.testing.assert_allclose(r.params.a, g.a, atol=0.01)
    np.testing.assert_allclose(r.params.b, g.b, atol=0.01)
    assert _corr(r.params.a, bank.a) >= 0.95
    assert _corr(r.params.b, bank.b) >= 0.98
    # the SEs describe the actual errors: about 95 % of the b errors lie within 2 SE
    inside = np.abs(r.params.b - bank.b) <= 2 * r.se_b
    assert inside.mean() >= 0.85


def test_rasch_agrees_with_girth_and_reaches_a_likelihood_at_least_as_high():
    """girth's rasch_mml stops about 0.01 short of the maximum (its difficulties are ~1 % too
    small in magnitude); the EM's solution has the higher marginal likelihood."""
    rng = np.random.default_rng(5)
    b = rng.normal(size=15)
    theta = rng.normal(size=1500)
    u = (rng.random((1500, 15)) < 1 / (1 + np.exp(-(theta[:, None] - b)))).astype(float)
    data = ResponseData.from_matrix(u)
    r = calibrate(data, CalibrationModel.RASCH, priors=Priors.none(), tolerance=1e-6)
    g = calibrate_girth(u, CalibrationModel.RASCH)
    at_girth = calibrate(data, CalibrationModel.RASCH, priors=Priors.none(), start=g, max_iterations=1)
    np.testing.assert_array_equal(r.params.a, 1.0)
    np.testing.assert_allclose(r.params.b, g.b, atol=0.02)
    assert r.loglik >= at_girth.convergence.loglik_history[0]
    assert r.n_parameters == 15


def test_missing_cells_are_a_mask_not_zeros():
    rng = np.random.default_rng(3)
    bank = synthetic_bank(60, rng, model=IrtModel.TWO_PL)
    design = random_design(bank, rng.normal(size=3000), 20, rng)
    sparse_fit = calibrate(design.data)
    zero_filled = np.nan_to_num(design.data.to_matrix(), nan=0.0)
    zero_fit = calibrate(ResponseData.from_matrix(zero_filled))
    assert _corr(sparse_fit.params.b, bank.b) >= 0.98
    assert np.abs(sparse_fit.params.b - bank.b).mean() < 0.2
    assert np.abs(zero_fit.params.b - bank.b).mean() > 1.0  # zeros make every item look hard


def test_adaptive_logs_recover_difficulty_and_discrimination():
    """The fast companion of test_engine_recovery.py (logs of the CAT engine itself, ~30 s):
    logs from a vectorised max-information router with randomesque (k = 5) and a 25 %
    exposure cap, in about 3 s. Bank: 500 2PL items, log a ~ N(log 1.2, 0.35^2), b ~ N(0, 1)."""
    rng = np.random.default_rng(2026)
    bank = synthetic_bank(500, rng, model=IrtModel.TWO_PL, a_log_sd=0.35)
    design = adaptive_design(bank, rng.normal(size=10_000), 40, np.random.default_rng(1),
                             randomesque=5, max_exposure=0.25)
    assert (design.data.person_counts() == 40).all()
    r = calibrate(design.data, CalibrationModel.TWO_PL, compute_se=False)
    assert r.convergence.converged
    seen = r.n_responses >= 200
    assert seen.sum() >= 150
    assert _corr(r.params.b[seen], bank.b[seen]) >= 0.98
    assert _corr(r.params.a[seen], bank.a[seen]) >= 0.85
    # the observed proportion correct says little about difficulty under adaptive routing
    assert abs(_corr(r.p_values[seen], bank.b[seen])) < 0.5


def test_three_pl_with_the_default_c_prior_recovers_difficulty():
    rng = np.random.default_rng(8)
    bank = synthetic_bank(30, rng, model=IrtModel.THREE_PL, c_max=0.25)
    theta = rng.normal(size=4000)
    p = bank.c + (1 - bank.c) / (1 + np.exp(-bank.a * (theta[:, None] - bank.b)))
    u = (rng.random(p.shape) < p).astype(float)
    r = calibrate(ResponseData.from_matrix(u), CalibrationModel.THREE_PL)
    assert r.convergence.converged
    assert _corr(r.params.b, bank.b) >= 0.95
    assert np.all((r.params.c > 0) & (r.params.c < 0.5))
    assert np.isfinite(r.se_c).all()
    assert r.n_parameters == 90


def test_fixed_parameter_calibration_puts_pretest_items_on_the_anchor_scale():
    """Operational items live on a scale where this cohort has mean 0.6 and SD 1.3. A free
    calibration returns everything on the cohort's N(0, 1) scale; holding the operational
    items fixed recovers the shift and the scale for the pretest items."""
    rng = np.random.default_rng(21)
    bank = synthetic_bank(50, rng, model=IrtModel.TWO_PL, b_mean=0.6, b_sd=1.2)
    theta = rng.normal(0.6, 1.3, size=6000)
    p = 1 / (1 + np.exp(-bank.a * (theta[:, None] - bank.b)))
    u = (rng.random(p.shape) < p).astype(float)
    pretest = np.arange(40, 50)
    mask = np.ones_like(u, dtype=bool)
    mask[rng.random(6000) < 0.5, 40:] = False  # half the persons saw the pretest block
    data = ResponseData.from_matrix(u, mask)
    anchors = np.arange(40)
    fixed = calibrate(data, fixed=FixedItems(anchors, bank.take(anchors)))
    assert fixed.population_mean == pytest.approx(0.6, abs=0.08)
    assert fixed.population_sd == pytest.approx(1.3, abs=0.08)
    assert not fixed.free[anchors].any() and fixed.free[pretest].all()
    np.testing.assert_array_equal(fixed.params.b[anchors], bank.b[anchors])
    assert np.abs(fixed.params.b[pretest] - bank.b[pretest]).mean() < 0.15
    assert np.abs(fixed.params.a[pretest] / bank.a[pretest] - 1).mean() < 0.15
    free = calibrate(data)
    # the free run is on another scale: b_free ~ (b - 0.6) / 1.3
    assert np.abs(free.params.b[pretest] - bank.b[pretest]).mean() > 0.3
    link = stocking_lord(bank.take(anchors), free.params.take(anchors))
    assert link.A == pytest.approx(1.3, abs=0.1)
    assert link.B == pytest.approx(0.6, abs=0.1)
    linked = link.transform(free.params.take(pretest))
    assert np.abs(linked.b - bank.b[pretest]).mean() < 0.15
    ms = mean_sigma(bank.take(anchors), free.params.take(anchors))
    assert ms.A == pytest.approx(1.3, abs=0.15) and ms.B == pytest.approx(0.6, abs=0.15)


def test_drift_flags_only_the_item_that_moved_beyond_its_standard_errors():
    old = ItemParams.two_pl([1.0, 1.2, 0.8], [0.0, 0.5, -1.0])
    new = ItemParams.two_pl([1.05, 1.2, 0.8], [0.05, 1.3, -1.1])
    report = drift(old, new, se_a_new=[0.1, 0.1, 0.1], se_b_new=[0.1, 0.2, 0.1])
    assert report.flagged.tolist() == [False, True, False]
    assert report.z_b[1] == pytest.approx(4.0)


def test_promotion_needs_enough_responses_discrimination_and_fit(lsat6_fit):
    checks = promotion_checks(lsat6_fit, [0, 2], PromotionCriteria(min_responses=500, min_a=0.85, max_se_b=0.5,
                                                                    outfit_range=(0.5, 1.5)))
    assert checks[1].eligible and checks[1].reasons == ()
    assert not checks[0].eligible
    assert PromotionReason.LOW_DISCRIMINATION in checks[0].reasons  # a = 0.83
    assert PromotionReason.IMPRECISE in checks[0].reasons  # SE(b) = 0.85
    few = promotion_checks(lsat6_fit, [2], PromotionCriteria(min_responses=2000))
    assert few[0].reasons[0] is PromotionReason.FEW_RESPONSES


def test_a_cell_given_twice_or_a_score_of_two_is_refused_by_name():
    with pytest.raises(ValueError, match="given twice"):
        ResponseData.from_cells([0, 0], [1, 1], [1, 0], 2, 2)
    with pytest.raises(ValueError, match=r"cell 1 \(person 1, item 0\)"):
        ResponseData.from_cells([0, 1], [0, 0], [1, 2], 2, 2)


def test_fixed_population_cannot_be_estimated_without_anchors():
    with pytest.raises(ValueError, match="anchors"):
        calibrate(ResponseData.from_matrix(lsat6_matrix()), estimate_population=True)
