"""ORM models. The catalog: standard -> level -> domain -> task -> requirement.

Codes are canonical and unique across the whole catalog (``530046-L2-1.3.4``); loading
matches rows by code, so a changed text is updated in place, never duplicated.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examengine.db.base import Base


class Standard(Base):
    __tablename__ = "standards"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(50))
    issuer: Mapped[str] = mapped_column(String(200))
    published: Mapped[str] = mapped_column(String(50))
    source: Mapped[str] = mapped_column(String(300))
    note: Mapped[str] = mapped_column(Text, default="")

    levels: Mapped[list[Level]] = relationship(
        back_populates="standard", order_by="Level.rank", cascade="all, delete-orphan"
    )
    corrections: Mapped[list[CatalogCorrection]] = relationship(
        back_populates="standard", order_by="CatalogCorrection.position", cascade="all, delete-orphan"
    )


class Level(Base):
    __tablename__ = "levels"
    __table_args__ = (UniqueConstraint("standard_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)  # 530046-L2
    level: Mapped[str] = mapped_column(String(2))  # L1 / L2 / L3
    rank: Mapped[int] = mapped_column(Integer)  # 1 / 2 / 3
    name: Mapped[str] = mapped_column(String(10))  # 初级 / 中级 / 高级
    description: Mapped[str] = mapped_column(Text, default="")

    standard: Mapped[Standard] = relationship(back_populates="levels")
    domains: Mapped[list[Domain]] = relationship(
        back_populates="level", order_by="Domain.position", cascade="all, delete-orphan"
    )


class Domain(Base):
    """A work domain (工作领域)."""

    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    level_id: Mapped[int] = mapped_column(ForeignKey("levels.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # 530046-L2-1
    number: Mapped[str] = mapped_column(String(8))  # 1
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)

    level: Mapped[Level] = relationship(back_populates="domains")
    tasks: Mapped[list[Task]] = relationship(
        back_populates="domain", order_by="Task.position", cascade="all, delete-orphan"
    )


class Task(Base):
    """A work task (工作任务)."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # 530046-L2-1.3
    number: Mapped[str] = mapped_column(String(12))  # 1.3
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)

    domain: Mapped[Domain] = relationship(back_populates="tasks")
    requirements: Mapped[list[Requirement]] = relationship(
        back_populates="task", order_by="Requirement.position", cascade="all, delete-orphan"
    )


class Requirement(Base):
    """A skill requirement (职业技能要求)."""

    __tablename__ = "requirements"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)  # 530046-L2-1.3.4
    number: Mapped[str] = mapped_column(String(16))  # 1.3.4
    text: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)

    task: Mapped[Task] = relationship(back_populates="requirements")


class CatalogCorrection(Base):
    """A conversion slip in the published text that the catalog corrects, kept for the record."""

    __tablename__ = "catalog_corrections"
    __table_args__ = (UniqueConstraint("code", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(48))
    field: Mapped[str] = mapped_column(String(16))  # text / number / name
    kind: Mapped[str] = mapped_column(String(24))  # english_word / punctuation / number
    original: Mapped[str] = mapped_column(Text)
    corrected: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)

    standard: Mapped[Standard] = relationship(back_populates="corrections")
