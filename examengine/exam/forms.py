"""Paper forms in exam terms: the assembly request a blueprint makes of the pool (with the keys
balanced), the order items are printed in (no long runs of one key), the key balance a form
reports, which candidate sits which form, the raw-score conversion table, and reading paper answers.

Pure: the blueprint, the pool and arrays in; dataclasses out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from examengine.exam.blueprint import LOWER_LEVEL, Blueprint, report_score
from examengine.exam.items import LETTERS, TRUE_FALSE_OPTIONS, ItemType
from examengine.exam.pool import ContentGroup, ItemPool
from examengine.exam.scoring import AttemptResult, attempt_result
from examengine.irt.assembly import AssemblySpec, Category, Objective, Proportion
from examengine.irt.classification import LEVEL_BAND_NAMES
from examengine.irt.estimation import (
    DEFAULT_GRID,
    DEFAULT_PRIOR,
    NormalPrior,
    ThetaGrid,
    eap_from_log_likelihood,
    grid_log_likelihood,
)
from examengine.irt.loft import LoftForm, assemble_loft
from examengine.irt.models import probability
from examengine.irt.params import ItemParams

FORM_CODES = "ABCDEFGHJK"
TYPE_ORDER = (ItemType.SINGLE.value, ItemType.MULTIPLE.value, ItemType.TRUE_FALSE.value)
TYPE_HEADINGS = {"单选": "单项选择题", "多选": "多项选择题", "判断": "判断题"}


#: Key balance (issue 21), a constraint of every assembly given the keys: on each form, each of
#: the letters A-D keys between 20 % and 30 % of its 单选 (a quarter ± a fifth of it), give or
#: take one item; 对 keys 30-70 % of its 判断, give or take half an item (rounding: 1 判断 may be
#: either, 2 are one of each, 3 are not all alike). Printed in an order where one key runs at
#: most ``MAX_KEY_RUN`` items in a row within a type's section, where the keys allow it.
SINGLE_KEY_LETTERS = "ABCD"
SINGLE_KEY_SHARE = (0.2, 0.3)
SINGLE_KEY_SLACK = 1.0
TRUE_KEY_SHARE = (0.3, 0.7)
TRUE_KEY_SLACK = 0.5
MAX_KEY_RUN = 3


def key_band(n: int, share: tuple[float, float], slack: float) -> tuple[int, int]:
    """The counts a key may have among ``n`` items of its type: [ceil(lo n - s), floor(hi n + s)]."""
    return (max(0, int(np.ceil(share[0] * n - slack - 1e-9))), min(n, int(np.floor(share[1] * n + slack + 1e-9))))


def key_proportions(types: ContentGroup, keys: Sequence[str], type_counts: dict[str, tuple[int, int]]
                    ) -> tuple[Proportion, ...]:
    """The assembly's key-balance constraints: each letter of ``SINGLE_KEY_LETTERS`` among the
    单选 keyed one of them, and 对 (key A) among the 判断. ``keys`` (n,) each position's key
    letters ("B", "AD"); ``type_counts`` each type's (lower, upper) count on a form."""
    keys = np.asarray(list(keys), dtype=object)
    out = []
    single = types.codes == (types.areas.index(ItemType.SINGLE.value) if ItemType.SINGLE.value in types.areas else -2)
    of = single & np.isin(keys, list(SINGLE_KEY_LETTERS))
    lower = type_counts.get(ItemType.SINGLE.value, (0, 0))[0]
    if of.any():
        for letter in SINGLE_KEY_LETTERS:
            out.append(Proportion("key", f"单选:{letter}", f"单选题答案 {letter}", of & (keys == letter), of,
                                  SINGLE_KEY_SHARE[0], SINGLE_KEY_SHARE[1], SINGLE_KEY_SLACK, lower))
    tf = types.codes == (types.areas.index(ItemType.TRUE_FALSE.value)
                         if ItemType.TRUE_FALSE.value in types.areas else -2)
    lower = type_counts.get(ItemType.TRUE_FALSE.value, (0, 0))[0]
    if tf.any():
        for letter, word in (("A", "对"), ("B", "错")):  # 错 within 30-70 % too: the same band seen from the other side
            out.append(Proportion("key", f"判断:{word}", f"判断题答案“{word}”", tf & (keys == letter), tf,
                                  TRUE_KEY_SHARE[0], TRUE_KEY_SHARE[1], TRUE_KEY_SLACK, lower))
    return tuple(out)


