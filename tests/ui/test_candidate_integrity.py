"""The candidate pages under exam-day accidents (issue 17), in a real browser: the Back button
after submitting restores no choice, a second window is told its answer was not recorded, and a
candidate whose time ran out hands in and sees 未完成, not a pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from playwright.sync_api import expect
from sqlalchemy import create_engine, select, update

from examengine.db.models import Attempt, AttemptItem, Candidate
from tests.ui.test_candidate_pages import demo_ticket, submit_answer


def sign_in_and_start(page, base: str, t: dict) -> None:
    page.goto(f"{base}/exam")
    page.fill("input[name=ticket]", t["ticket"])
    page.fill("input[name=code]", t["access_code"])
    page.click("button[type=submit]")
    page.wait_for_url("**/exam/instructions")
    page.check("input[name=agree]")
    page.click("#start")
    page.wait_for_url("**/exam/item")


def stored_answers(url: str, ticket: str) -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(AttemptItem.position, AttemptItem.answer).join(Attempt)
                            .join(Candidate).where(Candidate.ticket == ticket).order_by(AttemptItem.position)).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def shape(page) -> tuple[str, int]:
    return page.inner_text("#number").split("·")[-1].strip(), page.locator("input[name=answer]").count()


def test_back_after_submitting_shows_nothing_ticked_on_a_phone(browser, bank_server, bank_db_url):
    """The browser restores a form's state into the page it re-fetches for a history entry when the
    form has the same shape: after submitting item k, Back showed item k+1 (the pending item)
    with item k's choice ticked, and one tap on 提交 recorded it."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, device_scale_factor=3,
                                  user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148")
    page = context.new_page()
    page.set_default_timeout(15000)
    page.on("dialog", lambda d: d.accept())
    try:
        t = demo_ticket(bank_db_url, 0)
        sign_in_and_start(page, bank_server, t)
        tried = 0
        for _ in range(12):  # until two items in a row have the same shape (type and number of options)
            before, number = shape(page), page.inner_text("#number")
            page.locator("input[name=answer]").nth(1).check()
            if "多选" in before[0]:  # a 多选 answer needs two choices
                page.locator("input[name=answer]").nth(0).check()
            submit_answer(page)
            # not wait_for_function: a string predicate is eval'd, which the page's CSP refuses
            try:
                expect(page.locator("#number")).not_to_have_text(number)
            except AssertionError:
                if page.locator("#number").count() == 0:
                    break  # the exam ended (the engine classified the candidate)
                raise
            if shape(page) != before:
                continue
            tried += 1
            pending = page.inner_text("#number")
            n_stored = len(stored_answers(bank_db_url, t["ticket"]))
            page.go_back()
            page.wait_for_load_state()
            # the server shows the pending item, and the browser restored no choice into it
            assert page.inner_text("#number") == pending
            assert page.locator("input[name=answer]:checked").count() == 0
            page.go_forward()
            page.wait_for_load_state()
            assert page.locator("input[name=answer]:checked").count() == 0
            assert len(stored_answers(bank_db_url, t["ticket"])) == n_stored  # nothing submitted meanwhile
            if tried == 2:
                break
        assert tried >= 1, "no two items in a row had the same shape"
    finally:
        context.close()


def test_the_second_window_is_told_its_answer_was_not_recorded(browser, bank_server, bank_db_url):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    tab1 = context.new_page()
    tab1.set_default_timeout(15000)
    for p in (tab1,):
        p.on("dialog", lambda d: d.accept())
    try:
        t = demo_ticket(bank_db_url, 0)
        sign_in_and_start(tab1, bank_server, t)
        tab2 = context.new_page()  # the same browser: the same sign-in
        tab2.set_default_timeout(15000)
        tab2.on("dialog", lambda d: d.accept())
        tab2.goto(f"{bank_server}/exam/item")
        assert tab1.inner_text("#number") == tab2.inner_text("#number")
        tab1.locator("input[name=answer]").nth(0).check()
        submit_answer(tab1)
        tab2.locator("input[name=answer]").nth(1).check()  # a different choice, in the other window
        tab2.click("#submit")
        tab2.wait_for_url("**/exam/item?lost=1")
        message = tab2.inner_text("[role=alert]")
        assert "另一个窗口已先提交了第 1 题的答案" in message and "未被记录" in message
        assert stored_answers(bank_db_url, t["ticket"])[0] == (1, ["A"])  # the first window's answer stands

        # the same race through the JSON API: the loser is told recorded: false
        t2 = demo_ticket(bank_db_url, 1)
        s = httpx.post(f"{bank_server}/api/v1/attempts", json={"ticket": t2["ticket"], "code": t2["access_code"]}).json()
        aid, h = s["attempt_id"], {"Authorization": f"Bearer {s['token']}"}
        item = httpx.get(f"{bank_server}/api/v1/attempts/{aid}/item", headers=h).json()
        body = {"position": item["position"], "item_id": item["item_id"]}
        win = httpx.post(f"{bank_server}/api/v1/attempts/{aid}/answers", headers=h, json={**body, "answer": ["A"]})
        lose = httpx.post(f"{bank_server}/api/v1/attempts/{aid}/answers", headers=h, json={**body, "answer": ["B"]})
        assert (win.json()["recorded"], lose.json()["recorded"]) == (True, False)
        assert lose.json()["position"] == win.json()["position"] == 2
    finally:
        context.close()


def test_a_candidate_whose_time_ran_out_hands_in_and_sees_incomplete(page, bank_server, bank_db_url):
    page.on("dialog", lambda d: d.accept())
    t = demo_ticket(bank_db_url, 0)
    sign_in_and_start(page, bank_server, t)
    page.locator("input[name=answer]").nth(0).check()
    submit_answer(page)
    engine = create_engine(bank_db_url)
    with engine.begin() as conn:
        aid = conn.execute(select(Attempt.id).join(Candidate).where(Candidate.ticket == t["ticket"])).scalar_one()
        conn.execute(update(Attempt).where(Attempt.id == aid).values(
            started_at=datetime.now(UTC) - timedelta(hours=3)))
    page.goto(f"{bank_server}/exam/item")
    page.wait_for_url("**/exam/result")
    assert "考试时间已到" in page.inner_text("h1")
    with engine.connect() as conn:  # the page read closed nothing
        assert conn.execute(select(Attempt.status).where(Attempt.id == aid)).scalar_one() == "in_progress"
    page.click("#finish")
    page.wait_for_url("**/exam/result")
    assert page.inner_text("#verdict") == "未完成"
    assert "未通过" in page.inner_text("#incomplete") and page.locator("#score").count() == 0
    assert page.locator("#band").count() == 0
    with engine.connect() as conn:
        assert conn.execute(select(Attempt.status).where(Attempt.id == aid)).scalar_one() == "incomplete"
    engine.dispose()
