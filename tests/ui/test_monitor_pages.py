"""The proctor's live monitor in a real browser (issue 24): an action lands back on the monitor
with its message, the live table keeps refreshing without reloading the page, a 作废原因 being
typed survives the refresh, the page works without JavaScript, and a phone can read it."""

from __future__ import annotations

import httpx
import pytest

from examengine.config import Settings
from tests.conftest import REPO, STAFF_PASSWORD, ensure_staff
from tests.ui.conftest import csp_violations, serve

REFRESH_SECONDS = 2  # the page's refresh interval in this test (20 s by default)
ROSTER = "准考证号,姓名,身份证号后四位,考场\nM0001,欧阳明华,1234,第一考场\nM0002,李四,2345,第一考场\nM0003,王小五,3456,第二考场\n"


@pytest.fixture
def monitor_server(bank_db_url):
    yield from serve(Settings(database_url=bank_db_url, data_dir=REPO, monitor_refresh_seconds=REFRESH_SECONDS))


@pytest.fixture
def api(monitor_server, bank_db_url):
    """Staff API client (bearer token) on the live server: sets up the exam, and plays candidates."""
    ensure_staff(bank_db_url, "监考验收", "admin")
    with httpx.Client(base_url=monitor_server, timeout=30) as c:
        token = c.post("/api/v1/sessions", json={"username": "监考验收", "password": STAFF_PASSWORD}).json()["token"]
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


@pytest.fixture
def exam(api) -> tuple[int, dict]:
    e = api.post("/api/v1/exams", json={"blueprint": "530046-L1", "name": "监控验收"}).json()
    r = api.post(f"/api/v1/exams/{e['id']}/roster", files={"file": ("名单.csv", ROSTER.encode())})
    assert r.status_code == 200, r.text
    return e["id"], {t["ticket"]: t for t in api.get(f"/api/v1/exams/{e['id']}/tickets").json()}


def candidate(api, ticket: dict) -> tuple[int, dict]:
    r = api.post("/api/v1/attempts", json={"ticket": ticket["ticket"], "code": ticket["access_code"]},
                 headers={"Authorization": ""})
    assert r.status_code == 200, r.text
    return r.json()["attempt_id"], {"Authorization": f"Bearer {r.json()['token']}"}


def answer_one(api, aid: int, h: dict) -> None:
    item = api.get(f"/api/v1/attempts/{aid}/item", headers=h).json()
    labels = ["A", "B"] if item["multiple"] else ["A"]
    r = api.post(f"/api/v1/attempts/{aid}/answers", headers=h,
                 json={"position": item["position"], "item_id": item["item_id"], "answer": labels})
    assert r.status_code == 200, r.text


def sign_in(page, base: str, exam_id: int) -> None:
    page.goto(f"{base}/login?next=/proctor/exams/{exam_id}")
    page.fill("input[name=username]", "监考验收")
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/proctor/exams/{exam_id}")


def refreshed(page) -> int:
    """How many times the live part has been fetched and put in place, counted by the test."""
    return page.evaluate("() => window.__refreshes || 0")


def count_refreshes(page) -> None:
    page.evaluate("""() => { window.__refreshes = 0;
        new MutationObserver(() => { window.__refreshes += 1; })
            .observe(document.querySelector('[data-live-url]'), {attributeFilter: ['data-refreshed']}); }""")


def wait_for_refreshes(page, n: int = 2) -> None:
    """Wait past the refresh interval until the live part has been refreshed ``n`` more times."""
    start = refreshed(page)
    page.wait_for_function("n => (window.__refreshes || 0) >= n", arg=start + n,
                           timeout=REFRESH_SECONDS * 1000 * (n + 3))


