"""``examengine forms ...``: parallel paper forms: assemble, print, score, list, show."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from examengine.cli.common import handles_errors, out, print_json, session, settings
from examengine.config import local_time, zone_label

forms_app = typer.Typer(help="纸笔试卷：组卷、打印、纸笔答案评分、读取答题卡扫描件。", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the examengine app."""
    app.add_typer(forms_app, name="forms")


def _brief(a) -> dict:
    d = asdict(a)
    for f in d["forms"]:  # key_balance stays: the counts the items below add up to
        f["items"] = [{"position": i["position"], "item_id": i["item_id"], "version_id": i["version_id"],
                       "type": i["type"], "domain": i["domain"], "key": i["key"]} for i in f["items"]]
    return d


@forms_app.command("assemble")
@handles_errors
def assemble(
    blueprint: Annotated[str, typer.Option(help="蓝图编号，如 530046-L2")],
    forms: Annotated[int, typer.Option(help="平行试卷套数")] = 2,
    length: Annotated[int, typer.Option(help="每套题数")] = 40,
    overlap: Annotated[int, typer.Option(help="任意两套之间最多重复的题数（默认不重复）")] = 0,
    avoid_recent: Annotated[int, typer.Option(help="排除最近 K 场考试纸笔试卷用过的题目")] = 0,
    tolerance: Annotated[float, typer.Option(help="各套在分数线和 θ=0 处信息量的相对差异上限")] = 0.03,
    seed: Annotated[int, typer.Option(help="随机种子（相同种子得到相同试卷）")] = 1,
    time_limit: Annotated[float, typer.Option(help="求解时限（秒）")] = 30.0,
    gap: Annotated[float, typer.Option(help="相对最优间隙（默认 0.01：信息量与最优界相差不超过 1%）")] = 1e-2,
    balance_keys: Annotated[bool, typer.Option(help="答案均衡：每套单选答案在 A–D 间大致均匀、判断题“对”占 30%–70%，"
                                                    "同一答案尽量不连续超过 3 题")] = True,
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
    fmt: Annotated[str, typer.Option("--format", help="text 或 json")] = "text",
) -> None:
    """按蓝图自动组出多套平行试卷（混合整数规划，HiGHS）。"""
    from examengine.services.forms import assemble as run

    with session() as db:
        a = run(db, blueprint=blueprint, n_forms=forms, length=length, actor=actor, max_overlap=overlap,
                avoid_recent=avoid_recent, seed=seed, parallel_tolerance=tolerance, time_limit=time_limit,
                rel_gap=gap, balance_keys=balance_keys)
    if fmt == "json":
        print_json(_brief(a))
        return
    r = a.report
    out.print(f"组卷 {a.id}：{a.blueprint} v{a.blueprint_version}，{a.n_forms} 套 × {a.length} 题，"
              f"求解 {r['seconds']} 秒（{'最优' if r['status'] == 'optimal' else '达到时限'}，相对间隙 "
              f"{(r['gap'] or 0):.2%}），各套最大相对差异 {r['max_difference']:.2%}", highlight=False)
    t = Table(title="各套试卷在分数线与 θ=0 处的信息量")
    t.add_column("试卷")
    t.add_column("编号")
    for th in r["thetas"]:
        t.add_column(f"θ={th:g}", justify="right")
    for f in a.forms:
        t.add_row(f.code, str(f.id), *(f"{f.information[f'{th:g}']:.2f}" for th in r["thetas"]))
    out.print(t, highlight=False)
    if r.get("key_balance"):
        out.print(f"答案均衡：{r['key_balance']['text']}", highlight=False)
    for f in a.forms:
        out.print(f"试卷 {f.code}：{f.key_balance_text}", highlight=False)


