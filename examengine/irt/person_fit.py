"""Person fit: Snijders' (2001) l_z*, the standardised log-likelihood statistic corrected for
the estimated ability, on complete or sparse (adaptive) response patterns.

For a person answering items i = 1..n (the mask), with P_i = P_i(theta) of the 1PL/2PL/3PL
(D = 1), Q_i = 1 - P_i, P_i' = dP_i/dtheta and X_i the 0/1 responses, l_z's numerator is the
centred log likelihood

    W(theta) = sum_i (X_i - P_i) w_i,       w_i = ln(P_i / Q_i).

Plugging in an estimate theta-hat biases its variance (l_z has variance < 1 then: the
conservative l_z of Drasgow, Levine & Williams 1985). Snijders corrects for estimators solving

    r_0(theta) + sum_i (X_i - P_i) r_i(theta) = 0,      r_i = P_i' / (P_i Q_i),

namely ML (r_0 = 0) and Warm's WLE (r_0 = J / (2 I), I = sum P_i'^2 / (P_i Q_i),
J = sum P_i' P_i'' / (P_i Q_i); Warm 1989). With

    c_n(theta) = sum_i P_i' w_i / sum_i P_i' r_i,     w~_i = w_i - c_n r_i,
    n tau~^2(theta) = sum_i w~_i^2 P_i Q_i,

the corrected statistic, asymptotically N(0, 1) for fitting patterns, is

    l_z* = [W(theta-hat) + c_n(theta-hat) r_0(theta-hat)] / sqrt(n tau~^2(theta-hat)).

Large negative values mean a pattern less likely than the model expects (e.g. right answers to
hard items with wrong ones to easy items: the signature of pre-knowledge of some items); the
p-value is the lower tail Phi(l_z*) and a person is flagged when p < alpha.

This module estimates theta itself (``Estimator.WLE`` by default; ``Estimator.ML`` on request)
by vectorised bisection of the estimating equation on [lower, upper]; it is the estimator, not
the engine's EAP, that the correction assumes. WLE is finite for all-right and all-wrong
patterns of the 1PL/2PL; under ML these have no finite estimate and get NaN. The bisection
finds one root: where the 3PL's WLE equation has several, it is the one between the sign change
found from the bounds.

References: Snijders, T. A. B. (2001). Asymptotic null distribution of person fit statistics
with estimated person parameter. *Psychometrika* 66, 331-342. Drasgow, F., Levine, M. V. &
Williams, E. A. (1985). *British J. Math. Stat. Psychol.* 38, 67-86. Warm, T. A. (1989). Weighted
likelihood estimation of ability in item response theory. *Psychometrika* 54, 427-450. Magis,
D., Raiche, G. & Beland, S. (2012). A didactic presentation of Snijders's l_z* index of person
fit with emphasis on response model selection and ability estimation. *J. Educational and
Behavioral Statistics* 37, 57-81.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from .params import FloatArray, ItemParams


class Estimator(Enum):
    """The ability estimator the correction of l_z* is made for."""

    ML = "ml"
    WLE = "wle"


@dataclass(frozen=True)
class PersonFit:
    """Per person (shape (persons,)): the estimate, l_z*, its lower-tail p-value, the flag at
    ``alpha``, and the number of answered items. NaN (and no flag) where l_z* is undefined:
    fewer than ``min_items`` answers, or an ML estimate on a bound."""

    theta: FloatArray
    lz_star: FloatArray
    p_value: FloatArray
    flag: NDArray[np.bool_]
    n_items: NDArray[np.int64]
    estimator: Estimator
    alpha: float


def _curves(theta: FloatArray, params: ItemParams) -> tuple[FloatArray, FloatArray, FloatArray]:
    """P, P', P'' at theta (persons,) for every item: arrays (persons, items)."""
    s = 1.0 / (1.0 + np.exp(-(params.a * theta[:, None] - params.ab)))
    one_c = 1.0 - params.c
    p = params.c + one_c * s
    d1 = one_c * params.a * s * (1 - s)
    d2 = d1 * params.a * (1 - 2 * s)
    return np.clip(p, 1e-12, 1 - 1e-12), d1, d2


