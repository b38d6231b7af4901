"""Pages for proctors: exams, roster import, printable tickets, the live monitor with time
extensions and voids, releasing results.

The monitor's actions are post/redirect/get: each POST answers 303 to the monitor with a flash
message (ui/flash.py); the page's live part refreshes by fetching ``/proctor/exams/{id}/live``."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from examengine.deps import ReleasingRoute, centre_zone, current_staff, exam_staff, get_db, public_url
from examengine.errors import DataFileError, ExamEngineError
from examengine.rendering.env import render
from examengine.services import attempts as att
from examengine.services import exams as svc
from examengine.services import form_assignments
from examengine.services.accounts import require_exam
from examengine.services.blueprints import list_blueprints
from examengine.services import forms as forms_svc
from examengine.services.forms import list_forms
from examengine.services.reconciliation import reconcile
from examengine.ui import flash

router = APIRouter(route_class=ReleasingRoute, prefix="/proctor", include_in_schema=False)


def _own(db: Session, member, exam_id: int) -> None:
    require_exam(db, member, exam_id)


def _monitor(db: Session, exam_id: int) -> dict:
    """What the live part of the monitor shows: the attempts table, its counts, the recent sign-ins."""
    return {"exam": asdict(svc.exam_view(db, exam_id)), "rows": [asdict(r) for r in att.monitor(db, exam_id)],
            "sign_ins": [asdict(r) for r in att.sign_ins(db, exam_id)[:50]], "now": datetime.now(UTC).isoformat()}


def _back(request: Request, exam_id: int, message: str, cls: str = "ok") -> RedirectResponse:
    """Post/redirect/get: every staff POST of the monitor answers 303 to the monitor, which shows
    ``message`` once (ui/flash.py), so a reload or the live refresh never repeats the POST."""
    return flash.redirect(request, f"/proctor/exams/{exam_id}", message, cls)


def _act(request: Request, exam_id: int, action, done) -> RedirectResponse:
    try:
        result = action()
    except ExamEngineError as exc:
        return _back(request, exam_id, exc.message, "bad")
    return _back(request, exam_id, done(result) if callable(done) else done)


@router.get("")
def exams(db: Session = Depends(get_db), member=Depends(current_staff), zone: ZoneInfo = Depends(centre_zone)
          ) -> HTMLResponse:
    # no ?message= parameter: text from a link is not shown as the system's word (ui/flash.py)
    return _exams_page(db, member, zone)


def _exams_page(db: Session, member, zone: ZoneInfo, message: str = "",
                window: dict[str, str] | None = None) -> HTMLResponse:
    """The proctor's exams and the new-exam form (its window as typed, else the default)."""
    mine = [asdict(e) for e in svc.list_exams(db) if member.can_run_exam(db, e.id)]
    return HTMLResponse(render("proctor/exams.html", zone=zone, nav="", bank_link=member.reads_bank, exams=mine, member=member,
                               blueprints=[asdict(b) for b in list_blueprints(db)], message=message,
                               forms=[asdict(f) for f in list_forms(db)],
                               window=window or _default_window(zone)))


def _default_window(zone: ZoneInfo) -> dict[str, str]:
    """The new-exam form's window, in the centre's local time: from now (to the minute) for 24 hours."""
    start = datetime.now(UTC).astimezone(zone).replace(second=0, microsecond=0)
    end = start + timedelta(hours=24)
    return {"start_date": f"{start:%Y-%m-%d}", "start_time": f"{start:%H:%M}",
            "end_date": f"{end:%Y-%m-%d}", "end_time": f"{end:%H:%M}"}


def _local_input(day: str, clock: str, what: str) -> datetime | None:
    """A date and a time from the form's inputs (local wall-clock time, no offset); None when both are blank."""
    if not day.strip() and not clock.strip():
        return None
    try:
        return datetime.strptime(f"{day.strip()} {clock.strip() or '00:00'}", "%Y-%m-%d %H:%M")
    except ValueError:
        raise ValueError(f"{what}应为日期和时间，如 2026-12-12 09:00") from None


