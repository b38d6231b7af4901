"""Scanned answer sheets: read each page of an upload (a multi-page PDF, JPEG/PNG pictures),
check the sheet's signed code against the exam and its roster, read every bubble, keep the
sheet, send the positions a machine should not decide to a person, and score the sheet through
the paper scoring the CSV upload uses (``services.forms.record_paper_result``: same scale, band
and 0-100 score as online).

A page goes through: ``scanning.reader.load_pages`` -> ``locate`` (corner marks, rectified,
QR decoded) -> ``exam.sheet_codes`` (ours? signed with the exam's key? this exam? on its
roster? a form of this exam?) -> ``exam.sheet_layout`` for the form -> ``read_marks``. Then:

- the same sheet read again with the same marks (the same letters per position) changes
  nothing; with other marks it is refused, naming the ticket, until a proctor deletes the
  earlier read (``delete_sheet``, audited);
- a sheet with no position to review is scored at once; the others wait in the review queue
  (``review_queue``), and ``resolve`` (audited) scores the sheet when its last open position
  is settled;
- without ``apply`` nothing is written: the report says what would happen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from examengine.db.forms_models import Form, PaperResult
from examengine.db.models import Candidate, Exam
from examengine.db.scan_models import ScannedSheet
from examengine.errors import ConflictError, DataFileError, NotFoundError, Problem
from examengine.exam.forms import read_answer
from examengine.exam.items import LETTERS, ItemType
from examengine.exam.marks import FLAG_NAMES, MarkFlag, PositionRead
from examengine.exam.sheet_codes import (
    OLD_VERSION,
    STATUS_NAMES,
    SheetCode,
    SheetCodeError,
    SheetStatus,
    marks_digest,
    parse_sheet_code,
    verify,
)
from examengine.exam.sheet_layout import SheetLayout, SheetLayoutError, sheet_layout
from examengine.itemfiles.bounds import clean_filename
from examengine.scanning import archive, reader
from examengine.services import audit
from examengine.services.forms import (
    FormItemView,
    PaperRow,
    PaperScoring,
    RosterEntry,
    exam_forms,
    form_view,
    paper_results,
    paper_scoring,
    record_paper_result,
)

#: the statuses of a sheet that was read and kept (one per candidate and exam)
LIVE = (SheetStatus.REVIEW.value, SheetStatus.READY.value, SheetStatus.SCORED.value)


class ScanOutcome(str, Enum):
    """What an upload did with a page."""

    NEW = "new"  # a sheet read for the first time (stored with --apply)
    UNCHANGED = "unchanged"  # read before with the same marks (or the same page refused before): nothing changes
    REFUSED = "refused"
    UNREADABLE = "unreadable"


OUTCOME_NAMES = {ScanOutcome.NEW: "新读入", ScanOutcome.UNCHANGED: "未变（已读入过）", ScanOutcome.REFUSED: "拒收",
                 ScanOutcome.UNREADABLE: "无法识别"}


# ---------------------------------------------------------------- views


@dataclass(frozen=True)
class PositionMarks:
    """One position as the reader saw it (stored in ``scanned_sheets.positions``)."""

    position: int
    letters: str
    darkness: list[float]
    confidence: float
    flags: list[str]  # exam.marks.MarkFlag values
    review: bool  # needs a person (a flag, or a confidence below exam.marks.REVIEW_CONFIDENCE)

    @classmethod
    def of(cls, read: PositionRead) -> PositionMarks:
        return cls(read.position, read.letters, [round(float(d), 4) for d in read.darkness],
                   round(float(read.confidence), 4), [f.value for f in read.flags], read.needs_review)

    @property
    def flag_names(self) -> list[str]:
        return [FLAG_NAMES[MarkFlag(f)] for f in self.flags]


@dataclass(frozen=True)
class Correction:
    """A person's decision on a position (stored in ``scanned_sheets.corrections``): ``after``
    equal to ``before`` confirms what was read."""

    position: int
    before: str
    after: str
    by: str
    at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class ScannedPage:
    """One page of an upload, or one stored sheet: what was read and what became of it."""

    file: str
    page: int | None
    status: str  # exam.sheet_codes.SheetStatus
    status_name: str
    outcome: str  # ScanOutcome ("" for a stored sheet listed)
    problem: str  # why refused or unreadable; a note otherwise (an unsigned old sheet)
    sheet_id: int | None = None
    exam_id: int | None = None
    ticket: str = ""
    name: str = ""
    form: str = ""  # the form's code
    form_id: int | None = None
    answers: dict[str, str] = field(default_factory=dict)  # position -> letters ("" none), after review
    confidence: dict[str, float] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)  # position -> flag names (Chinese), flagged ones only
    review: list[int] = field(default_factory=list)  # positions still waiting for a person
    corrected: int = 0  # positions a person changed (after != what was read)
    uploaded_by: str = ""
    uploaded_at: str = ""
    reviewed: int = 0  # positions a person settled (confirmed or changed)


@dataclass(frozen=True)
class UnreadPage:
    file: str
    page: int | None
    reason: str


@dataclass(frozen=True)
class ScanListings:
    """What a proctor must chase: pages that could not be read, roster candidates without a
    sheet, sheets without a roster entry (blank sheets)."""

    unreadable: list[UnreadPage]
    missing: list[RosterEntry]
    unrostered: list[ScannedPage]


@dataclass(frozen=True)
class ScanReport:
    exam_id: int | None
    applied: bool
    pages: list[ScannedPage]
    counts: dict[str, int]  # ScanOutcome value -> pages
    scored: list[PaperRow]  # results written (or, without apply, that would be written)
    listings: ScanListings | None  # for the exam of the upload (None when pages of several exams)


@dataclass(frozen=True)
class ScanOverview:
    exam_id: int
    sheets: list[ScannedPage]
    counts: dict[str, int]  # SheetStatus value -> sheets
    open_positions: int
    listings: ScanListings
    results: list[PaperRow]  # the exam's paper results (scanned or typed)


@dataclass(frozen=True)
class ReviewPosition:
    sheet_id: int
    file: str
    page: int | None
    ticket: str
    name: str
    form: str
    position: int
    item_type: str  # 单选/多选/判断
    options: str  # the letters one may choose: "ABCD"; "AB" for 判断 (A 对, B 错)
    letters: str  # as read
    darkness: list[float]
    confidence: float
    flags: list[str]  # Chinese names


@dataclass(frozen=True)
class Resolved:
    sheet: ScannedPage
    position: int
    before: str
    after: str
    scored: PaperRow | None  # the result, when this was the sheet's last open position


# ---------------------------------------------------------------- helpers


def _options(it: FormItemView) -> int:
    return 2 if it.type == ItemType.TRUE_FALSE.value else len(it.options)


def form_layout(items: Sequence[FormItemView]) -> SheetLayout:
    """The answer sheet's geometry of a form's items (a 判断 has two bubbles: A 对, B 错)."""
    return sheet_layout([_options(it) for it in items])


def _positions(sheet: ScannedSheet) -> list[PositionMarks]:
    return [PositionMarks(**p) for p in sheet.positions]


def _corrections(sheet: ScannedSheet) -> list[Correction]:
    return [Correction(**c) for c in sheet.corrections]


def _open_positions(sheet: ScannedSheet) -> list[int]:
    settled = {c.position for c in _corrections(sheet)}
    return [p.position for p in _positions(sheet) if p.review and p.position not in settled]


def _iso(at: datetime | None) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds") if at else ""


def _view(sheet: ScannedSheet, outcome: str = "", candidate: Candidate | None = None,
          form: Form | None = None) -> ScannedPage:
    cand = candidate
    positions = _positions(sheet)
    return ScannedPage(
        sheet.file, sheet.page, sheet.status, STATUS_NAMES[SheetStatus(sheet.status)], outcome, sheet.problem,
        sheet.id, sheet.exam_id, cand.ticket if cand else "", cand.name if cand else "",
        form.code if form else "", sheet.form_id, {str(k): v for k, v in sheet.answers.items()},
        {str(p.position): p.confidence for p in positions},
        {str(p.position): p.flag_names for p in positions if p.flags}, _open_positions(sheet),
        sum(1 for c in _corrections(sheet) if c.after != c.before), sheet.uploaded_by, _iso(sheet.uploaded_at),
        len(_corrections(sheet)))


def _page_number(location: str) -> int | None:
    """The page of a reader's problem location ("第 3 页"), None for the whole file."""
    digits = "".join(ch for ch in location if ch.isdigit())
    return int(digits) if digits else None


