"""DIF: Mantel-Haenszel and logistic regression against statsmodels, the ETS and Jodoin-Gierl
rules, and recovery of planted DIF on small simulated data (complete and adaptive-like)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.contingency_tables import StratifiedTable

from examengine.irt import dif
from examengine.irt.dif import EtsClass, LrClass, Matching


def _item(seed: int, n: int = 600, shift: float = 0.5):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 2, n)
    s = rng.integers(0, 7, n)
    x = (rng.random(n) < 1 / (1 + np.exp(-(0.8 * (s - 3) - shift * g)))).astype(int)
    return x, g, s


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mh_odds_ratio_its_se_and_chi_square_equal_statsmodels_stratified_table(seed):
    x, g, s = _item(seed)
    tables = dif.strata_tables(x, g, s)
    mh = dif.mantel_haenszel(tables)
    ref = StratifiedTable(tables)
    test = ref.test_null_odds(correction=True)
    assert mh.alpha == pytest.approx(ref.oddsratio_pooled, rel=1e-12)
    assert mh.log_alpha_se == pytest.approx(ref.logodds_pooled_se, rel=1e-12)
    assert mh.chi2 == pytest.approx(test.statistic, rel=1e-12)
    assert mh.p_value == pytest.approx(test.pvalue, rel=1e-9)
    assert mh.d_dif == pytest.approx(-2.35 * math.log(ref.oddsratio_pooled))
    assert mh.d_dif_se == pytest.approx(2.35 * ref.logodds_pooled_se)


def test_strata_tables_put_reference_right_in_the_corner_and_count_everyone():
    x = np.array([1, 0, 1, 1, 0, 1])
    g = np.array([0, 0, 1, 1, 1, 0])
    s = np.array([5, 5, 5, 9, 9, 9])
    t = dif.strata_tables(x, g, s)
    assert t.shape == (2, 2, 2)
    assert t[:, :, 0].tolist() == [[1, 1], [1, 0]]  # stratum 5: ref 1 right 1 wrong, focal 1 right
    assert t[:, :, 1].tolist() == [[1, 0], [1, 1]]
    assert t.sum() == 6


def test_strata_with_one_group_only_are_left_out_of_the_mh_sums():
    x, g, s = _item(4)
    tables = dif.strata_tables(x, g, s)
    lonely = np.zeros((2, 2, 1))
    lonely[0, 0, 0] = 7  # a stratum with reference persons only
    mh = dif.mantel_haenszel(np.concatenate([tables, lonely], axis=2))
    assert mh.alpha == pytest.approx(dif.mantel_haenszel(tables).alpha)
    assert mh.n_strata == tables.shape[2]
    assert mh.n_reference == int(tables[0].sum()) + 7


@pytest.mark.parametrize(("d", "se", "p", "expected"), [
    (-0.9, 0.1, 1e-6, EtsClass.A),   # small
    (-1.7, 0.5, 0.20, EtsClass.A),   # not significant
    (-1.2, 0.1, 1e-6, EtsClass.B),   # moderate
    (-1.6, 0.5, 1e-6, EtsClass.B),   # large but not significantly above 1: (0.6) / 0.5 = 1.2 < 1.645
    (-1.6, 0.3, 1e-6, EtsClass.C),   # 0.6 / 0.3 = 2 > 1.645
    (1.6, 0.3, 1e-6, EtsClass.C),    # either direction
])
def test_the_ets_rule_needs_size_and_significance(d, se, p, expected):
    assert dif.ets_class(d, se, p) is expected


@pytest.mark.parametrize("seed", [5, 6])
def test_logistic_regression_dif_equals_direct_statsmodels_logit_fits(seed):
    rng = np.random.default_rng(seed)
    n = 500
    g = rng.integers(0, 2, n)
    m = rng.normal(size=n) - 0.3 * g
    x = (rng.random(n) < 1 / (1 + np.exp(-(1.2 * m - 0.4 * g + 0.5 * m * g)))).astype(int)
    res = dif.logistic_dif(x, m, g)
    z = (m - m.mean()) / m.std()
    one = np.ones(n)
    fits = [sm.Logit(x, np.column_stack(c)).fit(disp=0) for c in ((one, z), (one, z, g), (one, z, g, z * g))]
    assert res.loglik == pytest.approx(tuple(f.llf for f in fits), abs=1e-7)
    assert res.coefficients == pytest.approx(tuple(fits[2].params), abs=1e-6)
    lr_u, lr_nu = 2 * (fits[1].llf - fits[0].llf), 2 * (fits[2].llf - fits[1].llf)
    assert res.lr_uniform == pytest.approx(lr_u, abs=1e-6)
    assert res.lr_nonuniform == pytest.approx(lr_nu, abs=1e-6)
    assert res.lr_uniform_p == pytest.approx(stats.chi2.sf(lr_u, 1), rel=1e-6)
    # Nagelkerke from statsmodels' own null log likelihood (llnull)
    ll0 = fits[0].llnull
    r2 = [(1 - math.exp(2 * (ll0 - f.llf) / n)) / (1 - math.exp(2 * ll0 / n)) for f in fits]
    assert res.r2 == pytest.approx(tuple(r2), abs=1e-9)
    assert res.delta_r2 == pytest.approx(r2[2] - r2[0], abs=1e-9)
    assert res.converged


def test_jodoin_gierl_classes_follow_the_published_bounds():
    assert dif.jodoin_gierl(0.034, 1e-9) is LrClass.A
    assert dif.jodoin_gierl(0.035, 1e-9) is LrClass.B
    assert dif.jodoin_gierl(0.069, 1e-9) is LrClass.B
    assert dif.jodoin_gierl(0.070, 1e-9) is LrClass.C
    assert dif.jodoin_gierl(0.2, 0.3) is LrClass.A  # not significant


def test_logistic_fit_survives_complete_separation():
    x = np.column_stack([np.ones(20), np.arange(20.0)])
    y = (np.arange(20) >= 10).astype(float)
    fit = dif.logistic_fit(x, y, max_iter=30)
    assert not fit.converged
    assert fit.loglik > -0.1  # near its supremum 0


def _simulate(seed: int, n_per_group: int = 1000, n_items: int = 20, shift: float = 0.6, planted=(3, 11),
              impact: float = 0.5, nonuniform: bool = False):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.9, 1.3, n_items)
    b = rng.normal(0, 0.8, n_items)
    g = np.repeat([0, 1], n_per_group)
    theta = rng.normal(size=2 * n_per_group) - impact * g
    bb = np.tile(b, (theta.size, 1))
    aa = np.tile(a, (theta.size, 1))
    for j in planted:
        if nonuniform:
            aa[g == 1, j] *= 0.4
        else:
            bb[g == 1, j] += shift
    x = (rng.random(bb.shape) < 1 / (1 + np.exp(-aa * (theta[:, None] - bb)))).astype(float)
    return x, g, theta, a, b


def test_planted_uniform_dif_of_0_6_logits_is_flagged_and_clean_items_are_mostly_a():
    x, g, _, _, _ = _simulate(11)
    res = dif.dif(x, g)
    assert res.matching is Matching.NUMBER_CORRECT
    classes = [it.mh.ets_class for it in res.items]
    for j in (3, 11):
        assert classes[j] in (EtsClass.B, EtsClass.C)
        assert res.items[j].mh.d_dif < 0  # harder for the focal group
        assert res.items[j].lr.lr_uniform_p < 0.001
    clean = [c for j, c in enumerate(classes) if j not in (3, 11)]
    assert sum(c is EtsClass.A for c in clean) >= 16  # of 18


def test_planted_non_uniform_dif_is_found_by_the_interaction_term():
    x, g, _, _, _ = _simulate(12, planted=(5,), nonuniform=True, impact=0.0)
    res = dif.dif(x, g)
    assert res.items[5].lr.lr_nonuniform_p < 0.001
    others = [it.lr.lr_nonuniform_p for it in res.items if it.item != 5]
    assert sum(p < 0.01 for p in others) <= 2


def test_sparse_data_match_on_theta_strata_and_still_find_the_planted_items():
    x, g, theta, _, _ = _simulate(13)
    rng = np.random.default_rng(99)
    sparse = np.where(rng.random(x.shape) < 0.6, x, np.nan)  # each person saw ~60 % of the items
    theta_hat = theta + rng.normal(0, 0.3, theta.size)
    with pytest.raises(ValueError, match="complete"):
        dif.dif(sparse, g)
    res = dif.dif(sparse, g, theta=theta_hat, theta_width=0.25)
    assert res.matching is Matching.THETA and res.theta_width == 0.25
    assert all(res.items[j].mh.p_value < 0.01 for j in (3, 11))
    assert res.items[0].mh.n_reference + res.items[0].mh.n_focal == int((~np.isnan(sparse[:, 0])).sum())


def test_persons_in_neither_group_are_left_out():
    x, g, _, _, _ = _simulate(14, n_per_group=200, n_items=6, planted=())
    g3 = g.copy()
    g3[:50] = -1
    res = dif.dif(x, g3, logistic=False)
    assert res.items[0].mh.n_reference == 150 and res.items[0].mh.n_focal == 200


def test_purification_takes_a_block_of_one_directional_dif_out_of_the_matching():
    # 8 of 20 items harder for the focal group: the number correct is biased against the focal
    # group, so the clean items look as if they favoured it; the second stage removes that
    x, g, _, _, _ = _simulate(15, planted=tuple(range(8)), shift=0.8)
    one = dif.dif(x, g, logistic=False)
    two = dif.dif(x, g, logistic=False, purify=True)
    assert set(two.purified) >= set(range(8)) - {j for j in range(8) if one.items[j].mh.ets_class is EtsClass.A}
    clean = range(8, 20)
    false_one = sum(one.items[j].mh.p_value < 0.05 for j in clean)
    false_two = sum(two.items[j].mh.p_value < 0.05 for j in clean)
    assert false_two < false_one
    assert np.mean([two.items[j].mh.d_dif for j in clean]) < np.mean([one.items[j].mh.d_dif for j in clean])
    with pytest.raises(ValueError, match="rematch"):
        dif.dif(x, g, theta=np.zeros(len(g)), purify=True)


def test_purifying_a_theta_matching_rematches_on_the_kept_items():
    x, g, theta, _, _ = _simulate(16, planted=(3, 11))
    seen = []

    def rematch(kept):
        seen.append(kept.copy())
        return theta
    res = dif.dif(x, g, theta=theta, purify=True, rematch=rematch)
    assert len(seen) == 1 and not seen[0][3] and not seen[0][11] and seen[0].sum() == 20 - len(res.purified)
