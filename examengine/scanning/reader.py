"""Scans -> rectified sheets -> marks.

1. :func:`load_pages`: every page of a PDF (PDFium, 200 dpi, grey) or of a JPEG/PNG/TIFF picture
   (OpenCV; a multi-page TIFF gives every page); unreadable input raises ``DataFileError``
   naming the file (and the page).
2. :func:`locate`: the four corner marks are found without knowing the form (they stand at the
   same place on every sheet, ``exam.sheet_layout.MARKS``): on a copy shrunk to about 900 px,
   the paper's local white is estimated by a grey dilation larger than a mark and divided out
   (uneven lighting), dark blobs are kept when they are solid squares (filled, nearly square,
   without a hole: a QR finder pattern is a hollow square), and the one nearest each corner of
   the picture is taken. Their centres, refined on the full picture, give a homography onto the
   layout's mark centres; the page is warped to :data:`SHEET_PX_PER_MM`. Of the orientations the
   four marks allow (upright, upside down; turned a quarter for a landscape picture), the one
   whose QR box decodes wins; the QR code is decoded in its box, else on the whole page.
3. :func:`read_marks`: inside each bubble (its middle, clear of the outline) the mean grey is
   divided by the paper's local white and scaled by the corner marks' black: 0 white, 1 as dark
   as the marks. The printed letter makes an empty bubble grey, so the blank level of each
   letter (A, B, ...) is taken from the sheet's own empty bubbles (the lower cluster of that
   letter's values, bounded by the sheet-wide blank level) and subtracted; ``exam.marks``
   classifies the rows on that scale with the sheet's threshold.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pypdfium2

from examengine.errors import DataFileError, Problem
from examengine.exam.marks import PositionRead, classify, sheet_threshold
from examengine.exam.sheet_layout import (
    MARK_CENTERS,
    MARK_SIZE,
    MARKS,
    PAGE_H_MM,
    PAGE_W_MM,
    QR_BOX,
    Box,
    SheetLayout,
)

#: resolution PDF pages are rasterised at
SCAN_DPI = 200
#: scale of a rectified sheet (8 px/mm is 203 dpi)
SHEET_PX_PER_MM = 8.0
#: a page larger than this many pixels is shrunk as it is loaded (a 300 dpi A3 scan is 17 MP)
MAX_PIXELS = 40_000_000
#: the long side of the shrunk copy the corner marks are searched on
SEARCH_LONG_SIDE = 900

NO_MARKS = "找不到四角定位标记，不是答题卡或扫描不完整"
NO_QR = "二维码无法识别"

#: a bubble's middle, where the darkness is measured: inset from its box (mm), clear of the outline
MEASURE_INSET = (1.0, 0.7)


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


# -- loading -------------------------------------------------------------------------------------

def _where(page: int | None) -> str:
    return f"第 {page} 页" if page else ""


def _unreadable(filename: str, page: int | None, message: str) -> DataFileError:
    return DataFileError([Problem(filename, _where(page), "文件", message)])


def _shrink_to_limit(gray: np.ndarray) -> np.ndarray:
    pixels = gray.shape[0] * gray.shape[1]
    if pixels <= MAX_PIXELS:
        return gray
    f = (MAX_PIXELS / pixels) ** 0.5
    return cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)


def iter_pages(filename: str, data: bytes, *, dpi: int = SCAN_DPI) -> Iterator[PageImage]:
    """The pages of ``data`` one at a time (a 300-page PDF is not held in memory at once);
    raises ``DataFileError`` at the first page that cannot be read."""
    if data[:1024].lstrip().startswith(b"%PDF") or b"%PDF-" in data[:1024]:
        yield from _pdf_pages(filename, data, dpi)
        return
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        raise _unreadable(filename, None, "文件是空的")
    if data[:4] in (b"II*\x00", b"MM\x00*"):  # TIFF: a scanner's multi-page file
        ok, images = cv2.imdecodemulti(buf, cv2.IMREAD_GRAYSCALE)
        if not ok or not images:
            raise _unreadable(filename, None, "无法读取该 TIFF 图片")
        for n, img in enumerate(images, start=1):
            yield PageImage(filename, n if len(images) > 1 else None, _shrink_to_limit(img))
        return
    img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)  # applies a photo's EXIF orientation
    if img is None or img.size == 0:
        raise _unreadable(filename, None, "无法读取：不是 PDF、JPEG、PNG 或 TIFF 文件，或文件已损坏")
    yield PageImage(filename, None, _shrink_to_limit(img))


def _pdf_pages(filename: str, data: bytes, dpi: int) -> Iterator[PageImage]:
    try:
        doc = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as e:
        raise _unreadable(filename, None, f"无法读取该 PDF 文件（{e}）") from None
    try:
        n_pages = len(doc)
        if n_pages == 0:
            raise _unreadable(filename, None, "PDF 文件没有页面")
        for n in range(1, n_pages + 1):
            try:
                page = doc[n - 1]
                w, h = page.get_size()  # points
                scale = dpi / 72
                if w * h * scale * scale > MAX_PIXELS:
                    scale = (MAX_PIXELS / (w * h)) ** 0.5
                bitmap = page.render(scale=scale, grayscale=True)
                gray = bitmap.to_numpy()
                if gray.ndim == 3:  # some builds hand back BGR(A) even when asked for grey
                    gray = cv2.cvtColor(gray[..., :3], cv2.COLOR_BGR2GRAY)
                gray = np.ascontiguousarray(gray, dtype=np.uint8)
                bitmap.close()
                page.close()
            except pypdfium2.PdfiumError as e:
                raise _unreadable(filename, n, f"该页无法渲染（{e}）") from None
            yield PageImage(filename, n, gray)
    finally:
        doc.close()


def load_pages(filename: str, data: bytes, *, dpi: int = SCAN_DPI) -> list[PageImage]:
    """Every page of a PDF (rasterised) or one JPEG/PNG/TIFF picture. An unreadable file raises
    ``errors.DataFileError`` naming the file (and page). (:func:`iter_pages` gives them one at a
    time.)"""
    return list(iter_pages(filename, data, dpi=dpi))


# -- locating ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Blob:
    x: float  # centre, in the shrunk picture
    y: float
    side: float  # sqrt(area)


def _odd(n: float) -> int:
    n = max(3, int(round(n)))
    return n if n % 2 else n + 1


def _normalised(gray: np.ndarray, kernel: int) -> np.ndarray:
    """Grey divided by the paper's local white (a grey dilation wider than a mark, smoothed): 1 on
    paper, near 0 on ink, whatever the lighting."""
    small = cv2.resize(gray, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    k = _odd(kernel / 4)
    white = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    white = cv2.GaussianBlur(white, (0, 0), k / 2)
    white = cv2.resize(white, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    return gray.astype(np.float32) / np.maximum(white.astype(np.float32), 24.0)


def _square_blobs(small: np.ndarray) -> list[_Blob]:
    """Solid dark squares: filled, nearly square (a photo's perspective allowed), without holes."""
    long_side = max(small.shape)
    norm = _normalised(small, long_side * 0.06)
    dark = (norm < 0.6).astype(np.uint8)
    contours, hierarchy = cv2.findContours(dark, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    hierarchy = hierarchy[0]
    lo, hi = 0.006 * long_side, 0.06 * long_side
    blobs = []
    for i, c in enumerate(contours):
        if hierarchy[i][3] != -1:  # a hole
            continue
        area = cv2.contourArea(c)
        if area < lo * lo or area > hi * hi:
            continue
        _, (w, h), _ = cv2.minAreaRect(c)
        if min(w, h) <= 0 or max(w, h) / min(w, h) > 1.6 or area / (w * h) < 0.75:
            continue
        hull = cv2.contourArea(cv2.convexHull(c))  # (a small blob's pixel contour is a little ragged)
        if hull <= 0 or area / hull < 0.85:
            continue
        holes, child = 0.0, hierarchy[i][2]
        while child != -1:
            holes += cv2.contourArea(contours[child])
            child = hierarchy[child][0]
        if holes > 0.05 * area:
            continue
        m = cv2.moments(c)
        blobs.append(_Blob(m["m10"] / m["m00"], m["m01"] / m["m00"], area ** 0.5))
    return blobs


def _corner_blobs(blobs: list[_Blob], width: int, height: int) -> list[_Blob] | None:
    """The blobs that are the corner marks (top-left, top-right, bottom-right, bottom-left): of
    the three nearest each picture corner (in the city-block distance a slightly turned page
    keeps), the combination nearest the corners that is shaped like the marks (:func:`_plausible`);
    None when there is none."""
    if len(blobs) < 4:
        return None
    corners = [(0, 0), (width, 0), (width, height), (0, height)]

    def distance(b: _Blob, corner: tuple[int, int]) -> float:
        return abs(b.x - corner[0]) + abs(b.y - corner[1])

    nearest = [sorted(blobs, key=lambda b, c=c: distance(b, c))[:3] for c in corners]
    combos = sorted(itertools.product(*nearest), key=lambda combo: sum(distance(b, c) for b, c in zip(combo, corners)))
    for combo in combos:
        if len({id(b) for b in combo}) < 4:
            continue
        points = np.array([(b.x, b.y) for b in combo], dtype=np.float32)
        sides = [b.side for b in combo]
        if max(sides) <= 1.8 * min(sides) and _plausible(points, float(np.mean(sides))):
            return list(combo)
    return None


def _refine(gray: np.ndarray, x: float, y: float, side: float) -> tuple[float, float] | None:
    """A mark's centre on the full picture: the centroid of the dark component under (x, y) in a
    window twice its size, thresholded halfway between its ink and the paper around it."""
    r = int(side * 1.1) + 2
    x0, y0 = max(0, int(x) - r), max(0, int(y) - r)
    roi = gray[y0:int(y) + r + 1, x0:int(x) + r + 1]
    if roi.size == 0:
        return None
    lo, hi = np.percentile(roi, 5), np.percentile(roi, 95)
    if hi - lo < 30:
        return None
    mask = (roi < (lo + hi) / 2).astype(np.uint8)
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n < 2:
        return None
    cx, cy = int(round(x)) - x0, int(round(y)) - y0
    label = labels[min(max(cy, 0), roi.shape[0] - 1), min(max(cx, 0), roi.shape[1] - 1)]
    if label == 0:
        label = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    fx, fy = centroids[label]
    return (x0 + fx, y0 + fy)


def _sheet_points(ppm: float) -> np.ndarray:
    return np.array(MARK_CENTERS, dtype=np.float32) * ppm


def _homographies(points: np.ndarray, ppm: float) -> list[np.ndarray]:
    """Page-from-picture homographies for the orientations the marks allow: ``points`` are the
    marks at the picture's corners (TL, TR, BR, BL); a portrait picture is upright or upside
    down, a landscape one turned a quarter either way."""
    top = np.linalg.norm(points[1] - points[0]) + np.linalg.norm(points[2] - points[3])
    left = np.linalg.norm(points[3] - points[0]) + np.linalg.norm(points[2] - points[1])
    shifts = (0, 2) if top <= left else (1, 3)
    dst = _sheet_points(ppm)
    return [cv2.getPerspectiveTransform(np.roll(points, -k, axis=0).astype(np.float32), dst) for k in shifts]


def _warp(gray: np.ndarray, h: np.ndarray, box: Box | None, ppm: float) -> np.ndarray:
    """The page (or only ``box`` of it, mm) rectified at ``ppm``."""
    if box is None:
        size = (int(round(PAGE_W_MM * ppm)), int(round(PAGE_H_MM * ppm)))
        return cv2.warpPerspective(gray, h, size, flags=cv2.INTER_LINEAR, borderValue=255)
    shift = np.array([[1, 0, -box.x * ppm], [0, 1, -box.y * ppm], [0, 0, 1]], dtype=np.float64)
    size = (int(round(box.w * ppm)), int(round(box.h * ppm)))
    return cv2.warpPerspective(gray, shift @ h, size, flags=cv2.INTER_LINEAR, borderValue=255)


_QR = cv2.QRCodeDetector()


def _decode(img: np.ndarray) -> str | None:
    try:
        text, _, _ = _QR.detectAndDecode(img)
    except cv2.error:
        return None
    return text or None


def _decode_box(gray: np.ndarray, h: np.ndarray) -> str | None:
    box = QR_BOX.inset(-3)
    crop_img = _warp(gray, h, box, SHEET_PX_PER_MM)
    text = _decode(crop_img)
    if text is None:  # a blurred or low-contrast code: once more, sharpened and binarised
        _, binary = cv2.threshold(cv2.GaussianBlur(crop_img, (3, 3), 0), 0, 255,
                                  cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        text = _decode(binary)
    # then at other scales and with OpenCV's second detector: each finds codes the first misses
    # (a noisy JPEG-50 scan of one payload in about twenty failed both tries above)
    for attempt in (lambda: _decode(cv2.resize(crop_img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)),
                    lambda: _decode(cv2.resize(binary, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)),
                    lambda: _decode(cv2.resize(crop_img, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)),
                    lambda: _decode_aruco(crop_img)):
        if text is not None:
            break
        text = attempt()
    return text


_QR_ARUCO = cv2.QRCodeDetectorAruco() if hasattr(cv2, "QRCodeDetectorAruco") else None


def _decode_aruco(img: np.ndarray) -> str | None:
    if _QR_ARUCO is None:
        return None
    try:
        text, _, _ = _QR_ARUCO.detectAndDecode(img)
    except cv2.error:
        return None
    return text or None


def _marks_dark(sheet: np.ndarray, ppm: float) -> bool:
    """Whether the rectified sheet has a solid dark square under every layout mark with clean
    paper around it (a filled bubble taken for a mark has its neighbours' outlines around it)."""
    for m in MARKS:
        def region(b: Box) -> np.ndarray:
            return sheet[max(0, int(b.y * ppm)):int(b.bottom * ppm), max(0, int(b.x * ppm)):int(b.right * ppm)]

        inner, outer = region(m.inset(0.8)), region(m.inset(-2.5))
        if inner.size == 0 or outer.size == 0:
            return False
        ring_mask = np.ones(outer.shape, bool)
        k = int(round(1.7 * ppm))  # the outer 1.7 mm of a 2.5 mm band around the mark (0.8 mm for blur)
        ring_mask[k:-k, k:-k] = False
        ring = outer[ring_mask]
        paper, ink = float(np.percentile(ring, 90)), float(np.median(inner))
        if paper - ink < 40:
            return False
        middle = (paper + ink) / 2
        if float(np.percentile(inner, 95)) > middle or float(np.percentile(ring, 3)) < middle:
            return False
    return True


def _find_marks(gray: np.ndarray) -> np.ndarray | None:
    """The four corner marks' centres on the full picture, (4, 2), TL TR BR BL of the picture."""
    k = -(-max(gray.shape) // SEARCH_LONG_SIDE)  # shrink by a whole factor: INTER_AREA's fast path
    small = cv2.resize(gray, (gray.shape[1] // k, gray.shape[0] // k), interpolation=cv2.INTER_AREA) if k > 1 else gray
    f = small.shape[1] / gray.shape[1]
    chosen = _corner_blobs(_square_blobs(small), small.shape[1], small.shape[0])
    if chosen is None:
        return None
    points = []
    for b in chosen:
        refined = _refine(gray, b.x / f, b.y / f, b.side / f)
        if refined is None:
            return None
        points.append(refined)
    points = np.array(points, dtype=np.float32)
    return points if _plausible(points, float(np.mean([b.side for b in chosen])) / f) else None


#: the marks' centres span this many mm across and down the page
_SPAN_W = MARK_CENTERS[1][0] - MARK_CENTERS[0][0]
_SPAN_H = MARK_CENTERS[3][1] - MARK_CENTERS[0][1]


def _plausible(points: np.ndarray, side: float) -> bool:
    """Whether four blobs can be the corner marks: a convex quadrilateral shaped like the
    marks' rectangle (a phone's perspective allowed), blobs of about the marks' size for it."""
    if not cv2.isContourConvex(points.reshape(-1, 1, 2)):
        return False
    top = (np.linalg.norm(points[1] - points[0]) + np.linalg.norm(points[2] - points[3])) / 2
    left = (np.linalg.norm(points[3] - points[0]) + np.linalg.norm(points[2] - points[1])) / 2
    short, long = sorted((top, left))
    if not 0.8 < (short / long) / (_SPAN_W / _SPAN_H) < 1.25:
        return False
    mark_mm = side / (long / _SPAN_H)
    return 0.6 * MARK_SIZE < mark_mm < 1.6 * MARK_SIZE


def _qr_orientation(gray: np.ndarray, candidates: list[np.ndarray]) -> tuple[np.ndarray, str | None]:
    """The orientation whose QR box decodes; else the whole page decoded and its code's place
    decides; else the one whose QR box looks most like a code (busiest)."""
    for h in candidates:
        text = _decode_box(gray, h)
        if text:
            return h, text
    try:
        text, points, _ = _QR.detectAndDecode(gray)
    except cv2.error:
        text, points = "", None
    if text and points is not None:
        centre = points.reshape(-1, 2).mean(axis=0)
        qr_centre = np.array(QR_BOX.center) * SHEET_PX_PER_MM
        for h in candidates:
            p = cv2.perspectiveTransform(centre.reshape(1, 1, 2).astype(np.float64), h).reshape(2)
            if np.linalg.norm(p - qr_centre) < QR_BOX.w * SHEET_PX_PER_MM:
                return h, text
        return candidates[0], text
    busiest = max(candidates, key=lambda h: float(_warp(gray, h, QR_BOX, 2.0).std()))
    return busiest, None


def locate(page: PageImage) -> LocatedSheet:
    """Find the corner marks, rectify (rotation, scale, perspective; a sheet fed upside down is
    turned) and decode the QR code."""
    ppm = SHEET_PX_PER_MM
    gray = page.gray
    points = _find_marks(gray)
    if points is None:
        return LocatedSheet(page.file, page.page, _decode(gray), None, ppm, NO_MARKS)
    candidates = _homographies(points, ppm)
    h, text = _qr_orientation(gray, candidates)
    sheet = _warp(gray, h, None, ppm)
    if not _marks_dark(sheet, ppm):
        return LocatedSheet(page.file, page.page, text, None, ppm, NO_MARKS)
    return LocatedSheet(page.file, page.page, text, sheet, ppm, "" if text else NO_QR)


# -- reading -------------------------------------------------------------------------------------

def _box_px(box: Box, ppm: float) -> tuple[int, int, int, int]:
    return (int(round(box.x * ppm)), int(round(box.y * ppm)), int(round(box.right * ppm)), int(round(box.bottom * ppm)))


def _white_map(sheet: np.ndarray, ppm: float) -> np.ndarray:
    """The paper's local white at 1 px/mm: a grey dilation over 9 mm (wider than a bubble and a
    mark, so it sees the paper between them), smoothed."""
    small = cv2.resize(sheet, (int(PAGE_W_MM), int(PAGE_H_MM)), interpolation=cv2.INTER_AREA)
    white = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9)))
    return cv2.GaussianBlur(white, (0, 0), 3).astype(np.float64)


def _blank_levels(raw: list[np.ndarray]) -> list[float]:
    """The darkness of an empty printed bubble for each option letter (index): the median of
    the lower cluster of that letter's values on this sheet (values within 0.08 of its lightest),
    at most 0.08 above the sheet-wide blank level (a candidate who marked every A)."""
    by_letter: dict[int, list[float]] = {}
    for row in raw:
        for j, v in enumerate(row):
            by_letter.setdefault(j, []).append(float(v))

    def lower_cluster(values: list[float]) -> float:
        v = np.sort(np.asarray(values))
        return float(np.median(v[v <= v[0] + 0.08]))

    everything = [v for values in by_letter.values() for v in values]
    overall = min(lower_cluster(everything), 0.45)
    levels = {j: min(lower_cluster(values), overall + 0.08) for j, values in by_letter.items()}
    return [levels[j] for j in range(max(by_letter) + 1)] if levels else []


def measure(sheet: LocatedSheet, layout: SheetLayout) -> list[np.ndarray]:
    """Every bubble's darkness on the rectified sheet before blank correction: 0 paper, 1 as dark
    as the corner marks (per row, one value per option)."""
    if sheet.sheet is None:
        raise ValueError("the sheet was not located")
    img, ppm = sheet.sheet, sheet.px_per_mm
    white = _white_map(img, ppm)
    dx, dy = MEASURE_INSET
    boxes, centres = [], []
    for row in layout.rows:
        for b in row.bubbles:
            boxes.append(_box_px(b.inset(dx, dy), ppm))
            centres.append(b.center)
    mark_boxes = [_box_px(m.inset(MARK_SIZE * 0.2), ppm) for m in MARKS]
    means = np.array([img[y0:y1, x0:x1].mean() for x0, y0, x1, y1 in boxes + mark_boxes])
    cx, cy = np.array([c for c in centres] + [m.center for m in MARKS]).T
    paper = white[np.clip(cy.astype(int), 0, white.shape[0] - 1), np.clip(cx.astype(int), 0, white.shape[1] - 1)]
    norm = means / np.maximum(paper, 1.0)
    black = float(np.clip(np.median(norm[-4:]), 0.0, 0.5))
    darkness = np.clip((1.0 - norm[:-4]) / (1.0 - black), 0.0, 1.5)
    out, k = [], 0
    for row in layout.rows:
        out.append(darkness[k:k + len(row.bubbles)])
        k += len(row.bubbles)
    return out


def read_marks(sheet: LocatedSheet, layout: SheetLayout, multiple: Sequence[bool]) -> tuple[PositionRead, ...]:
    """Measure every bubble of ``layout`` on the rectified sheet and classify each row
    (``multiple[i]``: position i+1 is a 多选)."""
    if len(multiple) != len(layout.rows):
        raise ValueError(f"{len(multiple)} flags for {len(layout.rows)} rows")
    raw = measure(sheet, layout)
    blanks = _blank_levels(raw)
    corrected = [np.clip((r - blanks[:len(r)]) / (1.0 - np.asarray(blanks[:len(r)])), 0.0, 1.0) for r in raw]
    threshold = sheet_threshold(np.concatenate(corrected))
    return tuple(classify(row.position, d, multiple=bool(m), threshold=threshold)
                 for row, d, m in zip(layout.rows, corrected, multiple))


def crop(sheet: LocatedSheet, box_mm: Box, *, margin_mm: float = 2.0) -> np.ndarray:
    """The part of the rectified sheet under a layout box (for review crops and annotations)."""
    if sheet.sheet is None:
        raise ValueError("the sheet was not located")
    x0, y0, x1, y1 = _box_px(box_mm.inset(-margin_mm), sheet.px_per_mm)
    h, w = sheet.sheet.shape
    return sheet.sheet[max(0, y0):min(h, y1), max(0, x0):min(w, x1)].copy()


def encode_png(gray: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", gray)
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()
