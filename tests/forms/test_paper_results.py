"""Paper results in the open (issue 21, point 5): each candidate's paper result with its form,
score, band, 暂定 mark, flags from reading and review, who scored it, when and from which file,
and the roster candidates without one: on the proctor's page, through the API and the CLI."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from examengine.cli import app
from examengine.config import Settings
from examengine.db.forms_models import PaperResult
from examengine.db.models import Candidate
from examengine.services import forms as svc
from tests.conftest import REPO, staff_client
from tests.forms.test_scoring import answer_string

DEMO = 1  # the demo exam (530046-L1): DEMO0001-DEMO0005, room 演示考场
FLAGS = ["第 3 题 多涂，已复核为 B", "第 7 题 未作答"]


def _upload(exam_forms, tickets, p_right=(0.9, 0.5, 0.1)) -> bytes:
    rng = np.random.default_rng(7)
    lines = ["准考证号,试卷,答案"]
    for k, t in enumerate(tickets):
        form = exam_forms.forms[k % 2]
        lines.append(f'{t},{form.code},"{answer_string(form, rng, p_right[k % len(p_right)])}"')
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def scored(bank_db, l1_forms):
    """Both forms printed for the demo exam, three of its five candidates scored by 阅卷员 from
    答案.csv, and the second one's result carrying what a scanned and reviewed sheet records."""
    for f in l1_forms.forms:
        svc.print_form(bank_db, f.id, booklet=False, sheets=False, key=True, exam_id=DEMO, actor="test")
    data = _upload(l1_forms, ["DEMO0001", "DEMO0002", "DEMO0003"])
    svc.score_paper(bank_db, DEMO, "答案.csv", data, actor="阅卷员")
    row = bank_db.scalars(select(PaperResult).join(Candidate).where(Candidate.ticket == "DEMO0002")).one()
    row.result = {**row.result, "flags": FLAGS, "corrected": 2}
    bank_db.commit()
    return l1_forms


def test_the_service_lists_each_result_with_its_scorer_source_flags_and_the_candidates_without_one(bank_db, scored):
    v = svc.paper_results_view(bank_db, DEMO)
    assert [r.ticket for r in v.rows] == ["DEMO0001", "DEMO0002", "DEMO0003"]
    assert [(c.ticket, c.room) for c in v.without_result] == [("DEMO0004", "演示考场"), ("DEMO0005", "演示考场")]
    assert (v.roster, v.flagged) == (5, 1)
    for r in v.rows:
        assert r.room == "演示考场" and r.scored_by == "阅卷员" and r.source_file == "答案.csv"
        assert r.source.startswith("答案.csv sha256:") and r.registered_level == "初级"
        assert r.form in ("A", "B") and r.form_id in {f.id for f in scored.forms}
        assert abs(datetime.fromisoformat(r.scored_at) - datetime.now(UTC)) < timedelta(minutes=5)
        assert r.band_name in ("未达初级", "初级", "中级", "高级") and 0 <= r.score <= 100
    flagged = {r.ticket: r for r in v.rows}
    assert flagged["DEMO0002"].flags == FLAGS and flagged["DEMO0002"].corrected == 2
    assert flagged["DEMO0001"].flags == [] and flagged["DEMO0001"].corrected is None
    # the sample bank's parameters are provisional: every paper result is 暂定, and counted
    assert v.provisional == 3 and all(r.provisional for r in v.rows)


