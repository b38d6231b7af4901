"""Stopping rules of a CAT, each reporting why it stopped.

Rules are checked in this order (the first that applies wins):

1. ``POOL_EXHAUSTED`` -- no item can be given any more (before anything else,
   so a bank smaller than the minimum length still ends);
2. below the minimum length -> continue;
3. ``MAX_LENGTH`` -- the maximum length is reached;
4. ``CLASSIFIED`` -- the confidence interval theta +- z SE lies wholly inside
   one band of the cut scores (several cuts on one scale);
5. ``SPRT`` -- the sequential probability ratio test against one cut decided;
6. ``SE_TARGET`` -- SE <= the target.

A fixed-length test is min = max = L (it stops with ``MAX_LENGTH``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .classification import CutScores, SprtRule, confidence_interval_band


class StopReason(Enum):
    NOT_STOPPED = "not_stopped"
    POOL_EXHAUSTED = "pool_exhausted"
    MAX_LENGTH = "max_length"
    CLASSIFIED = "classified"
    SPRT = "sprt"
    SE_TARGET = "se_target"


@dataclass(frozen=True)
class StoppingRule:
    """Lengths, SE target, CI classification and SPRT settings.

    ``cut_scores`` with ``ci_confidence`` turns the CI rule on; ``sprt``
    turns the SPRT on; ``se_target`` the SE rule.
    """

    min_length: int = 1
    max_length: int = 30
    se_target: float | None = None
    cut_scores: CutScores | None = None
    ci_confidence: float | None = None
    sprt: SprtRule | None = None

    def __post_init__(self) -> None:
        if self.min_length < 0:
            raise ValueError(f"min_length must be >= 0, got {self.min_length}")
        if self.max_length < max(self.min_length, 1):
            raise ValueError(
                f"max_length must be >= max(min_length, 1), got {self.max_length} < {self.min_length}")
        if self.se_target is not None and not self.se_target > 0:
            raise ValueError(f"se_target must be > 0, got {self.se_target!r}")
        if self.ci_confidence is not None:
            if self.cut_scores is None or not self.cut_scores.cuts:
                raise ValueError("the confidence-interval rule needs cut scores")
            if not 0 < self.ci_confidence < 1:
                raise ValueError(f"ci_confidence must lie in (0, 1), got {self.ci_confidence!r}")


@dataclass(frozen=True)
class StopDecision:
    stop: bool
    reason: StopReason


CONTINUE = StopDecision(False, StopReason.NOT_STOPPED)


def check_stop(
    rule: StoppingRule,
    *,
    n_administered: int,
    theta: float,
    se: float,
    any_item_available: bool,
    sprt_decision: int | None = None,
) -> StopDecision:
    """Apply the rules in the documented order.

    ``n_administered`` counts scored items; ``sprt_decision`` is
    :meth:`SprtRule.decide` of the current log-likelihoods (or None).
    """
    if not any_item_available:
        return StopDecision(True, StopReason.POOL_EXHAUSTED)
    if n_administered < rule.min_length:
        return CONTINUE
    if n_administered >= rule.max_length:
        return StopDecision(True, StopReason.MAX_LENGTH)
    if n_administered > 0:
        if rule.ci_confidence is not None and rule.cut_scores is not None:
            if confidence_interval_band(theta, se, rule.cut_scores, rule.ci_confidence) is not None:
                return StopDecision(True, StopReason.CLASSIFIED)
        if rule.sprt is not None and sprt_decision is not None:
            return StopDecision(True, StopReason.SPRT)
        if rule.se_target is not None and se <= rule.se_target:
            return StopDecision(True, StopReason.SE_TARGET)
    return CONTINUE
