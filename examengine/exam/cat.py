"""The CAT state machine: ``start_attempt`` -> (``next_item`` -> ``record``)* .

``CatState`` is frozen; ``record`` returns a new state. The state keeps the
log-likelihood on the policy's quadrature grid (incremental EAP), the mask
of items out of play (administered, their enemies), the content counts per
constraint group and the stop decision, so one step costs one information
vector over the pool, one masked argmax and O(Q) for the update.

Randomness (random start, randomesque, Sympson-Hetter lotteries) comes from
a ``numpy.random.Generator``. In an attempt it is :func:`step_generator`
(attempt seed, step), so an attempt replays exactly from its stored
responses (:func:`replay`); a simulation may pass one generator per simulee.

Pretest seeding is prepared: ``record(..., scored=False)`` puts an item out
of play without touching the estimate, the content counts or the length.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from examengine.irt import models
from examengine.irt.classification import Classification, classify, z_value
from examengine.irt.estimation import (
    AbilityEstimate,
    EstimationMethod,
    GridPosterior,
    estimate,
)
from examengine.irt.exposure import (
    ExposureParameters,
    ExposureRates,
    SympsonHetterCalibration,
    calibrate_sympson_hetter,
)
from examengine.irt.selection import (
    ContentConstraint,
    StartRule,
    best_item,
    choose,
    mpi_factors,
    priority,
    selection_theta,
)
from examengine.irt.simulate import SimulationReport, summarize
from examengine.irt.stopping import StopDecision, StopReason, check_stop

from .policy import CatPolicy
from .pool import ItemPool

BoolArray = NDArray[np.bool_]


def step_generator(seed: int, step: int) -> np.random.Generator:
    """The generator of step ``step`` of the attempt with ``seed``:
    ``default_rng(SeedSequence([seed, step]))``."""
    return np.random.default_rng([int(seed), int(step)])


@dataclass(frozen=True, eq=False)
class CatState:
    """Everything an attempt needs to choose the next item.

    items, scores, scored   administered positions in order, their 0/1 scores
                            and whether each was scored (pretest: False)
    posterior               log-likelihood on the grid (scored items only)
    estimate                the current ability estimate
    blocked                 (n_items,) read-only: administered or an enemy of one
    n_available             items not blocked
    content_counts          scored items per area, one array per policy content target
    sprt_log_lik            (log L(c - delta), log L(c + delta)) when SPRT is on
    stop                    the stop decision after the last record
    """

    seed: int
    items: tuple[int, ...]
    scores: tuple[int, ...]
    scored: tuple[bool, ...]
    posterior: GridPosterior
    estimate: AbilityEstimate
    blocked: BoolArray
    n_available: int
    content_counts: tuple[NDArray[np.int64], ...]
    sprt_log_lik: tuple[float, float] | None
    stop: StopDecision

    @property
    def step(self) -> int:
        """Items administered so far (scored or not)."""
        return len(self.items)

    @property
    def n_scored(self) -> int:
        return self.posterior.n_responses

    @property
    def finished(self) -> bool:
        return self.stop.stop


@dataclass(frozen=True)
class ItemChoice:
    """The next item: its position and id, the theta information was taken
    at, the criterion value, and the items that went through the exposure
    lottery (rejected ones first)."""

    position: int
    item_id: str
    theta: float
    criterion: float
    considered: tuple[int, ...]


# ---------------------------------------------------------------------------
# derived per (pool, policy) objects
# ---------------------------------------------------------------------------


def content_constraints(pool: ItemPool, policy: CatPolicy) -> tuple[ContentConstraint, ...]:
    """The MPI constraints of ``policy.content_targets`` on ``pool`` (cached on the pool)."""
    key = ("constraints", policy.content_targets)
    cached = pool._policy_cache.get(key)
    if cached is None:
        out = []
        for target in policy.content_targets:
            group = pool.content_group(target.group)
            shares = dict(target.shares)
            unknown = sorted(set(shares) - set(group.areas))
            if unknown:
                raise ValueError(f"content group {target.group!r}: no item of the pool is in area(s) {unknown}")
            targets = np.array([shares.get(a, 0.0) for a in group.areas])
            out.append(ContentConstraint(target.group, group.codes, targets))
        cached = tuple(out)
        pool._policy_cache[key] = cached
    return cached  # type: ignore[return-value]


def _sprt_tables(pool: ItemPool, policy: CatPolicy) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(log P, log(1 - P)) at the two SPRT points, each (n_items, 2)."""
    assert policy.sprt is not None
    key = ("sprt", policy.sprt)
    cached = pool._policy_cache.get(key)
    if cached is None:
        log_p, log_q = models.log_probabilities(np.array(policy.sprt.points), pool.params)
        cached = (np.ascontiguousarray(log_p.T), np.ascontiguousarray(log_q.T))
        pool._policy_cache[key] = cached
    return cached  # type: ignore[return-value]


