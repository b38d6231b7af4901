"""The catalog data files cross-checked against the published standards in ../shared/standards/.

The source documents are parsed here (tests/standards_source.py, which applies no
corrections); the data files are read by the product's own reader. Every text must equal
the printed one, or be listed as a correction whose `original` is the printed text.
"""

from __future__ import annotations

import os
import re

import pytest

from examengine.datafiles import read_standards_dir
from tests.conftest import REPO
from tests.standards_source import read_all, standards_dir

if not standards_dir().is_dir() and os.environ.get("CI"):
    raise RuntimeError(f"CI runs with ../shared beside the checkout, but {standards_dir()} is missing")
pytestmark = pytest.mark.skipif(
    not standards_dir().is_dir(), reason="../shared/standards/ is not beside the checkout"
)

EXPECTED_REQUIREMENTS = {
    "530046": {"L1": 51, "L2": 50, "L3": 53},
    "560003": {"L1": 46, "L2": 63, "L3": 50},
}
# Latin letters that belong in the Chinese text: model and method names.
ALLOWED_LATIN = {"PEST", "SWOT", "AARRR", "AISAS", "5W2H", "App", "OTA"}


@pytest.fixture(scope="module")
def catalog():
    return {s.code: s for s in read_standards_dir(REPO / "blueprints" / "standards")}


@pytest.fixture(scope="module")
def source():
    return read_all()


def walk(std):
    for lv in std.levels:
        for d in lv.domains:
            for t in d.tasks:
                for r in t.requirements:
                    yield lv, d, t, r


def test_the_catalog_has_the_published_counts(catalog):
    assert sorted(catalog) == ["530046", "560003"]
    levels = [lv for s in catalog.values() for lv in s.levels]
    domains = [d for lv in levels for d in lv.domains]
    tasks = [t for d in domains for t in d.tasks]
    requirements = [r for t in tasks for r in t.requirements]
    assert (len(levels), len(domains), len(tasks), len(requirements)) == (6, 22, 67, 313)
    for code, per_level in EXPECTED_REQUIREMENTS.items():
        got = {lv.level: sum(len(t.requirements) for d in lv.domains for t in d.tasks) for lv in catalog[code].levels}
        assert got == per_level


def test_the_source_reader_finds_the_same_counts(source):
    for code, per_level in EXPECTED_REQUIREMENTS.items():
        got = {lv.code: sum(len(t.requirements) for d in lv.domains for t in d.tasks) for lv in source[code].levels}
        assert got == per_level


def test_domain_and_task_names_equal_the_source(catalog, source):
    for code, std in catalog.items():
        src = source[code]
        assert std.name == src.name
        for lv, slv in zip(std.levels, src.levels, strict=True):
            assert (lv.level, lv.name) == (slv.code, slv.name)
            for d, sd in zip(lv.domains, slv.domains, strict=True):
                assert (d.number, d.name) == (sd.number, sd.name), d.code
                assert d.code == f"{code}-{lv.level}-{sd.number}"
                for t, st in zip(d.tasks, sd.tasks, strict=True):
                    assert (t.number, t.name) == (st.number, st.name), t.code
                    assert t.code == f"{code}-{lv.level}-{st.number}"


def test_every_requirement_text_is_the_printed_one_or_a_listed_correction(catalog, source):
    for code, std in catalog.items():
        corrections = {(c.code, c.field): c for c in std.corrections}
        used = set()
        src_levels = {lv.code: lv for lv in source[code].levels}
        for lv, d, t, r in walk(std):
            src_task = next(st for sd in src_levels[lv.level].domains for st in sd.tasks if st.number == t.number)
            index = [rr.code for rr in t.requirements].index(r.code)
            printed_number, printed_text = src_task.requirements[index]
            assert r.code == f"{code}-{lv.level}-{r.number}"
            if printed_text == r.text:
                assert (r.code, "text") not in corrections, f"{r.code}: listed as corrected but equals the source"
            else:
                c = corrections.get((r.code, "text"))
                assert c is not None, f"{r.code}: differs from the source and no correction is listed"
                assert (c.original, c.corrected) == (printed_text, r.text)
                used.add((r.code, "text"))
            if printed_number != r.number:
                c = corrections.get((r.code, "number"))
                assert c is not None, f"{r.code}: printed as {printed_number}, no correction listed"
                assert (c.original, c.corrected) == (printed_number, r.number)
                used.add((r.code, "number"))
        assert set(corrections) == used, f"corrections that match nothing in the source: {set(corrections) - used}"


def test_no_english_word_is_left_in_the_catalog_text(catalog):
    for std in catalog.values():
        texts = [(d.code, d.name) for lv in std.levels for d in lv.domains]
        texts += [(t.code, t.name) for lv in std.levels for d in lv.domains for t in d.tasks]
        texts += [(r.code, r.text) for *_, r in walk(std)]
        for code, text in texts:
            words = set(re.findall(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*", text))
            assert words <= ALLOWED_LATIN, f"{code}: {words - ALLOWED_LATIN} in {text}"
            assert ", " not in text and not text.endswith("；"), code


def test_the_known_slips_are_corrected(catalog):
    by_code = {r.code: r for std in catalog.values() for *_, r in walk(std)}
    corrections = {(c.code, c.field): c for std in catalog.values() for c in std.corrections}
    # 530046 高级 task 4.3: the fourth requirement is printed as a second "4.3.2".
    assert by_code["530046-L3-4.3.4"].text == "能根据运营目标，对客户服务进行数据化管理和考核。"
    assert corrections[("530046-L3-4.3.4", "number")].original == "4.3.2"
    assert by_code["530046-L3-4.3.2"].text == "能掌握动态评分的管理方法和技巧。"
    # English words where Chinese belongs.
    assert by_code["530046-L1-4.3.4"].text == "能在他人指导下完成活动总结和复盘，撰写活动运营报告。"
    assert by_code["530046-L3-2.1.3"].text == "掌握移动端应用程序的基本设计规则和内容优化方法。"
    assert "and" in corrections[("560003-L2-4.1.3", "text")].original
    kinds = {c.kind for c in corrections.values()}
    assert {"english_word", "number"} <= kinds
    english = sorted(c.code for c in corrections.values() if c.kind == "english_word")
    assert english == ["530046-L1-4.3.4", "530046-L3-2.1.3", "530046-L3-4.2.2", "530046-L3-4.2.3",
                       "560003-L2-4.1.3", "560003-L2-4.2.3"]


def test_requirements_split_over_a_page_break_are_joined(catalog):
    by_code = {r.code: r for std in catalog.values() for *_, r in walk(std)}
    assert by_code["560003-L2-2.1.2"].text.endswith("进行人员分工和任务分配。")
    assert by_code["560003-L3-3.1.2"].text == "能评估内容效果、活动效果、用户运营效果，梳理效果支撑数据，发现异常，分析原因，总结经验，提出优化建议。"
