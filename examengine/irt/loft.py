"""Linear-on-the-fly (LOFT) assembly: one form per candidate, drawn at sign-in, meeting the same
request as a paper form (``irt.assembly.AssemblySpec`` with one form) but randomised and with
the items' exposure spread, fast enough to run inside a sign-in.

The draw is weighted sampling without replacement under the constraints (Efraimidis & Spirakis
2006, "Weighted random sampling with a reservoir": key_i = u_i^(1/w_i), u_i ~ U(0, 1), items
taken in decreasing key; equivalently log(u_i) / w_i) with the weight

    w_i = (I_i / max_j I_j)^alpha * exp(-kappa * (r_i - r_bar) / r_bar)

    I_i    = sum_k I_i(theta_k), the item's information at the spec's thetas (the cut scores)
    r_bar  = L / N, the exposure rate every item would have if exposure were uniform
             (N eligible items, forms of L)
    r_i    = (n_i + m r_bar) / (n + m), item i's exposure rate so far: n_i of the exam's n forms
             so far held it, shrunk towards r_bar by a prior of m forms (noisy early rates
             neither punish nor favour an item much)

so informative items near the cuts are favoured (alpha) and an item used more often than the
uniform rate is pushed back exponentially (kappa): a feedback rule in the spirit of
"exposure-penalised information" and of the randomised item selection of LOFT programmes
(Stocking & Lewis 1998 for the exposure side; van der Linden 2005, ch. 9, on LOFT as
shadow-test assembly without adaptation).

Constraints, met exactly: the form has L items; each content category holds between its
``lower`` and ``upper``; no two items of an enemy group; only eligible items. The categories
must form at most two partitions (groups: e.g. the work domains and the item types); an item in
no category of a group belongs to that group's "rest" (bounds 0..L). Walking the items in key
order, an item is taken only if a completion still exists: the completion problem of two
partitions is a transportation problem

    choose f[r, c] <= cap[r, c] (items of row r and column c not yet walked past, not enemies
    of a chosen item) with a_r <= sum_c f[r, c] <= b_r, a_c <= sum_r f[r, c] <= b_c,
    sum f = L - chosen

solved as a circulation with lower bounds (max flow, Edmonds-Karp on <= 12 nodes). The check
ignores that two enemies not yet walked past cannot both be taken, so the walk may still get
stuck (rare: a few enemies per pool); it then restarts with fresh keys from the same generator
(``max_restarts``), so the result is deterministic given the generator's state.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .assembly import (
    AssemblySpec,
    InfeasibleAssemblyError,
    Shortfall,
    check_feasibility,
)
from .models import item_information
from .params import FloatArray, ItemParams

IntArray = NDArray[np.intp]

DEFAULT_ALPHA = 1.0
DEFAULT_KAPPA = 3.0
DEFAULT_PRIOR_FORMS = 10.0


@dataclass(frozen=True)
class LoftForm:
    """One candidate's form: ``positions`` (L,) ascending item positions; ``information`` (K,)
    the form's information at ``spec.thetas``; ``weights`` (n,) the sampling weights used
    (0: ineligible); ``restarts``: walks that got stuck before this one; ``seconds``: wall time."""

    positions: IntArray
    information: FloatArray
    weights: FloatArray
    restarts: int
    seconds: float


def exposure_rates(counts: FloatArray, administered: int, mean_rate: float, prior_forms: float) -> FloatArray:
    """r_i = (n_i + m r_bar) / (n + m): each item's exposure rate so far, shrunk towards r_bar."""
    return (np.asarray(counts, float) + prior_forms * mean_rate) / (max(int(administered), 0) + prior_forms)


