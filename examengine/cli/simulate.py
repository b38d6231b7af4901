"""``examengine simulate``: a CAT simulation study on a synthetic bank.

JSON (``--format json``) goes to stdout, the progress bar to stderr. It is strict JSON: a number
that is undefined (NaN, e.g. the accuracy of an empty band) or unbounded (±inf, e.g. the lowest
band's lower edge) is null (``cli.common.json_safe``). The
work is done by ``services.simulation`` (``synthetic_study``, ``blueprint_study``
for ``--blueprint``); the PNG plot is drawn by ``rendering.plots``.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from examengine.cli.common import print_json, require_extra
from examengine.services.study_options import EstimationMethod, IrtModel, SelectionRule, StartRule


class OutputFormat(str, Enum):
    JSON = "json"
    TABLE = "table"


# ---------------------------------------------------------------------------
# option parsing
# ---------------------------------------------------------------------------


def parse_cuts(text: str | None) -> tuple[float, ...]:
    if not text:
        return ()
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter(f"cut scores must be numbers separated by commas, got {text!r}") from None


def parse_theta_grid(text: str) -> np.ndarray:
    from examengine.services.simulation import theta_grid  # local: see simulate()

    try:
        return theta_grid(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def read_theta_file(path: Path) -> np.ndarray:
    """One theta per line (blank lines and '#' comments skipped; first CSV column)."""
    values = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        cell = line.split(",")[0].strip()
        try:
            values.append(float(cell))
        except ValueError:
            if not values and lineno == 1:
                continue  # a header row
            raise typer.BadParameter(f"{path}:{lineno}: not a number: {cell!r}") from None
    if not values:
        raise typer.BadParameter(f"{path}: no theta values")
    arr = np.array(values)
    if not np.all(np.isfinite(arr)):
        raise typer.BadParameter(f"{path}: theta values must be finite")
    return arr


# ---------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return "nan" if np.isnan(x) else f"{x:.{digits}f}"
    return str(x)


def render_tables(payload: dict[str, Any], console: Console) -> None:
    summary = Table(title="模拟结果 / simulation summary")
    summary.add_column("指标 metric")
    summary.add_column("值 value", justify="right")
    for key, label in [("n_simulees", "考生数 simulees"), ("n_items_in_bank", "题库题数 bank size"),
                       ("bias", "偏差 bias"), ("rmse", "RMSE"), ("mean_se", "平均标准误 mean SE"),
                       ("mean_length", "平均题数 mean length"), ("min_length", "最少题数 min length"),
                       ("max_length", "最多题数 max length"),
                       ("classification_accuracy", "分类正确率 classification accuracy"),
                       ("max_exposure", "最大曝光率 max exposure"),
                       ("pool_used_share", "题库使用率 pool used"),
                       ("pool_never_used_share", "未使用比例 never used"), ("seconds", "用时 seconds")]:
        summary.add_row(label, _fmt(payload.get(key)))
    console.print(summary)
    cond = Table(title="按能力分组 / by true theta")
    for col in ("θ from", "θ to", "n", "bias", "RMSE", "mean length"):
        cond.add_column(col, justify="right")
    for row in payload["conditional"]:
        cond.add_row(_fmt(row["lower"], 2), _fmt(row["upper"], 2), str(row["n"]), _fmt(row["bias"]),
                     _fmt(row["rmse"]), _fmt(row["mean_length"], 1))
    console.print(cond)
    if payload["classification_accuracy_by_band"]:
        bands = Table(title="分类 / classification by true band")
        for col in ("等级 band", "n", "正确率 accuracy"):
            bands.add_column(col)
        for row in payload["classification_accuracy_by_band"]:
            bands.add_row(row["name"], str(row["n"]), _fmt(row["accuracy"]))
        console.print(bands)
    reasons = Table(title="停止原因 / stop reasons")
    reasons.add_column("reason")
    reasons.add_column("n", justify="right")
    for k, v in payload["stop_reasons"].items():
        reasons.add_row(k, str(v))
    console.print(reasons)


# ---------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""

    @app.command("simulate")
    def simulate(
        synthetic_bank_size: Annotated[int | None, typer.Option(
            "--synthetic-bank", min=1, help="合成题库题数（3PL：a 对数正态约 1.2，b ~ N(0,1)，c ≤ 0.25）。")] = None,
        blueprint: Annotated[str | None, typer.Option(
            "--blueprint", help="按蓝图的真实规则模拟（如 530046-L2）：默认用题库中的正式使用题目，"
                                "加 --synthetic-bank N 则用按蓝图布局的合成题库。")] = None,
        simulees: Annotated[int, typer.Option("--simulees", min=1, help="模拟考生数。")] = 1000,
        seed: Annotated[int, typer.Option("--seed", help="随机种子（题库、考生与作答）。")] = 0,
        length: Annotated[int | None, typer.Option("--length", min=1, help="定长测验题数。")] = None,
        max_length: Annotated[int | None, typer.Option("--max-length", min=1, help="变长测验最多题数。")] = None,
        min_length: Annotated[int | None, typer.Option("--min-length", min=0, help="变长测验最少题数。")] = None,
        se: Annotated[float | None, typer.Option("--se", min=0.0, help="标准误目标（变长）。")] = None,
        cuts: Annotated[str | None, typer.Option("--cuts", help="分数线，如 -1,0,1（未达初级/初级/中级/高级）。")] = None,
        confidence: Annotated[float, typer.Option("--confidence", min=0.5, max=0.999,
                                                  help="置信区间分类规则的置信度。")] = 0.95,
        theta_mean: Annotated[float, typer.Option("--theta-mean", help="能力分布均值。")] = 0.0,
        theta_sd: Annotated[float, typer.Option("--theta-sd", min=1e-9, help="能力分布标准差。")] = 1.0,
        theta_grid: Annotated[str | None, typer.Option("--theta-grid", help="能力网格 a:b:n（每点一名考生）。")] = None,
        theta_file: Annotated[Path | None, typer.Option("--theta-file", exists=True, dir_okay=False,
                                                        help="每行一个能力值的文件。")] = None,
        selection: Annotated[SelectionRule, typer.Option("--selection", help="选题规则。")] = SelectionRule.MAX_INFO,
        start: Annotated[StartRule, typer.Option("--start", help="起始规则。")] = StartRule.PRIOR_MEAN,
        randomesque: Annotated[int, typer.Option("--randomesque", min=1, help="在信息量最大的 k 题中随机选。")] = 1,
        estimator: Annotated[EstimationMethod, typer.Option("--estimator", help="能力估计方法。")] = EstimationMethod.EAP,
        exposure_target: Annotated[float | None, typer.Option(
            "--exposure-target", min=0.01, max=1.0, help="Sympson–Hetter 曝光率上限（先迭代模拟标定）。")] = None,
        calibration_simulees: Annotated[int | None, typer.Option(
            "--calibration-simulees", min=10,
            help="曝光参数标定前几轮每轮模拟考生数（--blueprint 时默认 600；蓝图的最后 3 轮各用其 10/3 倍）。")] = None,
        model: Annotated[IrtModel, typer.Option("--model", help="合成题库模型。")] = IrtModel.THREE_PL,
        output_format: Annotated[OutputFormat, typer.Option("--format", help="输出格式。")] = OutputFormat.JSON,
        plot: Annotated[Path | None, typer.Option("--plot", dir_okay=False, help="写出 PNG 图。")] = None,
    ) -> None:
        """模拟自适应考试：偏差、RMSE、分类正确率、题目曝光率。"""
        # local: services.simulation loads SQLAlchemy and SciPy, over a second of every command's start
        from examengine.rendering.plots import write_study_plot
        from examengine.services.simulation import study_policy, synthetic_study

        err = Console(stderr=True)
        if plot is not None:
            require_extra("matplotlib", "plots", "--plot（画图）")
        if blueprint is not None:
            from examengine.cli.blueprint_sim import simulate_blueprint_command

            simulate_blueprint_command(blueprint, simulees=simulees, seed=seed, synthetic_bank=synthetic_bank_size,
                                       output_format=output_format.value, plot=plot,
                                       calibration_simulees=calibration_simulees)
            return
        if synthetic_bank_size is None:
            raise typer.BadParameter("give --synthetic-bank N, or --blueprint CODE")
        calibration_simulees = calibration_simulees or 1000
        if length is not None and (max_length is not None or se is not None or min_length is not None):
            raise typer.BadParameter("use either --length, or --max-length with --se/--min-length/--cuts")
        if length is None and max_length is None:
            raise typer.BadParameter("give --length L (fixed length) or --max-length L (variable length)")
        if sum(x is not None for x in (theta_grid, theta_file)) > 1:
            raise typer.BadParameter("give at most one of --theta-grid and --theta-file")
        cut_values = parse_cuts(cuts)
        if selection is SelectionRule.CUT_INFO and not cut_values:
            raise typer.BadParameter("--selection cut_info needs --cuts")
        try:
            policy = study_policy(length=length, min_length=min_length, max_length=max_length, se_target=se,
                                  confidence=confidence, cuts=cut_values, selection=selection, start=start,
                                  randomesque=randomesque, estimator=estimator, exposure_target=exposure_target)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

        thetas = None
        if theta_grid is not None:
            thetas = parse_theta_grid(theta_grid)
        elif theta_file is not None:
            thetas = read_theta_file(theta_file)

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=err, transient=True) as bar:
            tasks: dict[str, Any] = {}

            def on_progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    label = "标定曝光参数 calibrating" if stage == "calibrate" else "模拟 simulating"
                    tasks[stage] = bar.add_task(label, total=total)
                bar.update(tasks[stage], completed=done)

            result = synthetic_study(policy, bank_size=synthetic_bank_size, seed=seed, model=model, thetas=thetas,
                                     n_simulees=simulees, theta_mean=theta_mean, theta_sd=theta_sd,
                                     calibration_simulees=calibration_simulees, progress=on_progress)

        settings = {
            "synthetic_bank": synthetic_bank_size, "model": model.value, "seed": seed,
            "simulees": result.simulation.n_simulees,
            "theta_source": "grid" if theta_grid else "file" if theta_file else "normal",
            "theta_mean": theta_mean, "theta_sd": theta_sd,
            "length": length, "min_length": policy.min_length, "max_length": policy.max_length,
            "se_target": se, "cuts": list(cut_values), "confidence": policy.confidence,
            "selection": selection.value, "start": start.value, "randomesque": randomesque,
            "estimator": estimator.value, "exposure_target": exposure_target,
            "calibration_simulees": calibration_simulees if exposure_target is not None else None,
            "prior": {"mean": policy.prior.mean, "sd": policy.prior.sd},
            "grid": {"lower": policy.grid.lower, "upper": policy.grid.upper, "points": policy.grid.n_points},
        }
        payload = result.to_dict(settings)
        if plot is not None:
            write_study_plot(result, plot)
            payload["plot"] = str(plot)
        if output_format is OutputFormat.JSON:
            print_json(payload)
        else:
            render_tables(payload, Console())
