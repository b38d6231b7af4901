"""Item calibration: marginal maximum likelihood by EM (Bock & Aitkin 1981) for the
Rasch, 2PL and 3PL models, correct for sparse and adaptively routed data; fixed-parameter
calibration of pretest items; linking (mean/sigma, Stocking-Lord); drift; promotion.

Model (logistic metric, D = 1, as girth and ltm's IRT parameterisation):

    P*_i(theta) = 1 / (1 + exp(-a_i (theta - b_i))),   P_i = c_i + (1 - c_i) P*_i

Data are a sparse set of observed cells (person, item, score): a missing cell is simply
absent, never a zero, so the likelihood of person p is the product over the items p
answered. Under any routing that depends only on observed responses (an adaptive exam),
the missing cells are missing at random and the full marginal likelihood is correct
(Mislevy & Wu 1996); matching each item's observed proportion correct to the population's
(girth's difficulty step) is not.

EM on a fixed quadrature grid theta_q (Q points on [-6, 6]) with weights w_q (the normal
population density, normalised):

* E-step (sparse): log L_pq = sum_{i answered by p} u_pi log P_iq + (1 - u_pi) log(1 - P_iq)
  is two sparse-dense products R1 @ log P^T + R0 @ log(1 - P)^T (R1, R0: persons x items
  indicators of right and wrong answers); the posterior h_pq = L_pq w_q / sum_q L_pq w_q;
  expected counts n_iq = sum_{p answered i} h_pq and r_iq = sum_{p right on i} h_pq.
* M-step (vectorised over items): Fisher scoring on
  sum_q r_iq log P_iq + (n_iq - r_iq) log(1 - P_iq) + log prior_i, with the gradient
  g_k = sum_q (r_q - n_q P_q) / (P_q (1 - P_q)) dP_q/dk and the expected information
  I_kl = sum_q n_q / (P_q (1 - P_q)) dP_q/dk dP_q/dl, where
  dP/da = (1 - c) P*(1 - P*) (theta - b), dP/db = -a (1 - c) P*(1 - P*), dP/dc = 1 - P*;
  a step is halved while it lowers the item's expected complete-data log posterior.
* Population: N(0, 1) fixes the scale; with fixed (anchor) items the population mean and
  SD are estimated too (posterior moments), which carries the anchors' scale to the free
  items (fixed-parameter calibration, Kim 2006).
* Priors (MAP in the M-step, Mislevy 1986): log a ~ N(m, s^2), b ~ N(m, s^2),
  c ~ Beta(alpha, beta). The c prior is on by default for the 3PL; items with fewer than
  ``weak_below`` responses get weak a and b priors.
* Standard errors: the inverse of the cross-product (XPD) information
  sum_p s_p s_p^T + prior information, where s_p is person p's score vector of the marginal
  log-likelihood (the empirical information; Mislevy 1986; mirt's SE.type = "crossprod").
* Item fit: RMSD_i = sqrt(sum_q (n_iq / n_i) (r_iq / n_iq - P_iq)^2), model-based and valid
  for sparse data (the PISA statistic), and infit/outfit mean squares at the EAP abilities.

References: Bock, R. D. & Aitkin, M. (1981). Marginal maximum likelihood estimation of item
parameters: application of an EM algorithm. Psychometrika 46, 443-459. Baker, F. B. &
Kim, S.-H. (2004). Item Response Theory: Parameter Estimation Techniques, 2nd ed., ch. 6-7.
Mislevy, R. J. (1986). Bayes modal estimation in item response models. Psychometrika 51,
177-195. Kim, S. (2006). A comparative study of IRT fixed parameter calibration methods.
JEM 43, 355-381. Stocking, M. L. & Lord, F. M. (1983). Developing a common metric in IRT.
APM 7, 201-210.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, sparse
from scipy.special import expit, log_expit, logsumexp

from . import models
from .params import FloatArray, ItemParams

IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

_P_EPS = 1e-12
A_BOUNDS = (0.02, 8.0)
B_BOUNDS = (-8.0, 8.0)
C_BOUNDS = (1e-4, 0.6)


class CalibrationModel(Enum):
    """The model a calibration fits. RASCH fixes a = 1 (girth's ``rasch_mml``)."""

    RASCH = "rasch"
    TWO_PL = "2pl"
    THREE_PL = "3pl"

    @property
    def n_item_parameters(self) -> int:
        return {"rasch": 1, "2pl": 2, "3pl": 3}[self.value]

    @classmethod
    def parse(cls, text: str) -> CalibrationModel:
        key = text.strip().lower()
        aliases = {"1pl": "rasch", "rasch": "rasch", "2pl": "2pl", "3pl": "3pl"}
        if key not in aliases:
            raise ValueError(f"unknown calibration model {text!r} (use rasch, 2pl or 3pl)")
        return cls(aliases[key])


# ---------------------------------------------------------------------------- data


@dataclass(frozen=True, eq=False)
class ResponseData:
    """Observed cells of a persons x items design: ``person``, ``item``, ``score`` (n_obs,).

    A missing cell is absent. Build with :meth:`from_matrix` (NaN or a mask marks
    missing) or :meth:`from_cells`.
    """

    person: IntArray
    item: IntArray
    score: NDArray[np.int8]
    n_persons: int
    n_items: int

    @classmethod
    def from_cells(cls, person: ArrayLike, item: ArrayLike, score: ArrayLike, n_persons: int,
                   n_items: int) -> ResponseData:
        p = np.asarray(person, dtype=np.intp).reshape(-1)
        i = np.asarray(item, dtype=np.intp).reshape(-1)
        s = np.asarray(score).reshape(-1)
        if not (p.shape == i.shape == s.shape):
            raise ValueError("person, item and score must have one length")
        if p.size and (p.min() < 0 or p.max() >= n_persons or i.min() < 0 or i.max() >= n_items):
            raise ValueError("person or item index out of range")
        bad = ~np.isin(s, (0, 1))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"cell {k} (person {p[k]}, item {i[k]}): score must be 0 or 1, got {s[k]!r}")
        key = p.astype(np.int64) * n_items + i
        if np.unique(key).size != key.size:
            raise ValueError("a (person, item) cell is given twice")
        return cls(p, i, s.astype(np.int8), int(n_persons), int(n_items))

    @classmethod
    def from_matrix(cls, responses: ArrayLike, mask: ArrayLike | None = None) -> ResponseData:
        """``responses`` persons x items of 0/1 (NaN = missing); ``mask`` True = answered."""
        u = np.asarray(responses, dtype=np.float64)
        if u.ndim != 2:
            raise ValueError(f"responses must be persons x items, got ndim={u.ndim}")
        m = ~np.isnan(u) if mask is None else (np.asarray(mask, dtype=bool) & ~np.isnan(u))
        p, i = np.nonzero(m)
        return cls.from_cells(p, i, u[p, i].astype(np.int8), u.shape[0], u.shape[1])

    @property
    def n_observations(self) -> int:
        return int(self.score.size)

    def item_counts(self) -> IntArray:
        return np.bincount(self.item, minlength=self.n_items)

    def person_counts(self) -> IntArray:
        return np.bincount(self.person, minlength=self.n_persons)

    def is_complete(self) -> bool:
        return self.n_observations == self.n_persons * self.n_items

    def to_matrix(self) -> FloatArray:
        """persons x items with NaN where missing."""
        out = np.full((self.n_persons, self.n_items), np.nan)
        out[self.person, self.item] = self.score
        return out

    def _indicators(self) -> sparse.csr_matrix:
        """persons x (2 items): column i marks a right answer to item i, column n + i a wrong one."""
        cols = self.item + np.where(self.score == 1, 0, self.n_items)
        return sparse.csr_matrix((np.ones(self.n_observations), (self.person, cols)),
                                 shape=(self.n_persons, 2 * self.n_items))


