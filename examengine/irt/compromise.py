"""Item compromise: an item's residuals over its exposures, in windows and by a one-sided CUSUM,
flagging items whose performance rises after exposure (a leaked item gets easier).

For one item's responses in the order they were given, u_t the 0/1 score and P_t = P(theta-hat_t)
the model's probability of a right answer at the responding person's ability estimate (the
item's 1PL/2PL/3PL parameters), the standardized residual is

    z_t = (u_t - P_t) / sqrt(P_t (1 - P_t)),

mean 0 and variance 1 while the item behaves as its parameters say. The upper CUSUM (Page 1954)

    S_0 = 0,    S_t = max(0, S_{t-1} + z_t - k),

accumulates evidence that the mean of z has risen by more than k; the item is flagged at the
first t with S_t > h (the alarm). k = 0.25 is tuned to a shift of 0.5 in the mean of z (k is
half the shift to detect); a 0.5 shift is what, near P = 0.5, a difficulty falling by about one
logit does. h = 20 alarms on 0.5 % of stable items by their 1,000th exposure and 2 % by their
2,000th (h = 10: 41 % and 61 %), and finds a one-logit drop after the 200th exposure always,
about 65 exposures later (a half-logit drop 68 % of the time); measured in
``benchmarks/security_power.py``, stated in docs/fairness.md; raise h for items with many more
exposures. Windows (every ``window`` exposures) report the exposure count, the observed and
expected number right and their difference: the table an item reviewer reads next to the
alarm.

What a flag does not prove: theta-hat includes the item's own answer (a small pull towards the
model); a drifting population (a new teaching cohort, a coaching course that teaches the skill,
not the item) also makes items easier; an item whose parameters were wrong from the start
(miscalibrated) alarms early, not after exposure. A flag is a reason to review the item and
its exposure, and to retire or recalibrate it, not proof that it leaked.

References: Page, E. S. (1954). Continuous inspection schemes. *Biometrika* 41, 100-115. van
Krimpen-Stoop, E. M. L. A. & Meijer, R. R. (2000). Detecting person misfit in adaptive testing
using statistical process control techniques. In van der Linden & Glas (eds.), *Computerized
Adaptive Testing: Theory and Practice*, 201-219. Veerkamp, W. J. J. & Glas, C. A. W. (2000).
Detection of known items in adaptive testing with a statistical quality control method. *J.
Educational and Behavioral Statistics* 25, 373-389. Zhang, J. (2014). A sequential procedure
for detecting compromised items in the item pool of a CAT system. *Applied Psychological
Measurement* 38, 87-104.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .params import FloatArray

#: The CUSUM's reference value and decision interval (module text).
K_DEFAULT = 0.25
H_DEFAULT = 20.0


@dataclass(frozen=True)
class Window:
    """Exposures first..last (1-based, inclusive) of one window."""

    first: int
    last: int
    n: int
    observed: float
    expected: float
    residual: float  # observed - expected
    cusum_end: float


@dataclass(frozen=True)
class ItemCusum:
    """One item: exposures, observed and expected right, the CUSUM path's maximum, the alarm
    (1-based exposure where S_t first exceeds h; None: no alarm) and the windows."""

    n: int
    observed: float
    expected: float
    cusum_max: float
    alarm_at: int | None
    flag: bool
    k: float
    h: float
    windows: list[Window]
    cusum: FloatArray


def probabilities(theta: ArrayLike, a: float, b: float, c: float = 0.0) -> FloatArray:
    th = np.asarray(theta, dtype=np.float64)
    return np.clip(c + (1 - c) / (1 + np.exp(-a * (th - b))), 1e-9, 1 - 1e-9)


def item_cusum(scores: ArrayLike, p: ArrayLike, *, k: float = K_DEFAULT, h: float = H_DEFAULT,
               window: int = 100) -> ItemCusum:
    """The upper CUSUM of one item's standardized residuals (responses in time order) and its
    windows of ``window`` exposures."""
    u = np.asarray(scores, dtype=np.float64)
    pp = np.clip(np.asarray(p, dtype=np.float64), 1e-9, 1 - 1e-9)
    z = (u - pp) / np.sqrt(pp * (1 - pp))
    s = np.empty(len(z))
    acc = 0.0
    for t, zt in enumerate(z):  # S_t = max(0, S_{t-1} + z_t - k)
        acc = max(0.0, acc + zt - k)
        s[t] = acc
    over = np.nonzero(s > h)[0]
    alarm = int(over[0]) + 1 if len(over) else None
    windows = []
    for lo in range(0, len(u), max(window, 1)):
        hi = min(lo + window, len(u))
        obs, exp = float(u[lo:hi].sum()), float(pp[lo:hi].sum())
        windows.append(Window(lo + 1, hi, hi - lo, obs, exp, obs - exp, float(s[hi - 1])))
    return ItemCusum(len(u), float(u.sum()), float(pp.sum()), float(s.max(initial=0.0)), alarm, alarm is not None,
                     k, h, windows, s)
