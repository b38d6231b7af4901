"""Linear-on-the-fly (LOFT) exams: each attempt gets its own form, drawn from the blueprint's
operational pool when the candidate starts, then delivered as a linear form (services.linear).

The draw (``exam.forms.loft_form`` over ``irt.loft.assemble_loft``) meets the blueprint exactly
as a paper form does: each work domain's count (``domain_targets``), the item-type mix within
its tolerance (``type_bounds``), no two items of an enemy group; it favours items informative
at the attempt's cut scores and pushes back items this exam has already given more often than
the uniform rate, so forms differ between candidates and exposure spreads.

The length of a LOFT form is the blueprint's ``max_length``: a fixed form cannot stop early
when the candidate is clearly above or below a cut, so it needs the longest test the blueprint
allows to come near the adaptive exam's precision at the cuts, and the blueprint's time limit
is set for that length (plus the pretest slots). It needs no new column: an exam of another
length is an exam of a blueprint version with another ``length.max``.

Deterministic given the attempt: the generator is seeded from the attempt's seed (its own
stream, [seed, 0, 2], beside the pretest draws' [seed, position, 1]) and the exposure counts
read in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from examengine.db.models import Attempt, AttemptItem
from examengine.errors import DataFileError, Problem
from examengine.exam.blueprint import Blueprint
from examengine.exam.forms import LoftDraw, loft_form
from examengine.exam.pool import ItemPool
from examengine.irt.assembly import InfeasibleAssemblyError
from examengine.services.mapping import blueprint_by_id, load_pool

#: the generator stream of an attempt's LOFT draw: default_rng([attempt.seed, *LOFT_STREAM])
LOFT_STREAM = (0, 2)


@dataclass(frozen=True)
class LoftItem:
    """One operational item of an attempt's LOFT form, in delivery order."""

    item_version_id: int
    external_id: str


@dataclass(frozen=True)
class ExamExposure:
    """How often this exam's attempts so far were given each item: ``counts`` per external id,
    and ``administered`` the number of LOFT forms they come from."""

    counts: dict[str, int]
    administered: int


def loft_length(bp: Blueprint) -> int:
    """The number of operational items of a LOFT form of ``bp`` (see the module docstring)."""
    return bp.max_length


def exam_exposure(db: Session, exam_id: int, length: int) -> ExamExposure:
    """One query: the scored items of every attempt of the exam, counted per item. Every LOFT
    attempt holds ``length`` scored items, so the forms administered are the total / length."""
    rows = db.execute(select(AttemptItem.external_id, func.count()).join(Attempt, Attempt.id == AttemptItem.attempt_id)
                      .where(Attempt.exam_id == exam_id, AttemptItem.scored.is_(True))
                      .group_by(AttemptItem.external_id)).all()
    counts = {str(i): int(n) for i, n in rows}
    return ExamExposure(counts, int(round(sum(counts.values()) / max(length, 1))))


def _draw(bp: Blueprint, pool: ItemPool, cuts: list[float], exposure: ExamExposure, rng: np.random.Generator
          ) -> LoftDraw:
    counts = np.array([exposure.counts.get(i, 0) for i in pool.item_ids], float)
    try:
        return loft_form(bp, pool, cuts, length=loft_length(bp), counts=counts, administered=exposure.administered,
                         rng=rng)
    except InfeasibleAssemblyError as exc:
        raise DataFileError([Problem(bp.id, s.constraint, s.area or s.group, s.message)
                             for s in exc.shortfalls]) from None


def loft_items(db: Session, attempt: Attempt) -> list[LoftItem]:
    """The operational items of ``attempt``'s LOFT form, in delivery order (by type, then easy
    to hard, as a paper form is printed): drawn from its blueprint version's cached pool, at its
    cut scores, with the exam's exposure so far, seeded by the attempt. The pretest slots are
    filled by the caller (services.linear.with_pretest)."""
    _, bp = blueprint_by_id(db, attempt.blueprint_version_id)
    bpool = load_pool(db, bp)
    exposure = exam_exposure(db, attempt.exam_id, loft_length(bp))
    draw = _draw(bp, bpool.pool, [float(c) for c in attempt.cuts], exposure,
                 np.random.default_rng([int(attempt.seed), *LOFT_STREAM]))
    return [LoftItem(bpool.version_ids[p], bpool.pool.item_ids[p]) for p in draw.order]


def check_loft(db: Session, bp: Blueprint, cuts: list[float]) -> LoftDraw:
    """Draw one LOFT form of ``bp`` with no exposure yet, to refuse an exam whose blueprint no
    pool can serve (a DataFileError naming each shortfall) when it is created rather than at
    every candidate's start."""
    bpool = load_pool(db, bp)
    return _draw(bp, bpool.pool, cuts, ExamExposure({}, 0), np.random.default_rng(0))
