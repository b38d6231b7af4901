"""Ability estimation: EAP (also incremental, on a grid), MAP and MLE.

* **EAP** (Bock & Mislevy 1982): the posterior mean on a fixed quadrature
  grid with trapezoid weights,

      theta_EAP = sum_q w_q theta_q L(theta_q) pi(theta_q) / sum_q w_q L(theta_q) pi(theta_q)

  and the posterior SD as SE. ``pi`` is a normal prior N(mean, sd^2); the
  grid spans [lower, upper] (default 81 points on [-6, 6], step 0.15), so
  the estimate is always finite and inside the grid, whatever the pattern.
* **MAP**: the posterior mode, Fisher scoring/Newton on
  log L(theta) + log pi(theta), bounded to [lower, upper];
  SE = 1 / sqrt(I(theta) + 1/sd^2).
* **MLE**: the maximiser of log L on [lower, upper] (Newton with Fisher
  scoring fallback, started from the best grid point); SE = 1/sqrt(I(theta)).
  Defined behaviour for patterns without a finite MLE:

  - no response, all right or all wrong: the MLE does not exist (it is
    +-infinity). The estimate falls back to **MAP** with the given prior;
    ``method`` is ``MAP`` and ``note`` is ``EstimateNote.CONSTANT_PATTERN``.
  - mixed 3PL patterns whose likelihood increases towards a bound (the 3PL
    likelihood tends to a positive constant as theta -> -inf): theta is the
    bound, ``converged`` is False and ``note`` is ``EstimateNote.AT_BOUND``.

References: Bock, R. D. & Mislevy, R. J. (1982). Adaptive EAP estimation of
ability in a microcomputer environment. *Applied Psychological Measurement*
6, 431-444. Baker & Kim (2004), ch. 7.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from . import models
from .params import FloatArray, ItemParams


class EstimationMethod(Enum):
    EAP = "eap"
    MAP = "map"
    MLE = "mle"


class EstimateNote(Enum):
    """What, if anything, was special about an estimate."""

    NONE = "none"
    #: MLE asked for, but the pattern was empty, all right or all wrong: MAP was used.
    CONSTANT_PATTERN = "constant_pattern"
    #: the maximiser lies on the bound of the search interval.
    AT_BOUND = "at_bound"


@dataclass(frozen=True)
class AbilityEstimate:
    """One ability estimate.

    ``method`` is the method actually used (see :class:`EstimateNote` for the
    MLE fallback); ``se`` is the posterior SD (EAP) or 1/sqrt(information).
    """

    theta: float
    se: float
    method: EstimationMethod
    converged: bool = True
    note: EstimateNote = EstimateNote.NONE
    iterations: int = 0


@dataclass(frozen=True)
class AbilityEstimates:
    """Estimates for many persons: ``theta`` and ``se`` of shape (persons,)."""

    theta: FloatArray
    se: FloatArray
    method: EstimationMethod


@dataclass(frozen=True)
class NormalPrior:
    """N(mean, sd^2) prior for theta."""

    mean: float = 0.0
    sd: float = 1.0

    def __post_init__(self) -> None:
        if not np.isfinite(self.mean):
            raise ValueError(f"prior mean must be finite, got {self.mean!r}")
        if not (np.isfinite(self.sd) and self.sd > 0):
            raise ValueError(f"prior sd must be finite and > 0, got {self.sd!r}")

    def log_density(self, theta: ArrayLike) -> FloatArray:
        """log pi(theta) up to its additive constant: -(theta - mean)^2 / (2 sd^2)."""
        t = np.asarray(theta, dtype=np.float64)
        return -0.5 * ((t - self.mean) / self.sd) ** 2


@dataclass(frozen=True, eq=False)
class ThetaGrid:
    """A uniform quadrature grid on [lower, upper] with trapezoid weights.

    ``points`` (Q,) and ``log_weights`` (Q,) are read-only. Equality and
    hashing go by (lower, upper, n_points), so a grid can key a cache.
    """

    lower: float = -6.0
    upper: float = 6.0
    n_points: int = 81

    def __post_init__(self) -> None:
        if not (np.isfinite(self.lower) and np.isfinite(self.upper) and self.lower < self.upper):
            raise ValueError(f"grid bounds must be finite with lower < upper, got [{self.lower}, {self.upper}]")
        if self.n_points < 61:
            raise ValueError(f"a quadrature grid needs at least 61 points, got {self.n_points}")

    @property
    def key(self) -> tuple[float, float, int]:
        return (float(self.lower), float(self.upper), int(self.n_points))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ThetaGrid) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    @cached_property
    def points(self) -> FloatArray:
        pts = np.linspace(self.lower, self.upper, self.n_points)
        pts.setflags(write=False)
        return pts

    @cached_property
    def moment_matrix(self) -> FloatArray:
        """Rows 1, theta, theta^2 over the grid, shape (3, Q)."""
        m = np.vstack([np.ones(self.n_points), self.points, self.points**2])
        m.setflags(write=False)
        return m

    @cached_property
    def log_weights(self) -> FloatArray:
        w = np.zeros(self.n_points)
        w[0] = w[-1] = np.log(0.5)
        w.setflags(write=False)
        return w

    def log_prior_weights(self, prior: NormalPrior) -> FloatArray:
        """log(w_q pi(theta_q)) (up to a constant), shape (Q,)."""
        return self.log_weights + prior.log_density(self.points)


DEFAULT_GRID = ThetaGrid()
DEFAULT_PRIOR = NormalPrior()


# ---------------------------------------------------------------------------
# EAP
# ---------------------------------------------------------------------------


def grid_log_likelihood(
    params: ItemParams, responses: ArrayLike, grid: ThetaGrid = DEFAULT_GRID, mask: ArrayLike | None = None
) -> FloatArray:
    """log L on the grid: (Q,) for responses (n,), or (persons, Q) for (persons, n)."""
    u = np.asarray(responses, dtype=np.float64)
    log_p, log_q = models.log_probabilities(grid.points, params)  # (Q, n)
    if mask is not None:
        m = np.asarray(mask, dtype=np.float64)
        return (u * m) @ log_p.T + ((1.0 - u) * m) @ log_q.T
    return u @ log_p.T + (1.0 - u) @ log_q.T


def _eap_moments(log_post: FloatArray, points: FloatArray) -> tuple[FloatArray, FloatArray]:
    w = np.exp(log_post - log_post.max(axis=-1, keepdims=True))
    w /= w.sum(axis=-1, keepdims=True)
    mean = w @ points
    var = w @ (points * points) - mean * mean
    return mean, np.sqrt(np.maximum(var, 0.0))


def eap_from_log_likelihood(
    log_lik: FloatArray, grid: ThetaGrid = DEFAULT_GRID, prior: NormalPrior = DEFAULT_PRIOR
) -> AbilityEstimate:
    """EAP and posterior SD from log L on the grid, shape (Q,)."""
    mean, sd = _eap_moments(log_lik + grid.log_prior_weights(prior), grid.points)
    return AbilityEstimate(float(mean), float(sd), EstimationMethod.EAP)


def eap(
    params: ItemParams,
    responses: ArrayLike,
    *,
    grid: ThetaGrid = DEFAULT_GRID,
    prior: NormalPrior = DEFAULT_PRIOR,
    mask: ArrayLike | None = None,
) -> AbilityEstimate:
    """EAP for one pattern: ``responses`` (n,) on the ``n`` items of ``params``."""
    return eap_from_log_likelihood(grid_log_likelihood(params, responses, grid, mask), grid, prior)


def eap_many(
    params: ItemParams,
    responses: ArrayLike,
    *,
    grid: ThetaGrid = DEFAULT_GRID,
    prior: NormalPrior = DEFAULT_PRIOR,
    mask: ArrayLike | None = None,
) -> AbilityEstimates:
    """EAP for persons x items ``responses`` (with an optional boolean mask)."""
    ll = grid_log_likelihood(params, np.atleast_2d(responses), grid,
                             None if mask is None else np.atleast_2d(mask))
    mean, sd = _eap_moments(ll + grid.log_prior_weights(prior), grid.points)
    return AbilityEstimates(mean, sd, EstimationMethod.EAP)


@dataclass(frozen=True, eq=False)
class GridPosterior:
    """Incremental EAP: log L kept on the grid and updated one response at a time.

    ``log_likelihood`` (Q,) is read-only; :meth:`update` returns a new
    object. Per update the cost is O(Q) once the item's log-probabilities on
    the grid are known (see :func:`grid_log_probabilities`).
    """

    grid: ThetaGrid
    prior: NormalPrior
    log_likelihood: FloatArray
    n_responses: int = 0
    _log_prior: FloatArray = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self._log_prior is None:
            object.__setattr__(self, "_log_prior", self.grid.log_prior_weights(self.prior))

    @classmethod
    def start(cls, grid: ThetaGrid = DEFAULT_GRID, prior: NormalPrior = DEFAULT_PRIOR) -> GridPosterior:
        ll = np.zeros(grid.n_points)
        ll.setflags(write=False)
        return cls(grid, prior, ll, 0, grid.log_prior_weights(prior))

    def update(self, log_p_response: FloatArray) -> GridPosterior:
        """Add one response given its log-probability on the grid, shape (Q,)."""
        ll = self.log_likelihood + log_p_response
        ll.setflags(write=False)
        new = object.__new__(GridPosterior)  # skip __init__: the hot path of a CAT step
        new.__dict__.update(grid=self.grid, prior=self.prior, log_likelihood=ll,
                            n_responses=self.n_responses + 1, _log_prior=self._log_prior)
        return new

    def update_item(self, params: ItemParams, position: int, score: int) -> GridPosterior:
        """Add the response ``score`` (0/1) to item ``position`` of ``params``."""
        log_p, log_q = models.log_probabilities(self.grid.points, params.take([position]))
        return self.update((log_p if score else log_q)[:, 0])

    def estimate(self) -> AbilityEstimate:
        """Posterior mean and SD on the grid."""
        log_post = self.log_likelihood + self._log_prior  # every term is <= 0
        w = np.exp(log_post)
        s, m1, m2 = self.grid.moment_matrix @ w
        if not s > 1e-250:  # long patterns: rescale before exp to avoid underflow
            log_post -= log_post.max()
            s, m1, m2 = self.grid.moment_matrix @ np.exp(log_post)
        mean = m1 / s
        var = m2 / s - mean * mean
        return AbilityEstimate(float(mean), math.sqrt(max(var, 0.0)), EstimationMethod.EAP)

    def band_probabilities(self, cuts: ArrayLike) -> FloatArray:
        """Posterior mass of each band (-inf, c1), [c1, c2), ..., [ck, inf), shape (k + 1,).

        Grid points count fully in the band they fall in (a quadrature
        approximation on the grid's step).
        """
        log_post = self.log_likelihood + self._log_prior
        w = np.exp(log_post - log_post.max())
        w /= w.sum()
        band = np.searchsorted(np.asarray(cuts, dtype=np.float64), self.grid.points, side="right")
        return np.bincount(band, weights=w, minlength=len(np.atleast_1d(cuts)) + 1)


def grid_log_probabilities(params: ItemParams, grid: ThetaGrid = DEFAULT_GRID) -> tuple[FloatArray, FloatArray]:
    """(log P, log(1 - P)) on the grid, each of shape (n_items, Q), C-contiguous
    so that one item's row is a contiguous (Q,) vector for :meth:`GridPosterior.update`."""
    log_p, log_q = models.log_probabilities(grid.points, params)
    log_p = np.ascontiguousarray(log_p.T)
    log_q = np.ascontiguousarray(log_q.T)
    log_p.setflags(write=False)
    log_q.setflags(write=False)
    return log_p, log_q


# ---------------------------------------------------------------------------
# MAP and MLE
# ---------------------------------------------------------------------------


def _maximise(
    params: ItemParams,
    u: FloatArray,
    prior: NormalPrior | None,
    lower: float,
    upper: float,
    start: float,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> tuple[float, bool, int]:
    """Safeguarded Newton on f = log L (+ log prior) over [lower, upper].

    Step = f' / H with H the observed -f'' when positive, else the Fisher
    information (Fisher scoring); the step is halved until f does not decrease.
    """
    inv_var = 0.0 if prior is None else 1.0 / prior.sd**2

    def f(t: float) -> float:
        val = float(models.log_likelihood(t, params, u))
        if prior is not None:
            val += float(prior.log_density(t))
        return val

    def grad(t: float) -> float:
        g = float(models.score_function(t, params, u))
        if prior is not None:
            g -= (t - prior.mean) * inv_var
        return g

    theta = float(np.clip(start, lower, upper))
    f_now = f(theta)
    for it in range(1, max_iter + 1):
        g = grad(theta)
        h = -float(models.log_likelihood_second_derivative(theta, params, u)) + inv_var
        if h <= 0:
            h = float(models.form_information(theta, params)) + inv_var
        step = g / h
        new = float(np.clip(theta + step, lower, upper))
        f_new = f(new)
        halvings = 0
        while f_new < f_now - 1e-14 and halvings < 40:
            step *= 0.5
            new = float(np.clip(theta + step, lower, upper))
            f_new = f(new)
            halvings += 1
        moved = abs(new - theta)
        theta, f_now = new, f_new
        if theta in (lower, upper):
            g_b = grad(theta)
            if (theta == upper and g_b > 0) or (theta == lower and g_b < 0):
                # the maximum lies on (or beyond) the bound
                return theta, False, it
        if moved < tol:
            return theta, True, it
    return theta, False, max_iter


def _grid_start(params: ItemParams, u: FloatArray, prior: NormalPrior | None,
                lower: float, upper: float) -> float:
    pts = np.linspace(lower, upper, 121)
    ll = models.log_likelihood(pts, params, u)
    if prior is not None:
        ll = ll + prior.log_density(pts)
    return float(pts[int(np.argmax(ll))])


def _observed(params: ItemParams, responses: ArrayLike, mask: ArrayLike | None) -> tuple[ItemParams, FloatArray]:
    u = np.asarray(responses, dtype=np.float64).reshape(-1)
    if u.shape[0] != params.n_items:
        raise ValueError(f"{u.shape[0]} responses for {params.n_items} items")
    if mask is None:
        return params, u
    m = np.asarray(mask, dtype=bool).reshape(-1)
    return params.take(np.flatnonzero(m)), u[m]


def map_estimate(
    params: ItemParams,
    responses: ArrayLike,
    *,
    prior: NormalPrior = DEFAULT_PRIOR,
    bounds: tuple[float, float] = (-6.0, 6.0),
    mask: ArrayLike | None = None,
) -> AbilityEstimate:
    """MAP (posterior mode) on [bounds]; SE = 1/sqrt(I(theta) + 1/sd^2)."""
    p, u = _observed(params, responses, mask)
    lower, upper = bounds
    start = _grid_start(p, u, prior, lower, upper)
    theta, converged, iters = _maximise(p, u, prior, lower, upper, start)
    info = float(models.form_information(theta, p)) + 1.0 / prior.sd**2
    at_bound = theta in (lower, upper)
    return AbilityEstimate(
        theta, float(1.0 / np.sqrt(info)), EstimationMethod.MAP,
        converged and not at_bound, EstimateNote.AT_BOUND if at_bound else EstimateNote.NONE, iters,
    )


def mle(
    params: ItemParams,
    responses: ArrayLike,
    *,
    prior: NormalPrior = DEFAULT_PRIOR,
    bounds: tuple[float, float] = (-6.0, 6.0),
    mask: ArrayLike | None = None,
) -> AbilityEstimate:
    """Maximum-likelihood theta on [bounds]; SE = 1/sqrt(I(theta)).

    Empty, all-right and all-wrong patterns have no finite MLE: the result is
    :func:`map_estimate` with ``prior`` (``method=MAP``,
    ``note=CONSTANT_PATTERN``). A maximiser on a bound is returned as the
    bound with ``converged=False`` and ``note=AT_BOUND``.
    """
    p, u = _observed(params, responses, mask)
    if u.size == 0 or np.all(u > 0.5) or np.all(u < 0.5):
        est = map_estimate(p, u, prior=prior, bounds=bounds)
        return AbilityEstimate(est.theta, est.se, EstimationMethod.MAP, est.converged,
                               EstimateNote.CONSTANT_PATTERN, est.iterations)
    lower, upper = bounds
    start = _grid_start(p, u, None, lower, upper)
    theta, converged, iters = _maximise(p, u, None, lower, upper, start)
    info = float(models.form_information(theta, p))
    at_bound = theta in (lower, upper)
    return AbilityEstimate(
        theta, float(models.standard_error(info)), EstimationMethod.MLE,
        converged and not at_bound, EstimateNote.AT_BOUND if at_bound else EstimateNote.NONE, iters,
    )


def estimate(
    method: EstimationMethod,
    params: ItemParams,
    responses: ArrayLike,
    *,
    grid: ThetaGrid = DEFAULT_GRID,
    prior: NormalPrior = DEFAULT_PRIOR,
    mask: ArrayLike | None = None,
) -> AbilityEstimate:
    """Dispatch on ``method``; MAP/MLE are bounded to the grid's range."""
    if method is EstimationMethod.EAP:
        return eap(params, responses, grid=grid, prior=prior, mask=mask)
    bounds = (grid.lower, grid.upper)
    if method is EstimationMethod.MAP:
        return map_estimate(params, responses, prior=prior, bounds=bounds, mask=mask)
    return mle(params, responses, prior=prior, bounds=bounds, mask=mask)