# ---------------------------------------------------------------------------
# the state machine
# ---------------------------------------------------------------------------


def _stop(policy: CatPolicy, n_scored: int, est: AbilityEstimate, n_available: int,
          sprt_ll: tuple[float, float] | None) -> StopDecision:
    sprt_decision = None
    if policy.sprt is not None and sprt_ll is not None and n_scored > 0:
        sprt_decision = policy.sprt.decide(*sprt_ll)
    return check_stop(policy.stopping, n_administered=n_scored, theta=est.theta, se=est.se,
                      any_item_available=n_available > 0, sprt_decision=sprt_decision)


def start_attempt(pool: ItemPool, policy: CatPolicy, *, seed: int) -> CatState:
    """The state before the first item."""
    posterior = GridPosterior.start(policy.grid, policy.prior)
    est = posterior.estimate()
    if policy.estimator is not EstimationMethod.EAP:
        est = estimate(policy.estimator, pool.params.take([]), np.zeros(0), grid=policy.grid, prior=policy.prior)
    blocked = np.zeros(pool.n_items, dtype=bool)
    blocked.setflags(write=False)
    counts = tuple(np.zeros(c.n_areas, dtype=np.int64) for c in content_constraints(pool, policy))
    sprt_ll = (0.0, 0.0) if policy.sprt is not None else None
    stop = _stop(policy, 0, est, pool.n_items, sprt_ll)
    pool.grid_tables(policy.grid)  # warm the cache outside the first step
    return CatState(int(seed), (), (), (), posterior, est, blocked, pool.n_items, counts, sprt_ll, stop)


def progressive_criterion(info: NDArray[np.float64], blocked: NDArray[np.bool_], s: float,
                          rng: np.random.Generator) -> NDArray[np.float64]:
    """The progressive method's criterion (Revuelta & Ponsoda 1998, J. Educ. Meas. 35, 311-327):
    (1 - s) R_j H + s I_j, with R_j ~ U(0, 1) and H the largest information among the items
    still available; s in [0, 1] is the weight of information (0: a random item, 1: max info)."""
    available = info[~blocked]
    h = float(available.max()) if available.size else 0.0
    return (1.0 - s) * h * rng.random(info.size) + s * info


def next_item(
    state: CatState,
    pool: ItemPool,
    policy: CatPolicy,
    *,
    exposure: ExposureParameters | None = None,
    rng: np.random.Generator | None = None,
) -> ItemChoice | None:
    """Choose the next item, or None when the attempt has stopped or no item is left.

    Information is taken at: a theta drawn from ``policy.start_interval``
    (RANDOM_THETA) or the prior mean (PRIOR_MEAN) for the first
    ``policy.start_items`` scored items; afterwards the current estimate
    (MAX_INFO) or the cut nearest to it (CUT_INFO). Over the first
    ``policy.progressive_items`` items the information is mixed with a random
    component (:func:`progressive_criterion`). The criterion is that times the
    MPI factors of the content targets; then
    randomesque and Sympson-Hetter as in :func:`examengine.irt.selection.choose`.
    ``rng`` defaults to :func:`step_generator` (state.seed, state.step) and is
    only created when randomness is needed.
    """
    if state.stop.stop or state.n_available == 0:
        return None
    k = policy.randomesque_k
    if policy.randomesque_items is not None and state.n_scored >= policy.randomesque_items:
        k = 1
    progressive = state.n_scored < policy.progressive_items
    needs_rng = k > 1 or exposure is not None or progressive or (
        policy.start is StartRule.RANDOM_THETA and state.n_scored < policy.start_items)
    if needs_rng and rng is None:
        rng = step_generator(state.seed, state.step)
    if state.n_scored < policy.start_items:
        if policy.start is StartRule.RANDOM_THETA:
            assert rng is not None
            theta = float(rng.uniform(*policy.start_interval))
        else:
            theta = policy.prior.mean
    else:
        half = None
        if policy.primary_cut is not None:
            half = z_value(policy.confidence if policy.confidence is not None else 0.95) * state.estimate.se
        theta = selection_theta(policy.selection, state.estimate.theta, policy.cuts, primary=policy.primary_cut,
                                half_width=half)
    constraints = content_constraints(pool, policy)
    factors = mpi_factors(constraints, state.content_counts, state.n_scored) if constraints else None
    blocked = state.blocked
    if k == 1 and exposure is None and not progressive:
        choice = best_item(pool.information_index, theta, blocked, factors)
    else:
        info = models.item_information_at(theta, pool.params)
        if progressive:
            assert rng is not None
            info = progressive_criterion(info, blocked, state.n_scored / policy.progressive_items, rng)
        if factors is not None:
            info = priority(info, factors, blocked)
        choice = choose(info, blocked, rng=rng, randomesque_k=k,
                        exposure_k=None if exposure is None else exposure.k, overwrite=True)
    if choice is None:
        return None
    return ItemChoice(choice.position, pool.item_ids[choice.position], theta, choice.value, choice.considered)


