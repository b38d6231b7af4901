"""The annotated return of scanned sheets, for appeals: real synthetic scans read, reviewed and
scored, then returned per candidate and per room (pages, what the PDF says); refusals name the
candidate; the export is audited; the CLI, the API and the scans page give it to the exam's
proctor only."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from examengine.cli import app
from examengine.config import Settings
from examengine.db.models import AuditEvent
from examengine.errors import ConflictError, ExamEngineError, NotFoundError
from examengine.exam.marks import MarkFlag
from examengine.services import accounts
from examengine.services import forms as forms_svc
from examengine.services import scans as svc
from examengine.services.scan_returns import annotated_return, return_rooms
from tests.conftest import REPO, staff_client
from tests.scans.conftest import (
    fake_file,
    key_letters,
    page_spec,
    pdf_of,
    qr_for,
    synthetic_scans,
)

ZONE = ZoneInfo("Asia/Shanghai")



# reading images and rendering PDFs does not depend on the database: the rules of the use case
# run on both backends in test_scan_rules.py; these run on SQLite (CI time)
pytestmark = pytest.mark.usefixtures("sqlite_only")

def pdf_text(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def pdf_pages(pdf: bytes) -> int:
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return int(re.search(r"Pages:\s+(\d+)", info).group(1))


def shown(item_type: str, letters: str) -> str:
    """Letters as the return's table prints them."""
    if not letters:
        return "未涂"
    return f"{letters}({'对' if letters == 'A' else '错'})" if item_type == "判断" else letters


def audit_returns(db) -> list[dict]:
    db.expire_all()
    return [e.after for e in db.scalars(select(AuditEvent).where(AuditEvent.action == "scan.return")
                                        .order_by(AuditEvent.id))]


def test_a_candidate_and_a_room_get_their_scans_with_the_key_the_marks_read_and_the_review(bank_db, printed_exam):
    a = printed_exam.form("A")
    c = printed_exam.candidates
    # four sheets filled with the key; 2 and 4 carry a double mark on their first 单选
    r = svc.scan(bank_db, [("扫描.pdf", pdf_of(synthetic_scans(bank_db, 1, a, [1, 2, 3, 4], double={2, 4})))],
                 exam_id=1, actor="扫描员", apply=True)
    assert [p.status for p in r.pages] == ["scored", "review", "scored", "review"]
    doubled = next(it for it in a.items if it.type == "单选")
    read = r.pages[1].answers[str(doubled.position)]
    assert len(read) == 2
    queue = [q for q in svc.review_queue(bank_db, 1) if q.ticket == c[1].ticket]
    svc.resolve(bank_db, queue[0].sheet_id, doubled.position, "".join(doubled.key), actor="王老师")

    one = annotated_return(bank_db, 1, ticket=c[1].ticket, zone=ZONE, actor="李主任")
    assert (one.tickets, one.n_candidates, one.skipped) == ([c[1].ticket], 1, [])
    assert one.file_name == f"考试1-{c[1].ticket}-答题卡回执.pdf" and one.ascii_file_name == f"exam-1-{c[1].ticket}-return.pdf"
    assert one.pdf.startswith(b"%PDF") and pdf_pages(one.pdf) == 2
    text = pdf_text(one.pdf)
    assert c[1].ticket in text and c[1].name in text and "扫描.pdf 第 2 页" in text
    assert "12 / 12" in text and "合格" in text
    for it in a.items:  # every row: read, scored, key, right
        key = "".join(it.key)
        was = read if it.position == doubled.position else key
        row = rf"(?<!\d){it.position}\s+{re.escape(shown(it.type, was))}\s+{re.escape(shown(it.type, key))}\s+" \
              rf"{re.escape(shown(it.type, key))}\s+✓"
        assert re.search(row, text), (it.position, text)
    # the review record: the double mark, read as two letters, corrected by 王老师
    assert re.search(rf"(?<!\d){doubled.position}\s+单选\s+{read}\s+多涂\s+{''.join(doubled.key)}\s+更正 王老师 \d{{4}}-", text)

    c[2].room = "第二考场"  # moved after printing (sheets print room by room: this keeps them in ticket order)
    bank_db.commit()
    room = annotated_return(bank_db, 1, room="演示考场", zone=ZONE, actor="李主任")
    assert room.tickets == [c[0].ticket, c[1].ticket] and pdf_pages(room.pdf) == 4
    assert [(s.ticket, s.reason) for s in room.skipped] == [
        (c[3].ticket, f"答题卡还有 1 处涂点待复核（第 {doubled.position} 题），尚未计分"), (c[4].ticket, "没有读入的答题卡")]
    text = pdf_text(room.pdf)
    assert c[0].ticket in text and c[1].ticket in text
    assert not any(x.ticket in text for x in (c[2], c[3], c[4]))
    assert room.file_name == "考试1-演示考场-答题卡回执.pdf" and room.ascii_file_name == "exam-1-room-returns.pdf"
    other = annotated_return(bank_db, 1, room="第二考场", zone=ZONE, actor="李主任")
    assert other.tickets == [c[2].ticket] and pdf_pages(other.pdf) == 2
    assert [(x.room, x.candidates, x.scored) for x in return_rooms(bank_db, 1)] == [("演示考场", 4, 2), ("第二考场", 1, 1)]

    assert audit_returns(bank_db) == [
        {"ticket": c[1].ticket, "room": None, "tickets": [c[1].ticket], "sheets": [queue[0].sheet_id],
         "bytes": len(one.pdf)},
        {"ticket": None, "room": "演示考场", "tickets": [c[0].ticket, c[1].ticket], "sheets": room.sheet_ids,
         "bytes": len(room.pdf)},
        {"ticket": None, "room": "第二考场", "tickets": [c[2].ticket], "sheets": other.sheet_ids, "bytes": len(other.pdf)}]

    with pytest.raises(ConflictError, match=rf"准考证号 {c[3].ticket} 不能生成答题卡回执：答题卡还有 1 处涂点待复核"):
        annotated_return(bank_db, 1, ticket=c[3].ticket, zone=ZONE, actor="李主任")
    with pytest.raises(NotFoundError, match=f"未找到已读入的答题卡：准考证号 {c[4].ticket}"):
        annotated_return(bank_db, 1, ticket=c[4].ticket, zone=ZONE, actor="李主任")
    assert len(audit_returns(bank_db)) == 3  # a refusal writes nothing


