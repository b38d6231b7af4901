"""Synthetic scans of our own printed answer sheets, for the reader's tests
(``tests/scanning``) and its benchmark (``benchmarks/scan_sheets.py``): it lives in the package
so both use the very same generator (nothing in the application calls it).

A printed sheet (the PDF ``rendering.pdf`` makes, rasterised) is filled for a known answer
vector, bubble by bubble, in one of the :class:`MarkKind` kinds, then degraded like a flatbed
scan (turned up to ±4°, scaled 0.95–1.05, shifted, blurred, noisy, contrast and paper tone
changed, JPEG quality 50) or like a phone photo (the same, plus a perspective warp, a dark
table around the page and uneven lighting). What comes back is the image file's bytes and the
truth: per position, the letters a person would read and the kind of mark.

Pencil is drawn as a multiplicative darkening with a grainy texture (graphite on paper), so a
mark keeps the printed letter and outline visible under it, as on paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np

from examengine.exam.items import LETTERS
from examengine.exam.sheet_layout import Box, SheetLayout
from examengine.scanning.reader import SCAN_DPI, load_pages


class MarkKind(str, Enum):
    DARK = "dark"  # a well-filled 2B mark: read
    LIGHT = "light"  # the whole bubble in light pencil, grey with texture: read
    PARTIAL = "partial"  # dark pencil over 60-70 % of the bubble: read
    FAINT = "faint"  # a trace too light to call: flagged faint
    ERASED = "erased"  # a light smudge left by an eraser beside a dark mark: the mark read, flagged erased
    DOUBLE = "double"  # two marks in a 单选/判断 row: flagged double
    BLANK = "blank"  # nothing: flagged blank


#: the kinds whose letters must be read exactly (the "clean" marks)
CLEAN = frozenset({MarkKind.DARK, MarkKind.LIGHT, MarkKind.PARTIAL})

#: darkening (share of the light absorbed) of each kind's pencil, a range drawn from uniformly
ALPHA = {MarkKind.DARK: (0.78, 0.95), MarkKind.LIGHT: (0.45, 0.6), MarkKind.PARTIAL: (0.78, 0.95),
         MarkKind.FAINT: (0.2, 0.28), MarkKind.ERASED: (0.1, 0.22)}


@dataclass(frozen=True)
class TruthRow:
    position: int
    letters: str  # what a person reads: the marked letters; a faint trace's letter; "" blank
    kind: MarkKind
    erased: str = ""  # the letter an eraser's residue is on (ERASED only)


@dataclass(frozen=True)
class SyntheticScan:
    image: bytes  # a JPEG file
    truth: tuple[TruthRow, ...]
    phone: bool  # degraded like a phone photo (perspective, lighting)


#: the mix of kinds of :func:`random_plan` (single-answer rows; 多选 rows are DARK/LIGHT with 2-3 letters)
DEFAULT_MIX = {MarkKind.DARK: 0.72, MarkKind.LIGHT: 0.08, MarkKind.PARTIAL: 0.08, MarkKind.FAINT: 0.03,
               MarkKind.ERASED: 0.03, MarkKind.DOUBLE: 0.03, MarkKind.BLANK: 0.03}


def printed_page(pdf: bytes, *, page: int = 1, dpi: int = SCAN_DPI) -> np.ndarray:
    """Page ``page`` (1-based) of a printed sheets PDF, rasterised grey at ``dpi``."""
    return load_pages("sheets.pdf", pdf, dpi=dpi)[page - 1].gray


def row_plan(position: int, n_options: int, kind: MarkKind, rng: np.random.Generator) -> TruthRow:
    """One 单选/判断 row of ``kind`` with random letters."""
    a, b = (int(x) for x in rng.choice(n_options, size=2, replace=False))
    if kind is MarkKind.BLANK:
        return TruthRow(position, "", kind)
    if kind is MarkKind.DOUBLE:
        return TruthRow(position, "".join(LETTERS[j] for j in sorted((a, b))), kind)
    if kind is MarkKind.ERASED:
        return TruthRow(position, LETTERS[a], kind, erased=LETTERS[b])
    return TruthRow(position, LETTERS[a], kind)


def random_plan(layout: SheetLayout, multiple: Sequence[bool], rng: np.random.Generator,
                mix: dict[MarkKind, float] | None = None) -> tuple[TruthRow, ...]:
    """A random answer vector with a kind of mark per position (``mix``: the kinds' shares in
    单选/判断 rows; 多选 rows get 2-3 dark or light marks)."""
    mix = mix or DEFAULT_MIX
    kinds, weights = list(mix), np.array(list(mix.values()), dtype=float)
    weights /= weights.sum()
    rows = []
    for row, multi in zip(layout.rows, multiple):
        n = len(row.bubbles)
        if multi:
            k = int(rng.integers(2, min(3, n) + 1))
            letters = "".join(LETTERS[j] for j in sorted(rng.choice(n, size=k, replace=False)))
            rows.append(TruthRow(row.position, letters, MarkKind.LIGHT if rng.random() < 0.1 else MarkKind.DARK))
        else:
            rows.append(row_plan(row.position, n, kinds[int(rng.choice(len(kinds), p=weights))], rng))
    return tuple(rows)


def _stadium(box: Box, ppm: float, origin: tuple[int, int], shape: tuple[int, int], grow: float = 0.0) -> np.ndarray:
    """A float mask (0..1, anti-aliased) of the bubble's round-ended shape, grown by ``grow`` mm."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    x = (xs + origin[0] + 0.5) / ppm
    y = (ys + origin[1] + 0.5) / ppm
    r = box.h / 2 + grow
    cy = box.y + box.h / 2
    cx = np.clip(x, box.x + box.h / 2, box.right - box.h / 2)
    dist = np.hypot(x - cx, y - cy)
    return np.clip((r - dist) * ppm + 0.5, 0.0, 1.0)


