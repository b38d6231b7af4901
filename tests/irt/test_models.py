"""Closed forms and identities of the 1PL/2PL/3PL models."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examengine.irt import models
from examengine.irt.params import IrtModel, ItemParams

a_values = st.floats(0.2, 3.0)
b_values = st.floats(-3.0, 3.0)
c_values = st.floats(0.0, 0.4)
thetas = st.floats(-4.0, 4.0)


def test_2pl_information_at_b_is_a_squared_over_four():
    params = ItemParams.two_pl([0.5, 1.0, 1.7, 2.5], [-1.0, 0.0, 0.3, 2.0])
    info = np.array([models.item_information(b, params)[i] for i, b in enumerate(params.b)])
    np.testing.assert_allclose(info, params.a**2 / 4, rtol=1e-13)


def test_probability_at_b_is_one_plus_c_over_two():
    params = ItemParams.three_pl([0.7, 1.2, 2.0], [-0.5, 0.0, 1.5], [0.0, 0.2, 0.25])
    p = np.array([models.probability(b, params)[i] for i, b in enumerate(params.b)])
    np.testing.assert_allclose(p, (1 + params.c) / 2, rtol=1e-14)


@settings(max_examples=200, deadline=None)
@given(a=a_values, b=b_values, c=c_values, theta=thetas)
def test_information_equals_minus_the_expected_second_derivative_of_the_log_likelihood(a, b, c, theta):
    params = ItemParams.three_pl([a], [b], [c])
    p = models.probability(theta, params)[0]
    d2_right = models.log_likelihood_second_derivative(theta, params, [1])
    d2_wrong = models.log_likelihood_second_derivative(theta, params, [0])
    expected = p * d2_right + (1 - p) * d2_wrong
    info = models.item_information(theta, params)[0]
    assert info == pytest.approx(-expected, rel=1e-9, abs=1e-14)


@settings(max_examples=200, deadline=None)
@given(a=a_values, b=b_values, c=c_values, theta=thetas)
def test_information_equals_lords_formula_in_terms_of_p(a, b, c, theta):
    params = ItemParams.three_pl([a], [b], [c])
    p = models.probability(theta, params)[0]
    lord = a**2 * (1 - p) / p * ((p - c) / (1 - c)) ** 2
    # Lord's form loses digits where P is near 1: 1 - P carries an absolute rounding error of a
    # few eps, i.e. a relative one of eps / (1 - P) (a = 3, b = -3, theta = 3: 1 - P = 1e-8).
    rel = 1e-9 + 4 * np.finfo(float).eps / (1 - p)
    assert models.item_information(theta, params)[0] == pytest.approx(lord, rel=rel, abs=1e-15)


@settings(max_examples=100, deadline=None)
@given(a=a_values, b=b_values, c=c_values, theta=thetas, u=st.sampled_from([0, 1]))
def test_score_function_is_the_derivative_of_the_log_likelihood(a, b, c, theta, u):
    params = ItemParams.three_pl([a], [b], [c])
    h = 1e-5
    numeric = (models.log_likelihood(theta + h, params, [u]) - models.log_likelihood(theta - h, params, [u])) / (2 * h)
    assert models.score_function(theta, params, [u]) == pytest.approx(numeric, rel=1e-5, abs=1e-7)
    numeric2 = (models.score_function(theta + h, params, [u]) - models.score_function(theta - h, params, [u])) / (2 * h)
    assert models.log_likelihood_second_derivative(theta, params, [u]) == pytest.approx(numeric2, rel=1e-4, abs=1e-7)


def test_probability_derivative_matches_finite_differences():
    params = ItemParams.three_pl([0.8, 1.5, 2.2], [-1.0, 0.2, 1.0], [0.1, 0.0, 0.2])
    t = np.linspace(-3, 3, 13)
    h = 1e-6
    numeric = (models.probability(t + h, params) - models.probability(t - h, params)) / (2 * h)
    np.testing.assert_allclose(models.probability_derivative(t, params), numeric, rtol=1e-6, atol=1e-10)


def test_peak_information_matches_a_fine_grid_search():
    params = ItemParams.three_pl([1.5, 2.0, 1.0, 0.6], [0.0, 0.5, -1.0, 2.0], [0.0, 0.2, 0.25, 0.1])
    theta_max, info_max = models.max_information(params)
    grid = np.linspace(-5, 6, 110001)
    info = models.item_information(grid, params)
    np.testing.assert_allclose(theta_max, grid[info.argmax(axis=0)], atol=1e-4)
    assert np.all(info_max >= info.max(axis=0) * (1 - 1e-13))
    np.testing.assert_allclose(info_max, info.max(axis=0), rtol=1e-8)
    at_peak = [models.item_information(t, params)[i] for i, t in enumerate(theta_max)]
    np.testing.assert_allclose(info_max, at_peak, rtol=1e-12)


def test_fast_scalar_information_equals_the_vectorised_one():
    rng = np.random.default_rng(3)
    params = ItemParams.three_pl(rng.uniform(0.3, 2.5, 500), rng.normal(0, 1.5, 500), rng.uniform(0, 0.3, 500))
    for theta in (-5.0, -1.3, 0.0, 2.7):
        np.testing.assert_allclose(models.item_information_at(theta, params),
                                   models.item_information(theta, params), rtol=1e-13)


def test_log_probabilities_stay_finite_far_from_the_item():
    params = ItemParams.two_pl([3.0, 3.0], [-4.0, 4.0])
    log_p, log_q = models.log_probabilities(np.array([-60.0, 60.0]), params)
    assert np.all(np.isfinite(log_p)) and np.all(np.isfinite(log_q))
    assert log_p[0, 1] == pytest.approx(-3.0 * 64.0, rel=1e-12)  # log sigma(-192)


def test_persons_by_items_arrays_have_the_persons_axis_first():
    params = ItemParams.two_pl([1.0, 1.5, 2.0], [0.0, 0.5, 1.0])
    theta = np.array([-1.0, 0.0, 1.0, 2.0])
    assert models.probability(theta, params).shape == (4, 3)
    responses = np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1], [0, 1, 1]])
    mask = np.array([[True, True, False]] * 4)
    ll = models.log_likelihood(theta, params, responses, mask)
    one_by_one = [models.log_likelihood(t, params.take([0, 1]), r[:2]) for t, r in zip(theta, responses)]
    np.testing.assert_allclose(ll, one_by_one, rtol=1e-13)


def test_form_information_is_the_sum_of_item_information():
    params = ItemParams.three_pl([1.0, 1.5, 2.0], [0.0, 0.5, 1.0], [0.1, 0.2, 0.0])
    t = np.array([-1.0, 0.4])
    np.testing.assert_allclose(models.form_information(t, params), models.item_information(t, params).sum(axis=1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"a": [1.0, 0.0], "b": [0.0, 0.0], "c": [0.0, 0.0]}, "item 1: discrimination"),
        ({"a": [1.0, 1.0], "b": [0.0, np.nan], "c": [0.0, 0.0]}, "item 1: difficulty"),
        ({"a": [1.0, 1.0], "b": [0.0, 0.0], "c": [1.0, 0.0]}, "item 0: lower asymptote"),
        ({"a": [1.0, 1.0], "b": [0.0], "c": [0.0, 0.0]}, "one shape"),
    ],
)
def test_item_params_name_the_bad_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ItemParams(**kwargs)


def test_item_params_are_read_only_copies():
    a = np.array([1.0, 2.0])
    params = ItemParams.two_pl(a, [0.0, 1.0])
    a[0] = 99.0
    assert params.a[0] == 1.0
    with pytest.raises(ValueError):
        params.a[0] = 5.0


def test_model_is_the_smallest_that_fits():
    assert ItemParams.one_pl([0.0, 1.0]).model is IrtModel.ONE_PL
    assert ItemParams.two_pl([1.0, 2.0], [0.0, 1.0]).model is IrtModel.TWO_PL
    assert ItemParams.three_pl([1.0, 2.0], [0.0, 1.0], [0.0, 0.2]).model is IrtModel.THREE_PL


def test_one_irt_model_reads_both_stored_spellings_and_writes_the_item_file_one():
    from examengine.exam.items import IrtModel as ItemsIrtModel

    assert ItemsIrtModel is IrtModel  # one Enum of the idea, re-exported by exam.items
    for text, model in (("1PL", IrtModel.ONE_PL), ("2pl", IrtModel.TWO_PL), (" 3Pl ", IrtModel.THREE_PL)):
        assert IrtModel(text) is model and IrtModel.parse(text) is model
    assert [m.value for m in IrtModel] == ["1PL", "2PL", "3PL"]  # what item files and imports store
    assert IrtModel.THREE_PL == "3PL"
    with pytest.raises(ValueError):
        IrtModel.parse("4pl")