# ---------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Priors:
    """Priors of the M-step. ``a``: (mean, sd) of log a; ``b``: (mean, sd); ``c``: Beta
    (alpha, beta). ``None`` switches one off. Items answered fewer than ``weak_below``
    times get ``weak_a`` / ``weak_b`` when ``a`` / ``b`` are off.

    With ``center_a`` (default) the mean of the log a prior is not the given m but the mean
    log a of the estimated items, updated every cycle: a prior centred at a fixed value pulls
    every item the same way, and summed over a long test that pull moves the weakly identified
    common scale of a (40 items: -0.04 in a at 5,000 persons for a bank with median a 1.2);
    centred, it only shrinks the spread.

    Defaults: log a ~ N(mean, 0.5^2) (BILOG-MG's prior width for the 2PL/3PL), c ~ Beta(5, 17)
    (mean 0.2) for the 3PL, b free except N(0, 2^2) under 100 responses. The a prior is on
    for every item because adaptive routing gives an item candidates in a narrow ability band,
    where a is weakly identified whatever the count: without it, a few items run to extreme
    (a, b) pairs (see docs/calibration.md). ``Priors.none()`` is pure MML (ltm, girth)."""

    a: tuple[float, float] | None = (0.0, 0.5)
    b: tuple[float, float] | None = None
    c: tuple[float, float] | None = (5.0, 17.0)
    weak_below: int = 100
    weak_a: tuple[float, float] = (0.0, 0.5)
    weak_b: tuple[float, float] = (0.0, 2.0)
    center_a: bool = True

    @classmethod
    def none(cls) -> Priors:
        """Pure marginal maximum likelihood (no prior at all)."""
        return cls(a=None, b=None, c=None, weak_below=0)


@dataclass(frozen=True)
class FixedItems:
    """Items whose parameters are held fixed (anchors): their positions and parameters."""

    positions: IntArray
    params: ItemParams

    def __post_init__(self) -> None:
        pos = np.asarray(self.positions, dtype=np.intp).reshape(-1)
        if pos.size != self.params.n_items:
            raise ValueError(f"{pos.size} fixed positions but {self.params.n_items} parameter rows")
        object.__setattr__(self, "positions", pos)


@dataclass(frozen=True)
class Convergence:
    iterations: int
    converged: bool
    max_change: float
    tolerance: float
    loglik_history: tuple[float, ...]
    seconds: float


@dataclass(frozen=True, eq=False)
class ItemFit:
    """Per item: RMSD (model-based, Q-weighted), infit and outfit mean squares (at EAP)."""

    rmsd: FloatArray
    infit: FloatArray
    outfit: FloatArray