def loft_weights(params: ItemParams, spec: AssemblySpec, counts: FloatArray, administered: int, *,
                 alpha: float = DEFAULT_ALPHA, kappa: float = DEFAULT_KAPPA,
                 prior_forms: float = DEFAULT_PRIOR_FORMS) -> FloatArray:
    """The sampling weight w_i of the module docstring, (n,); 0 for ineligible items."""
    n = params.n_items
    eligible = np.ones(n, bool) if spec.eligible is None else np.asarray(spec.eligible, bool)
    n_eligible = int(eligible.sum())
    if n_eligible == 0:
        return np.zeros(n)
    info = item_information(np.asarray(spec.thetas, float), params).sum(axis=0) if spec.thetas else np.ones(n)
    top = float(info[eligible].max())
    rel = info / top if top > 0 else np.ones(n)
    r_bar = spec.length / n_eligible
    rates = exposure_rates(counts, administered, r_bar, prior_forms)
    w = np.power(np.maximum(rel, 1e-12), alpha) * np.exp(np.clip(-kappa * (rates - r_bar) / r_bar, -30.0, 30.0))
    return np.where(eligible, w, 0.0)


# ---------------------------------------------------------------- the completion check


def _max_flow(cap: list[list[int]], s: int, t: int) -> int:
    """Edmonds-Karp on a dense capacity matrix (modified in place into the residual)."""
    n = len(cap)
    flow = 0
    while True:
        parent = [-1] * n
        parent[s] = s
        queue = deque([s])
        while queue and parent[t] < 0:
            u = queue.popleft()
            row = cap[u]
            for v in range(n):
                if row[v] > 0 and parent[v] < 0:
                    parent[v] = u
                    queue.append(v)
        if parent[t] < 0:
            return flow
        push, v = 1 << 30, t
        while v != s:
            push = min(push, cap[parent[v]][v])
            v = parent[v]
        v = t
        while v != s:
            cap[parent[v]][v] -= push
            cap[v][parent[v]] += push
            v = parent[v]
        flow += push


def completion(cell: IntArray, row_lo: IntArray, row_hi: IntArray, col_lo: IntArray, col_hi: IntArray,
               total: int) -> IntArray | None:
    """A way to take ``total`` more items: f (R, C) with f[r, c] <= cell[r, c], row sums in
    [row_lo, row_hi] and column sums in [col_lo, col_hi] (lower bounds already clipped at 0), or
    None when there is none. A circulation S -> row -> column -> T -> S with lower bounds,
    feasible iff the max flow from the super source saturates every lower bound (Ahuja,
    Magnanti & Orlin 1993, sec. 6.7); f is the flow on the row -> column edges."""
    if total < 0 or row_lo.sum() > total or col_lo.sum() > total:
        return None
    if min(row_hi.sum(), col_hi.sum(), cell.sum()) < total:
        return None
    R, C = cell.shape
    S, T, SS, TT = 0, 1 + R + C, 2 + R + C, 3 + R + C
    n = 4 + R + C
    cap = [[0] * n for _ in range(n)]
    excess = [0] * n

    def edge(u: int, v: int, lo: int, hi: int) -> None:
        cap[u][v] += hi - lo
        excess[v] += lo
        excess[u] -= lo

    for r in range(R):
        edge(S, 1 + r, int(row_lo[r]), int(row_hi[r]))
        for c in range(C):
            if cell[r, c] > 0:
                edge(1 + r, 1 + R + c, 0, int(cell[r, c]))
    for c in range(C):
        edge(1 + R + c, T, int(col_lo[c]), int(col_hi[c]))
    edge(T, S, total, total)
    need = 0
    for v in range(SS):
        if excess[v] > 0:
            cap[SS][v] += excess[v]
            need += excess[v]
        elif excess[v] < 0:
            cap[v][TT] -= excess[v]
    if _max_flow(cap, SS, TT) != need:
        return None
    return np.array([[cap[1 + R + c][1 + r] for c in range(C)] for r in range(R)], np.intp)


def completable(cell: IntArray, row_lo: IntArray, row_hi: IntArray, col_lo: IntArray, col_hi: IntArray,
                total: int) -> bool:
    """Whether :func:`completion` finds a way."""
    return completion(cell, row_lo, row_hi, col_lo, col_hi, total) is not None


# ---------------------------------------------------------------- the draw


@dataclass(frozen=True)
class _Partition:
    codes: IntArray  # (n,) area index; the last index is the rest
    lower: IntArray
    upper: IntArray
    labels: tuple[str, ...]


