"""The bank revision: one counter raised in the same transaction as every ORM change to what an
exam pool is built from (and to a blueprint version, whose exposure parameters may be stored
later). Pool caches (``services.mapping.load_pool``) are keyed on it, so a
cache costs one primary-key read per request instead of aggregate scans over the bank, and
several workers never disagree: each sees the change at the commit that made it.

Changes that do not alter a pool are ignored (``ItemVersion.frozen``, set when an attempt or a
printed form first uses a version). A change made outside the ORM (a hand-written SQL UPDATE)
must raise the counter itself: ``UPDATE bank_revision SET revision = revision + 1``.
"""

from __future__ import annotations

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import Session

from examengine.db.models import (
    BankRevision,
    BlueprintVersion,
    Domain,
    Item,
    ItemVersion,
    ItemVersionRequirement,
    Level,
    Requirement,
    Standard,
    Task,
)

# BlueprintVersion: a version's YAML never changes, but its stored Sympson-Hetter parameters do
# (``exposure calibrate``); the attempts' blueprint cache is keyed on the revision too.
WATCHED = (Item, ItemVersion, ItemVersionRequirement, Requirement, Task, Domain, Level, Standard, BlueprintVersion)
IGNORED_ATTRIBUTES = frozenset({"frozen"})


def _changes_pool(obj: object) -> bool:
    state = inspect(obj)
    for attr in state.mapper.column_attrs:
        if attr.key in IGNORED_ATTRIBUTES:
            continue
        if state.attrs[attr.key].history.has_changes():
            return True
    return False


@event.listens_for(Session, "before_flush")
def _raise_revision(session: Session, _context, _instances) -> None:
    touched = any(isinstance(o, WATCHED) for o in session.new) or any(
        isinstance(o, WATCHED) for o in session.deleted) or any(
        isinstance(o, WATCHED) and _changes_pool(o) for o in session.dirty)
    if touched and not session.info.get("bank_revision_raised_in_tx"):
        # once per transaction is enough: the stamp only has to differ after the commit
        conn = session.connection()
        if conn.execute(update(BankRevision).values(revision=BankRevision.revision + 1)).rowcount == 0:
            conn.execute(insert(BankRevision).values(id=1, revision=1))  # the row was missing
        session.info["bank_revision_raised_in_tx"] = True


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _end_of_transaction(session: Session) -> None:
    session.info.pop("bank_revision_raised_in_tx", None)


def bank_revision(session: Session) -> int:
    """The current revision (0 on a database that has never changed its bank)."""
    return session.execute(select(BankRevision.revision).where(BankRevision.id == 1)).scalar() or 0
