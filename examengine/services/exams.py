"""Exams and rosters for proctors: create an exam from a blueprint, import a roster (CSV or
XLSX: 准考证号, 姓名, optional 身份证号后四位, 考场, 座位号) issuing access codes, ticket lists."""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from examengine.config import zone_label
from examengine.db.models import Attempt, BlueprintVersion, Candidate, Exam
from examengine.errors import DataFileError, ExamEngineError, NotFoundError, Problem
from examengine.itemfiles.bounds import clean_filename, illegal_char
from examengine.itemfiles.tables import ROSTER_COLUMNS, read_roster, spreadsheet_text
from examengine.services import audit
from examengine.services.blueprints import exposure_calibrated, get_blueprint_version

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed on phones
# The longest value each roster column may hold: the candidates table's own lengths.
ROSTER_LENGTHS = {h: Candidate.__table__.c[key].type.length for h, key in ROSTER_COLUMNS.items()}
TIME_LIMIT_MINUTES = (1, 1440)  # an exam lasts at most a day
MAX_WINDOW_DAYS = 366


def new_access_code(length: int = 8) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def as_utc(dt: datetime) -> datetime:
    """A stored time (naive ones are UTC, as SQLite returns them) as an aware UTC time."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def typed_time(dt: datetime, zone: ZoneInfo) -> datetime:
    """A time a person typed, in UTC: without an offset it is wall-clock time in the centre's
    ``zone`` ('2026-12-12 09:00' in Asia/Shanghai is 01:00 UTC); an explicit offset is honoured."""
    return dt.replace(tzinfo=zone).astimezone(UTC) if dt.tzinfo is None else dt.astimezone(UTC)


@dataclass(frozen=True)
class ExamView:
    id: int
    name: str
    blueprint: str
    blueprint_version: int
    window_start: str
    window_end: str
    time_limit_minutes: int
    results_policy: str
    results_released: bool
    candidates: int
    attempts: dict[str, int]
    exposure_calibrated: bool  # the blueprint version has Sympson-Hetter parameters (else no exposure control)
    require_id_last4: bool = False  # sign-in asks for 身份证号后四位
    approve_new_device: bool = False  # a second device continues a started attempt only once a proctor approves


def _view(db: Session, exam: Exam) -> ExamView:
    counts = dict(db.execute(select(Attempt.status, func.count()).where(Attempt.exam_id == exam.id)
                             .group_by(Attempt.status)).all())
    n = db.scalar(select(func.count()).select_from(Candidate).where(Candidate.exam_id == exam.id))
    bv = db.get(BlueprintVersion, exam.blueprint_version_id)
    return ExamView(exam.id, exam.name, bv.code, bv.version, as_utc(exam.window_start).isoformat(timespec="seconds"),
                    as_utc(exam.window_end).isoformat(timespec="seconds"), exam.time_limit_minutes,
                    exam.results_policy, exam.results_released, n or 0, counts,
                    exposure_calibrated(bv), exam.require_id_last4, exam.approve_new_device)


def _check_exam_settings(name: str, window_start: datetime | None, window_end: datetime | None, limit: int,
                         results_policy: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The bounds of an exam's settings; every breach a Problem naming the field (a 422)."""
    problems: list[Problem] = []

    def bad(field: str, message: str) -> None:
        problems.append(Problem("", "", field, message))

    lo, hi = TIME_LIMIT_MINUTES
    if not lo <= limit <= hi:
        bad("time_limit_minutes", f"考试时长应为 {lo}–{hi} 分钟，实际为 {limit}")
    name_length = Exam.__table__.c.name.type.length
    if illegal_char(name or ""):
        bad("name", f"考试名称含有不允许的控制字符（{illegal_char(name)}）")
    elif len(name or "") > name_length:
        bad("name", f"考试名称不能超过 {name_length} 个字符")
    if results_policy not in ("immediate", "release"):
        bad("results_policy", "成绩发布方式应为 immediate（考完即显示）或 release（稍后发布）")
    try:
        start = typed_time(window_start or datetime.now(UTC), zone)
        end = typed_time(window_end, zone) if window_end is not None else start + timedelta(days=1)
    except OverflowError:
        bad("window_start", "考试时间窗的开始时间超出范围")
        raise DataFileError(problems) from None
    if end <= start:
        bad("window_end", "考试时间窗的结束时间应晚于开始时间")
    elif end - start > timedelta(days=MAX_WINDOW_DAYS):
        bad("window_end", f"考试时间窗不能超过 {MAX_WINDOW_DAYS} 天")
    if problems:
        raise DataFileError(problems)
    return start, end


