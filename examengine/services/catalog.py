"""The standards catalog: loading the data files idempotently, and reading the tree."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from examengine.datafiles import StandardData
from examengine.db.models import CatalogCorrection, Domain, Level, Requirement, Standard, Task
from examengine.errors import NotFoundError

KINDS = ("standard", "level", "domain", "task", "requirement", "correction")


@dataclass(frozen=True)
class CatalogLoadReport:
    created: dict[str, int]
    updated: dict[str, int]
    unchanged: dict[str, int]
    stale: tuple[str, ...] = ()  # codes in the database that no file mentions (kept, not deleted)

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())


def _assign(row, values: dict) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def load_catalog(db: Session, standards: list[StandardData]) -> CatalogLoadReport:
    """Insert or update every row of the given standards, matched by code. One transaction.

    A second load of the same files changes nothing; a changed text is updated in place.
    """
    created: Counter[str] = Counter()
    updated: Counter[str] = Counter()
    unchanged: Counter[str] = Counter()
    existing = {
        "standard": {r.code: r for r in db.scalars(select(Standard))},
        "level": {r.code: r for r in db.scalars(select(Level))},
        "domain": {r.code: r for r in db.scalars(select(Domain))},
        "task": {r.code: r for r in db.scalars(select(Task))},
        "requirement": {r.code: r for r in db.scalars(select(Requirement))},
        "correction": {(r.code, r.field): r for r in db.scalars(select(CatalogCorrection))},
    }
    seen: set[str] = set()

    def upsert(kind: str, key, model, values: dict):
        row = existing[kind].get(key)
        if row is None:
            row = model(**values)
            db.add(row)
            existing[kind][key] = row
            created[kind] += 1
        elif _assign(row, values):
            updated[kind] += 1
        else:
            unchanged[kind] += 1
        return row

    for s in standards:
        std = upsert(
            "standard",
            s.code,
            Standard,
            dict(code=s.code, name=s.name, version=s.version, issuer=s.issuer,
                 published=s.published, source=s.source, note=s.note),
        )
        seen.add(s.code)
        db.flush()
        for lv in s.levels:
            level = upsert("level", lv.code, Level, dict(
                standard_id=std.id, code=lv.code, level=lv.level, rank=lv.rank,
                name=lv.name, description=lv.description))
            seen.add(lv.code)
            db.flush()
            for dpos, d in enumerate(lv.domains, start=1):
                domain = upsert("domain", d.code, Domain, dict(
                    level_id=level.id, code=d.code, number=d.number, name=d.name, position=dpos))
                seen.add(d.code)
                db.flush()
                for tpos, t in enumerate(d.tasks, start=1):
                    task = upsert("task", t.code, Task, dict(
                        domain_id=domain.id, code=t.code, number=t.number, name=t.name, position=tpos))
                    seen.add(t.code)
                    db.flush()
                    for rpos, r in enumerate(t.requirements, start=1):
                        upsert("requirement", r.code, Requirement, dict(
                            task_id=task.id, code=r.code, number=r.number, text=r.text, position=rpos))
                        seen.add(r.code)
        for cpos, c in enumerate(s.corrections, start=1):
            upsert("correction", (c.code, c.field), CatalogCorrection, dict(
                standard_id=std.id, code=c.code, field=c.field, kind=c.kind, original=c.original,
                corrected=c.corrected, reason=c.reason, position=cpos))
    stale = sorted(
        code for kind in ("standard", "level", "domain", "task", "requirement")
        for code in existing[kind] if code not in seen
    )
    db.commit()
    return CatalogLoadReport(
        created={k: created[k] for k in KINDS},
        updated={k: updated[k] for k in KINDS},
        unchanged={k: unchanged[k] for k in KINDS},
        stale=tuple(stale),
    )


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class RequirementNode:
    code: str
    number: str
    text: str


@dataclass(frozen=True)
class TaskNode:
    code: str
    number: str
    name: str
    requirements: list[RequirementNode]


@dataclass(frozen=True)
class DomainNode:
    code: str
    number: str
    name: str
    tasks: list[TaskNode]


@dataclass(frozen=True)
class LevelNode:
    code: str
    level: str
    name: str
    description: str
    domains: list[DomainNode]


@dataclass(frozen=True)
class CorrectionNode:
    code: str
    field: str
    kind: str
    original: str
    corrected: str
    reason: str


@dataclass(frozen=True)
class Counts:
    levels: int
    domains: int
    tasks: int
    requirements: int


@dataclass(frozen=True)
class StandardTree:
    code: str
    name: str
    version: str
    issuer: str
    published: str
    counts: Counts
    levels: list[LevelNode]
    corrections: list[CorrectionNode] = field(default_factory=list)


@dataclass(frozen=True)
class LevelSummary:
    code: str
    level: str
    name: str
    counts: Counts


@dataclass(frozen=True)
class StandardSummary:
    code: str
    name: str
    version: str
    counts: Counts
    levels: list[LevelSummary]


@dataclass(frozen=True)
class RequirementInfo:
    code: str
    number: str
    text: str
    standard: str
    standard_name: str
    level: str
    level_name: str
    domain: str
    domain_name: str
    task: str
    task_name: str


def _count(levels: list[LevelNode]) -> Counts:
    domains = [d for lv in levels for d in lv.domains]
    tasks = [t for d in domains for t in d.tasks]
    return Counts(len(levels), len(domains), len(tasks), sum(len(t.requirements) for t in tasks))


def _level_node(lv: Level) -> LevelNode:
    return LevelNode(
        code=lv.code, level=lv.level, name=lv.name, description=lv.description,
        domains=[
            DomainNode(d.code, d.number, d.name, [
                TaskNode(t.code, t.number, t.name,
                         [RequirementNode(r.code, r.number, r.text) for r in t.requirements])
                for t in d.tasks
            ])
            for d in lv.domains
        ],
    )


def _tree_options():
    return (
        selectinload(Standard.levels).selectinload(Level.domains).selectinload(Domain.tasks)
        .selectinload(Task.requirements),
        selectinload(Standard.corrections),
    )


def _load_trees(db: Session) -> list[Standard]:
    return list(db.scalars(select(Standard).options(*_tree_options()).order_by(Standard.code)))


def list_standards(db: Session) -> list[StandardSummary]:
    out = []
    for s in _load_trees(db):
        levels = [_level_node(lv) for lv in s.levels]
        out.append(StandardSummary(
            s.code, s.name, s.version, _count(levels),
            [LevelSummary(lv.code, lv.level, lv.name, _count([lv])) for lv in levels],
        ))
    return out


def standard_tree(db: Session, code: str) -> StandardTree:
    """The whole tree of a standard (``560003``), or of one level (``560003-L2``)."""
    std_code, _, level = code.partition("-")
    std = db.scalars(select(Standard).where(Standard.code == std_code).options(*_tree_options())).first()
    if std is None:
        raise NotFoundError("标准", code)
    levels = [_level_node(lv) for lv in std.levels if not level or lv.level == level]
    if not levels:
        raise NotFoundError("级别", code)
    corrections = [
        CorrectionNode(c.code, c.field, c.kind, c.original, c.corrected, c.reason)
        for c in std.corrections
        if not level or c.code.startswith(f"{std_code}-{level}-")
    ]
    return StandardTree(std.code, std.name, std.version, std.issuer, std.published,
                        _count(levels), levels, corrections)


def all_trees(db: Session) -> list[StandardTree]:
    return [standard_tree(db, s.code) for s in _load_trees(db)]


def get_requirement(db: Session, code: str) -> RequirementInfo:
    req = db.scalars(
        select(Requirement).where(Requirement.code == code).options(
            selectinload(Requirement.task).selectinload(Task.domain).selectinload(Domain.level)
            .selectinload(Level.standard)
        )
    ).first()
    if req is None:
        raise NotFoundError("职业技能要求", code)
    task = req.task
    domain = task.domain
    level = domain.level
    std = level.standard
    return RequirementInfo(
        code=req.code, number=req.number, text=req.text,
        standard=std.code, standard_name=std.name, level=level.code, level_name=level.name,
        domain=domain.code, domain_name=domain.name, task=task.code, task_name=task.name,
    )
