r"""Sticky hashed assignment of users to variants (the A/B split's randomisation).

User :math:`u` gets variant :math:`g(u) = \min\{k : U_u < \sum_{j \le k} w_j\}` with
:math:`U_u` a counter-based uniform of (salt, user): sticky, deterministic, independent
across users, with no stored table (Kohavi, Tang & Xu 2020, *Trustworthy Online Controlled
Experiments*, ch. 14).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from recarena.numerics.counter_rng import Purpose, uniform
from recarena.typing import IntArray

__all__ = ["assign_variants"]


def assign_variants(users: ArrayLike, weights: ArrayLike, salt: int) -> IntArray:
    """Sticky hashed assignment of users to variants with probabilities ``weights``.

    :math:`g(u) = \\min\\{k : U_u < \\sum_{j \\le k} w_j\\}` with
    :math:`U_u` = ``uniform(salt, u, 0, 0, Purpose.ASSIGNMENT)``.
    """
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0  # U < 1, so every user lands in a variant despite rounding
    u = uniform(salt, np.asarray(users, dtype=np.int64), 0, 0, Purpose.ASSIGNMENT)
    return np.searchsorted(cdf, u, side="right").astype(np.int64)
