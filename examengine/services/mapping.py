"""The one place rows of the database become pure objects: item versions (ItemDraft), and the
engine's inputs - a stored blueprint version (Blueprint), the pool an exam of it draws from
(ItemPool), its CatPolicy, its stored exposure parameters, and an attempt's replayed CatState.

It is also the home of every per-process cache of them. Each cache only saves work: it is keyed
on everything its value is built from (the bank revision, ``db.revision``, raised in the
transaction of every change a pool or a blueprint version's exposure parameters are built from,
and the database) and is rebuilt from the database on a miss, so workers that disagree about
what is cached still agree about every answer.

Public: ``engine(db, attempt)``, ``content(db, row)``, ``cached_content``, ``load_pool``,
``bank_stamp``, ``blueprint_of``, ``blueprint_by_id``, ``stored_exposure``, ``version_to_draft``,
``current_version``; ``cached_state``/``hold_state``/``forget_state`` (what this process holds
of an attempt's engine state) and ``clear_caches()``.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from examengine.datafiles import blueprint_from_dict
from examengine.db.models import (
    Attempt,
    AttemptItem,
    BlueprintVersion,
    Item,
    ItemVersion,
    ItemVersionRequirement,
    Level,
    Requirement,
    Standard,
    Task,
)
from examengine.db.revision import bank_revision
from examengine.errors import DataFileError, NotFoundError, Problem
from examengine.exam.blueprint import LOWER_LEVEL, Blueprint
from examengine.exam.cat import CatState, StoredResponse, replay
from examengine.db.models import ItemImage as ItemImageRow
from examengine.exam.items import LETTERS, IrtData, IrtModel, ItemDraft, ItemImage, ItemType
from examengine.exam.policy import CatPolicy, blueprint_policy
from examengine.exam.pool import ItemPool
from examengine.exam.scoring import StoredResult
from examengine.irt.exposure import ExposureParameters
from examengine.irt.params import ItemParams

_LOCK = threading.Lock()


# ---------------------------------------------------------------- items


def version_to_draft(item: Item, version: ItemVersion) -> ItemDraft:
    return ItemDraft(
        external_id=item.external_id,
        type=ItemType(version.type),
        stem=version.stem,
        options=tuple(version.options),
        key=tuple(version.key),
        explanation=version.explanation,
        requirements=tuple(r.requirement.code for r in version.requirements),
        difficulty=version.difficulty,
        author=item.author,
        source=item.source,
        enemy_group=item.enemy_group,
        images=tuple(ItemImage(i.name, i.media_type, i.data, i.alt or "") for i in version.images),
        irt=IrtData(IrtModel(version.irt_model), version.irt_a, version.irt_b, version.irt_c, version.irt_origin),
        location=item.external_id,
    )


def current_version(item: Item) -> ItemVersion:
    return next(v for v in item.versions if v.number == item.current_version)


# ---------------------------------------------------------------- blueprint versions

# A stored version never changes (a changed YAML is stored as a new version): parsed once.
_PARSED: dict[tuple[int, str], Blueprint] = {}


def blueprint_of(row: BlueprintVersion) -> Blueprint:
    """The Blueprint of a stored version (parsed once per process)."""
    bp = _PARSED.get((row.id, row.sha256))
    if bp is None:
        bp = _PARSED[(row.id, row.sha256)] = blueprint_from_dict(row.content, f"{row.code}.yaml")
    return bp


def blueprint_by_id(db: Session, version_id: int) -> tuple[BlueprintVersion, Blueprint]:
    """A stored blueprint version by its row id (what an attempt records)."""
    row = db.get(BlueprintVersion, version_id)
    if row is None:
        raise NotFoundError("蓝图版本", str(version_id))
    return row, blueprint_of(row)


def stored_exposure(row: BlueprintVersion | _BlueprintRow, pool: ItemPool) -> ExposureParameters | None:
    """The blueprint version's stored Sympson-Hetter parameters for this pool: items retired
    since the calibration are dropped; an item that joined the pool since has K = 1 (no
    restriction yet, as at the start of a calibration) until the next `exposure calibrate`.
    None when nothing is stored or none of the pool's items was calibrated."""
    data = (row.exposure or {}).get("k")
    if not data or not any(i in data for i in pool.item_ids):
        return None
    return ExposureParameters(np.array([float(data.get(i, 1.0)) for i in pool.item_ids]),
                              target=row.exposure.get("target"))


# ---------------------------------------------------------------- the pool of a blueprint


