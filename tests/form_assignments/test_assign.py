"""Forms are assigned to an exam's roster by seat, room or the roster's 试卷 column; each
candidate's answer sheet is printed from their form only (never a sheet of form B for a
candidate on form A); paper answers on another form are refused; re-assigning a candidate
scored on another form is refused; every assignment is audited."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter

import pytest
from sqlalchemy import func, select

from examengine.db.forms_models import PaperResult
from examengine.db.models import AuditEvent, Candidate, Exam
from examengine.errors import ConflictError, DataFileError
from examengine.services import exams
from examengine.services import form_assignments as svc
from examengine.services import forms as forms_svc


def forms_of(db, exam_id: int) -> dict[str, str]:
    """ticket -> the code of the candidate's stored form ("" when unassigned)."""
    db.expire_all()
    return {c.ticket: (c.form.code if c.form else "") for c in db.get(Exam, exam_id).candidates}


def seat_order(db, exam_id: int) -> list[tuple[str, str, str]]:
    """(room, seat, ticket) of each candidate, by room then seat as numbers (a blank seat last)."""
    cands = db.get(Exam, exam_id).candidates
    key = {"第1考场": 1, "第2考场": 2, "第10考场": 10}
    return sorted(((c.room, c.seat, c.ticket) for c in cands),
                  key=lambda r: (key[r[0]], r[1] == "", int(r[1]) if r[1] else 0))


def test_by_seat_neighbours_in_a_room_sit_different_forms_and_the_totals_differ_by_at_most_one(
        bank_db, l1_pair, seated_exam):
    r = svc.assign(bank_db, seated_exam, rule="seat", actor="proctor1", assembly_id=l1_pair.id)
    got = forms_of(bank_db, seated_exam)
    order = seat_order(bank_db, seated_exam)
    rooms: dict[str, list[str]] = {}
    for room, _, ticket in order:
        rooms.setdefault(room, []).append(got[ticket])
    for room, codes in rooms.items():
        assert all(a != b for a, b in zip(codes, codes[1:])), (room, codes)
    # the count carries on from room to room: seats 1,2,3,9,10 of room 1 are A B A B A, room 2 goes on with B
    assert [got[t] for _, _, t in order] == ["A", "B", "A", "B", "A", "B", "A", "B", "A"]
    assert r.counts == {"A": 5, "B": 4} and r.changed == 9 and r.rule_label == "按座位交替"
    assert {c.ticket: c.form for c in r.candidates} == got
    event = bank_db.scalars(select(AuditEvent).where(AuditEvent.action == "exam.form_assign")).one()
    assert event.actor == "proctor1" and event.target == f"exam {seated_exam}"
    assert event.after["rule"] == "seat" and event.after["counts"] == {"A": 5, "B": 4}
    assert sorted(t for t, old, new in event.after["changed"]) == sorted(got)


def test_by_room_each_room_takes_the_next_form(bank_db, l1_pair, seated_exam):
    svc.assign(bank_db, seated_exam, rule="room", actor="t", assembly_id=l1_pair.id)
    got = forms_of(bank_db, seated_exam)
    by_room = {room: {got[t] for r, _, t in seat_order(bank_db, seated_exam) if r == room}
               for room in ("第1考场", "第2考场", "第10考场")}
    assert by_room == {"第1考场": {"A"}, "第2考场": {"B"}, "第10考场": {"A"}}  # 10 after 2


def test_by_column_each_candidate_sits_the_form_the_roster_names(bank_db, l1_pair, seated_exam):
    r = svc.assign(bank_db, seated_exam, rule="column", actor="t", assembly_id=l1_pair.id)
    assert forms_of(bank_db, seated_exam) == {"T01": "A", "T02": "B", "T03": "A", "T04": "B", "T05": "A",
                                              "T06": "B", "T07": "A", "T08": "B", "T09": "A"}
    assert r.counts == {"A": 5, "B": 4}


def test_a_roster_code_that_is_no_form_code_is_named_by_row_and_column_at_import(bank_db, seated_exam):
    bad = "准考证号,姓名,试卷\nT20,新一,A\nT21,新二,Z\nT22,新三,b\n"
    with pytest.raises(DataFileError) as caught:
        exams.import_roster(bank_db, seated_exam, "名单.csv", bad.encode(), actor="t")
    assert [(p.location, p.field) for p in caught.value.problems] == [("第 3 行", "试卷")]
    assert "“Z”" in caught.value.problems[0].message
    assert bank_db.scalar(select(func.count()).select_from(Candidate).where(Candidate.ticket == "T20")) == 0


