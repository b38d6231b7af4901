"""Maximum information (against catsim), pruning, ties, randomesque, MPI."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examengine.irt import models
from examengine.irt.estimation import eap
from examengine.irt.params import ItemParams
from examengine.irt.selection import (
    ContentConstraint,
    InformationIndex,
    SelectionRule,
    best_item,
    choose,
    max_information_item,
    mpi_area_factors,
    mpi_factors,
    nearest_cut,
    selection_theta,
)
from examengine.irt.simulate import synthetic_bank


def _adaptive_state(params, n_given, theta=0.5, seed=0):
    """Give n_given items by max info + EAP to a simulee with the given theta."""
    rng = np.random.default_rng(seed)
    blocked = np.zeros(params.n_items, dtype=bool)
    items, scores = [], []
    est = 0.0
    for _ in range(n_given):
        i = max_information_item(est, params, blocked)
        items.append(i)
        blocked[i] = True
        scores.append(int(rng.random() < models.probability(theta, params.take([i]))[0]))
        est = eap(params.take(items), scores).theta
    return items, scores, est, blocked


@pytest.mark.parametrize(("seed", "n_bank"), [(21, 500), (22, 5000), (23, 20000)])
def test_next_item_is_the_one_catsims_max_info_selector_picks(seed, n_bank):
    from catsim.item_bank import ItemBank
    from catsim.selection import MaxInfoSelector

    params = synthetic_bank(n_bank, np.random.default_rng(seed))
    items, _, est, blocked = _adaptive_state(params, 20, seed=seed)
    bank = ItemBank(np.column_stack([params.a, params.b, params.c, np.ones(n_bank)]))
    theirs = MaxInfoSelector().select(item_bank=bank, administered_items=items, est_theta=est)
    assert max_information_item(est, params, blocked) == theirs
    assert best_item(InformationIndex.build(params), est, blocked).position == theirs


@settings(max_examples=60, deadline=None)
@given(theta=st.floats(-5, 5), seed=st.integers(0, 10_000), share_blocked=st.floats(0, 0.99))
def test_pruned_search_picks_the_same_item_as_the_full_argmax(theta, seed, share_blocked):
    rng = np.random.default_rng(seed)
    params = synthetic_bank(700, rng)
    blocked = rng.random(700) < share_blocked
    factors = rng.choice([0.0, 0.5, 1.0], 700) if seed % 2 else None
    full = models.item_information_at(theta, params)
    if factors is not None:
        full = full * factors
        if not np.any(full[~blocked] > 0):
            full = models.item_information_at(theta, params)
    expected = choose(full, blocked)
    got = best_item(InformationIndex.build(params), theta, blocked, factors, chunk=16)
    if expected is None:
        assert got is None
    else:
        assert got.position == expected.position


def test_ties_go_to_the_lowest_position():
    params = ItemParams.two_pl([1.0, 2.0, 2.0, 2.0, 1.0], [0.0, 0.3, 0.3, 0.3, 0.0])
    blocked = np.array([False, True, False, False, False])
    assert max_information_item(0.3, params, blocked) == 2
    assert best_item(InformationIndex.build(params), 0.3, blocked, chunk=1).position == 2


def test_no_item_is_chosen_when_everything_is_blocked():
    params = ItemParams.two_pl([1.0, 2.0], [0.0, 0.3])
    assert max_information_item(0.0, params, np.ones(2, dtype=bool)) is None
    assert best_item(InformationIndex.build(params), 0.0, np.ones(2, dtype=bool)) is None
    assert choose(np.ones(2), np.ones(2, dtype=bool), rng=np.random.default_rng(0), randomesque_k=3) is None


def test_randomesque_picks_uniformly_among_the_k_most_informative_available_items():
    info = np.array([0.1, 0.9, 0.8, 0.7, 0.95, 0.2, 0.6])
    blocked = np.array([False, False, False, False, True, False, False])
    rng = np.random.default_rng(5)
    picks = [choose(info, blocked, rng=rng, randomesque_k=3).position for _ in range(3000)]
    values, counts = np.unique(picks, return_counts=True)
    assert set(values) == {1, 2, 3}
    assert counts.min() > 900


def test_sympson_hetter_lottery_passes_over_rejected_items_in_order():
    info = np.array([0.9, 0.8, 0.7, 0.1])
    k = np.array([1e-9, 1e-9, 1.0, 1.0])
    choice = choose(info, np.zeros(4, dtype=bool), rng=np.random.default_rng(1), exposure_k=k)
    assert choice.position == 2 and choice.considered == (0, 1, 2)


def test_when_the_lottery_rejects_every_item_the_best_is_given_and_none_set_aside():
    info = np.array([0.9, 0.8, 0.7, 0.1])
    k = np.full(4, 1e-12)
    choice = choose(info, np.zeros(4, dtype=bool), rng=np.random.default_rng(1), exposure_k=k)
    assert choice.position == 0 and choice.considered == (0,)


def test_cut_information_is_taken_at_the_nearest_cut():
    assert nearest_cut(0.4, [-1.0, 0.0, 1.0]) == 0.0
    assert nearest_cut(0.6, [-1.0, 0.0, 1.0]) == 1.0
    assert nearest_cut(-5.0, [-1.0, 0.0, 1.0]) == -1.0
    assert selection_theta(SelectionRule.CUT_INFO, 0.6, [-1.0, 0.0, 1.0]) == 1.0
    assert selection_theta(SelectionRule.MAX_INFO, 0.6, [-1.0, 0.0, 1.0]) == 0.6


def test_an_exam_deciding_the_band_measures_at_the_registered_cut_first_then_at_the_next_open_cut():
    cuts = [-1.0, 0.0, 1.0]

    def at(theta, half):
        return selection_theta(SelectionRule.CUT_INFO, theta, cuts, primary=0.0, half_width=half)

    # pass/fail at 0 open (|0.6 - 0| < 0.8): measure there although 1.0 is nearer
    assert at(0.6, 0.8) == 0.0
    # pass decided (0.6 - 0.5 > 0): the next open decision, 1.0 (|0.6 - 1| = 0.4 < 0.5)
    assert at(0.6, 0.5) == 1.0
    # fail decided at -0.4 (-0.4 + 0.3 < 0): 0 is nearer but closed; -1 is still open? |-0.4 + 1| = 0.6 > 0.3:
    # no cut is open any more, so the nearest cut
    assert at(-0.4, 0.3) == 0.0
    # fail decided at -0.7 with 0.5: -1 is open (0.3 < 0.5), 0 is not (0.7 > 0.5)
    assert at(-0.7, 0.5) == -1.0
    # without a primary cut: the nearest cut, as before
    assert selection_theta(SelectionRule.CUT_INFO, 0.6, cuts, half_width=0.8) == 1.0
    assert selection_theta(SelectionRule.MAX_INFO, 0.6, cuts, primary=0.0, half_width=0.8) == 0.6


def test_mpi_factor_is_zero_for_a_full_area_and_one_for_an_untouched_area():
    f = mpi_area_factors(np.array([0.5, 0.3, 0.2]), [5, 1, 0], n_administered=6)
    # quotas for 7 items: 3.5, 2.1, 1.4
    np.testing.assert_allclose(f, [0.0, (2.1 - 1) / 2.1, 1.0])


def test_mpi_multiplies_the_factors_of_every_constraint_group():
    domain = ContentConstraint("domain", np.array([0, 0, 1, 1]), np.array([0.5, 0.5]))
    kind = ContentConstraint("type", np.array([0, 1, -1, 1]), np.array([0.5, 0.5]))
    factors = mpi_factors([domain, kind], [np.array([1, 0]), np.array([0, 1])], n_administered=1)
    # quotas for 2 items: 1 and 1 -> domain f = (0, 1), type f = (1, 0)
    np.testing.assert_allclose(factors, [0 * 1, 0 * 0, 1 * 1, 1 * 0])
