"""Item sets as tables: CSV (UTF-8 with or without BOM, or GB18030 as Excel on Chinese
Windows writes it) and XLSX, with Chinese column headers; the template item writers fill in.
Every other uploaded table is read here too, one reader per kind: rosters (``read_roster``),
paper answers (``read_paper_answers``) and response matrices (``read_response_matrix``).

Row numbers in messages are the spreadsheet's own (the header is row 1).
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from examengine.errors import DataFileError, Problem
from examengine.exam.forms import FORM_CODES
from examengine.exam.items import (
    LETTERS,
    TRUE_FALSE_OPTIONS,
    IrtData,
    IrtModel,
    ItemDraft,
    ItemType,
    check_item,
    parse_key,
)
from examengine.itemfiles import ParsedUpload
from examengine.itemfiles.bounds import (
    MAX_COLUMNS,
    MAX_CSV_BYTES,
    MAX_FIELD_CHARS,
    MAX_ROWS,
    MAX_XLSX_ENTRIES,
    MAX_XLSX_PART_BYTES,
    MAX_XLSX_SHEET_BYTES,
    MAX_XLSX_TOTAL_BYTES,
    illegal_char,
    zip_directory_problem,
)

OPTION_COLUMNS = tuple(f"选项{ch}" for ch in LETTERS)
COLUMNS: tuple[tuple[str, bool, str], ...] = (
    # (header, required, how to fill it in)
    ("题目编号", True, "每道题唯一的编号（字母、数字、短横线），如 530046-L1-001。再次上传同一编号：内容有变化则生成新版本，无变化则不做任何改动。"),
    ("题型", True, "单选、多选 或 判断。"),
    ("题干", True, "题目正文；可换行分段。引用图片写作 [图片:文件名.png]（图片须随 QTI 包上传）。"),
    *((col, False, f"{col[-1]} 项的内容。单选、多选题填 4–6 个选项（从 A 起连续填写）；判断题不填。") for col in OPTION_COLUMNS),
    ("答案", True, "单选填一个字母（如 B）；多选填全部正确选项的字母（如 ACD，至少两个）；判断填“正确”或“错误”。"),
    ("解析", False, "答案解析，供审核和复盘使用，不会显示给考生。"),
    ("职业技能要求代码", True, "题目考查的职业技能要求代码，如 530046-L1-1.2.3；多个代码用分号分隔。代码必须存在于标准目录中。"),
    ("难度", False, "命题人对难度的评级：1（很容易）到 5（很难）的整数。"),
    ("作者", False, "命题人。"),
    ("来源", False, "题目来源，如“原创”或教材名称。"),
    ("互斥组", False, "互相泄露答案、不能出现在同一场考试中的题目填写相同的组名。"),
    ("IRT模型", False, "已有参数时填写：1PL、2PL 或 3PL；不填则按级别和难度评级给出临时参数。"),
    ("区分度a", False, "IRT 区分度参数 a（大于 0）。"),
    ("难度b", False, "IRT 难度参数 b。"),
    ("猜测度c", False, "IRT 猜测参数 c（0 到 1 之间，3PL 使用）。"),
)
HEADERS = tuple(c[0] for c in COLUMNS)
REQUIRED = tuple(c[0] for c in COLUMNS if c[1] and c[0] != "职业技能要求代码")  # may come from --requirement
CODE_SPLIT_RE = re.compile(r"[;；,，、\s]+")


def _norm_header(text: object) -> str:
    t = unicodedata.normalize("NFKC", str(text or "")).strip()
    t = re.sub(r"\s+", "", t)
    aliases = {"编号": "题目编号", "题号": "题目编号", "类型": "题型", "正确答案": "答案", "答案解析": "解析",
               "技能要求代码": "职业技能要求代码", "要求代码": "职业技能要求代码", "难度评级": "难度",
               "a": "区分度a", "b": "难度b", "c": "猜测度c"}
    return aliases.get(t, t)


# A text cell beginning with one of these is run as a formula (or DDE command) by Excel,
# LibreOffice and Google Sheets when the file is opened (OWASP, "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: object) -> object:
    """A cell as every CSV export writes it: text that a spreadsheet would run as a formula gets
    a leading apostrophe (shown as text; the reader takes it off again); numbers and other text
    unchanged. XLSX exports write such text as a quote-prefixed string cell instead."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    if text[:1] == "'" and text[1:2] in FORMULA_TRIGGERS:  # a cell an export neutralised
        text = text[1:]
    return text.strip()


