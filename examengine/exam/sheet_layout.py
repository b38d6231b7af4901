"""The answer sheet's geometry, in millimetres from the top-left corner of an A4 page: the four
corner marks, the QR code's box and every bubble. One place, shared by the printer
(``rendering``) and the reader (``scanning``): what is printed is what is read.

The page (210 x 297 mm, printed without page margins)::

    ■ (9, 9)                                           (194, 9) ■     corner marks, 7 mm, solid
       header: 答题卡, 姓名, 准考证号, 考场,          ┌──────┐
       试卷代码, instructions (the template's)         │  QR  │    (158, 20), 32 mm
                                                       └──────┘
       ┌ grid: from y = 80 mm, centred ───────────────────────┐
       │  1 (A)(B)(C)(D)   26 (A)(B)(C)(D)   51 ...             │   rows of 6.2 mm, a 1.5 mm
       │  2 (A)(B)(C)(D)   27 ...                               │   gap after every 5 rows,
       │  ...                                                   │   20 rows a column (up to 25
       └────────────────────────────────────────────────────────┘   when the form needs them)
    ■ (9, 281)                                        (194, 281) ■

A bubble is 5.6 x 4.2 mm (a stadium: round ends), bubbles 1.2 mm apart; a column is its number
(7 mm) and as many bubbles as its widest row; columns 6 mm apart, within 186 mm. So one sheet
holds 100 positions of 4 options (4 columns of 25), 100 of 5, 75 of 6, 175 判断 (2 options).

The marks stand 9 mm inside the page edges, inside what office printers print (about 5 mm); the
reader finds them without knowing the form (they are at the same place on every sheet) and maps
their centres to :data:`MARK_CENTERS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PAGE_W_MM = 210.0
PAGE_H_MM = 297.0

#: corner marks: solid black squares of MARK_SIZE, MARK_INSET from the page edges
MARK_SIZE = 7.0
MARK_INSET = 9.0
#: the QR code's box (the image's quiet zone included)
QR_X, QR_Y, QR_SIZE = 158.0, 20.0, 32.0
#: the grid's area: its top, and the width it is centred in
GRID_TOP = 80.0
GRID_MAX_W = 186.0
#: a row: its number's box, then the bubbles
ROW_PITCH = 6.2
BUBBLE_W = 5.6
BUBBLE_H = 4.2
BUBBLE_GAP = 1.2
NUMBER_W = 7.0
NUMBER_GAP = 1.0
COLUMN_GAP = 6.0
#: a little gap after every BLOCK rows, for the eye
BLOCK = 5
BLOCK_GAP = 1.5
#: rows a column: DEFAULT_ROWS, more (up to MAX_ROWS) only when the form needs them
DEFAULT_ROWS = 20
MAX_ROWS = 25
MIN_OPTIONS, MAX_OPTIONS = 2, 6


class SheetLayoutError(ValueError):
    """The form does not fit on one answer sheet (the message is Chinese and names the limit)."""


@dataclass(frozen=True)
class Box:
    """A rectangle on the page, in mm: left, top, width, height."""

    x: float
    y: float
    w: float
    h: float

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def inset(self, dx: float, dy: float | None = None) -> Box:
        """The box shrunk by ``dx`` (and ``dy``, default ``dx``) on each side (grown when negative)."""
        dy = dx if dy is None else dy
        return Box(self.x + dx, self.y + dy, self.w - 2 * dx, self.h - 2 * dy)


@dataclass(frozen=True)
class RowLayout:
    """One printed position: its number's box and one bubble per option (A, B, ...)."""

    position: int  # 1-based, the printed number
    number: Box
    bubbles: tuple[Box, ...]

    @property
    def band(self) -> Box:
        """The whole row (number and bubbles), for an image crop in the review queue."""
        right = self.bubbles[-1].right
        return Box(self.number.x, self.number.y, right - self.number.x, self.number.h)


@dataclass(frozen=True)
class SheetLayout:
    marks: tuple[Box, Box, Box, Box]  # corner marks: top-left, top-right, bottom-right, bottom-left
    qr: Box
    grid: Box  # the bubble area
    rows: tuple[RowLayout, ...]

    def row(self, position: int) -> RowLayout:
        """The row printed with number ``position`` (1-based); KeyError when there is none."""
        if not 1 <= position <= len(self.rows):
            raise KeyError(position)
        return self.rows[position - 1]

    @property
    def option_counts(self) -> tuple[int, ...]:
        return tuple(len(r.bubbles) for r in self.rows)


