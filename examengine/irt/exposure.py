"""Sympson-Hetter exposure control and the iterative simulation that sets it.

Each item has an exposure parameter K_i in (0, 1]. When selection picks item
i, a lottery administers it with probability K_i (see
:func:`examengine.irt.selection.choose`). Then

    P(A_i) = P(S_i) K_i

with P(S_i) the rate at which item i is selected (enters the lottery) and
P(A_i) the rate at which it is administered, both per examinee. The
parameters are found by iterating simulations (Sympson & Hetter 1985; Hetter
& Sympson 1997, in Sands, Waters & McBride (eds.), *Computerized Adaptive
Testing: From Inquiry to Operation*, ch. 14):

    K_i <- 1               if P(S_i) <= r
    K_i <- r / P(S_i)      otherwise

until the largest simulated P(A_i) is at most r (+ tolerance).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .params import FloatArray


@dataclass(frozen=True)
class ExposureParameters:
    """Sympson-Hetter K_i per pool position, shape (n_items,), read-only."""

    k: FloatArray
    target: float | None = None

    def __post_init__(self) -> None:
        k = np.array(self.k, dtype=np.float64).reshape(-1)
        if np.any(~np.isfinite(k)) or np.any(k <= 0) or np.any(k > 1):
            raise ValueError("Sympson-Hetter parameters must lie in (0, 1]")
        k.setflags(write=False)
        object.__setattr__(self, "k", k)

    @classmethod
    def unrestricted(cls, n_items: int) -> ExposureParameters:
        return cls(np.ones(n_items))

    @property
    def n_items(self) -> int:
        return int(self.k.size)


@dataclass(frozen=True)
class ExposureRates:
    """Per-examinee rates from one simulation: selected P(S_i) and administered P(A_i)."""

    selected: FloatArray
    administered: FloatArray
    n_examinees: int

    @classmethod
    def from_counts(cls, selected: ArrayLike, administered: ArrayLike, n_examinees: int) -> ExposureRates:
        n = max(int(n_examinees), 1)
        return cls(np.asarray(selected, dtype=np.float64) / n,
                   np.asarray(administered, dtype=np.float64) / n, int(n_examinees))


@dataclass(frozen=True)
class SympsonHetterCalibration:
    """The outcome of :func:`calibrate_sympson_hetter`."""

    parameters: ExposureParameters
    iterations: int
    converged: bool
    max_exposure_history: tuple[float, ...]


def sympson_hetter_step(k: FloatArray, rates: ExposureRates, target: float) -> FloatArray:
    """One Sympson-Hetter update: K_i = 1 if P(S_i) <= r else r / P(S_i)."""
    del k
    sel = rates.selected
    with np.errstate(divide="ignore", invalid="ignore"):
        new = np.where(sel > target, target / sel, 1.0)
    return np.clip(new, 1e-6, 1.0)


def calibrate_sympson_hetter(
    simulate: Callable[[ExposureParameters, int], ExposureRates],
    n_items: int,
    target: float,
    *,
    max_iterations: int = 30,
    tolerance: float = 0.0,
    average_last: int = 0,
) -> SympsonHetterCalibration:
    """Find K by iterative simulation.

    ``simulate(parameters, iteration)`` runs the CAT over a calibration
    sample with the given parameters and returns the observed rates (use a
    fresh seed per iteration). Stops when max P(A_i) <= target + tolerance.
    The update is the classic one (:func:`sympson_hetter_step`). Without
    convergence the parameters of the round with the smallest maximum
    exposure are returned (``converged=False``). Simulated rates carry
    sampling noise (SD sqrt(r (1 - r) / N) per item, and the maximum over a
    pool sits a few SDs above r): calibrate to a target somewhat below the
    operational ceiling, or with large samples.

    With ``average_last`` = m > 0 every round runs, and the parameters returned are the
    mean of the m updates computed from the last m rounds' rates (a Polyak average of
    the fixed-point iteration): each update carries the sampling noise of its round, and
    picking the round whose simulation happened to show the smallest maximum picks the
    luckiest noise, not the best parameters. ``converged`` then says whether the last
    round met the target. Use larger samples for those last rounds (the caller's
    ``simulate`` knows the iteration).
    """
    if not 0 < target <= 1:
        raise ValueError(f"exposure target must lie in (0, 1], got {target!r}")
    if not 0 <= average_last <= max_iterations:
        raise ValueError(f"average_last must lie in [0, max_iterations], got {average_last!r}")
    k = np.ones(n_items)
    history: list[float] = []
    best: tuple[float, ExposureParameters] | None = None
    updates: list[FloatArray] = []
    for iteration in range(1, max_iterations + 1):
        params = ExposureParameters(k, target)
        rates = simulate(params, iteration)
        max_admin = float(rates.administered.max()) if n_items else 0.0
        history.append(max_admin)
        if not average_last and max_admin <= target + tolerance:
            return SympsonHetterCalibration(params, iteration, True, tuple(history))
        if best is None or max_admin < best[0]:
            best = (max_admin, params)
        k = sympson_hetter_step(k, rates, target)
        if iteration > max_iterations - average_last:
            updates.append(k)
    if average_last:
        mean_k = np.mean(updates, axis=0) if n_items else np.ones(0)
        return SympsonHetterCalibration(ExposureParameters(mean_k, target), max_iterations,
                                        history[-1] <= target + tolerance, tuple(history))
    assert best is not None
    return SympsonHetterCalibration(best[1], max_iterations, False, tuple(history))
