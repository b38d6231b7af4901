"""Rules of a blueprint, as methods of Blueprint (no database)."""

from __future__ import annotations

import pytest

from examengine.exam.blueprint import LOWER_LEVEL, Blueprint
from examengine.exam.policy import blueprint_policy


def _bp(lower: float = 0.0) -> Blueprint:
    return Blueprint(id="530046-L2", standard="530046", level="L2", name="x",
                     domain_weights=(("530046-L2-1", 0.5), ("530046-L2-2", 0.3), ("530046-L2-3", 0.2)),
                     lower_level_share=lower)


def test_without_a_lower_level_share_the_content_weights_are_the_domain_weights():
    assert _bp().content_weights() == {"530046-L2-1": 0.5, "530046-L2-2": 0.3, "530046-L2-3": 0.2}


def test_a_lower_level_share_scales_the_domains_and_adds_its_own_area():
    w = _bp(0.2).content_weights()
    assert w == pytest.approx({"530046-L2-1": 0.4, "530046-L2-2": 0.24, "530046-L2-3": 0.16, LOWER_LEVEL: 0.2})
    assert sum(w.values()) == pytest.approx(1.0)


def test_content_counts_are_the_largest_remainder_of_the_weights_and_sum_to_the_length():
    assert _bp(0.2).content_counts(40) == {"530046-L2-1": 16, "530046-L2-2": 10, "530046-L2-3": 6, LOWER_LEVEL: 8}
    assert sum(_bp(0.15).content_counts(33).values()) == 33


def test_the_adaptive_policy_balances_content_by_the_same_weights():
    bp = _bp(0.2)
    domain = blueprint_policy(bp, (-1.0, 0.0, 1.0)).content_targets[0]
    assert domain.group == "domain"
    assert dict(domain.shares) == pytest.approx(bp.content_weights())
