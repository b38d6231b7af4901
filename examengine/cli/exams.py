"""``examengine exams ...``: exams, rosters and tickets for proctors."""

from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from examengine.cli.common import handles_errors, out, print_json, session, settings
from examengine.config import local_time, zone_label

exams_app = typer.Typer(help="考试：创建、名单、准考证与访问码、监考。", no_args_is_help=True)
roster_app = typer.Typer(help="考生名单。", no_args_is_help=True)
exams_app.add_typer(roster_app, name="roster")


def register(app: typer.Typer) -> None:
    app.add_typer(exams_app, name="exams")


@exams_app.command("create")
@handles_errors
def create(
    blueprint: Annotated[str, typer.Option(help="蓝图编号，如 530046-L2（指定 --form 时可省略）")] = "",
    form: Annotated[int | None, typer.Option("--form", help="试卷编号（examengine forms list）：固定试卷（线性）考试，"
                                                          "按该试卷的题目和顺序作答")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="考试方式：adaptive（自适应，默认）、linear（固定试卷，"
                                                          "须指定 --form）或 loft（随机组卷：每位考生开考时按蓝图抽一套"
                                                          "试卷，题数为蓝图的最长题数）")] = None,
    name: Annotated[str, typer.Option(help="考试名称")] = "",
    start: Annotated[str | None, typer.Option(
        help="时间窗开始（默认现在），当地时间（EXAMENGINE_TIMEZONE）；可带偏移，如 2026-12-12T09:00+08:00",
        metavar="YYYY-MM-DD HH:MM")] = None,
    end: Annotated[str | None, typer.Option(help="时间窗结束（默认开始后一天），当地时间，同 --start",
                                            metavar="YYYY-MM-DD HH:MM")] = None,
    time_limit: Annotated[int | None, typer.Option(help="考试时长（分钟，默认取蓝图）")] = None,
    results: Annotated[str, typer.Option(help="immediate：考完即显示成绩；release：稍后统一发布")] = "immediate",
    require_id_last4: Annotated[bool, typer.Option("--require-id-last4", help="登录时核验身份证号后四位")] = False,
    approve_new_device: Annotated[bool, typer.Option("--approve-new-device",
                                                     help="考生换设备继续作答须经监考人员批准")] = False,
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
    fmt: Annotated[str, typer.Option("--format", help="text 或 json")] = "text",
) -> None:
    """按蓝图创建一场自适应考试，或用 --form 按已组好的试卷创建一场固定试卷（线性）考试，或用 --mode loft 创建随机组卷考试。--start、--end 不带时区偏移时是本中心时区（EXAMENGINE_TIMEZONE，默认
    Asia/Shanghai）的当地时间，如 --start "2026-12-12 09:00"；带偏移的按偏移理解。"""
    from examengine.services.exams import create_exam

    zone = settings().zone
    window_start, window_end = _typed(start, "--start"), _typed(end, "--end")
    with session() as db:
        exam = create_exam(db, blueprint=blueprint, form_id=form, mode=mode, name=name, actor=actor, zone=zone,
                           window_start=window_start, window_end=window_end,
                           time_limit_minutes=time_limit, results_policy=results,
                           require_id_last4=require_id_last4, approve_new_device=approve_new_device)
    if fmt == "json":
        print_json(asdict(exam))
        return
    what = (f"，固定试卷 {exam.form_code}（试卷编号 {exam.form_id}）" if exam.form_id is not None
            else "，随机组卷：每位考生开考时抽一套试卷" if exam.mode == "loft" else "")
    out.print(f"已创建考试 {exam.id}：{exam.name}（{exam.blueprint} v{exam.blueprint_version}{what}，"
              f"{_window(exam.window_start, exam.window_end, zone)}，{exam.time_limit_minutes} 分钟）", highlight=False)
    if exam.pool_provisional:
        out.print(f"注意：蓝图 {exam.blueprint} 的 {exam.pool_items} 道正式使用题目中有 {exam.pool_provisional} 道是暂定参数"
                  "（未经作答数据校准），本场考试的成绩将标为“暂定”，发布前须确认"
                  f"（examengine bank readiness --blueprint {exam.blueprint}）。", highlight=False)
    if not exam.exposure_calibrated and exam.mode == "adaptive":
        out.print(f"注意：蓝图 {exam.blueprint} v{exam.blueprint_version} 未标定曝光参数，在线考试不做曝光控制"
                  f"（examengine exposure calibrate {exam.blueprint}）。", highlight=False)


