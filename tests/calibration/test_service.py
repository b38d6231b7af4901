"""Stored responses -> item statistics, a stored calibration run (pretest items against
fixed operational items), promotion candidates, and the explicit apply step; the CLI."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from examengine.cli import app
from examengine.db.calibration_models import CalibrationEstimate, CalibrationRun
from examengine.db.models import Item, ItemEvent, ItemVersion
from examengine.errors import ConflictError
from examengine.irt.calibration import CalibrationModel, PromotionCriteria
from examengine.irt.params import IrtModel
from examengine.services.calibration import apply_run, get_run, item_statistics, run_calibration
from examengine.services.items import drafts_for_export

from .seed import N_PRETEST, seed_responses

N_PERSONS = 1500


@pytest.fixture
def seeded(bank_db):
    return seed_responses(bank_db, n_persons=N_PERSONS)


def test_item_statistics_report_p_values_omits_and_a_strong_distractor(bank_db, seeded):
    rows = {r.external_id: r for r in item_statistics(bank_db, scope="530046-L1")}
    assert set(seeded["pretest"]) <= set(rows)
    pre = rows[seeded["pretest"][1]]
    assert pre.status == "pretest"
    assert 0.0 < pre.omit_rate < 0.06
    assert pre.n_presented > pre.n_answered > 600
    assert pre.point_biserial > 0.2  # against the attempts' thetas (adaptive criterion)
    keyed = [o for o in pre.options if o.is_key]
    assert keyed and keyed[0].share == pytest.approx(pre.p_value, abs=1e-3)
    assert "strong_distractor" in rows[seeded["strong_distractor"]].flags
    assert "strong_distractor" not in pre.flags


def test_pretest_calibration_is_stored_and_recovers_the_true_parameters(bank_db, seeded):
    run = run_calibration(bank_db, scope="530046-L1", model=CalibrationModel.TWO_PL, mode="pretest", actor="t",
                          criteria=PromotionCriteria(min_responses=500))
    assert run.converged and run.status == "estimated"
    assert run.n_persons == N_PERSONS
    est = {e.external_id: e for e in run.estimates}
    for k, ext in enumerate(seeded["pretest"]):
        assert est[ext].role == "estimated"
        assert est[ext].b == pytest.approx(seeded["b"][k], abs=3 * est[ext].se_b + 0.05)
        assert est[ext].a == pytest.approx(seeded["a"][k], abs=3 * est[ext].se_a + 0.05)
    anchors = [e for e in run.estimates if e.role == "anchor"]
    assert anchors and all((e.a, e.b, e.c) == e.prev[1:4] for e in anchors)
    # the cohort's mean on the bank scale is found through the anchors
    assert run.population_mean == pytest.approx(-0.8, abs=0.1)
    eligible = {e.external_id for e in run.eligible}
    assert eligible and eligible <= set(seeded["pretest"])
    # nothing reached the bank yet
    v = bank_db.scalar(select(ItemVersion).join(Item).where(Item.external_id == seeded["pretest"][1]))
    assert v.irt_origin != f"calibration:{run.id}"


def test_apply_writes_estimates_keeps_the_old_values_and_refuses_a_second_time(bank_db, seeded):
    run = run_calibration(bank_db, scope="530046-L1", mode="pretest", actor="t")
    target = seeded["pretest"][2]
    v = bank_db.scalar(select(ItemVersion).join(Item).where(Item.external_id == target))
    old = (v.irt_model, v.irt_a, v.irt_b, v.irt_c)
    rep = apply_run(bank_db, run.id, actor="审核人", items=[target])
    assert rep.applied == [target]
    bank_db.expire_all()
    v = bank_db.get(ItemVersion, v.id)
    est = next(e for e in get_run(bank_db, run.id).estimates if e.external_id == target)
    assert (v.irt_model, v.irt_origin) == ("2pl", f"calibration:{run.id}")
    # the lower-case spelling a calibration stores reads back as the one IrtModel (export, review)
    exported = {d.external_id: d for d in drafts_for_export(bank_db)}[target]
    assert exported.irt.model is IrtModel.TWO_PL and exported.irt.model.value == "2PL"
    assert v.irt_b == pytest.approx(est.b, abs=1e-4)
    assert est.prev[:4] == old and est.applied
    ev = bank_db.scalar(select(ItemEvent).where(ItemEvent.item_id == v.item_id, ItemEvent.action == "irt_calibrated"))
    assert ev.actor == "审核人" and ev.detail["before"]["b"] == old[2]
    with pytest.raises(ConflictError):
        apply_run(bank_db, run.id, actor="x", items=[target])
    assert bank_db.scalar(select(CalibrationRun.status).where(CalibrationRun.id == run.id)) == "applied"
    # the other pretest items were not touched
    other = bank_db.scalar(select(CalibrationEstimate).where(CalibrationEstimate.run_id == run.id,
                                                             CalibrationEstimate.external_id == seeded["pretest"][3]))
    assert not other.applied


def test_full_recalibration_is_linked_back_to_the_bank_scale(bank_db, seeded):
    run = run_calibration(bank_db, scope="530046-L1", mode="full", model=CalibrationModel.THREE_PL, actor="t")
    assert run.options["linking"]["method"] == "stocking_lord"
    # the cohort sits at -0.8 on the bank scale, so the free N(0, 1) run needs B < 0
    assert run.options["linking"]["B"] == pytest.approx(-0.8, abs=0.25)
    est = {e.external_id: e for e in run.estimates}
    errs = [abs(est[x].b - seeded["b"][k]) for k, x in enumerate(seeded["pretest"])]
    assert np.median(errs) < 0.3


def test_cli_calibrates_a_csv_matrix_with_em_and_girth(tmp_path):
    from tests.calibration.lsat6 import LTM_A, LTM_B, lsat6_matrix

    u = lsat6_matrix()
    src = tmp_path / "lsat6.csv"
    with src.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"Q{i}" for i in range(1, 6)])
        for row in u:
            w.writerow([int(x) for x in row])
    runner = CliRunner()
    for engine in ("em", "girth"):
        out = tmp_path / f"{engine}.csv"
        r = runner.invoke(app, ["calibrate", "--responses", str(src), "--model", "2pl", "--engine", engine,
                                "--no-priors", "--out", str(out)])
        assert r.exit_code == 0, r.output
        rows = list(csv.DictReader(out.open()))
        assert [x["item"] for x in rows] == ["Q1", "Q2", "Q3", "Q4", "Q5"]
        np.testing.assert_allclose([float(x["b"]) for x in rows], LTM_B, atol=0.1)
        np.testing.assert_allclose([float(x["a"]) for x in rows], LTM_A, atol=0.05)
        if engine == "em":
            assert all(float(x["se_b"]) > 0 for x in rows)


def test_cli_names_a_bad_csv_cell_and_girth_refuses_missing_cells(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("i1,i2\n1,0\n1,x\n0,\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["calibrate", "--responses", str(src)])
    assert r.exit_code == 1
    assert "第 3 行" in r.output and "i2" in r.output and "“x”" in r.output
    src.write_text("i1,i2\n1,0\n1,\n0,1\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["calibrate", "--responses", str(src), "--engine", "girth"])
    assert r.exit_code == 1 and "完整" in r.output


def test_cli_calibrate_stored_responses_then_apply_and_items_stats(bank_db, seeded, monkeypatch, bank_db_url):
    from tests.conftest import REPO

    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    runner = CliRunner()
    r = runner.invoke(app, ["calibrate", "--standard", "530046-L1", "--model", "2pl", "--min-responses", "500"])
    assert r.exit_code == 0, r.output
    assert "校准记录 1" in r.output and "examengine calibration apply 1" in r.output
    r = runner.invoke(app, ["calibration", "apply", "1", "--as", "张三"])
    assert r.exit_code == 0, r.output
    assert f"已写入 {N_PRETEST} 道题" in r.output
    r = runner.invoke(app, ["items", "stats", "--code", "530046-L1", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert seeded["strong_distractor"] in r.output


def test_the_cli_parameters_csv_neutralises_an_item_id_a_spreadsheet_would_run(tmp_path):
    from tests.calibration.lsat6 import lsat6_matrix

    src = tmp_path / "lsat6.csv"
    with src.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["=HYPERLINK(\"x\")", "Q2", "Q3", "Q4", "Q5"])
        for row in lsat6_matrix():
            w.writerow([int(x) for x in row])
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(app, ["calibrate", "--responses", str(src), "--engine", "girth", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["item"] == "'=HYPERLINK(\"x\")" and float(rows[0]["b"]) < 0 < float(rows[0]["a"])



def test_a_first_calibration_sets_its_own_scale_and_guessed_anchors_are_counted(bank_db, bank_db_url, seeded,
                                                                                monkeypatch):
    # the sample bank's parameters are provisional guesses: a pretest run anchored on them says so
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    r = CliRunner().invoke(app, ["calibrate", "--standard", "530046-L1", "--mode", "pretest"])
    assert r.exit_code == 0, r.output
    assert "锚题的参数是暂定参数" in r.output and "--mode initial" in r.output
    pre = get_run(bank_db, max(x.id for x in bank_db.scalars(select(CalibrationRun))))
    anchors = [e for e in pre.estimates if e.role == "anchor"]
    assert pre.options["provisional_anchors"] == len(anchors) > 0
    # the programme's first calibration estimates every item and links to nothing: the cohort,
    # N(-0.8, 1) on the bank scale, becomes N(0, 1), so every b moves up by 0.8
    run = run_calibration(bank_db, scope="530046-L1", mode="initial", actor="t")
    assert run.mode == "initial" and run.options["scale"] == "population" and "linking" not in run.options
    assert "provisional_anchors" not in run.options
    assert {e.role for e in run.estimates} == {"estimated"}
    assert run.population_mean == 0.0 and run.population_sd == 1.0
    est = {e.external_id: e for e in run.estimates}
    for k, ext in enumerate(seeded["pretest"]):
        assert est[ext].b == pytest.approx(seeded["b"][k] + 0.8, abs=3 * est[ext].se_b + 0.1)
    # applying it gives every item of the run calibrated parameters
    rep = apply_run(bank_db, run.id, actor="t")
    assert len(rep.applied) + len(rep.skipped) == len(run.estimates) and len(rep.applied) > 0.9 * len(run.estimates)
