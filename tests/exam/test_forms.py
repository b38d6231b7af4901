"""Paper forms in exam terms, without a database: the blueprint's targets, the conversion table
(against an independent summed-score EAP by enumerating every response pattern, and by adaptive
quadrature), assembly through ``form_spec`` and scoring a paper answer sheet."""

from __future__ import annotations

from itertools import permutations, product

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import norm

from examengine.exam.blueprint import LOWER_LEVEL as LOWER
from examengine.exam.blueprint import Blueprint
from examengine.exam.forms import (
    AssignRule,
    RosterSeat,
    assign_codes,
    conversion_table,
    domain_targets,
    form_spec,
    key_balance,
    limit_key_runs,
    natural_key,
    read_answer,
    score_answer,
    score_paper_form,
    split_answer_string,
    summed_score_likelihood,
    type_bounds,
)
from examengine.exam.pool import ItemPool
from examengine.irt.assembly import InfeasibleAssemblyError, assemble_forms
from examengine.irt.estimation import DEFAULT_GRID
from examengine.irt.params import ItemParams

CUTS = (-1.0, 0.0, 1.0)


def _bp(**kw) -> Blueprint:
    base = {"id": "999999-L2", "standard": "999999", "level": "L2", "name": "测试蓝图",
            "domain_weights": (("D1", 0.5), ("D2", 0.3), ("D3", 0.2))}
    return Blueprint(**(base | kw))


def _params(n: int, seed: int) -> ItemParams:
    rng = np.random.default_rng(seed)
    return ItemParams.three_pl(np.exp(rng.normal(0.1, 0.3, n)), rng.normal(0, 1, n), rng.uniform(0.1, 0.25, n))


def _p(theta, params: ItemParams) -> np.ndarray:
    """3PL P(theta) (n,) for scalar theta, written out."""
    return params.c + (1 - params.c) / (1 + np.exp(-params.a * (theta - params.b)))


def _summed_score_likelihood_by_enumeration(params: ItemParams, thetas: np.ndarray) -> np.ndarray:
    """P(raw = s | theta) by summing the probability of every one of the 2^n response patterns."""
    p = np.array([_p(t, params) for t in np.atleast_1d(thetas)])  # (Q, n)
    patterns = np.array(list(product((0, 1), repeat=params.n_items)))  # (2^n, n)
    each = np.exp(np.log(p) @ patterns.T + np.log1p(-p) @ (1 - patterns).T)  # (Q, 2^n)
    raw = patterns.sum(axis=1)
    return np.array([each[:, raw == s].sum(axis=1) for s in range(params.n_items + 1)])


def _pattern_eap_by_quadrature(params: ItemParams, u: np.ndarray) -> float:
    """E[theta | u] under N(0, 1), by adaptive quadrature over the real line."""
    def like(t):
        p = _p(t, params)
        return float(np.prod(np.where(u == 1, p, 1 - p))) * norm.pdf(t)
    den = quad(like, -8, 8, points=[0.0], limit=200)[0]
    return quad(lambda t: t * like(t), -8, 8, points=[0.0], limit=200)[0] / den


class TestTargets:
    def test_domain_targets_round_the_weights_by_largest_remainder_with_the_lower_level_share(self):
        # 20 x (0.45, 0.27, 0.18, 0.10) = 9, 5.4, 3.6, 2: floors 19, the one left goes to the largest remainder (D3)
        assert domain_targets(_bp(lower_level_share=0.1), 20) == {"D1": 9, "D2": 5, "D3": 4, LOWER: 2}
        # without it: 10, 6, 4 exactly
        assert domain_targets(_bp(), 20) == {"D1": 10, "D2": 6, "D3": 4}

    @pytest.mark.parametrize("length", [10, 17, 23, 40])
    def test_domain_targets_sum_to_the_length_and_stay_within_one_of_the_exact_share(self, length):
        bp = _bp(lower_level_share=0.15)
        counts = domain_targets(bp, length)
        assert sum(counts.values()) == length
        exact = {"D1": 0.5 * 0.85, "D2": 0.3 * 0.85, "D3": 0.2 * 0.85, LOWER: 0.15}
        assert all(abs(counts[k] - exact[k] * length) < 1 for k in exact)

    def test_type_bounds_are_the_share_plus_minus_the_tolerance_of_the_length(self):
        # 单选 0.55 ± 0.10, 多选 0.25 ± 0.10, 判断 0.20 ± 0.10 of 20 items
        assert type_bounds(_bp(), 20) == {"单选": (9, 13), "多选": (3, 7), "判断": (2, 6)}
        assert type_bounds(_bp(type_tolerance=0.0), 20) == {"单选": (11, 11), "多选": (5, 5), "判断": (4, 4)}


