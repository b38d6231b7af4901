"""The rectified sheet kept with a scanned sheet: shrunk to ~100 dpi and stored as a grayscale
JPEG (a tenth of a PNG's size for a scan with noise), and turned back into a ``LocatedSheet``
for review crops and appeals."""

from __future__ import annotations

import cv2
import numpy as np

from examengine.scanning.reader import LocatedSheet

#: the resolution a sheet is kept at: the review crop of a row stays legible, a sheet ~100 kB
ARCHIVE_DPI = 100
JPEG_QUALITY = 80


def shrink(sheet: np.ndarray, px_per_mm: float, *, dpi: int = ARCHIVE_DPI) -> tuple[np.ndarray, float]:
    """The sheet at ``dpi`` (never enlarged), and its pixels per mm."""
    target = dpi / 25.4
    if px_per_mm <= target:
        return sheet, px_per_mm
    f = target / px_per_mm
    h, w = sheet.shape[:2]
    size = (max(1, round(w * f)), max(1, round(h * f)))
    small = cv2.resize(sheet, size, interpolation=cv2.INTER_AREA)
    return small, px_per_mm * size[0] / w


def encode(gray: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 gray image
        raise ValueError("cannot encode the sheet image")
    return buf.tobytes()


def restore(data: bytes, px_per_mm: float, *, file: str = "", page: int | None = None, qr: str = "") -> LocatedSheet:
    """A stored sheet image as the reader's ``LocatedSheet`` (for ``reader.crop``)."""
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise ValueError("the stored sheet image does not decode")
    return LocatedSheet(file, page, qr or None, gray, px_per_mm, "")
