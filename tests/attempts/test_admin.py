"""Exams, rosters and tickets for proctors (CLI and API)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from openpyxl import Workbook
from typer.testing import CliRunner

from examengine.cli import app
from tests.attempts.conftest import roster_csv

runner = CliRunner()


def test_an_exam_by_default_opens_now_for_a_day_with_the_blueprints_time_limit(monkeypatch, bank_db_url):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    r = runner.invoke(app, ["exams", "create", "--blueprint", "530046-L2", "--format", "json"])
    assert r.exit_code == 0, r.output
    e = json.loads(r.stdout)
    start, end = datetime.fromisoformat(e["window_start"]), datetime.fromisoformat(e["window_end"])
    assert abs((start - datetime.now(UTC)).total_seconds()) < 60
    assert end - start == timedelta(days=1)
    assert (e["time_limit_minutes"], e["results_policy"], e["blueprint"]) == (60, "immediate", "530046-L2")
    assert isinstance(e["id"], int)


def test_creating_an_exam_says_when_its_blueprint_runs_without_exposure_control(monkeypatch, bank_db_url):
    """Out of the box every shipped blueprint has exposure parameters (init stores those shipped
    with the sample bank, issue 24); a blueprint without them is named in words everywhere an
    exam is made: `exams create`, `blueprints list` and the proctor's new-exam form."""
    from examengine.config import Settings
    from examengine.db.engine import make_engine, make_sessionmaker
    from examengine.services.blueprints import get_blueprint_version
    from tests.conftest import REPO, staff_client

    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    r = runner.invoke(app, ["exams", "create", "--blueprint", "560003-L1"])
    assert r.exit_code == 0 and "已创建考试" in r.output and "未标定" not in r.output
    listed = runner.invoke(app, ["blueprints", "list"])
    assert listed.output.count("已标定") == 6 and "未标定" not in listed.output
    with staff_client(Settings(database_url=bank_db_url, data_dir=REPO), "pp-exp", "proctor") as c:
        assert 'id="exposure-warning"' not in c.get("/proctor").text
    engine = make_engine(bank_db_url)
    with make_sessionmaker(engine)() as db:
        row, _ = get_blueprint_version(db, "560003-L1")
        row.exposure = {}
        db.commit()
    engine.dispose()
    r = runner.invoke(app, ["exams", "create", "--blueprint", "560003-L1"])
    assert r.exit_code == 0 and "注意：蓝图560003-L1v1未标定曝光参数，在线考试不做曝光控制" in "".join(r.output.split())
    listed = "".join(runner.invoke(app, ["blueprints", "list"]).output.split())
    assert listed.count("已标定") == 5 and "未标定曝光参数的蓝图：560003-L1。请运行examengineexposurecalibrate" in listed
    with staff_client(Settings(database_url=bank_db_url, data_dir=REPO), "pp-exp", "proctor") as c:
        page = c.get("/proctor").text
        warning = page[page.index('id="exposure-warning"'):]
        assert "560003-L1 没有标定曝光参数" in warning and "不做曝光控制" in warning


def test_roster_import_issues_codes_and_tickets_csv_lists_them(monkeypatch, bank_db_url, tmp_path):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    exam_id = json.loads(runner.invoke(app, ["exams", "create", "--blueprint", "560003-L2", "--format", "json"]).stdout)["id"]
    path = tmp_path / "名单.csv"
    path.write_bytes(roster_csv(4).decode().encode("gb18030"))  # as Excel on Chinese Windows saves it
    r = runner.invoke(app, ["exams", "roster", "import", str(exam_id), str(path)])
    assert r.exit_code == 0 and "新增 4 名" in r.output
    again = runner.invoke(app, ["exams", "roster", "import", str(exam_id), str(path)])
    assert "新增 0 名" in again.output and "名单共 4 名" in again.output
    out = runner.invoke(app, ["exams", "tickets", str(exam_id), "--format", "csv"])
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert rows[0] == ["准考证号", "姓名", "访问码", "考场", "座位号", "考试时间"]
    assert [r[0] for r in rows[1:]] == ["T0001", "T0002", "T0003", "T0004"]
    codes = [r[2] for r in rows[1:]]
    assert len(set(codes)) == 4 and all(len(c) == 8 and c.isalnum() for c in codes)


def test_a_bad_roster_names_row_and_field_and_adds_nobody(api, exam):
    exam_id, tickets = exam
    bad = "准考证号,姓名,身份证号后四位\nX1,甲,1234\nX1,乙,12\n,丙,\n".encode()
    r = api.post(f"/api/v1/exams/{exam_id}/roster", files={"file": ("bad.csv", bad)})
    assert r.status_code == 422
    got = {(p["location"], p["field"]) for p in r.json()["problems"]}
    assert got == {("第 3 行", "准考证号"), ("第 3 行", "身份证号后四位"), ("第 4 行", "准考证号")}
    assert len(api.get(f"/api/v1/exams/{exam_id}/tickets").json()) == len(tickets)


def test_an_xlsx_roster_imports(api, exam):
    exam_id, tickets = exam
    wb = Workbook()
    ws = wb.active
    ws.append(["准考证号", "姓名", "考场"])
    ws.append([20260001, "周婷", "二号考场"])  # Excel turns ticket numbers into numbers
    buf = io.BytesIO()
    wb.save(buf)
    r = api.post(f"/api/v1/exams/{exam_id}/roster", files={"file": ("名单.xlsx", buf.getvalue())})
    assert r.status_code == 200 and r.json()["added"] == 1
    assert "20260001" in [t["ticket"] for t in api.get(f"/api/v1/exams/{exam_id}/tickets").json()]


def test_the_proctor_pages_show_the_monitor_and_printable_tickets(api, exam):
    exam_id, tickets = exam
    page = api.get(f"/proctor/exams/{exam_id}")
    assert page.status_code == 200 and tickets[0]["ticket"] in page.text and "未登录" in page.text
    printable = api.get(f"/proctor/exams/{exam_id}/tickets")
    assert all(t["access_code"] in printable.text for t in tickets)
    assert "@page { size: A4" in printable.text


def test_pages_show_the_window_in_beijing_time(api, exam, bank_db):
    from examengine.db.models import Exam

    exam_id, _ = exam
    row = bank_db.get(Exam, exam_id)
    row.window_start = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)  # 09:30 in Beijing
    row.window_end = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # midnight in Beijing
    bank_db.commit()
    page = api.get(f"/proctor/exams/{exam_id}").text
    assert "2026-12-01 09:30 至 2026-12-02 00:00（北京时间）" in page