def test_by_column_a_code_the_assembly_lacks_or_a_blank_is_named_and_nothing_is_assigned(bank_db, l1_pair, seated_exam):
    exams.import_roster(bank_db, seated_exam, "名单.csv", "准考证号,姓名,试卷\nT01,甲一,C\nT02,甲二,\n".encode(),
                        actor="t")
    with pytest.raises(DataFileError) as caught:
        svc.assign(bank_db, seated_exam, rule="column", actor="t", assembly_id=l1_pair.id)
    assert [(p.location, p.field) for p in caught.value.problems] == [("准考证号 T01", "试卷"), ("准考证号 T02", "试卷")]
    assert "“C”不是所选试卷（A、B）之一" in caught.value.problems[0].message and "为空" in caught.value.problems[1].message
    assert set(forms_of(bank_db, seated_exam).values()) == {""}
    assert bank_db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "exam.form_assign")) == 0


def test_an_unknown_rule_and_a_form_of_another_blueprint_are_refused(bank_db, l1_pair, seated_exam):
    with pytest.raises(DataFileError) as caught:
        svc.assign(bank_db, seated_exam, rule="desk", actor="t", assembly_id=l1_pair.id)
    assert caught.value.problems[0].field == "by" and "“desk”" in caught.value.problems[0].message
    l2 = forms_svc.assemble(bank_db, blueprint="530046-L2", n_forms=1, length=20, actor="t", seed=1)
    with pytest.raises(ConflictError, match="蓝图是 530046-L1"):
        svc.assign(bank_db, seated_exam, rule="seat", actor="t", assembly_id=l2.id)


def sheet_tickets(db, form_id: int, exam_id: int) -> list[str]:
    """The tickets a roster print of the form's sheets is for, read from each sheet's QR code text."""
    ctx = forms_svc.print_context(db, form_id, exam_id=exam_id)
    tickets = []
    for sheet in ctx["sheets"]:
        fields = dict(part.split("=", 1) for part in sheet["qr"].split(";")[1:])
        assert fields["form"] == str(form_id)
        tickets.append(fields["ticket"])
        assert sheet["ticket"] == fields["ticket"]
    return tickets


def test_a_form_prints_sheets_only_for_the_candidates_on_it(bank_db, l1_pair, seated_exam):
    a, b = l1_pair.forms
    svc.assign(bank_db, seated_exam, rule="seat", actor="t", assembly_id=l1_pair.id)
    got = forms_of(bank_db, seated_exam)
    on_a = sorted(t for t, code in got.items() if code == "A")
    on_b = sorted(t for t, code in got.items() if code == "B")
    assert sorted(sheet_tickets(bank_db, a.id, seated_exam)) == on_a
    assert sorted(sheet_tickets(bank_db, b.id, seated_exam)) == on_b  # never a sheet of B for a candidate on A
    printed = forms_svc.print_form(bank_db, b.id, booklet=False, key=False, exam_id=seated_exam, actor="t")
    assert printed.n_sheets == len(on_b)
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-", "-"], input=printed.sheets, capture_output=True, check=True).stdout.decode()
        assert set(re.findall(r"T0\d", text)) == set(on_b)


def test_sheets_print_room_by_room_in_seat_order(bank_db, l1_pair, seated_exam):
    """Noted at #21: sheets printed in ticket order, so a proctor had to sort each room's pile.
    Now a room's sheets come out together, seats as numbers (2 before 10), no seat last."""
    a, b = l1_pair.forms
    expected = [t for _, _, t in seat_order(bank_db, seated_exam)]
    assert sheet_tickets(bank_db, a.id, seated_exam) == expected  # one form for all: every candidate
    assert expected == ["T02", "T04", "T01", "T05", "T03", "T07", "T06", "T08", "T09"]
    svc.assign(bank_db, seated_exam, rule="seat", actor="t", assembly_id=l1_pair.id)
    on_b = set(sheet_tickets(bank_db, b.id, seated_exam))
    assert sheet_tickets(bank_db, b.id, seated_exam) == [t for t in expected if t in on_b]