def record(
    state: CatState,
    item: int | ItemChoice,
    score: int,
    pool: ItemPool,
    policy: CatPolicy,
    *,
    scored: bool = True,
    also_set_aside: Iterable[int] = (),
) -> CatState:
    """The state after ``item`` (a position, or the ItemChoice) was answered with ``score`` (0/1).

    Items the Sympson-Hetter lottery rejected on the way to ``item`` (an
    ItemChoice's ``considered`` other than the item itself, plus
    ``also_set_aside`` positions when replaying stored rows) are set aside
    for the rest of the attempt, as in Sympson & Hetter's procedure.
    Raises ValueError for an item that is out of play (already given or an
    enemy of one) or a score other than 0/1.
    """
    position = item.position if isinstance(item, ItemChoice) else int(item)
    set_aside = tuple(i for i in item.considered if i != position) if isinstance(item, ItemChoice) else ()
    set_aside += tuple(int(i) for i in also_set_aside)
    if not 0 <= position < pool.n_items:
        raise ValueError(f"item position {position} is outside the pool (0..{pool.n_items - 1})")
    if state.blocked[position]:
        raise ValueError(f"item {pool.item_ids[position]!r} was already given or is an enemy of a given item")
    if score not in (0, 1):
        raise ValueError(f"score must be 0 or 1, got {score!r}")
    enemies = pool.enemies_of(position)
    blocked = state.blocked.copy()
    newly = 1 + (int(np.count_nonzero(~blocked[enemies])) if enemies.size else 0)
    blocked[position] = True
    if enemies.size:
        blocked[enemies] = True
    if set_aside:
        aside = np.asarray(set_aside, dtype=np.intp)
        newly += int(np.count_nonzero(~blocked[aside]))
        blocked[aside] = True
    blocked.setflags(write=False)
    n_available = state.n_available - newly

    posterior, est, counts, sprt_ll = state.posterior, state.estimate, state.content_counts, state.sprt_log_lik
    if scored:
        log_p, log_q = pool.grid_tables(policy.grid)
        posterior = posterior.update(log_p[position] if score else log_q[position])
        if policy.estimator is EstimationMethod.EAP:
            est = posterior.estimate()
        else:
            positions = [i for i, s in zip(state.items, state.scored) if s] + [position]
            scores = [x for x, s in zip(state.scores, state.scored) if s] + [score]
            est = estimate(policy.estimator, pool.params.take(positions), np.array(scores, dtype=float),
                           grid=policy.grid, prior=policy.prior)
        constraints = content_constraints(pool, policy)
        if constraints:
            new_counts = []
            for c, cnt in zip(constraints, counts):
                code = int(c.codes[position])
                if code >= 0:
                    cnt = cnt.copy()
                    cnt[code] += 1
                new_counts.append(cnt)
            counts = tuple(new_counts)
        if sprt_ll is not None:
            sp, sq = _sprt_tables(pool, policy)
            row = sp[position] if score else sq[position]
            sprt_ll = (sprt_ll[0] + float(row[0]), sprt_ll[1] + float(row[1]))
    stop = _stop(policy, posterior.n_responses, est, n_available, sprt_ll)
    return CatState(state.seed, state.items + (position,), state.scores + (int(score),),
                    state.scored + (bool(scored),), posterior, est, blocked, n_available, counts, sprt_ll, stop)


