"""The result of an attempt: a band is stated only at the blueprint's reporting confidence, and an
incomplete attempt is withheld (issue 17). Checked against the normal-approximation band mass,
computed here with scipy as the oracle."""

from __future__ import annotations

import pytest
from scipy.stats import norm

from examengine.exam.attempts import AttemptStatus, is_complete
from examengine.exam.blueprint import Blueprint
from examengine.exam.scoring import attempt_result

BP = Blueprint(id="530046-L1", standard="530046", level="L1", name="t",
               domain_weights=(("530046-L1-1", 0.5), ("530046-L1-2", 0.5)), min_length=15)
CUTS = (-1.0, 0.0, 1.0)


@pytest.mark.parametrize("theta,se", [(-0.5, 0.3), (-0.5, 0.1), (0.05, 0.3), (2.0, 0.3), (-2.5, 0.4)])
def test_a_band_is_stated_only_when_its_mass_reaches_the_blueprint_confidence(theta, se):
    res = attempt_result(BP, CUTS, theta, se)
    lo = max([c for c in CUTS if c <= theta], default=-float("inf"))
    hi = min([c for c in CUTS if c > theta], default=float("inf"))
    mass = norm.cdf(hi, theta, se) - norm.cdf(lo, theta, se)
    assert res.band_confidence == pytest.approx(mass, abs=1e-9)
    assert res.band_stated is bool(mass >= 0.90)
    assert res.complete is True and res.score is not None


def test_a_coin_toss_band_is_not_stated():
    """The reported case: 中级 at 55 % confidence for a candidate registered for 初级."""
    res = attempt_result(BP, CUTS, 0.06, 0.5)
    assert res.band_name == "中级" and 0.4 < res.band_confidence < 0.6 and res.band_stated is False
    assert res.passed is True  # the decision on the registered level still stands


def test_an_incomplete_attempt_is_withheld_whatever_its_theta():
    res = attempt_result(BP, CUTS, 0.8, 0.9, complete=False)
    assert (res.passed, res.band, res.band_name, res.score, res.pass_confidence, res.band_stated) == (
        False, None, None, None, None, False)
    assert res.theta == 0.8  # kept for the record


def test_the_minimum_counts_scored_answers():
    assert not is_complete(14, 15) and is_complete(15, 15)
    assert AttemptStatus.INCOMPLETE.label == "未完成" and AttemptStatus("incomplete").closed
    assert not AttemptStatus.IN_PROGRESS.closed and AttemptStatus.FINISHED.scored and not AttemptStatus.VOIDED.scored


def test_a_stored_result_reads_back_into_its_dataclass_and_old_rows_get_defaults():
    import json
    from dataclasses import asdict

    from examengine.exam.scoring import StoredResult

    res = attempt_result(BP, CUTS, 0.3, 0.2, responses=[("530046-L1-1", 1, 1.0, 0.0, 0.2)] * 4)
    stored = json.loads(json.dumps(asdict(res) | {"n_scored": 4, "min_items": 15, "n_pretest": 2,
                                                  "provisional": True, "n_provisional": 3}))
    back = StoredResult.from_dict(stored)
    assert asdict(back) == asdict(res) | {"n_scored": 4, "n_unanswered_wrong": 0, "min_items": 15, "n_pretest": 2,
                                          "provisional": True, "n_provisional": 3}
    assert back.provisional_label == "暂定"
    old = {k: v for k, v in stored.items() if k not in ("complete", "band_stated", "min_items", "provisional",
                                                        "n_provisional")}
    old_back = StoredResult.from_dict(old)  # stored before the run-out-of-time rule, the band statement, the 暂定 mark
    assert old_back.complete is True and old_back.band_stated is False and old_back.min_items is None
    assert old_back.provisional is None and old_back.provisional_label == "参数来源未记录"  # unknown, not final
