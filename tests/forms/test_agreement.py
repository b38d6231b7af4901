"""Paper forms against the online exam (issue #7's acceptance point), on simulees.

One study of 530046-L1 (500 simulees, seed 1, two 40-item forms, the online policy with the
exposure parameters online would use: none are stored in the test bank) is shared by the
tests of this module: it only reads the database. Every number it reports is recomputed here
from its per-simulee results, and the paper estimates from the scores by an EAP written out
by hand.

Tolerance of the criterion: the paper-online rate P_PO = (p_AO + p_BO) / 2 may fall short of
the A-B rate P_AB by at most 2 sqrt(SE_PO^2 + SE_AB^2), with binomial SEs sqrt(p (1 - p) / n):
at n = 500 about 0.04 for pass/fail (p ~ 0.9) and 0.06 for bands (p ~ 0.6). It is a one-sided
~97.7 % margin if the rates were independent, and conservative since they share simulees.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from examengine.cli import app
from examengine.db.engine import make_engine, make_sessionmaker
from examengine.datafiles import read_blueprint_file
from examengine.exam.agreement import OnlineStop
from examengine.services import forms as svc
from examengine.services.blueprints import get_blueprint_version, load_blueprints, load_pool
from tests.conftest import REPO, _initialize, edited_blueprint, load_edited_blueprint

N = 500
BLUEPRINT = "530046-L1"  # cuts at theta -1 / 0 / 1; registered level 初级 (band 1); length 10-40


def run_study(db_factory, blueprint_file=None, **kwargs):
    """The study on a fresh copy of the sample bank, with the pool's (a, b, c) by item id;
    ``blueprint_file`` is stored first as the blueprint's new version."""
    url = db_factory.clone(db_factory.template("bank", _initialize))
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as db:
            if blueprint_file is not None:
                assert load_blueprints(db, [read_blueprint_file(blueprint_file)], actor="test")[0].action != "unchanged"
                db.commit()
            study = svc.agreement_study(db, blueprint=BLUEPRINT, n_simulees=N, seed=1,
                                        exposure=svc.ExposureSource.STORED, **kwargs)
            _, bp = get_blueprint_version(db, BLUEPRINT)
            pool = load_pool(db, bp).pool
            params = {i: (pool.params.a[k], pool.params.b[k], pool.params.c[k]) for k, i in enumerate(pool.item_ids)}
    finally:
        engine.dispose()
        db_factory.drop(url)
    return study, params


@pytest.fixture(scope="module")
def study(db_factory):
    return run_study(db_factory)


def eap_by_hand(abc: list[tuple[float, float, float]], scores) -> tuple[float, float]:
    """EAP on 81 points over [-6, 6] (trapezoid), N(0, 1) prior, 3PL with D = 1."""
    q = np.linspace(-6, 6, 81)
    log_post = -q**2 / 2 + np.log(np.r_[0.5, np.ones(79), 0.5])
    for (a, b, c), u in zip(abc, scores, strict=True):
        p = c + (1 - c) / (1 + np.exp(-a * (q - b)))
        log_post += np.log(p if u else 1 - p)
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    mean = float(w @ q)
    return mean, float(np.sqrt(w @ q**2 - mean**2))


def test_the_simulees_take_two_disjoint_forms_of_the_blueprints_maximum_length_and_the_online_policy(study):
    s, _ = study
    assert s.blueprint == BLUEPRINT and s.n_simulees == N and s.cuts == (-1.0, 0.0, 1.0)
    assert s.form_length == 40 and [len(s.form_items[k]) for k in "AB"] == [40, 40]
    assert not set(s.form_items["A"]) & set(s.form_items["B"])
    assert s.exposure == "stored"  # as online: init stores the parameters shipped with the sample bank
    sim = s.simulees
    assert sim.theta.shape == (N,) and abs(sim.theta.mean()) < 4 / np.sqrt(N) and 0.9 < sim.theta.std() < 1.1
    assert sim.scores["A"].shape == sim.scores["B"].shape == (N, 40)
    assert sim.online_length.min() >= 10 and sim.online_length.max() <= 40
    assert sum(s.stop_reasons.values()) == N and set(s.stop_reasons) <= {"classified", "max_length"}