def domain_targets(bp: Blueprint, length: int) -> dict[str, int]:
    """Items per domain on a form of ``length`` (``Blueprint.content_counts``: a lower-level
    share becomes the area "lower-level", as in the adaptive policy)."""
    return bp.content_counts(length)


def type_bounds(bp: Blueprint, length: int) -> dict[str, tuple[int, int]]:
    """Each item type's count on a form: within the blueprint's tolerance of its share."""
    return {t: (int(np.floor(max(0.0, s - bp.type_tolerance) * length + 1e-9)),
                int(np.ceil(min(1.0, s + bp.type_tolerance) * length - 1e-9))) for t, s in bp.type_shares}


def form_spec(bp: Blueprint, pool: ItemPool, cuts: Sequence[float], *, n_forms: int, length: int,
              max_overlap: int = 0, eligible: np.ndarray | None = None, excluded_reason: str = "",
              parallel_tolerance: float = 0.03, seed: int = 0, rel_gap: float = 1e-2, time_limit: float = 30.0,
              target: Sequence[float] | None = None, keys: Sequence[str] | None = None) -> AssemblySpec:
    """The request a blueprint makes: exact domain counts, the type mix within tolerance and the
    same on every form, enemy groups, information at the three cuts (maximin, or a target
    curve), parallel within ``parallel_tolerance`` at the cuts and at theta 0; given each
    position's ``keys`` ("B", "AD"), the keys balanced (:func:`key_proportions`)."""
    domains = pool.content_group("domain")
    types = pool.content_group("type")
    cats = []
    for area, k in domain_targets(bp, length).items():
        members = domains.codes == (domains.areas.index(area) if area in domains.areas else -2)
        label = "低级别题目" if area == LOWER_LEVEL else f"工作领域 {area}"
        cats.append(Category("domain", area, label, members, k, k))
    bounds = type_bounds(bp, length)
    for t, (lo, hi) in bounds.items():
        members = types.codes == (types.areas.index(t) if t in types.areas else -2)
        cats.append(Category("type", t, f"题型 {t}", members, lo, hi, equal_across_forms=True))
    cut_thetas = tuple(float(c) for c in cuts)
    return AssemblySpec(
        n_forms=n_forms, length=length, thetas=cut_thetas,
        parallel_thetas=tuple(sorted(set(cut_thetas) | {0.0})), categories=tuple(cats),
        proportions=() if keys is None else key_proportions(types, keys, bounds),
        enemy_groups=pool.enemy_groups, eligible=eligible, excluded_reason=excluded_reason,
        max_overlap=max_overlap, parallel_tolerance=parallel_tolerance,
        objective=Objective.MAXIMIN if target is None else Objective.TARGET,
        target=None if target is None else tuple(float(t) for t in target),
        rel_gap=rel_gap, time_limit=time_limit, seed=seed,
    )


def print_order(positions: Sequence[int], pool: ItemPool, keys: Sequence[str] | None = None,
                max_run: int = MAX_KEY_RUN) -> list[int]:
    """The order items are printed in: by type (单选, 多选, 判断, each under its heading), then
    easy to hard (b), then id. Given each pool position's ``keys``, each type's section is then
    reordered so that no key runs more than ``max_run`` items in a row where the section's keys
    allow it (:func:`limit_key_runs`), keeping as close to easy-to-hard as that leaves."""
    types = pool.content_group("type")
    b = pool.params.b

    def section(p: int) -> int:
        return TYPE_ORDER.index(types.area_of(p)) if types.area_of(p) in TYPE_ORDER else 9

    order = sorted((int(p) for p in positions), key=lambda p: (section(p), float(b[p]), pool.item_ids[p]))
    if keys is None:
        return order
    out: list[int] = []
    for _, part in groupby_consecutive(order, section):
        out += limit_key_runs(part, [keys[p] for p in part], max_run)
    return out


