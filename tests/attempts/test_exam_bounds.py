"""Exam creation has bounds: a 422 naming the field, not an exam that runs for 1,900 years."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("body,field", [
    ({"time_limit_minutes": 10**9}, "time_limit_minutes"),
    ({"time_limit_minutes": 0}, "time_limit_minutes"),
    ({"time_limit_minutes": -5}, "time_limit_minutes"),
    ({"name": "名" * 201}, "name"),
    ({"name": "考试\x00"}, "name"),
    ({"window_start": "2030-01-01T00:00:00Z", "window_end": "2032-01-01T00:00:00Z"}, "window_end"),
    ({"window_start": "9999-12-31T23:00:00Z"}, "window_start"),
])
def test_an_exam_out_of_bounds_is_a_422_naming_the_field(api, body, field):
    r = api.post("/api/v1/exams", json={"blueprint": "530046-L1", **body})
    assert r.status_code == 422, r.text
    assert field in {p["field"] for p in r.json()["problems"]} | {str(d.get("loc", [""])[-1]) for d in r.json().get("detail", [])}


def test_a_day_long_exam_is_accepted(api):
    r = api.post("/api/v1/exams", json={"blueprint": "530046-L1", "time_limit_minutes": 1440})
    assert r.status_code == 200 and r.json()["time_limit_minutes"] == 1440


def test_the_proctor_form_shows_the_bound(api):
    r = api.post("/proctor/exams", data={"blueprint": "530046-L1", "time_limit": "1000000000"})
    assert r.status_code == 200 and "1440" in r.text
