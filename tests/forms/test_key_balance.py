"""Assembly balances the keys of each form (单选 keys spread over A-D, 判断 not all 对) as a
constraint, prints them without long runs of one key, and reports counts that equal a recount
from the stored items; a bank that cannot balance says so in Chinese."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from examengine.db.forms_models import Form, FormItem
from examengine.db.models import Item, ItemVersion, Level
from examengine.errors import DataFileError
from examengine.exam.forms import (
    SINGLE_KEY_SHARE,
    SINGLE_KEY_SLACK,
    TRUE_KEY_SHARE,
    TRUE_KEY_SLACK,
    key_band,
)
from examengine.exam.items import LETTERS
from examengine.services import forms as svc


def current_versions(db, level: str, item_type: str) -> list[ItemVersion]:
    rows = db.execute(select(Item, ItemVersion).join(ItemVersion, ItemVersion.item_id == Item.id)
                      .join(Level, Level.id == Item.level_id)
                      .where(Level.code == level, Item.status == "operational", ItemVersion.type == item_type)
                      .order_by(Item.external_id)).all()
    return [v for it, v in rows if v.number == it.current_version]


def spread(k: int, n: int, share: float) -> bool:
    """Whether the k-th of n items is among a ``share`` of them spread over the whole list."""
    return (k * 37) % n < share * n


def skew(db, *, single_a: float, true_share: float, keep_d: int | None = None) -> None:
    """Rewrite the stored keys of 530046-L1: ``single_a`` of the 单选 keyed A (with ``keep_d``:
    all but that many of those keyed D become A too), ``true_share`` of the 判断 对."""
    singles = current_versions(db, "530046-L1", "单选")
    d_seen = 0
    for k, v in enumerate(singles):
        if keep_d is not None and list(v.key) == [3]:
            d_seen += 1
            if d_seen > keep_d:
                v.key = [0]
        elif spread(k, len(singles), single_a):
            v.key = [0]
    judged = current_versions(db, "530046-L1", "判断")
    for k, v in enumerate(judged):
        v.key = [0] if spread(k, len(judged), true_share) else [1]
    db.commit()


def stored_keys(db, form_id: int) -> list[tuple[int, str, str]]:
    """(position, type, key letters) of a stored form, in print order, read from the item versions."""
    db.expire_all()
    rows = db.execute(select(FormItem.position, ItemVersion.type, ItemVersion.key)
                      .join(ItemVersion, ItemVersion.id == FormItem.item_version_id)
                      .where(FormItem.form_id == form_id).order_by(FormItem.position)).all()
    return [(pos, t, "".join(LETTERS[i] for i in sorted(key))) for pos, t, key in rows]


def longest_run(rows) -> int:
    best = run = 0
    for k, (_, t, key) in enumerate(rows):
        run = run + 1 if k and (t, key) == rows[k - 1][1:] else 1
        best = max(best, run)
    return best


def test_a_bank_with_skewed_keys_still_gives_balanced_forms_whose_report_matches_a_recount(bank_db):
    skew(bank_db, single_a=0.7, true_share=0.85)
    bank_keys = Counter("".join(LETTERS[i] for i in v.key) for v in current_versions(bank_db, "530046-L1", "单选"))
    assert bank_keys["A"] > 0.7 * sum(bank_keys.values())  # the bank is skewed
    a = svc.assemble(bank_db, blueprint="530046-L1", n_forms=2, length=20, actor="test", seed=3)
    assert a.report["key_balance"]["max_run"] == 3
    for view in a.forms:
        rows = stored_keys(bank_db, view.id)
        singles = Counter(key for _, t, key in rows if t == "单选")
        tf = Counter(key for _, t, key in rows if t == "判断")
        n_single, n_tf = sum(singles[x] for x in "ABCD"), tf["A"] + tf["B"]
        lo, hi = key_band(n_single, SINGLE_KEY_SHARE, SINGLE_KEY_SLACK)
        assert all(lo <= singles[x] <= hi for x in "ABCD"), (view.code, singles, (lo, hi))
        lo, hi = key_band(n_tf, TRUE_KEY_SHARE, TRUE_KEY_SLACK)
        assert lo <= tf["A"] <= hi and tf["B"] >= 1, (view.code, tf)
        assert longest_run(rows) <= 3
        # the report is a recount of what is stored
        kb = svc.form_view(bank_db, view.id).key_balance
        assert kb.single == {x: singles[x] for x in "ABCD"}
        assert kb.true_false == {"对": tf["A"], "错": tf["B"]}
        assert kb.longest_run == longest_run(rows) and kb.balanced
        assert kb == view.key_balance


def test_without_the_constraint_the_same_bank_gives_skewed_forms(bank_db):
    """The reason for the constraint: left alone, the solver takes the keys the bank has."""
    skew(bank_db, single_a=0.9, true_share=0.95)
    a = svc.assemble(bank_db, blueprint="530046-L1", n_forms=2, length=20, actor="test", seed=3, balance_keys=False)
    assert a.report["key_balance"] is None
    assert not all(f.key_balance.balanced for f in a.forms)


def test_a_bank_that_cannot_balance_its_keys_says_so_in_chinese(bank_db):
    skew(bank_db, single_a=0.0, true_share=0.5, keep_d=1)  # one 单选 keyed D left in the bank
    with pytest.raises(DataFileError) as caught:
        svc.assemble(bank_db, blueprint="530046-L1", n_forms=2, length=20, actor="test", seed=3)
    messages = [p.message for p in caught.value.problems]
    assert any("单选题答案 D" in m and "答案分布均衡" in m and "缺 1 道" in m and "--no-balance-keys" in m
               for m in messages), messages
    assert bank_db.scalars(select(Form)).first() is None  # nothing stored
    a = svc.assemble(bank_db, blueprint="530046-L1", n_forms=2, length=20, actor="test", seed=3, balance_keys=False)
    assert len(a.forms) == 2
