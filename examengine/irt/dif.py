"""Differential item functioning (DIF): Mantel-Haenszel with the ETS A/B/C classes and
logistic-regression DIF, on complete or sparse (adaptive) response matrices.

Arrays are persons x items, 0/1, with a mask (True = presented and answered); ``group`` holds
0 for the reference group, 1 for the focal group and -1 for anyone in neither (left out).

**Matching.** Persons are compared within strata of a matching variable. Complete data match
on the number-correct score over all items (the studied item included: Holland & Thayer 1988);
sparse (adaptive) data match on the ability estimate theta-hat, cut into strata of width
``theta_width`` (the CAT version of the MH procedure: Zwick, Thayer & Wingersky 1994, who
showed that matching on theta-hat, or on an expected true score computed from it, keeps MH
usable when persons see different items). :class:`Matching` records which was used.

**Mantel-Haenszel** (Mantel & Haenszel 1959; Holland & Thayer 1988). In stratum k, with A_k / B_k
the reference group's right / wrong counts, C_k / D_k the focal group's, n_Rk, n_Fk the group
sizes, m_1k = A_k + C_k, m_0k = B_k + D_k and N_k the stratum size,

    alpha_MH = sum_k A_k D_k / N_k  /  sum_k B_k C_k / N_k          (> 1: favours the reference group)
    MH D-DIF = -2.35 ln alpha_MH                                     (ETS delta scale; < 0: against the focal group)

Variance of ln alpha_MH (Robins, Breslow & Greenland 1986), with P_k = (A_k + D_k)/N_k,
Q_k = (B_k + C_k)/N_k, R_k = A_k D_k / N_k, S_k = B_k C_k / N_k, R = sum R_k, S = sum S_k:

    Var(ln alpha) = sum P_k R_k / (2 R^2) + sum (P_k S_k + Q_k R_k) / (2 R S) + sum Q_k S_k / (2 S^2)

and SE(D-DIF) = 2.35 sqrt(Var). MH chi-square with the continuity correction (1 df):

    chi2_MH = (|sum_k A_k - sum_k n_Rk m_1k / N_k| - 1/2)^2 / sum_k n_Rk n_Fk m_1k m_0k / (N_k^2 (N_k - 1))

Only strata with both groups present and N_k >= 2 enter (the others carry no information).

**ETS classes** (Zieky 1993; Dorans & Holland 1993; Zwick 2012, ETS RR-12-08):
A: |D| < 1 or chi2_MH not significant at ``alpha``; C: |D| >= 1.5 and |D| significantly greater
than 1, i.e. the one-sided test of |Delta| <= 1, (|D| - 1) / SE(D) > z_(1-alpha) (Paek & Holland
2013 on this interval null); B: otherwise. The sign says whom the item favours: D < 0 (B-, C-)
is harder for the focal group than for reference-group persons of the same standing.

**Logistic regression** (Swaminathan & Rogers 1990; Zumbo 1999), per item, on the persons who
answered it, with the matching variable m (standardised) and g (1 = focal):

    M1: logit P = b0 + b1 m      M2: M1 + b2 g      M3: M2 + b3 m g

Likelihood-ratio tests (1 df each): uniform DIF 2 (l2 - l1), non-uniform DIF 2 (l3 - l2);
the joint 2-df test 2 (l3 - l1). Effect size: Nagelkerke's R^2,
R^2_N = (1 - exp(2 (l0 - l) / n)) / (1 - exp(2 l0 / n)) with l0 the intercept-only log
likelihood, and Delta R^2 = R^2_N(M3) - R^2_N(M1); classes after Jodoin & Gierl (2001):
A < 0.035, B < 0.070, C >= 0.070, an item being B or C only when the 2-df test is significant.
The fits are Newton-Raphson (IRLS) with step halving, here, in numpy.

References: Mantel, N. & Haenszel, W. (1959). *J. Natl Cancer Inst.* 22, 719-748. Holland, P. W.
& Thayer, D. T. (1988). Differential item performance and the Mantel-Haenszel procedure. In
Wainer & Braun (eds), *Test Validity*, 129-145. Robins, J., Breslow, N. & Greenland, S. (1986).
*Biometrics* 42, 311-323. Zieky, M. (1993). Practical questions in the use of DIF statistics in
test development. In Holland & Wainer (eds), *Differential Item Functioning*, 337-347. Dorans,
N. J. & Holland, P. W. (1993), ibid., 35-66. Zwick, R., Thayer, D. T. & Wingersky, M. (1994). A
simulation study of methods for assessing differential item functioning in computerized
adaptive tests. *Applied Psychological Measurement* 18, 121-140. Swaminathan, H. & Rogers, H. J.
(1990). *J. Educational Measurement* 27, 361-370. Zumbo, B. D. (1999). *A Handbook on the Theory
and Methods of DIF*. Ottawa: DND. Jodoin, M. G. & Gierl, M. J. (2001). *Applied Measurement in
Education* 14, 329-349. Paek, I. & Holland, P. W. (2013). A note on statistical hypothesis
testing based on log transformation of the Mantel-Haenszel common odds ratio for differential
item functioning classification. *Psychometrika*. Zwick, R. (2012). ETS RR-12-08.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

FloatArray = NDArray[np.float64]

DELTA_SCALE = 2.35  # MH D-DIF = -2.35 ln alpha_MH (the ETS delta metric: 4 / 1.7)
REFERENCE, FOCAL, NEITHER = 0, 1, -1
JODOIN_GIERL = (0.035, 0.070)


class Matching(Enum):
    """The matching variable of a DIF analysis."""

    #: number-correct score over all items (complete data)
    NUMBER_CORRECT = "number_correct"
    #: strata of the ability estimate theta-hat (sparse / adaptive data; Zwick, Thayer & Wingersky 1994)
    THETA = "theta"


class EtsClass(Enum):
    A = "A"
    B = "B"
    C = "C"


class LrClass(Enum):
    """Jodoin & Gierl (2001) classes of Nagelkerke's Delta R^2 (with a significant 2-df test)."""

    A = "A"
    B = "B"
    C = "C"


