"""The JSON item-set reader (issue #26): a value of the wrong JSON type anywhere is a problem
naming the item (its number and id), the field and the JSON path, in Chinese; it never raises.
(Through the API and the CLI: tests/items/test_json_item_set_types.py.)"""

from __future__ import annotations

import base64
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examengine.itemfiles.json_format import read_json, write_json
from examengine.itemfiles.reader import parse_upload

CODE = "530046-L1-1.1.1"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def good(ident: str = "V-1", **changes) -> dict:
    node = {"id": ident, "type": "单选", "stem": "题干（　）", "options": ["甲", "乙", "丙", "丁"], "key": "B",
            "requirements": [CODE], "difficulty": 2,
            "irt": {"model": "3PL", "a": 1.0, "b": 0.0, "c": 0.2, "origin": "provisional"}}
    node.update(changes)
    return node


def read(*items, **top) -> tuple:
    data = json.dumps({"format": "examengine.itemset/1", **top, "items": list(items)}, ensure_ascii=False).encode()
    return read_json(data, "题目.json")


def where(parsed) -> list[tuple[str, str]]:
    return [(p.location, p.field) for p in parsed.problems]


ENGLISH = re.compile(r"Input should|valid (string|list|integer|number|dictionary)|Field required")

# (the item's field and its malformed value, the field named, words the message holds)
MALFORMED = [
    ({"requirements": 5}, "职业技能要求", ["requirements", "实际为整数 5"]),
    ({"requirements": [CODE, 3]}, "职业技能要求", ["requirements[2]", "实际为整数 3"]),
    ({"requirements": {"code": CODE}}, "职业技能要求", ["requirements", "实际为对象"]),
    ({"images": 5}, "图片", ["images", "实际为整数 5"]),
    ({"images": [5]}, "图片", ["images[1]", "对象"]),
    ({"images": [{"name": "a.png", "data_base64": 3}]}, "图片", ["images[1].data_base64", "base64"]),
    ({"images": [{"name": "a.png", "data_base64": "不是base64"}]}, "图片", ["images[1].data_base64", "base64"]),
    ({"images": [{"data_base64": "AAAA"}]}, "图片", ["缺少 images[1].name"]),
    ({"images": [{"name": "a.png", "media_type": 1, "data_base64": "AAAA"}]}, "图片类型", ["images[1].media_type"]),
    ({"options": "abc"}, "选项", ["options", "实际为文本“abc”"]),
    ({"options": ["甲", None, "丙", "丁"]}, "选项B", ["options[2]", "实际为 null"]),
    ({"options": ["甲", "乙", "丙", ["丁"]]}, "选项D", ["options[4]", "列表"]),
    ({"key": {}}, "答案", ["key", "实际为对象"]),
    ({"key": [1]}, "答案", ["key[1]", "实际为整数 1"]),
    ({"stem": 3}, "题干", ["stem", "应为文本", "实际为整数 3"]),
    ({"stem": ["题干"]}, "题干", ["stem", "列表（1 项）"]),
    ({"explanation": True}, "解析", ["explanation", "布尔值 true"]),
    ({"author": 1.5}, "作者", ["author", "数字 1.5"]),
    ({"source": []}, "来源", ["source"]),
    ({"enemy_group": 7}, "互斥组", ["enemy_group"]),
    ({"difficulty": "2"}, "难度", ["difficulty", "1–5 的整数", "文本“2”"]),
    ({"difficulty": True}, "难度", ["difficulty", "布尔值"]),
    ({"difficulty": 2.5}, "难度", ["difficulty", "数字 2.5"]),
    ({"difficulty": -1}, "难度", ["difficulty", "1–5 的整数", "整数 -1"]),
    ({"difficulty": 10 ** 400}, "难度", ["difficulty", "很大的整数"]),
    ({"irt": 5}, "irt", ["irt", "model"]),
    ({"irt": {"a": 1.0}}, "难度b", ["缺少 irt.b"]),
    ({"irt": {"a": "1.0", "b": 0}}, "区分度a", ["irt.a", "应为数字"]),
    ({"irt": {"a": 10 ** 400, "b": 0}}, "区分度a", ["irt.a", "超出数值范围"]),
    ({"irt": {"a": 1.0, "b": 0, "c": None}}, "猜测度c", ["irt.c"]),
    ({"irt": {"model": "4PL", "a": 1.0, "b": 0}}, "irt", ["irt.model", "4PL"]),
    ({"irt": {"model": 3, "a": 1.0, "b": 0}}, "irt", ["irt.model", "1PL、2PL 或 3PL"]),
    ({"irt": {"a": 1.0, "b": 0, "origin": 5}}, "irt", ["irt.origin"]),
    ({"type": 5}, "题型", ["type", "单选、多选 或 判断", "整数 5"]),
    ({"type": "选择"}, "题型", ["题型应为 单选、多选 或 判断", "选择"]),
]


@pytest.mark.parametrize("changes,field,words", MALFORMED, ids=[str(c) for c, _, _ in MALFORMED])
def test_a_value_of_the_wrong_type_is_one_problem_naming_the_item_the_field_and_the_path(changes, field, words):
    parsed = read(good("V-0"), good("V-1", **changes))
    assert where(parsed) == [("第 2 题（V-1）", field)]  # nothing about the first item; no follow-on problems
    (p,) = parsed.problems
    assert all(w in p.message for w in words), p.message
    assert not ENGLISH.search(p.message), p.message  # pydantic's own text never shows


