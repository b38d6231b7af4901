"""The answer sheet's geometry, in millimetres from the top-left corner of an A4 page: the four
corner marks, the QR code's box and every bubble. One place, shared by the printer
(``rendering``) and the reader (``scanning``): what is printed is what is read.

CONTRACT (helper A implements; other modules rely on these names and fields).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PAGE_W_MM = 210.0
PAGE_H_MM = 297.0


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


@dataclass(frozen=True)
class RowLayout:
    """One printed position: its number's box and one bubble per option (A, B, ...)."""

    position: int  # 1-based, the printed number
    number: Box
    bubbles: tuple[Box, ...]

    @property
    def band(self) -> Box:
        """The whole row (number and bubbles), for an image crop in the review queue."""
        raise NotImplementedError


@dataclass(frozen=True)
class SheetLayout:
    marks: tuple[Box, Box, Box, Box]  # corner marks: top-left, top-right, bottom-right, bottom-left
    qr: Box
    grid: Box  # the bubble area
    rows: tuple[RowLayout, ...]

    def row(self, position: int) -> RowLayout:
        raise NotImplementedError


def sheet_layout(option_counts: Sequence[int]) -> SheetLayout:
    """The layout for a form whose positions 1..n have ``option_counts[i]`` options (2 for 判断).
    Raises :class:`SheetLayoutError` when the form does not fit on one sheet."""
    raise NotImplementedError
