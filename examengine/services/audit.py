"""The audit log: one function to write an entry (in the caller's transaction), one to read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from examengine.db.models import AuditEvent


def record(db: Session, *, actor: str, action: str, target: str, before: dict | None = None,
           after: dict | None = None, at: datetime | None = None) -> None:
    """Add an audit entry (at ``at``, else now); the caller's commit writes it together with the change."""
    event = AuditEvent(actor=actor, action=action, target=target, before=before, after=after)
    if at is not None:
        event.at = at
    db.add(event)


@dataclass(frozen=True)
class AuditEntry:
    at: str
    actor: str
    action: str
    target: str
    before: dict | None
    after: dict | None


def read(db: Session, *, action: str = "", target: str = "", limit: int = 200) -> list[AuditEntry]:
    q = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action:
        q = q.where(AuditEvent.action.like(f"{action}%"))
    if target:
        q = q.where(AuditEvent.target == target)
    return [AuditEntry(e.at.isoformat(timespec="seconds"), e.actor, e.action, e.target, e.before, e.after)
            for e in db.scalars(q)]
