"""An item writer in a real browser: upload -> validation report -> confirm -> the items in the browser."""

from __future__ import annotations

import dataclasses

from examengine.itemfiles.tables import write_xlsx


def sign_in(page, base: str, url: str, next_path: str) -> None:
    from tests.conftest import STAFF_PASSWORD, ensure_staff

    ensure_staff(url, "李老师", "item_writer")
    page.goto(f"{base}{next_path}")
    assert "/login?next=" in page.url  # staff pages need a staff account
    page.fill("input[name=username]", "李老师")
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def new_items(sample_drafts, n=3):
    return [dataclasses.replace(d, external_id=f"WEB-{i:03d}") for i, d in enumerate(sample_drafts[:n], start=1)]


def test_upload_report_confirm_and_find_the_items(page, live_server, db_url, tmp_path, sample_drafts):
    items = new_items(sample_drafts)
    path = tmp_path / "新题.xlsx"
    path.write_bytes(write_xlsx(items))

    sign_in(page, live_server, db_url, "/writer/upload")
    page.set_input_files("input[name=file]", str(path))
    page.click("main button[type=submit]")
    page.wait_for_url("**/writer/uploads/*")
    assert "检查通过" in page.inner_text("[role=status]")
    assert page.inner_text("#total") == "3" and page.inner_text("#created") == "3"

    # Nothing is in the bank before confirming.
    page.goto(f"{live_server}/writer/items?q=WEB-")
    assert "共 0 道题" in page.inner_text("#count")
    page.go_back()
    page.click("#confirm")
    page.wait_for_selector("text=已导入题库")

    page.goto(f"{live_server}/writer/items")
    page.fill("input[name=q]", "WEB-")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/writer/items?*")
    assert "共 3 道题" in page.inner_text("#count")
    rows = page.locator("#items tbody tr")
    assert rows.count() == 3
    page.click("text=WEB-002")
    assert page.inner_text("#stem") == items[1].stem
    assert page.inner_text("#status") == "草稿"
    assert "李老师" in page.inner_text("#history")

    # The lifecycle from the item page.
    page.click("button[value=review]")
    assert page.inner_text("#status") == "审核中"


def test_a_bad_upload_shows_every_problem_and_writes_nothing(page, live_server, db_url, tmp_path, sample_drafts):
    items = new_items(sample_drafts)
    items[1] = dataclasses.replace(items[1], requirements=("530046-L1-7.7.7",))
    items[2] = dataclasses.replace(items[2], stem="")
    path = tmp_path / "有错.xlsx"
    path.write_bytes(write_xlsx(items))

    sign_in(page, live_server, db_url, "/writer/upload")
    page.set_input_files("input[name=file]", str(path))
    page.click("main button[type=submit]")
    page.wait_for_selector("#problems")
    assert "发现 2 处错误，未写入任何题目" in page.inner_text("[role=alert]")
    table = page.inner_text("#problems")
    assert "工作表“题目”第 3 行\t职业技能要求" in table and "530046-L1-7.7.7" in table
    assert "工作表“题目”第 4 行\t题干" in table
    assert page.locator("#confirm").count() == 0
    page.goto(f"{live_server}/writer/items?q=WEB-")
    assert "共 0 道题" in page.inner_text("#count")
