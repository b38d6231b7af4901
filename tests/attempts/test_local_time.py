"""Exams are scheduled and shown in the centre's time zone (EXAMENGINE_TIMEZONE, default
Asia/Shanghai): a window typed without an offset is local time; staff pages, the CLI and the
candidate's "not yet open" message show local time with the zone."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from examengine.cli import app
from examengine.config import Settings
from tests.attempts.conftest import roster_csv
from tests.conftest import REPO, staff_client

runner = CliRunner()
# Far enough ahead to be "not yet open" whenever the tests run.
START, END = "2036-12-12 09:00", "2036-12-12 11:30"


def candidate_message(client, ticket: dict) -> str:
    r = client.post("/exam/login", data={"ticket": ticket["ticket"], "code": ticket["access_code"]},
                    headers={"Authorization": ""})
    assert r.status_code == 403, r.text
    return r.text


@pytest.fixture
def centre(bank_db_url):
    """A staff client of an app whose centre is in the given zone."""
    clients = []

    def make(zone: str = "Asia/Shanghai"):
        settings = Settings(database_url=bank_db_url, data_dir=REPO, timezone=zone)
        clients.append(staff_client(settings))
        return clients[-1]

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def test_a_window_typed_without_an_offset_is_beijing_time_on_the_proctor_page_and_for_the_candidate(
        monkeypatch, bank_db_url, centre):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.delenv("EXAMENGINE_TIMEZONE", raising=False)
    r = runner.invoke(app, ["exams", "create", "--blueprint", "530046-L1", "--start", START, "--end", END,
                            "--format", "json"])
    assert r.exit_code == 0, r.output
    e = json.loads(r.stdout)
    assert (e["window_start"], e["window_end"]) == ("2036-12-12T01:00:00+00:00", "2036-12-12T03:30:00+00:00")
    assert e["name"].endswith("2036-12-12")

    api = centre()
    page = api.get(f"/proctor/exams/{e['id']}").text
    assert "2036-12-12 09:00 至 2036-12-12 11:30（北京时间）" in page
    assert "2036-12-12 09:00 至 2036-12-12 11:30（北京时间）" in api.get("/proctor").text
    assert api.post(f"/api/v1/exams/{e['id']}/roster", files={"file": ("名单.csv", roster_csv(1))}).status_code == 200
    ticket = api.get(f"/api/v1/exams/{e['id']}/tickets").json()[0]
    assert "考试尚未开始，开考时间为 2036-12-12 09:00 北京时间。" in candidate_message(api, ticket)


def test_the_cli_says_the_window_in_local_time_and_honours_an_explicit_offset(monkeypatch, bank_db_url):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.delenv("EXAMENGINE_TIMEZONE", raising=False)
    r = runner.invoke(app, ["exams", "create", "--blueprint", "530046-L1", "--start", START, "--end", END])
    assert r.exit_code == 0 and "2036-12-12 09:00 至 2036-12-12 11:30（北京时间）" in r.output, r.output
    r = runner.invoke(app, ["exams", "create", "--blueprint", "530046-L1", "--start", "2036-12-12T09:00+01:00",
                            "--format", "json"])
    assert json.loads(r.stdout)["window_start"] == "2036-12-12T08:00:00+00:00"
    bad = runner.invoke(app, ["exams", "create", "--blueprint", "530046-L1", "--start", "12/12/2036 9am"])
    assert bad.exit_code == 2 and "不是日期时间" in "".join(bad.output.split()).replace("│", "")


def test_the_help_says_start_is_local_time():
    r = runner.invoke(app, ["exams", "create", "--help"], terminal_width=200)
    text = "".join(r.output.replace("│", "").split())
    assert "--start、--end不带时区偏移时是本中心时区（EXAMENGINE_TIMEZONE，默认Asia/Shanghai）的当地时间" in text


@pytest.mark.parametrize("zone, utc_start, label", [
    ("Asia/Urumqi", "2036-12-12T03:00:00+00:00", "Asia/Urumqi UTC+06:00"),
    ("Europe/Berlin", "2036-12-12T08:00:00+00:00", "Europe/Berlin UTC+01:00"),
])
def test_another_centre_zone_shifts_the_window_on_every_side(monkeypatch, bank_db_url, centre, zone, utc_start,
                                                             label):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_TIMEZONE", zone)
    r = runner.invoke(app, ["exams", "create", "--blueprint", "530046-L1", "--start", START, "--format", "json"])
    e = json.loads(r.stdout)
    assert e["window_start"] == utc_start

    api = centre(zone)
    assert f"2036-12-12 09:00 至 2036-12-13 09:00（{label}）" in api.get(f"/proctor/exams/{e['id']}").text
    api.post(f"/api/v1/exams/{e['id']}/roster", files={"file": ("名单.csv", roster_csv(1))})
    ticket = api.get(f"/api/v1/exams/{e['id']}/tickets").json()[0]
    assert f"开考时间为 2036-12-12 09:00 {label}。" in candidate_message(api, ticket)
    # the same exam, seen from a centre in Beijing
    assert "2036-12-12 " + {"Asia/Urumqi": "11:00", "Europe/Berlin": "16:00"}[zone] in \
        centre().get(f"/proctor/exams/{e['id']}").text


def test_the_proctors_form_takes_the_window_in_local_time(centre):
    api = centre("Europe/Berlin")
    form = api.get("/proctor").text
    assert 'type="date" name="start_date"' in form and 'type="time" name="end_time"' in form
    assert "时间窗（Europe/Berlin UTC" in form
    r = api.post("/proctor/exams", data={"blueprint": "530046-L1", "start_date": "2036-07-01", "start_time": "09:00",
                                         "end_date": "2036-07-01", "end_time": "12:00"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    exam_id = int(r.headers["location"].rsplit("/", 1)[1])
    e = api.get(f"/api/v1/exams/{exam_id}").json()
    assert (e["window_start"], e["window_end"]) == ("2036-07-01T07:00:00+00:00", "2036-07-01T10:00:00+00:00")  # CEST
    assert "2036-07-01 09:00 至 2036-07-01 12:00（Europe/Berlin UTC+02:00）" in api.get(f"/proctor/exams/{exam_id}").text


def test_the_proctors_form_defaults_to_now_for_a_day_and_names_a_bad_window(centre):
    api = centre()
    r = api.post("/proctor/exams", data={"blueprint": "530046-L1"}, follow_redirects=False)
    assert r.status_code == 303
    e = api.get(f"/api/v1/exams/{int(r.headers['location'].rsplit('/', 1)[1])}").json()
    assert abs((datetime.fromisoformat(e["window_start"]) - datetime.now(UTC)).total_seconds()) < 120
    bad = api.post("/proctor/exams", data={"blueprint": "530046-L1", "start_date": "2036-07-01", "start_time": "09:00",
                                           "end_date": "2036-07-01", "end_time": "08:00"})
    assert "结束时间应晚于开始时间" in bad.text and 'value="08:00"' in bad.text


def test_the_item_history_shows_local_time(bank_db_url, bank_db, centre):
    from examengine.db.models import Item, ItemEvent

    item = bank_db.scalars(select(Item).order_by(Item.id)).first()
    event = bank_db.scalars(select(ItemEvent).where(ItemEvent.item_id == item.id)).first()
    event.at = datetime(2026, 11, 22, 3, 40, tzinfo=UTC)
    bank_db.commit()
    page = centre().get(f"/writer/items/{item.external_id}").text
    history = page[page.index('id="history"'):]
    assert "时间（北京时间）" in history and "2026-11-22 11:40" in history and "2026-11-22T03:40" not in page
    assert "2026-11-22 04:40" in centre("Europe/Berlin").get(f"/writer/items/{item.external_id}").text


def test_a_zone_that_is_no_iana_name_is_refused_at_start(monkeypatch):
    monkeypatch.setenv("EXAMENGINE_TIMEZONE", "Beijing")
    with pytest.raises(ValueError, match="EXAMENGINE_TIMEZONE"):
        Settings()
    monkeypatch.setenv("EXAMENGINE_TIMEZONE", "Asia/Urumqi")
    assert Settings().zone.key == "Asia/Urumqi"
