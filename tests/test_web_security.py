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
