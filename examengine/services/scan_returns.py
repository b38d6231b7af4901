"""The annotated return of scanned answer sheets, for appeals: one candidate's PDF, or one for a
room with each candidate starting a new page (``rendering.annotated``): the sheet as it was
scanned (the rectified image kept with it, ``scanning.archive``), the key, what the reader saw
and what was scored after review, who corrected or confirmed which position and when, and the
paper result on the online scale.

Only a sheet that was read and scored gives a return, and only when the candidate's paper result
came from that sheet (a result typed from a CSV afterwards replaces it): what the return shows
is then exactly what was scored. A room's candidates without such a sheet are listed as
skipped. Every export is audited (``scan.return``): it discloses candidates' sheets and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from examengine.db.forms_models import Form, PaperResult
from examengine.db.models import Candidate, Exam
from examengine.db.scan_models import ScannedSheet
from examengine.errors import ConflictError, ExamEngineError, NotFoundError
from examengine.exam.sheet_codes import SheetStatus
from examengine.exam.sheet_layout import SheetLayout, SheetLayoutError
from examengine.itemfiles.bounds import clean_filename
from examengine.rendering.annotated import AnnotatedRow, AnnotatedSheet, ResultSummary, annotated_pdf
from examengine.scanning import archive, reader
from examengine.services import audit
from examengine.services.exams import as_utc
from examengine.services.forms import FormItemView, form_view
from examengine.services.mapping import stored_result
from examengine.services.scans import LIVE, Correction, PositionMarks, form_layout

#: the flag of a position sent to review for its low confidence alone (no mark flag of its
#: own), as the review queue names it
LOW_CONFIDENCE = "识别把握低"


@dataclass(frozen=True)
class SkippedCandidate:
    """A candidate of the room asked for who has no return, and why."""

    ticket: str
    name: str
    reason: str


@dataclass(frozen=True)
class AnnotatedReturn:
    """The PDF of one candidate's or one room's annotated returns."""

    exam_id: int
    pdf: bytes
    file_name: str  # '考试1-DEMO0001-答题卡回执.pdf', '考试1-第一考场-答题卡回执.pdf'
    ascii_file_name: str  # for clients that do not read RFC 5987's ``filename*``
    tickets: list[str]  # the candidates in the PDF, in its order
    sheet_ids: list[int]  # their scanned sheets
    ticket: str | None = None  # what was asked for: a candidate ...
    room: str | None = None  # ... or a room
    skipped: list[SkippedCandidate] = field(default_factory=list)  # the room's candidates without a return

    @property
    def n_candidates(self) -> int:
        return len(self.tickets)


@dataclass(frozen=True)
class RoomReturns:
    """A room of the exam's roster: its candidates, and how many have a scored sheet."""

    room: str
    candidates: int
    scored: int


def _exam(db: Session, exam_id: int) -> Exam:
    exam = db.get(Exam, exam_id)
    if exam is None:
        raise NotFoundError("考试", str(exam_id))
    return exam


class _Sheets:
    """The exam's kept sheets and paper results, by candidate, read once."""

    def __init__(self, db: Session, exam: Exam) -> None:
        self.db, self.exam = db, exam
        self.sheets = {s.candidate_id: s for s in db.scalars(
            select(ScannedSheet).where(ScannedSheet.exam_id == exam.id, ScannedSheet.status.in_(LIVE),
                                       ScannedSheet.candidate_id.is_not(None)).order_by(ScannedSheet.id))}
        self.results = {r.candidate_id: r for r in db.scalars(select(PaperResult).where(PaperResult.exam_id == exam.id))}
        self._forms: dict[int, tuple[Form, list[FormItemView], SheetLayout]] = {}

    def why_not(self, cand: Candidate) -> str:
        """Why the candidate has no return ("" when they have one)."""
        sheet = self.sheets.get(cand.id)
        if sheet is None:
            return "没有读入的答题卡"
        if sheet.status != SheetStatus.SCORED.value:
            settled = {c["position"] for c in sheet.corrections}
            waiting = [p["position"] for p in sheet.positions if p["review"] and p["position"] not in settled]
            if waiting:
                return f"答题卡还有 {len(waiting)} 处涂点待复核（第 {'、'.join(map(str, waiting[:10]))} 题），尚未计分"
            return "答题卡尚未计分"
        res = self.results.get(cand.id)
        if res is None:
            return "答题卡尚未计分"
        if (res.result or {}).get("sheet_id") != sheet.id:
            where = (res.source or "").rsplit(" sha256:", 1)[0] or "另一来源"
            return f"纸笔成绩来自“{where}”，不是读入的答题卡 {sheet.id}"
        return ""

    def form(self, form_id: int) -> tuple[Form, list[FormItemView], SheetLayout]:
        if form_id not in self._forms:
            items = form_view(self.db, form_id).items
            try:
                layout = form_layout(items)
            except SheetLayoutError as exc:
                raise ConflictError(str(exc)) from None
            self._forms[form_id] = (self.db.get(Form, form_id), items, layout)
        return self._forms[form_id]

    def annotated(self, cand: Candidate) -> AnnotatedSheet:
        sheet, res = self.sheets[cand.id], self.results[cand.id]
        form, items, layout = self.form(res.form_id)
        if sheet.image is None or sheet.px_per_mm is None:
            raise ConflictError(f"准考证号 {cand.ticket} 的答题卡 {sheet.id} 没有保存扫描图像，不能生成回执")
        gray = archive.restore(sheet.image, sheet.px_per_mm).sheet  # as kept (~100 dpi): overlays read fine
        marks = {p["position"]: PositionMarks(**p) for p in sheet.positions}
        last: dict[int, Correction] = {}
        for c in sheet.corrections:  # the latest decision on a position stands
            last[c["position"]] = Correction(**c)
        rows = []
        for it, scored, score in zip(items, res.answers, res.scores, strict=True):
            p = marks[it.position]
            flags = p.flag_names or ([LOW_CONFIDENCE] if p.review else [])
            c = last.get(it.position)
            rows.append(AnnotatedRow(
                position=it.position, type_label=it.type, read=p.letters, final="".join(scored), key="".join(it.key),
                correct=bool(score), flags=tuple(flags), corrected_by=c.by if c else None,
                corrected_at=datetime.fromisoformat(c.at) if c else None))
        r = stored_result(res.result)
        summary = ResultSummary(raw=res.raw_score, n_items=len(res.scores), theta=res.theta, se=res.se,
                                band=r.band_name, score=r.score, passed=r.passed, scored_by=res.scored_by,
                                scored_at=as_utc(res.scored_at))
        return AnnotatedSheet(
            ticket=cand.ticket, name=cand.name, room=cand.room or "", exam_name=self.exam.name, form_code=form.code,
            image_png=reader.encode_png(gray), px_per_mm=sheet.px_per_mm, layout=layout, rows=tuple(rows),
            summary=summary, source=sheet.file + (f" 第 {sheet.page} 页" if sheet.page else ""))


