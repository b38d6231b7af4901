"""Cut scores, bands and classification decisions on one theta scale.

With cuts c_1 < ... < c_k the scale splits into k + 1 bands
(-inf, c_1), [c_1, c_2), ..., [c_k, inf); a theta equal to a cut belongs to
the band above it. With three cuts the bands are named
未达初级 / 初级 / 中级 / 高级.

The confidence-interval rule (Kingsbury & Weiss 1983; several cuts as in
catsim's ``ConfidenceIntervalStopper`` and the NCLEX 95 % rule) classifies
when theta_hat +- z_{(1+gamma)/2} SE lies wholly inside one band. The
decision's confidence is the probability mass of N(theta_hat, SE^2) inside
the chosen band (or the posterior mass on the grid when available).

SPRT (Wald 1947; Reckase 1983; Eggen 1999) against one cut c with an
indifference region c +- delta:

    LR = log L(c + delta) - log L(c - delta)
    above the cut  if LR >= log((1 - beta) / alpha)
    below the cut  if LR <= log(beta / (1 - alpha))
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr, ndtri

from .params import FloatArray

#: The level names of 1+X certificates, for three cut scores.
LEVEL_BAND_NAMES: tuple[str, ...] = ("未达初级", "初级", "中级", "高级")


def default_band_names(n_cuts: int) -> tuple[str, ...]:
    """未达初级/初级/中级/高级 for three cuts; 'band 0'... otherwise."""
    if n_cuts == 3:
        return LEVEL_BAND_NAMES
    return tuple(f"band {i}" for i in range(n_cuts + 1))


@dataclass(frozen=True)
class CutScores:
    """Strictly increasing cut scores and the names of the bands they make."""

    cuts: tuple[float, ...]
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        cuts = tuple(float(c) for c in self.cuts)
        if not all(np.isfinite(cuts)):
            raise ValueError(f"cut scores must be finite, got {cuts}")
        if any(b <= a for a, b in zip(cuts, cuts[1:])):
            raise ValueError(f"cut scores must be strictly increasing, got {cuts}")
        names = tuple(self.names) or default_band_names(len(cuts))
        if len(names) != len(cuts) + 1:
            raise ValueError(f"{len(cuts)} cut scores need {len(cuts) + 1} band names, got {len(names)}")
        object.__setattr__(self, "cuts", cuts)
        object.__setattr__(self, "names", names)

    @property
    def n_bands(self) -> int:
        return len(self.cuts) + 1

    def band_of(self, theta: ArrayLike) -> np.ndarray:
        """Band index of each theta (same shape)."""
        return np.searchsorted(np.asarray(self.cuts), np.asarray(theta, dtype=np.float64), side="right")

    def band_bounds(self, band: int) -> tuple[float, float]:
        edges = (-np.inf, *self.cuts, np.inf)
        return float(edges[band]), float(edges[band + 1])


class ClassificationBasis(Enum):
    """Why a band was chosen."""

    #: the confidence interval lies wholly inside the band.
    CONFIDENCE_INTERVAL = "confidence_interval"
    #: SPRT accepted a hypothesis about the single cut.
    SPRT = "sprt"
    #: no rule decided: the band of the point estimate.
    POINT_ESTIMATE = "point_estimate"


@dataclass(frozen=True)
class Classification:
    """A band decision: index, name, confidence in (0, 1], and its basis."""

    band: int
    name: str
    confidence: float
    basis: ClassificationBasis


@functools.lru_cache(maxsize=64)  # called at every step of an attempt with the same confidence
def z_value(confidence: float) -> float:
    """z_{(1 + gamma)/2}: 1.959964 for gamma = 0.95."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    return float(ndtri(0.5 + 0.5 * confidence))


def band_probabilities(theta: float, se: float, cut_scores: CutScores) -> FloatArray:
    """Mass of N(theta, se^2) in each band, shape (n_bands,)."""
    edges = np.array([-np.inf, *cut_scores.cuts, np.inf])
    if se <= 0:
        out = np.zeros(cut_scores.n_bands)
        out[int(cut_scores.band_of(theta))] = 1.0
        return out
    return np.diff(ndtr((edges - theta) / se))


def confidence_interval_band(theta: float, se: float, cut_scores: CutScores, confidence: float) -> int | None:
    """The band holding the whole interval theta +- z SE, or None."""
    half = z_value(confidence) * se
    cuts = cut_scores.cuts  # sorted; bisect_right is searchsorted(side="right") without numpy's overhead
    lo, hi = bisect.bisect_right(cuts, theta - half), bisect.bisect_right(cuts, theta + half)
    return lo if lo == hi else None



@dataclass(frozen=True)
class SprtRule:
    """SPRT against one cut score with indifference half-width ``delta``."""

    cut: float
    delta: float = 0.2
    alpha: float = 0.05
    beta: float = 0.05

    def __post_init__(self) -> None:
        if not self.delta > 0:
            raise ValueError(f"SPRT delta must be > 0, got {self.delta!r}")
        for name in ("alpha", "beta"):
            v = getattr(self, name)
            if not 0 < v < 0.5:
                raise ValueError(f"SPRT {name} must lie in (0, 0.5), got {v!r}")

    @property
    def points(self) -> tuple[float, float]:
        """(c - delta, c + delta): where the log-likelihood must be tracked."""
        return (self.cut - self.delta, self.cut + self.delta)

    @property
    def upper_bound(self) -> float:
        return float(np.log((1 - self.beta) / self.alpha))

    @property
    def lower_bound(self) -> float:
        return float(np.log(self.beta / (1 - self.alpha)))

    def decide(self, log_lik_low: float, log_lik_high: float) -> int | None:
        """+1 (above the cut), -1 (below) or None (continue)."""
        lr = log_lik_high - log_lik_low
        if lr >= self.upper_bound:
            return 1
        if lr <= self.lower_bound:
            return -1
        return None


def classify(
    theta: float,
    se: float,
    cut_scores: CutScores,
    *,
    confidence: float = 0.95,
    band_mass: Sequence[float] | None = None,
    sprt: SprtRule | None = None,
    sprt_decision: int | None = None,
) -> Classification:
    """Classify an estimate.

    Order: an SPRT decision (if given), else the CI band (if the interval
    lies in one band), else the band of the point estimate. ``confidence``
    of the result is the mass of the chosen band, from ``band_mass`` (e.g.
    :meth:`GridPosterior.band_probabilities`) when given, else from
    N(theta, se^2).
    """
    mass = np.asarray(band_mass, dtype=np.float64) if band_mass is not None else band_probabilities(
        theta, se, cut_scores)
    if sprt is not None and sprt_decision is not None:
        band = int(cut_scores.band_of(sprt.cut + (1e-12 if sprt_decision > 0 else -1e-12)))
        basis = ClassificationBasis.SPRT
    else:
        ci = confidence_interval_band(theta, se, cut_scores, confidence)
        if ci is not None:
            band, basis = ci, ClassificationBasis.CONFIDENCE_INTERVAL
        else:
            band, basis = int(cut_scores.band_of(theta)), ClassificationBasis.POINT_ESTIMATE
    return Classification(band, cut_scores.names[band], float(mass[band]), basis)