def _partitions(spec: AssemblySpec, n: int) -> tuple[_Partition, _Partition]:
    groups: dict[str, list] = {}
    for cat in spec.categories:
        groups.setdefault(cat.group, []).append(cat)
    if len(groups) > 2:
        raise ValueError(f"LOFT assembly handles at most two category groups, got {sorted(groups)}")
    parts = []
    for cats in list(groups.values()) + [[]] * (2 - len(groups)):
        codes = np.full(n, len(cats), np.intp)
        for k, cat in enumerate(cats):
            members = np.asarray(cat.members, bool)
            if (codes[members] != len(cats)).any():
                raise ValueError(f"LOFT assembly needs each group's categories disjoint; {cat.label} overlaps")
            codes[members] = k
        lower = np.array([c.lower for c in cats] + [0], np.intp)
        upper = np.array([c.upper for c in cats] + [spec.length], np.intp)
        parts.append(_Partition(codes, lower, upper, tuple(c.label for c in cats) + ("其他",)))
    return parts[0], parts[1]


def _reroute(f: IntArray, cell: IntArray, r: int, c: int, col_need: IntArray) -> IntArray | None:
    """The witness after taking an item of cell (r, c), without solving again when a small
    change of f does: f - e_rc (f used that cell); f - e_rc' - e_r'c + e_r'c' (the item stands in
    for row r's item in column c' and column c's item in row r', whose row and column meet in a
    cell with room); f - e_rc' (column c had room, column c' keeps its lower bound ``col_need``
    after the new item's column count). None: solve again."""
    if f[r, c] > 0:
        g = f.copy()
        g[r, c] -= 1
        return g
    cs = np.flatnonzero(f[r] > 0)
    if cs.size == 0:
        return None
    rs = np.flatnonzero(f[:, c] > 0)
    if rs.size:
        room = (cell - f)[np.ix_(rs, cs)] > 0
        if room.any():
            a, b = np.unravel_index(int(np.argmax(room)), room.shape)
            g = f.copy()
            g[r, cs[b]] -= 1
            g[rs[a], c] -= 1
            g[rs[a], cs[b]] += 1
            return g
        return None
    sums = f.sum(axis=0)
    ok = cs[sums[cs] - 1 >= col_need[cs]]
    if ok.size:
        g = f.copy()
        g[r, ok[0]] -= 1
        return g
    return None


def _walk(order: IntArray, rows: _Partition, cols: _Partition, enemies: list[list[int]], available: NDArray[np.bool_],
          length: int) -> list[int] | None:
    """Take items in ``order`` while a completion exists; None when the walk gets stuck. A
    completion found (the witness f) is kept and updated; the flow is solved again only when
    a step leaves f no longer within the items still ahead."""
    R, C = rows.lower.size, cols.lower.size
    cell = np.zeros((R, C), np.intp)
    np.add.at(cell, (rows.codes[order], cols.codes[order]), 1)
    avail = available.copy()
    n_row = np.zeros(R, np.intp)
    n_col = np.zeros(C, np.intp)
    chosen: list[int] = []

    def solve() -> IntArray | None:
        return completion(cell, np.maximum(rows.lower - n_row, 0), rows.upper - n_row,
                          np.maximum(cols.lower - n_col, 0), cols.upper - n_col, length - len(chosen))

    f = solve()
    if f is None:
        return None
    for i in order:
        i = int(i)
        if not avail[i]:
            continue
        r, c = rows.codes[i], cols.codes[i]
        cell[r, c] -= 1  # walked past: no longer part of any completion
        avail[i] = False
        if n_row[r] >= rows.upper[r] or n_col[c] >= cols.upper[c]:
            if f[r, c] > cell[r, c]:
                f = solve()
                if f is None:
                    return None
            continue
        chosen.append(i)
        n_row[r] += 1
        n_col[c] += 1
        dropped = [j for j in enemies[i] if avail[j]]
        for j in dropped:
            avail[j] = False
            cell[rows.codes[j], cols.codes[j]] -= 1
        g = _reroute(f, cell, r, c, np.maximum(cols.lower - n_col, 0))
        if g is not None and any(g[rows.codes[j], cols.codes[j]] > cell[rows.codes[j], cols.codes[j]]
                                 for j in dropped):
            g = None
        if g is None:
            g = solve()
        if g is not None:  # with none left to take, g is the empty completion: every lower bound met
            f = g
            if len(chosen) == length:
                return chosen
            continue
        chosen.pop()  # taking i leaves no completion: leave it
        n_row[r] -= 1
        n_col[c] -= 1
        for j in dropped:
            avail[j] = True
            cell[rows.codes[j], cols.codes[j]] += 1
        f = solve()
        if f is None:
            return None  # neither taking nor leaving i completes (enemies): start again
    return None