@dataclass(frozen=True)
class BlueprintPool:
    """The operational items an exam of a blueprint draws from, as the engine's ItemPool,
    with the item versions behind each position."""

    pool: ItemPool
    version_ids: tuple[int, ...]
    domains: tuple[str, ...]  # per position: the domain code, or "lower-level"
    types: tuple[str, ...]  # per position: 单选 / 多选 / 判断
    origins: tuple[str, ...] = ()  # per position: the version's irt_origin (exam.items.ParameterOrigin)
    keys: tuple[str, ...] = ()  # per position: the key's letters ("B", "AD"; 判断 A is 对)


# Pools are rebuilt from the database whenever the bank changes. The cache is per process and
# keyed on the bank revision (examengine.db.revision: a counter raised in the transaction of
# every change to items, versions, tags or the catalog), so several workers never disagree:
# each rebuilds the same pool after the same commit.
_POOL_CACHE: dict[tuple, BlueprintPool] = {}
_POOL_CACHE_MAX = 64


def bank_stamp(db: Session) -> tuple:
    """What a cached pool is valid for: the bank revision and the database."""
    return (bank_revision(db), str(db.get_bind().url))


def load_pool(db: Session, bp: Blueprint, *, status: str = "operational",
              include_versions: frozenset[int] = frozenset(), stamp: tuple | None = None) -> BlueprintPool:
    """Items of the blueprint's level (and of lower levels when ``lower_level_share`` > 0)
    in ``status``, current versions, with their content areas (domain, type) and enemy groups.
    ``include_versions``: item versions an attempt already used, kept in its pool even if their
    item has since left the operational pool (so the attempt replays unchanged). ``stamp``: the
    caller's :func:`bank_stamp` of this transaction, when it has read it already."""
    stamp = (bp.id, bp.standard, bp.rank, bp.lower_level_share, status, *(stamp or bank_stamp(db)))
    base = _POOL_CACHE.get((stamp, frozenset()))
    if base is None:
        base = _build_pool(db, bp, status=status, include_versions=frozenset())
        _store(stamp, frozenset(), base)
    if include_versions <= set(base.version_ids):  # the usual case: the pool already holds them
        return base
    key = (stamp, include_versions)
    cached = _POOL_CACHE.get(key)
    if cached is not None:
        return cached
    built = _build_pool(db, bp, status=status, include_versions=include_versions)
    _store(stamp, include_versions, built)
    return built


def _store(stamp: tuple, include: frozenset[int], pool: BlueprintPool) -> None:
    if len(_POOL_CACHE) >= _POOL_CACHE_MAX:
        _POOL_CACHE.clear()
    _POOL_CACHE[(stamp, include)] = pool


def _build_pool(db: Session, bp: Blueprint, *, status: str, include_versions: frozenset[int]) -> BlueprintPool:
    levels = list(db.scalars(select(Level).join(Standard).where(Standard.code == bp.standard)))
    wanted = {lv.id: lv for lv in levels if lv.rank == bp.rank or (bp.lower_level_share > 0 and lv.rank < bp.rank)}
    items = list(db.scalars(
        select(Item).where(Item.level_id.in_(wanted), Item.status == status).order_by(Item.external_id).options(
            selectinload(Item.versions).selectinload(ItemVersion.requirements)
            .selectinload(ItemVersionRequirement.requirement).selectinload(Requirement.task)
            .selectinload(Task.domain)
        )
    ))
    ids, a, b, c, vids, doms, types, origins, keys = [], [], [], [], [], [], [], [], []
    enemies: dict[str, list[str]] = {}
    chosen = [(it, current_version(it)) for it in items]
    have = {v.id for _, v in chosen}
    missing = include_versions - have
    if missing:
        for v in db.scalars(select(ItemVersion).where(ItemVersion.id.in_(missing)).options(
                selectinload(ItemVersion.item),
                selectinload(ItemVersion.requirements).selectinload(ItemVersionRequirement.requirement)
                .selectinload(Requirement.task).selectinload(Task.domain))):
            if v.item.level_id not in wanted:
                wanted[v.item.level_id] = db.get(Level, v.item.level_id)
            chosen = [(it, cv) for it, cv in chosen if it.id != v.item_id] + [(v.item, v)]
    for it, v in chosen:
        ids.append(it.external_id)
        a.append(v.irt_a)
        b.append(v.irt_b)
        c.append(v.irt_c)
        vids.append(v.id)
        origins.append(v.irt_origin)
        first = v.requirements[0].requirement.task.domain
        doms.append(first.code if wanted[it.level_id].rank == bp.rank else LOWER_LEVEL)
        types.append(v.type)
        keys.append("".join(LETTERS[k] for k in sorted(v.key)))
        if it.enemy_group:
            enemies.setdefault(it.enemy_group, []).append(it.external_id)
    params = ItemParams.three_pl(np.array(a, float), np.array(b, float), np.array(c, float)) if ids else None
    if params is None:
        raise DataFileError([Problem(f"{bp.id}.yaml", "", "domains", f"题库中没有 {bp.id} 可用的正式使用题目")])
    pool = ItemPool.build(ids, params, content={"domain": doms, "type": types}, enemy_groups=enemies.values())
    return BlueprintPool(pool, tuple(vids), tuple(doms), tuple(types), tuple(origins), tuple(keys))


