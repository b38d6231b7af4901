"""Blueprints: loading them (versioned), validating them against the catalog and the bank, their
cut scores, and showing them. The pool an exam of a blueprint draws from is built (and cached) in
``services.mapping``; ``load_pool`` and ``BlueprintPool`` are re-exported here for their callers."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from examengine.db.models import (
    BlueprintVersion,
    Domain,
    Level,
)
from examengine.datafiles import read_blueprint_files, read_blueprints_dir
from examengine.errors import DataFileError, NotFoundError, Problem
from examengine.exam.blueprint import Blueprint
from examengine.exam.items import is_provisional
from examengine.irt.params import ItemParams
from examengine.irt.tcc import percent_correct_at, theta_for_percent_correct
# load_pool and BlueprintPool are also imported from here by services and tests outside the engine
from examengine.services.mapping import BlueprintPool, blueprint_of, load_pool


# ---------------------------------------------------------------- cut scores


@dataclass(frozen=True)
class ResolvedCut:
    level_name: str
    given: str  # "theta" or "percent_correct"
    theta: float
    percent_correct: float  # on the reference set


def resolve_cuts(bp: Blueprint, params: ItemParams) -> list[ResolvedCut]:
    out, problems = [], []
    for c in bp.cuts:
        if c.theta is not None:
            out.append(ResolvedCut(c.level_name, "theta", c.theta, percent_correct_at(params, c.theta)))
            continue
        theta = theta_for_percent_correct(params, c.percent_correct)
        if theta is None:
            problems.append(Problem(f"{bp.id}.yaml", "", f"cuts.{c.level_name}.percent_correct",
                                    f"{c.percent_correct}% 超出参照题目集的期望得分范围，无法换算为 theta"))
            continue
        out.append(ResolvedCut(c.level_name, "percent_correct", theta, c.percent_correct))
    thetas = [r.theta for r in out]
    if not problems and any(b2 <= a2 for a2, b2 in zip(thetas, thetas[1:])):
        problems.append(Problem(f"{bp.id}.yaml", "", "cuts",
                                "换算后的分数线应按 初级 < 中级 < 高级 递增，实际为 "
                                + "、".join(f"{r.level_name} {r.theta:.3f}" for r in out)))
    if problems:
        raise DataFileError(problems)
    return out


# ---------------------------------------------------------------- validation


def validate_blueprint(db: Session, bp: Blueprint) -> list[Problem]:
    """Check a blueprint against the catalog and the operational bank; every problem names the field."""
    f = f"{bp.id}.yaml"
    problems: list[Problem] = []
    level = db.scalars(select(Level).where(Level.code == bp.id).options(
        selectinload(Level.domains).selectinload(Domain.tasks))).first()
    if level is None:
        return [Problem(f, "", "id", f"标准目录中没有级别 {bp.id}")]
    level_domains = [d.code for d in level.domains]
    for code in bp.domains:
        if code not in level_domains:
            known = db.scalar(select(func.count()).select_from(Domain).where(Domain.code == code))
            why = "不是本级别的工作领域" if known else "标准目录中没有此工作领域代码"
            problems.append(Problem(f, "", f"domains.{code}", f"{code} {why}（本级别：{'、'.join(level_domains)}）"))
    for code in level_domains:
        if code not in bp.domains:
            problems.append(Problem(f, "", "domains", f"缺少工作领域 {code} 的权重（每个工作领域都应列出）"))
    tasks = {t.code: d.code for d in level.domains for t in d.tasks}
    for code, n in bp.task_minimums:
        if code not in tasks:
            problems.append(Problem(f, "", f"task_minimums.{code}", f"{code} 不是本级别的工作任务"))
    if sum(n for _, n in bp.task_minimums) > bp.min_length:
        problems.append(Problem(f, "", "task_minimums", "各工作任务最少题数之和超过了最短长度"))
    if problems:
        return problems
    try:
        bpool = load_pool(db, bp)
    except DataFileError as exc:
        return exc.problems
    # one item per enemy group can be used in an attempt
    usable = _usable_counts(bpool)
    need_total = bp.max_length
    if usable["total"] < need_total:
        problems.append(Problem(f, "", "length.max", f"最长 {bp.max_length} 题，但正式使用的题目（每个互斥组只计一道）"
                                                     f"只有 {usable['total']} 道"))
    for code, n in bp.content_counts(bp.max_length).items():
        have = usable["domain"].get(code, 0)
        if have < n:
            problems.append(Problem(f, "", f"domains.{code}",
                                    f"按权重最长考试需要 {n} 道此领域的题目，正式使用的只有 {have} 道（缺 {n - have} 道）"))
    for t, share in bp.type_shares:
        n = int(np.floor(max(0.0, share - bp.type_tolerance) * bp.max_length))
        have = usable["type"].get(t, 0)
        if have < n:
            problems.append(Problem(f, "", f"item_types.shares.{t}",
                                    f"按题型比例最长考试至少需要 {n} 道{t}题，正式使用的只有 {have} 道"))
    for code, n in bp.task_minimums:
        have = sum(1 for i in range(len(bpool.pool)) if tasks.get(code) == bpool.domains[i])  # upper bound
        if have < n:
            problems.append(Problem(f, "", f"task_minimums.{code}", f"需要 {n} 道，题库中只有 {have} 道"))
    unmet = band_exposure_problem(bp, len(bpool.pool))
    if unmet:
        problems.append(Problem(f, "", "exposure.max_rate", unmet))
    try:
        resolve_cuts(bp, bpool.pool.params)
    except DataFileError as exc:
        problems.extend(exc.problems)
    return problems


def band_exposure_problem(bp: Blueprint, n_items: int) -> str | None:
    """Why a band-deciding blueprint's exposure cap cannot hold on ``n_items`` operational
    items, or None. The exposure rates of the items sum to the mean test length, and a
    band-deciding exam runs nearly every attempt to the maximum length."""
    room = bp.exposure_max_rate * n_items
    if bp.decide != "band" or room >= bp.max_length:
        return None
    return (f"判定等级的考试几乎都答满最长 {bp.max_length} 题；每题最多 {bp.exposure_max_rate:g} 的考生可见时，"
            f"{n_items} 道正式使用的题目平均每人只够 {room:.1f} 题。请把曝光上限提高到至少 "
            f"{np.ceil(bp.max_length / n_items * 100) / 100:g}，或把题库扩充到至少 "
            f"{int(np.ceil(bp.max_length / bp.exposure_max_rate))} 题")


def exposure_capacity(bp: Blueprint, bpool: BlueprintPool, mean_length: float,
                      aim_share: float = 1.0) -> tuple[float, int]:
    """The exposure rates of a pool's items sum to the mean test length, domain by domain:
    ``mean_length`` x weight of every domain has to fit under ``aim_share`` x cap x its
    operational items (Sympson-Hetter calibration aims at a share of the cap). Returns the
    smallest cap (rounded up to 0.01) at which it fits, and the smallest pool laid out by the
    domain weights in which it fits at the blueprint's own cap. Every operational item counts,
    enemies too: an attempt takes one item of an enemy group, but different attempts take
    different ones, so a group of k items holds k x cap of exposure (up to 1)."""
    have = Counter(bpool.domains)
    weights = bp.content_weights()
    ratios = [mean_length / max(len(bpool.domains), 1)]
    ratios += [w * mean_length / max(have.get(code, 0), 1) for code, w in weights.items() if w > 0]
    cap = float(np.ceil(max(ratios) / aim_share * 100 - 1e-9) / 100)
    room = aim_share * bp.exposure_max_rate
    pool = sum(int(np.ceil(w * mean_length / room - 1e-9)) for w in weights.values() if w > 0)
    return cap, pool


def _usable_counts(bpool: BlueprintPool) -> dict:
    in_enemy = {p for g in bpool.pool.enemy_groups for p in g[1:]}  # keep the first of each group
    keep = [i for i in range(len(bpool.pool)) if i not in in_enemy]
    return {"total": len(keep), "domain": Counter(bpool.domains[i] for i in keep),
            "type": Counter(bpool.types[i] for i in keep)}


# ---------------------------------------------------------------- storing and reading


@dataclass(frozen=True)
class BlueprintLoad:
    code: str
    version: int
    action: str  # created / new_version / unchanged


def _canonical(bp: Blueprint) -> dict:
    return json.loads(json.dumps(bp.source, ensure_ascii=False, sort_keys=True, default=str))


def load_blueprints(db: Session, blueprints: list[Blueprint], *, actor: str) -> list[BlueprintLoad]:
    """Validate every blueprint (all problems at once), then store each changed one as a new version."""
    problems = [p for bp in blueprints for p in validate_blueprint(db, bp)]
    if problems:
        raise DataFileError(problems)
    out = []
    for bp in blueprints:
        content = _canonical(bp)
        digest = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        latest = _latest(db, bp.id)
        if latest is not None and latest.sha256 == digest:
            out.append(BlueprintLoad(bp.id, latest.version, "unchanged"))
            continue
        version = 1 if latest is None else latest.version + 1
        level_id = db.scalar(select(Level.id).where(Level.code == bp.id))
        db.add(BlueprintVersion(code=bp.id, version=version, level_id=level_id, name=bp.name, content=content,
                                sha256=digest, created_by=actor))
        from examengine.services import audit

        audit.record(db, actor=actor, action="blueprint.version", target=f"blueprint {bp.id}",
                     before=None if latest is None else {"version": latest.version, "content": latest.content},
                     after={"version": version, "content": content})
        out.append(BlueprintLoad(bp.id, version, "created" if latest is None else "new_version"))
    db.commit()
    return out


def _latest(db: Session, code: str) -> BlueprintVersion | None:
    return db.scalars(select(BlueprintVersion).where(BlueprintVersion.code == code)
                      .order_by(BlueprintVersion.version.desc())).first()


def get_blueprint_version(db: Session, code: str, version: int | None = None) -> tuple[BlueprintVersion, Blueprint]:

    q = select(BlueprintVersion).where(BlueprintVersion.code == code)
    row = (db.scalars(q.where(BlueprintVersion.version == version)).first() if version
           else db.scalars(q.order_by(BlueprintVersion.version.desc())).first())
    if row is None:
        raise NotFoundError("蓝图", code if version is None else f"{code} v{version}")
    return row, blueprint_of(row)


@dataclass(frozen=True)
class BlueprintSummary:
    code: str
    version: int
    name: str
    min_length: int
    max_length: int
    pool_size: int
    created_at: str
    exposure_calibrated: bool  # Sympson-Hetter parameters stored (else online exams run without exposure control)
    # operational items of the pool with provisional parameters (exam.items.is_provisional): results
    # of an exam on them are marked 暂定 until the items are calibrated
    pool_provisional: int = 0


def exposure_calibrated(row: BlueprintVersion) -> bool:
    """Whether Sympson-Hetter parameters are stored with this version (without them online exams
    run with no exposure control)."""
    return bool((row.exposure or {}).get("k"))


def list_blueprints(db: Session) -> list[BlueprintSummary]:
    out = []
    codes = sorted(set(db.scalars(select(BlueprintVersion.code))))
    for code in codes:
        row, bp = get_blueprint_version(db, code)
        try:
            bpool = load_pool(db, bp)
            size, provisional = len(bpool.pool), sum(1 for o in bpool.origins if is_provisional(o))
        except DataFileError:
            size, provisional = 0, 0
        out.append(BlueprintSummary(code, row.version, row.name, bp.min_length, bp.max_length, size,
                                    row.created_at.isoformat(timespec="seconds"),
                                    exposure_calibrated(row), provisional))
    return out


@dataclass(frozen=True)
class DomainView:
    code: str
    name: str
    weight: float
    items_at_max_length: int
    operational_items: int


@dataclass(frozen=True)
class BlueprintView:
    code: str
    version: int
    name: str
    standard: str
    level: str
    registered_level: str
    domains: list[DomainView]
    lower_level_share: float
    task_minimums: dict[str, int]
    item_types: dict[str, float]
    type_tolerance: float
    length: dict[str, int]
    se_target: float | None
    confidence: float
    decide: str  # pass_fail or band: what the adaptive exam's CI rule decides
    cuts: list[ResolvedCut]
    reference_set: str
    reporting: dict[str, float]
    exposure_max_rate: float
    exposure_calibrated: bool
    progressive_items: int  # opening items chosen by the progressive method (0: off)
    start: dict
    pretest: dict
    time_limit_minutes: int
    pool_size: int
    pool_types: dict[str, int]


def show_blueprint(db: Session, code: str, version: int | None = None) -> BlueprintView:
    row, bp = get_blueprint_version(db, code, version)
    bpool = load_pool(db, bp)
    names = {d.code: d.name for d in db.scalars(select(Domain).where(Domain.code.in_(bp.domains)))}
    counts = bp.domain_counts(bp.max_length)
    have = Counter(bpool.domains)
    return BlueprintView(
        code=row.code, version=row.version, name=row.name, standard=bp.standard, level=bp.level,
        registered_level=bp.registered_level_name,
        domains=[DomainView(c, names.get(c, ""), w, counts[c], have.get(c, 0)) for c, w in bp.domain_weights],
        lower_level_share=bp.lower_level_share, task_minimums=dict(bp.task_minimums),
        item_types={t: dict(bp.type_shares)[t] for t in ("单选", "多选", "判断") if t in dict(bp.type_shares)},
        type_tolerance=bp.type_tolerance,
        length={"min": bp.min_length, "max": bp.max_length}, se_target=bp.se_target, confidence=bp.confidence,
        decide=bp.decide.value, cuts=resolve_cuts(bp, bpool.pool.params),
        reference_set=f"{bp.id} 的正式使用题目（{len(bpool.pool)} 道，当前参数）",
        reporting={"pass_score": bp.pass_score, "theta_min": bp.theta_min, "theta_max": bp.theta_max},
        exposure_max_rate=bp.exposure_max_rate, exposure_calibrated=exposure_calibrated(row),
        progressive_items=bp.progressive_items, start={"rule": bp.start_rule.value, "interval": list(bp.start_interval)},
        pretest={"count": bp.pretest_count, "positions": list(bp.pretest_positions)},
        time_limit_minutes=bp.time_limit_minutes, pool_size=len(bpool.pool), pool_types=dict(Counter(bpool.types)),
    )


def validate_blueprint_files(db: Session, files: Sequence[Path], folder: Path) -> list[Blueprint]:
    """``examengine blueprints validate``: read the blueprint ``files`` (every one of ``folder``
    when none is given) and check each against the catalog and the bank (``validate_blueprint``);
    a DataFileError lists every problem of every file."""
    bps = read_blueprint_files(list(files)) if files else read_blueprints_dir(folder)
    problems = [p for bp in bps for p in validate_blueprint(db, bp)]
    if problems:
        raise DataFileError(problems)
    return bps