def groupby_consecutive(values: Sequence[int], key) -> list[tuple[object, list[int]]]:
    groups: list[tuple[object, list[int]]] = []
    for v in values:
        k = key(v)
        if not groups or groups[-1][0] != k:
            groups.append((k, []))
        groups[-1][1].append(v)
    return groups


def _arrangeable(counts: Counter, tail: str | None, tail_run: int, max_run: int) -> bool:
    """Whether keys with ``counts`` can follow a run of ``tail_run`` of ``tail`` with no run over
    ``max_run``: each key fits in the gaps the others leave, c <= r (others + 1), and the tail's
    key has r - tail_run fewer places at the start."""
    n = sum(counts.values())
    for key, c in counts.items():
        room = max_run * (n - c + 1) - (tail_run if key == tail else 0)
        if c > room:
            return False
    return True


def limit_key_runs(order: Sequence[int], keys: Sequence[str], max_run: int = MAX_KEY_RUN) -> list[int]:
    """``order`` (with ``keys[k]`` the key of ``order[k]``) rearranged so that no key runs more
    than ``max_run`` in a row: at each place the earliest item that keeps the rest arrangeable
    (:func:`_arrangeable`); where no order avoids a long run, the earliest item of another key."""
    remaining = list(zip(order, keys))
    counts = Counter(keys)
    out: list[tuple[int, str]] = []
    while remaining:
        last = out[-1][1] if out else None
        run = 0
        for _, k in reversed(out):
            if k != last:
                break
            run += 1
        chosen = None
        for i, (_, k) in enumerate(remaining):
            new_run = run + 1 if k == last else 1
            if new_run > max_run:
                continue
            counts[k] -= 1
            ok = _arrangeable(+counts, k, new_run, max_run)
            counts[k] += 1
            if ok:
                chosen = i
                break
        if chosen is None:
            chosen = next((i for i, (_, k) in enumerate(remaining) if k != last), 0)
        item = remaining.pop(chosen)
        counts[item[1]] -= 1
        out.append(item)
    return [p for p, _ in out]


@dataclass(frozen=True)
class KeyBalance:
    """A form's keys as printed: how many 单选 are keyed by each letter (A-D always listed), how
    many 判断 are 对 and 错, the bands the assembly keeps them in for this form's counts, and
    the longest run of one key within a type's section (``longest_run_at``: the position it
    starts at; 0 for an empty form)."""

    single: dict[str, int]
    true_false: dict[str, int]
    single_band: tuple[int, int]
    true_band: tuple[int, int]
    longest_run: int
    longest_run_at: int
    balanced: bool  # every count within its band

    def text(self) -> str:
        """In words, as the CLI and the form page say it."""
        def band(lo: int, hi: int) -> str:
            return f"{lo}" if lo == hi else f"{lo}–{hi}"

        parts = []
        if sum(self.single.values()):
            parts.append("单选答案 " + " · ".join(f"{k} {n}" for k, n in self.single.items())
                         + f"（每个字母应为 {band(*self.single_band)} 道）")
        if sum(self.true_false.values()):
            parts.append("判断答案 " + " · ".join(f"{k} {n}" for k, n in self.true_false.items())
                         + f"（“对”应为 {band(*self.true_band)} 道）")
        parts.append(f"同一答案最长连续 {self.longest_run} 题" + (f"（第 {self.longest_run_at} 题起）"
                                                           if self.longest_run > 1 else ""))
        return "；".join(parts) + ("" if self.balanced else "；答案分布未达到均衡要求")


