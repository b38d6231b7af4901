"""Issue 19: the item checker where people meet it — `items check`, an upload's check report
(findings beside the errors, blocking only by the centre's setting), the item page, and review
by a second person (the queue, comments kept in the item's history)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from examengine.app import create_app
from examengine.cli import app as cli_app
from examengine.config import Settings
from tests.conftest import STAFF_PASSWORD, ensure_staff

CODE = "530046-L1-1.3.1"


def item(ident: str, **fields) -> dict:
    base = {"id": ident, "type": "单选", "stem": "某团购店铺做用户获取，希望提升新用户到店率，运营人员最先应查看的数据是（　）",
            "options": ["曝光到进店的转化率", "员工每周的排班表", "门店装修的预算表", "供应商的结算账期"], "key": "A",
            "explanation": "先看漏斗首个环节。", "requirements": [CODE], "difficulty": 2}
    return {**base, **fields}


FLAWED_MR = item("Q-MR", type="多选", stem="下列属于用户获取渠道的有（　）",
                 options=["社群裂变", "搜索推广", "线下地推", "内容种草", "财务报销"], key="ABCD")
ALL_ABOVE = item("Q-ALL", stem="直播复盘时，需要逐场记录的指标有哪一项（　）",
                 options=["平均停留时长", "商品点击率", "成交转化率", "以上都对"], key="D")
CLEAN = item("Q-OK")


def item_set(*items: dict) -> bytes:
    return json.dumps({"format": "examengine.itemset/1", "title": "检查", "author": "测试", "source": "测试",
                       "items": list(items)}, ensure_ascii=False).encode()


def client(app, url: str, username: str, role: str) -> TestClient:
    ensure_staff(url, username, role)
    c = TestClient(app, headers={"origin": "http://testserver"})
    c.__enter__()
    token = c.post("/api/v1/sessions", json={"username": username, "password": STAFF_PASSWORD}).json()["token"]
    c.headers["Authorization"] = f"Bearer {token}"
    return c


@pytest.fixture
def people(settings):
    app = create_app(settings)
    out = {"writer": client(app, settings.database_url, "writer-1", "item_writer"),
           "reviewer": client(app, settings.database_url, "reviewer-1", "reviewer")}
    yield out
    for c in out.values():
        c.__exit__(None, None, None)


def upload(c: TestClient, data: bytes, **form):
    return c.post("/api/v1/item-sets", files={"file": ("set.json", data)}, data=form)


def test_items_check_names_each_flawed_item_and_rule_and_exits_1_on_an_error(cli_env, tmp_path):
    path = tmp_path / "set.json"
    path.write_bytes(item_set(FLAWED_MR, ALL_ABOVE, CLEAN))
    result = CliRunner().invoke(cli_app, ["items", "check", str(path), "--format", "json"])
    assert result.exit_code == 1, result.output
    rows = json.loads(result.stdout)
    assert {(r["item"], r["rule"]) for r in rows if r["severity"] == "error"} == {
        ("Q-MR", "mr-few-wrong"), ("Q-ALL", "all-of-above")}
    assert all(set(r) == {"item", "rule", "severity", "message", "evidence"} for r in rows)
    assert not [r for r in rows if r["item"] == "Q-OK"]
    path.write_bytes(item_set(CLEAN))
    clean = CliRunner().invoke(cli_app, ["items", "check", str(path), "--format", "json"])
    assert clean.exit_code == 0 and json.loads(clean.stdout) == []


def test_a_file_that_cannot_be_read_is_an_error_naming_the_place(cli_env, tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(item_set(item("Q-BAD", key="Z")))
    result = CliRunner().invoke(cli_app, ["items", "check", str(path)])
    assert result.exit_code == 1 and "Q-BAD" in result.output and "答案" in result.output


def test_findings_come_with_the_dry_run_report_and_do_not_block_the_import(people):
    data = item_set(FLAWED_MR, CLEAN)
    report = upload(people["writer"], data, dry_run="true")
    assert report.status_code == 200
    assert {(f["item"], f["rule"], f["severity"]) for f in report.json()["findings"]} >= {
        ("Q-MR", "mr-few-wrong", "error")}
    done = upload(people["writer"], data)
    assert done.status_code == 200 and done.json()["created"] == 2


def test_the_centres_setting_makes_findings_block_and_nothing_is_written(db_url):
    app = create_app(Settings(database_url=db_url, item_findings_block="error"))
    c = client(app, db_url, "writer-2", "item_writer")
    r = upload(c, item_set(FLAWED_MR, CLEAN))
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert [(p["location"], p["field"]) for p in problems] == [("第 1 题（Q-MR）", "命题检查：mr-few-wrong")]
    assert c.get("/api/v1/items").json()["total"] == 0
    assert upload(c, item_set(CLEAN)).status_code == 200  # warnings do not block at "error"
    c.__exit__(None, None, None)


def test_the_writers_upload_page_shows_the_findings_beside_the_report(people):
    r = people["writer"].post("/writer/upload", files={"file": ("set.json", item_set(ALL_ABOVE, CLEAN))})
    assert r.status_code == 200 and "检查通过" in r.text
    assert 'id="findings"' in r.text and "Q-ALL" in r.text and "以上都对" in r.text


def test_review_by_a_second_person_with_the_queue_and_comments_in_the_history(people):
    writer, reviewer = people["writer"], people["reviewer"]
    assert upload(writer, item_set(FLAWED_MR, CLEAN)).status_code == 200
    for ident in ("Q-MR", "Q-OK"):
        assert writer.post(f"/api/v1/items/{ident}/transitions", json={"to": "review"}).status_code == 200

    mine = {e["external_id"]: e for e in writer.get("/api/v1/bank/review-queue").json()}
    theirs = {e["external_id"]: e for e in reviewer.get("/api/v1/bank/review-queue").json()}
    assert set(mine) == set(theirs) == {"Q-MR", "Q-OK"}
    assert mine["Q-MR"]["own"] and not theirs["Q-MR"]["own"] and theirs["Q-MR"]["submitted_by"] == "writer-1"
    assert [f["rule"] for f in theirs["Q-MR"]["findings"] if f["severity"] == "error"] == ["mr-few-wrong"]

    # the writer may not approve, through the API or the page
    r = writer.post("/api/v1/items/Q-OK/transitions", json={"to": "pretest"})
    assert r.status_code == 403
    page = writer.post("/writer/items/Q-OK/transition", data={"to": "pretest"})
    assert page.status_code == 403 and "审题人" in page.text
    queue_page = writer.get("/writer/review")
    assert queue_page.status_code == 200 and queue_page.text.count("本人编写或送审，不能审核") == 2

    # the reviewer sends one back with a comment and approves the other; both notes stay
    assert reviewer.post("/api/v1/items/Q-MR/comments", json={"text": "E 项太明显，请再设一个错误选项"}).status_code == 200
    back = reviewer.post("/api/v1/items/Q-MR/transitions", json={"to": "draft", "note": "退回修改"})
    assert back.status_code == 200 and back.json()["status"] == "draft"
    assert reviewer.post("/writer/items/Q-OK/transition", data={"to": "pretest", "note": "通过"}).status_code == 200
    events = writer.get("/api/v1/items/Q-MR").json()["events"]
    assert [(e["actor"], e["action"], e["detail"].get("note")) for e in events[-2:]] == [
        ("reviewer-1", "comment", "E 项太明显，请再设一个错误选项"), ("reviewer-1", "status", "退回修改")]
    assert writer.get("/api/v1/items/Q-OK").json()["status"] == "pretest"
    assert reviewer.get("/api/v1/bank/review-queue").json() == []
    item_page = writer.get("/writer/items/Q-MR")
    assert "E 项太明显" in item_page.text and 'id="findings"' in item_page.text and "mr-few-wrong" in item_page.text


def test_the_cues_page_and_api_score_the_strategies_per_level(people):
    writer = people["writer"]
    beaten = [item(f"Q-L{i}", options=["短", "较短的", "这是一个明显更长也更具体的选项", "中等长度"], key="C")
              for i in range(3)]
    assert upload(writer, item_set(*beaten, FLAWED_MR)).status_code == 200
    levels = writer.get("/api/v1/bank/cues").json()
    assert [c["level"] for c in levels] == ["530046-L1"]
    scores = {s["strategy"]: s for s in levels[0]["strategies"]}
    assert scores["longest"]["score"] == 1.0 and scores["longest"]["chance"] == 0.25
    assert levels[0]["multiple_few_wrong"] == 1 and levels[0]["key_positions"]["C"] == 3
    page = writer.get("/writer/cues")
    assert page.status_code == 200 and 'id="cues-530046-L1"' in page.text
    row = page.text[page.text.index('data-strategy="longest"'):]
    assert "100.0%" in row[:400] and "25.0%" in row[:400]
