"""Linear-on-the-fly assembly without a database: the completion check against a linear
programme, every form meeting the blueprint exactly, exposure spreading over a run of sign-ins,
determinism from the generator, and the weight formula written out."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy.optimize import linprog

from examengine.exam.blueprint import Blueprint
from examengine.exam.forms import domain_targets, form_spec, loft_form, print_order, type_bounds
from examengine.exam.pool import ItemPool
from examengine.irt.assembly import InfeasibleAssemblyError
from examengine.irt.loft import assemble_loft, completable, loft_weights
from examengine.irt.params import ItemParams

CUTS = (-1.0, 0.0, 1.0)
TYPES = ("单选",) * 11 + ("多选",) * 5 + ("判断",) * 4  # 55 / 25 / 20 % of every 20 items
ENEMIES = (("I000", "I001", "I061"), ("I002", "I003"), ("I120", "I121", "I122", "I123"))


def _bp(**kw) -> Blueprint:
    base = {"id": "999999-L2", "standard": "999999", "level": "L2", "name": "测试蓝图",
            "domain_weights": (("D1", 0.5), ("D2", 0.3), ("D3", 0.2))}
    return Blueprint(**(base | kw))


def _pool(per_domain: int = 60, seed: int = 3, enemies=ENEMIES) -> ItemPool:
    rng = np.random.default_rng(seed)
    n = 3 * per_domain
    params = ItemParams.three_pl(np.exp(rng.normal(0.1, 0.3, n)), rng.normal(0, 1, n), rng.uniform(0.1, 0.25, n))
    return ItemPool.build([f"I{i:03d}" for i in range(n)], params,
                          content={"domain": [f"D{1 + i // per_domain}" for i in range(n)],
                                   "type": [TYPES[i % len(TYPES)] for i in range(n)]},
                          enemy_groups=enemies)


def _lp_feasible(cell, row_lo, row_hi, col_lo, col_hi, total) -> bool:
    """The same transport problem as a linear programme (its constraint matrix is totally
    unimodular, so LP feasibility is integer feasibility): the independent check."""
    R, C = cell.shape
    a_rows = np.kron(np.eye(R), np.ones(C))  # sum_c f[r, c]
    a_cols = np.kron(np.ones(R), np.eye(C))  # sum_r f[r, c]
    a_ub = np.vstack([a_rows, -a_rows, a_cols, -a_cols])
    b_ub = np.concatenate([row_hi, -row_lo, col_hi, -col_lo])
    res = linprog(np.zeros(R * C), A_ub=a_ub, b_ub=b_ub, A_eq=np.ones((1, R * C)), b_eq=[total],
                  bounds=list(zip(np.zeros(R * C), cell.ravel())), method="highs")
    return res.status == 0


def test_the_completion_check_agrees_with_a_linear_programme_on_random_transport_problems():
    rng = np.random.default_rng(11)
    verdicts = Counter()
    for _ in range(160):
        R, C = rng.integers(1, 5), rng.integers(1, 4)
        cell = rng.integers(0, 4, (R, C))
        row_lo = rng.integers(0, 3, R)
        row_hi = row_lo + rng.integers(0, 3, R)
        col_lo = rng.integers(0, 3, C)
        col_hi = col_lo + rng.integers(0, 4, C)
        total = int(rng.integers(max(0, row_lo.sum() - 1), row_hi.sum() + 2))
        expected = _lp_feasible(cell, row_lo, row_hi, col_lo, col_hi, total)
        assert completable(cell, row_lo, row_hi, col_lo, col_hi, total) == expected, (cell, row_lo, row_hi, col_lo,
                                                                                       col_hi, total)
        verdicts[expected] += 1
    assert verdicts[True] > 20 and verdicts[False] > 20  # both answers were exercised


def _check_form(positions, pool: ItemPool, bp: Blueprint, length: int) -> None:
    domains = pool.content_group("domain")
    types = pool.content_group("type")
    assert len(positions) == len(set(positions)) == length
    assert Counter(domains.area_of(p) for p in positions) == Counter(domain_targets(bp, length))
    have = Counter(types.area_of(p) for p in positions)
    for t, (lo, hi) in type_bounds(bp, length).items():
        assert lo <= have[t] <= hi, (t, have[t], lo, hi)
    for group in pool.enemy_groups:
        assert len(set(group) & set(positions)) <= 1, group


def test_every_form_of_a_run_of_sign_ins_meets_the_domain_targets_and_type_bounds_with_no_enemy_pair():
    bp, pool, length = _bp(), _pool(), 20
    counts = np.zeros(pool.n_items)
    rng = np.random.default_rng(5)
    forms = []
    for k in range(40):
        draw = loft_form(bp, pool, CUTS, length=length, counts=counts, administered=k, rng=rng)
        _check_form(draw.order, pool, bp, length)
        assert list(draw.order) == print_order(draw.form.positions, pool)
        counts[draw.form.positions] += 1
        forms.append(frozenset(draw.order))
    assert len(set(forms)) == 40  # every candidate a form of its own
    # the enemy groups were live: their items were drawn, never two at once
    assert all(counts[list(g)].sum() > 0 for g in pool.enemy_groups)


def test_an_enemy_group_of_the_most_informative_items_gives_one_of_them_per_form():
    pool0 = _pool(enemies=())
    info_top = np.argsort(np.abs(pool0.params.b))  # b closest to 0 (the middle cut) first
    d1 = [int(p) for p in info_top if pool0.content_group("domain").area_of(int(p)) == "D1"][:15]
    pool = _pool(enemies=[[f"I{p:03d}" for p in d1]])
    rng = np.random.default_rng(8)
    without = [len(set(loft_form(_bp(), pool0, CUTS, length=20, counts=np.zeros(pool.n_items), administered=0,
                                 rng=rng).order) & set(d1)) for _ in range(10)]
    assert np.mean(without) >= 2.5  # left to themselves, forms take several of them
    for _ in range(10):
        draw = loft_form(_bp(), pool, CUTS, length=20, counts=np.zeros(pool.n_items), administered=0, rng=rng)
        assert len(set(draw.order) & set(d1)) == 1
        _check_form(draw.order, pool, _bp(), 20)


def _max_count(pool, bp, length, sign_ins, seed, **kw) -> int:
    spec = form_spec(bp, pool, CUTS, n_forms=1, length=length)
    counts = np.zeros(pool.n_items)
    rng = np.random.default_rng(seed)
    for k in range(sign_ins):
        counts[assemble_loft(pool.params, spec, counts, k, rng, **kw).positions] += 1
    return int(counts.max())


def test_exposure_over_40_sign_ins_stays_within_the_blueprints_cap_where_information_alone_does_not():
    # 20-item forms from 3 x 60 items: D1 gives 10 of its 60 items to every form, so its items
    # average 1/6 and the busiest item of the pool is at least at 1/6 (7 of 40 sign-ins). The
    # bound is the blueprint's exposure cap, 0.25 (10 of 40), 1.5 times that floor; without the
    # exposure term (kappa = 0) the draw favours the informative items and exceeds it.
    bp, pool = _bp(), _pool()
    assert bp.exposure_max_rate == 0.25
    assert _max_count(pool, bp, 20, 40, seed=1) <= 0.25 * 40
    assert _max_count(pool, bp, 20, 40, seed=1, kappa=0.0) > 0.25 * 40 + 2


def test_the_same_generator_state_draws_the_same_form_and_another_seed_another():
    bp, pool = _bp(), _pool()
    counts = np.zeros(pool.n_items)

    def draw(seed):
        return loft_form(bp, pool, CUTS, length=20, counts=counts, administered=0,
                         rng=np.random.default_rng([seed, 0, 2])).order

    assert draw(123) == draw(123)
    assert draw(123) != draw(124)


def test_the_weights_are_relative_information_at_the_cuts_times_the_exposure_penalty():
    bp, pool = _bp(), _pool()
    spec = form_spec(bp, pool, CUTS, n_forms=1, length=20)
    counts = np.arange(pool.n_items) % 7.0
    w = loft_weights(pool.params, spec, counts, 30, alpha=2.0, kappa=3.0, prior_forms=10.0)
    a, b, c = pool.params.a, pool.params.b, pool.params.c
    info = 0.0
    for t in CUTS:  # 3PL information written out (Lord 1980, eq. 5.19 with D = 1)
        p = c + (1 - c) / (1 + np.exp(-a * (t - b)))
        info = info + a**2 * (p - c) ** 2 / (1 - c) ** 2 * (1 - p) / p
    r_bar = 20 / pool.n_items
    rate = (counts + 10 * r_bar) / (30 + 10)
    np.testing.assert_allclose(w, (info / info.max()) ** 2 * np.exp(-3 * (rate - r_bar) / r_bar), rtol=1e-9)


def test_a_pool_short_of_a_domain_is_refused_naming_it():
    bp = _bp(domain_weights=(("D1", 0.5), ("D2", 0.3), ("D3", 0.2)))
    pool = _pool(per_domain=8, enemies=())  # D1 needs 20 of a 40-item form, has 8
    with pytest.raises(InfeasibleAssemblyError) as err:
        loft_form(bp, pool, CUTS, length=40, counts=np.zeros(pool.n_items), administered=0,
                  rng=np.random.default_rng(0))
    assert "工作领域 D1" in str(err.value)


def _paired(per_domain: int, pairs: int, seed: int) -> ItemPool:
    """A pool of 3 x ``per_domain`` items with ``pairs`` random enemy pairs."""
    perm = np.random.default_rng(seed).permutation(3 * per_domain)
    return _pool(per_domain=per_domain, enemies=[[f"I{p:03d}" for p in perm[2 * k:2 * k + 2]] for k in range(pairs)])


def test_a_pool_thick_with_enemies_still_gives_valid_forms_starting_again_when_a_walk_gets_stuck():
    pool = _paired(14, 30, seed=1430)  # 42 items, 60 of them in enemy pairs, for 20-item forms
    restarts = 0
    for s in range(30):
        draw = loft_form(_bp(), pool, CUTS, length=20, counts=np.zeros(pool.n_items), administered=0,
                         rng=np.random.default_rng(s))
        _check_form(draw.order, pool, _bp(), 20)
        restarts += draw.form.restarts
    assert restarts > 0  # the completion check does not see enemies ahead: some walks started again
    short = _paired(12, 20, seed=1220)  # 36 items, every one in one of 18 pairs: 18 at most on a form
    with pytest.raises(InfeasibleAssemblyError) as err:
        loft_form(_bp(), short, CUTS, length=20, counts=np.zeros(short.n_items), administered=0,
                  rng=np.random.default_rng(0))
    assert "每个互斥组只计一道" in str(err.value)