def _source(data_digest: str, page: int | None) -> str:
    return hashlib.sha256(f"{data_digest}:{page or 0}".encode()).hexdigest()[:32]


def _flag_notes(sheet: ScannedSheet) -> list[str]:
    """One Chinese line per flagged or reviewed position, for the paper result's ``flags``."""
    corrections = {c.position: c for c in _corrections(sheet)}
    notes = []
    for p in _positions(sheet):
        if not (p.review or p.position in corrections):
            continue
        why = "、".join(p.flag_names) or f"识别把握低（{p.confidence:.2f}）"
        if not p.review:
            why = "人工更正"
        c = corrections.get(p.position)
        read = p.letters or "未涂"
        if c is None:
            notes.append(f"第 {p.position} 题：{why}，读作 {read}，未复核")
        elif c.after == p.letters:
            notes.append(f"第 {p.position} 题：{why}，读作 {read}，{c.by} 复核确认")
        else:
            notes.append(f"第 {p.position} 题：{why}，读作 {read}，{c.by} 更正为 {c.after or '未作答'}")
    return notes


class _Exam:
    """An exam as the reading of its sheets needs it, gathered once per upload."""

    def __init__(self, db: Session, exam: Exam) -> None:
        self.exam = exam
        self.candidates = {c.id: c for c in exam.candidates}
        self.problem = ""
        try:
            self.forms = {f.id: f for f in exam_forms(db, exam).values()}
        except ConflictError as exc:
            self.forms, self.problem = {}, exc.message
        self.views: dict[int, object] = {}
        self.layouts: dict[int, SheetLayout] = {}
        self._scoring: PaperScoring | None = None
        self.db = db
        # the sheets kept: candidate -> sheet; blank sheets by (form, digest); every page by source
        self.by_candidate: dict[int, ScannedSheet] = {}
        self.blank: dict[tuple[int, str], ScannedSheet] = {}
        self.by_source: dict[str, ScannedSheet] = {}
        for s in db.scalars(select(ScannedSheet).where(ScannedSheet.exam_id == exam.id).order_by(ScannedSheet.id)):
            self.remember(s)

    def remember(self, s: ScannedSheet) -> None:
        self.by_source[s.source] = s
        if s.status in LIVE:
            if s.candidate_id is not None:
                self.by_candidate[s.candidate_id] = s
            elif s.form_id is not None:
                self.blank[(s.form_id, s.digest)] = s

    def forget(self, s: ScannedSheet) -> None:
        for index in (self.by_source, self.by_candidate, self.blank):
            for k in [k for k, v in index.items() if v is s]:
                del index[k]

    def form_items(self, form_id: int) -> list[FormItemView]:
        if form_id not in self.views:
            self.views[form_id] = form_view(self.db, form_id)
        return self.views[form_id].items

    def layout(self, form_id: int) -> SheetLayout:
        if form_id not in self.layouts:
            self.layouts[form_id] = form_layout(self.form_items(form_id))
        return self.layouts[form_id]

    @property
    def scoring(self) -> PaperScoring:
        if self._scoring is None:
            codes = {f.code: f for f in self.forms.values()}
            self._scoring = paper_scoring(self.db, self.exam, codes)
        return self._scoring


