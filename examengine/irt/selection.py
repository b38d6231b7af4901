"""Item selection: maximum information, information at the nearest cut,
randomesque (top-k), Sympson-Hetter lotteries and the maximum priority index.

Every function works on arrays over the whole pool (positions 0..n-1) and a
boolean ``blocked`` mask (True for administered items, their enemies and
anything else that is out of play). Ties go to the lowest position, so a
selection is a pure function of its inputs (and of ``rng`` when one is used).

References
----------
* Lord, F. M. (1980). *Applications of IRT to Practical Testing Problems*, ch. 10
  (maximum information).
* Kingsbury, G. G. & Zara, A. R. (1989). Procedures for selecting items for
  computerized adaptive tests. *Applied Measurement in Education* 2, 359-375
  (randomesque).
* Spray, J. A. & Reckase, M. D. (1994). The selection of test items for decision
  making with a computer adaptive test (information at the cut score).
* Sympson, J. B. & Hetter, R. D. (1985). Controlling item-exposure rates in
  computerized adaptive testing. *Proc. 27th Annual Meeting of the Military
  Testing Association*, 973-977.
* Cheng, Y. & Chang, H.-H. (2009). The maximum priority index method for severely
  constrained item selection in computerized adaptive testing. *British Journal
  of Mathematical and Statistical Psychology* 62, 369-383.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import models
from .params import FloatArray, ItemParams

IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]


class SelectionRule(Enum):
    """What the information is evaluated at."""

    #: Fisher information at the current estimate (Lord 1980).
    MAX_INFO = "max_info"
    #: Fisher information at the cut score nearest to the current estimate
    #: (for classification exams; Spray & Reckase 1994).
    CUT_INFO = "cut_info"


class StartRule(str, Enum):
    """Where the first items are selected (a blueprint's ``start.rule``; the value is its spelling)."""

    #: at the prior mean (everybody gets the same first item unless k > 1).
    PRIOR_MEAN = "prior_mean"
    #: at a theta drawn uniformly from the policy's start interval.
    RANDOM_THETA = "random_theta"


def nearest_cut(theta: float, cuts: Sequence[float]) -> float:
    """The cut score closest to ``theta`` (the lower one on a tie)."""
    if len(cuts) == 0:
        raise ValueError("information at the nearest cut needs at least one cut score")
    if len(cuts) == 1:
        return float(cuts[0])
    # a handful of cuts: plain Python beats numpy's call overhead; min keeps the first on a tie
    return float(min(cuts, key=lambda c: abs(c - theta)))


def selection_theta(rule: SelectionRule, theta: float, cuts: Sequence[float] = (), *,
                    primary: float | None = None, half_width: float | None = None) -> float:
    """The theta at which item information is evaluated under ``rule``.

    CUT_INFO with several cuts and a ``primary`` one (the registered level's cut of an exam
    that decides the band): while the interval theta +- ``half_width`` still holds the
    primary cut, its decision is open and items are chosen there; once it is decided, at the
    nearest cut the interval still holds (the next open decision), else at the nearest cut.
    Without ``primary``: the nearest cut.
    """
    if rule is not SelectionRule.CUT_INFO:
        return float(theta)
    if primary is None or half_width is None:
        return nearest_cut(theta, cuts)
    if abs(theta - primary) < half_width:
        return float(primary)
    still_open = [c for c in cuts if abs(theta - c) < half_width]
    return nearest_cut(theta, still_open or cuts)


@dataclass(frozen=True)
class ContentConstraint:
    """One constraint group (e.g. domain, or item type) for the MPI.

    ``codes`` (n_items,) gives each item's area index in ``0..K-1`` (or -1:
    the item is in no area of this group and the group does not weigh on it);
    ``targets`` (K,) are the target proportions of the areas.
    """

    name: str
    codes: IntArray
    targets: FloatArray

    def __post_init__(self) -> None:
        codes = np.asarray(self.codes, dtype=np.intp).reshape(-1)
        targets = np.asarray(self.targets, dtype=np.float64).reshape(-1)
        if targets.size == 0 or np.any(~np.isfinite(targets)) or np.any(targets < 0):
            raise ValueError(f"content group {self.name!r}: targets must be finite and >= 0")
        if codes.size and (codes.max() >= targets.size or codes.min() < -1):
            raise ValueError(f"content group {self.name!r}: area codes must lie in -1..{targets.size - 1}")
        codes.setflags(write=False)
        targets.setflags(write=False)
        object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "target_list", tuple(targets.tolist()))

    @property
    def n_areas(self) -> int:
        return int(self.targets.size)

    def counts(self, positions: ArrayLike) -> IntArray:
        """How many of the items at ``positions`` fall in each area, shape (K,)."""
        c = self.codes[np.asarray(positions, dtype=np.intp)]
        return np.bincount(c[c >= 0], minlength=self.n_areas)


