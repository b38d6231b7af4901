"""Staged uploads (upload -> report -> confirm) keep their bytes only while they may still be
applied: a rejected upload keeps its report and digest, not its bytes."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from examengine.db.models import ItemSet
from examengine.itemfiles.tables import write_csv
from examengine.services.items import confirm_upload, get_upload, stage_upload


def stage(db, data: bytes, name: str = "题目.csv"):
    return stage_upload(db, filename=name, data=data, actor="writer")


def test_a_rejected_upload_keeps_its_report_and_digest_but_not_its_bytes(db):
    data = ("题目编号,题型\nX," + "垃" * 30_000 + "\n").encode()
    staged = stage(db, data)
    row = db.get(ItemSet, staged.item_set_id)
    assert row.status == "rejected" and row.data == b""
    assert row.sha256 == hashlib.sha256(data).hexdigest()
    assert get_upload(db, staged.item_set_id).report["problems"]


def test_staging_purges_the_bytes_that_earlier_rejected_uploads_kept(db):
    db.add(ItemSet(filename="旧.csv", format="csv", sha256="0" * 64, data=b"x" * 1000, status="rejected",
                   uploaded_by="writer", report={"problems": []}))
    db.commit()
    stage(db, b"not,an,item\n")
    assert [r.data for r in db.scalars(select(ItemSet).where(ItemSet.status == "rejected"))] == [b"", b""]


def test_a_confirmed_upload_leaves_its_bytes_to_the_applied_item_set(db, sample_drafts):
    data = write_csv(sample_drafts[:3])
    staged = stage(db, data)
    assert db.get(ItemSet, staged.item_set_id).data == data  # pending: kept to be applied
    report = confirm_upload(db, staged.item_set_id, actor="writer")
    db.expire_all()
    assert db.get(ItemSet, staged.item_set_id).data == b""
    assert db.get(ItemSet, report.item_set_id).data == data


def test_a_stored_report_is_bounded_however_long_the_cells_it_quotes(db):
    data = ("题目编号,题型,题干,答案,职业技能要求代码\n" + "".join(
        f"X{i},{'怪' * 30_000},干,A,530046-L1-1.1.1\n" for i in range(50))).encode()
    staged = stage(db, data)
    problems = get_upload(db, staged.item_set_id).report["problems"]
    assert len(problems) == 50 and all(len(p["message"]) <= 501 for p in problems)
