"""The CAT state machine: replay, recovery, exposure, content balance, edge cases."""

import numpy as np
import pytest

from examengine.exam.cat import (
    StoredResponse,
    calibrate_exposure,
    classify_state,
    next_item,
    progressive_criterion,
    record,
    replay,
    simulate_cat,
    start_attempt,
)
from examengine.exam.policy import CatPolicy, ContentTarget
from examengine.exam.pool import ItemPool
from examengine.irt import models
from examengine.irt.classification import SprtRule
from examengine.irt.estimation import EstimateNote, EstimationMethod
from examengine.irt.exposure import ExposureParameters
from examengine.irt.params import IrtModel, ItemParams
from examengine.irt.selection import SelectionRule, StartRule
from examengine.irt.simulate import synthetic_bank
from examengine.irt.stopping import StopReason


def _pool(n=300, seed=0, model=IrtModel.THREE_PL, **kw):
    return ItemPool.from_params(synthetic_bank(n, np.random.default_rng(seed), model=model, **kw))


def _run(pool, policy, theta, seed, exposure=None):
    """Administer a whole attempt with step generators; return state and stored rows."""
    rng = np.random.default_rng([seed, 99])
    state = start_attempt(pool, policy, seed=seed)
    rows = []
    while (choice := next_item(state, pool, policy, exposure=exposure)) is not None:
        p = models.probability(theta, pool.params.take([choice.position]))[0]
        score = int(rng.random() < p)
        rows.append(StoredResponse(choice.item_id, score, True,
                                   tuple(pool.item_id(i) for i in choice.considered[:-1])))
        state = record(state, choice, score, pool, policy)
    return state, rows


def test_an_attempt_replays_exactly_from_its_stored_responses():
    pool = _pool(400, seed=1)
    policy = CatPolicy(start=StartRule.RANDOM_THETA, start_items=3, randomesque_k=4, max_length=25)
    k = np.clip(np.random.default_rng(2).uniform(0.2, 1.2, 400), 0.2, 1.0)
    exposure = ExposureParameters(k)
    state, rows = _run(pool, policy, 0.7, seed=1234, exposure=exposure)
    again = replay(pool, policy, seed=1234, responses=rows)
    assert again.items == state.items and again.scores == state.scores
    np.testing.assert_array_equal(again.blocked, state.blocked)
    assert again.estimate == state.estimate
    # the next choice from the replayed state is the same as from the live one
    same = CatPolicy(start=StartRule.RANDOM_THETA, start_items=3, randomesque_k=4, max_length=40)
    assert next_item(state, pool, same, exposure=exposure) == next_item(again, pool, same, exposure=exposure)


def test_the_same_seed_gives_the_same_attempt_and_another_seed_another_one():
    pool = _pool(400, seed=1)
    policy = CatPolicy(start=StartRule.RANDOM_THETA, randomesque_k=5, max_length=15)
    a, _ = _run(pool, policy, 0.0, seed=7)
    b, _ = _run(pool, policy, 0.0, seed=7)
    c, _ = _run(pool, policy, 0.0, seed=8)
    assert a.items == b.items and a.items != c.items


def test_a_40_item_cat_recovers_theta_with_rmse_at_most_0_30_on_a_2pl_bank():
    pool = _pool(400, seed=3, model=IrtModel.TWO_PL)
    policy = CatPolicy.fixed_length(40)
    thetas = np.random.default_rng(4).normal(0, 1, 300)
    sim = simulate_cat(pool, policy, thetas, seed=5)
    report = sim.report(policy)
    assert report.rmse <= 0.30
    assert abs(report.bias) < 0.06
    assert report.mean_length == 40 and set(sim.stop_reasons) == {StopReason.MAX_LENGTH}


def test_sympson_hetter_keeps_every_items_exposure_under_the_target():
    pool = _pool(150, seed=3)
    policy = CatPolicy.fixed_length(10)
    thetas = np.random.default_rng(11).normal(0, 1, 1000)
    unrestricted = simulate_cat(pool, policy, thetas, seed=12).report(policy)
    assert unrestricted.max_exposure > 0.9  # the fixed start gives everybody the same first item
    calibration = calibrate_exposure(pool, policy, target=0.2, n_simulees=400, seed=13, max_iterations=10,
                                     tolerance=0.02)
    controlled = simulate_cat(pool, policy, thetas, seed=12, exposure=calibration.parameters).report(policy)
    assert controlled.max_exposure <= 0.25
    assert controlled.rmse < unrestricted.rmse + 0.1


