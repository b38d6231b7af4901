"""Issue 18, separation of duties: writers create drafts only, status moves through review by
someone else, and IRT parameters change only by ``calibration apply``."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from examengine.app import create_app
from examengine.config import Settings
from examengine.exam.items import IrtData, IrtModel
from examengine.itemfiles.tables import write_xlsx
from examengine.itemfiles.writer import export_bytes
from tests.conftest import REPO, STAFF_PASSWORD, ensure_staff

FORGED = IrtData(IrtModel.THREE_PL, 2.9, -3.5, 0.0, "calibration 999")


def _client(app, url: str, username: str, role: str) -> TestClient:
    ensure_staff(url, username, role)
    c = TestClient(app, headers={"origin": "http://testserver"})
    c.__enter__()
    token = c.post("/api/v1/sessions", json={"username": username, "password": STAFF_PASSWORD}).json()["token"]
    c.headers["Authorization"] = f"Bearer {token}"
    return c


@pytest.fixture
def staff(settings):
    app = create_app(settings)
    clients = {role: _client(app, settings.database_url, f"{role}-1", role)
               for role in ("item_writer", "reviewer", "admin")}
    clients["reviewer-2"] = _client(app, settings.database_url, "reviewer-2", "reviewer")
    yield clients
    for c in clients.values():
        c.__exit__(None, None, None)


def _upload(c: TestClient, drafts, **form):
    return c.post("/api/v1/item-sets", files={"file": ("s.xlsx", write_xlsx(drafts))}, data=form)


@pytest.mark.parametrize("status", ["pretest", "operational", "review"])
def test_a_writer_cannot_upload_past_draft(staff, sample_drafts, status):
    r = _upload(staff["item_writer"], sample_drafts[:2], status=status)
    assert r.status_code == 403 and "status" in r.json()["message"]
    assert staff["admin"].get("/api/v1/items").json()["total"] == 0
    assert _upload(staff["item_writer"], sample_drafts[:2], status="draft").status_code == 200
    assert _upload(staff["reviewer"], sample_drafts[2:3], status=status).status_code == 403


def test_an_admin_may_still_import_at_a_status(staff, sample_drafts):
    r = _upload(staff["admin"], sample_drafts[:1], status="operational")
    assert r.status_code == 200 and r.json()["status_for_new"] == "operational"


def test_status_moves_through_review_by_someone_else(staff, sample_drafts):
    writer, reviewer, other, admin = staff["item_writer"], staff["reviewer"], staff["reviewer-2"], staff["admin"]
    assert _upload(writer, sample_drafts[:1]).status_code == 200
    ext = sample_drafts[0].external_id

    def move(c, to):
        return c.post(f"/api/v1/items/{ext}/transitions", json={"to": to})

    assert move(writer, "review").status_code == 200
    r = move(writer, "pretest")
    assert r.status_code == 403 and "审" in r.json()["message"]
    assert move(reviewer, "pretest").status_code == 200
    assert move(writer, "operational").status_code == 403
    assert move(other, "operational").status_code == 200
    assert move(writer, "retired").status_code == 403
    assert move(admin, "retired").status_code == 200
    steps = [(e["actor"], e["detail"]["to"]) for e in admin.get(f"/api/v1/items/{ext}").json()["events"]
             if e["action"] == "status"]
    assert steps == [("item_writer-1", "review"), ("reviewer-1", "pretest"), ("reviewer-2", "operational"),
                     ("admin-1", "retired")]


def test_nobody_approves_an_item_they_wrote_or_submitted(staff, sample_drafts):
    reviewer, other, admin = staff["reviewer"], staff["reviewer-2"], staff["admin"]
    # a reviewer's own upload
    assert _upload(reviewer, sample_drafts[:1]).status_code == 200
    ext = sample_drafts[0].external_id
    assert reviewer.post(f"/api/v1/items/{ext}/transitions", json={"to": "review"}).status_code == 200
    r = reviewer.post(f"/api/v1/items/{ext}/transitions", json={"to": "pretest"})
    assert r.status_code == 403 and "自己" in r.json()["message"]
    # an admin's own upload, and an item an admin submitted to review
    assert _upload(admin, sample_drafts[1:2]).status_code == 200
    ext2 = sample_drafts[1].external_id
    assert admin.post(f"/api/v1/items/{ext2}/transitions", json={"to": "review"}).status_code == 200
    assert admin.post(f"/api/v1/items/{ext2}/transitions", json={"to": "pretest"}).status_code == 403
    assert _upload(staff["item_writer"], sample_drafts[2:3]).status_code == 200
    ext3 = sample_drafts[2].external_id
    assert other.post(f"/api/v1/items/{ext3}/transitions", json={"to": "review"}).status_code == 200
    assert other.post(f"/api/v1/items/{ext3}/transitions", json={"to": "pretest"}).status_code == 403
    assert reviewer.post(f"/api/v1/items/{ext3}/transitions", json={"to": "pretest"}).status_code == 200
    # the writer page shows the same refusal
    assert _upload(staff["item_writer"], sample_drafts[3:4]).status_code == 200
    ext4 = sample_drafts[3].external_id
    assert other.post(f"/writer/items/{ext4}/transition", data={"to": "review"}).status_code == 200
    page = other.post(f"/writer/items/{ext4}/transition", data={"to": "pretest"})
    assert page.status_code == 403 and "自己" in page.text


def _irt(c: TestClient, ext: str) -> dict:
    return c.get(f"/api/v1/items/{ext}").json()["versions"][-1]["irt"]


def test_a_reupload_with_an_irt_block_never_changes_an_existing_items_parameters(bank_db_url, sample_drafts):
    app = create_app(Settings(database_url=bank_db_url, data_dir=REPO))
    writer = _client(app, bank_db_url, "w-irt", "item_writer")
    admin = _client(app, bank_db_url, "a-irt", "admin")
    try:
        d = sample_drafts[0]
        before = _irt(admin, d.external_id)
        forged = export_bytes([dataclasses.replace(d, irt=FORGED)], "json")
        for c in (writer, admin):
            r = c.post("/api/v1/item-sets", files={"file": ("forged.json", forged)})
            assert r.status_code == 200, r.text
            assert any(w["field"] == "irt" and "calibration apply" in w["message"] for w in r.json()["warnings"])
            assert _irt(admin, d.external_id) == before
        # a writer cannot change an operational item's content (a new key would skip review) ...
        changed = export_bytes([dataclasses.replace(d, stem=d.stem + "（修订）", key=(1,), irt=FORGED)], "json")
        r = writer.post("/api/v1/item-sets", files={"file": ("changed.json", changed)})
        assert r.status_code == 422
        assert any(p["field"] == "题目编号" and d.external_id in p["message"] for p in r.json()["problems"])
        assert admin.get(f"/api/v1/items/{d.external_id}").json()["current_version"] == 1
        # ... and an admin's new version does not take the file's parameters either
        r = admin.post("/api/v1/item-sets", files={"file": ("changed.json", changed)})
        assert r.status_code == 200 and r.json()["new_versions"] == 1
        assert _irt(admin, d.external_id)["origin"] == "provisional"
    finally:
        writer.__exit__(None, None, None)
        admin.__exit__(None, None, None)


def test_a_writers_new_items_get_provisional_parameters_an_admins_keep_the_files(settings, sample_drafts):
    app = create_app(settings)
    writer = _client(app, settings.database_url, "w-new", "item_writer")
    admin = _client(app, settings.database_url, "a-new", "admin")
    try:
        a, b = sample_drafts[0], sample_drafts[1]
        r = writer.post("/api/v1/item-sets", files={"file": ("n.json", export_bytes(
            [dataclasses.replace(a, irt=FORGED)], "json"))})
        assert r.status_code == 200 and any(w["field"] == "irt" for w in r.json()["warnings"])
        assert _irt(admin, a.external_id)["origin"] == "provisional"
        r = admin.post("/api/v1/item-sets", files={"file": ("n.json", export_bytes(
            [dataclasses.replace(b, irt=FORGED)], "json"))})
        assert r.status_code == 200
        assert _irt(admin, b.external_id) == {"model": "3PL", "a": 2.9, "b": -3.5, "c": 0.0,
                                              "origin": "calibration 999"}
    finally:
        writer.__exit__(None, None, None)
        admin.__exit__(None, None, None)


def test_parameters_and_the_bulk_export_reach_admins_only(bank_db_url):
    app = create_app(Settings(database_url=bank_db_url, data_dir=REPO))
    clients = {role: _client(app, bank_db_url, f"{role}-x", role) for role in ("item_writer", "reviewer", "admin")}
    try:
        ext = "530046-L1-001"
        for role, c in clients.items():
            detail = c.get(f"/api/v1/items/{ext}").json()
            assert (detail["versions"][0]["irt"] is not None) == (role == "admin"), role
            assert detail["versions"][0]["key"], role  # writers and reviewers work with keys
            page = c.get(f"/writer/items/{ext}").text
            assert ("IRT 参数" in page) == (role == "admin"), role
            r = c.get("/api/v1/items/export", params={"format": "json", "code": "530046-L1"})
            assert r.status_code == (200 if role == "admin" else 403), role
        # a writer is offered only the moves they may make
        assert clients["item_writer"].get(f"/api/v1/items/{ext}").json()["allowed_transitions"] == []
        assert clients["reviewer"].get(f"/api/v1/items/{ext}").json()["allowed_transitions"] == ["retired"]
    finally:
        for c in clients.values():
            c.__exit__(None, None, None)
