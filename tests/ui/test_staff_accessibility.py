"""Accessible staff pages (issue 25): axe-core finds no WCAG 2.0/2.1 A or AA violation on any page
staff use (sign-in, proctoring, forms, writing, reports), each seeded with what it shows: an exam
with a roster and a signed-in attempt, an assembled form, an uploaded item set, stored responses
and a calibration run. The axe helper is the candidate pages' (tests/ui/test_accessibility.py)."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from sqlalchemy import select, update

from examengine.db.forms_models import PaperResult
from examengine.db.models import Attempt, Candidate, Exam, Item, ItemSet
from examengine.services import forms
from tests.conftest import STAFF_PASSWORD, ensure_staff
from tests.ui.test_accessibility import axe_violations

ADMIN = "无障碍验收"


@pytest.fixture
def staff_seeded(bank_db, bank_db_url, linear_exam):
    """Stored responses and a 2PL pretest calibration run (as the report tests seed them), besides
    the linear exam of ``linear_exam``."""
    from examengine.irt.calibration import CalibrationModel, PromotionCriteria
    from examengine.services.calibration import run_calibration
    from tests.calibration.seed import seed_responses

    info = seed_responses(bank_db, n_persons=150, n_operational=12)
    run = run_calibration(bank_db, scope="530046-L1", model=CalibrationModel.TWO_PL, mode="pretest", actor="测试员",
                          criteria=PromotionCriteria(min_responses=40))
    cal_exam = bank_db.scalar(select(Exam.id).where(Exam.name == "校准测试"))
    for k, cid in enumerate(bank_db.scalars(select(Candidate.id).where(Candidate.exam_id == cal_exam))):
        bank_db.execute(update(Candidate).where(Candidate.id == cid).values(groups={"性别": "男女"[k % 2]}))
    bank_db.commit()  # two roster groups: the fairness page draws its DIF chart
    item = bank_db.scalar(select(Item.external_id).order_by(Item.external_id))
    item_set = bank_db.scalar(select(ItemSet.id).order_by(ItemSet.id))
    form = bank_db.scalar(select(Exam.form_id).where(Exam.id == linear_exam[0]))
    seed_paper_results(bank_db, linear_exam[0], form)
    return {**info, "run": run.id, "cal_exam": cal_exam, "linear": linear_exam, "form": form, "item": item, "item_set": item_set}


def seed_paper_results(db, exam_id: int, form_id: int) -> None:
    """Paper results for two of the linear exam's three candidates (one with a reading flag and a
    review correction) and, for the second, a closed online attempt that disagrees with the paper:
    the paper results page and the reconciliation page show a flagged row, a plain one and a
    candidate without a result."""
    view = forms.form_view(db, form_id)
    right = ",".join({"A": "对", "B": "错"}["".join(it.key)] if it.type == "判断" else "".join(it.key)
                     for it in view.items)
    data = f'准考证号,试卷,答案\nL0001,{view.code},"{right}"\nL0002,{view.code},"{right}"\n'.encode()
    forms.score_paper(db, exam_id, "答案.csv", data, actor="阅卷员")
    paper = {p.candidate_id: p for p in db.scalars(select(PaperResult).where(PaperResult.exam_id == exam_id))}
    first, second = (db.scalar(select(Candidate).where(Candidate.exam_id == exam_id, Candidate.ticket == t))
                     for t in ("L0001", "L0002"))
    row = paper[first.id]
    row.result = {**row.result, "flags": ["第 3 题 多涂，已复核为 B"], "corrected": 1}
    low = {**paper[second.id].result, "theta": -2.4, "se": 0.45, "band": 0, "band_name": "未达初级", "passed": False,
           "score": 5.9}
    db.add(Attempt(exam_id=exam_id, candidate_id=second.id, blueprint_version_id=db.get(Exam, exam_id).blueprint_version_id,
                   seed=1, cuts=[-1.0, 0.0, 1.0], status="finished", token_hash="axe-paper", theta=-2.4, se=0.45,
                   result=low))
    db.commit()


def bad_upload(sample_drafts) -> bytes:
    """An item file with two errors (an unknown requirement, an empty stem)."""
    from examengine.itemfiles.tables import write_xlsx

    items = [dataclasses.replace(d, external_id=f"AXE-{i:03d}") for i, d in enumerate(sample_drafts[:3], start=1)]
    items[1] = dataclasses.replace(items[1], requirements=("530046-L1-7.7.7",))
    items[2] = dataclasses.replace(items[2], stem="")
    return write_xlsx(items)


@pytest.mark.browser
def test_every_staff_page_has_no_axe_violation_at_wcag_a_and_aa(browser, bank_server, bank_db_url, staff_seeded,
                                                                sample_drafts):
    ensure_staff(bank_db_url, ADMIN, "admin")
    exam_id, tickets = staff_seeded["linear"]
    with httpx.Client(base_url=bank_server, timeout=30) as api:  # one candidate signs in: an attempt on the monitor
        r = api.post("/api/v1/attempts", json={"ticket": tickets[0].ticket, "code": tickets[0].access_code})
        assert r.status_code == 200, r.text
    context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    found: dict[str, list[str]] = {}
    seen: list[str] = []

    def check(path: str) -> None:
        if path:
            r = page.goto(f"{bank_server}{path}")
            assert r is not None and r.status == 200, f"{path}: {r.status if r else None}"
            assert "/login" not in page.url or path == "/login", f"{path}: sent to {page.url}"
        page.wait_for_load_state()
        seen.append(path or page.url)
        # one main landmark and one h1 (axe's best-practice rules, beyond A/AA); the closed
        # <details> (a chart's data table) opened so that axe checks what is inside
        assert page.locator("main").count() == 1 and page.locator("h1").count() == 1, path
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        v = axe_violations(page)
        if v:
            found[path or page.url] = v

    try:
        check("/login")
        page.goto(f"{bank_server}/login")
        page.fill("input[name=username]", ADMIN)
        page.fill("input[name=password]", "WRONG")
        page.click("button[type=submit]")
        check("")  # the sign-in page with its error
        page.fill("input[name=username]", ADMIN)
        page.fill("input[name=password]", STAFF_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        pages = [
            "/proctor", f"/proctor/exams/{exam_id}", f"/proctor/exams/{exam_id}/tickets",
            "/proctor/forms", f"/proctor/forms/{staff_seeded['form']}",
            f"/proctor/exams/{exam_id}/paper-results", f"/proctor/exams/{exam_id}/reconciliation",
            "/writer/items", f"/writer/items/{staff_seeded['item']}", "/writer/upload",
            f"/writer/uploads/{staff_seeded['item_set']}",
            "/writer/review", "/writer/cues", "/writer/coverage",
            "/reports/calibration", f"/reports/calibration/{staff_seeded['run']}",
            "/reports/blueprints", "/reports/blueprints/530046-L1",
            f"/reports/items/{staff_seeded['pretest'][0]}",
            f"/reports/fairness/{exam_id}", f"/reports/fairness/{exam_id}/report",
            f"/reports/fairness/{staff_seeded['cal_exam']}?group=性别&focal=女&reference=男",
        ]
        for path in pages:
            check(path)
            if path.endswith("/paper-results"):
                assert page.locator("#paper-results tbody tr.flagged").count() == 1
            if path.endswith("/reconciliation"):
                assert page.locator("#reconciliation tbody tr.flagged").count() == 1
            if path.startswith("/reports/items/"):
                assert page.locator("#icc-data table, #information-data table").count() == 2
            if path == "/reports/blueprints/530046-L1":
                assert page.locator("#pool-information-data tbody tr").count() >= 9
            if "focal" in path:
                assert page.locator("#dif-chart[role=img]").count() == 1  # the DIF chart was drawn and checked
        # an upload report with errors (a bad requirement, an empty stem)
        page.goto(f"{bank_server}/writer/upload")
        page.set_input_files("input[name=file]", files=[{"name": "有错.xlsx", "mimeType": "application/octet-stream",
                                                          "buffer": bad_upload(sample_drafts)}])
        page.click("main button[type=submit]")
        page.wait_for_selector("#problems")
        check("")
        # a message after an action (an item's comment), and the monitor on a phone
        page.goto(f"{bank_server}/writer/items/{staff_seeded['item']}")
        page.fill("#comment textarea, #comment input[name=text]", "无障碍检查")
        page.click("#comment button[type=submit]")
        page.wait_for_load_state()
        assert "意见已记入变更记录" in page.inner_text("main")
        check("")
        page.set_viewport_size({"width": 390, "height": 800})
        check(f"/proctor/exams/{exam_id}")  # a table wider than the phone scrolls: the scroller takes the focus
        check("/proctor")
        check("/reports/blueprints/530046-L1")
        # a proctor's navigation differs: the exam list and the blueprint reports
        page.set_viewport_size({"width": 1200, "height": 900})
        context.clear_cookies()
        ensure_staff(bank_db_url, "无障碍监考", "proctor")
        page.goto(f"{bank_server}/login?next=/proctor")
        page.fill("input[name=username]", "无障碍监考")
        page.fill("input[name=password]", STAFF_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/proctor")
        check("")
        check("/reports/blueprints")
        # the check can fail: a button without a name is found
        page.evaluate("document.querySelector('main').append(document.createElement('button'))")
        assert any("button-name" in v for v in axe_violations(page))
    finally:
        context.close()
    assert len(seen) == 31
    assert found == {}, "\n".join(f"{p}:\n  " + "\n  ".join(v) for p, v in found.items())
