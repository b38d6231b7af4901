"""deps.release_connection: a read-only transaction ends (its connection goes back to the
pool), a transaction with writes nobody committed is never committed by it."""

from __future__ import annotations

from sqlalchemy import func, select

from examengine.db.engine import make_engine, make_sessionmaker
from examengine.db.models import AuditEvent
from examengine.deps import ReleasingRoute, release_connection
from examengine.services import audit


def count(maker) -> int:
    with maker() as other:
        return other.scalar(select(func.count()).select_from(AuditEvent))


def test_a_read_only_transaction_is_ended_and_its_objects_stay_loaded(bank_db_url):
    engine = make_engine(bank_db_url)
    maker = make_sessionmaker(engine)
    with maker() as db:
        events = db.scalars(select(AuditEvent)).all()
        assert db.in_transaction() and engine.pool.checkedout() == 1
        release_connection(db)
        assert not db.in_transaction() and engine.pool.checkedout() == 0
        assert all(e.action for e in events)  # usable without a new query
        assert engine.pool.checkedout() == 0
    engine.dispose()


def test_writes_nobody_committed_are_left_for_the_request_end_to_roll_back(bank_db_url):
    engine = make_engine(bank_db_url)
    maker = make_sessionmaker(engine)
    before = count(maker)
    with maker() as db:  # pending, not flushed
        audit.record(db, actor="t", action="test.pending", target="x")
        release_connection(db)
        assert db.new
    with maker() as db:  # flushed, not committed (a dry run that checks constraints, say)
        audit.record(db, actor="t", action="test.flushed", target="x")
        db.flush()
        release_connection(db)
        assert db.in_transaction()
    assert count(maker) == before
    with maker() as db:  # committed by the route, then read again: ended
        audit.record(db, actor="t", action="test.committed", target="x")
        db.commit()
        db.scalar(select(func.count()).select_from(AuditEvent))
        release_connection(db)
        assert not db.in_transaction()
    assert count(maker) == before + 1
    engine.dispose()


def test_the_route_class_wraps_sync_endpoints_only_and_keeps_their_signature():
    import inspect

    from fastapi import Depends

    from examengine.deps import get_db

    def sync_endpoint(item_id: int, db=Depends(get_db)) -> dict:
        return {"id": item_id}

    async def async_endpoint(item_id: int) -> dict:
        return {"id": item_id}

    wrapped = ReleasingRoute("/x/{item_id}", sync_endpoint)
    assert wrapped.endpoint is not sync_endpoint and wrapped.endpoint.__wrapped__ is sync_endpoint
    assert inspect.signature(wrapped.endpoint) == inspect.signature(sync_endpoint)
    assert [p.name for p in wrapped.dependant.path_params] == ["item_id"]
    assert ReleasingRoute("/y/{item_id}", async_endpoint).endpoint is async_endpoint