def test_refusals_name_what_is_missing(bank_db, printed_exam, fake_reader):
    a = printed_exam.form("A")
    c = printed_exam.candidates
    svc.scan(bank_db, [("s.pdf", fake_file(page_spec(qr_for(bank_db, 1, c[0], a), key_letters(a))))],
             exam_id=1, actor="p", apply=True)
    with pytest.raises(NotFoundError, match="未找到考生：准考证号 NOPE 不在考试 1 的名单中"):
        annotated_return(bank_db, 1, ticket="NOPE", zone=ZONE, actor="p")
    with pytest.raises(NotFoundError, match="未找到考场：第九考场"):
        annotated_return(bank_db, 1, room="第九考场", zone=ZONE, actor="p")
    with pytest.raises(NotFoundError, match="未找到考试：99"):
        annotated_return(bank_db, 99, ticket=c[0].ticket, zone=ZONE, actor="p")
    for kw in ({}, {"ticket": c[0].ticket, "room": "演示考场"}, {"ticket": " ", "room": ""}):
        with pytest.raises(ExamEngineError, match="请指定准考证号或考场"):
            annotated_return(bank_db, 1, zone=ZONE, actor="p", **kw)
    # a result typed from a CSV afterwards replaces the scanned one: the sheet no longer says what was scored
    typed = f'准考证号,试卷,答案\n{c[0].ticket},A,"{",".join(it.key_text for it in a.items)}"\n'.encode()
    forms_svc.score_paper(bank_db, 1, "补录.csv", typed, actor="阅卷员")
    with pytest.raises(ConflictError, match=f"准考证号 {c[0].ticket} 不能生成答题卡回执：纸笔成绩来自“补录.csv”"):
        annotated_return(bank_db, 1, ticket=c[0].ticket, zone=ZONE, actor="p")
    with pytest.raises(ConflictError, match="考场 演示考场 的 5 名考生都没有已计分的答题卡"):
        annotated_return(bank_db, 1, room="演示考场", zone=ZONE, actor="p")
    assert audit_returns(bank_db) == []


@pytest.fixture
def two_sheets(bank_db, printed_exam, fake_reader, monkeypatch):
    """Candidate 1's sheet scored, candidate 2's waiting for review (a faint mark); the stand-in
    reader's pages are grey A4 at 4 px/mm, about the ~100 dpi a real sheet is kept at."""

    def locate(page):
        found = fake_reader.locate(page)
        return replace(found, sheet=np.full((1188, 840), 200, np.uint8), px_per_mm=4.0)

    monkeypatch.setattr(svc.reader, "locate", locate)
    a = printed_exam.form("A")
    c = printed_exam.candidates
    data = fake_file(page_spec(qr_for(bank_db, 1, c[0], a), key_letters(a)),
                     page_spec(qr_for(bank_db, 1, c[1], a), key_letters(a), flags={1: [MarkFlag.FAINT]}))
    r = svc.scan(bank_db, [("s.pdf", data)], exam_id=1, actor="p", apply=True)
    assert [p.status for p in r.pages] == ["scored", "review"]
    accounts.create_user(bank_db, username="p-mine", password="correct horse battery", role=accounts.Role.PROCTOR)
    accounts.assign_proctor(bank_db, "p-mine", 1)
    return c


