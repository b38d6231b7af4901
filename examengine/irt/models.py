"""Probability, log-likelihood and information of the 1PL/2PL/3PL models.

All functions take ``theta`` of any shape ``S`` and an :class:`ItemParams` of
``n`` items, and return arrays of shape ``S + (n,)`` (item-wise quantities)
or ``S`` (sums over items). Persons x items arrays follow from ``theta`` of
shape ``(persons,)``; a quadrature grid against many persons from ``theta``
of shape ``(Q, 1)`` and responses of shape ``(persons, n)``.

Model (logistic metric, D = 1):

    z = a (theta - b),  P* = 1 / (1 + exp(-z)),  P = c + (1 - c) P*

    dP/dtheta = a (1 - c) P* (1 - P*) = a (P - c)(1 - P) / (1 - c)

    I(theta) = (dP/dtheta)^2 / (P (1 - P)) = a^2 (1 - P)/P ((P - c)/(1 - c))^2

    log L = sum_i u_i log P_i + (1 - u_i) log(1 - P_i)

    d log L / dtheta = sum_i a_i (u_i - P_i)(P_i - c_i) / (P_i (1 - c_i))

    d2 log L / dtheta2 = sum_i a_i^2 (P_i - c_i)(1 - P_i)(u_i c_i - P_i^2) / (P_i^2 (1 - c_i)^2)

For the 2PL (c = 0): I = a^2 P (1 - P), so I(b) = a^2 / 4, and P(b) = (1 + c)/2.
Reference: Baker & Kim (2004), *Item Response Theory: Parameter Estimation
Techniques*, 2nd ed., eqs. 7.2-7.6; Lord (1980), *Applications of IRT to
Practical Testing Problems*, eq. 5-5.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_expit

from .params import FloatArray, ItemParams

#: exponents are clipped here so that exp() never overflows (|z| > 700 has
#: probability 0 or 1 to double precision anyway).
_Z_CLIP = 700.0


def _z(theta: ArrayLike, params: ItemParams) -> FloatArray:
    t = np.asarray(theta, dtype=np.float64)
    return t[..., None] * params.a - params.ab


def probability(theta: ArrayLike, params: ItemParams) -> FloatArray:
    """P(u = 1 | theta) for every item; shape ``theta.shape + (n,)``."""
    z = np.clip(_z(theta, params), -_Z_CLIP, _Z_CLIP)
    p_star = 1.0 / (1.0 + np.exp(-z))
    return params.c + (1.0 - params.c) * p_star


def probability_derivative(theta: ArrayLike, params: ItemParams) -> FloatArray:
    """dP/dtheta = a (1 - c) P* (1 - P*); shape ``theta.shape + (n,)``."""
    z = np.clip(_z(theta, params), -_Z_CLIP, _Z_CLIP)
    p_star = 1.0 / (1.0 + np.exp(-z))
    return params.a * (1.0 - params.c) * p_star * (1.0 - p_star)


def log_probabilities(theta: ArrayLike, params: ItemParams) -> tuple[FloatArray, FloatArray]:
    """(log P, log(1 - P)), computed stably; each of shape ``theta.shape + (n,)``.

    log(1 - P) = log(1 - c) + log sigma(-z);  log P = logaddexp(log c, log(1 - c) + log sigma(z)).
    """
    z = _z(theta, params)
    with np.errstate(divide="ignore"):
        log_c = np.log(params.c)
    log_1mc = np.log1p(-params.c)
    log_q = log_1mc + log_expit(-z)
    log_p = np.logaddexp(log_c, log_1mc + log_expit(z))
    return log_p, log_q


def _responses_and_mask(
    responses: ArrayLike, mask: ArrayLike | None
) -> tuple[FloatArray, NDArray[np.bool_] | None]:
    u = np.asarray(responses, dtype=np.float64)
    m = None if mask is None else np.asarray(mask, dtype=bool)
    return u, m


def log_likelihood(
    theta: ArrayLike, params: ItemParams, responses: ArrayLike, mask: ArrayLike | None = None
) -> FloatArray:
    """log L(theta) = sum_i u_i log P_i + (1 - u_i) log(1 - P_i).

    ``responses`` (0/1) and the optional boolean ``mask`` (True = answered)
    have shape ``(..., n)`` broadcastable against ``theta.shape + (n,)``; the
    result has the broadcast shape without the item axis.
    """
    u, m = _responses_and_mask(responses, mask)
    log_p, log_q = log_probabilities(theta, params)
    terms = np.where(u > 0.5, log_p, log_q)
    if m is not None:
        terms = np.where(m, terms, 0.0)
    return terms.sum(axis=-1)


def score_function(
    theta: ArrayLike, params: ItemParams, responses: ArrayLike, mask: ArrayLike | None = None
) -> FloatArray:
    """d log L / dtheta = sum_i a_i (u_i - P_i)(P_i - c_i) / (P_i (1 - c_i))."""
    u, m = _responses_and_mask(responses, mask)
    p = probability(theta, params)
    terms = params.a * (u - p) * (p - params.c) / (p * (1.0 - params.c))
    if m is not None:
        terms = np.where(m, terms, 0.0)
    return terms.sum(axis=-1)


def log_likelihood_second_derivative(
    theta: ArrayLike, params: ItemParams, responses: ArrayLike, mask: ArrayLike | None = None
) -> FloatArray:
    """d2 log L / dtheta2 = sum_i a_i^2 (P_i - c_i)(1 - P_i)(u_i c_i - P_i^2) / (P_i^2 (1 - c_i)^2).

    Its expectation over u ~ Bernoulli(P) is minus the form information.
    """
    u, m = _responses_and_mask(responses, mask)
    p = probability(theta, params)
    c = params.c
    terms = params.a**2 * (p - c) * (1.0 - p) * (u * c - p * p) / (p * p * (1.0 - c) ** 2)
    if m is not None:
        terms = np.where(m, terms, 0.0)
    return terms.sum(axis=-1)


def item_information(theta: ArrayLike, params: ItemParams) -> FloatArray:
    """Fisher information of each item, shape ``theta.shape + (n,)``.

    I_i(theta) = a^2 (1 - c) e / ((1 + e)^2 (1 + c e)),  e = exp(-a (theta - b)),
    which equals a^2 (1 - P)/P ((P - c)/(1 - c))^2 (Lord 1980, eq. 5-5).
    """
    t = np.asarray(theta, dtype=np.float64)
    e = params.ab - t[..., None] * params.a
    np.clip(e, -_Z_CLIP, _Z_CLIP, out=e)
    np.exp(e, out=e)
    one_e = 1.0 + e
    den = params.c * e
    den += 1.0
    den *= one_e
    den *= one_e
    e *= params.info_scale
    e /= den
    return e


def item_information_at(theta: float, params: ItemParams, out: FloatArray | None = None) -> FloatArray:
    """Fast path of :func:`item_information` for one scalar theta, shape ``(n,)``.

    Writes into ``out`` when given (no allocation but one temporary).
    """
    e = np.multiply(params.a, -float(theta), out=out)
    e += params.ab
    np.minimum(e, _Z_CLIP, out=e)
    np.exp(e, out=e)
    one_e = 1.0 + e
    den = params.c * e
    den += 1.0
    den *= one_e
    den *= one_e
    e *= params.info_scale
    e /= den
    return e


def max_information(params: ItemParams) -> tuple[FloatArray, FloatArray]:
    """Where each item's information peaks and its peak value, each (n,).

    theta_max = b + ln((1 + sqrt(1 + 8c)) / 2) / a      (Birnbaum 1968; Lord 1980, eq. 10-4)
    I_max     = a^2 (1 - 20c - 8c^2 + (1 + 8c)^1.5) / (8 (1 - c)^2)

    For c = 0 this is theta_max = b, I_max = a^2 / 4.
    """
    a, b, c = params.a, params.b, params.c
    theta_max = b + np.log((1.0 + np.sqrt(1.0 + 8.0 * c)) / 2.0) / a
    info_max = a * a * (1.0 - 20.0 * c - 8.0 * c * c + (1.0 + 8.0 * c) ** 1.5) / (8.0 * (1.0 - c) ** 2)
    return theta_max, info_max


def form_information(
    theta: ArrayLike, params: ItemParams, mask: ArrayLike | None = None
) -> FloatArray:
    """Information of a form (sum over items), shape ``theta.shape`` (or the
    broadcast shape with ``mask`` of shape ``(..., n)``)."""
    info = item_information(theta, params)
    if mask is not None:
        info = np.where(np.asarray(mask, dtype=bool), info, 0.0)
    return info.sum(axis=-1)


def standard_error(information: ArrayLike) -> FloatArray:
    """SE = 1 / sqrt(information); infinite where information is 0."""
    info = np.asarray(information, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 1.0 / np.sqrt(info)


def simulate_responses(
    theta: ArrayLike, params: ItemParams, rng: np.random.Generator
) -> NDArray[np.int8]:
    """Draw 0/1 responses, shape ``theta.shape + (n,)`` (persons x items)."""
    p = probability(theta, params)
    return (rng.random(p.shape) < p).astype(np.int8)
