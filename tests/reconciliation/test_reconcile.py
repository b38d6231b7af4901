"""Online and paper results of the same candidate side by side (issue 21, point 5): a candidate
who passed online and failed on paper is flagged and shown first, on the page, through the API
and the CLI; the online exam may be another exam, matched by 准考证号."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from examengine.cli import app
from examengine.config import Settings
from examengine.db.forms_models import PaperResult
from examengine.db.models import Attempt, Candidate, Exam
from examengine.services import forms as forms_svc
from examengine.services.reconciliation import reconcile
from tests.attempts.conftest import Simulee, sign_in, take_exam
from tests.conftest import REPO, staff_client
from tests.forms.test_scoring import answer_string

DEMO = 1  # the demo exam (530046-L1, DEMO0001-DEMO0005)


@pytest.fixture
def l1_forms(bank_db):
    """Two parallel 20-item forms of 530046-L1 (the demo exam's blueprint), seed 3."""
    return forms_svc.assemble(bank_db, blueprint="530046-L1", n_forms=2, length=20, actor="test", seed=3)


@pytest.fixture
def api(bank_db_url):
    c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO))
    yield c
    c.__exit__(None, None, None)


def _paper(db, forms, plan: dict[str, float], exam_id: int = DEMO) -> None:
    """Score paper answers: ticket -> share answered right (0: every answer wrong)."""
    rng = np.random.default_rng(11)
    lines = ["准考证号,试卷,答案"]
    for k, (ticket, p) in enumerate(plan.items()):
        form = forms.forms[k % 2]
        lines.append(f'{ticket},{form.code},"{answer_string(form, rng, p)}"')
    forms_svc.score_paper(db, exam_id, "答案.csv", ("\n".join(lines) + "\n").encode(), actor="阅卷员")


def _stored_attempt(db, exam_id: int, ticket: str, result: dict, status: str = "finished") -> None:
    """An online attempt closed with ``result`` (as the attempt service stores it)."""
    cand = db.scalars(select(Candidate).where(Candidate.exam_id == exam_id, Candidate.ticket == ticket)).one()
    db.add(Attempt(exam_id=exam_id, candidate_id=cand.id, blueprint_version_id=db.get(Exam, exam_id).blueprint_version_id,
                   seed=1, cuts=[-1.0, 0.0, 1.0], status=status, token_hash=f"h-{exam_id}-{ticket}",
                   theta=result["theta"], se=result["se"], result=result))
    db.commit()


def _take_online(api, db, exam_id: int, ticket: str, theta: float) -> None:
    t = next(x for x in api.get(f"/api/v1/exams/{exam_id}/tickets").json() if x["ticket"] == ticket)
    aid, headers = sign_in(api, t)
    take_exam(api, aid, headers, Simulee(db, theta, seed=5))


def _paper_result(db, ticket: str, exam_id: int = DEMO) -> dict:
    db.expire_all()
    return dict(db.scalars(select(PaperResult).join(Candidate).where(
        Candidate.exam_id == exam_id, Candidate.ticket == ticket)).one().result)


@pytest.fixture
def sat_both(api, bank_db, l1_forms):
    """The demo exam, both forms printed for it:
    DEMO0001 took the online exam as a strong candidate (θ = 2) and answered every paper item wrong;
    DEMO0002 has an online result close to their paper result; DEMO0003 has a paper result and an
    online attempt still running; DEMO0005 only an online result."""
    for f in l1_forms.forms:
        forms_svc.print_form(bank_db, f.id, booklet=False, sheets=False, key=True, exam_id=DEMO, actor="test")
    _take_online(api, bank_db, DEMO, "DEMO0001", 2.0)
    _paper(bank_db, l1_forms, {"DEMO0001": 0.0, "DEMO0002": 0.6, "DEMO0003": 0.8})
    close = _paper_result(bank_db, "DEMO0002")
    _stored_attempt(bank_db, DEMO, "DEMO0002", close | {"theta": close["theta"] + 0.05})
    _stored_attempt(bank_db, DEMO, "DEMO0003", close, status="in_progress")
    _stored_attempt(bank_db, DEMO, "DEMO0005", close)
    return l1_forms


def test_a_candidate_who_passed_online_and_failed_on_paper_is_flagged_first(bank_db, sat_both):
    r = reconcile(bank_db, DEMO)
    assert (r.z, r.online_exam_id, r.pairs, r.flagged, r.paper_only, r.online_only) == (1.96, DEMO, 2, 1, 1, 1)
    first = r.rows[0]
    assert first.ticket == "DEMO0001" and first.flagged
    assert first.online.passed and not first.paper.passed  # the candidate: 71 online, 5.9 on paper
    assert first.online.score > first.paper.score and first.paper.detail.startswith("试卷 ")
    assert first.pass_differs and first.theta_beyond
    assert first.difference == pytest.approx(first.online.theta - first.paper.theta)
    assert first.se == pytest.approx(np.hypot(first.online.se, first.paper.se))
    assert abs(first.difference) > 1.96 * first.se
    assert any(w.startswith("是否通过不同：在线通过，纸笔未通过") for w in first.reasons)
    rows = {x.ticket: x for x in r.rows}
    assert not rows["DEMO0002"].flagged and rows["DEMO0002"].difference == pytest.approx(0.05)
    assert rows["DEMO0003"].online is None and rows["DEMO0003"].online_status == "作答中"
    assert rows["DEMO0005"].paper is None and rows["DEMO0005"].online.detail == "已完成"
    assert "DEMO0004" not in rows  # neither result
    assert [x.ticket for x in r.rows] == ["DEMO0001", "DEMO0002", "DEMO0003", "DEMO0005"]


