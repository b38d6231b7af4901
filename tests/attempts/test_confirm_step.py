"""Without JavaScript (issue 25): a whole adaptive exam is taken through the pages, and an answer is
final only after its server-rendered confirmation; errors come back by post/redirect/get."""

from __future__ import annotations

import re

from sqlalchemy import select

from examengine.db.models import Attempt, AttemptItem, Candidate


def _stored(db, ticket: str) -> list[list[str]]:
    db.expire_all()
    return [r.answer for r in db.scalars(select(AttemptItem).join(Attempt).join(Candidate).where(
        Candidate.ticket == ticket, AttemptItem.answer.is_not(None)).order_by(AttemptItem.position))]


def test_a_whole_adaptive_exam_without_javascript_records_only_confirmed_answers(api, exam, bank_db):
    _, tickets = exam
    t = tickets[2]
    api.post("/exam/login", data={"ticket": t["ticket"], "code": t["access_code"]})
    r = api.post("/exam/start", data={}, follow_redirects=False)  # 须知 not ticked: an error page of its own
    assert r.headers["location"] == "/exam/instructions?error=agree"
    assert 'role="alert"' in api.get(r.headers["location"]).text
    api.post("/exam/start", data={"agree": "1"})
    answered = 0
    for _ in range(60):
        page = api.get("/exam/item", follow_redirects=True)
        if "/exam/result" in str(page.url):
            break
        position = re.search(r'name="position" value="(\d+)"', page.text).group(1)
        item_id = re.search(r'name="item_id" value="([^"]+)"', page.text).group(1)
        assert re.search(r"<legend>.*第 " + position + r" 题.*</legend>", page.text, re.S)
        # no choice: back to the item (a GET: a reload posts nothing), the error marked
        r = api.post("/exam/answer", data={"position": position, "item_id": item_id}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/exam/item?error=none"
        err = api.get(r.headers["location"]).text
        assert "请先选择答案" in err and 'aria-invalid="true"' in err and "<title>错误：" in err
        labels = ["A", "B"] if 'type="checkbox"' in page.text else ["A"]
        body = {"position": position, "item_id": item_id, "answer": labels}
        r = api.post("/exam/answer", data=body, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith(f"/exam/confirm?position={position}&answer=A")
        assert len(_stored(bank_db, t["ticket"])) == answered  # 提交本题 recorded nothing
        confirm = api.get(r.headers["location"])
        assert confirm.status_code == 200 and 'id="confirm-submit"' in confirm.text
        assert f'href="/exam/item?pick={",".join(labels)}"' in confirm.text  # 返回修改 keeps the choice
        r = api.post("/exam/answer", data={**body, "confirm": "1"}, follow_redirects=False)
        assert r.status_code == 303
        answered += 1
        assert _stored(bank_db, t["ticket"])[-1] == labels
        # Back to the confirmation of a recorded answer: the current item, told so; nothing recorded twice
        again = api.get(f"/exam/confirm?position={position}&answer=B", follow_redirects=False)
        assert again.headers["location"] in (f"/exam/item?done={position}", "/exam/result")
        assert len(_stored(bank_db, t["ticket"])) == answered
    assert "考试结束" in api.get("/exam/result").text
    assert answered >= 10


def test_the_approval_wait_has_no_meta_refresh_and_checks_again_without_javascript(api, bank_db):
    """The wait page reloaded itself every 5 s (a meta refresh: axe's meta-refresh rule, and a
    screen reader starting over); now the script asks in the background and 再次检查 is a link."""
    from tests.attempts.test_integrity import new_exam

    _, [t] = new_exam(api, "530046-L1", 1, "W", approve_new_device=True)
    body = {"ticket": t["ticket"], "code": t["access_code"]}
    first = api.post("/api/v1/attempts", json=body, headers={"User-Agent": "Phone/1"}).json()
    api.get(f"/api/v1/attempts/{first['attempt_id']}/item", headers={"Authorization": f"Bearer {first['token']}"})
    r = api.post("/exam/login", data=body, headers={"User-Agent": "Laptop/2"}, follow_redirects=False)
    assert r.headers["location"] == "/exam/wait"
    page = api.get("/exam/wait", headers={"User-Agent": "Laptop/2"})
    assert page.status_code == 200 and "等待监考人员批准" in page.text
    assert 'http-equiv="refresh"' not in page.text
    assert 'data-poll="/exam/wait"' in page.text and 'href="/exam/wait" id="check-again"' in page.text
