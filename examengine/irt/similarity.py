"""Answer similarity: Wollack's (1997) omega for every ordered pair of answer sheets in a room,
with a family-wise flag (Holm) over the pairs of each room.

For a suspected copier c and source s answering n items, the number of identical answers

    h_cs = sum_i 1[x_ci = x_si]          (items both answered; an omission matches nothing)

is compared with its expectation under independent answering given the copier's ability:

    E_cs = sum_i P_i(x_si | c),    V_cs = sum_i P_i(x_si | c) (1 - P_i(x_si | c)),
    omega_cs = (h_cs - E_cs) / sqrt(V_cs),

one-sided p = 1 - Phi(omega_cs). Wollack takes P_i(k | theta_c) from the nominal response model
(Bock 1972). Here, documented as a simpler null, P_i(k | c) is the share of option k on item i
among the candidates in c's ability stratum: candidates are cut into ``strata`` groups of equal
size by number correct (the copier's own answer left out, with ``smoothing`` added to every
option that anyone chose). This is the nominal model's conditional distribution estimated
non-parametrically, a conditional-share approximation much like the one of Wollack & Cohen
(1998) and the K-index family (Holland 1996); it needs a few hundred sheets in the exam
(across rooms) to be stable. An answer is the string of the letters chosen ("B", "AC"), so a
multiple-response item's options are its chosen combinations.

The p-values of the pairs of one room are adjusted by Holm's step-down method and a pair is
flagged when its adjusted p < ``alpha``: the probability that any independent pair of the room
is flagged is at most ``alpha``. Both directions of a pair are tested (omega is not symmetric:
it conditions on the copier's ability); a flag says "these two sheets agree more than
independent work explains", not who copied or that anyone did (a shared study source, a
teacher's drilling or an answer called out in the room agree as well).

References: Wollack, J. A. (1997). A nominal response model approach for detecting answer
copying. *Applied Psychological Measurement* 21, 307-320. Wollack, J. A. & Cohen, A. S. (1998).
Detection of answer copying with unknown item and trait parameters. *Applied Psychological
Measurement* 22, 144-152. Holm, S. (1979). A simple sequentially rejective multiple test
procedure. *Scandinavian J. Statistics* 6, 65-70.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from .params import FloatArray


@dataclass(frozen=True)
class OptionModel:
    """Per stratum s, item i and option code k: counts[s, i, k] and n[s, i] (answered); the
    stratum of every person; the number of option codes per item (options[i])."""

    codes: NDArray[np.int64]  # persons x items, -1 = omitted
    stratum: NDArray[np.int64]
    counts: FloatArray
    n: FloatArray
    options: NDArray[np.int64]
    smoothing: float

    def probabilities(self, person: int) -> FloatArray:
        """P_i(k | person), items x options, the person's own answers left out."""
        s = self.stratum[person]
        counts = self.counts[s].copy()
        n = self.n[s].copy()
        own = self.codes[person]
        answered = own >= 0
        idx = np.nonzero(answered)[0]
        counts[idx, own[idx]] -= 1
        n[idx] -= 1
        live = np.arange(counts.shape[1])[None, :] < self.options[:, None]
        counts = np.where(live, counts + self.smoothing, 0.0)
        return counts / (n + self.smoothing * self.options)[:, None]