def assemble_loft(params: ItemParams, spec: AssemblySpec, counts: FloatArray, administered: int,
                  rng: np.random.Generator, *, alpha: float = DEFAULT_ALPHA, kappa: float = DEFAULT_KAPPA,
                  prior_forms: float = DEFAULT_PRIOR_FORMS, max_restarts: int = 50) -> LoftForm:
    """Draw one form for ``spec`` (its ``n_forms`` is ignored: one form; ``max_overlap``,
    parallelism and the objective do not apply). ``counts`` (n,): how many of the exam's
    ``administered`` forms so far held each item. Raises InfeasibleAssemblyError naming each
    shortfall when no form exists, or when ``max_restarts`` walks all got stuck."""
    started = time.perf_counter()
    n, L = params.n_items, spec.length
    if L < 1:
        raise ValueError(f"a form needs at least one item, got {L}")
    if np.shape(counts) != (n,):
        raise ValueError(f"exposure counts of shape {np.shape(counts)} for {n} items")
    one = AssemblySpec(n_forms=1, length=L, thetas=spec.thetas, parallel_thetas=(), categories=spec.categories,
                       enemy_groups=spec.enemy_groups, eligible=spec.eligible, excluded_reason=spec.excluded_reason)

    def refuse_if_short() -> None:  # the counting checks of paper forms, each shortfall named
        shortfalls = check_feasibility(one, n)
        if shortfalls:
            raise InfeasibleAssemblyError(shortfalls)

    rows, cols = _partitions(spec, n)
    weights = loft_weights(params, spec, counts, administered, alpha=alpha, kappa=kappa, prior_forms=prior_forms)
    available = weights > 0
    enemies: list[list[int]] = [[] for _ in range(n)]
    for group in spec.enemy_groups:
        for i in group:
            enemies[i].extend(j for j in group if j != i)
    idx = np.flatnonzero(available)
    full = np.zeros((rows.lower.size, cols.lower.size), np.intp)
    np.add.at(full, (rows.codes[idx], cols.codes[idx]), 1)
    if not completable(full, rows.lower, rows.upper, cols.lower, cols.upper, L):
        refuse_if_short()
        raise InfeasibleAssemblyError([Shortfall(
            "category", "", "", L, int(idx.size),
            "各工作领域与各题型的题数要求无法同时满足（每类题目单独计数足够，但领域与题型的搭配不够），"
            "请补充相应领域的题型或放宽题型比例")])
    for attempt in range(max_restarts + 1):
        keys = np.log(rng.random(idx.size)) / weights[idx]  # Efraimidis-Spirakis keys, log scale
        order = idx[np.argsort(-keys, kind="stable")]
        chosen = _walk(order, rows, cols, enemies, available, L)
        if chosen is not None:
            positions = np.sort(np.asarray(chosen, np.intp))
            info = item_information(np.asarray(spec.thetas, float), params)[:, positions].sum(axis=1)
            return LoftForm(positions, info, weights, attempt, time.perf_counter() - started)
        if attempt == 0:
            refuse_if_short()  # stuck on enemies: refuse at once when counting alone explains it
    raise InfeasibleAssemblyError([Shortfall(
        "solver", "", "", L, int(idx.size),
        f"随机组卷连续 {max_restarts + 1} 次未能避开互斥题组完成一套试卷，请检查互斥组或补充题目")])
