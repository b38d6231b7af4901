"""Import accepts only what every exporter and PostgreSQL can hold: no control characters,
picture names that are file names, lengths that fit the columns, finite bounded parameters.
Each is refused at the dry run already, as a 422 naming file, item and field."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
from sqlalchemy import func, select

from examengine.db.models import Item, ItemSet
from examengine.errors import DataFileError
from examengine.exam.items import IrtData, IrtModel, ItemImage
from examengine.itemfiles import ParsedUpload
from examengine.itemfiles.writer import EXPORT_FORMATS, export_bytes
from examengine.services.items import MAX_REPORTED_PROBLEMS, drafts_for_export, import_item_set

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def one(sample_drafts, **changes):
    d = next(d for d in sample_drafts if d.type.value == "单选")
    return dataclasses.replace(d, **{"external_id": "V-1", "location": "items[1]", **changes})


def refused(db, *drafts, title: str = "", dry_run: bool = True) -> list[tuple[str, str, str]]:
    parsed = ParsedUpload("题目.json", "json", tuple(drafts), title=title)
    with pytest.raises(DataFileError) as info:
        import_item_set(db, parsed, data=b"{}", actor="t", dry_run=dry_run)
    return [(p.file, p.location, p.field) for p in info.value.problems]


@pytest.mark.parametrize("field,changes", [
    ("题干", {"stem": "题干\x00含 NUL"}),
    ("选项B", {"options": ("甲", "乙\x0b", "丙", "丁")}),
    ("解析", {"explanation": "解析\x1b[31m"}),
    ("作者", {"author": "作者\x85"}),
    ("题干", {"stem": "孤立代理\ud800"}),
])
def test_a_control_character_is_refused_at_the_dry_run_naming_the_field(db, sample_drafts, field, changes):
    assert refused(db, one(sample_drafts, **changes)) == [("题目.json", "items[1]", field)]


@pytest.mark.parametrize("name", ["a/b.png", "..png", "..\\x.png", "a b.png", "x\x00.png", "[x].png", "."])
def test_a_picture_name_that_is_not_a_file_name_is_refused(db, sample_drafts, name):
    d = one(sample_drafts, stem="看图", images=(ItemImage(name, "image/png", PNG),))
    assert ("题目.json", "items[1]", "图片") in refused(db, d)


@pytest.mark.parametrize("field,changes", [
    ("题目编号", {"external_id": "X" * 65}),
    ("作者", {"author": "作" * 101}),
    ("来源", {"source": "源" * 201}),
    ("互斥组", {"enemy_group": "组" * 65}),
    ("题干", {"stem": "长" * 32_768}),
])
def test_a_value_longer_than_its_column_is_refused_at_the_dry_run(db, sample_drafts, field, changes):
    assert ("题目.json", "items[1]", field) in refused(db, one(sample_drafts, **changes))


def test_a_title_longer_than_its_column_is_refused(db, sample_drafts):
    assert refused(db, one(sample_drafts), title="题" * 301) == [("题目.json", "", "标题")]


@pytest.mark.parametrize("b", ["inf", "nan", "1e6"])
def test_a_difficulty_parameter_that_is_not_a_finite_bounded_number_is_refused(db, sample_drafts, b):
    from examengine.itemfiles.reader import parse_upload
    from examengine.itemfiles.tables import write_csv

    d = one(sample_drafts, irt=IrtData(IrtModel.THREE_PL, 1.0, 0.5, 0.2))
    data = write_csv([d]).replace(b",0.5,", f",{b},".encode())
    with pytest.raises(DataFileError) as info:
        import_item_set(db, parse_upload("题目.csv", data), data=data, actor="t", dry_run=True)
    assert [(p.location, p.field) for p in info.value.problems] == [("第 2 行", "难度b")]


def test_an_irt_origin_longer_than_its_column_is_refused(db, sample_drafts):
    d = one(sample_drafts, irt=IrtData(IrtModel.THREE_PL, 1.0, 0.0, 0.2, "o" * 65))
    assert ("题目.json", "items[1]", "irt") in refused(db, d)


def test_a_flood_of_problems_is_reported_up_to_a_bound(db, sample_drafts):
    d = one(sample_drafts, requirements=tuple(f"999999-L1-1.1.{i}" for i in range(5000)))
    problems = refused(db, d)
    assert len(problems) == MAX_REPORTED_PROBLEMS + 1


def test_what_the_import_accepts_every_exporter_writes(db, sample_drafts):
    d = one(sample_drafts, stem="制表\t与换行\n第二行 [图片:图 1-a.png]".replace(" [", "[").replace("图 1", "图1"),
            images=(ItemImage("图1-a.png", "image/png", PNG),), author="作" * 100)
    import_item_set(db, ParsedUpload("题目.json", "json", (d,)), data=b"{}", actor="t")
    drafts = drafts_for_export(db)
    for fmt in EXPORT_FORMATS:
        assert export_bytes(drafts, fmt)


def test_the_api_answers_a_nul_in_a_stem_with_a_422_naming_the_field(client):
    doc = {"items": [{"id": "V-1", "type": "判断", "stem": "含\u0000", "key": "正确",
                      "requirements": ["530046-L1-1.1.1"]}]}
    r = client.post("/api/v1/item-sets", files={"file": ("题目.json", json.dumps(doc).encode())},
                    data={"dry_run": "true"})
    assert r.status_code == 422
    assert r.json()["problems"][0]["message"].endswith("（U+0000）")


def test_the_api_answers_an_overlong_author_with_a_422_and_writes_nothing(client, db):
    doc = {"items": [{"id": "V-1", "type": "判断", "stem": "正常", "key": "正确", "author": "作" * 101,
                      "requirements": ["530046-L1-1.1.1"]}]}
    r = client.post("/api/v1/item-sets", files={"file": ("题目.json", json.dumps(doc).encode())})
    assert r.status_code == 422
    assert [(p["location"], p["field"]) for p in r.json()["problems"]] == [("第 1 题（V-1）", "作者")]
    assert db.scalar(select(func.count()).select_from(Item)) == 0
    assert db.scalar(select(func.count()).select_from(ItemSet)) == 0


def test_an_uploaded_files_name_is_cleaned_before_it_names_anything():
    from examengine.itemfiles.reader import parse_upload

    parsed = parse_upload("长" * 300 + "\x00.json", b"{}")
    assert len(parsed.file) == 255 and "\x00" not in parsed.file and parsed.file.endswith(".json")


def test_the_api_refuses_an_item_set_declaring_a_million_rows_with_a_422(client):
    from tests.itemfiles.attacks import declared_dimension_bomb

    r = client.post("/api/v1/item-sets", files={"file": ("题目.xlsx", declared_dimension_bomb())},
                    data={"dry_run": "true"})
    assert r.status_code == 422 and "A1:XFD1048576" in r.json()["problems"][0]["message"]


@pytest.mark.parametrize("fmt", ["qti3", "qti21", "xlsx"])
def test_an_item_stored_before_the_checks_makes_an_export_a_409_naming_it_not_a_500(sample_drafts, fmt):
    from examengine.errors import ConflictError

    d = one(sample_drafts, stem="旧数据\x00", images=(ItemImage("../x.png", "image/png", PNG),))
    with pytest.raises(ConflictError) as info:
        export_bytes([d], fmt)
    assert "V-1" in info.value.message
