"""Which candidate sits which paper form: an exam's roster assigned to the forms of an assembly
(or a list of forms) by seat, by room or by the roster's 试卷 column (``exam.forms.assign_codes``),
stored on the candidate (``candidates.form_id``) and audited.

What an assignment decides elsewhere (``services.forms``): a roster print of a form's answer
sheets holds only the candidates assigned to that form, so a sheet of form B is never printed
for a candidate on form A; and paper answers on another form than the candidate's are refused.

Re-assigning is refused for a candidate whose paper answers were scored on another form than
the new one (their result would no longer match their form): the message names them. A
candidate whose sheet was already printed may be moved (a sheet can be reprinted), and the report
warns which forms' sheets to print again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from examengine.db.forms_models import Form, FormAssembly, FormUse, PaperResult
from examengine.db.models import BlueprintVersion, Candidate, Exam
from examengine.errors import (
    ConflictError,
    DataFileError,
    ExamEngineError,
    NotFoundError,
    Problem,
)
from examengine.exam.forms import (
    ASSIGN_RULE_LABELS,
    AssignRule,
    RosterSeat,
    assign_codes,
    seat_order,
)
from examengine.services import audit

#: Candidates named at most in one message (the rest are counted).
NAMED = 10
#: The rules as a page offers them: (value, label).
RULES = [(r.value, ASSIGN_RULE_LABELS[r]) for r in AssignRule]


@dataclass(frozen=True)
class AssignedCandidate:
    """A roster entry and its form (None: not assigned)."""

    ticket: str
    name: str
    room: str
    seat: str
    form: str | None  # the form's code
    form_id: int | None
    roster_form: str = ""  # the roster's 试卷 column ("" without one)


@dataclass(frozen=True)
class AssignmentReport:
    exam_id: int
    rule: str  # an AssignRule value
    rule_label: str  # the rule in words (按座位交替)
    forms: dict[str, int]  # code -> form id
    counts: dict[str, int]  # code -> candidates assigned to it
    changed: int  # candidates whose form changed (a first assignment counts)
    warnings: list[str] = field(default_factory=list)
    candidates: list[AssignedCandidate] = field(default_factory=list)


def _named(tickets: list[str]) -> str:
    more = f" 等 {len(tickets)} 名" if len(tickets) > NAMED else ""
    return "、".join(tickets[:NAMED]) + more


def parse_rule(rule: str) -> AssignRule:
    try:
        return AssignRule(rule)
    except ValueError:
        raise DataFileError([Problem("", "", "by", f"分配方式应为 {'、'.join(r.value for r in AssignRule)} 之一"
                                                   f"（{'、'.join(ASSIGN_RULE_LABELS.values())}），实际为“{rule}”")]) from None


def _forms(db: Session, exam: Exam, assembly_id: int | None, form_ids: list[int] | None) -> list[Form]:
    """The forms to assign, by code, all of the exam's blueprint (as printing requires)."""
    if (assembly_id is None) == (not form_ids):
        raise ExamEngineError("请指定组卷编号或试卷编号之一")
    if assembly_id is not None:
        asm = db.get(FormAssembly, assembly_id)
        if asm is None:
            raise NotFoundError("组卷", str(assembly_id))
        forms = sorted(asm.forms, key=lambda f: f.code)
    else:
        forms = []
        for fid in dict.fromkeys(form_ids):
            f = db.get(Form, fid)
            if f is None:
                raise NotFoundError("试卷", str(fid))
            forms.append(f)
    codes = Counter(f.code for f in forms)
    twice = [c for c, n in codes.items() if n > 1]
    if twice:
        raise ConflictError(f"所选试卷中代码 {'、'.join(twice)} 重复（来自不同组卷），考生无法按代码区分，请选同一组卷的试卷")
    code = exam.blueprint_version.code
    other = [f for f in forms if db.get(BlueprintVersion, f.blueprint_version_id).code != code]
    if other:
        raise ConflictError(f"考试 {exam.id} 的蓝图是 {code}，试卷 {other[0].code}（编号 {other[0].id}）的蓝图是 "
                            f"{db.get(BlueprintVersion, other[0].blueprint_version_id).code}")
    return forms


