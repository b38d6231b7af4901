"""Paper forms in exam terms: the assembly request a blueprint makes of the pool, the order
items are printed in, the raw-score conversion table, and reading paper answers.

Pure: the blueprint, the pool and arrays in; dataclasses out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from examengine.exam.blueprint import LOWER_LEVEL, Blueprint, report_score
from examengine.exam.items import LETTERS, TRUE_FALSE_OPTIONS, ItemType
from examengine.exam.pool import ItemPool
from examengine.exam.scoring import AttemptResult, attempt_result
from examengine.irt.assembly import AssemblySpec, Category, Objective
from examengine.irt.classification import LEVEL_BAND_NAMES
from examengine.irt.estimation import (
    DEFAULT_GRID,
    DEFAULT_PRIOR,
    NormalPrior,
    ThetaGrid,
    eap_from_log_likelihood,
    grid_log_likelihood,
)
from examengine.irt.models import probability
from examengine.irt.params import ItemParams

FORM_CODES = "ABCDEFGHJK"
TYPE_ORDER = (ItemType.SINGLE.value, ItemType.MULTIPLE.value, ItemType.TRUE_FALSE.value)
TYPE_HEADINGS = {"单选": "单项选择题", "多选": "多项选择题", "判断": "判断题"}


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
              target: Sequence[float] | None = None) -> AssemblySpec:
    """The request a blueprint makes: exact domain counts, the type mix within tolerance and the
    same on every form, enemy groups, information at the three cuts (maximin, or a target
    curve), parallel within ``parallel_tolerance`` at the cuts and at theta 0."""
    domains = pool.content_group("domain")
    types = pool.content_group("type")
    cats = []
    for area, k in domain_targets(bp, length).items():
        members = domains.codes == (domains.areas.index(area) if area in domains.areas else -2)
        label = "低级别题目" if area == LOWER_LEVEL else f"工作领域 {area}"
        cats.append(Category("domain", area, label, members, k, k))
    for t, (lo, hi) in type_bounds(bp, length).items():
        members = types.codes == (types.areas.index(t) if t in types.areas else -2)
        cats.append(Category("type", t, f"题型 {t}", members, lo, hi, equal_across_forms=True))
    cut_thetas = tuple(float(c) for c in cuts)
    return AssemblySpec(
        n_forms=n_forms, length=length, thetas=cut_thetas,
        parallel_thetas=tuple(sorted(set(cut_thetas) | {0.0})), categories=tuple(cats),
        enemy_groups=pool.enemy_groups, eligible=eligible, excluded_reason=excluded_reason,
        max_overlap=max_overlap, parallel_tolerance=parallel_tolerance,
        objective=Objective.MAXIMIN if target is None else Objective.TARGET,
        target=None if target is None else tuple(float(t) for t in target),
        rel_gap=rel_gap, time_limit=time_limit, seed=seed,
    )


def print_order(positions: Sequence[int], pool: ItemPool) -> list[int]:
    """The order items are printed in: by type (单选, 多选, 判断, each under its heading), then
    easy to hard (b), then id."""
    types = pool.content_group("type")
    b = pool.params.b
    return sorted((int(p) for p in positions),
                  key=lambda p: (TYPE_ORDER.index(types.area_of(p)) if types.area_of(p) in TYPE_ORDER else 9,
                                 float(b[p]), pool.item_ids[p]))


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