@dataclass
class _Page:
    """A page being read (mutable while its fate is decided)."""

    file: str
    page: int | None
    source: str
    status: SheetStatus = SheetStatus.UNREADABLE
    problem: str = ""
    qr: str = ""
    exam: _Exam | None = None
    candidate: Candidate | None = None
    form: Form | None = None
    positions: list[PositionMarks] = field(default_factory=list)
    image: bytes | None = None
    px_per_mm: float | None = None
    digest: str = ""


def _who(code: SheetCode) -> str:
    return f"准考证号 {code.ticket} 的答题卡" if code.ticket else "这张空白答题卡"


def _check_code(db: Session, page: _Page, text: str, given: _Exam | None, exams: dict[int, _Exam]) -> SheetCode | None:
    """Decide which exam, candidate and form the page belongs to; on refusal set the page's
    problem (naming the ticket) and return None."""
    try:
        code = parse_sheet_code(text)
    except SheetCodeError as exc:
        page.status, page.problem = SheetStatus.REFUSED, str(exc)
        return None
    who = _who(code)
    if code.exam_id is None:
        if given is None:
            page.status, page.problem = SheetStatus.REFUSED, "这张空白答题卡没有印考试编号：请在上传时指定考试"
            return None
        target = given
    elif given is not None and code.exam_id != given.exam.id:
        page.status, page.problem = SheetStatus.REFUSED, f"{who}属于考试 {code.exam_id}，不是本场考试 {given.exam.id}"
        return None
    else:
        target = given or exams.get(code.exam_id)
        if target is None:
            exam = db.get(Exam, code.exam_id)
            if exam is None:
                page.status, page.problem = SheetStatus.REFUSED, f"{who}属于考试 {code.exam_id}，该考试不存在"
                return None
            target = exams[exam.id] = _Exam(db, exam)
    page.exam = target
    if code.exam_id is not None and code.version != OLD_VERSION:
        if not code.signed:
            page.status, page.problem = SheetStatus.REFUSED, f"{who}的二维码没有签名，不是本系统为考试 {code.exam_id} 打印的答题卡"
            return None
        if not verify(code, target.exam.sheet_key):
            page.status, page.problem = SheetStatus.REFUSED, (f"{who}的二维码签名不符：不是本系统为考试 {code.exam_id} "
                                                             "打印的答题卡（可能被改写或伪造）")
            return None
    if target.problem:
        page.status, page.problem = SheetStatus.REFUSED, target.problem
        return None
    form = target.forms.get(code.form_id)
    if form is None or form.code != code.form_code:
        page.status, page.problem = SheetStatus.REFUSED, (f"{who}的试卷（编号 {code.form_id}，{code.form_code} 卷）"
                                                         f"不是考试 {target.exam.id} 用过的试卷")
        return None
    page.form = form
    if code.candidate_id is not None:
        cand = target.candidates.get(code.candidate_id)
        if cand is None or cand.ticket != code.ticket:
            page.status, page.problem = SheetStatus.REFUSED, f"准考证号 {code.ticket} 不在考试 {target.exam.id} 的名单中"
            return None
        wrong = _wrong_form(db, cand, form)
        if wrong:
            page.status, page.problem = SheetStatus.REFUSED, wrong
            return None
        page.candidate = cand
    if code.version == OLD_VERSION and code.exam_id is not None:
        page.problem = "旧版答题卡：二维码没有签名"
    return code


