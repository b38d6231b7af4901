"""CLI: ``examengine calibrate`` (stored responses or a CSV matrix), ``examengine calibration
list|show|apply`` and ``examengine items stats``."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from examengine.cli.common import err, handles_errors, out, print_json, require_extra, session
from examengine.errors import DataFileError, ExamEngineError, Problem
from examengine.itemfiles.tables import spreadsheet_text

calibration_app = typer.Typer(help="校准记录：查看、写入题库（显式、留痕）。", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the examengine app."""
    from examengine.cli.items import items_app

    app.command("calibrate")(calibrate_cmd)
    app.add_typer(calibration_app, name="calibration")
    items_app.command("stats")(items_stats)


def _date(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        d = datetime.fromisoformat(text)
    except ValueError:
        raise ExamEngineError(f"{name} 不是日期：{text}（格式 2026-11-01 或 2026-11-01T08:00）") from None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


# ---------------------------------------------------------------- CSV matrices


def read_matrix_csv(path: Path) -> tuple[list[str], list[list[float]]]:
    """A persons x items CSV: the header row holds the item ids; cells 0/1, blank = missing.
    Every bad cell is named by row and column."""
    text = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            decoded = text.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DataFileError([Problem(path.name, "文件", "编码", "无法以 UTF-8 或 GB18030 读取")])
    rows = list(csv.reader(io.StringIO(decoded)))
    if not rows or not any(h.strip() for h in rows[0]):
        raise DataFileError([Problem(path.name, "第 1 行", "表头", "表头应为题目编号")])
    header = [h.strip() for h in rows[0]]
    problems: list[Problem] = []
    seen: set[str] = set()
    for j, h in enumerate(header):
        if not h:
            problems.append(Problem(path.name, "第 1 行", f"第 {j + 1} 列", "题目编号为空"))
        elif h in seen:
            problems.append(Problem(path.name, "第 1 行", f"第 {j + 1} 列", f"题目编号“{h}”重复"))
        seen.add(h)
    matrix: list[list[float]] = []
    for r, row in enumerate(rows[1:], start=2):
        if not any(x.strip() for x in row):
            continue
        if len(row) != len(header):
            problems.append(Problem(path.name, f"第 {r} 行", "列数", f"应有 {len(header)} 列，实际 {len(row)} 列"))
            continue
        vals = []
        for j, x in enumerate(row):
            x = x.strip()
            if x == "":
                vals.append(float("nan"))
            elif x in ("0", "1"):
                vals.append(float(x))
            else:
                problems.append(Problem(path.name, f"第 {r} 行", header[j] or f"第 {j + 1} 列",
                                        f"作答应为 0、1 或留空，实际为“{x}”"))
                vals.append(float("nan"))
        matrix.append(vals)
    if problems:
        raise DataFileError(problems)
    if not matrix:
        raise DataFileError([Problem(path.name, "文件", "数据", "没有作答数据")])
    return header, matrix


def _calibrate_csv(responses: Path, model_name: str, engine: str, output: Path | None, fmt: str,
                   no_priors: bool) -> None:
    import numpy as np

    from examengine.irt import calibration as cal

    model = cal.CalibrationModel.parse(model_name)
    ids, rows = read_matrix_csv(responses)
    u = np.array(rows, dtype=float)
    if engine == "girth":
        require_extra("girth", "reference", "--engine girth（参考校准引擎）")
        if np.isnan(u).any():
            raise ExamEngineError("girth 只能校准完整矩阵（无缺失）；含缺失的数据请用 --engine em")
        params = cal.calibrate_girth(u, model)
        res = None
        se = (np.full(len(ids), np.nan),) * 3
    elif engine == "em":
        data = cal.ResponseData.from_matrix(u)
        with _progress() as step:
            res = cal.calibrate(data, model, priors=cal.Priors.none() if no_priors else None, progress=step)
        params, se = res.params, (res.se_a, res.se_b, res.se_c)
    else:
        raise ExamEngineError(f"未知的校准引擎：{engine}（可用：em、girth）")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["item", "a", "b", "c", "se_a", "se_b", "se_c"])
    for j, item in enumerate(ids):
        w.writerow([spreadsheet_text(item), f"{params.a[j]:.4f}", f"{params.b[j]:.4f}", f"{params.c[j]:.4f}",
                    *("" if not np.isfinite(s[j]) else f"{s[j]:.4f}" for s in se)])
    if output is not None:
        output.write_text(buf.getvalue(), encoding="utf-8")
    if fmt == "json":
        print_json({"items": len(ids), "persons": u.shape[0], "engine": engine, "model": model.value,
                    "loglik": None if res is None else res.loglik, "aic": None if res is None else res.aic,
                    "bic": None if res is None else res.bic,
                    "converged": None if res is None else res.convergence.converged,
                    "iterations": None if res is None else res.convergence.iterations,
                    "out": None if output is None else str(output)})
        return
    if output is None:
        out.print(buf.getvalue(), end="", highlight=False, markup=False)
    summary = f"{responses.name}：{u.shape[0]} 人 × {len(ids)} 题，模型 {model.value}，引擎 {engine}"
    if res is not None:
        c = res.convergence
        summary += (f"；对数似然 {res.loglik:.3f}，AIC {res.aic:.1f}，BIC {res.bic:.1f}；"
                    f"{'已收敛' if c.converged else '未收敛'}（{c.iterations} 轮，{c.seconds:.1f} 秒）")
    err.print(summary + (f"；参数已写入 {output}" if output else ""), highlight=False)


