"""Test-security analyses of stored exams (issue #22, points 4-7): response times (rapid
guessing and fast correct answers to hard items), answer similarity of paper sheets within a
room, item compromise over exposures, and the post-window report that gathers them with DIF
and person fit. Read-only: nothing is written. The maths lives in ``irt.response_times``,
``irt.similarity`` and ``irt.compromise``.

Response times are observable on adaptive attempts only: an adaptive item row is stored when
the engine chooses the item (``presented_at``, just before it is shown) and answered once
(``answered_at``), so their difference is the time the item was on screen. A linear (or LOFT)
attempt stores all its rows when it starts and ``answered_at`` is the last save of a position
(answers change until submission, in any order), so per-item times are not observable there
and the analysis refuses such exams (409) rather than report meaningless times."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from examengine.db.forms_models import Form, PaperResult
from examengine.db.models import Attempt, AttemptItem, BlueprintVersion, Candidate, Exam, ItemVersion, Level
from examengine.errors import ConflictError, ExamEngineError, NotFoundError
from examengine.exam.attempts import AttemptStatus, ExamMode
from examengine.irt import compromise as cp
from examengine.irt import response_times as rt
from examengine.irt import similarity as sim


def _num(x) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def _exam(db: Session, exam_id: int) -> Exam:
    exam = db.get(Exam, exam_id)
    if exam is None:
        raise NotFoundError("考试", str(exam_id))
    return exam


def _seconds(a: datetime, b: datetime) -> float:
    return (_naive(b) - _naive(a)).total_seconds()


# ---------------------------------------------------------------- response times


@dataclass(frozen=True)
class TimeRow:
    """One attempt (JSON rows of ``examengine analysis response-times``)."""

    person: str
    theta: float | None
    n_timed: int
    rte: float | None  # response-time effort (Wise & Kong 2005)
    n_rapid: int
    low_effort: bool
    speed: float | None  # tau (lognormal model; larger = faster)
    n_hard_correct: int  # correct answers to items with b above theta-hat
    n_fast: int  # of which z < -z_crit
    p_value: float | None
    flag: bool


@dataclass(frozen=True)
class TimeItemRow:
    item: str
    n: int
    mean_seconds: float | None
    threshold: float | None  # NT10
    beta: float | None  # time intensity (log seconds)
    alpha: float | None  # precision


@dataclass(frozen=True)
class TimeReport:
    source: str
    n_persons: int
    n_responses: int
    n_low_effort: int
    n_flagged: int
    alpha: float
    z_crit: float
    rte_low: float
    seconds: float
    rows: list[TimeRow]
    items: list[TimeItemRow]


def response_times_exam(db: Session, exam_id: int, *, alpha: float = 0.05, z_crit: float = 1.96,
                        rte_low: float = rt.RTE_LOW) -> TimeReport:
    """RTE and the lognormal model's fast-correct flags of every finished attempt of an
    adaptive exam (see the module text for why only adaptive)."""
    start = time.perf_counter()
    exam = _exam(db, exam_id)
    if exam.mode != ExamMode.ADAPTIVE.value:
        raise ConflictError(f"考试 {exam_id} 是{ExamMode(exam.mode).label}考试：题目在开考时一次存入、答案可反复修改，"
                            "无法得到每题的作答时间；作答时间分析只用于自适应考试")
    rows = db.execute(
        select(AttemptItem.attempt_id, AttemptItem.item_version_id, AttemptItem.external_id, AttemptItem.score,
               AttemptItem.presented_at, AttemptItem.answered_at, Attempt.theta, Candidate.ticket, ItemVersion.irt_b)
        .join(Attempt, AttemptItem.attempt_id == Attempt.id)
        .join(Candidate, Attempt.candidate_id == Candidate.id)
        .join(ItemVersion, ItemVersion.id == AttemptItem.item_version_id)
        .where(Attempt.exam_id == exam_id, Attempt.status == AttemptStatus.FINISHED.value,
               AttemptItem.scored.is_(True), AttemptItem.score.is_not(None), AttemptItem.answered_at.is_not(None))
        .order_by(AttemptItem.attempt_id, AttemptItem.position)).all()
    cells = [(r, _seconds(r.presented_at, r.answered_at)) for r in rows]
    cells = [(r, s) for r, s in cells if s > 0]
    if not cells:
        raise ConflictError(f"考试 {exam_id} 没有带作答时间的已完成作答，无法分析作答时间")
    person_at: dict[int, int] = {}
    item_at: dict[int, int] = {}
    persons, thetas, labels, bs = [], [], [], []
    pi, ii, tt, uu = [], [], [], []
    for r, s in cells:
        p = person_at.setdefault(r.attempt_id, len(person_at))
        if p == len(persons):
            persons.append(r.ticket)
            thetas.append(np.nan if r.theta is None else r.theta)
        i = item_at.setdefault(r.item_version_id, len(item_at))
        if i == len(labels):
            labels.append(r.external_id)
            bs.append(r.irt_b)
        pi.append(p)
        ii.append(i)
        tt.append(s)
        uu.append(1.0 if r.score > 0 else 0.0)
    t = np.full((len(persons), len(labels)), np.nan)
    u = np.full_like(t, np.nan)
    t[pi, ii] = tt
    u[pi, ii] = uu
    effort = rt.response_time_effort(t, low=rte_low)
    fit = rt.fit_lognormal(t)
    theta = np.asarray(thetas, float)
    fast = rt.fast_correct_flags(fit.z, u, theta, np.asarray(bs, float), z_crit=z_crit, alpha=alpha)
    out = [TimeRow(persons[j], _num(theta[j]), int(effort.n_responses[j]), _num(effort.rte[j]),
                   int(effort.n_rapid[j]), bool(effort.low_effort[j]), _num(fit.tau[j]),
                   int(fast.n_hard_correct[j]), int(fast.n_fast[j]), _num(fast.p_value[j]), bool(fast.flag[j]))
           for j in range(len(persons))]
    seen = ~np.isnan(t)
    means = np.where(seen, t, 0).sum(axis=0) / np.maximum(seen.sum(axis=0), 1)
    items = [TimeItemRow(labels[i], int(seen[:, i].sum()), _num(means[i]), _num(effort.threshold[i]),
                         _num(fit.beta[i]), _num(fit.alpha[i])) for i in range(len(labels))]
    return TimeReport(f"考试 {exam_id}", len(persons), len(cells), int(effort.low_effort.sum()), int(fast.flag.sum()),
                      alpha, z_crit, rte_low, round(time.perf_counter() - start, 3), out, items)


# ---------------------------------------------------------------- answer similarity (paper)


@dataclass(frozen=True)
class PairRow:
    """One ordered pair of sheets in a room (JSON rows of ``examengine analysis similarity``)."""

    room: str
    form: str
    copier: str
    source: str
    n_items: int
    matches: int
    expected: float
    omega: float | None
    p_value: float | None
    p_adjusted: float | None  # Holm, within the room
    flag: bool


@dataclass(frozen=True)
class SimilarityReport:
    source: str
    n_sheets: int
    n_rooms: int
    n_pairs: int
    n_flagged: int
    alpha: float
    strata: int
    seconds: float
    unroomed: int  # sheets of candidates without a room: not paired
    rows: list[PairRow]  # flagged pairs first, then by omega (all pairs)


def similarity_exam(db: Session, exam_id: int, *, alpha: float = 0.05, strata: int = 10,
                    flagged_only: bool = False) -> SimilarityReport:
    """Wollack's omega (conditional-share null, exact tail) for every ordered pair of paper
    sheets in the same room and on the same form, Holm-adjusted within each room and form.
    The option shares come from all the exam's sheets of the form."""
    start = time.perf_counter()
    _exam(db, exam_id)
    rows = db.execute(select(PaperResult.answers, PaperResult.raw_score, Candidate.ticket, Candidate.room, Form.code)
                      .join(Candidate, Candidate.id == PaperResult.candidate_id)
                      .join(Form, Form.id == PaperResult.form_id)
                      .where(PaperResult.exam_id == exam_id).order_by(Form.code, Candidate.ticket)).all()
    if not rows:
        raise ConflictError(f"考试 {exam_id} 没有纸笔成绩（forms score），无法做答案相似性分析")
    out: list[PairRow] = []
    rooms: set[str] = set()
    unroomed = n_pairs = 0
    for form in sorted({r.code for r in rows}):
        sheets = [r for r in rows if r.code == form]
        width = max(len(r.answers) for r in sheets)
        answers = [["".join(sorted(a)) for a in r.answers] + [""] * (width - len(r.answers)) for r in sheets]
        codes, options = sim.encode(answers)
        model = sim.option_model(codes, options, np.array([r.raw_score for r in sheets], float), strata=strata)
        by_room: dict[str, list[int]] = {}
        for k, r in enumerate(sheets):
            if r.room:
                by_room.setdefault(r.room, []).append(k)
            else:
                unroomed += 1
        for room, members in sorted(by_room.items()):
            rooms.add(room)
            for pr in sim.room_pairs(model, members, alpha=alpha):
                n_pairs += 1
                if flagged_only and not pr.flag:
                    continue
                out.append(PairRow(room, form, sheets[pr.copier].ticket, sheets[pr.source].ticket, pr.n_items,
                                   pr.matches, round(pr.expected, 3), _num(pr.omega), _num(pr.p_value),
                                   _num(pr.p_adjusted), pr.flag))
    out.sort(key=lambda r: (not r.flag, -(r.omega if r.omega is not None else -np.inf)))
    return SimilarityReport(f"考试 {exam_id}", len(rows), len(rooms), n_pairs, sum(r.flag for r in out), alpha,
                            strata, round(time.perf_counter() - start, 3), unroomed, out)


