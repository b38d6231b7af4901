"""Assembly of parallel fixed forms (MILP via HiGHS), without a database.

Every check is against something computed here independently: the 3PL information in closed form,
counts taken from the chosen positions, the top-L sum for a one-form maximin, and the
inclusion-exclusion counts of the feasibility check.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from examengine.irt.assembly import (
    AssemblySpec,
    Category,
    InfeasibleAssemblyError,
    Objective,
    Proportion,
    assemble_forms,
    check_feasibility,
)
from examengine.irt.params import ItemParams

N_ITEMS = 60
DOMAINS = ("D1", "D2", "D3")
TYPES = ("单选", "多选", "判断")


def information_3pl(theta: float, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Birnbaum's 3PL item information (D = 1), written out:
    I(theta) = a^2 (Q / P) ((P - c) / (1 - c))^2, P = c + (1 - c) / (1 + exp(-a (theta - b)))."""
    p = c + (1 - c) / (1 + np.exp(-a * (theta - b)))
    return a**2 * ((1 - p) / p) * ((p - c) / (1 - c)) ** 2


@pytest.fixture(scope="module")
def bank():
    """60 seeded 3PL items: 24 / 20 / 16 in domains D1-D3 and 33 / 15 / 12 of the three types,
    shuffled independently; two enemy groups of three."""
    rng = np.random.default_rng(20231)
    a = np.exp(rng.normal(0.1, 0.3, N_ITEMS))
    b = rng.normal(0.0, 1.0, N_ITEMS)
    c = rng.uniform(0.1, 0.25, N_ITEMS)
    domain = rng.permutation(np.repeat(np.arange(3), [24, 20, 16]))
    item_type = rng.permutation(np.repeat(np.arange(3), [33, 15, 12]))
    return ItemParams.three_pl(a, b, c), domain, item_type


def _categories(domain, item_type, domain_counts=(8, 7, 5), type_bounds=((9, 13), (3, 6), (2, 5))):
    cats = [Category("domain", d, f"工作领域 {d}", domain == k, n, n) for k, (d, n) in enumerate(zip(DOMAINS, domain_counts))]
    cats += [Category("type", t, f"题型 {t}", item_type == k, lo, hi, equal_across_forms=True)
             for k, (t, (lo, hi)) in enumerate(zip(TYPES, type_bounds))]
    return tuple(cats)


ENEMIES = ((0, 1, 2), (10, 11, 12))


