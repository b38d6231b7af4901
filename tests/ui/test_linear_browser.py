"""A candidate of a linear exam in a real browser (issue 20): answer, go back to position 3 on the
answer sheet, change its answer, flag it, see it on the review page, hand in; the database holds
the changed answers and the attempt is closed."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, select

from examengine.db.models import Attempt, AttemptItem, Candidate


def stored(url: str, ticket: str) -> tuple[Attempt, list[tuple[int, list | None, bool]]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        attempt = conn.execute(select(Attempt.status, Attempt.finish_reason).join(Candidate)
                               .where(Candidate.ticket == ticket)).one()
        rows = conn.execute(select(AttemptItem.position, AttemptItem.answer, AttemptItem.flagged).join(Attempt)
                            .join(Candidate).where(Candidate.ticket == ticket).order_by(AttemptItem.position)).all()
    engine.dispose()
    return attempt, [tuple(r) for r in rows]


def choose(page, first: int) -> list[str]:
    """Tick option ``first`` (and the next one on a 多选); the letters ticked now."""
    boxes = page.locator("input[name=answer]")
    boxes.nth(first).check()
    if "多选" in page.inner_text("#number"):
        boxes.nth(first + 1).check()
    return sorted(b.get_attribute("value") for b in page.locator("input[name=answer]:checked").all())


@pytest.mark.browser
def test_a_candidate_changes_an_earlier_answer_flags_it_and_hands_in(page, bank_server, bank_db_url, linear_exam,
                                                                     tmp_path):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    t = linear_exam[1][0]
    page.goto(f"{bank_server}/exam")
    page.fill("input[name=ticket]", t.ticket)
    page.fill("input[name=code]", t.access_code)
    page.click("button[type=submit]")
    page.wait_for_url("**/exam/instructions")
    page.check("input[name=agree]")
    page.click("#start")
    page.wait_for_url("**/exam/q/1")

    answers = {}
    for position in range(1, 6):  # 下一题 saves and moves on
        assert page.inner_text("#number").startswith(f"第 {position} / 12 题")
        answers[position] = choose(page, 0)
        page.click("#next")
        page.wait_for_url(f"**/exam/q/{position + 1}")
    # Enter on a choice saves (保存答案 is the form's first button) and hands nothing in
    answers[6] = choose(page, 0)
    page.locator("input[name=answer]").first.press("Enter")
    expect(page.locator("#saved-answer")).to_have_text("、".join(answers[6]))
    assert page.url.endswith("/exam/q/6")

    # back to position 3 on the answer sheet; change its answer and flag it (the flag button saves too)
    expect(page.locator("#grid a[data-position='3'] .s")).to_have_text("已答")
    page.click("#grid a[data-position='3']")
    page.wait_for_url("**/exam/q/3")
    assert page.locator("input[name=answer]:checked").count() == len(answers[3])  # the saved answer, ticked
    page.locator("input[name=answer]:checked").first.uncheck() if len(answers[3]) > 1 else None
    answers[3] = choose(page, 2)
    expect(page.locator("#unsaved")).to_be_visible()
    page.click("#flag")
    expect(page.locator("#flagged-text")).to_be_visible()
    expect(page.locator("#grid a[data-position='3']")).to_contain_text("标记")
    page.screenshot(path=str(tmp_path / "item-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(tmp_path / "item-phone.png"), full_page=True)

    # a choice not yet saved is saved when a link of the page is followed (static/linear.js)
    page.click("#grid a[data-position='7']")
    page.wait_for_url("**/exam/q/7")
    answers[7] = choose(page, 1)
    page.click("#review")
    page.wait_for_url("**/exam/review")
    expect(page.locator("#flagged")).to_have_text("第 3 题")
    assert page.locator("#unanswered a").all_inner_texts() == [f"第 {p} 题" for p in range(8, 13)]
    page.screenshot(path=str(tmp_path / "review-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1200, "height": 900})
    page.screenshot(path=str(tmp_path / "review-desktop.png"), full_page=True)
    page.check("#confirm")
    page.click("#submit-exam")
    page.wait_for_url("**/exam/result")
    page.reload()  # a reload shows the result again and hands in nothing twice
    expect(page.locator("h1")).to_have_text("考试结束")
    page.screenshot(path=str(tmp_path / "result-desktop.png"), full_page=True)

    attempt, rows = stored(bank_db_url, t.ticket)
    assert attempt.status in ("finished", "incomplete") and attempt.finish_reason == "submitted"
    assert {p: a for p, a, _ in rows if a is not None} == answers
    assert [p for p, _, flagged in rows if flagged] == [3]
    assert dialogs == []  # no browser dialog on the way
