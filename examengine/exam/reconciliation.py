"""One candidate, two results: does the online result agree with the paper result?

A candidate who sat the online exam and a paper form has two estimates of the same theta on the
same scale, each with its standard error (the posterior SD of the EAP). They disagree beyond
what measurement error allows when

    |theta_o - theta_p| > z * sqrt(SE_o^2 + SE_p^2),     z = 1.96 (two-sided 5 %),

the usual test of the difference of two independent normal estimates (e.g. Lord & Novick 1968,
ch. 3; the "significant difference" of two scores in test manuals). Separately, the decisions
may differ: the band (未达初级/初级/中级/高级), or pass/fail of the registered level. A decision
can differ while the thetas agree (both near a cut), and the thetas can disagree while the band
stays the same; both are shown, each for what it is.

Decisions are compared only where both sides made one: an incomplete online attempt (ended short
of the minimum length) has no band and a pass/fail by rule rather than by evidence, and two exams
registered at different levels do not decide the same pass/fail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: two-sided 5 %: a difference beyond this many standard errors of the difference is flagged
RECONCILE_Z = 1.96


@dataclass(frozen=True)
class ThetaAgreement:
    """Per pair (shape (n,), or () for scalars): the difference theta_a - theta_b, its standard
    error sqrt(se_a^2 + se_b^2), the standardised difference, the largest difference the two SEs
    allow (z_crit * se) and whether the difference is beyond it."""

    difference: NDArray[np.float64]
    se: NDArray[np.float64]
    z: NDArray[np.float64]
    limit: NDArray[np.float64]
    beyond: NDArray[np.bool_]
    z_crit: float


def theta_agreement(theta_a: ArrayLike, se_a: ArrayLike, theta_b: ArrayLike, se_b: ArrayLike, *,
                    z: float = RECONCILE_Z) -> ThetaAgreement:
    """|theta_a - theta_b| against z * sqrt(se_a^2 + se_b^2), elementwise (arrays broadcast).
    A zero combined SE makes any non-zero difference beyond (z = ±inf) and a zero one not (z = 0)."""
    ta, tb = np.asarray(theta_a, float), np.asarray(theta_b, float)
    sa, sb = np.asarray(se_a, float), np.asarray(se_b, float)
    diff = ta - tb
    se = np.sqrt(sa**2 + sb**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        zz = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.sign(diff) * np.inf)
    zz = np.where((se == 0) & (diff == 0), 0.0, zz)
    limit = z * se
    return ThetaAgreement(diff, se, zz, limit, np.abs(diff) > limit, float(z))


@dataclass(frozen=True)
class Sitting:
    """One result as the comparison needs it. ``band_name`` None: no band (incomplete)."""

    theta: float
    se: float
    band_name: str | None
    passed: bool
    registered_level: str
    complete: bool = True


@dataclass(frozen=True)
class Comparison:
    """An online and a paper sitting of one candidate, compared. ``band_differs`` and
    ``pass_differs`` are None where the decisions are not comparable (see the module)."""

    difference: float  # theta_online - theta_paper
    se: float  # sqrt(SE_o^2 + SE_p^2)
    z: float
    limit: float  # z_crit * se
    theta_beyond: bool
    band_differs: bool | None
    pass_differs: bool | None
    reasons: tuple[str, ...]  # why flagged (Chinese), empty when the two agree
    notes: tuple[str, ...]  # what was not compared, and why (Chinese)

    @property
    def flagged(self) -> bool:
        return bool(self.theta_beyond or self.band_differs or self.pass_differs)


def _signed(x: float) -> str:
    return f"{x:+.2f}".replace("-", "\u2212")


def compare(online: Sitting, paper: Sitting, *, z: float = RECONCILE_Z) -> Comparison:
    """Compare one candidate's online and paper sittings: the theta test and the decisions."""
    t = theta_agreement(online.theta, online.se, paper.theta, paper.se, z=z)
    diff, se, zz, limit, beyond = float(t.difference), float(t.se), float(t.z), float(t.limit), bool(t.beyond)
    reasons: list[str] = []
    notes: list[str] = []
    if beyond:
        reasons.append(f"θ 相差 {_signed(diff)}，超出两次测量误差所允许的 ±{limit:.2f}（z = {_signed(zz)}，"
                       f"界值 {z:g}）")
    both_complete = online.complete and paper.complete
    band_differs: bool | None = None
    pass_differs: bool | None = None
    if not both_complete:
        which = "、".join(n for n, s in (("在线", online), ("纸笔", paper)) if not s.complete)
        notes.append(f"{which}作答未完成（题数不足），不比较等级与是否通过")
    else:
        band_differs = online.band_name != paper.band_name
        if band_differs:
            reasons.append(f"等级不同：在线 {online.band_name or '—'}，纸笔 {paper.band_name or '—'}")
        if online.registered_level != paper.registered_level:
            notes.append(f"报考级别不同（在线 {online.registered_level}，纸笔 {paper.registered_level}），不比较是否通过")
        else:
            pass_differs = online.passed != paper.passed
            if pass_differs:
                reasons.append(f"是否通过不同：在线{'通过' if online.passed else '未通过'}，"
                               f"纸笔{'通过' if paper.passed else '未通过'}")
    return Comparison(diff, se, zz, limit, beyond, band_differs, pass_differs, tuple(reasons), tuple(notes))
