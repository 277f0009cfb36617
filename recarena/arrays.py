"""Small array helpers shared by the simulator and the policies."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["has_repeats"]


def has_repeats(slates: NDArray[np.integer]) -> NDArray[np.bool_]:
    """Rows of a (B, k) array that hold some value twice.

    Sorts each row and compares neighbours: one sort and k − 1 comparisons per row, which
    for slate-sized rows is ~3–4× faster than the k(k−1)/2 pairwise column comparisons.
    """
    n, k = slates.shape
    if k < 2 or n == 0:
        return np.zeros(n, dtype=bool)
    ordered = np.sort(slates, axis=1)
    # Pad the k − 1 neighbour flags to whole 8-byte words: "any" over a row is then a
    # comparison of one or two uint64 words instead of a slow bool reduction.
    width = (k + 6) // 8 * 8
    equal = np.zeros((n, width), dtype=bool)
    np.equal(ordered[:, 1:], ordered[:, :-1], out=equal[:, : k - 1])
    words = equal.view(np.uint64)
    any_word = words[:, 0].copy()
    for j in range(1, words.shape[1]):
        any_word |= words[:, j]
    return any_word != 0
