"""Issue 18, staff credentials: back-off after failed sign-ins (per user and per address),
every attempt audited, no enumeration by timing, a password policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from examengine.app import create_app
from examengine.config import Settings
from examengine.db.models import AuditEvent
from examengine.services import accounts
from tests.conftest import REPO, STAFF_PASSWORD, ensure_staff


@pytest.fixture
def app(db_url):
    ensure_staff(db_url, "boss", "admin")
    return create_app(Settings(database_url=db_url, data_dir=REPO))


@pytest.fixture
def clock(monkeypatch):
    """A settable clock for the sign-in service: clock.now, moved by clock.advance(minutes)."""
    class Clock:
        now = accounts.clock()

        def advance(self, minutes: float) -> None:
            self.now += timedelta(minutes=minutes)

    c = Clock()
    monkeypatch.setattr(accounts, "clock", lambda: c.now)
    return c


def _audit(db_url, action: str) -> list[AuditEvent]:
    from examengine.db.engine import make_engine, make_sessionmaker

    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as db:
        rows = list(db.scalars(select(AuditEvent).where(AuditEvent.action.like(f"{action}%"))
                               .order_by(AuditEvent.id)))
    engine.dispose()
    return rows


def test_twenty_wrong_passwords_back_off_with_429_are_audited_and_the_right_one_works_after(app, db_url, clock):
    with TestClient(app) as c:
        codes = [c.post("/api/v1/sessions", json={"username": "boss", "password": f"wrong guess {i}"})
                 for i in range(20)]
        assert [r.status_code for r in codes[:5]] == [401] * 5
        assert {r.status_code for r in codes[5:]} == {429}
        last = codes[-1]
        assert 1 <= int(last.headers["Retry-After"]) <= 15 * 60 + 1
        assert "登录失败次数过多" in last.json()["message"]
        rows = _audit(db_url, "staff.signin")
        assert len(rows) == 20 and all(r.target == "user boss" for r in rows)
        assert [r.action for r in rows] == ["staff.signin_failed"] * 5 + ["staff.signin_throttled"] * 15
        # during the back-off even the right password is refused (no oracle), after it it works
        good = {"username": "boss", "password": STAFF_PASSWORD}
        assert c.post("/api/v1/sessions", json=good).status_code == 429
        clock.advance(14)
        assert c.post("/api/v1/sessions", json=good).status_code == 429
        clock.advance(2)
        r = c.post("/api/v1/sessions", json=good)
        assert r.status_code == 200 and r.json()["token"].startswith("st_")
        assert _audit(db_url, "staff.signin")[-1].action == "staff.signin"


def test_the_login_page_backs_off_too_in_chinese(app, clock):
    with TestClient(app) as c:
        for i in range(5):
            assert c.post("/login", data={"username": "boss", "password": f"x{i}"}).status_code == 401
        r = c.post("/login", data={"username": "boss", "password": STAFF_PASSWORD}, follow_redirects=False)
        assert r.status_code == 429 and "Retry-After" in r.headers and "分钟后再试" in r.text


def test_a_successful_sign_in_resets_the_users_count(app, clock):
    with TestClient(app) as c:
        for _ in range(2):
            for i in range(4):
                assert c.post("/api/v1/sessions", json={"username": "boss", "password": f"x{i}"}).status_code == 401
            assert c.post("/api/v1/sessions", json={"username": "boss", "password": STAFF_PASSWORD}).status_code == 200


def test_one_address_trying_many_usernames_is_throttled(db_url, clock):
    app = create_app(Settings(database_url=db_url, data_dir=REPO, signin_failures_per_address=8))
    with TestClient(app) as c:
        codes = [c.post("/api/v1/sessions", json={"username": f"user{i}", "password": "whatever it is"}).status_code
                 for i in range(10)]
    assert codes == [401] * 8 + [429] * 2


def test_unknown_disabled_and_known_users_all_cost_one_password_verification(db, monkeypatch, clock):
    accounts.create_user(db, username="known", password=STAFF_PASSWORD, role=accounts.Role.PROCTOR)
    accounts.create_user(db, username="gone", password=STAFF_PASSWORD, role=accounts.Role.PROCTOR)
    accounts.set_active(db, "gone", False)
    calls = []
    real = accounts._hasher

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        def verify(self, h, p):
            calls.append(h)
            return real.verify(h, p)

    monkeypatch.setattr(accounts, "_hasher", Spy())
    for name, password in (("nobody", "some password"), ("known", "wrong password"), ("gone", STAFF_PASSWORD)):
        calls.clear()
        with pytest.raises(accounts.NotSignedInError) as info:
            accounts.sign_in(db, name, password, address="10.0.0.1")
        assert info.value.message == "用户名或密码不正确。"
        assert len(calls) == 1 and calls[0].startswith("$argon2"), name


@pytest.mark.parametrize("password, username, rule", [
    ("12345678", "boss", "至少 12 个字符"),
    (" " * 12, "boss", "空白"),
    ("chief-examiner", "chief-examiner", "用户名"),
    ("password1234", "boss", "常见"),
    ("Admin1234567", "boss", "常见"),
    ("ababababababab", "boss", "5 个不同"),
])
def test_weak_passwords_are_refused_naming_the_rule(db, password, username, rule):
    with pytest.raises(accounts.WeakPasswordError) as info:
        accounts.create_user(db, username=username, password=password, role=accounts.Role.ADMIN)
    assert rule in info.value.message
    accounts.create_user(db, username="ok-" + username, password="lantern orbit 42", role=accounts.Role.ADMIN)
    with pytest.raises(accounts.WeakPasswordError):
        accounts.set_password(db, "ok-" + username, "ok-" + username if rule == "用户名" else password)


def test_init_creates_the_first_admin_with_a_password_that_meets_the_policy(migrated_db_url):
    from examengine.db.engine import make_engine, make_sessionmaker
    from examengine.services.setup import ensure_admin

    engine = make_engine(migrated_db_url)
    with make_sessionmaker(engine)() as db:
        passwords = [ensure_admin(db)]
        assert ensure_admin(db) is None  # once
    engine.dispose()
    assert accounts.password_problems(passwords[0], "admin") == []


def test_odd_usernames_are_plain_failures(app, db_url, clock):
    with TestClient(app) as c:
        for name in ("x" * 5000, "bo\x00ss", " boss\x00"):
            r = c.post("/api/v1/sessions", json={"username": name, "password": STAFF_PASSWORD})
            assert r.status_code == 401, (name[:10], r.text)
    assert all(len(r.target) <= 100 and "\x00" not in r.target for r in _audit(db_url, "staff.signin"))
