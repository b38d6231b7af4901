"""Assigning forms through the CLI, the JSON API and the exam page (and who may); the key
balance in `forms show`, the API's form view and the form page."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from examengine.app import create_app
from examengine.cli import app as cli_app
from examengine.config import Settings
from tests.conftest import REPO, sign_in, staff_client


def test_the_cli_assigns_by_seat_and_shows_each_candidates_form(bank_db_url, l1_pair, seated_exam, monkeypatch):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    runner = CliRunner()
    r = runner.invoke(cli_app, ["forms", "assign", str(seated_exam), "--assembly", str(l1_pair.id), "--by", "seat",
                                "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["counts"] == {"A": 5, "B": 4} and data["rule"] == "seat"
    assert {c["ticket"]: c["form"] for c in data["candidates"]}["T02"] == "A"  # seat 1 of room 1
    r = runner.invoke(cli_app, ["forms", "assign", str(seated_exam), "--assembly", str(l1_pair.id), "--by", "room"])
    assert r.exit_code == 0, r.output
    assert "按考场轮换分配" in r.output and "试卷 A 6 名" in r.output and "T08" in r.output
    r = runner.invoke(cli_app, ["forms", "assign", str(seated_exam), "--assembly", str(l1_pair.id), "--by", "desk"])
    assert r.exit_code == 1 and "desk" in r.output
    b = l1_pair.forms[1].id
    r = runner.invoke(cli_app, ["forms", "assign", str(seated_exam), "--form", str(b), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["counts"] == {"B": 9}  # one form: everyone on it
    r = runner.invoke(cli_app, ["forms", "assign", str(seated_exam)])
    assert r.exit_code == 1 and "请指定组卷编号或试卷编号之一" in r.output


def test_forms_show_and_assemble_report_the_keys_balance(bank_db_url, l1_pair, monkeypatch):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    runner = CliRunner()
    form = l1_pair.forms[0]
    r = runner.invoke(cli_app, ["forms", "show", str(form.id)])
    assert r.exit_code == 0 and f"答案分布：{form.key_balance_text}" in r.output.replace("\n", "")
    counts = form.key_balance.single
    assert "单选答案 " + " · ".join(f"{k} {n}" for k, n in counts.items()) in form.key_balance_text
    r = runner.invoke(cli_app, ["forms", "show", str(form.id), "--format", "json"])
    assert json.loads(r.stdout)["key_balance"]["single"] == counts
    r = runner.invoke(cli_app, ["forms", "assemble", "--blueprint", "530046-L1", "--forms", "2", "--length", "20"])
    assert r.exit_code == 0, r.output
    assert "答案均衡：每套单选题答案 A、B、C、D 各占 20%–30%" in r.output and "试卷 B：单选答案 A" in r.output


def test_the_api_assigns_for_the_exams_proctor_only_and_lists_the_roster_with_forms(bank_db_url, l1_pair, seated_exam):
    app = create_app(Settings(database_url=bank_db_url, data_dir=REPO))
    with TestClient(app, headers={"origin": "http://testserver"}) as admin, \
            TestClient(app, headers={"origin": "http://testserver"}) as proctor:
        sign_in(admin, bank_db_url, "adm-assign", "admin")
        sign_in(proctor, bank_db_url, "p-assign", "proctor")
        url = f"/api/v1/exams/{seated_exam}/form-assignments"
        assert proctor.post(url, json={"assembly": l1_pair.id, "by": "seat"}).status_code == 403
        assert proctor.get(url).status_code == 403
        r = admin.post(url, json={"assembly": l1_pair.id, "by": "column"})
        assert r.status_code == 200, r.text
        assert r.json()["counts"] == {"A": 5, "B": 4}
        roster = {c["ticket"]: c["form"] for c in admin.get(url).json()}
        assert roster["T01"] == "A" and roster["T02"] == "B"
        assert admin.post(url, json={"assembly": l1_pair.id, "by": "desk"}).status_code == 422
        # neither or both sources of forms: the request's shape is wrong (422 naming it), not a 400 (schemathesis)
        r = admin.post(url, json={})
        assert r.status_code == 422 and "assembly" in r.text
        assert admin.post(url, json={"assembly": l1_pair.id, "forms": [l1_pair.forms[0].id]}).status_code == 422
        form = admin.get(f"/api/v1/forms/{l1_pair.forms[0].id}").json()
        assert form["key_balance"]["true_false"] == {"对": sum(1 for i in form["items"] if i["type"] == "判断" and i["key"] == ["A"]),
                                                     "错": sum(1 for i in form["items"] if i["type"] == "判断" and i["key"] == ["B"])}
        # a proctor sees no keys, and no counts of them either
        assert proctor.get(f"/api/v1/forms/{l1_pair.forms[0].id}").json()["key_balance"] is None


def test_the_exam_page_assigns_forms_and_shows_each_candidates_form(bank_db_url, l1_pair, seated_exam):
    c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO))
    try:
        page = c.get(f"/proctor/exams/{seated_exam}").text
        assert 'id="assign-forms"' in page and f'<option value="{l1_pair.id}">' in page
        assert 'id="form-assignments"' not in page and "还没有为考生分配试卷" in page
        r = c.post(f"/proctor/exams/{seated_exam}/form-assignments", data={"assembly": str(l1_pair.id), "by": "room"},
                   follow_redirects=True)
        assert r.status_code == 200 and "已按考场轮换分配试卷：试卷 A 6 名，试卷 B 3 名" in r.text
        table = r.text[r.text.index('<table id="form-assignments">'):]
        rows = dict(re.findall(r"<tr><td>(T\d+)</td>.*?<td class=\"form-code\">([^<]*)</td>", table))
        assert rows == {"T01": "A", "T02": "A", "T03": "A", "T04": "A", "T05": "A", "T06": "B", "T07": "B",
                        "T08": "B", "T09": "A"}
        r = c.post(f"/proctor/exams/{seated_exam}/form-assignments", data={"assembly": "999", "by": "room"},
                   follow_redirects=True)
        assert "未分配试卷：未找到组卷：999" in r.text
        # once forms are assigned, the form offers (ticked) to assign only the unassigned
        assert re.search(r'name="only_unassigned" value="true" checked', r.text)
        c.post("/api/v1/exams/%d/roster" % seated_exam, files={"file": ("补.csv", "准考证号,姓名,考场\nT40,新人,第2考场\n".encode())})
        r = c.post(f"/proctor/exams/{seated_exam}/form-assignments",
                   data={"assembly": str(l1_pair.id), "by": "seat", "only_unassigned": "true"}, follow_redirects=True)
        assert "（1 名有变化）" in r.text, r.text[:2000]
        table = r.text[r.text.index('<table id="form-assignments">'):]
        after = dict(re.findall(r"<tr><td>(T\d+)</td>.*?<td class=\"form-code\">([^<]*)</td>", table))
        assert {t: after[t] for t in rows} == rows and after["T40"] in ("A", "B")
        form_page = c.get(f"/proctor/forms/{l1_pair.forms[0].id}").text
        assert 'id="key-balance"' in form_page and "同一答案最长连续" in form_page
    finally:
        c.__exit__(None, None, None)
