"""Bands, the CI rule over several cuts, SPRT and the stopping precedence."""

import numpy as np
import pytest
from scipy.stats import norm

from examengine.irt.classification import (
    ClassificationBasis,
    CutScores,
    SprtRule,
    band_probabilities,
    classify,
    confidence_interval_band,
    z_value,
)
from examengine.irt.stopping import StoppingRule, StopReason, check_stop

CUTS = CutScores((-1.0, 0.0, 1.0))


def test_three_cuts_make_the_four_level_bands_and_a_cut_belongs_to_the_band_above():
    assert CUTS.names == ("未达初级", "初级", "中级", "高级")
    np.testing.assert_array_equal(CUTS.band_of([-1.5, -1.0, -0.2, 0.0, 0.99, 1.0, 3.0]), [0, 1, 1, 2, 2, 3, 3])


def test_cut_scores_must_increase():
    with pytest.raises(ValueError, match="strictly increasing"):
        CutScores((0.0, 0.0))
    with pytest.raises(ValueError, match="band names"):
        CutScores((0.0,), ("a", "b", "c"))


def test_the_confidence_interval_must_lie_wholly_inside_one_band():
    z = z_value(0.95)
    assert z == pytest.approx(1.959964, abs=1e-6)
    assert confidence_interval_band(0.5, 0.2, CUTS, 0.95) == 2
    assert confidence_interval_band(0.5, 0.3, CUTS, 0.95) is None  # 0.5 - 0.588 < 0
    assert confidence_interval_band(2.5, 0.5, CUTS, 0.95) == 3
    assert confidence_interval_band(-3.0, 0.9, CUTS, 0.95) == 0


def test_classification_confidence_is_the_normal_mass_of_the_band():
    decision = classify(0.5, 0.2, CUTS)
    assert decision.band == 2 and decision.name == "中级"
    assert decision.basis is ClassificationBasis.CONFIDENCE_INTERVAL
    assert decision.confidence == pytest.approx(norm.cdf(2.5) - norm.cdf(-2.5), rel=1e-12)
    undecided = classify(0.1, 0.4, CUTS)
    assert undecided.basis is ClassificationBasis.POINT_ESTIMATE and undecided.band == 2
    assert band_probabilities(0.1, 0.4, CUTS).sum() == pytest.approx(1.0)


def test_sprt_decides_with_walds_bounds():
    rule = SprtRule(cut=0.0, delta=0.2, alpha=0.05, beta=0.1)
    assert rule.upper_bound == pytest.approx(np.log(0.9 / 0.05))
    assert rule.lower_bound == pytest.approx(np.log(0.1 / 0.95))
    assert rule.decide(-10.0, -7.0) == 1
    assert rule.decide(-7.0, -10.0) == -1
    assert rule.decide(-7.0, -7.5) is None
    decision = classify(-0.05, 0.3, CutScores((0.0,)), sprt=rule, sprt_decision=1)
    assert decision.band == 1 and decision.basis is ClassificationBasis.SPRT


def _check(rule, n, se=0.2, theta=0.5, available=True, sprt=None):
    return check_stop(rule, n_administered=n, theta=theta, se=se, any_item_available=available, sprt_decision=sprt)


def test_minimum_length_comes_before_every_other_rule():
    rule = StoppingRule(min_length=10, max_length=30, se_target=0.5, cut_scores=CUTS, ci_confidence=0.95)
    assert not _check(rule, 5, se=0.01).stop
    assert _check(rule, 10, se=0.01).stop


def test_an_exhausted_pool_stops_even_below_the_minimum_length():
    rule = StoppingRule(min_length=10, max_length=30)
    decision = _check(rule, 3, available=False)
    assert decision.stop and decision.reason is StopReason.POOL_EXHAUSTED


def test_stop_reasons_follow_the_documented_precedence():
    rule = StoppingRule(min_length=1, max_length=30, se_target=0.3, cut_scores=CUTS, ci_confidence=0.95,
                        sprt=SprtRule(0.0))
    assert _check(rule, 30, se=0.01).reason is StopReason.MAX_LENGTH
    assert _check(rule, 12, se=0.2, theta=0.5).reason is StopReason.CLASSIFIED
    assert _check(rule, 12, se=0.29, theta=0.1, sprt=1).reason is StopReason.SPRT
    assert _check(rule, 12, se=0.29, theta=0.1).reason is StopReason.SE_TARGET
    assert _check(rule, 12, se=0.35, theta=0.1).reason is StopReason.NOT_STOPPED


def test_stopping_rule_validates_its_settings():
    with pytest.raises(ValueError, match="max_length"):
        StoppingRule(min_length=10, max_length=5)
    with pytest.raises(ValueError, match="cut scores"):
        StoppingRule(ci_confidence=0.95)
