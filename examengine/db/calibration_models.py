"""ORM models of calibration: a stored run (what went in, how it converged, how it fits)
and its per-item estimates. Estimates reach the bank only through an explicit apply step
that records the values it replaced (``prev_*``) and an item event."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from examengine.db.base import Base


def _now() -> datetime:
    return datetime.now(UTC)


class CalibrationRun(Base):
    """One calibration: model, data window, persons and responses used, fit and convergence."""

    __tablename__ = "calibration_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(8))  # rasch / 2pl / 3pl
    engine: Mapped[str] = mapped_column(String(8))  # em / girth
    mode: Mapped[str] = mapped_column(String(8))  # pretest (operational fixed) / full (linked)
    scope: Mapped[str] = mapped_column(String(48))  # 530046 or 530046-L2
    since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    n_persons: Mapped[int] = mapped_column(Integer)
    n_responses: Mapped[int] = mapped_column(Integer)
    n_items: Mapped[int] = mapped_column(Integer)
    n_parameters: Mapped[int] = mapped_column(Integer)
    loglik: Mapped[float] = mapped_column(Float)
    aic: Mapped[float] = mapped_column(Float)
    bic: Mapped[float] = mapped_column(Float)
    population_mean: Mapped[float] = mapped_column(Float)
    population_sd: Mapped[float] = mapped_column(Float)
    converged: Mapped[bool] = mapped_column(Boolean)
    iterations: Mapped[int] = mapped_column(Integer)
    max_change: Mapped[float] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    options: Mapped[dict] = mapped_column(JSON, default=dict)  # priors, tolerance, linking constants
    status: Mapped[str] = mapped_column(String(12), default="estimated", index=True)  # estimated / applied
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    applied_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    estimates: Mapped[list[CalibrationEstimate]] = relationship(
        back_populates="run", order_by="CalibrationEstimate.external_id", cascade="all, delete-orphan"
    )


class CalibrationEstimate(Base):
    """One item version's estimate in a run (anchors too, with their fixed values)."""

    __tablename__ = "calibration_estimates"
    __table_args__ = (UniqueConstraint("run_id", "item_version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("calibration_runs.id", ondelete="CASCADE"), index=True)
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(12))  # anchor (held fixed) / estimated
    status: Mapped[str] = mapped_column(String(12))  # the item's status when the run was made
    n_responses: Mapped[int] = mapped_column(Integer)
    p_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    a: Mapped[float] = mapped_column(Float)
    b: Mapped[float] = mapped_column(Float)
    c: Mapped[float] = mapped_column(Float)
    se_a: Mapped[float | None] = mapped_column(Float, nullable=True)
    se_b: Mapped[float | None] = mapped_column(Float, nullable=True)
    se_c: Mapped[float | None] = mapped_column(Float, nullable=True)
    rmsd: Mapped[float | None] = mapped_column(Float, nullable=True)
    infit: Mapped[float | None] = mapped_column(Float, nullable=True)
    outfit: Mapped[float | None] = mapped_column(Float, nullable=True)
    drift: Mapped[bool] = mapped_column(Boolean, default=False)
    eligible: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # pretest items only
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    # the bank's values when the run was made, and whether the apply step wrote this estimate
    prev_model: Mapped[str] = mapped_column(String(3))
    prev_a: Mapped[float] = mapped_column(Float)
    prev_b: Mapped[float] = mapped_column(Float)
    prev_c: Mapped[float] = mapped_column(Float)
    prev_origin: Mapped[str] = mapped_column(String(64))
    applied: Mapped[bool] = mapped_column(Boolean, default=False)

    run: Mapped[CalibrationRun] = relationship(back_populates="estimates")
