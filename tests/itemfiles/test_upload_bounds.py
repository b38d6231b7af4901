"""Every parser is bounded before it allocates: declared sheet size, rows, columns, field
length, decompressed bytes, nesting depth and characters no stored text may hold. Each attack
is refused with a named problem (DataFileError / ParsedUpload.problems), never a crash."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from examengine.errors import DataFileError
from examengine.itemfiles import bounds
from examengine.itemfiles.reader import parse_upload
from examengine.itemfiles.tables import read_table
from tests.itemfiles import attacks


def refused(filename: str, data: bytes) -> list:
    with pytest.raises(DataFileError) as info:
        read_table(filename, data)
    return info.value.problems


def test_an_xlsx_declaring_a_million_rows_is_refused_by_its_declaration():
    data = attacks.declared_dimension_bomb(1_048_576)
    assert len(data) < 2000
    (p,) = refused("名单.xlsx", data)
    assert "A1:XFD1048576" in p.message and str(bounds.MAX_ROWS) in p.message


def test_an_honest_small_xlsx_is_read_whatever_it_declares_within_bounds():
    rows = read_table("名单.xlsx", attacks.xlsx(attacks.ROSTER, dimension="A1:D3"))
    assert rows == attacks.ROSTER


def test_a_cell_far_below_the_last_allowed_row_is_refused_without_filling_the_gap():
    (p,) = refused("名单.xlsx", attacks.far_row_bomb(1_048_576))
    assert p.location == f"第 {bounds.MAX_ROWS + 1} 行"


def test_a_cell_beyond_the_last_allowed_column_is_refused():
    wide = [["准考证号", "姓名"] + [""] * (bounds.MAX_COLUMNS - 2) + ["多余"]]
    (p,) = refused("名单.xlsx", attacks.xlsx(wide))
    assert "列" in p.message and p.location == "第 1 行"


def test_a_deflate_bomb_is_refused_from_the_zip_directory_before_it_is_inflated():
    (p,) = refused("名单.xlsx", attacks.deflate_bomb(200))
    assert "xl/worksheets/sheet1.xml" in p.message


def test_a_zip_of_many_entries_is_refused():
    extra = {f"xl/media/{i}.bin": b"" for i in range(bounds.MAX_XLSX_ENTRIES)}
    (p,) = refused("名单.xlsx", attacks.xlsx(attacks.ROSTER, extra=extra))
    assert str(bounds.MAX_XLSX_ENTRIES) in p.message


def test_a_csv_field_over_128_kb_is_a_named_problem_not_a_crash():
    data = ("准考证号,姓名\nT1," + "长" * 140_000 + "\n").encode()
    (p,) = refused("名单.csv", data)
    assert p.location == "第 2 行" and str(bounds.MAX_FIELD_CHARS) in p.message


def test_an_xlsx_cell_over_the_field_limit_names_its_row_and_column():
    rows = attacks.ROSTER + [["T3", "长" * (bounds.MAX_FIELD_CHARS + 1)]]
    (p,) = refused("名单.xlsx", attacks.xlsx(rows))
    assert (p.location, p.field) == ("第 4 行", "第 2 列")


def test_a_csv_of_too_many_rows_is_refused():
    data = ("准考证号,姓名\n" + "".join(f"T{i},某\n" for i in range(bounds.MAX_ROWS + 5))).encode()
    (p,) = refused("名单.csv", data)
    assert p.location == f"第 {bounds.MAX_ROWS + 1} 行"


def test_a_csv_over_the_byte_limit_is_refused_before_decoding():
    (p,) = refused("名单.csv", b"a," * (bounds.MAX_CSV_BYTES // 2 + 1))
    assert "MB" in p.message


def test_a_c1_control_character_in_an_xlsx_cell_is_refused():
    rows = attacks.ROSTER + [["T3", "考生\x9b"]]  # legal in XML 1.0, not in a stored text
    (p,) = refused("名单.xlsx", attacks.xlsx(rows))
    assert (p.location, p.field) == ("第 4 行", "第 2 列") and "U+" in p.message


def test_a_nul_in_a_csv_is_refused_with_its_row():
    (p,) = refused("名单.csv", "准考证号,姓名\nT1,a\x00b\n".encode())
    assert (p.location, p.field) == ("第 2 行", "第 2 列")


def test_the_item_set_readers_report_table_bounds_as_problems():
    parsed = parse_upload("题目.xlsx", attacks.declared_dimension_bomb(1_048_576))
    assert not parsed.items and "A1:XFD1048576" in parsed.problems[0].message
    parsed = parse_upload("题目.csv", ("题目编号,题型\nX," + "长" * 140_000 + "\n").encode())
    assert not parsed.items and parsed.problems[0].location == "第 2 行"


def test_deeply_nested_json_is_a_named_problem():
    data = ('{"items": [' + "[" * 100_000 + "]" * 100_000 + "]}").encode()
    parsed = parse_upload("题目.json", data)
    assert not parsed.items and "嵌套" in parsed.problems[0].message


def test_json_nesting_within_the_bound_but_beyond_the_format_is_refused():
    deep = "[" * (bounds.MAX_JSON_DEPTH + 1) + "]" * (bounds.MAX_JSON_DEPTH + 1)
    parsed = parse_upload("题目.json", ('{"items": [], "x": ' + deep + "}").encode())
    assert "嵌套" in parsed.problems[0].message


def test_a_lone_surrogate_in_json_is_refused_without_echoing_it():
    doc = {"items": [{"id": "X-1", "type": "单选", "stem": "题\ud800干"}]}
    data = json.dumps(doc).encode()  # ensure_ascii: the surrogate travels as \\ud800
    parsed = parse_upload("题目.json", data)
    (p,) = parsed.problems
    assert "U+D800" in p.message and (p.location, p.field) == ("第 1 题（X-1）", "题干") and "stem" in p.message
    json.dumps(p.message, ensure_ascii=False).encode("utf-8")  # the 422 can be written


def test_an_integer_of_ten_thousand_digits_in_json_is_a_problem():
    parsed = parse_upload("题目.json", ('{"items": [{"difficulty": ' + "9" * 10_000 + "}]}").encode())
    assert parsed.problems and not parsed.items


def qti_package(body: bytes) -> bytes:
    manifest = (b'<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"><resources>'
                b'<resource identifier="r1" type="imsqti_item_xmlv2p1" href="i.xml"><file href="i.xml"/>'
                b"</resource></resources></manifest>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("imsmanifest.xml", manifest)
        z.writestr("i.xml", body)
    return buf.getvalue()


def test_deeply_nested_xml_in_a_qti_package_is_refused():
    body = b"<assessmentItem>" + b"<div>" * 50_000 + b"</div>" * 50_000 + b"</assessmentItem>"
    parsed = parse_upload("包.zip", qti_package(body))
    assert not parsed.items and any("嵌套" in p.message for p in parsed.problems)


def test_an_xml_of_a_million_tiny_elements_is_refused_as_it_is_parsed():
    body = b"<assessmentItem>" + b"<b/>" * 1_000_000 + b"</assessmentItem>"
    parsed = parse_upload("包.zip", qti_package(body))
    assert any(str(bounds.MAX_XML_ELEMENTS) in p.message for p in parsed.problems)


def many_entries(n: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", attacks.CONTENT_TYPES)
        for i in range(n):
            z.writestr(f"x/{i}", b"")
    return buf.getvalue()


@pytest.mark.parametrize("filename", ["名单.xlsx", "包.zip"])
def test_a_zip_directory_of_too_many_entries_is_refused_before_zipfile_parses_it(filename, monkeypatch):
    data = many_entries(20_000)

    def no_parse(*a, **k):
        raise AssertionError("zipfile parsed the directory")

    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", no_parse)
    if filename.endswith(".xlsx"):
        (p,) = refused(filename, data)
    else:
        (p,) = parse_upload(filename, data).problems
    assert "20001" in p.message


def test_a_zip_whose_record_understates_its_directory_is_refused():
    data = bytearray(many_entries(20_000))
    at = data.rfind(b"PK\x05\x06")
    data[at + 8:at + 12] = (3).to_bytes(2, "little") * 2  # claims 3 entries; the directory holds 20,001
    (p,) = refused("名单.xlsx", bytes(data))
    assert "目录" in p.message