def test_the_progressive_opening_spreads_the_first_items_and_then_selects_by_information():
    pool = _pool(200, seed=5)
    plain = CatPolicy(start=StartRule.RANDOM_THETA, max_length=12, confidence=None)
    progressive = CatPolicy(start=StartRule.RANDOM_THETA, max_length=12, confidence=None, progressive_items=4)
    firsts = {name: [] for name in ("plain", "progressive")}
    for seed in range(300):
        for name, policy in (("plain", plain), ("progressive", progressive)):
            firsts[name].append(next_item(start_attempt(pool, policy, seed=seed), pool, policy).position)
    # a random start in [-1, 1] alone still leaves the first item to a handful of items;
    # at s = 0 the progressive criterion is a uniform random draw over the whole pool
    assert len(set(firsts["plain"])) <= 15
    assert len(set(firsts["progressive"])) >= 150  # of 200: 300 draws cover about 155 on average
    # once progressive_items items are answered, the choice is plain maximum information
    state = start_attempt(pool, progressive, seed=9)
    for score in (1, 0, 1, 1):
        state = record(state, next_item(state, pool, progressive), score, pool, progressive)
    assert state.n_scored == 4 and not state.stop.stop
    assert next_item(state, pool, progressive).position == next_item(state, pool, plain).position
    info = models.item_information_at(state.estimate.theta, pool.params)
    info[list(state.items)] = -np.inf
    assert next_item(state, pool, progressive).position == int(np.argmax(info))


def test_the_progressive_criterion_weighs_information_by_the_share_of_the_opening_done():
    rng = np.random.default_rng(3)
    info = rng.uniform(0.1, 1.5, 500)
    blocked = np.zeros(500, bool)
    blocked[np.argmax(info)] = True  # H is the largest information among available items
    h = np.max(info[~blocked])
    for s in (0.0, 0.25, 0.75, 1.0):
        got = progressive_criterion(info, blocked, s, np.random.default_rng(8))
        r = np.random.default_rng(8).random(500)
        np.testing.assert_allclose(got, (1 - s) * r * h + s * info)
    # at s = 0 the criterion carries no information about information
    r0 = progressive_criterion(info, blocked, 0.0, np.random.default_rng(9))
    assert abs(np.corrcoef(r0, info)[0, 1]) < 0.15
    np.testing.assert_array_equal(progressive_criterion(info, blocked, 1.0, np.random.default_rng(1)), info)


def test_an_attempt_with_a_progressive_opening_replays_exactly():
    pool = _pool(300, seed=2)
    policy = CatPolicy(start=StartRule.RANDOM_THETA, progressive_items=5, max_length=20)
    exposure = ExposureParameters(np.clip(np.random.default_rng(4).uniform(0.3, 1.3, 300), 0.3, 1.0))
    state, rows = _run(pool, policy, -0.4, seed=77, exposure=exposure)
    again = replay(pool, policy, seed=77, responses=rows)
    assert again.items == state.items and again.estimate == state.estimate
    with pytest.raises(ValueError, match="progressive_items"):
        CatPolicy(progressive_items=-1)


def test_maximum_priority_index_meets_target_proportions_within_one_item_per_area():
    rng = np.random.default_rng(21)
    params = synthetic_bank(600, rng)
    domains = rng.choice(["D1", "D2", "D3"], 600, p=[0.2, 0.3, 0.5])
    kinds = rng.choice(["single", "multiple", "judge"], 600)
    pool = ItemPool.build([f"q{i}" for i in range(600)], params,
                          content={"domain": list(domains), "type": list(kinds)})
    targets = {"D1": 0.5, "D2": 0.3, "D3": 0.2}
    type_targets = {"single": 0.4, "multiple": 0.4, "judge": 0.2}
    policy = CatPolicy.fixed_length(
        25, content_targets=(ContentTarget.of("domain", targets), ContentTarget.of("type", type_targets)))
    for seed, theta in enumerate(np.linspace(-2, 2, 9)):
        state, _ = _run(pool, policy, theta, seed=seed)
        got = {d: sum(domains[i] == d for i in state.items) for d in targets}
        for d, share in targets.items():
            assert abs(got[d] - share * 25) <= 1, (theta, got)
        got_type = {k: sum(kinds[i] == k for i in state.items) for k in type_targets}
        for k, share in type_targets.items():
            assert abs(got_type[k] - share * 25) <= 1, (theta, got_type)


def test_a_bank_smaller_than_the_maximum_length_ends_when_it_runs_out():
    pool = _pool(12, seed=5)
    policy = CatPolicy(min_length=20, max_length=30)
    state, _ = _run(pool, policy, 0.0, seed=1)
    assert len(state.items) == 12 and sorted(state.items) == list(range(12))
    assert state.stop.reason is StopReason.POOL_EXHAUSTED
    assert next_item(state, pool, policy) is None