@router.post("/exams")
def create(blueprint: str = Form(""), form_id: str = Form(""), name: str = Form(""), time_limit: str = Form(""),
           results: str = Form("immediate"), start_date: str = Form(""), start_time: str = Form(""),
           end_date: str = Form(""), end_time: str = Form(""), db: Session = Depends(get_db),
           member=Depends(current_staff), zone: ZoneInfo = Depends(centre_zone)) -> Response:
    typed = {"start_date": start_date, "start_time": start_time, "end_date": end_date, "end_time": end_time}
    try:
        try:
            limit = int(time_limit) if time_limit.strip() else None
        except ValueError:
            raise ValueError("时长应为整数（分钟）") from None
        mode = "loft" if form_id.strip() == "loft" else None  # the choice 随机组卷 beside the forms
        try:
            form = int(form_id) if form_id.strip() and mode is None else None
        except ValueError:
            raise ValueError(f"试卷编号应为整数，实际为“{form_id.strip()}”") from None
        start = _local_input(start_date, start_time, "开始时间")
        end = _local_input(end_date, end_time, "结束时间")
        # a form decides the blueprint (its own version): the blueprint choice is for adaptive exams
        exam = svc.create_exam(db, blueprint="" if form is not None else blueprint, form_id=form, mode=mode, name=name.strip(),
                               actor=member.username, zone=zone,
                               window_start=start, window_end=end, results_policy=results,
                               time_limit_minutes=limit,
                               proctor_id=member.id if member.role.value == "proctor" else None)
    except ExamEngineError as exc:
        problems = getattr(exc, "problems", None)
        message = "；".join(p.message for p in problems) if problems else exc.message
        return _exams_page(db, member, zone, message, typed)
    except ValueError as exc:
        return _exams_page(db, member, zone, str(exc), typed)
    return RedirectResponse(f"/proctor/exams/{exam.id}", 303)


@router.get("/exams/{exam_id}", dependencies=[Depends(exam_staff)])
def exam(exam_id: int, request: Request, db: Session = Depends(get_db), member=Depends(current_staff)) -> HTMLResponse:
    """The live monitor. Its live part refreshes itself by fetching ``/live`` (static/monitor.js)."""
    shown = flash.take(request)
    roster = [asdict(c) for c in form_assignments.roster_forms(db, exam_id)]
    page = HTMLResponse(render("proctor/exam.html", nav="", bank_link=member.reads_bank, **_monitor(db, exam_id),
                               message=shown.message if shown else "", message_class=shown.cls if shown else "ok",
                               refresh_seconds=request.app.state.settings.monitor_refresh_seconds,
                               assemblies=[asdict(a) for a in form_assignments.assembly_choices(db, exam_id)],
                               assign_rules=form_assignments.RULES, roster_forms=roster,
                               any_form=any(c["form"] for c in roster),
                               any_roster_form=any(c["roster_form"] for c in roster)))
    return flash.forget(request, page)


@router.get("/exams/{exam_id}/live", dependencies=[Depends(exam_staff)])
def live(exam_id: int, db: Session = Depends(get_db)) -> HTMLResponse:
    """The live part of the monitor as an HTML fragment (the counts, the attempts table's rows, the
    recent sign-ins), rendered by the same macros as the page; the page's script puts it in place."""
    return HTMLResponse(render("proctor/monitor_live.html", **_monitor(db, exam_id)),
                        headers={"Cache-Control": "no-store"})


@router.post("/exams/{exam_id}/form-assignments")
def assign_forms(exam_id: int, request: Request, assembly: int = Form(...), by: str = Form("seat"),
                 only_unassigned: bool = Form(False), db: Session = Depends(get_db),
                 member=Depends(exam_staff)) -> RedirectResponse:
    try:
        r = form_assignments.assign(db, exam_id, rule=by, actor=member.username, assembly_id=assembly,
                                    only_unassigned=only_unassigned)
    except DataFileError as exc:
        problems = [f"{p.location} {p.message}" for p in exc.problems]
        return _back(request, exam_id, f"未分配试卷（{len(problems)} 处）：" + "；".join(problems), "bad")
    except ExamEngineError as exc:
        return _back(request, exam_id, f"未分配试卷：{exc.message}", "bad")
    counts = "，".join(f"试卷 {code} {n} 名" for code, n in r.counts.items())
    return _back(request, exam_id, f"已{r.rule_label}分配试卷：{counts}（{r.changed} 名有变化）。" + "".join(
        f"注意：{w}" for w in r.warnings))


