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


def test_candidate_routes_run_in_their_own_threads_as_many_at_once_as_configured():
    """Four requests at once to a sync candidate route run at most N at a time (N configured
    per event loop, as the app's lifespan does), while a staff route beside it runs in
    FastAPI's shared pool, four at once."""
    import asyncio
    import threading
    import time

    import httpx
    from fastapi import APIRouter, FastAPI

    from examengine.deps import CandidateRoute, configure_candidate_threads

    running = {"candidate": 0, "staff": 0}
    peak = {"candidate": 0, "staff": 0}
    threads: set[str] = set()
    lock = threading.Lock()

    def work(kind: str) -> dict:
        with lock:
            running[kind] += 1
            peak[kind] = max(peak[kind], running[kind])
            threads.add(threading.current_thread().name) if kind == "candidate" else None
        time.sleep(0.15)
        with lock:
            running[kind] -= 1
        return {"kind": kind}

    candidates = APIRouter(route_class=CandidateRoute)
    staff = APIRouter(route_class=ReleasingRoute)
    candidates.add_api_route("/c", lambda: work("candidate"))
    staff.add_api_route("/s", lambda: work("staff"))
    app = FastAPI()
    app.include_router(candidates)
    app.include_router(staff)

    loop_threads: set[str] = set()

    async def run(n: int) -> None:
        loop_threads.add(threading.current_thread().name)
        configure_candidate_threads(n)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            replies = await asyncio.gather(*(c.get(p) for p in ["/c"] * 4 + ["/s"] * 4))
        assert [r.json()["kind"] for r in replies] == ["candidate"] * 4 + ["staff"] * 4

    from concurrent.futures import ThreadPoolExecutor

    for n in (1, 3):
        peak.update(candidate=0, staff=0)
        # in a thread of its own: asyncio.run refuses a thread where an event loop runs (page tests)
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, run(n)).result()
        assert peak == {"candidate": n, "staff": 4}
    assert threads and not threads & loop_threads  # the candidate work never ran on the event loop's thread


def test_the_candidate_thread_count_defaults_by_database():
    from examengine.config import Settings

    assert Settings(database_url="sqlite:///x.db").candidate_thread_count == 1
    assert Settings(database_url="postgresql+psycopg://h/db").candidate_thread_count == 2
    assert Settings(database_url="sqlite:///x.db", candidate_threads=3).candidate_thread_count == 3