# ---------------------------------------------------------------- item compromise


@dataclass(frozen=True)
class WindowRow:
    first: int
    last: int
    n: int
    from_time: str
    to_time: str
    observed: float
    expected: float
    residual: float
    cusum: float


@dataclass(frozen=True)
class CompromiseRow:
    """One item version (JSON rows of ``examengine analysis compromise``)."""

    item: str
    version: int
    exposures: int
    observed: float
    expected: float
    residual: float
    cusum_max: float
    alarm_at: int | None  # the exposure at which the CUSUM first exceeded h
    alarm_time: str | None
    flag: bool
    windows: list[WindowRow] = field(default_factory=list)


@dataclass(frozen=True)
class CompromiseReport:
    source: str
    n_items: int
    n_responses: int
    n_flagged: int
    k: float
    h: float
    window: int
    seconds: float
    rows: list[CompromiseRow]  # flagged first, then by the CUSUM's maximum


def compromise(db: Session, *, exam_id: int | None = None, level: str | None = None, k: float = cp.K_DEFAULT,
               h: float = cp.H_DEFAULT, window: int = 100) -> CompromiseReport:
    """Per item version, the residuals of its scored answers in time order (every finished
    attempt of one exam, or of every exam on a level's blueprints, e.g. 530046-L1), expected
    from the attempt's ability estimate and the version's parameters, with the upper CUSUM."""
    start = time.perf_counter()
    if (exam_id is None) == (level is None):
        raise ExamEngineError("请给出考试编号或等级代码二者之一")
    q = (select(AttemptItem.item_version_id, AttemptItem.external_id, AttemptItem.score, AttemptItem.presented_at,
                AttemptItem.answered_at, Attempt.theta)
         .join(Attempt, AttemptItem.attempt_id == Attempt.id)
         .where(Attempt.status == AttemptStatus.FINISHED.value, AttemptItem.scored.is_(True),
                AttemptItem.score.is_not(None), Attempt.theta.is_not(None)))
    if exam_id is not None:
        _exam(db, exam_id)
        q = q.where(Attempt.exam_id == exam_id)
        source = f"考试 {exam_id}"
    else:
        lv = db.scalar(select(Level).where(Level.code == level))
        if lv is None:
            raise NotFoundError("等级", level)
        q = q.join(BlueprintVersion, BlueprintVersion.id == Attempt.blueprint_version_id).where(
            BlueprintVersion.level_id == lv.id)
        source = f"等级 {level}"
    rows = db.execute(q).all()
    if not rows:
        raise ConflictError(f"{source} 还没有已完成作答的考生，无法分析题目泄露")
    by_version: dict[int, list] = {}
    for r in rows:
        by_version.setdefault(r.item_version_id, []).append(r)
    versions = {v.id: v for v in db.scalars(select(ItemVersion).where(ItemVersion.id.in_(list(by_version))))}
    out = []
    for vid, rs in by_version.items():
        rs.sort(key=lambda r: _naive(r.answered_at or r.presented_at))
        v = versions[vid]
        p = cp.probabilities([r.theta for r in rs], v.irt_a, v.irt_b, v.irt_c or 0.0)
        res = cp.item_cusum([1.0 if r.score > 0 else 0.0 for r in rs], p, k=k, h=h, window=window)
        stamp = [_naive(r.answered_at or r.presented_at).isoformat(timespec="seconds") for r in rs]
        wins = [WindowRow(w.first, w.last, w.n, stamp[w.first - 1], stamp[w.last - 1], w.observed, round(w.expected, 3),
                          round(w.residual, 3), round(w.cusum_end, 3)) for w in res.windows]
        out.append(CompromiseRow(rs[0].external_id, v.number, res.n, res.observed, round(res.expected, 3),
                                 round(res.observed - res.expected, 3), round(res.cusum_max, 3), res.alarm_at,
                                 stamp[res.alarm_at - 1] if res.alarm_at else None, res.flag, wins))
    out.sort(key=lambda r: (not r.flag, -r.cusum_max, r.item))
    return CompromiseReport(source, len(out), len(rows), sum(r.flag for r in out), k, h, window,
                            round(time.perf_counter() - start, 3), out)


