"""The pages' Content-Security-Policy breaks none of them (issue 18): an admin walks the staff
pages, an error page, the printable tickets and the offline API docs in a real browser; the
``page`` fixture fails the test on any CSP violation the browser reports."""

from __future__ import annotations

from tests.conftest import STAFF_PASSWORD, ensure_staff


def test_the_staff_pages_and_the_offline_docs_work_under_the_csp(page, bank_server, bank_db_url):
    ensure_staff(bank_db_url, "安全管理员", "admin")
    page.goto(f"{bank_server}/login?next=/reports/blueprints")
    page.fill("input[name=username]", "安全管理员")
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/reports/blueprints")

    for path in ("/proctor", "/proctor/exams/1", "/proctor/exams/1/tickets", "/proctor/forms", "/reports",
                 "/reports/blueprints/530046-L1", "/reports/calibration", "/writer/items", "/writer/upload",
                 "/writer/coverage", "/writer/items/530046-L1-001"):
        r = page.goto(f"{bank_server}{path}")
        assert r.status == 200, path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path

    # the tickets' print button is wired by /static/app.js, not an onclick attribute
    page.goto(f"{bank_server}/proctor/exams/1/tickets")
    page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    page.click("button[data-action=print]")
    assert page.get_attribute("body", "data-printed") == "yes"

    # the error page's back link likewise
    page.goto(f"{bank_server}/writer/items")
    page.goto(f"{bank_server}/writer/items/NO-SUCH-ITEM")
    page.click("a[data-action=back]")
    page.wait_for_url("**/writer/items")

    # the offline API docs: Swagger UI renders the operations from /openapi.json
    page.goto(f"{bank_server}/docs")
    page.wait_for_selector(".opblock-tag", timeout=20000)
    assert page.locator(".opblock").count() > 20
