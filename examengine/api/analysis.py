"""JSON API: fairness and test-security analyses of a stored exam (admins only): DIF between
two roster groups, person fit (l_z*), and the candidates' groups themselves (which only admins
see; they are used only in these analyses)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from examengine.api.errors import ErrorOut
from examengine.deps import DB, ReleasingRoute
from examengine.services import analysis as svc
from examengine.services import exams as exams_svc

router = APIRouter(route_class=ReleasingRoute, prefix="/api/v1", tags=["analysis (admins)"])

ERRORS = {404: {"model": ErrorOut, "description": "考试不存在，或名单中没有所给分组值的考生"},
          409: {"model": ErrorOut, "description": "考试还没有已完成作答的考生"},
          400: {"model": ErrorOut, "description": "请求有误（如焦点组与参照组相同）"}}


class DifRowOut(BaseModel):
    item: str
    n_reference: int
    n_focal: int
    mh_alpha: float | None = Field(description="Mantel–Haenszel 共同优势比（> 1：有利于参照组）")
    mh_d_dif: float | None = Field(description="MH D-DIF = −2.35 ln α_MH（< 0：对焦点组更难）")
    se: float | None = Field(description="MH D-DIF 的标准误（Robins–Breslow–Greenland）")
    ets_class: str | None = Field(description="ETS 类别 A / B / C")
    p_value: float | None = Field(description="MH 卡方（连续性校正）的 p 值")
    lr_uniform_p: float | None = Field(description="logistic 回归：均匀 DIF 的似然比检验 p 值")
    lr_nonuniform_p: float | None = Field(description="logistic 回归：非均匀 DIF 的似然比检验 p 值")
    effect_size: float | None = Field(description="Nagelkerke ΔR²（M3 − M1）")
    lr_class: str | None = Field(description="Jodoin & Gierl (2001) 类别 A / B / C")
    favours: str = Field(description="B/C 类题目有利的一方：reference、focal 或空")


class DifOut(BaseModel):
    source: str
    group_column: str
    focal: str
    reference: str
    matching: Literal["number_correct", "theta"] = Field(description="匹配变量：总分或 θ̂ 分层")
    matching_label: str
    theta_width: float | None
    n_reference: int
    n_focal: int
    n_items: int
    alpha: float
    seconds: float
    rows: list[DifRowOut]
    purified: list[str] | None = Field(description="两阶段净化时不计入匹配的题目（null：一阶段）")


class PersonFitRowOut(BaseModel):
    person: str = Field(description="准考证号")
    theta: float | None
    lz_star: float | None = Field(description="Snijders (2001) l_z*")
    p_value: float | None = Field(description="下尾 p 值 Φ(l_z*)")
    flag: bool
    n_items: int


class PersonFitOut(BaseModel):
    source: str
    estimator: Literal["wle", "ml"]
    alpha: float
    n_persons: int
    n_flagged: int
    seconds: float
    rows: list[PersonFitRowOut]


class CandidateGroupsOut(BaseModel):
    ticket: str
    name: str
    groups: dict[str, str] = Field(description="分组列的值（仅管理员可见，仅用于分析）")


@router.get("/exams/{exam_id}/dif", responses=ERRORS,
            summary="项目功能差异（Mantel–Haenszel 与 logistic 回归）：名单分组 group 的 focal 组对 reference 组")
def exam_dif(exam_id: int, db: DB, group: str = Query(description="分组名，如 性别"),
             focal: str = Query(description="焦点组的值"), reference: str = Query(description="参照组的值"),
             alpha: float = Query(0.05, gt=0, lt=1), theta_width: float = Query(0.25, gt=0, le=2),
             purify: bool = Query(True, description="两阶段：B/C 类题目不计入匹配变量")) -> DifOut:
    r = svc.dif_exam(db, exam_id, group=group, focal=focal, reference=reference, alpha=alpha, theta_width=theta_width,
                     purify=purify)
    return DifOut.model_validate(r, from_attributes=True)


@router.get("/exams/{exam_id}/person-fit", responses=ERRORS, summary="考生拟合 l_z*（Snijders 2001）与标记")
def exam_person_fit(exam_id: int, db: DB, alpha: float = Query(0.05, gt=0, lt=1),
                    estimator: Literal["wle", "ml"] = Query("wle")) -> PersonFitOut:
    r = svc.person_fit_exam(db, exam_id, alpha=alpha, estimator=estimator)
    return PersonFitOut.model_validate(r, from_attributes=True)


@router.get("/exams/{exam_id}/groups", responses=ERRORS, summary="考生的分组（名单的分组列；仅管理员）")
def exam_groups(exam_id: int, db: DB) -> list[CandidateGroupsOut]:
    return [CandidateGroupsOut.model_validate(c, from_attributes=True) for c in exams_svc.candidate_groups(db, exam_id)]
