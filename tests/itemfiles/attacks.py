"""Hostile upload files, built by hand (no spreadsheet library), as an attacker would send them.
Shared by the tests and ``benchmarks/upload_bounds.py``."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '</Types>')
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/></Relationships>')


def _col(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def sheet_xml(rows: list[list[str]], *, dimension: str | None = None, row_numbers: list[int] | None = None) -> str:
    """A worksheet of inline strings; ``dimension`` is declared as given (a lie, if you like)."""
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">']
    if dimension:
        out.append(f'<dimension ref="{dimension}"/>')
    out.append("<sheetData>")
    for k, row in enumerate(rows):
        r = row_numbers[k] if row_numbers else k + 1
        cells = "".join(f'<c r="{_col(j)}{r}" t="inlineStr"><is><t>{escape(v)}</t></is></c>'
                        for j, v in enumerate(row, start=1) if v != "")
        out.append(f'<row r="{r}">{cells}</row>')
    out.append("</sheetData></worksheet>")
    return "".join(out)


def xlsx(rows: list[list[str]], *, dimension: str | None = None, row_numbers: list[int] | None = None,
         extra: dict[str, bytes] | None = None, sheet: str | None = None) -> bytes:
    """A minimal XLSX package (deflated) holding one sheet."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        z.writestr("xl/worksheets/sheet1.xml",
                   sheet if sheet is not None else sheet_xml(rows, dimension=dimension, row_numbers=row_numbers))
        for name, body in (extra or {}).items():
            z.writestr(name, body)
    return buf.getvalue()


ROSTER = [["准考证号", "姓名", "身份证号后四位", "考场"], ["T0001", "考生一", "1234", "第一考场"],
          ["T0002", "考生二", "5678", "第一考场"]]


def declared_dimension_bomb(rows: int = 1_048_576) -> bytes:
    """The issue's attack: a 1.5 KB roster whose sheet declares ``A1:XFD<rows>``."""
    return xlsx(ROSTER, dimension=f"A1:XFD{rows}")


def far_row_bomb(row: int = 1_048_576) -> bytes:
    """No declared dimension, but one cell far down: openpyxl fills every row in between."""
    return xlsx(ROSTER + [["T9999", "末行"]], row_numbers=[1, 2, 3, row])


def deflate_bomb(megabytes: int = 200) -> bytes:
    """A worksheet part that inflates to ``megabytes`` MB of white space inside a valid sheet
    (written in chunks: building it costs no memory)."""
    head, tail = sheet_xml(ROSTER).split("<sheetData>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write((head + "<sheetData>").encode())
            chunk = b" " * (1024 * 1024)
            for _ in range(megabytes):
                fh.write(chunk)
            fh.write(tail.encode())
    return buf.getvalue()
