"""PNG plots of simulation studies (matplotlib, Agg): catsim's ``plot.py`` rule, drawing apart
from the studies. The pages' charts are inline SVG (``charts``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    # local: importing matplotlib.pyplot takes over a second (-X importtime), and only a plot needs it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_study_plot(result, path: Path) -> None:
    """Estimated vs true theta, conditional RMSE and length, and item exposure of a
    ``services.simulation.StudyResult``."""
    plt = _pyplot()
    sim, report = result.simulation, result.report
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    ax = axes[0]
    ax.scatter(sim.true_theta, sim.theta, s=4, alpha=0.4)
    lim = [min(sim.true_theta.min(), sim.theta.min()), max(sim.true_theta.max(), sim.theta.max())]
    ax.plot(lim, lim, color="black", linewidth=1)
    ax.set(xlabel="true theta", ylabel="estimated theta", title=f"RMSE {report.rmse:.3f}, bias {report.bias:+.3f}")
    ax = axes[1]
    mids = [(r.lower + r.upper) / 2 for r in report.conditional]
    ax.plot(mids, [r.rmse for r in report.conditional], marker="o", label="RMSE")
    ax.plot(mids, [r.bias for r in report.conditional], marker="s", label="bias")
    ax.set(xlabel="true theta (bin)", title="conditional RMSE / bias")
    ax.legend(loc="upper left")
    twin = ax.twinx()
    twin.plot(mids, [r.mean_length for r in report.conditional], color="gray", linestyle="--", label="length")
    twin.set_ylabel("mean length")
    ax = axes[2]
    exposure = np.sort(sim.administered_counts / max(sim.n_simulees, 1))[::-1]
    ax.plot(np.arange(1, exposure.size + 1), exposure)
    if result.exposure is not None and result.exposure.target is not None:
        ax.axhline(result.exposure.target, color="red", linestyle=":", label="target")
        ax.legend()
    ax.set(xscale="log", xlabel="item rank", ylabel="exposure rate",
           title=f"max {report.max_exposure:.2f}, used {report.pool_used_share:.1%}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_blueprint_plot(study, path: Path) -> None:
    """Pass/fail accuracy (CAT and the best fixed form) and CAT length by true theta of an
    ``exam.study.BlueprintStudy``."""
    plt = _pyplot()
    rows = study.by_theta
    x = [r["mean_theta"] for r in rows]
    fig, ax1 = plt.subplots(figsize=(8, 4.5), dpi=120)
    ax1.plot(x, [r["pass_fail_accuracy"] for r in rows], "o-", label="CAT pass/fail accuracy")
    ax1.plot(x, [r["fixed_form_accuracy"] for r in rows], "s--", label=f"fixed form ({study.fixed_form['length']})")
    ax1.axvline(study.registered_cut, color="grey", lw=0.8)
    ax1.set_xlabel("true theta")
    ax1.set_ylabel("accuracy")
    ax1.set_ylim(0, 1.02)
    ax2 = ax1.twinx()
    ax2.bar(x, [r["mean_length"] for r in rows], width=0.3, alpha=0.2, color="C2", label="CAT mean length")
    ax2.set_ylabel("mean length")
    fig.legend(loc="center right", fontsize=8, bbox_to_anchor=(0.88, 0.35))
    ax1.set_title(f"{study.blueprint}: accuracy and length by true theta")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
