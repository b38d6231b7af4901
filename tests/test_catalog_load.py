"""Loading the catalog into the database: complete, idempotent, updates in place."""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select

from examengine.datafiles import read_standards_dir
from examengine.db.models import CatalogCorrection, Domain, Level, Requirement, Standard, Task
from examengine.services.catalog import load_catalog, standard_tree
from tests.conftest import REPO

STANDARDS = REPO / "blueprints" / "standards"


def counts(db) -> tuple[int, ...]:
    return tuple(db.scalar(select(func.count()).select_from(m)) for m in (Standard, Level, Domain, Task, Requirement))


def test_a_first_load_creates_every_row(migrated_db_url):
    from examengine.db.engine import make_engine, make_sessionmaker

    engine = make_engine(migrated_db_url)
    with make_sessionmaker(engine)() as db:
        report = load_catalog(db, read_standards_dir(STANDARDS))
        assert report.changed
        assert report.created == {"standard": 2, "level": 6, "domain": 22, "task": 67, "requirement": 313,
                                  "correction": 24}
        assert counts(db) == (2, 6, 22, 67, 313)
    engine.dispose()


def test_a_second_load_changes_nothing(db):
    before = {r.code: (r.id, r.text) for r in db.scalars(select(Requirement))}
    report = load_catalog(db, read_standards_dir(STANDARDS))
    assert not report.changed
    assert sum(report.unchanged.values()) == 2 + 6 + 22 + 67 + 313 + 24
    assert counts(db) == (2, 6, 22, 67, 313)
    assert {r.code: (r.id, r.text) for r in db.scalars(select(Requirement))} == before
    assert db.scalar(select(func.count()).select_from(CatalogCorrection)) == 24


def test_a_changed_text_is_updated_in_place_not_duplicated(db):
    standards = read_standards_dir(STANDARDS)
    old = db.scalars(select(Requirement).where(Requirement.code == "560003-L1-1.1.4")).one()
    old_id = old.id
    std = standards[1]
    lv = std.levels[0]
    d = lv.domains[0]
    t = d.tasks[0]
    reqs = list(t.requirements)
    reqs[3] = dataclasses.replace(reqs[3], text="具备法律意识、保密意识和合规意识。")
    t2 = dataclasses.replace(t, requirements=tuple(reqs))
    d2 = dataclasses.replace(d, tasks=(t2, *d.tasks[1:]))
    lv2 = dataclasses.replace(lv, domains=(d2, *lv.domains[1:]))
    std2 = dataclasses.replace(std, levels=(lv2, *std.levels[1:]))
    report = load_catalog(db, [standards[0], std2])
    assert report.updated["requirement"] == 1 and report.created["requirement"] == 0
    db.expire_all()
    row = db.scalars(select(Requirement).where(Requirement.code == "560003-L1-1.1.4")).one()
    assert (row.id, row.text) == (old_id, "具备法律意识、保密意识和合规意识。")
    assert counts(db) == (2, 6, 22, 67, 313)


def test_the_tree_of_a_level_holds_only_that_level(db):
    tree = standard_tree(db, "530046-L2")
    assert [lv.code for lv in tree.levels] == ["530046-L2"]
    assert dataclasses.astuple(tree.counts) == (1, 4, 12, 50)
    assert all(c.code.startswith("530046-L2-") for c in tree.corrections)
    assert len(tree.corrections) == 15
