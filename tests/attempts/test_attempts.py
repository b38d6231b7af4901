"""Whole exams through the API: results, coverage, durability, idempotency, time, policies."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from examengine.db.models import Attempt, AttemptItem, BlueprintVersion, Exam
from examengine.exam.cat import StoredResponse, replay
from examengine.exam.policy import blueprint_policy
from examengine.services.blueprints import get_blueprint_version, load_pool
from tests.attempts.conftest import Simulee, rows_of, sign_in, take_exam


def test_whole_exams_of_simulees_of_known_ability(api, exam, bank_db):
    exam_id, tickets = exam
    results = {}
    for ticket, theta in zip(tickets, (-2.5, -1.0, 0.0, 1.0, 2.5), strict=False):
        aid, h = sign_in(api, ticket)
        n = take_exam(api, aid, h, Simulee(bank_db, theta, seed=int(theta * 10) + 50))
        res = api.get(f"/api/v1/attempts/{aid}/result", headers=h).json()
        rows = rows_of(bank_db, aid)
        # no response is missing: every position answered, in order, one row each
        assert [r.position for r in rows] == list(range(1, n + 1))
        assert all(r.answer is not None and r.score in (0, 1) for r in rows)
        assert res["n_scored"] == sum(r.scored for r in rows)
        # every work domain of the level is covered, and the feedback counts add up
        assert len(res["domains"]) == 4 and all(d["n_items"] >= 2 for d in res["domains"])
        assert sum(d["n_items"] for d in res["domains"]) == res["n_scored"]
        assert 10 <= res["n_scored"] <= 40  # the blueprint's length bounds
        results[theta] = res
    # each attempt's seed is random (start, exposure lottery, progressive opening), so estimates
    # of true thetas one apart may swap (an attempt stopping at the cut has an SE near 0.5);
    # true thetas 2.5 apart may not, and each estimate lies within 4 of its SEs of the truth
    # (EAP shrinks toward the prior mean by well under one SE at |theta| = 2.5)
    assert results[-2.5]["theta"] < results[0.0]["theta"] < results[2.5]["theta"]
    for theta, res in results.items():
        assert abs(res["theta"] - theta) <= 4 * res["se"], (theta, res["theta"], res["se"])
    assert results[-2.5]["passed"] is False and results[2.5]["passed"] is True
    assert results[-2.5]["band"] == "未达初级"
    assert all(0 <= r["score"] <= 100 for r in results.values())
    assert results[2.5]["score"] > 60 > results[-2.5]["score"]


def test_the_engine_state_replays_from_the_stored_rows_alone(api, exam, bank_db):
    _, tickets = exam
    aid, h = sign_in(api, tickets[0])
    take_exam(api, aid, h, Simulee(bank_db, 0.3, seed=3))
    attempt = bank_db.get(Attempt, aid)
    row, bp = get_blueprint_version(bank_db, "530046-L1")
    pool = load_pool(bank_db, bp).pool
    policy = blueprint_policy(bp, tuple(attempt.cuts), pool=pool)
    rows = [r for r in rows_of(bank_db, aid) if r.scored]
    state = replay(pool, policy, seed=attempt.seed,
                   responses=[StoredResponse(r.external_id, r.score, True, tuple(r.set_aside)) for r in rows])
    assert state.estimate.theta == pytest.approx(attempt.theta, abs=1e-12)
    assert [pool.item_ids[p] for p in state.items] == [r.external_id for r in rows]
    assert state.stop.stop


def test_the_pending_item_is_chosen_once_and_shown_again_on_reload(api, exam):
    _, tickets = exam
    aid, h = sign_in(api, tickets[1])
    first = api.get(f"/api/v1/attempts/{aid}/item", headers=h).json()
    again = api.get(f"/api/v1/attempts/{aid}/item", headers=h).json()
    assert (first["position"], first["item_id"], first["stem"]) == (again["position"], again["item_id"], again["stem"])
    # signing in again (another device) resumes at the same item; the old token stops working
    aid2, h2 = sign_in(api, tickets[1])
    assert aid2 == aid
    assert api.get(f"/api/v1/attempts/{aid}/item", headers=h2).json()["item_id"] == first["item_id"]
    assert api.get(f"/api/v1/attempts/{aid}/item", headers=h).status_code == 401


def test_the_item_shown_to_a_candidate_holds_no_key_parameter_or_code(api, exam, bank_db):
    _, tickets = exam
    aid, h = sign_in(api, tickets[2])
    item = api.get(f"/api/v1/attempts/{aid}/item", headers=h).json()
    assert set(item) == {"position", "item_id", "type", "stem", "options", "time_left_s", "multiple", "images", "image_alts"}
    text = json.dumps(item, ensure_ascii=False)
    row = bank_db.get(AttemptItem, int(item["item_id"][1:]))
    assert row.external_id not in text and "530046-L1-" not in text
    assert "key" not in text and "irt" not in text


def test_the_same_answer_twice_is_recorded_once_and_another_position_is_a_409(api, exam, bank_db):
    _, tickets = exam
    aid, h = sign_in(api, tickets[3])
    item = api.get(f"/api/v1/attempts/{aid}/item", headers=h).json()
    body = {"position": item["position"], "item_id": item["item_id"], "answer": ["A"]}
    first = api.post(f"/api/v1/attempts/{aid}/answers", headers=h, json=body).json()
    second = api.post(f"/api/v1/attempts/{aid}/answers", headers=h, json={**body, "answer": ["B"]}).json()
    again = api.post(f"/api/v1/attempts/{aid}/answers", headers=h, json=body).json()
    assert first.pop("recorded") is True and second.pop("recorded") is False  # B was not recorded, and it says so
    assert again.pop("recorded") is True  # a retry of the answer that stands
    assert first == second == again  # the first outcome, nothing new recorded
    rows = rows_of(bank_db, aid)
    assert rows[0].answer == ["A"] and len(rows) == 2 and rows[1].answer is None
    wrong = api.post(f"/api/v1/attempts/{aid}/answers", headers=h,
                     json={"position": 7, "item_id": first["item_id"], "answer": ["A"]})
    assert wrong.status_code == 409 and "第 7 题不是当前题目" in wrong.json()["message"]
    stale = api.post(f"/api/v1/attempts/{aid}/answers", headers=h,
                     json={"position": first["position"], "item_id": "Q999999", "answer": ["A"]})
    assert stale.status_code == 409


def test_an_answer_from_two_tabs_at_once_is_recorded_once(api, exam, bank_db):
    _, tickets = exam
    aid, h = sign_in(api, tickets[4])
    item = api.get(f"/api/v1/attempts/{aid}/item", headers=h).json()
    outcomes = []

    def post(label):
        r = api.post(f"/api/v1/attempts/{aid}/answers", headers=h,
                     json={"position": item["position"], "item_id": item["item_id"], "answer": [label]})
        outcomes.append((r.status_code, r.json().get("position"), label, r.json().get("recorded")))

    # A and B are valid for every item type (判断 has two options): a "C" racing ahead of the
    # first answer to a 判断 item would be refused as invalid, not as a repeat
    threads = [threading.Thread(target=post, args=(x,)) for x in ("A", "B", "A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {o[:2] for o in outcomes} == {(200, 2)}
    rows = rows_of(bank_db, aid)
    assert len(rows) == 2 and rows[0].answer is not None and rows[1].position == 2
    stored = rows[0].answer[0]
    # each request is told whether its own answer is the one that stands
    assert all(rec is (label == stored) for _, _, label, rec in outcomes), outcomes


def test_invalid_answers_are_refused_with_a_message(api, exam):
    _, tickets = exam
    aid, h = sign_in(api, tickets[5])
    item = api.get(f"/api/v1/attempts/{aid}/item", headers=h).json()
    base = {"position": item["position"], "item_id": item["item_id"]}
    assert api.post(f"/api/v1/attempts/{aid}/answers", headers=h, json={**base, "answer": []}).status_code == 400
    assert api.post(f"/api/v1/attempts/{aid}/answers", headers=h, json={**base, "answer": ["Z"]}).status_code == 400
    if not item["multiple"]:
        r = api.post(f"/api/v1/attempts/{aid}/answers", headers=h, json={**base, "answer": ["A", "B"]})
        assert r.status_code == 400 and "只能选择一个" in r.json()["message"]


def test_sign_in_messages_wrong_code_not_open_and_closed(api, exam, bank_db):
    exam_id, tickets = exam
    r = api.post("/api/v1/attempts", json={"ticket": tickets[0]["ticket"], "code": "NOPE1234"})
    assert r.status_code == 401 and "准考证号或访问码不正确" in r.json()["message"]
    row = bank_db.get(Exam, exam_id)
    row.window_start = datetime.now(UTC) + timedelta(hours=2)
    row.window_end = datetime.now(UTC) + timedelta(hours=5)
    bank_db.commit()
    r = api.post("/api/v1/attempts", json={"ticket": tickets[0]["ticket"], "code": tickets[0]["access_code"]})
    assert r.status_code == 403 and "考试尚未开始" in r.json()["message"]
    row.window_start = datetime.now(UTC) - timedelta(days=2)
    row.window_end = datetime.now(UTC) - timedelta(days=1)
    bank_db.commit()
    r = api.post("/api/v1/attempts", json={"ticket": tickets[0]["ticket"], "code": tickets[0]["access_code"]})
    assert r.status_code == 403 and "考试已结束" in r.json()["message"]


def test_time_over_closes_the_attempt_on_a_write_and_extensions_add_time(api, exam, bank_db):
    exam_id, tickets = exam
    aid, h = sign_in(api, tickets[0])
    item = api.get(f"/api/v1/attempts/{aid}/item", headers=h).json()
    assert 59 * 60 < item["time_left_s"] <= 60 * 60
    assert api.post(f"/api/v1/attempts/{aid}/extend", json={"minutes": 10, "reason": "设备故障"}).status_code == 200
    assert api.get(f"/api/v1/attempts/{aid}/item", headers=h).json()["time_left_s"] > 69 * 60
    a = bank_db.get(Attempt, aid)
    a.started_at = datetime.now(UTC) - timedelta(minutes=71)
    bank_db.commit()
    late = api.post(f"/api/v1/attempts/{aid}/answers", headers=h,
                    json={"position": item["position"], "item_id": item["item_id"], "answer": ["A"]})
    assert late.status_code == 409 and "时间已到" in late.json()["message"]
    assert api.get(f"/api/v1/attempts/{aid}/item", headers=h).json() == {"finished": True, "reason": "time",
                                                                          "status": "incomplete"}
    bank_db.expire_all()
    a = bank_db.get(Attempt, aid)
    assert a.finish_reason == "time" and a.status == "incomplete"  # no answer at all: nothing to score
    assert rows_of(bank_db, aid)[0].answer is None  # the late answer was not recorded


def test_candidate_tokens_expire_with_the_exam_window(api, exam, bank_db):
    """A token works until the window closes; an attempt in progress keeps it until its own
    deadline; after that only a new sign-in (a started attempt) gives a short-lived token."""
    exam_id, tickets = exam
    aid, h = sign_in(api, tickets[2])  # in progress
    item = api.get(f"/api/v1/attempts/{aid}/item", headers=h).json()
    aid2, h2 = sign_in(api, tickets[3])  # signed in, never started
    row = bank_db.get(Exam, exam_id)
    row.window_end = datetime.now(UTC) - timedelta(minutes=1)  # the window has just closed
    bank_db.commit()
    # not started: its token ends with the window, and the window no longer admits it
    r = api.get(f"/api/v1/attempts/{aid2}", headers=h2)
    assert r.status_code == 401 and "时间窗已结束" in r.json()["message"]
    assert api.post("/api/v1/attempts", json={"ticket": tickets[3]["ticket"],
                                              "code": tickets[3]["access_code"]}).status_code == 403
    # in progress: still within its own time, so it may finish
    r = api.post(f"/api/v1/attempts/{aid}/answers", headers=h,
                 json={"position": item["position"], "item_id": item["item_id"], "answer": ["A"]})
    assert r.status_code == 200, r.text
    a = bank_db.get(Attempt, aid)
    a.started_at = datetime.now(UTC) - timedelta(minutes=61)  # and now its own time is over too
    bank_db.commit()
    r = api.get(f"/api/v1/attempts/{aid}/item", headers=h)
    assert r.status_code == 401
    bank_db.expire_all()
    assert rows_of(bank_db, aid)[0].answer == ["A"]  # what was answered in time stands
    # signing in again after the window: a new token, valid for a while, and the attempt ends
    aid_again, h3 = sign_in(api, tickets[2])
    assert aid_again == aid
    bank_db.expire_all()
    expires = bank_db.get(Attempt, aid).token_expires_at
    assert expires is not None
    assert timedelta(minutes=110) < expires.replace(tzinfo=UTC) - datetime.now(UTC) <= timedelta(hours=2)
    # the time is up, but reading closes nothing: the candidate hands in (a write), then sees the result
    assert api.get(f"/api/v1/attempts/{aid}/item", headers=h3).json() == {"finished": True, "reason": "time",
                                                                           "status": "in_progress"}
    assert api.get(f"/api/v1/attempts/{aid}/result", headers=h3).status_code == 409
    assert api.post(f"/api/v1/attempts/{aid}/finish", headers=h3).json()["status"] == "incomplete"
    res = api.get(f"/api/v1/attempts/{aid}/result", headers=h3).json()
    assert res["released"] is True and res["complete"] is False and res["passed"] is False and res["score"] is None
    assert api.get(f"/api/v1/attempts/{aid}/result", headers=h).status_code == 401  # the old token is gone


def test_results_wait_for_release_when_the_exam_says_so(api, bank_db):
    from tests.attempts.conftest import roster_csv

    e = api.post("/api/v1/exams", json={"blueprint": "560003-L1", "results_policy": "release"}).json()
    api.post(f"/api/v1/exams/{e['id']}/roster", files={"file": ("r.csv", roster_csv(1, "R"))})
    [t] = api.get(f"/api/v1/exams/{e['id']}/tickets").json()
    aid, h = sign_in(api, t)
    take_exam(api, aid, h, Simulee(bank_db, 0.0, seed=9))
    pending = api.get(f"/api/v1/attempts/{aid}/result", headers=h).json()
    assert pending["released"] is False and "统一发布" in pending["message"]
    api.post(f"/api/v1/exams/{e['id']}/release", json={"confirm_provisional": True})  # the sample bank: 暂定
    assert api.get(f"/api/v1/attempts/{aid}/result", headers=h).json()["released"] is True


def test_a_voided_attempt_is_closed_and_the_reason_recorded(api, exam, bank_db):
    from examengine.db.models import AttemptEvent

    _, tickets = exam
    aid, h = sign_in(api, tickets[1])
    api.get(f"/api/v1/attempts/{aid}/item", headers=h)
    assert api.post(f"/api/v1/attempts/{aid}/void", json={"reason": "  "}).status_code == 400
    assert api.post(f"/api/v1/attempts/{aid}/void", json={"reason": "使用手机"}).status_code == 200
    assert api.get(f"/api/v1/attempts/{aid}/item", headers=h).status_code == 409
    ev = bank_db.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id == aid)).one()
    assert (ev.action, ev.actor, ev.detail["reason"]) == ("void", "admin-test", "使用手机")  # the signed-in staff
    monitor = {r["ticket"]: r for r in api.get(f"/api/v1/exams/{exam[0]}/attempts").json()}
    assert monitor[tickets[1]["ticket"]]["status"] == "voided"


def test_an_exam_on_a_blueprint_deciding_the_band_runs_until_the_band_is_decided(api, bank_db, tmp_path):
    """A centre switches 530046-L1 to deciding the band (a new blueprint version): an exam built
    on it runs the band policy, and each attempt ends at the maximum length or once the 95 %
    interval lies within one band, which the stored theta and SE show."""
    import yaml
    from scipy.stats import norm

    from examengine.datafiles import read_blueprint_file
    from examengine.services.blueprints import load_blueprints
    from tests.conftest import REPO
    from tests.attempts.conftest import roster_csv

    doc = yaml.safe_load((REPO / "blueprints" / "530046-L1.yaml").read_text(encoding="utf-8"))
    doc["classification"]["decide"] = "band"
    doc["exposure"]["max_rate"] = 0.4
    path = tmp_path / "530046-L1.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    [loaded] = load_blueprints(bank_db, [read_blueprint_file(path)], actor="test")
    bank_db.commit()
    e = api.post("/api/v1/exams", json={"blueprint": "530046-L1", "name": "等级判定"}).json()
    assert api.post(f"/api/v1/exams/{e['id']}/roster", files={"file": ("名单.csv", roster_csv(3))}).status_code == 200
    tickets = api.get(f"/api/v1/exams/{e['id']}/tickets").json()
    z = norm.ppf(0.975)
    cuts = (-1.0, 0.0, 1.0)
    for ticket, theta in zip(tickets, (-2.8, 0.5, 2.8), strict=True):
        aid, h = sign_in(api, ticket)
        take_exam(api, aid, h, Simulee(bank_db, theta, seed=7))
        bank_db.expire_all()
        attempt = bank_db.get(Attempt, aid)
        assert bank_db.get(BlueprintVersion, attempt.blueprint_version_id).version == loaded.version == 2
        n = sum(r.scored for r in rows_of(bank_db, aid))
        lo, hi = attempt.theta - z * attempt.se, attempt.theta + z * attempt.se
        within_one_band = not any(lo <= c <= hi for c in cuts)
        assert n == 40 or (n >= 10 and within_one_band), (theta, n, lo, hi)
        result = api.get(f"/api/v1/attempts/{aid}/result", headers=h).json()
        assert result["passed"] is (attempt.theta >= -1.0)