class TestAssembleForms:
    def test_two_forms_meet_the_domain_counts_type_bounds_enemies_and_share_nothing(self, bank):
        params, domain, item_type = bank
        spec = AssemblySpec(n_forms=2, length=20, thetas=(-0.5, 0.5), parallel_thetas=(-0.5, 0.0, 0.5),
                            categories=_categories(domain, item_type), enemy_groups=ENEMIES, seed=1)
        out = assemble_forms(params, spec)
        assert len(out.forms) == 2
        for form in out.forms:
            assert form.size == 20 and np.unique(form).size == 20
            assert np.bincount(domain[form], minlength=3).tolist() == [8, 7, 5]
            types = np.bincount(item_type[form], minlength=3)
            assert 9 <= types[0] <= 13 and 3 <= types[1] <= 6 and 2 <= types[2] <= 5
            for group in ENEMIES:
                assert np.isin(group, form).sum() <= 1
        # the type mix is the same on both forms (equal_across_forms)
        assert (np.bincount(item_type[out.forms[0]], minlength=3).tolist()
                == np.bincount(item_type[out.forms[1]], minlength=3).tolist())
        assert np.intersect1d(*out.forms).size == 0 and out.shared == {(0, 1): 0}

    def test_parallel_forms_agree_within_the_tolerance_by_an_independent_information_sum(self, bank):
        params, domain, item_type = bank
        tau = 0.03
        spec = AssemblySpec(n_forms=3, length=15, thetas=(-0.5, 0.5), parallel_thetas=(-0.5, 0.0, 0.5),
                            categories=_categories(domain, item_type, (6, 5, 4), ((6, 10), (2, 5), (1, 4))),
                            parallel_tolerance=tau, rel_gap=0.02, time_limit=10, seed=2)
        out = assemble_forms(params, spec)
        assert out.report_thetas == (-0.5, 0.0, 0.5)
        for k, theta in enumerate(out.report_thetas):
            item_info = information_3pl(theta, params.a, params.b, params.c)
            sums = np.array([item_info[form].sum() for form in out.forms])
            np.testing.assert_allclose(out.information[:, k], sums, rtol=1e-10)
            for f, g in combinations(range(3), 2):
                assert abs(sums[f] - sums[g]) <= tau * (sums[f] + sums[g]) / 2 + 1e-7
            assert out.difference[k] == pytest.approx((sums.max() - sums.min()) / sums.mean())
        # maximin: the objective is the weakest form's information at the target thetas
        weakest = min(information_3pl(t, params.a, params.b, params.c)[form].sum()
                      for t in spec.thetas for form in out.forms)
        assert out.objective == pytest.approx(weakest, rel=1e-6)

    @pytest.mark.parametrize("overlap", [2, 5])
    def test_forms_that_may_share_items_share_at_most_the_bound_per_pair(self, bank, overlap):
        params, domain, item_type = bank
        # 4 forms of 18 from 60 items need 72 - 6 * overlap distinct items: they must share some
        spec = AssemblySpec(n_forms=4, length=18, thetas=(0.0,), parallel_thetas=(), max_overlap=overlap,
                            categories=_categories(domain, item_type, (7, 6, 5), ((8, 12), (2, 6), (1, 5))),
                            rel_gap=0.02, time_limit=10, seed=3)
        out = assemble_forms(params, spec)
        counted = {(f, g): int(np.intersect1d(out.forms[f], out.forms[g]).size) for f, g in combinations(range(4), 2)}
        assert counted == out.shared
        assert max(counted.values()) <= overlap
        assert len(set(np.concatenate(out.forms).tolist())) >= 72 - 6 * overlap

    def test_one_form_maximin_at_one_theta_is_the_sum_of_the_most_informative_items(self, bank):
        params, _, _ = bank
        info = information_3pl(0.3, params.a, params.b, params.c)
        spec = AssemblySpec(n_forms=1, length=10, thetas=(0.3,), parallel_thetas=(), rel_gap=1e-9)
        out = assemble_forms(params, spec)
        top = np.sort(np.argsort(info)[::-1][:10])
        assert out.objective == pytest.approx(info[top].sum(), rel=1e-7)
        np.testing.assert_array_equal(out.forms[0], top)

    def test_a_target_above_reach_is_approached_by_the_most_informative_items(self, bank):
        params, _, _ = bank
        info = information_3pl(0.0, params.a, params.b, params.c)
        top = np.sort(np.argsort(info)[::-1][:5])
        target = float(info.sum())  # no 5 items reach it: minimising |I - T| maximises I
        spec = AssemblySpec(n_forms=1, length=5, thetas=(0.0,), parallel_thetas=(), objective=Objective.TARGET,
                            target=(target,), rel_gap=1e-9)
        out = assemble_forms(params, spec)
        np.testing.assert_array_equal(out.forms[0], top)
        assert out.objective == pytest.approx(target - info[top].sum(), rel=1e-7)

    def test_ineligible_items_are_never_chosen_and_the_seed_fixes_the_result(self, bank):
        params, _, _ = bank
        eligible = np.ones(N_ITEMS, bool)
        eligible[::4] = False
        spec = AssemblySpec(n_forms=2, length=12, thetas=(0.0,), parallel_thetas=(0.0,), eligible=eligible, seed=7)
        one, two = assemble_forms(params, spec), assemble_forms(params, spec)
        for form in one.forms:
            assert eligible[form].all()
        assert all(np.array_equal(f, g) for f, g in zip(one.forms, two.forms))


