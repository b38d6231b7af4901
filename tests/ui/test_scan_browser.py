"""Scanned answer sheets in a real browser (issue 21): a proctor uploads a multi-page PDF of
scans (synthetic scans of the exam's own printed sheets, one with a double mark), resolves the
flagged row on the review page, with the row's image in front of them, and sees the scored
results; the scans and review pages have no axe violation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from examengine.db.models import Candidate
from examengine.services import forms as forms_svc
from tests.conftest import STAFF_PASSWORD, ensure_staff
from tests.scans.conftest import pdf_of, synthetic_scans
from tests.ui.test_accessibility import axe_violations

PROCTOR = "扫描验收"


@pytest.fixture
def scans_pdf(bank_db, bank_db_url, tmp_path):
    """Form A of two 12-item forms printed for the demo exam's roster; the first three sheets
    filled with the key and scanned, the second with a double mark on its first 单选."""
    asm = forms_svc.assemble(bank_db, blueprint="530046-L1", n_forms=2, length=12, actor="test", seed=3)
    a = asm.forms[0]
    path = tmp_path / "考场一扫描.pdf"
    path.write_bytes(pdf_of(synthetic_scans(bank_db, 1, a, [1, 2, 3], double={2})))
    tickets = list(bank_db.scalars(select(Candidate.ticket).where(Candidate.exam_id == 1).order_by(Candidate.ticket)))
    ensure_staff(bank_db_url, PROCTOR, "admin")
    doubled = next(it for it in a.items if it.type == "单选")
    return path, tickets[:3], doubled


def sign_in(page, base: str, path: str) -> None:
    page.goto(f"{base}/login?next={path}")
    page.fill("input[name=username]", PROCTOR)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{path}")


@pytest.mark.browser
def test_a_proctor_uploads_a_pdf_of_scans_resolves_the_flagged_row_and_sees_the_results(page, browser, bank_server,
                                                                                         scans_pdf):
    path, tickets, doubled = scans_pdf
    sign_in(page, bank_server, "/proctor/exams/1")
    page.get_by_role("link", name="答题卡扫描与复核").click()
    page.wait_for_url("**/proctor/exams/1/scans")
    page.get_by_label("扫描文件（可多选）").set_input_files(str(path))
    page.get_by_role("button", name="上传并读取").click()
    page.wait_for_url("**/proctor/exams/1/scans")
    message = page.locator("#message").inner_text()
    assert "新读入 3" in message and "已评分 2 名" in message and "1 处涂点待复核" in message, message
    assert page.locator("#sheets tbody tr").count() == 3
    assert page.locator("#results tbody tr").count() == 2
    page.get_by_role("link", name="复核 1 处涂点").click()
    page.wait_for_url("**/proctor/exams/1/scans/review")
    item = page.locator("section.review-item")
    assert item.count() == 1
    heading = item.locator("h2").inner_text()
    assert tickets[1] in heading and f"第 {doubled.position} 题" in heading
    assert "多涂" in item.inner_text()
    img = item.get_by_role("img")
    assert f"第 {doubled.position} 题" in img.get_attribute("alt")
    assert page.evaluate("img => img.complete && img.naturalWidth > 100", img.element_handle())  # the crop loaded
    axe_pages(browser, bank_server)
    box = item.get_by_label(f"{tickets[1]} 第 {doubled.position} 题的答案")
    assert len(box.input_value()) == 2  # the two letters read
    box.fill("".join(doubled.key))
    item.get_by_role("button", name="保存").click()
    page.wait_for_url("**/proctor/exams/1/scans/review")
    message = page.locator("#message").inner_text()
    assert f"更正为 {''.join(doubled.key)}" in message and "该答题卡已评分：答对 12/12" in message, message
    assert page.locator("#empty").inner_text() == "没有待复核的涂点。"
    page.get_by_role("link", name="返回答题卡扫描").click()
    rows = page.locator("#results tbody tr")
    assert rows.count() == 3
    assert [rows.nth(k).locator("td").first.inner_text() for k in range(3)] == tickets
    assert all("12/12" in rows.nth(k).inner_text() for k in range(3))
    assert "没有待复核的涂点" in page.locator("#counts").inner_text()


def axe_pages(browser, base: str) -> None:
    """axe-core (injected, so without the CSP) on the scans page and the review page with an open position."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900}, bypass_csp=True)
    try:
        page = context.new_page()
        sign_in(page, base, "/proctor/exams/1/scans")
        found = axe_violations(page)
        page.goto(f"{base}/proctor/exams/1/scans/review")
        found += axe_violations(page)
        assert not found, found
    finally:
        context.close()
