"""The blueprint's exam policy in simulation, and its CLI and API."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from examengine.cli import app
from examengine.datafiles import read_blueprint_file
from examengine.exam.policy import blueprint_policy
from examengine.exam.study import (
    exposure_matched_forms,
    assemble_fixed_form,
    calibrate_blueprint_exposure,
    simulate_blueprint,
    synthetic_blueprint_pool,
)
from examengine.irt.classification import LEVEL_BAND_NAMES
from examengine.irt.exposure import ExposureParameters
from examengine.irt.models import item_information
from tests.conftest import REPO, load_edited_blueprint

CUTS = (-1.0, 0.0, 1.0)
runner = CliRunner()


@pytest.fixture(scope="module")
def l1():
    return read_blueprint_file(REPO / "blueprints" / "560003-L1.yaml")


@pytest.fixture(scope="module")
def pool(l1):
    return synthetic_blueprint_pool(l1, 240, np.random.default_rng(5), CUTS)


def test_the_policy_targets_the_registered_cut_within_the_blueprints_bounds(l1, pool):
    p = blueprint_policy(l1, CUTS, pool=pool)
    assert p.cuts == (-1.0,) and (p.min_length, p.max_length) == (10, 40)
    assert {t.group for t in p.content_targets} == {"domain", "type"}
    assert p.exposure_target == 0.25 and p.confidence == 0.95


def test_every_attempt_meets_its_domain_and_type_targets(l1, pool):
    study = simulate_blueprint(l1, pool, CUTS, n_simulees=300, seed=2, exposure=ExposureParameters.unrestricted(240))
    assert study.content_conformity >= 0.98
    assert study.type_conformity >= 0.98
    assert l1.min_length <= study.min_length and study.max_length <= l1.max_length == 40
    assert study.pass_fail_accuracy >= 0.88
    assert study.fixed_form["length"] == 40
    assert study.false_pass_rate + study.false_fail_rate == pytest.approx(1 - study.pass_fail_accuracy)


def test_a_blueprint_deciding_the_band_classifies_against_all_three_cuts(l1, pool):
    band = dataclasses.replace(l1, decide="band")
    p = blueprint_policy(band, CUTS, pool=pool)
    assert p.cuts == CUTS and p.primary_cut == -1.0 and p.band_names == LEVEL_BAND_NAMES
    free = ExposureParameters.unrestricted(240)
    study = simulate_blueprint(band, pool, CUTS, n_simulees=300, seed=2, exposure=free)
    short = simulate_blueprint(l1, pool, CUTS, n_simulees=300, seed=2, exposure=free)
    # pass/fail is coarser than the band: where the band is right, so is pass/fail
    assert study.pass_fail_accuracy >= study.band_accuracy >= 0.6
    # three decisions take more items than one, and measure the band better
    assert study.mean_length > short.mean_length + 5
    assert study.band_accuracy > short.band_accuracy
    assert study.content_conformity >= 0.98 and study.max_length <= 40


def test_the_fixed_form_meets_the_domain_counts_exactly(l1, pool):
    form = assemble_fixed_form(pool, l1, 40, -1.0)
    domains = pool.content_group("domain")
    counts = {a: int(np.sum(domains.codes[form] == k)) for k, a in enumerate(domains.areas)}
    assert counts == l1.domain_counts(40)


def test_exposure_matched_forms_are_disjoint_parallel_and_meet_the_blueprint(l1, pool):
    forms = exposure_matched_forms(pool, l1, 40, -1.0, seed=1)
    assert len(forms) == 4  # ceil(1 / 0.25): each item seen by at most a quarter of candidates
    assert all(len(f) == 40 for f in forms)
    assert len(set().union(*map(set, forms))) == 160
    domains, types = pool.content_group("domain"), pool.content_group("type")
    for f in forms:
        counts = {a: int(np.sum(domains.codes[f] == k)) for k, a in enumerate(domains.areas)}
        assert counts == l1.domain_counts(40)
        for k, t in enumerate(types.areas):
            assert abs(np.mean(types.codes[f] == k) - dict(l1.type_shares)[t]) <= l1.type_tolerance + 1e-9
    info = [float(item_information(np.array([-1.0]), pool.params.take(f)).sum()) for f in forms]
    assert max(info) - min(info) <= 0.03 * np.mean(info) + 1e-9  # parallel at the registered cut
    study = simulate_blueprint(l1, pool, CUTS, n_simulees=200, seed=2, exposure=ExposureParameters.unrestricted(240))
    m = study.fixed_forms_exposure_matched
    assert (m["n_forms"], m["length"], m["exposure"]) == (4, 40, 0.25)
    assert 0.5 < m["pass_fail_accuracy"] <= 1 and m["false_pass_rate"] + m["false_fail_rate"] == pytest.approx(
        1 - m["pass_fail_accuracy"])


def test_sympson_hetter_holds_exposure_near_the_target_in_a_fresh_simulation(l1, pool):
    free = simulate_blueprint(l1, pool, CUTS, n_simulees=400, seed=3, exposure=ExposureParameters.unrestricted(240))
    params = calibrate_blueprint_exposure(l1, pool, CUTS, seed=4, n_simulees=300, max_iterations=8)
    held = simulate_blueprint(l1, pool, CUTS, n_simulees=400, seed=3, exposure=params)
    assert free.max_exposure > 0.5
    assert held.max_exposure <= 0.25 + 0.04
    assert held.pool_used_share > free.pool_used_share


def test_the_progressive_opening_uses_the_whole_pool_without_losing_accuracy(l1, pool):
    assert l1.progressive_items == 6 and blueprint_policy(l1, CUTS, pool=pool).progressive_items == 6
    ranked = dataclasses.replace(l1, progressive_items=0)
    free = ExposureParameters.unrestricted(240)
    opened = simulate_blueprint(l1, pool, CUTS, n_simulees=400, seed=6, exposure=free)
    plain = simulate_blueprint(ranked, pool, CUTS, n_simulees=400, seed=6, exposure=free)
    # without exposure control every candidate walks down one ranking: a fifth of the pool is
    # ever used (the top of the ranking still goes to everyone after the opening: that is the
    # Sympson-Hetter parameters' job)
    assert plain.pool_used_share < 0.3 and opened.pool_used_share > 0.9
    assert opened.pass_fail_accuracy >= plain.pass_fail_accuracy - 0.03
    assert opened.mean_length <= plain.mean_length + 2


def test_cli_simulate_blueprint_on_a_synthetic_pool_prints_the_required_keys(monkeypatch, bank_db_url, tmp_path):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    plot = tmp_path / "p.png"
    result = runner.invoke(app, ["simulate", "--blueprint", "560003-L1", "--synthetic-bank", "150", "--simulees", "150",
                                 "--seed", "1", "--calibration-simulees", "80", "--format", "json",
                                 "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("pass_fail_accuracy", "band_accuracy", "false_pass_rate", "false_fail_rate", "mean_length",
                "max_exposure", "pool_used_share", "content_conformity", "fixed_form"):
        assert key in data
    assert {"pass_fail_accuracy", "band_accuracy", "false_pass_rate", "false_fail_rate", "length"} <= set(
        data["fixed_form"])
    assert data["settings"]["pool"] == "synthetic:150" and data["pool_size"] == 150
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_exposure_calibrate_stores_parameters_that_simulate_then_uses(monkeypatch, bank_db_url):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    result = runner.invoke(app, ["exposure", "calibrate", "560003-L1", "--simulees", "60", "--format", "json"])
    assert result.exit_code == 0, result.output
    cal = json.loads(result.stdout)
    shipped = json.loads((REPO / "itembank" / "560003-L1.json").read_text(encoding="utf-8"))["items"]
    assert cal["n_items"] == len(shipped) and cal["target"] == 0.25
    show = runner.invoke(app, ["blueprints", "show", "560003-L1", "--format", "json"])
    assert json.loads(show.stdout)["exposure_calibrated"] is True
    sim = runner.invoke(app, ["simulate", "--blueprint", "560003-L1", "--simulees", "40", "--format", "json"])
    assert sim.exit_code == 0, sim.output
    assert json.loads(sim.stdout)["settings"]["exposure_parameters"] == "stored"


def _version_with_cap(url: str, tmp_path, code: str, cap: float) -> None:
    """A new version of a shipped blueprint whose only change is its exposure cap."""
    load_edited_blueprint(url, tmp_path, code, lambda doc: doc["exposure"].update(max_rate=cap))


def test_exposure_calibrate_refuses_a_cap_the_pool_cannot_hold_and_its_advice_works(monkeypatch, bank_db_url,
                                                                                      tmp_path, sqlite_only):
    """530046-L2 has 200 operational items in the sample bank: under a cap of 0.12 the exposure
    lottery sets aside so many items that long attempts run out of them. The parameters are not
    stored (online exams of that version run without them), the message names the field, what the
    check measured and a cap; a new version at that cap calibrates with no attempt running out."""
    from examengine.db.engine import make_engine, make_sessionmaker
    from examengine.db.revision import bank_revision

    _version_with_cap(bank_db_url, tmp_path, "530046-L2", 0.12)
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    engine = make_engine(bank_db_url)
    with make_sessionmaker(engine)() as db:
        before = bank_revision(db)
    result = runner.invoke(app, ["exposure", "calibrate", "530046-L2", "--simulees", "100"])
    assert result.exit_code == 1, result.output
    text = "".join(result.output.split())
    assert "530046-L2.yaml,exposure.max_rate:" in text and "未保存参数（保存之前，此版本的在线考试不做曝光控制）" in text
    exhausted = re.search(r"(\d+)%的考试因题库用尽提前结束", text)
    assert exhausted and int(exhausted.group(1)) > 1
    shown = json.loads(runner.invoke(app, ["blueprints", "show", "530046-L2", "--format", "json"]).stdout)
    assert shown["exposure_calibrated"] is False
    with make_sessionmaker(engine)() as db:
        assert bank_revision(db) == before
    # the advice, recomputed from the domain table: exposure rates sum to the length L, domain
    # by domain, under 0.8 x the cap (the calibration's aim) x the domain's operational items
    length = float(re.search(r"平均考试长度（此处约([\d.]+)题）", text).group(1))
    cap = float(re.search(r"请把曝光上限提高到至少([\d.]+)", text).group(1))
    total = sum(d["operational_items"] for d in shown["domains"])
    need = max([length / total] + [d["weight"] * length / d["operational_items"] for d in shown["domains"]]) / 0.8
    assert need - 0.001 <= cap <= need + 0.011  # L is printed to 0.1 item
    assert shown["length"]["max"] >= length > 24  # above the mean length of a pass/fail attempt (about 24)
    engine.dispose()
    _version_with_cap(bank_db_url, tmp_path, "530046-L2", cap)
    again = runner.invoke(app, ["exposure", "calibrate", "530046-L2", "--simulees", "200", "--format", "json"])
    assert again.exit_code == 0, again.output
    cal = json.loads(again.stdout)
    # at the cap within the check's sampling error (2.5 binomial SDs of its 200 simulees), none run out
    assert cal["target"] == cap and cal["exhausted_share"] <= 0.01
    assert cal["max_exposure"] <= cap + 2.5 * (cap * (1 - cap) / 200) ** 0.5


def test_cli_blueprints_list_show_validate(monkeypatch, bank_db_url):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    listed = json.loads(runner.invoke(app, ["blueprints", "list", "--format", "json"]).stdout)
    assert [b["code"] for b in listed] == ["530046-L1", "530046-L2", "530046-L3", "560003-L1", "560003-L2", "560003-L3"]
    shown = runner.invoke(app, ["blueprints", "show", "530046-L3"])
    assert shown.exit_code == 0 and "报考级别：高级" in shown.output and "参照集期望正确率" in shown.output
    assert "判定是否通过报考级别" in shown.output
    valid = runner.invoke(app, ["blueprints", "validate"])
    assert valid.exit_code == 0 and "6 份蓝图检查通过" in valid.output


def test_cli_validate_names_the_file_and_field_of_a_bad_blueprint(monkeypatch, bank_db_url, tmp_path):
    import yaml

    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    doc = yaml.safe_load((REPO / "blueprints" / "530046-L1.yaml").read_text(encoding="utf-8"))
    doc["domains"]["530046-L1-1"] = 0.9
    path = tmp_path / "530046-L1.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(app, ["blueprints", "validate", str(path)])
    assert result.exit_code == 1
    assert "530046-L1.yaml, domains: 工作领域权重之和应为 1" in result.output


def test_api_blueprints(bank_db_url):
    from examengine.config import Settings
    from tests.conftest import staff_client

    with staff_client(Settings(database_url=bank_db_url, data_dir=REPO), "pp", "proctor") as c:
        listed = c.get("/api/v1/blueprints").json()
        assert len(listed) == 6 and listed[0]["version"] == 1
        one = c.get("/api/v1/blueprints/560003-L2").json()
        assert [cut["level_name"] for cut in one["cuts"]] == ["初级", "中级", "高级"]
        assert one["decide"] == "pass_fail" and one["confidence"] == 0.95
        assert one["progressive_items"] == 6 and one["exposure_max_rate"] == 0.25
        assert all(0 < cut["percent_correct"] < 100 for cut in one["cuts"])
        assert c.get("/api/v1/blueprints/999999-L1").status_code == 404


def test_cli_simulate_table_names_the_stop_reasons_and_warns_when_the_pool_runs_out(monkeypatch, bank_db_url,
                                                                                     tmp_path):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    _version_with_cap(bank_db_url, tmp_path, "530046-L2", 0.12)  # too low a cap for its 200 items
    result = runner.invoke(app, ["simulate", "--blueprint", "530046-L2", "--simulees", "120", "--seed", "1",
                                 "--calibration-simulees", "40", "--format", "table"])
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("停止原因："))
    counts = {name: int(n) for name, n in re.findall(r"([^\s，：]+) (\d+) 人", line)}
    assert sum(counts.values()) == 120 and set(counts) <= {"已判定", "达到最长题数", "题库用尽"}
    assert counts.get("题库用尽", 0) > 0
    assert f"{counts['题库用尽']} 人的考试因题库用尽而结束" in result.stdout and "progressive_items" in result.stdout
