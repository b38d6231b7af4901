"""Item-set imports land exactly, or not at all, with every problem named by file, row and field."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from examengine.db.models import Item, ItemEvent, ItemSet, ItemVersion
from examengine.errors import DataFileError
from examengine.exam.items import ItemStatus, ItemType
from examengine.itemfiles.reader import parse_upload
from examengine.itemfiles.tables import write_csv, write_xlsx
from examengine.services.items import import_item_set


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def do_import(db, filename: str, data: bytes, **kw):
    return import_item_set(db, parse_upload(filename, data), data=data, actor="tester", **kw)


def problems(db, filename: str, data: bytes) -> list[tuple[str, str, str]]:
    with pytest.raises(DataFileError) as info:
        do_import(db, filename, data)
    return [(p.file, p.location, p.field) for p in info.value.problems]


def test_300_good_rows_import_in_one_transaction(db, sample_drafts):
    data = write_xlsx(sample_drafts[:300])
    report = do_import(db, "三百题.xlsx", data)
    assert (report.total, report.created) == (300, 300)
    assert count(db, Item) == 300 and count(db, ItemVersion) == 300
    assert count(db, ItemSet) == 1
    assert db.scalar(select(func.count(func.distinct(ItemVersion.item_set_id)))) == 1
    assert {s for (s,) in db.execute(select(Item.status))} == {"draft"}


def bad_row(drafts, row: int, **changes):
    """The 300 rows with row `row` (spreadsheet numbering: data starts at row 2) changed."""
    out = list(drafts[:300])
    out[row - 2] = dataclasses.replace(out[row - 2], **changes)
    return out


def test_an_unknown_requirement_code_rejects_the_whole_file(db, sample_drafts):
    data = write_xlsx(bad_row(sample_drafts, 17, requirements=("530046-L1-9.9.9",)))
    assert problems(db, "a.xlsx", data) == [("a.xlsx", "工作表“题目”第 17 行", "职业技能要求")]
    assert count(db, Item) == 0 and count(db, ItemSet) == 0


def test_a_key_not_among_the_options_is_named(db, sample_drafts):
    rows = [r for r in sample_drafts[:300] if r.type is ItemType.SINGLE]
    first_single = sample_drafts.index(rows[0]) + 2
    data = write_xlsx(sample_drafts[:300]).replace(b"", b"")  # unchanged workbook
    csv = write_csv(sample_drafts[:300]).decode("utf-8-sig").splitlines()
    fields = csv[first_single - 1].split(",")
    key_col = 1 + 1 + 1 + 6  # 题目编号, 题型, 题干, 选项A-F -> 答案 is the 10th column
    assert fields[key_col] in "ABCD"
    fields[key_col] = "F"
    csv[first_single - 1] = ",".join(fields)
    bad = ("\r\n".join(csv) + "\r\n").encode("utf-8")
    assert problems(db, "k.csv", bad) == [("k.csv", f"第 {first_single} 行", "答案")]
    assert count(db, Item) == 0
    assert do_import(db, "ok.xlsx", data).created == 300  # the same rows without the slip import


def test_a_missing_stem_a_duplicate_id_and_a_multiple_response_with_one_key_are_all_reported(db, sample_drafts):
    rows = list(sample_drafts[:300])
    multi = next(i for i, d in enumerate(rows) if d.type is ItemType.MULTIPLE)
    rows[4] = dataclasses.replace(rows[4], stem="")
    rows[9] = dataclasses.replace(rows[9], external_id=rows[8].external_id)
    rows[multi] = dataclasses.replace(rows[multi], key=(1,))
    found = problems(db, "b.xlsx", write_xlsx(rows))
    assert ("b.xlsx", "工作表“题目”第 6 行", "题干") in found
    assert ("b.xlsx", "工作表“题目”第 11 行", "题目编号") in found
    assert ("b.xlsx", f"工作表“题目”第 {multi + 2} 行", "答案") in found
    assert len(found) == 3
    assert count(db, Item) == 0


def test_csv_in_utf8_with_and_without_bom_and_in_gb18030_import_the_same(db, sample_drafts):
    text = write_csv(sample_drafts[:20]).decode("utf-8-sig")
    parsed = [parse_upload("x.csv", data).items
              for data in (text.encode("utf-8-sig"), text.encode("utf-8"), text.encode("gb18030"))]
    assert parsed[0] == parsed[1] == parsed[2]
    assert [d.content() for d in parsed[0]] == [d.content() for d in sample_drafts[:20]]


def test_an_unreadable_encoding_imports_nothing_and_says_why(db, sample_drafts):
    data = write_csv(sample_drafts[:5]).decode("utf-8-sig").encode("utf-16")
    [(file, location, field)] = problems(db, "u16.csv", data)
    assert file == "u16.csv"
    parsed = parse_upload("u16.csv", data)
    assert "编码" in parsed.problems[0].message
    assert count(db, Item) == 0


def test_a_dry_run_reports_and_writes_nothing(db, sample_drafts):
    report = do_import(db, "d.xlsx", write_xlsx(sample_drafts[:10]), dry_run=True)
    assert report.dry_run and report.created == 10 and report.item_set_id is None
    assert count(db, Item) == 0 and count(db, ItemSet) == 0


def test_reuploading_unchanged_items_changes_nothing(db, sample_drafts):
    data = write_xlsx(sample_drafts[:10])
    do_import(db, "r.xlsx", data)
    again = do_import(db, "r.xlsx", data)
    assert (again.created, again.new_versions, again.unchanged) == (0, 0, 10)
    assert count(db, ItemVersion) == 10 and count(db, ItemSet) == 1


def test_a_changed_item_gets_a_new_version_and_the_old_one_is_kept(db, sample_drafts):
    do_import(db, "v1.xlsx", write_xlsx(sample_drafts[:3]))
    changed = [dataclasses.replace(sample_drafts[0], stem=sample_drafts[0].stem + "（修订）"), *sample_drafts[1:3]]
    report = do_import(db, "v2.xlsx", write_xlsx(changed))
    assert (report.new_versions, report.unchanged) == (1, 2)
    item = db.scalars(select(Item).where(Item.external_id == sample_drafts[0].external_id)).one()
    assert item.current_version == 2
    assert [v.stem for v in item.versions] == [sample_drafts[0].stem, sample_drafts[0].stem + "（修订）"]
    actions = [e.action for e in db.scalars(select(ItemEvent).where(ItemEvent.item_id == item.id))]
    assert actions == ["created", "new_version"]


def test_near_duplicate_stems_are_warnings_not_errors(db, sample_drafts):
    a = sample_drafts[0]
    twin = dataclasses.replace(sample_drafts[1], stem=a.stem.replace("，", ",") + " ", external_id="TWIN-1")
    report = do_import(db, "w.xlsx", write_xlsx([a, twin]))
    assert report.created == 2
    assert any("几乎相同" in w.message and w.location.endswith("第 3 行") for w in report.warnings)


def test_items_without_codes_take_the_default_requirement_as_drafts(db, sample_drafts):
    rows = [dataclasses.replace(d, requirements=()) for d in sample_drafts[:2]]
    data = write_xlsx(rows)
    with pytest.raises(DataFileError):
        do_import(db, "n.xlsx", data)
    parsed = parse_upload("n.xlsx", data, default_requirements=("560003-L1-1.1.1",))
    report = import_item_set(db, parsed, data=data, actor="t")
    assert report.created == 2
    assert {s for (s,) in db.execute(select(Item.status))} == {ItemStatus.DRAFT.value}
