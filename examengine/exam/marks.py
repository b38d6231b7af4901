"""What a row of bubbles says: blank-corrected darkness per option -> the letters read, a
confidence and flags (double, blank, faint, erased). Pure; thresholds calibrated on
synthetic and printed scans (see ``benchmarks/scan_sheets.py``).

CONTRACT (helper A implements; other modules rely on these names and fields).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

#: below this confidence a position goes to the review queue even without a flag
REVIEW_CONFIDENCE = 0.8


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


def classify(position: int, darkness: Sequence[float], *, multiple: bool) -> PositionRead:
    """One row: ``multiple`` for a 多选 (any number of marks allowed), else at most one."""
    raise NotImplementedError
