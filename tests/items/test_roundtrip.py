"""Exports re-import identically."""

from __future__ import annotations

import pytest

from examengine.itemfiles.reader import parse_upload
from examengine.itemfiles.writer import export_bytes
from examengine.services.items import drafts_for_export


def comparable(d):
    return (d.external_id, d.content(), d.author, d.source, d.enemy_group, d.irt)


@pytest.mark.parametrize("fmt,filename", [("xlsx", "x.xlsx"), ("csv", "x.csv"), ("json", "x.json"),
                                          ("qti3", "x.zip"), ("qti21", "x.zip")])
def test_an_export_reimports_to_identical_items(bank_db, fmt, filename):
    drafts = drafts_for_export(bank_db, code="530046-L2-2")
    assert len(drafts) > 20
    data = export_bytes(drafts, fmt)
    parsed = parse_upload(filename, data)
    assert parsed.problems == ()
    assert [comparable(d) for d in parsed.items] == [comparable(d) for d in drafts]


def test_reimporting_the_bank_export_changes_nothing(bank_db):
    from examengine.services.items import import_item_set

    drafts = drafts_for_export(bank_db, code="560003-L3")
    data = export_bytes(drafts, "xlsx")
    report = import_item_set(bank_db, parse_upload("bank.xlsx", data), data=data, actor="t")
    assert report.unchanged == len(drafts) and report.created == report.new_versions == report.updated == 0