@dataclass(frozen=True, eq=False)
class CalibrationResult:
    """Estimates, standard errors (NaN where not estimated), fit and convergence.

    ``theta``/``theta_se``: EAP and posterior SD per person under the final estimates.
    ``free``: True for items estimated here (False: fixed anchors). ``n_parameters`` counts
    the estimated item parameters (plus 2 when the population was estimated).
    """

    model: CalibrationModel
    params: ItemParams
    se_a: FloatArray
    se_b: FloatArray
    se_c: FloatArray
    free: BoolArray
    n_responses: IntArray
    p_values: FloatArray
    loglik: float
    n_parameters: int
    n_persons: int
    n_observations: int
    population_mean: float
    population_sd: float
    fit: ItemFit
    convergence: Convergence
    theta: FloatArray
    theta_se: FloatArray
    engine: str = "em"

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_parameters

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + self.n_parameters * math.log(max(self.n_persons, 1))


# ---------------------------------------------------------------------------- EM


def _grid(n_quad: int, bounds: tuple[float, float]) -> FloatArray:
    return np.linspace(bounds[0], bounds[1], n_quad)


def _log_weights(nodes: FloatArray, mean: float, sd: float) -> FloatArray:
    lw = -0.5 * ((nodes - mean) / sd) ** 2
    return lw - logsumexp(lw)