def key_balance(positions: Sequence[int], types: Sequence[str], keys: Sequence[str]) -> KeyBalance:
    """The :class:`KeyBalance` of a form's items in print order: printed ``positions``, each
    item's type (单选/多选/判断) and key letters ("B", "AD"; 判断 A is 对)."""
    single_keys = [k for t, k in zip(types, keys) if t == ItemType.SINGLE.value]
    counted = Counter(single_keys)
    single = {letter: counted.pop(letter, 0) for letter in SINGLE_KEY_LETTERS} | dict(sorted(counted.items()))
    tf = Counter(k for t, k in zip(types, keys) if t == ItemType.TRUE_FALSE.value)
    true_false = {"对": tf.get("A", 0), "错": tf.get("B", 0)}
    n_single = sum(1 for k in single_keys if k in SINGLE_KEY_LETTERS)
    n_tf = true_false["对"] + true_false["错"]
    single_band = key_band(n_single, SINGLE_KEY_SHARE, SINGLE_KEY_SLACK)
    true_band = key_band(n_tf, TRUE_KEY_SHARE, TRUE_KEY_SLACK)
    longest, at, run = 0, 0, 0
    for k in range(len(keys)):
        same = k > 0 and types[k] == types[k - 1] and keys[k] == keys[k - 1]
        run = run + 1 if same else 1
        if run > longest:
            longest, at = run, int(positions[k - run + 1])
    balanced = (all(single_band[0] <= single[x] <= single_band[1] for x in SINGLE_KEY_LETTERS) if n_single else True) and (
        true_band[0] <= true_false["对"] <= true_band[1] if n_tf else True)
    return KeyBalance(single, true_false, single_band, true_band, longest, at, balanced)


# ---------------------------------------------------------------- which candidate sits which form


class AssignRule(str, Enum):
    """How forms are assigned to a roster (``assign_codes``)."""

    SEAT = "seat"  # by seat order within each room, forms in turn: neighbours differ
    ROOM = "room"  # rooms take forms in turn
    COLUMN = "column"  # the roster's 试卷 column


ASSIGN_RULE_LABELS = {AssignRule.SEAT: "按座位交替", AssignRule.ROOM: "按考场轮换", AssignRule.COLUMN: "按名单“试卷”列"}


@dataclass(frozen=True)
class RosterSeat:
    """A roster entry as an assignment sees it."""

    ticket: str
    room: str = ""
    seat: str = ""
    roster_form: str = ""  # the roster's 试卷 column ("" without one)


def natural_key(text: str) -> tuple:
    """Sorts "2" before "10" and "A2" before "A10": digits compare as numbers."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"(\d+)", (text or "").strip()) if part)


def seat_order(room: str | None, seat: str | None, ticket: str) -> tuple:
    """The order a room is seated in: rooms and seats naturally, candidates without a seat after
    those with one (by ticket). Sheets print in it, so each room's pile comes out in seat order."""
    return natural_key(room or ""), room or "", not seat, natural_key(seat or ""), ticket


def assign_codes(entries: Sequence[RosterSeat], codes: Sequence[str], rule: AssignRule) -> list[str]:
    """The form code of each entry under ``rule`` with forms ``codes`` (in order, A first).

    SEAT: entries ordered by room, then seat (naturally: 2 before 10; entries without a seat after
    those with one, by ticket), take the forms in turn, the count carrying on from one room to the
    next so the forms' totals differ by at most one; neighbours in seat order within a room sit
    different forms (given two or more). A seat number says nothing of rows, so a hall whose
    rows are numbered continuously may seat the last of one row and the first of the next on
    different forms or not: number the seats as the candidates sit. ROOM: rooms in natural order
    take the forms in turn. COLUMN: the roster's own code (checked against ``codes`` by the caller)."""
    if rule is AssignRule.COLUMN:
        return [e.roster_form for e in entries]
    k = len(codes)
    if rule is AssignRule.ROOM:
        rooms = sorted({e.room for e in entries}, key=natural_key)
        turn = {room: codes[i % k] for i, room in enumerate(rooms)}
        return [turn[e.room] for e in entries]
    order = sorted(range(len(entries)), key=lambda i: (natural_key(entries[i].room), entries[i].room,
                                                       not entries[i].seat, natural_key(entries[i].seat),
                                                       entries[i].ticket))
    out = [""] * len(entries)
    for n, i in enumerate(order):
        out[i] = codes[n % k]
    return out


