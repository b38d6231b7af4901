"""``examengine items ...`` and ``examengine bank ...``: the item bank from the command line."""

from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from examengine.cli.common import err, handles_errors, out, print_json, session, settings
from examengine.config import local_time, zone_label

items_app = typer.Typer(help="题库：导入、导出、模板、浏览与状态流转。", no_args_is_help=True)
bank_app = typer.Typer(help="题库概况：按职业技能要求统计的题目覆盖。", no_args_is_help=True)

ACTIONS = {"created": "新增", "new_version": "新版本", "updated": "更新", "unchanged": "无变化"}


def register(app: typer.Typer) -> None:
    app.add_typer(items_app, name="items")
    app.add_typer(bank_app, name="bank")


@items_app.command("import")
@handles_errors
def items_import(
    file: Annotated[Path, typer.Argument(help="XLSX、CSV、JSON 文件或 QTI 2.1/3.0 内容包（.zip）", exists=True,
                                         dir_okay=False, readable=True)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只检查并报告，不写入")] = False,
    requirement: Annotated[list[str] | None, typer.Option(
        "--requirement", help="给没有标注职业技能要求的题目统一标注此代码（可重复）")] = None,
    status: Annotated[str, typer.Option(help="新题目的状态：draft、review、pretest 或 operational")] = "draft",
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """导入一份题目文件：先检查全部内容，有任何错误则一道题也不写入（退出码 1）。"""
    from examengine.services.items import import_upload, parse_status
    from examengine.services.quality import parse_block_setting

    with session() as db:
        report = import_upload(db, filename=file.name, data=file.read_bytes(), default_requirements=requirement or (),
                               actor=actor, dry_run=dry_run, status_for_new=parse_status(status),
                               block_on=parse_block_setting(settings().item_findings_block))
    if fmt == "json":
        d = asdict(report)
        d["warnings"] = [str(w) for w in report.warnings]
        print_json(d)
        return
    verb = "检查通过（未写入，--dry-run）" if dry_run else "导入完成"
    out.print(f"{file.name}：{verb}。共 {report.total} 道题：新增 {report.created}、新版本 {report.new_versions}、"
              f"更新 {report.updated}、无变化 {report.unchanged}。", highlight=False)
    for w in report.warnings:
        err.print(f"[yellow]提示：[/yellow]{w}", highlight=False)
    if report.findings:
        counts = {s: sum(f.severity.value == s for f in report.findings) for s in ("error", "warning", "info")}
        err.print(f"命题检查：{len(report.findings)} 条发现（错误 {counts['error']}、警告 {counts['warning']}、"
                  f"提示 {counts['info']}），不阻止导入：", highlight=False)
        for f in report.findings:
            err.print(f"  [{SEVERITY_STYLE[f.severity.value]}]{f.severity.label}[/] {f.item} {f.rule}：{f.message}",
                      highlight=False)


@items_app.command("template")
@handles_errors
def items_template(
    fmt: Annotated[str, typer.Option("--format", help="xlsx 或 csv")] = "xlsx",
    output: Annotated[Path | None, typer.Option("--out", help="输出文件（默认：题目导入模板.xlsx/.csv）")] = None,
) -> None:
    """生成题目导入模板（XLSX 含“填写说明”工作表）。"""
    from examengine.services.items import upload_template

    data = upload_template(fmt)
    output = output or Path(f"题目导入模板.{fmt}")
    output.write_bytes(data)
    out.print(f"已写入模板：{output}")


@items_app.command("export")
@handles_errors
def items_export(
    fmt: Annotated[str, typer.Option("--format", help="qti3、qti21、xlsx、csv 或 json")],
    output: Annotated[Path, typer.Option("--out", help="输出文件")],
    code: Annotated[str, typer.Option(help="只导出此代码（标准/级别/领域/任务/要求）下的题目")] = "",
    status: Annotated[str, typer.Option(help="只导出此状态的题目")] = "",
) -> None:
    """导出题目（当前版本）：QTI 3.0 / 2.1 内容包、XLSX、CSV 或 JSON。"""
    from examengine.services.items import export_items

    with session() as db:
        exported = export_items(db, fmt, code=code, status=status)
    output.write_bytes(exported.data)
    out.print(f"已导出 {exported.n_items} 道题到 {output}")
    if fmt in ("xlsx", "csv") and exported.has_pictures:
        err.print("[yellow]提示：[/yellow]表格格式不含图片；需要图片请导出 QTI 或 JSON。")


@items_app.command("check-images")
@handles_errors
def items_check_images(
    purge: Annotated[bool, typer.Option("--purge", help="删除不合格的图片，并改正类型记错的图片（记入审计日志）")] = False,
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """按文件内容重新检查题库中存储的全部图片（只接受 PNG、JPEG、GIF、WebP）。

    发现不合格图片且未加 --purge 时退出码为 1。"""
    from examengine.services.items import check_images

    with session() as db:
        findings = check_images(db, purge=purge, actor=actor)
    if fmt == "json":
        print_json([asdict(f) for f in findings])
    elif not findings:
        out.print("题库中的图片全部合格（PNG、JPEG、GIF、WebP）。")
    else:
        table = Table(title=f"需要处理的图片：{len(findings)} 张")
        for col in ("题目", "版本", "图片", "记录的类型", "实际类型", "问题", "处理"):
            table.add_column(col, overflow="fold")
        for f in findings:
            table.add_row(f.item, f"v{f.version}", f.name, f.stored_type, f.sniffed_type,
                          f.problem or "记录的类型与内容不符",
                          {"removed": "已删除", "retyped": "已改正类型"}.get(f.action, "未处理（加 --purge 处理）"))
        out.print(table, highlight=False)
    if any(f.problem and not f.action for f in findings):
        raise typer.Exit(1)


@items_app.command("list")
@handles_errors
def items_list(
    code: Annotated[str, typer.Option(help="代码前缀：标准、级别、领域、任务或要求")] = "",
    status: Annotated[str, typer.Option(help="状态")] = "",
    item_type: Annotated[str, typer.Option("--type", help="单选、多选 或 判断")] = "",
    text: Annotated[str, typer.Option(help="题干或编号中包含的文字")] = "",
    limit: Annotated[int, typer.Option(help="最多显示条数")] = 50,
) -> None:
    """浏览题库。"""
    from examengine.services.items import list_items

    with session() as db:
        page = list_items(db, code=code, status=status, item_type=item_type, text=text, limit=limit)
    table = Table(title=f"题目（共 {page.total} 道，显示 {len(page.items)} 道）")
    for col in ("编号", "题型", "状态", "版本", "参数", "职业技能要求", "题干"):
        table.add_column(col, overflow="fold")
    for it in page.items:
        table.add_row(it.external_id, it.type, it.status_label, f"v{it.version}",
                      f"[yellow]{it.origin_label}[/yellow]" if it.origin == "provisional" else it.origin_label,
                      "；".join(it.requirements), it.stem[:60])
    out.print(table, highlight=False)


@items_app.command("show")
@handles_errors
def items_show(external_id: str, fmt: Annotated[str, typer.Option("--format")] = "text") -> None:
    """显示一道题的各个版本与变更记录。"""
    from examengine.services.items import get_item

    with session() as db:
        item = get_item(db, external_id)
    if fmt == "json":
        print_json(asdict(item))
        return
    out.print(f"[bold]{item.external_id}[/bold]  状态：{item.status_label}  级别：{item.level}  "
              f"当前版本：v{item.current_version}  作者：{item.author}", highlight=False)
    zone = settings().zone
    for v in reversed(item.versions):
        out.print(f"\n— 版本 v{v.number}（{local_time(datetime.fromisoformat(v.created_at), zone)}，{v.created_by}）{'［已冻结］' if v.frozen else ''}",
                  highlight=False)
        out.print(f"{v.type}：{v.stem}", highlight=False)
        for letter, opt in zip("ABCDEF", v.options, strict=False):
            out.print(f"  {letter}. {opt}", highlight=False)
        out.print(f"答案：{v.key}；要求：{'；'.join(v.requirements)}；参数来源：{v.origin_label}"
                  + (f"；IRT：{v.irt}" if v.irt is not None else ""), highlight=False)
    out.print(f"\n变更记录（{zone_label(zone)}）：")
    for e in item.events:
        out.print(f"  {local_time(datetime.fromisoformat(e.at), zone)} {e.actor} {e.action} v{e.version} {e.detail}", highlight=False)


@items_app.command("transition")
@handles_errors
def items_transition(
    external_id: str,
    status: Annotated[str, typer.Argument(help="目标状态：review、pretest、operational、retired 或 draft")],
    note: Annotated[str, typer.Option(help="说明")] = "",
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
) -> None:
    """改变题目状态：draft → review → pretest → operational → retired（审核中可退回草稿）。"""
    from examengine.services.items import parse_status, transition_item

    with session() as db:
        item = transition_item(db, external_id, parse_status(status), actor=actor, note=note)
    out.print(f"{item.external_id} 现为“{item.status_label}”。")


@bank_app.command("coverage")
@handles_errors
def bank_coverage(
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
    code: Annotated[str, typer.Option(help="只看此代码下的要求")] = "",
) -> None:
    """每条职业技能要求的题目数（按状态）。"""
    from examengine.services.items import coverage

    with session() as db:
        rows = coverage(db, code=code)
    if fmt == "json":
        print_json([asdict(r) for r in rows])
        return
    table = Table(title="题库覆盖（按职业技能要求）")
    for col in ("代码", "草稿", "审核中", "预测试", "正式使用", "已退役"):
        table.add_column(col)
    for r in rows:
        style = "red" if r.operational < 2 else None
        table.add_row(r.code, str(r.draft), str(r.review), str(r.pretest), str(r.operational), str(r.retired),
                      style=style)
    out.print(table)
    short = [r.code for r in rows if r.operational < 2]
    out.print(f"共 {len(rows)} 条要求；正式使用题目少于 2 道的：{len(short)} 条。")
    if fmt not in ("table", "json"):
        sys.exit(1)


@bank_app.command("readiness")
@handles_errors
def bank_readiness_command(
    blueprint: Annotated[str, typer.Option(help="蓝图编号，如 530046-L2")],
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """题库能否支撑蓝图的自适应考试：按工作领域列出已校准与暂定参数的正式使用题目、预测试题目及其作答数、
    所需题量（最长题数 × 内容比例 ÷ 曝光上限）与缺口；JSON 含 ready 与原因。无论是否就绪，退出码都是 0。"""
    from examengine.services.parameters import bank_readiness

    with session() as db:
        r = bank_readiness(db, blueprint=blueprint)
    if fmt == "json":
        print_json(asdict(r))
        return
    table = Table(title=f"{r.blueprint} v{r.version} 题库就绪情况（最长 {r.max_length} 题，曝光上限 {r.exposure_max_rate:g}）")
    for col in ("工作领域", "名称", "比例", "正式使用", "已校准", "暂定参数", "预测试题", "预测试作答（最少/中位）", "所需", "缺口"):
        table.add_column(col, overflow="fold")
    for d in r.domains:
        resp = "—" if d.pretest_responses_min is None else f"{d.pretest_responses_min} / {d.pretest_responses_median:g}"
        table.add_row(d.code, d.name, f"{d.weight:.2f}", str(d.operational), str(d.calibrated),
                      f"[red]{d.provisional}[/red]" if d.provisional else "0", str(d.pretest), resp, str(d.need),
                      f"[red]{d.gap}[/red]" if d.gap else "0")
    out.print(table, highlight=False)
    out.print(("[green]就绪[/green]：" if r.ready else "[red]未就绪[/red]：") + r.reasons[0], highlight=False)
    for reason in r.reasons[1:]:
        out.print(f"  · {reason}", highlight=False)


SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


@items_app.command("check")
@handles_errors
def items_check(
    file: Annotated[Path | None, typer.Argument(help="要检查的题目文件（XLSX、CSV、JSON 或 QTI 内容包）", exists=True,
                                                dir_okay=False, readable=True)] = None,
    code: Annotated[str, typer.Option(help="检查题库中此代码（标准、级别、领域、任务或要求）下的题目")] = "",
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """按命题规范检查题目（docs/item-quality.md）：每条发现给出规则、严重程度、说明和依据。有“错误”级发现时退出码为 1。"""
    from examengine.services.quality import check_code, check_file, has_errors

    if (file is None) == (not code):
        raise typer.BadParameter("请给出一个文件，或用 --code 指定题库中的范围（二者选一）")
    with session() as db:
        findings = check_file(db, filename=file.name, data=file.read_bytes()) if file else check_code(db, code=code)
    if fmt == "json":
        print_json([{"item": f.item, "rule": f.rule, "severity": f.severity.value, "message": f.message,
                     "evidence": f.evidence} for f in findings])
    else:
        table = Table(title=f"命题检查：{file.name if file else code}")
        for col in ("题目", "规则", "级别", "说明"):
            table.add_column(col)
        for f in findings:
            table.add_row(f.item, f.rule, f.severity.label, f.message, style=SEVERITY_STYLE[f.severity.value])
        out.print(table)
        counts = {s: sum(f.severity.value == s for f in findings) for s in ("error", "warning", "info")}
        out.print(f"共 {len(findings)} 条发现：错误 {counts['error']}、警告 {counts['warning']}、提示 {counts['info']}。")
    if has_errors(findings):
        sys.exit(1)


@bank_app.command("cues")
@handles_errors
def bank_cues_command(
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
    code: Annotated[str, typer.Option(help="只看此代码（标准或级别）下的题目")] = "",
) -> None:
    """应试技巧得分：不懂内容、只凭选项长短、绝对化词语、位置等线索作答能得多少分（与随机猜测对比）。"""
    from examengine.services.quality import bank_cues

    with session() as db:
        levels = bank_cues(db, code=code)
    if fmt == "json":
        print_json([asdict(c) for c in levels])
        return
    for c in levels:
        table = Table(title=f"{c.level}：{c.items} 道题（单选 {c.single}、多选 {c.multiple}、判断 {c.true_false}）")
        for col in ("题型", "策略", "题数", "得分率", "随机猜测"):
            table.add_column(col)
        for s in c.strategies:
            table.add_row(s.item_type.value, s.title, str(s.items), f"{s.score:.1%}", f"{s.chance:.1%}")
        out.print(table)
        keys = "、".join(f"{k} {v}" for k, v in c.key_positions.items())
        out.print(f"单选答案位置：{keys}；错误选项少于两个的多选题：{c.multiple_few_wrong} 道"
                  + (f"；判断题答案为“正确”的比例：{c.true_share:.0%}" if c.true_share is not None else ""),
                  highlight=False)
