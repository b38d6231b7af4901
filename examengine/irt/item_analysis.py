"""Classical item analysis: p-value, corrected point-biserial, distractor analysis, omits.

For persons x items arrays (``scores`` 0/1 with NaN where not answered, ``presented`` True
where the item was shown):

* p-value        p_i = mean of u_pi over the persons who answered i;
* corrected r    r_i = corr(u_pi, X_p - u_pi) over those persons, X_p the person's total
                 score (item against the rest of the test; Henrysson 1963), or corr(u_pi, c_p)
                 against a given criterion c (e.g. the attempt's theta, for adaptive exams,
                 whose raw totals are not comparable across persons);
* omit rate      1 - answered / presented;
* options        for every option k: the share of answering persons who chose it and the
                 point-biserial corr(chose_k, rest); a distractor is flagged when the persons
                 who chose it have a higher mean criterion than the persons who answered right.

Flags: too easy (p > p_high), too hard (p < p_low), low (r < r_low) or negative (r < 0)
discrimination, a distractor drawing stronger candidates, few responses (n < min_n:
no other flag is given then). Reference: Crocker, L. & Algina, J. (1986). *Introduction
to Classical and Modern Test Theory*, ch. 14.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike, NDArray


class ItemFlag(Enum):
    TOO_EASY = "too_easy"
    TOO_HARD = "too_hard"
    LOW_DISCRIMINATION = "low_discrimination"
    NEGATIVE_DISCRIMINATION = "negative_discrimination"
    STRONG_DISTRACTOR = "strong_distractor"
    FEW_RESPONSES = "few_responses"


FLAG_LABELS = {
    ItemFlag.TOO_EASY: "过易",
    ItemFlag.TOO_HARD: "过难",
    ItemFlag.LOW_DISCRIMINATION: "区分度低",
    ItemFlag.NEGATIVE_DISCRIMINATION: "区分度为负",
    ItemFlag.STRONG_DISTRACTOR: "干扰项吸引高分考生",
    ItemFlag.FEW_RESPONSES: "作答人数不足",
}


@dataclass(frozen=True)
class AnalysisThresholds:
    p_low: float = 0.2
    p_high: float = 0.9
    r_low: float = 0.2
    min_n: int = 30
    min_choosers: int = 5


@dataclass(frozen=True)
class OptionStats:
    index: int  # 0-based option position
    is_key: bool
    n: int  # answering persons who chose it
    share: float
    point_biserial: float  # NaN when undefined
    mean_criterion: float  # NaN when nobody chose it


@dataclass(frozen=True)
class ItemStats:
    position: int
    n_presented: int
    n_answered: int
    p_value: float
    point_biserial: float
    omit_rate: float
    options: tuple[OptionStats, ...]
    flags: tuple[ItemFlag, ...]


def _corr(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    if x.size < 2:
        return float("nan")
    sx, sy = x.std(), y.std()
    if sx == 0 or sy == 0:
        return float("nan")
    return float(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy))


def analyse_items(
    scores: ArrayLike,
    presented: ArrayLike | None = None,
    *,
    choices: ArrayLike | None = None,
    keys: ArrayLike | None = None,
    n_options: ArrayLike | None = None,
    criterion: ArrayLike | None = None,
    thresholds: AnalysisThresholds = AnalysisThresholds(),
) -> tuple[ItemStats, ...]:
    """Statistics of every item.

    ``scores`` persons x items (0/1, NaN = not answered); ``presented`` persons x items bool
    (default: answered); ``choices`` persons x items x K bool (option k chosen), ``keys``
    items x K bool and ``n_options`` (items,) for the distractor analysis; ``criterion``
    (persons,) replaces the rest score.
    """
    u = np.asarray(scores, dtype=np.float64)
    answered = ~np.isnan(u)
    shown = answered.copy() if presented is None else (np.asarray(presented, dtype=bool) | answered)
    filled = np.where(answered, u, 0.0)
    total = filled.sum(axis=1)
    crit = None if criterion is None else np.asarray(criterion, dtype=np.float64)
    ch = None if choices is None else np.asarray(choices, dtype=bool)
    ky = None if keys is None else np.asarray(keys, dtype=bool)
    nopt = None if n_options is None else np.asarray(n_options, dtype=int)
    t = thresholds
    out = []
    for i in range(u.shape[1]):
        who = answered[:, i]
        n = int(who.sum())
        n_shown = int(shown[:, i].sum())
        ui = u[who, i]
        c_i = (total[who] - ui) if crit is None else crit[who]
        p = float(ui.mean()) if n else float("nan")
        r = _corr(ui, c_i)
        omit = 1.0 - n / n_shown if n_shown else float("nan")
        options: list[OptionStats] = []
        flags: list[ItemFlag] = []
        right_mean = float(c_i[ui == 1].mean()) if (ui == 1).any() else float("nan")
        if ch is not None and nopt is not None and ky is not None:
            for k in range(int(nopt[i])):
                chose = ch[who, i, k]
                nk = int(chose.sum())
                options.append(OptionStats(
                    index=k, is_key=bool(ky[i, k]), n=nk, share=nk / n if n else float("nan"),
                    point_biserial=_corr(chose.astype(np.float64), c_i),
                    mean_criterion=float(c_i[chose].mean()) if nk else float("nan"),
                ))
        if n < t.min_n:
            flags.append(ItemFlag.FEW_RESPONSES)
        else:
            if p > t.p_high:
                flags.append(ItemFlag.TOO_EASY)
            if p < t.p_low:
                flags.append(ItemFlag.TOO_HARD)
            if np.isfinite(r) and r < 0:
                flags.append(ItemFlag.NEGATIVE_DISCRIMINATION)
            elif not (np.isfinite(r) and r >= t.r_low):
                flags.append(ItemFlag.LOW_DISCRIMINATION)
            if any(not o.is_key and o.n >= t.min_choosers and o.mean_criterion > right_mean for o in options):
                flags.append(ItemFlag.STRONG_DISTRACTOR)
        out.append(ItemStats(i, n_shown, n, p, r, omit, tuple(options), tuple(flags)))
    return tuple(out)


# ---------------------------------------------------------------------------- empirical ICC


@dataclass(frozen=True, eq=False)
class EmpiricalIcc:
    """Observed proportion correct by ability group, to set beside a model's ICC.

    Per group g (ordered by ability): ``theta`` the mean ability, ``low``/``high`` the
    smallest and largest ability, ``proportion`` the share of right answers, ``n`` the
    number of persons, ``expected`` the mean model probability (NaN when not given)."""

    theta: NDArray[np.float64]
    low: NDArray[np.float64]
    high: NDArray[np.float64]
    proportion: NDArray[np.float64]
    n: NDArray[np.intp]
    expected: NDArray[np.float64]


def icc_group_count(n_persons: int, *, min_per_group: int = 25, min_groups: int = 3, max_groups: int = 10) -> int:
    """How many ability groups ``n_persons`` answers support: n // min_per_group, at most
    ``max_groups``; 0 (no groups) below ``min_groups`` groups of ``min_per_group``."""
    g = min(max_groups, n_persons // min_per_group)
    return g if g >= min_groups else 0


def empirical_icc(theta: ArrayLike, score: ArrayLike, n_groups: int, model_p: ArrayLike | None = None
                  ) -> EmpiricalIcc:
    """Persons (``theta`` (n,) abilities, ``score`` (n,) 0/1 on one item) sorted by ability
    (stable: ties keep their given order) and cut into ``n_groups`` groups of equal size
    (the first n mod G groups one person larger, as ``numpy.array_split``); per group the
    mean ability and the proportion correct; with ``model_p`` (n,) (each person's model
    probability of a right answer) also the group's mean model probability. Equal-size
    ability groups as in Yen's Q1 (Yen, W. M. (1981). Using simulation results to choose a
    latent trait model. APM 5, 245-262)."""
    t = np.asarray(theta, dtype=np.float64).reshape(-1)
    u = np.asarray(score, dtype=np.float64).reshape(-1)
    m = np.full(t.shape, np.nan) if model_p is None else np.asarray(model_p, dtype=np.float64).reshape(-1)
    if not (t.shape == u.shape == m.shape):
        raise ValueError("theta, score and model_p must have one length")
    if not np.isfinite(t).all():
        raise ValueError("every ability must be finite")
    if n_groups < 1 or n_groups > t.size:
        raise ValueError(f"cannot cut {t.size} persons into {n_groups} groups")
    order = np.argsort(t, kind="stable")
    groups = np.array_split(order, n_groups)
    return EmpiricalIcc(
        theta=np.array([t[g].mean() for g in groups]),
        low=np.array([t[g].min() for g in groups]),
        high=np.array([t[g].max() for g in groups]),
        proportion=np.array([u[g].mean() for g in groups]),
        n=np.array([g.size for g in groups], dtype=np.intp),
        expected=np.array([m[g].mean() for g in groups]),
    )


def wilson_interval(successes: ArrayLike, n: ArrayLike, z: float = 1.959964) -> tuple[NDArray[np.float64],
                                                                                      NDArray[np.float64]]:
    """Wilson's score interval of a proportion (Wilson 1927; Agresti & Coull 1998):
    (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n); stays inside [0, 1]."""
    k = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    p = k / m
    z2 = z * z
    centre = (p + z2 / (2 * m)) / (1 + z2 / m)
    half = z * np.sqrt(p * (1 - p) / m + z2 / (4 * m * m)) / (1 + z2 / m)
    return centre - half, centre + half
