"""The item bank's use cases: importing item sets, versions, the lifecycle, browsing,
coverage and export. One function, one transaction.

Separation of duties (issue 18; docs/security.md): item writers and reviewers upload
drafts only (a status for new items is an admin's choice); an upload never changes the IRT
parameters of an existing item (``calibration apply`` is the only way), and only an admin's
upload may bring parameters for new items; a writer moves an item only between draft and
review; reviewers and admins move it further, never for an item they wrote or submitted."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from examengine.db.models import (
    Domain,
    Item,
    ItemEvent,
    ItemImage,
    ItemSet,
    ItemVersion,
    ItemVersionRequirement,
    Level,
    Requirement,
    Standard,
    Task,
)
from examengine.errors import ConflictError, DataFileError, ExamEngineError, NotFoundError, Problem
from examengine.exam.quality import Finding, Severity, check_items
from examengine.exam.items import (
    LETTERS,
    STATUS_LABELS,
    TRANSITIONS,
    IrtData,
    IrtModel,
    ItemDraft,
    ItemStatus,
    ItemType,
    can_transition,
    normalise_text,
)
from examengine.itemfiles import ParsedUpload
from examengine.itemfiles.bounds import MAX_FIELD_CHARS, illegal_char
from examengine.itemfiles.pictures import PICTURE_TYPES, picture_problem, served_type, sniff
from examengine.itemfiles.reader import parse_upload
from examengine.itemfiles.tables import CODE_SPLIT_RE, write_csv, write_xlsx
from examengine.itemfiles.writer import export_bytes
from examengine.services import audit
from examengine.services.accounts import ForbiddenError, Role
from examengine.services.mapping import current_version, version_to_draft
from examengine.services.parameters import provenances
from examengine.services import quality
from examengine.services.quality import blocking_problems, check_drafts

# ---------------------------------------------------------------- provisional parameters

# Difficulty rating 1..5 -> b on the standard's theta scale, shifted by level: a 初级 item
# rated 3 sits near the 初级 cut, a 高级 item rated 3 near the 高级 cut.
RATING_B = {1: -1.2, 2: -0.6, 3: 0.0, 4: 0.6, 5: 1.2}
LEVEL_SHIFT = {1: -1.0, 2: 0.0, 3: 1.0}


def provisional_irt(level_rank: int, difficulty: int | None, item_type: ItemType, n_options: int) -> IrtData:
    """Provisional 3PL parameters before any calibration: a = 1.0; b from the level and the
    writer's rating; c from the chance of guessing (1/options for 单选, 1/2 for 判断, and
    1/(2^n - n - 1) for an all-or-nothing 多选 with at least two keys), shrunk by 0.8."""
    b = LEVEL_SHIFT[level_rank] + RATING_B.get(difficulty or 3, 0.0)
    if item_type is ItemType.SINGLE:
        chance = 1.0 / n_options
    elif item_type is ItemType.TRUE_FALSE:
        chance = 0.5
    else:
        chance = 1.0 / (2**n_options - n_options - 1)
    return IrtData(IrtModel.THREE_PL, 1.0, round(b, 3), round(0.8 * chance, 3), "provisional")


# ---------------------------------------------------------------- import


@dataclass(frozen=True)
class ImportedItem:
    external_id: str
    action: str  # created / new_version / updated / unchanged
    version: int
    location: str


@dataclass(frozen=True)
class ImportReport:
    filename: str
    format: str
    dry_run: bool
    total: int
    created: int
    new_versions: int
    updated: int
    unchanged: int
    warnings: list[Problem]
    items: list[ImportedItem]
    item_set_id: int | None = None
    status_for_new: str = ItemStatus.DRAFT.value
    findings: list[Finding] = field(default_factory=list)  # the item checker's (docs/item-quality.md)


@dataclass
class _Catalog:
    # requirement code -> (requirement id, standard code, standard id, level rank, level id)
    codes: dict[str, tuple[int, str, int, int, int]] = field(default_factory=dict)

    @classmethod
    def load(cls, db: Session) -> _Catalog:
        rows = db.execute(
            select(Requirement.code, Requirement.id, Standard.code, Standard.id, Level.rank, Level.id)
            .join(Task, Requirement.task_id == Task.id).join(Domain, Task.domain_id == Domain.id)
            .join(Level, Domain.level_id == Level.id).join(Standard, Level.standard_id == Standard.id)
        ).all()
        return cls({r[0]: tuple(r[1:]) for r in rows})


# What a stored item may hold: the lengths of the columns it is written to (texts stored as
# TEXT get the spreadsheet cell limit, so that every item can be exported to XLSX).
def _length(column) -> int:
    return column.type.length


LENGTHS = {
    "题目编号": _length(Item.__table__.c.external_id), "作者": _length(Item.__table__.c.author),
    "来源": _length(Item.__table__.c.source), "互斥组": _length(Item.__table__.c.enemy_group),
    "irt": _length(ItemVersion.__table__.c.irt_origin), "图片": _length(ItemImage.__table__.c.name),
    "图片类型": _length(ItemImage.__table__.c.media_type), "标题": _length(ItemSet.__table__.c.title),
}
# A picture's name is a file name in every export (QTI packages hold items/<id>/images/<name>)
# and a reference in its stem ([图片:name]): no white space, slashes, brackets, control characters.
PICTURE_NAME_RE = re.compile(r"[^\s/\\\[\]\x00-\x1f\x7f-\x9f]+")
MAX_REPORTED_PROBLEMS = 1000


def storable_problems(file: str, d: ItemDraft) -> list[Problem]:
    """What PostgreSQL and every exporter (QTI 2.1/3.0 XML, XLSX) need of an item's texts, one
    place for every upload format: no character no stored text may hold (control characters
    but tab and line breaks, lone surrogates), lengths within the columns, picture names that
    are file names."""
    out: list[Problem] = []
    texts = [("题目编号", d.external_id, LENGTHS["题目编号"]), ("题干", d.stem, MAX_FIELD_CHARS),
             *((f"选项{LETTERS[i] if i < len(LETTERS) else i + 1}", o, MAX_FIELD_CHARS) for i, o in enumerate(d.options)),
             ("解析", d.explanation, MAX_FIELD_CHARS), ("作者", d.author, LENGTHS["作者"]),
             ("来源", d.source, LENGTHS["来源"]), ("互斥组", d.enemy_group or "", LENGTHS["互斥组"]),
             *(("职业技能要求", c, MAX_FIELD_CHARS) for c in d.requirements)]
    if d.irt is not None:
        texts.append(("irt", d.irt.origin, LENGTHS["irt"]))
    for img in d.images:
        texts += [("图片", img.name, LENGTHS["图片"]), ("图片类型", img.media_type, LENGTHS["图片类型"])]
    for field_name, text, limit in texts:
        bad = illegal_char(text)
        if bad:
            out.append(Problem(file, d.location, field_name, f"含有不允许的控制字符或无效字符（{bad}）"))
        elif len(text) > limit:
            out.append(Problem(file, d.location, field_name, f"不能超过 {limit} 个字符，实际为 {len(text)} 个"))
    names = [img.name for img in d.images]
    for name in names:
        if illegal_char(name):
            continue  # reported above
        if not PICTURE_NAME_RE.fullmatch(name) or ".." in name or name == ".":
            out.append(Problem(file, d.location, "图片", f"图片名“{name[:100]}”不能用作文件名：不能含空白、/、\\、方括号或“..”"))
    if len(set(names)) != len(names):
        out.append(Problem(file, d.location, "图片", "有同名的图片"))
    return out


def _check_upload(db: Session, parsed: ParsedUpload, catalog: _Catalog) -> tuple[list[Problem], list[Problem]]:
    problems, warnings = _check_upload_items(db, parsed, catalog)
    if len(problems) > MAX_REPORTED_PROBLEMS:
        more = len(problems) - MAX_REPORTED_PROBLEMS
        problems = problems[:MAX_REPORTED_PROBLEMS] + [Problem(parsed.file, "", "", f"另有 {more} 处问题未列出")]
    return problems, warnings[:MAX_REPORTED_PROBLEMS]


def _check_upload_items(db: Session, parsed: ParsedUpload, catalog: _Catalog) -> tuple[list[Problem], list[Problem]]:
    problems = list(parsed.problems)
    warnings = list(parsed.warnings)
    f = parsed.file
    bad = illegal_char(parsed.title)
    if bad or len(parsed.title) > LENGTHS["标题"]:
        problems.append(Problem(f, "", "标题", f"标题含有不允许的字符（{bad}）" if bad
                                else f"标题不能超过 {LENGTHS['标题']} 个字符，实际为 {len(parsed.title)} 个"))
    for d in parsed.items:
        problems.extend(storable_problems(f, d))
    first_seen: dict[str, str] = {}
    stems: dict[str, str] = {}
    for d in parsed.items:
        if d.external_id:
            if d.external_id in first_seen:
                problems.append(Problem(f, d.location, "题目编号",
                                        f"题目编号“{d.external_id}”在文件中重复（首次出现在{first_seen[d.external_id]}）"))
            else:
                first_seen[d.external_id] = d.location
        standards = set()
        for code in d.requirements:
            if code not in catalog.codes:
                problems.append(Problem(f, d.location, "职业技能要求", f"标准目录中没有职业技能要求代码“{code}”"))
            else:
                standards.add(catalog.codes[code][1])
        if len(standards) > 1:
            problems.append(Problem(f, d.location, "职业技能要求",
                                    f"一道题的职业技能要求应属于同一个标准，实际涉及 {'、'.join(sorted(standards))}"))
        for img in d.images:  # a picture a screen reader cannot describe (WCAG 1.1.1; issue 25)
            if not img.alt:
                warnings.append(Problem(f, d.location, f"图片 {img.name}",
                                        "图片没有文字说明（alt）：使用读屏软件的考生无法得知图片内容，请在 QTI 的 <img alt> "
                                        "或 JSON 的 images[].alt 中说明图片所示内容"))
        norm = normalise_text(d.stem)
        if norm and norm in stems and stems[norm] != d.external_id:
            warnings.append(Problem(f, d.location, "题干", f"题干与文件中的“{stems[norm]}”几乎相同，请确认不是重复题"))
        elif norm:
            stems[norm] = d.external_id
    # near-duplicates against the bank (other items' current stems)
    if stems:
        rows = db.execute(
            select(Item.external_id, ItemVersion.stem)
            .join(ItemVersion, (ItemVersion.item_id == Item.id) & (ItemVersion.number == Item.current_version))
        ).all()
        bank = {}
        for ext, stem in rows:
            bank.setdefault(normalise_text(stem), ext)
        for d in parsed.items:
            other = bank.get(normalise_text(d.stem))
            if other and other != d.external_id:
                warnings.append(Problem(f, d.location, "题干", f"题干与题库中的“{other}”几乎相同，请确认不是重复题"))
    return problems, warnings


def import_item_set(
    db: Session,
    parsed: ParsedUpload,
    *,
    data: bytes,
    actor: str,
    dry_run: bool = False,
    status_for_new: ItemStatus = ItemStatus.DRAFT,
    role: Role = Role.ADMIN,
    block_on: Severity | None = None,
) -> ImportReport:
    """Validate everything, then write everything in one transaction, or nothing.

    Raises DataFileError with every problem (file, location, field, message) when any is found.
    Re-uploading an external id makes a new version when its content changed, nothing when not.
    ``role`` is the uploader's (the CLI and ``init`` run as the machine's administrator):
    only an admin sets a status other than draft (ForbiddenError naming ``status``) or brings
    IRT parameters for new items; nobody's upload changes an existing item's parameters (a
    warning says so), and only an admin's changes the content of an item past draft.
    The item checker's findings come with the report; they block (DataFileError) only findings
    at ``block_on`` or worse (the centre's ``item_findings_block`` setting).
    """
    if role is not Role.ADMIN and status_for_new is not ItemStatus.DRAFT:
        raise ForbiddenError(f"只有管理员可以指定新题目的状态（字段 status = {status_for_new.value}）："
                             f"{role.label}上传的题目一律为草稿（draft），经他人审核后才能进入预测试和正式使用。")
    catalog = _Catalog.load(db)
    problems, warnings = _check_upload(db, parsed, catalog)
    if problems:
        raise DataFileError(problems)
    findings = check_drafts(db, parsed.items)
    blocked = blocking_problems(parsed, findings, block_on)
    if blocked:
        raise DataFileError(blocked)
    existing = {
        it.external_id: it
        for it in db.scalars(
            select(Item).where(Item.external_id.in_([d.external_id for d in parsed.items])).options(
                selectinload(Item.versions).selectinload(ItemVersion.requirements)
                .selectinload(ItemVersionRequirement.requirement),
                selectinload(Item.versions).selectinload(ItemVersion.images),
            )
        )
    }
    if role is not Role.ADMIN:
        _check_frozen_status(parsed, existing, role)
    item_set = None
    if not dry_run:
        item_set = ItemSet(
            filename=parsed.file, format=parsed.format, sha256=hashlib.sha256(data).hexdigest(), data=data,
            status="applied", title=parsed.title, uploaded_by=actor, applied_at=datetime.now(UTC),
            options={"status_for_new": status_for_new.value},
        )
        db.add(item_set)
        db.flush()
    results: list[ImportedItem] = []
    for d in parsed.items:
        item = existing.get(d.external_id)
        req_ids = [catalog.codes[c][0] for c in d.requirements]
        level_rank, level_id = max((catalog.codes[c][3], catalog.codes[c][4]) for c in d.requirements)
        provisional = provisional_irt(level_rank, d.difficulty, d.type, len(d.options))
        irt = d.irt if d.irt is not None and item is None and role is Role.ADMIN else provisional
        if d.irt is not None and irt is not d.irt and (item is None or d.irt != version_to_draft(
                item, current_version(item)).irt):
            warnings.append(Problem(parsed.file, d.location, "irt", IRT_IGNORED[item is None]))
        if item is None:
            results.append(ImportedItem(d.external_id, "created", 1, d.location))
            if dry_run:
                continue
            item = Item(external_id=d.external_id, standard_id=catalog.codes[d.requirements[0]][2], level_id=level_id,
                        status=status_for_new.value, author=d.author or actor, source=d.source,
                        enemy_group=d.enemy_group, current_version=1)
            db.add(item)
            db.flush()
            _add_version(db, item, d, 1, irt, req_ids, item_set, actor)
            _event(db, item, 1, "created", actor, {"item_set": item_set.id, "status": status_for_new.value,
                                                     "file": parsed.file})
            continue
        cur = current_version(item)
        before = version_to_draft(item, cur)
        meta_changes = {k: (getattr(before, k), getattr(d, k)) for k in ("author", "source", "enemy_group")
                        if getattr(d, k) and getattr(before, k) != getattr(d, k)}
        if before.content() != replace(d, location=before.location).content():
            number = item.current_version + 1
            results.append(ImportedItem(d.external_id, "new_version", number, d.location))
            if dry_run:
                continue
            _add_version(db, item, d, number, irt, req_ids, item_set, actor)
            item.current_version = number
            item.level_id = level_id
            _event(db, item, number, "new_version", actor,
                   {"item_set": item_set.id, "file": parsed.file, "changed": _changed_fields(before, d)})
        elif meta_changes:
            results.append(ImportedItem(d.external_id, "updated", item.current_version, d.location))
            if dry_run:
                continue
        else:
            results.append(ImportedItem(d.external_id, "unchanged", item.current_version, d.location))
            continue
        if meta_changes:
            for k, (_, new) in meta_changes.items():
                setattr(item, k, new)
            _event(db, item, item.current_version, "updated", actor,
                   {"item_set": item_set.id, "changes": {k: list(v) for k, v in meta_changes.items()}})
        item.updated_at = datetime.now(UTC)
    counts = Counter(r.action for r in results)
    report = ImportReport(
        filename=parsed.file, format=parsed.format, dry_run=dry_run, total=len(results),
        created=counts["created"], new_versions=counts["new_version"], updated=counts["updated"],
        unchanged=counts["unchanged"], warnings=warnings, items=results,
        item_set_id=item_set.id if item_set else None, status_for_new=status_for_new.value, findings=findings,
    )
    if dry_run or not (report.created or report.new_versions or report.updated):
        db.rollback()  # a dry run, or an upload that changes nothing, leaves no trace
        return replace(report, item_set_id=None)
    item_set.report = _report_dict(report)
    audit.record(db, actor=actor, action="itemset.import", target=f"item_set {item_set.id}",
                 after={"file": parsed.file, "created": report.created, "new_versions": report.new_versions,
                        "updated": report.updated, "status_for_new": status_for_new.value})
    db.commit()
    return report


def import_upload(
    db: Session,
    *,
    filename: str,
    data: bytes,
    default_requirements: Sequence[str] = (),
    actor: str,
    dry_run: bool = False,
    status_for_new: ItemStatus = ItemStatus.DRAFT,
    role: Role = Role.ADMIN,
    block_on: Severity | None = None,
) -> ImportReport:
    """Import an uploaded item set as it came (XLSX, CSV, JSON or a QTI 2.1/3.0 package):
    parsed by ``itemfiles.reader.parse_upload`` (items with no requirement code get
    ``default_requirements``), then ``import_item_set``."""
    parsed = parse_upload(filename, data, default_requirements=tuple(default_requirements))
    return import_item_set(db, parsed, data=data, actor=actor, dry_run=dry_run, status_for_new=status_for_new,
                           role=role, block_on=block_on)


def split_codes(text: str) -> tuple[str, ...]:
    """Requirement codes typed in one field, split as a table's 职业技能要求代码 cell is."""
    return tuple(c for c in CODE_SPLIT_RE.split(text) if c)


IRT_IGNORED = {
    True: "文件中的 IRT 参数未被采用：只有管理员导入的新题目可以带参数，这道新题目使用暂定参数；"
          "参数只能通过 calibration apply（校准后应用）更改",
    False: "文件中的 IRT 参数未被采用：导入不会修改已有题目的参数（新版本使用暂定参数）；"
           "参数只能通过 calibration apply（校准后应用）更改",
}


def _check_frozen_status(parsed: ParsedUpload, existing: dict[str, Item], role: Role) -> None:
    """A writer's or reviewer's upload may change the content of draft items only: a new
    version of an item in review or beyond would skip the review (DataFileError naming each)."""
    problems = []
    for d in parsed.items:
        item = existing.get(d.external_id)
        if item is None or item.status == ItemStatus.DRAFT.value:
            continue
        before = version_to_draft(item, current_version(item))
        if before.content() != replace(d, location=before.location).content():
            status = ItemStatus(item.status)
            problems.append(Problem(parsed.file, d.location, "题目编号", (
                f"题目 {d.external_id} 的状态为“{STATUS_LABELS[status]}”，{role.label}不能修改它的内容："
                + ("请先退回草稿再上传" if status is ItemStatus.REVIEW else "请以新的题目编号提交，由审题人审核"))))
    if problems:
        raise DataFileError(problems)


STORED_MESSAGE_CHARS = 500  # a problem's message as a stored report keeps it (it may quote a cell)


def _problem_dict(p: Problem) -> dict:
    message = p.message if len(p.message) <= STORED_MESSAGE_CHARS else p.message[:STORED_MESSAGE_CHARS] + "…"
    return {"file": p.file, "location": p.location, "field": p.field, "message": message}


def _report_dict(r: ImportReport) -> dict:
    return {"total": r.total, "created": r.created, "new_versions": r.new_versions, "updated": r.updated,
            "unchanged": r.unchanged, "warnings": [_problem_dict(w) for w in r.warnings],
            "findings": [{"item": f.item, "rule": f.rule, "severity": f.severity.value, "title": f.title,
                          "message": f.message, "evidence": f.evidence} for f in r.findings],
            "items": [{"external_id": i.external_id, "action": i.action, "version": i.version,
                       "location": i.location} for i in r.items]}


def _irt_dict(irt: IrtData | None) -> dict | None:
    return None if irt is None else {"model": irt.model.value, "a": irt.a, "b": irt.b, "c": irt.c,
                                     "origin": irt.origin}


def _set_irt(v: ItemVersion, irt: IrtData) -> None:
    v.irt_model, v.irt_a, v.irt_b, v.irt_c, v.irt_origin = irt.model.value, irt.a, irt.b, irt.c, irt.origin


def _changed_fields(before: ItemDraft, after: ItemDraft) -> list[str]:
    names = {"type": "题型", "stem": "题干", "options": "选项", "key": "答案", "explanation": "解析",
             "requirements": "职业技能要求", "difficulty": "难度"}
    out = [label for attr, label in names.items() if getattr(before, attr) != getattr(after, attr)]
    if tuple((i.name, i.data) for i in before.images) != tuple((i.name, i.data) for i in after.images):
        out.append("图片")
    return out


def _add_version(db: Session, item: Item, d: ItemDraft, number: int, irt: IrtData, req_ids: list[int],
                 item_set: ItemSet | None, actor: str) -> ItemVersion:
    v = ItemVersion(number=number, type=d.type.value, stem=d.stem, options=list(d.options),
                    key=list(d.key), explanation=d.explanation, difficulty=d.difficulty,
                    item_set_id=item_set.id if item_set else None, created_by=actor, frozen=False,
                    irt_model="", irt_a=1.0, irt_b=0.0)
    _set_irt(v, irt)
    item.versions.append(v)
    for pos, rid in enumerate(req_ids, start=1):
        v.requirements.append(ItemVersionRequirement(requirement_id=rid, position=pos))
    for img in d.images:
        v.images.append(ItemImage(name=img.name, media_type=img.media_type, data=img.data, alt=img.alt))
    return v


def _event(db: Session, item: Item, version: int | None, action: str, actor: str, detail: dict) -> None:
    event = ItemEvent(version_number=version, action=action, actor=actor, detail=detail)
    if "events" in item.__dict__ or item.id is None:  # a loaded history stays current
        item.events.append(event)
    else:  # not loaded: no query to load a history nobody reads here (an import of 1,261 items)
        event.item_id = item.id
        db.add(event)


# ---------------------------------------------------------------- staged uploads (upload -> report -> confirm)


@dataclass(frozen=True)
class StagedUpload:
    item_set_id: int
    report: ImportReport | None
    problems: list[Problem]


def stage_upload(db: Session, *, filename: str, data: bytes, actor: str, role: Role = Role.ADMIN,
                 default_requirements: Sequence[str] = (), block_on: Severity | None = None) -> StagedUpload:
    """Keep an upload as pending with its validation report, for the writer to confirm."""
    parsed = parse_upload(filename, data, default_requirements=tuple(default_requirements))
    try:
        report = import_item_set(db, parsed, data=data, actor=actor, dry_run=True, role=role, block_on=block_on)
        problems: list[Problem] = []
    except DataFileError as exc:
        report, problems = None, exc.problems
    # A rejected upload can never be applied: its report and digest are kept, not its bytes
    # (nor a title it may have been rejected for).
    item_set = ItemSet(
        filename=parsed.file, format=parsed.format, sha256=hashlib.sha256(data).hexdigest(),
        data=data if report else b"", status="pending" if report else "rejected",
        title=parsed.title if report else "", uploaded_by=actor,
        options={"default_requirements": list(default_requirements)},
        report=_report_dict(report) if report else {"problems": [_problem_dict(p) for p in problems]},
    )
    db.add(item_set)
    purge_rejected_uploads(db)
    db.commit()
    return StagedUpload(item_set.id, report, problems)


def purge_rejected_uploads(db: Session) -> int:
    """Drop the bytes that rejected uploads kept before they were no longer kept (their reports
    stay). Returns how many were purged; the caller commits."""
    result = db.execute(update(ItemSet).where(ItemSet.status == "rejected", func.length(ItemSet.data) > 0)
                        .values(data=b""))
    return result.rowcount or 0


@dataclass(frozen=True)
class UploadView:
    id: int
    filename: str
    format: str
    status: str  # pending / rejected / confirmed
    uploaded_by: str
    uploaded_at: str
    report: dict


def get_upload(db: Session, item_set_id: int) -> UploadView:
    row = db.get(ItemSet, item_set_id)
    if row is None:
        raise NotFoundError("上传记录", str(item_set_id))
    return UploadView(row.id, row.filename, row.format, row.status, row.uploaded_by,
                      row.uploaded_at.isoformat(timespec="seconds"), dict(row.report or {}))


def confirm_upload(db: Session, item_set_id: int, *, actor: str, role: Role = Role.ADMIN,
                   block_on: Severity | None = None) -> ImportReport:
    """Apply a pending upload (validated again: the bank may have changed meanwhile)."""
    staged = db.get(ItemSet, item_set_id)
    if staged is None:
        raise NotFoundError("上传记录", str(item_set_id))
    if staged.status != "pending":
        raise ConflictError(f"上传记录 {item_set_id} 的状态为“{staged.status}”，不能再次确认导入")
    parsed = parse_upload(staged.filename, staged.data,
                          default_requirements=tuple(staged.options.get("default_requirements", ())))
    report = import_item_set(db, parsed, data=staged.data, actor=actor, role=role, block_on=block_on)
    staged = db.get(ItemSet, item_set_id)
    staged.status = "confirmed"
    staged.data = b""  # the applied item set keeps them
    staged.applied_at = datetime.now(UTC)
    staged.report = {**_report_dict(report), "applied_as": report.item_set_id}
    db.commit()
    return report


# ---------------------------------------------------------------- lifecycle


#: The moves an item writer may make: submit to review, withdraw to draft.
WRITER_MOVES = frozenset({(ItemStatus.DRAFT, ItemStatus.REVIEW), (ItemStatus.REVIEW, ItemStatus.DRAFT)})
#: Moves that approve an item: never by its author or whoever submitted it to review.
APPROVALS = frozenset({ItemStatus.PRETEST, ItemStatus.OPERATIONAL})


def _own_people(item: Item) -> set[str]:
    """Who may not approve this item: the author of its current version (and the item's
    author), and whoever submitted it to review last."""
    people = {current_version(item).created_by, item.author}
    submitted = [e.actor for e in item.events
                 if e.action == "status" and (e.detail or {}).get("to") == ItemStatus.REVIEW.value]
    if submitted:
        people.add(submitted[-1])
    return people


def transition_item(db: Session, external_id: str, target: ItemStatus, *, actor: str, note: str = "",
                    role: Role = Role.ADMIN) -> ItemDetail:
    """Move an item through the lifecycle (``TRANSITIONS``). ``role`` is the mover's (the CLI
    runs as an admin): writers only submit and withdraw (``WRITER_MOVES``); nobody approves
    (``APPROVALS``) an item they wrote or submitted to review."""
    item = _get_item(db, external_id)
    current = ItemStatus(item.status)
    if current == target:
        raise ConflictError(f"题目 {external_id} 已经是“{STATUS_LABELS[target]}”状态")
    if not can_transition(current, target):
        allowed = "、".join(STATUS_LABELS[s] for s in sorted(TRANSITIONS[current], key=list(ItemStatus).index))
        raise ConflictError(
            f"题目 {external_id} 不能从“{STATUS_LABELS[current]}”变为“{STATUS_LABELS[target]}”"
            + (f"（可变为：{allowed}）" if allowed else "（已退役的题目不能再改变状态）")
        )
    if role not in (Role.ADMIN, Role.REVIEWER) and (current, target) not in WRITER_MOVES:
        raise ForbiddenError(f"{role.label}只能提交审核或撤回到草稿；审核通过、上线和退役由审题人或管理员操作。")
    if target in APPROVALS and actor in _own_people(item):
        raise ForbiddenError(f"不能审核自己编写或提交审核的题目 {external_id}：请由另一位审题人或管理员操作。")
    item.status = target.value
    item.updated_at = datetime.now(UTC)
    audit.record(db, actor=actor, action="item.status", target=f"item {external_id}",
                 before={"status": current.value}, after={"status": target.value, "note": note})
    _event(db, item, item.current_version, "status", actor,
           {"from": current.value, "to": target.value, "note": note})
    db.commit()
    return get_item(db, external_id, role=role)


@dataclass(frozen=True)
class QueueEntry:
    """An item waiting for a second person's review, with what the checker found."""

    external_id: str
    level: str
    type: str
    stem: str
    author: str
    submitted_by: str
    submitted_at: str
    own: bool  # the viewer wrote or submitted it: they may not approve it
    findings: list[quality.FindingView]

    @property
    def errors(self) -> int:
        return sum(f.severity == Severity.ERROR.value for f in self.findings)


def review_queue(db: Session, *, viewer: str, code: str = "") -> list[QueueEntry]:
    """The items in review (under ``code``), oldest submission first, each with its checker
    findings; ``own`` marks those the viewer may not approve (they wrote or submitted them)."""
    items = list(db.scalars(
        select(Item).where(Item.status == ItemStatus.REVIEW.value).options(
            selectinload(Item.versions).selectinload(ItemVersion.requirements)
            .selectinload(ItemVersionRequirement.requirement),
            selectinload(Item.versions).selectinload(ItemVersion.images),
            selectinload(Item.events), selectinload(Item.level))))
    drafts = {it.external_id: version_to_draft(it, current_version(it)) for it in items}
    if code:
        items = [it for it in items if any(quality.under(c, code) for c in drafts[it.external_id].requirements)]
    found = quality.findings_by_item(check_items([drafts[it.external_id] for it in items],
                                         requirement_texts=quality.requirement_texts(db),
                                                 among=quality.bank_drafts(db)))
    out = []
    for it in items:
        submitted = [e for e in it.events if e.action == "status" and (e.detail or {}).get("to") == ItemStatus.REVIEW.value]
        last = submitted[-1] if submitted else None
        version = current_version(it)
        out.append(QueueEntry(
            it.external_id, it.level.code, version.type, version.stem, it.author,
            last.actor if last else "", last.at.isoformat(timespec="seconds") if last else "",
            viewer in _own_people(it), [quality.view(f) for f in found.get(it.external_id, [])]))
    return sorted(out, key=lambda e: (e.submitted_at, e.external_id))


MAX_COMMENT_CHARS = 2000


def comment_item(db: Session, external_id: str, *, actor: str, text: str) -> ItemDetail:
    """A reviewer's (or the writer's) comment, kept in the item's history with the version it is about."""
    text = text.strip()
    if not text:
        raise ExamEngineError("意见不能为空")
    if len(text) > MAX_COMMENT_CHARS:
        raise ExamEngineError(f"意见不能超过 {MAX_COMMENT_CHARS} 个字符，实际为 {len(text)} 个")
    item = _get_item(db, external_id)
    _event(db, item, item.current_version, "comment", actor, {"note": text})
    db.commit()
    return get_item(db, external_id)


def freeze_version(db: Session, external_id: str, version: int | None = None) -> None:
    """Mark a version as used (by an attempt or a printed form): its content can no longer change.
    Part of the caller's transaction (no commit)."""
    item = _get_item(db, external_id)
    number = version or item.current_version
    v = next((v for v in item.versions if v.number == number), None)
    if v is None:
        raise NotFoundError("题目版本", f"{external_id} v{number}")
    v.frozen = True


def edit_item(db: Session, external_id: str, *, actor: str, stem: str | None = None,
              options: Sequence[str] | None = None, key: Sequence[int] | None = None,
              explanation: str | None = None) -> ItemDetail:
    """Edit an item's content. A frozen current version is never changed: the edit makes a new
    version. An unused version is edited in place. Every edit is recorded."""
    from examengine.exam.items import check_item

    item = _get_item(db, external_id)
    cur = current_version(item)
    before = version_to_draft(item, cur)
    after = replace(
        before,
        stem=before.stem if stem is None else stem,
        options=before.options if options is None else tuple(options),
        key=before.key if key is None else tuple(sorted(key)),
        explanation=before.explanation if explanation is None else explanation,
    )
    bad = check_item(after)
    if bad:
        raise DataFileError([Problem("", external_id, p.field, p.message) for p in bad])
    if after.content() == before.content():
        return get_item(db, external_id)
    changed = _changed_fields(before, after)
    if cur.frozen:
        number = item.current_version + 1
        req_ids = [r.requirement_id for r in cur.requirements]
        _add_version(db, item, after, number, before.irt, req_ids, None, actor)
        item.current_version = number
        _event(db, item, number, "new_version", actor, {"changed": changed, "reason": "frozen"})
    else:
        cur.stem, cur.options, cur.key, cur.explanation = after.stem, list(after.options), list(after.key), after.explanation
        _event(db, item, cur.number, "edited", actor, {"changed": changed,
                                                       "before": {"stem": before.stem, "options": list(before.options),
                                                                  "key": list(before.key)}})
    item.updated_at = datetime.now(UTC)
    audit.record(db, actor=actor, action="item.edit", target=f"item {external_id}",
                 before={"version": cur.number, "stem": before.stem, "options": list(before.options),
                         "key": list(before.key)},
                 after={"version": item.current_version, "changed": changed})
    db.commit()
    return get_item(db, external_id)


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class VersionView:
    number: int
    type: str
    stem: str
    options: list[str]
    key: str
    explanation: str
    requirements: list[str]
    difficulty: int | None
    irt: dict | None  # None for anyone but an admin
    frozen: bool
    images: list[str]
    created_by: str
    created_at: str
    # where the parameters come from (exam.items.ParameterOrigin), shown to every staff role (the
    # values themselves only to admins): provisional / calibrated / linked / imported
    origin: str = ""
    origin_label: str = ""  # Chinese, with the calibration run: 已校准（校准记录 3）
    calibration_run: int | None = None


@dataclass(frozen=True)
class EventView:
    at: str
    actor: str
    action: str
    version: int | None
    detail: dict


@dataclass(frozen=True)
class ItemSummary:
    external_id: str
    status: str
    status_label: str
    type: str
    stem: str
    requirements: list[str]
    level: str
    version: int
    difficulty: int | None
    origin: str = ""  # the current version's ParameterOrigin value
    origin_label: str = ""


@dataclass(frozen=True)
class ItemDetail:
    external_id: str
    status: str
    status_label: str
    level: str
    author: str
    source: str
    enemy_group: str | None
    current_version: int
    allowed_transitions: list[str]
    versions: list[VersionView]
    events: list[EventView]


@dataclass(frozen=True)
class ItemPage:
    total: int
    items: list[ItemSummary]


def _item_options():
    return (
        selectinload(Item.versions).selectinload(ItemVersion.requirements).selectinload(ItemVersionRequirement.requirement),
        selectinload(Item.versions).selectinload(ItemVersion.images),
        selectinload(Item.events),
        selectinload(Item.level),
    )


def _get_item(db: Session, external_id: str) -> Item:
    item = db.scalars(select(Item).where(Item.external_id == external_id).options(*_item_options())).first()
    if item is None:
        raise NotFoundError("题目", external_id)
    return item


def get_item(db: Session, external_id: str, *, role: Role = Role.ADMIN) -> ItemDetail:
    """An item with its versions and history, as ``role`` may see it: IRT parameters for admins
    only, and the lifecycle moves that role may make."""
    item = _get_item(db, external_id)
    status = ItemStatus(item.status)
    parameters = role is Role.ADMIN
    prov = provenances(db, [v.id for v in item.versions])
    versions = []
    for v in item.versions:
        d = version_to_draft(item, v)
        p = prov[v.id]
        versions.append(VersionView(
            v.number, v.type, v.stem, list(v.options), d.key_letters, v.explanation, list(d.requirements),
            v.difficulty, _irt_dict(d.irt) if parameters else None, v.frozen, [i.name for i in v.images], v.created_by,
            v.created_at.isoformat(timespec="seconds"), p.origin.value, p.text, p.run_id,
        ))
    return ItemDetail(
        external_id=item.external_id, status=status.value, status_label=STATUS_LABELS[status],
        level=item.level.code, author=item.author, source=item.source, enemy_group=item.enemy_group,
        current_version=item.current_version,
        allowed_transitions=[s.value for s in ItemStatus if s in TRANSITIONS[status]
                             and (role in (Role.ADMIN, Role.REVIEWER) or (status, s) in WRITER_MOVES)],
        versions=versions,
        events=[EventView(e.at.isoformat(timespec="seconds"), e.actor, e.action, e.version_number, e.detail)
                for e in item.events],
    )


def get_image(db: Session, external_id: str, version: int, name: str) -> tuple[str, bytes]:
    row = db.execute(
        select(ItemImage.media_type, ItemImage.data).join(ItemVersion, ItemImage.version_id == ItemVersion.id)
        .join(Item, ItemVersion.item_id == Item.id)
        .where(Item.external_id == external_id, ItemVersion.number == version, ItemImage.name == name)
    ).first()
    if row is None:
        raise NotFoundError("图片", f"{external_id} v{version} {name}")
    return served_type(row[1]), row[1]


def served_picture_type(data: bytes) -> str:
    """The type a stored picture is served as: sniffed from its bytes (PNG, JPEG, GIF, WebP, else
    ``application/octet-stream``), never the type stored with it."""
    return served_type(data)


@dataclass(frozen=True)
class PictureFinding:
    """A stored picture that is not what the bank accepts today, or whose stored type is wrong."""

    item: str
    version: int
    name: str
    stored_type: str
    sniffed_type: str  # what it is served as
    problem: str  # empty when only the stored type is wrong
    action: str  # "" (reported), "removed" or "retyped"


def check_images(db: Session, *, purge: bool = False, actor: str = "cli") -> list[PictureFinding]:
    """Re-check every stored picture as an import checks it (``itemfiles.pictures``): pictures
    stored before the check (a ``text/html`` or SVG "picture") are reported; with ``purge``, a
    bad picture is deleted and a good picture stored with a wrong type gets its sniffed type,
    each with an audit entry, in one transaction. A stem that referred to a removed picture
    keeps its reference: the picture routes answer 404 for it."""
    findings: list[PictureFinding] = []
    rows = db.execute(
        select(ItemImage.id, Item.external_id, ItemVersion.number)
        .join(ItemVersion, ItemImage.version_id == ItemVersion.id).join(Item, ItemVersion.item_id == Item.id)
        .order_by(Item.external_id, ItemVersion.number, ItemImage.name)
    ).all()
    for image_id, external_id, number in rows:  # one picture in memory at a time
        img = db.get(ItemImage, image_id)
        why = picture_problem(img.data)
        fmt = sniff(img.data)
        right_type = PICTURE_TYPES[fmt] if fmt and not why else None
        if why is None and img.media_type == right_type:
            db.expunge(img)
            continue
        action, stored = "", img.media_type
        target = f"item {external_id} v{number} image {img.name}"
        if purge and why:
            audit.record(db, actor=actor, action="item.image.remove", target=target,
                         before={"media_type": img.media_type, "bytes": len(img.data),
                                 "sha256": hashlib.sha256(img.data).hexdigest()}, after={"problem": why})
            db.delete(img)
            action = "removed"
        elif purge:
            audit.record(db, actor=actor, action="item.image.retype", target=target,
                         before={"media_type": img.media_type}, after={"media_type": right_type})
            img.media_type = right_type
            action = "retyped"
        findings.append(PictureFinding(external_id, number, img.name, stored, served_type(img.data), why or "", action))
        if not action:
            db.expunge(img)
    if purge:
        db.commit()
    return findings


def list_items(db: Session, *, code: str = "", status: str = "", item_type: str = "", text: str = "",
               limit: int = 50, offset: int = 0) -> ItemPage:
    """Browse the bank. ``code`` is a prefix of requirement codes (a standard, level, domain,
    task or requirement); ``text`` searches stems and external ids."""
    cur = (ItemVersion.item_id == Item.id) & (ItemVersion.number == Item.current_version)
    q = select(Item.id).join(ItemVersion, cur)
    if status:
        q = q.where(Item.status == status)
    if item_type:
        q = q.where(ItemVersion.type == item_type)
    if text:
        like = f"%{text}%"
        q = q.where(or_(ItemVersion.stem.like(like), Item.external_id.like(like)))
    if code:
        sub = (select(ItemVersionRequirement.version_id).join(Requirement)
               .where(or_(Requirement.code == code, Requirement.code.like(f"{code}-%"),
                          Requirement.code.like(f"{code}.%"))))
        q = q.where(ItemVersion.id.in_(sub))
    total = db.scalar(select(func.count()).select_from(q.subquery()))
    ids = list(db.scalars(q.order_by(Item.external_id).limit(limit).offset(offset)))
    items = db.scalars(select(Item).where(Item.id.in_(ids)).order_by(Item.external_id).options(*_item_options()))
    items = list(items)
    prov = provenances(db, [current_version(it).id for it in items])
    out = []
    for it in items:
        v = current_version(it)
        p = prov[v.id]
        out.append(ItemSummary(it.external_id, it.status, STATUS_LABELS[ItemStatus(it.status)], v.type, v.stem,
                               [r.requirement.code for r in v.requirements], it.level.code, v.number, v.difficulty,
                               p.origin.value, p.text))
    return ItemPage(total or 0, out)


def drafts_for_export(db: Session, *, code: str = "", status: str = "") -> list[ItemDraft]:
    page = list_items(db, code=code, status=status, limit=1_000_000)
    ids = [s.external_id for s in page.items]
    items = db.scalars(select(Item).where(Item.external_id.in_(ids)).order_by(Item.external_id)
                       .options(*_item_options()))
    return [version_to_draft(it, current_version(it)) for it in items]


@dataclass(frozen=True)
class ItemExport:
    data: bytes
    n_items: int
    has_pictures: bool  # a table format (xlsx, csv) leaves them out


def export_items(db: Session, fmt: str, *, code: str = "", status: str = "") -> ItemExport:
    """The bank's current versions (under ``code``, of ``status``) in ``fmt``: qti3, qti21, xlsx,
    csv or json (``itemfiles.writer.export_bytes``)."""
    drafts = drafts_for_export(db, code=code, status=status)
    return ItemExport(export_bytes(drafts, fmt), len(drafts), any(d.images for d in drafts))


def upload_template(fmt: str) -> bytes:
    """The blank item-set template item writers fill in: ``xlsx`` (with a 填写说明 sheet) or ``csv``."""
    if fmt == "xlsx":
        return write_xlsx()
    if fmt == "csv":
        return write_csv()
    raise ExamEngineError(f"不支持的格式：{fmt}（可用：xlsx、csv）")


@dataclass(frozen=True)
class CoverageRow:
    code: str
    text: str
    standard: str
    level: str
    domain: str
    task: str
    draft: int
    review: int
    pretest: int
    operational: int
    retired: int

    @property
    def total(self) -> int:
        return self.draft + self.review + self.pretest + self.operational + self.retired


def coverage(db: Session, *, code: str = "") -> list[CoverageRow]:
    """For every requirement, the number of items (current versions tagged to it) by status."""
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    rows = db.execute(
        select(ItemVersionRequirement.requirement_id, Item.status, func.count())
        .join(ItemVersion, ItemVersionRequirement.version_id == ItemVersion.id)
        .join(Item, (ItemVersion.item_id == Item.id) & (ItemVersion.number == Item.current_version))
        .group_by(ItemVersionRequirement.requirement_id, Item.status)
    ).all()
    for rid, status, n in rows:
        counts[rid][status] += n
    reqs = db.execute(
        select(Requirement.id, Requirement.code, Requirement.text, Standard.code, Level.code, Domain.code, Task.code)
        .join(Task, Requirement.task_id == Task.id).join(Domain, Task.domain_id == Domain.id)
        .join(Level, Domain.level_id == Level.id).join(Standard, Level.standard_id == Standard.id)
        .order_by(Standard.code, Level.rank, Domain.position, Task.position, Requirement.position)
    ).all()
    out = []
    for rid, rcode, text, std, lv, dom, task in reqs:
        if code and not (rcode == code or rcode.startswith(f"{code}-") or rcode.startswith(f"{code}.")):
            continue
        c = counts[rid]
        out.append(CoverageRow(rcode, text, std, lv, dom, task, c["draft"], c["review"], c["pretest"],
                               c["operational"], c["retired"]))
    if code and not out:
        raise NotFoundError("代码", code)
    return out


def parse_status(text: str) -> ItemStatus:
    for s in ItemStatus:
        if text in (s.value, STATUS_LABELS[s]):
            return s
    raise ExamEngineError(f"未知的状态“{text}”（可用：{'、'.join(s.value for s in ItemStatus)}）")