class TestInfeasibleRequests:
    def test_a_category_short_of_items_is_named_with_what_it_needs_and_has(self, bank):
        params, domain, item_type = bank
        cats = _categories(domain, item_type, (8, 7, 20), ((0, 30), (0, 30), (0, 30)))
        spec = AssemblySpec(n_forms=1, length=35, thetas=(0.0,), parallel_thetas=(), categories=cats)
        with pytest.raises(InfeasibleAssemblyError) as exc:
            assemble_forms(params, spec)
        (short,) = exc.value.shortfalls
        assert (short.constraint, short.group, short.area, short.needed, short.available, short.missing) == (
            "category", "domain", "D3", 20, 16, 4)
        assert "工作领域 D3" in str(exc.value) and "缺 4 道" in str(exc.value)

    def test_too_many_forms_without_overlap_is_explained_by_inclusion_exclusion(self, bank):
        params, _, _ = bank
        for overlap, needed in ((0, 80), (2, 80 - 6 * 2)):
            spec = AssemblySpec(n_forms=4, length=20, thetas=(0.0,), parallel_thetas=(), max_overlap=overlap)
            shortfalls = check_feasibility(spec, N_ITEMS)
            assert [(s.constraint, s.needed, s.available, s.missing) for s in shortfalls] == [
                ("overlap", needed, 60, needed - 60)]
            with pytest.raises(InfeasibleAssemblyError):
                assemble_forms(params, spec)

    def test_an_enemy_group_counts_once_and_excluded_items_are_mentioned(self):
        eligible = np.zeros(N_ITEMS, bool)
        eligible[:12] = True  # items 0-2 and 10-12 are two enemy groups: a form can hold 12 - 2 - 1 = 9 of them
        spec = AssemblySpec(n_forms=1, length=10, thetas=(0.0,), parallel_thetas=(), enemy_groups=ENEMIES,
                            eligible=eligible, excluded_reason="近期用过的题目")
        (short,) = check_feasibility(spec, N_ITEMS)
        assert (short.constraint, short.needed, short.available) == ("length", 10, 9)
        assert "另有 48 道近期用过的题目已排除" in short.message

    def test_counts_that_suffice_but_cannot_be_made_parallel_get_the_solvers_verdict(self):
        # two items of different information, one per form, no shared items, tolerance 0: no solution,
        # though every count is met
        params = ItemParams.two_pl([0.8, 1.6], [0.0, 0.0])
        spec = AssemblySpec(n_forms=2, length=1, thetas=(0.0,), parallel_thetas=(0.0,), parallel_tolerance=0.0)
        assert check_feasibility(spec, 2) == []
        with pytest.raises(InfeasibleAssemblyError) as exc:
            assemble_forms(params, spec)
        assert [s.constraint for s in exc.value.shortfalls] == ["solver"]
        assert "平行带宽 0%" in str(exc.value)

    def test_a_target_objective_without_a_target_per_theta_is_refused(self, bank):
        params, _, _ = bank
        with pytest.raises(ValueError, match="one target information value per theta"):
            assemble_forms(params, AssemblySpec(n_forms=1, length=5, thetas=(0.0, 1.0), parallel_thetas=(),
                                                objective=Objective.TARGET, target=(3.0,)))


class TestProportions:
    """A proportion keeps the members of a set (the 单选 keyed C) within a share of another set
    on the same form (the form's 单选), whatever that set's count turns out to be."""

    def test_each_key_keeps_its_share_of_the_type_on_every_form(self, bank):
        params, domain, item_type = bank
        keys = np.random.default_rng(7).choice(4, N_ITEMS, p=[0.55, 0.15, 0.15, 0.15])  # a bank keyed mostly A
        single = item_type == 0
        props = tuple(Proportion("key", str(k), f"key {k}", single & (keys == k), single, 0.2, 0.3, 1.0, 9)
                      for k in range(4))
        spec = AssemblySpec(n_forms=2, length=20, thetas=(-0.5, 0.5), parallel_thetas=(-0.5, 0.0, 0.5),
                            categories=_categories(domain, item_type), proportions=props, enemy_groups=ENEMIES,
                            parallel_tolerance=0.1, seed=1)
        out = assemble_forms(params, spec)
        for form in out.forms:
            n = int(single[form].sum())
            counts = np.bincount(keys[form][single[form]], minlength=4)
            assert all(0.2 * n - 1 - 1e-9 <= c <= 0.3 * n + 1 + 1e-9 for c in counts), (n, counts)

    def test_a_proportion_no_form_can_meet_is_named_after_the_solver_fails(self):
        # counts alone pass (the proportion's set has no lower bound), the solver finds no form, and
        # the same request without the proportion has one: the proportion is named
        params = ItemParams.two_pl(np.ones(10), np.zeros(10))
        members = np.arange(10) < 2
        spec = AssemblySpec(n_forms=1, length=4, thetas=(0.0,), parallel_thetas=(),
                            proportions=(Proportion("key", "A", "单选题答案 A", members, np.ones(10, bool), 0.75, 1.0),))
        assert check_feasibility(spec, 10) == []
        with pytest.raises(InfeasibleAssemblyError) as exc:
            assemble_forms(params, spec)
        assert [s.constraint for s in exc.value.shortfalls] == ["proportion"]
        assert "答案均衡约束无法满足" in str(exc.value) and "单选题答案 A" in str(exc.value)

    def test_a_proportion_short_of_items_by_count_is_named_before_solving(self):
        members = np.arange(10) < 1
        prop = Proportion("key", "D", "单选题答案 D", members, np.ones(10, bool), 0.2, 0.3, 1.0, of_lower=10)
        spec = AssemblySpec(n_forms=2, length=5, thetas=(0.0,), parallel_thetas=(), proportions=(prop,))
        (short,) = check_feasibility(spec, 10)
        assert (short.constraint, short.needed, short.available) == ("proportion", 2, 1)
        assert "单选题答案 D" in short.message and "缺 1 道" in short.message
