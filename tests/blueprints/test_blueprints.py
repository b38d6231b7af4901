"""Blueprint files, their validation against the catalog and bank, cut scores and versions."""

from __future__ import annotations

import dataclasses
import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import norm

from examengine.datafiles import read_blueprint_file, read_blueprints_dir
from examengine.errors import DataFileError
from examengine.exam.blueprint import Decision, largest_remainder, report_score
from examengine.exam.scoring import attempt_result
from examengine.irt.params import ItemParams
from examengine.irt.selection import StartRule
from examengine.services.blueprints import (
    get_blueprint_version,
    load_pool,
    load_blueprints,
    show_blueprint,
    validate_blueprint,
)
from tests.conftest import REPO

SOURCE = REPO / "blueprints" / "530046-L2.yaml"


def edited(tmp_path: Path, edit, name: str = "530046-L2") -> Path:
    doc = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    edit(doc)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def fields_of(path: Path) -> list[str]:
    with pytest.raises(DataFileError) as info:
        read_blueprint_file(path)
    assert all(p.file == path.name for p in info.value.problems)
    return [p.field for p in info.value.problems]


def test_the_six_shipped_blueprints_read_and_weights_sum_to_one():
    bps = read_blueprints_dir(REPO / "blueprints")
    assert [b.id for b in bps] == ["530046-L1", "530046-L2", "530046-L3", "560003-L1", "560003-L2", "560003-L3"]
    for b in bps:
        assert sum(w for _, w in b.domain_weights) == pytest.approx(1.0)
        assert [c.level_name for c in b.cuts] == ["初级", "中级", "高级"]


def test_weights_that_do_not_sum_to_one_are_refused(tmp_path):
    assert fields_of(edited(tmp_path, lambda d: d["domains"].update({"530046-L2-1": 0.5}))) == ["domains"]


def test_a_cut_order_not_increasing_is_refused(tmp_path):
    def edit(d):
        d["cuts"]["中级"] = {"theta": -1.5}

    assert fields_of(edited(tmp_path, edit)) == ["cuts"]


def test_a_cut_needs_theta_or_percent_and_a_level_cannot_be_missing(tmp_path):
    def edit(d):
        d["cuts"]["初级"] = {"theta": -1, "percent_correct": 50}
        del d["cuts"]["高级"]

    assert sorted(fields_of(edited(tmp_path, edit))) == ["cuts.初级", "cuts.高级"]


def test_bad_lengths_and_pretest_positions_are_named(tmp_path):
    def edit(d):
        d["length"] = {"min": 30, "max": 20}
        d["pretest"] = {"count": 2, "positions": [5]}

    assert set(fields_of(edited(tmp_path, edit))) == {"length", "pretest.positions"}


def test_the_classification_decides_pass_fail_by_default_or_the_band_and_nothing_else(tmp_path):
    assert read_blueprint_file(SOURCE).decide == "pass_fail"
    band = edited(tmp_path, lambda d: d["classification"].update({"decide": "band"}))
    assert read_blueprint_file(band).decide == "band"
    assert fields_of(edited(tmp_path, lambda d: d["classification"].update({"decide": "grade"}))) == [
        "classification.decide"]


def test_decide_and_the_start_rule_are_read_into_enums_that_still_compare_to_their_spelling(tmp_path):
    bp = read_blueprint_file(SOURCE)
    assert (bp.decide, bp.start_rule) == (Decision.PASS_FAIL, StartRule.RANDOM_THETA)
    assert bp.decide == "pass_fail" and bp.start_rule == "random_theta"  # str Enums: old comparisons hold
    prior = edited(tmp_path, lambda d: d.setdefault("start", {}).update({"rule": "prior_mean"}))
    assert read_blueprint_file(prior).start_rule is StartRule.PRIOR_MEAN
    assert fields_of(edited(tmp_path, lambda d: d.setdefault("start", {}).update({"rule": "middle"}))) == ["start.rule"]
    # a spelling handed to the dataclass becomes the Enum too
    assert dataclasses.replace(bp, decide="band").decide is Decision.BAND


def test_the_progressive_opening_is_a_whole_number_of_items_within_the_minimum_length(tmp_path):
    assert read_blueprint_file(SOURCE).progressive_items == 6
    off = edited(tmp_path, lambda d: d["exposure"].pop("progressive_items"))
    assert read_blueprint_file(off).progressive_items == 0  # optional, off by default
    for bad in (-1, 2.5, "6", 11):  # length.min is 10
        path = edited(tmp_path, lambda d, bad=bad: d["exposure"].update({"progressive_items": bad}))
        assert fields_of(path) == ["exposure.progressive_items"], bad