def test_a_valid_item_set_reads_as_before():
    parsed = read(good("V-1", requirements=CODE, key=["B"], images=[
        {"name": "a.png", "media_type": "image/png", "data_base64": base64.b64encode(PNG).decode()}],
        stem="看图[图片:a.png]"), good("V-2", type="判断", key="错误", options=None, irt=None, difficulty=None),
        title="标题", author="作者甲")
    assert parsed.problems == ()
    one, two = parsed.items
    assert (one.requirements, one.key, one.images[0].data, one.author, one.location) == (
        (CODE,), (1,), PNG, "作者甲", "第 1 题（V-1）")
    assert (one.irt.model.value, one.irt.a, one.irt.c) == ("3PL", 1.0, 0.2)
    assert (two.options, two.key, two.irt, two.difficulty) == (("正确", "错误"), (1,), None, None)
    assert read_json(write_json(parsed.items, title="标题"), "x.json").items == parsed.items


def test_an_item_without_an_id_is_named_by_its_number_and_an_id_of_the_wrong_type_is_reported():
    parsed = read(good("V-1"), good(None), good(7))
    assert where(parsed) == [("第 2 题", "题目编号"), ("第 3 题", "题目编号")]
    assert parsed.problems[0].message == "题目编号不能为空"
    assert "实际为整数 7" in parsed.problems[1].message


def test_every_malformed_field_of_one_item_is_reported_at_once():
    parsed = read(good("V-1", requirements=5, images=5, options="abc", key={}, stem=3))
    assert sorted(where(parsed)) == sorted([("第 1 题（V-1）", f) for f in ("职业技能要求", "图片", "选项", "答案", "题干")])


def test_the_checks_that_do_not_depend_on_a_malformed_field_still_run():
    parsed = read(good("V-1", requirements=5, options=["甲", "乙", "丙", "丙"]))
    assert where(parsed) == [("第 1 题（V-1）", "职业技能要求"), ("第 1 题（V-1）", "选项")]
    assert parsed.problems[1].message == "有内容相同的选项"


@pytest.mark.parametrize("doc,message", [
    ([], "实际为列表（0 项）"),
    ([{"items": []}], "实际为列表（1 项）"),
    ("items", "实际为文本“items”"),
    (5, "实际为整数 5"),
    (None, "实际为 null"),
    ({}, "缺少 items"),
    ({"items": 5}, "items 实际为整数 5"),
    ({"items": {"V-1": {}}}, "items 实际为对象"),
])
def test_a_document_that_is_not_an_object_with_an_items_list_is_one_problem(doc, message):
    parsed = read_json(json.dumps(doc).encode(), "题目.json")
    (p,) = parsed.problems
    assert (p.location, p.field) == ("", "items") and p.message.startswith("文件应为一个对象，并包含 items 列表")
    assert message in p.message and not parsed.items


def test_a_malformed_document_field_is_named_and_the_items_are_still_read():
    parsed = read(good("V-1"), title=5, author=["甲"], source=None, format=1)
    assert where(parsed) == [("", "format"), ("", "标题"), ("", "作者")]
    assert [it.external_id for it in parsed.items] == ["V-1"]


def test_an_item_that_is_not_an_object_is_named_by_its_number():
    parsed = read(good("V-1"), "V-2", [good("V-3")])
    assert where(parsed) == [("第 2 题", ""), ("第 3 题", "")]
    assert "每道题应为一个对象，实际为文本“V-2”" == parsed.problems[0].message


def test_a_long_id_and_a_long_wrong_value_are_shown_cut():
    parsed = read(good("X" * 5000, stem="长" * 5000, options="选" * 5000))
    p = next(p for p in parsed.problems if p.field == "选项")
    assert p.location == "第 1 题（" + "X" * 64 + "…）"
    assert len(p.message) < 200


# -- fuzzing: any JSON value in any field ---------------------------------------------------

FIELDS = ["id", "type", "stem", "options", "key", "explanation", "requirements", "difficulty", "author", "source",
          "enemy_group", "irt", "images"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["name", "data_base64", "media_type", "model", "a", "b", "c", "x"]), inner, max_size=4),
    max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4),
       st.sampled_from([{}, {"type": "判断", "options": None, "key": "正确"}]))
def test_any_json_value_in_any_field_is_read_or_named_never_raised(changes, variant):
    node = {**good("F-1"), **variant, **changes}
    parsed = parse_upload("题目.json", json.dumps({"items": [node]}).encode())
    for p in parsed.problems:
        assert p.location.startswith("第 1 题") or p.location == "", p
        assert p.message and not ENGLISH.search(p.message), p
    if not parsed.problems:  # a clean read took every field as given
        (d,) = parsed.items
        assert d.external_id == node["id"].strip()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values | st.dictionaries(st.sampled_from(["items", "title", "author", "source", "format"]),
                                     json_values | st.lists(json_values, max_size=3), max_size=4))
def test_any_json_document_is_read_or_named_never_raised(doc):
    parsed = parse_upload("题目.json", json.dumps(doc).encode())
    assert parsed.problems or parsed.items is not None
    assert all(p.message and not ENGLISH.search(p.message) for p in parsed.problems)
