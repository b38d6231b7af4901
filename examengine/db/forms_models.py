"""Paper forms: an assembly run (N parallel forms of a blueprint version), its forms and their
items (item versions, in print order), the exams a form was used in, and paper results."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examengine.db.base import Base


def _now() -> datetime:
    return datetime.now(UTC)


class FormAssembly(Base):
    """One assembly run: the request (forms, length, overlap, seed, options) and the solver's
    report (gap, information at the cuts, the forms' difference)."""

    __tablename__ = "form_assemblies"

    id: Mapped[int] = mapped_column(primary_key=True)
    blueprint_version_id: Mapped[int] = mapped_column(ForeignKey("blueprint_versions.id"), index=True)
    n_forms: Mapped[int] = mapped_column(Integer)
    length: Mapped[int] = mapped_column(Integer)
    max_overlap: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[int] = mapped_column(Integer)
    cuts: Mapped[list] = mapped_column(JSON)  # the 初级/中级/高级 thetas at assembly time
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    forms: Mapped[list[Form]] = relationship(back_populates="assembly", order_by="Form.code",
                                             cascade="all, delete-orphan")


class Form(Base):
    """A fixed (paper) form: code A/B/... within its assembly; printed_at is set (and its item
    versions frozen) the first time it is printed."""

    __tablename__ = "forms"
    __table_args__ = (UniqueConstraint("assembly_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_id: Mapped[int] = mapped_column(ForeignKey("form_assemblies.id", ondelete="CASCADE"), index=True)
    blueprint_version_id: Mapped[int] = mapped_column(ForeignKey("blueprint_versions.id"), index=True)
    code: Mapped[str] = mapped_column(String(2))
    information: Mapped[dict] = mapped_column(JSON, default=dict)  # {theta: information}
    printed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    assembly: Mapped[FormAssembly] = relationship(back_populates="forms")
    items: Mapped[list[FormItem]] = relationship(back_populates="form", order_by="FormItem.position",
                                                 cascade="all, delete-orphan")


class FormItem(Base):
    """One printed position of a form: the item version (frozen when printed)."""

    __tablename__ = "form_items"
    __table_args__ = (UniqueConstraint("form_id", "position"), UniqueConstraint("form_id", "item_version_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1-based, the printed number
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))

    form: Mapped[Form] = relationship(back_populates="items")


class FormUse(Base):
    """A form administered in an exam (printed for its roster, or scored for it): the recent
    administrations an assembly may be told to avoid."""

    __tablename__ = "form_uses"
    __table_args__ = (UniqueConstraint("form_id", "exam_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class PaperResult(Base):
    """A candidate's paper sitting, scored on the form's items: answers as read, item scores,
    theta and SE (EAP, the online prior), and the result as an online attempt's."""

    __tablename__ = "paper_results"
    __table_args__ = (UniqueConstraint("exam_id", "candidate_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    answers: Mapped[list] = mapped_column(JSON)  # per position: chosen letters ([] = omitted)
    scores: Mapped[list] = mapped_column(JSON)  # per position: 0/1
    raw_score: Mapped[int] = mapped_column(Integer)
    theta: Mapped[float] = mapped_column(Float)
    se: Mapped[float] = mapped_column(Float)
    result: Mapped[dict] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(255), default="")
    scored_by: Mapped[str] = mapped_column(String(100))
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
