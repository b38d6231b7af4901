"""Automated assembly of parallel fixed forms: a mixed-integer programme solved by HiGHS
through ``scipy.optimize.milp`` (van der Linden 2005, *Linear Models for Optimal Test
Design*, ch. 4 and 6).

Variables: x[i, f] in {0, 1} (item i on form f), one continuous objective variable y (or t),
and, when forms may share items, z[i, p] in [0, 1] for each pair p = (f, g) of forms.

    maximise  y                                              (MAXIMIN)
    s.t.      sum_i I_i(theta_k) x[i, f] >= y                for every form f, target theta_k
    or
    minimise  t                                              (TARGET)
    s.t.      |sum_i I_i(theta_k) x[i, f] - T_k| <= t        for every form f, target theta_k

and, for every form,

    sum_i x[i, f] = n                                        length
    l_c <= sum_{i in c} x[i, f] <= u_c                       each content category c
    sum_{i in c} x[i, f] = sum_{i in c} x[i, 0]              categories kept equal across forms
    sum_{i in e} x[i, f] <= 1                                each enemy group e
    x[i, f] = 0                                              ineligible items (not operational,
                                                             recently used)
    (1 - tau/2) I_f(theta_m) - (1 + tau/2) I_g(theta_m) <= 0 every ordered pair of forms and
                                                             parallel theta_m: |I_f - I_g| <=
                                                             tau * (I_f + I_g) / 2
    sum_f x[i, f] <= 1                                       no shared items (max_overlap 0), or
    x[i, f] + x[i, g] - z[i, p] <= 1, sum_i z[i, p] <= k     at most k shared items per pair;
    r_lo sum_{i in S} x[i, f] - s <= sum_{i in M} x[i, f]   each proportion: the items of M (the
                          <= r_hi sum_{i in S} x[i, f] + s   单选 keyed C) as a share of those of S
                                                             (the form's 单选), within a slack s.

Maximin alone leaves forms unequal where the constraint is slack (at theta 0 one form may be
10 % weaker); the relative band tau on the parallel thetas is what makes forms interchangeable.

The request is checked before solving (``check_feasibility``): for each category, a form needs
at least l_c items of it, no more than one per enemy group, and F forms need at least
F l_c - C(F, 2) k distinct items (inclusion-exclusion); every shortfall is named. The solver
runs with a relative gap and a time limit and the achieved gap is reported. Given the seed
(which permutes the columns) the result is deterministic unless the time limit cuts the
search short.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from enum import Enum
from itertools import combinations, permutations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from .models import item_information
from .params import FloatArray, ItemParams

BoolArray = NDArray[np.bool_]


class Objective(Enum):
    MAXIMIN = "maximin"  # maximise the smallest information at the target thetas
    TARGET = "target"  # minimise the largest deviation from a target information curve


@dataclass(frozen=True)
class Category:
    """A content category (a work domain, an item type): ``members`` (n_items,) bool; every
    form holds between ``lower`` and ``upper`` of its items; ``equal_across_forms``: every
    form holds the same number. ``label`` names it in messages (Chinese)."""

    group: str
    area: str
    label: str
    members: BoolArray
    lower: int
    upper: int
    equal_across_forms: bool = False


@dataclass(frozen=True)
class Proportion:
    """The items of ``members`` on each form as a share of the items of ``of`` on it:
    ``lower`` * n_of - ``slack`` <= n_members <= ``upper`` * n_of + ``slack`` (linear in x, as
    n_of is itself a sum of x). Balances keys: the 单选 keyed C within 1/4 of the form's 单选,
    the 判断 keyed 对 within 30-70 % of its 判断. ``of_lower``: the fewest items of ``of`` a form
    may hold (from its category), for the counting check. ``label`` names it in messages."""

    group: str
    area: str
    label: str
    members: BoolArray
    of: BoolArray
    lower: float
    upper: float
    slack: float = 0.0
    of_lower: int = 0

    def least(self) -> int:
        """The fewest members a form holding ``of_lower`` items of ``of`` needs."""
        return max(0, int(np.ceil(self.lower * self.of_lower - self.slack - 1e-9)))


@dataclass(frozen=True)
class AssemblySpec:
    """What to assemble. ``thetas``: where the objective looks (the cut scores);
    ``parallel_thetas``: where forms must agree within ``parallel_tolerance`` (relative to the
    pair's mean information). ``eligible`` (n_items,) bool; ``excluded_reason`` explains the
    ineligible items in messages."""

    n_forms: int
    length: int
    thetas: tuple[float, ...]
    parallel_thetas: tuple[float, ...]
    categories: tuple[Category, ...] = ()
    proportions: tuple[Proportion, ...] = ()
    enemy_groups: tuple[tuple[int, ...], ...] = ()
    eligible: BoolArray | None = None
    excluded_reason: str = ""
    max_overlap: int = 0
    parallel_tolerance: float = 0.03
    objective: Objective = Objective.MAXIMIN
    target: tuple[float, ...] | None = None  # T_k at ``thetas`` for Objective.TARGET
    rel_gap: float = 1e-3
    time_limit: float = 30.0
    seed: int = 0


@dataclass(frozen=True)
class Shortfall:
    """One reason a request cannot be met: the constraint, how many items are needed, how many
    are available, and a message naming them."""

    constraint: str  # length / category / overlap / proportion / solver
    group: str
    area: str
    needed: int
    available: int
    message: str

    @property
    def missing(self) -> int:
        return max(0, self.needed - self.available)


class InfeasibleAssemblyError(ValueError):
    """No set of forms meets the request; ``shortfalls`` says where and by how many items."""

    def __init__(self, shortfalls: list[Shortfall]) -> None:
        self.shortfalls = list(shortfalls)
        super().__init__("；".join(s.message for s in self.shortfalls))


@dataclass(frozen=True)
class AssembledForms:
    """``forms[f]``: the item positions of form f (ascending). ``information`` (F, K) at
    ``report_thetas``; ``difference[k]`` = (max_f - min_f) / mean_f of the information at
    ``report_thetas[k]``. ``gap``: HiGHS's relative MIP gap at the end; ``status``: optimal
    (within ``rel_gap``) or time_limit (best feasible found)."""

    forms: tuple[NDArray[np.intp], ...]
    report_thetas: tuple[float, ...]
    information: FloatArray
    difference: FloatArray
    objective: float
    dual_bound: float | None
    gap: float | None
    status: str
    seconds: float
    n_variables: int
    n_constraints: int
    shared: dict[tuple[int, int], int] = field(default_factory=dict)

    @property
    def max_difference(self) -> float:
        return float(self.difference.max()) if self.difference.size else 0.0


def _pairs_needed(n_forms: int, per_form: int, overlap: int) -> int:
    """Distinct items F forms of ``per_form`` items each need when a pair may share at most
    ``overlap``: at least max(per_form, F per_form - C(F, 2) min(overlap, per_form))."""
    pairs = n_forms * (n_forms - 1) // 2
    return max(per_form, n_forms * per_form - pairs * min(overlap, per_form))


def _per_form_available(members: BoolArray, eligible: BoolArray, enemy_groups) -> int:
    """Items of ``members`` one form can hold: each enemy group counts once."""
    usable = members & eligible
    count = int(usable.sum())
    for group in enemy_groups:
        inside = sum(1 for i in group if usable[i])
        count -= max(0, inside - 1)
    return count


def check_feasibility(spec: AssemblySpec, n_items: int) -> list[Shortfall]:
    """Counting checks made before solving; each shortfall names the constraint and the gap."""
    eligible = np.ones(n_items, bool) if spec.eligible is None else np.asarray(spec.eligible, bool)
    out: list[Shortfall] = []
    F, L, k = spec.n_forms, spec.length, spec.max_overlap
    excluded = n_items - int(eligible.sum())
    why = f"（另有 {excluded} 道{spec.excluded_reason or '不可用'}已排除）" if excluded else ""
    share = "互不重复" if k == 0 else f"两两最多重复 {k} 道"
    everything = np.ones(n_items, bool)
    per_form = _per_form_available(everything, eligible, spec.enemy_groups)
    if per_form < L:
        out.append(Shortfall("length", "", "", L, per_form,
                             f"每套试卷 {L} 题，可用题目（每个互斥组只计一道）只有 {per_form} 道，缺 {L - per_form} 道{why}"))
    need = _pairs_needed(F, L, k)
    have = int(eligible.sum())
    if F > 1 and have < need:
        out.append(Shortfall("overlap", "", "", need, have,
                             f"{F} 套各 {L} 题、{share}，至少需要 {need} 道不同的题目，可用的只有 {have} 道，"
                             f"缺 {need - have} 道{why}"))
    for cat in spec.categories:
        members = np.asarray(cat.members, bool)
        pf = _per_form_available(members, eligible, spec.enemy_groups)
        if pf < cat.lower:
            out.append(Shortfall("category", cat.group, cat.area, cat.lower, pf,
                                 f"{cat.label}：每套至少需要 {cat.lower} 道，可用的（每个互斥组只计一道）只有 {pf} 道，"
                                 f"缺 {cat.lower - pf} 道{why}"))
            continue
        need = _pairs_needed(F, cat.lower, k)
        have = int((members & eligible).sum())
        if F > 1 and have < need:
            out.append(Shortfall("category", cat.group, cat.area, need, have,
                                 f"{cat.label}：{F} 套各需 {cat.lower} 道、{share}，共需 {need} 道，"
                                 f"可用的只有 {have} 道（缺 {need - have} 道）{why}"))
    for prop in spec.proportions:
        least = prop.least()
        if least == 0:
            continue
        members = np.asarray(prop.members, bool)
        pf = _per_form_available(members, eligible, spec.enemy_groups)
        if pf < least:
            out.append(Shortfall("proportion", prop.group, prop.area, least, pf,
                                 f"{prop.label}：为使答案分布均衡，每套至少需要 {least} 道，可用的（每个互斥组只计一道）"
                                 f"只有 {pf} 道，缺 {least - pf} 道{why}"))
            continue
        need = _pairs_needed(F, least, k)
        have = int((members & eligible).sum())
        if F > 1 and have < need:
            out.append(Shortfall("proportion", prop.group, prop.area, need, have,
                                 f"{prop.label}：为使答案分布均衡，{F} 套各需至少 {least} 道、{share}，共需 {need} 道，"
                                 f"可用的只有 {have} 道（缺 {need - have} 道）{why}"))
    return out


def assemble_forms(params: ItemParams, spec: AssemblySpec) -> AssembledForms:
    """Solve the MILP of the module docstring. Raises InfeasibleAssemblyError (with every
    counting shortfall, or the solver's verdict when the counts alone do not explain it)."""
    started = time.perf_counter()
    n, F, L = params.n_items, spec.n_forms, spec.length
    if F < 1 or L < 1:
        raise ValueError(f"need at least one form of at least one item, got {F} x {L}")
    if spec.objective is Objective.TARGET and (spec.target is None or len(spec.target) != len(spec.thetas)):
        raise ValueError("a TARGET objective needs one target information value per theta")
    shortfalls = check_feasibility(spec, n)
    if shortfalls:
        raise InfeasibleAssemblyError(shortfalls)

    perm = np.random.default_rng(spec.seed).permutation(n)  # column order: ties break by seed
    inv = np.empty(n, np.intp)
    inv[perm] = np.arange(n)
    eligible = np.ones(n, bool) if spec.eligible is None else np.asarray(spec.eligible, bool)

    thetas = np.asarray(spec.thetas, float)
    par = np.asarray(spec.parallel_thetas, float)
    info = item_information(thetas, params)[:, perm]  # (K, n), permuted columns
    pinfo = item_information(par, params)[:, perm] if par.size else np.zeros((0, n))
    pairs = list(combinations(range(F), 2)) if spec.max_overlap > 0 and F > 1 else []
    nx = n * F
    nz = n * len(pairs)
    obj_col = nx + nz
    ncol = obj_col + 1

    def xcol(f: int) -> NDArray[np.intp]:
        return f * n + np.arange(n)

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []

    def add(c: NDArray[np.intp] | list[int], v, lower: float, upper: float) -> None:
        r = len(lo)
        c = np.asarray(c, np.intp)
        rows.extend([r] * c.size)
        cols.extend(c.tolist())
        vals.extend(np.broadcast_to(np.asarray(v, float), c.shape).tolist())
        lo.append(lower)
        hi.append(upper)

    for f in range(F):
        add(xcol(f), 1.0, L, L)
        for k in range(thetas.size):
            if spec.objective is Objective.MAXIMIN:  # I_f(theta_k) - y >= 0
                add(np.append(xcol(f), obj_col), np.append(info[k], -1.0), 0.0, np.inf)
            else:  # I_f - T_k <= t and T_k - I_f <= t
                t_k = float(spec.target[k])
                add(np.append(xcol(f), obj_col), np.append(info[k], -1.0), -np.inf, t_k)
                add(np.append(xcol(f), obj_col), np.append(info[k], 1.0), t_k, np.inf)
        for cat in spec.categories:
            m = np.flatnonzero(np.asarray(cat.members, bool)[perm])
            add(f * n + m, 1.0, cat.lower, cat.upper)
            if cat.equal_across_forms and f > 0:
                add(np.concatenate([f * n + m, m]), np.concatenate([np.ones(m.size), -np.ones(m.size)]), 0.0, 0.0)
        for group in spec.enemy_groups:
            add(f * n + inv[list(group)], 1.0, -np.inf, 1.0)
        for prop in spec.proportions:  # n_M - r n_S within [-s, s] for r = lower (>=) and upper (<=)
            m = np.asarray(prop.members, bool)[perm].astype(float)
            of = np.asarray(prop.of, bool)[perm].astype(float)
            add(xcol(f), m - prop.lower * of, -prop.slack, np.inf)
            add(xcol(f), m - prop.upper * of, -np.inf, prop.slack)
    tau = spec.parallel_tolerance
    for f, g in permutations(range(F), 2):
        for m in range(par.size):
            add(np.concatenate([xcol(f), xcol(g)]), np.concatenate([(1 - tau / 2) * pinfo[m], -(1 + tau / 2) * pinfo[m]]),
                -np.inf, 0.0)
    if F > 1 and spec.max_overlap == 0:
        for i in range(n):
            add(np.arange(F) * n + i, 1.0, -np.inf, 1.0)
    for p, (f, g) in enumerate(pairs):
        zc = nx + p * n + np.arange(n)
        for i in range(n):
            add([f * n + i, g * n + i, int(zc[i])], [1.0, 1.0, -1.0], -np.inf, 1.0)
        add(zc, 1.0, -np.inf, spec.max_overlap)

    a = coo_matrix((vals, (rows, cols)), shape=(len(lo), ncol)).tocsr()
    c = np.zeros(ncol)
    c[obj_col] = -1.0 if spec.objective is Objective.MAXIMIN else 1.0
    upper = np.ones(ncol)
    upper[:nx] = np.tile(eligible[perm], F).astype(float)
    upper[obj_col] = np.inf
    lower = np.zeros(ncol)
    integrality = np.zeros(ncol)
    integrality[:nx] = 1
    res = milp(c, constraints=LinearConstraint(a, lo, hi), integrality=integrality, bounds=Bounds(lower, upper),
               options={"mip_rel_gap": spec.rel_gap, "time_limit": spec.time_limit, "presolve": True})
    if res.x is None:
        reason = ("在时限内未找到可行解" if res.status == 1 else "各约束组合起来无法同时满足")
        if spec.proportions and res.status != 1 and _feasible_without_proportions(params, spec):
            labels = "、".join(p.label for p in spec.proportions)
            raise InfeasibleAssemblyError([Shortfall(
                "proportion", "", "", 0, 0,
                f"答案均衡约束无法满足：不考虑答案分布时可以组卷，但题库中各答案的题目不足以让每套试卷的答案均衡"
                f"（{labels}）。请补充答案较少的题目，或减少套数、允许重复")])
        raise InfeasibleAssemblyError([Shortfall(
            "solver", "", "", 0, 0,
            f"{reason}（题数已逐项核对足够；可能是平行带宽 {tau:.0%}、题型与工作领域的搭配、答案均衡或互斥组共同造成，"
            f"可放宽平行带宽、允许重复或减少题数；求解器：{res.message}）")])
    x = res.x[:nx].reshape(F, n) > 0.5
    forms = tuple(np.sort(perm[np.flatnonzero(x[f])]) for f in range(F))
    report = tuple(sorted(set(spec.thetas) | set(spec.parallel_thetas)))
    rinfo = item_information(np.asarray(report, float), params)  # (K, n)
    information = np.array([[rinfo[k, form].sum() for k in range(len(report))] for form in forms])
    mean = information.mean(axis=0)
    difference = np.where(mean > 0, (information.max(axis=0) - information.min(axis=0)) / np.where(mean > 0, mean, 1),
                          0.0)
    shared = {(f, g): int(np.intersect1d(forms[f], forms[g]).size) for f, g in combinations(range(F), 2)}
    objective = float(res.x[obj_col]) if spec.objective is Objective.TARGET else float(-res.fun)
    dual = getattr(res, "mip_dual_bound", None)
    gap = getattr(res, "mip_gap", None)
    return AssembledForms(
        forms=forms, report_thetas=report, information=information, difference=difference,
        objective=objective,
        dual_bound=None if dual is None else (float(-dual) if spec.objective is Objective.MAXIMIN else float(dual)),
        gap=None if gap is None else float(gap), status="optimal" if res.status == 0 else "time_limit",
        seconds=time.perf_counter() - started, n_variables=ncol, n_constraints=len(lo), shared=shared,
    )


def _feasible_without_proportions(params: ItemParams, spec: AssemblySpec) -> bool:
    """Whether the request is feasible once its proportions are dropped (to say which constraint
    made it infeasible): the same MILP without them, stopped at the first feasible solution."""
    try:
        assemble_forms(params, replace(spec, proportions=(), rel_gap=1.0))
    except InfeasibleAssemblyError:
        return False
    return True
