"""Deployment settings: the public address behind a reverse proxy, proxies whose forwarded
headers are believed, and the SQLite backup command."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from examengine.app import create_app
from examengine.config import Settings, allowed_origins, origin_of
from tests.conftest import REPO, STAFF_PASSWORD, ensure_staff

PUBLIC = "https://exam.example.cn"


def _signed_in(client: TestClient, url: str) -> None:
    ensure_staff(url, "proxied", "admin")
    r = client.post("/login", data={"username": "proxied", "password": STAFF_PASSWORD})
    assert r.status_code == 303 and "ee_staff" in r.cookies


def test_behind_a_proxy_that_rewrites_host_a_staff_form_from_the_public_address_is_refused_unless_configured(
        bank_db_url):
    # nginx's default `proxy_set_header Host $proxy_host`: the app sees the upstream's name as Host
    headers = {"host": "examengine-upstream", "origin": PUBLIC}
    for settings, expected in ((Settings(database_url=bank_db_url, data_dir=REPO), 403),
                               (Settings(database_url=bank_db_url, data_dir=REPO, public_url=PUBLIC + "/"), 303)):
        with TestClient(create_app(settings), follow_redirects=False) as c:
            _signed_in(c, bank_db_url)
            r = c.post("/proctor/exams", data={"blueprint": "530046-L1"}, headers=headers)
            assert r.status_code == expected, r.text
            evil = c.post("/proctor/exams", data={"blueprint": "530046-L1"},
                          headers={"host": "examengine-upstream", "origin": "https://evil.example"})
            assert evil.status_code == 403


def test_trusted_origins_are_accepted_too_and_a_referer_counts_by_its_origin(bank_db_url):
    settings = Settings(database_url=bank_db_url, data_dir=REPO, trusted_origins=" https://a.example:8443, http://b.example")
    with TestClient(create_app(settings), follow_redirects=False) as c:
        _signed_in(c, bank_db_url)
        for source in ({"origin": "https://a.example:8443"}, {"referer": "http://b.example/proctor/exams"}):
            r = c.post("/proctor/exams", data={"blueprint": "530046-L1"}, headers={"host": "upstream", **source})
            assert r.status_code == 303, source
        other_port = c.post("/proctor/exams", data={"blueprint": "530046-L1"},
                            headers={"host": "upstream", "origin": "https://a.example"})
        assert other_port.status_code == 403


def test_origins_are_normalised_as_a_browser_sends_them():
    assert origin_of("HTTPS://Exam.Example.CN:443/path?q") == "https://exam.example.cn"
    assert origin_of("http://10.0.0.5:8080") == "http://10.0.0.5:8080"
    assert origin_of("ftp://x") is None and origin_of("null") is None and origin_of("https://") is None
    settings = Settings(public_url=PUBLIC, trusted_origins="http://a.example,,junk")
    assert allowed_origins(settings) == {PUBLIC, "http://a.example"}


def test_a_public_url_that_is_no_http_address_is_refused_at_start(monkeypatch):
    monkeypatch.setenv("EXAMENGINE_PUBLIC_URL", "exam.example.cn")
    with pytest.raises(ValueError, match="EXAMENGINE_PUBLIC_URL"):
        Settings()


@pytest.mark.parametrize(("configured", "proxy_headers", "allowed"),
                         [(None, True, "127.0.0.1"), ("10.0.0.2,10.0.0.3", True, "10.0.0.2,10.0.0.3"), ("", False, None)])
def test_serve_believes_forwarded_headers_only_from_the_configured_proxies(monkeypatch, migrated_db_url, configured,
                                                                         proxy_headers, allowed):
    import uvicorn

    from examengine.cli import app

    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", migrated_db_url)  # serve checks the database before it starts
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append(kw))
    if configured is None:
        monkeypatch.delenv("EXAMENGINE_FORWARDED_ALLOW_IPS", raising=False)
    else:
        monkeypatch.setenv("EXAMENGINE_FORWARDED_ALLOW_IPS", configured)
    result = CliRunner().invoke(app, ["serve", "--workers", "3"])
    assert result.exit_code == 0, result.output
    (kw,) = calls
    assert kw["proxy_headers"] is proxy_headers and kw["forwarded_allow_ips"] == allowed and kw["workers"] == 3


def test_db_backup_copies_a_sqlite_database_in_use_and_refuses_postgresql(monkeypatch, tmp_path):
    from examengine.cli import app
    from tests.conftest import _initialize

    url = f"sqlite:///{tmp_path / 'live.db'}"
    _initialize(url)
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", url)
    holder = sqlite3.connect(tmp_path / "live.db")  # a worker holding the database open, mid-transaction
    holder.execute("BEGIN")
    holder.execute("SELECT count(*) FROM items").fetchone()
    try:
        result = CliRunner().invoke(app, ["db", "backup", str(tmp_path / "copy.db")])
    finally:
        holder.rollback()
        holder.close()
    assert result.exit_code == 0 and "完整性检查通过" in result.output, result.output
    with sqlite3.connect(tmp_path / "copy.db") as copy, sqlite3.connect(tmp_path / "live.db") as live:
        assert copy.execute("SELECT count(*) FROM items").fetchone() == live.execute("SELECT count(*) FROM items").fetchone()
        assert copy.execute("SELECT count(*) FROM items").fetchone()[0] > 0
    again = CliRunner().invoke(app, ["db", "backup", str(tmp_path / "copy.db")])
    assert again.exit_code == 1 and "不会覆盖" in again.output

    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", "postgresql+psycopg://x@127.0.0.1:1/none")
    pg = CliRunner().invoke(app, ["db", "backup", str(tmp_path / "pg.sql")])
    assert pg.exit_code == 1 and "pg_dump" in pg.output