def test_when_every_item_is_an_enemy_of_another_only_one_of_each_pair_is_given():
    params = synthetic_bank(20, np.random.default_rng(6))
    ids = [f"q{i}" for i in range(20)]
    pairs = [[ids[i], ids[i + 1]] for i in range(0, 20, 2)]
    pool = ItemPool.build(ids, params, enemy_groups=pairs)
    state, _ = _run(pool, CatPolicy(max_length=30), 0.3, seed=2)
    assert len(state.items) == 10
    assert sorted(i // 2 for i in state.items) == list(range(10))
    assert state.stop.reason is StopReason.POOL_EXHAUSTED
    with pytest.raises(ValueError, match="enemy"):
        start = start_attempt(pool, CatPolicy(), seed=0)
        record(record(start, 0, 1, pool, CatPolicy()), 1, 1, pool, CatPolicy())


def test_identical_items_are_given_in_position_order():
    params = ItemParams.two_pl(np.full(6, 1.5), np.zeros(6))
    pool = ItemPool.from_params(params)
    state, _ = _run(pool, CatPolicy.fixed_length(4), 0.0, seed=3)
    assert state.items == (0, 1, 2, 3)


@pytest.mark.parametrize("answer", [0, 1])
def test_all_right_and_all_wrong_attempts_keep_a_finite_estimate_with_every_estimator(answer):
    pool = _pool(200, seed=8)
    for method in EstimationMethod:
        policy = CatPolicy.fixed_length(15, estimator=method)
        state = start_attempt(pool, policy, seed=0)
        while (choice := next_item(state, pool, policy)) is not None:
            state = record(state, choice, answer, pool, policy)
        est = state.estimate
        assert np.isfinite(est.theta) and np.isfinite(est.se) and -6 <= est.theta <= 6
        assert (est.theta > 0) == bool(answer)
        if method is EstimationMethod.MLE:
            assert est.method is EstimationMethod.MAP and est.note is EstimateNote.CONSTANT_PATTERN


def test_an_unscored_item_is_out_of_play_but_does_not_move_the_estimate():
    pool = _pool(50, seed=9)
    policy = CatPolicy(max_length=10)
    state = record(start_attempt(pool, policy, seed=0), 3, 1, pool, policy)
    after = record(state, 7, 0, pool, policy, scored=False)
    assert after.estimate == state.estimate and after.n_scored == 1 and after.step == 2
    assert after.blocked[7]
    with pytest.raises(ValueError, match="already given"):
        record(after, 7, 1, pool, policy)
    with pytest.raises(ValueError, match="score"):
        record(after, 8, 2, pool, policy)


def test_the_confidence_interval_rule_stops_with_a_band_and_its_confidence():
    pool = _pool(500, seed=10)
    policy = CatPolicy(cuts=(-1.0, 0.0, 1.0), selection=SelectionRule.CUT_INFO, min_length=5, max_length=60)
    thetas = np.random.default_rng(5).normal(0, 1, 150)
    sim = simulate_cat(pool, policy, thetas, seed=6)
    report = sim.report(policy)
    assert sim.stop_reason_counts()[StopReason.CLASSIFIED.value] > 50
    assert report.classification_accuracy >= 0.8
    assert [b.name for b in report.band_accuracy] == ["未达初级", "初级", "中级", "高级"]
    state, _ = _run(pool, policy, 1.8, seed=1)
    decision = classify_state(state, policy)
    assert state.stop.reason is StopReason.CLASSIFIED and decision.name == "高级"
    assert 0.95 <= decision.confidence <= 1.0


def test_sprt_stops_an_attempt_far_from_the_cut_quickly():
    pool = _pool(300, seed=11)
    policy = CatPolicy(cuts=(0.0,), confidence=None, sprt=SprtRule(0.0, delta=0.3), max_length=50)
    state, _ = _run(pool, policy, 2.0, seed=4)
    assert state.stop.reason is StopReason.SPRT and state.n_scored < 25
    assert classify_state(state, policy).band == 1


def test_policy_names_bad_settings():
    with pytest.raises(ValueError, match="CUT_INFO needs cut scores"):
        CatPolicy(selection=SelectionRule.CUT_INFO)
    with pytest.raises(ValueError, match="randomesque_k"):
        CatPolicy(randomesque_k=0)
    pool = _pool(10)
    with pytest.raises(KeyError, match="domain"):
        next_item(start_attempt(pool, CatPolicy(content_targets=(ContentTarget.of("domain", {"D1": 1}),)),
                                seed=0), pool, CatPolicy())