class _progress:
    """A rich progress bar fed by the EM's callback (iteration, loglik, max change)."""

    def __enter__(self):
        from rich.progress import Progress

        self.bar = Progress(transient=True, console=err)
        self.bar.__enter__()
        self.task = self.bar.add_task("校准中（EM）", total=None)

        def step(iteration: int, loglik: float, change: float) -> None:
            self.bar.update(self.task, description=f"校准中（EM）第 {iteration} 轮  对数似然 {loglik:.2f}  "
                                                   f"最大变化 {change:.5f}")

        return step

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)


@handles_errors
def calibrate_cmd(
    standard: Annotated[str, typer.Option("--standard", help="已存作答：标准（530046）或级别（530046-L2）代码")] = "",
    responses: Annotated[Path | None, typer.Option("--responses", help="CSV 作答矩阵（人 × 题，表头为题目编号，空白=缺失）",
                                                   exists=True, dir_okay=False)] = None,
    model: Annotated[str, typer.Option("--model", help="rasch、2pl 或 3pl")] = "2pl",
    mode: Annotated[str, typer.Option("--mode", help="pretest：固定正式题参数，只估预测试题；full：全部重估并以 "
                                                     "Stocking-Lord 链接回题库量尺")] = "pretest",
    since: Annotated[str | None, typer.Option("--since", help="起始日期（含）")] = None,
    until: Annotated[str | None, typer.Option("--until", help="截止日期（不含）")] = None,
    engine: Annotated[str, typer.Option("--engine", help="em（默认）或 girth（仅完整 CSV 矩阵）")] = "em",
    output: Annotated[Path | None, typer.Option("--out", help="CSV 输出：item,a,b,c,se_a,se_b,se_c")] = None,
    no_priors: Annotated[bool, typer.Option("--no-priors", help="纯边际极大似然（不用 a、b、c 的先验；同 ltm、girth）")] = False,
    min_responses: Annotated[int, typer.Option("--min-responses", help="预测试题转正所需最少作答数")] = 300,
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """校准题目参数（边际极大似然 EM）。已存作答：结果存为一条校准记录，不改动题库；
    用 examengine calibration apply 显式写入。CSV 矩阵：参数写到 --out。"""
    if bool(standard) == bool(responses):
        raise ExamEngineError("请给出 --standard（已存作答）或 --responses（CSV 矩阵）二者之一")
    if responses is not None:
        _calibrate_csv(responses, model, engine, output, fmt, no_priors)
        return
    if engine != "em":
        raise ExamEngineError("已存作答是稀疏的（自适应考试），只能用 --engine em")
    from examengine.irt.calibration import CalibrationModel, PromotionCriteria
    from examengine.services.calibration import run_calibration

    with session() as db, _progress() as step:
        run = run_calibration(db, scope=standard, model=CalibrationModel.parse(model), mode=mode,
                              since=_date(since, "--since"), until=_date(until, "--until"), actor=actor,
                              criteria=PromotionCriteria(min_responses=min_responses), progress=step)
    if output is not None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["item", "role", "n", "a", "b", "c", "se_a", "se_b", "se_c"])
        for e in run.estimates:
            w.writerow([spreadsheet_text(e.external_id), e.role, e.n_responses, f"{e.a:.4f}", f"{e.b:.4f}", f"{e.c:.4f}",
                        *("" if s is None else f"{s:.4f}" for s in (e.se_a, e.se_b, e.se_c))])
        output.write_text(buf.getvalue(), encoding="utf-8")
    if fmt == "json":
        print_json(asdict(run))
        return
    _print_run(run)


