"""``examengine init``: migrate the database and load the shipped data, idempotently."""

from __future__ import annotations

from dataclasses import dataclass, field

from examengine.config import Settings
from examengine.datafiles import read_blueprints_dir, read_standards_dir
from examengine.db import migrate
from examengine.db.engine import make_engine, make_sessionmaker
from examengine.errors import DataFileError
from examengine.exam.items import ItemStatus
from examengine.itemfiles.reader import parse_upload
from examengine.services.blueprints import BlueprintLoad, load_blueprints
from examengine.services.catalog import CatalogLoadReport, load_catalog
from examengine.services.items import ImportReport, import_item_set


@dataclass(frozen=True)
class InitReport:
    database_url: str
    revision_before: str | None
    revision_after: str | None
    catalog: CatalogLoadReport
    item_sets: list[ImportReport] = field(default_factory=list)
    blueprints: list[BlueprintLoad] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return (self.revision_before != self.revision_after or self.catalog.changed
                or any(r.created or r.new_versions or r.updated for r in self.item_sets)
                or any(b.action != "unchanged" for b in self.blueprints))


def initialize(settings: Settings) -> InitReport:
    """Upgrade the schema to head, then load the standards catalog (and, as later parts
    add them, the blueprints, the sample item bank and a demo exam)."""
    standards = read_standards_dir(settings.standards_dir)  # validate files before touching the db
    bank_files = sorted(settings.itembank_dir.glob("*.json")) if settings.itembank_dir.is_dir() else []
    parsed = [parse_upload(p.name, p.read_bytes()) for p in bank_files]
    problems = [p for up in parsed for p in up.problems]
    if problems:
        raise DataFileError(problems)
    blueprints = read_blueprints_dir(settings.blueprints_dir)
    before = migrate.current_revision(settings.database_url)
    migrate.upgrade(settings.database_url)
    after = migrate.current_revision(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as db:
            catalog = load_catalog(db, standards)
            # The sample bank: operational, with provisional parameters, so the demo can run.
            item_sets = [
                import_item_set(db, up, data=path.read_bytes(), actor="examengine init",
                                status_for_new=ItemStatus.OPERATIONAL)
                for path, up in zip(bank_files, parsed, strict=True)
            ]
            loaded = load_blueprints(db, blueprints, actor="examengine init")
    finally:
        engine.dispose()
    return InitReport(settings.database_url, before, after, catalog, item_sets, loaded)
