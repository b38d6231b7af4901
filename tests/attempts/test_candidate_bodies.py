"""The candidate's JSON bodies keep their keys now that the routes return the services' dataclasses
(issue 23): an answer is the next item (or the end) with ``recorded``, flat; a result is the
unreleased notice or the released result."""

from __future__ import annotations

from tests.attempts.conftest import Simulee, roster_csv, sign_in

ITEM = {"position", "item_id", "type", "stem", "options", "time_left_s", "multiple", "images", "image_alts"}
FINISHED = {"finished", "reason", "status"}
RESULT = {"released", "complete", "status", "band", "band_confidence", "registered_level", "passed",
          "pass_confidence", "score", "theta", "se", "n_scored", "min_items", "domains"}


def test_answer_and_result_bodies_have_the_keys_they_always_had(api, bank_db):
    e = api.post("/api/v1/exams", json={"blueprint": "560003-L1", "results_policy": "release"}).json()
    api.post(f"/api/v1/exams/{e['id']}/roster", files={"file": ("r.csv", roster_csv(1, "B"))})
    [t] = api.get(f"/api/v1/exams/{e['id']}/tickets").json()
    aid, h = sign_in(api, t)
    simulee = Simulee(bank_db, 0.0, seed=3)
    item = api.get(f"/api/v1/attempts/{aid}/item", headers=h).json()
    assert set(item) == ITEM and set(item["options"][0]) == {"label", "text"}
    while not item.get("finished"):
        item = api.post(f"/api/v1/attempts/{aid}/answers", headers=h, json={
            "position": item["position"], "item_id": item["item_id"], "answer": simulee.answer(item)}).json()
        assert set(item) == (FINISHED if item.get("finished") else ITEM) | {"recorded"} and item["recorded"] is True
    assert set(api.get(f"/api/v1/attempts/{aid}/item", headers=h).json()) == FINISHED

    pending = api.get(f"/api/v1/attempts/{aid}/result", headers=h).json()
    assert set(pending) == {"released", "complete", "message"} and pending["released"] is False
    api.post(f"/api/v1/exams/{e['id']}/release", json={"confirm_provisional": True})  # the sample bank: 暂定
    result = api.get(f"/api/v1/attempts/{aid}/result", headers=h).json()
    assert set(result) == RESULT and result["released"] is True
    assert result["domains"] and set(result["domains"][0]) == {"domain", "n_items", "n_correct", "statement"}
    assert result["score"] == round(result["score"], 1)
