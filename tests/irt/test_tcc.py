"""The test characteristic curve as a percent correct, and its inverse (cuts given as a percent
correct on a reference set)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logit

from examengine.irt.params import ItemParams
from examengine.irt.tcc import percent_correct_at, theta_for_percent_correct


def test_a_percent_correct_cut_inverts_the_test_characteristic_curve():
    # Rasch items of equal difficulty: the TCC is the logistic, so theta = b + logit(p).
    params = ItemParams.two_pl(np.ones(20), np.full(20, 0.4))
    assert theta_for_percent_correct(params, 70.0) == pytest.approx(0.4 + logit(0.7), abs=1e-8)
    mixed = ItemParams.three_pl(np.linspace(0.6, 2.0, 15), np.linspace(-2, 2, 15), np.full(15, 0.2))
    theta = theta_for_percent_correct(mixed, 65.0)
    direct = 100 * np.mean(0.2 + 0.8 / (1 + np.exp(-np.linspace(0.6, 2.0, 15) * (theta - np.linspace(-2, 2, 15)))))
    assert direct == pytest.approx(65.0, abs=1e-7)
    assert theta_for_percent_correct(mixed, 15.0) is None  # below the guessing floor


def test_the_percent_correct_at_theta_is_the_mean_probability_times_100():
    params = ItemParams.three_pl(np.array([1.0, 2.0]), np.array([0.0, 1.0]), np.array([0.0, 0.2]))
    # at theta = 0: P_1 = 1/2, P_2 = 0.2 + 0.8 / (1 + e^2)
    assert percent_correct_at(params, 0.0) == pytest.approx(50 * (0.5 + 0.2 + 0.8 / (1 + np.exp(2.0))), abs=1e-12)
