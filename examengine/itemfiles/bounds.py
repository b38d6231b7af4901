"""What an upload may be and hold, checked before a parser allocates (docs/security.md).

Every uploaded table (item sets, rosters, paper answers) is read through ``tables``; JSON
item sets through ``json_format``; QTI packages through ``qti``. Each reader enforces the
bounds below and reports a breach as a ``Problem`` naming the file, row and column.
"""

from __future__ import annotations

import re
import struct

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

# -- any zip (XLSX, QTI): the central directory is parsed whole by ``zipfile.ZipFile``, so its
# size is checked first, from the end-of-central-directory record
ZIP_DIRECTORY_BYTES_PER_ENTRY = 1024  # 46 bytes of header, a name, extra fields: generous

# -- nesting
MAX_JSON_DEPTH = 20  # an item set needs 5: document > items > item > images > image
MAX_XML_DEPTH = 100  # a QTI item needs about 15
# One XML document of a QTI package: the manifest of a 10,000-item package is about 22 MB and
# 500,000 elements (the sample bank's: 2.2 KB and 50 elements an item); a parsed element
# costs 100-200 bytes, so the tree stays within about 100 MB.
MAX_XML_BYTES = 32 * 1024 * 1024
MAX_XML_ELEMENTS = 500_000

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


_EOCD = struct.Struct("<4s4H2LH")


def zip_directory_problem(data: bytes, max_entries: int) -> str | None:
    """Why a zip's central directory is too big to parse (a message), or None: read from the
    end-of-central-directory record before ``zipfile`` allocates one object per entry. The
    record's entry count and directory size must both be within ``max_entries``; ZIP64
    archives are refused (no upload needs 65,535 entries or 4 GB)."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if at < 0 or at + _EOCD.size > len(data):
        return None  # not a zip (or a damaged one): zipfile says so
    _, _, _, _, entries, cd_size, _, _ = _EOCD.unpack_from(data, at)
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF:
        return "压缩包使用 ZIP64 格式（条目或体积超出普通 zip 的上限），已拒绝"
    if entries > max_entries or cd_size > max_entries * ZIP_DIRECTORY_BYTES_PER_ENTRY:
        return f"压缩包中的文件过多（{entries} 个条目、目录 {cd_size} 字节；上限 {max_entries} 个）"
    return None
