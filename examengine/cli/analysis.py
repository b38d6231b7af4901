"""CLI: ``examengine analysis dif`` and ``examengine analysis person-fit`` (issue #22), on a
stored exam or on a CSV response matrix."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from examengine.cli.common import handles_errors, out, print_json, session
from examengine.errors import ExamEngineError

analysis_app = typer.Typer(help="公平性与考试安全分析：项目功能差异（DIF）、考生拟合（l_z*）。", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the examengine app."""
    app.add_typer(analysis_app, name="analysis")


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _p(x: float | None) -> str:
    return "—" if x is None else ("<0.001" if x < 0.001 else f"{x:.3f}")


@analysis_app.command("dif")
@handles_errors
def dif_cmd(
    exam: Annotated[int | None, typer.Option("--exam", help="考试编号（已存作答；分组来自考生名单）")] = None,
    responses: Annotated[Path | None, typer.Option("--responses", help="CSV 作答矩阵（表头为题目编号，空白=未作答）"
                                                   "，另含分组列", exists=True, dir_okay=False)] = None,
    group_column: Annotated[str, typer.Option("--group-column", help="分组名（名单的分组列或 CSV 的列名）")] = ...,
    focal: Annotated[str, typer.Option("--focal", help="焦点组的值")] = ...,
    reference: Annotated[str, typer.Option("--reference", help="参照组的值")] = ...,
    id_column: Annotated[str | None, typer.Option("--id-column", help="CSV 中的考生编号列（不作为题目）")] = None,
    params: Annotated[Path | None, typer.Option("--params", help="含缺失的 CSV：按此参数文件（calibrate --output）"
                                                "估计 θ̂ 分层；不给则用同一矩阵的 2PL 校准", exists=True,
                                                dir_okay=False)] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="显著性水平")] = 0.05,
    theta_width: Annotated[float, typer.Option("--theta-width", help="θ̂ 分层的宽度")] = 0.25,
    purify: Annotated[bool, typer.Option("--purify/--no-purify", help="两阶段：B/C 类题目不计入匹配变量")] = True,
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """项目功能差异：Mantel–Haenszel（ETS A/B/C）与 logistic 回归（均匀/非均匀，ΔR²）。"""
    from examengine.services import analysis

    if (exam is None) == (responses is None):
        raise ExamEngineError("请给出 --exam（已存考试）或 --responses（CSV 矩阵）二者之一")
    if not 0 < alpha < 1 or not theta_width > 0:
        raise ExamEngineError("--alpha 应在 (0, 1) 内，--theta-width 应大于 0")
    if exam is not None:
        with session() as db:
            report = analysis.dif_exam(db, exam, group=group_column, focal=focal, reference=reference, alpha=alpha,
                                       theta_width=theta_width, purify=purify)
    else:
        report = analysis.dif_matrix(responses.name, responses.read_bytes(), group_column=group_column, focal=focal,
                                     reference=reference, id_column=id_column, alpha=alpha, theta_width=theta_width,
                                     purify=purify,
                                     params=(params.name, params.read_bytes()) if params else None)
    if fmt == "json":
        print_json(asdict(report))
        return
    out.print(f"{report.source}：{report.group_column} = {report.focal}（焦点组 {report.n_focal} 人）对 "
              f"{report.reference}（参照组 {report.n_reference} 人），{report.n_items} 题；匹配：{report.matching_label}",
              highlight=False)
    table = Table()
    for col in ("题目", "参照", "焦点", "α_MH", "MH D-DIF", "SE", "ETS", "p", "LR 均匀 p", "LR 非均匀 p", "ΔR²", "JG"):
        table.add_column(col)
    for r in report.rows:
        ets = (r.ets_class or "—") + ("-" if r.favours == "reference" else "+" if r.favours == "focal" else "")
        table.add_row(r.item, str(r.n_reference), str(r.n_focal), _fmt(r.mh_alpha), _fmt(r.mh_d_dif, 2), _fmt(r.se, 2),
                      ets, _p(r.p_value), _p(r.lr_uniform_p), _p(r.lr_nonuniform_p), _fmt(r.effect_size, 4),
                      r.lr_class or "—")
    out.print(table, highlight=False)
    flagged = [r.item for r in report.rows if r.ets_class in ("B", "C")]
    out.print(f"B/C 类 {len(flagged)} 题。“-”：对焦点组更难；标记提示须由命题专家审查，本身不证明题目有偏。", highlight=False)


@analysis_app.command("person-fit")
@handles_errors
def person_fit_cmd(
    exam: Annotated[int | None, typer.Option("--exam", help="考试编号（已存作答，参数取所用题目版本）")] = None,
    responses: Annotated[Path | None, typer.Option("--responses", help="CSV 作答矩阵（表头为题目编号，空白=未作答）",
                                                   exists=True, dir_okay=False)] = None,
    params: Annotated[Path | None, typer.Option("--params", help="题目参数 CSV（calibrate --output 的格式）",
                                                exists=True, dir_okay=False)] = None,
    id_column: Annotated[str | None, typer.Option("--id-column", help="CSV 中的考生编号列")] = None,
    ignore_column: Annotated[list[str] | None, typer.Option("--ignore-column", help="CSV 中不是题目的其他列（可重复）")] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="标记的显著性水平（单侧，下尾）")] = 0.05,
    estimator: Annotated[str, typer.Option("--estimator", help="wle 或 ml（l_z* 按此估计量校正）")] = "wle",
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """考生拟合：Snijders (2001) 的 l_z*，p 值与标记。"""
    from examengine.services import analysis

    if (exam is None) == (responses is None):
        raise ExamEngineError("请给出 --exam（已存考试）或 --responses（CSV 矩阵）二者之一")
    if responses is not None and params is None:
        raise ExamEngineError("--responses 需要 --params（题目参数 CSV）")
    if not 0 < alpha < 1:
        raise ExamEngineError("--alpha 应在 (0, 1) 内")
    if exam is not None:
        with session() as db:
            report = analysis.person_fit_exam(db, exam, alpha=alpha, estimator=estimator)
    else:
        report = analysis.person_fit_matrix(responses.name, responses.read_bytes(),
                                            params=(params.name, params.read_bytes()), id_column=id_column,
                                            ignore_columns=tuple(ignore_column or ()),
                                            alpha=alpha, estimator=estimator)
    if fmt == "json":
        print_json(asdict(report))
        return
    out.print(f"{report.source}：{report.n_persons} 人，估计量 {report.estimator.upper()}，"
              f"α = {report.alpha}：标记 {report.n_flagged} 人", highlight=False)
    table = Table()
    for col in ("考生", "题数", "θ̂", "l_z*", "p", "标记"):
        table.add_column(col)
    for r in sorted(report.rows, key=lambda r: (r.lz_star is None, r.lz_star or 0.0)):
        table.add_row(r.person, str(r.n_items), _fmt(r.theta, 2), _fmt(r.lz_star, 2), _p(r.p_value), "是" if r.flag else "")
    out.print(table, highlight=False)
    out.print("标记表示作答模式与模型不符（如答对难题、答错易题），提示复核；它本身不证明作弊。", highlight=False)