def _wrong_form(db: Session, cand: Candidate, form: Form | None) -> str:
    """Why a sheet of ``form`` cannot be this candidate's ("" when it can): the candidate was
    assigned another form (services.form_assignments), so the answers would be scored on items
    the candidate never saw."""
    if form is None or cand.form_id is None or cand.form_id == form.id:
        return ""
    assigned = db.get(Form, cand.form_id)
    return (f"准考证号 {cand.ticket} 分配的是试卷 {assigned.code}（编号 {assigned.id}），"
            f"这张答题卡是试卷 {form.code}（编号 {form.id}）")


def _read(db: Session, image: reader.PageImage, source: str, given: _Exam | None,
          exams: dict[int, _Exam]) -> _Page:
    page = _Page(image.file, image.page, source, exam=given)
    located = reader.locate(image)
    if located.sheet is not None:
        small, ppm = archive.shrink(located.sheet, located.px_per_mm)
        page.image, page.px_per_mm = archive.encode(small), ppm
    page.qr = located.qr or ""
    if located.problem or located.qr is None or located.sheet is None:
        page.status, page.problem = SheetStatus.UNREADABLE, located.problem or "二维码无法识别"
        return page
    code = _check_code(db, page, located.qr, given, exams)
    if code is None:
        return page
    items = page.exam.form_items(page.form.id)
    try:
        layout = page.exam.layout(page.form.id)
    except SheetLayoutError as exc:
        page.status, page.problem = SheetStatus.UNREADABLE, str(exc)
        return page
    reads = reader.read_marks(located, layout, [it.type == ItemType.MULTIPLE.value for it in items])
    page.positions = [PositionMarks.of(r) for r in reads]
    page.digest = marks_digest({p.position: p.letters for p in page.positions})
    needs = any(p.review for p in page.positions)
    page.status = (SheetStatus.REVIEW if needs else SheetStatus.SCORED if page.candidate is not None
                   else SheetStatus.READY)
    return page


def _same_sheet(ex: _Exam, page: _Page) -> tuple[ScannedSheet | None, str]:
    """The sheet kept for this page's candidate (or blank sheet), and, when its marks differ,
    why this page is refused."""
    if page.candidate is not None:
        kept = ex.by_candidate.get(page.candidate.id)
        if kept is None:
            return None, ""
        if kept.form_id == page.form.id and kept.digest == page.digest:
            return kept, ""
        where = f"{kept.file}" + (f" 第 {kept.page} 页" if kept.page else "")
        return kept, (f"准考证号 {page.candidate.ticket} 的答题卡已读入过（{where}），这次读到的涂卡不同：已拒收。"
                      "请核对两张答题卡；如需以这次为准，请先删除先前的读入再重新上传")
    return ex.blank.get((page.form.id, page.digest)), ""


def _store(db: Session, page: _Page, actor: str) -> ScannedSheet:
    row = ScannedSheet(
        exam_id=page.exam.exam.id, candidate_id=page.candidate.id if page.candidate else None,
        form_id=page.form.id if page.form else None, file=page.file, page=page.page, source=page.source,
        qr=page.qr, status=page.status.value, problem=page.problem, positions=[asdict(p) for p in page.positions],
        answers={str(p.position): p.letters for p in page.positions}, corrections=[], image=page.image,
        px_per_mm=page.px_per_mm, digest=page.digest, uploaded_by=actor, uploaded_at=datetime.now(UTC))
    db.add(row)
    db.flush()
    return row