# ---------------------------------------------------------------- an attempt's engine, rebuilt from rows


@dataclass(frozen=True)
class Engine:
    """What the CAT engine needs for the next step of an attempt, rebuilt from its rows."""

    bp: Blueprint
    pool: ItemPool
    policy: CatPolicy
    exposure: ExposureParameters | None  # stored Sympson-Hetter parameters (None: no exposure control)
    state: CatState  # the attempt's answered scored items replayed
    domains: tuple[str, ...]  # per pool position: the domain code, or "lower-level"
    version_ids: tuple[int, ...]  # per pool position: the item version
    origins: tuple[str, ...] = ()  # per pool position: the version's irt_origin


@dataclass(frozen=True)
class _BlueprintRow:
    """The parts of a BlueprintVersion row the engine reads (a detached ORM row would not do)."""

    id: int
    sha256: str
    exposure: dict | None


@dataclass(frozen=True, slots=True)
class CachedState:
    """What this process holds of an attempt's engine state: the state after ``responses``, for
    the pool and policy it was replayed on (held weakly) and the attempt's seed."""

    pool_ref: weakref.ref[ItemPool]
    policy_ref: weakref.ref[CatPolicy]
    seed: int
    responses: tuple[StoredResponse, ...]
    state: CatState


# States are immutable (exam.cat.CatState), so a cached state of an attempt's first k answers is
# extended by the answers that came after it, in any worker.
_POLICIES: dict[tuple, tuple[weakref.ref[ItemPool], CatPolicy, ExposureParameters | None]] = {}
_STATES: OrderedDict[int, CachedState] = OrderedDict()
_STATES_MAX = 4096
# Blueprint versions by (row id, bank stamp): the YAML of a version never changes, and storing its
# Sympson-Hetter parameters raises the bank revision (db.revision watches BlueprintVersion).
_BLUEPRINTS: dict[tuple, tuple[_BlueprintRow, Blueprint]] = {}


def _blueprint(db: Session, version_id: int, stamp: tuple) -> tuple[_BlueprintRow, Blueprint]:
    key = (version_id, stamp)
    hit = _BLUEPRINTS.get(key)
    if hit is None:
        row, bp = blueprint_by_id(db, version_id)
        hit = (_BlueprintRow(row.id, row.sha256, row.exposure), bp)
        with _LOCK:
            if len(_BLUEPRINTS) > 256:
                _BLUEPRINTS.clear()
            _BLUEPRINTS[key] = hit
    return hit


# Pools and policies are held by weak reference: the caches never keep a pool alive that the
# pool cache has dropped (a pool may weigh a few hundred KB), they just miss and rebuild.


def _policy(row: _BlueprintRow, bp: Blueprint, cuts: tuple, pool: ItemPool, stamp: tuple
            ) -> tuple[CatPolicy, ExposureParameters | None]:
    """The policy and the stored exposure parameters of a blueprint version on a pool."""
    key = (row.id, row.sha256, cuts, id(pool), stamp)
    hit = _POLICIES.get(key)
    if hit is not None and hit[0]() is pool:
        return hit[1], hit[2]
    policy = blueprint_policy(bp, cuts, pool=pool)
    exposure = stored_exposure(row, pool)
    with _LOCK:
        if len(_POLICIES) > 256:
            _POLICIES.clear()
        _POLICIES[key] = (weakref.ref(pool), policy, exposure)
    return policy, exposure