@dataclass(frozen=True)
class MantelHaenszel:
    """Mantel-Haenszel statistics of one item (see the module's formulas). ``alpha`` and the
    statistics are NaN when no stratum holds both groups (or a margin sum is 0)."""

    n_reference: int
    n_focal: int
    n_strata: int  # strata with both groups and N_k >= 2
    alpha: float
    log_alpha_se: float
    d_dif: float
    d_dif_se: float
    chi2: float
    p_value: float
    ets_class: EtsClass | None  # None when alpha is undefined

    @property
    def favours(self) -> str:
        """'reference' (D < 0), 'focal' (D > 0) or '' (A or undefined)."""
        if self.ets_class in (None, EtsClass.A):
            return ""
        return "reference" if self.d_dif < 0 else "focal"


@dataclass(frozen=True)
class LogisticDif:
    """Logistic-regression DIF of one item (see the module's formulas)."""

    n: int
    loglik: tuple[float, float, float]  # l1, l2, l3
    lr_uniform: float
    lr_uniform_p: float
    lr_nonuniform: float
    lr_nonuniform_p: float
    lr_joint_p: float
    r2: tuple[float, float, float]  # Nagelkerke R^2 of M1, M2, M3
    delta_r2: float  # R^2(M3) - R^2(M1)
    delta_r2_uniform: float  # R^2(M2) - R^2(M1)
    lr_class: LrClass
    coefficients: tuple[float, ...]  # M3's b0, b1, b2, b3 (m standardised)
    converged: bool


@dataclass(frozen=True)
class DifItem:
    """Both analyses of one item."""

    item: int  # column of the matrix
    mh: MantelHaenszel
    lr: LogisticDif | None  # None when fewer than 2 persons of a group answered it


@dataclass(frozen=True)
class DifResult:
    matching: Matching
    theta_width: float | None  # the stratum width when matching on theta
    alpha: float
    items: list[DifItem]
    purified: tuple[int, ...] | None = None  # items left out of the matching (two-stage), None = one stage


# ---------------------------------------------------------------- Mantel-Haenszel


def strata_tables(correct: ArrayLike, group: ArrayLike, stratum: ArrayLike) -> FloatArray:
    """The 2 x 2 x K tables of one item: ``table[:, :, k] = [[A_k, B_k], [C_k, D_k]]`` (rows:
    reference, focal; columns: right, wrong) over the sorted distinct strata of the persons
    given (0/1 ``correct``, 0/1 ``group``, any integer ``stratum``, all of shape (n,))."""
    x = np.asarray(correct, dtype=np.int64)
    g = np.asarray(group, dtype=np.int64)
    s = np.asarray(stratum)
    levels, k = np.unique(s, return_inverse=True)
    cells = np.zeros((2, 2, levels.size))
    np.add.at(cells, (g, 1 - x, k), 1.0)
    return cells


