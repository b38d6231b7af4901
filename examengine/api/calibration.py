"""JSON API: calibration runs and classical item statistics (admins).

Response models are pydantic, so /openapi.json describes every field exactly; the services'
dataclasses are mapped onto them here."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from examengine.api.errors import ErrorOut
from examengine.deps import DB, ReleasingRoute
from examengine.services import calibration as svc

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["calibration"])


ERRORS = {404: {"model": ErrorOut, "description": "编号不存在"}, 400: {"model": ErrorOut, "description": "请求有误"}}

# ---------------------------------------------------------------- models


class ConvergenceOut(BaseModel):
    converged: bool
    iterations: int
    max_change: float | None = Field(description="最后一轮参数的最大变化")
    seconds: float
    tolerance: float | None


class LinkingOut(BaseModel):
    method: str = Field(description="stocking_lord 或 mean_sigma")
    A: float
    B: float


class CriteriaOut(BaseModel):
    """When a pretest item may be proposed for operational use; RMSD and outfit also make
    the fit flag of every item."""

    min_responses: int
    min_a: float
    max_rmsd: float
    outfit_range: tuple[float, float]
    max_se_b: float
    drift_z: float = Field(description="漂移：锚题偏离超过几个标准误")


class PreviousParamsOut(BaseModel):
    model: str
    a: float
    b: float
    c: float
    origin: str


class EstimateOut(BaseModel):
    external_id: str
    role: Literal["anchor", "estimated"] = Field(description="anchor：参数固定的锚题；estimated：本次估计")
    status: str = Field(description="运行时题目的状态")
    n_responses: int
    p_value: float | None
    a: float
    b: float
    c: float
    se_a: float | None
    se_b: float | None
    se_c: float | None
    rmsd: float | None
    infit: float | None
    outfit: float | None
    misfit: bool = Field(description="RMSD 或 outfit 超出标准")
    drift: bool
    eligible: bool | None = Field(description="可转为正式题（仅预测试题）")
    reasons: list[str] = Field(description="不可转正的原因：few_responses、low_discrimination、poor_fit、imprecise")
    reason_labels: list[str]
    previous: PreviousParamsOut = Field(description="运行时题库中的参数")
    applied: bool = Field(description="已由 apply 写入题库")


class RunSummaryOut(BaseModel):
    id: int
    scope: str = Field(description="标准或级别代码")
    model: str = Field(description="rasch、2pl 或 3pl")
    engine: str
    mode: Literal["pretest", "full", "initial"]
    since: datetime | None = Field(description="数据时段起点（含）")
    until: datetime | None = Field(description="数据时段终点（不含）")
    n_persons: int
    n_responses: int
    n_items: int
    loglik: float | None
    aic: float | None
    bic: float | None
    converged: bool
    status: Literal["estimated", "applied"]
    n_eligible: int
    n_drift: int
    n_misfit: int
    created_by: str
    created_at: datetime
    applied_by: str | None


class RunOut(RunSummaryOut):
    n_parameters: int
    population_mean: float
    population_sd: float
    convergence: ConvergenceOut
    linking: LinkingOut | None
    criteria: CriteriaOut
    estimates: list[EstimateOut]
    eligible: list[str] = Field(description="可转为正式题的题目（待审核，不会自动转正）")


class OptionOut(BaseModel):
    label: str
    is_key: bool
    n: int
    share: float | None
    point_biserial: float | None


class ItemStatisticsOut(BaseModel):
    external_id: str
    version: int
    version_id: int
    status: str
    n_presented: int
    n_answered: int
    p_value: float | None
    point_biserial: float | None = Field(description="校正点二列相关（效标见 criterion）")
    criterion: Literal["rest", "theta"] = Field(description="rest：其余题总分；theta：考生能力估计")
    omit_rate: float | None
    options: list[OptionOut]
    flags: list[str]
    flag_labels: list[str]


# ---------------------------------------------------------------- mapping


def _f(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def _summary(run: svc.RunView) -> dict:
    return dict(
        id=run.id, scope=run.scope, model=run.model, engine=run.engine, mode=run.mode, since=run.since,
        until=run.until, n_persons=run.n_persons, n_responses=run.n_responses, n_items=run.n_items,
        loglik=_f(run.loglik), aic=_f(run.aic), bic=_f(run.bic), converged=run.converged, status=run.status,
        n_eligible=len(run.eligible), n_drift=sum(e.drift for e in run.estimates),
        n_misfit=sum(e.misfit for e in run.estimates), created_by=run.created_by, created_at=run.created_at,
        applied_by=run.applied_by,
    )


def _run(run: svc.RunView) -> RunOut:
    crit = {**svc.PromotionCriteria().__dict__, **run.options.get("criteria", {})}
    link = run.options.get("linking")
    return RunOut(
        **_summary(run), n_parameters=run.n_parameters, population_mean=run.population_mean,
        population_sd=run.population_sd,
        convergence=ConvergenceOut(converged=run.converged, iterations=run.iterations, max_change=_f(run.max_change),
                                   seconds=run.seconds, tolerance=run.options.get("tolerance")),
        linking=None if not link else LinkingOut(method=link["method"], A=link["A"], B=link["B"]),
        criteria=CriteriaOut(min_responses=crit["min_responses"], min_a=crit["min_a"], max_rmsd=crit["max_rmsd"],
                             outfit_range=tuple(crit["outfit_range"]), max_se_b=crit["max_se_b"],
                             drift_z=run.options.get("drift_z", 2.0)),
        estimates=[EstimateOut(
            external_id=e.external_id, role=e.role, status=e.status, n_responses=e.n_responses,
            p_value=_f(e.p_value), a=e.a, b=e.b, c=e.c, se_a=_f(e.se_a), se_b=_f(e.se_b), se_c=_f(e.se_c),
            rmsd=_f(e.rmsd), infit=_f(e.infit), outfit=_f(e.outfit), misfit=e.misfit, drift=e.drift,
            eligible=e.eligible, reasons=e.reasons, reason_labels=e.reason_labels,
            previous=PreviousParamsOut(model=e.prev[0], a=e.prev[1], b=e.prev[2], c=e.prev[3], origin=e.prev[4]),
            applied=e.applied) for e in run.estimates],
        eligible=[e.external_id for e in run.eligible],
    )


def _stats(rows: list[svc.ItemStatsView]) -> list[ItemStatisticsOut]:
    return [ItemStatisticsOut(
        external_id=r.external_id, version=r.version, version_id=r.version_id, status=r.status,
        n_presented=r.n_presented, n_answered=r.n_answered, p_value=r.p_value, point_biserial=r.point_biserial,
        criterion=r.criterion, omit_rate=r.omit_rate,
        options=[OptionOut(label=o.label, is_key=o.is_key, n=o.n, share=o.share, point_biserial=o.point_biserial)
                 for o in r.options],
        flags=r.flags, flag_labels=r.flag_labels) for r in rows]


def _utc(d: datetime | None) -> datetime | None:
    return None if d is None or d.tzinfo else d.replace(tzinfo=UTC)


# ---------------------------------------------------------------- routes

SCOPE = r"^\d{6}(-L\d)?$"


@router.get("/calibration-runs", summary="Stored calibration runs, newest first", response_model=list[RunSummaryOut])
def list_runs(db: DB) -> list[RunSummaryOut]:
    return [RunSummaryOut(**_summary(r)) for r in svc.list_runs(db)]


@router.get("/calibration-runs/{run_id}", summary="One calibration run: data, fit, convergence, estimates",
            response_model=RunOut, responses=ERRORS)
def get_run(run_id: int, db: DB) -> RunOut:
    """Model, data window, persons and responses used, convergence, log-likelihood/AIC/BIC, and
    per item the estimates with standard errors, RMSD/infit/outfit, fit and drift flags and
    promotion eligibility (with the reasons when not eligible)."""
    return _run(svc.get_run(db, run_id))


@router.get("/item-statistics", summary="Classical item statistics of a standard or level",
            response_model=list[ItemStatisticsOut], responses=ERRORS)
def item_statistics(
    db: DB,
    code: str = Query(..., pattern=SCOPE, description="标准（530046）或级别（530046-L2）代码"),
    item: list[str] = Query(default=[], description="只要这些题目（可重复）；没有作答的题目不出现"),
    exam: int | None = Query(None, description="只看这场考试"),
    since: datetime | None = Query(None, description="起始时间（含；不带时区按 UTC）"),
    until: datetime | None = Query(None, description="截止时间（不含）"),
    criterion: Literal["auto", "rest", "theta"] = Query("auto", description="点二列相关的效标"),
) -> list[ItemStatisticsOut]:
    """The same numbers as `examengine items stats`: per item version p-value, corrected
    point-biserial, omit rate, option shares and point-biserials, flags."""
    return _stats(svc.item_statistics(db, scope=code, exam_id=exam, since=_utc(since), until=_utc(until),
                                      criterion=criterion, items=item or None))


@router.get("/item-statistics/{external_id}", summary="Classical statistics of one item (every version answered)",
            response_model=list[ItemStatisticsOut], responses=ERRORS)
def one_item_statistics(
    external_id: str,
    db: DB,
    code: str | None = Query(None, pattern=SCOPE, description="范围（默认：题目所在级别）"),
    exam: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    criterion: Literal["auto", "rest", "theta"] = "auto",
) -> list[ItemStatisticsOut]:
    """An empty list when the item has no responses in the scope and window; 404 when no such item."""
    if code is None:
        code = svc.item_level(db, external_id)
    return _stats(svc.item_statistics(db, scope=code, exam_id=exam, since=_utc(since), until=_utc(until),
                                      criterion=criterion, items=[external_id]))
