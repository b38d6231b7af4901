"""The result of an attempt: theta, SE, the band with its confidence, pass/fail of the
registered level, the 0-100 score, and per-domain diagnostic feedback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from examengine.exam.blueprint import Blueprint, report_score
from examengine.irt.classification import LEVEL_BAND_NAMES
from examengine.irt.models import probability
from examengine.irt.params import ItemParams

#: |z| at which a domain's observed score is called a strength or a weakness (two-sided 5 %).
FEEDBACK_Z = 1.96
#: fewer items than this in a domain: no statement at all.
FEEDBACK_MIN_ITEMS = 4


@dataclass(frozen=True)
class DomainFeedback:
    domain: str
    n_items: int
    n_correct: int
    expected_correct: float
    z: float | None
    verdict: str  # strength / weakness / consistent / insufficient
    statement: str


@dataclass(frozen=True)
class AttemptResult:
    """``complete`` False (an online attempt that ended short of the blueprint's minimum length,
    exam.attempts.is_complete): not passed, and no band, confidence or score; theta and SE stay
    for the record. ``band_stated``: the band's posterior mass reaches the blueprint's
    ``reporting.band_confidence``, so the band may be shown to the candidate."""

    theta: float
    se: float
    band: int | None  # 0 = 未达初级 ... 3 = 高级
    band_name: str | None
    band_confidence: float | None
    registered_level: str
    passed: bool
    pass_confidence: float | None
    score: float | None  # 0-100, the registered level's cut at pass_score
    domains: tuple[DomainFeedback, ...]
    complete: bool = True
    band_stated: bool = True


@dataclass(frozen=True)
class StoredResult(AttemptResult):
    """An online attempt's result as it is stored (the AttemptResult and the counts behind it),
    read back from its JSON column by ``services.mapping.stored_result``: results stored before a
    field existed get its default (``band_stated`` False: no band statement).

    ``provisional``: at least one scored item had provisional parameters when the result was
    computed (``exam.items.provisional_mark``), so staff see 暂定 and releasing it needs a
    confirmation; the candidate is not shown it. A result stored before the mark existed
    reads back as None, "unknown", not as False: the parameters it was scored on are no longer
    known (a calibration may have been applied since), and calling it final would be the very
    false all-clear the mark exists to prevent. ``exams rescore`` fills it in."""

    n_scored: int = 0  # scored answers
    n_unanswered_wrong: int = 0  # items shown but not answered, counted wrong (at or above the minimum)
    min_items: int | None = None  # the blueprint's minimum length
    n_pretest: int = 0
    provisional: bool | None = None  # None: stored before the mark existed (unknown)
    n_provisional: int = 0  # scored items with provisional parameters

    @classmethod
    def from_dict(cls, d: dict) -> StoredResult:
        def opt(key: str) -> float | None:
            return None if d.get(key) is None else float(d[key])

        band = d.get("band")
        return cls(
            theta=float(d["theta"]), se=float(d["se"]), band=None if band is None else int(band),
            band_name=d.get("band_name"), band_confidence=opt("band_confidence"),
            registered_level=d["registered_level"], passed=bool(d["passed"]),
            pass_confidence=opt("pass_confidence"), score=opt("score"),
            domains=tuple(DomainFeedback(x["domain"], int(x["n_items"]), int(x["n_correct"]),
                                         float(x["expected_correct"]), None if x.get("z") is None else float(x["z"]),
                                         x["verdict"], x["statement"]) for x in d.get("domains", ())),
            complete=bool(d.get("complete", True)), band_stated=bool(d.get("band_stated", False)),
            n_scored=int(d.get("n_scored", 0)), n_unanswered_wrong=int(d.get("n_unanswered_wrong", 0)),
            min_items=None if d.get("min_items") is None else int(d["min_items"]), n_pretest=int(d.get("n_pretest", 0)),
            provisional=None if d.get("provisional") is None else bool(d["provisional"]),
            n_provisional=int(d.get("n_provisional", 0)),
        )

    @property
    def provisional_label(self) -> str:
        """What staff are told: "" for a result on calibrated parameters."""
        if self.provisional is None:
            return "参数来源未记录"
        return "暂定" if self.provisional else ""



def band_probabilities(theta: float, se: float, cuts: Sequence[float]) -> np.ndarray:
    """Mass of N(theta, se^2) in each band (below the first cut ... above the last)."""
    edges = np.concatenate([[-np.inf], np.asarray(cuts, float), [np.inf]])
    cdf = ndtr((edges - theta) / max(se, 1e-12))
    return np.diff(cdf)


def domain_feedback(domain: str, scores: Sequence[int], params: ItemParams, theta: float) -> DomainFeedback:
    """Compare a domain's observed score with what the overall theta predicts:
    z = (observed - sum P_i(theta)) / sqrt(sum P_i (1 - P_i)). A statement is made only when
    there are at least FEEDBACK_MIN_ITEMS items and |z| >= FEEDBACK_Z."""
    n = len(scores)
    correct = int(sum(scores))
    if n == 0:
        return DomainFeedback(domain, 0, 0, 0.0, None, "insufficient", "本领域没有作答题目。")
    p = probability(np.array([theta]), params).reshape(-1)
    expected = float(p.sum())
    var = float((p * (1 - p)).sum())
    z = (correct - expected) / np.sqrt(var) if var > 0 else 0.0
    if n < FEEDBACK_MIN_ITEMS:
        return DomainFeedback(domain, n, correct, expected, float(z), "insufficient",
                              f"本领域仅作答 {n} 题，证据不足，不作判断。")
    if z >= FEEDBACK_Z:
        return DomainFeedback(domain, n, correct, expected, float(z), "strength",
                              f"答对 {correct}/{n} 题，明显高于按总体水平预期的 {expected:.1f} 题：相对优势。")
    if z <= -FEEDBACK_Z:
        return DomainFeedback(domain, n, correct, expected, float(z), "weakness",
                              f"答对 {correct}/{n} 题，明显低于按总体水平预期的 {expected:.1f} 题：相对薄弱，建议加强。")
    return DomainFeedback(domain, n, correct, expected, float(z), "consistent",
                          f"答对 {correct}/{n} 题，与总体水平一致。")


def attempt_result(
    bp: Blueprint,
    cuts: Sequence[float],
    theta: float,
    se: float,
    *,
    responses: Sequence[tuple[str, int, float, float, float]] = (),
    band_mass: Sequence[float] | None = None,
    complete: bool = True,
) -> AttemptResult:
    """``responses``: (domain, score, a, b, c) of each scored item. ``band_mass``: the posterior
    mass of each band when known (EAP grid), else the normal approximation N(theta, se^2).
    ``complete`` False: the evidence falls short of the blueprint's minimum, so the result is
    withheld (not passed; no band, confidence or score)."""
    mass = np.asarray(band_mass, float) if band_mass is not None else band_probabilities(theta, se, cuts)
    band = int(np.searchsorted(np.asarray(cuts, float), theta, side="right"))
    reg = bp.rank  # the registered level's band index (初级 = 1)
    passed = band >= reg
    pass_mass = float(mass[reg:].sum())
    by_domain: dict[str, list[tuple[int, float, float, float]]] = {}
    for domain, score, a, b, c in responses:
        by_domain.setdefault(domain, []).append((score, a, b, c))
    feedback = []
    for domain, _ in bp.domain_weights:
        rows = by_domain.get(domain, [])
        params = ItemParams.three_pl([r[1] for r in rows] or [1.0], [r[2] for r in rows] or [0.0],
                                     [r[3] for r in rows] or [0.0])
        feedback.append(domain_feedback(domain, [r[0] for r in rows], params, theta))
    if not complete:
        return AttemptResult(theta=float(theta), se=float(se), band=None, band_name=None, band_confidence=None,
                             registered_level=bp.registered_level_name, passed=False, pass_confidence=None,
                             score=None, domains=tuple(feedback), complete=False, band_stated=False)
    return AttemptResult(
        theta=float(theta), se=float(se), band=band, band_name=LEVEL_BAND_NAMES[band],
        band_confidence=float(mass[band]), registered_level=bp.registered_level_name, passed=bool(passed),
        pass_confidence=pass_mass if passed else 1.0 - pass_mass,
        score=float(report_score(theta, cuts[reg - 1], pass_score=bp.pass_score, theta_min=bp.theta_min,
                                 theta_max=bp.theta_max)),
        domains=tuple(feedback),
        band_stated=bool(mass[band] >= bp.band_report_confidence),
    )