def mantel_haenszel(tables: ArrayLike, *, alpha: float = 0.05) -> MantelHaenszel:
    """MH common odds ratio, its RBG standard error, the continuity-corrected MH chi-square and
    the ETS class, from the 2 x 2 x K ``tables`` of :func:`strata_tables`."""
    t = np.asarray(tables, dtype=np.float64)
    a, b, c, d = t[0, 0], t[0, 1], t[1, 0], t[1, 1]
    n_ref, n_foc = a + b, c + d
    n = n_ref + n_foc
    n_reference, n_focal = int(n_ref.sum()), int(n_foc.sum())
    keep = (n_ref > 0) & (n_foc > 0) & (n >= 2)
    a, b, c, d, n_ref, n_foc, n = (v[keep] for v in (a, b, c, d, n_ref, n_foc, n))
    m1, m0 = a + c, b + d
    r_k, s_k = a * d / n, b * c / n
    r, s = r_k.sum(), s_k.sum()
    nan = float("nan")
    if not keep.any() or r == 0 or s == 0:
        chi2, p = _mh_chi2(a, n_ref, n_foc, m1, m0, n)
        return MantelHaenszel(n_reference, n_focal, int(keep.sum()), nan, nan, nan, nan, chi2, p, None)
    alpha_mh = r / s
    p_k, q_k = (a + d) / n, (b + c) / n
    var = ((p_k * r_k).sum() / (2 * r * r) + (p_k * s_k + q_k * r_k).sum() / (2 * r * s)
           + (q_k * s_k).sum() / (2 * s * s))
    se_log = math.sqrt(var)
    d_dif = -DELTA_SCALE * math.log(alpha_mh)
    d_se = DELTA_SCALE * se_log
    chi2, p = _mh_chi2(a, n_ref, n_foc, m1, m0, n)
    return MantelHaenszel(n_reference, n_focal, int(keep.sum()), float(alpha_mh), se_log, d_dif, d_se, chi2, p,
                          ets_class(d_dif, d_se, p, alpha=alpha))


def _mh_chi2(a, n_ref, n_foc, m1, m0, n) -> tuple[float, float]:
    var = (n_ref * n_foc * m1 * m0 / (n * n * (n - 1))).sum()
    if var <= 0:
        return float("nan"), float("nan")
    dev = abs(a.sum() - (n_ref * m1 / n).sum()) - 0.5  # as published (and difR, statsmodels): not clamped at 0
    chi2 = dev * dev / var
    return float(chi2), float(stats.chi2.sf(chi2, 1))


def ets_class(d_dif: float, d_se: float, p_value: float, *, alpha: float = 0.05) -> EtsClass:
    """ETS A/B/C (module docstring): A if |D| < 1 or the MH chi-square's p >= alpha; C if
    |D| >= 1.5 and (|D| - 1) / SE > z_(1 - alpha) (one-sided); B otherwise."""
    size = abs(d_dif)
    if size < 1.0 or not p_value < alpha:
        return EtsClass.A
    if size >= 1.5 and (size - 1.0) / d_se > stats.norm.ppf(1.0 - alpha):
        return EtsClass.C
    return EtsClass.B


# ---------------------------------------------------------------- logistic regression


@dataclass(frozen=True)
class LogitFit:
    coef: FloatArray
    loglik: float
    converged: bool
    iterations: int


