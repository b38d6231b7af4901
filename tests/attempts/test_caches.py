"""The per-process caches of the answer path only save work: the bank revision moves with every
change a pool is built from (and not with changes that leave pools alone), a cached pool is
never used after such a change, and an attempt's cached engine state - whether it is current,
behind (another worker took the last answers) or absent - gives the same state as a full replay
of the stored rows."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from examengine.db.models import Attempt, Item, ItemVersion
from examengine.db.revision import bank_revision
from examengine.exam.cat import StoredResponse, next_item, replay
from examengine.services import mapping
from examengine.services.blueprints import get_blueprint_version, load_pool
from examengine.exam.items import ItemStatus
from examengine.services.items import transition_item
from tests.attempts.conftest import Simulee, sign_in


def test_bank_revision_moves_with_pool_changes_only(bank_db) -> None:
    r0 = bank_revision(bank_db)
    v = bank_db.scalars(select(ItemVersion).where(ItemVersion.frozen.is_(False))).first()
    v.frozen = True  # used by an attempt: no pool changes
    bank_db.commit()
    assert bank_revision(bank_db) == r0
    v.irt_b = v.irt_b + 0.5
    bank_db.commit()
    assert bank_revision(bank_db) == r0 + 1
    v.irt_a, v.irt_c = v.irt_a * 1.1, 0.1  # two changes in one transaction: one step
    bank_db.commit()
    assert bank_revision(bank_db) == r0 + 2
    bank_db.rollback()
    v.irt_b = v.irt_b - 0.5
    bank_db.rollback()  # rolled back: nothing happened
    assert bank_revision(bank_db) == r0 + 2


def test_a_missing_revision_row_is_recreated_by_the_next_bank_change(bank_db) -> None:
    from sqlalchemy import delete

    from examengine.db.models import BankRevision

    bank_db.execute(delete(BankRevision))
    bank_db.commit()
    assert bank_revision(bank_db) == 0
    v = bank_db.scalars(select(ItemVersion)).first()
    v.irt_b = v.irt_b + 0.25
    bank_db.commit()
    assert bank_revision(bank_db) == 1


def test_cached_pool_is_dropped_when_an_item_leaves_it(bank_db) -> None:
    _, bp = get_blueprint_version(bank_db, "530046-L1")
    before = load_pool(bank_db, bp)
    assert load_pool(bank_db, bp) is before  # cached
    gone = before.pool.item_ids[0]
    transition_item(bank_db, gone, ItemStatus.RETIRED, actor="test")
    after = load_pool(bank_db, bp)
    assert gone not in after.pool.item_ids
    assert after.pool.n_items == before.pool.n_items - 1
    # an item's parameters changed by hand through the ORM: a new pool with the new value
    item = bank_db.scalars(select(Item).where(Item.external_id == after.pool.item_ids[0])).one()
    v = next(v for v in item.versions if v.number == item.current_version)
    v.irt_b = 2.75
    bank_db.commit()
    again = load_pool(bank_db, bp)
    assert again is not after
    assert again.pool.params.b[again.pool.item_ids.index(item.external_id)] == 2.75


def _fresh_state(db, attempt: Attempt):
    eng = mapping.engine(db, attempt)
    responses = [StoredResponse(r.external_id, int(r.score), True, tuple(r.set_aside or ()))
                 for r in attempt.items if r.scored and r.answer is not None]
    return eng, replay(eng.pool, eng.policy, seed=attempt.seed, responses=responses)


def _same(a, b) -> None:
    assert a.items == b.items and a.scores == b.scores
    assert a.estimate.theta == b.estimate.theta and a.estimate.se == b.estimate.se
    assert np.array_equal(a.blocked, b.blocked)
    assert a.stop == b.stop


def test_cached_state_equals_full_replay_when_current_behind_or_absent(api, exam, bank_db) -> None:
    _, tickets = exam
    aid, headers = sign_in(api, tickets[0])
    simulee = Simulee(bank_db, 0.3, seed=5)
    item = api.get(f"/api/v1/attempts/{aid}/item", headers=headers).json()
    snapshot = None
    steps = 0
    while not item.get("finished"):
        steps += 1
        r = api.post(f"/api/v1/attempts/{aid}/answers", headers=headers,
                     json={"position": item["position"], "item_id": item["item_id"], "answer": simulee.answer(item)})
        assert r.status_code == 200, r.text
        item = r.json()
        if item.get("finished"):
            break
        bank_db.expire_all()
        attempt = bank_db.get(Attempt, aid)
        if steps == 3:
            snapshot = mapping.cached_state(aid)  # what a worker that served answers 1-3 holds
        if steps == 7:
            mapping.hold_state(aid, snapshot)  # this worker missed answers 4-7: it must extend, not reuse
        if steps == 9:
            mapping.forget_state(aid)  # a worker that never saw this attempt
        eng, fresh = _fresh_state(bank_db, attempt)  # mapping.engine (the cached path) first, then a replay
        held = mapping.cached_state(aid)
        cached = held.state
        assert held.pool_ref() is eng.pool  # the cached state belongs to the live pool
        _same(cached, fresh)
        # and the cached state chooses the item the attempt actually stored next
        nxt = next_item(cached, eng.pool, eng.policy, exposure=eng.exposure)
        fresh_choice = next_item(fresh, eng.pool, eng.policy, exposure=eng.exposure)
        assert nxt == fresh_choice
    assert steps >= 10


def test_stored_exposure_survives_pool_changes(bank_db) -> None:
    """Parameters calibrated before an item left the pool and another joined still apply:
    the gone item is dropped, the new one has K = 1 until the next calibration."""
    from examengine.services.mapping import stored_exposure

    row, bp = get_blueprint_version(bank_db, "530046-L1")
    ids = load_pool(bank_db, bp).pool.item_ids
    row.exposure = {"target": 0.25, "k": {i: 0.5 for i in ids[1:]} | {"GONE-1": 0.3}}  # ids[0] "joined" later
    bank_db.commit()
    params = stored_exposure(row, load_pool(bank_db, bp).pool)
    assert params.k.tolist() == [1.0] + [0.5] * (len(ids) - 1)
    row.exposure = {"target": 0.25, "k": {"OTHER": 0.5}}
    assert stored_exposure(row, load_pool(bank_db, bp).pool) is None


def test_storing_exposure_parameters_moves_the_revision_and_the_engine_sees_them(api, exam, bank_db) -> None:
    """The attempts' blueprint cache is keyed on the bank revision: parameters stored by
    `exposure calibrate` (in any process) reach the next item choice of every worker."""
    _, tickets = exam
    aid, headers = sign_in(api, tickets[0])
    api.get(f"/api/v1/attempts/{aid}/item", headers=headers)
    attempt = bank_db.get(Attempt, aid)
    before = mapping.engine(bank_db, attempt)
    r0 = bank_revision(bank_db)
    from examengine.db.models import BlueprintVersion

    row = bank_db.get(BlueprintVersion, attempt.blueprint_version_id)
    row.exposure = {"target": 0.25, "k": {i: 0.4 for i in before.pool.item_ids}}
    bank_db.commit()
    assert bank_revision(bank_db) == r0 + 1
    bank_db.expire_all()
    after = mapping.engine(bank_db, bank_db.get(Attempt, aid))
    assert after.exposure is not None and set(after.exposure.k.tolist()) == {0.4}
    assert before.exposure is None or set(before.exposure.k.tolist()) != {0.4}


def test_what_a_candidate_is_shown_of_a_frozen_version_is_read_once_and_is_what_is_stored(api, exam, bank_db) -> None:
    from sqlalchemy import event

    _, tickets = exam
    aid, headers = sign_in(api, tickets[0])
    item = api.get(f"/api/v1/attempts/{aid}/item", headers=headers).json()
    row = bank_db.scalars(select(Attempt).where(Attempt.id == aid)).one().items[0]
    version = bank_db.get(ItemVersion, row.item_version_id)
    assert version.frozen  # frozen in the transaction that stored the row
    assert item["stem"] == version.stem and [o["text"] for o in item["options"]] == version.options
    statements: list[tuple[str, object]] = []

    def count(conn, cursor, statement, parameters, *args) -> None:
        statements.append((statement, parameters))

    from sqlalchemy.engine import Engine

    event.listen(Engine, "before_cursor_execute", count)
    try:
        again = api.get(f"/api/v1/attempts/{aid}/item", headers=headers).json()
        right = "".join(chr(65 + k) for k in version.key)
        r = api.post(f"/api/v1/attempts/{aid}/answers", headers=headers,
                     json={"position": item["position"], "item_id": item["item_id"], "answer": list(right)})
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert again == item
    assert r.status_code == 200
    bank_db.expire_all()
    stored = bank_db.get(Attempt, aid).items[0]
    assert stored.score == 1 and stored.answer == list(right)  # scored against the stored key
    # neither showing the item again nor scoring the answer read its version again (the answer's
    # reply reads the next item's version once, to freeze and show it)
    reads = [p for s, p in statements if "FROM item_versions" in s and "item_versions.id =" in s]
    assert len(reads) == 1 and version.id not in tuple(reads[0]), reads


def test_after_the_caches_are_cleared_the_engine_is_rebuilt_the_same(api, exam, bank_db) -> None:
    _, tickets = exam
    aid, headers = sign_in(api, tickets[0])
    item = api.get(f"/api/v1/attempts/{aid}/item", headers=headers).json()
    simulee = Simulee(bank_db, 0.0, seed=2)
    api.post(f"/api/v1/attempts/{aid}/answers", headers=headers,
             json={"position": item["position"], "item_id": item["item_id"], "answer": simulee.answer(item)})
    bank_db.expire_all()
    before = mapping.engine(bank_db, bank_db.get(Attempt, aid))
    mapping.clear_caches()
    assert mapping.cached_state(aid) is None
    after = mapping.engine(bank_db, bank_db.get(Attempt, aid))
    assert after.pool is not before.pool and after.pool.item_ids == before.pool.item_ids
    assert after.policy == before.policy
    _same(after.state, before.state)