@dataclass(frozen=True)
class AssemblyChoice:
    """An assembly an exam's candidates may be assigned to: of the exam's blueprint."""

    id: int
    blueprint_version: int
    codes: str  # its forms' codes: "A、B"


def assembly_choices(db: Session, exam_id: int) -> list[AssemblyChoice]:
    """The assemblies of the exam's blueprint (any version), newest first."""
    exam = _exam(db, exam_id)
    rows = db.scalars(select(FormAssembly).join(BlueprintVersion, BlueprintVersion.id == FormAssembly.blueprint_version_id)
                      .where(BlueprintVersion.code == exam.blueprint_version.code).order_by(FormAssembly.id.desc()))
    return [AssemblyChoice(a.id, db.get(BlueprintVersion, a.blueprint_version_id).version,
                           "、".join(f.code for f in a.forms)) for a in rows]


def _exam(db: Session, exam_id: int) -> Exam:
    exam = db.get(Exam, exam_id)
    if exam is None:
        raise NotFoundError("考试", str(exam_id))
    return exam


def _view(c: Candidate, codes: dict[int, str]) -> AssignedCandidate:
    return AssignedCandidate(c.ticket, c.name, c.room, c.seat, codes.get(c.form_id) if c.form_id else None, c.form_id,
                             c.roster_form or "")


