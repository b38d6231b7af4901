"""LOFT forms drawn for attempts on the sample bank (services.loft): each candidate a form of
their own meeting the blueprint, no two items of an enemy group made up of the most informative
items of a domain, the same form again for the same attempt, and the exam's exposure read back
from the stored rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import insert, select

from examengine.config import Settings
from examengine.db.models import Attempt, AttemptItem, Item
from examengine.errors import DataFileError
from examengine.exam.forms import domain_targets, type_bounds
from examengine.services import attempts, exams, loft
from examengine.services.blueprints import get_blueprint_version, load_pool

BLUEPRINT = "530046-L2"
ENEMY = "test-loft-enemies"


@pytest.fixture
def setting(bank_db):
    """An exam of 530046-L2 with three signed-in candidates; 15 items of its first domain with b
    nearest the middle cut made one enemy group. Returns (attempts, blueprint, enemy ids)."""
    db = bank_db
    _, bp = get_blueprint_version(db, BLUEPRINT)
    pool = load_pool(db, bp)
    first = bp.domains[0]
    d1 = [p for p in np.argsort(np.abs(pool.pool.params.b)) if pool.domains[p] == first][:15]
    enemy_ids = {pool.pool.item_ids[p] for p in d1}
    for it in db.scalars(select(Item).where(Item.external_id.in_(enemy_ids))):
        it.enemy_group = ENEMY
    db.commit()
    settings = Settings()
    exam = exams.create_exam(db, blueprint=BLUEPRINT, name="LOFT 测试", actor="test", zone=settings.zone)
    roster = "准考证号,姓名\n" + "".join(f"L{i:03d},考生{i}\n" for i in range(3))
    exams.import_roster(db, exam.id, "名单.csv", roster.encode(), actor="test")
    out = []
    for t in exams.tickets(db, exam.id):
        s = attempts.sign_in(db, t.ticket, t.access_code, zone=settings.zone)
        out.append(db.get(Attempt, s.attempt_id))
    for seed, a in enumerate(out, start=11):  # pinned (sign-in draws a random seed)
        a.seed = seed
    db.commit()
    return out, bp, enemy_ids


def _check(db, bp, items: list[loft.LoftItem], enemy_ids: set[str]) -> None:
    bpool = load_pool(db, bp)
    pos = [bpool.pool.position(i.external_id) for i in items]
    assert [bpool.version_ids[p] for p in pos] == [i.item_version_id for i in items]
    L = loft.loft_length(bp)
    assert L == bp.max_length == len(set(pos))
    assert Counter(bpool.domains[p] for p in pos) == Counter(domain_targets(bp, L))
    have = Counter(bpool.types[p] for p in pos)
    for t, (lo, hi) in type_bounds(bp, L).items():
        assert lo <= have[t] <= hi
    assert len(enemy_ids & {i.external_id for i in items}) == 1


def test_two_candidates_of_a_loft_exam_get_different_forms_each_meeting_the_blueprint_with_one_enemy(bank_db, setting):
    (a1, a2, _), bp, enemy_ids = setting
    f1, f2 = loft.loft_items(bank_db, a1), loft.loft_items(bank_db, a2)
    _check(bank_db, bp, f1, enemy_ids)
    _check(bank_db, bp, f2, enemy_ids)
    assert {i.external_id for i in f1} != {i.external_id for i in f2}
    assert loft.loft_items(bank_db, a1) == f1  # the same attempt draws the same form again


def test_the_exams_exposure_counts_the_forms_already_stored_and_steers_the_next_draw(bank_db, setting):
    (a1, a2, a3), bp, _ = setting
    L = loft.loft_length(bp)
    assert loft.exam_exposure(bank_db, a1.exam_id, L) == loft.ExamExposure({}, 0)
    fresh = loft.loft_items(bank_db, a3)
    # two earlier candidates were given exactly the form a3 draws when nothing was given yet
    for a in (a1, a2):
        bank_db.execute(insert(AttemptItem), [
            {"attempt_id": a.id, "position": k, "item_version_id": i.item_version_id, "external_id": i.external_id,
             "scored": True, "set_aside": []} for k, i in enumerate(fresh, start=1)])
    other = next(i for i in load_pool(bank_db, bp).pool.item_ids if i not in {f.external_id for f in fresh})
    version = bank_db.scalar(select(Item).where(Item.external_id == other)).versions[0]
    bank_db.execute(insert(AttemptItem), [{"attempt_id": a1.id, "position": L + 1, "external_id": other,
                                           "item_version_id": version.id, "scored": False, "set_aside": []}])
    bank_db.commit()
    # the unscored (pretest) row is not counted
    assert loft.exam_exposure(bank_db, a1.exam_id, L) == loft.ExamExposure({i.external_id: 2 for i in fresh}, 2)
    # each of those items now weighs (2 + 10 r)/12 against r = 0.2 (weight x 0.14), the others 2/12
    # (x 1.65): a3's form keeps well under half of them
    again = {i.external_id for i in loft.loft_items(bank_db, a3)}
    assert len(again & {i.external_id for i in fresh}) < L / 2


def test_a_loft_exam_on_a_pool_too_small_is_refused_naming_the_domain(bank_db):
    _, bp = get_blueprint_version(bank_db, BLUEPRINT)
    long = replace(bp, max_length=190)  # 530046-L2 holds 200 items; a 190-item form needs more of each domain
    with pytest.raises(DataFileError) as err:
        loft.check_loft(bank_db, long, [-1.0, 0.0, 1.0])
    assert "工作领域" in str(err.value)
