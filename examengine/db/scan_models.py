"""Scanned answer sheets: one row per page read (or refused) for an exam, with what was read
per position, the answers after review, the corrections made and the rectified sheet image
(kept for review crops and appeals)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from examengine.db.base import Base


def _now() -> datetime:
    return datetime.now(UTC)


class ScannedSheet(Base):
    """A page of an upload of scans. ``status`` is an ``exam.sheet_codes.SheetStatus``;
    ``positions`` what the reader saw per position (letters, darkness, confidence, flags);
    ``answers`` the letters per position after review ({"1": "A", ...}; "" none);
    ``corrections`` who changed which position from what to what, and when; ``digest`` the
    letters read (``sheet_codes.marks_digest``): the same sheet read again with the same marks
    changes nothing, with other marks is refused; ``source`` the file's digest and the page
    (the same page uploaded again is recognised even when it could not be read)."""

    __tablename__ = "scanned_sheets"

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), nullable=True,
                                                     index=True)
    form_id: Mapped[int | None] = mapped_column(ForeignKey("forms.id"), nullable=True, index=True)
    file: Mapped[str] = mapped_column(String(255))
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1-based page of a PDF
    source: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of the file and page
    qr: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), index=True)
    problem: Mapped[str] = mapped_column(Text, default="")
    positions: Mapped[list] = mapped_column(JSON, default=list)
    answers: Mapped[dict] = mapped_column(JSON, default=dict)
    corrections: Mapped[list] = mapped_column(JSON, default=list)
    image: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # rectified sheet, gray JPEG ~100 dpi
    px_per_mm: Mapped[float | None] = mapped_column(Float, nullable=True)  # of ``image``
    digest: Mapped[str] = mapped_column(String(64), default="")
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
