"""``examengine simulate --blueprint`` and ``examengine exposure calibrate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from examengine.cli.common import err, handles_errors, out, print_json, session
from examengine.rendering.plots import write_blueprint_plot

exposure_app = typer.Typer(help="题目曝光控制（Sympson–Hetter 参数）。", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(exposure_app, name="exposure")


def _progress_bar():
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, transient=True)


def _on_progress(bar, tasks: dict):
    def on(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task("标定曝光参数" if stage == "calibrate" else "模拟考生", total=total)
        bar.update(tasks[stage], completed=done)
    return on


@handles_errors
def simulate_blueprint_command(code: str, *, simulees: int, seed: int, synthetic_bank: int | None,
                               output_format: str, plot: Path | None, calibration_simulees: int | None = None) -> None:
    from examengine.services.simulation import blueprint_study

    with session() as db, _progress_bar() as bar:
        study, settings = blueprint_study(db, code, n_simulees=simulees, seed=seed, synthetic_bank=synthetic_bank,
                                          calibration_simulees=calibration_simulees or 600,
                                          progress=_on_progress(bar, {}))
    payload = {"settings": settings, **study.to_dict()}
    if plot is not None:
        write_blueprint_plot(study, plot)
        payload["plot"] = str(plot)
    if output_format == "json":
        print_json(payload)
        return
    render_study(payload)


def render_study(p: dict) -> None:
    ff = p["fixed_form"]
    mf = p.get("fixed_forms_exposure_matched") or {}
    t = Table(title=f"蓝图 {p['blueprint']} 模拟（{p['n_simulees']} 名考生，题库 {p['pool_size']} 题）")
    t.add_column("指标")
    t.add_column("自适应")
    t.add_column(f"最优定长卷（{ff['length']} 题，人人相同）")
    if mf:
        t.add_column(f"{mf['n_forms']} 套平行定长卷轮换（曝光率 {mf['exposure']:.2f}）")
    keys = [("通过/未通过正确率", "pass_fail_accuracy"), ("等级正确率", "band_accuracy"),
            ("误通过率", "false_pass_rate"), ("误判未通过率", "false_fail_rate"), ("RMSE", "rmse")]
    for name, key in keys:
        t.add_row(name, f"{p[key]:.3f}", f"{ff[key]:.3f}", *([f"{mf[key]:.3f}"] if mf else []))
    t.add_row("平均题数", f"{p['mean_length']:.1f}（{p['min_length']}–{p['max_length']}）", str(ff["length"]),
              *([str(mf["length"])] if mf else []))
    out.print(t)
    out.print(f"最大曝光率 {p['max_exposure']:.3f}，平均曝光率 {p['mean_exposure']:.3f}，题库使用比例 "
              f"{p['pool_used_share']:.1%}；领域符合率 {p['content_conformity']:.1%}，题型符合率 {p['type_conformity']:.1%}；"
              f"用时 {p['seconds']:.1f} 秒")
    reasons = p.get("stop_reasons") or {}
    out.print("停止原因：" + "，".join(f"{STOP_NAMES.get(k, k)} {v} 人" for k, v in
                                  sorted(reasons.items(), key=lambda kv: -kv[1])), highlight=False)
    if reasons.get("pool_exhausted"):
        out.print(f"[yellow]{reasons['pool_exhausted']} 人的考试因题库用尽而结束：题库相对曝光率上限偏小，"
                  "可提高上限、扩充题库，或把 exposure.progressive_items 设为 0（见 blueprints/README.md）。[/yellow]")


# the stop reasons of exam.cat / irt.stopping, as the table prints them
STOP_NAMES = {"classified": "已判定", "max_length": "达到最长题数", "pool_exhausted": "题库用尽", "sprt": "SPRT 判定",
              "se_target": "达到精度", "not_stopped": "未停止"}


@exposure_app.command("calibrate")
@handles_errors
def exposure_calibrate(
    blueprint: Annotated[str, typer.Argument(help="蓝图编号，如 530046-L2")],
    simulees: Annotated[int, typer.Option(help="前几轮每轮模拟考生数（最后 3 轮各用其 10/3 倍，取平均）")] = 1000,
    seed: Annotated[int, typer.Option(help="随机种子")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="text 或 json")] = "text",
) -> None:
    """用迭代模拟为蓝图标定 Sympson–Hetter 曝光参数，并保存到蓝图的当前版本。"""
    from dataclasses import asdict

    from examengine.services.simulation import calibrate_and_store

    with session() as db, _progress_bar() as bar:
        result = calibrate_and_store(db, blueprint, seed=seed, n_simulees=simulees, progress=_on_progress(bar, {}))
    if fmt == "json":
        print_json(asdict(result))
        return
    out.print(f"{result.code} v{result.version}：已标定并保存 {result.n_items} 道题的曝光参数"
              f"（{result.restricted_items} 道受限）；新模拟中最大曝光率 {result.max_exposure:.3f}"
              f"（上限 {result.target:.2f}），题库使用比例 {result.pool_used_share:.1%}，"
              f"因题库用尽提前结束的考试 {result.exhausted_share:.1%}。")


