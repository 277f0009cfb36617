"""Small array helpers shared by the simulator and the policies."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["has_repeats"]


def has_repeats(slates: NDArray[np.integer]) -> NDArray[np.bool_]:
    """Rows of a (B, k) array that hold some value twice.

    Compares each column with the ones after it (k(k−1)/2 vectorised comparisons): for the
    small k of a slate this is several times faster than sorting every row.
    """
    k = slates.shape[1]
    repeated = np.zeros(slates.shape[0], dtype=bool)
    for shift in range(1, k):
        repeated |= (slates[:, shift:] == slates[:, :-shift]).any(axis=1)
    return repeated