def create_exam(db: Session, *, blueprint: str, name: str = "", actor: str, zone: ZoneInfo,
                window_start: datetime | None = None, window_end: datetime | None = None,
                time_limit_minutes: int | None = None, results_policy: str = "immediate", proctor_id: int | None = None,
                require_id_last4: bool = False, approve_new_device: bool = False) -> ExamView:
    """By default the window opens now and lasts a day, the time limit comes from the
    blueprint, and results are shown at the end. A window time without an offset is wall-clock
    time in ``zone``, the centre's (Settings.timezone); the default name carries the local date."""
    row, bp = get_blueprint_version(db, blueprint)
    limit = bp.time_limit_minutes if time_limit_minutes is None else time_limit_minutes
    start, end = _check_exam_settings(name, window_start, window_end, limit, results_policy, zone)
    day = start.astimezone(zone).strftime("%Y-%m-%d")
    exam = Exam(name=name or f"{bp.name} {day}", blueprint_version_id=row.id,
                window_start=start, window_end=end, time_limit_minutes=limit, results_policy=results_policy,
                require_id_last4=require_id_last4, approve_new_device=approve_new_device, created_by=actor)
    db.add(exam)
    db.flush()
    if proctor_id is not None:  # the proctor who creates an exam runs it
        from examengine.db.models import ProctorAssignment

        db.add(ProctorAssignment(user_id=proctor_id, exam_id=exam.id))
    audit.record(db, actor=actor, action="exam.create", target=f"exam {exam.id}",
                 after={"name": exam.name, "blueprint": f"{row.code} v{row.version}",
                        "window": [start.isoformat(), end.isoformat()], "time_limit_minutes": limit,
                        "results_policy": results_policy, "require_id_last4": require_id_last4,
                        "approve_new_device": approve_new_device})
    db.commit()
    return _view(db, exam)


def set_sign_in_rules(db: Session, exam_id: int, *, actor: str, require_id_last4: bool | None = None,
                      approve_new_device: bool | None = None) -> ExamView:
    """Change the exam's sign-in rules: ask for 身份证号后四位; hold a second device until a proctor
    approves it. Asking for the last four is refused while roster entries lack them."""
    exam = get_exam(db, exam_id)
    before = {"require_id_last4": exam.require_id_last4, "approve_new_device": exam.approve_new_device}
    if require_id_last4:
        lacking = [c.ticket for c in exam.candidates if not c.id_last4]
        if lacking:
            raise ExamEngineError(f"名单中有 {len(lacking)} 名考生没有身份证号后四位（如 {'、'.join(lacking[:5])}），"
                                  "请先在名单中补齐再开启核验。")
    if require_id_last4 is not None:
        exam.require_id_last4 = require_id_last4
    if approve_new_device is not None:
        exam.approve_new_device = approve_new_device
    audit.record(db, actor=actor, action="exam.sign_in_rules", target=f"exam {exam.id}", before=before,
                 after={"require_id_last4": exam.require_id_last4, "approve_new_device": exam.approve_new_device})
    db.commit()
    return _view(db, exam)


def get_exam(db: Session, exam_id: int) -> Exam:
    exam = db.get(Exam, exam_id)
    if exam is None:
        raise NotFoundError("考试", str(exam_id))
    return exam


def exam_view(db: Session, exam_id: int) -> ExamView:
    return _view(db, get_exam(db, exam_id))


def list_exams(db: Session) -> list[ExamView]:
    return [_view(db, e) for e in db.scalars(select(Exam).order_by(Exam.id))]


@dataclass(frozen=True)
class RosterReport:
    exam_id: int
    added: int
    updated: int
    total: int