def replay(
    pool: ItemPool,
    policy: CatPolicy,
    *,
    seed: int,
    responses: Iterable[StoredResponse | tuple[str, int] | tuple[str, int, bool]],
    state: CatState | None = None,
) -> CatState:
    """Rebuild an attempt's state from its stored rows, in order.

    A row is a :class:`StoredResponse` or a tuple (item id, score[, scored]).
    ``state``: continue from this state (an earlier replay of a prefix of the same rows)
    instead of from the start; states are immutable, so a cached one can be extended.
    """
    if state is None:
        state = start_attempt(pool, policy, seed=seed)
    for row in responses:
        if not isinstance(row, StoredResponse):
            row = StoredResponse(row[0], int(row[1]), bool(row[2]) if len(row) > 2 else True)  # type: ignore[misc]
        # an item set aside then and since gone from the pool (retired) cannot be chosen anyway
        state = record(state, pool.position(row.item_id), row.score, pool, policy, scored=row.scored,
                       also_set_aside=[pool.position(i) for i in row.set_aside_ids if i in pool])
    return state


@dataclass(frozen=True)
class StoredResponse:
    """What an attempt stores per step so that :func:`replay` rebuilds it:
    the item id, the 0/1 score, whether it was scored, and the ids the
    exposure lottery set aside before it (``ItemChoice.considered`` minus the item)."""

    item_id: str
    score: int
    scored: bool = True
    set_aside_ids: tuple[str, ...] = ()


def classify_state(state: CatState, policy: CatPolicy) -> Classification | None:
    """The band decision for the current state (None without cut scores).

    SPRT decision if SPRT stopped the test, else the CI band at
    ``policy.confidence`` (0.95 when None), else the band of the estimate;
    the confidence is the posterior mass of the band on the grid.
    """
    cut_scores = policy.cut_scores
    if cut_scores is None:
        return None
    sprt_decision = None
    if policy.sprt is not None and state.sprt_log_lik is not None and state.stop.reason is StopReason.SPRT:
        sprt_decision = policy.sprt.decide(*state.sprt_log_lik)
    mass = state.posterior.band_probabilities(cut_scores.cuts)
    return classify(state.estimate.theta, state.estimate.se, cut_scores,
                    confidence=policy.confidence or 0.95, band_mass=mass,
                    sprt=policy.sprt, sprt_decision=sprt_decision)


# ---------------------------------------------------------------------------
# simulation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CatSimulation:
    """Raw results of :func:`simulate_cat`; shapes (simulees,) or (n_items,)."""

    true_theta: NDArray[np.float64]
    theta: NDArray[np.float64]
    se: NDArray[np.float64]
    lengths: NDArray[np.int64]
    bands: NDArray[np.int64] | None
    stop_reasons: tuple[StopReason, ...]
    administered_counts: NDArray[np.int64]
    selected_counts: NDArray[np.int64]
    seconds: float

    @property
    def n_simulees(self) -> int:
        return int(self.true_theta.size)

    def exposure_rates(self) -> ExposureRates:
        return ExposureRates.from_counts(self.selected_counts, self.administered_counts, self.n_simulees)

    def report(self, policy: CatPolicy) -> SimulationReport:
        return summarize(self.true_theta, self.theta, self.lengths, self.administered_counts,
                         est_se=self.se, cut_scores=policy.cut_scores, decided_band=self.bands)

    def stop_reason_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.stop_reasons:
            out[r.value] = out.get(r.value, 0) + 1
        return out