def decode_csv(data: bytes) -> tuple[str | None, str]:
    """Decode CSV bytes: UTF-8 (with or without BOM), else GB18030. Returns (text, encoding)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return None, ""


def read_csv(data: bytes, filename: str, *, default_requirements: tuple[str, ...] = ()) -> ParsedUpload:
    try:
        rows = _csv_rows(filename, data, sniff=True)
    except DataFileError as exc:
        return ParsedUpload(filename, "csv", (), tuple(exc.problems))
    return _read_rows(rows, filename, "csv", default_requirements=default_requirements)


def read_xlsx(data: bytes, filename: str, *, default_requirements: tuple[str, ...] = ()) -> ParsedUpload:
    try:
        title, rows = _xlsx_rows(filename, data, prefer_sheet="题目")
    except DataFileError as exc:
        return ParsedUpload(filename, "xlsx", (), tuple(exc.problems))
    return _read_rows(rows, filename, "xlsx", sheet=title, default_requirements=default_requirements)


# ---------------------------------------------------------------- bounded table reading


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def _csv_rows(filename: str, data: bytes, *, sniff: bool = False) -> list[list[str]]:
    """The rows of a CSV upload as text, within the bounds of ``itemfiles.bounds``; ``sniff``:
    guess the delimiter (comma, tab or semicolon) from the first 4 KB."""
    if len(data) > MAX_CSV_BYTES:
        raise DataFileError([Problem(filename, "", "", f"CSV 文件过大（{_mb(len(data))}，上限 {_mb(MAX_CSV_BYTES)}）")])
    text, _ = decode_csv(data)
    if text is None:
        raise DataFileError([Problem(filename, "", "", "无法识别文件编码：CSV 文件应为 UTF-8（可带 BOM）或 GB18030/GBK 编码")])
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel
    if sniff:
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
        except csv.Error:
            pass
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    rows: list[list[str]] = []
    while True:
        n = len(rows) + 1
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            message = (f"单元格内容过长（上限 {MAX_FIELD_CHARS} 个字符）" if "field limit" in str(exc)
                       else f"CSV 格式错误：{exc}")
            raise DataFileError([Problem(filename, f"第 {n} 行", "", message)]) from exc
        rows.append(_bounded_row(filename, n, raw))
    return rows


def _bounded_row(filename: str, n: int, raw: Sequence[object]) -> list[str]:
    """One row as stripped text, refused when it is past the last row or column allowed, has a
    cell over the field limit or a character no stored text may hold."""
    loc = f"第 {n} 行"
    if n > MAX_ROWS:
        raise DataFileError([Problem(filename, loc, "", f"表格超过 {MAX_ROWS} 行的上限（含表头和空行）")])
    cells = [_cell(v) for v in raw]
    while cells and not cells[-1]:
        cells.pop()
    if len(cells) > MAX_COLUMNS:
        raise DataFileError([Problem(filename, loc, f"第 {len(cells)} 列", f"表格超过 {MAX_COLUMNS} 列的上限")])
    for j, c in enumerate(cells, start=1):
        if len(c) > MAX_FIELD_CHARS:
            raise DataFileError([Problem(filename, loc, f"第 {j} 列",
                                         f"单元格内容过长（{len(c)} 个字符，上限 {MAX_FIELD_CHARS} 个字符）")])
        bad = illegal_char(c)
        if bad:
            raise DataFileError([Problem(filename, loc, f"第 {j} 列", f"单元格含有不允许的控制字符（{bad}）")])
    return cells


def _check_xlsx_package(filename: str, data: bytes) -> None:
    """Refuse an XLSX by its zip directory before anything is inflated: the number of entries
    and each entry's declared size (``zipfile`` never inflates past it: a lie is a CRC error)."""
    def refuse(message: str) -> None:
        raise DataFileError([Problem(filename, "", "", message)])

    too_big = zip_directory_problem(data, MAX_XLSX_ENTRIES)
    if too_big:
        refuse(too_big)
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise DataFileError([Problem(filename, "", "", f"无法读取 XLSX 文件：{exc}")]) from exc
    if len(infos) > MAX_XLSX_ENTRIES:
        refuse(f"XLSX 文件中的部件过多（{len(infos)} 个，上限 {MAX_XLSX_ENTRIES} 个）")
    total = 0
    for info in infos:
        name = info.filename
        big = name.startswith("xl/worksheets/") or name == "xl/sharedStrings.xml"
        limit = MAX_XLSX_SHEET_BYTES if big else MAX_XLSX_PART_BYTES
        if info.file_size > limit:
            refuse(f"XLSX 文件中的“{name}”解压后过大（{_mb(info.file_size)}，上限 {_mb(limit)}）")
        total += info.file_size
    if total > MAX_XLSX_TOTAL_BYTES:
        refuse(f"XLSX 文件解压后过大（{_mb(total)}，上限 {_mb(MAX_XLSX_TOTAL_BYTES)}）")