def import_roster(db: Session, exam_id: int, filename: str, data: bytes, *, actor: str) -> RosterReport:
    """Add candidates (each gets an access code); a ticket already on the roster is updated
    (name, last four, room, seat), keeping its code. Group columns (性别, 年龄段, 地区, 院校类型,
    分组:名称), when any row fills one, replace the candidates' groups (kept otherwise); they are
    for analyses only and the audit records which columns came, never their values. All or nothing."""
    exam = get_exam(db, exam_id)
    filename = clean_filename(filename)
    rows = read_roster(filename, data, lengths=ROSTER_LENGTHS)
    with_groups = any(r.groups for r in rows)
    existing = {c.ticket: c for c in exam.candidates}
    before = {t: (c.name, c.id_last4, c.room, c.seat) for t, c in existing.items()}
    added = updated = 0
    for rec in rows:
        cand = existing.get(rec.ticket)
        if cand is None:
            exam.candidates.append(Candidate(ticket=rec.ticket, name=rec.name, id_last4=rec.id_last4,
                                             room=rec.room, seat=rec.seat, access_code=new_access_code(),
                                             groups=dict(rec.groups)))
            added += 1
            continue
        changed = (cand.name, cand.id_last4, cand.room, cand.seat) != (rec.name, rec.id_last4, rec.room, rec.seat)
        if changed:
            cand.name, cand.id_last4, cand.room, cand.seat = rec.name, rec.id_last4, rec.room, rec.seat
        if with_groups and dict(cand.groups or {}) != dict(rec.groups):
            cand.groups = dict(rec.groups)
            changed = True
        updated += changed
    after = {"file": filename, "added": added, "updated": updated,
             "changed": [r.ticket for r in rows if r.ticket in before
                         and before[r.ticket] != (r.name, r.id_last4, r.room, r.seat)]}
    if with_groups:
        after["group_columns"] = sorted({g for r in rows for g in r.groups})
    audit.record(db, actor=actor, action="exam.roster", target=f"exam {exam.id}",
                 before={"candidates": len(before)}, after=after)
    db.commit()
    return RosterReport(exam.id, added, updated, len(exam.candidates))


@dataclass(frozen=True)
class CandidateGroups:
    """A candidate's groups, for admins (the exam's roster with its group columns)."""

    ticket: str
    name: str
    groups: dict[str, str]


def candidate_groups(db: Session, exam_id: int) -> list[CandidateGroups]:
    """Every candidate's groups (admins only: the routes that call this check the role)."""
    exam = get_exam(db, exam_id)
    return [CandidateGroups(c.ticket, c.name, dict(c.groups or {})) for c in exam.candidates]


def group_values(db: Session, exam_id: int) -> dict[str, list[str]]:
    """Each group name of the exam's roster with its values, sorted (admins only)."""
    out: dict[str, set[str]] = {}
    for c in candidate_groups(db, exam_id):
        for name, value in c.groups.items():
            out.setdefault(name, set()).add(value)
    return {name: sorted(values) for name, values in sorted(out.items())}


@dataclass(frozen=True)
class Ticket:
    ticket: str
    name: str
    room: str
    access_code: str
    seat: str = ""


def tickets(db: Session, exam_id: int) -> list[Ticket]:
    exam = get_exam(db, exam_id)
    return [Ticket(c.ticket, c.name, c.room, c.access_code, c.seat) for c in exam.candidates]


def window_text(view: ExamView, zone: ZoneInfo) -> str:
    """The exam's window as a ticket or an export says it, in the centre's zone:
    '2026-12-12 09:00 至 11:30（北京时间）' (the end's date only when it differs)."""
    start = datetime.fromisoformat(view.window_start).astimezone(zone)
    end = datetime.fromisoformat(view.window_end).astimezone(zone)
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M} 至 {until}（{zone_label(zone, start)}）"


def tickets_csv(db: Session, exam_id: int, zone: ZoneInfo) -> bytes:
    """The tickets for a mail merge: code, room, seat and the window in the centre's local time."""
    window = window_text(exam_view(db, exam_id), zone)
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["准考证号", "姓名", "访问码", "考场", "座位号", "考试时间"])
    for t in tickets(db, exam_id):
        w.writerow([spreadsheet_text(v) for v in (t.ticket, t.name, t.access_code, t.room, t.seat, window)])
    return buf.getvalue().encode("utf-8-sig")


def release_results(db: Session, exam_id: int, *, actor: str) -> ExamView:
    exam = get_exam(db, exam_id)
    audit.record(db, actor=actor, action="exam.release", target=f"exam {exam.id}",
                 before={"results_released": exam.results_released}, after={"results_released": True})
    exam.results_released = True
    db.commit()
    return _view(db, exam)
