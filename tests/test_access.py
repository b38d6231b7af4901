"""Every route declares who may call it: a walk over every route of the app shows that
anonymous and wrong-role requests are refused, and that a candidate cannot read another
attempt."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from examengine.app import create_app
from tests.conftest import STAFF_PASSWORD, ensure_staff

# Routes anyone may call: the published catalog, sign-in, health, docs, static files.
PUBLIC = {
    ("GET", "/healthz"), ("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/"),
    ("GET", "/api/v1/standards"), ("GET", "/api/v1/standards/{code}"), ("GET", "/api/v1/requirements/{code}"),
    ("POST", "/api/v1/sessions"), ("DELETE", "/api/v1/sessions"), ("GET", "/api/v1/me"),
    ("GET", "/login"), ("POST", "/login"), ("POST", "/logout"),
}
# Routes of candidates: their own attempt token (or the sign-in itself).
CANDIDATE_SIGN_IN = {("POST", "/api/v1/attempts"), ("GET", "/exam"), ("POST", "/exam/login"), ("POST", "/exam/logout")}
# The candidate pages' font size (A-/A+, issue 25) works on the sign-in page too: a stylesheet from a
# cookie and the link that sets it; neither reads or writes anything of an exam.
CANDIDATE_SIGN_IN |= {("GET", "/exam/font.css"), ("GET", "/exam/font")}


def routes(app):
    """(method, path) of every route, including those of included routers."""
    stack = list(app.routes)
    while stack:
        r = stack.pop()
        if isinstance(r, APIRoute):
            for m in r.methods - {"HEAD", "OPTIONS"}:
                yield m, r.path
        elif hasattr(r, "original_router"):  # FastAPI's lazily included router
            stack.extend(r.original_router.routes)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "1" if ("id" in m.group(0) or "position" in m.group(0)) else "x", path)


@pytest.fixture
def app(settings):
    return create_app(settings)


def test_anonymous_requests_to_staff_and_candidate_routes_are_refused(app):
    checked = 0
    with TestClient(app, follow_redirects=False) as c:
        for method, path in sorted(routes(app)):
            if (method, path) in PUBLIC or (method, path) in CANDIDATE_SIGN_IN:
                continue
            r = c.request(method, concrete(path))
            if path.startswith(("/writer", "/proctor", "/reports")):
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), (method, path)
            elif path.startswith("/exam"):  # candidate pages: back to the sign-in page
                assert r.status_code in (401, 303), (method, path, r.status_code)
            else:
                assert r.status_code == 401, (method, path, r.status_code, r.text[:200])
            checked += 1
    assert checked > 40


def login(c: TestClient, url: str, username: str, role: str) -> None:
    ensure_staff(url, username, role)
    token = c.post("/api/v1/sessions", json={"username": username, "password": STAFF_PASSWORD}).json()["token"]
    c.headers["Authorization"] = f"Bearer {token}"


def test_wrong_roles_are_refused(app, settings):
    writer_only = [("GET", "/api/v1/items"), ("GET", "/writer/items"), ("POST", "/api/v1/item-sets"),
                   ("GET", "/api/v1/bank/coverage")]
    proctor_only = [("GET", "/api/v1/exams"), ("POST", "/api/v1/exams"), ("GET", "/proctor"),
                    ("GET", "/api/v1/exams/1/tickets")]
    admin_only = [("POST", "/api/v1/forms/assemble"), ("POST", "/proctor/forms/assemble"), ("GET", "/api/v1/audit"),
                  ("GET", "/api/v1/calibration-runs")]
    with TestClient(app, follow_redirects=False) as c:
        login(c, settings.database_url, "w1", "item_writer")
        for method, path in proctor_only:
            assert c.request(method, path).status_code == 403, (method, path)
        assert c.get("/api/v1/blueprints").status_code == 200
        login(c, settings.database_url, "p1", "proctor")
        for method, path in writer_only:
            assert c.request(method, path).status_code == 403, (method, path)
        assert c.get("/api/v1/exams").json() == []
        # a reviewer is an item writer who may also approve others' items: no exams, no admin routes
        login(c, settings.database_url, "r1", "reviewer")
        for method, path in proctor_only + admin_only:
            assert c.request(method, path).status_code == 403, (method, path)
        for path in ("/api/v1/items", "/writer/items", "/api/v1/bank/coverage", "/api/v1/blueprints"):
            assert c.get(path).status_code == 200, path
        # assembling forms reads the keys and parameters of a level: admins only
        assert c.post("/api/v1/forms/assemble", json={"blueprint": "530046-L1"}).status_code == 403
        login(c, settings.database_url, "p1", "proctor")
        for method, path in admin_only:
            assert c.request(method, path).status_code == 403, (method, path)


def test_a_proctor_sees_only_the_exams_assigned_to_them(bank_db_url):
    from examengine.config import Settings
    from tests.conftest import REPO

    app = create_app(Settings(database_url=bank_db_url, data_dir=REPO))
    with TestClient(app, headers={"origin": "http://testserver"}) as c:
        login(c, bank_db_url, "p-a", "proctor")
        mine = c.post("/api/v1/exams", json={"blueprint": "530046-L1"}).json()["id"]
        assert [e["id"] for e in c.get("/api/v1/exams").json()] == [mine]
        demo = 1  # created by init, not assigned to this proctor
        assert c.get(f"/api/v1/exams/{demo}/tickets").status_code == 403
        assert c.get(f"/proctor/exams/{demo}").status_code == 403
        assert c.get(f"/api/v1/exams/{mine}/tickets").status_code == 200


def test_a_proctor_is_shown_no_bank_link_and_a_refusal_wears_the_proctors_navigation(bank_db_url):
    from examengine.config import Settings
    from tests.conftest import REPO

    app = create_app(Settings(database_url=bank_db_url, data_dir=REPO))
    with TestClient(app, headers={"origin": "http://testserver"}) as c:
        login(c, bank_db_url, "p-nav", "proctor")
        mine = c.post("/api/v1/exams", json={"blueprint": "530046-L1"}).json()["id"]
        for page in ("/proctor", f"/proctor/exams/{mine}", f"/proctor/exams/{mine}/tickets", "/proctor/forms"):
            r = c.get(page)
            assert r.status_code == 200 and 'href="/writer/items"' not in r.text, page
        r = c.get("/writer/items")  # typed by hand: refused, in the proctor's own frame
        assert r.status_code == 403
        assert "examengine 监考" in r.text and 'href="/proctor/forms"' in r.text
        assert 'href="/writer/' not in r.text
        login(c, bank_db_url, "w-nav", "item_writer")
        r = c.get("/proctor")
        assert r.status_code == 403 and 'href="/writer/upload"' in r.text and 'href="/proctor/forms"' not in r.text
        login(c, bank_db_url, "a-nav", "admin")
        assert 'href="/writer/items"' in c.get(f"/proctor/exams/{mine}").text  # an admin keeps the link
        reports = c.get("/reports/blueprints").text
        assert all(f'href="{link}"' in reports for link in ("/reports/calibration", "/writer/items", "/proctor"))
        login(c, bank_db_url, "p-nav", "proctor")  # the report pages all staff read: only links they can follow
        reports = c.get("/reports/blueprints")
        assert reports.status_code == 200 and 'href="/proctor"' in reports.text
        assert 'href="/reports/calibration"' not in reports.text and 'href="/writer/items"' not in reports.text
        login(c, bank_db_url, "w-nav", "item_writer")
        reports = c.get("/reports/blueprints").text
        assert 'href="/writer/items"' in reports and 'href="/proctor"' not in reports


def test_a_candidate_cannot_read_another_attempt(bank_db_url):
    from examengine.config import Settings
    from tests.conftest import REPO

    app = create_app(Settings(database_url=bank_db_url, data_dir=REPO))
    with TestClient(app) as c:
        login(c, bank_db_url, "adm", "admin")
        tickets = c.get("/api/v1/exams/1/tickets").json()
        del c.headers["Authorization"]
        a = c.post("/api/v1/attempts", json={"ticket": tickets[0]["ticket"], "code": tickets[0]["access_code"]}).json()
        b = c.post("/api/v1/attempts", json={"ticket": tickets[1]["ticket"], "code": tickets[1]["access_code"]}).json()
        ha = {"Authorization": f"Bearer {a['token']}"}
        assert c.get(f"/api/v1/attempts/{a['attempt_id']}/item", headers=ha).status_code == 200
        for path in ("", "/item", "/result", "/overview", "/items/1"):
            assert c.get(f"/api/v1/attempts/{b['attempt_id']}{path}", headers=ha).status_code == 401
        other = f"/api/v1/attempts/{b['attempt_id']}"
        assert c.put(f"{other}/answers", headers=ha, json={"answers": {"1": ["A"]}}).status_code == 401
        assert c.put(f"{other}/items/1/answer", headers=ha, json={"labels": ["A"]}).status_code == 401
        assert c.put(f"{other}/items/1/flag", headers=ha, json={"flagged": True}).status_code == 401
        assert c.post(f"{other}/submit", headers=ha).status_code == 401
        # a candidate token opens no staff route
        assert c.get("/api/v1/exams", headers=ha).status_code == 401


def test_a_cookie_post_from_another_site_is_refused(bank_db_url):
    from examengine.config import Settings
    from tests.conftest import REPO

    app = create_app(Settings(database_url=bank_db_url, data_dir=REPO))
    ensure_staff(bank_db_url, "adm2", "admin")
    with TestClient(app, follow_redirects=False) as c:
        r = c.post("/login", data={"username": "adm2", "password": STAFF_PASSWORD})
        assert r.status_code == 303 and "ee_staff" in r.cookies
        evil = c.post("/proctor/exams", data={"blueprint": "530046-L1"}, headers={"origin": "http://evil.example"})
        assert evil.status_code == 403 and "跨站" in evil.json()["message"]
        missing = c.post("/proctor/exams", data={"blueprint": "530046-L1"})
        assert missing.status_code == 403
        ok = c.post("/proctor/exams", data={"blueprint": "530046-L1"}, headers={"origin": "http://testserver"})
        assert ok.status_code == 303


def test_changes_are_in_the_audit_log_with_who_and_before_and_after(bank_db_url):
    from examengine.config import Settings
    from tests.conftest import REPO, staff_client

    with staff_client(Settings(database_url=bank_db_url, data_dir=REPO), "auditor", "admin") as c:
        c.post("/api/v1/items/530046-L1-001/transitions", json={"to": "retired", "note": "过时"})
        exam = c.post("/api/v1/exams", json={"blueprint": "530046-L1"}).json()["id"]
        c.post(f"/api/v1/exams/{exam}/roster", files={"file": ("r.csv", "准考证号,姓名\nA1,甲\n".encode())})
        log = c.get("/api/v1/audit").json()
        by_action: dict = {}
        for e in log:  # newest first: keep the latest entry of each action
            by_action.setdefault(e["action"], e)
        item = by_action["item.status"]
        assert (item["actor"], item["target"], item["before"], item["after"]["status"]) == (
            "auditor", "item 530046-L1-001", {"status": "operational"}, "retired")
        assert by_action["exam.create"]["target"] == f"exam {exam}"
        assert by_action["exam.roster"]["after"]["added"] == 1
        assert {"blueprint.version", "itemset.import", "user.create"} <= set(by_action)  # from init and setup
    with staff_client(Settings(database_url=bank_db_url, data_dir=REPO), "w-audit", "item_writer") as c:
        assert c.get("/api/v1/audit").status_code == 403


# Who may call what, by path (admins pass everywhere). A new route must be placed here.
ADMIN_ONLY = ("/api/v1/forms/assemble", "/proctor/forms/assemble", "/api/v1/items/export", "/api/v1/calibration",
              "/api/v1/item-statistics", "/api/v1/audit", "/reports/calibration", "/reports/fairness")
# Admin-only routes under a proctors' prefix: the fairness analyses and the candidates' groups (#22)
ADMIN_ONLY_PATHS = {"/api/v1/exams/{exam_id}/dif", "/api/v1/exams/{exam_id}/person-fit",
                    "/api/v1/exams/{exam_id}/groups", "/api/v1/exams/{exam_id}/response-times",
                    "/api/v1/exams/{exam_id}/similarity", "/api/v1/exams/{exam_id}/compromise"}
ROLES_BY_PREFIX = [
    (("/api/v1/bank/readiness",), {"item_writer", "reviewer", "proctor"}),  # like a blueprint: every staff role
    (("/api/v1/item-sets", "/api/v1/items", "/api/v1/bank", "/writer", "/reports/items"), {"item_writer", "reviewer"}),
    (("/api/v1/blueprints", "/reports"), {"item_writer", "reviewer", "proctor"}),
    (("/api/v1/exams", "/api/v1/forms", "/api/v1/attempts/{attempt_id}/extend", "/api/v1/attempts/{attempt_id}/void",
      "/api/v1/attempts/{attempt_id}/restore",
      "/api/v1/sign-ins", "/api/v1/scans", "/proctor"), {"proctor"}),
]


def expected_roles(path: str) -> set[str]:
    if path.startswith(ADMIN_ONLY) or path in ADMIN_ONLY_PATHS:
        return set()
    for prefixes, roles in ROLES_BY_PREFIX:
        if path.startswith(prefixes):
            return roles
    raise AssertionError(f"route {path} is not in the access table of this test")


@pytest.mark.parametrize("role", ["item_writer", "reviewer", "proctor"])
def test_every_staff_route_refuses_exactly_the_roles_it_does_not_name(app, settings, role):
    refused_for_role = "账号无权进行此操作"
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False,
                    headers={"origin": "http://testserver"}) as c:
        login(c, settings.database_url, f"walk-{role}", role)
        checked = 0
        for method, path in sorted(routes(app)):
            if (method, path) in PUBLIC or (method, path) in CANDIDATE_SIGN_IN or path.startswith(
                    ("/exam", "/api/v1/attempts/{attempt_id}/item", "/api/v1/standards", "/api/v1/requirements")):
                continue
            if path in ("/api/v1/attempts/{attempt_id}", "/api/v1/attempts/{attempt_id}/answers",
                        "/api/v1/attempts/{attempt_id}/result", "/api/v1/attempts/{attempt_id}/finish",
                        "/api/v1/attempts/{attempt_id}/token", "/api/v1/attempts/{attempt_id}/overview",
                        "/api/v1/attempts/{attempt_id}/submit"):
                continue  # candidates' routes (their own token)
            r = c.request(method, concrete(path))
            refused = r.status_code == 403 and refused_for_role in r.text
            assert refused == (role not in expected_roles(path)), (method, path, r.status_code, r.text[:200])
            checked += 1
    assert checked > 40
