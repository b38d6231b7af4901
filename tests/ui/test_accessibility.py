"""Accessible delivery (issue 25): axe-core finds no WCAG 2.0/2.1 A or AA violation on any candidate
page (adaptive and linear, with and without an error shown); by keyboard only an Enter on a choice
submits nothing and the confirmation is reached and passed; the countdown is silent and the time
is announced once at a threshold; without JavaScript Enter submits nothing either.

axe-core 4.14.1 is vendored (tests/ui/vendor/axe.min.js, MPL-2.0: tests/ui/vendor/axe-core.LICENSE),
injected into pages of a context that bypasses the pages' CSP (for the test's own script only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update

from examengine.db.models import Attempt, AttemptItem, Candidate, Exam
from tests.ui.test_candidate_pages import demo_ticket

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page) -> list[str]:
    """axe-core's violations of the page at WCAG 2.0/2.1 A and AA: 'rule: target, ...' lines."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}, "
                          "resultTypes: ['violations']}))"
                          ".violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))",
                          TAGS)
    return [f"{page.url} {v}" for v in found]


def sign_in(page, base: str, ticket: str, code: str) -> None:
    page.goto(f"{base}/exam")
    page.fill("input[name=ticket]", ticket)
    page.fill("input[name=code]", code)
    page.click("#login")


def _set_started(url: str, ticket: str, ago: timedelta) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        aid = conn.execute(select(Attempt.id).join(Candidate).where(Candidate.ticket == ticket)).scalar_one()
        conn.execute(update(Attempt).where(Attempt.id == aid).values(started_at=datetime.now(UTC) - ago))
    engine.dispose()


@pytest.mark.browser
def test_every_candidate_page_has_no_axe_violation_at_wcag_a_and_aa(browser, bank_server, bank_db_url, linear_exam):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    found: list[str] = []
    seen: list[str] = []

    def check(name: str) -> None:
        page.wait_for_load_state()
        seen.append(name)
        found.extend(axe_violations(page))

    try:
        t = demo_ticket(bank_db_url, 2)
        sign_in(page, bank_server, t["ticket"], "WRONG")
        check("login, error")
        page.fill("input[name=code]", t["access_code"])
        page.click("#login")
        page.wait_for_url("**/exam/instructions")
        check("instructions")
        page.click("#start")  # the 须知 box not ticked: the browser's own check stops it; the server too
        page.goto(f"{bank_server}/exam/instructions?error=agree")
        check("instructions, error")
        page.check("#agree")
        page.click("#start")
        page.wait_for_url("**/exam/item")
        check("adaptive item")
        page.click("#submit")
        page.wait_for_url("**/exam/item?error=none")
        check("adaptive item, error")
        page.locator("input[name=answer]").first.check()
        if "多选" in page.inner_text("#number"):
            page.locator("input[name=answer]").nth(1).check()
        page.click("#submit")
        page.wait_for_url("**/exam/confirm?**")
        check("confirm")
        page.click("#confirm-submit")
        page.wait_for_url("**/exam/item")
        page.click("a[data-font=up]")  # the larger font changes nothing axe checks
        page.wait_for_load_state()
        page.locator("input[name=answer]").first.check()  # the selected state's 已选 and tint
        check("adaptive item, 125 %")
        _set_started(bank_db_url, t["ticket"], timedelta(hours=3))
        page.goto(f"{bank_server}/exam/result")
        check("time up")
        page.click("#finish")
        page.wait_for_url("**/exam/result")
        check("result")

        context.clear_cookies()
        lt = linear_exam[1][1]
        sign_in(page, bank_server, lt.ticket, lt.access_code)
        page.check("#agree")
        page.click("#start")
        page.wait_for_url("**/exam/q/1")
        check("linear item")
        page.goto(f"{bank_server}/exam/q/1?error=one")
        check("linear item, error")
        page.goto(f"{bank_server}/exam/review")
        check("linear review")
        page.goto(f"{bank_server}/exam/review?error=confirm")
        check("linear review, error")
    finally:
        context.close()
    assert len(seen) == 13
    assert found == [], "\n".join(found)