def _probs(nodes: FloatArray, a: FloatArray, b: FloatArray, c: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(P*, P) of shape (items, Q)."""
    p_star = expit(a[:, None] * (nodes[None, :] - b[:, None]))
    return p_star, c[:, None] + (1.0 - c[:, None]) * p_star


def _log_pq(nodes: FloatArray, a: FloatArray, b: FloatArray, c: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = a[:, None] * (nodes[None, :] - b[:, None])
    with np.errstate(divide="ignore"):
        log_c = np.log(c)[:, None]
    log_1mc = np.log1p(-c)[:, None]
    return np.logaddexp(log_c, log_1mc + log_expit(z)), log_1mc + log_expit(-z)


@dataclass
class _EStep:
    r: FloatArray  # items x Q expected right answers
    n: FloatArray  # items x Q expected answers
    loglik: float
    post: FloatArray  # persons x Q


def _e_step(x: sparse.csr_matrix | FloatArray, xt: sparse.csr_matrix | FloatArray, nodes: FloatArray, log_w: FloatArray,
            a: FloatArray, b: FloatArray, c: FloatArray) -> _EStep:
    """``x``: persons x (2 items) right/wrong indicators, ``xt`` its transpose (CSR)."""
    log_p, log_q = _log_pq(nodes, a, b, c)
    ll = np.asarray(x @ np.vstack([log_p, log_q]))  # persons x Q
    ll += log_w
    mx = ll.max(axis=1, keepdims=True)
    post = np.exp(ll - mx)
    tot = post.sum(axis=1, keepdims=True)
    post /= tot
    norm = np.log(tot[:, 0]) + mx[:, 0]
    counts = np.asarray(xt @ post)
    n_items = a.size
    r = counts[:n_items]
    return _EStep(r, r + counts[n_items:], float(norm.sum()), post)


def _prior_terms(x: FloatArray, kind: str, prior: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(log prior, gradient, information) of a prior on each item; ``prior`` (items, 2) with
    NaN rows for items without a prior."""
    has = ~np.isnan(prior[:, 0])
    lp = np.zeros_like(x)
    g = np.zeros_like(x)
    info = np.zeros_like(x)
    if not has.any():
        return lp, g, info
    m, s = prior[has, 0], prior[has, 1]
    v = x[has]
    if kind == "a":  # log a ~ N(m, s^2), a density on log a (mode at a = exp(m))
        la = np.log(v)
        lp[has] = -0.5 * ((la - m) / s) ** 2
        g[has] = -(la - m) / (s * s * v)
        info[has] = 1.0 / (s * s * v * v)
    elif kind == "b":
        lp[has] = -0.5 * ((v - m) / s) ** 2
        g[has] = -(v - m) / (s * s)
        info[has] = 1.0 / (s * s)
    else:  # c ~ Beta(m, s)
        lp[has] = (m - 1.0) * np.log(v) + (s - 1.0) * np.log1p(-v)
        g[has] = (m - 1.0) / v - (s - 1.0) / (1.0 - v)
        info[has] = np.maximum(m - 1.0, 0.0) / (v * v) + np.maximum(s - 1.0, 0.0) / (1.0 - v) ** 2
    return lp, g, info


def _item_objective(nodes, r, n, a, b, c, priors_abc) -> FloatArray:
    log_p, log_q = _log_pq(nodes, a, b, c)
    val = (r * log_p + (n - r) * log_q).sum(axis=1)
    for x, kind, pr in zip((a, b, c), "abc", priors_abc, strict=True):
        if pr is not None:
            val += _prior_terms(x, kind, pr)[0]
    return val


def _m_step(model: CalibrationModel, nodes: FloatArray, r: FloatArray, n: FloatArray, a: FloatArray,
            b: FloatArray, c: FloatArray, free: BoolArray, priors_abc, newton_steps: int = 2
            ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Fisher scoring on the free items' expected complete-data log posterior."""
    idx = np.flatnonzero(free)
    if idx.size == 0:
        return a, b, c
    a, b, c = a.copy(), b.copy(), c.copy()
    rr, nn = r[idx], n[idx]
    pa = [None if p is None else p[idx] for p in priors_abc]
    k = model.n_item_parameters
    for _ in range(newton_steps):
        ai, bi, ci = a[idx], b[idx], c[idx]
        p_star, p = _probs(nodes, ai, bi, ci)
        p = np.clip(p, _P_EPS, 1.0 - _P_EPS)
        resid = rr - nn * p
        ratio = p_star / p  # (1 - c) P*(1 - P*) / (P (1 - P))
        d = nodes[None, :] - bi[:, None]
        # derivatives dP/dk of shape (items, Q), in the order of the model's parameters
        s = (1.0 - ci)[:, None] * p_star * (1.0 - p_star)
        derivs: list[FloatArray] = []
        grads: list[FloatArray] = []
        if model is not CalibrationModel.RASCH:
            derivs.append(s * d)
            grads.append((resid * ratio * d).sum(axis=1))
        derivs.append(-s * ai[:, None])
        grads.append(-ai * (resid * ratio).sum(axis=1))
        if model is CalibrationModel.THREE_PL:
            derivs.append(1.0 - p_star)
            grads.append((resid / (p * (1.0 - ci)[:, None])).sum(axis=1))
        v = nn / (p * (1.0 - p))
        info = np.empty((idx.size, k, k))
        for u in range(k):
            for w in range(u, k):
                info[:, u, w] = info[:, w, u] = (v * derivs[u] * derivs[w]).sum(axis=1)
        grad = np.column_stack(grads)
        names = (["a"] if model is not CalibrationModel.RASCH else []) + ["b"] + (
            ["c"] if model is CalibrationModel.THREE_PL else [])
        cur = {"a": ai, "b": bi, "c": ci}
        prior_of = {"a": pa[0], "b": pa[1], "c": pa[2]}
        for j, name in enumerate(names):
            if prior_of[name] is not None:
                _, g, inf = _prior_terms(cur[name], name, prior_of[name])
                grad[:, j] += g
                info[:, j, j] += inf
        info[:, range(k), range(k)] += 1e-8
        step = np.linalg.solve(info, grad[..., None])[..., 0]
        big = np.abs(step).max(axis=1)
        step *= np.minimum(1.0, 1.0 / np.maximum(big, 1e-300))[:, None]
        before = _item_objective(nodes, rr, nn, ai, bi, ci, pa)
        scale = np.ones(idx.size)
        for _halving in range(6):
            cand = {nm: cur[nm] + scale * step[:, j] for j, nm in enumerate(names)}
            na = np.clip(cand.get("a", ai), *A_BOUNDS)
            nb = np.clip(cand.get("b", bi), *B_BOUNDS)
            nc = np.clip(cand.get("c", ci), *C_BOUNDS) if model is CalibrationModel.THREE_PL else ci
            after = _item_objective(nodes, rr, nn, na, nb, nc, pa)
            worse = after < before - 1e-10
            if not worse.any():
                break
            scale = np.where(worse, scale * 0.5, scale)
        keep = after >= before - 1e-10
        a[idx] = np.where(keep, na, ai)
        b[idx] = np.where(keep, nb, bi)
        c[idx] = np.where(keep, nc, ci)
    return a, b, c


def _priors_per_item(priors: Priors, model: CalibrationModel, counts: IntArray):
    n = counts.size

    def rows(value, weak):
        out = np.full((n, 2), np.nan)
        if value is not None:
            out[:] = value
        elif weak is not None and priors.weak_below > 0:
            out[counts < priors.weak_below] = weak
        return out if not np.isnan(out[:, 0]).all() else None

    pa = rows(priors.a, priors.weak_a) if model is not CalibrationModel.RASCH else None
    pb = rows(priors.b, priors.weak_b)
    pc = rows(priors.c, None) if model is CalibrationModel.THREE_PL else None
    return [pa, pb, pc]


def _start_values(data: ResponseData, model: CalibrationModel, priors: Priors) -> tuple[FloatArray, ...]:
    counts = data.item_counts()
    rights = np.bincount(data.item, weights=data.score, minlength=data.n_items)
    p = (rights + 0.5) / (counts + 1.0)
    c = np.zeros(data.n_items)
    if model is CalibrationModel.THREE_PL:
        alpha, beta = priors.c if priors.c is not None else (5.0, 17.0)
        c[:] = min(max((alpha - 1.0) / max(alpha + beta - 2.0, 1e-9), 0.05), 0.3)
    pp = np.clip((p - c) / (1.0 - c), 0.02, 0.98)
    b = np.clip(-1.3 * np.log(pp / (1.0 - pp)), -4.0, 4.0)
    a = np.ones(data.n_items)
    return a, b, c


def calibrate(
    data: ResponseData,
    model: CalibrationModel = CalibrationModel.TWO_PL,
    *,
    priors: Priors | None = None,
    fixed: FixedItems | None = None,
    start: ItemParams | None = None,
    estimate_population: bool | None = None,
    n_quad: int | None = None,
    theta_bounds: tuple[float, float] = (-6.0, 6.0),
    max_iterations: int = 500,
    tolerance: float = 1e-4,
    compute_se: bool = True,
    progress: Callable[[int, float, float], None] | None = None,
) -> CalibrationResult:
    """Marginal maximum likelihood (or MAP with ``priors``) item parameters by EM.

    ``fixed`` holds anchor items at their parameters (fixed-parameter calibration); then the
    population mean and SD are estimated (``estimate_population`` defaults to True), which
    puts the free items on the anchors' scale. Without anchors the population is N(0, 1).
    Converged when no free parameter moves more than ``tolerance`` in one cycle.
    ``progress(iteration, loglik, max_change)`` is called after every cycle.
    """
    started = time.perf_counter()
    priors = Priors() if priors is None else priors
    n_items = data.n_items
    counts = data.item_counts()
    free = np.ones(n_items, dtype=bool)
    a, b, c = _start_values(data, model, priors)
    if start is not None:
        if start.n_items != n_items:
            raise ValueError(f"start has {start.n_items} items, the data {n_items}")
        a, b, c = start.a.copy(), start.b.copy(), start.c.copy()
        if model is not CalibrationModel.THREE_PL:
            c[:] = 0.0
        if model is CalibrationModel.THREE_PL:
            c = np.clip(c, *C_BOUNDS)
    if model is CalibrationModel.RASCH:
        a[:] = 1.0
    if fixed is not None:
        free[fixed.positions] = False
        a[fixed.positions] = fixed.params.a
        b[fixed.positions] = fixed.params.b
        c[fixed.positions] = fixed.params.c
    free &= counts > 0  # an item nobody answered keeps its start values and is reported not estimated
    if estimate_population is None:
        estimate_population = fixed is not None and fixed.positions.size > 0
    if estimate_population and (fixed is None or fixed.positions.size == 0):
        raise ValueError("the population can only be estimated when some items are fixed (anchors)")
    if n_quad is None:  # the grid step must stay below the posterior SD of the longest tests
        longest = int(data.person_counts().max(initial=0))
        n_quad = 41 if longest <= 60 else 81 if longest <= 150 else 121
    nodes = _grid(n_quad, theta_bounds)
    mean, sd = 0.0, 1.0
    log_w = _log_weights(nodes, mean, sd)
    x = data._indicators()
    xt = x.T.tocsr()
    if data.n_observations > 0.2 * data.n_persons * data.n_items and 2 * data.n_persons * data.n_items <= 5e7:
        x, xt = x.toarray(), xt.toarray()  # (nearly) complete data: dense BLAS products are faster
    pri = _priors_per_item(priors, model, counts)
    history: list[float] = []
    converged = False
    max_change = math.inf
    iteration = 0
    for iteration in range(1, max_iterations + 1):
        es = _e_step(x, xt, nodes, log_w, a, b, c)
        history.append(es.loglik)
        if estimate_population:
            pm = es.post @ nodes
            mean = float(pm.mean())
            sd = float(math.sqrt(max((es.post @ (nodes**2)).mean() - mean**2, 1e-4)))
            log_w = _log_weights(nodes, mean, sd)
        if priors.center_a and pri[0] is not None and free.any():
            has = ~np.isnan(pri[0][:, 0])
            pri[0][has, 0] = float(np.log(a[free]).mean())
        na, nb, nc = _m_step(model, nodes, es.r, es.n, a, b, c, free, pri)
        max_change = float(max(np.abs(na - a).max(initial=0.0), np.abs(nb - b).max(initial=0.0),
                               np.abs(nc - c).max(initial=0.0)))
        a, b, c = na, nb, nc
        if progress is not None:
            progress(iteration, es.loglik, max_change)
        if max_change < tolerance:
            converged = True
            break
    es = _e_step(x, xt, nodes, log_w, a, b, c)
    params = ItemParams(a=a, b=b, c=c)
    theta = es.post @ nodes
    theta_se = np.sqrt(np.maximum(es.post @ nodes**2 - theta**2, 0.0))
    se = (_xpd_standard_errors(data, model, nodes, es.post, a, b, c, free, pri) if compute_se
          else tuple(np.full(n_items, np.nan) for _ in range(3)))
    fit = _item_fit(data, nodes, es, params, theta)
    rights = np.bincount(data.item, weights=data.score, minlength=n_items)
    with np.errstate(invalid="ignore", divide="ignore"):
        pvals = np.where(counts > 0, rights / np.maximum(counts, 1), np.nan)
    n_par = int(free.sum()) * model.n_item_parameters + (2 if estimate_population else 0)
    return CalibrationResult(
        model=model, params=params, se_a=se[0], se_b=se[1], se_c=se[2], free=free, n_responses=counts,
        p_values=pvals, loglik=es.loglik, n_parameters=n_par, n_persons=data.n_persons,
        n_observations=data.n_observations, population_mean=mean, population_sd=sd, fit=fit,
        convergence=Convergence(iteration, converged, max_change, tolerance, tuple(history),
                                time.perf_counter() - started),
        theta=theta, theta_se=theta_se,
    )


def _xpd_standard_errors(data: ResponseData, model: CalibrationModel, nodes: FloatArray, post: FloatArray,
                         a: FloatArray, b: FloatArray, c: FloatArray, free: BoolArray, pri,
                         max_dense: int = 6000) -> tuple[FloatArray, FloatArray, FloatArray]:
    """SEs from the cross-product information sum_p s_p s_p^T (+ prior information).

    s_p,(i,k) = sum_q h_pq (u_pi - P_iq) (P*_iq / P_iq) dz_k for a, b and
    sum_q h_pq (u_pi - P_iq) / (P_iq (1 - c_i)) for c. The full matrix is inverted when it
    has at most ``max_dense`` rows, else item blocks (which ignores cross-item covariance).
    """
    n_items = data.n_items
    names = (["a"] if model is not CalibrationModel.RASCH else []) + ["b"] + (
        ["c"] if model is CalibrationModel.THREE_PL else [])
    k = len(names)
    col_of_item = np.full(n_items, -1, dtype=np.intp)
    free_idx = np.flatnonzero(free)
    col_of_item[free_idx] = np.arange(free_idx.size)
    n_cols = free_idx.size * k
    out = [np.full(n_items, np.nan) for _ in range(3)]
    if n_cols == 0:
        return tuple(out)  # type: ignore[return-value]
    p_star_all, p_all = _probs(nodes, a, b, c)
    p_all = np.clip(p_all, _P_EPS, 1.0 - _P_EPS)
    # per item, the node functions whose posterior means make the person scores:
    # base_q = (u - P) P*/P is (1 - P) P*/P when u = 1 and -P* when u = 0
    right_base = (1.0 - p_all) * p_star_all / p_all
    funcs = np.stack([right_base, right_base * nodes, p_star_all, p_star_all * nodes,
                      (1.0 - p_all) / (p_all * (1.0 - c)[:, None])], axis=2)  # items x Q x 5
    order = np.argsort(data.item, kind="stable")
    starts = np.searchsorted(data.item[order], np.arange(n_items + 1))
    rows, cols, vals = [], [], []
    for i in free_idx:
        obs = order[starts[i]:starts[i + 1]]
        if obs.size == 0:
            continue
        pp = data.person[obs]
        m = post[pp] @ funcs[i]  # obs x 5
        right = data.score[obs] == 1
        b0 = np.where(right, m[:, 0], -m[:, 2])
        b1 = np.where(right, m[:, 1], -m[:, 3])
        comps = {"a": b1 - b[i] * b0, "b": -a[i] * b0, "c": np.where(right, m[:, 4], -1.0 / (1.0 - c[i]))}
        for j, nm in enumerate(names):
            rows.append(pp)
            cols.append(np.full(obs.size, col_of_item[i] * k + j))
            vals.append(comps[nm])
    s = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(data.n_persons, n_cols))
    xpd = (s.T @ s).tocsr()
    prior_diag = np.zeros(n_cols)
    cur = {"a": a, "b": b, "c": c}
    for j, nm in enumerate(names):
        pr = pri["abc".index(nm)]
        if pr is not None:
            _, _, inf = _prior_terms(cur[nm][free_idx], nm, pr[free_idx])
            prior_diag[np.arange(free_idx.size) * k + j] = inf
    if n_cols <= max_dense:
        dense = xpd.toarray() + np.diag(prior_diag)
        try:
            cov_diag = np.diag(np.linalg.inv(dense))
        except np.linalg.LinAlgError:
            cov_diag = np.diag(np.linalg.pinv(dense))
    else:
        cov_diag = np.empty(n_cols)
        for t in range(free_idx.size):
            sl = slice(t * k, (t + 1) * k)
            blk = xpd[sl, sl].toarray() + np.diag(prior_diag[sl])
            try:
                cov_diag[sl] = np.diag(np.linalg.inv(blk))
            except np.linalg.LinAlgError:
                cov_diag[sl] = np.nan
    se_cols = np.sqrt(np.where(cov_diag > 0, cov_diag, np.nan))
    for j, nm in enumerate(names):
        out["abc".index(nm)][free_idx] = se_cols[np.arange(free_idx.size) * k + j]
    return tuple(out)  # type: ignore[return-value]


def _item_fit(data: ResponseData, nodes: FloatArray, es: _EStep, params: ItemParams, theta: FloatArray) -> ItemFit:
    _, p_nodes = _probs(nodes, params.a, params.b, params.c)
    n_i = es.n.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        obs = np.where(es.n > 1e-12, es.r / es.n, 0.0)
        rmsd = np.sqrt((es.n * (obs - p_nodes) ** 2).sum(axis=1) / n_i)
    z = params.a[data.item] * (theta[data.person] - params.b[data.item])
    p = params.c[data.item] + (1.0 - params.c[data.item]) * expit(z)
    var = np.clip(p * (1.0 - p), _P_EPS, None)
    sq = (data.score - p) ** 2
    counts = np.bincount(data.item, minlength=data.n_items)
    with np.errstate(invalid="ignore", divide="ignore"):
        outfit = np.bincount(data.item, weights=sq / var, minlength=data.n_items) / counts
        infit = (np.bincount(data.item, weights=sq, minlength=data.n_items)
                 / np.bincount(data.item, weights=var, minlength=data.n_items))
    return ItemFit(rmsd=rmsd, infit=infit, outfit=outfit)


# ---------------------------------------------------------------------------- girth reference


def calibrate_girth(responses: ArrayLike, model: CalibrationModel = CalibrationModel.TWO_PL) -> ItemParams:
    """girth 0.8's MML (the reference engine) on a *complete* persons x items 0/1 matrix.

    girth's 3PL does not run on numpy 2.x; only Rasch and 2PL are offered.
    """
    import girth

    u = np.asarray(responses, dtype=np.float64)
    if u.ndim != 2 or np.isnan(u).any():
        raise ValueError("girth needs a complete persons x items matrix (no missing cells)")
    dataset = u.T.astype(int)
    if model is CalibrationModel.RASCH:
        res = girth.rasch_mml(dataset)
        b = np.asarray(res["Difficulty"], dtype=float)
        return ItemParams.one_pl(b, a=1.0)
    if model is CalibrationModel.TWO_PL:
        res = girth.twopl_mml(dataset)
        return ItemParams.two_pl(np.asarray(res["Discrimination"], float), np.asarray(res["Difficulty"], float))
    raise ValueError("girth's 3PL cannot run here (numpy 2.x); use the EM engine")


# ---------------------------------------------------------------------------- linking and drift


@dataclass(frozen=True)
class LinkingConstants:
    """theta_old = A theta_new + B; a_old = a_new / A, b_old = A b_new + B, c unchanged."""

    A: float
    B: float
    method: str

    def transform(self, params: ItemParams) -> ItemParams:
        return ItemParams(a=params.a / self.A, b=self.A * params.b + self.B, c=params.c)

    def transform_se(self, se_a: FloatArray, se_b: FloatArray) -> tuple[FloatArray, FloatArray]:
        return se_a / self.A, se_b * self.A


def mean_sigma(old: ItemParams, new: ItemParams) -> LinkingConstants:
    """Mean/sigma on the anchors' b (Marco 1977): A = sd(b_old)/sd(b_new), B = m_old - A m_new."""
    A = float(np.std(old.b) / np.std(new.b))
    return LinkingConstants(A, float(np.mean(old.b) - A * np.mean(new.b)), "mean_sigma")


def stocking_lord(old: ItemParams, new: ItemParams, *, nodes: ArrayLike | None = None,
                  weights: ArrayLike | None = None) -> LinkingConstants:
    """Stocking-Lord: minimise sum_q w_q (TCC_old(theta_q) - TCC_new*(theta_q))^2 over A, B,
    where new* are the new anchor parameters transformed by (A, B); started at mean/sigma."""
    t = np.linspace(-4, 4, 41) if nodes is None else np.asarray(nodes, float)
    w = np.exp(-0.5 * t**2) if weights is None else np.asarray(weights, float)
    _, p_old = _probs(t, old.a, old.b, old.c)
    tcc_old = p_old.sum(axis=0)
    ms = mean_sigma(old, new)

    def loss(x):
        A, B = x
        if A <= 0:
            return 1e12
        _, p = _probs(t, new.a / A, A * new.b + B, new.c)
        return float((w * (tcc_old - p.sum(axis=0)) ** 2).sum())

    res = optimize.minimize(loss, x0=[ms.A, ms.B], method="Nelder-Mead",
                            options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000})
    return LinkingConstants(float(res.x[0]), float(res.x[1]), "stocking_lord")


