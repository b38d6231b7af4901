"""The test characteristic curve (TCC) as a percent correct, and its inverse.

For a set of ``n`` items with parameters ``params`` (irt.models, D = 1):

    PC(theta) = 100 / n * sum_i P_i(theta)

PC is the expected percent correct of a candidate of ability theta on the set (the true score
of Lord's eq. 4-5, divided by n). It rises strictly from 100 * mean(c) to 100, so a percent
correct inside its range on a bounded interval has exactly one theta there:

    theta(pc) = the root of PC(theta) - pc on [lower, upper]  (Brent's method)

Used to turn a cut given as a percent correct on a reference set into a cut on the theta scale.
Reference: Lord (1980), *Applications of IRT to Practical Testing Problems*, ch. 4.4;
Hambleton, Swaminathan & Rogers (1991), *Fundamentals of IRT*, ch. 6 (criterion-referenced
cuts through the TCC); Brent (1973), *Algorithms for Minimization without Derivatives*, ch. 4.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .models import probability
from .params import ItemParams

#: the interval on which the TCC is inverted (abilities outside it are not reported)
THETA_RANGE = (-6.0, 6.0)


def percent_correct_at(params: ItemParams, theta: float) -> float:
    """PC(theta) = 100 * mean_i P_i(theta) over the ``n`` items of ``params``; a float."""
    return float(100.0 * probability(np.array([theta]), params).mean())


def theta_for_percent_correct(params: ItemParams, percent: float, *,
                              theta_range: tuple[float, float] = THETA_RANGE, xtol: float = 1e-10) -> float | None:
    """Invert the TCC: the theta in ``theta_range`` at which PC(theta) = ``percent``, to ``xtol``;
    None when ``percent`` lies outside (PC(lower), PC(upper)) (e.g. below the guessing floor
    100 * mean(c))."""
    lower, upper = theta_range
    lo, hi = percent_correct_at(params, lower), percent_correct_at(params, upper)
    if not lo < percent < hi:
        return None
    return float(brentq(lambda t: percent_correct_at(params, t) - percent, lower, upper, xtol=xtol))
