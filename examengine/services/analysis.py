"""Fairness and test-security analyses (issue #22): DIF between two groups of candidates and
person fit (l_z*), on a stored exam or on a CSV response matrix. Read-only: nothing is written.

On a stored exam the responses are the scored (operational) answers of its finished attempts;
the groups are the candidates' roster groups (``Candidate.groups``: admins only, analyses
only); DIF matches on the engine's ability estimate (``Attempt.theta``) unless every attempt
answered every item (then on the number correct); person fit uses the parameters of the item
versions shown. On a CSV (the matrix ``examengine calibrate --responses`` reads, plus a group
and an optional id column) DIF matches on the number correct when the matrix is complete, else
on WLE estimates from a parameter file (``calibrate --output``) or, without one, from a 2PL
calibration of the same matrix. DIF is two-stage by default: items classed B or C in a first
pass leave the matching variable (purification), which keeps a block of one-directional DIF
items from biasing the comparison of the others. The maths lives in ``irt.dif`` and
``irt.person_fit``."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from examengine.db.models import Attempt, AttemptItem, Candidate, Exam, ItemVersion
from examengine.errors import ConflictError, DataFileError, ExamEngineError, NotFoundError, Problem
from examengine.exam.attempts import AttemptStatus
from examengine.irt import calibration as cal
from examengine.irt import dif as dif_math
from examengine.irt import person_fit as pf
from examengine.irt.estimation import eap_many
from examengine.irt.params import ItemParams
from examengine.itemfiles.tables import read_item_parameters, read_response_matrix

#: Where the matching theta-hat of a DIF analysis came from.
THETA_SOURCES = {
    "engine": "考试引擎的能力估计（Attempt.theta）",
    "wle_params": "按参数文件的 WLE 估计",
    "wle_calibrated": "按同一矩阵 2PL 校准参数的 WLE 估计",
}


@dataclass(frozen=True)
class DifRow:
    """One item's DIF (JSON rows of ``examengine analysis dif``). ``effect_size`` is Nagelkerke's
    Delta R^2 of the logistic regression (M3 - M1); ``lr_class`` its Jodoin-Gierl class;
    ``favours`` whom the item favours when it is B or C ('reference' / 'focal')."""

    item: str
    n_reference: int
    n_focal: int
    mh_alpha: float | None
    mh_d_dif: float | None
    se: float | None
    ets_class: str | None
    p_value: float | None
    lr_uniform_p: float | None
    lr_nonuniform_p: float | None
    effect_size: float | None
    lr_class: str | None
    favours: str


@dataclass(frozen=True)
class DifReport:
    source: str  # "exam 3" or the CSV's name
    group_column: str
    focal: str
    reference: str
    matching: str  # irt.dif.Matching: number_correct or theta
    matching_label: str
    theta_width: float | None
    n_reference: int
    n_focal: int
    n_items: int
    alpha: float
    seconds: float
    rows: list[DifRow]
    purified: list[str] | None = None  # items left out of the matching in the second stage (None: one stage)


@dataclass(frozen=True)
class PersonFitRow:
    """One person's fit (JSON rows of ``examengine analysis person-fit``)."""

    person: str
    theta: float | None
    lz_star: float | None
    p_value: float | None
    flag: bool
    n_items: int


@dataclass(frozen=True)
class PersonFitReport:
    source: str
    estimator: str  # irt.person_fit.Estimator
    alpha: float
    n_persons: int
    n_flagged: int
    seconds: float
    rows: list[PersonFitRow]


def parse_estimator(text: str) -> pf.Estimator:
    """'wle' or 'ml' (any case): the estimator l_z* is corrected for."""
    try:
        return pf.Estimator(text.strip().lower())
    except ValueError:
        raise ExamEngineError(f"未知的估计量：{text}（可用：wle、ml）") from None