def _ascii(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9._-]", "_", text)).strip("_")


def annotated_return(db: Session, exam_id: int, *, ticket: str | None = None, room: str | None = None,
                     zone: ZoneInfo, actor: str) -> AnnotatedReturn:
    """The annotated return of one candidate (``ticket``) or of every candidate of ``room``
    with a scored sheet (by 准考证号, each starting a new page); exactly one of the two. Times
    in the PDF are shown in ``zone`` (the centre's). Audited as ``scan.return``.

    Refused (nothing written): an unknown exam, ticket or room (NotFoundError); a candidate
    whose sheet was not read, waits for review, or whose result came from elsewhere, and a
    room where no candidate has a scored sheet (ConflictError). Takes 1-3 s per candidate."""
    ticket = (ticket or "").strip() or None
    room = (room or "").strip() or None
    if (ticket is None) == (room is None):
        raise ExamEngineError("请指定准考证号或考场（二者选一）")
    exam = _exam(db, exam_id)
    sheets = _Sheets(db, exam)
    skipped: list[SkippedCandidate] = []
    if ticket is not None:
        cand = next((c for c in exam.candidates if c.ticket == ticket), None)
        if cand is None:
            raise NotFoundError("考生", f"准考证号 {ticket} 不在考试 {exam.id} 的名单中")
        if cand.id not in sheets.sheets:
            raise NotFoundError("已读入的答题卡", f"准考证号 {ticket}（考试 {exam.id}）")
        why = sheets.why_not(cand)
        if why:
            raise ConflictError(f"准考证号 {ticket} 不能生成答题卡回执：{why}")
        chosen = [cand]
        name = clean_filename(f"考试{exam.id}-{ticket}-答题卡回执.pdf", 120)
        ascii_name = f"exam-{exam.id}-{_ascii(ticket) or 'candidate'}-return.pdf"
        title = f"{exam.name} · 答题卡评分回执"
    else:
        in_room = sorted((c for c in exam.candidates if (c.room or "").strip() == room), key=lambda c: c.ticket)
        if not in_room:
            raise NotFoundError("考场", f"{room}（考试 {exam.id} 的名单中没有这个考场）")
        chosen = []
        for c in in_room:
            why = sheets.why_not(c)
            if why:
                skipped.append(SkippedCandidate(c.ticket, c.name, why))
            else:
                chosen.append(c)
        if not chosen:
            raise ConflictError(f"考场 {room} 的 {len(in_room)} 名考生都没有已计分的答题卡，不能生成回执"
                                f"（如 {skipped[0].ticket}：{skipped[0].reason}）")
        name = clean_filename(f"考试{exam.id}-{room}-答题卡回执.pdf", 120)
        ascii_name = "-".join(x for x in (f"exam-{exam.id}", "room", _ascii(room), "returns.pdf") if x)
        title = f"{exam.name} · {room} · 答题卡评分回执"
    built = [sheets.annotated(c) for c in chosen]
    pdf = annotated_pdf(built, title, zone=zone)  # rows, letters and layout all come from the form: they agree
    tickets, ids = [c.ticket for c in chosen], [sheets.sheets[c.id].id for c in chosen]
    audit.record(db, actor=actor, action="scan.return", target=f"exam {exam.id}",
                 after={"ticket": ticket, "room": room, "tickets": tickets, "sheets": ids, "bytes": len(pdf)})
    db.commit()
    return AnnotatedReturn(exam.id, pdf, name, ascii_name, tickets, ids, ticket, room, skipped)


def return_rooms(db: Session, exam_id: int) -> list[RoomReturns]:
    """The rooms of the exam's roster (by name) with their candidates and how many of them have
    a return (a scored sheet): the choices of the scans page's room download."""
    exam = _exam(db, exam_id)
    sheets = _Sheets(db, exam)
    rooms: dict[str, list[Candidate]] = {}
    for c in exam.candidates:
        if (c.room or "").strip():
            rooms.setdefault(c.room.strip(), []).append(c)
    return [RoomReturns(room, len(cs), sum(1 for c in cs if not sheets.why_not(c))) for room, cs in sorted(rooms.items())]