def _naive(at: datetime) -> datetime:
    """UTC without a zone (SQLite returns naive UTC, PostgreSQL aware)."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


# ---------------------------------------------------------------- the post-window report


@dataclass(frozen=True)
class PostWindowReport:
    """Every analysis of one exam; an analysis that cannot run (no groups, no paper sheets, a
    linear exam's times) has None and a note saying why."""

    exam_id: int
    exam_name: str
    mode: str
    generated_at: str
    alpha: float
    dif: object | None  # services.analysis.DifReport
    dif_note: str
    fit: object | None  # services.analysis.PersonFitReport
    fit_note: str
    times: TimeReport | None
    times_note: str
    similarity: SimilarityReport | None
    similarity_note: str
    compromise: CompromiseReport | None
    compromise_note: str

    @property
    def summary(self) -> str:
        parts = []
        for name, rep, count in (("DIF", self.dif, lambda r: sum(x.ets_class in ("B", "C") for x in r.rows)),
                                 ("考生拟合", self.fit, lambda r: r.n_flagged),
                                 ("作答时间", self.times, lambda r: r.n_flagged + r.n_low_effort),
                                 ("答案相似性", self.similarity, lambda r: r.n_flagged),
                                 ("题目泄露", self.compromise, lambda r: r.n_flagged)):
            parts.append(f"{name} {'未做' if rep is None else f'标记 {count(rep)}'}")
        return "；".join(parts)


def _default_groups(db: Session, exam_id: int) -> tuple[str, str, str] | None:
    """The first roster group with two values or more: its two largest values (reference = the larger)."""
    from collections import Counter

    from examengine.services.exams import candidate_groups

    counts: dict[str, Counter] = {}
    for c in candidate_groups(db, exam_id):
        for name, value in c.groups.items():
            counts.setdefault(name, Counter())[value] += 1
    for name in sorted(counts):
        common = counts[name].most_common(2)
        if len(common) == 2:
            return name, common[1][0], common[0][0]
    return None


def post_window_report(db: Session, exam_id: int, *, group: str | None = None, focal: str | None = None,
                       reference: str | None = None, alpha: float = 0.05) -> PostWindowReport:
    """DIF (the given groups, else the roster's first group with its two largest values), person
    fit, response times, answer similarity and item compromise of one exam."""
    from examengine.services import analysis

    exam = _exam(db, exam_id)
    results: dict[str, tuple[object | None, str]] = {}

    def run(key: str, fn) -> None:
        try:
            results[key] = (fn(), "")
        except ExamEngineError as exc:
            results[key] = (None, exc.message)

    if group and focal and reference:
        chosen = (group, focal, reference)
    elif group or focal or reference:
        raise ExamEngineError("DIF 的分组名、焦点组与参照组须同时给出（或都不给，用名单的第一个分组）")
    else:
        chosen = _default_groups(db, exam_id)
    if chosen is None:
        results["dif"] = (None, "名单没有分组列（或每个分组只有一个值），未做 DIF 分析")
    else:
        run("dif", lambda: analysis.dif_exam(db, exam_id, group=chosen[0], focal=chosen[1], reference=chosen[2],
                                             alpha=alpha))
    run("fit", lambda: analysis.person_fit_exam(db, exam_id, alpha=alpha))
    run("times", lambda: response_times_exam(db, exam_id, alpha=alpha))
    run("similarity", lambda: similarity_exam(db, exam_id, alpha=alpha, flagged_only=True))
    run("compromise", lambda: compromise(db, exam_id=exam_id))
    return PostWindowReport(exam_id, exam.name, exam.mode, datetime.now(UTC).isoformat(timespec="seconds"), alpha,
                            *results["dif"], *results["fit"], *results["times"], *results["similarity"],
                            *results["compromise"])


def report_html(rep: PostWindowReport, *, font_family: str | None = None) -> str:
    """The report as one self-contained HTML page (A4 print styles: WeasyPrint makes the PDF)."""
    from examengine.rendering.charts import Chart, Curve, HLine, render_chart
    from examengine.rendering.env import render
    from examengine.rendering.pdf import default_font_family

    chart = None
    if rep.compromise is not None:
        shown = [r for r in rep.compromise.rows if r.windows][:5]
        if shown:
            curves = [Curve(f"{r.item} v{r.version}", [w.last for w in r.windows], [w.cusum for w in r.windows],
                            kind=("observed" if r.flag else "model"), dashed=not r.flag) for r in shown]
            top = max(rep.compromise.h * 1.2, *(r.cusum_max for r in shown))
            chart = render_chart(Chart("CUSUM（每个时间窗末）：最高的 5 道题", "曝光次数", "S_t",
                                       (0, max(r.exposures for r in shown)), (0, top), curves=curves,
                                       hlines=[HLine(rep.compromise.h, f"h = {rep.compromise.h:g}")],
                                       css_id="cusum-chart", legend_at="left"))
    return render("reports/post_window.html", rep=rep, chart=chart, font=font_family or default_font_family(),
                  header=f"考后分析报告 {rep.exam_name}（考试 {rep.exam_id}）")
