r"""What every off-policy estimator returns, and the interval and sample size behind it.

Most off-policy estimators are a ratio of two sample sums over logged decisions,

.. math::

    \hat V = \frac{\sum_i a_i}{\sum_i b_i},

with :math:`b_i = 1` for the plain means (IPS, DM, DR, …) and :math:`b_i = w_i` for the
self-normalised ones (SNIPS, replay). Decisions of one user are not independent (the same
user returns), so the interval is cluster-robust over users, by the delta method:

.. math::

    \widehat{\mathrm{Var}}(\hat V) = \frac{G}{G-1}\,
        \frac{\sum_g \big(\sum_{i \in g} (a_i - \hat V b_i)\big)^2}{\big(\sum_i b_i\big)^2},
    \qquad \hat V \pm z_{(1+\ell)/2} \sqrt{\widehat{\mathrm{Var}}},

with :math:`G` clusters (users; each decision is its own cluster when none are given),
clipped to the reward's range. The effective sample size of importance weights is Kish's,
:math:`(\sum_i w_i)^2 / \sum_i w_i^2` (Kish 1965, *Survey Sampling*; Owen 2013, *Monte Carlo
theory, methods and examples*, §9.3).

Where an estimator's interval must include the error of a fitted model (the direct method),
it is a percentile interval over a cluster bootstrap instead (:func:`cluster_bootstrap_weights`,
Efron & Tibshirani 1993, *An Introduction to the Bootstrap*, §13; users resampled with
replacement, each replicate's decisions weighted by how often their user was drawn).

A log without propensities cannot be reweighted: :func:`check_propensities` raises
:class:`MissingPropensityError` naming the arm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from recarena.typing import FloatArray, IntArray

__all__ = [
    "Estimate",
    "MissingPropensityError",
    "check_propensities",
    "cluster_bootstrap_weights",
    "kish_ess",
    "percentile_estimate",
    "ratio_estimate",
]


class MissingPropensityError(ValueError):
    """The logging arm did not log usable propensities."""


@dataclass(frozen=True)
class Estimate:
    """One estimator's value of a target policy on a log.

    Attributes
    ----------
    estimator
        Its short name (``ips``, ``snips``, ``dm``, ``dr``, …).
    value
        The estimated value per decision.
    ci_low, ci_high
        The confidence interval (clipped to the reward's range).
    ess
        Effective sample size (Kish's, of the weights the estimator uses; the number of
        decisions for the direct method).
    n
        Logged decisions used.
    """

    estimator: str
    value: float
    ci_low: float
    ci_high: float
    ess: float
    n: int


def check_propensities(pscore: FloatArray, arm: str) -> FloatArray:
    """``pscore`` as float64 if every value is a probability in (0, 1], else raise.

    Parameters
    ----------
    pscore
        The logging policy's probability of each logged action.
    arm
        The logging arm's name (for the message).

    Raises
    ------
    MissingPropensityError
        When some propensity is NaN (not logged), non-finite, ≤ 0 or > 1.
    """
    p = np.asarray(pscore, dtype=np.float64)
    if p.size and np.isnan(p).all():
        raise MissingPropensityError(
            f"arm {arm!r} logged no propensities: off-policy estimators need a randomised "
            "logging policy that reports them (e.g. epsilon_greedy, softmax, random)"
        )
    bad = ~np.isfinite(p) | (p <= 0) | (p > 1)
    if bad.any():
        raise MissingPropensityError(
            f"arm {arm!r}: {int(bad.sum())} of {p.size} logged propensities are missing or "
            f"outside (0, 1] (first at row {int(np.flatnonzero(bad)[0])})"
        )
    return p


def kish_ess(weights: FloatArray) -> float:
    r"""Kish's effective sample size :math:`(\sum w)^2 / \sum w^2` (0 for all-zero weights)."""
    w = np.asarray(weights, dtype=np.float64)
    square = float(np.dot(w, w))
    return float(w.sum() ** 2 / square) if square > 0 else 0.0


def ratio_estimate(
    estimator: str,
    numerator: FloatArray,
    denominator: FloatArray | None = None,
    *,
    ess: float,
    clusters: IntArray | None = None,
    level: float = 0.95,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> Estimate:
    r""":math:`\sum a_i / \sum b_i` with its cluster-robust delta-method interval.

    Parameters
    ----------
    estimator
        Name stored in the result.
    numerator, denominator
        The per-decision terms :math:`a_i` and :math:`b_i` (default 1: a plain mean).
    ess
        Effective sample size to report.
    clusters
        Cluster label per decision (the user); default: every decision its own cluster.
    level
        Confidence level.
    bounds
        The reward's range; the interval is clipped to it.

    Returns
    -------
    Estimate
        NaN value and interval for an empty log or a zero denominator.
    """
    a = np.asarray(numerator, dtype=np.float64)
    b = np.ones_like(a) if denominator is None else np.asarray(denominator, dtype=np.float64)
    n = int(a.size)
    total = float(b.sum())
    if n == 0 or total == 0:
        return Estimate(estimator, math.nan, math.nan, math.nan, ess, n)
    value = float(a.sum() / total)
    residual = a - value * b
    sums = residual
    if clusters is not None:
        _, index = np.unique(np.asarray(clusters), return_inverse=True)
        sums = np.bincount(index, weights=residual).astype(np.float64)
    g = sums.size
    if g < 2:
        return Estimate(estimator, value, math.nan, math.nan, ess, n)
    variance = g / (g - 1) * float(np.dot(sums, sums)) / total**2
    half = float(sps.norm.ppf(0.5 + level / 2)) * math.sqrt(variance)
    low, high = bounds
    return Estimate(
        estimator,
        value,
        float(np.clip(value - half, low, high)),
        float(np.clip(value + half, low, high)),
        ess,
        n,
    )


def cluster_bootstrap_weights(
    clusters: IntArray | None, n: int, rng: np.random.Generator, n_boot: int
) -> NDArray[np.float64]:
    """Bootstrap replicates as row weights, shape (n_boot, n).

    Each replicate draws G clusters with replacement (every row its own cluster when
    ``clusters`` is ``None``); a row's weight is how often its cluster was drawn.
    """
    index: NDArray[np.intp] = np.arange(n)
    g = n
    if clusters is not None:
        _, index = np.unique(np.asarray(clusters), return_inverse=True)
        g = int(index.max()) + 1 if n else 0
    out = np.empty((n_boot, n))
    for b in range(n_boot):
        counts = np.bincount(rng.integers(0, g, g), minlength=g).astype(np.float64)
        out[b] = counts[index]
    return out


def percentile_estimate(
    estimator: str,
    value: float,
    replicates: FloatArray,
    *,
    ess: float,
    n: int,
    level: float = 0.95,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> Estimate:
    """``value`` with the percentile interval of its bootstrap ``replicates``, clipped."""
    tail = (1 - level) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    return Estimate(
        estimator, value, float(np.clip(low, *bounds)), float(np.clip(high, *bounds)), ess, n
    )
