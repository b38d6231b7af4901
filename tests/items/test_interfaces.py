"""The item bank through the CLI and the JSON API."""

from __future__ import annotations

import json

from openpyxl import load_workbook
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from examengine.cli import app
from examengine.db.models import Item
from examengine.itemfiles.tables import HEADERS, write_csv, write_xlsx
from tests.conftest import REPO

runner = CliRunner()


def n_items(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.scalar(select(func.count()).select_from(Item))
    engine.dispose()
    return n


def test_cli_import_of_a_bad_file_exits_1_naming_row_and_field_and_writes_nothing(cli_env, tmp_path, sample_drafts):
    import dataclasses

    rows = list(sample_drafts[:5])
    rows[2] = dataclasses.replace(rows[2], requirements=("530046-L9-1.1.1",))
    path = tmp_path / "坏文件.xlsx"
    path.write_bytes(write_xlsx(rows))
    result = runner.invoke(app, ["items", "import", str(path)])
    assert result.exit_code == 1
    assert "坏文件.xlsx, 工作表“题目”第 4 行, 职业技能要求" in result.output
    assert "530046-L9-1.1.1" in result.output
    assert n_items(cli_env) == 0


def test_cli_dry_run_then_import(cli_env, tmp_path, sample_drafts):
    path = tmp_path / "good.csv"
    path.write_bytes(write_csv(sample_drafts[:7]))
    dry = runner.invoke(app, ["items", "import", str(path), "--dry-run"])
    assert dry.exit_code == 0 and "未写入" in dry.output and "新增 7" in dry.output
    assert n_items(cli_env) == 0
    real = runner.invoke(app, ["items", "import", str(path), "--format", "json"])
    assert real.exit_code == 0
    assert json.loads(real.output)["created"] == 7
    assert n_items(cli_env) == 7


def test_cli_template_writes_an_xlsx_with_chinese_headers_and_an_instruction_sheet(tmp_path):
    out = tmp_path / "t.xlsx"
    result = runner.invoke(app, ["items", "template", "--format", "xlsx", "--out", str(out)])
    assert result.exit_code == 0
    wb = load_workbook(out)
    assert wb.sheetnames == ["题目", "填写说明"]
    assert [c.value for c in wb["题目"][1]] == list(HEADERS)
    assert wb["题目"].max_row == 1  # no sample rows to import by mistake
    notes = {r[0].value: r[2].value for r in wb["填写说明"].iter_rows(min_row=2) if r[0].value}
    assert "正确" in notes["答案"] and "多个代码用分号" in notes["职业技能要求代码"]
    csv_out = tmp_path / "t.csv"
    assert runner.invoke(app, ["items", "template", "--format", "csv", "--out", str(csv_out)]).exit_code == 0
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbf" + "题目编号".encode())


def test_cli_bank_coverage_json_lists_every_requirement(monkeypatch, bank_db_url):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    result = runner.invoke(app, ["bank", "coverage", "--format", "json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert len(rows) == 313
    assert all({"code", "draft", "review", "pretest", "operational", "retired"} <= set(r) for r in rows)
    assert all(r["operational"] >= 2 for r in rows)


def test_cli_refused_transition_exits_1_with_the_reason(monkeypatch, bank_db_url):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    result = runner.invoke(app, ["items", "transition", "530046-L1-001", "draft"])
    assert result.exit_code == 1
    assert "不能从“正式使用”变为“草稿”" in result.output
    ok = runner.invoke(app, ["items", "transition", "530046-L1-001", "retired", "--note", "过时"])
    assert ok.exit_code == 0 and "已退役" in ok.output


def test_cli_export_writes_a_package(monkeypatch, bank_db_url, tmp_path):
    import zipfile

    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    out = tmp_path / "l1.zip"
    result = runner.invoke(app, ["items", "export", "--format", "qti3", "--out", str(out), "--code", "530046-L1"])
    shipped = len(json.loads((REPO / "itembank" / "530046-L1.json").read_text(encoding="utf-8"))["items"])
    assert result.exit_code == 0 and f"已导出 {shipped} 道题" in result.output
    assert "imsmanifest.xml" in zipfile.ZipFile(out).namelist()


def test_api_upload_good_file(client, sample_drafts):
    r = client.post("/api/v1/item-sets", files={"file": ("s.xlsx", write_xlsx(sample_drafts[:4]))})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 4
    detail = client.get(f"/api/v1/items/{sample_drafts[0].external_id}").json()
    assert detail["status"] == "draft" and detail["events"][0]["actor"] == "admin-test"  # the signed-in writer


def test_api_upload_bad_file_is_a_422_listing_every_problem(client, sample_drafts):
    import dataclasses

    rows = [dataclasses.replace(sample_drafts[0], stem=""), sample_drafts[1],
            dataclasses.replace(sample_drafts[2], requirements=("x",))]
    r = client.post("/api/v1/item-sets", files={"file": ("bad.xlsx", write_xlsx(rows))})
    assert r.status_code == 422
    got = {(p["location"], p["field"]) for p in r.json()["problems"]}
    assert got == {("工作表“题目”第 2 行", "题干"), ("工作表“题目”第 4 行", "职业技能要求")}
    assert client.get("/api/v1/items").json()["total"] == 0


def test_api_transitions_and_coverage(client, sample_drafts):
    client.post("/api/v1/item-sets", files={"file": ("s.xlsx", write_xlsx(sample_drafts[:1]))})
    ext = sample_drafts[0].external_id
    refused = client.post(f"/api/v1/items/{ext}/transitions", json={"to": "retired"})
    assert refused.status_code == 409 and "不能从" in refused.json()["message"]
    ok = client.post(f"/api/v1/items/{ext}/transitions", json={"to": "review"})
    assert ok.status_code == 200 and ok.json()["status"] == "review"
    code = sample_drafts[0].requirements[0]
    [row] = client.get("/api/v1/bank/coverage", params={"code": code}).json()
    assert (row["code"], row["review"], row["draft"]) == (code, 1, 0)
    assert client.get("/api/v1/items/NOPE").status_code == 404