@dataclass(frozen=True)
class LoftDraw:
    """One candidate's LOFT form: ``order`` the item positions in delivery order
    (:func:`print_order`), ``form`` the draw (positions, information at the cuts, weights)."""

    order: tuple[int, ...]
    form: LoftForm


def loft_form(bp: Blueprint, pool: ItemPool, cuts: Sequence[float], *, length: int, counts: np.ndarray,
              administered: int, rng: np.random.Generator, eligible: np.ndarray | None = None) -> LoftDraw:
    """A linear-on-the-fly form of ``length`` items for one candidate: the request of a paper
    form (:func:`form_spec`: exact domain counts, the type mix within tolerance, no enemy pair,
    information at the cuts) drawn by ``irt.loft.assemble_loft`` with the exam's exposure so far
    (``counts`` (n,) forms that held each item, of ``administered``), then ordered as printed."""
    spec = form_spec(bp, pool, cuts, n_forms=1, length=length, eligible=eligible)
    form = assemble_loft(pool.params, spec, counts, administered, rng)
    return LoftDraw(tuple(print_order(form.positions, pool)), form)


def key_text(item_type: str, letters: Sequence[str]) -> str:
    """A key as a proctor reads it: the option letters ("BD"), and for 判断 "对" or "错" (the
    words the answer sheet puts on its A and B bubbles, and the upload of paper answers accepts)."""
    if item_type == ItemType.TRUE_FALSE.value and len(letters) == 1 and letters[0] in LETTERS[:2]:
        return ("对", "错")[LETTERS.index(letters[0])]
    return "".join(letters)


# ---------------------------------------------------------------- the conversion table


@dataclass(frozen=True)
class ConversionRow:
    raw: int
    theta: float
    se: float
    score: float
    band: int
    band_name: str
    passed: bool


def summed_score_likelihood(params: ItemParams, grid: ThetaGrid = DEFAULT_GRID) -> np.ndarray:
    """P(raw score = s | theta_q), shape (n + 1, Q), by the Lord-Wingersky (1984) recursion:
    L_{j}(s) = L_{j-1}(s) (1 - P_j) + L_{j-1}(s - 1) P_j over items j."""
    p = probability(grid.points, params)  # (Q, n)
    like = np.zeros((params.n_items + 1, grid.n_points))
    like[0] = 1.0
    for j in range(params.n_items):
        pj = p[:, j]
        nxt = like * (1 - pj)
        nxt[1:] += like[:-1] * pj
        like = nxt
    return like


def conversion_table(params: ItemParams, bp: Blueprint, cuts: Sequence[float], *, grid: ThetaGrid = DEFAULT_GRID,
                     prior: NormalPrior = DEFAULT_PRIOR) -> list[ConversionRow]:
    """Raw score -> EAP[theta | raw score] (summed-score EAP, same prior and grid as online)
    -> 0-100 -> band. Paper answers are scored by their pattern (EAP); the summed-score EAP
    is what a proctor can read off for a raw score, and agrees to within the pattern's
    spread."""
    like = summed_score_likelihood(params, grid)
    w = np.exp(grid.log_prior_weights(prior))
    post = like * w
    post /= post.sum(axis=1, keepdims=True)
    mean = post @ grid.points
    sd = np.sqrt(np.maximum(post @ grid.points**2 - mean**2, 0))
    cut_arr = np.asarray(cuts, float)
    reg = cut_arr[bp.rank - 1]
    rows = []
    for s in range(params.n_items + 1):
        band = int(np.searchsorted(cut_arr, mean[s], side="right"))
        rows.append(ConversionRow(s, float(mean[s]), float(sd[s]),
                                  float(report_score(mean[s], reg, pass_score=bp.pass_score, theta_min=bp.theta_min,
                                                     theta_max=bp.theta_max)),
                                  band, LEVEL_BAND_NAMES[band], bool(mean[s] >= reg)))
    return rows


