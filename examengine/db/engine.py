"""Engine and session factory. SQLite gets WAL, foreign keys and a busy timeout."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        _serialize_sqlite_writers(engine)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def write_problem(engine: Engine) -> str | None:
    """None when the database takes a write, else the database's reason. A real write, rolled
    back: the Alembic version row updated to itself (a read-only SQLite file or ``mode=ro``
    connection, ``PRAGMA query_only``, a read-only PostgreSQL transaction or replica, a full
    disk all refuse it; SQLite's ``BEGIN IMMEDIATE`` alone succeeds on a read-only file)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            conn.rollback()
    except DBAPIError as exc:
        return str(exc.orig)
    return None


_DML = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_WRITER_WAIT_S = 30.0


def _serialize_sqlite_writers(engine: Engine) -> None:
    """One writing transaction at a time within this process, queued on a lock.

    SQLite admits one writer; a second one is put to sleep by SQLite's busy handler in growing
    steps (1, 2, 5, 10 ... 100 ms) however soon the first one commits. Under load, with a
    thread per request, that idles the server while answers wait. Queueing writers on a lock
    wakes the next one the moment the last commits. Reads (WAL) never wait. Other processes
    on the same file still meet the busy handler; a writer that cannot get the lock in 30 s
    (it should not happen) goes on and meets it too.
    """
    lock = threading.Lock()
    engine.__dict__["ee_writer_lock"] = lock  # for tests: never held between transactions

    @event.listens_for(engine, "before_cursor_execute")
    def _take(conn, _cursor, statement, _params, _context, _executemany) -> None:
        info = conn.info
        if not info.get("ee_writer") and statement.lstrip()[:7].upper().startswith(_DML):
            info["ee_writer"] = lock.acquire(timeout=_WRITER_WAIT_S)

    def _give(info: dict) -> None:
        if info.pop("ee_writer", False):
            lock.release()

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _end(conn) -> None:
        _give(conn.info)

    @event.listens_for(engine.pool, "reset")
    def _reset(_dbapi_conn, record, _state) -> None:
        _give(record.info)

    @event.listens_for(engine.pool, "invalidate")
    @event.listens_for(engine.pool, "close")
    def _gone(_dbapi_conn, record, *_args) -> None:
        if record is not None:
            _give(record.info)


_WROTE = "ee_flushed_since_commit"


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    maker = sessionmaker(bind=engine, expire_on_commit=False)

    @event.listens_for(maker, "after_flush")
    def _flushed(session: Session, _ctx) -> None:
        session.info[_WROTE] = True

    @event.listens_for(maker, "after_commit")
    @event.listens_for(maker, "after_rollback")
    def _ended(session: Session) -> None:
        session.info.pop(_WROTE, None)

    return maker


def has_uncommitted_writes(db: Session) -> bool:
    """Whether the session's transaction holds changes not yet committed: pending objects, or
    a flush since the last commit or rollback (sessions of :func:`make_sessionmaker`)."""
    return bool(db.new or db.dirty or db.deleted or db.info.get(_WROTE))


from examengine.db import revision as _revision  # noqa: E402,F401  (registers the bank-revision flush hook)
