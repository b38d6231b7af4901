"""The proctor's monitor page (issue 24): every action is post/redirect/get with a message shown
once, the message cannot be forged or carried to another session or page, the live part is served
on its own for the page's refresh, and 发布成绩 asks for a confirmation."""

from __future__ import annotations

from examengine.config import Settings
from examengine.ui import flash
from tests.attempts.conftest import roster_csv, sign_in
from tests.conftest import REPO, staff_client


def new_exam(api, n: int = 2, **extra) -> tuple[int, list[dict]]:
    e = api.post("/api/v1/exams", json={"blueprint": "530046-L1", "name": "监控测试", **extra}).json()
    api.post(f"/api/v1/exams/{e['id']}/roster", files={"file": ("名单.csv", roster_csv(n, "M"))})
    return e["id"], api.get(f"/api/v1/exams/{e['id']}/tickets").json()


def test_an_action_redirects_to_the_monitor_whose_message_is_shown_once(api):
    exam_id, [t, _] = new_exam(api)
    aid, _ = sign_in(api, t)
    r = api.post(f"/proctor/attempts/{aid}/extend", data={"minutes": "7"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/proctor/exams/{exam_id}"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{flash.FLASH_COOKIE}=") and f"Path=/proctor/exams/{exam_id}" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = api.get(f"/proctor/exams/{exam_id}")
    assert "已为 考生1 延长 7 分钟" in page.text and 'role="alert"' in page.text
    assert flash.FLASH_COOKIE in page.headers["set-cookie"]  # deleted by the page that showed it
    again = api.get(f"/proctor/exams/{exam_id}")
    assert again.status_code == 200 and "延长 7 分钟" not in again.text
    assert 'http-equiv="refresh"' not in again.text and f'href="/proctor/exams/{exam_id}" id="refresh"' in again.text


def test_a_failed_action_is_a_message_too(api):
    exam_id, _ = new_exam(api)
    r = api.post(f"/proctor/exams/{exam_id}/roster", files={"file": ("名单.csv", "姓名\n张三\n".encode())},
                 follow_redirects=False)
    assert r.status_code == 303
    page = api.get(r.headers["location"]).text
    assert 'class="flash bad"' in page and "名单有误，未导入任何考生" in page


def test_a_flash_cookie_is_believed_only_when_signed_for_this_session_and_page(api, bank_db_url):
    exam_id, [t, _] = new_exam(api)
    other_exam, _ = new_exam(api)
    aid, _ = sign_in(api, t)
    r = api.post(f"/proctor/attempts/{aid}/extend", data={"minutes": "3"}, follow_redirects=False)
    value = r.cookies[flash.FLASH_COOKIE]
    payload, _, signature = value.partition(".")
    api.cookies.clear()

    def page(path: str, cookie: str, client=api) -> str:
        return client.get(path, headers={"Cookie": f"{flash.FLASH_COOKIE}={cookie}"}).text

    assert "延长 3 分钟" in page(f"/proctor/exams/{exam_id}", value)
    # planted by someone else (a plain-HTTP hop, a sibling host): text of their choosing, unsigned
    forged = flash._b64('{"p":"/proctor/exams/%d","m":"成绩已发布","c":"ok","x":9999999999}'.encode() % exam_id)
    assert "成绩已发布" not in page(f"/proctor/exams/{exam_id}", f"{forged}.{signature}")
    assert "成绩已发布" not in page(f"/proctor/exams/{exam_id}", forged)
    # the genuine cookie on another exam's monitor, or in another member's session
    assert "延长 3 分钟" not in page(f"/proctor/exams/{other_exam}", value)
    other = staff_client(Settings(database_url=bank_db_url, data_dir=REPO), "another-admin")
    try:
        assert "延长 3 分钟" not in page(f"/proctor/exams/{exam_id}", value, other)
    finally:
        other.__exit__(None, None, None)
    assert payload  # (the payload itself carries the page, the message and an expiry)


def test_the_exam_list_and_the_monitor_show_no_text_from_their_query_string(api):
    exam_id, _ = new_exam(api)
    for path in ("/proctor", f"/proctor/exams/{exam_id}"):
        page = api.get(path, params={"message": "成绩已发布，请通知考生", "msg": "成绩已发布，请通知考生"})
        assert page.status_code == 200 and "成绩已发布，请通知考生" not in page.text


def test_the_live_part_is_served_on_its_own(api):
    exam_id, [t, _] = new_exam(api)
    sign_in(api, t)
    r = api.get(f"/proctor/exams/{exam_id}/live")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    html = r.text
    assert "<html" not in html and 'data-live="rows"' in html and 'data-live="summary"' in html
    assert f'data-key="{t["ticket"]}"' in html and "已登录未开考" in html and "共 2 名考生" in html
    page = api.get(f"/proctor/exams/{exam_id}").text
    assert f'data-live-url="/proctor/exams/{exam_id}/live"' in page and 'data-refresh-seconds="20"' in page


def test_releasing_results_asks_for_a_confirmation(api):
    exam_id, [t, _] = new_exam(api, results_policy="release")
    page = api.get(f"/proctor/exams/{exam_id}").text
    assert 'name="confirm" value="1" required' in page.split('id="release"', 1)[1].split("</form>", 1)[0]
    r = api.post(f"/proctor/exams/{exam_id}/release")
    assert "未发布：请勾选“确认发布”" in r.text
    assert api.get(f"/api/v1/exams/{exam_id}").json()["results_released"] is False
    r = api.post(f"/proctor/exams/{exam_id}/release", data={"confirm": "1"})
    assert r.url.path == f"/proctor/exams/{exam_id}" and "成绩已发布" in r.text
    assert api.get(f"/api/v1/exams/{exam_id}").json()["results_released"] is True