def _xlsx_rows(filename: str, data: bytes, *, prefer_sheet: str = "") -> tuple[str, list[list[str]]]:
    """The title and rows of a sheet (``prefer_sheet`` if present, else the first) as text.

    The package is checked first (``_check_xlsx_package``); the sheet's declared dimension must
    lie within ``MAX_ROWS`` x ``MAX_COLUMNS``; then the declaration is dropped (openpyxl would
    pad every row to it) and rows are streamed, each refused past the bounds."""
    from openpyxl import load_workbook  # a heavy import, only for XLSX uploads

    _check_xlsx_package(filename, data)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # openpyxl raises many kinds on a malformed package
        raise DataFileError([Problem(filename, "", "", f"无法读取 XLSX 文件：{exc}")]) from exc
    try:
        if not wb.worksheets:
            raise DataFileError([Problem(filename, "", "", "XLSX 文件中没有工作表")])
        ws = wb[prefer_sheet] if prefer_sheet and prefer_sheet in wb.sheetnames else wb.worksheets[0]
        if (ws.max_row or 0) > MAX_ROWS or (ws.max_column or 0) > MAX_COLUMNS:
            declared = f"A1:{ws.max_column}x{ws.max_row}"
            try:
                declared = ws.calculate_dimension()
            except ValueError:
                pass
            raise DataFileError([Problem(filename, f"工作表“{ws.title}”", "", (
                f"工作表声明的范围 {declared} 超过上限（{MAX_ROWS} 行 × {MAX_COLUMNS} 列）；"
                "请删除多余的行和列后重新保存"))])
        ws.reset_dimensions()
        rows: list[list[str]] = []
        try:
            for n, raw in enumerate(ws.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True), start=1):
                rows.append(_bounded_row(filename, n, raw))
        except DataFileError:
            raise
        except MemoryError:
            raise
        except Exception as exc:  # malformed sheet XML
            raise DataFileError([Problem(filename, f"第 {len(rows) + 1} 行", "", f"无法读取 XLSX 文件：{exc}")]) from exc
        return ws.title, rows
    finally:
        wb.close()


def _read_rows(rows: list[list], filename: str, fmt: str, sheet: str = "",
               default_requirements: tuple[str, ...] = ()) -> ParsedUpload:
    problems: list[Problem] = []
    warnings: list[Problem] = []
    prefix = f"工作表“{sheet}”" if sheet else ""

    def where(row: int) -> str:
        return f"{prefix}第 {row} 行"

    header_index = next((i for i, r in enumerate(rows) if any(_cell(c) for c in r)), None)
    if header_index is None:
        return ParsedUpload(filename, fmt, (), (Problem(filename, "", "", "文件中没有任何内容"),))
    headers = [_norm_header(h) for h in rows[header_index]]
    col = {h: i for i, h in enumerate(headers) if h}
    for h in REQUIRED:
        if h not in col:
            problems.append(Problem(filename, where(header_index + 1), h, f"缺少必填列“{h}”"))
    for h in headers:
        if h and h not in HEADERS:
            warnings.append(Problem(filename, where(header_index + 1), h, f"未知的列“{h}”，已忽略"))
    if problems:
        return ParsedUpload(filename, fmt, (), tuple(problems), warnings=tuple(warnings))

    items: list[ItemDraft] = []
    for i in range(header_index + 1, len(rows)):
        raw = rows[i]
        if not any(_cell(c) for c in raw):
            continue
        rownum = i + 1
        loc = where(rownum)

        def get(name: str, raw=raw) -> str:
            j = col.get(name)
            return _cell(raw[j]) if j is not None and j < len(raw) else ""

        def problem(field: str, message: str, loc=loc) -> None:
            problems.append(Problem(filename, loc, field, message))

        item_type = ItemType.parse(get("题型"))
        if item_type is None:
            problem("题型", f"题型应为 单选、多选 或 判断，实际为“{get('题型')}”")
            continue
        if item_type is ItemType.TRUE_FALSE:
            options = TRUE_FALSE_OPTIONS
            if any(get(c) for c in OPTION_COLUMNS):
                warnings.append(Problem(filename, loc, "选项", "判断题的选项固定为“正确”“错误”，已忽略所填选项"))
        else:
            values = [get(c) for c in OPTION_COLUMNS]
            last = max((k for k, v in enumerate(values) if v), default=-1)
            options = tuple(values[: last + 1])
            for k, v in enumerate(options):
                if not v:
                    problem(OPTION_COLUMNS[k], "选项应从 A 起连续填写，此处为空")
        key, err = parse_key(get("答案"), item_type, len(options))
        if err:
            problem("答案", err)
        difficulty = None
        if get("难度"):
            try:
                difficulty = int(get("难度"))
            except ValueError:
                problem("难度", f"难度评级应为 1–5 的整数，实际为“{get('难度')}”")
        irt = None
        if get("IRT模型") or get("区分度a") or get("难度b"):
            try:
                irt = IrtData(IrtModel(get("IRT模型") or "3PL"), float(get("区分度a") or "1"),
                              float(get("难度b")), float(get("猜测度c") or "0"))
            except ValueError:
                problem("IRT模型", "IRT 参数应为：模型 1PL/2PL/3PL，a、b、c 为数字")
        draft = ItemDraft(
            external_id=get("题目编号"), type=item_type, stem=get("题干").replace("\r\n", "\n"), options=options,
            key=key, explanation=get("解析"),
            requirements=tuple(c for c in CODE_SPLIT_RE.split(get("职业技能要求代码")) if c) or default_requirements,
            difficulty=difficulty, author=get("作者"), source=get("来源"), enemy_group=get("互斥组") or None,
            irt=irt, location=loc,
        )
        for p in check_item(draft):
            if p.field == "答案" and err:
                continue  # already reported
            problem(p.field, p.message)
        items.append(draft)
    if not items and not problems:
        problems.append(Problem(filename, "", "", "文件中没有题目（只有表头）"))
    return ParsedUpload(filename, fmt, tuple(items), tuple(problems), warnings=tuple(warnings))


