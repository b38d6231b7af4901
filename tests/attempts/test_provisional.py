"""Results on provisional parameters say so (issue 20, point 5): an attempt on the sample bank
(operational items with provisional parameters) is marked 暂定 for staff, not for the
candidate; releasing it needs an explicit, audited confirmation; after `calibration apply`,
`exams rescore` re-scores the unreleased attempt on the calibrated parameters and the mark goes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from examengine.cli import app as cli
from examengine.db.calibration_models import CalibrationEstimate, CalibrationRun
from examengine.db.models import Attempt, AuditEvent, Item, ItemVersion
from examengine.services.calibration import apply_run
from tests.attempts.conftest import Simulee, roster_csv, rows_of, sign_in, take_exam


def release_exam(api, n: int) -> tuple[int, list[dict]]:
    e = api.post("/api/v1/exams", json={"blueprint": "530046-L1", "name": "暂定成绩", "results_policy": "release"}).json()
    assert e["pool_provisional"] == e["pool_items"] == 204  # the sample bank: every item provisional
    r = api.post(f"/api/v1/exams/{e['id']}/roster", files={"file": ("名单.csv", roster_csv(n, "P"))})
    assert r.status_code == 200, r.text
    return e["id"], api.get(f"/api/v1/exams/{e['id']}/tickets").json()


def finished(api, bank_db, ticket: dict, theta: float, seed: int) -> tuple[int, dict]:
    aid, h = sign_in(api, ticket)
    take_exam(api, aid, h, Simulee(bank_db, theta, seed))
    return aid, h


def test_a_result_on_the_sample_bank_is_provisional_for_staff_and_release_needs_an_audited_confirmation(
        api, bank_db, bank_db_url):
    exam_id, tickets = release_exam(api, 2)
    readiness = api.get("/api/v1/bank/readiness", params={"blueprint": "530046-L1"}).json()  # staff read it too
    assert readiness["ready"] is False and readiness["provisional"] == readiness["operational"] == 204
    done = [finished(api, bank_db, t, th, s) for t, th, s in zip(tickets, (-0.5, 0.8), (1, 2))]
    rows = {r["attempt_id"]: r for r in api.get(f"/api/v1/exams/{exam_id}/attempts").json()}
    for aid, _ in done:
        scored = [r for r in rows_of(bank_db, aid) if r.scored and r.answer is not None]
        assert rows[aid]["provisional"] is True
        assert rows[aid]["n_provisional"] == len(scored) > 0  # every scored item of the sample bank
    # the monitor page shows the tag with its explanation, and the release form's second box
    page = api.get(f"/proctor/exams/{exam_id}").text
    assert page.count('class="tag provisional"') == 2 and "基于暂定参数" in page
    assert 'name="confirm_provisional"' in page
    # the candidate is not told
    for aid, h in done:
        body = api.get(f"/api/v1/attempts/{aid}/result", headers=h).json()
        assert body["released"] is False and "provisional" not in json.dumps(body)
    # a result stored before the mark existed reads back as unknown, not as final
    a = bank_db.get(Attempt, done[1][0])
    a.result = {k: v for k, v in a.result.items() if k not in ("provisional", "n_provisional")}
    bank_db.commit()
    rows = {r["attempt_id"]: r for r in api.get(f"/api/v1/exams/{exam_id}/attempts").json()}
    assert rows[done[1][0]]["provisional"] is None

    r = api.post(f"/api/v1/exams/{exam_id}/release")
    assert r.status_code == 409, r.text
    assert "2 份成绩中有 1 份基于暂定参数" in r.json()["message"] and "另有 1 份未记录参数来源" in r.json()["message"]
    r = api.post(f"/proctor/exams/{exam_id}/release", data={"confirm": "1"}, follow_redirects=True)
    assert "基于暂定参数" in r.text  # the page's form is refused too, saying why
    env = {"EXAMENGINE_DATABASE_URL": bank_db_url}
    r = CliRunner().invoke(cli, ["exams", "release", str(exam_id)], env=env)
    assert r.exit_code == 1 and "基于暂定参数" in r.output
    bank_db.expire_all()
    assert not bank_db.scalars(select(AuditEvent).where(AuditEvent.action == "exam.release")).all()

    r = CliRunner().invoke(cli, ["exams", "release", str(exam_id), "--confirm-provisional"], env=env)
    assert r.exit_code == 0, r.output
    [audit] = bank_db.scalars(select(AuditEvent).where(AuditEvent.action == "exam.release")).all()
    assert audit.after["confirmed_provisional"] is True
    assert (audit.after["results"], audit.after["provisional_results"], audit.after["unknown_results"]) == (2, 1, 1)
    for aid, h in done:
        body = api.get(f"/api/v1/attempts/{aid}/result", headers=h).json()
        assert body["released"] is True and "provisional" not in json.dumps(body)


def apply_shifted_calibration(db, version_ids: list[int], shift: float) -> int:
    """A stored full (linked) run whose estimates are the bank's parameters with b + shift, applied
    through ``apply_run`` as `calibration apply` would."""
    run = CalibrationRun(model="3pl", engine="em", mode="full", scope="530046-L1", n_persons=500, n_responses=5000,
                         n_items=len(version_ids), n_parameters=3 * len(version_ids), loglik=0.0, aic=0.0, bic=0.0,
                         population_mean=0.0, population_sd=1.0, converged=True, iterations=10, max_change=0.0,
                         seconds=0.1, options={"linking": {"method": "stocking-lord", "A": 1.0, "B": shift}},
                         created_by="test")
    db.add(run)
    db.flush()
    for vid in version_ids:
        v = db.get(ItemVersion, vid)
        db.add(CalibrationEstimate(
            run_id=run.id, item_version_id=vid, external_id=db.get(Item, v.item_id).external_id, role="estimated",
            status="operational", n_responses=500, a=v.irt_a, b=v.irt_b + shift, c=v.irt_c,
            prev_model=v.irt_model, prev_a=v.irt_a, prev_b=v.irt_b, prev_c=v.irt_c, prev_origin=v.irt_origin))
    db.commit()
    report = apply_run(db, run.id, actor="test")
    assert len(report.applied) == len(version_ids)
    return run.id


def test_rescore_after_calibration_apply_moves_theta_and_clears_the_mark_of_unreleased_attempts_only(
        api, bank_db, bank_db_url):
    exam_id, [t] = release_exam(api, 1)
    aid, _ = finished(api, bank_db, t, 0.3, 4)
    assert bank_db.get(Attempt, aid).result["provisional"] is True
    scored = [r.item_version_id for r in rows_of(bank_db, aid) if r.scored]
    shift = 0.4
    run_id = apply_shifted_calibration(bank_db, scored, shift)

    env = {"EXAMENGINE_DATABASE_URL": bank_db_url}
    r = CliRunner().invoke(cli, ["exams", "rescore", str(exam_id), "--format", "json"], env=env)
    assert r.exit_code == 0, r.output
    [change] = json.loads(r.output)
    assert change["attempt_id"] == aid
    assert (change["provisional_before"], change["provisional_after"]) == (True, False)
    # every b moved up by 0.4 on the same responses: theta moves up, by at most 0.4 (the prior pulls back)
    moved = change["theta_after"] - change["theta_before"]
    assert 0.05 < moved <= shift + 1e-6
    # once released (confirmed through the API field), the result is left alone unless asked for
    r = api.post(f"/api/v1/exams/{exam_id}/release", json={"confirm_provisional": True})
    assert r.status_code == 200, r.text
    r = CliRunner().invoke(cli, ["exams", "rescore", "--format", "json"], env=env)
    assert json.loads(r.output) == []
    r = CliRunner().invoke(cli, ["exams", "rescore", str(exam_id), "--include-released", "--apply"], env=env)
    assert r.exit_code == 0, r.output
    assert "θ=" in r.output and "暂定" in r.output
    bank_db.expire_all()
    after = bank_db.get(Attempt, aid)
    assert after.result["provisional"] is False and after.result["n_provisional"] == 0
    assert after.theta == pytest.approx(change["theta_after"])
    audit = bank_db.scalars(select(AuditEvent).where(AuditEvent.action == "attempt.rescore")).one()
    assert audit.after["provisional"] is False and audit.before["provisional"] is True
    [row] = api.get(f"/api/v1/exams/{exam_id}/attempts").json()
    assert row["provisional"] is False
    # the item shows where its parameters come from
    version = bank_db.get(ItemVersion, scored[0])
    v = api.get(f"/api/v1/items/{bank_db.get(Item, version.item_id).external_id}").json()["versions"][-1]
    assert (v["origin"], v["calibration_run"]) == ("linked", run_id)
    assert v["origin_label"] == f"已校准（等值链接）（校准记录 {run_id}）"
    assert np.isclose(v["irt"]["b"], version.irt_b)