def logistic_fit(x: ArrayLike, y: ArrayLike, *, max_iter: int = 50, tol: float = 1e-10) -> LogitFit:
    """Maximum-likelihood logistic regression of 0/1 ``y`` (n,) on the design ``x`` (n, p)
    (include the intercept column yourself): Newton-Raphson, beta <- beta + (X'WX)^-1 X'(y - p)
    with W = diag(p (1 - p)), halving a step that lowers the log likelihood. Under complete
    separation the coefficients diverge; the fit stops at ``max_iter`` with ``converged`` False
    and a log likelihood near its supremum, which the LR tests may still use."""
    X = np.asarray(x, dtype=np.float64)
    yv = np.asarray(y, dtype=np.float64)
    beta = np.zeros(X.shape[1])
    ll = _loglik(X @ beta, yv)
    for it in range(1, max_iter + 1):
        eta = X @ beta
        p = _expit(eta)
        w = p * (1 - p)
        grad = X.T @ (yv - p)
        hess = (X * w[:, None]).T @ X
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        t = 1.0
        while True:
            cand = beta + t * step
            ll_new = _loglik(X @ cand, yv)
            if ll_new >= ll - 1e-12:
                break
            t /= 2
            if t < 1e-6:  # no step improves the fit (or it is not finite): stop where we are
                return LogitFit(beta, float(ll), bool(np.max(np.abs(grad)) < 1e-6), it)
        beta, gain = cand, ll_new - ll
        ll = ll_new
        if abs(gain) < tol and np.max(np.abs(t * step)) < 1e-6:
            return LogitFit(beta, float(ll), True, it)
    return LogitFit(beta, float(ll), False, max_iter)


def _expit(eta: FloatArray) -> FloatArray:
    return special.expit(eta)


def _loglik(eta: FloatArray, y: FloatArray) -> float:
    # log p = -log(1 + e^-eta), log(1 - p) = -log(1 + e^eta), computed stably
    return float(-(y * np.logaddexp(0.0, -eta) + (1 - y) * np.logaddexp(0.0, eta)).sum())


def nagelkerke_r2(loglik: float, loglik_null: float, n: int) -> float:
    """Nagelkerke's R^2: Cox-Snell's 1 - exp(2 (l0 - l) / n) over its maximum 1 - exp(2 l0 / n)."""
    cox_snell = 1.0 - math.exp(min(2.0 * (loglik_null - loglik) / n, 0.0))  # l >= l0 for a model with an intercept
    top = 1.0 - math.exp(2.0 * loglik_null / n)
    return cox_snell / top if top > 0 else 0.0


def logistic_dif(correct: ArrayLike, matching: ArrayLike, focal: ArrayLike, *, alpha: float = 0.05) -> LogisticDif:
    """Logistic-regression DIF of one item (module docstring) on the persons given: 0/1
    ``correct``, the matching variable (standardised here) and 0/1 ``focal``, shape (n,)."""
    y = np.asarray(correct, dtype=np.float64)
    m = np.asarray(matching, dtype=np.float64)
    g = np.asarray(focal, dtype=np.float64)
    sd = m.std()
    z = (m - m.mean()) / sd if sd > 0 else m - m.mean()
    n = y.size
    one = np.ones(n)
    fits = [logistic_fit(np.column_stack(cols), y) for cols in
            ((one, z), (one, z, g), (one, z, g, z * g))]
    k = y.sum()
    ll0 = 0.0 if k in (0, n) else float(k * math.log(k / n) + (n - k) * math.log(1 - k / n))
    l1, l2, l3 = (f.loglik for f in fits)
    lr_u, lr_nu, lr_j = max(2 * (l2 - l1), 0.0), max(2 * (l3 - l2), 0.0), max(2 * (l3 - l1), 0.0)
    r2 = tuple(nagelkerke_r2(f.loglik, ll0, n) for f in fits)
    delta = r2[2] - r2[0]
    p_joint = float(stats.chi2.sf(lr_j, 2))
    return LogisticDif(n, (l1, l2, l3), lr_u, float(stats.chi2.sf(lr_u, 1)), lr_nu, float(stats.chi2.sf(lr_nu, 1)),
                       p_joint, r2, delta, r2[1] - r2[0], jodoin_gierl(delta, p_joint, alpha=alpha),
                       tuple(float(v) for v in fits[2].coef), all(f.converged for f in fits))


def jodoin_gierl(delta_r2: float, p_value: float, *, alpha: float = 0.05) -> LrClass:
    """A: Delta R^2 < 0.035 or the 2-df test not significant; B: < 0.070; C: >= 0.070."""
    if not p_value < alpha or delta_r2 < JODOIN_GIERL[0]:
        return LrClass.A
    return LrClass.B if delta_r2 < JODOIN_GIERL[1] else LrClass.C


# ---------------------------------------------------------------- both, over a matrix