def _row(item: ItemDraft) -> list[object]:
    opts = list(item.options) if item.type is not ItemType.TRUE_FALSE else []
    opts += [""] * (len(OPTION_COLUMNS) - len(opts))
    irt = item.irt
    return [
        item.external_id, item.type.value, item.stem, *opts, item.key_letters, item.explanation,
        "；".join(item.requirements), item.difficulty if item.difficulty is not None else "", item.author,
        item.source, item.enemy_group or "",
        irt.model.value if irt else "", irt.a if irt else "", irt.b if irt else "", irt.c if irt else "",
    ]


def write_csv(items: Iterable[ItemDraft] = ()) -> bytes:
    """UTF-8 with BOM, so that Excel on Chinese Windows opens it correctly."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(HEADERS)
    for it in items:
        w.writerow([spreadsheet_text(v) for v in _row(it)])
    return buf.getvalue().encode("utf-8-sig")


def write_xlsx(items: Sequence[ItemDraft] = (), *, with_instructions: bool = True) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = "题目"
    ws.append(list(HEADERS))
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="FFF2CC")
    for j, (name, required, _) in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=1, column=j)
        cell.font = bold
        if required:
            cell.fill = fill
        ws.column_dimensions[cell.column_letter].width = 40 if name in ("题干", "解析") else 16
    ws.freeze_panes = "A2"
    for it in items:
        ws.append(_row(it))
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            _as_text_cell(cell)
    types = DataValidation(type="list", formula1='"单选,多选,判断"', allow_blank=False)
    types.error = "题型应为 单选、多选 或 判断"
    difficulty = DataValidation(type="whole", operator="between", formula1="1", formula2="5", allow_blank=True)
    difficulty.error = "难度评级应为 1–5 的整数"
    ws.add_data_validation(types)
    ws.add_data_validation(difficulty)
    types.add(f"B2:B{max(1000, len(items) + 1)}")
    diff_col = ws.cell(row=1, column=HEADERS.index("难度") + 1).column_letter
    difficulty.add(f"{diff_col}2:{diff_col}{max(1000, len(items) + 1)}")
    if with_instructions:
        info = wb.create_sheet("填写说明")
        info.append(["列名", "是否必填", "填写说明"])
        for c in info[1]:
            c.font = bold
        for name, required, how in COLUMNS:
            info.append([name, "必填" if required else "选填", how])
        info.append([])
        info.append(["示例", "", "单选：题型=单选，选项A–D，答案=B；多选：答案=ACD；判断：答案=正确（不填选项）。"])
        info.append(["上传", "", "在“题库 → 上传题目”页面上传，或运行 examengine items import 文件名 --dry-run 先检查。任何一行有错误，整份文件都不会写入。"])
        info.column_dimensions["A"].width = 18
        info.column_dimensions["B"].width = 10
        info.column_dimensions["C"].width = 100
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _as_text_cell(cell) -> None:
    """A string is written as a string cell, never a formula (openpyxl makes one of any string
    beginning with "="); one a spreadsheet would run is quote-prefixed, so that editing the cell
    keeps it text."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
        if cell.value.startswith(FORMULA_TRIGGERS):
            cell.quotePrefix = True


