"""CatPolicy: every rule of an adaptive exam in one frozen, validated object.

A blueprint makes its own (``blueprint_policy``: the live exam, the studies and the
paper-vs-online agreement all use it); the simulation CLI builds one from options. Defaults are the documented ones: EAP with an N(0, 1)
prior on 81 points over [-6, 6], maximum information, start at the prior
mean, no exposure control, 95 % confidence for the CI rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from examengine.exam.blueprint import Blueprint
from examengine.exam.pool import ItemPool
from examengine.irt.classification import LEVEL_BAND_NAMES, CutScores, SprtRule
from examengine.irt.estimation import (
    DEFAULT_GRID,
    EstimationMethod,
    NormalPrior,
    ThetaGrid,
)
from examengine.irt.selection import SelectionRule, StartRule
from examengine.irt.stopping import StoppingRule


@dataclass(frozen=True)
class ContentTarget:
    """Target proportions of the areas of one constraint group of the pool.

    ``shares`` maps area name -> share; shares are normalised to sum to 1.
    """

    group: str
    shares: tuple[tuple[str, float], ...]

    @classmethod
    def of(cls, group: str, shares: Mapping[str, float]) -> ContentTarget:
        return cls(group, tuple((str(k), float(v)) for k, v in shares.items()))

    def __post_init__(self) -> None:
        total = sum(v for _, v in self.shares)
        if not self.shares or any(v < 0 for _, v in self.shares) or not total > 0:
            raise ValueError(f"content targets of {self.group!r} must be >= 0 with a positive sum")
        object.__setattr__(self, "shares", tuple((k, v / total) for k, v in self.shares))
        # the pool's per-policy caches are keyed on these: hash once, not at every step
        object.__setattr__(self, "_hash", hash((self.group, self.shares)))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CatPolicy:
    """The rules of one adaptive exam.

    selection            MAX_INFO, or CUT_INFO (information at the cut nearest theta)
    start                PRIOR_MEAN, or RANDOM_THETA in ``start_interval`` for
                         the first ``start_items`` items
    randomesque_k        choose among the k best items (1 = plain max)
    progressive_items    the progressive method (Revuelta & Ponsoda 1998) over the
                         first this many scored items: item j's information is
                         replaced by (1 - s) R_j max_i I_i + s I_j with R_j ~ U(0, 1)
                         drawn afresh at each step and s = n_scored / progressive_items
                         rising from 0 to 1 (then plain information). Spreads the
                         opening items over the whole pool and leaves the items most
                         informative at the cut to the candidates still undecided
                         later; content factors and Sympson-Hetter apply as usual
    randomesque_items    apply randomesque only to the first this many scored items
                         (None: to all). Spreads the opening items over the pool, so
                         the items most informative at the cut are left for the
                         candidates still undecided later in the test
    estimator            EAP (incremental, default), MAP or MLE (MLE falls back
                         to MAP on constant patterns)
    prior, grid          EAP/MAP prior and the quadrature grid (its range
                         bounds MAP and MLE too)
    cuts, band_names     cut scores on the theta scale and the band names
    primary_cut          one of ``cuts`` (an exam that decides the band: the
                         registered level's cut): CUT_INFO selects there while its
                         decision is open, then at the nearest still-open cut
                         (None: always the nearest cut)
    confidence           the CI rule's level (None: no CI rule)
    sprt                 optional SPRT against one cut
    min_length, max_length, se_target
    content_targets      MPI targets, one per constraint group of the pool
    exposure_target      r_max for Sympson-Hetter calibration (parameters are
                         passed to ``next_item`` separately)
    """

    selection: SelectionRule = SelectionRule.MAX_INFO
    start: StartRule = StartRule.PRIOR_MEAN
    start_interval: tuple[float, float] = (-1.0, 1.0)
    start_items: int = 1
    randomesque_k: int = 1
    progressive_items: int = 0
    randomesque_items: int | None = None
    estimator: EstimationMethod = EstimationMethod.EAP
    prior: NormalPrior = field(default_factory=NormalPrior)
    grid: ThetaGrid = DEFAULT_GRID
    cuts: tuple[float, ...] = ()
    band_names: tuple[str, ...] = ()
    primary_cut: float | None = None
    confidence: float | None = 0.95
    sprt: SprtRule | None = None
    min_length: int = 1
    max_length: int = 30
    se_target: float | None = None
    content_targets: tuple[ContentTarget, ...] = ()
    exposure_target: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cuts", tuple(float(c) for c in self.cuts))
        if self.randomesque_k < 1:
            raise ValueError(f"randomesque_k must be >= 1, got {self.randomesque_k}")
        if self.progressive_items < 0:
            raise ValueError(f"progressive_items must be >= 0, got {self.progressive_items}")
        if self.start_items < 0:
            raise ValueError(f"start_items must be >= 0, got {self.start_items}")
        lo, hi = self.start_interval
        if not lo <= hi:
            raise ValueError(f"start_interval must have lower <= upper, got {self.start_interval}")
        if self.selection is SelectionRule.CUT_INFO and not self.cuts:
            raise ValueError("selection CUT_INFO needs cut scores")
        if self.primary_cut is not None and float(self.primary_cut) not in self.cuts:
            raise ValueError(f"primary_cut {self.primary_cut!r} is not one of the cuts {self.cuts}")
        if self.exposure_target is not None and not 0 < self.exposure_target <= 1:
            raise ValueError(f"exposure_target must lie in (0, 1], got {self.exposure_target!r}")
        groups = [t.group for t in self.content_targets]
        if len(set(groups)) != len(groups):
            raise ValueError(f"content targets name a group twice: {groups}")
        # build (and so validate) the derived objects once
        object.__setattr__(self, "_cut_scores", CutScores(self.cuts, self.band_names) if self.cuts else None)
        object.__setattr__(self, "_stopping", StoppingRule(
            min_length=self.min_length,
            max_length=self.max_length,
            se_target=self.se_target,
            cut_scores=self._cut_scores,
            ci_confidence=self.confidence if self.cuts else None,
            sprt=self.sprt,
        ))

    @classmethod
    def fixed_length(cls, length: int, **kwargs: object) -> CatPolicy:
        """min = max = ``length``; no SE or CI stop (unless passed in kwargs)."""
        kwargs.setdefault("confidence", None)
        return cls(min_length=length, max_length=length, **kwargs)  # type: ignore[arg-type]

    @property
    def cut_scores(self) -> CutScores | None:
        return self._cut_scores  # type: ignore[attr-defined]

    @property
    def stopping(self) -> StoppingRule:
        return self._stopping  # type: ignore[attr-defined]


PASS_FAIL = ("未通过", "通过")


def blueprint_policy(bp: Blueprint, cuts: tuple[float, float, float], *, pool: ItemPool | None = None) -> CatPolicy:
    """The CatPolicy of a blueprint; ``cuts`` are the resolved 初级/中级/高级 thetas.

    Items are chosen for information at the registered level's cut while the pass/fail decision
    is open, content is balanced by the maximum priority index over two constraint groups (work
    domain and item type), the start is randomised, exposure is held by Sympson-Hetter (its
    parameters are passed to ``next_item`` apart), and the confidence-interval stop runs against
    that cut within the length bounds. The band (未达初级/初级/中级/高级) is reported with the
    three cuts.

    Content targets use the pool's "domain" and "type" groups; a lower-level share adds the
    area "lower-level" to the domain group. ``decide: pass_fail`` classifies against the
    registered level's cut only; ``decide: band`` against all three cuts (the CI rule stops
    when the interval lies within one band), choosing items at the registered cut while
    pass/fail is open, then at the nearest cut still open.
    """
    targets = [ContentTarget.of("domain", bp.content_weights()), ContentTarget.of("type", dict(bp.type_shares))]
    if pool is not None:
        names = {g.name for g in pool.content_groups}
        targets = [t for t in targets if t.group in names]
    registered = cuts[bp.rank - 1]
    band = bp.decide == "band"
    return CatPolicy(
        selection=SelectionRule.CUT_INFO,
        start=StartRule.RANDOM_THETA if bp.start_rule == "random_theta" else StartRule.PRIOR_MEAN,
        start_interval=bp.start_interval,
        start_items=1,
        randomesque_k=1,
        progressive_items=bp.progressive_items,
        cuts=tuple(cuts) if band else (registered,),
        band_names=LEVEL_BAND_NAMES if band else PASS_FAIL,
        primary_cut=registered if band else None,
        confidence=bp.confidence,
        min_length=bp.min_length,
        max_length=bp.max_length,
        se_target=None,
        content_targets=tuple(targets),
        exposure_target=bp.exposure_max_rate,
    )