def mpi_area_factors(targets: FloatArray, counts: ArrayLike, n_administered: int) -> FloatArray:
    """Cheng & Chang's f_k for each area, shape (K,).

    f_k = max(0, (X_k - x_k) / X_k) with x_k the items given so far in area k
    and the quota X_k = p_k (n + 1): the area's target share of the length the
    test will have after the next item. (Cheng & Chang take X_k as a fixed
    upper bound; tying it to n + 1 keeps variable-length tests on target at
    every length, and equals their rule at the last item of a fixed-length
    test.) Areas with p_k = 0 get f_k = 0.
    """
    return np.array(_area_factors(np.asarray(targets, dtype=np.float64).tolist(), counts, n_administered))


def _area_factors(targets: Sequence[float], counts: ArrayLike, n_administered: int) -> list[float]:
    """:func:`mpi_area_factors` in plain Python floats (a group has a handful of areas, where
    numpy's per-call overhead would dominate; same IEEE operations, same values)."""
    n1 = n_administered + 1
    out = []
    for t, x in zip(targets, np.asarray(counts).tolist(), strict=True):
        q = t * n1
        out.append(max((q - x) / q, 0.0) if q > 0 else 0.0)
    return out


def mpi_factors(
    constraints: Sequence[ContentConstraint], counts: Sequence[ArrayLike], n_administered: int
) -> FloatArray | None:
    """The product over constraint groups of each item's area factor, shape (n_items,).

    PI_i = I_i(theta) * prod_g f_{g, area_g(i)}   (Cheng & Chang 2009, eq. 4, w = 1).
    Items in no area of a group (code -1) get factor 1 for that group.
    Returns None when there are no constraints.
    """
    factors: FloatArray | None = None
    for constraint, cnt in zip(constraints, counts, strict=True):
        f = np.array([*_area_factors(constraint.target_list, cnt, n_administered), 1.0])
        per_item = f[constraint.codes]  # code -1 picks the appended 1.0
        factors = per_item if factors is None else factors * per_item
    return factors


@dataclass(frozen=True)
class Choice:
    """The result of one selection.

    ``position`` is the chosen item; ``considered`` lists every item that
    went through the exposure lottery in order (the rejected ones, then the
    chosen one; just the chosen one without exposure control);
    ``value`` is the chosen item's criterion (information or priority index).
    """

    position: int
    considered: tuple[int, ...]
    value: float


def choose(
    criterion: FloatArray,
    blocked: BoolArray,
    *,
    rng: np.random.Generator | None = None,
    randomesque_k: int = 1,
    exposure_k: FloatArray | None = None,
    overwrite: bool = False,
) -> Choice | None:
    """Pick an item by ``criterion`` (>= 0) among the items not ``blocked``.

    * k = 1, no exposure control: the masked argmax (lowest position on ties).
    * randomesque k > 1: uniformly among the k best available items.
    * Sympson-Hetter (``exposure_k`` = K_i): the item picked as above is
      administered with probability K_i; if the lottery rejects it, it is set
      aside and the pick is repeated (the caller keeps set-aside items out of
      play for the rest of the attempt, see ``exam.cat.record``). If every
      available item is rejected, the first one considered is administered and
      nothing is set aside: setting the rest aside would leave the attempt
      without items (a pool too small for its exposure target would end
      attempts early; seen on a 112-item pool).

    ``rng`` is needed when k > 1 or with exposure control. Returns None when
    every item is blocked. With ``overwrite`` the criterion array is used as
    scratch space (saves a copy in the live step).
    """
    masked = criterion if overwrite else criterion.copy()
    np.copyto(masked, -np.inf, where=blocked)
    if randomesque_k <= 1 and exposure_k is None:
        i = int(masked.argmax())
        if masked[i] == -np.inf:
            return None
        return Choice(i, (i,), float(masked[i]))
    if rng is None:
        raise ValueError("randomesque or exposure-controlled selection needs a random generator")
    remaining = int(blocked.size - np.count_nonzero(blocked))
    if remaining == 0:
        return None
    considered: list[int] = []
    values: list[float] = []
    while remaining > 0:
        k = min(max(randomesque_k, 1), remaining)
        if k == 1:
            i = int(masked.argmax())
        else:
            top = np.argpartition(-masked, k - 1)[:k]
            top.sort()
            i = int(top[int(rng.integers(k))])
        considered.append(i)
        values.append(float(masked[i]))
        if exposure_k is None or rng.random() < exposure_k[i]:
            return Choice(i, tuple(considered), values[-1])
        masked[i] = -np.inf
        remaining -= 1
    return Choice(considered[0], (considered[0],), values[0])


