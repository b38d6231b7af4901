"""Online against paper for one candidate: the difference of two thetas against their two SEs
(z = 1.96), and the band and pass/fail compared where both sides decided them."""

from __future__ import annotations

import numpy as np
import pytest

from examengine.exam.reconciliation import RECONCILE_Z, Sitting, compare, theta_agreement


def test_the_theta_test_matches_a_hand_computation():
    # theta_o = 0.52 ± 0.30, theta_p = -1.10 ± 0.40: SE of the difference sqrt(0.09 + 0.16) = 0.5,
    # difference 1.62, z = 3.24, limit 1.96 * 0.5 = 0.98: beyond
    t = theta_agreement(0.52, 0.30, -1.10, 0.40)
    assert float(t.difference) == pytest.approx(1.62)
    assert float(t.se) == pytest.approx(0.5)
    assert float(t.z) == pytest.approx(3.24)
    assert float(t.limit) == pytest.approx(0.98)
    assert bool(t.beyond) and t.z_crit == RECONCILE_Z == 1.96
    # 0.2 ± 0.3 against -0.5 ± 0.4: difference 0.7 < 0.98, within what the SEs allow
    assert not bool(theta_agreement(0.2, 0.3, -0.5, 0.4).beyond)


def test_the_test_is_elementwise_and_strict_at_the_limit():
    t = theta_agreement([0.98, -0.99, 0.5, 1.0], [0.3, 0.3, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0], [0.4, 0.4, 0.0, 0.0])
    # exactly at the limit (0.98 = 1.96 * 0.5) is not beyond; just past it on the other side is
    assert t.beyond.tolist() == [False, True, False, True]
    assert t.z[2] == 0.0 and np.isinf(t.z[3])  # no SE at all: equal is agreement, any difference is not
    assert theta_agreement(0.7, 0.3, 0.0, 0.4, z=1.0).beyond  # a stricter z flags sooner


def test_a_candidate_who_passed_online_with_71_and_failed_on_paper_with_5_9_is_flagged():
    # issue 21: shown nothing until now
    online = Sitting(theta=0.45, se=0.32, band_name="初级", passed=True, registered_level="初级")
    paper = Sitting(theta=-2.30, se=0.45, band_name="未达初级", passed=False, registered_level="初级")
    c = compare(online, paper)
    assert c.flagged and c.theta_beyond and c.band_differs and c.pass_differs
    assert c.difference == pytest.approx(2.75)
    assert c.se == pytest.approx(np.hypot(0.32, 0.45))
    assert any("是否通过不同：在线通过，纸笔未通过" in r for r in c.reasons)
    assert any("等级不同：在线 初级，纸笔 未达初级" in r for r in c.reasons)
    assert any(r.startswith("θ 相差 +2.75") for r in c.reasons)


def test_decisions_can_differ_while_the_thetas_agree_and_each_is_said_for_what_it_is():
    # both near the 初级 cut (-1): one just above, one just below, well within the SEs
    c = compare(Sitting(-0.95, 0.3, "初级", True, "初级"), Sitting(-1.05, 0.35, "未达初级", False, "初级"))
    assert not c.theta_beyond and c.band_differs and c.pass_differs and c.flagged
    assert not any(r.startswith("θ") for r in c.reasons)
    same = compare(Sitting(0.4, 0.3, "中级", True, "初级"), Sitting(0.1, 0.4, "中级", True, "初级"))
    assert not same.flagged and same.reasons == () and same.band_differs is False and same.pass_differs is False


def test_an_incomplete_online_attempt_or_another_registered_level_is_not_compared_on_decisions():
    c = compare(Sitting(-0.2, 0.6, None, False, "初级", complete=False), Sitting(-0.1, 0.4, "初级", True, "初级"))
    assert c.band_differs is None and c.pass_differs is None and not c.flagged
    assert c.notes == ("在线作答未完成（题数不足），不比较等级与是否通过",)
    c = compare(Sitting(0.2, 0.3, "中级", False, "高级"), Sitting(0.1, 0.3, "中级", True, "中级"))
    assert c.pass_differs is None and c.band_differs is False and not c.flagged
    assert "报考级别不同" in c.notes[0]