def _answers_list(sheet: ScannedSheet, n: int) -> list[list[str]]:
    return [sorted(sheet.answers.get(str(p), "")) for p in range(1, n + 1)]


def _score(db: Session, ex: _Exam, sheet: ScannedSheet, candidate: Candidate, form: Form, actor: str) -> PaperRow:
    """Score a sheet through the paper scoring (the caller commits)."""
    n = len(ex.form_items(form.id))
    where = f"{sheet.file}" + (f" 第{sheet.page}页" if sheet.page else "")
    source = clean_filename(f"扫描 {where}", 200) + f" sheet:{sheet.id}"
    row, _ = record_paper_result(db, ex.scoring, candidate, form, _answers_list(sheet, n), actor=actor,
                                 source=source,
                                 extra={"source_kind": "scan", "sheet_id": sheet.id, "flags": _flag_notes(sheet),
                                        "corrected": sum(1 for c in _corrections(sheet) if c.after != c.before)})
    sheet.status = SheetStatus.SCORED.value
    return row


def _dry_row(ex: _Exam, page: _Page) -> PaperRow:
    """The result a page would get (a dry run: nothing written)."""
    read = {p.position: p.letters for p in page.positions}
    answers = [sorted(read.get(it.position, "")) for it in ex.form_items(page.form.id)]
    row, _ = record_paper_result(ex.db, ex.scoring, page.candidate, page.form, answers, actor="", source="",
                                 write=False)
    return row


# ---------------------------------------------------------------- use cases


def scan(db: Session, files: Sequence[tuple[str, bytes]], *, exam_id: int | None, actor: str,
         apply: bool) -> ScanReport:
    """Read every page of ``files`` ((name, bytes): PDFs, JPEG/PNG/TIFF pictures). With
    ``exam_id`` every sheet must belong to that exam (else refused, naming its ticket);
    without, each sheet's code says its exam. Without ``apply`` nothing is written."""
    given = None
    exams: dict[int, _Exam] = {}
    if exam_id is not None:
        exam = db.get(Exam, exam_id)
        if exam is None:
            raise NotFoundError("考试", str(exam_id))
        given = exams[exam.id] = _Exam(db, exam)
    if not files:
        raise DataFileError([Problem("", "", "文件", "没有上传任何扫描文件")])
    pages: list[ScannedPage] = []
    scored: list[PaperRow] = []
    touched: set[int] = set()
    for name, data in files:
        name = clean_filename(name or "scan", 200)
        digest = hashlib.sha256(data).hexdigest()
        try:
            for image in reader.iter_pages(name, data):  # one page's pixels at a time
                page = _read(db, image, _source(digest, image.page), given, exams)
                view, row = _settle(db, page, actor=actor, apply=apply)
                pages.append(view)
                if row is not None:
                    scored.append(row)
                if page.exam is not None:
                    touched.add(page.exam.exam.id)
        except DataFileError as exc:  # a file (or a page of a PDF) that does not open: listed, the rest read
            where = _page_number(exc.problems[0].location) if exc.problems else None
            page = _Page(name, where, _source(digest, where), exam=given,
                         problem="；".join(p.message for p in exc.problems) or "文件无法打开")
            pages.append(_settle(db, page, actor=actor, apply=apply)[0])
    counts = {o.value: sum(1 for p in pages if p.outcome == o.value) for o in ScanOutcome}
    if apply:
        if counts[ScanOutcome.NEW.value] or counts[ScanOutcome.REFUSED.value] or counts[ScanOutcome.UNREADABLE.value]:
            audit.record(db, actor=actor, action="scan.upload", target=f"exam {exam_id}" if exam_id else "scans",
                         after={"files": [name for name, _ in files], "pages": len(pages), "counts": counts,
                                "scored": [r.ticket for r in scored],
                                "replaced_other_source": [r.ticket for r in scored if r.replaced]})
        db.commit()
    target = exam_id if exam_id is not None else (next(iter(touched)) if len(touched) == 1 else None)
    listings = _listings(db, exams[target], extra=[] if apply else pages) if target is not None else None
    return ScanReport(exam_id, apply, pages, counts, scored, listings)


