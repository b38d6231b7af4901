"""``examengine exams ...``: exams, rosters and tickets for proctors."""

from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from examengine.cli.common import handles_errors, out, print_json, session

exams_app = typer.Typer(help="考试：创建、名单、准考证与访问码、监考。", no_args_is_help=True)
roster_app = typer.Typer(help="考生名单。", no_args_is_help=True)
exams_app.add_typer(roster_app, name="roster")


def register(app: typer.Typer) -> None:
    app.add_typer(exams_app, name="exams")


@exams_app.command("create")
@handles_errors
def create(
    blueprint: Annotated[str, typer.Option(help="蓝图编号，如 530046-L2")],
    name: Annotated[str, typer.Option(help="考试名称")] = "",
    start: Annotated[datetime | None, typer.Option(help="时间窗开始（默认现在）")] = None,
    end: Annotated[datetime | None, typer.Option(help="时间窗结束（默认开始后一天）")] = None,
    time_limit: Annotated[int | None, typer.Option(help="考试时长（分钟，默认取蓝图）")] = None,
    results: Annotated[str, typer.Option(help="immediate：考完即显示成绩；release：稍后统一发布")] = "immediate",
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
    fmt: Annotated[str, typer.Option("--format", help="text 或 json")] = "text",
) -> None:
    """按蓝图创建一场考试。"""
    from examengine.services.exams import create_exam

    with session() as db:
        exam = create_exam(db, blueprint=blueprint, name=name, actor=actor, window_start=start, window_end=end,
                           time_limit_minutes=time_limit, results_policy=results)
    if fmt == "json":
        print_json(asdict(exam))
        return
    out.print(f"已创建考试 {exam.id}：{exam.name}（{exam.blueprint} v{exam.blueprint_version}，"
              f"{exam.window_start} 至 {exam.window_end}，{exam.time_limit_minutes} 分钟）", highlight=False)
    if not exam.exposure_calibrated:
        out.print(f"注意：蓝图 {exam.blueprint} v{exam.blueprint_version} 未标定曝光参数，在线考试不做曝光控制"
                  f"（examengine exposure calibrate {exam.blueprint}）。", highlight=False)


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
    t = Table(title="考试")
    for col in ("编号", "名称", "蓝图", "时间窗", "时长", "考生", "作答"):
        t.add_column(col, overflow="fold")
    for e in rows:
        t.add_row(str(e.id), e.name, f"{e.blueprint} v{e.blueprint_version}", f"{e.window_start}\n{e.window_end}",
                  f"{e.time_limit_minutes} 分钟", str(e.candidates), str(e.attempts))
    out.print(t, highlight=False)


@roster_app.command("import")
@handles_errors
def roster_import(
    exam: Annotated[int, typer.Argument(help="考试编号")],
    file: Annotated[Path, typer.Argument(help="CSV 或 XLSX：准考证号, 姓名, 身份证号后四位（可选）, 考场（可选）",
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
    """输出每位考生的准考证号、姓名和访问码（--format csv 写到标准输出）。"""
    from examengine.services.exams import tickets as get_tickets
    from examengine.services.exams import tickets_csv

    with session() as db:
        if fmt == "csv":
            sys.stdout.write(tickets_csv(db, exam).decode("utf-8-sig"))
            return
        rows = get_tickets(db, exam)
    t = Table(title=f"考试 {exam} 准考证与访问码")
    for col in ("准考证号", "姓名", "考场", "访问码"):
        t.add_column(col)
    for r in rows:
        t.add_row(r.ticket, r.name, r.room, r.access_code)
    out.print(t, highlight=False)
