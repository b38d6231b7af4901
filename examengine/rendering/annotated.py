"""The annotated return of a scanned answer sheet, for appeals: the rectified scan with the key,
the marks as scored and the corrections made in review drawn over it, and a PDF per candidate
(or per room) with that picture, the row-by-row table and the result.

A pure input contract (:class:`AnnotatedSheet`, built by the scanning service from a stored
sheet): this module reads no database and knows nothing of the reader. The overlays are placed
from the sheet's ``exam.sheet_layout`` geometry (mm from the page's top-left, the frame the
reader rectifies to) and tell their meaning by shape, not colour alone, so a greyscale print
reads the same:

- the key: a thick ring around each key bubble;
- a wrong mark: a cross over each bubble scored as marked that is not in the key;
- the row's verdict, right of its bubbles: a tick (scored right) or a cross (scored wrong);
- a position looked at in review (corrected, or a flagged read confirmed): a dashed box around
  the row (number, bubbles and verdict).

Drawing is Pillow (a WeasyPrint dependency); the PDF goes through ``rendering.pdf.html_to_pdf``.
"""

from __future__ import annotations

import base64
import io
import math
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont

from examengine.exam.items import LETTERS
from examengine.exam.sheet_layout import Box, RowLayout, SheetLayout
from examengine.rendering.env import render
from examengine.rendering.pdf import FAST_CJK, NOTO_CJK, default_font_family, html_to_pdf

#: overlay colours (RGB); each also has a shape of its own
KEY_COLOUR = (0, 120, 40)
WRONG_COLOUR = (210, 0, 0)
RIGHT_COLOUR = (0, 120, 40)
CORRECTED_COLOUR = (0, 70, 200)

#: the legend's entries: (shape, Chinese text); the same shapes are drawn on the sheet
LEGEND = (
    ("key", "粗圆环：标准答案"),
    ("wrong", "叉（选项上）：计分时所涂的错误选项"),
    ("right", "题尾勾：本题得分"),
    ("row_wrong", "题尾叉：本题不得分"),
    ("corrected", "虚线框：复核时更正或确认的题"),
)

#: the height of the legend strip under the sheet, in mm
LEGEND_H_MM = 16.0

#: the room the scan has on a candidate's first page (width, height in mm), under the header
SCAN_BOX_MM = (182.0, 196.0)

#: the table of positions runs in this many groups side by side (1-25 | 26-50 | ..., as on
#: the sheet): a 100-position form on one page, and fewer cells for WeasyPrint to lay out
TABLE_GROUPS = 4

#: how the scan is embedded in the PDF: at most PDF_PX_PER_MM (about 150 dpi; shown at two
#: thirds of its size that is 230 dpi on paper), as JPEG: a noisy 200 dpi scan takes 1-4 MB as
#: PNG, 0.2-0.3 MB so (a room of 50 sheets in about 12 MB); this quality keeps the overlay lines clean
PDF_PX_PER_MM = 6.0
PDF_JPEG_QUALITY = 80


@dataclass(frozen=True)
class AnnotatedRow:
    """One printed position as read, reviewed and scored. Letters are option letters ("" none,
    "AC"); for a 判断 A is 对 and B is 错, as on the sheet."""

    position: int  # 1-based printed number, a row of the layout
    type_label: str  # 单选 / 多选 / 判断 (exam.items.ItemType values)
    read: str  # the letters the reader took as marked
    final: str  # the letters scored, after review (== read when nobody changed them)
    key: str  # the key's letters
    correct: bool  # ``final`` scored right (all-or-nothing, exam.forms.score_answer)
    flags: tuple[str, ...] = ()  # the reader's flags as staff read them (exam.marks.FLAG_NAMES: 多涂, 未涂, ...)
    corrected_by: str | None = None  # who changed or confirmed this position in review, None: nobody
    corrected_at: datetime | None = None

    @property
    def corrected(self) -> bool:
        """The position was looked at in review (a correction, or a confirmation of a flagged read)."""
        return self.corrected_by is not None or self.final != self.read