def _texture(shape: tuple[int, int], rng: np.random.Generator, grain: float) -> np.ndarray:
    """Graphite's grain: blurred noise around 1 with strokes along a random direction."""
    noise = rng.normal(1.0, grain, shape).astype(np.float32)
    k = int(rng.integers(2, 5))
    angle = rng.uniform(-0.6, 0.6)
    kernel = np.zeros((2 * k + 1, 2 * k + 1), np.float32)
    for t in range(-k, k + 1):
        kernel[k + int(round(t * np.sin(angle))), k + int(round(t * np.cos(angle)))] = 1.0
    kernel /= kernel.sum()
    return np.clip(cv2.filter2D(noise, -1, kernel), 0.0, 1.4)


def _mark(page: np.ndarray, box: Box, ppm: float, kind: MarkKind, rng: np.random.Generator) -> None:
    """Darken ``box`` on ``page`` (float 0..1, in place) as a pencil mark of ``kind``."""
    pad = 1.5
    x0, y0 = int((box.x - pad) * ppm), int((box.y - pad) * ppm)
    x1, y1 = int((box.right + pad) * ppm) + 1, int((box.bottom + pad) * ppm) + 1
    shape = (y1 - y0, x1 - x0)
    jitter = Box(box.x + rng.normal(0, 0.15), box.y + rng.normal(0, 0.1), box.w, box.h)
    if kind is MarkKind.ERASED:  # a smudge: blotchy, spread a little past the outline
        mask = _stadium(jitter, ppm, (x0, y0), shape, grow=rng.uniform(0.0, 0.5))
        blotch = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), ppm * 0.6)
        blotch = (blotch - blotch.min()) / max(float(np.ptp(blotch)), 1e-6)
        mask = mask * (0.4 + 0.9 * blotch)
        grain = 0.15
    else:
        grow = rng.uniform(-0.3, 0.35) if kind is not MarkKind.FAINT else rng.uniform(-0.4, 0.1)
        mask = _stadium(jitter, ppm, (x0, y0), shape, grow=grow)
        if kind is MarkKind.PARTIAL:  # keep 60-70 % of the filled area, cut along a random direction
            ys, xs = np.nonzero(mask > 0.5)
            theta = rng.uniform(0, 2 * np.pi)
            proj = np.cos(theta) * xs + np.sin(theta) * ys
            keep = np.quantile(proj, rng.uniform(0.6, 0.7))
            yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
            mask = mask * ((np.cos(theta) * xx + np.sin(theta) * yy) <= keep)
        grain = {MarkKind.LIGHT: 0.35, MarkKind.FAINT: 0.4}.get(kind, 0.2)
    alpha = rng.uniform(*ALPHA[kind])
    absorb = np.clip(alpha * mask * _texture(shape, rng, grain), 0.0, 0.97)
    page[y0:y1, x0:x1] *= 1.0 - absorb


