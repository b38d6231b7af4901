"""A JSON item set holding values of the wrong JSON type is refused by the API with a 422 and by
``examengine items import --dry-run`` with exit code 1, each problem naming the item (number and
id) and the field; nothing is written (issue #26: "requirements": 5 was a 500)."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from typer.testing import CliRunner

from examengine.cli import app
from examengine.db.models import Item

CODE = "530046-L1-1.1.1"


def item(ident: str, **changes) -> dict:
    return {"id": ident, "type": "单选", "stem": f"{ident} 的题干（　）", "options": ["甲", "乙", "丙", "丁"],
            "key": "B", "requirements": [CODE], **changes}


MALFORMED = json.dumps({"format": "examengine.itemset/1", "items": [
    item("T-1", requirements=5),
    item("T-2", images=5),
    item("T-3", options="abc"),
    item("T-4", key={}),
    item("T-5", stem=3),
    item("T-6", irt={"model": "3PL", "a": 10 ** 400, "b": 0}),
    item("T-7", difficulty=-1),
    item("T-8", images=[{"name": "a.png", "data_base64": 5}]),
    item("T-9"),  # a good one: not named
]}, ensure_ascii=False).encode()

EXPECTED = {
    ("第 1 题（T-1）", "职业技能要求"), ("第 2 题（T-2）", "图片"), ("第 3 题（T-3）", "选项"), ("第 4 题（T-4）", "答案"),
    ("第 5 题（T-5）", "题干"), ("第 6 题（T-6）", "区分度a"), ("第 7 题（T-7）", "难度"), ("第 8 题（T-8）", "图片"),
}


def test_the_api_answers_a_json_item_set_with_malformed_types_with_a_422_naming_each_item_and_field(client, db):
    r = client.post("/api/v1/item-sets", files={"file": ("题目.json", MALFORMED)})
    assert r.status_code == 422, r.text
    problems = r.json()["problems"]
    assert {(p["location"], p["field"]) for p in problems} == EXPECTED
    assert {p["file"] for p in problems} == {"题目.json"}
    first = next(p for p in problems if p["location"] == "第 1 题（T-1）")
    assert first["message"] == "requirements 应为职业技能要求代码的列表（或一个代码），实际为整数 5"
    assert db.scalar(select(func.count()).select_from(Item)) == 0


def test_the_api_answers_a_top_level_list_with_a_422(client):
    r = client.post("/api/v1/item-sets", files={"file": ("题目.json", json.dumps([item("T-1")]).encode())},
                    data={"dry_run": "true"})
    assert r.status_code == 422
    [p] = r.json()["problems"]
    assert (p["location"], p["field"]) == ("", "items") and "实际为列表（1 项）" in p["message"]


def test_the_cli_dry_run_of_a_json_item_set_with_malformed_types_exits_1_naming_each_item_and_field(cli_env, tmp_path):
    path = tmp_path / "题目.json"
    path.write_bytes(MALFORMED)
    result = CliRunner().invoke(app, ["items", "import", str(path), "--dry-run"])
    assert result.exit_code == 1, result.output
    assert f"数据有误，未写入任何内容（{len(EXPECTED)} 处）" in result.output
    for location, field in EXPECTED:
        assert f"题目.json, {location}, {field}: " in result.output
    assert "题目.json, 第 1 题（T-1）, 职业技能要求: requirements 应为职业技能要求代码的列表" in result.output


def test_the_writers_upload_page_lists_the_malformed_types_by_item_and_field(client):
    r = client.post("/writer/upload", files={"file": ("题目.json", MALFORMED)})
    assert r.status_code == 200 and "检查通过" not in r.text  # the stored report, after the redirect
    assert "第 1 题（T-1）" in r.text and "requirements 应为职业技能要求代码的列表" in r.text
    assert "第 8 题（T-8）" in r.text and "images[1].data_base64" in r.text
