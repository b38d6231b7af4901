"""The web shell against an outsider (issue 18): a sign-in link leads only to the app's own
pages; every response carries the security headers; cookies are Secure when asked; the CSRF
check is skipped only for a valid staff bearer token; report pages need the role of their API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from examengine.app import create_app
from tests.conftest import STAFF_PASSWORD, ensure_staff

LURES = [
    "//evil.example/", "https://evil.example", "http://evil.example/writer/items", "/\\evil.example",
    "\\\\evil.example", "/\t/evil.example", "/\n/evil.example", "javascript:alert(1)", "//evil.example@127.0.0.1",
    "/api/v1/items/x/versions/1/images/evil.html", "/static/app.css", "/writer/../api/v1/exams",
    "/writer/%2e%2e/api/v1/exams", "/exam/item", "",
]


@pytest.fixture
def anonymous(settings):
    with TestClient(create_app(settings), follow_redirects=False) as c:
        yield c


@pytest.mark.parametrize("lure", LURES)
def test_a_sign_in_link_never_leads_off_the_staff_pages(anonymous, settings, lure):
    ensure_staff(settings.database_url, "w1", "item_writer")

    form = anonymous.get("/login", params={"next": lure})
    assert form.status_code == 200
    assert 'name="next" value=""' in form.text

    r = anonymous.post("/login", data={"username": "w1", "password": STAFF_PASSWORD, "next": lure})
    assert r.status_code == 303 and r.headers["location"] == "/writer/items"
    # signed in (the cookie), the login page sends the member on at once: home, not the lure
    again = anonymous.get("/login", params={"next": lure})
    assert again.status_code == 303 and again.headers["location"] == "/writer/items"


@pytest.mark.parametrize("page", ["/writer/items", "/reports/blueprints?level=530046-L1", "/proctor/exams/3"])
def test_a_sign_in_link_to_a_staff_page_goes_there(anonymous, settings, page):
    ensure_staff(settings.database_url, "w1", "item_writer")
    r = anonymous.post("/login", data={"username": "w1", "password": STAFF_PASSWORD, "next": page})
    assert r.status_code == 303 and r.headers["location"] == page


# -- security headers


def get_routes(app) -> list[str]:
    from tests.test_access import concrete, routes

    return sorted({concrete(path) for method, path in routes(app) if method == "GET"})


def assert_page_headers(r, where: str) -> None:
    csp = r.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0], where
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, where
    assert r.headers.get("x-content-type-options") == "nosniff", where
    assert r.headers.get("x-frame-options") == "DENY", where
    assert r.headers.get("referrer-policy") == "same-origin", where


def test_every_html_response_carries_the_page_csp_nosniff_and_no_framing(bank_db_url):
    """A walk over every GET route of the app, as an admin, a candidate and nobody: each HTML
    answer (pages, error pages, redirects' targets) carries the headers."""
    from examengine.config import Settings
    from tests.conftest import REPO, staff_client
    from tests.attempts.conftest import roster_csv

    settings = Settings(database_url=bank_db_url, data_dir=REPO)
    admin = staff_client(settings)
    exam = admin.post("/api/v1/exams", json={"blueprint": "530046-L1", "name": "头部"}).json()
    admin.post(f"/api/v1/exams/{exam['id']}/roster", files={"file": ("名单.csv", roster_csv(2))})
    ticket = admin.get(f"/api/v1/exams/{exam['id']}/tickets").json()[0]
    candidate = TestClient(create_app(settings), headers={"origin": "http://testserver"})
    candidate.__enter__()
    candidate.post("/exam/login", data={"ticket": ticket["ticket"], "code": ticket["access_code"]})
    candidate.post("/exam/start", data={"agree": "1"})
    anonymous = TestClient(create_app(settings), follow_redirects=False)
    anonymous.__enter__()

    pages = 0
    for path in [*get_routes(admin.app), "/no/such/page", "/writer/items/NOPE", "/exam/item", "/exam/result"]:
        for who, c in (("admin", admin), ("candidate", candidate), ("anonymous", anonymous)):
            r = c.get(path)
            assert r.headers.get("x-content-type-options") == "nosniff", (who, path)
            assert r.headers.get("referrer-policy") == "same-origin", (who, path)
            if r.headers.get("content-type", "").startswith("text/html"):
                assert_page_headers(r, f"{who} {path} {r.status_code}")
                pages += 1
    assert pages > 30
    for c in (admin, candidate, anonymous):
        c.__exit__(None, None, None)


def test_the_413_and_csrf_refusals_carry_the_headers_too(settings):
    with TestClient(create_app(settings.model_copy(update={"max_upload_mb": 1}))) as c:
        big = c.post("/api/v1/item-sets", files={"file": ("a.csv", b"x" * (2 * 1024 * 1024))})
        csrf = c.post("/logout", headers={"origin": "https://evil.example", "cookie": "ee_staff=st_x"})
    assert (big.status_code, csrf.status_code) == (413, 403)
    for r in (big, csrf):
        assert r.headers["x-content-type-options"] == "nosniff"


def test_the_page_csp_allows_exactly_the_templates_inline_scripts():
    """Every inline script of the templates is static text (its hash is known), and no template
    has a javascript: link or an on...= attribute, which the page CSP would block."""
    import re

    from examengine.app import page_csp
    from examengine.rendering.env import csp_hash, environment, inline_scripts, is_static

    scripts = inline_scripts()  # none since the candidate's item page moved its script to static/exam.js
    for name, body in scripts:
        assert is_static(body), f"{name}: an inline script must not contain Jinja; pass values in data- attributes"
        assert csp_hash(body) in page_csp()
    assert not any(name.startswith("exam/") for name, _ in scripts), "candidate pages load scripts from files"
    env = environment()
    for name in env.list_templates(extensions=["html"]):
        source = env.loader.get_source(env, name)[0]
        assert "javascript:" not in source, name
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", source), name


def test_the_offline_docs_page_allows_its_own_configuration_script(settings):
    from examengine.rendering.env import INLINE_SCRIPT, csp_hash

    with TestClient(create_app(settings)) as c:
        r = c.get("/docs")
    (script,) = INLINE_SCRIPT.findall(r.text)
    assert csp_hash(script) in r.headers["content-security-policy"]
    assert_page_headers(r, "/docs")


# -- cookies and CSRF


def set_cookies(r) -> list[str]:
    return r.headers.get_list("set-cookie")


@pytest.mark.parametrize("secure", [True, False])
def test_secure_cookies_marks_every_cookie_the_app_sets(bank_db_url, secure):
    from examengine.config import Settings
    from tests.conftest import REPO

    settings = Settings(database_url=bank_db_url, data_dir=REPO, secure_cookies=secure)
    ensure_staff(bank_db_url, "w1", "item_writer")
    with TestClient(create_app(settings), follow_redirects=False, headers={"origin": "http://testserver"}) as c:
        staff_in = c.post("/login", data={"username": "w1", "password": STAFF_PASSWORD})
        staff_out = c.post("/logout")
        from tests.ui.test_candidate_pages import demo_ticket

        t = demo_ticket(bank_db_url)
        cand_in = c.post("/exam/login", data={"ticket": t["ticket"], "code": t["access_code"]})
        cand_out = c.post("/exam/logout")
    cookies = [*set_cookies(staff_in), *set_cookies(staff_out), *set_cookies(cand_in), *set_cookies(cand_out)]
    assert {v.split("=", 1)[0] for v in cookies} == {"ee_staff", "ee_attempt"} and len(cookies) == 4
    for v in cookies:
        assert ("; secure" in v.lower()) is secure, v
        assert "httponly" in v.lower() or "max-age=0" in v.lower() or 'expires=' in v.lower(), v


def test_the_secure_cookies_setting_comes_from_the_environment(monkeypatch):
    from examengine.config import Settings

    assert Settings().secure_cookies is False
    monkeypatch.setenv("EXAMENGINE_SECURE_COOKIES", "true")
    assert Settings().secure_cookies is True


@pytest.mark.parametrize("authorization", ["Bearer st_made-up-token", "Bearer not-a-staff-token", "Basic eDp5",
                                           "bearer st_"])
def test_a_cross_site_post_with_the_staff_cookie_and_any_other_authorization_is_refused(anonymous, settings,
                                                                                      authorization):
    ensure_staff(settings.database_url, "w1", "item_writer")
    signed_in = anonymous.post("/login", data={"username": "w1", "password": STAFF_PASSWORD})
    assert signed_in.status_code == 303  # the cookie is in the client now

    r = anonymous.post("/logout", headers={"origin": "https://evil.example", "authorization": authorization})
    assert r.status_code == 403 and r.json()["error"] == "CsrfError"
    assert anonymous.get("/writer/items").status_code == 200  # still signed in: the logout did not happen


def test_a_valid_staff_bearer_token_still_works_from_anywhere(anonymous, settings):
    ensure_staff(settings.database_url, "w1", "item_writer")
    anonymous.post("/login", data={"username": "w1", "password": STAFF_PASSWORD})
    token = anonymous.post("/api/v1/sessions", json={"username": "w1", "password": STAFF_PASSWORD},
                           headers={"origin": "http://testserver"}).json()["token"]

    r = anonymous.post("/api/v1/item-sets", files={"file": ("a.json", b'{"items": []}')}, data={"dry_run": "true"},
                       headers={"origin": "https://tool.example", "authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text


# -- read access of the report pages


def test_the_report_pages_need_the_role_of_their_api(bank_db_url):
    """The calibration API is admins'; so are its pages. An item's report is for the bank's
    readers (writers, admins), like the item pages; blueprint information is for all staff."""
    from examengine.config import Settings
    from tests.conftest import REPO

    settings = Settings(database_url=bank_db_url, data_dir=REPO)
    expected = {  # path: (admin, item writer, proctor)
        "/reports/calibration": (200, 403, 403),
        "/reports/calibration/1": (404, 403, 403),  # no run stored: the admin is told so, the others not even that
        "/api/v1/calibration-runs": (200, 403, 403),
        "/reports/items/530046-L1-001": (200, 200, 403),
        "/reports/blueprints": (200, 200, 200),
        "/reports/blueprints/530046-L1": (200, 200, 200),
    }
    for column, (username, role) in enumerate([("a1", "admin"), ("w1", "item_writer"), ("p1", "proctor")]):
        ensure_staff(bank_db_url, username, role)
        with TestClient(create_app(settings), follow_redirects=False) as c:
            token = c.post("/api/v1/sessions", json={"username": username, "password": STAFF_PASSWORD}).json()["token"]
            c.headers["Authorization"] = f"Bearer {token}"
            for path, codes in expected.items():
                assert c.get(path).status_code == codes[column], (role, path)
            home = c.get("/reports")
            assert home.headers["location"] == ("/reports/calibration" if role == "admin" else "/reports/blueprints")
