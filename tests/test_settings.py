"""Settings come from EXAMENGINE_* variables; nothing opens a database before the app starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from examengine.config import Settings
from examengine.db.engine import make_engine
from examengine.errors import DatabaseNotReadyError


def test_the_default_database_is_a_sqlite_file_in_the_working_directory(monkeypatch):
    monkeypatch.delenv("EXAMENGINE_DATABASE_URL", raising=False)
    assert Settings().database_url == "sqlite:///examengine.db"


def test_the_database_url_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", "postgresql+psycopg://exam@db.example/examengine")
    assert Settings().database_url == "postgresql+psycopg://exam@db.example/examengine"


def test_creating_the_app_opens_no_database(tmp_path):
    from examengine.app import create_app

    path = tmp_path / "never.db"
    create_app(Settings(database_url=f"sqlite:///{path}"))
    assert not path.exists()


def test_the_app_refuses_to_start_on_an_unmigrated_database(tmp_path):
    from fastapi.testclient import TestClient

    from examengine.app import create_app

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}"))
    with pytest.raises(DatabaseNotReadyError, match="examengine init"):
        with TestClient(app):
            pass


def test_sqlite_runs_in_wal_mode_with_foreign_keys_on(tmp_path: Path):
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_an_upload_over_the_size_limit_is_refused_before_it_is_read(bank_db_url):
    from examengine.config import Settings
    from tests.conftest import REPO, staff_client

    with staff_client(Settings(database_url=bank_db_url, data_dir=REPO, max_upload_mb=1), "big", "admin") as c:
        before = c.get("/api/v1/items").json()["total"]
        r = c.post("/api/v1/item-sets", files={"file": ("big.csv", b"x" * (2 * 1024 * 1024))})
        assert r.status_code == 413 and "1 MB" in r.json()["message"]
        assert c.get("/api/v1/items").json()["total"] == before == 1261  # nothing changed