def encode(answers: list[list[str]]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Answer strings (persons x items; "" = omitted) -> option codes (-1 = omitted) and the
    number of distinct answers of every item."""
    persons = len(answers)
    items = len(answers[0]) if persons else 0
    codes = np.full((persons, items), -1, dtype=np.int64)
    options = np.zeros(items, dtype=np.int64)
    for i in range(items):
        seen: dict[str, int] = {}
        for j in range(persons):
            a = answers[j][i]
            if a:
                codes[j, i] = seen.setdefault(a, len(seen))
        options[i] = len(seen)
    return codes, options


def option_model(codes: NDArray[np.int64], options: NDArray[np.int64], number_correct: NDArray,
                 *, strata: int = 10, smoothing: float = 0.5) -> OptionModel:
    """Option shares by number-correct stratum (``strata`` groups of near-equal size)."""
    persons, items = codes.shape
    strata = max(1, min(strata, persons // 20 or 1))
    order = np.argsort(np.asarray(number_correct, dtype=float), kind="stable")
    stratum = np.empty(persons, dtype=np.int64)
    stratum[order] = np.arange(persons) * strata // max(persons, 1)
    width = max(int(options.max(initial=1)), 1)
    counts = np.zeros((strata, items, width))
    answered = codes >= 0
    s_idx, i_idx = np.nonzero(answered)
    np.add.at(counts, (stratum[s_idx], i_idx, codes[s_idx, i_idx]), 1.0)
    n = counts.sum(axis=2)
    return OptionModel(codes, stratum, counts, n, options.astype(np.int64), smoothing)


@dataclass(frozen=True)
class PairOmega:
    copier: int
    source: int
    n_items: int
    matches: int
    expected: float
    omega: float
    p_value: float
    p_adjusted: float
    flag: bool


def omega(model: OptionModel, copier: int, source: int) -> tuple[int, int, float, float, float]:
    """(n items both answered, matches h, E, omega, one-sided p) of one ordered pair."""
    cc, ss = model.codes[copier], model.codes[source]
    both = (cc >= 0) & (ss >= 0)
    n = int(both.sum())
    if n == 0:
        return 0, 0, 0.0, float("nan"), float("nan")
    p = model.probabilities(copier)[np.nonzero(both)[0], ss[both]]
    h = int((cc[both] == ss[both]).sum())
    e = float(p.sum())
    v = float((p * (1 - p)).sum())
    w = (h - e) / np.sqrt(v) if v > 0 else float("nan")
    return n, h, e, float(w), float(stats.norm.sf(w)) if np.isfinite(w) else float("nan")


def holm(p: FloatArray) -> FloatArray:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count)."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.nonzero(~np.isnan(p))[0]
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adj
    return out


def poisson_binomial_sf(p: FloatArray, h: NDArray[np.int64]) -> FloatArray:
    """P(H >= h) for H = sum of independent Bernoulli(p[r, i]) (rows r), by the exact
    recursion over items (a row's zero probabilities add nothing)."""
    p = np.atleast_2d(np.asarray(p, dtype=float))
    rows, n = p.shape
    dist = np.zeros((rows, n + 2))
    dist[:, 0] = 1.0
    for i in range(n):
        pi = p[:, i : i + 1]
        dist[:, 1:] = dist[:, 1:] * (1 - pi) + dist[:, :-1] * pi
        dist[:, 0] *= 1 - p[:, i]
    tail = np.cumsum(dist[:, ::-1], axis=1)[:, ::-1]  # tail[:, k] = P(H >= k)
    return np.clip(tail[np.arange(rows), np.clip(h, 0, n + 1)], 0.0, 1.0)


def room_pairs(model: OptionModel, members: list[int], *, alpha: float = 0.05) -> list[PairOmega]:
    """omega of every ordered pair of ``members`` (person indices of one room) with its exact
    p-value, Holm-adjusted within the room; flagged where the adjusted p < alpha."""
    rows = []
    for c in members:
        sources = [s for s in members if s != c]
        if not sources:
            continue
        probs = model.probabilities(c)
        cc = model.codes[c]
        ss = model.codes[sources]  # sources x items
        both = (cc >= 0)[None, :] & (ss >= 0)
        items = np.arange(len(cc))[None, :]
        p = np.where(both, probs[items, np.where(both, ss, 0)], 0.0)
        h = ((cc[None, :] == ss) & both).sum(axis=1)
        e = p.sum(axis=1)
        v = (p * (1 - p)).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(v > 0, (h - e) / np.sqrt(v), np.nan)
        pv = np.where(v > 0, poisson_binomial_sf(p, h), np.nan)
        n = both.sum(axis=1)
        rows += [(c, s, int(n[k]), int(h[k]), float(e[k]), float(w[k]), float(pv[k])) for k, s in enumerate(sources)]
    adj = holm(np.array([r[6] for r in rows], dtype=float))
    return [PairOmega(c, s, n, h, e, w, p, float(a), bool(np.isfinite(a) and a < alpha))
            for (c, s, n, h, e, w, p), a in zip(rows, adj)]
