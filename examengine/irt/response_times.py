"""Response times: rapid guessing by response-time effort (Wise & Kong 2005) and van der
Linden's (2006) lognormal response-time model, with per-person flags for unusually fast correct
answers to hard items (the signature of pre-knowledge), on complete or sparse (adaptive) data.

Inputs are persons x items arrays of response times in seconds (NaN = not presented or no
time) and, for the flags, the 0/1 scores, the persons' ability estimates and the items' b.

**Response-time effort.** Item i's threshold is the normative threshold NT10 (Wise & Ma 2012):
10 % of the item's mean response time, capped at ``cap`` seconds (10 s). A response faster than
its threshold is a rapid guess; a person's

    RTE_j = (number of j's responses with t_ij >= threshold_i) / (number of j's responses).

Wise & Kong (2005) read RTE < 0.90 as low effort: such a score understates what the person
knows (the opposite problem to pre-knowledge), so the flag says "look at the effort", not
"cheated".

**Lognormal model.** With y_ij = ln t_ij,

    y_ij = beta_i - tau_j + e_ij,      e_ij ~ N(0, 1 / alpha_i^2),

beta_i the item's time intensity, tau_j the person's speed, alpha_i the item's discrimination
(precision). On sparse data the parameters are estimated by alternating weighted least squares,
the maximum-likelihood equations of the model with the identification sum_j tau_j = 0
(van der Linden 2006, eqs. 8-10 in moment form):

    beta_i = mean over j in J_i of (y_ij + tau_j),
    tau_j  = sum_{i in I_j} alpha_i^2 (beta_i - y_ij) / sum_{i in I_j} alpha_i^2,
and alpha_i from the moments of the predictive residuals e_ij = y_ij - beta_i + tau_j^(-i), with
tau_j^(-i) the person's speed estimated without response i and W_j^(-i) = sum_{k in I_j, k != i}
alpha_k^2 its precision:

    1 / alpha_i^2 = mean over j in J_i of (e_ij^2 - 1 / W_j^(-i))      (Var e_ij = 1/alpha_i^2 + 1/W_j^(-i)),

iterated until the parameters move less than ``tol``. (The joint-ML alpha_i^2 = n_i / sum of
squared in-sample residuals degenerates on sparse data: with a few responses a person, tau
follows the most precise item, whose residuals shrink, whose alpha grows; the predictive
moments do not feed back.) A response's standardized residual is predictive too, so a single
fast answer does not hide by pulling the person's speed towards it,

    z_ij = alpha_i e_ij / sqrt(1 + alpha_i^2 / W_j^(-i)),

N(0, 1) under the model with known item parameters. z_ij < -``z_crit`` (-1.96) is an
unusually fast response. Leaked items answered in seconds by many candidates inflate the
item's estimated variance and so hide the very responses sought; the fit is therefore repeated
without the responses with |z| > ``trim`` (3) until that set is stable, and every response's
residual comes from the trimmed fit (a purification, as in two-stage DIF). This helps while
the aberrant responses are a small share of an item's; when a quarter of an item's exposures
are answered in seconds the item's own beta and alpha absorb them (it just looks like a fast,
imprecise item; measured in docs/fairness.md) and the remedy is parameters from an earlier,
clean window, which this module does not yet take.

**Pre-knowledge flag.** Among person j's correct answers to items harder than the person
(b_i > theta-hat_j), n_j responses, k_j are unusually fast. Under the model (times independent
of correctness given the person) each is fast with probability q = Phi(-z_crit) (0.025), so
the person's p-value is the binomial upper tail P(K >= k_j; n_j, q); the person is flagged when
p < ``alpha``. A flag means "fast where the person should have needed time": a reason to look
(a leaked item, or a gifted and fast candidate), never proof of misconduct.

References: Wise, S. L. & Kong, X. (2005). Response time effort: a new measure of examinee
motivation in computer-based tests. *Applied Measurement in Education* 18, 163-183. Wise, S. L.
& Ma, L. (2012). Setting response time thresholds for a CAT item pool: the normative threshold
method. NCME annual meeting. van der Linden, W. J. (2006). A lognormal model for response times
on test items. *J. Educational and Behavioral Statistics* 31, 181-204. van der Linden, W. J. &
Guo, F. (2008). Bayesian procedures for identifying aberrant response-time patterns in adaptive
testing. *Psychometrika* 73, 365-384 (the residual check of item pre-knowledge).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from .params import FloatArray

#: Wise & Kong's (2005) reading of response-time effort: below it, low effort.
RTE_LOW = 0.90


@dataclass(frozen=True)
class Effort:
    """Response-time effort. Per item (items,): the NT10 threshold (NaN: no times); per person
    (persons,): the number of timed responses, of rapid guesses, RTE (NaN: no times) and the
    low-effort flag (RTE < ``low``)."""

    threshold: FloatArray
    n_responses: NDArray[np.int64]
    n_rapid: NDArray[np.int64]
    rte: FloatArray
    low_effort: NDArray[np.bool_]
    share: float
    cap: float
    low: float


def _times(times: ArrayLike) -> FloatArray:
    t = np.atleast_2d(np.asarray(times, dtype=np.float64))
    if np.any(t[~np.isnan(t)] <= 0):
        raise ValueError("response times must be positive (seconds)")
    return t


def nt_thresholds(times: ArrayLike, *, share: float = 0.10, cap: float = 10.0) -> FloatArray:
    """NT10 (``share`` = 0.10) of every item: ``share`` of its mean time, at most ``cap`` s."""
    t = _times(times)
    seen = ~np.isnan(t)
    n = seen.sum(axis=0)
    mean = np.divide(np.where(seen, t, 0.0).sum(axis=0), n, out=np.full(t.shape[1], np.nan), where=n > 0)
    return np.minimum(share * mean, cap)


def response_time_effort(times: ArrayLike, *, share: float = 0.10, cap: float = 10.0,
                         low: float = RTE_LOW) -> Effort:
    """RTE of every person (Wise & Kong 2005) with NT10 thresholds (see the module text)."""
    t = _times(times)
    thr = nt_thresholds(t, share=share, cap=cap)
    seen = ~np.isnan(t)
    rapid = seen & (t < thr[None, :])
    n = seen.sum(axis=1)
    k = rapid.sum(axis=1)
    rte = np.divide(n - k, n, out=np.full(t.shape[0], np.nan), where=n > 0)
    return Effort(thr, n.astype(np.int64), k.astype(np.int64), rte, np.nan_to_num(rte, nan=1.0) < low,
                  share, cap, low)


@dataclass(frozen=True)
class LognormalFit:
    """The lognormal model's estimates: per item beta (time intensity, log seconds), alpha
    (precision) and n; per person tau (speed; mean 0); per response (persons x items) the
    predictive standardized residual z (NaN where no time)."""

    beta: FloatArray
    alpha: FloatArray
    n_item: NDArray[np.int64]
    tau: FloatArray
    z: FloatArray
    iterations: int
    converged: bool
    n_trimmed: int = 0  # responses left out of the final fit (|z| > trim)


def fit_lognormal(times: ArrayLike, *, trim: float | None = 3.0, tol: float = 1e-6, max_iter: int = 500,
                  min_alpha: float = 0.05, max_alpha: float = 20.0, max_passes: int = 10) -> LognormalFit:
    """Alternating weighted least squares for van der Linden's lognormal model (module text).
    With ``trim``, the fit is repeated without the responses whose residual |z| exceeds it
    until that set stops changing (at most ``max_passes``): leaked items answered in seconds
    by many candidates would otherwise lower the items' alpha and hide the very responses
    sought; every response's residual is then computed from the trimmed fit. Items with fewer
    than 2 times and persons without times get NaN parameters and residuals."""
    t = _times(times)
    seen = ~np.isnan(t)
    y = np.where(seen, np.log(np.where(seen, t, 1.0)), 0.0)
    keep = seen
    passes = 0
    while True:
        passes += 1
        beta, tau, a2, m, ok_i, ok_j, it, converged = _als(y, keep, tol, max_iter, min_alpha, max_alpha)
        z = _residuals(y, m, seen & ok_i[None, :], beta, a2)
        if trim is None or passes >= max_passes:
            break
        new_keep = seen & ~(np.abs(np.nan_to_num(z)) > trim)
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    n_i = (seen & ok_i[None, :]).sum(axis=0)
    return LognormalFit(np.where(ok_i, beta, np.nan), np.where(ok_i, np.sqrt(a2), np.nan), n_i.astype(np.int64),
                        np.where(ok_j, tau, np.nan), z, it, converged, int((seen & ~keep).sum()))


def _als(y, seen, tol, max_iter, min_alpha, max_alpha):
    n_i = seen.sum(axis=0)
    ok_i = n_i >= 2
    m = seen & ok_i[None, :]
    n_i = m.sum(axis=0)
    n_j = m.sum(axis=1)
    ok_j = n_j > 0
    tau = np.zeros(y.shape[0])
    a2 = np.ones(y.shape[1])
    beta = np.zeros(y.shape[1])
    converged, it = False, 0
    for it in range(1, max_iter + 1):
        new_beta = np.divide(np.where(m, y + tau[:, None], 0.0).sum(axis=0), n_i, out=np.zeros_like(beta),
                             where=n_i > 0)
        w = np.where(m, a2[None, :], 0.0)
        wsum = w.sum(axis=1)
        new_tau = np.divide((w * (new_beta[None, :] - y)).sum(axis=1), wsum, out=np.zeros_like(tau), where=wsum > 0)
        shift = new_tau[ok_j].mean() if ok_j.any() else 0.0
        new_tau = np.where(ok_j, new_tau - shift, 0.0)
        new_beta = new_beta - shift
        new_a2 = _precision(y, m, new_beta, a2, min_alpha, max_alpha)
        moved = max(np.abs(new_beta - beta).max(initial=0), np.abs(new_tau - tau).max(initial=0),
                    np.abs(np.sqrt(new_a2) - np.sqrt(a2)).max(initial=0))
        beta, tau, a2 = new_beta, new_tau, new_a2
        if moved < tol:
            converged = True
            break
    return beta, tau, a2, m, ok_i, ok_j, it, converged


def _loo(y: FloatArray, m: NDArray[np.bool_], cells: NDArray[np.bool_], beta: FloatArray,
         a2: FloatArray) -> tuple[FloatArray, FloatArray]:
    """e_ij = y_ij - beta_i + tau_j^(-i) and W_j^(-i) of the ``cells`` (NaN elsewhere), tau_j from
    the person's fitted responses ``m`` without response i."""
    w = np.where(m, a2[None, :], 0.0)
    wsum = w.sum(axis=1)
    num = (w * (beta[None, :] - y)).sum(axis=1)
    w_loo = wsum[:, None] - w
    with np.errstate(divide="ignore", invalid="ignore"):
        tau_loo = (num[:, None] - w * (beta[None, :] - y)) / w_loo
    ok = cells & (w_loo > 0)
    return np.where(ok, y - beta[None, :] + tau_loo, np.nan), np.where(ok, w_loo, np.nan)