@router.post("/exams/{exam_id}/roster")
def roster(exam_id: int, request: Request, file: UploadFile = File(...), db: Session = Depends(get_db),
           member=Depends(exam_staff)) -> RedirectResponse:
    try:
        r = svc.import_roster(db, exam_id, file.filename or "roster", file.file.read(), actor=member.username)
    except DataFileError as exc:
        problems = [str(p) for p in exc.problems]
        return _back(request, exam_id, f"名单有误，未导入任何考生（{len(problems)} 处）：" + "；".join(problems), "bad")
    return _back(request, exam_id, f"已导入：新增 {r.added} 名，更新 {r.updated} 名，名单共 {r.total} 名。")


def _loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/exams/{exam_id}/tickets", dependencies=[Depends(exam_staff)])
def tickets(exam_id: int, request: Request, db: Session = Depends(get_db), zone: ZoneInfo = Depends(centre_zone),
            public: str | None = Depends(public_url), member=Depends(current_staff)) -> HTMLResponse:
    """Printable tickets: the sign-in address candidates use (EXAMENGINE_PUBLIC_URL, else the
    address this page was opened at, with a warning when that is the server itself), its QR code,
    the window in local time, room and seat."""
    view = svc.exam_view(db, exam_id)
    address = f"{public}/exam" if public else f"{str(request.base_url).rstrip('/')}/exam"
    on_server = public is None and (_loopback(request.client.host if request.client else "")
                                    or _loopback(request.url.hostname or ""))
    return HTMLResponse(render("proctor/tickets.html", zone=zone, nav="", bank_link=member.reads_bank, exam=asdict(view),
                               tickets=[asdict(t) for t in svc.tickets(db, exam_id)], sign_in_url=address,
                               window=svc.window_text(view, zone), loopback_warning=on_server))


@router.get("/exams/{exam_id}/paper-results", dependencies=[Depends(exam_staff)])
def paper_results(exam_id: int, db: Session = Depends(get_db), member=Depends(current_staff)) -> HTMLResponse:
    """Each candidate's paper result (form, score, band, flags, who scored it, when, from which
    file) and the roster candidates without one."""
    return HTMLResponse(render("proctor/paper_results.html", nav="", bank_link=member.reads_bank,
                               view=asdict(forms_svc.paper_results_view(db, exam_id))))


@router.get("/exams/{exam_id}/reconciliation", dependencies=[Depends(exam_staff)])
def reconciliation(exam_id: int, online_exam: str = "", db: Session = Depends(get_db),
                   member=Depends(current_staff)) -> HTMLResponse:
    """Online and paper results side by side; ``?online_exam=`` takes the online attempts from
    another exam of the proctor's, matched by 准考证号."""
    try:
        other = int(online_exam) if online_exam.strip() else None
    except ValueError:
        raise ExamEngineError(f"在线考试编号应为整数，实际为“{online_exam}”") from None
    if other is not None:
        require_exam(db, member, other)
    r = reconcile(db, exam_id, online_exam_id=other)
    mine = [asdict(e) for e in svc.list_exams(db) if member.can_run_exam(db, e.id)]
    return HTMLResponse(render("proctor/reconciliation.html", nav="", bank_link=member.reads_bank, r=asdict(r),
                               exams=mine))


@router.post("/exams/{exam_id}/release")
def release(exam_id: int, request: Request, confirm: str = Form(""), confirm_provisional: str = Form(""),
            db: Session = Depends(get_db), member=Depends(exam_staff)) -> RedirectResponse:
    """Releasing cannot be undone, so the form asks for a ticked 确认 (checked here too, for a
    browser that ignores ``required``); results on provisional parameters need a second box."""
    if confirm != "1":
        return _back(request, exam_id, "未发布：请勾选“确认发布”后再发布成绩。", "bad")
    return _act(request, exam_id, lambda: att.release_results(db, exam_id, actor=member.username,
                                                              confirm_provisional=confirm_provisional == "1"),
                "成绩已发布（时间已到的作答已先收卷），考生重新登录即可查看。")