def _settle(db: Session, page: _Page, *, actor: str, apply: bool) -> tuple[ScannedPage, PaperRow | None]:
    """Decide what becomes of a read page; store it when ``apply``."""
    ex = page.exam

    def shown(status: SheetStatus, outcome: ScanOutcome, sheet: ScannedSheet | None = None) -> ScannedPage:
        if sheet is not None:
            return _view(sheet, outcome.value, ex.candidates.get(sheet.candidate_id) if sheet.candidate_id else None,
                         ex.forms.get(sheet.form_id) if sheet.form_id else None)
        answers = {str(p.position): p.letters for p in page.positions}
        return ScannedPage(page.file, page.page, status.value, STATUS_NAMES[status], outcome.value, page.problem,
                           None, ex.exam.id if ex else None, page.candidate.ticket if page.candidate else "",
                           page.candidate.name if page.candidate else "", page.form.code if page.form else "",
                           page.form.id if page.form else None, answers,
                           {str(p.position): p.confidence for p in page.positions},
                           {str(p.position): p.flag_names for p in page.positions if p.flags},
                           [p.position for p in page.positions if p.review])

    if ex is None:  # no exam to keep it under: only reported
        outcome = ScanOutcome.UNREADABLE if page.status is SheetStatus.UNREADABLE else ScanOutcome.REFUSED
        return shown(page.status, outcome), None
    if page.status in (SheetStatus.UNREADABLE, SheetStatus.REFUSED):
        earlier = ex.by_source.get(page.source)
        if earlier is not None and earlier.status == page.status.value and earlier.problem == page.problem:
            return shown(page.status, ScanOutcome.UNCHANGED, earlier), None
        return _keep(db, page, actor, apply, shown), None
    kept, refusal = _same_sheet(ex, page)
    if refusal:
        page.status, page.problem = SheetStatus.REFUSED, refusal
        earlier = ex.by_source.get(page.source)
        if earlier is not None and earlier.status == page.status.value and earlier.problem == page.problem:
            return shown(page.status, ScanOutcome.UNCHANGED, earlier), None
        return _keep(db, page, actor, apply, shown), None
    if kept is not None:
        return shown(SheetStatus(kept.status), ScanOutcome.UNCHANGED, kept), None
    row = None
    if not apply:
        if page.status is SheetStatus.SCORED:
            row = _dry_row(ex, page)
        view = shown(page.status, ScanOutcome.NEW)
        ex.remember(_unsaved(page))
        return view, row
    earlier = ex.by_source.get(page.source)
    if earlier is not None and earlier.status not in LIVE:  # refused or unreadable before, read now
        ex.forget(earlier)
        db.delete(earlier)
    sheet = _store(db, page, actor)
    ex.remember(sheet)
    if page.status is SheetStatus.SCORED:
        row = _score(db, ex, sheet, page.candidate, page.form, actor)
    return _view(sheet, ScanOutcome.NEW.value, page.candidate, page.form), row


def _unsaved(page: _Page) -> ScannedSheet:
    """A sheet as it would be stored (a dry run remembers it, so a second copy in the same
    upload is seen as such)."""
    return ScannedSheet(exam_id=page.exam.exam.id, candidate_id=page.candidate.id if page.candidate else None,
                        form_id=page.form.id if page.form else None, file=page.file, page=page.page,
                        source=page.source, status=page.status.value, problem=page.problem, digest=page.digest,
                        positions=[asdict(p) for p in page.positions], corrections=[],
                        answers={str(p.position): p.letters for p in page.positions})


def _keep(db: Session, page: _Page, actor: str, apply: bool, shown) -> ScannedPage:
    """Keep a refused or unreadable page under its exam (so the exam's scans page lists it)."""
    outcome = ScanOutcome.UNREADABLE if page.status is SheetStatus.UNREADABLE else ScanOutcome.REFUSED
    ex = page.exam
    earlier = ex.by_source.get(page.source)
    if not apply:
        ex.remember(_unsaved(page))
        return shown(page.status, outcome)
    if earlier is not None and earlier.status not in LIVE:
        ex.forget(earlier)
        db.delete(earlier)
    sheet = _store(db, page, actor)
    ex.remember(sheet)
    return _view(sheet, outcome.value, page.candidate, page.form)