def test_every_band_and_verdict_follows_from_its_theta_and_the_cuts(study):
    s, _ = study
    sim = s.simulees
    cuts = np.array(s.cuts)
    assert np.array_equal(sim.true_band, np.searchsorted(cuts, sim.theta, side="right"))
    for mode in ("A", "B", "online"):
        est = sim.estimate[mode]
        assert np.array_equal(sim.band[mode], (est[:, None] >= cuts[None, :]).sum(axis=1)), mode
        assert np.array_equal(sim.passed[mode], est >= cuts[0]), mode  # 初级 registered: pass at theta >= -1


def test_paper_estimates_are_the_eap_of_each_scored_pattern(study):
    s, params = study
    sim = s.simulees
    for code in "AB":
        abc = [params[i] for i in s.form_items[code]]
        for i in range(0, N, 25):
            theta, se = eap_by_hand(abc, sim.scores[code][i])
            assert sim.estimate[code][i] == pytest.approx(theta, abs=1e-9)
            assert sim.se[code][i] == pytest.approx(se, abs=1e-9)
        raw = sim.scores[code].sum(axis=1)
        assert np.corrcoef(raw, sim.theta)[0, 1] > 0.8  # the responses do follow the simulees' theta


def test_the_reported_rates_and_criteria_recompute_from_the_per_simulee_results(study):
    s, _ = study
    sim = s.simulees
    for rates, by in ((s.band, sim.band), (s.pass_fail, sim.passed)):
        assert [(r.first, r.second) for r in rates] == [("A", "online"), ("B", "online"), ("A", "B")]
        for r in rates:
            k = int(np.sum(by[r.first] == by[r.second]))
            assert (r.agree, r.n) == (k, N)
            assert r.rate == pytest.approx(k / N) and r.se == pytest.approx(np.sqrt(k / N * (1 - k / N) / N))
    for crit, by in ((s.band_criterion, sim.band), (s.pass_fail_criterion, sim.passed)):
        ao, bo, ab = (np.mean(by["A"] == by["online"]), np.mean(by["B"] == by["online"]), np.mean(by["A"] == by["B"]))
        po = (ao + bo) / 2
        tol = 2 * np.sqrt(po * (1 - po) / N + ab * (1 - ab) / N)
        assert crit.paper_online == pytest.approx(po) and crit.forms == pytest.approx(ab)
        assert crit.tolerance == pytest.approx(tol) and crit.difference == pytest.approx(po - ab)
        assert crit.met == (po >= ab - tol)
    assert sum(r.n for r in s.regions) == N
    accuracy = {m.mode: m.band_accuracy for m in s.modes}
    assert accuracy["A"] == pytest.approx(np.mean(sim.band["A"] == sim.true_band))
    online = next(m for m in s.modes if m.mode == "online")
    assert online.mean_length == pytest.approx(sim.online_length.mean())


def test_paper_and_online_agree_on_pass_fail_at_least_as_often_as_two_paper_forms(study):
    c = study[0].pass_fail_criterion
    assert c.paper_online >= c.forms - c.tolerance, c


def test_an_exam_that_decides_pass_fail_only_measures_the_band_less_well_than_paper(study):
    """The shipped blueprints decide pass/fail (classification.decide: pass_fail): the online
    attempt stops once the registered level is decided (10-40 items), so its band at the other
    two cuts is less precise than a 40-item paper form's and agrees with paper less often than
    the two forms agree with each other. Pass/fail agreement (above) is what this setting
    promises; a centre that compares bands sets ``decide: band`` (below)."""
    s, _ = study
    online = next(m for m in s.modes if m.mode == "online")
    paper = next(m for m in s.modes if m.mode == "A")
    assert online.mean_length < paper.mean_length - 10
    assert s.band_criterion.difference < 0 and online.band_accuracy < paper.band_accuracy


