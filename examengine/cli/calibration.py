"""CLI: ``examengine calibrate`` (stored responses or a CSV matrix), ``examengine calibration
list|show|apply`` and ``examengine items stats``."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from examengine.cli.common import err, handles_errors, out, print_json, require_extra, session
from examengine.errors import ExamEngineError

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


def _calibrate_csv(responses: Path, model_name: str, engine: str, output: Path | None, fmt: str,
                   no_priors: bool) -> None:
    from examengine.services.calibration import calibrate_matrix, parameters_csv

    if engine == "girth":
        require_extra("girth", "reference", "--engine girth（参考校准引擎）")
    with _progress() if engine == "em" else nullcontext() as step:
        res = calibrate_matrix(responses.name, responses.read_bytes(), model=model_name, engine=engine,
                               no_priors=no_priors, progress=step)
    text = parameters_csv(res)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    if fmt == "json":
        print_json({"items": len(res.item_ids), "persons": res.n_persons, "engine": engine, "model": res.model,
                    "loglik": res.loglik, "aic": res.aic, "bic": res.bic, "converged": res.converged,
                    "iterations": res.iterations, "out": None if output is None else str(output)})
        return
    if output is None:
        out.print(text, end="", highlight=False, markup=False)
    summary = f"{responses.name}：{res.n_persons} 人 × {len(res.item_ids)} 题，模型 {res.model}，引擎 {engine}"
    if res.loglik is not None:
        summary += (f"；对数似然 {res.loglik:.3f}，AIC {res.aic:.1f}，BIC {res.bic:.1f}；"
                    f"{'已收敛' if res.converged else '未收敛'}（{res.iterations} 轮，{res.seconds:.1f} 秒）")
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
                                                     "Stocking-Lord 链接回题库量尺；initial：首次校准（题库只有暂定参数时），"
                                                     "全部估计、不链接，量尺由本批考生确定")] = "pretest",
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
    from examengine.services.calibration import (
        CalibrationModel,
        PromotionCriteria,
        estimates_csv,
        run_calibration,
    )

    with session() as db, _progress() as step:
        run = run_calibration(db, scope=standard, model=CalibrationModel.parse(model), mode=mode,
                              since=_date(since, "--since"), until=_date(until, "--until"), actor=actor,
                              criteria=PromotionCriteria(min_responses=min_responses), progress=step)
    if output is not None:
        output.write_text(estimates_csv(run), encoding="utf-8")
    if fmt == "json":
        print_json(asdict(run))
        return
    _print_run(run)


def _print_run(run) -> None:
    out.print(f"[bold]校准记录 {run.id}[/bold]  {run.scope}  模型 {run.model}  方式 {run.mode}  状态 {run.status}",
              highlight=False)
    if run.options.get("provisional_anchors"):
        out.print(f"[yellow]注意：{run.options['provisional_anchors']} 道锚题的参数是暂定参数（未经数据估计），"
                  "本次结果的量尺取自这些猜测值；新项目的首次校准请用 --mode initial（docs/launch.md）。[/yellow]",
                  highlight=False)
    if run.options.get("scale") == "population":
        out.print("量尺：由本批考生确定（能力分布均值 0、标准差 1），未与题库原有参数链接。", highlight=False)
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