def estimating_function(theta: ArrayLike, responses: ArrayLike, mask: ArrayLike, params: ItemParams,
                        estimator: Estimator) -> FloatArray:
    """r_0(theta) + sum_i (X_i - P_i) r_i(theta) for every person (persons,)."""
    t = np.asarray(theta, dtype=np.float64)
    x = np.asarray(responses, dtype=np.float64)
    m = np.asarray(mask, dtype=bool)
    p, d1, d2 = _curves(t, params)
    pq = p * (1 - p)
    f = np.where(m, (np.nan_to_num(x) - p) * d1 / pq, 0.0).sum(axis=1)
    if estimator is Estimator.WLE:
        info = np.where(m, d1 * d1 / pq, 0.0).sum(axis=1)
        j = np.where(m, d1 * d2 / pq, 0.0).sum(axis=1)
        f = f + np.divide(j, 2 * info, out=np.zeros_like(j), where=info > 0)
    return f


def estimate(responses: ArrayLike, params: ItemParams, *, mask: ArrayLike | None = None,
             estimator: Estimator = Estimator.WLE, lower: float = -6.0, upper: float = 6.0,
             iterations: int = 50) -> FloatArray:
    """The ML or WL estimate of every person (persons,), by bisection on [lower, upper] of the
    estimating equation (decreasing in theta where it matters); a person whose function keeps
    one sign gets the bound it points to."""
    x = np.asarray(responses, dtype=np.float64)
    m = ~np.isnan(x) if mask is None else np.asarray(mask, dtype=bool) & ~np.isnan(x)
    n = x.shape[0]
    lo, hi = np.full(n, lower), np.full(n, upper)
    f_lo = estimating_function(lo, x, m, params, estimator)
    f_hi = estimating_function(hi, x, m, params, estimator)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        f_mid = estimating_function(mid, x, m, params, estimator)
        up = f_mid > 0
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    theta = (lo + hi) / 2
    theta = np.where(f_lo <= 0, lower, theta)
    return np.where(f_hi >= 0, upper, theta)


def lz_star_at(theta: ArrayLike, responses: ArrayLike, params: ItemParams, *, mask: ArrayLike | None = None,
               estimator: Estimator = Estimator.WLE) -> FloatArray:
    """l_z* of every person at the given estimates theta-hat (persons,) (module docstring)."""
    t = np.asarray(theta, dtype=np.float64)
    x = np.asarray(responses, dtype=np.float64)
    m = ~np.isnan(x) if mask is None else np.asarray(mask, dtype=bool) & ~np.isnan(x)
    p, d1, d2 = _curves(t, params)
    q = 1 - p
    pq = p * q
    w = np.log(p / q)
    r = d1 / pq

    def total(v):
        return np.where(m, v, 0.0).sum(axis=1)

    c_n = total(d1 * w) / total(d1 * r)
    big_w = total((np.nan_to_num(x) - p) * w)
    if estimator is Estimator.WLE:
        info, j = total(d1 * d1 / pq), total(d1 * d2 / pq)
        big_w = big_w + c_n * j / (2 * info)
    var = total((w - c_n[:, None] * r) ** 2 * pq)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(var > 0, big_w / np.sqrt(var), np.nan)


def person_fit(responses: ArrayLike, params: ItemParams, *, mask: ArrayLike | None = None,
               estimator: Estimator = Estimator.WLE, alpha: float = 0.05, min_items: int = 2,
               lower: float = -6.0, upper: float = 6.0) -> PersonFit:
    """Estimate theta (``estimator``), then l_z*, p = Phi(l_z*) and the flag p < alpha, for every
    person of ``responses`` (persons x items, 0/1; NaN or ``mask`` False = not presented)."""
    x = np.asarray(responses, dtype=np.float64)
    m = ~np.isnan(x) if mask is None else np.asarray(mask, dtype=bool) & ~np.isnan(x)
    if x.ndim != 2 or x.shape[1] != params.n_items:
        raise ValueError(f"responses must be persons x {params.n_items} items, got {x.shape}")
    n_items = m.sum(axis=1).astype(np.int64)
    theta = estimate(x, params, mask=m, estimator=estimator, lower=lower, upper=upper)
    lz = lz_star_at(theta, x, params, mask=m, estimator=estimator)
    undefined = n_items < min_items
    if estimator is Estimator.ML:
        undefined |= (theta <= lower) | (theta >= upper)
    lz = np.where(undefined, np.nan, lz)
    p = stats.norm.cdf(lz)
    flag = np.where(np.isnan(p), False, p < alpha)
    return PersonFit(theta, lz, p, flag, n_items, estimator, alpha)
