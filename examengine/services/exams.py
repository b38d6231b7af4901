"""Exams and rosters for proctors: create an exam from a blueprint, import a roster (CSV or
XLSX: 准考证号, 姓名, optional 身份证号后四位, 考场, 座位号) issuing access codes, ticket lists."""

from __future__ import annotations

import csv
import io
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from examengine.config import zone_label
from examengine.db.forms_models import Form, FormUse
from examengine.db.models import Attempt, BlueprintVersion, Candidate, Exam
from examengine.errors import ConflictError, DataFileError, ExamEngineError, NotFoundError, Problem
from examengine.exam.attempts import AttemptStatus, ExamMode
from examengine.exam.blueprint import Blueprint
from examengine.exam.items import is_provisional
from examengine.itemfiles.bounds import clean_filename, illegal_char
from examengine.itemfiles.tables import ROSTER_COLUMNS, read_roster, spreadsheet_text
from examengine.services import audit, loft
from examengine.services.blueprints import exposure_calibrated, get_blueprint_version, resolve_cuts
from examengine.services.mapping import blueprint_of, load_pool, stored_result

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
    mode: str = ExamMode.ADAPTIVE.value  # an ExamMode value
    form_id: int | None = None  # the form a linear exam delivers
    form_code: str | None = None  # its code (A, B, ...) in its assembly
    # the blueprint's operational pool now, and how many of its items have provisional parameters
    pool_items: int = 0
    pool_provisional: int = 0
    # stored results scored on provisional parameters, and results stored before the mark existed
    provisional_results: int = 0
    unknown_results: int = 0


@dataclass(frozen=True)
class ResultMarks:
    """How many of an exam's stored results rest on provisional parameters."""

    results: int
    provisional: int
    unknown: int  # stored before the mark existed (``exams rescore`` fills it in)


def result_marks(db: Session, exam_id: int) -> ResultMarks:
    results = [stored_result(r) for r in db.scalars(select(Attempt.result).where(
        Attempt.exam_id == exam_id, Attempt.status.in_([s.value for s in AttemptStatus if s.scored])))]
    results = [r for r in results if r is not None]
    return ResultMarks(len(results), sum(1 for r in results if r.provisional),
                       sum(1 for r in results if r.provisional is None))


def pool_marks(db: Session, bp) -> tuple[int, int]:
    """(operational items, of them with provisional parameters) of a blueprint's pool now."""
    try:
        bpool = load_pool(db, bp)
    except DataFileError:
        return 0, 0
    return len(bpool.version_ids), sum(1 for o in bpool.origins if is_provisional(o))


def _view(db: Session, exam: Exam) -> ExamView:
    counts = dict(db.execute(select(Attempt.status, func.count()).where(Attempt.exam_id == exam.id)
                             .group_by(Attempt.status)).all())
    n = db.scalar(select(func.count()).select_from(Candidate).where(Candidate.exam_id == exam.id))
    bv = db.get(BlueprintVersion, exam.blueprint_version_id)
    pool_items, pool_provisional = pool_marks(db, blueprint_of(bv))
    marks = result_marks(db, exam.id)
    return ExamView(exam.id, exam.name, bv.code, bv.version, as_utc(exam.window_start).isoformat(timespec="seconds"),
                    as_utc(exam.window_end).isoformat(timespec="seconds"), exam.time_limit_minutes,
                    exam.results_policy, exam.results_released, n or 0, counts,
                    exposure_calibrated(bv), exam.require_id_last4, exam.approve_new_device, mode=exam.mode,
                    form_id=exam.form_id, form_code=exam.form.code if exam.form is not None else None,
                    pool_items=pool_items, pool_provisional=pool_provisional,
                    provisional_results=marks.provisional, unknown_results=marks.unknown)


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


def _form_blueprint(db: Session, form_id: int, blueprint: str) -> tuple[Form, BlueprintVersion, Blueprint]:
    """The form a linear exam delivers and its blueprint version (a ``blueprint`` named too must
    be the form's)."""
    form = db.get(Form, form_id)
    if form is None:
        raise NotFoundError("试卷", f"{form_id}（请先组卷，或核对试卷编号）")
    bv = db.get(BlueprintVersion, form.blueprint_version_id)
    if blueprint.strip() and blueprint.strip() != bv.code:
        raise ConflictError(f"试卷 {form_id} 属于蓝图 {bv.code}，不是 {blueprint.strip()}")
    if not form.items:
        raise ConflictError(f"试卷 {form_id} 没有题目")
    return (form, *get_blueprint_version(db, bv.code, bv.version))


