"""Online and paper results of the same candidate, side by side (issue 21, point 5).

A centre runs the paper form and the online exam either as one exam (the candidate's attempt and
paper result share the roster entry) or as two exams (matched by 准考证号: ``online_exam_id``).
Each pair is compared by ``exam.reconciliation.compare``: the thetas against their two SEs
(z = 1.96), and the band and pass/fail. Flagged pairs come first."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from examengine.db.forms_models import Form, PaperResult
from examengine.db.models import Attempt, Candidate, Exam
from examengine.errors import NotFoundError
from examengine.exam.attempts import AttemptStatus
from examengine.exam.reconciliation import RECONCILE_Z, Sitting, compare
from examengine.services.mapping import stored_result


@dataclass(frozen=True)
class SideView:
    """One side of a pair: the result as staff see it. ``detail``: the paper form ("试卷 A") or
    the online attempt's status label."""

    theta: float
    se: float
    band_name: str | None
    passed: bool
    score: float | None
    provisional: bool | None
    complete: bool
    detail: str
    attempt_id: int | None = None  # online only


@dataclass(frozen=True)
class ReconciledRow:
    ticket: str
    name: str
    room: str
    online: SideView | None
    paper: SideView | None
    online_status: str  # the online attempt's status label, or 未参加在线考试
    difference: float | None = None  # theta_online - theta_paper
    se: float | None = None  # sqrt(SE_o^2 + SE_p^2)
    z: float | None = None
    limit: float | None = None  # z_crit * se
    theta_beyond: bool = False
    band_differs: bool | None = None
    pass_differs: bool | None = None
    flagged: bool = False
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reconciliation:
    exam_id: int
    exam_name: str
    online_exam_id: int
    online_exam_name: str
    z: float
    pairs: int
    flagged: int
    paper_only: int
    online_only: int
    rows: list[ReconciledRow]  # flagged pairs (largest |z| first), other pairs, then the unpaired, by ticket


NO_ATTEMPT = "未参加在线考试"


def _get_exam(db: Session, exam_id: int) -> Exam:
    exam = db.get(Exam, exam_id)
    if exam is None:
        raise NotFoundError("考试", str(exam_id))
    return exam


def reconcile(db: Session, exam_id: int, *, online_exam_id: int | None = None, z: float = RECONCILE_Z
              ) -> Reconciliation:
    """The paper results of ``exam_id`` against the online attempts of ``online_exam_id`` (default:
    the same exam), matched by 准考证号. Only closed, scored attempts (finished or incomplete)
    count as an online result; a voided or unfinished one is named in the row."""
    exam = _get_exam(db, exam_id)
    online_exam = exam if online_exam_id is None else _get_exam(db, online_exam_id)
    paper = {c.ticket: (c, p, code) for p, c, code in db.execute(
        select(PaperResult, Candidate, Form.code).join(Candidate, Candidate.id == PaperResult.candidate_id)
        .join(Form, Form.id == PaperResult.form_id).where(PaperResult.exam_id == exam.id))}
    online = {c.ticket: (c, a) for a, c in db.execute(
        select(Attempt, Candidate).join(Candidate, Candidate.id == Attempt.candidate_id)
        .where(Attempt.exam_id == online_exam.id))}
    rows: list[ReconciledRow] = []
    for ticket in sorted(set(paper) | set(online)):
        pc, pr, code = paper.get(ticket, (None, None, ""))
        oc, attempt = online.get(ticket, (None, None))
        cand = pc or oc
        status = AttemptStatus(attempt.status) if attempt is not None else None
        o_res = stored_result(attempt.result) if attempt is not None and status.scored else None
        if o_res is None and pr is None:
            continue  # an unfinished attempt of a candidate without a paper result: nothing to set side by side
        p_res = stored_result(pr.result) if pr is not None else None
        online_side = None if o_res is None else SideView(
            o_res.theta, o_res.se, o_res.band_name, o_res.passed, o_res.score, o_res.provisional, o_res.complete,
            status.label, attempt.id)
        paper_side = None if p_res is None else SideView(
            pr.theta, pr.se, p_res.band_name, p_res.passed, p_res.score, p_res.provisional, p_res.complete,
            f"试卷 {code}")
        base = dict(ticket=ticket, name=cand.name, room=cand.room or "", online=online_side, paper=paper_side,
                    online_status=status.label if status is not None else NO_ATTEMPT)
        notes = []
        if pc is not None and oc is not None and pc.id != oc.id and pc.name != oc.name:
            notes.append(f"两场考试名单上的姓名不同：纸笔 {pc.name}，在线 {oc.name}")
        if online_side is None or paper_side is None:
            rows.append(ReconciledRow(**base, notes=notes))
            continue
        c = compare(Sitting(o_res.theta, o_res.se, o_res.band_name, o_res.passed, o_res.registered_level,
                            o_res.complete),
                    Sitting(pr.theta, pr.se, p_res.band_name, p_res.passed, p_res.registered_level,
                            p_res.complete), z=z)
        rows.append(ReconciledRow(**base, difference=c.difference, se=c.se,
                                  z=c.z if math.isfinite(c.z) else None, limit=c.limit,
                                  theta_beyond=c.theta_beyond, band_differs=c.band_differs,
                                  pass_differs=c.pass_differs, flagged=c.flagged, reasons=list(c.reasons),
                                  notes=notes + list(c.notes)))

    def order(r: ReconciledRow) -> tuple:
        paired = r.online is not None and r.paper is not None
        return (not r.flagged, not paired, -abs(r.z) if r.flagged and r.z is not None else 0.0, r.ticket)

    rows.sort(key=order)
    pairs = sum(1 for r in rows if r.online is not None and r.paper is not None)
    return Reconciliation(exam.id, exam.name, online_exam.id, online_exam.name, z, pairs,
                          sum(1 for r in rows if r.flagged), sum(1 for r in rows if r.online is None),
                          sum(1 for r in rows if r.paper is None), rows)