def read_table(filename: str, data: bytes) -> list[list[str]]:
    """The non-empty rows of a CSV (UTF-8 or GB18030) or of an XLSX's first sheet, as stripped
    text (whole numbers that Excel stored as floats come back without ".0"), within the bounds
    of ``itemfiles.bounds``; a breach is a DataFileError naming the row and column."""
    if data[:2] == b"PK":
        _, rows = _xlsx_rows(filename, data)
    else:
        rows = _csv_rows(filename, data)
    return [r for r in rows if any(r)]


# ---------------------------------------------------------------- rosters

#: A roster's columns: header -> field of ``RosterRow``.
ROSTER_COLUMNS = {"准考证号": "ticket", "姓名": "name", "身份证号后四位": "id_last4", "考场": "room", "座位号": "seat"}


#: Group columns a roster may carry for fairness analyses (DIF): these headers, and any header
#: written "分组:名称" / "分组：名称" (stored as 名称). Any other extra column is ignored, as before.
GROUP_COLUMNS = ("性别", "年龄段", "地区", "院校类型")
GROUP_PREFIXES = ("分组:", "分组：")
MAX_GROUP_COLUMNS = 10
MAX_GROUP_NAME = 20
MAX_GROUP_VALUE = 50


#: Accommodation columns of a roster (issue 25): 延时 (extra time: "+50%" of the time limit, or
#: minutes: "30" / "30分钟"), 大字号 (large print) and 读屏 (a screen-reader user): 是/否 (or 1/0, Y/N, √).
EXTRA_TIME_COLUMN = "延时"
FLAG_COLUMNS = {"大字号": "large_print", "读屏": "reader"}
YES = ("是", "1", "Y", "YES", "√", "✓", "TRUE")
NO = ("", "否", "0", "N", "NO", "×", "FALSE")
MAX_EXTRA_PERCENT = 200
#: The roster's form column (issue 21): the code of the paper form the candidate sits (A, B, …),
#: used when forms are assigned "by column"; the same headers the paper answers accept.
ROSTER_FORM_COLUMNS = ("试卷", "试卷代码", "卷别")
MAX_EXTRA_MINUTES = 240


def parse_extra_time(text: str) -> tuple[int, int]:
    """A 延时 cell as (percent, minutes): "+50%" -> (50, 0), "30分钟" or "30" -> (0, 30), "" -> (0, 0).
    Raises ValueError with the message to show."""
    t = text.replace(" ", "").replace("＋", "+").replace("％", "%").lstrip("+")
    if not t or t in ("0", "否", "无"):
        return 0, 0
    if t.endswith("%"):
        n = t[:-1]
        if n.isdigit() and 1 <= int(n) <= MAX_EXTRA_PERCENT:
            return int(n), 0
        raise ValueError(f"延时百分比应为 1–{MAX_EXTRA_PERCENT}%，实际为“{text}”")
    for unit in ("分钟", "分", "min"):
        t = t.removesuffix(unit)
    if t.isdigit() and 1 <= int(t) <= MAX_EXTRA_MINUTES:
        return 0, int(t)
    raise ValueError(f"延时应写作百分比（如 +25%、+50%）或分钟数（如 30 或 30分钟，1–{MAX_EXTRA_MINUTES}），实际为“{text}”")


def parse_flag(text: str, column: str) -> bool:
    t = text.strip().upper()
    if t in YES:
        return True
    if t in NO:
        return False
    raise ValueError(f"{column}应填“是”或留空，实际为“{text}”")


@dataclass(frozen=True)
class RosterRow:
    """One roster row. ``groups``: the row's group values by group name (blank cells left out),
    e.g. {"性别": "女", "地区": "华东"}; visible to admins only and used only in analyses."""

    ticket: str
    name: str
    id_last4: str = ""
    room: str = ""
    seat: str = ""
    groups: Mapping[str, str] = field(default_factory=dict)
    # accommodations (延时, 大字号, 读屏); None: the file has no accommodation column (keep what is stored)
    extra_percent: int | None = None
    extra_minutes: int | None = None
    large_print: bool | None = None
    reader: bool | None = None
    # the 试卷 column's form code (upper case, "" for a blank cell); None: the file has no 试卷 column
    form: str | None = None


def roster_group_columns(header: list[str]) -> dict[str, int]:
    """Group name -> column index of a roster header (``GROUP_COLUMNS`` and "分组:名称")."""
    out: dict[str, int] = {}
    for i, h in enumerate(header):
        if h in GROUP_COLUMNS:
            out[h] = i
        elif h.startswith(GROUP_PREFIXES):
            out[h[len(GROUP_PREFIXES[0]):]] = i
    return out