@dataclass(frozen=True)
class ResultSummary:
    """The sheet's paper result on the online scale (services.forms paper scoring)."""

    raw: int  # positions scored right
    n_items: int
    theta: float
    se: float | None
    band: str | None  # the band's name (未达初级, 初级, ...)
    score: float | None  # 0-100
    passed: bool | None
    scored_by: str | None = None
    scored_at: datetime | None = None


@dataclass(frozen=True)
class AnnotatedSheet:
    """One candidate's scanned sheet and how it was scored. ``image_png``: the rectified sheet
    (grayscale, ``px_per_mm`` pixels a millimetre, origin at the page's top-left: the frame of
    ``scanning.reader.LocatedSheet.sheet``); ``layout``: the form's sheet geometry."""

    ticket: str
    name: str
    room: str
    exam_name: str
    form_code: str
    image_png: bytes
    px_per_mm: float
    layout: SheetLayout
    rows: tuple[AnnotatedRow, ...]
    summary: ResultSummary | None  # None: not scored yet (positions waiting for review)
    source: str = ""  # where the scan came from ("scans.pdf 第 3 页"), shown in the header


# ---------------------------------------------------------------- drawing


def _px(box: Box, ppm: float, outset_mm: float = 0.0) -> tuple[float, float, float, float]:
    return ((box.x - outset_mm) * ppm, (box.y - outset_mm) * ppm,
            (box.x + box.w + outset_mm) * ppm, (box.y + box.h + outset_mm) * ppm)


def _width(ppm: float, mm: float) -> int:
    return max(1, round(mm * ppm))


def _draw_key(draw: ImageDraw.ImageDraw, box: Box, ppm: float, outset: tuple[float, float] = (0.9, 0.9)) -> None:
    """A thick ring just outside the bubble (``outset``: its outer edge's distance from the
    bubble across and down, mm; the ring is drawn inwards from there)."""
    dx, dy = outset
    width = min(0.55, max(0.3, min(dx, dy) * 0.75))
    _rounded(draw, Box(box.x - dx, box.y - dy, box.w + 2 * dx, box.h + 2 * dy), ppm, KEY_COLOUR, _width(ppm, width))


def _rounded(draw: ImageDraw.ImageDraw, box: Box, ppm: float, colour, width: int) -> None:
    """A pill-shaped outline on whole pixels: Pillow's rounded_rectangle refuses some fractional
    corners at low resolutions ("x1 must be greater than or equal to x0", seen at 1.3 px/mm)."""
    x0, y0 = math.floor(box.x * ppm), math.floor(box.y * ppm)
    x1, y1 = max(x0 + 1, math.ceil((box.x + box.w) * ppm)), max(y0 + 1, math.ceil((box.y + box.h) * ppm))
    draw.rounded_rectangle([x0, y0, x1, y1], radius=min(x1 - x0, y1 - y0) // 2, outline=colour,
                           width=min(width, max(1, min(x1 - x0, y1 - y0) // 2)))


def _draw_cross(draw: ImageDraw.ImageDraw, box: Box, ppm: float, colour=WRONG_COLOUR) -> None:
    """A cross over the box, a little past its corners."""
    x0, y0, x1, y1 = _px(box, ppm, 0.3)
    w = _width(ppm, 0.45)
    draw.line([(x0, y0), (x1, y1)], fill=colour, width=w)
    draw.line([(x0, y1), (x1, y0)], fill=colour, width=w)


def _draw_tick(draw: ImageDraw.ImageDraw, box: Box, ppm: float, colour=RIGHT_COLOUR) -> None:
    x0, y0, x1, y1 = _px(box, ppm)
    w = _width(ppm, 0.45)
    draw.line([(x0, y0 + 0.55 * (y1 - y0)), (x0 + 0.38 * (x1 - x0), y1), (x1, y0)], fill=colour, width=w,
              joint="curve")


def _draw_dashed_box(draw: ImageDraw.ImageDraw, box: Box, ppm: float, colour=CORRECTED_COLOUR) -> None:
    x0, y0, x1, y1 = _px(box, ppm)
    w, dash, gap = _width(ppm, 0.45), 1.4 * ppm, 0.9 * ppm
    for (ax, ay), (bx, by) in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)),
                               ((x0, y1), (x0, y0))):
        length = max(abs(bx - ax), abs(by - ay))
        t = 0.0
        while t < length:
            e = min(t + dash, length)
            draw.line([(ax + (bx - ax) * t / length, ay + (by - ay) * t / length),
                       (ax + (bx - ax) * e / length, ay + (by - ay) * e / length)], fill=colour, width=w)
            t = e + gap


