"""What an upload may be and hold, checked before a parser allocates (docs/security-uploads.md).

Every uploaded table (item sets, rosters, paper answers) is read through ``tables``; JSON
item sets through ``json_format``; QTI packages through ``qti``. Each reader enforces the
bounds below and reports a breach as a ``Problem`` naming the file, row and column.
"""

from __future__ import annotations

import re

# -- tables (CSV and XLSX)
MAX_ROWS = 20_000  # rows of one sheet or CSV file, header and blank rows included
MAX_COLUMNS = 100
MAX_FIELD_CHARS = 32_767  # one cell; Excel's own limit, so every item can be exported to XLSX
MAX_CSV_BYTES = 8 * 1024 * 1024

# -- XLSX packages, from the zip's central directory, before openpyxl reads anything
MAX_XLSX_ENTRIES = 500
MAX_XLSX_SHEET_BYTES = 16 * 1024 * 1024  # decompressed: one worksheet or the shared strings
MAX_XLSX_PART_BYTES = 2 * 1024 * 1024  # decompressed: any other part (styles, workbook, ...)
MAX_XLSX_TOTAL_BYTES = 32 * 1024 * 1024  # decompressed: all entries together

# -- nesting
MAX_JSON_DEPTH = 20  # an item set needs 5: document > items > item > images > image
MAX_XML_DEPTH = 100  # a QTI item needs about 15

# Characters no stored text may hold: C0 controls except tab, LF and CR (XML 1.0 forbids
# them, PostgreSQL refuses NUL), DEL and C1 controls, lone surrogates (not encodable in UTF-8)
# and the non-characters U+FFFE/U+FFFF.
ILLEGAL_TEXT_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def illegal_char(text: str) -> str | None:
    """The first character of ``text`` that no stored text may hold, as ``U+XXXX``, or None."""
    m = ILLEGAL_TEXT_RE.search(text)
    return None if m is None else f"U+{ord(m.group()):04X}"


def clean_filename(name: str, length: int = 255) -> str:
    """An uploaded file's name as it is stored and shown: illegal characters dropped, at most
    ``length`` characters (the end kept, so the extension survives)."""
    name = ILLEGAL_TEXT_RE.sub("", name or "").strip()
    return name[-length:] if len(name) > length else name
