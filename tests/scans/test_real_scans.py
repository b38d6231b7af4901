"""Scans of our own printed sheets (``scanning.synthetic``: filled, turned, scaled, noisy, JPEG
50) read through the real reader: scored, reviewed, refused, and idempotent."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from examengine.db.forms_models import PaperResult
from examengine.db.models import AuditEvent, Candidate
from examengine.db.scan_models import ScannedSheet
from examengine.exam.sheet_layout import sheet_layout
from examengine.services import exams as exams_svc
from examengine.services import scans as svc
from tests.scans.conftest import pdf_of, synthetic_scans

# reading images and rendering PDFs does not depend on the database: the rules of the use case
# run on both backends in test_scan_rules.py; these run on SQLite (CI time)
pytestmark = pytest.mark.usefixtures("sqlite_only")

def state(db) -> tuple:
    db.expire_all()
    results = sorted((r.candidate_id, r.theta, r.result["score"], r.scored_at) for r in db.scalars(select(PaperResult)))
    sheets = sorted((s.id, s.status, s.problem, s.digest) for s in db.scalars(select(ScannedSheet)))
    return (db.scalar(select(func.count()).select_from(ScannedSheet)),
            db.scalar(select(func.count()).select_from(AuditEvent)), results, sheets)


def test_a_pdf_of_scans_is_read_scored_and_its_double_mark_resolved_in_review(bank_db, printed_exam):
    a = printed_exam.form("A")
    cands = printed_exam.candidates
    scans = synthetic_scans(bank_db, 1, a, [1, 2, 3], double={2})
    r = svc.scan(bank_db, [("扫描.pdf", pdf_of(scans))], exam_id=1, actor="proctor", apply=True)
    assert [(p.page, p.ticket, p.form, p.status) for p in r.pages] == [
        (1, cands[0].ticket, "A", "scored"), (2, cands[1].ticket, "A", "review"), (3, cands[2].ticket, "A", "scored")]
    key = {str(it.position): "".join(it.key) for it in a.items}
    assert r.pages[0].answers == key and r.pages[2].answers == key
    doubled = next(it for it in a.items if it.type == "单选")
    assert r.pages[1].review == [doubled.position] and r.pages[1].flags == {str(doubled.position): ["多涂"]}
    assert len(r.pages[1].answers[str(doubled.position)]) == 2
    assert [x.raw_score for x in r.scored] == [12, 12]
    assert [m.ticket for m in r.listings.missing] == [c.ticket for c in cands[3:]]
    queue = svc.review_queue(bank_db, 1)
    assert [(q.ticket, q.position, q.flags) for q in queue] == [(cands[1].ticket, doubled.position, ["多涂"])]
    png = svc.row_image(bank_db, queue[0].sheet_id, doubled.position)
    crop = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    band = sheet_layout([2 if it.type == "判断" else len(it.options) for it in a.items]).row(doubled.position).band
    ppm = bank_db.get(ScannedSheet, queue[0].sheet_id).px_per_mm
    assert abs(crop.shape[0] - (band.h + 4) * ppm) <= 2 and abs(crop.shape[1] - (band.w + 4) * ppm) <= 2
    assert 90 / 25.4 <= ppm <= 101 / 25.4  # kept at ~100 dpi
    assert crop.min() < 80  # the marks are in the picture
    done = svc.resolve(bank_db, queue[0].sheet_id, doubled.position, "".join(doubled.key), actor="proctor")
    assert done.scored is not None and done.scored.raw_score == 12 and done.scored.ticket == cands[1].ticket
    results = {c.ticket: c for c in bank_db.scalars(select(Candidate).join(PaperResult))}
    assert sorted(results) == [c.ticket for c in cands[:3]]


def test_a_sheet_of_another_exam_is_refused_with_its_ticket_named_and_uploading_again_changes_nothing(
        bank_db, printed_exam):
    a = printed_exam.form("A")
    other = exams_svc.create_exam(bank_db, blueprint="530046-L1", name="另一场", actor="t", zone=ZoneInfo("Asia/Shanghai"))
    exams_svc.import_roster(bank_db, other.id, "r.csv", "准考证号,姓名\nX0001,甲\n".encode(), actor="t")
    mine = synthetic_scans(bank_db, 1, a, [1, 2], seed=11)
    theirs = synthetic_scans(bank_db, other.id, a, [1], seed=12)
    rescanned = synthetic_scans(bank_db, 1, a, [1], seed=99)  # the first sheet through the scanner again
    files = [("本场.pdf", pdf_of(mine)), ("别场.jpg", theirs[0])]
    r = svc.scan(bank_db, files, exam_id=1, actor="proctor", apply=True)
    assert [p.outcome for p in r.pages] == ["new", "new", "refused"]
    assert r.pages[2].problem == f"准考证号 X0001 的答题卡属于考试 {other.id}，不是本场考试 1"
    assert r.pages[2].file == "别场.jpg"
    before = state(bank_db)
    again = svc.scan(bank_db, files, exam_id=1, actor="proctor", apply=True)
    assert [p.outcome for p in again.pages] == ["unchanged"] * 3
    assert state(bank_db) == before
    r = svc.scan(bank_db, [("再扫.jpg", rescanned[0])], exam_id=1, actor="proctor", apply=True)
    assert r.pages[0].outcome == "unchanged" and state(bank_db) == before


def test_a_file_that_is_no_scan_is_listed_as_unreadable_and_the_rest_is_read(bank_db, printed_exam):
    a = printed_exam.form("A")
    scans = synthetic_scans(bank_db, 1, a, [1], seed=5)
    files = [("坏文件.pdf", b"%PDF-1.4 broken"), ("好.jpg", scans[0])]
    r = svc.scan(bank_db, files, exam_id=1, actor="proctor", apply=True)
    assert [(p.file, p.outcome) for p in r.pages] == [("坏文件.pdf", "unreadable"), ("好.jpg", "new")]
    assert r.listings.unreadable[0].file == "坏文件.pdf" and "PDF" in r.listings.unreadable[0].reason
    before = state(bank_db)
    assert [p.outcome for p in svc.scan(bank_db, files, exam_id=1, actor="proctor", apply=True).pages] == [
        "unchanged", "unchanged"]
    assert state(bank_db) == before