@dataclass(frozen=True)
class _Spacing:
    """How much room the layout leaves around its bubbles, in mm: the smallest gap between two
    bubbles of a row (``across``) and between a bubble and the one above or below (``down``)."""

    across: float
    down: float

    @property
    def ring(self) -> tuple[float, float]:
        """The key ring's outset: clear of the next row's ring; across, it may reach over half
        the gap (the ring of a neighbouring key then touches, the shape still reads)."""
        return (min(0.9, max(0.35, self.across / 2 + 0.25)), min(0.9, max(0.35, self.down / 2 - 0.2)))

    @property
    def corrected(self) -> float:
        """The dashed box's outset around a corrected row: inside the gap to the next row."""
        return min(1.4, max(0.3, self.down / 2 - 0.15))


def _spacing(layout: SheetLayout) -> _Spacing:
    across, down = [], []
    bubbles = [b for r in layout.rows for b in r.bubbles]
    for r in layout.rows:
        across += [b.x - (a.x + a.w) for a, b in zip(r.bubbles, r.bubbles[1:])]
    by_column: dict[float, list[Box]] = {}
    for b in bubbles:
        by_column.setdefault(round(b.x, 2), []).append(b)
    for column in by_column.values():
        column.sort(key=lambda b: b.y)
        down += [b.y - (a.y + a.h) for a, b in zip(column, column[1:])]
    return _Spacing(min((g for g in across if g >= 0), default=1.0), min((g for g in down if g >= 0), default=2.0))


def verdict_box(row: RowLayout, layout: SheetLayout) -> Box:
    """Where the row's tick or cross goes: right of its last bubble, as tall as a bubble is, and
    clear of whatever the layout prints to the right of the row (the next column's number)."""
    last = row.bubbles[-1]
    x = last.x + last.w + 0.8
    right = [b.x for r in layout.rows for b in (r.number, *r.bubbles)
             if b.x >= last.x + last.w and b.y < last.y + last.h and b.y + b.h > last.y]
    room = min(right, default=layout.grid.x + layout.grid.w + 6.0) - x - 0.4
    side = max(1.6, min(last.h, 3.6, room))
    return Box(x, last.y + (last.h - side) / 2, side, side)


_FIELD_NAMES = {"read": "识别结果", "final": "计分作答", "key": "标准答案"}


def _letters_index(row: AnnotatedRow, layout_row: RowLayout, which: str) -> list[int]:
    """The bubbles ``row.<which>`` names; ValueError naming the position when one has no bubble."""
    letters = getattr(row, which)
    out = []
    for ch in letters:
        k = LETTERS.find(ch)
        if k < 0 or k >= len(layout_row.bubbles):
            raise ValueError(f"第 {row.position} 题：{_FIELD_NAMES[which]}中的 {ch!r} 不在答题卡该题的 "
                             f"{len(layout_row.bubbles)} 个选项之中")
        out.append(k)
    return out


def _layout_rows(sheet: AnnotatedSheet) -> dict[int, RowLayout]:
    by_position = {r.position: r for r in sheet.layout.rows}
    missing = [r.position for r in sheet.rows if r.position not in by_position]
    if missing:
        raise ValueError(f"准考证号 {sheet.ticket}：第 {missing[0]} 题不在答题卡版式之中")
    return by_position