def read_roster(filename: str, data: bytes, *, lengths: Mapping[str, int]) -> list[RosterRow]:
    """Roster rows from CSV (UTF-8 or GB18030) or XLSX; every problem names the row and field.
    Each value must fit its column: ``lengths`` maps a header of ``ROSTER_COLUMNS`` to the
    longest value it may hold (the database's column lengths; 身份证号后四位 is checked by shape).
    Group columns (``GROUP_COLUMNS``, "分组:名称") fill each row's ``groups``; a 试卷 column
    (``ROSTER_FORM_COLUMNS``) each row's ``form`` (a code of ``FORM_CODES`` or blank); other
    columns are ignored."""
    rows = read_table(filename, data)
    if not rows:
        raise DataFileError([Problem(filename, "", "", "名单为空")])
    header = [h.replace(" ", "") for h in rows[0]]
    problems = [Problem(filename, "第 1 行", col, f"缺少必填列“{col}”") for col in ("准考证号", "姓名") if col not in header]
    if problems:
        raise DataFileError(problems)
    idx = {ROSTER_COLUMNS[h]: i for i, h in enumerate(header) if h in ROSTER_COLUMNS}
    group_idx = roster_group_columns(header)
    acc_idx = {h: i for i, h in enumerate(header) if h == EXTRA_TIME_COLUMN or h in FLAG_COLUMNS}
    has_accommodations = bool(acc_idx)
    form_col = next((i for i, h in enumerate(header) if h in ROSTER_FORM_COLUMNS), None)
    for name in group_idx:
        if not name or len(name) > MAX_GROUP_NAME:
            problems.append(Problem(filename, "第 1 行", f"分组:{name}", f"分组名称应为 1–{MAX_GROUP_NAME} 个字符"))
    if len(group_idx) > MAX_GROUP_COLUMNS:
        problems.append(Problem(filename, "第 1 行", "分组", f"分组列最多 {MAX_GROUP_COLUMNS} 个，实际 {len(group_idx)} 个"))
    if problems:
        raise DataFileError(problems)
    out: list[RosterRow] = []
    seen: dict[str, int] = {}
    for n, r in enumerate(rows[1:], start=2):
        groups = {g: r[i] for g, i in group_idx.items() if i < len(r) and r[i]}
        rec = RosterRow(**{k: (r[i] if i < len(r) else "") for k, i in idx.items()}, groups=groups)
        loc = f"第 {n} 行"
        if has_accommodations:
            cell = {h: (r[i].strip() if i < len(r) else "") for h, i in acc_idx.items()}
            acc: dict = {"extra_percent": 0, "extra_minutes": 0, "large_print": False, "reader": False}
            try:
                acc["extra_percent"], acc["extra_minutes"] = parse_extra_time(cell.get(EXTRA_TIME_COLUMN, ""))
            except ValueError as exc:
                problems.append(Problem(filename, loc, EXTRA_TIME_COLUMN, str(exc)))
            for h, key in FLAG_COLUMNS.items():
                try:
                    acc[key] = parse_flag(cell.get(h, ""), h)
                except ValueError as exc:
                    problems.append(Problem(filename, loc, h, str(exc)))
            rec = replace(rec, **acc)
        if form_col is not None:
            code = (r[form_col] if form_col < len(r) else "").strip().upper()
            if code and code not in FORM_CODES:
                problems.append(Problem(filename, loc, header[form_col],
                                        f"试卷代码应为 {'、'.join(FORM_CODES)} 之一（或留空），实际为“{code}”"))
            rec = replace(rec, form=code)
        for g, value in groups.items():
            if len(value) > MAX_GROUP_VALUE:
                problems.append(Problem(filename, loc, g, f"{g}不能超过 {MAX_GROUP_VALUE} 个字符，实际为 {len(value)} 个"))
        for h, key in ROSTER_COLUMNS.items():
            value = getattr(rec, key)
            if len(value) > lengths[h] and key != "id_last4":
                problems.append(Problem(filename, loc, h, f"{h}不能超过 {lengths[h]} 个字符，实际为 {len(value)} 个"))
        if not rec.ticket:
            problems.append(Problem(filename, loc, "准考证号", "准考证号不能为空"))
        elif rec.ticket in seen:
            problems.append(Problem(filename, loc, "准考证号", f"准考证号 {rec.ticket} 与第 {seen[rec.ticket]} 行重复"))
        else:
            seen[rec.ticket] = n
        if not rec.name:
            problems.append(Problem(filename, loc, "姓名", "姓名不能为空"))
        last4 = rec.id_last4
        if last4 and not (len(last4) == 4 and (last4[:3].isdigit() and (last4[3].isdigit() or last4[3] in "xX"))):
            problems.append(Problem(filename, loc, "身份证号后四位", f"应为 4 位（末位可为 X），实际为“{last4}”"))
        out.append(rec)
    if problems:
        raise DataFileError(problems)
    return out