def test_an_unknown_domain_code_and_a_missing_domain_are_named(bank_db, tmp_path):
    def edit(d):
        w = d["domains"].pop("530046-L2-4")
        d["domains"]["530046-L2-9"] = w

    bp = read_blueprint_file(edited(tmp_path, edit))
    found = {(p.field, p.message.split("（")[0]) for p in validate_blueprint(bank_db, bp)}
    assert ("domains.530046-L2-9", "530046-L2-9 标准目录中没有此工作领域代码") in found
    assert any(f == "domains" and "530046-L2-4" in m for f, m in found)


def test_a_band_deciding_exam_needs_an_exposure_cap_the_pool_can_honour_at_the_maximum_length(bank_db, tmp_path):
    def edit(rate):
        def go(d):
            d["classification"]["decide"] = "band"
            d["exposure"]["max_rate"] = rate
        return go

    n = len(load_pool(bank_db, read_blueprint_file(SOURCE)).pool)  # 200 operational items of 530046-L2
    assert 0.15 * n < 40 <= 0.25 * n  # the maximum length is 40
    problems = validate_blueprint(bank_db, read_blueprint_file(edited(tmp_path, edit(0.15))))
    assert [p.field for p in problems] == ["exposure.max_rate"]
    assert f"{n} 道" in problems[0].message and f"{0.15 * n:.1f} 题" in problems[0].message
    assert f"至少 {int(np.ceil(40 / 0.15))} 题" in problems[0].message
    assert validate_blueprint(bank_db, read_blueprint_file(edited(tmp_path, edit(0.25)))) == []
    # deciding pass/fail, attempts are shorter than the maximum: simulation, not this check, tells
    assert validate_blueprint(bank_db, read_blueprint_file(SOURCE)) == []


def test_a_domain_of_another_level_is_named_as_such(bank_db, tmp_path):
    def edit(d):
        w = d["domains"].pop("530046-L2-4")
        d["domains"]["530046-L1-4"] = w

    bp = read_blueprint_file(edited(tmp_path, edit))
    assert any(p.field == "domains.530046-L1-4" and "不是本级别" in p.message
               for p in validate_blueprint(bank_db, bp))


def test_a_length_the_pool_cannot_fill_says_how_many_items_are_missing(bank_db, tmp_path):
    def edit(d):
        d["length"] = {"min": 15, "max": 200}

    import json
    from collections import Counter

    items = json.loads((REPO / "itembank" / "530046-L2.json").read_text(encoding="utf-8"))["items"]
    groups = Counter(i["enemy_group"] for i in items if i.get("enemy_group"))
    usable = len(items) - sum(n - 1 for n in groups.values())  # one item per enemy group
    bp = read_blueprint_file(edited(tmp_path, edit))
    problems = validate_blueprint(bank_db, bp)
    assert any(p.field == "length.max" and f"只有 {usable} 道" in p.message for p in problems)
    assert any(p.field.startswith("domains.530046-L2-") and "缺" in p.message for p in problems)


def test_the_shipped_blueprints_validate_against_the_sample_bank(bank_db):
    for bp in read_blueprints_dir(REPO / "blueprints"):
        assert validate_blueprint(bank_db, bp) == []


def test_blueprints_show_gives_each_cut_as_theta_and_percent_correct(bank_db, tmp_path):
    def edit(d):
        d["cuts"]["初级"] = {"percent_correct": 40}

    bp = read_blueprint_file(edited(tmp_path, edit))
    load_blueprints(bank_db, [bp], actor="t")
    view = show_blueprint(bank_db, "530046-L2")
    first = view.cuts[0]
    assert (first.given, first.percent_correct) == ("percent_correct", 40.0)
    assert view.cuts[1].given == "theta" and view.cuts[1].theta == 0.0
    assert -3 < first.theta < view.cuts[1].theta
    assert view.version == 2


def test_loading_the_same_blueprints_again_adds_no_version_and_a_change_adds_one(bank_db, tmp_path):
    bps = read_blueprints_dir(REPO / "blueprints")
    assert {r.action for r in load_blueprints(bank_db, bps, actor="t")} == {"unchanged"}
    bp = read_blueprint_file(edited(tmp_path, lambda d: d.update({"time_limit_minutes": 75})))
    [r] = load_blueprints(bank_db, [bp], actor="t")
    assert (r.action, r.version) == ("new_version", 2)
    row1, bp1 = get_blueprint_version(bank_db, "530046-L2", 1)
    row2, bp2 = get_blueprint_version(bank_db, "530046-L2")
    assert (bp1.time_limit_minutes, bp2.time_limit_minutes, row2.version) == (60, 75, 2)