def _state(attempt: Attempt, pool: ItemPool, policy: CatPolicy, responses: tuple[StoredResponse, ...]) -> CatState:
    with _LOCK:
        hit = _STATES.get(attempt.id)
    done = 0
    start = None
    if (hit is not None and hit.pool_ref() is pool and hit.policy_ref() is policy and hit.seed == attempt.seed
            and responses[: len(hit.responses)] == hit.responses):
        start, done = hit.state, len(hit.responses)
    state = replay(pool, policy, seed=attempt.seed, responses=responses[done:], state=start)
    hold_state(attempt.id, CachedState(weakref.ref(pool), weakref.ref(policy), attempt.seed, responses, state))
    return state


def engine(db: Session, attempt: Attempt) -> Engine:
    """The engine of an attempt: its blueprint version, its pool (the items it already used kept
    in), the policy and stored exposure parameters, and its state replayed from its answered
    scored rows (extending this process's cached state when it is a prefix of them)."""
    stamp = bank_stamp(db)
    row, bp = _blueprint(db, attempt.blueprint_version_id, stamp)
    used = frozenset(r.item_version_id for r in attempt.items if r.scored)
    bpool = load_pool(db, bp, include_versions=used, stamp=stamp)
    policy, exposure = _policy(row, bp, tuple(attempt.cuts), bpool.pool, stamp)
    responses = tuple(StoredResponse(r.external_id, int(r.score), True, tuple(r.set_aside or ()))
                      for r in attempt.items if r.scored and r.answer is not None)
    state = _state(attempt, bpool.pool, policy, responses)
    return Engine(bp, bpool.pool, policy, exposure, state, bpool.domains, bpool.version_ids, bpool.origins)


def cached_state(attempt_id: int) -> CachedState | None:
    """What this process holds of the attempt's engine state (None: nothing)."""
    with _LOCK:
        return _STATES.get(attempt_id)


def hold_state(attempt_id: int, held: CachedState) -> None:
    """Hold ``held`` as this process's engine state of the attempt (the least recently used
    states are dropped beyond a few thousand)."""
    with _LOCK:
        _STATES[attempt_id] = held
        _STATES.move_to_end(attempt_id)
        while len(_STATES) > _STATES_MAX:
            _STATES.popitem(last=False)


def forget_state(attempt_id: int) -> None:
    """Drop this process's engine state of the attempt (the next step replays it in full)."""
    with _LOCK:
        _STATES.pop(attempt_id, None)


# ---------------------------------------------------------------- what a candidate is shown


@dataclass(frozen=True)
class VersionContent:
    type: str
    stem: str
    options: tuple[str, ...]
    key: tuple[int, ...]
    alts: tuple[tuple[str, str], ...] = ()  # (picture name, description) of the pictures described


# What a candidate sees of a frozen item version, by (database, version id): a frozen version never
# changes (services.items.edit_item makes a new version), and every version an attempt shows is
# frozen in the transaction that stores it.
_CONTENT: OrderedDict[tuple, VersionContent] = OrderedDict()
_CONTENT_MAX = 20000


def _database(db: Session) -> str:
    return str(db.get_bind().url)


def cached_content(db: Session, version_id: int) -> VersionContent | None:
    """The cached content of a frozen item version (None: not cached in this process)."""
    return _CONTENT.get((_database(db), version_id))


def content(db: Session, row: AttemptItem) -> VersionContent:
    """The content of the item version an attempt row shows (cached once the version is frozen)."""
    key = (_database(db), row.item_version_id)
    hit = _CONTENT.get(key)
    if hit is not None:
        return hit
    v = row.version
    alts = tuple(db.execute(select(ItemImageRow.name, ItemImageRow.alt).where(
        ItemImageRow.version_id == v.id, ItemImageRow.alt != "").order_by(ItemImageRow.name)).tuples()) if "[图片:" in v.stem else ()
    found = VersionContent(v.type, v.stem, tuple(v.options), tuple(v.key), alts)
    if v.frozen:
        with _LOCK:
            _CONTENT[key] = found
            while len(_CONTENT) > _CONTENT_MAX:
                _CONTENT.popitem(last=False)
    return found


def clear_caches() -> None:
    """Forget everything this process has cached (every cache rebuilds on its next miss)."""
    with _LOCK:
        for cache in (_PARSED, _POOL_CACHE, _BLUEPRINTS, _POLICIES, _STATES, _CONTENT):
            cache.clear()


def stored_result(data: dict | None) -> StoredResult | None:
    """An attempt's result JSON column read back into its dataclass (the one place it is read)."""
    return None if data is None else StoredResult.from_dict(data)