def fill(page: np.ndarray, layout: SheetLayout, plan: Sequence[TruthRow], rng: np.random.Generator,
         *, dpi: int = SCAN_DPI) -> np.ndarray:
    """The printed ``page`` (grey, rasterised at ``dpi``) with the marks of ``plan``, as float 0..1."""
    ppm = dpi / 25.4
    out = page.astype(np.float32) / 255.0
    for truth in plan:
        row = layout.row(truth.position)
        kind = truth.kind
        marks = [(j, kind) for j, letter in enumerate(LETTERS[:len(row.bubbles)]) if letter in truth.letters]
        if kind is MarkKind.DOUBLE:
            marks = [(j, MarkKind.DARK if rng.random() < 0.8 else MarkKind.LIGHT) for j, _ in marks]
        elif kind is MarkKind.ERASED:
            marks = [(j, MarkKind.DARK) for j, _ in marks] + [(LETTERS.index(truth.erased), MarkKind.ERASED)]
        for j, k in marks:
            _mark(out, row.bubbles[j], ppm, k, rng)
    return out


def _encode(img: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.clip(img, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def degrade(page: np.ndarray, rng: np.random.Generator, *, phone: bool = False, max_turn: float = 4.0,
            scale: tuple[float, float] = (0.95, 1.05), quality: int = 50, upside_down: bool = False) -> bytes:
    """A filled page (float 0..1) as a scanner or a phone would hand it back, a JPEG file."""
    h, w = page.shape
    # paper tone and ink: the scanner's white and black, a gamma
    white, black = rng.uniform(0.82, 0.98), rng.uniform(0.0, 0.12)
    img = black + (white - black) * cv2.pow(page.astype(np.float32), rng.uniform(0.8, 1.25))
    if upside_down:
        img = cv2.rotate(img, cv2.ROTATE_180)
    margin = 0.12 if not phone else 0.25
    out_w, out_h = int(w * (1 + margin)), int(h * (1 + margin))
    s = rng.uniform(*scale)
    turn = rng.uniform(-max_turn, max_turn)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), turn, s)
    m[0, 2] += (out_w - w) / 2 + rng.uniform(-0.02, 0.02) * w
    m[1, 2] += (out_h - h) / 2 + rng.uniform(-0.02, 0.02) * h
    full = np.vstack([m, [0, 0, 1]])
    if phone:  # the camera looks at the page at an angle: move each corner a little
        src = np.float32([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]])
        dst = src + rng.uniform(-0.05, 0.05, (4, 2)).astype(np.float32) * np.float32([out_w, out_h])
        full = cv2.getPerspectiveTransform(src, dst) @ full
    background = rng.uniform(0.2, 0.5) if phone else rng.uniform(0.85, 1.0)
    img = cv2.warpPerspective(img, full, (out_w, out_h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=float(background))
    if phone:  # light from one side, a vignette (drawn small, smooth anyway)
        yy, xx = np.mgrid[0:64, 0:64].astype(np.float32) / 63 - 0.5
        theta = rng.uniform(0, 2 * np.pi)
        light = 1.0 - rng.uniform(0.2, 0.4) * (np.cos(theta) * xx + np.sin(theta) * yy + 0.5)
        light *= 1.0 - 0.5 * (xx ** 2 + yy ** 2)
        img *= cv2.resize(light, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.1))
    img = img * np.float32(255.0) + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(2.0, 6.0))
    return _encode(img, quality)


def synthetic_scan(page: np.ndarray, layout: SheetLayout, multiple: Sequence[bool], rng: np.random.Generator, *,
                   plan: Sequence[TruthRow] | None = None, phone: bool = False, upside_down: bool = False,
                   dpi: int = SCAN_DPI, quality: int = 50) -> SyntheticScan:
    """One filled and degraded scan of the printed ``page`` (rasterised at ``dpi``)."""
    plan = tuple(plan) if plan is not None else random_plan(layout, multiple, rng)
    filled = fill(page, layout, plan, rng, dpi=dpi)
    return SyntheticScan(degrade(filled, rng, phone=phone, quality=quality, upside_down=upside_down), plan, phone)