@pytest.fixture
def online_elsewhere(api, bank_db, l1_forms):
    """The online exam run as its own exam: DEMO0001 (under another spelling of the name) and
    DEMO0002 on its roster; DEMO0001 took it as a strong candidate. Paper: the demo exam."""
    exam = api.post("/api/v1/exams", json={"blueprint": "530046-L1", "name": "在线场次"}).json()["id"]
    roster = "准考证号,姓名\nDEMO0001,张小明\nDEMO0002,李华\n".encode()
    assert api.post(f"/api/v1/exams/{exam}/roster", files={"file": ("名单.csv", roster)}).status_code == 200
    _take_online(api, bank_db, exam, "DEMO0001", 2.0)
    for f in l1_forms.forms:
        forms_svc.print_form(bank_db, f.id, booklet=False, sheets=False, key=True, exam_id=DEMO, actor="test")
    _paper(bank_db, l1_forms, {"DEMO0001": 0.0, "DEMO0002": 0.6})
    return exam


def test_the_online_exam_may_be_another_exam_matched_by_ticket(bank_db, online_elsewhere):
    r = reconcile(bank_db, DEMO, online_exam_id=online_elsewhere)
    assert (r.online_exam_id, r.online_exam_name, r.pairs, r.flagged, r.paper_only) == (online_elsewhere, "在线场次", 1, 1, 1)
    assert r.rows[0].ticket == "DEMO0001" and r.rows[0].pass_differs
    assert "两场考试名单上的姓名不同：纸笔 张晓明，在线 张小明" in r.rows[0].notes
    assert r.rows[1].ticket == "DEMO0002" and r.rows[1].online_status == "未参加在线考试"
    # the same exam has no online attempts at all: nothing paired
    assert reconcile(bank_db, DEMO).pairs == 0


def test_the_page_api_and_cli_show_the_flagged_pair_and_the_rule(bank_db_url, api, online_elsewhere, monkeypatch):
    page = api.get(f"/proctor/exams/{DEMO}/reconciliation", params={"online_exam": online_elsewhere})
    assert page.status_code == 200, page.text
    text = page.text
    assert "z = 1.96" in text and "√(SE<sub>在线</sub>² + SE<sub>纸笔</sub>²)" in text
    table = text[text.index('<table id="reconciliation">'):]
    first = table[table.index("<tbody>"):]
    first = first[:first.index("</tr>")]
    assert 'data-ticket="DEMO0001"' in first and 'class="flagged"' in first and "不一致" in first
    assert "是否通过不同：在线通过，纸笔未通过" in first
    assert f'<option value="{online_elsewhere}" selected>' in text
    assert 'href="/proctor/exams/1/reconciliation"' in api.get(f"/proctor/exams/{DEMO}").text
    assert api.get(f"/proctor/exams/{DEMO}/reconciliation", params={"online_exam": "x"}).status_code == 400
    assert api.get(f"/proctor/exams/{DEMO}/reconciliation").status_code == 200  # same exam: nothing paired
    data = api.get(f"/api/v1/exams/{DEMO}/reconciliation", params={"online_exam": online_elsewhere}).json()
    assert data["rows"][0]["ticket"] == "DEMO0001" and data["rows"][0]["flagged"] and data["z"] == 1.96
    assert api.get(f"/api/v1/exams/{DEMO}/reconciliation", params={"online_exam": 999}).status_code == 404
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    runner = CliRunner()
    r = runner.invoke(app, ["forms", "reconcile", str(DEMO), "--online-exam", str(online_elsewhere), "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert (data["pairs"], data["flagged"], data["rows"][0]["ticket"]) == (1, 1, "DEMO0001")
    r = runner.invoke(app, ["forms", "reconcile", str(DEMO), "--online-exam", str(online_elsewhere)],
                      env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert "不一致 1 名" in r.output and "1.96" in r.output and "是否通过不同" in r.output


def test_a_proctor_reconciles_only_exams_they_run(bank_db_url, online_elsewhere):
    c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO), "p-abgleich", "proctor")
    try:
        c.follow_redirects = False
        own = c.post("/api/v1/exams", json={"blueprint": "530046-L1", "name": "本人考试"}).json()["id"]
        assert c.get(f"/proctor/exams/{own}/reconciliation").status_code == 200
        assert c.get(f"/proctor/exams/{own}/reconciliation", params={"online_exam": DEMO}).status_code == 403
        assert c.get(f"/api/v1/exams/{own}/reconciliation", params={"online_exam": DEMO}).status_code == 403
        assert c.get(f"/api/v1/exams/{DEMO}/reconciliation").status_code == 403
        assert c.get(f"/proctor/exams/{DEMO}/reconciliation").status_code == 403
    finally:
        c.__exit__(None, None, None)
