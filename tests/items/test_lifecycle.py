"""The lifecycle, frozen versions and coverage."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from examengine.db.models import Item
from examengine.errors import ConflictError
from examengine.exam.items import TRANSITIONS, ItemStatus, can_transition
from examengine.itemfiles.tables import write_xlsx
from examengine.itemfiles.reader import parse_upload
from examengine.services.items import (
    coverage,
    edit_item,
    freeze_version,
    get_item,
    import_item_set,
    transition_item,
)


@pytest.fixture
def one_item(db, sample_drafts):
    data = write_xlsx(sample_drafts[:1])
    import_item_set(db, parse_upload("one.xlsx", data), data=data, actor="writer")
    return sample_drafts[0].external_id


def test_the_lifecycle_graph_is_the_documented_one():
    S = ItemStatus
    allowed = {(a, b) for a in S for b in S if can_transition(a, b)}
    assert allowed == {(S.DRAFT, S.REVIEW), (S.REVIEW, S.PRETEST), (S.REVIEW, S.DRAFT),
                       (S.PRETEST, S.OPERATIONAL), (S.OPERATIONAL, S.RETIRED)}
    assert TRANSITIONS[S.RETIRED] == frozenset()


def test_an_item_walks_from_draft_to_retired_and_every_step_is_recorded(db, one_item):
    steps = [("review", "writer"), ("draft", "reviewer"), ("review", "writer"), ("pretest", "reviewer"),
             ("operational", "reviewer"), ("retired", "reviewer")]
    for target, actor in steps:  # the writer submits, someone else approves (test_review.py)
        transition_item(db, one_item, ItemStatus(target), actor=actor, note=f"to {target}")
    item = get_item(db, one_item)
    assert item.status == "retired" and item.allowed_transitions == []
    steps = [(e.detail["from"], e.detail["to"], e.actor) for e in item.events if e.action == "status"]
    assert steps == [("draft", "review", "writer"), ("review", "draft", "reviewer"), ("draft", "review", "writer"),
                     ("review", "pretest", "reviewer"), ("pretest", "operational", "reviewer"),
                     ("operational", "retired", "reviewer")]


def test_a_forbidden_transition_is_refused_with_a_clear_message_and_changes_nothing(db, one_item):
    with pytest.raises(ConflictError) as info:
        transition_item(db, one_item, ItemStatus.OPERATIONAL, actor="x")
    assert "不能从“草稿”变为“正式使用”" in info.value.message and "审核中" in info.value.message
    assert db.scalars(select(Item.status).where(Item.external_id == one_item)).one() == "draft"


def test_editing_an_unused_version_changes_it_in_place(db, one_item):
    edit_item(db, one_item, actor="writer", explanation="新的解析。")
    item = get_item(db, one_item)
    assert item.current_version == 1 and item.versions[0].explanation == "新的解析。"
    assert item.events[-1].action == "edited"


def test_editing_a_frozen_version_makes_a_new_version_and_keeps_the_old(db, one_item):
    before = get_item(db, one_item).versions[0]
    freeze_version(db, one_item)
    db.commit()
    edit_item(db, one_item, actor="writer", stem=before.stem + "（修订）")
    item = get_item(db, one_item)
    assert item.current_version == 2
    assert [v.stem for v in item.versions] == [before.stem, before.stem + "（修订）"]
    assert item.versions[0].frozen and not item.versions[1].frozen
    assert item.events[-1].action == "new_version"


def test_the_sample_bank_covers_every_requirement_with_two_operational_items(bank_db):
    rows = coverage(bank_db)
    assert len(rows) == 313
    assert min(r.operational for r in rows) >= 2
    assert all(r.draft == r.review == r.pretest == r.retired == 0 for r in rows)


def test_the_sample_bank_is_at_least_40_percent_multiple_response_or_true_false(sample_drafts):
    from collections import Counter

    from examengine.exam.items import ItemType

    types = Counter(d.type for d in sample_drafts)
    assert len(sample_drafts) >= 626
    assert (types[ItemType.MULTIPLE] + types[ItemType.TRUE_FALSE]) / len(sample_drafts) >= 0.40
    assert len({d.external_id for d in sample_drafts}) == len(sample_drafts)


def test_coverage_counts_by_status(bank_db):
    code = "560003-L1-1.1.1"
    ext = next(s.external_id for s in __import__("examengine.services.items", fromlist=["x"]).list_items(
        bank_db, code=code).items)
    transition_item(bank_db, ext, ItemStatus.RETIRED, actor="admin")
    [row] = coverage(bank_db, code=code)
    full = [r for r in coverage(bank_db, code="560003-L1-1.1") if r.code == code][0]
    assert row == full
    assert row.retired == 1 and row.operational >= 1