def _print_run(run) -> None:
    out.print(f"[bold]校准记录 {run.id}[/bold]  {run.scope}  模型 {run.model}  方式 {run.mode}  状态 {run.status}",
              highlight=False)
    out.print(f"{run.n_persons} 人次、{run.n_responses} 条作答、{run.n_items} 道题；对数似然 {run.loglik:.3f}，"
              f"AIC {run.aic:.1f}，BIC {run.bic:.1f}（{run.n_parameters} 个参数）；"
              f"{'已收敛' if run.converged else '未收敛'}（{run.iterations} 轮，{run.seconds:.1f} 秒）；"
              f"总体均值 {run.population_mean:.3f}，标准差 {run.population_sd:.3f}", highlight=False)
    if "linking" in run.options:
        lk = run.options["linking"]
        out.print(f"链接（{lk['method']}）：A = {lk['A']:.4f}，B = {lk['B']:.4f}", highlight=False)
    table = Table(title="估计值")
    for col in ("题目", "角色", "状态", "作答数", "a", "b", "c", "SE(a)", "SE(b)", "RMSD", "Outfit", "漂移", "可转正"):
        table.add_column(col)
    for e in run.estimates:
        table.add_row(e.external_id, "锚题" if e.role == "anchor" else "估计", e.status, str(e.n_responses),
                      _fmt(e.a), _fmt(e.b), _fmt(e.c), _fmt(e.se_a), _fmt(e.se_b), _fmt(e.rmsd), _fmt(e.outfit, 2),
                      "是" if e.drift else "", "" if e.eligible is None else ("是" if e.eligible else "否"))
    out.print(table, highlight=False)
    eligible = run.eligible
    out.print(f"可转为正式题（待人工审核，不会自动转正）：{len(eligible)} 道"
              + ("：" + "、".join(e.external_id for e in eligible) if eligible else ""), highlight=False)
    if run.status == "estimated":
        out.print(f"参数尚未写入题库；确认后运行：examengine calibration apply {run.id}")


@calibration_app.command("list")
@handles_errors
def calibration_list() -> None:
    """列出校准记录。"""
    from examengine.services.calibration import list_runs

    with session() as db:
        runs = list_runs(db)
    table = Table(title="校准记录")
    for col in ("编号", "范围", "模型", "方式", "人次", "作答", "题数", "对数似然", "收敛", "状态", "时间"):
        table.add_column(col)
    for r in runs:
        table.add_row(str(r.id), r.scope, r.model, r.mode, str(r.n_persons), str(r.n_responses), str(r.n_items),
                      f"{r.loglik:.2f}", "是" if r.converged else "否", r.status, r.created_at[:19])
    out.print(table, highlight=False)


@calibration_app.command("show")
@handles_errors
def calibration_show(run_id: int, fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table") -> None:
    """显示一条校准记录：数据、拟合、收敛、每题估计值与转正资格。"""
    from examengine.services.calibration import get_run

    with session() as db:
        run = get_run(db, run_id)
    if fmt == "json":
        print_json(asdict(run))
        return
    _print_run(run)


@calibration_app.command("apply")
@handles_errors
def calibration_apply(
    run_id: int,
    item: Annotated[list[str] | None, typer.Option("--item", help="只写入这些题目（可重复）")] = None,
    include_drifted: Annotated[bool, typer.Option("--include-drifted", help="也写入漂移超出标准误的题目")] = False,
    actor: Annotated[str, typer.Option("--as", help="操作人")] = "cli",
) -> None:
    """把校准记录的估计值写入题库（旧值保留在校准记录和题目变更记录中）。"""
    from examengine.services.calibration import apply_run

    with session() as db:
        rep = apply_run(db, run_id, actor=actor, items=item, include_drifted=include_drifted)
    out.print(f"校准记录 {run_id}：已写入 {len(rep.applied)} 道题的参数"
              + (f"；跳过 {len(rep.skipped)} 道（漂移或参数已变）：{'、'.join(rep.skipped)}" if rep.skipped else ""),
              highlight=False)


@handles_errors
def items_stats(
    code: Annotated[str, typer.Option("--code", "--standard", help="标准（530046）或级别（530046-L2）代码")],
    exam: Annotated[int | None, typer.Option("--exam", help="只看这场考试")] = None,
    since: Annotated[str | None, typer.Option("--since", help="起始日期（含）")] = None,
    until: Annotated[str | None, typer.Option("--until", help="截止日期（不含）")] = None,
    criterion: Annotated[str, typer.Option("--criterion", help="auto、rest（其余题总分）或 theta（能力估计）")] = "auto",
    item: Annotated[list[str] | None, typer.Option("--item", help="只看这些题目（可重复）")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """经典项目分析：通过率、校正点二列相关、选项分析（干扰项）、漏答率与标记。"""
    from examengine.services.calibration import item_statistics

    with session() as db:
        rows = item_statistics(db, scope=code, exam_id=exam, since=_date(since, "--since"),
                               until=_date(until, "--until"), criterion=criterion, items=item or None)
    if fmt == "json":
        print_json([asdict(r) for r in rows])
        return
    table = Table(title=f"项目分析：{code}（{len(rows)} 道题）")
    for col in ("题目", "状态", "作答", "通过率", "点二列", "漏答率", "选项（比例/点二列，*为答案）", "标记"):
        table.add_column(col, overflow="fold")
    for r in rows:
        opts = "  ".join(f"{'*' if o.is_key else ''}{o.label} {_fmt(o.share, 2)}/{_fmt(o.point_biserial, 2)}"
                         for o in r.options)
        table.add_row(r.external_id, r.status, str(r.n_answered), _fmt(r.p_value, 2), _fmt(r.point_biserial, 2),
                      _fmt(r.omit_rate, 2), opts, "、".join(r.flag_labels), style="red" if r.flags else None)
    out.print(table, highlight=False)
    if not rows:
        out.print("所选范围内没有作答记录。")
