"""Tickets (准考证) candidates can use: the public sign-in address and its QR code, the window in
local time, room and seat; a warning when the page would print the server's own address."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from examengine.cli import app
from examengine.config import Settings
from examengine.rendering.qr import qr_png_uri
from tests.conftest import REPO, staff_client

runner = CliRunner()
ROSTER = "准考证号,姓名,考场,座位号\nT0001,张三,第一考场,07\nT0002,李四,第二考场,\n".encode("gb18030")


@pytest.fixture
def tickets_of(monkeypatch, bank_db_url):
    """An exam on 2036-12-12 09:00-11:30 Beijing time with two candidates; a function giving the
    tickets page as an app with the given public address serves it."""
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.delenv("EXAMENGINE_TIMEZONE", raising=False)
    r = runner.invoke(app, ["exams", "create", "--blueprint", "530046-L1", "--name", "数据分析 初级",
                            "--start", "2036-12-12 09:00", "--end", "2036-12-12 11:30", "--format", "json"])
    exam_id = json.loads(r.stdout)["id"]
    clients = []

    def page(public_url: str | None, **request):
        c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO, public_url=public_url))
        clients.append(c)
        if len(clients) == 1:
            r = c.post(f"/api/v1/exams/{exam_id}/roster", files={"file": ("名单.csv", ROSTER)})
            assert r.status_code == 200, r.text
        r = c.get(f"/proctor/exams/{exam_id}/tickets", **request)
        assert r.status_code == 200
        return r.text, c, exam_id

    yield page
    for c in clients:
        c.__exit__(None, None, None)


def test_tickets_carry_the_public_address_its_qr_code_the_window_room_and_seat(tickets_of):
    text, _, _ = tickets_of("https://exam.example.cn/", headers={"host": "127.0.0.1:8000"})
    assert text.count("登录网址：https://exam.example.cn/exam") == 2 and "127.0.0.1" not in text
    assert text.count(f'class="qr" src="{qr_png_uri("https://exam.example.cn/exam")}"') == 2
    assert text.count("考试时间：2036-12-12 09:00 至 11:30（北京时间）") == 2
    assert "考场：第一考场　座位号：<b class=\"seat\">07</b>" in text and "考场：第二考场<br>" in text
    assert "public-url-warning" not in text


def test_printed_on_the_server_without_a_public_address_the_page_warns(tickets_of):
    text, _, _ = tickets_of(None, headers={"host": "127.0.0.1:8000"})
    assert "登录网址：http://127.0.0.1:8000/exam" in text
    assert 'id="public-url-warning"' in text and "EXAMENGINE_PUBLIC_URL" in text


def test_opened_at_an_address_candidates_reach_the_page_prints_it_without_a_warning(tickets_of):
    text, _, _ = tickets_of(None, headers={"host": "192.168.1.10:8000"})
    assert "登录网址：http://192.168.1.10:8000/exam" in text and "public-url-warning" not in text


def test_the_seat_is_kept_and_exported_with_the_local_window(tickets_of):
    _, api, exam_id = tickets_of(None)
    seats = {t["ticket"]: t["seat"] for t in api.get(f"/api/v1/exams/{exam_id}/tickets").json()}
    assert seats == {"T0001": "07", "T0002": ""}
    body = api.get(f"/api/v1/exams/{exam_id}/tickets", params={"format": "csv"}).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["准考证号", "姓名", "访问码", "考场", "座位号", "考试时间"]
    assert [r[3:] for r in rows[1:]] == [["第一考场", "07", "2036-12-12 09:00 至 11:30（北京时间）"],
                                         ["第二考场", "", "2036-12-12 09:00 至 11:30（北京时间）"]]
    moved = "准考证号,姓名,考场,座位号\nT0001,张三,第一考场,12\n".encode()
    r = api.post(f"/api/v1/exams/{exam_id}/roster", files={"file": ("名单.csv", moved)})
    assert r.json()["updated"] == 1
    assert api.get(f"/api/v1/exams/{exam_id}/tickets").json()[0]["seat"] == "12"