def test_an_exam_without_assignments_prints_every_candidate_and_assigns_them_to_that_form(bank_db, l1_pair, seated_exam):
    a, b = l1_pair.forms
    tickets = sorted(forms_of(bank_db, seated_exam))
    assert sorted(sheet_tickets(bank_db, a.id, seated_exam)) == tickets  # everyone, as before assignments existed
    forms_svc.print_form(bank_db, a.id, booklet=False, key=False, exam_id=seated_exam, actor="proctor1")
    assert set(forms_of(bank_db, seated_exam).values()) == {"A"}
    event = bank_db.scalars(select(AuditEvent).where(AuditEvent.action == "exam.form_assign")).one()
    assert (event.actor, event.after["rule"], event.after["counts"]) == ("proctor1", "print", {"A": 9})
    # the same roster on form B would give everyone a second sheet: refused, with the way out
    with pytest.raises(ConflictError, match="没有考生分配到试卷 B.*forms assign"):
        forms_svc.print_form(bank_db, b.id, booklet=False, key=False, exam_id=seated_exam, actor="t")
    # a key or a booklet for the exam is no roster print: allowed
    assert forms_svc.print_form(bank_db, b.id, booklet=False, sheets=False, exam_id=seated_exam, actor="t").key
    # a candidate added later joins the one form the exam uses
    exams.import_roster(bank_db, seated_exam, "名单.csv", "准考证号,姓名\nT30,新人\n".encode(), actor="t")
    assert "T30" in sheet_tickets(bank_db, a.id, seated_exam)


def test_a_candidate_added_after_forms_were_split_must_be_assigned_before_printing(bank_db, l1_pair, seated_exam):
    a, _ = l1_pair.forms
    svc.assign(bank_db, seated_exam, rule="seat", actor="t", assembly_id=l1_pair.id)
    exams.import_roster(bank_db, seated_exam, "名单.csv", "准考证号,姓名\nT30,新人\n".encode(), actor="t")
    with pytest.raises(ConflictError, match="1 名尚未分配（T30）"):
        forms_svc.print_form(bank_db, a.id, booklet=False, key=False, exam_id=seated_exam, actor="t")


def test_late_candidates_are_assigned_alone_and_nobody_already_assigned_moves(bank_db, l1_pair, seated_exam):
    """Noted at #21: a candidate added after the split could only be assigned by assigning the
    whole roster again, which may move others whose sheets are printed."""
    a, b = l1_pair.forms
    svc.assign(bank_db, seated_exam, rule="seat", actor="t", assembly_id=l1_pair.id)
    forms_svc.print_form(bank_db, a.id, booklet=False, key=False, exam_id=seated_exam, actor="t")
    before = forms_of(bank_db, seated_exam)
    late = "准考证号,姓名,考场,座位号,试卷\nT30,新一,第1考场,11,\nT31,新二,第2考场,,\nT32,新三,第10考场,2,\n"
    exams.import_roster(bank_db, seated_exam, "补录.csv", late.encode(), actor="t")
    r = svc.assign(bank_db, seated_exam, rule="seat", actor="proctor1", assembly_id=l1_pair.id, only_unassigned=True)
    after = forms_of(bank_db, seated_exam)
    assert {t: after[t] for t in before} == before and r.warnings == [] and r.changed == 3
    assert after["T30"] != after["T03"]  # seat 11 sits beside seat 10 (T03)
    assert after["T31"] != after["T08"]  # no seat: after T08, the room's last
    assert after["T32"] != after["T09"]  # seat 2 beside seat 1 (T09)
    assert sum(r.counts.values()) == 12 and abs(r.counts["A"] - r.counts["B"]) <= 1
    event = bank_db.scalars(select(AuditEvent).where(AuditEvent.action == "exam.form_assign")
                            .order_by(AuditEvent.id.desc())).first()
    assert event.after["only_unassigned"] is True
    assert sorted(x[0] for x in event.after["changed"]) == ["T30", "T31", "T32"]
    assert all(old is None for _, old, _ in event.after["changed"])
    on_a = sorted(t for t, code in after.items() if code == "A")
    assert sorted(sheet_tickets(bank_db, a.id, seated_exam)) == on_a  # printing works again
    # by room: a newcomer joins the form their room already sits; nothing left to do is no change
    svc.assign(bank_db, seated_exam, rule="room", actor="t", assembly_id=l1_pair.id)
    by_room = forms_of(bank_db, seated_exam)
    assert by_room["T09"] == by_room["T32"] != by_room["T07"]  # 第10考场 sits one form, 第2考场 the other
    exams.import_roster(bank_db, seated_exam, "补录2.csv", "准考证号,姓名,考场\nT33,新四,第10考场\n".encode(),
                        actor="t")
    r = svc.assign(bank_db, seated_exam, rule="room", actor="t", assembly_id=l1_pair.id, only_unassigned=True)
    assert r.changed == 1 and forms_of(bank_db, seated_exam)["T33"] == by_room["T09"]
    assert svc.assign(bank_db, seated_exam, rule="seat", actor="t", assembly_id=l1_pair.id,
                      only_unassigned=True).changed == 0