@pytest.fixture(scope="module")
def pool() -> ItemPool:
    """60 seeded 3PL items: 30 / 18 / 12 in D1-D3, 30 / 15 / 15 单选 / 多选 / 判断, one enemy pair."""
    rng = np.random.default_rng(77)
    domains = rng.permutation(np.repeat(["D1", "D2", "D3"], [30, 18, 12])).tolist()
    types = rng.permutation(np.repeat(["单选", "多选", "判断"], [30, 15, 15])).tolist()
    ids = [f"I{i:02d}" for i in range(60)]
    return ItemPool.build(ids, _params(60, 78), content={"domain": domains, "type": types},
                          enemy_groups=[("I00", "I01")])


class TestFormSpec:
    def test_two_forms_assembled_from_the_blueprint_meet_its_domain_counts_and_type_bounds(self, pool):
        bp = _bp()
        spec = form_spec(bp, pool, CUTS, n_forms=2, length=20, rel_gap=0.02, time_limit=10, seed=1)
        assert spec.thetas == CUTS and spec.parallel_thetas == (-1.0, 0.0, 1.0)
        out = assemble_forms(pool.params, spec)
        domains, types = pool.content_group("domain"), pool.content_group("type")
        bounds = type_bounds(bp, 20)
        for form in out.forms:
            got = {d: int(np.sum(domains.codes[form] == domains.areas.index(d))) for d in ("D1", "D2", "D3")}
            assert got == domain_targets(bp, 20) == {"D1": 10, "D2": 6, "D3": 4}
            for t, (lo, hi) in bounds.items():
                assert lo <= int(np.sum(types.codes[form] == types.areas.index(t))) <= hi
            assert not {0, 1} <= set(form.tolist())
        assert np.intersect1d(*out.forms).size == 0

    def test_a_lower_level_share_asks_for_items_no_pool_area_holds_and_is_refused_by_name(self, pool):
        spec = form_spec(_bp(lower_level_share=0.1), pool, CUTS, n_forms=1, length=20)
        lower = next(c for c in spec.categories if c.area == LOWER)
        assert (lower.lower, lower.upper, int(lower.members.sum())) == (2, 2, 0)
        with pytest.raises(InfeasibleAssemblyError) as exc:
            assemble_forms(pool.params, spec)
        assert [(s.area, s.needed, s.available) for s in exc.value.shortfalls] == [(LOWER, 2, 0)]
        assert "低级别题目" in str(exc.value)


class TestConversionTable:
    def test_the_lord_wingersky_recursion_equals_the_sum_over_all_response_patterns(self):
        params = _params(8, 5)
        expected = _summed_score_likelihood_by_enumeration(params, DEFAULT_GRID.points)
        np.testing.assert_allclose(summed_score_likelihood(params), expected, rtol=1e-10, atol=1e-300)

    def test_each_raw_score_maps_to_the_summed_score_eap_computed_independently(self):
        params = _params(8, 5)
        table = conversion_table(params, _bp(), CUTS)
        assert [r.raw for r in table] == list(range(9))
        # the same grid, by enumeration: posterior ∝ L_s(theta_q) phi(theta_q) w_q (trapezoid weights)
        q = DEFAULT_GRID.points
        w = norm.pdf(q) * np.where((q == q[0]) | (q == q[-1]), 0.5, 1.0)
        like = _summed_score_likelihood_by_enumeration(params, q)
        post = like * w
        post /= post.sum(axis=1, keepdims=True)
        mean = post @ q
        sd = np.sqrt(post @ q**2 - mean**2)
        np.testing.assert_allclose([r.theta for r in table], mean, atol=1e-10)
        np.testing.assert_allclose([r.se for r in table], sd, atol=1e-10)
        # and by adaptive quadrature on the real line (no grid): agrees to the grid's accuracy
        for s in range(9):
            def post(t, s=s):
                return float(_summed_score_likelihood_by_enumeration(params, np.array([t]))[s, 0]) * norm.pdf(t)
            den = quad(post, -8, 8, limit=200)[0]
            assert table[s].theta == pytest.approx(quad(lambda t, f=post: t * f(t), -8, 8, limit=200)[0] / den,
                                                   abs=2e-3)

    def test_the_table_is_monotone_in_theta_score_band_and_pass(self):
        params = _params(30, 9)
        bp = _bp()
        table = conversion_table(params, bp, CUTS)
        assert len(table) == 31
        theta = np.array([r.theta for r in table])
        assert np.all(np.diff(theta) > 0)
        assert np.all(np.diff([r.score for r in table]) >= 0)
        assert np.all(np.diff([r.band for r in table]) >= 0)
        passed = [r.passed for r in table]
        assert passed == sorted(passed) and passed[0] is False and passed[-1] is True
        for r in table:  # band and pass read off the cuts (the registered L2 cut is 0.0)
            assert r.band == int(np.sum(r.theta >= np.array(CUTS)))
            assert r.passed == (r.theta >= 0.0)
            assert r.band_name == ("未达初级", "初级", "中级", "高级")[r.band]
            # the reporting scale: 60 at the cut, 0 at -3, 100 at 3, linear in between
            expected = 60 * (r.theta + 3) / 3 if r.theta < 0 else 60 + 40 * r.theta / 3
            assert r.score == pytest.approx(min(100.0, max(0.0, expected)))


