"""SQLite writers queue on an in-process lock (examengine.db.engine): every concurrent write
lands, and the lock is free again after a commit, a rollback, a failed statement and a session
closed with its transaction still open."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from examengine.db.engine import make_engine, make_sessionmaker


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)"))
    yield engine
    engine.dispose()


def test_lock_is_released_on_every_way_out(engine) -> None:
    lock = engine.__dict__["ee_writer_lock"]
    Session = make_sessionmaker(engine)
    with Session() as db:
        db.execute(text("SELECT count(*) FROM t"))
        assert not lock.locked()  # reads never take it
        db.execute(text("INSERT INTO t (id, v) VALUES (1, 1)"))
        assert lock.locked()
        db.commit()
        assert not lock.locked()
        db.execute(text("UPDATE t SET v = 2"))
        db.rollback()
        assert not lock.locked()
        db.execute(text("INSERT INTO t (id, v) VALUES (2, 1)"))
        with pytest.raises(IntegrityError):
            db.execute(text("INSERT INTO t (id, v) VALUES (2, 1)"))
        db.rollback()
        assert not lock.locked()
    with Session() as db:
        db.execute(text("DELETE FROM t WHERE id = 1"))
        assert lock.locked()
    assert not lock.locked()  # closed without commit: the pool's reset rolled back and released it
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, v FROM t ORDER BY id")).all() == [(1, 1)]


def test_concurrent_writers_all_land(engine) -> None:
    Session = make_sessionmaker(engine)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for j in range(25):
                with Session() as db:
                    db.execute(text("INSERT INTO t (id, v) VALUES (:id, :v)"), {"id": k * 1000 + j, "v": k})
                    db.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 200
    assert not engine.__dict__["ee_writer_lock"].locked()
