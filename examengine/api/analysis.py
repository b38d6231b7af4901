"""JSON API: fairness and test-security analyses of a stored exam (admins only): DIF between
two roster groups, person fit (l_z*), response times, answer similarity, item compromise, and
the candidates' groups themselves (which only admins see; they are used only in these
analyses)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from examengine.api.errors import ErrorOut
from examengine.deps import DB, ReleasingRoute
from examengine.services import analysis as svc
from examengine.services import exams as exams_svc
from examengine.services import security as sec

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


class TimeRowOut(BaseModel):
    person: str = Field(description="准考证号")
    theta: float | None
    n_timed: int = Field(description="带作答时间的回答数")
    rte: float | None = Field(description="作答努力 RTE（Wise & Kong 2005）：用时不低于 NT10 阈值的比例")
    n_rapid: int = Field(description="快猜（用时低于阈值）的回答数")
    low_effort: bool
    speed: float | None = Field(description="对数正态模型的速度 τ（越大越快）")
    n_hard_correct: int = Field(description="答对的、难度高于 θ̂ 的题数")
    n_fast: int = Field(description="其中标准化残差 z < −z_crit 的题数")
    p_value: float | None = Field(description="二项上尾概率")
    flag: bool = Field(description="难题快答标记（p < α）")


class TimeItemRowOut(BaseModel):
    item: str
    n: int
    mean_seconds: float | None
    threshold: float | None = Field(description="NT10 阈值（秒）")
    beta: float | None = Field(description="时间强度 β（对数秒）")
    alpha: float | None = Field(description="时间精度 α")


class TimesOut(BaseModel):
    source: str
    n_persons: int
    n_responses: int
    n_low_effort: int
    n_flagged: int
    alpha: float
    z_crit: float
    rte_low: float
    seconds: float
    rows: list[TimeRowOut]
    items: list[TimeItemRowOut]


class PairRowOut(BaseModel):
    room: str
    form: str = Field(description="卷型")
    copier: str = Field(description="疑似抄袭方（ω 以其能力为条件）")
    source: str
    n_items: int
    matches: int
    expected: float
    omega: float | None = Field(description="Wollack ω")
    p_value: float | None = Field(description="精确上尾概率")
    p_adjusted: float | None = Field(description="考场内 Holm 校正后的 p 值")
    flag: bool


class SimilarityOut(BaseModel):
    source: str
    n_sheets: int
    n_rooms: int
    n_pairs: int
    n_flagged: int
    alpha: float
    strata: int
    seconds: float
    unroomed: int
    rows: list[PairRowOut]


class WindowOut(BaseModel):
    first: int
    last: int
    n: int
    from_time: str
    to_time: str
    observed: float
    expected: float
    residual: float
    cusum: float


class CompromiseRowOut(BaseModel):
    item: str
    version: int
    exposures: int
    observed: float
    expected: float
    residual: float
    cusum_max: float
    alarm_at: int | None = Field(description="CUSUM 首次超过 h 的曝光序号")
    alarm_time: str | None
    flag: bool
    windows: list[WindowOut]


class CompromiseOut(BaseModel):
    source: str
    n_items: int
    n_responses: int
    n_flagged: int
    k: float
    h: float
    window: int
    seconds: float
    rows: list[CompromiseRowOut]


@router.get("/exams/{exam_id}/response-times", responses=ERRORS,
            summary="作答时间：作答努力（RTE）与对数正态模型的难题快答标记（仅自适应考试）")
def exam_response_times(exam_id: int, db: DB, alpha: float = Query(0.05, gt=0, lt=1),
                        z_crit: float = Query(1.96, gt=0, le=5)) -> TimesOut:
    r = sec.response_times_exam(db, exam_id, alpha=alpha, z_crit=z_crit)
    return TimesOut.model_validate(r, from_attributes=True)


@router.get("/exams/{exam_id}/similarity", responses=ERRORS,
            summary="答案相似性：同一考场每对纸笔答卷的 Wollack ω，考场内 Holm 校正")
def exam_similarity(exam_id: int, db: DB, alpha: float = Query(0.05, gt=0, lt=1), strata: int = Query(10, ge=1, le=50),
                    all_pairs: bool = Query(False, description="列出所有配对（默认只列标记的）")) -> SimilarityOut:
    r = sec.similarity_exam(db, exam_id, alpha=alpha, strata=strata, flagged_only=not all_pairs)
    return SimilarityOut.model_validate(r, from_attributes=True)


@router.get("/exams/{exam_id}/compromise", responses=ERRORS,
            summary="题目泄露：每道题按时间顺序的残差与单侧 CUSUM")
def exam_compromise(exam_id: int, db: DB, k: float = Query(0.25, ge=0, le=3), h: float = Query(20.0, gt=0, le=1000),
                    window: int = Query(100, ge=1, le=100000)) -> CompromiseOut:
    r = sec.compromise(db, exam_id=exam_id, k=k, h=h, window=window)
    return CompromiseOut.model_validate(r, from_attributes=True)