def test_the_monitor_survives_its_own_actions_and_keeps_what_is_being_typed(page, monitor_server, api, exam):
    exam_id, tickets = exam
    a_id, a_h = candidate(api, tickets["M0001"])
    answer_one(api, a_id, a_h)  # 欧阳明华 is answering
    sign_in(page, monitor_server, exam_id)
    row = page.locator('#monitor tr[data-key="M0001"]')
    assert "作答中" in row.locator("td.status").inner_text()

    # 延时: back on the monitor's own URL, with the message
    row.locator("form.extend input[name=minutes]").fill("5")
    row.locator("form.extend button").click()
    page.wait_for_url(f"{monitor_server}/proctor/exams/{exam_id}")
    assert "已为 欧阳明华 延长 5 分钟" in page.inner_text("p.flash")
    page.evaluate("() => { window.__same_page = true; }")  # gone if the page were reloaded
    count_refreshes(page)

    # live data keeps coming without a reload: 李四 signs in, the table shows it
    candidate(api, tickets["M0002"])
    page.wait_for_function("""() => document.querySelector('#monitor tr[data-key="M0002"] td.status')
                              .textContent.includes('已登录未开考')""", timeout=REFRESH_SECONDS * 4000)
    wait_for_refreshes(page)
    assert page.url == f"{monitor_server}/proctor/exams/{exam_id}"
    assert page.evaluate("() => window.__same_page") is True
    assert "已为 欧阳明华 延长 5 分钟" in page.inner_text("p.flash")  # the message stays until the next page
    assert "作答中" in page.inner_text('#monitor tr[data-key="M0001"] td.status')
    assert "{\"detail\"" not in page.content()

    # a 作废原因 being typed survives the refresh, focused or not, while the rest of its row updates
    reason = row.locator("form.void input[name=reason]")
    reason.click()
    reason.type("考生携带手机")
    answer_one(api, a_id, a_h)  # the row's 当前题 changes under the typing
    page.wait_for_function("""() => document.querySelector('#monitor tr[data-key="M0001"] td.position')
                              .textContent.includes('已答 2')""", timeout=REFRESH_SECONDS * 4000)
    wait_for_refreshes(page)
    assert reason.input_value() == "考生携带手机"
    assert page.evaluate("() => document.activeElement.name") == "reason"
    page.click("h1")  # the field loses the focus but keeps its text
    wait_for_refreshes(page)
    assert reason.input_value() == "考生携带手机"
    assert page.evaluate("() => window.__same_page") is True

    # and the void goes through, back on the monitor with its message and the reason
    row.locator("form.void input[name=confirm]").check()
    row.locator("form.void button").click()
    page.wait_for_url(f"{monitor_server}/proctor/exams/{exam_id}")
    assert "已作废 欧阳明华 的作答" in page.inner_text("p.flash")
    assert "已作废（考生携带手机）" in page.inner_text('#monitor tr[data-key="M0001"] td.status')
    page.reload()
    assert page.locator("p.flash").count() == 0  # shown once


def test_without_javascript_the_monitor_stays_put_and_offers_a_refresh_link(browser, monitor_server, api, exam):
    exam_id, tickets = exam
    candidate(api, tickets["M0003"])
    context = browser.new_context(locale="zh-CN", java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, monitor_server, exam_id)
        page.fill('#monitor tr[data-key="M0003"] form.void input[name=reason]', "误操作测试")
        page.wait_for_timeout(REFRESH_SECONDS * 1000 * 2)
        assert page.url.endswith(f"/proctor/exams/{exam_id}")
        assert page.locator('meta[http-equiv="refresh"]').count() == 0
        assert page.input_value('#monitor tr[data-key="M0003"] form.void input[name=reason]') == "误操作测试"
        page.click("a#refresh")
        page.wait_for_url(f"**/proctor/exams/{exam_id}")
        assert page.locator('#monitor tr[data-key="M0003"]').count() == 1
    finally:
        context.close()


def test_on_a_phone_the_monitor_reads_as_cards(page, browser, monitor_server, api, exam, tmp_path):
    exam_id, tickets = exam
    a_id, a_h = candidate(api, tickets["M0001"])
    answer_one(api, a_id, a_h)
    sign_in(page, monitor_server, exam_id)
    phone = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                is_mobile=True, has_touch=True, storage_state=page.context.storage_state())
    try:
        pg = phone.new_page()
        violations = csp_violations(pg)
        pg.goto(f"{monitor_server}/proctor/exams/{exam_id}")
        pg.screenshot(path=str(tmp_path / "monitor-390.png"), full_page=True)
        em = pg.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#monitor td.name')).fontSize)")
        for key in ("M0001", "M0002"):
            for cell in ("name", "status", "ticket"):
                box = pg.locator(f'#monitor tr[data-key="{key}"] td.{cell}').bounding_box()
                assert box["width"] >= 4 * em, (key, cell, box)  # not one character a line
        name = pg.locator('#monitor tr[data-key="M0001"] td.name').bounding_box()
        assert name["height"] < 2.5 * em  # 欧阳明华 on one line
        assert pg.evaluate("() => document.documentElement.scrollWidth") <= 390  # nothing pushes the page sideways
        assert pg.locator('#monitor tr[data-key="M0001"] form.void input[name=reason]').is_visible()
        assert not violations, violations
    finally:
        phone.close()