@pytest.mark.browser
def test_by_keyboard_only_enter_submits_nothing_and_the_confirmation_is_passed(browser, bank_server, bank_db_url):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        t = demo_ticket(bank_db_url, 3)
        sign_in(page, bank_server, t["ticket"], t["access_code"])
        page.wait_for_url("**/exam/instructions")
        page.focus("#agree")
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")  # 开始考试
        page.wait_for_url("**/exam/item")

        # the item is a group: its legend holds the number, type, instruction and stem
        legend = page.inner_text("fieldset#item > legend")
        assert page.inner_text("#stem").strip() in legend and "第 1 题" in legend
        assert page.inner_text("#instruction") in legend
        assert page.locator("h1").count() == 1
        # the countdown is not a live region, nor inside one; the announcements are polite and apart
        timer = page.locator("#timer")
        assert timer.get_attribute("aria-live") is None and timer.get_attribute("role") is None
        assert page.locator("[aria-live]:has(#timer), [role=status]:has(#timer), [role=alert]:has(#timer)").count() == 0
        assert page.get_attribute("#announce", "aria-live") == "polite"
        assert "结束" in page.inner_text("#ends")

        # Tab to the first choice, Space ticks it, Enter submits nothing
        page.focus("input[name=answer]")
        page.keyboard.press("Space")
        page.keyboard.press("Enter")
        page.wait_for_timeout(300)
        assert page.url.endswith("/exam/item") and page.locator("input[name=answer]:checked").count() == 1
        first = page.locator("input[name=answer]:checked").get_attribute("value")
        if "多选" in page.inner_text("#number"):
            page.keyboard.press("Tab")
            page.keyboard.press("Space")
        # Tab on to 提交本题, Enter: the confirmation page, nothing recorded yet
        for _ in range(8):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "submit":
                break
        page.keyboard.press("Enter")
        page.wait_for_url("**/exam/confirm?**")
        assert f"{first}." in page.inner_text("#chosen")
        assert stored(bank_db_url, t["ticket"]) == []
        for _ in range(20):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "confirm-submit":
                break
        page.keyboard.press("Enter")
        page.wait_for_url("**/exam/item")
        assert stored(bank_db_url, t["ticket"])[0][0] == 1 and first in stored(bank_db_url, t["ticket"])[0][1]
        assert "第 2 题" in page.inner_text("#number") and dialogs == []

        # silence: over 2 s the clock changes every second but #announce says nothing; 15:02 before the
        # end of the time it says "不足 15 分钟" once
        watch = ("() => { window.__changes = {timer: 0, announce: 0}; const o = (k) => new MutationObserver("
                 "() => window.__changes[k]++); o('timer').observe(document.getElementById('timer'), "
                 "{subtree: true, childList: true, characterData: true}); o('announce').observe("
                 "document.getElementById('announce'), {subtree: true, childList: true, characterData: true}); }")
        page.evaluate(watch)
        page.wait_for_timeout(2200)
        changes = page.evaluate("window.__changes")
        assert changes["timer"] >= 2 and changes["announce"] == 0
        engine = create_engine(bank_db_url)
        with engine.connect() as conn:
            limit = conn.execute(select(Exam.time_limit_minutes).join(Candidate)
                                 .where(Candidate.ticket == t["ticket"])).scalar_one() * 60
        engine.dispose()
        _set_started(bank_db_url, t["ticket"], timedelta(seconds=limit - 15 * 60 - 2))  # 15:02 left
        page.reload()
        page.evaluate(watch)
        page.wait_for_timeout(2200)
        assert page.inner_text("#announce") == "考试剩余时间不足 15 分钟。"
        assert page.evaluate("window.__changes")["announce"] == 1
    finally:
        context.close()


def stored(url: str, ticket: str) -> list[tuple[int, list]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(AttemptItem.position, AttemptItem.answer).join(Attempt).join(Candidate)
                            .where(Candidate.ticket == ticket, AttemptItem.answer.is_not(None))
                            .order_by(AttemptItem.position)).all()
    engine.dispose()
    return [(r.position, r.answer) for r in rows]


@pytest.mark.browser
def test_without_javascript_enter_on_a_choice_records_nothing(browser, bank_server, bank_db_url):
    """Without the script Chromium's implicit submission presses 提交本题 (a checkbox or radio is not
    an implicit-submission field, so a disabled default button does not stop it): Enter leads to
    the confirmation page, and nothing is recorded without 确认提交."""
    context = browser.new_context(locale="zh-CN", java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        t = demo_ticket(bank_db_url, 4)
        sign_in(page, bank_server, t["ticket"], t["access_code"])
        page.check("#agree")
        page.click("#start")
        page.wait_for_url("**/exam/item")
        page.focus("input[name=answer]")
        page.keyboard.press("Space")
        page.keyboard.press("Enter")
        page.wait_for_url("**/exam/confirm?**")
        assert stored(bank_db_url, t["ticket"]) == []
        page.click("#change")  # 返回修改: the item again, the choice still ticked
        page.wait_for_url("**/exam/item?pick=*")
        assert page.locator("input[name=answer]:checked").count() == 1
        # the A+ link works without the script: the size is kept for the next pages
        page.click("a[data-font=up]")
        page.wait_for_url("**/exam/item?pick=*")  # back at the same address
        assert {c["name"]: c["value"] for c in context.cookies()}["ee_font"] == "1"
    finally:
        context.close()
