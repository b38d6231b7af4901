"""The rules of reading scanned sheets, with a stand-in reader (the pages' QR text and marks
are given): which sheets are refused and why, what a re-upload does, what a dry run writes."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from examengine.db.forms_models import Form, PaperResult
from examengine.db.models import AuditEvent, Candidate, Exam
from examengine.db.scan_models import ScannedSheet
from examengine.errors import ConflictError, DataFileError
from examengine.exam.marks import MarkFlag
from examengine.services import audit
from examengine.services import exams as exams_svc
from examengine.services import forms as forms_svc
from examengine.services import scans as svc
from examengine.services.exams import as_utc
from tests.scans.conftest import fake_file, key_letters, page_spec, qr_for


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def state(db) -> tuple:
    """Everything an upload could change: rows, results, audit entries."""
    db.expire_all()
    results = sorted((r.candidate_id, r.theta, r.result["score"]) for r in db.scalars(select(PaperResult)))
    sheets = sorted((s.id, s.status, s.problem, s.digest) for s in db.scalars(select(ScannedSheet)))
    return count(db, ScannedSheet), count(db, AuditEvent), results, sheets


def wrong(form, k: int) -> list[str]:
    """The key with the first ``k`` positions answered wrongly (still one valid letter each)."""
    out = key_letters(form)
    for i in range(k):
        out[i] = "B" if out[i] != "B" else "A"
    return out


def test_a_clean_sheet_is_scored_at_once_like_the_same_answers_typed_in_a_csv(bank_db, printed_exam, fake_reader):
    a = printed_exam.form("A")
    c1, c2 = printed_exam.candidates[:2]
    letters = wrong(a, 4)
    r = svc.scan(bank_db, [("s.pdf", fake_file(page_spec(qr_for(bank_db, 1, c1, a), letters)))], exam_id=1,
                 actor="proctor1", apply=True)
    assert [(p.outcome, p.status, p.ticket, p.form) for p in r.pages] == [("new", "scored", c1.ticket, "A")]
    assert r.pages[0].answers == {str(k): v for k, v in enumerate(letters, start=1)}
    text = ",".join("对" if it.type == "判断" and x == "A" else "错" if it.type == "判断" else x
                    for it, x in zip(a.items, letters))
    forms_svc.score_paper(bank_db, 1, "a.csv", f"准考证号,试卷,答案\n{c2.ticket},A,\"{text}\"\n".encode(), actor="t")
    by_scan, by_csv = (bank_db.scalars(select(PaperResult).where(PaperResult.candidate_id == c.id)).one()
                       for c in (c1, c2))
    assert by_scan.scores == by_csv.scores and by_scan.raw_score == len(letters) - 4
    assert by_scan.theta == pytest.approx(by_csv.theta, abs=1e-12)
    for k in ("score", "band_name", "passed", "se"):
        assert by_scan.result[k] == by_csv.result[k]
    assert by_scan.result["source_kind"] == "scan" and by_csv.result["source_kind"] == "csv"
    assert by_scan.result["flags"] == [] and by_scan.result["corrected"] == 0
    assert by_scan.scored_by == "proctor1" and "s.pdf" in by_scan.source
    assert [r.ticket for r in r.scored] == [c1.ticket]
    assert [e.action for e in audit.read(bank_db, action="scan.")] == ["scan.upload"]


def test_a_dry_run_reports_what_would_happen_and_writes_nothing(bank_db, printed_exam, fake_reader):
    a = printed_exam.form("A")
    c1 = printed_exam.candidates[0]
    before = state(bank_db)
    data = fake_file(page_spec(qr_for(bank_db, 1, c1, a), key_letters(a)),
                     page_spec(qr_for(bank_db, 1, c1, a), key_letters(a)))  # the same sheet twice
    r = svc.scan(bank_db, [("s.pdf", data)], exam_id=1, actor="p", apply=False)
    assert not r.applied and [p.outcome for p in r.pages] == ["new", "unchanged"]
    assert r.pages[0].status == "scored" and r.scored[0].ticket == c1.ticket and r.scored[0].raw_score == 12
    assert c1.ticket not in {m.ticket for m in r.listings.missing}
    assert state(bank_db) == before


def test_a_sheet_of_another_exam_is_refused_naming_its_ticket_and_uploading_again_changes_nothing(
        bank_db, printed_exam, fake_reader):
    other = exams_svc.create_exam(bank_db, blueprint="530046-L1", name="另一场", actor="t", zone=ZoneInfo("Asia/Shanghai"))
    exams_svc.import_roster(bank_db, other.id, "r.csv", "准考证号,姓名\nX0001,甲\n".encode(), actor="t")
    a = printed_exam.form("A")
    forms_svc.print_form(bank_db, a.id, booklet=False, sheets=False, key=True, exam_id=other.id, actor="test")
    stranger = bank_db.scalars(select(Candidate).where(Candidate.exam_id == other.id)).one()
    mine = printed_exam.candidates[0]
    files = [("一.pdf", fake_file(page_spec(qr_for(bank_db, 1, mine, a), key_letters(a)),
                                 page_spec(qr_for(bank_db, other.id, stranger, a), key_letters(a)))),
             ("二.jpg", fake_file(page_spec(None, [], problem="找不到四角定位标记")))]
    r = svc.scan(bank_db, files, exam_id=1, actor="p", apply=True)
    assert [p.outcome for p in r.pages] == ["new", "refused", "unreadable"]
    assert r.pages[1].problem == f"准考证号 X0001 的答题卡属于考试 {other.id}，不是本场考试 1"
    assert r.pages[1].file == "一.pdf" and r.pages[1].page == 2
    assert [(u.file, u.reason) for u in r.listings.unreadable] == [("二.jpg", "找不到四角定位标记")]
    before = state(bank_db)
    again = svc.scan(bank_db, files, exam_id=1, actor="p", apply=True)
    assert [p.outcome for p in again.pages] == ["unchanged"] * 3
    assert again.counts == {"new": 0, "unchanged": 3, "refused": 0, "unreadable": 0}
    assert state(bank_db) == before


def test_the_same_sheet_read_with_other_marks_is_refused_until_the_first_read_is_deleted(
        bank_db, printed_exam, fake_reader):
    a = printed_exam.form("A")
    c1 = printed_exam.candidates[0]
    qr = qr_for(bank_db, 1, c1, a)
    first = svc.scan(bank_db, [("a.pdf", fake_file(page_spec(qr, key_letters(a))))], exam_id=1, actor="p", apply=True)
    second = [("b.pdf", fake_file(page_spec(qr, wrong(a, 3))))]
    r = svc.scan(bank_db, second, exam_id=1, actor="p", apply=True)
    assert r.pages[0].outcome == "refused" and c1.ticket in r.pages[0].problem and "a.pdf" in r.pages[0].problem
    result = bank_db.scalars(select(PaperResult).where(PaperResult.candidate_id == c1.id)).one()
    assert result.raw_score == 12  # the first read stands
    with pytest.raises(ConflictError):
        svc.resolve(bank_db, r.pages[0].sheet_id, 1, "A", actor="p")  # a refused page is not reviewed
    svc.delete_sheet(bank_db, first.pages[0].sheet_id, actor="chief", reason="重新扫描")
    assert bank_db.scalars(select(PaperResult).where(PaperResult.candidate_id == c1.id)).first() is None
    entry = audit.read(bank_db, action="scan.delete")[0]
    assert entry.actor == "chief" and entry.before["ticket"] == c1.ticket and entry.before["result_removed"]
    r = svc.scan(bank_db, second, exam_id=1, actor="p", apply=True)
    assert (r.pages[0].outcome, r.pages[0].status) == ("new", "scored")
    assert bank_db.scalars(select(PaperResult).where(PaperResult.candidate_id == c1.id)).one().raw_score == 9
    assert count(bank_db, ScannedSheet) == 1  # the refused page made way for the sheet it now is


@pytest.mark.parametrize("edit, why", [
    (lambda qr: qr.replace("ticket=", "ticket=9"), "签名不符"),
    (lambda qr: qr.rpartition(";sig=")[0], "没有签名"),
    (lambda qr: "https://example.com/x", "不是本系统答题卡的二维码"),
    (lambda qr: qr.replace("cand=", "cand=99"), "签名不符"),
])
def test_a_code_that_is_not_what_we_printed_is_refused(bank_db, printed_exam, fake_reader, edit, why):
    a = printed_exam.form("A")
    qr = edit(qr_for(bank_db, 1, printed_exam.candidates[0], a))
    r = svc.scan(bank_db, [("s.pdf", fake_file(page_spec(qr, key_letters(a))))], exam_id=1, actor="p", apply=True)
    assert r.pages[0].outcome == "refused" and why in r.pages[0].problem
    assert count(bank_db, PaperResult) == 0


def test_an_old_unsigned_sheet_is_read_and_says_so(bank_db, printed_exam, fake_reader):
    a = printed_exam.form("A")
    c = printed_exam.candidates[0]
    qr = f"EE1;exam=1;cand={c.id};ticket={c.ticket};form={a.id};code=A"
    r = svc.scan(bank_db, [("s.pdf", fake_file(page_spec(qr, key_letters(a))))], exam_id=1, actor="p", apply=True)
    assert r.pages[0].status == "scored" and r.pages[0].problem == "旧版答题卡：二维码没有签名"


def test_a_form_not_used_in_the_exam_is_refused(bank_db, printed_exam, fake_reader):
    asm = forms_svc.assemble(bank_db, blueprint="530046-L1", n_forms=1, length=12, actor="t", seed=9)
    c = printed_exam.candidates[0]
    qr = forms_svc.qr_payload(1, c, bank_db.get(Form, asm.forms[0].id), bank_db.get(Exam, 1).sheet_key)
    r = svc.scan(bank_db, [("s.pdf", fake_file(page_spec(qr, key_letters(asm.forms[0]))))], exam_id=1, actor="p",
                 apply=True)
    assert r.pages[0].outcome == "refused" and "不是考试 1 用过的试卷" in r.pages[0].problem


def test_without_an_exam_each_sheet_says_its_own_and_a_blank_sheet_without_one_is_refused(
        bank_db, printed_exam, fake_reader):
    a = printed_exam.form("A")
    c = printed_exam.candidates[0]
    files = [("s.pdf", fake_file(page_spec(qr_for(bank_db, 1, c, a), key_letters(a)),
                                 page_spec(qr_for(bank_db, None, None, a), key_letters(a))))]
    r = svc.scan(bank_db, files, exam_id=None, actor="p", apply=True)
    assert [(p.outcome, p.exam_id) for p in r.pages] == [("new", 1), ("refused", None)]
    assert "请在上传时指定考试" in r.pages[1].problem
    assert r.listings is not None and c.ticket not in {m.ticket for m in r.listings.missing}


def test_a_blank_sheet_is_listed_without_a_roster_entry_until_given_a_ticket(bank_db, printed_exam, fake_reader):
    a = printed_exam.form("A")
    cands = printed_exam.candidates
    files = [("blank.pdf", fake_file(page_spec(qr_for(bank_db, 1, None, a), key_letters(a))))]
    r = svc.scan(bank_db, files, exam_id=1, actor="p", apply=True)
    assert (r.pages[0].status, r.pages[0].ticket) == ("ready", "")
    assert [s.sheet_id for s in r.listings.unrostered] == [r.pages[0].sheet_id]
    assert {m.ticket for m in r.listings.missing} == {c.ticket for c in cands}
    assert svc.scan(bank_db, files, exam_id=1, actor="p", apply=True).pages[0].outcome == "unchanged"
    svc.assign_ticket(bank_db, r.pages[0].sheet_id, cands[1].ticket, actor="chief")
    view = svc.overview(bank_db, 1)
    assert view.listings.unrostered == [] and cands[1].ticket not in {m.ticket for m in view.listings.missing}
    assert view.sheets[0].status == "scored" and view.sheets[0].ticket == cands[1].ticket
    assert audit.read(bank_db, action="scan.assign")[0].after["ticket"] == cands[1].ticket


def test_flagged_positions_wait_for_review_and_the_last_one_resolved_scores_the_sheet(bank_db, printed_exam,
                                                                                     fake_reader):
    a = printed_exam.form("A")
    c = printed_exam.candidates[0]
    letters = key_letters(a)
    single = next(it.position for it in a.items if it.type == "单选")
    tf = next(it.position for it in a.items if it.type == "判断")
    read = list(letters)
    read[single - 1] = "AB"
    read[tf - 1] = ""
    spec = page_spec(qr_for(bank_db, 1, c, a), read, flags={single: [MarkFlag.DOUBLE], tf: [MarkFlag.BLANK]},
                     confidence={single: 0.3, tf: 0.5})
    r = svc.scan(bank_db, [("s.pdf", fake_file(spec))], exam_id=1, actor="p", apply=True)
    page = r.pages[0]
    assert page.status == "review" and page.review == sorted([single, tf]) and r.scored == []
    assert page.flags == {str(single): ["多涂"], str(tf): ["未涂"]}
    assert count(bank_db, PaperResult) == 0
    queue = svc.review_queue(bank_db, 1)
    assert [(q.position, q.letters, q.flags, q.ticket) for q in queue] == sorted(
        [(single, "AB", ["多涂"], c.ticket), (tf, "", ["未涂"], c.ticket)])
    assert {q.position: q.options for q in queue} == {single: "ABCD"[:len(a.items[single - 1].options)], tf: "AB"}
    with pytest.raises(DataFileError, match="单选题只能选一个选项"):
        svc.resolve(bank_db, page.sheet_id, single, "AB", actor="chief")
    with pytest.raises(DataFileError, match="不是本题选项"):
        svc.resolve(bank_db, page.sheet_id, single, "Z", actor="chief")
    first = svc.resolve(bank_db, page.sheet_id, single, letters[single - 1], actor="chief")
    assert first.scored is None and first.sheet.review == [tf] and first.sheet.status == "review"
    last = svc.resolve(bank_db, page.sheet_id, tf, "对" if letters[tf - 1] == "A" else "错", actor="chief")
    assert last.scored is not None and last.scored.raw_score == 12 and last.sheet.status == "scored"
    assert svc.review_queue(bank_db, 1) == []
    result = bank_db.scalars(select(PaperResult).where(PaperResult.candidate_id == c.id)).one().result
    assert result["source_kind"] == "scan" and result["corrected"] == 2
    assert result["flags"] == sorted([f"第 {single} 题：多涂，读作 AB，chief 更正为 {letters[single - 1]}",
                                      f"第 {tf} 题：未涂，读作 未涂，chief 更正为 {letters[tf - 1]}"],
                                     key=lambda s: int(s.split()[1]))
    entries = audit.read(bank_db, action="scan.resolve")
    assert {(e.before["position"], e.before["read"], e.after["letters"], e.actor) for e in entries} == {
        (single, "AB", letters[single - 1], "chief"), (tf, "", letters[tf - 1], "chief")}
    assert count(bank_db, ScannedSheet) == 1


def test_correcting_a_scored_sheet_scores_it_again_and_is_audited(bank_db, printed_exam, fake_reader):
    a = printed_exam.form("A")
    c = printed_exam.candidates[0]
    r = svc.scan(bank_db, [("s.pdf", fake_file(page_spec(qr_for(bank_db, 1, c, a), key_letters(a))))], exam_id=1,
                 actor="p", apply=True)
    assert r.scored[0].raw_score == 12
    wrong_letter = "B" if key_letters(a)[0] != "B" else "A"
    done = svc.resolve(bank_db, r.pages[0].sheet_id, 1, wrong_letter, actor="chief")
    assert done.scored is not None and done.scored.raw_score == 11
    result = bank_db.scalars(select(PaperResult).where(PaperResult.candidate_id == c.id)).one()
    assert result.raw_score == 11 and result.result["corrected"] == 1
    assert result.result["flags"] == [f"第 1 题：人工更正，读作 {key_letters(a)[0]}，chief 更正为 {wrong_letter}"]
    assert audit.read(bank_db, action="scan.resolve")[0].before == {"position": 1, "letters": key_letters(a)[0],
                                                                     "read": key_letters(a)[0]}
    # a confirmation is a review, not a correction: the sheet counts both
    confirmed = svc.resolve(bank_db, r.pages[0].sheet_id, 2, key_letters(a)[1], actor="chief")
    assert (confirmed.sheet.reviewed, confirmed.sheet.corrected) == (2, 1)
    assert bank_db.scalars(select(PaperResult).where(PaperResult.candidate_id == c.id)).one().result["corrected"] == 1


def test_a_sheet_of_another_form_than_the_candidates_assigned_one_is_refused_naming_the_ticket(
        bank_db, printed_exam, fake_reader):
    """Forms assigned by seat: a candidate on form B handing in (or being given) a form-A sheet
    would be scored on items never seen; the sheet is refused, named, and nothing is scored."""
    from examengine.services import form_assignments

    a, b = printed_exam.form("A"), printed_exam.form("B")
    asm = bank_db.get(Form, a.id).assembly_id
    form_assignments.assign(bank_db, 1, rule="seat", actor="t", assembly_id=asm)
    bank_db.expire_all()
    on_b = next(c for c in bank_db.scalars(select(Candidate).where(Candidate.exam_id == 1).order_by(Candidate.ticket))
                if c.form_id == b.id)
    before = count(bank_db, PaperResult)
    r = svc.scan(bank_db, [("s.pdf", fake_file(page_spec(qr_for(bank_db, 1, on_b, a), key_letters(a))))],
                 exam_id=1, actor="proctor1", apply=True)
    assert r.pages[0].status == "refused"
    assert on_b.ticket in r.pages[0].problem and "试卷 B" in r.pages[0].problem and "试卷 A" in r.pages[0].problem
    assert count(bank_db, PaperResult) == before
    # the sheet of the candidate's own form is read and scored
    r = svc.scan(bank_db, [("t.pdf", fake_file(page_spec(qr_for(bank_db, 1, on_b, b), key_letters(b))))],
                 exam_id=1, actor="proctor1", apply=True)
    assert (r.pages[0].status, r.pages[0].ticket, r.pages[0].form) == ("scored", on_b.ticket, "B")
    # a blank form-A sheet cannot be given to the candidate on form B either
    blank = svc.scan(bank_db, [("u.pdf", fake_file(page_spec(qr_for(bank_db, 1, None, a), key_letters(a))))],
                     exam_id=1, actor="proctor1", apply=True)
    sheet_id = bank_db.scalars(select(ScannedSheet).where(ScannedSheet.file == "u.pdf")).one().id
    assert blank.pages[0].ticket == ""
    svc.delete_sheet(bank_db, bank_db.scalars(select(ScannedSheet).where(ScannedSheet.file == "t.pdf")).one().id,
                     actor="t", reason="test")
    with pytest.raises(ConflictError, match=on_b.ticket):
        svc.assign_ticket(bank_db, sheet_id, on_b.ticket, actor="t")


def test_a_scan_replacing_a_typed_result_says_so_and_keeps_the_typed_one_whole(bank_db, printed_exam, fake_reader):
    """Reproduction (noted at #21): a scanned sheet silently replaced a candidate's earlier CSV
    result; the report said nothing and the typed answers were gone."""
    a = printed_exam.form("A")
    c1 = printed_exam.candidates[0]
    text = ",".join("对" if it.type == "判断" else x for it, x in zip(a.items, wrong(a, 0)))
    forms_svc.score_paper(bank_db, 1, "typed.csv", f"准考证号,试卷,答案\n{c1.ticket},A,\"{text}\"\n".encode(),
                          actor="clerk")
    typed = bank_db.scalars(select(PaperResult).where(PaperResult.candidate_id == c1.id)).one()
    typed_answers, typed_theta, typed_raw = list(typed.answers), typed.theta, typed.raw_score
    typed_at = as_utc(typed.scored_at).isoformat(timespec="seconds")

    sheet = fake_file(page_spec(qr_for(bank_db, 1, c1, a), wrong(a, 6)))
    preview = svc.scan(bank_db, [("s.pdf", sheet)], exam_id=1, actor="proctor1", apply=False)
    assert "typed.csv" in preview.scored[0].replaced and "clerk" in preview.scored[0].replaced
    r = svc.scan(bank_db, [("s.pdf", sheet)], exam_id=1, actor="proctor1", apply=True)
    [row] = r.scored
    assert row.replaced == f"替换了此前的成绩（来源 typed.csv，评分人 clerk，答对 {typed_raw}，θ {typed_theta:.2f}）"
    assert row.replaced_at == typed_at

    bank_db.expire_all()
    now = bank_db.scalars(select(PaperResult).where(PaperResult.candidate_id == c1.id)).one()
    assert now.result["source_kind"] == "scan" and now.raw_score != typed_raw
    [kept] = now.result["history"]
    assert kept["answers"] == typed_answers and kept["theta"] == typed_theta and kept["scored_by"] == "clerk"
    assert kept["result"]["source_kind"] == "csv" and "history" not in kept["result"]
    [event] = audit.read(bank_db, action="scan.upload")
    assert event.after["replaced_other_source"] == [c1.ticket]
    [listed] = [x for x in forms_svc.paper_results(bank_db, 1) if x.ticket == c1.ticket]
    assert (listed.replaced, listed.replaced_at) == (row.replaced, row.replaced_at)

    # the same sheet again changes nothing; typing the answers again keeps both earlier results
    assert svc.scan(bank_db, [("s.pdf", sheet)], exam_id=1, actor="proctor1", apply=True).scored == []
    again = forms_svc.score_paper(bank_db, 1, "typed.csv", f"准考证号,试卷,答案\n{c1.ticket},A,\"{text}\"\n".encode(),
                                  actor="clerk")
    assert "扫描 s.pdf" in again.rows[0].replaced
    bank_db.expire_all()
    now = bank_db.scalars(select(PaperResult).where(PaperResult.candidate_id == c1.id)).one()
    assert [h["result"]["source_kind"] for h in now.result["history"]] == ["csv", "scan"]
    assert now.answers == typed_answers
