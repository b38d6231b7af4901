"""``examengine init``: migrate the database and load the shipped data, idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from examengine.config import Settings
from examengine.datafiles import read_standards_dir
from examengine.db import migrate
from examengine.db.engine import make_engine, make_sessionmaker
from examengine.services.catalog import CatalogLoadReport, load_catalog


@dataclass(frozen=True)
class InitReport:
    database_url: str
    revision_before: str | None
    revision_after: str | None
    catalog: CatalogLoadReport

    @property
    def changed(self) -> bool:
        return self.revision_before != self.revision_after or self.catalog.changed


def initialize(settings: Settings) -> InitReport:
    """Upgrade the schema to head, then load the standards catalog (and, as later parts
    add them, the blueprints, the sample item bank and a demo exam)."""
    standards = read_standards_dir(settings.standards_dir)  # validate files before touching the db
    before = migrate.current_revision(settings.database_url)
    migrate.upgrade(settings.database_url)
    after = migrate.current_revision(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as db:
            catalog = load_catalog(db, standards)
    finally:
        engine.dispose()
    return InitReport(settings.database_url, before, after, catalog)