def simulate_cat(
    pool: ItemPool,
    policy: CatPolicy,
    true_theta: ArrayLike,
    *,
    seed: int,
    exposure: ExposureParameters | None = None,
    progress: Callable[[int], None] | None = None,
    uniforms: ArrayLike | None = None,
    on_finish: Callable[[int, CatState], None] | None = None,
) -> CatSimulation:
    """Run the real state machine for every simulee.

    Simulee i uses ``default_rng([seed, i])`` for both its selection
    randomness and its responses (u = 1 when U(0, 1) < P(theta_i)), so a
    run is reproducible from ``seed``. ``uniforms`` (simulees x max length)
    supplies the U(0, 1) draws of the responses instead (common random
    numbers, to compare designs or engines on the same draws).
    ``progress(k)`` is called after each simulee with the number done;
    ``on_finish(i, state)`` with each simulee's final state (per-attempt studies).
    """
    thetas = np.asarray(true_theta, dtype=np.float64).reshape(-1)
    draws = None if uniforms is None else np.asarray(uniforms, dtype=np.float64)
    if draws is not None and (draws.ndim != 2 or draws.shape[0] != thetas.size):
        raise ValueError(f"uniforms must have shape ({thetas.size}, max length), got {draws.shape}")
    n_sim = thetas.size
    est = np.empty(n_sim)
    se = np.empty(n_sim)
    lengths = np.zeros(n_sim, dtype=np.int64)
    bands = np.empty(n_sim, dtype=np.int64) if policy.cut_scores is not None else None
    reasons: list[StopReason] = []
    administered = np.zeros(pool.n_items, dtype=np.int64)
    selected = np.zeros(pool.n_items, dtype=np.int64)
    a, b, c = pool.params.a, pool.params.b, pool.params.c
    started = time.perf_counter()
    for i, theta in enumerate(thetas):
        rng = np.random.default_rng([int(seed), i])
        state = start_attempt(pool, policy, seed=int(seed))
        seen: set[int] = set()
        while not state.stop.stop:
            choice = next_item(state, pool, policy, exposure=exposure, rng=rng)
            if choice is None:
                break
            j = choice.position
            if exposure is not None:
                seen.update(choice.considered)
            p = c[j] + (1.0 - c[j]) / (1.0 + math.exp(-a[j] * (theta - b[j])))
            u = rng.random() if draws is None else draws[i, state.step]
            state = record(state, choice, int(u < p), pool, policy)
        est[i] = state.estimate.theta
        se[i] = state.estimate.se
        lengths[i] = state.n_scored
        reasons.append(state.stop.reason)
        if state.items:
            administered[list(state.items)] += 1
        if exposure is not None:
            selected[list(seen)] += 1
        else:
            selected[list(state.items)] += 1 if state.items else 0
        if bands is not None:
            decision = classify_state(state, policy)
            bands[i] = -1 if decision is None else decision.band
        if on_finish is not None:
            on_finish(i, state)
        if progress is not None:
            progress(i + 1)
    return CatSimulation(thetas, est, se, lengths, bands, tuple(reasons), administered, selected,
                         time.perf_counter() - started)


def calibrate_exposure(
    pool: ItemPool,
    policy: CatPolicy,
    *,
    target: float | None = None,
    n_simulees: int = 1000,
    seed: int = 0,
    theta_mean: float = 0.0,
    theta_sd: float = 1.0,
    max_iterations: int = 30,
    tolerance: float = 0.0,
    average_last: int = 0,
    final_simulees: int | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> SympsonHetterCalibration:
    """Sympson-Hetter parameters for ``policy`` on ``pool`` by iterative simulation.

    Each iteration simulates ``n_simulees`` with theta ~ N(theta_mean, theta_sd^2)
    and a fresh seed (seed, iteration); ``target`` defaults to
    ``policy.exposure_target``. ``progress(iteration, max_exposure)`` after each round.
    With ``average_last`` = m the parameters are the mean of the last m updates
    (:func:`calibrate_sympson_hetter`), and those m rounds simulate ``final_simulees``
    (default ``n_simulees``) each.
    """
    r = target if target is not None else policy.exposure_target
    if r is None:
        raise ValueError("an exposure target is needed (policy.exposure_target or target=)")

    def run(params: ExposureParameters, iteration: int) -> ExposureRates:
        rng = np.random.default_rng([int(seed), iteration, 0])
        n = n_simulees
        if final_simulees is not None and iteration > max_iterations - average_last:
            n = final_simulees
        thetas = rng.normal(theta_mean, theta_sd, n)
        sim = simulate_cat(pool, policy, thetas, seed=int(seed) * 1000 + iteration, exposure=params)
        rates = sim.exposure_rates()
        if progress is not None:
            progress(iteration, float(rates.administered.max()))
        return rates

    return calibrate_sympson_hetter(run, pool.n_items, r, max_iterations=max_iterations, tolerance=tolerance,
                                    average_last=average_last)


def administered_ids(state: CatState, pool: ItemPool) -> tuple[str, ...]:
    """The item ids of an attempt, in order."""
    return tuple(pool.item_ids[i] for i in state.items)


__all__: Sequence[str] = (
    "CatState", "CatSimulation", "ItemChoice", "administered_ids", "calibrate_exposure", "classify_state",
    "content_constraints", "next_item", "progressive_criterion", "record", "replay", "simulate_cat", "start_attempt",
    "step_generator", "StoredResponse",
)
