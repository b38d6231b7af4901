"""Paper forms against the online exam: do they give a candidate the same band?

The acceptance point of paper forms (issue #7): on simulated candidates, the band from a paper
form agrees with the band from an online attempt of the same candidate at least as often as
two parallel paper forms agree with each other.

Design. ``n`` simulees, theta_i ~ N(0, 1) drawn from ``default_rng([seed, 1, 1])``. Each one

- answers form A and form B: u_ij = 1 when U(0, 1) < P_j(theta_i) (3PL, D = 1), with
  independent draws per form (``default_rng([seed, 2, f + 1])``, f = 0 for A), and each form
  is scored by :func:`examengine.exam.forms.score_paper_form`, the very function that scores
  uploaded paper answers (pattern EAP with the policy's prior and grid, omitted = wrong, the
  result built by ``attempt_result``);
- takes an online attempt: the blueprint's policy (``blueprint_policy``; its CI rule decides
  pass/fail or, with ``classification.decide: band``, the band) run by the real state
  machine (``simulate_cat``; simulee i's randomness is ``default_rng([seed, i])``) with the
  Sympson-Hetter parameters the caller passes (those online would use), and the result built
  by ``attempt_result`` from the final state, as ``services.attempts`` finishes an attempt.

Reported, for the band (未达初级/初级/中级/高级 against the three cuts) and for pass/fail of
the registered level:

- the agreement rates A-online, B-online and A-B, each p = k / n with its binomial SE
  sqrt(p (1 - p) / n);
- the criterion: the paper-online rate P_PO = (p_AO + p_BO) / 2 (a candidate gets either
  form) against P_AB. It is met when P_PO >= P_AB - 2 sqrt(SE_PO^2 + SE_AB^2), SE_PO =
  sqrt(P_PO (1 - P_PO) / n): a one-sided margin of about 97.7 % if the two rates were
  independent, and conservative since they are positively correlated (same simulees);
- the paired difference D = mean_i [(1{A_i = O_i} + 1{B_i = O_i}) / 2 - 1{A_i = B_i}] with
  its SE sd(D_i) / sqrt(n): the sharper measure of how far apart the two rates are.

Diagnostics, for when the criterion is not met: for each of A, B and online, its length, its
test information at each cut (online: the mean over simulees of the administered items'), its
mean posterior SD and its accuracy against the true theta; and the agreement rates by the cut
nearest to the true theta. ``OnlineStop.MAX_LENGTH`` runs every online attempt to the
blueprint's maximum length (no confidence-interval stop): a what-if, not the exam's policy.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import NDArray

from examengine.exam.blueprint import Blueprint
from examengine.exam.cat import CatState, simulate_cat
from examengine.exam.forms import FORM_CODES, score_paper_form
from examengine.exam.policy import CatPolicy, blueprint_policy
from examengine.exam.pool import ItemPool
from examengine.exam.scoring import attempt_result
from examengine.irt.classification import LEVEL_BAND_NAMES
from examengine.irt.exposure import ExposureParameters
from examengine.irt.models import item_information, probability

ONLINE = "online"
#: how many binomial SEs of margin the criterion allows (one-sided, about 97.7 %)
CRITERION_Z = 2.0


class OnlineStop(Enum):
    """How online attempts end in the study."""

    BLUEPRINT = "blueprint"  # as the exam: the CI stop (registered cut, or all three cuts) within min..max length
    MAX_LENGTH = "max-length"  # what-if: every attempt runs to the maximum length


class Measure(Enum):
    BAND = "band"  # 未达初级 / 初级 / 中级 / 高级
    PASS_FAIL = "pass_fail"  # the registered level passed or not


@dataclass(frozen=True)
class Rate:
    """How often two modes gave the same decision: ``agree`` of ``n`` simulees, the rate and
    its binomial SE sqrt(p (1 - p) / n)."""

    first: str
    second: str
    agree: int
    n: int
    rate: float
    se: float

    @classmethod
    def of(cls, first: str, second: str, same: NDArray[np.bool_]) -> Rate:
        n = int(same.size)
        k = int(same.sum())
        p = k / n
        return cls(first, second, k, n, p, float(np.sqrt(p * (1 - p) / n)))


@dataclass(frozen=True)
class Criterion:
    """Paper-online agreement (mean of A-online and B-online) against A-B agreement."""

    measure: Measure
    paper_online: float
    paper_online_se: float  # binomial, sqrt(P (1 - P) / n)
    forms: float
    forms_se: float
    tolerance: float  # CRITERION_Z * sqrt(paper_online_se^2 + forms_se^2)
    difference: float  # paper_online - forms (= the mean of the paired D_i)
    difference_se: float  # paired: sd(D_i) / sqrt(n)
    met: bool  # paper_online >= forms - tolerance


@dataclass(frozen=True)
class ModeSummary:
    """One way of testing (form A, form B, online) over all simulees."""

    mode: str
    mean_length: float
    information: tuple[float, ...]  # test information at each cut (online: mean over simulees)
    mean_se: float  # mean posterior SD
    band_accuracy: float  # estimated band == true band
    pass_fail_accuracy: float
    rmse: float


@dataclass(frozen=True)
class RegionAgreement:
    """Agreement among the simulees whose true theta lies nearest to one cut."""

    level: str  # the cut's level (初级 / 中级 / 高级)
    cut: float
    n: int
    band_paper_online: float
    band_forms: float
    pass_fail_paper_online: float
    pass_fail_forms: float
    online_mean_length: float


@dataclass(frozen=True, eq=False)
class Simulees:
    """Per simulee, shape (n,) unless said: the true theta, each mode's EAP, SE, band (0-3)
    and pass/fail, the online length, and the 0/1 scores on each form (n, length)."""

    theta: NDArray[np.float64]
    true_band: NDArray[np.int64]
    estimate: dict[str, NDArray[np.float64]]  # mode -> theta
    se: dict[str, NDArray[np.float64]]
    band: dict[str, NDArray[np.int64]]
    passed: dict[str, NDArray[np.bool_]]
    online_length: NDArray[np.int64]
    scores: dict[str, NDArray[np.int8]]  # form code -> (n, length)


@dataclass(frozen=True, eq=False)
class AgreementStudy:
    blueprint: str
    n_simulees: int
    seed: int
    cuts: tuple[float, ...]
    registered_level: str
    registered_band: int  # the band index that passes (初级 = 1)
    pool_size: int
    form_length: int
    form_items: dict[str, tuple[str, ...]]  # form code -> item ids
    online_stop: OnlineStop
    decide: str  # what the online policy's CI rule decided: pass_fail or band (blueprint classification.decide)
    exposure: str  # which Sympson-Hetter parameters online used: none, stored, not calibrated, calibrated for this run
    stop_reasons: dict[str, int]
    band: tuple[Rate, ...]  # A-online, B-online, A-B
    pass_fail: tuple[Rate, ...]
    band_criterion: Criterion
    pass_fail_criterion: Criterion
    modes: tuple[ModeSummary, ...]
    regions: tuple[RegionAgreement, ...]
    simulees: Simulees
    seconds: float

    def to_dict(self, *, per_simulee: bool = False) -> dict:
        """A JSON-ready summary (enums as their values; per-simulee arrays on request)."""

        def plain(x):
            if isinstance(x, Enum):
                return x.value
            if isinstance(x, dict):
                return {k: plain(v) for k, v in x.items()}
            if isinstance(x, list | tuple):
                return [plain(v) for v in x]
            if isinstance(x, np.ndarray):
                return x.tolist()
            if dataclasses.is_dataclass(x):
                return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
            return x

        out = {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "simulees"}
        if per_simulee:
            out["simulees"] = plain(self.simulees)
        return out


def online_policy(bp: Blueprint, cuts: Sequence[float], pool: ItemPool,
                  stop: OnlineStop = OnlineStop.BLUEPRINT) -> CatPolicy:
    """The policy online attempts follow (``blueprint_policy``), or its run-to-maximum what-if."""
    policy = blueprint_policy(bp, tuple(float(c) for c in cuts), pool=pool)  # type: ignore[arg-type]
    if stop is OnlineStop.MAX_LENGTH:
        policy = dataclasses.replace(policy, min_length=policy.max_length, confidence=None)
    return policy


def _criterion(measure: Measure, a: NDArray, b: NDArray, online: NDArray) -> Criterion:
    n = a.size
    ao, bo, ab = (a == online).astype(float), (b == online).astype(float), (a == b).astype(float)
    po, pab = float((ao.mean() + bo.mean()) / 2), float(ab.mean())
    se_po, se_ab = np.sqrt(po * (1 - po) / n), np.sqrt(pab * (1 - pab) / n)
    tolerance = CRITERION_Z * float(np.hypot(se_po, se_ab))
    d = (ao + bo) / 2 - ab
    return Criterion(measure, po, float(se_po), pab, float(se_ab), tolerance, float(d.mean()),
                     float(d.std(ddof=1) / np.sqrt(n)), bool(po >= pab - tolerance))


def simulate_agreement(
    bp: Blueprint,
    pool: ItemPool,
    cuts: Sequence[float],
    forms: Sequence[Sequence[int]],
    *,
    n_simulees: int,
    seed: int,
    exposure: ExposureParameters | None = None,
    exposure_label: str = "none",
    online_stop: OnlineStop = OnlineStop.BLUEPRINT,
    progress: Callable[[str, int, int], None] | None = None,
) -> AgreementStudy:
    """Run the study (module docstring) for two parallel forms ``forms`` (item positions in
    ``pool``; A first) and the blueprint's online policy on ``pool``."""
    if len(forms) != 2:
        raise ValueError(f"the study compares two forms, got {len(forms)}")
    if n_simulees < 2:
        raise ValueError(f"the study needs at least 2 simulees, got {n_simulees}")
    started = time.perf_counter()
    cut_list = [float(c) for c in cuts]
    cut_arr = np.asarray(cut_list)
    reg = bp.rank
    policy = online_policy(bp, cut_list, pool, online_stop)
    thetas = np.random.default_rng([seed, 1, 1]).normal(0.0, 1.0, n_simulees)
    true_band = np.searchsorted(cut_arr, thetas, side="right").astype(np.int64)
    info_at_cuts = item_information(cut_arr, pool.params)  # (cuts, n_items)

    modes = [FORM_CODES[0], FORM_CODES[1], ONLINE]
    est = {m: np.empty(n_simulees) for m in modes}
    se = {m: np.empty(n_simulees) for m in modes}
    band = {m: np.empty(n_simulees, np.int64) for m in modes}
    online_info = np.zeros((n_simulees, cut_arr.size))

    def finish(i: int, state: CatState) -> None:
        res = attempt_result(bp, cut_list, state.estimate.theta, state.estimate.se,
                             band_mass=state.posterior.band_probabilities(cut_list))
        est[ONLINE][i], se[ONLINE][i], band[ONLINE][i] = res.theta, res.se, res.band
        if state.items:
            online_info[i] = info_at_cuts[:, list(state.items)].sum(axis=1)

    sim = simulate_cat(pool, policy, thetas, seed=seed, exposure=exposure, on_finish=finish,
                       progress=None if progress is None else (lambda k: progress("simulate", k, n_simulees)))

    scores: dict[str, NDArray[np.int8]] = {}
    form_info = {}
    for f, positions in enumerate(forms):
        code = FORM_CODES[f]
        params = pool.params.take(np.asarray(positions, np.intp))
        p = probability(thetas, params)
        u = (np.random.default_rng([seed, 2, f + 1]).random(p.shape) < p).astype(np.int8)
        scores[code] = u
        form_info[code] = info_at_cuts[:, np.asarray(positions, np.intp)].sum(axis=1)
        for i in range(n_simulees):
            res = score_paper_form(bp, cut_list, params, u[i], grid=policy.grid, prior=policy.prior)
            est[code][i], se[code][i], band[code][i] = res.theta, res.se, res.band
            if progress is not None and (i + 1) % 100 == 0:
                progress(f"score {code}", i + 1, n_simulees)
    passed = {m: band[m] >= reg for m in modes}
    a, b, o = modes

    summaries = []
    for m in modes:
        summaries.append(ModeSummary(
            mode=m,
            mean_length=float(sim.lengths.mean()) if m == ONLINE else float(len(forms[modes.index(m)])),
            information=tuple(float(x) for x in (online_info.mean(axis=0) if m == ONLINE else form_info[m])),
            mean_se=float(se[m].mean()),
            band_accuracy=float(np.mean(band[m] == true_band)),
            pass_fail_accuracy=float(np.mean(passed[m] == (true_band >= reg))),
            rmse=float(np.sqrt(np.mean((est[m] - thetas) ** 2))),
        ))
    nearest = np.argmin(np.abs(thetas[:, None] - cut_arr[None, :]), axis=1)
    regions = []
    for k, c in enumerate(cut_list):
        sel = nearest == k
        if not sel.any():
            continue

        def po(x: dict, sel: NDArray[np.bool_] = sel) -> float:
            return float(((x[a][sel] == x[o][sel]).mean() + (x[b][sel] == x[o][sel]).mean()) / 2)

        regions.append(RegionAgreement(
            level=LEVEL_BAND_NAMES[k + 1], cut=c, n=int(sel.sum()),
            band_paper_online=po(band), band_forms=float(np.mean(band[a][sel] == band[b][sel])),
            pass_fail_paper_online=po(passed), pass_fail_forms=float(np.mean(passed[a][sel] == passed[b][sel])),
            online_mean_length=float(sim.lengths[sel].mean())))

    return AgreementStudy(
        blueprint=bp.id, n_simulees=n_simulees, seed=seed, cuts=tuple(cut_list),
        registered_level=bp.registered_level_name, registered_band=reg, pool_size=pool.n_items,
        form_length=len(forms[0]),
        form_items={FORM_CODES[f]: tuple(pool.item_ids[int(p)] for p in positions) for f, positions in enumerate(forms)},
        online_stop=online_stop, decide=bp.decide.value, exposure=exposure_label, stop_reasons=sim.stop_reason_counts(),
        band=(Rate.of(a, o, band[a] == band[o]), Rate.of(b, o, band[b] == band[o]), Rate.of(a, b, band[a] == band[b])),
        pass_fail=(Rate.of(a, o, passed[a] == passed[o]), Rate.of(b, o, passed[b] == passed[o]),
                   Rate.of(a, b, passed[a] == passed[b])),
        band_criterion=_criterion(Measure.BAND, band[a], band[b], band[o]),
        pass_fail_criterion=_criterion(Measure.PASS_FAIL, passed[a], passed[b], passed[o]),
        modes=tuple(summaries), regions=tuple(regions),
        simulees=Simulees(thetas, true_band, est, se, band, passed, sim.lengths, scores),
        seconds=time.perf_counter() - started,
    )