# ---------------------------------------------------------------- paper answers

TRUE_WORDS = {"对", "正确", "√", "✓", "T", "TRUE", "是", "Y"}
FALSE_WORDS = {"错", "错误", "×", "✗", "X", "F", "FALSE", "否", "N"}


def split_answer_string(text: str) -> list[str]:
    """'A,BD,对,,C' -> ['A', 'BD', '对', '', 'C'] (commas, full-width commas or semicolons)."""
    for sep in ("，", ";", "；", "、"):
        text = text.replace(sep, ",")
    return [t.strip() for t in text.split(",")]


def read_answer(text: str, item_type: str, n_options: int) -> tuple[list[str] | None, str]:
    """One written answer -> (sorted option letters, "") or (None, the reason). An empty cell is
    an omitted item: ([], ""). 判断 accepts A/B and 对/错 (正确/错误, √/×)."""
    t = (text or "").strip().upper().replace(" ", "")
    if not t:
        return [], ""
    if item_type == ItemType.TRUE_FALSE.value:
        if t in TRUE_WORDS or t == LETTERS[0] or t == TRUE_FALSE_OPTIONS[0]:
            return ["A"], ""
        if t in FALSE_WORDS or t == LETTERS[1] or t == TRUE_FALSE_OPTIONS[1]:
            return ["B"], ""
        return None, f"“{text}”不是判断题的答案（应为 对/错 或 A/B）"
    letters = sorted(set(t.replace(",", "")))
    valid = LETTERS[:n_options]
    bad = [x for x in letters if x not in valid]
    if bad:
        return None, f"“{text}”含有不是本题选项的“{''.join(bad)}”（选项为 {valid[0]}-{valid[-1]}）"
    if item_type == ItemType.SINGLE.value and len(letters) != 1:
        return None, f"“{text}”：单选题只能选一个选项"
    return letters, ""


def score_answer(letters: Sequence[str], key: Sequence[int]) -> int:
    """All-or-nothing, as online: 1 when the chosen options are exactly the key."""
    return int(sorted(LETTERS.index(x) for x in letters) == sorted(int(k) for k in key))


def score_paper_form(bp: Blueprint, cuts: Sequence[float], params: ItemParams, scores: Sequence[int], *,
                     grid: ThetaGrid = DEFAULT_GRID, prior: NormalPrior = DEFAULT_PRIOR,
                     domains: Sequence[str] | None = None, complete: bool = True) -> AttemptResult:
    """One candidate's 0/1 ``scores`` on a paper form of items ``params`` (n,), onto the online
    scale: theta = EAP of the response pattern on ``grid`` with ``prior`` (the blueprint
    policy's), the band's posterior mass on the grid, and the result (band, pass/fail, 0-100,
    and, given each item's domain, domain feedback) built by ``attempt_result`` as online.
    Omitted items are scored 0 by the caller. ``complete`` False (an online linear attempt short
    of its minimum of answers): the result is withheld as ``attempt_result`` withholds it."""
    cut_arr = np.asarray(cuts, float)
    ll = grid_log_likelihood(params, np.asarray(scores, float), grid)
    est = eap_from_log_likelihood(ll, grid, prior)
    post = ll + grid.log_prior_weights(prior)
    w = np.exp(post - post.max())
    w /= w.sum()
    mass = np.bincount(np.searchsorted(cut_arr, grid.points, side="right"), weights=w, minlength=cut_arr.size + 1)
    responses = () if domains is None else [
        (d, int(s), float(a), float(b), float(c))
        for d, s, a, b, c in zip(domains, scores, params.a, params.b, params.c, strict=True)]
    return attempt_result(bp, [float(c) for c in cut_arr], est.theta, est.se, band_mass=mass, responses=responses,
                          complete=complete)