def _precision(y: FloatArray, m: NDArray[np.bool_], beta: FloatArray, a2: FloatArray, min_alpha: float,
               max_alpha: float) -> FloatArray:
    """alpha_i^2 by moments of the predictive residuals: Var(e_ij) = 1/alpha_i^2 + 1/W_j^(-i)."""
    e, w_loo = _loo(y, m, m, beta, a2)
    ok = ~np.isnan(e)
    n = ok.sum(axis=0)
    excess = np.where(ok, e**2 - 1 / np.where(ok, w_loo, 1.0), 0.0).sum(axis=0)
    inv = np.divide(excess, n, out=np.full_like(a2, 1 / min_alpha**2), where=n > 0)
    return np.clip(1 / np.maximum(inv, 1 / max_alpha**2), min_alpha**2, max_alpha**2)


def _residuals(y: FloatArray, m: NDArray[np.bool_], cells: NDArray[np.bool_], beta: FloatArray,
               a2: FloatArray) -> FloatArray:
    e, w_loo = _loo(y, m, cells, beta, a2)
    return np.sqrt(a2)[None, :] * e / np.sqrt(1 + a2[None, :] / w_loo)


@dataclass(frozen=True)
class FastCorrect:
    """Per person (persons,): n = correct answers to items with b above theta-hat that have a
    residual, k = those with z < -z_crit, the binomial upper-tail p-value (NaN when n = 0) and
    the flag (p < alpha)."""

    n_hard_correct: NDArray[np.int64]
    n_fast: NDArray[np.int64]
    p_value: FloatArray
    flag: NDArray[np.bool_]
    z_crit: float
    alpha: float


def fast_correct_flags(z: ArrayLike, scores: ArrayLike, theta: ArrayLike, b: ArrayLike, *, z_crit: float = 1.96,
                       alpha: float = 0.05) -> FastCorrect:
    """The pre-knowledge signature (module text): unusually fast (z < -z_crit) correct answers
    to items harder than the person (b_i > theta-hat_j), with a binomial tail p-value."""
    zz = np.atleast_2d(np.asarray(z, dtype=np.float64))
    u = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    th = np.asarray(theta, dtype=np.float64)
    bb = np.asarray(b, dtype=np.float64)
    hard = (u == 1) & (bb[None, :] > th[:, None]) & ~np.isnan(zz)
    n = hard.sum(axis=1)
    k = (hard & (zz < -z_crit)).sum(axis=1)
    q = stats.norm.cdf(-z_crit)
    p = np.where(n > 0, stats.binom.sf(k - 1, np.maximum(n, 1), q), np.nan)
    return FastCorrect(n.astype(np.int64), k.astype(np.int64), p, np.nan_to_num(p, nan=1.0) < alpha, z_crit, alpha)