@dataclass(frozen=True, eq=False)
class DriftReport:
    """Per anchor: the change new - old of a and b (new on the old scale), in SE units, and
    whether it moved beyond ``z`` standard errors (SE of the difference)."""

    delta_a: FloatArray
    delta_b: FloatArray
    z_a: FloatArray
    z_b: FloatArray
    flagged: BoolArray
    z: float


def drift(old: ItemParams, new_linked: ItemParams, se_a_new: ArrayLike, se_b_new: ArrayLike, *,
          se_a_old: ArrayLike | None = None, se_b_old: ArrayLike | None = None, z: float = 2.0) -> DriftReport:
    """Flag items whose new estimates moved beyond ``z`` SEs of the difference
    (sqrt(se_new^2 + se_old^2); se_old = 0 when unknown)."""
    sa = np.asarray(se_a_new, float)
    sb = np.asarray(se_b_new, float)
    soa = np.zeros_like(sa) if se_a_old is None else np.nan_to_num(np.asarray(se_a_old, float))
    sob = np.zeros_like(sb) if se_b_old is None else np.nan_to_num(np.asarray(se_b_old, float))
    da = new_linked.a - old.a
    db = new_linked.b - old.b
    with np.errstate(invalid="ignore", divide="ignore"):
        za = da / np.sqrt(sa**2 + soa**2)
        zb = db / np.sqrt(sb**2 + sob**2)
    flagged = (np.abs(np.nan_to_num(za)) > z) | (np.abs(np.nan_to_num(zb)) > z)
    return DriftReport(da, db, za, zb, flagged, z)


