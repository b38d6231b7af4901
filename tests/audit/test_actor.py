"""The audit log names the signed-in member as the actor of what the API and the proctor pages do."""

from __future__ import annotations

from fastapi.testclient import TestClient

from examengine.app import create_app
from examengine.config import Settings
from examengine.services import audit
from tests.conftest import REPO, STAFF_PASSWORD, ensure_staff, staff_client

ROSTER = "准考证号,姓名\nA1,甲\nA2,乙\n".encode()


def _actors(db, exam_id: int) -> dict[str, str]:
    db.expire_all()
    return {e.action: e.actor for e in audit.read(db, target=f"exam {exam_id}")}


def test_roster_import_and_release_through_the_api_are_recorded_under_the_proctor(bank_db_url, bank_db):
    with staff_client(Settings(database_url=bank_db_url, data_dir=REPO), "proc-api", "proctor") as c:
        exam = c.post("/api/v1/exams", json={"blueprint": "530046-L1", "results_policy": "release"}).json()["id"]
        assert c.post(f"/api/v1/exams/{exam}/roster", files={"file": ("r.csv", ROSTER)}).status_code == 200
        assert c.post(f"/api/v1/exams/{exam}/release").status_code == 200
    actors = _actors(bank_db, exam)
    assert {a: actors.get(a) for a in ("exam.create", "exam.roster", "exam.release")} == {
        "exam.create": "proc-api", "exam.roster": "proc-api", "exam.release": "proc-api"}


def test_roster_import_and_release_on_the_proctor_page_are_recorded_under_the_proctor(bank_db_url, bank_db):
    ensure_staff(bank_db_url, "proc-ui", "proctor")
    app = create_app(Settings(database_url=bank_db_url, data_dir=REPO))
    with TestClient(app, follow_redirects=False, headers={"origin": "http://testserver"}) as c:
        assert c.post("/login", data={"username": "proc-ui", "password": STAFF_PASSWORD}).status_code == 303
        r = c.post("/proctor/exams", data={"blueprint": "530046-L1", "results": "release"})
        assert r.status_code == 303
        exam = int(r.headers["location"].rsplit("/", 1)[1])
        r = c.post(f"/proctor/exams/{exam}/roster", files={"file": ("r.csv", ROSTER)})
        assert r.status_code == 303 and "新增 2 名" in c.get(r.headers["location"]).text
        assert c.post(f"/proctor/exams/{exam}/release", data={"confirm": "1"}).status_code == 303
    actors = _actors(bank_db, exam)
    assert {a: actors.get(a) for a in ("exam.create", "exam.roster", "exam.release")} == {
        "exam.create": "proc-ui", "exam.roster": "proc-ui", "exam.release": "proc-ui"}
