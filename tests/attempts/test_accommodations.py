"""Accommodations from the roster (issue 25): 延时 (+25 %, +50 % or minutes), 大字号 and 读屏 are
stored on the candidate, applied from the first sign-in (extra time = time limit × share), shown
on the monitor, recorded in the audit log; large print starts the candidate pages at 150 %."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from examengine.db.models import Attempt, AuditEvent, Candidate
from examengine.itemfiles.tables import parse_extra_time

ROSTER = ("准考证号,姓名,身份证号后四位,考场,延时,大字号,读屏\n"
          "A0001,考生一,1001,第一考场,+50%,是,是\n"
          "A0002,考生二,1002,第一考场,,,\n"
          "A0003,考生三,1003,第一考场,30分钟,,\n").encode("utf-8")


@pytest.mark.parametrize(("cell", "expected"), [("+50%", (50, 0)), ("25 %", (25, 0)),
                                                ("＋25％", (25, 0)), ("30", (0, 30)), ("30分钟", (0, 30)), ("", (0, 0))])
def test_an_extra_time_cell_is_a_share_or_minutes(cell, expected):
    assert parse_extra_time(cell) == expected


def test_a_candidate_with_half_again_on_the_roster_gets_one_and_a_half_times_the_limit_from_sign_in(api, bank_db):
    e = api.post("/api/v1/exams", json={"blueprint": "530046-L1", "name": "便利考试"}).json()
    r = api.post(f"/api/v1/exams/{e['id']}/roster", files={"file": ("名单.csv", ROSTER)})
    assert r.status_code == 200, r.text
    limit = e["time_limit_minutes"] * 60
    tickets = {t["ticket"]: t for t in api.get(f"/api/v1/exams/{e['id']}/tickets").json()}
    c1 = bank_db.scalars(select(Candidate).where(Candidate.ticket == "A0001")).one()
    assert (c1.extra_percent, c1.extra_minutes, c1.large_print, c1.reader) == (50, 0, True, True)
    audit = bank_db.scalars(select(AuditEvent).where(AuditEvent.action == "exam.roster")
                            .order_by(AuditEvent.id.desc())).first()
    assert audit.after["accommodations"] == {"A0001": "延时 +50% · 大字号 · 读屏", "A0003": "延时 +30 分钟"}

    with_font = {}
    for ticket in ("A0001", "A0002", "A0003"):
        api.cookies.clear()
        r = api.post("/exam/login", data={"ticket": ticket, "code": tickets[ticket]["access_code"]})
        assert r.status_code in (200, 303)
        with_font[ticket] = api.get("/exam/font.css").text
        api.post("/exam/start", data={"agree": "1"})
    bank_db.expire_all()
    left = {a.candidate.ticket: a.extra_seconds for a in bank_db.scalars(select(Attempt).where(Attempt.exam_id == e["id"]))}
    assert left == {"A0001": limit // 2, "A0002": 0, "A0003": 30 * 60}
    assert "150%" in with_font["A0001"] and "100%" in with_font["A0002"]
    # the accommodation is audited when the attempt begins with it
    events = bank_db.scalars(select(AuditEvent).where(AuditEvent.action == "attempt.accommodation")).all()
    assert sorted(ev.after["extra_seconds"] for ev in events) == [30 * 60, limit // 2]

    # the monitor: 1.5x the limit left (minus the seconds since the start), and the accommodation named
    page = api.get(f"/proctor/exams/{e['id']}").text
    row = page.split('data-ticket="A0001"', 1)[1].split("</tr>", 1)[0]
    assert "延时 +50% · 大字号 · 读屏" in row
    minutes = int(row.split('class="time-left">', 1)[1].split(" 分", 1)[0])
    assert minutes in (limit * 3 // 2 // 60 - 1, limit * 3 // 2 // 60)
    other = page.split('data-ticket="A0002"', 1)[1].split("</tr>", 1)[0]
    assert int(other.split('class="time-left">', 1)[1].split(" 分", 1)[0]) in (limit // 60 - 1, limit // 60)


def test_a_bad_accommodation_cell_is_named_and_changes_nothing(api, bank_db):
    e = api.post("/api/v1/exams", json={"blueprint": "530046-L1", "name": "便利考试"}).json()
    bad = "准考证号,姓名,延时,大字号\nB0001,考生,一半,是\nB0002,考生,+50%,也许\n".encode("utf-8")
    r = api.post(f"/api/v1/exams/{e['id']}/roster", files={"file": ("名单.csv", bad)})
    assert r.status_code == 422
    text = r.text
    assert "第 2 行" in text and "延时" in text and "第 3 行" in text and "大字号" in text
    assert bank_db.scalars(select(Candidate).where(Candidate.exam_id == e["id"])).all() == []
