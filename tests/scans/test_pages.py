"""The scans pages without a browser: a preview writes nothing and shows what would happen; a
letter a position cannot take is refused with the position named; only the exam's proctor
reaches the pages."""

from __future__ import annotations

from sqlalchemy import func, select

from examengine.config import Settings
from examengine.db.scan_models import ScannedSheet
from examengine.exam.marks import MarkFlag
from tests.conftest import REPO, staff_client
from tests.scans.conftest import fake_file, key_letters, page_spec, qr_for


def test_preview_then_save_then_a_bad_correction_is_refused_naming_the_position(bank_db_url, bank_db, printed_exam,
                                                                                fake_reader):
    a = printed_exam.form("A")
    c = printed_exam.candidates[0]
    single = next(it.position for it in a.items if it.type == "单选")
    read = key_letters(a)
    read[single - 1] = ""
    data = fake_file(page_spec(qr_for(bank_db, 1, c, a), read, flags={single: [MarkFlag.BLANK]}))
    client = staff_client(Settings(database_url=bank_db_url, data_dir=REPO))
    try:
        r = client.post("/proctor/exams/1/scans", files=[("files", ("s.pdf", data))], data={"preview": "1"})
        assert r.status_code == 200 and "预览结果（未保存）" in r.text and c.ticket in r.text
        assert bank_db.scalar(select(func.count()).select_from(ScannedSheet)) == 0
        r = client.post("/proctor/exams/1/scans", files=[("files", ("s.pdf", data))], follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/proctor/exams/1/scans"
        page = client.get("/proctor/exams/1/scans").text
        assert "新读入 1" in page and "1 处涂点待复核" in page and "复核 1 处涂点" in page
        review = client.get("/proctor/exams/1/scans/review").text
        sheet = bank_db.scalar(select(ScannedSheet.id))
        assert f'src="/proctor/scans/{sheet}/positions/{single}.png"' in review and "未涂" in review
        r = client.post(f"/proctor/scans/{sheet}/positions/{single}", data={"letters": "Q"})
        assert r.status_code == 200 and f"第 {single} 题未保存" in r.text and "不是本题选项" in r.text
        r = client.post(f"/proctor/scans/{sheet}/positions/{single}", data={"letters": ""})
        assert "确认 未作答" in r.text and "该答题卡已评分：答对 11/12" in r.text
    finally:
        client.__exit__(None, None, None)


def test_a_proctor_of_another_exam_reaches_none_of_the_scans_pages(bank_db_url, bank_db, printed_exam, fake_reader):
    a = printed_exam.form("A")
    data = fake_file(page_spec(qr_for(bank_db, 1, printed_exam.candidates[0], a), key_letters(a),
                               flags={1: [MarkFlag.FAINT]}))
    settings = Settings(database_url=bank_db_url, data_dir=REPO)
    admin, other = staff_client(settings), staff_client(settings, "p-other", "proctor")
    try:
        admin.post("/proctor/exams/1/scans", files=[("files", ("s.pdf", data))])
        sheet = bank_db.scalar(select(ScannedSheet.id))
        for r in (other.get("/proctor/exams/1/scans"), other.get("/proctor/exams/1/scans/review"),
                  other.post("/proctor/exams/1/scans", files=[("files", ("s.pdf", data))]),
                  other.post(f"/proctor/scans/{sheet}/positions/1", data={"letters": "A"}),
                  other.get(f"/proctor/scans/{sheet}/positions/1.png"),
                  other.post(f"/proctor/scans/{sheet}/delete", data={"confirm": "1"})):
            assert r.status_code == 403, r.request.url
        assert bank_db.scalar(select(func.count()).select_from(ScannedSheet)) == 1
    finally:
        admin.__exit__(None, None, None)
        other.__exit__(None, None, None)
