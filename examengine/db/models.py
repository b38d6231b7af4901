"""ORM models. The catalog: standard -> level -> domain -> task -> requirement.

Codes are canonical and unique across the whole catalog (``530046-L2-1.3.4``); loading
matches rows by code, so a changed text is updated in place, never duplicated.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, false, text,
)
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


# ---------------------------------------------------------------- the item bank






def utcnow() -> datetime:
    return datetime.now(UTC)


class ItemSet(Base):
    """One upload by an item writer: kept with its bytes, its report and what it did."""

    __tablename__ = "item_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(10))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(12))  # pending / applied / rejected
    title: Mapped[str] = mapped_column(String(300), default="")
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    options: Mapped[dict] = mapped_column(JSON, default=dict)  # default requirements, status for new items
    report: Mapped[dict] = mapped_column(JSON, default=dict)


class Item(Base):
    """An item: identity, lifecycle status and the pointer to its current version."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id"), index=True)
    level_id: Mapped[int] = mapped_column(ForeignKey("levels.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    author: Mapped[str] = mapped_column(String(100), default="")
    source: Mapped[str] = mapped_column(String(200), default="")
    enemy_group: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    versions: Mapped[list[ItemVersion]] = relationship(
        back_populates="item", order_by="ItemVersion.number", cascade="all, delete-orphan"
    )
    events: Mapped[list[ItemEvent]] = relationship(
        back_populates="item", order_by="ItemEvent.id", cascade="all, delete-orphan"
    )
    level: Mapped[Level] = relationship()


class ItemVersion(Base):
    """One version of an item's content. Frozen once an attempt or a printed form used it:
    a later edit then makes a new version, and responses keep pointing at this one."""

    __tablename__ = "item_versions"
    __table_args__ = (UniqueConstraint("item_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(4))  # 单选 / 多选 / 判断
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[list] = mapped_column(JSON)
    key: Mapped[list] = mapped_column(JSON)  # 0-based option indices
    explanation: Mapped[str] = mapped_column(Text, default="")
    difficulty: Mapped[int | None] = mapped_column(Integer, nullable=True)
    irt_model: Mapped[str] = mapped_column(String(3))
    irt_a: Mapped[float] = mapped_column(Float)
    irt_b: Mapped[float] = mapped_column(Float)
    irt_c: Mapped[float] = mapped_column(Float, default=0.0)
    irt_origin: Mapped[str] = mapped_column(String(64), default="provisional")
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    item_set_id: Mapped[int | None] = mapped_column(ForeignKey("item_sets.id"), nullable=True, index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    item: Mapped[Item] = relationship(back_populates="versions")
    requirements: Mapped[list[ItemVersionRequirement]] = relationship(
        back_populates="version", order_by="ItemVersionRequirement.position", cascade="all, delete-orphan"
    )
    images: Mapped[list[ItemImage]] = relationship(
        back_populates="version", order_by="ItemImage.name", cascade="all, delete-orphan"
    )


class ItemVersionRequirement(Base):
    """A version's tag to a requirement code."""

    __tablename__ = "item_version_requirements"
    __table_args__ = (UniqueConstraint("version_id", "requirement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id", ondelete="CASCADE"), index=True)
    requirement_id: Mapped[int] = mapped_column(ForeignKey("requirements.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)

    version: Mapped[ItemVersion] = relationship(back_populates="requirements")
    requirement: Mapped[Requirement] = relationship()


class ItemImage(Base):
    """A picture of an item version, stored with it (referenced in the stem as [图片:name])."""

    __tablename__ = "item_images"
    __table_args__ = (UniqueConstraint("version_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    alt: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))  # the description (alt text)

    version: Mapped[ItemVersion] = relationship(back_populates="images")


class ItemEvent(Base):
    """What happened to an item: created, new version, edited, status changed (who, when, what)."""

    __tablename__ = "item_events"
    __table_args__ = (Index("ix_item_events_item_id_at", "item_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    version_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    item: Mapped[Item] = relationship(back_populates="events")


class BankRevision(Base):
    """One row: a counter raised in the same transaction as every change to what an exam pool is
    built from (items, item versions and their requirement tags, the catalog). Per-process pool
    caches are keyed on it, so every worker sees a change at the commit that makes it
    (see ``examengine.db.revision``)."""

    __tablename__ = "bank_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)


# ---------------------------------------------------------------- blueprints


class BlueprintVersion(Base):
    """One version of a blueprint as signed off (the YAML, parsed). An attempt records the
    version it ran under; a changed file makes a new version, never an edit in place."""

    __tablename__ = "blueprint_versions"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), index=True)  # 530046-L2
    version: Mapped[int] = mapped_column(Integer)
    level_id: Mapped[int] = mapped_column(ForeignKey("levels.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[dict] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    exposure: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # Sympson-Hetter: {item id: k}, report


# ---------------------------------------------------------------- exams and attempts


class Exam(Base):
    """An administration: a blueprint version, a window, a time limit, a roster."""

    __tablename__ = "exams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    blueprint_version_id: Mapped[int] = mapped_column(ForeignKey("blueprint_versions.id"), index=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    time_limit_minutes: Mapped[int] = mapped_column(Integer)
    results_policy: Mapped[str] = mapped_column(String(12))  # immediate / release
    results_released: Mapped[bool] = mapped_column(Boolean, default=False)
    # sign-in rules (services/attempts.py): the last four of the ID card asked at sign-in; a
    # second device continues a started attempt only once a proctor approves
    require_id_last4: Mapped[bool] = mapped_column(Boolean, default=False)
    approve_new_device: Mapped[bool] = mapped_column(Boolean, default=False)
    # how the exam is delivered (exam.attempts.ExamMode): adaptive (CAT), linear (a fixed form,
    # ``form_id``, in form order, answers changeable until submitted), loft (a form per attempt)
    mode: Mapped[str] = mapped_column(String(8), default="adaptive", server_default="adaptive")
    form_id: Mapped[int | None] = mapped_column(ForeignKey("forms.id"), nullable=True, index=True)
    # the secret answer sheets' QR codes are signed with (exam.sheet_codes), set when sheets are
    # first printed for the exam
    sheet_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    blueprint_version: Mapped[BlueprintVersion] = relationship()
    form: Mapped[Form | None] = relationship()  # noqa: F821 (examengine.db.forms_models, registered below)
    candidates: Mapped[list[Candidate]] = relationship(
        back_populates="exam", order_by="Candidate.ticket", cascade="all, delete-orphan"
    )


class Candidate(Base):
    """One roster entry: 准考证号, 姓名, optional last four of the ID card, 考场, 座位号, access code."""

    __tablename__ = "candidates"
    __table_args__ = (UniqueConstraint("exam_id", "ticket"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    ticket: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(100))
    id_last4: Mapped[str] = mapped_column(String(4), default="")
    room: Mapped[str] = mapped_column(String(50), default="")
    seat: Mapped[str] = mapped_column(String(20), default="")
    access_code: Mapped[str] = mapped_column(String(16))
    # group memberships from the roster's group columns ({"性别": "女", "地区": "华东"}): shown to
    # admins only (never on tickets, proctor or candidate pages) and used only in analyses (DIF)
    groups: Mapped[dict] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    # accommodations from the roster (延时, 大字号, 读屏): extra time as a share of the time limit
    # (25 = +25 %) and/or in minutes, applied at sign-in; large print starts the candidate pages at
    # 150 %; a screen-reader user is shown to the proctor. Recorded in the audit log on import.
    extra_percent: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    extra_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    large_print: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reader: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # failed sign-ins before this time no longer count towards the ticket's lock (a proctor unlocked it)
    unlocked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the paper form the candidate sits (services/form_assignments): their answer sheet is printed
    # from this form only, and paper answers on another form are refused; None: not assigned
    form_id: Mapped[int | None] = mapped_column(ForeignKey("forms.id"), nullable=True, index=True)
    # the form code the roster's 试卷 column asks for ("" without one): `forms assign --by column`
    roster_form: Mapped[str] = mapped_column(String(2), default="", server_default=text("''"))

    exam: Mapped[Exam] = relationship(back_populates="candidates")
    form: Mapped[Form | None] = relationship()  # noqa: F821 (examengine.db.forms_models, registered below)


class Attempt(Base):
    """One candidate's sitting of an exam. The engine state is never stored: it is rebuilt
    from the attempt's rows (seed + responses) on every request."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), unique=True)
    blueprint_version_id: Mapped[int] = mapped_column(ForeignKey("blueprint_versions.id"))
    seed: Mapped[int] = mapped_column(Integer)
    cuts: Mapped[list] = mapped_column(JSON)  # the 初级/中级/高级 thetas resolved when the attempt began
    status: Mapped[str] = mapped_column(String(12), index=True)  # exam.attempts.AttemptStatus
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # a token works until the exam window ends; a sign-in after the window (possible only for a
    # started attempt) gets a token that works until this time (services/attempts.py)
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    extra_seconds: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finish_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    theta: Mapped[float | None] = mapped_column(Float, nullable=True)
    se: Mapped[float | None] = mapped_column(Float, nullable=True)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    candidate: Mapped[Candidate] = relationship()
    exam: Mapped[Exam] = relationship()
    items: Mapped[list[AttemptItem]] = relationship(
        back_populates="attempt", order_by="AttemptItem.position", cascade="all, delete-orphan"
    )


class AttemptItem(Base):
    """One position of an attempt: the item version shown (chosen once, stored before it is
    shown) and, once answered, the answer and its score. (attempt, position) is unique, so an
    answer posted twice, or from two tabs at once, is recorded once."""

    __tablename__ = "attempt_items"
    __table_args__ = (UniqueConstraint("attempt_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1-based
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    scored: Mapped[bool] = mapped_column(Boolean)  # False: an unscored pretest item
    set_aside: Mapped[list] = mapped_column(JSON, default=list)  # items that lost the exposure lottery
    presented_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answer: Mapped[list | None] = mapped_column(JSON, nullable=True)  # chosen option labels
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # a linear exam's candidate marked the position to come back to (services/linear.py)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    attempt: Mapped[Attempt] = relationship(back_populates="items")
    version: Mapped[ItemVersion] = relationship()


class AttemptEvent(Base):
    """Proctor actions on an attempt: time extensions and voids (who, when, what)."""

    __tablename__ = "attempt_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class SignInRecord(Base):
    """Every candidate sign-in, successful or not: when, from which address and browser, and
    whether it moved the attempt to another device. A held sign-in (the exam wants a proctor's
    approval for a second device) keeps the hash of the token it issued until it is decided."""

    __tablename__ = "sign_ins"
    __table_args__ = (Index("ix_sign_ins_ticket_at", "ticket", "at"), Index("ix_sign_ins_address_at", "address", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ticket: Mapped[str] = mapped_column(String(40))
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), nullable=True,
                                                     index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), nullable=True,
                                                   index=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    device: Mapped[str] = mapped_column(String(64), default="")  # hash of the browser's device cookie, if any
    outcome: Mapped[str] = mapped_column(String(16))  # exam.attempts.SignInOutcome
    new_device: Mapped[bool] = mapped_column(Boolean, default=False)
    token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# ---------------------------------------------------------------- staff accounts


class User(Base):
    """A staff account: admin, item writer or proctor. Candidates have no account: they sign in
    to one attempt with 准考证号 + access code."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))  # admin / item_writer / proctor
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StaffSession(Base):
    """A signed-in staff session (kept in the database, so every worker knows it)."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class ProctorAssignment(Base):
    """Which exams a proctor may run (admins may run every exam)."""

    __tablename__ = "proctor_assignments"
    __table_args__ = (UniqueConstraint("user_id", "exam_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)


class AuditEvent(Base):
    """The audit log: who did what, when, to what, with the state before and after. Written by
    the services in the same transaction as the change; read by admins."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40), index=True)  # e.g. item.status, exam.create, attempt.void
    target: Mapped[str] = mapped_column(String(100))  # e.g. item 530046-L1-001, exam 3, attempt 17
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)


# Models of later parts live in their own modules; importing them here registers their tables
# with Base.metadata wherever the models are loaded (the app, the CLI, Alembic).
from examengine.db import calibration_models as _calibration_models  # noqa: E402,F401
from examengine.db import forms_models as _forms_models  # noqa: E402,F401
from examengine.db import scan_models as _scan_models  # noqa: E402,F401