@router.post("/exams/{exam_id}/extend")
def extend_exam(exam_id: int, request: Request, minutes: int = Form(...), reason: str = Form(""),
                tickets: str = Form(""), db: Session = Depends(get_db),
                member=Depends(exam_staff)) -> RedirectResponse:
    chosen = [t for t in tickets.replace("，", ",").replace(" ", ",").split(",") if t.strip()]
    return _act(request, exam_id, lambda: att.extend_exam(db, exam_id, minutes, actor=member.username,
                                                          reason=reason, tickets=chosen or None),
                lambda rows: f"已为 {len(rows)} 名考生延长 {minutes} 分钟"
                + (f"，其中 {sum(r.reopened for r in rows)} 名已超时的考生重新打开作答" if any(r.reopened for r in rows)
                   else "") + "。")


@router.post("/exams/{exam_id}/close-expired")
def close_expired(exam_id: int, request: Request, db: Session = Depends(get_db),
                  member=Depends(exam_staff)) -> RedirectResponse:
    return _act(request, exam_id, lambda: att.close_expired(db, exam_id, actor=member.username),
                lambda closed: f"已收卷 {len(closed)} 份时间已到的作答。")


@router.post("/exams/{exam_id}/unlock")
def unlock(exam_id: int, request: Request, ticket: str = Form(...), db: Session = Depends(get_db),
           member=Depends(exam_staff)) -> RedirectResponse:
    return _act(request, exam_id, lambda: att.unlock_ticket(db, exam_id, ticket, actor=member.username),
                f"准考证号 {ticket} 已解锁。")


@router.post("/exams/{exam_id}/sign-in-rules")
def sign_in_rules(exam_id: int, request: Request, require_id_last4: str = Form(""),
                  approve_new_device: str = Form(""), db: Session = Depends(get_db),
                  member=Depends(exam_staff)) -> RedirectResponse:
    return _act(request, exam_id, lambda: svc.set_sign_in_rules(db, exam_id, actor=member.username,
                                                                require_id_last4=require_id_last4 == "1",
                                                                approve_new_device=approve_new_device == "1"),
                "登录规则已保存。")


@router.post("/sign-ins/{sign_in_id}/{decision}")
def decide(sign_in_id: int, decision: str, request: Request, db: Session = Depends(get_db),
           member=Depends(current_staff)) -> RedirectResponse:
    exam_id = att.sign_in_exam(db, sign_in_id)
    _own(db, member, exam_id)
    approve = decision == "approve"
    return _act(request, exam_id,
                lambda: att.decide_sign_in(db, sign_in_id, approve=approve, actor=member.username),
                "已批准该设备继续作答（原设备的登录已失效）。" if approve else "已拒绝该设备。")


@router.post("/attempts/{attempt_id}/extend")
def extend(attempt_id: int, request: Request, minutes: int = Form(...), db: Session = Depends(get_db),
           member=Depends(current_staff)) -> RedirectResponse:
    attempt = att.get_attempt(db, attempt_id)
    _own(db, member, attempt.exam_id)
    return _act(request, attempt.exam_id, lambda: att.extend_time(db, attempt_id, minutes, actor=member.username),
                lambda ext: f"已为 {attempt.candidate.name} 延长 {minutes} 分钟"
                + ("，作答已重新打开。" if ext.reopened else "。"))


@router.post("/attempts/{attempt_id}/void")
def void(attempt_id: int, request: Request, reason: str = Form(""), confirm: str = Form(""),
         db: Session = Depends(get_db), member=Depends(current_staff)) -> RedirectResponse:
    attempt = att.get_attempt(db, attempt_id)
    _own(db, member, attempt.exam_id)
    if confirm != "1":
        return _back(request, attempt.exam_id, f"未作废：请勾选“确认”后再作废 {attempt.candidate.name} 的作答。",
                     "bad")
    return _act(request, attempt.exam_id,
                lambda: att.void_attempt(db, attempt_id, actor=member.username, reason=reason),
                f"已作废 {attempt.candidate.name} 的作答（如属误操作，可在该行“撤销作废”）。")


@router.post("/attempts/{attempt_id}/restore")
def restore(attempt_id: int, request: Request, reason: str = Form(""), db: Session = Depends(get_db),
            member=Depends(current_staff)) -> RedirectResponse:
    attempt = att.get_attempt(db, attempt_id)
    _own(db, member, attempt.exam_id)
    return _act(request, attempt.exam_id,
                lambda: att.restore_attempt(db, attempt_id, actor=member.username, reason=reason),
                f"已撤销对 {attempt.candidate.name} 的作废。")
