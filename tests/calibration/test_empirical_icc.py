"""Observed proportions by ability group (the points beside a model ICC) and their intervals."""

from __future__ import annotations

import numpy as np
import pytest

from examengine.irt.item_analysis import empirical_icc, icc_group_count, wilson_interval


def test_groups_are_equal_sized_in_ability_order_with_ties_kept_in_their_given_order():
    theta = np.array([0.5, -1.0, 2.0, 0.5, -2.0, 1.0, 0.0])
    score = np.array([1, 0, 1, 0, 0, 1, 1])
    emp = empirical_icc(theta, score, 3, model_p=np.full(7, 0.5))
    # sorted: -2 (0), -1 (0), 0 (1) | 0.5 (1), 0.5 (0) | 1 (1), 2 (1)
    np.testing.assert_array_equal(emp.n, [3, 2, 2])
    np.testing.assert_allclose(emp.theta, [-1.0, 0.5, 1.5])
    np.testing.assert_allclose(emp.proportion, [1 / 3, 0.5, 1.0])
    np.testing.assert_allclose(emp.low, [-2.0, 0.5, 1.0])
    np.testing.assert_allclose(emp.high, [0.0, 0.5, 2.0])
    np.testing.assert_allclose(emp.expected, [0.5, 0.5, 0.5])


def test_observed_proportions_follow_the_generating_curve():
    rng = np.random.default_rng(5)
    theta = rng.normal(size=20_000)
    p = 1 / (1 + np.exp(-1.3 * (theta - 0.4)))
    emp = empirical_icc(theta, rng.random(theta.size) < p, 10, model_p=p)
    np.testing.assert_allclose(emp.proportion, emp.expected, atol=0.03)
    assert np.all(np.diff(emp.theta) > 0)


def test_group_count_and_refusals():
    assert [icc_group_count(n) for n in (0, 74, 75, 150, 249, 250, 10_000)] == [0, 0, 3, 6, 9, 10, 10]
    with pytest.raises(ValueError, match="finite"):
        empirical_icc([0.0, np.nan], [1, 0], 1)
    with pytest.raises(ValueError, match="groups"):
        empirical_icc([0.0, 1.0], [1, 0], 3)


def test_wilson_interval_matches_the_published_values():
    # Newcombe (1998), Table I: 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to 0.1605
    lo, hi = wilson_interval([81, 15, 0], [263, 148, 20])
    np.testing.assert_allclose(lo[:2], [0.2553, 0.0624], atol=1e-4)
    np.testing.assert_allclose(hi[:2], [0.3662, 0.1605], atol=1e-4)
    assert lo[2] == 0.0 and 0 < hi[2] < 0.2