def test_largest_remainder_counts_sum_to_the_length():
    for n in range(1, 60):
        counts = largest_remainder({"a": 0.24, "b": 0.24, "c": 0.24, "d": 0.28}, n)
        assert sum(counts.values()) == n
        assert all(abs(counts[k] - w * n) < 1 for k, w in {"a": 0.24, "b": 0.24, "c": 0.24, "d": 0.28}.items())


def test_the_reporting_scale_puts_the_cut_at_60_and_is_monotone_and_clipped():
    thetas = np.linspace(-5, 5, 401)
    s = report_score(thetas, 0.5, pass_score=60, theta_min=-3, theta_max=3)
    assert report_score(0.5, 0.5) == pytest.approx(60.0)
    assert np.all(np.diff(s) >= 0)
    assert s.min() == 0.0 and s.max() == 100.0
    assert report_score(-3.0, 0.5) == 0.0 and report_score(3.0, 0.5) == 100.0
    assert report_score(-1.25, 0.5) == pytest.approx(30.0)  # half way from theta_min to the cut


def test_the_attempt_result_band_confidence_is_the_normal_mass_of_the_band():
    bp = read_blueprint_file(SOURCE)
    r = attempt_result(bp, (-1.0, 0.0, 1.0), 0.35, 0.3)
    assert (r.band_name, r.passed) == ("中级", True)
    assert r.band_confidence == pytest.approx(norm.cdf(1.0, 0.35, 0.3) - norm.cdf(0.0, 0.35, 0.3))
    assert r.pass_confidence == pytest.approx(1 - norm.cdf(0.0, 0.35, 0.3))
    low = attempt_result(bp, (-1.0, 0.0, 1.0), -0.2, 0.3)
    assert (low.band_name, low.passed) == ("初级", False)
    assert low.pass_confidence == pytest.approx(norm.cdf(0.0, -0.2, 0.3))


def test_domain_feedback_speaks_only_where_the_evidence_supports_it():
    bp = read_blueprint_file(SOURCE)
    item = (1.0, 0.0, 0.0)
    responses = [("530046-L2-1", 1, *item)] * 8 + [("530046-L2-2", 0, *item)] * 8 + [("530046-L2-3", 1, *item)] * 2
    responses += [("530046-L2-4", s, *item) for s in (1, 0, 1, 0, 1, 0)]
    r = attempt_result(bp, (-1.0, 0.0, 1.0), 0.0, 0.3, responses=responses)
    verdicts = {d.domain: d.verdict for d in r.domains}
    assert verdicts == {"530046-L2-1": "strength", "530046-L2-2": "weakness", "530046-L2-3": "insufficient",
                        "530046-L2-4": "consistent"}
    # z for 8/8 at p = 0.5: (8 - 4) / sqrt(2)
    assert r.domains[0].z == pytest.approx(4 / np.sqrt(2))


def test_the_blueprint_folder_must_not_hold_an_invalid_file(tmp_path):
    shutil.copy(SOURCE, tmp_path / "530046-L2.yaml")
    (tmp_path / "560003-L1.yaml").write_text("id: 560003-L1\nstandard: '560003'\nlevel: L1\n", encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        read_blueprints_dir(tmp_path)
    assert {p.file for p in info.value.problems} == {"560003-L1.yaml"}
    assert {"domains", "length.min", "length.max", "time_limit_minutes"} <= {p.field for p in info.value.problems}


def test_brute_force_agrees_with_the_fixed_form_milp():
    from examengine.exam.pool import ItemPool
    from examengine.exam.study import assemble_fixed_form
    from examengine.irt.models import item_information

    import dataclasses

    bp = dataclasses.replace(read_blueprint_file(SOURCE), type_shares=(("单选", 1.0),), type_tolerance=0.0)
    rng = np.random.default_rng(3)
    n = 14
    params = ItemParams.three_pl(rng.uniform(0.6, 2.0, n), rng.normal(0, 1, n), rng.uniform(0, 0.2, n))
    domains = [bp.domains[i % 4] for i in range(n)]
    types = ["单选"] * n
    ids = [f"i{i}" for i in range(n)]
    pool = ItemPool.build(ids, params, content={"domain": domains, "type": types}, enemy_groups=[["i0", "i4"]])
    form = assemble_fixed_form(pool, bp, 4, 0.0)
    info = item_information(np.array([0.0]), params).reshape(-1)
    best = max(
        (sum(info[list(c)]) for c in itertools.combinations(range(n), 4)
         if sorted(domains[i] for i in c) == sorted(bp.domains) and not {0, 4} <= set(c)),
    )
    assert info[form].sum() == pytest.approx(best, rel=1e-6)
    assert sorted(domains[i] for i in form) == sorted(bp.domains)
