"""CLI: ``examengine analysis dif|person-fit|response-times|similarity|compromise|report`` (issue #22), on a
stored exam or on a CSV response matrix."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from examengine.cli.common import handles_errors, out, print_json, session
from examengine.errors import ExamEngineError

analysis_app = typer.Typer(help="公平性与考试安全分析：项目功能差异（DIF）、考生拟合（l_z*）、作答时间、答案相似性、题目泄露与考后报告。", no_args_is_help=True)


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


@analysis_app.command("response-times")
@handles_errors
def response_times_cmd(
    exam: Annotated[int, typer.Option("--exam", help="考试编号（自适应考试：每题的呈现与作答时刻）")],
    alpha: Annotated[float, typer.Option("--alpha", help="“难题快答”标记的显著性水平")] = 0.05,
    z_crit: Annotated[float, typer.Option("--z", help="快答的标准化残差界限（z < −该值）")] = 1.96,
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """作答时间：作答努力（RTE，NT10 阈值）与对数正态时间模型的“难题快答”标记（题目预知的特征）。"""
    from examengine.services import security

    if not 0 < alpha < 1 or not z_crit > 0:
        raise ExamEngineError("--alpha 应在 (0, 1) 内，--z 应大于 0")
    with session() as db:
        report = security.response_times_exam(db, exam, alpha=alpha, z_crit=z_crit)
    if fmt == "json":
        print_json(asdict(report))
        return
    out.print(f"{report.source}：{report.n_persons} 份作答、{report.n_responses} 个带时间的回答；作答努力低（RTE < "
              f"{report.rte_low}）{report.n_low_effort} 份；难题快答标记（α = {report.alpha}）{report.n_flagged} 份",
              highlight=False)
    table = Table()
    for col in ("考生", "θ̂", "题数", "RTE", "快猜", "速度 τ", "答对难题", "其中快答", "p", "标记"):
        table.add_column(col)
    for r in sorted(report.rows, key=lambda r: (not r.flag, not r.low_effort, r.p_value if r.p_value is not None else 2)):
        if not (r.flag or r.low_effort):
            continue
        table.add_row(r.person, _fmt(r.theta, 2), str(r.n_timed), _fmt(r.rte, 2), str(r.n_rapid), _fmt(r.speed, 2),
                      str(r.n_hard_correct), str(r.n_fast), _p(r.p_value),
                      "难题快答" if r.flag else "努力低")
    out.print(table, highlight=False)
    out.print("难题快答：在比自己能力更难的题上答对且用时异常短，是题目预知的特征，但也可能是能力被低估或运气；"
              "努力低：多题用时低于阈值（快猜），分数可能低估能力。标记提示复核，本身不证明作弊。", highlight=False)


@analysis_app.command("similarity")
@handles_errors
def similarity_cmd(
    exam: Annotated[int, typer.Option("--exam", help="考试编号（纸笔成绩，按考场配对）")],
    alpha: Annotated[float, typer.Option("--alpha", help="每个考场的族错误率（Holm）")] = 0.05,
    strata: Annotated[int, typer.Option("--strata", help="按总分分层的层数（选项比例的条件）")] = 10,
    all_pairs: Annotated[bool, typer.Option("--all-pairs", help="JSON 中列出所有配对（默认只列标记的）")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """答案相似性：同一考场每对答卷的 Wollack ω（精确尾概率），考场内 Holm 校正后标记。"""
    from examengine.services import security

    if not 0 < alpha < 1 or strata < 1:
        raise ExamEngineError("--alpha 应在 (0, 1) 内，--strata 至少为 1")
    with session() as db:
        report = security.similarity_exam(db, exam, alpha=alpha, strata=strata, flagged_only=not all_pairs)
    if fmt == "json":
        print_json(asdict(report))
        return
    out.print(f"{report.source}：{report.n_sheets} 份答卷，{report.n_rooms} 个考场，{report.n_pairs} 个有序配对；"
              f"标记 {report.n_flagged} 对（每考场族错误率 {report.alpha}）"
              + (f"；{report.unroomed} 份答卷没有考场，未配对" if report.unroomed else ""), highlight=False)
    table = Table()
    for col in ("考场", "卷型", "疑似抄袭方", "来源方", "题数", "相同", "期望", "ω", "p", "Holm p"):
        table.add_column(col)
    for r in report.rows:
        if r.flag:
            table.add_row(r.room, r.form, r.copier, r.source, str(r.n_items), str(r.matches), _fmt(r.expected, 1),
                          _fmt(r.omega, 2), _p(r.p_value), _p(r.p_adjusted))
    out.print(table, highlight=False)
    out.print("标记表示两份答卷相同的选择多于独立作答可解释的程度；它不说明谁抄了谁，也不排除共同的复习材料等原因。",
              highlight=False)


@analysis_app.command("compromise")
@handles_errors
def compromise_cmd(
    exam: Annotated[int | None, typer.Option("--exam", help="考试编号")] = None,
    level: Annotated[str | None, typer.Option("--level", help="等级代码（如 530046-L1：该等级所有考试）")] = None,
    k: Annotated[float, typer.Option("--k", help="CUSUM 参考值 k")] = 0.25,
    h: Annotated[float, typer.Option("--h", help="CUSUM 决策界限 h")] = 20.0,
    window: Annotated[int, typer.Option("--window", help="每个时间窗的曝光次数")] = 100,
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
) -> None:
    """题目泄露：每道题按时间顺序的残差（实际 − 期望答对）与单侧 CUSUM，标记曝光后变容易的题目。"""
    from examengine.services import security

    if (exam is None) == (level is None):
        raise ExamEngineError("请给出 --exam 或 --level 二者之一")
    if not (k >= 0 and h > 0 and window > 0):
        raise ExamEngineError("--k 不能为负，--h 与 --window 应大于 0")
    with session() as db:
        report = security.compromise(db, exam_id=exam, level=level, k=k, h=h, window=window)
    if fmt == "json":
        print_json(asdict(report))
        return
    out.print(f"{report.source}：{report.n_items} 道题、{report.n_responses} 次作答；CUSUM k = {report.k}、h = {report.h}："
              f"标记 {report.n_flagged} 道", highlight=False)
    table = Table()
    for col in ("题目", "版本", "曝光", "实际答对", "期望答对", "残差", "CUSUM 最大", "报警于", "标记"):
        table.add_column(col)
    for r in report.rows[:40]:
        table.add_row(r.item, str(r.version), str(r.exposures), f"{r.observed:.0f}", _fmt(r.expected, 1),
                      _fmt(r.residual, 1), _fmt(r.cusum_max, 1),
                      f"第 {r.alarm_at} 次（{r.alarm_time}）" if r.alarm_at else "—", "是" if r.flag else "")
    out.print(table, highlight=False)
    out.print("标记表示题目在曝光后的答对率高于参数的预期，提示复核与停用；群体变化或参数本身有误也会引起报警。", highlight=False)


@analysis_app.command("report")
@handles_errors
def report_cmd(
    exam: Annotated[int, typer.Argument(help="考试编号")],
    out_path: Annotated[Path, typer.Option("--out", help="输出文件：.html 或 .pdf")] = Path("report.html"),
    group_column: Annotated[str | None, typer.Option("--group-column", help="DIF 的分组名（不给则用名单的第一个分组）")] = None,
    focal: Annotated[str | None, typer.Option("--focal", help="焦点组的值")] = None,
    reference: Annotated[str | None, typer.Option("--reference", help="参照组的值")] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="各项标记的显著性水平")] = 0.05,
) -> None:
    """考试窗口结束后的报告：DIF、考生拟合、作答时间、答案相似性与题目泄露，附每项标记的含义与局限。"""
    from examengine.rendering.pdf import html_to_pdf
    from examengine.services import security

    suffix = out_path.suffix.lower()
    if suffix not in (".html", ".htm", ".pdf"):
        raise ExamEngineError(f"--out {out_path}：只支持 .html 或 .pdf")
    if not 0 < alpha < 1:
        raise ExamEngineError("--alpha 应在 (0, 1) 内")
    with session() as db:
        rep = security.post_window_report(db, exam, group=group_column, focal=focal, reference=reference, alpha=alpha)
        html = security.report_html(rep)
    if suffix == ".pdf":
        out_path.write_bytes(html_to_pdf(html))
    else:
        out_path.write_text(html, encoding="utf-8")
    out.print(f"已写出 {out_path}：{rep.summary}", highlight=False)
