"""Simulation helpers: synthetic banks, simulee abilities and the report.

The CAT loop itself lives with the state machine (``examengine.exam.cat``,
which may import this module, not the other way round); this module holds
the parts that are pure IRT: drawing banks and abilities, and turning true
and estimated thetas, lengths and exposure counts into a report.

Metrics: bias = mean(theta_hat - theta); RMSE = sqrt(mean((theta_hat - theta)^2));
conditional bias/RMSE/length in bins of the true theta; classification
accuracy = share of simulees whose decided band equals the band of their
true theta (overall and per true band); item exposure = administrations /
simulees (Chang & Ansley 2003, *Journal of Educational Measurement* 40, 71-103).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from .classification import CutScores
from .params import FloatArray, IrtModel, ItemParams


def synthetic_bank(
    n_items: int,
    rng: np.random.Generator,
    *,
    model: IrtModel = IrtModel.THREE_PL,
    a_median: float = 1.2,
    a_log_sd: float = 0.25,
    b_mean: float = 0.0,
    b_sd: float = 1.0,
    c_max: float = 0.25,
) -> ItemParams:
    """A synthetic bank: a ~ lognormal(log a_median, a_log_sd), b ~ N(b_mean, b_sd),
    c ~ U(0, c_max) (3PL only). 2PL drops c, 1PL also fixes a = 1."""
    if n_items <= 0:
        raise ValueError(f"a bank needs at least one item, got {n_items}")
    a = np.exp(rng.normal(np.log(a_median), a_log_sd, n_items))
    b = rng.normal(b_mean, b_sd, n_items)
    c = rng.uniform(0.0, c_max, n_items)
    if model is IrtModel.THREE_PL:
        return ItemParams.three_pl(a, b, c)
    if model is IrtModel.TWO_PL:
        return ItemParams.two_pl(a, b)
    return ItemParams.one_pl(b)


def normal_thetas(n: int, rng: np.random.Generator, mean: float = 0.0, sd: float = 1.0) -> FloatArray:
    """n abilities from N(mean, sd^2)."""
    if n <= 0 or not sd > 0:
        raise ValueError(f"need n > 0 and sd > 0, got n={n}, sd={sd}")
    return rng.normal(mean, sd, n)


def grid_thetas(lower: float, upper: float, n: int) -> FloatArray:
    """n evenly spaced abilities on [lower, upper] (e.g. 'a:b:n' on the CLI)."""
    if n <= 0 or not lower <= upper:
        raise ValueError(f"need n > 0 and lower <= upper, got {lower}:{upper}:{n}")
    return np.linspace(lower, upper, n)


@dataclass(frozen=True)
class ConditionalRow:
    """Accuracy of simulees whose true theta is in [lower, upper)."""

    lower: float
    upper: float
    n: int
    bias: float
    rmse: float
    mean_length: float


@dataclass(frozen=True)
class BandAccuracy:
    band: int
    name: str
    n: int
    accuracy: float


@dataclass(frozen=True)
class SimulationReport:
    n_simulees: int
    n_items_in_bank: int
    bias: float
    rmse: float
    mean_length: float
    min_length: int
    max_length: int
    conditional: tuple[ConditionalRow, ...]
    classification_accuracy: float | None
    band_accuracy: tuple[BandAccuracy, ...]
    max_exposure: float
    pool_used_share: float
    pool_never_used_share: float
    items_over_exposure: dict[str, int] = field(default_factory=dict)
    mean_se: float = float("nan")

    def to_dict(self) -> dict[str, object]:
        def row(x: object) -> dict[str, object]:
            return dict(x.__dict__)

        return {
            "n_simulees": self.n_simulees,
            "n_items_in_bank": self.n_items_in_bank,
            "bias": self.bias,
            "rmse": self.rmse,
            "mean_se": self.mean_se,
            "mean_length": self.mean_length,
            "min_length": self.min_length,
            "max_length": self.max_length,
            "conditional": [row(r) for r in self.conditional],
            "classification_accuracy": self.classification_accuracy,
            "classification_accuracy_by_band": [row(r) for r in self.band_accuracy],
            "max_exposure": self.max_exposure,
            "pool_used_share": self.pool_used_share,
            "pool_never_used_share": self.pool_never_used_share,
            "items_over_exposure": dict(self.items_over_exposure),
        }


def _finite(x: float) -> float:
    return float(x) if np.isfinite(x) else float("nan")


def summarize(
    true_theta: ArrayLike,
    est_theta: ArrayLike,
    lengths: ArrayLike,
    exposure_counts: ArrayLike,
    *,
    est_se: ArrayLike | None = None,
    cut_scores: CutScores | None = None,
    decided_band: ArrayLike | None = None,
    bin_edges: Sequence[float] = (-np.inf, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, np.inf),
    exposure_thresholds: Sequence[float] = (0.2, 0.25, 0.3),
) -> SimulationReport:
    """Build the report. Shapes: (simulees,) for thetas, lengths and bands;
    (n_items,) for the administration counts."""
    t = np.asarray(true_theta, dtype=np.float64)
    e = np.asarray(est_theta, dtype=np.float64)
    n_len = np.asarray(lengths, dtype=np.float64)
    counts = np.asarray(exposure_counts, dtype=np.float64)
    n = int(t.size)
    err = e - t
    rows = []
    edges = np.asarray(bin_edges, dtype=np.float64)
    which = np.searchsorted(edges, t, side="right") - 1
    for j in range(edges.size - 1):
        sel = which == j
        k = int(sel.sum())
        if k == 0:
            continue
        rows.append(ConditionalRow(
            _finite(edges[j]) if np.isfinite(edges[j]) else float(t[sel].min()),
            _finite(edges[j + 1]) if np.isfinite(edges[j + 1]) else float(t[sel].max()),
            k, float(err[sel].mean()), float(np.sqrt((err[sel] ** 2).mean())), float(n_len[sel].mean()),
        ))
    accuracy: float | None = None
    bands: list[BandAccuracy] = []
    if cut_scores is not None and cut_scores.cuts and decided_band is not None:
        true_band = cut_scores.band_of(t)
        dec = np.asarray(decided_band)
        accuracy = float(np.mean(true_band == dec))
        for b in range(cut_scores.n_bands):
            sel = true_band == b
            k = int(sel.sum())
            bands.append(BandAccuracy(b, cut_scores.names[b], k,
                                      float(np.mean(dec[sel] == b)) if k else float("nan")))
    exposure = counts / max(n, 1)
    used = float(np.mean(counts > 0)) if counts.size else 0.0
    return SimulationReport(
        n_simulees=n,
        n_items_in_bank=int(counts.size),
        bias=float(err.mean()),
        rmse=float(np.sqrt((err**2).mean())),
        mean_length=float(n_len.mean()),
        min_length=int(n_len.min()),
        max_length=int(n_len.max()),
        conditional=tuple(rows),
        classification_accuracy=accuracy,
        band_accuracy=tuple(bands),
        max_exposure=float(exposure.max()) if counts.size else 0.0,
        pool_used_share=used,
        pool_never_used_share=1.0 - used,
        items_over_exposure={f"{x:g}": int(np.sum(exposure > x)) for x in exposure_thresholds},
        mean_se=float(np.mean(est_se)) if est_se is not None else float("nan"),
    )

