"""Linear online exams (#20): a fixed assembled form delivered position by position, answers
changeable until submitted, scored exactly as a paper sitting of the same form."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from examengine.cli import app as cli_app
from examengine.db.forms_models import FormUse
from examengine.db.models import Attempt, Exam, Item, ItemVersion
from examengine.db.engine import make_engine, make_sessionmaker
from examengine.services import attempts as att
from examengine.services import forms as forms_svc
from examengine.services import linear
from tests.attempts.conftest import roster_csv, rows_of, sign_in
from tests.forms.test_scoring import eap_by_hand

LETTERS = "ABCDEF"


@pytest.fixture
def form(bank_db):
    """One 20-item form of 530046-L1 (seed 3), with its keys and parameters (FormView)."""
    a = forms_svc.assemble(bank_db, blueprint="530046-L1", n_forms=1, length=20, actor="test", seed=3)
    return forms_svc.form_view(bank_db, a.forms[0].id)


@pytest.fixture
def linear_exam(api, form):
    """A linear exam delivering ``form``, created through the API, with 4 candidates."""
    r = api.post("/api/v1/exams", json={"form_id": form.id, "name": "固定试卷考试"})
    assert r.status_code == 200, r.text
    e = r.json()
    assert (e["mode"], e["form_id"], e["blueprint"]) == ("linear", form.id, "530046-L1")
    assert api.post(f"/api/v1/exams/{e['id']}/roster", files={"file": ("名单.csv", roster_csv(4))}).status_code == 200
    return e["id"], api.get(f"/api/v1/exams/{e['id']}/tickets").json()


def right(it) -> list[str]:
    return list(it.key)


def wrong(it) -> list[str]:
    return [next(x for x in LETTERS[:len(it.options)] if x not in it.key)]


def put_answer(api, aid, h, position, labels):
    return api.put(f"/api/v1/attempts/{aid}/items/{position}/answer", headers=h, json={"labels": labels})


def paper_text(it, labels: list[str]) -> str:
    if not labels:
        return ""
    return {"A": "对", "B": "错"}[labels[0]] if it.type == "判断" else "".join(labels)


def test_a_linear_exam_taken_through_the_api_agrees_with_paper_scoring_of_the_same_answers(  # the acceptance test
        api, linear_exam, form, bank_db):
    exam_id, tickets = linear_exam
    aid, h = sign_in(api, tickets[0])
    first = api.get(f"/api/v1/attempts/{aid}/items/1", headers=h)
    assert first.status_code == 200, first.text
    assert first.json()["n_items"] == 20 and first.json()["answer"] == [] and "key" not in first.json()
    # the form's items in form order (no pretest items in the sample bank)
    shown = [api.get(f"/api/v1/attempts/{aid}/items/{k}", headers=h).json() for k in range(1, 21)]
    assert [s["stem"] for s in shown] == [it.stem for it in form.items]
    chosen = {}
    for it in form.items:  # right on two of three, position 11 left blank
        if it.position == 11:
            continue
        chosen[it.position] = right(it) if it.position % 3 else wrong(it)
        r = put_answer(api, aid, h, it.position, chosen[it.position])
        assert r.status_code == 200 and r.json()["answer"] == chosen[it.position], r.text
    # back to position 3: the answer changes; position 5 is flagged
    it3 = form.items[2]
    assert api.get(f"/api/v1/attempts/{aid}/items/3", headers=h).json()["answer"] == chosen[3]
    chosen[3] = wrong(it3) if chosen[3] == right(it3) else right(it3)
    assert put_answer(api, aid, h, 3, chosen[3]).json()["answer"] == chosen[3]
    flag = api.put(f"/api/v1/attempts/{aid}/items/5/flag", headers=h, json={"flagged": True}).json()
    assert flag["flagged"] is True and flag["answered"] == 19
    ov = api.get(f"/api/v1/attempts/{aid}/overview", headers=h).json()
    assert (ov["n_items"], ov["answered"], ov["flagged"]) == (20, 19, 1)
    assert [p["position"] for p in ov["positions"] if not p["answered"]] == [11]
    assert [p["position"] for p in ov["positions"] if p["flagged"]] == [5]
    # the proctor's monitor counts the positions answered and flagged (all 20 are stored from the start)
    row = next(r for r in api.get(f"/api/v1/exams/{exam_id}/attempts").json() if r["attempt_id"] == aid)
    assert (row["mode"], row["n_items"], row["answered"], row["flagged"]) == ("linear", 20, 19, 1)
    page = api.get(f"/proctor/exams/{exam_id}").text
    assert "已答 19/20 题（标记 1）" in page and f"固定试卷 {form.code}（试卷 {form.id}）" in page
    done = api.post(f"/api/v1/attempts/{aid}/submit", headers=h).json()
    assert done == {"finished": True, "reason": "submitted", "status": "finished"}

    # the stored answers are the last ones given
    rows = rows_of(bank_db, aid)
    assert [r.answer for r in rows] == [chosen.get(k) for k in range(1, 21)]
    assert [r.flagged for r in rows] == [k == 5 for k in range(1, 21)]
    # the same answers on paper, for the same form, through the paper upload
    ticket = tickets[0]["ticket"]
    texts = [paper_text(it, chosen.get(it.position, [])) for it in form.items]
    csv = f'准考证号,试卷,答案\n{ticket},{form.code},"{",".join(texts)}"\n'.encode()
    paper = forms_svc.score_paper(bank_db, exam_id, "答案.csv", csv, actor="test").rows[0]
    online = api.get(f"/api/v1/attempts/{aid}/result", headers=h).json()
    stored = bank_db.get(Attempt, aid)
    scores = [int(sorted(chosen.get(it.position, [])) == sorted(it.key)) for it in form.items]
    assert stored.result["raw_score"] == paper.raw_score == sum(scores)
    assert online["theta"] == pytest.approx(paper.theta, abs=1e-12)
    assert online["se"] == pytest.approx(paper.se, abs=1e-12)
    assert (online["passed"], online["score"]) == (paper.passed, round(paper.score, 1))
    assert stored.result["band_name"] == paper.band_name
    # and both are the EAP of the pattern, computed by hand
    theta, se = eap_by_hand(form, scores)
    assert stored.theta == pytest.approx(theta, abs=1e-9) and stored.se == pytest.approx(se, abs=1e-9)
    assert stored.result["n_scored"] == 19 and stored.result["n_unanswered_wrong"] == 1
    assert sum(d["n_items"] for d in online["domains"]) == 20
    # re-scoring by today's rules finds nothing to change
    assert att.rescore(bank_db, exam_id=exam_id, actor="test") == []


def test_signing_in_again_resumes_with_the_saved_answers_which_are_checked_as_adaptive_answers_are(
        api, linear_exam, form):
    _, tickets = linear_exam
    aid, h = sign_in(api, tickets[1])
    api.get(f"/api/v1/attempts/{aid}/items/1", headers=h)
    put_answer(api, aid, h, 2, right(form.items[1]))
    api.put(f"/api/v1/attempts/{aid}/items/7/flag", headers=h, json={"flagged": True})
    aid2, h2 = sign_in(api, tickets[1])
    assert aid2 == aid
    assert api.get(f"/api/v1/attempts/{aid}/items/2", headers=h).status_code == 401  # the old token stopped
    assert api.get(f"/api/v1/attempts/{aid}/items/2", headers=h2).json()["answer"] == right(form.items[1])
    assert api.get(f"/api/v1/attempts/{aid}/items/7", headers=h2).json()["flagged"] is True
    ov = api.get(f"/api/v1/attempts/{aid}/overview", headers=h2).json()
    assert (ov["answered"], ov["flagged"], ov["status"]) == (1, 1, "in_progress")
    # clearing an answer: [] leaves the position unanswered; saving the same answer twice is one answer
    assert put_answer(api, aid, h2, 2, []).json() | {"time_left_s": 0} == {
        "position": 2, "answer": [], "flagged": False, "answered": 0, "n_items": 20, "time_left_s": 0}
    assert put_answer(api, aid, h2, 4, ["a"]).json()["answer"] == ["A"]
    assert put_answer(api, aid, h2, 4, ["A"]).json()["answered"] == 1
    # refused answers change nothing
    single = next(it for it in form.items if it.type == "单选")
    tf = next(it for it in form.items if it.type == "判断")
    r = put_answer(api, aid, h2, single.position, ["A", "B"])
    assert r.status_code == 400 and "单选题，只能选择一个选项" in r.json()["message"]
    r = put_answer(api, aid, h2, tf.position, ["A", "B"])
    assert r.status_code == 400 and "判断题只能选择一个选项" in r.json()["message"]
    r = put_answer(api, aid, h2, single.position, ["F"])
    assert r.status_code == 400 and "选项应为" in r.json()["message"]
    r = put_answer(api, aid, h2, 21, ["A"])
    assert r.status_code == 404 and "第 21 题" in r.json()["message"]
    assert api.get(f"/api/v1/attempts/{aid}/overview", headers=h2).json()["answered"] == 1  # position 4 only


def test_submitting_twice_is_one_result_answers_after_it_are_refused_and_submitting_nothing_does_not_pass(
        api, linear_exam, form, bank_db):
    _, tickets = linear_exam
    aid, h = sign_in(api, tickets[2])
    api.get(f"/api/v1/attempts/{aid}/items/1", headers=h)
    for it in form.items:
        put_answer(api, aid, h, it.position, right(it))
    one = api.post(f"/api/v1/attempts/{aid}/submit", headers=h).json()
    bank_db.expire_all()
    first = bank_db.get(Attempt, aid)
    result, finished_at = first.result, first.finished_at
    two = api.post(f"/api/v1/attempts/{aid}/submit", headers=h).json()
    assert one == two == {"finished": True, "reason": "submitted", "status": "finished"}
    bank_db.expire_all()
    again = bank_db.get(Attempt, aid)
    assert (again.result, again.finished_at) == (result, finished_at)
    assert again.result["passed"] is True and again.result["raw_score"] == 20
    r = put_answer(api, aid, h, 1, wrong(form.items[0]))
    assert r.status_code == 409 and "已经结束" in r.json()["message"]
    assert api.put(f"/api/v1/attempts/{aid}/items/1/flag", headers=h, json={"flagged": True}).status_code == 409
    assert rows_of(bank_db, aid)[0].answer == right(form.items[0])
    # a candidate who answers nothing is short of the minimum: incomplete, not passed
    aid, h = sign_in(api, tickets[0])
    api.get(f"/api/v1/attempts/{aid}/items/1", headers=h)
    assert api.post(f"/api/v1/attempts/{aid}/submit", headers=h).json()["status"] == "incomplete"
    res = api.get(f"/api/v1/attempts/{aid}/result", headers=h).json()
    assert (res["passed"], res["band"], res["score"], res["n_scored"]) == (False, None, None, 0)
    assert bank_db.get(Attempt, aid).result["min_items"] == 10  # the blueprint's minimum length


def test_a_time_out_scores_the_answers_saved_before_the_deadline(api, linear_exam, form, bank_db):
    _, tickets = linear_exam
    aid, h = sign_in(api, tickets[3])
    api.get(f"/api/v1/attempts/{aid}/items/1", headers=h)
    for it in form.items[:12]:
        put_answer(api, aid, h, it.position, right(it))
    bank_db.expire_all()
    a = bank_db.get(Attempt, aid)
    a.started_at = datetime.now(UTC) - timedelta(minutes=61)  # past its 60 minutes
    bank_db.commit()
    r = put_answer(api, aid, h, 13, right(form.items[12]))
    assert r.status_code == 409 and "考试时间已到，本题未被记录" in r.json()["message"]
    bank_db.expire_all()
    a = bank_db.get(Attempt, aid)
    assert (a.status, a.finish_reason) == ("finished", "time")
    scores = [1] * 12 + [0] * 8
    theta, se = eap_by_hand(form, scores)
    assert a.theta == pytest.approx(theta, abs=1e-9) and a.se == pytest.approx(se, abs=1e-9)
    assert a.result["raw_score"] == 12 and a.result["n_unanswered_wrong"] == 8
    assert rows_of(bank_db, aid)[12].answer is None
    assert api.post(f"/api/v1/attempts/{aid}/submit", headers=h).json()["reason"] == "time"


def test_pretest_slots_hold_unscored_pretest_items_that_do_not_count(api, linear_exam, form, bank_db):
    _, tickets = linear_exam
    on_form = {it.item_id for it in form.items}
    level = bank_db.scalars(select(Item.level_id).where(Item.external_id == form.items[0].item_id)).one()
    spare = list(bank_db.scalars(select(Item).where(Item.level_id == level, Item.external_id.not_in(on_form))
                                 .order_by(Item.external_id).limit(3)))
    for it in spare:
        it.status = "pretest"
    bank_db.commit()
    aid, h = sign_in(api, tickets[1])
    api.get(f"/api/v1/attempts/{aid}/items/1", headers=h)
    rows = rows_of(bank_db, aid)
    assert len(rows) == 22  # 530046-L1: pretest at positions 4 and 9
    assert [r.position for r in rows if not r.scored] == [4, 9]
    assert {r.external_id for r in rows if not r.scored} <= {it.external_id for it in spare}
    assert [r.external_id for r in rows if r.scored] == [it.item_id for it in form.items]
    # every scored position right, every pretest position wrong: all 20 right, nothing else counted
    keys = {it.item_id: it for it in form.items}
    for r in rows:
        v = bank_db.get(ItemVersion, r.item_version_id)
        labels = right(keys[r.external_id]) if r.scored else [next(
            x for x in LETTERS[:len(v.options)] if LETTERS.index(x) not in v.key)]
        assert put_answer(api, aid, h, r.position, labels).status_code == 200
    api.post(f"/api/v1/attempts/{aid}/submit", headers=h)
    bank_db.expire_all()
    a = bank_db.get(Attempt, aid)
    assert (a.result["raw_score"], a.result["n_items"], a.result["n_pretest"]) == (20, 20, 2)
    assert a.theta == pytest.approx(eap_by_hand(form, [1] * 20)[0], abs=1e-9)
    assert all(bank_db.get(ItemVersion, r.item_version_id).frozen for r in rows)


def test_adaptive_and_linear_routes_refuse_each_others_attempts(api, linear_exam, exam, bank_db):
    exam_id, tickets = linear_exam
    aid, h = sign_in(api, tickets[0])
    r = api.get(f"/api/v1/attempts/{aid}/item", headers=h)
    assert r.status_code == 409 and "固定试卷" in r.json()["message"]
    r = api.post(f"/api/v1/attempts/{aid}/answers", headers=h, json={"position": 1, "item_id": "Q1", "answer": ["A"]})
    assert r.status_code == 409 and "固定试卷" in r.json()["message"]
    _, adaptive_tickets = exam
    bid, g = sign_in(api, adaptive_tickets[0])
    api.get(f"/api/v1/attempts/{bid}/item", headers=g)
    for url in (f"/api/v1/attempts/{bid}/items/1", f"/api/v1/attempts/{bid}/overview"):
        r = api.get(url, headers=g)
        assert r.status_code == 409 and "自适应考试" in r.json()["message"]
    assert api.post(f"/api/v1/attempts/{bid}/submit", headers=g).status_code == 409
    assert put_answer(api, bid, g, 1, ["A"]).status_code == 409


def test_two_starts_at_once_store_the_positions_once(api, linear_exam, bank_db_url):
    _, tickets = linear_exam
    aid, _ = sign_in(api, tickets[2])
    engine = make_engine(bank_db_url)
    maker = make_sessionmaker(engine)
    with maker() as one, maker() as two:
        a1, a2 = att.get_attempt(one, aid), att.get_attempt(two, aid)
        _ = (a1.exam.form_id, a2.exam.form_id, a1.candidate, a2.candidate)
        att.start(one, a1)
        att.start(two, a2)  # read before the first start committed: loses the race, reads the winner's rows
        assert [r.id for r in a2.items] == [r.id for r in a1.items] and len(a1.items) == 20
        assert a2.status == "in_progress" and a2.started_at is not None
        assert linear.item_at(two, a2, 3).position == 3
    engine.dispose()


def test_a_linear_exam_is_created_from_a_form_by_api_cli_and_page_and_an_unknown_form_is_refused(
        api, form, bank_db, bank_db_url, monkeypatch):
    r = api.post("/api/v1/exams", json={"form_id": 9999})
    assert r.status_code == 404 and "未找到试卷：9999" in r.json()["message"]
    r = api.post("/api/v1/exams", json={"form_id": form.id, "blueprint": "530046-L2"})
    assert r.status_code == 409 and "530046-L1" in r.json()["message"]
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    runner = CliRunner()
    out = runner.invoke(cli_app, ["exams", "create", "--form", str(form.id), "--format", "json"])
    assert out.exit_code == 0, out.output
    e = json.loads(out.stdout)
    assert (e["mode"], e["form_id"], e["form_code"]) == ("linear", form.id, form.code)
    bad = runner.invoke(cli_app, ["exams", "create", "--form", "9999"])
    assert bad.exit_code == 1 and "未找到试卷：9999" in bad.output
    page = api.get("/proctor")
    assert f'<option value="{form.id}">试卷 {form.id}：530046-L1' in page.text
    made = api.post("/proctor/exams", data={"blueprint": "530046-L2", "form_id": str(form.id)}, follow_redirects=False)
    assert made.status_code == 303
    new_id = int(made.headers["location"].rsplit("/", 1)[1])
    exam = bank_db.get(Exam, new_id)
    assert (exam.mode, exam.form_id, exam.blueprint_version.code) == ("linear", form.id, "530046-L1")
    assert bank_db.scalars(select(FormUse).where(FormUse.exam_id == new_id)).one().form_id == form.id
    refused = api.post("/proctor/exams", data={"blueprint": "530046-L1", "form_id": "9999"})
    assert "未找到试卷：9999" in refused.text
    assert bank_db.scalars(select(Exam).order_by(Exam.id.desc())).first().id == new_id


def test_several_answers_are_saved_at_once_or_not_at_all(api, linear_exam, form):
    exam_id, tickets = linear_exam
    aid, h = sign_in(api, tickets[1])
    assert api.get(f"/api/v1/attempts/{aid}/items/1", headers=h).status_code == 200  # starts the clock
    items = {it.position: it for it in form.items}
    # one bad answer (a second letter on a 单选 or 判断) among good ones: nothing is saved, it is named
    single = next(p for p, it in items.items() if it.type != "多选")
    batch = {str(p): right(items[p]) for p in (1, 2, 3, 4) if p != single}
    batch[str(single)] = ["A", "B"]
    r = api.put(f"/api/v1/attempts/{aid}/answers", headers=h, json={"answers": batch})
    assert r.status_code == 400 and f"第 {single} 题" in r.json()["message"], r.text
    assert api.get(f"/api/v1/attempts/{aid}/overview", headers=h).json()["answered"] == 0
    # all good: saved together, and a later batch changes and clears
    batch = {str(p): right(items[p]) for p in range(1, 11)}
    r = api.put(f"/api/v1/attempts/{aid}/answers", headers=h, json={"answers": batch})
    assert r.status_code == 200 and r.json()["answered"] == 10, r.text
    r = api.put(f"/api/v1/attempts/{aid}/answers", headers=h, json={"answers": {"2": wrong(items[2]), "3": []}})
    assert r.json()["answered"] == 9
    assert api.get(f"/api/v1/attempts/{aid}/items/2", headers=h).json()["answer"] == wrong(items[2])
    assert api.post(f"/api/v1/attempts/{aid}/submit", headers=h).status_code == 200
    # nine answered, one of them wrong: 8 right out of 20
    res = api.get(f"/api/v1/attempts/{aid}/overview", headers=h).json()
    assert res["answered"] == 9
    r = api.put(f"/api/v1/attempts/{aid}/answers", headers=h, json={"answers": {"12": right(items[12])}})
    assert r.status_code == 409


def test_an_exam_asked_for_with_neither_a_blueprint_nor_a_form_is_a_422_naming_the_field(api):
    r = api.post("/api/v1/exams", json={})
    assert r.status_code == 422, r.text
    assert r.json()["problems"][0]["field"] == "blueprint" and "请指定蓝图" in r.json()["message"]
