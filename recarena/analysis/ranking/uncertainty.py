"""Uncertainty of a mean over users: the percentile bootstrap."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["bootstrap_ci"]

# Work-size target (array elements per block) that keeps temporaries to tens of MB.
_BOOT_BLOCK_ELEMENTS = 1 << 20


def bootstrap_ci(
    per_user_values: ArrayLike,
    n_boot: int = 1000,
    alpha: float = 0.05,
    *,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean over users.

    NaN entries (users left out of the metric) are dropped first; the remaining ``n`` values
    are resampled with replacement ``n_boot`` times and the ``alpha/2`` and ``1 - alpha/2``
    quantiles of the resampled means are returned. ``(nan, nan)`` when no value remains.
    Deterministic given the state of ``rng`` (the only source of randomness).

    References
    ----------
    Efron & Tibshirani, *An Introduction to the Bootstrap*, ch. 13, 1993.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    if isinstance(n_boot, bool) or int(n_boot) < 1:
        raise ValueError("n_boot must be a positive integer")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    vals = np.asarray(per_user_values, dtype=np.float64).ravel()
    vals = vals[~np.isnan(vals)]
    n = vals.size
    if n == 0:
        return float("nan"), float("nan")
    n_boot = int(n_boot)
    means = np.empty(n_boot, dtype=np.float64)
    chunk = max(1, _BOOT_BLOCK_ELEMENTS // n)
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(m, n))
        means[start : start + m] = vals[idx].mean(axis=1)
    with np.errstate(invalid="ignore"):  # infinite per-user values give inf - inf
        lo, hi = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)
