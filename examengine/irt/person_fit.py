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


class _Cells:
    """The answered cells of each person, packed left into (persons, L) arrays (L = the most
    any person answered), with each cell's item parameters: an adaptive exam's 30 of 300 items
    cost 30 columns, not 300. Padding cells have ``m`` False and neutral parameters."""

    def __init__(self, responses: FloatArray, mask: NDArray[np.bool_], params: ItemParams) -> None:
        width = max(int(mask.sum(axis=1).max(initial=0)), 1)
        order = np.argsort(~mask, axis=1, kind="stable")[:, :width]
        self.m = np.take_along_axis(mask, order, axis=1)
        self.x = np.where(self.m, np.take_along_axis(np.nan_to_num(responses), order, axis=1), 0.0)
        self.a = np.where(self.m, params.a[order], 1.0)
        self.b = np.where(self.m, params.b[order], 0.0)
        self.c = np.where(self.m, params.c[order], 0.0)

    def curves(self, theta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """P, P', P'' of every cell at the persons' theta (persons,)."""
        s = 1.0 / (1.0 + np.exp(-self.a * (theta[:, None] - self.b)))
        one_c = 1.0 - self.c
        p = self.c + one_c * s
        d1 = one_c * self.a * s * (1 - s)
        d2 = d1 * self.a * (1 - 2 * s)
        return np.clip(p, 1e-12, 1 - 1e-12), d1, d2

    def total(self, v: FloatArray) -> FloatArray:
        return np.where(self.m, v, 0.0).sum(axis=1)


def _observed(responses: ArrayLike, mask: ArrayLike | None) -> tuple[FloatArray, NDArray[np.bool_]]:
    x = np.atleast_2d(np.asarray(responses, dtype=np.float64))
    m = ~np.isnan(x) if mask is None else np.atleast_2d(np.asarray(mask, dtype=bool)) & ~np.isnan(x)
    return x, m


def _estimating(theta: FloatArray, cells: _Cells, estimator: Estimator) -> FloatArray:
    p, d1, d2 = cells.curves(theta)
    pq = p * (1 - p)
    f = cells.total((cells.x - p) * d1 / pq)
    if estimator is Estimator.WLE:
        info = cells.total(d1 * d1 / pq)
        j = cells.total(d1 * d2 / pq)
        f = f + np.divide(j, 2 * info, out=np.zeros_like(j), where=info > 0)
    return f


def estimating_function(theta: ArrayLike, responses: ArrayLike, mask: ArrayLike | None, params: ItemParams,
                        estimator: Estimator) -> FloatArray:
    """r_0(theta) + sum_i (X_i - P_i) r_i(theta) for every person (persons,)."""
    x, m = _observed(responses, mask)
    return _estimating(np.asarray(theta, dtype=np.float64), _Cells(x, m, params), estimator)


def _bisect(cells: _Cells, estimator: Estimator, lower: float, upper: float, iterations: int) -> FloatArray:
    n = cells.m.shape[0]
    lo, hi = np.full(n, lower), np.full(n, upper)
    f_lo = _estimating(lo, cells, estimator)
    f_hi = _estimating(hi, cells, estimator)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        up = _estimating(mid, cells, estimator) > 0
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    theta = (lo + hi) / 2
    theta = np.where(f_lo <= 0, lower, theta)
    return np.where(f_hi >= 0, upper, theta)


def estimate(responses: ArrayLike, params: ItemParams, *, mask: ArrayLike | None = None,
             estimator: Estimator = Estimator.WLE, lower: float = -6.0, upper: float = 6.0,
             iterations: int = 50) -> FloatArray:
    """The ML or WL estimate of every person (persons,), by bisection on [lower, upper] of the
    estimating equation (decreasing in theta where it matters); a person whose function keeps
    one sign gets the bound it points to."""
    x, m = _observed(responses, mask)
    return _bisect(_Cells(x, m, params), estimator, lower, upper, iterations)


def _lz_star(theta: FloatArray, cells: _Cells, estimator: Estimator) -> FloatArray:
    p, d1, d2 = cells.curves(theta)
    q = 1 - p
    pq = p * q
    w = np.log(p / q)
    r = d1 / pq
    c_n = cells.total(d1 * w) / np.where(cells.total(d1 * r) > 0, cells.total(d1 * r), np.nan)
    big_w = cells.total((cells.x - p) * w)
    if estimator is Estimator.WLE:
        info, j = cells.total(d1 * d1 / pq), cells.total(d1 * d2 / pq)
        big_w = big_w + c_n * np.divide(j, 2 * info, out=np.zeros_like(j), where=info > 0)
    var = cells.total((w - c_n[:, None] * r) ** 2 * pq)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(var > 0, big_w / np.sqrt(var), np.nan)


def lz_star_at(theta: ArrayLike, responses: ArrayLike, params: ItemParams, *, mask: ArrayLike | None = None,
               estimator: Estimator = Estimator.WLE) -> FloatArray:
    """l_z* of every person at the given estimates theta-hat (persons,) (module docstring)."""
    x, m = _observed(responses, mask)
    return _lz_star(np.asarray(theta, dtype=np.float64), _Cells(x, m, params), estimator)


def person_fit(responses: ArrayLike, params: ItemParams, *, mask: ArrayLike | None = None,
               estimator: Estimator = Estimator.WLE, alpha: float = 0.05, min_items: int = 2,
               lower: float = -6.0, upper: float = 6.0) -> PersonFit:
    """Estimate theta (``estimator``), then l_z*, p = Phi(l_z*) and the flag p < alpha, for every
    person of ``responses`` (persons x items, 0/1; NaN or ``mask`` False = not presented)."""
    x, m = _observed(responses, mask)
    if x.shape[1] != params.n_items:
        raise ValueError(f"responses must be persons x {params.n_items} items, got {x.shape}")
    n_items = m.sum(axis=1).astype(np.int64)
    cells = _Cells(x, m, params)
    theta = _bisect(cells, estimator, lower, upper, 50)
    with np.errstate(invalid="ignore"):
        lz = _lz_star(theta, cells, estimator)
    undefined = n_items < min_items
    if estimator is Estimator.ML:
        undefined |= (theta <= lower) | (theta >= upper)
    lz = np.where(undefined, np.nan, lz)
    p = stats.norm.cdf(lz)
    flag = np.where(np.isnan(p), False, p < alpha)
    return PersonFit(theta, lz, p, flag, n_items, estimator, alpha)
