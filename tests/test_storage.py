"""Honest health and storage errors (issue 18): /healthz probes a real write; a database that
cannot be written answers 503 in Chinese (a page for candidates, JSON for the API) instead of a
bare 500; a missing or read-only folder and a newer schema stop the start with one clear line
saying what to do."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from examengine.app import create_app
from examengine.cli import app as cli_app
from examengine.config import Settings
from examengine.errors import DatabaseNotReadyError
from tests.conftest import REPO, STAFF_PASSWORD, ensure_staff


def read_only_copy(bank_db_url: str, tmp_path: Path) -> str:
    """A copy of the database file, chmod 0444, opened read-only (``mode=ro``: tests may run as
    root, whom chmod does not stop)."""
    src = Path(make_url(bank_db_url).database)
    dst = tmp_path / "readonly.db"
    shutil.copyfile(src, dst)
    dst.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return f"sqlite:///file:{dst}?mode=ro&uri=true"


def test_healthz_says_writable_when_the_database_takes_a_write(settings):
    with TestClient(create_app(settings)) as c:
        r = c.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["writable"] is True


def test_healthz_is_503_and_not_writable_on_a_read_only_database_file(sqlite_only, bank_db_url, tmp_path):
    url = read_only_copy(bank_db_url, tmp_path)
    with TestClient(create_app(Settings(database_url=url, data_dir=REPO))) as c:
        r = c.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["writable"] is False and body["status"] == "unavailable"
    assert "readonly" in body["message"]


def test_the_probe_is_a_real_write_not_begin_immediate(sqlite_only, bank_db_url, tmp_path):
    """SQLite's BEGIN IMMEDIATE succeeds on a read-only connection: only a write tells."""
    from examengine.db.engine import make_engine, write_problem

    engine = make_engine(read_only_copy(bank_db_url, tmp_path))
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        conn.exec_driver_sql("ROLLBACK")
    assert "readonly" in write_problem(engine)
    engine.dispose()


def test_query_only_makes_the_probe_fail_too(sqlite_only, settings):
    from sqlalchemy import event

    from examengine.db.engine import make_engine, write_problem

    engine = make_engine(settings.database_url)
    assert write_problem(engine) is None
    event.listen(engine, "connect", lambda dbapi, _rec: dbapi.execute("PRAGMA query_only = ON"))
    engine.dispose()  # new connections from now on
    assert write_problem(engine) is not None
    engine.dispose()


def test_a_read_only_database_answers_503_in_chinese_not_a_bare_500(sqlite_only, bank_db_url, tmp_path):
    from tests.ui.test_candidate_pages import demo_ticket

    ensure_staff(bank_db_url, "w1", "item_writer")
    ticket = demo_ticket(bank_db_url)
    url = read_only_copy(bank_db_url, tmp_path)
    with TestClient(create_app(Settings(database_url=url, data_dir=REPO)), follow_redirects=False,
                    headers={"origin": "http://testserver"}) as c:
        api = c.post("/api/v1/sessions", json={"username": "w1", "password": STAFF_PASSWORD})
        assert api.status_code == 503 and api.headers["retry-after"] == "30"
        assert api.json()["error"] == "DatabaseUnavailable" and "只读" in api.json()["message"]

        page = c.post("/exam/login", data={"ticket": ticket["ticket"], "code": ticket["access_code"]})
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert "只读" in page.text and "举手告知监考老师" in page.text and "Internal Server Error" not in page.text
        assert "content-security-policy" in page.headers

        staff = c.post("/login", data={"username": "w1", "password": STAFF_PASSWORD})
        assert staff.status_code == 503 and "/healthz" in staff.text and "举手" not in staff.text

        # reading still works
        assert c.get("/api/v1/standards").status_code == 200


def test_a_read_only_postgresql_database_answers_503_too(postgresql_only, bank_db_url):
    ensure_staff(bank_db_url, "w1", "item_writer")
    engine = create_engine(bank_db_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{make_url(bank_db_url).database}" SET default_transaction_read_only = on'))
    engine.dispose()
    with TestClient(create_app(Settings(database_url=bank_db_url, data_dir=REPO)),
                    headers={"origin": "http://testserver"}) as c:
        health = c.get("/healthz")
        assert health.status_code == 503 and health.json()["writable"] is False
        r = c.post("/api/v1/sessions", json={"username": "w1", "password": STAFF_PASSWORD})
        assert r.status_code == 503 and "只读" in r.json()["message"]


# -- starting


def refused(url: str) -> str:
    app = create_app(Settings(database_url=url, data_dir=REPO))
    with pytest.raises(DatabaseNotReadyError) as info:
        with TestClient(app):
            pass
    return info.value.message


def cli(monkeypatch, url: str, *args: str):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    return CliRunner().invoke(cli_app, list(args))


@pytest.mark.parametrize("command", [("serve",), ("init",), ("items", "list")])
def test_a_missing_folder_is_named_with_what_to_do(sqlite_only, tmp_path, monkeypatch, command):
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'examengine.db'}"
    message = refused(url)
    assert f"{tmp_path / 'no' / 'such'}" in message and "不存在" in message and "mkdir -p" in message

    r = cli(monkeypatch, url, *command)
    assert r.exit_code == 1 and "不存在" in r.output and "mkdir -p" in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "no").exists()  # nothing was created


@pytest.mark.parametrize("command", [("serve",), ("init",)])
def test_a_read_only_folder_is_named_with_what_to_do(sqlite_only, bank_db_url, tmp_path, monkeypatch, command):
    folder = tmp_path / "ro"
    folder.mkdir()
    shutil.copyfile(make_url(bank_db_url).database, folder / "examengine.db")
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):  # root: chmod does not stop root, so the check is told instead
            real = os.access
            monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == folder else real(p, mode))
        url = f"sqlite:///{folder / 'examengine.db'}"
        message = refused(url)
        assert str(folder) in message and "不可写" in message and "-wal" in message

        r = cli(monkeypatch, url, *command)
        assert r.exit_code == 1 and "不可写" in r.output and "Traceback" not in r.output
    finally:
        folder.chmod(0o755)


def test_a_database_newer_than_the_code_asks_to_upgrade_the_code_not_to_init(migrated_db_url, monkeypatch):
    engine = create_engine(migrated_db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed2099'"))
    engine.dispose()

    message = refused(migrated_db_url)
    assert "f00dfeed2099" in message and "更新" in message and "请把 examengine 升级" in message
    assert "请先运行 examengine init" not in message

    for command in (("serve",), ("init",), ("db", "upgrade")):
        r = cli(monkeypatch, migrated_db_url, *command)
        assert r.exit_code == 1, (command, r.output)
        assert "请把 examengine 升级" in r.output and "Traceback" not in r.output, command


def test_an_empty_database_still_asks_for_init(sqlite_only, tmp_path):
    assert "examengine init" in refused(f"sqlite:///{tmp_path / 'new.db'}")


def test_a_missing_default_database_is_named_by_its_absolute_path_and_init_is_not_the_first_advice(
        sqlite_only, tmp_path, monkeypatch):
    # The default URL is relative: run from another folder, the CLI looks for examengine.db there.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EXAMENGINE_DATABASE_URL", raising=False)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    r = CliRunner().invoke(cli_app, ["items", "list"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"找不到数据库文件 {tmp_path / 'examengine.db'}" in r.output
    assert f"当前目录 {tmp_path}" in r.output and "EXAMENGINE_DATABASE_URL" in r.output
    assert not (tmp_path / "examengine.db").exists()