# ---------------------------------------------------------------------------- promotion


@dataclass(frozen=True)
class PromotionCriteria:
    """When a pretest item may be proposed for operational use."""

    min_responses: int = 300
    min_a: float = 0.5
    max_rmsd: float = 0.1
    outfit_range: tuple[float, float] = (0.7, 1.3)
    max_se_b: float = 0.3


class PromotionReason(Enum):
    FEW_RESPONSES = "few_responses"
    LOW_DISCRIMINATION = "low_discrimination"
    POOR_FIT = "poor_fit"
    IMPRECISE = "imprecise"


@dataclass(frozen=True)
class PromotionCheck:
    position: int
    eligible: bool
    reasons: tuple[PromotionReason, ...]


def promotion_checks(result: CalibrationResult, positions: ArrayLike,
                     criteria: PromotionCriteria = PromotionCriteria()) -> tuple[PromotionCheck, ...]:
    """Which of the items at ``positions`` (the pretest items) meet ``criteria``; the reasons
    of the others. Nothing is promoted here."""
    out = []
    for i in np.asarray(positions, dtype=np.intp).reshape(-1):
        reasons = []
        if result.n_responses[i] < criteria.min_responses:
            reasons.append(PromotionReason.FEW_RESPONSES)
        if result.params.a[i] < criteria.min_a:
            reasons.append(PromotionReason.LOW_DISCRIMINATION)
        lo, hi = criteria.outfit_range
        of = result.fit.outfit[i]
        if not (result.fit.rmsd[i] <= criteria.max_rmsd) or not (lo <= of <= hi):
            reasons.append(PromotionReason.POOR_FIT)
        if not (result.se_b[i] <= criteria.max_se_b):
            reasons.append(PromotionReason.IMPRECISE)
        out.append(PromotionCheck(int(i), not reasons, tuple(reasons)))
    return tuple(out)


