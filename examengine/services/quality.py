"""Item quality use cases (issue 19): the checker's findings for a file, a part of the bank or
one item, and the bank's cue statistics (how far a test-wise candidate gets without the skill).

The rules and strategies are pure (``exam.quality``); here they get their context: the
catalog's requirement texts (for the tag check) and the bank's current items (near-duplicates
and suggested enemy pairs are looked for across levels and standards)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from examengine.db.models import Item, ItemVersion, ItemVersionRequirement, Level, Requirement
from examengine.errors import DataFileError, NotFoundError, Problem
from examengine.exam.items import ItemDraft, ItemStatus, ItemType
from examengine.exam.quality import RULES, CueScore, Finding, Rule, Severity, check_items, cue_scores, key_positions
from examengine.itemfiles import ParsedUpload
from examengine.itemfiles.reader import parse_upload
from examengine.services.mapping import bank_stamp, current_version, version_to_draft


__all__ = ["RULES", "Finding", "LevelCues", "Rule", "Severity", "bank_cues", "check_code", "check_drafts",
           "check_file", "item_findings", "parse_block_setting"]


@dataclass(frozen=True)
class FindingView:
    """A finding as the API and the pages show it."""

    item: str
    rule: str
    severity: str  # error / warning / info
    severity_label: str
    title: str
    message: str
    evidence: str


def view(f: Finding) -> FindingView:
    return FindingView(f.item, f.rule, f.severity.value, f.severity.label, f.title, f.message, f.evidence)


def requirement_texts(db: Session) -> dict[str, str]:
    return dict(db.execute(select(Requirement.code, Requirement.text)).all())


# The bank's current items as drafts, per process, keyed on the bank revision (every change to
# items, versions or tags raises it; services.mapping.bank_stamp), as the engine's pool cache is:
# the checker compares each upload and each item page with the whole bank.
_DRAFTS_CACHE: dict[tuple, tuple[ItemDraft, ...]] = {}


def bank_drafts(db: Session, *, code: str = "", include_retired: bool = False) -> list[ItemDraft]:
    """The current version of every item (under ``code``, a prefix of requirement codes, or a
    level such as ``530046-L2``), retired ones left out unless asked for."""
    key = (bank_stamp(db), include_retired)
    drafts = _DRAFTS_CACHE.get(key)
    if drafts is None:
        drafts = tuple(_load_drafts(db, include_retired))
        if len(_DRAFTS_CACHE) >= 8:
            _DRAFTS_CACHE.clear()
        _DRAFTS_CACHE[key] = drafts
    if code:
        return [d for d in drafts if any(under(c, code) for c in d.requirements)]
    return list(drafts)


def _load_drafts(db: Session, include_retired: bool) -> list[ItemDraft]:
    q = select(Item).options(
        selectinload(Item.versions).selectinload(ItemVersion.requirements).selectinload(ItemVersionRequirement.requirement),
        selectinload(Item.versions).selectinload(ItemVersion.images),
    ).order_by(Item.external_id)
    if not include_retired:
        q = q.where(Item.status != ItemStatus.RETIRED.value)
    return [version_to_draft(it, current_version(it)) for it in db.scalars(q)]


def under(requirement: str, code: str) -> bool:
    return requirement == code or requirement.startswith(f"{code}-") or requirement.startswith(f"{code}.")


def check_drafts(db: Session, drafts: Sequence[ItemDraft]) -> list[Finding]:
    """Every checker rule over ``drafts``, with the bank as context for near-duplicates (an
    item of the bank with the same id is the same item and is not compared)."""
    return check_items(drafts, requirement_texts=requirement_texts(db), among=bank_drafts(db))


def check_file(db: Session, *, filename: str, data: bytes) -> list[Finding]:
    """The findings for an item set as it would be uploaded; a file that cannot be read raises
    DataFileError with its problems (file, place, field)."""
    parsed = parse_upload(filename, data)
    if parsed.problems:
        raise DataFileError(list(parsed.problems))
    return check_drafts(db, parsed.items)


def check_code(db: Session, *, code: str) -> list[Finding]:
    """The findings for the bank's items under ``code`` (a standard, level, domain, task or
    requirement code)."""
    if code and db.scalar(select(Requirement.id).where(
            (Requirement.code == code) | Requirement.code.like(f"{code}-%") | Requirement.code.like(f"{code}.%"))
            .limit(1)) is None:
        raise NotFoundError("代码", code)
    return check_drafts(db, bank_drafts(db, code=code))


def item_findings(db: Session, external_id: str) -> list[Finding]:
    """The findings for one item of the bank (its current version)."""
    drafts = bank_drafts(db, include_retired=True)
    mine = [d for d in drafts if d.external_id == external_id]
    if not mine:
        raise NotFoundError("题目", external_id)
    return check_items(mine, requirement_texts=requirement_texts(db), among=drafts)


SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def parse_block_setting(value: str) -> Severity | None:
    """The ``item_findings_block`` setting: none / error / warning."""
    return None if value == "none" else Severity(value)


def blocking_problems(parsed: ParsedUpload, findings: Sequence[Finding], block_on: Severity | None) -> list[Problem]:
    """The findings at ``block_on`` or worse, as problems naming the file, the item's place and the rule."""
    if block_on is None:
        return []
    where = {d.external_id: d.location for d in parsed.items}
    return [Problem(parsed.file, where.get(f.item, f.item), f"命题检查：{f.rule}", f"{f.severity.label}：{f.message}")
            for f in findings if f.item in where and SEVERITY_RANK[f.severity] <= SEVERITY_RANK[block_on]]


def findings_by_item(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        out[f.item].append(f)
    return dict(out)


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


@dataclass(frozen=True)
class LevelCues:
    level: str  # 530046-L2, or "全部" for the whole selection
    items: int
    single: int
    multiple: int
    true_false: int
    strategies: list[CueScore]
    key_positions: dict[str, int]  # 单选 keys per letter
    multiple_few_wrong: int  # 多选 with fewer than two wrong options
    true_share: float | None  # share of 判断 keyed 正确


def bank_cues(db: Session, *, code: str = "") -> list[LevelCues]:
    """Per level (and over the whole selection, last), the score of each test-wise strategy
    on the bank's current, unretired items, against chance."""
    drafts = bank_drafts(db, code=code)
    if code and not drafts:
        raise NotFoundError("代码", code)
    levels = dict(db.execute(select(Level.code, Level.rank)).all())
    groups: dict[str, list[ItemDraft]] = defaultdict(list)
    for d in drafts:
        groups[d.requirements[0].rsplit("-", 1)[0] if d.requirements else "?"].append(d)
    out = [cues_of(level, groups[level]) for level in sorted(groups, key=lambda c: (c.split("-")[0], levels.get(c, 9)))]
    if len(out) > 1:
        out.append(cues_of("全部", drafts))
    return out


def cues_of(level: str, drafts: Sequence[ItemDraft]) -> LevelCues:
    tf = [d for d in drafts if d.type is ItemType.TRUE_FALSE]
    return LevelCues(
        level=level, items=len(drafts),
        single=sum(d.type is ItemType.SINGLE for d in drafts),
        multiple=sum(d.type is ItemType.MULTIPLE for d in drafts),
        true_false=len(tf),
        strategies=cue_scores(drafts),
        key_positions=key_positions(drafts),
        multiple_few_wrong=sum(d.type is ItemType.MULTIPLE and len(d.options) - len(d.key) < 2 for d in drafts),
        true_share=round(sum(d.key == (0,) for d in tf) / len(tf), 4) if tf else None,
    )