# ---------------------------------------------------------------- paper answers

TICKET_COLUMNS = ("准考证号", "ticket")
FORM_COLUMNS = ("试卷", "试卷代码", "卷别", "form")
ANSWER_COLUMNS = ("答案", "answers")


@dataclass(frozen=True)
class PaperAnswerRow:
    """One row of paper answers as written: ``answers`` is the 答案 cell ("A,BD,对,...") when
    the file has that column, else None and ``by_item`` holds the cells of the per-item
    columns (question number -> text)."""

    row: int  # the spreadsheet's own number (the header is row 1)
    ticket: str
    form: str  # upper case
    answers: str | None
    by_item: Mapping[int, str]

    @property
    def location(self) -> str:
        return f"第 {self.row} 行"

    def item_texts(self, length: int) -> list[str]:
        """The answers of questions 1..length from the per-item columns ("" where absent)."""
        return [self.by_item.get(k, "") for k in range(1, length + 1)]


def _question_number(header: str) -> str:
    return header.lstrip("第题Qq").rstrip("题")


def read_paper_answers(filename: str, data: bytes) -> list[PaperAnswerRow]:
    """Paper answers (CSV/XLSX: 准考证号, 试卷 (A/B), then one column per item or one 答案
    column "A,BD,对,..."): the header is checked (a DataFileError naming every missing column),
    the rows are returned as written; what they mean is the scorer's to check."""
    rows = read_table(filename, data)
    if not rows:
        raise DataFileError([Problem(filename, "", "", "文件为空")])
    header = [h.replace(" ", "") for h in rows[0]]
    col_ticket = next((i for i, h in enumerate(header) if h in TICKET_COLUMNS), None)
    col_form = next((i for i, h in enumerate(header) if h in FORM_COLUMNS), None)
    col_answers = next((i for i, h in enumerate(header) if h in ANSWER_COLUMNS), None)
    item_cols = {int(_question_number(h)): i for i, h in enumerate(header) if _question_number(h).isdigit()}
    problems = []
    if col_ticket is None:
        problems.append(Problem(filename, "第 1 行", "准考证号", "缺少必填列“准考证号”"))
    if col_form is None:
        problems.append(Problem(filename, "第 1 行", "试卷", "缺少必填列“试卷”（试卷代码 A/B）"))
    if col_answers is None and not item_cols:
        problems.append(Problem(filename, "第 1 行", "答案", "缺少答案：一列“答案”（如 A,BD,对）或每题一列（1, 2, 3 …）"))
    if problems:
        raise DataFileError(problems)
    out = []
    for n, r in enumerate(rows[1:], start=2):
        def cell(i: int | None, r: list[str] = r) -> str:
            return r[i].strip() if i is not None and i < len(r) else ""

        out.append(PaperAnswerRow(
            n, cell(col_ticket), cell(col_form).upper(),
            cell(col_answers) if col_answers is not None else None,
            {} if col_answers is not None else {k: cell(i) for k, i in item_cols.items()}))
    return out


# ---------------------------------------------------------------- response matrices


@dataclass(frozen=True)
class ResponseMatrix:
    """Persons x items, 0/1 with NaN for a missing response, and the items' ids (the header).
    ``columns``: the text columns asked for (``text_columns``), one value a person, by header."""

    item_ids: list[str]
    rows: list[list[float]]
    columns: Mapping[str, list[str]] = field(default_factory=dict)