def answers_row(form, ticket: str, code: str) -> str:
    keys = [{"A": "对", "B": "错"}["".join(it.key)] if it.type == "判断" else "".join(it.key) for it in form.items]
    return f'{ticket},{code},"{",".join(keys)}"'


def test_paper_answers_on_another_form_than_the_candidates_are_refused_by_row_and_field(bank_db, l1_pair, seated_exam):
    a, b = l1_pair.forms
    svc.assign(bank_db, seated_exam, rule="column", actor="t", assembly_id=l1_pair.id)  # T01 on A, T02 on B
    # T01 on A answered A (good); T03 on A answered B; T02 on B answered A
    csv = "\n".join(["准考证号,试卷,答案", answers_row(a, "T01", "A"), answers_row(b, "T03", "B"),
                     answers_row(a, "T02", "A")]) + "\n"
    with pytest.raises(DataFileError) as caught:
        forms_svc.score_paper(bank_db, seated_exam, "答案.csv", csv.encode(), actor="t")
    assert [(p.location, p.field) for p in caught.value.problems] == [("第 3 行", "试卷"), ("第 4 行", "试卷")]
    assert "分配的是试卷 A" in caught.value.problems[0].message
    assert "分配的是试卷 B" in caught.value.problems[1].message
    assert bank_db.scalar(select(func.count()).select_from(PaperResult)) == 0
    # assigned forms are forms of the exam: scored without a print or an assembly named
    ok = "\n".join(["准考证号,试卷,答案", answers_row(a, "T01", "A"), answers_row(b, "T02", "B")]) + "\n"
    assert forms_svc.score_paper(bank_db, seated_exam, "答案.csv", ok.encode(), actor="t").added == 2


def test_reassigning_a_candidate_scored_on_another_form_is_refused_naming_them(bank_db, l1_pair, seated_exam):
    a, b = l1_pair.forms
    svc.assign(bank_db, seated_exam, rule="column", actor="t", assembly_id=l1_pair.id)
    csv = "\n".join(["准考证号,试卷,答案", answers_row(b, "T02", "B")]) + "\n"
    forms_svc.score_paper(bank_db, seated_exam, "答案.csv", csv.encode(), actor="t")
    before = forms_of(bank_db, seated_exam)
    # by room, room 1 (T02's) takes A: T02 was scored on B
    with pytest.raises(ConflictError, match=r"1 名考生已按另一套试卷评过纸笔成绩.*T02"):
        svc.assign(bank_db, seated_exam, rule="room", actor="t", assembly_id=l1_pair.id)
    assert forms_of(bank_db, seated_exam) == before
    # an assignment that keeps T02 on B goes through (by seat, T02 has seat 1 of room 1: A; by column: B)
    assert svc.assign(bank_db, seated_exam, rule="column", actor="t", assembly_id=l1_pair.id).changed == 0


def test_moving_candidates_after_their_sheets_were_printed_warns_to_reprint(bank_db, l1_pair, seated_exam):
    a, _ = l1_pair.forms
    forms_svc.print_form(bank_db, a.id, booklet=False, key=False, exam_id=seated_exam, actor="t")  # all on A
    r = svc.assign(bank_db, seated_exam, rule="seat", actor="t", assembly_id=l1_pair.id)
    assert r.changed == 4 and Counter(c.form for c in r.candidates) == {"A": 5, "B": 4}
    assert len(r.warnings) == 1 and "4 名考生换了试卷" in r.warnings[0] and "重新打印试卷 A、B 的答题卡" in r.warnings[0]


def test_late_candidates_by_room_on_a_one_form_assembly_never_get_a_code_it_lacks(bank_db, l1_pair, seated_exam):
    """A room sitting form B of one assembly, and a newcomer assigned from another assembly that
    has only form A: the newcomer gets A (the room's B is not a form of the chosen assembly)."""
    svc.assign(bank_db, seated_exam, rule="room", actor="t", assembly_id=l1_pair.id)
    assert forms_of(bank_db, seated_exam)["T07"] == "B"  # 第2考场
    single = forms_svc.assemble(bank_db, blueprint="530046-L1", n_forms=1, length=20, actor="test", seed=5)
    exams.import_roster(bank_db, seated_exam, "补录.csv", "准考证号,姓名,考场\nT50,新人,第2考场\n".encode(), actor="t")
    r = svc.assign(bank_db, seated_exam, rule="room", actor="t", assembly_id=single.id, only_unassigned=True)
    assert r.changed == 1
    bank_db.expire_all()
    t50 = bank_db.scalars(select(Candidate).where(Candidate.ticket == "T50")).one()
    assert t50.form_id == single.forms[0].id
