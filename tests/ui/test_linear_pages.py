"""The pages of a linear exam without JavaScript (issue 20): every write is a form POST answered
with a redirect; answers are saved, changed, cleared and flagged at any position until the
candidate hands in on the review page; nothing but that page's confirmed form hands in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from examengine.app import create_app
from examengine.config import Settings
from examengine.db.forms_models import FormItem
from examengine.db.models import Attempt, AttemptItem, Candidate, Exam, ItemImage, ItemVersion
from tests.attempts.test_images import _png
from tests.conftest import REPO


@pytest.fixture
def app_client(bank_db_url):
    with TestClient(create_app(Settings(database_url=bank_db_url, data_dir=REPO)),
                    headers={"origin": "http://testserver"}, follow_redirects=False) as c:
        yield c


def start(c: TestClient, ticket) -> None:
    r = c.post("/exam/login", data={"ticket": ticket.ticket, "code": ticket.access_code})
    assert r.status_code == 303 and r.headers["location"] == "/exam/instructions"
    page = c.get("/exam/instructions").text
    assert "本考试共 <b>12 题</b>" in page and "交卷前可以随时修改答案" in page and "自适应考试" not in page
    r = c.post("/exam/start", data={"agree": "1"})
    assert r.headers["location"] == "/exam/item"


def rows(db, ticket: str) -> list[AttemptItem]:
    db.expire_all()
    return list(db.scalars(select(AttemptItem).join(Attempt).join(Candidate).where(Candidate.ticket == ticket)
                           .order_by(AttemptItem.position)))


def attempt_of(db, ticket: str) -> Attempt:
    db.expire_all()
    return db.scalars(select(Attempt).join(Candidate).where(Candidate.ticket == ticket)).one()


def grid(page: str) -> list[tuple[int, str]]:
    """The answer sheet as words: (position, '已答'/'未答' + ' 标记')."""
    return [(int(n), s + (" 标记" if f else "")) for n, s, f in re.findall(
        r'<a href="/exam/q/\d+"[^>]*><span class="n"><span class="sr-only">第 </span>(\d+)<span class="sr-only"> 题</span></span>'
        r'<span class="s">(已答|未答)</span>'
        r'(<span class="f">标记</span>)?</a>', page)]


def test_a_linear_exam_is_answered_changed_flagged_and_handed_in_without_javascript(app_client, linear_exam, bank_db):
    _, tickets = linear_exam
    t = tickets[0]
    c = app_client
    start(c, t)
    # the exam opens at its first unanswered position
    assert c.get("/exam/item").headers["location"] == "/exam/q/1"
    page = c.get("/exam/q/1").text
    assert "第 <b>1</b> / 12 题" in page and 'id="timer"' in page and re.search(r"剩余 (60:00|59:5\d)", page)
    assert grid(page) == [(p, "未答") for p in range(1, 13)]
    assert 'aria-current="page" data-position="1"' in page

    # 下一题 saves the choice and moves on; 上一题 too
    r = c.post("/exam/q/1", data={"answer": "A", "was": "", "go": "next"})
    assert r.status_code == 303 and r.headers["location"] == "/exam/q/2"
    r = c.post("/exam/q/2", data={"answer": "B", "was": "", "go": "prev"})
    assert r.headers["location"] == "/exam/q/1"
    # 保存答案 stays; the page shows the saved answer ticked
    r = c.post("/exam/q/3", data={"answer": "A", "was": "", "go": "stay"})
    assert r.headers["location"] == "/exam/q/3"
    page = c.get("/exam/q/3").text
    assert re.search(r'value="A" autocomplete="off" checked>', page) and "已保存的答案：<b id=\"saved-answer\">A</b>" in page
    assert [s for _, s in grid(page)[:4]] == ["已答", "已答", "已答", "未答"]
    assert [r.answer for r in rows(bank_db, t.ticket)[:4]] == [["A"], ["B"], ["A"], None]

    # change position 3, then flag it (flagging keeps the answer), then clear position 2
    c.post("/exam/q/3", data={"answer": "B", "was": "A", "go": "stay"})
    r = c.post("/exam/q/3", data={"answer": "B", "was": "B", "go": "flag"})
    assert r.headers["location"] == "/exam/q/3"
    page = c.get("/exam/q/3").text
    assert "（已标记，待检查）" in page and 'value="unflag"' in page and "取消标记" in page
    assert grid(page)[2] == (3, "已答 标记")
    c.post("/exam/q/2", data={"answer": "B", "was": "B", "go": "clear"})
    assert [r.answer for r in rows(bank_db, t.ticket)[:3]] == [["A"], None, ["B"]]
    assert [r.flagged for r in rows(bank_db, t.ticket)[:4]] == [False, False, True, False]

    # the review lists what is open and flagged, with links back; nothing is handed in yet
    page = c.get("/exam/review").text
    unanswered = re.search(r'<ul class="qlinks" id="unanswered">(.*?)</ul>', page, re.S).group(1)
    assert re.findall(r'href="/exam/q/(\d+)"', unanswered) == [str(p) for p in [2] + list(range(4, 13))]
    flagged = re.search(r'<ul class="qlinks" id="flagged">(.*?)</ul>', page, re.S).group(1)
    assert re.findall(r'href="/exam/q/(\d+)"', flagged) == ["3"]
    assert "已答 <b>2</b> 题，未答 <b>10</b> 题，标记待检查 <b>1</b> 题" in page
    # 交卷 without the confirmation ticked hands nothing in
    # (post/redirect/get: the error is a page of its own, a reload posts nothing)
    r = c.post("/exam/submit", data={})
    assert r.status_code == 303 and r.headers["location"] == "/exam/review?error=confirm"
    r = c.get(r.headers["location"])
    assert r.status_code == 400 and "请勾选" in r.text and attempt_of(bank_db, t.ticket).status == "in_progress"
    assert 'aria-invalid="true"' in r.text and "<title>错误：" in r.text

    r = c.post("/exam/submit", data={"confirm": "1"})
    assert r.status_code == 303 and r.headers["location"] == "/exam/result"
    a = attempt_of(bank_db, t.ticket)
    assert a.status in ("finished", "incomplete") and a.finish_reason == "submitted"
    finished_at = a.finished_at
    assert c.get("/exam/result").status_code == 200

    # after 交卷: saving, flagging, reading a position or handing in again changes nothing
    for path, data in (("/exam/q/1", {"answer": "C", "was": "A", "go": "stay"}),
                       ("/exam/q/1", {"answer": "A", "was": "A", "go": "flag"}),
                       ("/exam/submit", {"confirm": "1"})):
        r = c.post(path, data=data)
        assert r.status_code == 303 and r.headers["location"] == "/exam/result"
    for path in ("/exam/q/1", "/exam/review", "/exam/item"):
        assert c.get(path).headers["location"] == "/exam/result"
    after = rows(bank_db, t.ticket)
    assert after[0].answer == ["A"] and not after[0].flagged
    assert attempt_of(bank_db, t.ticket).finished_at == finished_at


def test_enter_on_a_choice_saves_and_cannot_hand_in(app_client, linear_exam):
    """A browser's implicit submission (Enter in a form) presses the form's first submit button:
    on the item page that is 保存答案, and the form posts to the position, never to /exam/submit."""
    _, tickets = linear_exam
    start(app_client, tickets[0])
    page = app_client.get("/exam/q/5").text
    form = re.search(r'<form method="post" action="([^"]+)" id="answer-form".*?</form>', page, re.S)
    assert form.group(1) == "/exam/q/5"
    first = re.search(r"<button[^>]*>", form.group(0)).group(0)
    assert 'type="submit"' in first and 'name="go" value="stay"' in first and 'id="save"' in first
    assert "/exam/submit" not in form.group(0)
    assert '<a class="button" href="/exam/review" id="review">' in page  # 交卷 is a page of its own


def test_a_stale_window_does_not_undo_a_newer_answer_and_a_bad_choice_saves_nothing(app_client, linear_exam, bank_db):
    _, tickets = linear_exam
    t = tickets[1]
    start(app_client, t)
    app_client.post("/exam/q/2", data={"answer": "B", "was": "", "go": "stay"})
    # a second window still showing A (as saved when it was drawn) flags: B stays
    app_client.post("/exam/q/2", data={"answer": "A", "was": "A", "go": "flag"})
    row = rows(bank_db, t.ticket)[1]
    assert row.answer == ["B"] and row.flagged
    # two choices for a 单选 or 判断 item: refused, named, nothing saved
    single = next(r for r in rows(bank_db, t.ticket) if r.version.type != "多选")
    r = app_client.post(f"/exam/q/{single.position}", data={"answer": ["A", "B"], "was": "", "go": "next"})
    assert r.status_code == 303 and r.headers["location"] == f"/exam/q/{single.position}?error=one"
    r = app_client.get(r.headers["location"])
    assert r.status_code == 400 and "只能选择一个选项" in r.text and f"第 <b>{single.position}</b> / 12 题" in r.text
    assert rows(bank_db, t.ticket)[single.position - 1].answer is None
    # a 多选 item says so
    multiple = next(r for r in rows(bank_db, t.ticket) if r.version.type == "多选")
    assert "（选出全部正确选项）" in app_client.get(f"/exam/q/{multiple.position}").text
    # a position the exam does not have leads back to the exam
    for wrong in ("99", "0", "abc"):
        assert app_client.get(f"/exam/q/{wrong}").headers["location"] == "/exam/q/1"


def test_after_the_time_is_up_a_save_closes_the_attempt_and_is_not_recorded(app_client, linear_exam, bank_db):
    _, tickets = linear_exam
    t = tickets[2]
    start(app_client, t)
    app_client.post("/exam/q/1", data={"answer": "A", "was": "", "go": "stay"})
    a = attempt_of(bank_db, t.ticket)
    a.started_at = a.started_at - timedelta(minutes=61)
    bank_db.commit()
    # reading closes nothing: the time-up page asks to hand in
    assert app_client.get("/exam/q/1").headers["location"] == "/exam/result"
    assert "考试时间已到" in app_client.get("/exam/result").text
    r = app_client.post("/exam/q/2", data={"answer": "A", "was": "", "go": "stay"})
    assert r.headers["location"] == "/exam/result"
    a = attempt_of(bank_db, t.ticket)
    assert a.status in ("finished", "incomplete") and a.finish_reason == "time"
    assert [r.answer for r in rows(bank_db, t.ticket)[:2]] == [["A"], None]
    assert "考试时间已到，已交卷" in app_client.get("/exam/result").text


def test_an_adaptive_exam_keeps_its_own_pages(app_client, api_exam):
    """Mode adaptive: the item page is the one-at-a-time page (提交本题), the linear pages send back to it."""
    c = app_client
    t = api_exam
    c.post("/exam/login", data={"ticket": t["ticket"], "code": t["access_code"]})
    assert "自适应考试" in c.get("/exam/instructions").text
    c.post("/exam/start", data={"agree": "1"})
    page = c.get("/exam/item").text
    assert 'id="submit">提交本题</button>' in page and "答题卡" not in page
    for path in ("/exam/q/1", "/exam/review"):
        assert c.get(path).headers["location"] == "/exam/item"
    assert c.post("/exam/q/1", data={"answer": "A", "go": "stay"}).headers["location"] == "/exam/item"
    assert c.post("/exam/submit", data={"confirm": "1"}).headers["location"] == "/exam/item"


@pytest.fixture
def api_exam(bank_db):
    """An adaptive exam on 530046-L1 with one candidate: the ticket."""
    from zoneinfo import ZoneInfo

    from examengine.services import exams

    exam = exams.create_exam(bank_db, blueprint="530046-L1", actor="test", zone=ZoneInfo("Asia/Shanghai"))
    exams.import_roster(bank_db, exam.id, "名单.csv", "准考证号,姓名\nA0001,考生\n".encode("utf-8"), actor="test")
    t = exams.tickets(bank_db, exam.id)[0]
    return {"ticket": t.ticket, "access_code": t.access_code}


def test_after_the_time_is_up_the_candidate_hands_in_on_the_time_up_page(app_client, linear_exam, bank_db):
    _, tickets = linear_exam
    t = tickets[0]
    start(app_client, t)
    app_client.post("/exam/q/4", data={"answer": "A", "was": "", "go": "flag"})
    a = attempt_of(bank_db, t.ticket)
    a.started_at = a.started_at - timedelta(minutes=61)
    bank_db.commit()
    assert 'action="/exam/finish"' in app_client.get("/exam/result").text
    assert attempt_of(bank_db, t.ticket).status == "in_progress"  # reading closed nothing
    r = app_client.post("/exam/finish")
    assert r.headers["location"] == "/exam/result"
    a = attempt_of(bank_db, t.ticket)
    assert a.finish_reason == "time" and a.status == "incomplete"  # 1 answer, fewer than the minimum
    assert rows(bank_db, t.ticket)[3].answer == ["A"]
    assert "未完成" in app_client.get("/exam/result").text


def test_a_linear_items_picture_is_shown_at_its_position(app_client, linear_exam, bank_db):
    chart = _png("navy")
    form_id = bank_db.get(Exam, linear_exam[0]).form_id
    for v in bank_db.scalars(select(ItemVersion).join(FormItem, FormItem.item_version_id == ItemVersion.id)
                             .where(FormItem.form_id == form_id)):  # before the start freezes them
        v.stem = v.stem + "\n如图所示：[图片:chart.png]"
        bank_db.add(ItemImage(version_id=v.id, name="chart.png", media_type="image/png", data=chart))
    bank_db.commit()
    start(app_client, linear_exam[1][0])
    page = app_client.get("/exam/q/5").text
    assert '<img class="stem-image" alt="题目图片（无文字说明）" src="/exam/images/5/chart.png">' in page
    r = app_client.get("/exam/images/5/chart.png")
    assert r.status_code == 200 and r.content == chart
    assert app_client.get("/exam/images/13/chart.png").status_code == 404  # no 13th position