def _listings(db: Session, ex: _Exam, *, extra: Iterable[ScannedPage] = ()) -> ScanListings:
    sheets = list(db.scalars(select(ScannedSheet).where(ScannedSheet.exam_id == ex.exam.id)
                             .order_by(ScannedSheet.id)))
    unread = [UnreadPage(s.file, s.page, s.problem) for s in sheets if s.status == SheetStatus.UNREADABLE.value]
    have = {s.candidate_id for s in sheets if s.status in LIVE and s.candidate_id is not None}
    extra = list(extra)
    unread += [UnreadPage(p.file, p.page, p.problem) for p in extra if p.outcome == ScanOutcome.UNREADABLE.value]
    tickets = {p.ticket for p in extra if p.outcome == ScanOutcome.NEW.value and p.ticket}
    missing = [RosterEntry(c.ticket, c.name, c.room) for c in ex.exam.candidates
               if c.id not in have and c.ticket not in tickets]
    unrostered = [_view(s, "", None, ex.forms.get(s.form_id)) for s in sheets
                  if s.status in LIVE and s.candidate_id is None]
    unrostered += [p for p in extra if p.outcome == ScanOutcome.NEW.value and not p.ticket]
    return ScanListings(unread, missing, unrostered)


def _sheet(db: Session, sheet_id: int) -> ScannedSheet:
    sheet = db.get(ScannedSheet, sheet_id)
    if sheet is None:
        raise NotFoundError("答题卡", str(sheet_id))
    return sheet


def sheet_exam(db: Session, sheet_id: int) -> int:
    """The exam a stored sheet belongs to (for the shells' access checks)."""
    return _sheet(db, sheet_id).exam_id


def _exam(db: Session, exam_id: int) -> Exam:
    exam = db.get(Exam, exam_id)
    if exam is None:
        raise NotFoundError("考试", str(exam_id))
    return exam


def overview(db: Session, exam_id: int) -> ScanOverview:
    """Every sheet kept for the exam (newest first), counts by status, and the listings."""
    ex = _Exam(db, _exam(db, exam_id))
    sheets = list(db.scalars(select(ScannedSheet).where(ScannedSheet.exam_id == exam_id)
                             .order_by(ScannedSheet.id.desc())))
    views = [_view(s, "", ex.candidates.get(s.candidate_id) if s.candidate_id else None,
                   ex.forms.get(s.form_id) if s.form_id else None) for s in sheets]
    counts = {st.value: sum(1 for s in sheets if s.status == st.value) for st in SheetStatus}
    return ScanOverview(exam_id, views, counts, sum(len(v.review) for v in views), _listings(db, ex),
                        paper_results(db, exam_id))


def review_queue(db: Session, exam_id: int) -> list[ReviewPosition]:
    """The positions waiting for a person, sheet by sheet (upload order), position by position."""
    ex = _Exam(db, _exam(db, exam_id))
    out = []
    for s in db.scalars(select(ScannedSheet).where(ScannedSheet.exam_id == exam_id,
                                                  ScannedSheet.status == SheetStatus.REVIEW.value)
                        .order_by(ScannedSheet.id)):
        cand = ex.candidates.get(s.candidate_id) if s.candidate_id else None
        items = {it.position: it for it in ex.form_items(s.form_id)}
        form = ex.forms.get(s.form_id)
        marks = {p.position: p for p in _positions(s)}
        for pos in _open_positions(s):
            p, it = marks[pos], items[pos]
            out.append(ReviewPosition(s.id, s.file, s.page, cand.ticket if cand else "", cand.name if cand else "",
                                      form.code if form else "", pos, it.type, LETTERS[:_options(it)], p.letters,
                                      p.darkness, p.confidence, p.flag_names))
    return out


def resolve(db: Session, sheet_id: int, position: int, letters: str, *, actor: str) -> Resolved:
    """Confirm or correct what was read at ``position`` (``letters``: "B", "AC", "" for no
    answer; 对/错 for a 判断). Recorded in the sheet and the audit log; the sheet is scored
    when no open position is left (and scored again when a scored sheet is corrected)."""
    sheet = _sheet(db, sheet_id)
    if sheet.status not in LIVE:
        raise ConflictError(f"答题卡 {sheet_id} 未被读入（{STATUS_NAMES[SheetStatus(sheet.status)]}），不能复核")
    ex = _Exam(db, _exam(db, sheet.exam_id))
    items = {it.position: it for it in ex.form_items(sheet.form_id)}
    it = items.get(position)
    if it is None:
        raise DataFileError([Problem("", f"答题卡 {sheet_id}", "题号", f"题号应为 1–{len(items)}，实际为 {position}")])
    chosen, why = read_answer(letters, it.type, _options(it))
    if chosen is None:
        raise DataFileError([Problem("", f"答题卡 {sheet_id}", f"第 {position} 题", why)])
    after = "".join(chosen)
    before = sheet.answers.get(str(position), "")
    read = next(p.letters for p in _positions(sheet) if p.position == position)
    now = datetime.now(UTC)
    sheet.corrections = [*sheet.corrections, asdict(Correction(position, read, after, actor, _iso(now)))]
    sheet.answers = {**sheet.answers, str(position): after}
    cand = ex.candidates.get(sheet.candidate_id) if sheet.candidate_id else None
    audit.record(db, actor=actor, action="scan.resolve", target=f"scanned sheet {sheet.id}", at=now,
                 before={"position": position, "letters": before, "read": read},
                 after={"position": position, "letters": after, "ticket": cand.ticket if cand else "",
                        "exam": sheet.exam_id})
    row = None
    if not _open_positions(sheet):
        form = ex.forms.get(sheet.form_id)
        if cand is not None and form is not None:
            row = _score(db, ex, sheet, cand, form, actor)
        else:
            sheet.status = SheetStatus.READY.value
    db.commit()
    return Resolved(_view(sheet, "", cand, ex.forms.get(sheet.form_id)), position, before, after, row)


