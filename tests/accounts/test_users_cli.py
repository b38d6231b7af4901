"""``examengine users disable`` and ``users unassign`` (issue 18), and the password policy in the CLI."""

from __future__ import annotations

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from examengine.app import create_app
from examengine.cli import app as cli
from examengine.config import Settings
from tests.conftest import REPO, STAFF_PASSWORD, ensure_staff

runner = CliRunner()


def test_users_create_refuses_a_weak_password_and_accepts_a_good_one(cli_env):
    r = runner.invoke(cli, ["users", "create", "--username", "root2", "--role", "admin", "--password", "12345678"])
    assert r.exit_code == 1 and "至少 12 个字符" in r.output
    r = runner.invoke(cli, ["users", "create", "--username", "root2", "--role", "admin", "--password", "root2"])
    assert r.exit_code == 1 and "用户名" in r.output
    r = runner.invoke(cli, ["users", "create", "--username", "rev", "--role", "reviewer",
                            "--password", "lantern orbit 42"])
    assert r.exit_code == 0 and "审题人" in r.output
    r = runner.invoke(cli, ["users", "password", "rev", "--password", "        "])
    assert r.exit_code == 1 and "空白" in r.output


def _admin_token(c: TestClient, url: str) -> str:
    ensure_staff(url, "adm-cli", "admin")
    return c.post("/api/v1/sessions", json={"username": "adm-cli", "password": STAFF_PASSWORD}).json()["token"]


def test_disable_revokes_sessions_and_unassign_takes_the_exam_away(bank_db_url, monkeypatch):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    ensure_staff(bank_db_url, "p-cli", "proctor")
    assert runner.invoke(cli, ["users", "assign", "p-cli", "1"]).exit_code == 0
    app = create_app(Settings(database_url=bank_db_url, data_dir=REPO))
    with TestClient(app) as c:
        token = c.post("/api/v1/sessions", json={"username": "p-cli", "password": STAFF_PASSWORD}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        assert c.get("/api/v1/exams/1", headers=h).status_code == 200
        r = runner.invoke(cli, ["users", "unassign", "p-cli", "1"])
        assert r.exit_code == 0, r.output
        assert c.get("/api/v1/exams/1", headers=h).status_code == 403
        assert runner.invoke(cli, ["users", "unassign", "p-cli", "1"]).exit_code == 1  # not assigned any more
        r = runner.invoke(cli, ["users", "disable", "p-cli"])
        assert r.exit_code == 0 and "1 个会话" in r.output
        assert c.get("/api/v1/exams", headers=h).status_code == 401
        assert c.post("/api/v1/sessions", json={"username": "p-cli", "password": STAFF_PASSWORD}).status_code == 401
        r = runner.invoke(cli, ["audit", "--action", "user.", "--target", "user p-cli"])
        assert r.exit_code == 0
        c.headers["Authorization"] = f"Bearer {_admin_token(c, bank_db_url)}"
        actions = [e["action"] for e in c.get("/api/v1/audit", params={"target": "user p-cli"}).json()]
        assert {"user.disable", "user.unassign", "user.assign"} <= set(actions)
        assert runner.invoke(cli, ["users", "enable", "p-cli"]).exit_code == 0
        assert c.post("/api/v1/sessions", json={"username": "p-cli", "password": STAFF_PASSWORD}).status_code == 200


def test_init_prints_a_first_admin_password_that_meets_the_policy_and_signs_in(empty_db_url, monkeypatch):
    import re

    from examengine.services.accounts import password_problems

    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    r = runner.invoke(cli, ["init"])
    assert r.exit_code == 0, r.output
    if empty_db_url.startswith("sqlite"):  # init names the file it made
        from examengine.db.migrate import sqlite_path

        assert f"数据库文件：{sqlite_path(empty_db_url).absolute()}" in r.output
    password = re.search(r"用户名 admin，密码 (\S+?)（", r.output).group(1)
    assert password_problems(password, "admin") == []
    with TestClient(create_app(Settings(database_url=empty_db_url, data_dir=REPO))) as c:
        assert c.post("/api/v1/sessions", json={"username": "admin", "password": password}).status_code == 200


def test_users_create_without_a_terminal_says_how_to_pass_the_password_and_reads_it_from_stdin(cli_env):
    # CliRunner's stdin is not a terminal, as in a script or a pipe: no getpass warning, no "Aborted."
    r = runner.invoke(cli, ["users", "create", "--username", "ops", "--role", "proctor"], input="")
    assert r.exit_code == 1, r.output
    assert "--password-stdin" in r.output and "Aborted" not in r.output and "Warning" not in r.output
    r = runner.invoke(cli, ["users", "create", "--username", "ops", "--role", "proctor", "--password-stdin"],
                      input="lantern orbit 42\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["users", "password", "ops"], input="")
    assert r.exit_code == 1 and "--password-stdin" in r.output