# ---------------------------------------------------------------------------- designs for studies


@dataclass(frozen=True, eq=False)
class SimulatedDesign:
    data: ResponseData
    true_theta: FloatArray
    seconds: float


def random_design(params: ItemParams, theta: ArrayLike, per_person: int, rng: np.random.Generator
                  ) -> SimulatedDesign:
    """Each person answers ``per_person`` items drawn at random (missing completely at random)."""
    started = time.perf_counter()
    t = np.asarray(theta, float)
    n_p, n_i = t.size, params.n_items
    items = np.argsort(rng.random((n_p, n_i)), axis=1)[:, :per_person]
    person = np.repeat(np.arange(n_p), per_person)
    item = items.reshape(-1)
    z = params.a[item] * (t[person] - params.b[item])
    p = params.c[item] + (1.0 - params.c[item]) * expit(z)
    score = (rng.random(p.size) < p).astype(np.int8)
    return SimulatedDesign(ResponseData.from_cells(person, item, score, n_p, n_i), t,
                           time.perf_counter() - started)


def adaptive_design(params: ItemParams, theta: ArrayLike, length: int, rng: np.random.Generator, *,
                    randomesque: int = 5, max_exposure: float | None = 0.25, n_quad: int = 61
                    ) -> SimulatedDesign:
    """Adaptive-exam logs, vectorised over persons: at each step every person gets the item
    of maximum information at their EAP (N(0, 1) prior, ``n_quad`` grid points), chosen at
    random among the ``randomesque`` best (exposure control), from the items whose exposure
    so far is below ``max_exposure`` x persons (an exposure cap). Responses ~ Bernoulli(P)."""
    started = time.perf_counter()
    t = np.asarray(theta, float)
    n_p, n_i = t.size, params.n_items
    if length > n_i:
        raise ValueError("the exam is longer than the bank")
    nodes = _grid(n_quad, (-6.0, 6.0))
    log_w = _log_weights(nodes, 0.0, 1.0)
    log_p, log_q = _log_pq(nodes, params.a, params.b, params.c)
    # item information on a fine ability grid (step 0.05): selection reads the row nearest the EAP
    fine = np.linspace(-4.0, 4.0, 161)
    table = models.item_information(fine, params).astype(np.float32)
    ll = np.tile(log_w, (n_p, 1))
    used = np.zeros((n_p, n_i), dtype=bool)
    exposure = np.zeros(n_i)
    cap = np.inf if max_exposure is None else max_exposure * n_p
    persons = np.arange(n_p)
    rows_item = np.empty((n_p, length), dtype=np.intp)
    rows_score = np.empty((n_p, length), dtype=np.int8)
    a, b, c = params.a, params.b, params.c
    k = max(1, randomesque)
    for step in range(length):
        post = np.exp(ll - ll.max(axis=1, keepdims=True))
        est = (post @ nodes) / post.sum(axis=1)
        row = np.clip(np.rint((est + 4.0) / 0.05).astype(np.intp), 0, fine.size - 1)
        info = table[row]  # a fresh (persons x items) copy
        capped = exposure >= cap
        if capped.any():
            info[:, capped] = -0.5  # capped items: a last resort only
        info[used] = -1.0
        # randomesque: the j-th best item, j uniform in 0..k-1 (k argmax passes, cheaper than a sort)
        want = rng.integers(0, k, n_p)
        pick = np.argmax(info, axis=1)
        for j in range(1, k):
            info[persons, pick] = -2.0
            nxt = np.argmax(info, axis=1)
            pick = np.where(want >= j, nxt, pick)
        used[persons, pick] = True
        exposure += np.bincount(pick, minlength=n_i)
        p = c[pick] + (1 - c[pick]) * expit(a[pick] * (t - b[pick]))
        u = (rng.random(n_p) < p).astype(np.int8)
        ll += np.where(u[:, None] == 1, log_p[pick], log_q[pick])
        rows_item[:, step] = pick
        rows_score[:, step] = u
    data = ResponseData.from_cells(np.repeat(persons, length), rows_item.reshape(-1), rows_score.reshape(-1),
                                   n_p, n_i)
    return SimulatedDesign(data, t, time.perf_counter() - started)