def draw_overlays(img: Image.Image, sheet: AnnotatedSheet) -> None:
    """The overlays of :func:`annotated_image`, drawn on ``img`` (RGB, the sheet's frame)."""
    ppm = sheet.px_per_mm
    layout_rows = _layout_rows(sheet)
    spacing = _spacing(sheet.layout)
    draw = ImageDraw.Draw(img)
    for row in sheet.rows:
        lr = layout_rows[row.position]
        key, final = _letters_index(row, lr, "key"), _letters_index(row, lr, "final")
        _letters_index(row, lr, "read")
        if row.corrected:
            band, out = lr.band, spacing.corrected
            right = verdict_box(lr, sheet.layout).right
            _draw_dashed_box(draw, Box(band.x - out, band.y - out, right - band.x + 2 * out, band.h + 2 * out), ppm)
        for k in key:
            _draw_key(draw, lr.bubbles[k], ppm, spacing.ring)
        for k in final:
            if k not in key:
                _draw_cross(draw, lr.bubbles[k], ppm)
        (_draw_tick if row.correct else _draw_cross)(draw, verdict_box(lr, sheet.layout), ppm)


@lru_cache(maxsize=4)
def _cjk_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A CJK font (fontconfig's choice for Chinese) for the legend."""
    fc = shutil.which("fc-match")
    found = subprocess.run([fc, "-f", "%{file}|%{index}", f"{FAST_CJK},{NOTO_CJK}:lang=zh-cn"], capture_output=True,
                           text=True, timeout=30).stdout.strip() if fc else ""
    path, _, index = found.partition("|")
    try:
        return ImageFont.truetype(path, size, index=int(index or 0))
    except (OSError, ValueError):
        return ImageFont.load_default(size)


def _legend_icon(draw: ImageDraw.ImageDraw, shape: str, box: Box, ppm: float) -> None:
    bubble = Box(box.x + 0.9, box.y + 0.9, box.w - 1.8, box.h - 1.8)
    if shape in ("key", "wrong"):
        _rounded(draw, bubble, ppm, (0, 0, 0), _width(ppm, 0.2))
    if shape == "key":
        _draw_key(draw, bubble, ppm)
    elif shape == "wrong":
        _draw_cross(draw, bubble, ppm)
    elif shape == "right":
        _draw_tick(draw, bubble, ppm)
    elif shape == "row_wrong":
        _draw_cross(draw, bubble, ppm)
    elif shape == "corrected":
        _draw_dashed_box(draw, box, ppm)


def _legend_strip(width_px: int, ppm: float) -> Image.Image:
    strip = Image.new("RGB", (width_px, round(LEGEND_H_MM * ppm)), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    draw.line([(0, 0), (width_px, 0)], fill=(0, 0, 0), width=_width(ppm, 0.3))
    font = _cjk_font(max(8, round(3.0 * ppm)))
    col_w = width_px / ppm / 3
    for k, (shape, text) in enumerate(LEGEND):
        x, y = 6 + (k % 3) * col_w, 2.5 + (k // 3) * 6.5
        _legend_icon(draw, shape, Box(x, y, 7.6, 5.2), ppm)
        draw.text(((x + 9.5) * ppm, (y + 2.6) * ppm), text, font=font, fill=(0, 0, 0), anchor="lm")
    return strip


def legend_icon_png(shape: str, *, px_per_mm: float = 12.0) -> bytes:
    """One legend entry's shape alone (the PDF's legend, in text beside it)."""
    img = Image.new("RGB", (round(8 * px_per_mm), round(5.6 * px_per_mm)), (255, 255, 255))
    _legend_icon(ImageDraw.Draw(img), shape, Box(0.2, 0.2, 7.6, 5.2), px_per_mm)
    return _encode(img, "PNG")


def _annotated(sheet: AnnotatedSheet, *, legend: bool) -> Image.Image:
    img = Image.open(io.BytesIO(sheet.image_png)).convert("RGB")
    draw_overlays(img, sheet)
    if not legend:
        return img
    strip = _legend_strip(img.width, sheet.px_per_mm)
    out = Image.new("RGB", (img.width, img.height + strip.height), (255, 255, 255))
    out.paste(img, (0, 0))
    out.paste(strip, (0, img.height))
    return out


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def annotated_image(sheet: AnnotatedSheet, *, legend: bool = True) -> bytes:
    """The scan with its overlays as an RGB PNG: the sheet's pixels keep their place (a layout box
    at ``box.x * px_per_mm``), and with ``legend`` a strip of ``LEGEND_H_MM`` under the sheet
    says what each shape means. Raises ValueError when a row is not in the layout or names a
    letter the row has no bubble for."""
    return _encode(_annotated(sheet, legend=legend), "PNG", compress_level=3)


# ---------------------------------------------------------------- the PDF


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _answer_text(type_label: str, letters: str) -> str:
    """Letters as the table shows them: "" -> 未涂, 判断 A/B with 对/错 beside."""
    if not letters:
        return "未涂"
    if type_label == "判断" and letters in ("A", "B"):
        return f"{letters}({'对' if letters == 'A' else '错'})"
    return letters


def _sheet_context(sheet: AnnotatedSheet) -> dict:
    img = _annotated(sheet, legend=False)
    if sheet.px_per_mm > PDF_PX_PER_MM:
        f = PDF_PX_PER_MM / sheet.px_per_mm
        img = img.resize((round(img.width * f), round(img.height * f)), Image.Resampling.LANCZOS)
    rows = [{
        "position": r.position, "type": r.type_label, "read": _answer_text(r.type_label, r.read),
        "final": _answer_text(r.type_label, r.final), "changed": r.final != r.read,
        "key": _answer_text(r.type_label, r.key), "correct": r.correct, "flags": "、".join(r.flags),
        "corrected": r.corrected, "corrected_by": r.corrected_by,
        "corrected_at": r.corrected_at.isoformat() if r.corrected_at else None,
    } for r in sorted(sheet.rows, key=lambda r: r.position)]
    per_group = -(-len(rows) // TABLE_GROUPS)
    grid = [[rows[g * per_group + i] if g * per_group + i < len(rows) else None for g in range(TABLE_GROUPS)]
            for i in range(per_group)]
    s = sheet.summary
    summary = None if s is None else {
        "raw": s.raw, "n_items": s.n_items, "theta": s.theta, "se": s.se, "band": s.band, "score": s.score,
        "passed": s.passed, "scored_by": s.scored_by, "scored_at": s.scored_at.isoformat() if s.scored_at else None,
    }
    return {
        "ticket": sheet.ticket, "name": sheet.name, "room": sheet.room, "exam_name": sheet.exam_name,
        "form_code": sheet.form_code, "source": sheet.source, "rows": rows, "grid": grid,
        "notes": [r for r in rows if r["flags"] or r["corrected"]], "summary": summary,
        "n_wrong": sum(not r.correct for r in sheet.rows), "n_corrected": sum(r.corrected for r in sheet.rows),
        "image": _data_uri(_encode(img, "JPEG", quality=PDF_JPEG_QUALITY), "image/jpeg"),
        **_fit(img.width, img.height),
    }


def _fit(width_px: int, height_px: int) -> dict:
    """The scan's size on the PDF's first page of a candidate, in mm, within SCAN_BOX_MM."""
    scale = min(SCAN_BOX_MM[0] / width_px, SCAN_BOX_MM[1] / height_px)
    return {"image_w": round(width_px * scale, 1), "image_h": round(height_px * scale, 1)}


def annotated_html(sheets: Sequence[AnnotatedSheet], title: str, *, font_family: str | None = None,
                   zone: ZoneInfo | str | None = None) -> str:
    legend = [{"icon": _data_uri(legend_icon_png(shape), "image/png"), "text": text} for shape, text in LEGEND]
    return render("print/annotated.html", zone=zone, font=font_family or default_font_family(), title=title,
                  sheets=[_sheet_context(s) for s in sheets], legend=legend, groups=TABLE_GROUPS)


def annotated_pdf(sheets: Sequence[AnnotatedSheet], title: str, *, font_family: str | None = None,
                  zone: ZoneInfo | str | None = None) -> bytes:
    """One PDF for ``sheets`` (one candidate, or a room in the order given): each candidate
    starts on a new page with a header (ticket, name, room, exam, form, the result) and the
    annotated scan, then the table of every position (read, scored, key, ✓/✗, flags, who
    corrected it and when). Every page's running header names its candidate. Times are shown
    in ``zone`` (default: the zone of the app serving the request)."""
    if not sheets:
        raise ValueError("没有答题卡可生成回执")
    return html_to_pdf(annotated_html(sheets, title, font_family=font_family, zone=zone))