def _by_seat(candidates: list[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: seat_order(c.room, c.seat, c.ticket))


def roster_forms(db: Session, exam_id: int) -> list[AssignedCandidate]:
    """The exam's roster with each candidate's form, by room and seat."""
    exam = _exam(db, exam_id)
    ids = {c.form_id for c in exam.candidates if c.form_id}
    codes = {f.id: f.code for f in db.scalars(select(Form).where(Form.id.in_(ids)))} if ids else {}
    return [_view(c, codes) for c in _by_seat(list(exam.candidates))]


def _fill_unassigned(candidates: list[Candidate], codes: list[str], forms: list[str], how: AssignRule) -> list[str]:
    """``codes`` (one per candidate, in seat order) with each assigned candidate's own form and a
    form for each unassigned one that fits the rule around the forms already held."""
    out = [c.form.code if c.form_id is not None else code for c, code in zip(candidates, codes)]
    if how is AssignRule.COLUMN:
        return out
    used = Counter(code for c, code in zip(candidates, out) if c.form_id is not None)
    for k, c in enumerate(candidates):
        if c.form_id is not None:
            continue
        if how is AssignRule.ROOM:
            room = Counter(out[j] for j, o in enumerate(candidates)  # a kept form of another assembly's
                           if o.room == c.room and o.form_id is not None and out[j] in forms)  # codes can't be given
            choice = room.most_common(1)[0][0] if room else codes[k]
        else:
            near = {out[j] for j in (k - 1, k + 1) if 0 <= j < len(candidates) and candidates[j].room == c.room
                    and (candidates[j].form_id is not None or j < k)}
            free = [f for f in forms if f not in near] or forms
            choice = min(free, key=lambda f: (used[f], forms.index(f)))
        out[k] = choice
        used[choice] += 1
    return out


def assign(db: Session, exam_id: int, *, rule: str, actor: str, assembly_id: int | None = None,
           form_ids: list[int] | None = None, only_unassigned: bool = False) -> AssignmentReport:
    """Assign every candidate of the exam a form of ``assembly_id`` (or of ``form_ids``) by
    ``rule`` (seat, room or column: ``exam.forms.assign_codes``). With the column rule, a
    candidate whose 试卷 is blank or not one of the forms is a DataFileError naming the ticket
    and the column; a candidate scored on another form than the new one is a ConflictError
    naming them; nothing is written then. Audited (``exam.form_assign``: the rule, the forms,
    each changed candidate's old and new form).

    ``only_unassigned`` (candidates added to the roster after forms were assigned, or printed):
    everyone already assigned keeps their form, and only the others are given one, so nobody's
    printed sheet goes stale. By seat, a newcomer takes a form neither seat neighbour in the
    room has (the least used such form); by room, the form most of the room already sits."""
    how = parse_rule(rule)
    exam = _exam(db, exam_id)
    forms = _forms(db, exam, assembly_id, form_ids)
    candidates = _by_seat(list(exam.candidates))
    if not candidates:
        raise ConflictError(f"考试 {exam.id} 的名单为空：请先导入考生名单")
    by_code = {f.code: f for f in forms}
    codes = assign_codes([RosterSeat(c.ticket, c.room, c.seat, c.roster_form or "") for c in candidates],
                         list(by_code), how)
    if only_unassigned:
        codes = _fill_unassigned(candidates, codes, list(by_code), how)
    if how is AssignRule.COLUMN:
        problems = []
        for c, code in sorted(zip(candidates, codes), key=lambda pair: pair[0].ticket):  # in roster (ticket) order
            if only_unassigned and c.form_id is not None:
                continue
            if code not in by_code:
                what = f"“{code}”不是所选试卷（{'、'.join(by_code)}）之一" if code else "为空"
                problems.append(Problem("名单", f"准考证号 {c.ticket}", "试卷", f"试卷代码{what}：请在名单的“试卷”列填写并重新导入"))
        if problems:
            raise DataFileError(problems)
    kept = {c.id: c.form for c in candidates if only_unassigned and c.form_id is not None}
    new = {c.id: kept.get(c.id) or by_code[code] for c, code in zip(candidates, codes)}
    scored = {p.candidate_id: p.form_id for p in db.scalars(select(PaperResult).where(PaperResult.exam_id == exam.id))}
    clash = [c.ticket for c in candidates if c.id in scored and scored[c.id] != new[c.id].id]
    if clash:
        raise ConflictError(f"考试 {exam.id} 有 {len(clash)} 名考生已按另一套试卷评过纸笔成绩，不能改分配："
                            f"{_named(clash)}。请改用不改变他们试卷的分配方式，或按名单“试卷”列分配")
    known = {c.form_id for c in candidates if c.form_id} - {f.id for f in forms}
    old_codes = {f.id: f.code for f in db.scalars(select(Form).where(Form.id.in_(known)))} if known else {}
    old_codes |= {f.id: f.code for f in forms} | {f.id: f.code for f in kept.values()}
    changed = [(c.ticket, old_codes.get(c.form_id) if c.form_id else None, new[c.id].code)
               for c in candidates if c.form_id != new[c.id].id]
    printed = sorted({code for f_id, code in db.execute(
        select(FormUse.form_id, Form.code).join(Form, Form.id == FormUse.form_id)
        .where(FormUse.exam_id == exam.id, Form.printed_at.is_not(None))).all()})
    warnings = []
    moved = [t for t, old, _ in changed if old is not None]
    if moved and printed:
        redo = sorted({old for _, old, _ in changed if old} | {code for _, old, code in changed if old})
        warnings.append(f"{len(moved)} 名考生换了试卷（{_named(moved)}）；本场考试已打印或使用过试卷 {'、'.join(printed)}："
                        f"请重新打印试卷 {'、'.join(redo)} 的答题卡，并收回旧的答题卡")
    before = Counter(old_codes.get(c.form_id, "?") for c in candidates if c.form_id)
    for c in candidates:
        c.form_id = new[c.id].id
    counts = dict(sorted(Counter(new[c.id].code for c in candidates).items()))
    audit.record(db, actor=actor, action="exam.form_assign", target=f"exam {exam.id}",
                 before={"counts": dict(sorted(before.items()))},
                 after={"rule": how.value, "only_unassigned": only_unassigned, "assembly": assembly_id,
                        "forms": {f.code: f.id for f in forms},
                        "counts": counts, "changed": [list(x) for x in changed]})
    db.commit()
    codes_by_id = {f.id: f.code for f in forms} | {f.id: f.code for f in kept.values()}
    return AssignmentReport(exam.id, how.value, ASSIGN_RULE_LABELS[how], {f.code: f.id for f in forms}, counts, len(changed), warnings,
                            [_view(c, codes_by_id) for c in candidates])