def test_the_api_gives_the_exams_proctor_the_pdf_and_others_nothing(bank_db_url, bank_db, two_sheets):
    c = two_sheets
    settings = Settings(database_url=bank_db_url, data_dir=REPO)
    mine, other = staff_client(settings, "p-mine", "proctor"), staff_client(settings, "p-other", "proctor")
    try:
        r = mine.get("/api/v1/exams/1/scans/return.pdf", params={"ticket": c[0].ticket})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
        assert r.headers["content-disposition"].startswith(f'attachment; filename="exam-1-{c[0].ticket}-return.pdf"')
        assert c[0].ticket in pdf_text(r.content)
        assert mine.get("/api/v1/exams/1/scans/return.pdf", params={"room": "演示考场"}).status_code == 200
        assert audit_returns(bank_db)[-1]["tickets"] == [c[0].ticket]  # the room: only the scored sheet
        assert other.get("/api/v1/exams/1/scans/return.pdf", params={"ticket": c[0].ticket}).status_code == 403
        assert other.get("/api/v1/exams/1/scans/return.pdf", params={"room": "演示考场"}).status_code == 403
        r = mine.get("/api/v1/exams/1/scans/return.pdf", params={"ticket": c[1].ticket})
        assert r.status_code == 409 and "待复核" in r.json()["message"]
        r = mine.get("/api/v1/exams/1/scans/return.pdf", params={"ticket": "NOPE"})
        assert r.status_code == 404 and "NOPE" in r.json()["message"]
        assert mine.get("/api/v1/exams/1/scans/return.pdf").status_code == 422
        assert mine.get("/api/v1/exams/1/scans/return.pdf", params={"ticket": "T", "room": "R"}).status_code == 422
        assert len(audit_returns(bank_db)) == 2
    finally:
        mine.__exit__(None, None, None)
        other.__exit__(None, None, None)
    assert [e.actor for e in bank_db.scalars(select(AuditEvent).where(AuditEvent.action == "scan.return"))] == [
        "p-mine", "p-mine"]


def test_the_scans_page_links_each_scored_sheets_return_and_offers_the_rooms(bank_db_url, bank_db, two_sheets):
    c = two_sheets
    settings = Settings(database_url=bank_db_url, data_dir=REPO)
    mine, other = staff_client(settings, "p-mine", "proctor"), staff_client(settings, "p-other", "proctor")
    try:
        page = mine.get("/proctor/exams/1/scans").text
        link = f'href="/proctor/exams/1/scans/return.pdf?ticket={c[0].ticket}"'
        assert page.count('class="return-link"') == 1 and link in page  # the scored sheet only
        assert f'aria-label="{c[0].ticket} {c[0].name} 的回执 PDF"' in page
        assert '<label for="return-room">考场</label>' in page and 'id="return-room" name="room"' in page
        assert '<option value="演示考场">演示考场（已计分 1/5 名）</option>' in page
        r = mine.get(f"/proctor/exams/1/scans/return.pdf?ticket={c[0].ticket}")
        assert r.status_code == 200 and r.headers["content-disposition"].startswith("inline;")
        r = mine.get(f"/proctor/exams/1/scans/return.pdf?ticket={c[1].ticket}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/proctor/exams/1/scans"
        page = mine.get("/proctor/exams/1/scans").text
        assert "未生成答题卡回执" in page and f"准考证号 {c[1].ticket} 不能生成答题卡回执" in page
        assert other.get(f"/proctor/exams/1/scans/return.pdf?ticket={c[0].ticket}").status_code == 403
    finally:
        mine.__exit__(None, None, None)
        other.__exit__(None, None, None)


def test_the_cli_writes_a_candidates_or_a_rooms_pdf(bank_db_url, bank_db, two_sheets, monkeypatch, tmp_path):
    c = two_sheets
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    runner = CliRunner()
    out = tmp_path / "回执.pdf"
    r = runner.invoke(app, ["forms", "scan-return", "1", "--ticket", c[0].ticket, "--out", str(out), "--as", "张老师"])
    assert r.exit_code == 0, r.output
    assert "已写入 1 名考生的答题卡回执" in r.stdout and out.read_bytes().startswith(b"%PDF")
    assert c[0].ticket in pdf_text(out.read_bytes())
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["forms", "scan-return", "1", "--room", "演示考场"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "考试1-演示考场-答题卡回执.pdf").read_bytes().startswith(b"%PDF")
    assert "另有 4 名考生没有回执" in r.stdout and f"{c[1].ticket} {c[1].name}（答题卡还有 1 处涂点待复核" in r.stdout
    r = runner.invoke(app, ["forms", "scan-return", "1", "--ticket", "NOPE", "--out", str(out)])
    assert r.exit_code == 1 and "准考证号 NOPE 不在考试 1 的名单中" in r.output
    r = runner.invoke(app, ["forms", "scan-return", "1", "--out", str(out)])
    assert r.exit_code == 2 and "--ticket" in r.output
    assert [(e["ticket"], e["room"]) for e in audit_returns(bank_db)] == [(c[0].ticket, None), (None, "演示考场")]