def _num(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


# ---------------------------------------------------------------- stored exams


@dataclass(frozen=True)
class _ExamData:
    persons: list[str]  # tickets
    groups: list[dict]
    theta: np.ndarray  # the engine's estimates
    labels: list[str]  # item labels, one a version
    versions: list[int]
    u: np.ndarray  # persons x versions, NaN = not presented


def _exam_data(db: Session, exam_id: int) -> _ExamData:
    """The scored answers of the exam's finished attempts, persons x item versions."""
    if db.get(Exam, exam_id) is None:
        raise NotFoundError("考试", str(exam_id))
    rows = db.execute(
        select(AttemptItem.attempt_id, AttemptItem.item_version_id, AttemptItem.external_id, AttemptItem.score,
               Attempt.theta, Candidate.ticket, Candidate.groups)
        .join(Attempt, AttemptItem.attempt_id == Attempt.id)
        .join(Candidate, Attempt.candidate_id == Candidate.id)
        .where(Attempt.exam_id == exam_id, Attempt.status == AttemptStatus.FINISHED.value,
               AttemptItem.scored.is_(True), AttemptItem.score.is_not(None))
        .order_by(AttemptItem.attempt_id, AttemptItem.position)).all()
    if not rows:
        raise ConflictError(f"考试 {exam_id} 还没有已完成作答的考生，无法分析")
    person_at: dict[int, int] = {}
    version_at: dict[int, int] = {}
    persons, groups, thetas, labels, versions = [], [], [], [], []
    pi, vi, score = [], [], []
    for attempt_id, version_id, external_id, s, theta, ticket, grp in rows:
        p = person_at.setdefault(attempt_id, len(person_at))
        if p == len(persons):
            persons.append(ticket)
            groups.append(dict(grp or {}))
            thetas.append(np.nan if theta is None else theta)
        v = version_at.setdefault(version_id, len(version_at))
        if v == len(versions):
            versions.append(version_id)
            labels.append(external_id)
        pi.append(p)
        vi.append(v)
        score.append(1.0 if s > 0 else 0.0)
    u = np.full((len(persons), len(versions)), np.nan)
    u[pi, vi] = score
    if len(set(labels)) < len(labels):  # two versions of one item in one exam: say which
        numbers = dict(db.execute(select(ItemVersion.id, ItemVersion.number)
                                  .where(ItemVersion.id.in_(versions))).all())
        labels = [f"{lab}@v{numbers[v]}" if labels.count(lab) > 1 else lab for lab, v in zip(labels, versions)]
    return _ExamData(persons, groups, np.asarray(thetas, float), labels, versions, u)


def _group_codes(values: list[str], focal: str, reference: str, where: str) -> np.ndarray:
    if focal == reference:
        raise ExamEngineError("焦点组与参照组不能相同")
    g = np.array([1 if v == focal else 0 if v == reference else -1 for v in values], dtype=np.int64)
    for name, code in (("焦点组", 1), ("参照组", 0)):
        if not (g == code).any():
            seen = sorted({v for v in values if v})
            raise NotFoundError(f"{where}中{name}的考生", f"{focal if code else reference}"
                                f"（已有的值：{'、'.join(seen[:20]) or '无'}）")
    return g


def dif_exam(db: Session, exam_id: int, *, group: str, focal: str, reference: str, alpha: float = 0.05,
             theta_width: float = 0.25, purify: bool = True) -> DifReport:
    """DIF of every scored item of a stored exam between two values of a roster group. With
    ``purify`` (the default) items classed B or C in a first pass leave the matching: the
    number correct, or theta-hat re-estimated (EAP, the engine's N(0, 1) prior, the versions'
    parameters) from the other items."""
    start = time.perf_counter()
    data = _exam_data(db, exam_id)
    g = _group_codes([grp.get(group, "") for grp in data.groups], focal, reference, f"考试 {exam_id} 的分组“{group}”")
    observed = ~np.isnan(data.u)
    theta, rematch = None, None
    if not observed.all():
        g = np.where(np.isfinite(data.theta), g, -1)
        theta = np.nan_to_num(data.theta)
        params = _version_params(db, data.versions)
        answers = np.nan_to_num(data.u)

        def rematch(kept):
            return eap_many(params, answers, mask=observed & kept).theta

    res = dif_math.dif(data.u, g, theta=theta, theta_width=theta_width, alpha=alpha, purify=purify, rematch=rematch)
    return _dif_report(f"考试 {exam_id}", group, focal, reference, res, data.labels, g, "engine", start)


def _version_params(db: Session, versions: list[int]) -> ItemParams:
    rows = {v.id: v for v in db.scalars(select(ItemVersion).where(ItemVersion.id.in_(versions)))}
    return ItemParams(a=[rows[v].irt_a for v in versions], b=[rows[v].irt_b for v in versions],
                      c=[rows[v].irt_c or 0.0 for v in versions])


def _dif_report(source: str, group: str, focal: str, reference: str, res: dif_math.DifResult, labels: list[str],
                g: np.ndarray, theta_source: str, start: float) -> DifReport:
    rows = []
    for it in res.items:
        mh, lr = it.mh, it.lr
        rows.append(DifRow(
            labels[it.item], mh.n_reference, mh.n_focal, _num(mh.alpha), _num(mh.d_dif), _num(mh.d_dif_se),
            mh.ets_class.value if mh.ets_class else None, _num(mh.p_value),
            _num(lr.lr_uniform_p) if lr else None, _num(lr.lr_nonuniform_p) if lr else None,
            _num(lr.delta_r2) if lr else None, lr.lr_class.value if lr else None, mh.favours))
    if res.matching is dif_math.Matching.NUMBER_CORRECT:
        label = "总分（完整数据）"
    else:
        label = f"θ̂ 分层（宽 {res.theta_width}；{THETA_SOURCES[theta_source]}；Zwick, Thayer & Wingersky 1994）"
    purified = None if res.purified is None else [labels[j] for j in res.purified]
    if purified is not None:
        label += f"；两阶段净化：{len(purified)} 道 B/C 类题目不计入匹配"
    return DifReport(source, group, focal, reference, res.matching.value, label, res.theta_width,
                     int((g == 0).sum()), int((g == 1).sum()), len(labels), res.alpha,
                     round(time.perf_counter() - start, 3), rows, purified)


def person_fit_exam(db: Session, exam_id: int, *, alpha: float = 0.05,
                    estimator: str = "wle") -> PersonFitReport:
    """l_z* of every finished attempt of a stored exam, with the parameters of the item
    versions it was shown (theta re-estimated by ``estimator``: the correction assumes it)."""
    start = time.perf_counter()
    data = _exam_data(db, exam_id)
    item_params = _version_params(db, data.versions)
    res = pf.person_fit(data.u, item_params, estimator=parse_estimator(estimator),
                        alpha=alpha)
    return _fit_report(f"考试 {exam_id}", data.persons, res, start)


def _fit_report(source: str, persons: list[str], res: pf.PersonFit, start: float) -> PersonFitReport:
    rows = [PersonFitRow(persons[k], _num(res.theta[k]), _num(res.lz_star[k]), _num(res.p_value[k]),
                         bool(res.flag[k]), int(res.n_items[k])) for k in range(len(persons))]
    return PersonFitReport(source, res.estimator.value, res.alpha, len(rows), int(res.flag.sum()),
                           round(time.perf_counter() - start, 3), rows)


# ---------------------------------------------------------------- CSV matrices


def _params_for(item_ids: list[str], params_name: str, params_data: bytes) -> ItemParams:
    table = {r.item: r for r in read_item_parameters(params_name, params_data)}
    missing = [i for i in item_ids if i not in table]
    if missing:
        raise DataFileError([Problem(params_name, "item", i, "作答矩阵中的题目在参数文件中没有参数") for i in missing[:20]])
    return ItemParams(a=[table[i].a for i in item_ids], b=[table[i].b for i in item_ids],
                      c=[table[i].c for i in item_ids])


def _person_ids(matrix, id_column: str | None) -> list[str]:
    if id_column is None:
        return [str(k) for k in range(1, len(matrix.rows) + 1)]
    return list(matrix.columns[id_column])


def dif_matrix(filename: str, data: bytes, *, group_column: str, focal: str, reference: str,
               id_column: str | None = None, params: tuple[str, bytes] | None = None, alpha: float = 0.05,
               theta_width: float = 0.25, purify: bool = True) -> DifReport:
    """DIF of every item of a CSV response matrix with a group column (see the module text for
    the matching); ``params`` = (filename, bytes) of a ``calibrate --output`` parameter file."""
    start = time.perf_counter()
    if id_column == group_column:
        raise ExamEngineError("分组列与编号列不能是同一列")
    matrix = read_response_matrix(filename, data, text_columns=(group_column, *([id_column] if id_column else [])))
    u = np.array(matrix.rows, dtype=float)
    g = _group_codes(list(matrix.columns[group_column]), focal, reference, f"{filename} 的“{group_column}”列")
    theta, source, rematch = None, "engine", None
    observed = ~np.isnan(u)
    if not observed.all():
        if params is not None:
            item_params, source = _params_for(matrix.item_ids, *params), "wle_params"
        else:
            res = cal.calibrate(cal.ResponseData.from_matrix(u), cal.CalibrationModel.parse("2pl"))
            item_params, source = res.params, "wle_calibrated"
        theta = pf.estimate(u, item_params, estimator=pf.Estimator.WLE)

        def rematch(kept):
            return pf.estimate(u, item_params, mask=observed & kept, estimator=pf.Estimator.WLE)

    res = dif_math.dif(u, g, theta=theta, theta_width=theta_width, alpha=alpha, purify=purify, rematch=rematch)
    return _dif_report(filename, group_column, focal, reference, res, matrix.item_ids, g, source, start)


def person_fit_matrix(filename: str, data: bytes, *, params: tuple[str, bytes], id_column: str | None = None,
                      ignore_columns: tuple[str, ...] = (), alpha: float = 0.05,
                      estimator: str = "wle") -> PersonFitReport:
    """l_z* of every row of a CSV response matrix, with the parameters of a ``calibrate
    --output`` file (every item of the matrix must have a row there); ``ignore_columns`` (a
    group column, say) are not items."""
    start = time.perf_counter()
    text = tuple(dict.fromkeys(([id_column] if id_column else []) + list(ignore_columns)))
    matrix = read_response_matrix(filename, data, text_columns=text)
    u = np.array(matrix.rows, dtype=float)
    res = pf.person_fit(u, _params_for(matrix.item_ids, *params),
                        estimator=parse_estimator(estimator), alpha=alpha)
    return _fit_report(filename, _person_ids(matrix, id_column), res, start)