def theta_strata(theta: ArrayLike, width: float) -> NDArray[np.int64]:
    """Stratum numbers floor(theta / width) (equal-width bins of theta-hat)."""
    return np.floor(np.asarray(theta, dtype=np.float64) / width).astype(np.int64)


def dif(responses: ArrayLike, group: ArrayLike, *, mask: ArrayLike | None = None, theta: ArrayLike | None = None,
        theta_width: float = 0.25, alpha: float = 0.05, logistic: bool = True, min_per_group: int = 2,
        purify: bool = False, rematch: Callable[[NDArray[np.bool_]], ArrayLike] | None = None) -> DifResult:
    """MH and logistic-regression DIF of every item of ``responses`` (persons x items, 0/1; NaN
    or ``mask`` False = not presented) between ``group`` 0 (reference) and 1 (focal) (-1: left
    out). Matching: number correct when ``theta`` is None (the matrix must then be complete),
    else theta-hat (persons,) strata of width ``theta_width`` for MH and theta-hat itself for the
    logistic regression. An item answered by fewer than ``min_per_group`` persons of either group
    gets no logistic fit.

    ``purify``: the two-stage procedure (Holland & Thayer 1988; Zwick 2012): items classed B or
    C in a first pass leave the matching variable and every item is analysed again. With
    number-correct matching the score is then taken over the unflagged items plus the studied
    item; with theta matching ``rematch(kept)`` (kept: bool per item) must return theta-hat
    re-estimated from the kept items only. ``DifResult.purified`` names the items taken out."""
    u = np.asarray(responses, dtype=np.float64)
    obs = ~np.isnan(u) if mask is None else np.asarray(mask, dtype=bool) & ~np.isnan(u)
    g = np.asarray(group, dtype=np.int64)
    if u.ndim != 2 or g.shape != (u.shape[0],):
        raise ValueError(f"responses must be persons x items and group (persons,), got {u.shape} and {g.shape}")
    if theta is None:
        if not obs.all():
            raise ValueError("number-correct matching needs a complete matrix; give theta for sparse data")
    else:
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != g.shape or not np.isfinite(theta[g >= 0]).all():
            raise ValueError("theta must be finite for every person of either group")
    if purify and theta is not None and rematch is None:
        raise ValueError("purifying a theta matching needs rematch")
    first = _analyse(u, obs, g, theta, None, theta_width, alpha, logistic, min_per_group)
    if not purify:
        return first
    flagged = tuple(it.item for it in first.items if it.mh.ets_class in (EtsClass.B, EtsClass.C))
    if not flagged:
        return DifResult(first.matching, first.theta_width, alpha, first.items, ())
    kept = np.ones(u.shape[1], dtype=bool)
    kept[list(flagged)] = False
    if theta is not None:
        theta = np.asarray(rematch(kept), dtype=np.float64)
    second = _analyse(u, obs, g, theta, kept, theta_width, alpha, logistic, min_per_group)
    return DifResult(second.matching, second.theta_width, alpha, second.items, flagged)


def _analyse(u, obs, g, theta, kept, theta_width, alpha, logistic, min_per_group) -> DifResult:
    """One pass of :func:`dif` (``kept``: the items of the number-correct score, None = all)."""
    if theta is None:
        right = np.where(obs, u, 0)
        base = right.sum(axis=1) if kept is None else right[:, kept].sum(axis=1)
        matching, width = Matching.NUMBER_CORRECT, None
    else:
        matching, width = Matching.THETA, theta_width
        score = np.nan_to_num(theta)
        stratum = theta_strata(score, theta_width)
    items = []
    in_groups = g >= 0
    for j in range(u.shape[1]):
        if theta is None:  # the studied item is always part of its own matching score
            score = base + (right[:, j] if kept is not None and not kept[j] else 0)
            stratum = score.astype(np.int64)
        who = obs[:, j] & in_groups
        x, gj, sj = u[who, j].astype(np.int64), g[who], stratum[who]
        mh = mantel_haenszel(strata_tables(x, gj, sj), alpha=alpha)
        lr = None
        if logistic and min(mh.n_reference, mh.n_focal) >= min_per_group:
            lr = logistic_dif(x, score[who], gj, alpha=alpha)
        items.append(DifItem(j, mh, lr))
    return DifResult(matching, width, alpha, items)