@pytest.fixture(scope="module")
def band_study(db_factory, tmp_path_factory):
    """The same study with the blueprint stored in a new version deciding the band, as a centre
    would change it (edited YAML, validated and versioned by load_blueprints)."""
    def band(doc: dict) -> None:
        doc["classification"]["decide"] = "band"
        doc["exposure"]["max_rate"] = 0.4  # 40-item attempts from 115 items: 0.25 cannot hold (validation says so)

    return run_study(db_factory, blueprint_file=edited_blueprint(tmp_path_factory.mktemp("band"), BLUEPRINT, band))


def test_an_exam_that_decides_the_band_agrees_with_paper_on_the_band_as_often_as_two_paper_forms(band_study, study):
    s, _ = band_study
    assert s.form_items == study[0].form_items  # the same forms, simulees and paper answers
    assert np.array_equal(s.simulees.band["A"], study[0].simulees.band["A"])
    assert s.simulees.online_length.mean() > study[0].simulees.online_length.mean() + 10  # the price: more items
    for c in (s.band_criterion, s.pass_fail_criterion):
        assert c.paper_online >= c.forms - c.tolerance, c
    online = next(m for m in s.modes if m.mode == "online")
    paper = [m for m in s.modes if m.mode in "AB"]
    assert online.band_accuracy >= min(m.band_accuracy for m in paper) - 0.03


def test_the_what_if_runs_every_online_attempt_to_the_maximum_length(db_factory, study):
    s, _ = run_study(db_factory, online_stop=OnlineStop.MAX_LENGTH)
    assert s.form_items == study[0].form_items and np.all(s.simulees.online_length == 40)
    assert set(s.stop_reasons) == {"max_length"}


def test_the_cli_reports_the_study_as_json_and_as_tables(bank_db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    runner = CliRunner()
    args = ["forms", "agreement", "--blueprint", BLUEPRINT, "--simulees", "40", "--seed", "2", "--length", "20",
            "--exposure", "none"]
    r = runner.invoke(app, [*args, "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["n_simulees"] == 40 and data["form_length"] == 20 and data["exposure"] == "none"
    assert [[x["first"], x["second"]] for x in data["band"]] == [["A", "online"], ["B", "online"], ["A", "B"]]
    assert data["band_criterion"]["measure"] == "band" and "simulees" not in data
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "等级一致率" in r.stdout and "A–在线" in r.stdout and "A–B" in r.stdout
    assert data["decide"] == "pass_fail"
    r = runner.invoke(app, [*args, "--decide", "band", "--format", "json"])
    assert r.exit_code == 0, r.output
    band = json.loads(r.stdout)
    assert band["decide"] == "band" and band["form_items"] == data["form_items"]
    assert band["modes"][2]["mean_length"] > data["modes"][2]["mean_length"]
    assert "等级判定即停" in runner.invoke(app, [*args, "--decide", "band"]).stdout
    # the what-if with exposure control would calibrate a cap the pool cannot honour at 40 items:
    # a version of the blueprint capped at 0.15 (0.15 x 204 items < 40)
    load_edited_blueprint(bank_db_url, tmp_path, BLUEPRINT, lambda doc: doc["exposure"].update(max_rate=0.15))
    auto = [a for a in args if a not in ("--exposure", "none")]
    r = runner.invoke(app, [*auto, "--decide", "band"])
    assert r.exit_code != 0 and "exposure.max_rate" in r.output and "--exposure none" in r.output
    r = runner.invoke(app, [*args, "--decide", "grade"])
    assert r.exit_code != 0 and "判定对象" in r.output
    r = runner.invoke(app, [*args, "--online-stop", "sometimes"])
    assert r.exit_code != 0 and "--online-stop" in r.output
