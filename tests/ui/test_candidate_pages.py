"""A candidate in a real browser: sign in, answer a whole exam, reload mid-exam, see the result."""

from __future__ import annotations

from sqlalchemy import create_engine, select

from examengine.db.models import Attempt, Candidate, Exam


def demo_ticket(url: str, index: int = 0) -> dict:
    """A demo candidate's 准考证号 and access code, as the printed ticket gives them."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(Candidate.ticket, Candidate.access_code).join(Exam)
                            .where(Exam.name.like("演示考试%")).order_by(Candidate.ticket)).all()
    engine.dispose()
    return {"ticket": rows[index].ticket, "access_code": rows[index].access_code}


def submit_answer(page) -> None:
    """提交本题, then 确认提交 on the confirmation page (an adaptive answer is final only there)."""
    page.click("#submit")
    page.wait_for_url("**/exam/confirm?**")
    page.click("#confirm-submit")
    page.wait_for_load_state()


def attempt_lengths(url: str, ticket: str) -> tuple[int, int, int]:
    """Answered items, scored answered items, and the blueprint's minimum length of a candidate's attempt."""
    from examengine.datafiles import blueprint_from_dict
    from examengine.db.models import Attempt, AttemptItem, BlueprintVersion

    engine = create_engine(url)
    with engine.connect() as conn:
        attempt_id, version_id = conn.execute(select(Attempt.id, Attempt.blueprint_version_id).join(Candidate)
                                              .where(Candidate.ticket == ticket)).one()
        rows = conn.execute(select(AttemptItem.scored).where(AttemptItem.attempt_id == attempt_id,
                                                              AttemptItem.answer.is_not(None))).all()
        code, content = conn.execute(select(BlueprintVersion.code, BlueprintVersion.content)
                                     .where(BlueprintVersion.id == version_id)).one()
    engine.dispose()
    bp = blueprint_from_dict(content, f"{code}.yaml")
    return len(rows), sum(1 for r in rows if r.scored), bp.min_length


def test_a_candidate_takes_a_whole_exam_and_resumes_after_a_reload(page, bank_server, bank_db_url, tmp_path):
    t = demo_ticket(bank_db_url)
    page.on("dialog", lambda d: d.accept())
    page.goto(f"{bank_server}/exam")
    page.fill("input[name=ticket]", t["ticket"])
    page.fill("input[name=code]", "WRONGCODE")
    page.click("button[type=submit]")
    assert "准考证号或访问码不正确" in page.inner_text("[role=alert]")
    page.fill("input[name=code]", t["access_code"].lower())  # codes are case-insensitive
    page.click("button[type=submit]")
    page.wait_for_url("**/exam/instructions")
    assert "考试须知" in page.content()
    page.check("input[name=agree]")
    page.click("#start")
    page.wait_for_url("**/exam/item")

    seen_types = set()
    answered = 0
    while "/exam/item" in page.url:
        number = page.inner_text("#number")
        stem = page.inner_text("#stem")
        assert "剩余" in page.inner_text("#timer")
        if answered == 3:  # reload mid-exam: the same item, same number
            page.reload()
            assert page.inner_text("#number") == number and page.inner_text("#stem") == stem
            page.screenshot(path=str(tmp_path / "mid-exam.png"))  # for a look by eye; not kept
        kind = "多选" if "多选" in number else "判断" if "判断" in number else "单选"
        seen_types.add(kind)
        boxes = page.locator("input[name=answer]")
        if kind == "判断":
            assert boxes.count() == 2 and page.locator("input[type=radio][name=answer]").count() == 2
        boxes.nth(0).check()
        if kind == "多选":
            assert page.locator("input[type=checkbox][name=answer]").count() >= 4
            boxes.nth(1).check()
        submit_answer(page)
        answered += 1
        assert answered <= 45
    page.wait_for_url("**/exam/result")
    # every answer is stored, and the exam did not stop before the blueprint's minimum length
    stored, scored, min_length = attempt_lengths(bank_db_url, t["ticket"])
    assert stored == answered and scored >= min_length == 10
    assert seen_types == {"单选", "多选", "判断"}
    verdict = page.inner_text("#verdict")
    assert verdict in ("通过", "未通过")
    assert 0 <= int(page.inner_text("#score")) <= 100
    # a band is stated only when its posterior mass reaches the blueprint's 0.90 (reporting.band_confidence)
    engine = create_engine(bank_db_url)
    with engine.connect() as conn:
        stored = conn.execute(select(Attempt.result).join(Candidate).where(Candidate.ticket == t["ticket"])).scalar_one()
    engine.dispose()
    assert page.locator("#band").count() == (1 if stored["band_confidence"] >= 0.90 else 0)
    if stored["band_stated"]:
        assert page.inner_text("#band") == stored["band_name"]
    page.screenshot(path=str(tmp_path / "result.png"), full_page=True)

    # signing in again after the end shows the result, not the exam
    page.goto(f"{bank_server}/exam")
    page.wait_for_url("**/exam/result")


def test_submitting_without_a_choice_is_stopped_in_the_page(page, bank_server, bank_db_url):
    """No browser dialog: the page comes back (post/redirect/get) with the error announced
    (role=alert), the choices marked invalid and focused, and the title saying 错误."""
    t = demo_ticket(bank_db_url, 1)
    messages = []
    page.on("dialog", lambda d: (messages.append(d.message), d.dismiss()))
    page.goto(f"{bank_server}/exam")
    page.fill("input[name=ticket]", t["ticket"])
    page.fill("input[name=code]", t["access_code"])
    page.click("button[type=submit]")
    page.check("input[name=agree]")
    page.click("#start")
    number = page.inner_text("#number")
    page.click("#submit")
    page.wait_for_url("**/exam/item?error=none")
    assert messages == []
    assert "请先选择答案" in page.inner_text("[role=alert]")
    assert page.inner_text("#number") == number
    assert page.title().startswith("错误：")
    assert page.locator("input[name=answer][aria-invalid=true]").count() == page.locator("input[name=answer]").count()
    assert page.evaluate("document.activeElement.name") == "answer"
