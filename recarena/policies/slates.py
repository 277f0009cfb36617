"""Building slates: random distinct items, shared top-k, and ε-exploration mixing.

Shared by every slate policy so that exploration and propensities mean the same thing
everywhere.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from recarena.arrays import has_repeats

__all__ = ["explore", "random_slates", "ranked_items"]

I64 = NDArray[np.int64]


def random_slates(rng: np.random.Generator, candidates: I64, n_rows: int, k: int) -> I64:
    """``n_rows`` slates of ``k`` distinct items drawn uniformly from ``candidates``.

    Rows with a repeated item are redrawn until none remain (expected redraw share
    ≈ k²/2n for k ≪ n); when k ≥ n every row is a random permutation (padded by repeating
    the last item if k > n).
    """
    n = candidates.shape[0]
    if n == 0:
        raise ValueError("no items are available to recommend")
    if k >= n or 4 * k > n:
        keys = rng.random((n_rows, n))
        order = np.argsort(keys, axis=1)[:, : min(k, n)]
        slates = candidates[order]
        if k > n:
            slates = np.hstack([slates, np.repeat(slates[:, -1:], k - n, axis=1)])
        return slates
    slates = np.take(candidates, rng.integers(0, n, (n_rows, k)))
    bad = np.flatnonzero(has_repeats(slates))
    while bad.size:
        slates[bad] = np.take(candidates, rng.integers(0, n, (bad.size, k)))
        bad = bad[has_repeats(slates[bad])]
    return slates


def ranked_items(scores: NDArray[np.floating], available: NDArray[np.bool_]) -> I64:
    """Available items sorted by score (descending), ties by lower item id."""
    idx = np.flatnonzero(available)
    order = np.lexsort((idx, -scores[idx]))
    return idx[order]


def explore(
    rng: np.random.Generator,
    slates: I64,
    candidates: I64,
    epsilon: float,
) -> tuple[I64, NDArray[np.float64], NDArray[np.bool_]]:
    """Replace each row by a uniformly random slate with probability ε.

    Returns the slates, the propensity of the first item under the ε-mixture
    (P = (1 − ε)·1[first item is the exploit choice] + ε/n), and which rows explored.
    """
    n_rows, k = slates.shape
    n = candidates.shape[0]
    explored = np.zeros(n_rows, dtype=bool)
    if epsilon > 0:
        explored = np.less(rng.random(n_rows), epsilon)
    out = slates.copy()
    if explored.any():
        out[explored] = random_slates(rng, candidates, int(explored.sum()), k)
    same_first = out[:, 0] == slates[:, 0]
    propensity = (1.0 - epsilon) * same_first + epsilon / n
    return out, propensity, explored