def read_response_matrix(filename: str, data: bytes, *, text_columns: Sequence[str] = ()) -> ResponseMatrix:
    """A persons x items CSV (UTF-8 or GB18030, ``decode_csv``): the header row holds the item
    ids; cells 0/1, blank = missing; blank rows are skipped. The columns named in
    ``text_columns`` (a group, a person id) are not items: their cells are kept as text. Every
    bad cell is named by row and column. The table bounds of uploads (``MAX_ROWS``,
    ``MAX_COLUMNS``, ``MAX_CSV_BYTES``) do not apply: a matrix is a local file of the command
    line and may be larger than any upload."""
    decoded, _ = decode_csv(data)
    if decoded is None:
        raise DataFileError([Problem(filename, "文件", "编码", "无法以 UTF-8 或 GB18030 读取")])
    rows = list(csv.reader(io.StringIO(decoded)))
    if not rows or not any(h.strip() for h in rows[0]):
        raise DataFileError([Problem(filename, "第 1 行", "表头", "表头应为题目编号")])
    header = [h.strip() for h in rows[0]]
    problems: list[Problem] = [Problem(filename, "第 1 行", name, f"缺少列“{name}”")
                               for name in text_columns if name not in header]
    if problems:
        raise DataFileError(problems)
    text_at = {header.index(name): name for name in text_columns}
    item_at = [j for j in range(len(header)) if j not in text_at]
    if not item_at:
        raise DataFileError([Problem(filename, "第 1 行", "表头", "没有题目列")])
    seen: set[str] = set()
    for j, h in enumerate(header):
        if j in text_at:
            continue
        if not h:
            problems.append(Problem(filename, "第 1 行", f"第 {j + 1} 列", "题目编号为空"))
        elif h in seen:
            problems.append(Problem(filename, "第 1 行", f"第 {j + 1} 列", f"题目编号“{h}”重复"))
        seen.add(h)
    matrix: list[list[float]] = []
    texts: dict[str, list[str]] = {name: [] for name in text_columns}
    for r, row in enumerate(rows[1:], start=2):
        if not any(x.strip() for x in row):
            continue
        if len(row) != len(header):
            problems.append(Problem(filename, f"第 {r} 行", "列数", f"应有 {len(header)} 列，实际 {len(row)} 列"))
            continue
        for j, name in text_at.items():
            texts[name].append(row[j].strip())
        vals = []
        for j in item_at:
            x = row[j].strip()
            if x == "":
                vals.append(float("nan"))
            elif x in ("0", "1"):
                vals.append(float(x))
            else:
                problems.append(Problem(filename, f"第 {r} 行", header[j] or f"第 {j + 1} 列",
                                        f"作答应为 0、1 或留空，实际为“{x}”"))
                vals.append(float("nan"))
        matrix.append(vals)
    if problems:
        raise DataFileError(problems)
    if not matrix:
        raise DataFileError([Problem(filename, "文件", "数据", "没有作答数据")])
    return ResponseMatrix([header[j] for j in item_at], matrix, texts)


# ---------------------------------------------------------------- item parameters


@dataclass(frozen=True)
class ParameterRow:
    item: str
    a: float
    b: float
    c: float


def read_item_parameters(filename: str, data: bytes) -> list[ParameterRow]:
    """Item parameters as ``examengine calibrate --output`` writes them (``item,a,b,c`` and
    optional SE columns; a blank c is 0): a > 0, finite b, 0 <= c < 1, ids unique. Every bad
    cell is named by row and column."""
    decoded, _ = decode_csv(data)
    if decoded is None:
        raise DataFileError([Problem(filename, "文件", "编码", "无法以 UTF-8 或 GB18030 读取")])
    rows = [r for r in csv.reader(io.StringIO(decoded)) if any(x.strip() for x in r)]
    header = [h.strip() for h in rows[0]] if rows else []
    missing = [name for name in ("item", "a", "b") if name not in header]
    if missing:
        raise DataFileError([Problem(filename, "第 1 行", name, f"缺少列“{name}”") for name in missing])
    col = {name: header.index(name) for name in ("item", "a", "b", "c") if name in header}
    problems: list[Problem] = []
    out: list[ParameterRow] = []
    seen: dict[str, int] = {}
    for r, row in enumerate(rows[1:], start=2):
        cells = {k: (row[i].strip() if i < len(row) else "") for k, i in col.items()}
        loc = f"第 {r} 行"
        item = cells["item"]
        if item.startswith("'") and item[1:].startswith(FORMULA_TRIGGERS):  # as parameters_csv wrote it
            item = item[1:]
        if not item:
            problems.append(Problem(filename, loc, "item", "题目编号为空"))
        elif item in seen:
            problems.append(Problem(filename, loc, "item", f"题目编号“{item}”与第 {seen[item]} 行重复"))
        seen.setdefault(item, r)
        values = {}
        for k, rule, default in (("a", "应为大于 0 的数", None), ("b", "应为有限的数", None), ("c", "应在 [0, 1) 内", 0.0)):
            text = cells.get(k, "")
            try:
                v = float(text) if text or default is None else default
            except ValueError:
                v = float("nan")
            ok = math.isfinite(v) and (v > 0 if k == "a" else 0 <= v < 1 if k == "c" else True)
            if not ok:
                problems.append(Problem(filename, loc, k, f"{k} {rule}，实际为“{text}”"))
            values[k] = v
        out.append(ParameterRow(item, values["a"], values["b"], values["c"]))
    if problems:
        raise DataFileError(problems)
    if not out:
        raise DataFileError([Problem(filename, "文件", "数据", "没有题目参数")])
    return out