def _marks() -> tuple[Box, Box, Box, Box]:
    far_x, far_y = PAGE_W_MM - MARK_INSET - MARK_SIZE, PAGE_H_MM - MARK_INSET - MARK_SIZE
    return (Box(MARK_INSET, MARK_INSET, MARK_SIZE, MARK_SIZE), Box(far_x, MARK_INSET, MARK_SIZE, MARK_SIZE),
            Box(far_x, far_y, MARK_SIZE, MARK_SIZE), Box(MARK_INSET, far_y, MARK_SIZE, MARK_SIZE))


#: the corner marks (top-left, top-right, bottom-right, bottom-left) and their centres: the same on every sheet
MARKS = _marks()
MARK_CENTERS = tuple(b.center for b in MARKS)
QR_BOX = Box(QR_X, QR_Y, QR_SIZE, QR_SIZE)


def column_width(options: int) -> float:
    """A column's width in mm when its widest row has ``options`` bubbles."""
    return NUMBER_W + NUMBER_GAP + options * BUBBLE_W + (options - 1) * BUBBLE_GAP


def row_top(index: int) -> float:
    """The top of row ``index`` (0-based within its column), in mm below the grid's top."""
    return index * ROW_PITCH + (index // BLOCK) * BLOCK_GAP


def columns_that_fit(options: int) -> int:
    """How many columns of ``options``-bubble rows fit side by side."""
    return int((GRID_MAX_W + COLUMN_GAP + 1e-9) // (column_width(options) + COLUMN_GAP))


def capacity(options: int) -> int:
    """The most positions one sheet holds when every row has ``options`` bubbles."""
    return columns_that_fit(options) * MAX_ROWS


def _columns(counts: Sequence[int], per_column: int) -> list[list[int]]:
    return [list(counts[i:i + per_column]) for i in range(0, len(counts), per_column)]


def _width(columns: list[list[int]]) -> float:
    return sum(column_width(max(c)) for c in columns) + COLUMN_GAP * (len(columns) - 1)


def sheet_layout(option_counts: Sequence[int]) -> SheetLayout:
    """The layout for a form whose positions 1..n have ``option_counts[i]`` options (2 for 判断).
    Raises :class:`SheetLayoutError` when the form does not fit on one sheet.

    Columns hold :data:`DEFAULT_ROWS` rows, or the fewest rows up to :data:`MAX_ROWS` that let
    every column fit in :data:`GRID_MAX_W`; a column is as wide as its widest row; the grid is
    centred on the page, its top at :data:`GRID_TOP`."""
    counts = [int(c) for c in option_counts]
    if not counts:
        raise SheetLayoutError("试卷没有题目，无法生成答题卡")
    for pos, c in enumerate(counts, start=1):
        if not MIN_OPTIONS <= c <= MAX_OPTIONS:
            raise SheetLayoutError(f"第 {pos} 题有 {c} 个选项，答题卡每题只能有 {MIN_OPTIONS}–{MAX_OPTIONS} 个选项")
    columns = None
    for per_column in range(DEFAULT_ROWS, MAX_ROWS + 1):
        candidate = _columns(counts, per_column)
        if _width(candidate) <= GRID_MAX_W + 1e-9:
            columns = candidate
            break
    if columns is None:
        widest = max(counts)
        raise SheetLayoutError(
            f"试卷共 {len(counts)} 题，一张答题卡放不下：每列最多 {MAX_ROWS} 题，"
            f"{widest} 个选项的题每张最多排 {columns_that_fit(widest)} 列，即最多 {capacity(widest)} 题")
    width = _width(columns)
    height = row_top(len(columns[0]) - 1) + BUBBLE_H
    grid = Box(round((PAGE_W_MM - width) / 2, 4), GRID_TOP, round(width, 4), round(height, 4))
    rows: list[RowLayout] = []
    x = grid.x
    for column in columns:
        for i, n_options in enumerate(column):
            y = round(GRID_TOP + row_top(i), 4)
            bubble_x = x + NUMBER_W + NUMBER_GAP
            bubbles = tuple(Box(round(bubble_x + j * (BUBBLE_W + BUBBLE_GAP), 4), y, BUBBLE_W, BUBBLE_H)
                            for j in range(n_options))
            rows.append(RowLayout(len(rows) + 1, Box(round(x, 4), y, NUMBER_W, BUBBLE_H), bubbles))
        x += column_width(max(column)) + COLUMN_GAP
    return SheetLayout(MARKS, QR_BOX, grid, tuple(rows))


def overlaps(a: Box, b: Box) -> bool:
    """Whether two boxes share any area."""
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom

