"""Item parameters of the unidimensional logistic models (1PL, 2PL, 3PL).

The models use the logistic metric (D = 1, as girth):

    P_i(theta) = c_i + (1 - c_i) / (1 + exp(-a_i (theta - b_i)))

A 2PL item has c = 0; a 1PL (Rasch-type) bank has one common a and c = 0.
Reference: Baker, F. B. & Kim, S.-H. (2004). *Item Response Theory: Parameter
Estimation Techniques* (2nd ed.), ch. 1 and 7.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


class IrtModel(str, Enum):
    """Which logistic model a set of item parameters belongs to: the one Enum of the idea.

    The value is the spelling item files write and imports store in the bank's ``irt_model``
    column ("3PL"). Calibration runs have stored the lower-case spelling ("2pl") and the CLI
    takes it, so ``IrtModel(text)`` and ``IrtModel.parse(text)`` accept either case.
    """

    ONE_PL = "1PL"
    TWO_PL = "2PL"
    THREE_PL = "3PL"

    @classmethod
    def _missing_(cls, value: object) -> IrtModel | None:
        if isinstance(value, str):
            return cls.__members__.get({"1PL": "ONE_PL", "2PL": "TWO_PL", "3PL": "THREE_PL"}.get(
                value.strip().upper(), ""))
        return None

    @classmethod
    def parse(cls, text: str) -> IrtModel:
        """"3PL", "3pl" or " 3Pl " -> IrtModel.THREE_PL; anything else raises ValueError."""
        return cls(text)


def _frozen_vector(values: ArrayLike, name: str) -> FloatArray:
    if np.ndim(values) != 1:
        raise ValueError(f"item parameter {name!r} must be a 1-D array, got ndim={np.ndim(values)}")
    array = np.array(values, dtype=np.float64, copy=True)
    array.setflags(write=False)
    return array


def _first_bad(mask: NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


@dataclass(frozen=True, eq=False)
class ItemParams:
    """Validated, read-only parameters of ``n_items`` dichotomous items.

    Attributes
    ----------
    a : (n_items,) float64, discrimination, finite and > 0.
    b : (n_items,) float64, difficulty (location), finite.
    c : (n_items,) float64, lower asymptote (pseudo-guessing), 0 <= c < 1.

    The arrays are copied and made read-only once, here; every function in
    ``examengine.irt`` trusts them afterwards. A bad value raises
    ``ValueError`` naming the parameter and the item position.
    """

    a: FloatArray
    b: FloatArray
    c: FloatArray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        a = _frozen_vector(self.a, "a")
        b = _frozen_vector(self.b, "b")
        c = np.zeros_like(a) if self.c is None else _frozen_vector(self.c, "c")
        c.setflags(write=False)
        if not (a.shape == b.shape == c.shape):
            raise ValueError(
                f"item parameters must have one shape, got a{a.shape}, b{b.shape}, c{c.shape}"
            )
        bad = ~np.isfinite(a) | (a <= 0)
        if bad.any():
            i = _first_bad(bad)
            raise ValueError(f"item {i}: discrimination a must be finite and > 0, got {a[i]!r}")
        bad = ~np.isfinite(b)
        if bad.any():
            i = _first_bad(bad)
            raise ValueError(f"item {i}: difficulty b must be finite, got {b[i]!r}")
        bad = ~np.isfinite(c) | (c < 0) | (c >= 1)
        if bad.any():
            i = _first_bad(bad)
            raise ValueError(f"item {i}: lower asymptote c must satisfy 0 <= c < 1, got {c[i]!r}")
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "c", c)

    # -- constructors -------------------------------------------------
    @classmethod
    def one_pl(cls, b: ArrayLike, a: float = 1.0) -> ItemParams:
        """A 1PL bank: common discrimination ``a`` (1 = Rasch), c = 0."""
        b_arr = np.asarray(b, dtype=np.float64).reshape(-1)
        return cls(a=np.full(b_arr.shape, float(a)), b=b_arr, c=np.zeros(b_arr.shape))

    @classmethod
    def two_pl(cls, a: ArrayLike, b: ArrayLike) -> ItemParams:
        """A 2PL bank (c = 0)."""
        a_arr = np.asarray(a, dtype=np.float64).reshape(-1)
        return cls(a=a_arr, b=b, c=np.zeros(a_arr.shape))

    @classmethod
    def three_pl(cls, a: ArrayLike, b: ArrayLike, c: ArrayLike) -> ItemParams:
        """A 3PL bank."""
        return cls(a=a, b=b, c=c)

    # -- views ----------------------------------------------------------
    @property
    def n_items(self) -> int:
        return int(self.a.shape[0])

    def __len__(self) -> int:
        return self.n_items

    @cached_property
    def model(self) -> IrtModel:
        """The smallest model that describes these items."""
        if np.any(self.c > 0):
            return IrtModel.THREE_PL
        if self.n_items and np.all(self.a == self.a[0]):
            return IrtModel.ONE_PL
        return IrtModel.TWO_PL

    def take(self, positions: ArrayLike) -> ItemParams:
        """The parameters of the items at ``positions`` (in that order)."""
        idx = np.asarray(positions, dtype=np.intp).reshape(-1)
        return ItemParams(a=self.a[idx], b=self.b[idx], c=self.c[idx])

    def as_matrix(self) -> FloatArray:
        """(n_items, 3) matrix with columns a, b, c."""
        return np.column_stack([self.a, self.b, self.c])

    # -- derived arrays, computed once for the hot paths -----------------
    @cached_property
    def ab(self) -> FloatArray:
        """a * b, so that a (theta - b) = a theta - ab."""
        out = self.a * self.b
        out.setflags(write=False)
        return out

    @cached_property
    def info_scale(self) -> FloatArray:
        """a^2 (1 - c), the numerator constant of the 3PL information."""
        out = self.a * self.a * (1.0 - self.c)
        out.setflags(write=False)
        return out