def _check_mode(mode: str | None, form_id: int | None) -> ExamMode:
    """The delivery mode asked for (None: adaptive, or linear with a form), checked against the
    form: a linear exam needs one, the other modes take none."""
    if mode is None or not str(mode).strip():
        return ExamMode.LINEAR if form_id is not None else ExamMode.ADAPTIVE
    try:
        value = ExamMode(str(mode).strip())
    except ValueError:
        raise DataFileError([Problem("", "", "mode", f"考试方式应为 {'、'.join(m.value for m in ExamMode)} 之一"
                                                     f"（自适应、固定试卷、随机组卷），实际为 {mode}")]) from None
    if value is ExamMode.LINEAR and form_id is None:
        raise DataFileError([Problem("", "", "form_id", "固定试卷（linear）考试需要指定试卷编号")])
    if value is not ExamMode.LINEAR and form_id is not None:
        raise DataFileError([Problem("", "", "mode", f"指定了试卷的考试是固定试卷（linear）考试，不能是 {value.value}")])
    return value


def create_exam(db: Session, *, blueprint: str = "", name: str = "", actor: str, zone: ZoneInfo,
                window_start: datetime | None = None, window_end: datetime | None = None,
                time_limit_minutes: int | None = None, results_policy: str = "immediate", proctor_id: int | None = None,
                require_id_last4: bool = False, approve_new_device: bool = False,
                form_id: int | None = None, mode: str | None = None) -> ExamView:
    """By default the window opens now and lasts a day, the time limit comes from the
    blueprint, and results are shown at the end. A window time without an offset is wall-clock
    time in ``zone``, the centre's (Settings.timezone); the default name carries the local date.
    With ``form_id`` the exam is linear: it delivers that assembled form (services.linear), under
    the form's blueprint version; the form is recorded as used in the exam. ``mode`` "loft"
    (linear-on-the-fly): every attempt gets a form of the blueprint drawn when it starts
    (services.loft); refused when the blueprint's pool cannot serve one. ``mode`` may be left
    out: adaptive, or linear with a form."""
    mode_value = _check_mode(mode, form_id)
    form = None
    if form_id is not None:
        form, row, bp = _form_blueprint(db, form_id, blueprint)
    elif not blueprint.strip():
        raise DataFileError([Problem("", "", "blueprint", "请指定蓝图（自适应考试、随机组卷考试）或试卷（固定试卷考试）")])
    else:
        row, bp = get_blueprint_version(db, blueprint)
    limit = bp.time_limit_minutes if time_limit_minutes is None else time_limit_minutes
    start, end = _check_exam_settings(name, window_start, window_end, limit, results_policy, zone)
    day = start.astimezone(zone).strftime("%Y-%m-%d")
    mode = ExamMode.LINEAR if form is not None else mode_value
    if mode is ExamMode.LOFT:  # refused now rather than at every candidate's start
        loft.check_loft(db, bp, [c.theta for c in resolve_cuts(bp, load_pool(db, bp).pool.params)])
    default_name = f"{bp.name} {day}" if form is None else f"{bp.name} 试卷 {form.code} {day}"
    exam = Exam(name=name or default_name, blueprint_version_id=row.id,
                window_start=start, window_end=end, time_limit_minutes=limit, results_policy=results_policy,
                require_id_last4=require_id_last4, approve_new_device=approve_new_device, created_by=actor,
                mode=mode.value, form_id=form.id if form is not None else None)
    db.add(exam)
    db.flush()
    if form is not None:
        db.add(FormUse(form_id=form.id, exam_id=exam.id))
    if proctor_id is not None:  # the proctor who creates an exam runs it
        from examengine.db.models import ProctorAssignment

        db.add(ProctorAssignment(user_id=proctor_id, exam_id=exam.id))
    audit.record(db, actor=actor, action="exam.create", target=f"exam {exam.id}",
                 after={"name": exam.name, "blueprint": f"{row.code} v{row.version}",
                        "window": [start.isoformat(), end.isoformat()], "time_limit_minutes": limit,
                        "results_policy": results_policy, "require_id_last4": require_id_last4,
                        "approve_new_device": approve_new_device, "mode": mode.value, "form_id": exam.form_id})
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
    (name, last four, room, seat, and the form code of a 试卷 column), keeping its code. Group columns (性别, 年龄段, 地区, 院校类型,
    分组:名称), when any row fills one, replace the candidates' groups (kept otherwise); they are
    for analyses only and the audit records which columns came, never their values. All or nothing."""
    exam = get_exam(db, exam_id)
    filename = clean_filename(filename)
    rows = read_roster(filename, data, lengths=ROSTER_LENGTHS)
    with_groups = any(r.groups for r in rows)
    with_accommodations = any(r.large_print is not None for r in rows)
    with_forms = any(r.form is not None for r in rows)  # a 试卷 column: the code each candidate asks for
    existing = {c.ticket: c for c in exam.candidates}
    before = {t: (c.name, c.id_last4, c.room, c.seat) for t, c in existing.items()}
    added = updated = 0
    for rec in rows:
        cand = existing.get(rec.ticket)
        if cand is None:
            exam.candidates.append(Candidate(ticket=rec.ticket, name=rec.name, id_last4=rec.id_last4,
                                             room=rec.room, seat=rec.seat, access_code=new_access_code(),
                                             groups=dict(rec.groups), roster_form=rec.form or "",
                                             **_accommodations(rec)))
            added += 1
            continue
        changed = (cand.name, cand.id_last4, cand.room, cand.seat) != (rec.name, rec.id_last4, rec.room, rec.seat)
        if changed:
            cand.name, cand.id_last4, cand.room, cand.seat = rec.name, rec.id_last4, rec.room, rec.seat
        if with_groups and dict(cand.groups or {}) != dict(rec.groups):
            cand.groups = dict(rec.groups)
            changed = True
        if with_accommodations:
            for key, value in _accommodations(rec).items():
                if getattr(cand, key) != value:
                    setattr(cand, key, value)
                    changed = True
        if with_forms and (cand.roster_form or "") != rec.form:
            cand.roster_form = rec.form
            changed = True
        updated += changed
    after = {"file": filename, "added": added, "updated": updated,
             "changed": [r.ticket for r in rows if r.ticket in before
                         and before[r.ticket] != (r.name, r.id_last4, r.room, r.seat)]}
    if with_groups:
        after["group_columns"] = sorted({g for r in rows for g in r.groups})
    if with_forms:  # how many ask for each form (``forms assign --by column`` assigns them)
        after["form_column"] = dict(sorted(Counter(r.form or "" for r in rows).items()))
    if with_accommodations:  # who has which accommodation: the audit trail of extra time given
        after["accommodations"] = {r.ticket: accommodation_text(**_accommodations(r)) for r in rows
                                   if any(_accommodations(r).values())}
    audit.record(db, actor=actor, action="exam.roster", target=f"exam {exam.id}",
                 before={"candidates": len(before)}, after=after)
    db.commit()
    return RosterReport(exam.id, added, updated, len(exam.candidates))


def _accommodations(rec) -> dict:
    """A roster row's accommodation fields (all off when the file has no accommodation column)."""
    return {"extra_percent": rec.extra_percent or 0, "extra_minutes": rec.extra_minutes or 0,
            "large_print": bool(rec.large_print), "reader": bool(rec.reader)}