def _typed(value: str | None, option: str) -> datetime | None:
    """A window time as typed: ISO 8601, date and time ('2026-12-12 09:00'), an offset optional."""
    if value is None or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} 不是日期时间，应写成 \"2026-12-12 09:00\"（当地时间）"
                                 f"或 2026-12-12T09:00+08:00", param_hint=option) from None


def _window(start_iso: str, end_iso: str, zone) -> str:
    """'2026-12-12 09:00 至 2026-12-12 17:00（北京时间）'."""
    start, end = datetime.fromisoformat(start_iso), datetime.fromisoformat(end_iso)
    return f"{local_time(start, zone)} 至 {local_time(end, zone)}（{zone_label(zone, start)}）"


def _mode_text(e) -> str:
    """How an exam is delivered, as the proctor's page says it."""
    if e.mode == "linear":
        return f"固定试卷 {e.form_code}（{e.form_id}）"
    return "随机组卷" if e.mode == "loft" else "自适应"


@exams_app.command("list")
@handles_errors
def list_(fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table") -> None:
    """列出考试。"""
    from examengine.services.exams import list_exams

    with session() as db:
        rows = list_exams(db)
    if fmt == "json":
        print_json([asdict(r) for r in rows])
        return
    zone = settings().zone
    t = Table(title="考试")
    for col in ("编号", "名称", "蓝图", "方式", "时间窗", "时长", "考生", "作答", "暂定成绩"):
        t.add_column(col, overflow="fold")
    for e in rows:
        t.add_row(str(e.id), e.name, f"{e.blueprint} v{e.blueprint_version}", _mode_text(e),
                  _window(e.window_start, e.window_end, zone).replace(" 至 ", " 至\n"),
                  f"{e.time_limit_minutes} 分钟", str(e.candidates),
                  str(sum(e.attempts.values())),
                  str(e.provisional_results + e.unknown_results))
    out.print(t, highlight=False)


@roster_app.command("import")
@handles_errors
def roster_import(
    exam: Annotated[int, typer.Argument(help="考试编号")],
    file: Annotated[Path, typer.Argument(help="CSV 或 XLSX：准考证号, 姓名, 身份证号后四位（可选）, 考场（可选）, 座位号（可选）",
                                         exists=True, dir_okay=False)],
) -> None:
    """导入考生名单，为每位考生生成访问码（已在名单中的准考证号只更新信息，访问码不变）。"""
    from examengine.services.exams import import_roster

    with session() as db:
        r = import_roster(db, exam, file.name, file.read_bytes(), actor="cli")
    out.print(f"考试 {r.exam_id}：新增 {r.added} 名、更新 {r.updated} 名，名单共 {r.total} 名考生。")


@exams_app.command("tickets")
@handles_errors
def tickets(
    exam: Annotated[int, typer.Argument(help="考试编号")],
    fmt: Annotated[str, typer.Option("--format", help="csv 或 table")] = "table",
) -> None:
    """输出每位考生的准考证号、姓名、考场、座位号和访问码（--format csv 写到标准输出，另含当地时间的考试时间）。"""
    from examengine.services.exams import tickets as get_tickets
    from examengine.services.exams import tickets_csv

    with session() as db:
        if fmt == "csv":
            sys.stdout.write(tickets_csv(db, exam, settings().zone).decode("utf-8-sig"))
            return
        rows = get_tickets(db, exam)
    t = Table(title=f"考试 {exam} 准考证与访问码")
    for col in ("准考证号", "姓名", "考场", "座位号", "访问码"):
        t.add_column(col)
    for r in rows:
        t.add_row(r.ticket, r.name, r.room, r.seat, r.access_code)
    out.print(t, highlight=False)


@exams_app.command("sign-in-rules")
@handles_errors
def sign_in_rules(
    exam: Annotated[int, typer.Argument(help="考试编号")],
    require_id_last4: Annotated[bool | None, typer.Option("--require-id-last4/--no-require-id-last4",
                                                          help="登录时是否核验身份证号后四位")] = None,
    approve_new_device: Annotated[bool | None, typer.Option("--approve-new-device/--no-approve-new-device",
                                                            help="换设备继续作答是否须经监考人员批准")] = None,
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
) -> None:
    """设置考生登录规则：核验身份证号后四位；换设备须批准。"""
    from examengine.services.exams import set_sign_in_rules

    with session() as db:
        e = set_sign_in_rules(db, exam, actor=actor, require_id_last4=require_id_last4,
                              approve_new_device=approve_new_device)
    out.print(f"考试 {e.id}：核验身份证号后四位 {'开' if e.require_id_last4 else '关'}；"
              f"换设备须批准 {'开' if e.approve_new_device else '关'}。", highlight=False)


@exams_app.command("extend")
@handles_errors
def extend(
    exam: Annotated[int, typer.Argument(help="考试编号")],
    minutes: Annotated[int, typer.Option(help="延长的分钟数（1–240）")],
    ticket: Annotated[list[str] | None, typer.Option(help="只为这些准考证号延时（可重复）；不填则为所有作答中的考生"
                                                          "和成绩发布前已超时的考生延时")] = None,
    reason: Annotated[str, typer.Option(help="原因（记入审计日志），如“服务器故障 10:02–10:15”")] = "",
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
    fmt: Annotated[str, typer.Option("--format", help="text 或 json")] = "text",
) -> None:
    """一次为整场考试（或指定考生）补回时间：截止时间改为 max(原截止时间, 现在) + N 分钟；已超时的作答在成绩发布前
    重新打开，从未作答的当前题继续，已答内容不变。每次延时记入审计日志。"""
    from examengine.services.attempts import extend_exam

    with session() as db:
        rows = extend_exam(db, exam, minutes, actor=actor, reason=reason, tickets=ticket or None)
    if fmt == "json":
        print_json([asdict(r) for r in rows])
        return
    out.print(f"考试 {exam}：已为 {len(rows)} 名考生延长 {minutes} 分钟"
              + (f"，其中 {sum(r.reopened for r in rows)} 名已超时的考生重新打开作答" if any(r.reopened for r in rows)
                 else "") + "。", highlight=False)
    zone = settings().zone
    for r in rows:
        deadline = local_time(datetime.fromisoformat(r.deadline), zone) if r.deadline else "（未开考）"
        out.print(f"  {r.ticket}：截止 {deadline}{'（重新打开）' if r.reopened else ''}", highlight=False)


@exams_app.command("close-expired")
@handles_errors
def close_expired(
    exam: Annotated[int, typer.Argument(help="考试编号")],
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
) -> None:
    """收卷：结束所有时间已到的作答（按规则计分：计分作答少于最短题量的为“未完成”）。"""
    from examengine.services.attempts import close_expired as close

    with session() as db:
        closed = close(db, exam, actor=actor)
    out.print(f"考试 {exam}：已收卷 {len(closed)} 份作答。", highlight=False)


@exams_app.command("unlock")
@handles_errors
def unlock(
    exam: Annotated[int, typer.Argument(help="考试编号")],
    ticket: Annotated[str, typer.Argument(help="准考证号")],
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
) -> None:
    """解锁因多次输错访问码而被锁定的准考证号。"""
    from examengine.services.attempts import unlock_ticket

    with session() as db:
        unlock_ticket(db, exam, ticket, actor=actor)
    out.print(f"考试 {exam}：准考证号 {ticket} 已解锁。", highlight=False)


@exams_app.command("sign-ins")
@handles_errors
def sign_ins(
    exam: Annotated[int, typer.Argument(help="考试编号")],
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """考生登录记录：时间、地址、浏览器、结果、是否换设备。"""
    from examengine.services.attempts import sign_ins as read

    with session() as db:
        rows = read(db, exam)
    if fmt == "json":
        print_json([asdict(r) for r in rows])
        return
    zone = settings().zone
    t = Table(title=f"考试 {exam} 登录记录")
    for col in (f"时间（{zone_label(zone)}）", "准考证号", "姓名", "地址", "浏览器", "结果", "换设备"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(local_time(datetime.fromisoformat(r.at), zone), r.ticket, r.name, r.address, r.user_agent[:60], r.outcome_label, "是" if r.new_device else "")
    out.print(t, highlight=False)


@exams_app.command("rescore")
@handles_errors
def rescore(
    exam_arg: Annotated[int | None, typer.Argument(metavar="[EXAM]", help="考试编号（同 --exam）")] = None,
    exam: Annotated[int | None, typer.Option(help="只重算这场考试（默认全部）")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="写入（默认只列出会改变的结果）")] = False,
    include_released: Annotated[bool, typer.Option(
        "--include-released", help="也重算考生已能看到的成绩（已发布或考完即显示的考试）")] = False,
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """按现行规则和题库现行参数重算已结束作答的结果（计分作答少于最短题量为“未完成”；达到最短题量时未作答的
    当前题记为答错；等级只在把握足够时给出；calibration apply 之后按校准后的参数重算，暂定标记随之消除），
    列出变化；--apply 写入并记入审计日志。默认只重算成绩尚未发布的考试（--include-released 也重算已发布的）。"""
    from examengine.services.attempts import rescore as run

    if exam_arg is not None and exam is not None and exam_arg != exam:
        raise typer.BadParameter(f"考试编号给了两个：{exam_arg} 和 --exam {exam}", param_hint="EXAM")
    with session() as db:
        rows = run(db, exam_id=exam_arg if exam_arg is not None else exam, apply=apply, actor=actor,
                   include_released=include_released)
    if fmt == "json":
        print_json([asdict(r) for r in rows])
        return
    t = Table(title=("已重算" if apply else "将改变（加 --apply 写入）") + f"：{len(rows)} 份作答"
              + ("" if include_released else "（只含成绩未发布的考试）"))
    for col in ("作答", "考试", "准考证号", "原结果", "新结果"):
        t.add_column(col, overflow="fold")

    def theta(x: float | None) -> str:
        return "—" if x is None else f"{x:.3f}"

    def mark(p: bool | None) -> str:
        return {None: " 参数来源未记录", True: " 暂定", False: ""}[p]

    def show(d: dict, th: float | None, prov: bool | None) -> str:
        return f"{d['status']} 通过={d['passed']} 等级={d['band']} 分数={d['score']} θ={theta(th)}{mark(prov)}"

    for r in rows:
        t.add_row(str(r.attempt_id), str(r.exam_id), r.ticket, show(r.before, r.theta_before, r.provisional_before),
                  show(r.after, r.theta_after, r.provisional_after))
    out.print(t, highlight=False)


@exams_app.command("release")
@handles_errors
def release(
    exam: Annotated[int, typer.Argument(help="考试编号")],
    confirm_provisional: Annotated[bool, typer.Option(
        "--confirm-provisional", help="确认发布基于暂定参数（未经校准）的成绩；记入审计日志")] = False,
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
) -> None:
    """发布一场考试的成绩（时间已到的作答先收卷）。有成绩基于暂定参数时须加 --confirm-provisional。"""
    from examengine.services.attempts import release_results

    with session() as db:
        e = release_results(db, exam, actor=actor, confirm_provisional=confirm_provisional)
    out.print(f"考试 {e.id}：成绩已发布。", highlight=False)
    if e.provisional_results or e.unknown_results:
        out.print(f"注意：其中 {e.provisional_results} 份成绩基于暂定参数"
                  + (f"、{e.unknown_results} 份未记录参数来源" if e.unknown_results else "")
                  + "（已确认，记入审计日志）。", highlight=False)