def test_the_proctor_page_shows_results_flags_and_who_has_none_and_is_linked_from_the_exam_and_forms_pages(
        bank_db_url, scored):
    c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO))
    try:
        page = c.get(f"/proctor/exams/{DEMO}/paper-results")
        assert page.status_code == 200, page.text
        text = page.text
        table = text[text.index('<table id="paper-results">'):text.index("</table>")]
        assert table.count('<tr data-ticket="') == 3 and "阅卷员" in table and "答案.csv" in table
        row2 = table[table.index('data-ticket="DEMO0002"'):]
        row2 = row2[:row2.index("</tr>")]
        assert all(f in row2 for f in FLAGS) and "复核更正 2 题" in row2 and 'class="flagged"' in text
        assert "暂定" in table and "演示考场" in table
        missing = text[text.index('<table id="without-paper-result"'):]
        assert 'data-ticket="DEMO0004"' in missing and 'data-ticket="DEMO0005"' in missing
        assert 'data-ticket="DEMO0001"' not in missing
        link = f'href="/proctor/exams/{DEMO}/paper-results"'
        assert link in c.get(f"/proctor/exams/{DEMO}").text
        assert link in c.get("/proctor/forms").text
        # after scoring on the forms page, the message links to the results
        r = c.post("/proctor/forms/score", data={"exam": str(DEMO)},
                   files={"file": ("再评.csv", _upload(scored, ["DEMO0004"]))})
        assert r.status_code == 200 and 'id="scored-results"' in r.text and link in r.text
        assert 'data-ticket="DEMO0004"' in c.get(f"/proctor/exams/{DEMO}/paper-results").text.split(
            '<table id="paper-results">')[1].split("</table>")[0]
        # a second file for a candidate already scored from 答案.csv says so, and the row keeps saying so
        r = c.post("/proctor/forms/score", data={"exam": str(DEMO)},
                   files={"file": ("补录.csv", _upload(scored, ["DEMO0001"], p_right=(0.2,)))})
        assert "其中 1 名替换了另一来源的先前成绩（DEMO0001），先前成绩保留在记录中" in r.text
        table = c.get(f"/proctor/exams/{DEMO}/paper-results").text.split('<table id="paper-results">')[1]
        row1 = table[table.index('data-ticket="DEMO0001"'):]
        row1 = row1[:row1.index("</tr>")]
        assert 'class="flagged"' in row1 and "替换了此前的成绩（来源 答案.csv，评分人 阅卷员，答对 " in row1
        assert re.search(r"，评分于 \d{4}-\d\d-\d\d \d\d:\d\d</p>", row1)  # in the centre's zone, as the row's own time
        assert "补录.csv" in row1
    finally:
        c.__exit__(None, None, None)


def test_the_api_keeps_its_list_and_adds_the_new_fields_and_an_overview(bank_db_url, scored):
    c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO))
    try:
        rows = c.get(f"/api/v1/exams/{DEMO}/paper-results").json()
        assert isinstance(rows, list) and len(rows) == 3
        old = {"ticket", "name", "form", "raw_score", "n_items", "omitted", "theta", "se", "band_name", "passed",
               "score", "provisional"}
        assert old <= set(rows[0])  # what clients read before stays
        assert rows[1]["flags"] == FLAGS and rows[1]["corrected"] == 2 and rows[1]["scored_by"] == "阅卷员"
        view = c.get(f"/api/v1/exams/{DEMO}/paper-results/overview").json()
        assert [x["ticket"] for x in view["without_result"]] == ["DEMO0004", "DEMO0005"]
        assert view["roster"] == 5 and len(view["rows"]) == 3
        assert c.get("/api/v1/exams/999/paper-results/overview").status_code == 404
    finally:
        c.__exit__(None, None, None)


def test_a_proctor_of_another_exam_sees_neither_page_nor_overview(bank_db_url, scored):
    c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO), "p-fremd", "proctor")
    try:
        c.follow_redirects = False
        assert c.get(f"/api/v1/exams/{DEMO}/paper-results/overview").status_code == 403
        assert c.get(f"/proctor/exams/{DEMO}/paper-results").status_code == 403
    finally:
        c.__exit__(None, None, None)


def test_the_cli_lists_the_results_as_a_table_and_as_json(monkeypatch, bank_db_url, scored):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    runner = CliRunner()
    r = runner.invoke(app, ["forms", "results", str(DEMO), "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [x["ticket"] for x in data["rows"]] == ["DEMO0001", "DEMO0002", "DEMO0003"]
    assert data["rows"][1]["flags"] == FLAGS and data["rows"][0]["source_file"] == "答案.csv"
    assert [x["ticket"] for x in data["without_result"]] == ["DEMO0004", "DEMO0005"]
    r = runner.invoke(app, ["forms", "results", str(DEMO)], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    # the console's width is fixed when the CLI module is first imported (80 columns in an xdist
    # worker), so the table may fold its cells: check the words that stand outside the table
    assert "名单上没有纸笔成绩的考生 2 名：" in r.output and "有标记 1 名" in r.output
    assert data["rows"][1]["corrected"] == 2
    r = runner.invoke(app, ["forms", "results", "999"])
    assert r.exit_code == 1 and "999" in r.output