def accommodation_text(*, extra_percent: int = 0, extra_minutes: int = 0, large_print: bool = False,
                       reader: bool = False) -> str:
    """Accommodations in words, as the roster writes them: "延时 +50% · 大字号 · 读屏" ("" for none)."""
    parts = []
    if extra_percent or extra_minutes:
        parts.append("延时 " + " ".join(([f"+{extra_percent}%"] if extra_percent else [])
                                       + ([f"+{extra_minutes} 分钟"] if extra_minutes else [])))
    parts += ["大字号"] * bool(large_print) + ["读屏"] * bool(reader)
    return " · ".join(parts)


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


def release_results(db: Session, exam_id: int, *, actor: str, confirm_provisional: bool = False) -> ExamView:
    """Release an exam's results. When any stored result rests on provisional parameters (or
    was stored before the mark existed), releasing needs ``confirm_provisional``: else a
    ConflictError says how many. The audit record says whether it was confirmed and how many."""
    exam = get_exam(db, exam_id)
    marks = result_marks(db, exam.id)
    if (marks.provisional or marks.unknown) and not confirm_provisional:
        unknown = f"，另有 {marks.unknown} 份未记录参数来源（可先运行 examengine exams rescore 补记）" if marks.unknown else ""
        raise ConflictError(
            f"考试 {exam.id} 的 {marks.results} 份成绩中有 {marks.provisional} 份基于暂定参数（题目未经作答数据校准）"
            f"{unknown}。确认仍要发布，请勾选“确认发布暂定成绩”（命令行 --confirm-provisional，接口 confirm_provisional）。")
    audit.record(db, actor=actor, action="exam.release", target=f"exam {exam.id}",
                 before={"results_released": exam.results_released},
                 after={"results_released": True, "results": marks.results,
                        "provisional_results": marks.provisional, "unknown_results": marks.unknown,
                        "confirmed_provisional": bool(confirm_provisional and (marks.provisional or marks.unknown))})
    exam.results_released = True
    db.commit()
    return _view(db, exam)
