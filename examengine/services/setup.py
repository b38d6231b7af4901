"""``examengine init``: migrate the database and load the shipped data, idempotently."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select

from examengine.config import Settings
from examengine.datafiles import read_blueprints_dir, read_standards_dir
from examengine.db import migrate
from examengine.db.engine import make_engine, make_sessionmaker
from examengine.errors import DataFileError
from examengine.db.models import Item, ItemVersion
from examengine.exam.items import ItemStatus, is_provisional
from examengine.itemfiles.reader import parse_upload
from examengine.services.blueprints import BlueprintLoad, load_blueprints
from examengine.services.catalog import CatalogLoadReport, load_catalog
from examengine.services.items import ImportReport, import_item_set
from examengine.services.simulation import SHIPPED_EXPOSURE_FILE, ShippedExposure, load_shipped_exposure


@dataclass(frozen=True)
class InitReport:
    database_url: str
    revision_before: str | None
    revision_after: str | None
    catalog: CatalogLoadReport
    item_sets: list[ImportReport] = field(default_factory=list)
    blueprints: list[BlueprintLoad] = field(default_factory=list)
    demo: DemoExam | None = None
    admin_password: str | None = None  # set only when init created the first admin account
    exposure: list[ShippedExposure] = field(default_factory=list)
    # operational items in the bank, and how many of them have provisional parameters (the sample
    # bank loads operational with provisional parameters, for the demo: results on them are 暂定)
    operational_items: int = 0
    provisional_items: int = 0

    @property
    def changed(self) -> bool:
        return (self.revision_before != self.revision_after or self.catalog.changed
                or any(r.created or r.new_versions or r.updated for r in self.item_sets)
                or any(b.action != "unchanged" for b in self.blueprints)
                or (self.demo is not None and self.demo.created) or self.admin_password is not None
                or any(e.action == "stored" for e in self.exposure))


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
    shipped_path = settings.blueprints_dir / SHIPPED_EXPOSURE_FILE
    shipped = json.loads(shipped_path.read_text(encoding="utf-8")) if shipped_path.is_file() else {}
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
            # Exposure control on out of the box: the parameters calibrated on the shipped bank
            exposure = load_shipped_exposure(db, shipped, [b.code for b in loaded])
            demo = ensure_demo_exam(db, settings.zone)
            admin_password = ensure_admin(db)
            operational, provisional = operational_provisional(db)
    finally:
        engine.dispose()
    return InitReport(settings.database_url, before, after, catalog, item_sets, loaded, demo, admin_password, exposure,
                      operational, provisional)


def operational_provisional(db) -> tuple[int, int]:
    """(operational items, of them with provisional parameters in their current version)."""
    origins = db.scalars(select(ItemVersion.irt_origin).join(Item, (ItemVersion.item_id == Item.id)
                                                             & (ItemVersion.number == Item.current_version))
                         .where(Item.status == ItemStatus.OPERATIONAL.value)).all()
    return len(origins), sum(1 for o in origins if is_provisional(o))


def ensure_admin(db) -> str | None:
    """The first admin account, ``admin`` with a random password (returned once), when the
    database has no staff account yet."""
    import secrets

    from sqlalchemy import func, select

    from examengine.db.models import User
    from examengine.services.accounts import Role, create_user

    if db.scalar(select(func.count()).select_from(User)):
        return None
    password = secrets.token_urlsafe(12)  # 16 characters: meets accounts.password_problems
    create_user(db, username="admin", password=password, role=Role.ADMIN, display_name="管理员")
    return password


DEMO_NAME = "演示考试：移动互联网运营（初级）"
DEMO_BLUEPRINT = "530046-L1"
DEMO_CANDIDATES = [("DEMO0001", "张晓明", "演示考场"), ("DEMO0002", "李华", "演示考场"), ("DEMO0003", "王芳", "演示考场"),
                   ("DEMO0004", "赵磊", "演示考场"), ("DEMO0005", "陈静", "演示考场")]


@dataclass(frozen=True)
class DemoExam:
    exam_id: int
    created: bool
    tickets: list[tuple[str, str, str]]  # (准考证号, 姓名, 访问码)


def ensure_demo_exam(db, zone) -> DemoExam:
    """A demo exam on the sample bank (open for a year, results shown at the end) with a few
    candidates; created once, found again on later runs."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from examengine.db.models import Candidate, Exam
    from examengine.services.exams import create_exam, new_access_code

    exam = db.scalars(select(Exam).where(Exam.name == DEMO_NAME)).first()
    created = exam is None
    if created:
        start = datetime.now(UTC)
        view = create_exam(db, blueprint=DEMO_BLUEPRINT, name=DEMO_NAME, actor="examengine init", zone=zone, window_start=start,
                           window_end=start + timedelta(days=365))
        exam = db.get(Exam, view.id)
        for ticket, name, room in DEMO_CANDIDATES:
            exam.candidates.append(Candidate(ticket=ticket, name=name, room=room, access_code=new_access_code()))
        db.commit()
    return DemoExam(exam.id, created, [(c.ticket, c.name, c.access_code) for c in exam.candidates])
