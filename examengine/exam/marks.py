"""What a row of bubbles says: blank-corrected darkness per option -> the letters read, a
confidence and flags (double, blank, faint, erased). Pure; thresholds calibrated on
synthetic and printed scans (see ``benchmarks/scan_sheets.py``).

Darkness is measured by the reader (``scanning.reader``) inside each bubble and scaled so that
0 is the bubble as printed (its outline and letter: the sheet's own empty bubbles) and 1 is as
dark as the sheet's corner marks, after dividing by the paper's local white; so lighting,
contrast and the scanner's gamma cancel out. On that scale, an option is

- **marked** at or above the sheet's fill threshold (:func:`sheet_threshold`: between 0.28
  and 0.42, in the widest gap the sheet's own bubble values leave there, OMRChecker's idea: a
  light-handed candidate's marks are all light, and the threshold goes under them);
- **faint** from :data:`FAINT_MIN` up to the threshold: a mark too light to call; not counted
  silently: flagged, and reported as the letter read (with a low confidence) only when the row
  has no clear mark, for the reviewer to confirm;
- **residue** from :data:`EMPTY_MAX` up to :data:`FAINT_MIN`: what an eraser leaves; never
  counted, flagged ``erased`` (next to a clear mark, or alone in a row left blank);
- **empty** below :data:`EMPTY_MAX`.

A 单选 or 判断 row with more than one marked option is flagged ``double`` (every marked letter is
reported); a row with nothing marked and nothing faint is ``blank``. The confidence is how far
the row's options lie from the fill threshold (0.5 at the threshold, 1 at
:data:`CONFIDENT_MARGIN` or more from it); a faint reading is at most :data:`FAINT_CONFIDENCE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from examengine.exam.items import LETTERS

#: below this confidence a position goes to the review queue even without a flag
REVIEW_CONFIDENCE = 0.8

#: darkness below this is an empty bubble
EMPTY_MAX = 0.06
#: darkness from EMPTY_MAX to here is an eraser's residue, from here to the threshold a faint mark
FAINT_MIN = 0.15
#: the fill threshold without a clear gap on the sheet, and the range a gap may move it in
DEFAULT_THRESHOLD = 0.35
THRESHOLD_RANGE = (0.28, 0.42)
#: the smallest gap between sorted darkness values that moves the threshold
MIN_GAP = 0.08
#: distance from the threshold at which a reading is certain
CONFIDENT_MARGIN = 0.06
#: a faint reading's confidence is at most this
FAINT_CONFIDENCE = 0.4


class MarkFlag(str, Enum):
    DOUBLE = "double"  # more marks than a 单选/判断 allows
    BLANK = "blank"  # no mark at all
    FAINT = "faint"  # a mark too light to call filled or empty
    ERASED = "erased"  # a residue read as an erased mark (not counted)


#: how the flags read on staff pages
FLAG_NAMES = {MarkFlag.DOUBLE: "多涂", MarkFlag.BLANK: "未涂", MarkFlag.FAINT: "涂痕过浅", MarkFlag.ERASED: "擦除痕迹"}


@dataclass(frozen=True)
class PositionRead:
    position: int  # 1-based printed number
    letters: str  # the options read as marked, in order ("" none, "AC")
    darkness: tuple[float, ...]  # per option, blank-corrected, 0 (as printed) .. 1 (solid)
    confidence: float  # 0..1
    flags: tuple[MarkFlag, ...]

    @property
    def needs_review(self) -> bool:
        return bool(self.flags) or self.confidence < REVIEW_CONFIDENCE


def sheet_threshold(darkness: Sequence[float]) -> float:
    """The fill threshold of one sheet from every bubble's darkness on it (OMRChecker's idea:
    threshold in a gap of the sorted bubble values, so no bubble sits at the threshold).

    Of the gaps between consecutive sorted values at least :data:`MIN_GAP` wide, the one whose
    stretch inside :data:`THRESHOLD_RANGE` is widest; the threshold is the middle of that stretch.
    A sheet of dark marks and empty bubbles keeps the middle of the range (0.35); a sheet whose
    marks are all light moves it down to just under them (never below 0.28); light marks on the
    sheet move it away from them. Without a gap across the range: :data:`DEFAULT_THRESHOLD`."""
    values = np.sort(np.asarray(darkness, dtype=float).ravel())
    lo, hi = THRESHOLD_RANGE
    if values.size < 2:
        return DEFAULT_THRESHOLD
    below, above = values[:-1], values[1:]
    start, end = np.maximum(below, lo), np.minimum(above, hi)
    stretch = np.where(above - below >= MIN_GAP, end - start, -1.0)
    best = int(np.argmax(stretch))
    if stretch[best] <= 0:
        return DEFAULT_THRESHOLD
    return float((start[best] + end[best]) / 2)


def _confidence(darkness: Sequence[float], threshold: float) -> float:
    margin = min(abs(d - threshold) for d in darkness)
    return float(min(1.0, 0.5 + 0.5 * margin / CONFIDENT_MARGIN))


def classify(position: int, darkness: Sequence[float], *, multiple: bool,
             threshold: float = DEFAULT_THRESHOLD) -> PositionRead:
    """One row: ``multiple`` for a 多选 (any number of marks allowed), else at most one;
    ``threshold`` the sheet's fill threshold (:func:`sheet_threshold`)."""
    d = tuple(float(min(1.0, max(0.0, x))) for x in darkness)
    marked = [j for j, x in enumerate(d) if x >= threshold]
    faint = [j for j, x in enumerate(d) if FAINT_MIN <= x < threshold]
    residue = [j for j, x in enumerate(d) if EMPTY_MAX <= x < min(FAINT_MIN, threshold)]
    flags: list[MarkFlag] = []
    confidence = _confidence(d, threshold)
    if marked:
        chosen = marked
        if len(marked) > 1 and not multiple:
            flags.append(MarkFlag.DOUBLE)
        if faint:
            # a lighter mark beside a clear one: an erasure that left much behind, or a half-hearted
            # second answer; either way not counted, and a person looks
            flags.append(MarkFlag.ERASED if not multiple else MarkFlag.FAINT)
        if residue and MarkFlag.ERASED not in flags:
            flags.append(MarkFlag.ERASED)
    elif faint:
        chosen = faint if multiple else [max(faint, key=lambda j: d[j])]
        flags.append(MarkFlag.FAINT)
        confidence = min(confidence, FAINT_CONFIDENCE)
    else:
        chosen = []
        flags.append(MarkFlag.BLANK)
        if residue:
            flags.append(MarkFlag.ERASED)
    letters = "".join(LETTERS[j] for j in sorted(chosen))
    return PositionRead(position, letters, tuple(round(x, 4) for x in d), round(confidence, 4), tuple(flags))
