"""PNG plots of simulation studies (matplotlib, Agg): catsim's ``plot.py`` rule, drawing apart
from the studies. The pages' charts are inline SVG (``charts``).

Labels are Chinese, in the first CJK face found of :data:`CJK_FAMILIES` (``make run`` installs
Noto Sans CJK and WenQuanYi Micro Hei: fonts-noto-cjk, fonts-wqy-microhei). matplotlib keeps a
font cache built the first time it ran, which misses fonts installed later: when it knows none
of these faces, their files are looked up and registered. Without any CJK face the labels fall
back to English rather than print empty boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Chinese sans-serif faces, best first (a .ttc registers every face in it; older matplotlib
#: only its first, hence the JP face and WenQuanYi as fallbacks).
CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Noto Sans CJK JP",
                "Droid Sans Fallback")
#: Lower-case pieces of those faces' file names.
_CJK_FILES = ("notosanscjk", "sourcehansans", "wqy-microhei", "droidsansfallback")


def _pyplot():
    # local: importing matplotlib.pyplot takes over a second (-X importtime), and only a plot needs it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def cjk_families() -> list[str]:
    """The faces of :data:`CJK_FAMILIES` matplotlib can use, best first (registering their files
    when its font cache predates them)."""
    from matplotlib import font_manager

    def known() -> list[str]:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return [f for f in CJK_FAMILIES if f in names]

    if not known():
        for path in font_manager.findSystemFonts():
            if any(piece in Path(path).name.lower() for piece in _CJK_FILES):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # an unreadable font file: skip it
                    continue
    return known()


def _style() -> tuple[dict, bool]:
    """matplotlib settings for the plot, and whether the labels can be Chinese."""
    families = cjk_families()
    if not families:
        return {}, False
    # DejaVu Sans (shipped with matplotlib) after them: any glyph a CJK face lacks
    return {"font.family": "sans-serif", "font.sans-serif": [*families, "DejaVu Sans"]}, True


def study_figure(result, zh: bool = True):
    """Estimated vs true θ, conditional RMSE, bias and length, and item exposure of a
    ``services.simulation.StudyResult``: the figure (labels Chinese when ``zh``)."""
    plt = _pyplot()
    sim, report = result.simulation, result.report

    def t(chinese: str, english: str) -> str:
        return chinese if zh else english

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    ax = axes[0]
    ax.scatter(sim.true_theta, sim.theta, s=4, alpha=0.4)
    lim = [min(sim.true_theta.min(), sim.theta.min()), max(sim.true_theta.max(), sim.theta.max())]
    ax.plot(lim, lim, color="black", linewidth=1)
    ax.set(xlabel=t("真实能力 θ", "true theta"), ylabel=t("能力估计 θ", "estimated theta"),
           title=t(f"RMSE {report.rmse:.3f}，偏差 {report.bias:+.3f}", f"RMSE {report.rmse:.3f}, bias {report.bias:+.3f}"))
    ax = axes[1]
    mids = [(r.lower + r.upper) / 2 for r in report.conditional]
    ax.plot(mids, [r.rmse for r in report.conditional], marker="o", label="RMSE")
    ax.plot(mids, [r.bias for r in report.conditional], marker="s", label=t("偏差", "bias"))
    ax.set(xlabel=t("真实能力 θ（分组）", "true theta (bin)"), title=t("各能力组的 RMSE 与偏差", "conditional RMSE / bias"))
    ax.legend(loc="upper left")
    twin = ax.twinx()
    twin.plot(mids, [r.mean_length for r in report.conditional], color="gray", linestyle="--",
              label=t("平均题数", "length"))
    twin.set_ylabel(t("平均题数", "mean length"))
    ax = axes[2]
    exposure = np.sort(sim.administered_counts / max(sim.n_simulees, 1))[::-1]
    ax.plot(np.arange(1, exposure.size + 1), exposure)
    if result.exposure is not None and result.exposure.target is not None:
        ax.axhline(result.exposure.target, color="red", linestyle=":", label=t("曝光率上限", "target"))
        ax.legend()
    ax.set(xscale="log", xlabel=t("题目（按曝光率排序）", "item rank"), ylabel=t("曝光率", "exposure rate"),
           title=t(f"最大曝光率 {report.max_exposure:.2f}，题库使用 {report.pool_used_share:.1%}",
                   f"max {report.max_exposure:.2f}, used {report.pool_used_share:.1%}"))
    fig.tight_layout()
    return fig


def write_study_plot(result, path: Path) -> None:
    """:func:`study_figure` as a PNG."""
    plt = _pyplot()
    style, zh = _style()
    with plt.rc_context(style):
        fig = study_figure(result, zh)
        fig.savefig(path, dpi=110)
    plt.close(fig)


def blueprint_figure(study, zh: bool = True):
    """Pass/fail accuracy (CAT and the best fixed form) and CAT length by true θ of an
    ``exam.study.BlueprintStudy``: the figure (labels Chinese when ``zh``)."""
    plt = _pyplot()

    def t(chinese: str, english: str) -> str:
        return chinese if zh else english

    rows = study.by_theta
    x = [r["mean_theta"] for r in rows]
    n = study.fixed_form["length"]
    fig, ax1 = plt.subplots(figsize=(8, 4.5), dpi=120)
    ax1.plot(x, [r["pass_fail_accuracy"] for r in rows], "o-", label=t("自适应考试 通过/未通过正确率", "CAT pass/fail accuracy"))
    ax1.plot(x, [r["fixed_form_accuracy"] for r in rows], "s--", label=t(f"定长卷（{n} 题）", f"fixed form ({n})"))
    ax1.axvline(study.registered_cut, color="grey", lw=0.8)
    ax1.set_xlabel(t("真实能力 θ", "true theta"))
    ax1.set_ylabel(t("正确率", "accuracy"))
    ax1.set_ylim(0, 1.02)
    ax2 = ax1.twinx()
    ax2.bar(x, [r["mean_length"] for r in rows], width=0.3, alpha=0.2, color="C2",
            label=t("自适应考试平均题数", "CAT mean length"))
    ax2.set_ylabel(t("平均题数", "mean length"))
    fig.legend(loc="center right", fontsize=8, bbox_to_anchor=(0.88, 0.35))
    ax1.set_title(t(f"{study.blueprint}：各能力水平的正确率与题数", f"{study.blueprint}: accuracy and length by true theta"))
    fig.tight_layout()
    return fig


def write_blueprint_plot(study, path: Path) -> None:
    """:func:`blueprint_figure` as a PNG."""
    plt = _pyplot()
    style, zh = _style()
    with plt.rc_context(style):
        fig = blueprint_figure(study, zh)
        fig.savefig(path)
    plt.close(fig)
