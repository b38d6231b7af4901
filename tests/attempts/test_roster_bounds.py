"""Rosters: hostile uploads are 422s naming the file, row and field, and the tickets CSV of a
roster holding formulas opens in a spreadsheet as text."""

from __future__ import annotations

import csv
import io

import pytest

from examengine.db.models import Candidate
from tests.itemfiles import attacks


@pytest.fixture
def exam_id(api) -> int:
    return api.post("/api/v1/exams", json={"blueprint": "530046-L1", "name": "名单测试"}).json()["id"]


def test_the_tickets_csv_of_a_roster_with_formulas_holds_them_as_text(api, exam_id):
    roster = '准考证号,姓名\nT0001,"=HYPERLINK(""x"")"\n+T0002,@SUM(A1)\n-3,"=cmd|\' /C calc\'!A0"\n'
    r = api.post(f"/api/v1/exams/{exam_id}/roster", files={"file": ("名单.csv", roster.encode())})
    assert r.status_code == 200, r.text
    body = api.get(f"/api/v1/exams/{exam_id}/tickets", params={"format": "csv"}).content
    assert b'\'=HYPERLINK(""x"")' in body
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert sorted((t, n) for t, n, *_ in rows[1:]) == sorted([
        ("T0001", "'=HYPERLINK(\"x\")"), ("'+T0002", "'@SUM(A1)"), ("'-3", "'=cmd|' /C calc'!A0")])
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)
    # what was stored is what was uploaded: the apostrophe belongs to the export only
    names = {t["ticket"]: t["name"] for t in api.get(f"/api/v1/exams/{exam_id}/tickets").json()}
    assert names["T0001"] == '=HYPERLINK("x")'


def test_the_roster_declaring_a_million_rows_is_a_422_naming_the_sheet(api, exam_id):
    r = api.post(f"/api/v1/exams/{exam_id}/roster", files={"file": ("名单.xlsx", attacks.declared_dimension_bomb())})
    assert r.status_code == 422
    (p,) = r.json()["problems"]
    assert "A1:XFD1048576" in p["message"] and p["location"] == "工作表“Sheet1”"


def test_a_roster_with_a_128_kb_field_is_a_422_not_a_500(api, exam_id):
    data = ("准考证号,姓名\nT1," + "长" * 140_000 + "\n").encode()
    r = api.post(f"/api/v1/exams/{exam_id}/roster", files={"file": ("名单.csv", data)})
    assert r.status_code == 422 and r.json()["problems"][0]["location"] == "第 2 行"


@pytest.mark.parametrize("column,value", [("姓名", "名" * 101), ("准考证号", "T" * 41), ("考场", "室" * 51),
                                          ("姓名", "a\x00b")])
def test_a_roster_field_the_database_cannot_hold_is_a_422_naming_it(api, exam_id, column, value):
    header = ["准考证号", "姓名", "考场"]
    row = {"准考证号": "T1", "姓名": "考生", "考场": "一"} | {column: value}
    data = (",".join(header) + "\n" + ",".join(row[h] for h in header) + "\n").encode()
    r = api.post(f"/api/v1/exams/{exam_id}/roster", files={"file": ("名单.csv", data)})
    assert r.status_code == 422, r.text
    (p,) = r.json()["problems"]
    assert p["location"] == "第 2 行" and (p["field"] in (column, "第 2 列"))


def test_roster_lengths_come_from_the_model():
    assert (Candidate.__table__.c.name.type.length, Candidate.__table__.c.ticket.type.length) == (100, 40)