def delete_sheet(db: Session, sheet_id: int, *, actor: str, reason: str = "") -> ScannedPage:
    """Delete a kept sheet (e.g. to read the candidate's sheet again with other marks); its paper
    result goes with it when the result came from this sheet. Audited."""
    sheet = _sheet(db, sheet_id)
    ex = _Exam(db, _exam(db, sheet.exam_id))
    cand = ex.candidates.get(sheet.candidate_id) if sheet.candidate_id else None
    view = _view(sheet, "", cand, ex.forms.get(sheet.form_id) if sheet.form_id else None)
    removed = False
    if cand is not None:
        res = db.scalars(select(PaperResult).where(PaperResult.exam_id == sheet.exam_id,
                                                   PaperResult.candidate_id == cand.id)).first()
        if res is not None and res.result.get("sheet_id") == sheet.id:
            db.delete(res)
            removed = True
    audit.record(db, actor=actor, action="scan.delete", target=f"scanned sheet {sheet.id}",
                 before={"exam": sheet.exam_id, "ticket": view.ticket, "form": view.form, "file": sheet.file,
                         "page": sheet.page, "status": sheet.status, "answers": dict(sheet.answers),
                         "result_removed": removed},
                 after={"reason": reason})
    db.delete(sheet)
    db.commit()
    return view


def assign_ticket(db: Session, sheet_id: int, ticket: str, *, actor: str) -> ScannedPage:
    """Give a blank sheet (no candidate in its code) to a roster candidate who has no sheet yet;
    scored at once when nothing waits for review. Audited."""
    sheet = _sheet(db, sheet_id)
    if sheet.status not in LIVE or sheet.candidate_id is not None:
        raise ConflictError(f"答题卡 {sheet_id} 不是待指定考生的空白答题卡")
    ex = _Exam(db, _exam(db, sheet.exam_id))
    cand = next((c for c in ex.candidates.values() if c.ticket == ticket.strip()), None)
    if cand is None:
        raise DataFileError([Problem("", f"答题卡 {sheet_id}", "准考证号",
                                     f"准考证号“{ticket.strip()}”不在考试 {sheet.exam_id} 的名单中")])
    if cand.id in ex.by_candidate:
        raise ConflictError(f"准考证号 {cand.ticket} 已有读入的答题卡（{ex.by_candidate[cand.id].file}）")
    wrong = _wrong_form(db, cand, ex.forms.get(sheet.form_id)) if sheet.form_id else ""
    if wrong:
        raise ConflictError(wrong)
    sheet.candidate_id = cand.id
    audit.record(db, actor=actor, action="scan.assign", target=f"scanned sheet {sheet.id}",
                 before={"ticket": ""}, after={"ticket": cand.ticket, "exam": sheet.exam_id})
    form = ex.forms.get(sheet.form_id)
    if not _open_positions(sheet) and form is not None:
        _score(db, ex, sheet, cand, form, actor)
    db.commit()
    return _view(sheet, "", cand, form)


def row_image(db: Session, sheet_id: int, position: int) -> bytes:
    """A PNG of one row of a kept sheet (its number and bubbles), for the review page."""
    sheet = _sheet(db, sheet_id)
    if sheet.image is None or sheet.form_id is None:
        raise NotFoundError("答题卡图像", str(sheet_id))
    ex = _Exam(db, _exam(db, sheet.exam_id))
    try:
        layout = ex.layout(sheet.form_id)
        row = layout.row(position)
    except (SheetLayoutError, KeyError, IndexError, ValueError):
        raise NotFoundError("题号", str(position)) from None
    located = archive.restore(sheet.image, sheet.px_per_mm, file=sheet.file, page=sheet.page, qr=sheet.qr)
    return reader.encode_png(reader.crop(located, row.band))