@dataclass(frozen=True, eq=False)
class InformationIndex:
    """The pool sorted by peak information, for an exact pruned max-info search.

    No item's information exceeds its peak I_max (:func:`models.max_information`),
    and the MPI factors are <= 1, so once an available item with criterion B is
    known, only items with I_max >= B can beat or tie it. :func:`best_item`
    evaluates the ``chunk`` items with the largest I_max, then only those
    with I_max >= B: the same item as the full argmax, for a few per cent of
    the work on large pools.
    """

    order: IntArray  # positions by I_max, descending (stable)
    neg_peak: FloatArray  # -I_max in that order (ascending), with a safety margin
    params: ItemParams  # parameters in that order

    @classmethod
    def build(cls, params: ItemParams) -> InformationIndex:
        _, peak = models.max_information(params)
        peak = peak * (1.0 + 1e-9) + 1e-300
        order = np.argsort(-peak, kind="stable").astype(np.intp)
        order.setflags(write=False)
        neg = -peak[order]
        neg.setflags(write=False)
        return cls(order, neg, params.take(order))


def best_item(
    index: InformationIndex,
    theta: float,
    blocked: BoolArray,
    factors: FloatArray | None = None,
    *,
    chunk: int = 128,
) -> Choice | None:
    """Exact argmax over unblocked items of I_i(theta) (times ``factors``),
    lowest position on ties, using the pruning of :class:`InformationIndex`.

    Falls back to the full computation when the first chunk has no
    available item or no positive criterion (then :func:`priority`'s rule:
    plain information when every priority is 0).
    """
    n = index.order.size
    m = min(chunk, n)
    pos = index.order[:m]
    val = models.item_information_at(theta, _slice(index, 0, m))
    if factors is not None:
        val *= factors[pos]
    np.copyto(val, -np.inf, where=blocked[pos])
    best = float(val.max())
    if not best > 0:
        full = models.item_information_at(theta, index.params)
        full_pos = index.order
        crit = full if factors is None else priority(full, factors[full_pos], blocked[full_pos])
        np.copyto(crit, -np.inf, where=blocked[full_pos])
        best = float(crit.max())
        if best == -np.inf:
            return None
        tied = full_pos[crit == best]
        i = int(tied.min())
        return Choice(i, (i,), best)
    cut = int(np.searchsorted(index.neg_peak, -best, side="right"))
    if cut > m:
        pos2 = index.order[m:cut]
        val2 = models.item_information_at(theta, _slice(index, m, cut))
        if factors is not None:
            val2 *= factors[pos2]
        np.copyto(val2, -np.inf, where=blocked[pos2])
        best2 = float(val2.max())
        if best2 > best:
            best, pos, val = best2, pos2, val2
        elif best2 == best:
            pos, val = np.concatenate([pos, pos2]), np.concatenate([val, val2])
    tied = pos[val == best]
    i = int(tied.min()) if tied.size > 1 else int(tied[0])
    return Choice(i, (i,), best)


def _slice(index: InformationIndex, start: int, stop: int) -> ItemParams:
    """A view of the sorted parameters [start, stop) (no validation, no copy)."""
    p = index.params
    view = object.__new__(ItemParams)
    view.__dict__.update(a=p.a[start:stop], b=p.b[start:stop], c=p.c[start:stop],
                         ab=p.ab[start:stop], info_scale=p.info_scale[start:stop])
    return view


def max_information_item(
    theta: float, params: ItemParams, blocked: BoolArray
) -> int | None:
    """The item not ``blocked`` with the largest information at ``theta`` (lowest position on ties)."""
    choice = choose(models.item_information_at(theta, params), blocked, overwrite=True)
    return None if choice is None else choice.position


def priority(info: FloatArray, factors: FloatArray | None, blocked: BoolArray) -> FloatArray:
    """The MPI criterion info * factors, or plain info when there are no
    factors or when every available item has priority 0 (no area with an
    open quota has an item left)."""
    if factors is None:
        return info
    pi = info * factors
    if not np.any(pi[~blocked] > 0):
        return info
    return pi
