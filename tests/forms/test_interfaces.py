"""The same services through the CLI, the JSON API and the proctor page."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from examengine.cli import app
from examengine.config import Settings
from tests.conftest import REPO, staff_client


def test_the_cli_assembles_forms_and_lists_them_as_json(bank_db_url, monkeypatch):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    runner = CliRunner()
    r = runner.invoke(app, ["forms", "assemble", "--blueprint", "530046-L1", "--forms", "2", "--length", "20",
                            "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [f["code"] for f in data["forms"]] == ["A", "B"]
    assert all(len(f["items"]) == 20 and f["id"] for f in data["forms"])
    r = runner.invoke(app, ["forms", "assemble", "--blueprint", "530046-L2", "--forms", "4", "--length", "60"])
    assert r.exit_code == 1 and "缺 40 道" in r.output
    r = runner.invoke(app, ["forms", "list", "--format", "json"])
    assert [f["code"] for f in json.loads(r.stdout)] == ["A", "B"]


def test_the_api_explains_an_infeasible_request_with_a_422(bank_db_url):
    c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO))
    try:
        r = c.post("/api/v1/forms/assemble", json={"blueprint": "530046-L2", "forms": 4, "length": 60})
        assert r.status_code == 422
        assert any("530046-L2-1" in p["message"] for p in r.json()["problems"])
        r = c.post("/api/v1/forms/assemble", json={"blueprint": "530046-L1", "forms": 2, "length": 20})
        assert r.status_code == 200, r.text
        form_id = r.json()["forms"][1]["id"]
        assert c.get(f"/api/v1/forms/{form_id}").json()["code"] == "B"
    finally:
        c.__exit__(None, None, None)


def test_the_proctor_page_assembles_previews_and_serves_the_key(bank_db_url):
    c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO))
    try:
        r = c.post("/proctor/forms/assemble", data={"blueprint": "530046-L2", "forms": "4", "length": "60"})
        assert r.status_code == 422 and "缺 12 道" in r.text
        r = c.post("/proctor/forms/assemble", data={"blueprint": "530046-L1", "forms": "2", "length": "20"},
                   follow_redirects=True)
        assert r.status_code == 200 and "试卷 A" in r.text and 'id="items"' in r.text
        assert r.text.count("<tr><td>") >= 20 + 2  # 20 items and the information of both forms
        key = c.get(r.url.path + "/key.pdf")
        assert key.status_code == 200 and key.content.startswith(b"%PDF")
        assert "试卷 A" in c.get("/proctor/forms").text
    finally:
        c.__exit__(None, None, None)


def test_the_proctor_form_page_shows_true_false_keys_as_dui_and_cuo(bank_db_url, bank_db, l1_forms):
    import re

    form = l1_forms.forms[0]
    c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO))
    try:
        page = c.get(f"/proctor/forms/{form.id}").text
    finally:
        c.__exit__(None, None, None)
    rows = {int(m.group(1)): (m.group(2), m.group(3)) for m in re.finditer(
        r"<tr><td>(\d+)</td><td>[^<]*</td><td>([^<]*)</td><td>[^<]*</td><td>[^<]*</td><td>([^<]*)</td></tr>", page)}
    assert len(rows) == form.length
    for it in form.items:
        item_type, key = rows[it.position]
        assert item_type == it.type
        assert key == ({"A": "对", "B": "错"}["".join(it.key)] if it.type == "判断" else "".join(it.key))
    assert any(t == "判断" for t, _ in rows.values())


def test_printed_pdfs_are_named_for_the_form_and_the_document(bank_db_url, bank_db, l1_forms):
    from urllib.parse import quote

    def names(response) -> str:
        assert response.status_code == 200 and response.content.startswith(b"%PDF"), response.text
        return response.headers["content-disposition"]

    a, b = l1_forms.forms
    c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO))
    try:
        page = names(c.get(f"/proctor/forms/{a.id}/booklet.pdf"))
        assert page.startswith("inline;") and f"filename*=UTF-8''{quote('530046-L1-试卷A-试题册.pdf')}" in page
        assert 'filename="530046-L1-form-A-booklet.pdf"' in page
        other = names(c.get(f"/proctor/forms/{b.id}/booklet.pdf"))
        assert quote("530046-L1-试卷B-试题册.pdf") in other  # not a second "booklet.pdf"
        sheets = names(c.get(f"/api/v1/forms/{a.id}/sheets.pdf", params={"exam": 1}))
        assert sheets.startswith("attachment;") and quote("530046-L1-试卷A-考试1-答题卡.pdf") in sheets
        assert quote("530046-L1-试卷A-答案与换算表.pdf") in names(c.get(f"/api/v1/forms/{a.id}/key.pdf"))
    finally:
        c.__exit__(None, None, None)


def test_the_form_pages_information_columns_name_their_theta(bank_db_url, bank_db, l1_forms):
    import re

    c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO))
    try:
        page = c.get(f"/proctor/forms/{l1_forms.forms[0].id}").text
    finally:
        c.__exit__(None, None, None)
    table = page[page.index('<table id="information">'):]
    heads = re.findall(r"<th>([^<]*)</th>", table[:table.index("</thead>")])
    # 530046-L1's cuts: 初级 -1, 中级 0, 高级 1
    assert heads == ["试卷", "θ = −1（初级分数线）", "θ = 0（中级分数线）", "θ = 1（高级分数线）"]
    assert "测验信息量" in table[:table.index("</thead>")]


def test_a_theta_that_is_no_cut_is_named_by_its_place_on_the_scale():
    from examengine.services.forms import information_points

    labels = [p.label for p in information_points([-0.5, 0.0, 1.25], [-0.5, 1.25], ["初级", "中级"])]
    assert labels == ["θ = −0.5（初级分数线）", "θ = 0（量表中点）", "θ = 1.25（中级分数线）"]
