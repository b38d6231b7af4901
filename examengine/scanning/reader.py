"""Scans -> rectified sheets -> marks.

CONTRACT (helper A implements; other modules rely on these names and fields).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from examengine.exam.marks import PositionRead
from examengine.exam.sheet_layout import SheetLayout

#: resolution PDF pages are rasterised at
SCAN_DPI = 200


@dataclass(frozen=True)
class PageImage:
    file: str
    page: int | None  # 1-based page of a PDF; None for a picture file
    gray: np.ndarray  # uint8, H x W


@dataclass(frozen=True)
class LocatedSheet:
    file: str
    page: int | None
    qr: str | None  # the decoded QR payload, None when not found
    sheet: np.ndarray | None  # the page rectified to the sheet frame (uint8 gray), None when not found
    px_per_mm: float  # scale of ``sheet``
    problem: str  # "" when found and decoded; else Chinese (找不到四角定位标记 / 二维码无法识别)


def load_pages(filename: str, data: bytes, *, dpi: int = SCAN_DPI) -> list[PageImage]:
    """Every page of a PDF (rasterised) or one JPEG/PNG/TIFF picture. An unreadable file raises
    ``errors.DataFileError`` naming the file (and page)."""
    raise NotImplementedError


def locate(page: PageImage) -> LocatedSheet:
    """Find the corner marks, rectify (rotation, scale, perspective; a sheet fed upside down is
    turned) and decode the QR code."""
    raise NotImplementedError


def read_marks(sheet: LocatedSheet, layout: SheetLayout, multiple: Sequence[bool]) -> tuple[PositionRead, ...]:
    """Measure every bubble of ``layout`` on the rectified sheet and classify each row
    (``multiple[i]``: position i+1 is a 多选)."""
    raise NotImplementedError


def crop(sheet: LocatedSheet, box_mm, *, margin_mm: float = 2.0) -> np.ndarray:
    """The part of the rectified sheet under a layout box (for review crops and annotations)."""
    raise NotImplementedError


def encode_png(gray: np.ndarray) -> bytes:
    raise NotImplementedError