class TestPaperScoring:
    def test_a_blank_sheet_is_all_omitted_and_scores_the_raw_zero_row(self):
        params = _params(12, 11)
        sheet = split_answer_string("," * 11)
        assert sheet == [""] * 12
        read = [read_answer(cell, "单选", 4) for cell in sheet]
        assert read == [([], "")] * 12
        scores = [score_answer(letters, [0]) for letters, _ in read]
        assert scores == [0] * 12
        bp = _bp()
        result = score_paper_form(bp, CUTS, params, scores)
        row0 = conversion_table(params, bp, CUTS)[0]  # one pattern has raw score 0: the two EAPs agree
        assert result.theta == pytest.approx(row0.theta, abs=1e-12)
        assert (result.band, result.band_name, result.passed) == (row0.band, row0.band_name, False)
        assert result.theta == pytest.approx(_pattern_eap_by_quadrature(params, np.zeros(12)), abs=2e-3)

    def test_a_response_pattern_is_scored_by_its_own_eap_and_its_band_mass_sums_to_one(self):
        params = _params(12, 11)
        u = np.array([1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0])
        result = score_paper_form(_bp(), CUTS, params, u.tolist())
        assert result.theta == pytest.approx(_pattern_eap_by_quadrature(params, u), abs=2e-3)
        assert result.passed == (result.theta >= 0.0)
        assert result.pass_confidence is not None and 0.0 <= result.pass_confidence <= 1.0

    @pytest.mark.parametrize(("text", "item_type", "expected"), [
        ("对", "判断", (["A"], "")), ("×", "判断", (["B"], "")), ("b", "单选", (["B"], "")),
        ("DB", "多选", (["B", "D"], "")), ("AB", "单选", (None, "“AB”：单选题只能选一个选项")),
        ("E", "单选", (None, "“E”含有不是本题选项的“E”（选项为 A-D）")),
    ])
    def test_written_answers_are_read_into_option_letters_or_a_reason(self, text, item_type, expected):
        assert read_answer(text, item_type, 4) == expected

    def test_a_multiple_response_scores_only_when_it_is_exactly_the_key(self):
        assert score_answer(["B", "D"], [3, 1]) == 1
        assert score_answer(["B"], [1, 3]) == 0
        assert score_answer(["A", "B", "D"], [1, 3]) == 0


# ---------------------------------------------------------------- key runs, key balance, assignment


def _longest(keys) -> int:
    best = run = 0
    for k, key in enumerate(keys):
        run = run + 1 if k and key == keys[k - 1] else 1
        best = max(best, run)
    return best


def test_key_runs_are_limited_whenever_some_order_allows_it_by_brute_force():
    """Against every permutation of small sections: when any order keeps runs within 3, the chosen
    one does, it is a reordering of the section, and a section already fine is left as it is."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        n = int(rng.integers(1, 9))
        keys = list(rng.choice(list("ABCD"), n, p=[0.6, 0.2, 0.1, 0.1]))
        out = limit_key_runs(list(range(n)), keys, 3)
        assert sorted(out) == list(range(n))
        possible = any(_longest(p) <= 3 for p in permutations(keys))
        assert (_longest([keys[i] for i in out]) <= 3) == possible, keys
        if _longest(keys) <= 3:
            assert out == list(range(n))


def test_key_balance_counts_letters_true_false_and_the_longest_run_within_a_section():
    kb = key_balance([1, 2, 3, 4, 5, 6, 7], ["单选"] * 4 + ["判断"] * 3, ["A", "A", "B", "C", "A", "A", "B"])
    assert kb.single == {"A": 2, "B": 1, "C": 1, "D": 0} and kb.true_false == {"对": 2, "错": 1}
    assert (kb.longest_run, kb.longest_run_at) == (2, 1)  # A A of the 单选; the 判断's A does not continue it
    assert kb.single_band == (0, 2) and kb.true_band == (1, 2) and kb.balanced


def test_seats_alternate_within_a_room_rooms_take_turns_and_numbers_sort_as_numbers():
    assert sorted(["10", "9", "A10", "A2", "1"], key=natural_key) == ["1", "9", "10", "A2", "A10"]
    entries = [RosterSeat("t1", "R1", "2"), RosterSeat("t2", "R1", "10"), RosterSeat("t3", "R1", "1"),
               RosterSeat("t4", "R2", ""), RosterSeat("t5", "R2", "1"), RosterSeat("t6", "R10", "1")]
    # R1: seats 1, 2, 10 -> A B C; R2 goes on: seat 1 A, no seat B; R10 C
    assert assign_codes(entries, "ABC", AssignRule.SEAT) == ["B", "C", "A", "B", "A", "C"]
    assert assign_codes(entries, "AB", AssignRule.ROOM) == ["A", "A", "A", "B", "B", "A"]
    assert assign_codes([RosterSeat("t", roster_form="B")], "AB", AssignRule.COLUMN) == ["B"]
