"""The LSAT6 data (Law School Admission Test, section 6; Bock & Lieberman 1970), as the
response-pattern table shipped with R's ltm (``LSAT``) and mirt (``LSAT6``); the counts
are cross-checked against ``bock.table`` (column ``Ob6``) of R's psych package.

Published 2PL MML estimates of ltm 1.x, ``ltm(LSAT ~ z1, IRT.param = TRUE)`` (21-point
Gauss-Hermite; Rizopoulos 2006, J. Stat. Softw. 17(5), and the package's summary output):
log.Lik -2466.653, AIC 4953.307, BIC 5002.384.

Bock, R. D. & Lieberman, M. (1970). Fitting a response model for n dichotomously scored
items. Psychometrika 35, 179-197.
"""

from __future__ import annotations

import numpy as np

# (pattern of items 1..5, count); the two patterns with count 0 (01010, 01100) are omitted
PATTERNS = (
    ("00000", 3), ("00001", 6), ("00010", 2), ("00011", 11), ("00100", 1), ("00101", 1),
    ("00110", 3), ("00111", 4), ("01000", 1), ("01001", 8), ("01011", 16), ("01101", 3),
    ("01110", 2), ("01111", 15), ("10000", 10), ("10001", 29), ("10010", 14), ("10011", 81),
    ("10100", 3), ("10101", 28), ("10110", 15), ("10111", 80), ("11000", 16), ("11001", 56),
    ("11010", 21), ("11011", 173), ("11100", 11), ("11101", 61), ("11110", 28), ("11111", 298),
)

LTM_B = np.array([-3.3597, -1.3696, -0.2799, -1.8659, -3.1236])
LTM_A = np.array([0.8254, 0.7229, 0.8905, 0.6886, 0.6575])
LTM_SE_B = np.array([0.8669, 0.3073, 0.0997, 0.4341, 0.8700])
LTM_SE_A = np.array([0.2581, 0.1867, 0.2326, 0.1852, 0.2100])
LTM_LOGLIK = -2466.653
LTM_AIC = 4953.307
LTM_BIC = 5002.384


def lsat6_matrix() -> np.ndarray:
    """1,000 persons x 5 items of 0/1."""
    rows = []
    for pattern, count in PATTERNS:
        rows.extend([[int(ch) for ch in pattern]] * count)
    return np.array(rows, dtype=np.float64)
