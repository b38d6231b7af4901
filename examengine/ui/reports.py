"""Pages: calibration runs, item reports (ICC with observed proportions, information,
classical statistics) and blueprint information with the cut scores. Charts are inline SVG
(``examengine.rendering.charts``).

Three routers, each needing the role of the data it shows (app.py declares which): the
calibration pages are admins' like the calibration API; an item's report is for those who
read the item bank (writers and admins); blueprint information is for all staff, like the
blueprints API."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from examengine.deps import ReleasingRoute, current_staff, get_db
from examengine.rendering.charts import Chart, Curve, HLine, Points, VLine, curve_table, render_chart
from examengine.rendering.env import render
from examengine.errors import ExamEngineError
from examengine.services import analysis as analysis_svc
from examengine.services import calibration as cal_svc
from examengine.services import exams as exams_svc
from examengine.services import reports as svc
from examengine.services import security as security_svc
from examengine.services.blueprints import list_blueprints

router = APIRouter(route_class=ReleasingRoute, prefix="/reports", include_in_schema=False)  # all staff
calibration_router = APIRouter(route_class=ReleasingRoute, prefix="/reports", include_in_schema=False)  # admins
items_router = APIRouter(route_class=ReleasingRoute, prefix="/reports", include_in_schema=False)  # the bank's readers


def page(template: str, member, **context) -> HTMLResponse:
    """A report page; its navigation shows only the links ``member`` can follow."""
    return HTMLResponse(render(template, member=member, **context))


@router.get("")
def home(member=Depends(current_staff)) -> RedirectResponse:
    target = "/reports/calibration" if member.role.value == "admin" else "/reports/blueprints"
    return RedirectResponse(target, status_code=303)


@calibration_router.get("/calibration")
def runs(db: Session = Depends(get_db), member=Depends(current_staff)) -> HTMLResponse:
    rows = [{**asdict(r), "n_eligible": len(r.eligible), "n_drift": sum(e.drift for e in r.estimates),
             "n_misfit": sum(e.misfit for e in r.estimates)} for r in cal_svc.list_runs(db)]
    return page("reports/runs.html", member, nav="calibration", runs=rows)


@calibration_router.get("/calibration/{run_id}")
def run_page(run_id: int, db: Session = Depends(get_db), member=Depends(current_staff)) -> HTMLResponse:
    run = cal_svc.get_run(db, run_id)
    estimated = [e for e in run.estimates if e.role == "estimated"]
    rmsd = [e.rmsd for e in run.estimates if e.rmsd is not None]
    summary = {
        "n_estimated": len(estimated), "n_anchor": len(run.estimates) - len(estimated),
        "n_misfit": sum(e.misfit for e in run.estimates), "n_drift": sum(e.drift for e in run.estimates),
        "n_eligible": len(run.eligible), "rmsd_mean": sum(rmsd) / len(rmsd) if rmsd else None,
        "rmsd_max": max(rmsd) if rmsd else None,
    }
    return page("reports/run.html", member, nav="calibration", run=asdict(run), summary=summary,
                criteria=run.options.get("criteria", {}), linking=run.options.get("linking"),
                eligible=[e.external_id for e in run.eligible])


@calibration_router.get("/fairness/{exam_id}")
def fairness_page(exam_id: int, group: str = "", focal: str = "", reference: str = "", alpha: float = 0.05,
                  db: Session = Depends(get_db), member=Depends(current_staff)) -> HTMLResponse:
    """DIF between two roster groups (a plot of MH D-DIF with the ETS bounds) and person fit
    (the flagged attempts) of one exam: admins, like the analysis API."""
    exam = exams_svc.exam_view(db, exam_id)
    groups = exams_svc.group_values(db, exam_id)
    alpha = alpha if 0 < alpha < 1 else 0.05
    dif = chart = error = None
    if group and focal and reference:
        try:
            dif = analysis_svc.dif_exam(db, exam_id, group=group, focal=focal, reference=reference, alpha=alpha)
        except ExamEngineError as exc:
            error = exc.message
    if dif is not None:
        shown = [(k, r) for k, r in enumerate(dif.rows, start=1) if r.mh_d_dif is not None]
        if shown:
            top = max(3.0, *(abs(r.mh_d_dif) + 1.96 * (r.se or 0) for _, r in shown))
            chart = render_chart(Chart(
                "MH D-DIF（95% 区间）", "题目（按表中顺序）", "MH D-DIF", (0, len(dif.rows) + 1), (-top, top),
                points=[Points("MH D-DIF", [k for k, _ in shown], [r.mh_d_dif for _, r in shown],
                               notes=[f"{r.item}：D = {r.mh_d_dif:.2f}，SE {r.se:.2f}，ETS {r.ets_class}" for _, r in shown],
                               low=[r.mh_d_dif - 1.96 * r.se for _, r in shown],
                               high=[r.mh_d_dif + 1.96 * r.se for _, r in shown])],
                hlines=[HLine(-1.5, "C"), HLine(-1.0, "B"), HLine(1.0, "B"), HLine(1.5, "C")],
                css_id="dif-chart"))
    fit = None
    try:
        fit = analysis_svc.person_fit_exam(db, exam_id, alpha=alpha)
    except ExamEngineError as exc:
        error = error or exc.message
    flagged = sorted((r for r in fit.rows if r.flag), key=lambda r: r.lz_star) if fit else []
    return page("reports/fairness.html", member, nav="calibration", exam=exam, groups=groups, group=group,
                focal=focal, reference=reference, alpha=alpha, dif=dif, chart=chart, fit=fit, flagged=flagged,
                error=error)


@calibration_router.get("/fairness/{exam_id}/report")
def post_window_report_page(exam_id: int, format: str = "html", db: Session = Depends(get_db),
                            member=Depends(current_staff)) -> Response:
    """The post-window report (``examengine analysis report``): DIF, person fit, response
    times, answer similarity and item compromise, as a printable page or (format=pdf) a PDF."""
    rep = security_svc.post_window_report(db, exam_id)
    html = security_svc.report_html(rep)
    if format == "pdf":
        from examengine.rendering.pdf import html_to_pdf

        return Response(html_to_pdf(html), media_type="application/pdf",
                        headers={"content-disposition": f'attachment; filename="exam-{exam_id}-report.pdf"'})
    return HTMLResponse(html)


@items_router.get("/items/{external_id}")
def item_page(external_id: str, version: int | None = None, db: Session = Depends(get_db),
              member=Depends(current_staff)) -> HTMLResponse:
    rep = svc.item_report(db, external_id, version=version)
    grid = rep.theta_grid
    icc_curves = [Curve(f"模型曲线（题库参数 {rep.bank.model}）", grid, rep.icc_bank)]
    info_curves = [Curve(f"题库参数 {rep.bank.model}", grid, rep.info_bank)]
    if rep.calibrated is not None:
        label = f"校准记录 {rep.calibrated.run_id} 估计"
        icc_curves.append(Curve(label, grid, rep.icc_calibrated, kind="alt", dashed=True))
        info_curves.append(Curve(label, grid, rep.info_calibrated, kind="alt", dashed=True))
    points = []
    if rep.groups:
        points.append(Points(
            "实际通过率（按能力分组）", [g.theta for g in rep.groups], [g.observed for g in rep.groups],
            notes=[f"θ {g.low:.2f}～{g.high:.2f}（均值 {g.theta:.2f}），{g.n} 人，实际通过率 {g.observed:.3f}，"
                   f"模型期望 {g.expected:.3f}" for g in rep.groups],
            low=[g.ci_low for g in rep.groups], high=[g.ci_high for g in rep.groups]))
    icc_chart = Chart(f"{rep.external_id} 项目特征曲线", "能力 θ", "答对概率", (-4.0, 4.0), (0.0, 1.0),
                      curves=icc_curves, points=points, css_id="icc", legend_at="left")
    info_chart = Chart(f"{rep.external_id} 项目信息函数", "能力 θ", "信息量", (-4.0, 4.0),
                       curves=info_curves, css_id="information")
    icc = render_chart(icc_chart) + curve_table(icc_chart)
    info = render_chart(info_chart) + curve_table(info_chart)
    return page("reports/item.html", member, nav="items", rep=asdict(rep), icc=icc, info=info)


@router.get("/blueprints")
def blueprints(db: Session = Depends(get_db), member=Depends(current_staff)) -> HTMLResponse:
    return page("reports/blueprints.html", member, nav="blueprints", blueprints=[asdict(b) for b in list_blueprints(db)])


@router.get("/blueprints/{code}")
def blueprint_page(code: str, version: int | None = None, db: Session = Depends(get_db),
                   member=Depends(current_staff)) -> HTMLResponse:
    rep = svc.blueprint_information(db, code, version=version)
    lo = min([-4.0] + [c.theta - 0.5 for c in rep.cuts])
    hi = max([4.0] + [c.theta + 0.5 for c in rep.cuts])
    hlines = [] if rep.se_target is None else [
        HLine(1.0 / rep.se_target**2, f"目标测量精度 SE {rep.se_target:g}（信息量 {1.0 / rep.se_target**2:.1f}）")]
    chart = Chart(
        f"{rep.code} 正式题库测验信息函数", "能力 θ", "信息量", (lo, hi),
        curves=[Curve(f"整个正式题库（{rep.pool_size} 题）", rep.theta_grid, rep.pool_information),
                Curve(f"最长考试 {rep.max_length} 题可达上限", rep.theta_grid, rep.best_information, kind="best",
                      dashed=True)],
        vlines=[VLine(c.theta, f"{c.level_name} {c.theta:.2f}") for c in rep.cuts], hlines=hlines,
        css_id="pool-information")
    return page("reports/blueprint.html", member, nav="blueprints", rep=asdict(rep),
                chart=render_chart(chart) + curve_table(chart, digits=1))
