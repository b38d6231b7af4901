"""Scanned sheets through the JSON API, and who may touch them: the proctor of the exam."""

from __future__ import annotations

from sqlalchemy import func, select

from examengine.config import Settings
from examengine.db.scan_models import ScannedSheet
from examengine.exam.marks import MarkFlag
from tests.conftest import REPO, staff_client
from tests.scans.conftest import fake_file, key_letters, page_spec, qr_for


def test_upload_review_resolve_through_the_api(bank_db_url, bank_db, printed_exam, fake_reader):
    a = printed_exam.form("A")
    c = printed_exam.candidates[0]
    single = next(it.position for it in a.items if it.type == "单选")
    letters = key_letters(a)
    read = list(letters)
    read[single - 1] = "BC"
    data = fake_file(page_spec(qr_for(bank_db, 1, c, a), read, flags={single: [MarkFlag.DOUBLE]}))
    client = staff_client(Settings(database_url=bank_db_url, data_dir=REPO))
    try:
        r = client.post("/api/v1/exams/1/scans", files=[("files", ("扫描.pdf", data, "application/pdf"))])
        assert r.status_code == 200, r.text
        assert r.json()["applied"] is False and r.json()["pages"][0]["outcome"] == "new"
        assert bank_db.scalar(select(func.count()).select_from(ScannedSheet)) == 0
        r = client.post("/api/v1/exams/1/scans", files=[("files", ("扫描.pdf", data, "application/pdf"))],
                        data={"apply": "true"})
        page = r.json()["pages"][0]
        assert (page["status"], page["review"]) == ("review", [single])
        queue = client.get("/api/v1/exams/1/scans/review").json()
        assert [(q["sheet_id"], q["position"], q["letters"], q["flags"]) for q in queue] == [
            (page["sheet_id"], single, "BC", ["多涂"])]
        png = client.get(f"/api/v1/scans/{page['sheet_id']}/positions/{single}.png")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG")
        bad = client.put(f"/api/v1/scans/{page['sheet_id']}/positions/{single}", json={"letters": "BC"})
        assert bad.status_code == 422 and "单选题只能选一个选项" in bad.text
        ok = client.put(f"/api/v1/scans/{page['sheet_id']}/positions/{single}", json={"letters": letters[single - 1]})
        assert ok.status_code == 200, ok.text
        assert ok.json()["scored"]["raw_score"] == len(letters) and ok.json()["sheet"]["status"] == "scored"
        view = client.get("/api/v1/exams/1/scans").json()
        assert view["counts"]["scored"] == 1 and view["open_positions"] == 0
        assert c.ticket not in {m["ticket"] for m in view["listings"]["missing"]}
        results = client.get("/api/v1/exams/1/paper-results").json()
        assert [(x["ticket"], x["raw_score"]) for x in results] == [(c.ticket, len(letters))]
        assert client.delete(f"/api/v1/scans/{page['sheet_id']}", params={"reason": "重扫"}).status_code == 200
        assert client.get("/api/v1/exams/1/paper-results").json() == []
    finally:
        client.__exit__(None, None, None)


def test_a_proctor_cannot_upload_or_resolve_sheets_of_an_exam_not_theirs(bank_db_url, bank_db, printed_exam,
                                                                          fake_reader):
    a = printed_exam.form("A")
    c = printed_exam.candidates[0]
    data = fake_file(page_spec(qr_for(bank_db, 1, c, a), key_letters(a), flags={1: [MarkFlag.FAINT]}))
    settings = Settings(database_url=bank_db_url, data_dir=REPO)
    admin = staff_client(settings)
    other = staff_client(settings, "p-other", "proctor")
    try:
        sheet = admin.post("/api/v1/exams/1/scans", files=[("files", ("s.pdf", data))],
                           data={"apply": "true"}).json()["pages"][0]["sheet_id"]
        assert other.post("/api/v1/exams/1/scans", files=[("files", ("s.pdf", data))]).status_code == 403
        assert other.get("/api/v1/exams/1/scans/review").status_code == 403
        assert other.put(f"/api/v1/scans/{sheet}/positions/1", json={"letters": "A"}).status_code == 403
        assert other.get(f"/api/v1/scans/{sheet}/positions/1.png").status_code == 403
        assert other.delete(f"/api/v1/scans/{sheet}").status_code == 403
        assert admin.get("/api/v1/scans/999/positions/1.png").status_code == 404
    finally:
        admin.__exit__(None, None, None)
        other.__exit__(None, None, None)
