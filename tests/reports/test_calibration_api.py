"""The calibration JSON API: runs as stored, classical statistics as the CLI gives them,
404s in the project's error shape, admins only, and an exact OpenAPI schema."""

from __future__ import annotations

import json
import math

from sqlalchemy import select
from typer.testing import CliRunner

from examengine.db.calibration_models import CalibrationEstimate, CalibrationRun
from tests.conftest import REPO, staff_client


def test_the_run_list_and_the_run_equal_what_was_stored(bank_db, seeded, admin):
    run_id = seeded["run"].id
    listed = admin.get("/api/v1/calibration-runs").json()
    assert [r["id"] for r in listed] == [run_id]
    stored = bank_db.scalar(select(CalibrationRun).where(CalibrationRun.id == run_id))
    body = admin.get(f"/api/v1/calibration-runs/{run_id}").json()
    for key in ("scope", "model", "mode", "n_persons", "n_responses", "n_items", "n_parameters", "loglik", "aic",
                "bic", "population_mean", "population_sd", "status", "created_by"):
        assert body[key] == getattr(stored, key), key
    assert listed[0]["n_persons"] == stored.n_persons == 400
    conv = body["convergence"]
    assert (conv["converged"], conv["iterations"], conv["max_change"]) == (
        stored.converged, stored.iterations, stored.max_change)
    assert body["criteria"]["min_responses"] == 150 and body["criteria"]["outfit_range"] == [0.7, 1.3]
    rows = {e.external_id: e for e in bank_db.scalars(
        select(CalibrationEstimate).where(CalibrationEstimate.run_id == run_id))}
    assert {e["external_id"] for e in body["estimates"]} == set(rows)
    for e in body["estimates"]:
        row = rows[e["external_id"]]
        for key in ("role", "n_responses", "a", "b", "c", "se_a", "se_b", "se_c", "rmsd", "infit", "outfit", "drift",
                    "eligible", "reasons", "applied", "p_value"):
            assert e[key] == getattr(row, key), (e["external_id"], key)
        assert e["previous"] == {"model": row.prev_model, "a": row.prev_a, "b": row.prev_b, "c": row.prev_c,
                                 "origin": row.prev_origin}
        assert e["misfit"] == (row.rmsd > 0.1 or not 0.7 <= row.outfit <= 1.3)
    estimated = [e for e in body["estimates"] if e["role"] == "estimated"]
    assert sorted(e["external_id"] for e in estimated) == sorted(seeded["pretest"])
    assert all(e["se_b"] > 0 for e in estimated)
    assert body["eligible"] == sorted(x for x, r in rows.items() if r.eligible)
    assert listed[0]["n_eligible"] == len(body["eligible"]) > 0
    not_eligible = [e for e in estimated if not e["eligible"]]
    assert all(e["reasons"] and len(e["reason_labels"]) == len(e["reasons"]) for e in not_eligible)


def test_unknown_ids_are_404s_with_the_error_shape(seeded, admin):
    r = admin.get("/api/v1/calibration-runs/999")
    assert r.status_code == 404
    assert r.json() == {"error": "NotFoundError", "message": "未找到校准记录：999", "kind": "校准记录", "code": "999"}
    r = admin.get("/api/v1/item-statistics/NO-SUCH-ITEM")
    assert r.status_code == 404 and r.json()["kind"] == "题目"
    r = admin.get("/api/v1/item-statistics", params={"code": "530046-L1", "item": ["530046-L1-001", "NOPE"]})
    assert r.status_code == 404 and r.json()["code"] == "NOPE"
    assert admin.get("/api/v1/item-statistics", params={"code": "999999"}).json()["kind"] == "标准"
    assert admin.get("/api/v1/item-statistics", params={"code": "不是代码"}).status_code == 422
    assert admin.get("/api/v1/item-statistics", params={"code": "530046-L1", "criterion": "x"}).status_code == 422


def test_item_statistics_equal_the_cli_and_a_subset_equals_the_whole(bank_db_url, seeded, admin, monkeypatch):
    from examengine.cli import app

    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    cli = CliRunner().invoke(app, ["items", "stats", "--code", "530046-L1", "--format", "json"])
    assert cli.exit_code == 0, cli.output
    by_cli = {(r["external_id"], r["version_id"]): r for r in json.loads(cli.output)}
    whole = admin.get("/api/v1/item-statistics", params={"code": "530046-L1"}).json()
    assert {(r["external_id"], r["version_id"]) for r in whole} == set(by_cli)
    for r in whole:
        c = by_cli[(r["external_id"], r["version_id"])]
        for key in ("n_presented", "n_answered", "p_value", "point_biserial", "omit_rate", "flags", "options",
                    "criterion", "version"):
            assert r[key] == c[key], (r["external_id"], key)
    assert {r["criterion"] for r in whole} == {"theta"}  # every seeded attempt has an ability estimate
    strong = seeded["strong_distractor"]
    pick = [seeded["pretest"][1], strong]
    subset = admin.get("/api/v1/item-statistics", params={"code": "530046-L1", "item": pick}).json()
    assert subset == [r for r in whole if r["external_id"] in pick]
    one = admin.get(f"/api/v1/item-statistics/{strong}").json()
    assert one == [r for r in whole if r["external_id"] == strong]
    assert "strong_distractor" in one[0]["flags"]
    cli_one = CliRunner().invoke(app, ["items", "stats", "--code", "530046-L1", "--item", strong, "--format", "json"])
    assert [(r["external_id"], r["p_value"], r["flags"]) for r in json.loads(cli_one.output)] == [
        (r["external_id"], r["p_value"], r["flags"]) for r in one]
    keyed = [o for o in one[0]["options"] if o["is_key"]]
    assert math.isclose(keyed[0]["share"], one[0]["p_value"], abs_tol=1e-3)
    # a known item without responses in the scope is simply absent
    assert admin.get("/api/v1/item-statistics/530046-L2-001").json() == []


def test_only_admins_may_use_the_calibration_api(bank_settings, seeded):
    with staff_client(bank_settings, "出题人", "item_writer") as w:
        assert w.get("/api/v1/calibration-runs").status_code == 403
        assert w.get("/api/v1/item-statistics", params={"code": "530046-L1"}).status_code == 403
    with staff_client(bank_settings, "监考员", "proctor") as p:
        assert p.get(f"/api/v1/calibration-runs/{seeded['run'].id}").status_code == 403


def test_the_openapi_schema_describes_runs_statistics_and_errors(client):
    schema = client.get("/openapi.json").json()
    run = schema["paths"]["/api/v1/calibration-runs/{run_id}"]["get"]["responses"]
    assert run["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/RunOut")
    assert run["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    comp = schema["components"]["schemas"]
    assert {"a", "se_a", "rmsd", "infit", "outfit", "drift", "eligible", "misfit"} <= set(comp["EstimateOut"]["properties"])
    assert {"convergence", "loglik", "aic", "bic", "since", "until", "estimates", "eligible"} <= set(
        comp["RunOut"]["properties"])
    stats = schema["paths"]["/api/v1/item-statistics"]["get"]
    assert stats["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"].endswith(
        "/ItemStatisticsOut")
    assert {p["name"] for p in stats["parameters"]} == {"code", "item", "exam", "since", "until", "criterion"}
