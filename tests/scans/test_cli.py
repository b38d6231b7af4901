"""Scanned sheets through the CLI: forms scan (a dry run by default, --apply), review, resolve."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from examengine.cli import app
from examengine.db.forms_models import PaperResult
from examengine.db.scan_models import ScannedSheet
from examengine.exam.marks import MarkFlag
from examengine.services import exams
from tests.conftest import REPO
from tests.scans.conftest import fake_file, key_letters, page_spec, qr_for


@pytest.fixture
def runner(bank_db_url, monkeypatch) -> CliRunner:
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    return CliRunner()


def test_scan_previews_then_applies_and_a_flagged_row_is_resolved(runner, bank_db, printed_exam, fake_reader,
                                                                   tmp_path):
    a = printed_exam.form("A")
    c1, c2 = printed_exam.candidates[:2]
    single = next(it.position for it in a.items if it.type == "单选")
    doubled = key_letters(a)
    doubled[single - 1] = "AC"
    scans = tmp_path / "扫描.pdf"
    scans.write_bytes(fake_file(page_spec(qr_for(bank_db, 1, c1, a), key_letters(a)),
                                page_spec(qr_for(bank_db, 1, c2, a), doubled, flags={single: [MarkFlag.DOUBLE]})))
    r = runner.invoke(app, ["forms", "scan", str(scans), "--exam", "1"])
    assert r.exit_code == 0, r.output
    assert "预览（未写入" in r.stdout and "新读入 2" in r.stdout and c2.ticket in r.stdout
    assert bank_db.scalar(select(func.count()).select_from(ScannedSheet)) == 0
    r = runner.invoke(app, ["forms", "scan", str(scans), "--exam", "1", "--apply", "--as", "张老师", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [(p["ticket"], p["status"], p["review"]) for p in data["pages"]] == [
        (c1.ticket, "scored", []), (c2.ticket, "review", [single])]
    assert data["pages"][1]["answers"][str(single)] == "AC" and data["pages"][1]["flags"] == {str(single): ["多涂"]}
    assert [s["ticket"] for s in data["scored"]] == [c1.ticket]
    r = runner.invoke(app, ["forms", "review", "1"])
    assert r.exit_code == 0 and c2.ticket in r.stdout and "多涂" in r.stdout
    sheet = data["pages"][1]["sheet_id"]
    r = runner.invoke(app, ["forms", "resolve", str(sheet), str(single), "ABC"])
    assert r.exit_code == 1 and "单选题只能选一个选项" in r.output
    r = runner.invoke(app, ["forms", "resolve", str(sheet), str(single), key_letters(a)[single - 1], "--as", "张老师"])
    assert r.exit_code == 0, r.output
    assert "已评分" in r.stdout and f"答对 {len(a.items)}/{len(a.items)}" in r.stdout
    bank_db.expire_all()
    assert bank_db.scalar(select(func.count()).select_from(PaperResult)) == 2
    r = runner.invoke(app, ["forms", "review", "1", "--format", "json"])
    assert json.loads(r.stdout) == []
    r = runner.invoke(app, ["forms", "scan", str(scans), "--exam", "1", "--apply"])
    assert "未变 2" in r.stdout


def test_a_sheet_of_another_exam_is_refused_on_the_command_line_naming_its_ticket(runner, bank_db, printed_exam,
                                                                                   fake_reader, tmp_path):
    a = printed_exam.form("A")
    c = printed_exam.candidates[0]
    scans = tmp_path / "s.pdf"
    scans.write_bytes(fake_file(page_spec(qr_for(bank_db, 1, c, a), key_letters(a))))
    other = exams.create_exam(bank_db, blueprint="530046-L1", name="另一场", actor="t", zone=ZoneInfo("Asia/Shanghai"))
    r = runner.invoke(app, ["forms", "scan", str(scans), "--exam", str(other.id), "--apply", "--format", "json"])
    assert r.exit_code == 0, r.output
    page = json.loads(r.stdout)["pages"][0]
    assert page["outcome"] == "refused"
    assert page["problem"] == f"准考证号 {c.ticket} 的答题卡属于考试 1，不是本场考试 {other.id}"