@forms_app.command("list")
@handles_errors
def list_(fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table") -> None:
    """列出试卷。"""
    from examengine.services.forms import list_forms

    with session() as db:
        rows = list_forms(db)
    if fmt == "json":
        print_json([asdict(r) for r in rows])
        return
    t = Table(title="纸笔试卷")
    for col in ("编号", "组卷", "试卷", "蓝图", "题数", "已打印"):
        t.add_column(col)
    for f in rows:
        t.add_row(str(f.id), str(f.assembly_id), f.code, f"{f.blueprint} v{f.blueprint_version}", str(f.length),
                  "是" if f.printed else "否")
    out.print(t, highlight=False)


@forms_app.command("show")
@handles_errors
def show(form: Annotated[int, typer.Argument(help="试卷编号")],
         fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table") -> None:
    """显示一套试卷的题目与答案。"""
    from examengine.services.forms import form_view

    with session() as db:
        f = form_view(db, form)
    if fmt == "json":
        print_json(asdict(f))
        return
    t = Table(title=f"试卷 {f.code}（编号 {f.id}，{f.blueprint} v{f.blueprint_version}）")
    for col in ("题号", "题目", "题型", "工作领域", "答案", "题干"):
        t.add_column(col, overflow="fold")
    for i in f.items:
        t.add_row(str(i.position), f"{i.item_id} v{i.version}", i.type, i.domain, i.key_text, i.stem[:40])
    out.print(t, highlight=False)
    out.print(f"答案分布：{f.key_balance_text}", highlight=False)


@forms_app.command("print")
@handles_errors
def print_(
    form: Annotated[int, typer.Argument(help="试卷编号")],
    booklet: Annotated[Path | None, typer.Option(help="试题册 PDF")] = None,
    sheets: Annotated[Path | None, typer.Option(help="答题卡 PDF")] = None,
    key: Annotated[Path | None, typer.Option(help="参考答案与分数换算表 PDF（监考用）")] = None,
    roster: Annotated[int | None, typer.Option(help="考试编号：为名单上每位考生打印一张答题卡")] = None,
    blank: Annotated[int, typer.Option(help="另加空白答题卡张数")] = 0,
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
) -> None:
    """打印试题册、答题卡和参考答案（PDF，A4）；首次打印即冻结试卷所用的题目版本。
    按名单打印答题卡时，只为分配到这套试卷的考生打印；考试还没有分配试卷时为名单上每位考生打印，并把他们分配到这套试卷。"""
    from examengine.services.forms import print_form

    if not (booklet or sheets or key):
        raise typer.BadParameter("请至少指定 --booklet、--sheets 或 --key 之一")
    with session() as db:
        p = print_form(db, form, booklet=booklet is not None, sheets=sheets is not None, key=key is not None,
                       exam_id=roster, blank_sheets=blank, actor=actor)
    for path, data, what in ((booklet, p.booklet, "试题册"), (sheets, p.sheets, f"答题卡 {p.n_sheets} 张"),
                             (key, p.key, "参考答案与换算表")):
        if path is not None and data is not None:
            path.write_bytes(data)
            out.print(f"已写入{what}：{path}", highlight=False)


@forms_app.command("score")
@handles_errors
def score(
    exam: Annotated[int, typer.Argument(help="考试编号")],
    file: Annotated[Path, typer.Argument(help="CSV 或 XLSX：准考证号, 试卷, 答案（或每题一列）", exists=True,
                                         dir_okay=False)],
    assembly: Annotated[int | None, typer.Option(help="组卷编号（考试没有按名单打印过试卷时）")] = None,
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """纸笔答案评分：按试卷题目的 IRT 参数估计能力（EAP），给出等级、是否合格与百分制成绩。"""
    from examengine.services.forms import score_paper

    with session() as db:
        r = score_paper(db, exam, file.name, file.read_bytes(), actor=actor, assembly_id=assembly)
    if fmt == "json":
        print_json(asdict(r))
        return
    out.print(f"考试 {r.exam_id}：新增 {r.added} 名、更新 {r.updated} 名的纸笔成绩。", highlight=False)
    t = Table()
    for col in ("准考证号", "姓名", "试卷", "答对", "θ", "等级", "合格", "成绩"):
        t.add_column(col)
    for x in r.rows:
        t.add_row(x.ticket, x.name, x.form, f"{x.raw_score}/{x.n_items}", f"{x.theta:.2f}", x.band_name,
                  "是" if x.passed else "否", f"{x.score:.1f}" + ("（暂定）" if x.provisional else ""))
    out.print(t, highlight=False)
    _print_replaced(r.rows)
    if any(x.provisional for x in r.rows):
        out.print("“暂定”：试卷题目中有暂定参数（未经作答数据校准），成绩据此换算，仅供参考。", highlight=False)


def _theta(theta: float | None, se: float | None) -> str:
    return "—" if theta is None else f"{theta:.2f}±{se:.2f}"


def _score(score: float | None, provisional: bool | None) -> str:
    return "—" if score is None else f"{score:.1f}" + ("（暂定）" if provisional else "")


@forms_app.command("results")
@handles_errors
def results(
    exam: Annotated[int, typer.Argument(help="考试编号")],
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """一场考试的纸笔成绩：试卷、答对题数、θ±SE、等级、是否合格、百分制成绩、标记、评分人与来源；
    另列名单上还没有纸笔成绩的考生。"""
    from examengine.services.forms import paper_results_view

    with session() as db:
        v = paper_results_view(db, exam)
    if fmt == "json":
        print_json(asdict(v))
        return
    zone = settings().zone
    out.print(f"考试 {v.exam_id}（{v.exam_name}）：名单 {v.roster} 名，纸笔成绩 {len(v.rows)} 名，"
              f"有标记 {v.flagged} 名，暂定 {v.provisional} 名。", highlight=False)
    t = Table(title="纸笔成绩")
    for col in ("准考证号", "姓名", "考场", "试卷", "答对", "θ±SE", "等级", "合格", "成绩", "标记",
                f"评分（{zone_label(zone)}）", "来源"):
        t.add_column(col, overflow="fold")
    for r in v.rows:
        marks = list(r.flags) + ([f"复核更正 {r.corrected} 题"] if r.corrected else []) + (
            [r.replaced + _replaced_when(r, zone)] if r.replaced else [])
        t.add_row(r.ticket, r.name, r.room or "—", r.form, f"{r.raw_score}/{r.n_items}", _theta(r.theta, r.se),
                  r.band_name, "是" if r.passed else "否", _score(r.score, r.provisional), "；".join(marks) or "—",
                  f"{r.scored_by} {local_time(datetime.fromisoformat(r.scored_at), zone)}", r.source_file)
    out.print(t, highlight=False)
    if v.without_result:
        out.print(f"名单上没有纸笔成绩的考生 {len(v.without_result)} 名：" + "、".join(
            f"{c.ticket} {c.name}" + (f"（{c.room}）" if c.room else "") for c in v.without_result), highlight=False)


@forms_app.command("reconcile")
@handles_errors
def reconcile(
    exam: Annotated[int, typer.Argument(help="考试编号（纸笔成绩所在的考试）")],
    online_exam: Annotated[int | None, typer.Option(help="在线考试另设为一场考试时，其考试编号（按准考证号对应）")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """在线与纸笔成绩对照：同一考生的两次 θ±SE、等级与成绩并列；|θ在线 − θ纸笔| 超过
    1.96 × √(SE在线² + SE纸笔²)，或等级、是否通过不同时标出，标出的排在前面。"""
    from examengine.services.reconciliation import reconcile as run

    with session() as db:
        r = run(db, exam, online_exam_id=online_exam)
    if fmt == "json":
        print_json(asdict(r))
        return
    where = "同一场考试" if r.online_exam_id == r.exam_id else f"在线考试 {r.online_exam_id}（{r.online_exam_name}）"
    out.print(f"考试 {r.exam_id}（{r.exam_name}）的纸笔成绩对照{where}的在线成绩：配对 {r.pairs} 名，"
              f"不一致 {r.flagged} 名；只有纸笔成绩 {r.paper_only} 名，只有在线成绩 {r.online_only} 名。"
              f"判定：|θ在线 − θ纸笔| > {r.z:g} × √(SE在线² + SE纸笔²)，或等级、是否通过不同。", highlight=False)
    t = Table(title="在线与纸笔成绩对照")
    for col in ("准考证号", "姓名", "在线 θ±SE", "在线等级", "在线成绩", "纸笔 θ±SE", "纸笔等级", "纸笔成绩", "差", "结论"):
        t.add_column(col, overflow="fold")
    for x in r.rows:
        o, p = x.online, x.paper
        verdict = ("；".join(x.reasons) if x.flagged else ("一致" if o and p else
                   ("只有纸笔成绩（" + x.online_status + "）" if o is None else "只有在线成绩")))
        if x.notes:
            verdict += "（" + "；".join(x.notes) + "）"
        t.add_row(x.ticket, x.name, _theta(o.theta, o.se) if o else "—", (o.band_name or "—") if o else "—",
                  _score(o.score, o.provisional) if o else "—", _theta(p.theta, p.se) if p else "—",
                  (p.band_name or "—") if p else "—", _score(p.score, p.provisional) if p else "—",
                  "—" if x.difference is None else f"{x.difference:+.2f}（±{x.limit:.2f}）",
                  ("⚠ " if x.flagged else "") + verdict)
    out.print(t, highlight=False)


@forms_app.command("scan")
@handles_errors
def scan(
    files: Annotated[list[Path], typer.Argument(help="扫描件：多页 PDF，或 JPEG/PNG/TIFF 图片（可多个）", exists=True,
                                                dir_okay=False)],
    exam: Annotated[int | None, typer.Option(help="考试编号：每张答题卡都须属于这场考试（否则按二维码所示的考试）")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="保存读入结果并评分（默认只报告，不写入）")] = False,
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """读取扫描或拍照的答题卡：校验二维码（考试、考生、试卷与签名），识别每个涂点；无需复核的答题卡直接评分，
    其余进入复核队列。同一张答题卡重复上传不会改变任何内容。"""
    from examengine.services.scans import OUTCOME_NAMES, ScanOutcome, scan as run

    with session() as db:
        r = run(db, [(f.name, f.read_bytes()) for f in files], exam_id=exam, actor=actor, apply=apply)
    if fmt == "json":
        print_json(asdict(r))
        return
    c = r.counts
    out.print(f"{'已保存' if r.applied else '预览（未写入，加 --apply 保存）'}：共 {len(r.pages)} 页，新读入 {c['new']}，"
              f"未变 {c['unchanged']}，拒收 {c['refused']}，无法识别 {c['unreadable']}；"
              f"{'评分' if r.applied else '可直接评分'} {len(r.scored)} 名。", highlight=False)
    t = Table()
    for col in ("文件", "页", "结果", "状态", "准考证号", "姓名", "试卷", "待复核题号", "说明"):
        t.add_column(col, overflow="fold")
    for p in r.pages:
        t.add_row(p.file, str(p.page or ""), OUTCOME_NAMES[ScanOutcome(p.outcome)], p.status_name, p.ticket, p.name,
                  p.form, "、".join(map(str, p.review)), p.problem)
    out.print(t, highlight=False)
    _print_replaced(r.scored)
    if r.listings is not None:
        _print_listings(r.listings)


def _print_replaced(rows) -> None:
    """Say which results replace one from another source (the earlier one stays in the record)."""
    zone = settings().zone
    for x in rows:
        if x.replaced:
            out.print(f"注意：准考证号 {x.ticket} {x.name} 的纸笔成绩{x.replaced}{_replaced_when(x, zone)}；"
                      f"先前成绩保留在记录中。", highlight=False)


def _replaced_when(row, zone) -> str:
    """'，评分于 2026-12-07 00:06 北京时间' for the earlier result a row replaced."""
    if not row.replaced_at:
        return ""
    return f"，评分于 {local_time(datetime.fromisoformat(row.replaced_at), zone)} {zone_label(zone)}"


def _print_listings(listings) -> None:
    if listings.unreadable:
        out.print("无法识别的页：" + "；".join(f"{u.file}" + (f" 第 {u.page} 页" if u.page else "") + f"（{u.reason}）"
                                         for u in listings.unreadable), highlight=False)
    if listings.missing:
        out.print(f"名单上尚无答题卡的考生 {len(listings.missing)} 名：" +
                  "、".join(f"{m.ticket} {m.name}" for m in listings.missing), highlight=False)
    if listings.unrostered:
        out.print("没有对应考生的答题卡（空白答题卡，可在复核时指定准考证号）：" +
                  "；".join(f"答题卡 {s.sheet_id or ''} {s.file}" + (f" 第 {s.page} 页" if s.page else "")
                           for s in listings.unrostered), highlight=False)


@forms_app.command("review")
@handles_errors
def review(exam: Annotated[int, typer.Argument(help="考试编号")],
           fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table") -> None:
    """列出待复核的涂点：多涂、未涂、涂痕过浅、擦除痕迹或识别把握低的题。"""
    from examengine.services.scans import review_queue

    with session() as db:
        rows = review_queue(db, exam)
    if fmt == "json":
        print_json([asdict(r) for r in rows])
        return
    if not rows:
        out.print(f"考试 {exam} 没有待复核的涂点。", highlight=False)
        return
    t = Table(title=f"考试 {exam} 待复核的涂点（{len(rows)} 处）")
    for col in ("答题卡", "准考证号", "姓名", "试卷", "题号", "题型", "读作", "涂黑程度", "清晰", "原因"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(str(r.sheet_id), r.ticket, r.name, r.form, str(r.position), r.item_type, r.letters or "未涂",
                  " ".join(f"{x}:{d:.2f}" for x, d in zip(r.options, r.darkness)), f"{r.confidence:.2f}",
                  "、".join(r.flags) or "识别把握低")
    out.print(t, highlight=False)
    out.print("确认或更正：examengine forms resolve 答题卡 题号 选项（如 B、AC，判断题 对/错，未作答写 \"\"）",
              highlight=False)


@forms_app.command("resolve")
@handles_errors
def resolve(sheet: Annotated[int, typer.Argument(help="答题卡编号")],
            position: Annotated[int, typer.Argument(help="题号")],
            letters: Annotated[str, typer.Argument(help="选项：B、AC；判断题 对/错；未作答写 \"\"")],
            actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
            fmt: Annotated[str, typer.Option("--format", help="text 或 json")] = "text") -> None:
    """确认或更正一处涂点（记入审计日志）；答题卡最后一处待复核的涂点确定后即评分。"""
    from examengine.services.scans import resolve as run

    with session() as db:
        r = run(db, sheet, position, letters, actor=actor)
    if fmt == "json":
        print_json(asdict(r))
        return
    what = "确认" if r.before == r.after else f"由 {r.before or '未涂'} 更正为"
    out.print(f"答题卡 {sheet}（{r.sheet.ticket or '空白答题卡'}）第 {position} 题：{what} {r.after or '未作答'}。", highlight=False)
    if r.scored is not None:
        s = r.scored
        out.print(f"已评分：{s.ticket} {s.name}，试卷 {s.form}，答对 {s.raw_score}/{s.n_items}，θ {s.theta:.2f}，"
                  f"{s.band_name}，{'合格' if s.passed else '不合格'}，成绩 {s.score:.1f}", highlight=False)
        _print_replaced([s])
    elif r.sheet.review:
        out.print(f"这张答题卡还有 {len(r.sheet.review)} 处待复核：第 {'、'.join(map(str, r.sheet.review))} 题。",
                  highlight=False)


@forms_app.command("scan-delete")
@handles_errors
def scan_delete(sheet: Annotated[int, typer.Argument(help="答题卡编号")],
                reason: Annotated[str, typer.Option(help="原因（记入审计日志）")] = "",
                actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli") -> None:
    """删除一张已读入的答题卡（及由它得出的纸笔成绩），以便重新读入同一考生的答题卡。记入审计日志。"""
    from examengine.services.scans import delete_sheet

    with session() as db:
        v = delete_sheet(db, sheet, actor=actor, reason=reason)
    out.print(f"已删除答题卡 {sheet}（{v.ticket or '空白答题卡'}，{v.file}）。", highlight=False)


@forms_app.command("scan-return")
@handles_errors
def scan_return(
    exam: Annotated[int, typer.Argument(help="考试编号")],
    ticket: Annotated[str | None, typer.Option(help="准考证号：一名考生的回执")] = None,
    room: Annotated[str | None, typer.Option(help="或：考场：该考场每位已计分考生的回执（每人另起一页）")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="写入的 PDF 文件（默认：当前目录下按考试和考生或考场命名）",
                                                  dir_okay=False)] = None,
    actor: Annotated[str, typer.Option("--as", help="操作人（记入审计日志）")] = "cli",
) -> None:
    """答题卡评分回执（PDF，供申诉核查）：扫描件上标出标准答案、计分所涂与对错，逐题列出识别结果、计分作答、
    标准答案与复核记录，并附纸笔成绩。每位考生约需 1–3 秒。记入审计日志。"""
    from examengine.services.scan_returns import annotated_return

    if (ticket is None) == (room is None):
        raise typer.BadParameter("请指定 --ticket 或 --room（二者选一）")
    with session() as db:
        r = annotated_return(db, exam, ticket=ticket, room=room, zone=settings().zone, actor=actor)
    path = out_file or Path(r.file_name)
    path.write_bytes(r.pdf)
    out.print(f"已写入 {r.n_candidates} 名考生的答题卡回执：{path}", highlight=False)
    if r.skipped:
        out.print(f"考场 {r.room} 另有 {len(r.skipped)} 名考生没有回执：" +
                  "；".join(f"{s.ticket} {s.name}（{s.reason}）" for s in r.skipped), highlight=False)


@forms_app.command("assign")
@handles_errors
def assign(
    exam: Annotated[int, typer.Argument(help="考试编号")],
    assembly: Annotated[int | None, typer.Option(help="组卷编号：分配到它的全部试卷")] = None,
    form: Annotated[list[int] | None, typer.Option("--form", help="或：试卷编号（可重复）")] = None,
    by: Annotated[str, typer.Option(help="seat：同一考场按座位号交替（相邻考生试卷不同）；room：各考场轮换；"
                                         "column：名单的“试卷”列")] = "seat",
    only_unassigned: Annotated[bool, typer.Option("--only-unassigned",
                                                  help="只为尚未分配试卷的考生分配（已分配的保持不变，如名单后补的考生）")] = False,
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """为考试名单上的考生分配纸笔试卷；之后按名单打印答题卡时，每位考生只得到自己那套试卷的答题卡。
    已按另一套试卷评过纸笔成绩的考生不能改分配。"""
    from examengine.services.form_assignments import assign as run

    with session() as db:
        r = run(db, exam, rule=by, actor=actor, assembly_id=assembly, form_ids=form or None,
                only_unassigned=only_unassigned)
    if fmt == "json":
        print_json(asdict(r))
        return
    counts = " · ".join(f"试卷 {code} {n} 名" for code, n in r.counts.items())
    out.print(f"考试 {r.exam_id}：{r.rule_label}分配，{counts}；{r.changed} 名考生的试卷有变化。",
              highlight=False)
    for w in r.warnings:
        out.print(f"[yellow]注意：[/yellow]{w}", highlight=False)
    t = Table()
    for col in ("准考证号", "姓名", "考场", "座位号", "试卷"):
        t.add_column(col)
    for c in r.candidates:
        t.add_row(c.ticket, c.name, c.room, c.seat, c.form or "")
    out.print(t, highlight=False)


@forms_app.command("agreement")
@handles_errors
def agreement(
    blueprint: Annotated[str, typer.Option(help="蓝图编号，如 530046-L2")],
    simulees: Annotated[int, typer.Option(help="模拟考生人数（θ ~ N(0, 1)）")] = 2000,
    seed: Annotated[int, typer.Option(help="随机种子（组卷、考生、作答）")] = 1,
    length: Annotated[int | None, typer.Option(help="每套纸笔试卷题数（默认为蓝图的最大题数）")] = None,
    exposure: Annotated[str, typer.Option(help="在线曝光参数：auto（已保存的，否则本次标定）、stored（与在线完全一致："
                                               "已保存的，没有则不控制）或 none")] = "auto",
    online_stop: Annotated[str, typer.Option(help="在线考试何时结束：blueprint（按蓝图，通过与否判定即停）或 "
                                                  "max-length（假设每人都答满最大题数，用于分析）")] = "blueprint",
    calibration_simulees: Annotated[int, typer.Option(help="标定曝光参数时每轮的模拟考生数")] = 600,
    decide: Annotated[str | None, typer.Option(help="假设在线考试判定 pass_fail（是否通过报考级别）或 band（等级），"
                                                   "默认按蓝图 classification.decide")] = None,
    per_simulee: Annotated[bool, typer.Option(help="JSON 中附上每名模拟考生的结果")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """纸笔试卷与在线考试的等级一致性：同一批模拟考生分别作答 A 卷、B 卷和一次在线自适应考试，
    比较“纸笔–在线”与“A 卷–B 卷”的等级（及通过与否）一致率。不写入数据库。"""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from examengine.cli.common import err
    from examengine.services.forms import ExposureSource, OnlineStop, agreement_study

    try:
        source = ExposureSource(exposure)
    except ValueError:
        raise typer.BadParameter(f"--exposure 应为 {'、'.join(e.value for e in ExposureSource)} 之一") from None
    try:
        stop = OnlineStop(online_stop)
    except ValueError:
        raise typer.BadParameter(f"--online-stop 应为 {'、'.join(e.value for e in OnlineStop)} 之一") from None
    names = {"calibrate": "标定曝光参数", "simulate": "在线考试模拟", "score A": "A 卷评分", "score B": "B 卷评分"}
    tasks: dict[str, int] = {}
    with session() as db, Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                   TimeRemainingColumn(), console=err, transient=True) as bar:
        def on(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(names.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done)

        study = agreement_study(db, blueprint=blueprint, n_simulees=simulees, seed=seed, length=length,
                                exposure=source, online_stop=stop, calibration_simulees=calibration_simulees,
                                decide=decide, progress=on)
    if fmt == "json":
        print_json(study.to_dict(per_simulee=per_simulee))
        return
    render_agreement(study)


def render_agreement(s) -> None:
    """The study as tables (Chinese)."""
    decided = "等级判定即停" if s.decide == "band" else "通过与否判定即停"
    stop = f"按蓝图（{decided}）" if s.online_stop.value == "blueprint" else "答满最大题数（分析用）"
    exposure = {"none": "不控制", "stored": "已保存的 Sympson–Hetter 参数", "not calibrated": "未标定（与在线一致：不控制）",
                "calibrated for this run": "本次标定的 Sympson–Hetter 参数"}.get(s.exposure, s.exposure)
    out.print(f"纸笔试卷与在线考试的一致性：{s.blueprint}，{s.n_simulees} 名模拟考生（θ ~ N(0, 1)，种子 {s.seed}），"
              f"A、B 两套各 {s.form_length} 题（题库 {s.pool_size} 题）；在线：{stop}，曝光控制：{exposure}；"
              f"分数线 θ = {'、'.join(f'{c:g}' for c in s.cuts)}，报考级别 {s.registered_level}；用时 {s.seconds:.1f} 秒",
              highlight=False)
    names = {"online": "在线"}
    for title, rates, crit in (("等级一致率", s.band, s.band_criterion), ("通过与否一致率", s.pass_fail, s.pass_fail_criterion)):
        t = Table(title=title)
        for col in ("比较", "一致", "一致率", "标准误"):
            t.add_column(col, justify="right")
        for r in rates:
            t.add_row(f"{names.get(r.first, r.first)}–{names.get(r.second, r.second)}", f"{r.agree}/{r.n}",
                      f"{r.rate:.3f}", f"{r.se:.3f}")
        out.print(t, highlight=False)
        out.print(f"纸笔–在线 {crit.paper_online:.3f}（标准误 {crit.paper_online_se:.3f}），A–B {crit.forms:.3f}"
                  f"（标准误 {crit.forms_se:.3f}）；差 {crit.difference:+.3f}（配对标准误 {crit.difference_se:.3f}），"
                  f"容差 {crit.tolerance:.3f}：{'达到' if crit.met else '未达到'}“纸笔–在线不低于 A–B”", highlight=False)
    t = Table(title="各作答方式（对照真实 θ）")
    for col in ("方式", "题数", *(f"I(θ={c:g})" for c in s.cuts), "标准误", "等级正确", "通过正确", "RMSE"):
        t.add_column(col, justify="right")
    for m in s.modes:
        t.add_row(names.get(m.mode, m.mode), f"{m.mean_length:.1f}", *(f"{x:.2f}" for x in m.information),
                  f"{m.mean_se:.3f}", f"{m.band_accuracy:.3f}", f"{m.pass_fail_accuracy:.3f}", f"{m.rmse:.3f}")
    out.print(t, highlight=False)
    t = Table(title="按离真实 θ 最近的分数线")
    for col in ("分数线", "人数", "等级 纸笔–在线", "等级 A–B", "通过 纸笔–在线", "通过 A–B", "在线题数"):
        t.add_column(col, justify="right")
    for r in s.regions:
        t.add_row(f"{r.level} θ={r.cut:g}", str(r.n), f"{r.band_paper_online:.3f}", f"{r.band_forms:.3f}",
                  f"{r.pass_fail_paper_online:.3f}", f"{r.pass_fail_forms:.3f}", f"{r.online_mean_length:.1f}")
    out.print(t, highlight=False)
    out.print("停止原因：" + "，".join(f"{k} {v}" for k, v in s.stop_reasons.items()), highlight=False)
