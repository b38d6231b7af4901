"""Assembled forms, re-read from the database, meet every constraint (checked here without the
solver); an infeasible request says where items are missing; the seed fixes the result."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest
from sqlalchemy import func, select

from examengine.db.forms_models import Form, FormAssembly, FormItem
from examengine.db.models import Item, ItemVersion
from examengine.errors import DataFileError
from examengine.exam.blueprint import largest_remainder
from examengine.services import forms as svc
from examengine.services.blueprints import get_blueprint_version


def info3pl(theta: float, a: float, b: float, c: float) -> float:
    """Lord (1980) eq. 5-5, written out here: a^2 (1-P)/P ((P-c)/(1-c))^2."""
    p = c + (1 - c) / (1 + np.exp(-a * (theta - b)))
    return a * a * (1 - p) / p * ((p - c) / (1 - c)) ** 2


def stored_forms(db, assembly_id: int) -> dict[str, list[tuple[FormItem, ItemVersion, Item]]]:
    db.expire_all()
    out = {}
    for form in db.scalars(select(Form).where(Form.assembly_id == assembly_id).order_by(Form.code)):
        rows = db.execute(select(FormItem, ItemVersion, Item).join(ItemVersion, ItemVersion.id == FormItem.item_version_id)
                          .join(Item, Item.id == ItemVersion.item_id).where(FormItem.form_id == form.id)
                          .order_by(FormItem.position)).all()
        out[form.code] = [tuple(r) for r in rows]
    return out


def test_stored_forms_meet_every_constraint_of_the_blueprint(bank_db):
    a = svc.assemble(bank_db, blueprint="560003-L2", n_forms=2, length=40, actor="test", seed=5, rel_gap=1e-3)
    _, bp = get_blueprint_version(bank_db, "560003-L2")
    forms = stored_forms(bank_db, a.id)
    assert sorted(forms) == ["A", "B"]
    cuts = a.cuts
    info = defaultdict(dict)
    type_counts = {}
    for code, rows in forms.items():
        assert [fi.position for fi, _, _ in rows] == list(range(1, 41))
        assert len({it.id for _, _, it in rows}) == 40  # no item twice on a form
        for _, v, it in rows:
            assert it.status == "operational"
            assert v.number == it.current_version
        domains = Counter(v.requirements[0].requirement.task.domain.code for _, v, _ in rows)
        assert domains == Counter(largest_remainder(dict(bp.domain_weights), 40))
        types = Counter(v.type for _, v, _ in rows)
        for t, share in bp.type_shares:
            assert abs(types[t] / 40 - share) <= bp.type_tolerance + 1e-9
        type_counts[code] = types
        enemies = Counter(it.enemy_group for _, _, it in rows if it.enemy_group)
        assert all(n == 1 for n in enemies.values()), enemies
        for theta in sorted(set(cuts) | {0.0}):
            info[code][theta] = sum(info3pl(theta, v.irt_a, v.irt_b, v.irt_c) for _, v, _ in rows)
    assert type_counts["A"] == type_counts["B"]
    assert not {it.id for _, _, it in forms["A"]} & {it.id for _, _, it in forms["B"]}  # no shared items
    for theta in info["A"]:
        ia, ib = info["A"][theta], info["B"][theta]
        assert abs(ia - ib) <= 0.03 * (ia + ib) / 2 + 1e-9, (theta, ia, ib)
        assert a.report["information"]["A"][f"{theta:g}"] == pytest.approx(ia, rel=1e-9)
    # maximin: the objective is the smallest information at a cut, within the reported gap of the bound
    smallest = min(info[c][t] for c in info for t in cuts)
    assert a.report["objective"] == pytest.approx(smallest, rel=1e-6)
    assert a.report["gap"] <= 1e-3 + 1e-12
    assert a.report["dual_bound"] >= smallest - 1e-9


def test_an_impossible_request_names_each_shortfall_and_stores_nothing(bank_db):
    with pytest.raises(DataFileError) as caught:
        svc.assemble(bank_db, blueprint="530046-L2", n_forms=4, length=60, actor="test")
    messages = [p.message for p in caught.value.problems]
    # 200 operational items of 530046-L2, 48 of them in domain 1 (weight 0.25: 15 a form)
    assert any("至少需要 240 道不同的题目" in m and "只有 200 道" in m and "缺 40 道" in m for m in messages), messages
    assert any("530046-L2-1" in m and "共需 60 道" in m and "缺 12 道" in m for m in messages), messages
    assert bank_db.scalar(select(func.count()).select_from(FormAssembly)) == 0


def test_allowing_overlap_makes_the_long_forms_possible_and_is_respected(bank_db):
    a = svc.assemble(bank_db, blueprint="560003-L1", n_forms=2, length=60, max_overlap=20, actor="test", seed=2)
    forms = stored_forms(bank_db, a.id)
    shared = {it.id for _, _, it in forms["A"]} & {it.id for _, _, it in forms["B"]}
    assert 0 < len(shared) <= 20
    assert a.report["shared"] == {"A-B": len(shared)}


def test_the_same_seed_gives_the_same_forms(bank_db):
    one = svc.assemble(bank_db, blueprint="530046-L1", n_forms=2, length=20, actor="test", seed=11)
    two = svc.assemble(bank_db, blueprint="530046-L1", n_forms=2, length=20, actor="test", seed=11)
    assert [[i.item_id for i in f.items] for f in one.forms] == [[i.item_id for i in f.items] for f in two.forms]


def test_items_of_recently_administered_forms_are_left_out(bank_db, l1_forms):
    first = l1_forms.forms[0]
    svc.print_form(bank_db, first.id, booklet=False, sheets=False, key=True, exam_id=1, actor="test")  # administered in exam 1
    again = svc.assemble(bank_db, blueprint="530046-L1", n_forms=1, length=20, actor="test", seed=3, avoid_recent=1)
    used = {i.item_id for i in first.items}
    assert used and not used & {i.item_id for i in again.forms[0].items}
    assert again.report["excluded_recent"] == 20
