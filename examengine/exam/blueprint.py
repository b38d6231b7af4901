"""Blueprints: the content and policy spec of one level's exam (``530046-L2``), as pure data,
and the reporting scale.

A blueprint weights the level's work domains, sets the item-type mix, the length bounds,
the SE target, the classification confidence, the 初级/中级/高级 cut scores on the
standard's theta scale, the 0-100 reporting scale, the exposure target, the start rule,
the pretest slots and the time limit. ``datafiles.read_blueprint_file`` reads one from YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from examengine.irt.selection import StartRule

LEVEL_NAMES = ("初级", "中级", "高级")
LEVEL_RANK = {"L1": 1, "L2": 2, "L3": 3}


class Decision(str, Enum):
    """What the classification rule of the adaptive exam decides (``classification.decide``)."""

    PASS_FAIL = "pass_fail"  # the registered level passed or not (its cut only)
    BAND = "band"  # the band among all three cuts


#: the spellings a blueprint file may give for ``classification.decide``
DECISIONS = tuple(d.value for d in Decision)
#: the spellings a blueprint file may give for ``start.rule`` (the start rule is irt's ``StartRule``)
START_RULES = tuple(r.value for r in StartRule)
#: the content area of the items of lower levels (``lower_level_share``), beside the work domains
LOWER_LEVEL = "lower-level"


@dataclass(frozen=True)
class CutSpec:
    """A cut score as the blueprint gives it: a theta, or a percent correct on the reference
    set (the blueprint's operational pool), converted through the test characteristic curve."""

    level_name: str
    theta: float | None = None
    percent_correct: float | None = None


@dataclass(frozen=True)
class Blueprint:
    id: str  # 530046-L2
    standard: str
    level: str  # L1 / L2 / L3
    name: str
    domain_weights: tuple[tuple[str, float], ...]
    task_minimums: tuple[tuple[str, int], ...] = ()
    lower_level_share: float = 0.0
    type_shares: tuple[tuple[str, float], ...] = (("单选", 0.55), ("多选", 0.25), ("判断", 0.20))
    type_tolerance: float = 0.10
    min_length: int = 15
    max_length: int = 40
    se_target: float | None = 0.30
    confidence: float = 0.95
    decide: Decision = Decision.PASS_FAIL  # what the CI rule decides: the registered cut, or the band (all three)
    cuts: tuple[CutSpec, ...] = ()
    pass_score: float = 60.0
    # a band is shown to the candidate only when its posterior mass reaches this (reporting.band_confidence)
    band_report_confidence: float = 0.90
    theta_min: float = -3.0
    theta_max: float = 3.0
    exposure_max_rate: float = 0.25
    # the progressive method over the first this many items (0: off); see exam.policy.CatPolicy
    progressive_items: int = 0
    start_rule: StartRule = StartRule.RANDOM_THETA
    start_interval: tuple[float, float] = (-0.5, 0.5)
    pretest_count: int = 0
    pretest_positions: tuple[int, ...] = ()
    time_limit_minutes: int = 60
    source: dict = field(default_factory=dict, compare=False, hash=False)  # the YAML as read

    def __post_init__(self) -> None:
        # a spelling ("band", "prior_mean") given by a caller becomes the Enum, so readers may use .value
        object.__setattr__(self, "decide", Decision(self.decide))
        object.__setattr__(self, "start_rule", StartRule(self.start_rule))

    @property
    def rank(self) -> int:
        return LEVEL_RANK[self.level]

    @property
    def registered_level_name(self) -> str:
        return LEVEL_NAMES[self.rank - 1]

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.domain_weights)

    def domain_counts(self, length: int) -> dict[str, int]:
        """Items per domain for a test of ``length`` items: largest-remainder rounding of
        weight x length (Hamilton), so the counts sum to ``length``."""
        return largest_remainder(dict(self.domain_weights), length)

    def content_weights(self) -> dict[str, float]:
        """The target share of each content area of the domain group, the one rule the adaptive
        policy, the paper forms and the bank checks share: each domain's weight, scaled by
        1 - lower_level_share when that is > 0, and then the area "lower-level" with
        lower_level_share (weights that sum to 1 give shares that sum to 1)."""
        weights = dict(self.domain_weights)
        if self.lower_level_share > 0:
            weights = ({k: v * (1 - self.lower_level_share) for k, v in weights.items()}
                       | {LOWER_LEVEL: self.lower_level_share})
        return weights

    def content_counts(self, length: int) -> dict[str, int]:
        """Items per content area (``content_weights``) for a test of ``length`` items
        (largest remainder, so the counts sum to ``length``)."""
        return largest_remainder(self.content_weights(), length)

    def type_counts(self, length: int) -> dict[str, int]:
        return largest_remainder(dict(self.type_shares), length)


def largest_remainder(shares: dict[str, float], n: int) -> dict[str, int]:
    total = sum(shares.values())
    exact = {k: v / total * n for k, v in shares.items()}
    counts = {k: int(np.floor(x)) for k, x in exact.items()}
    rest = n - sum(counts.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - counts[k]), k))[:rest]:
        counts[k] += 1
    return counts


def report_score(theta: float | np.ndarray, cut: float, *, pass_score: float = 60.0, theta_min: float = -3.0,
                 theta_max: float = 3.0) -> float | np.ndarray:
    """The 0-100 reporting scale: piecewise linear in theta, ``pass_score`` exactly at the
    registered level's cut, 0 at ``theta_min``, 100 at ``theta_max``, clipped; monotone.

        s(theta) = pass * (theta - theta_min) / (cut - theta_min)                 theta <  cut
        s(theta) = pass + (100 - pass) * (theta - cut) / (theta_max - cut)        theta >= cut
    """
    t = np.asarray(theta, dtype=float)
    below = pass_score * (t - theta_min) / (cut - theta_min)
    above = pass_score + (100.0 - pass_score) * (t - cut) / (theta_max - cut)
    s = np.clip(np.where(t < cut, below, above), 0.0, 100.0)
    return float(s) if np.ndim(s) == 0 else s
