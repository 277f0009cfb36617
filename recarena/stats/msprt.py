"""Mixture sequential probability ratio test: always-valid p-values and confidence sequences."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from recarena.stats._common import FloatArray, _check_alpha, _check_cumulative_pair, _check_positive

__all__ = ["ConfidenceSequence", "always_valid_ci", "mixture_pvalues", "msprt_pvalues"]


@dataclass(frozen=True, slots=True, eq=False)
class ConfidenceSequence:
    """Result of :func:`always_valid_ci`: one interval per look, valid simultaneously.

    Attributes
    ----------
    estimate
        ``rate_b − rate_a`` at each look.
    lower, upper
        Running intersection of the per-look mixture intervals, clipped to ``[-1, 1]``. NaN
        where the intersection is empty.
    alpha, tau2
        Level and mixing variance.
    """

    estimate: FloatArray
    lower: FloatArray
    upper: FloatArray
    alpha: float
    tau2: float


def _msprt_moments(
    successes_a: ArrayLike,
    n_a: ArrayLike,
    successes_b: ArrayLike,
    n_b: ArrayLike,
    tau2: float,
) -> tuple[FloatArray, FloatArray, float]:
    """Validate cumulative inputs; return the estimate and its variance at each look."""
    s_a, na = _check_cumulative_pair(successes_a, n_a, "successes_a", "n_a")
    s_b, nb = _check_cumulative_pair(successes_b, n_b, "successes_b", "n_b")
    if s_a.shape != s_b.shape:
        raise ValueError(f"arm a and arm b must have the same shape, got {s_a.shape}, {s_b.shape}")
    tau2 = _check_positive(tau2, "tau2")
    safe_na = np.maximum(na, 1.0)
    safe_nb = np.maximum(nb, 1.0)
    p_a = s_a / safe_na
    p_b = s_b / safe_nb
    estimate = p_b - p_a
    var = p_a * (1.0 - p_a) / safe_na + p_b * (1.0 - p_b) / safe_nb
    # Looks with an empty arm or a degenerate variance estimate carry no usable evidence.
    var = np.where((na > 0) & (nb > 0), var, 0.0)
    return estimate, var, tau2


def msprt_pvalues(
    successes_a: ArrayLike,
    n_a: ArrayLike,
    successes_b: ArrayLike,
    n_b: ArrayLike,
    tau2: float,
) -> FloatArray:
    r"""Always-valid p-values for ``p_b − p_a`` from the normal-mixture SPRT.

    The returned sequence may be checked after every look (continuous monitoring) and the
    experiment stopped as soon as ``p <= alpha``: the type-I error stays <= alpha (up to
    the normal approximation of the estimate).

    Parameters
    ----------
    successes_a, n_a, successes_b, n_b
        Cumulative counts at each look, array_like of shape ``(..., n_looks)``, all four of the
        same shape; leading axes (e.g. simulated experiments) are independent sequences.
        Counts are integers with ``successes <= n``, and successes and failures are
        non-decreasing along the last axis; ``n = 0`` is allowed (the look is then
        uninformative).
    tau2
        Variance of the normal mixing distribution over the true difference, in (0, inf), on
        the scale of ``p_b − p_a``. A good choice is the square of a plausible effect size
        (e.g. ``0.01**2`` for a one-point difference); the test is valid for any value.

    Returns
    -------
    numpy.ndarray
        Non-increasing p-values, same shape as the inputs.

    Notes
    -----
    At look :math:`n`, :math:`\hat\theta_n = \hat p_{b,n} - \hat p_{a,n}` and
    :math:`\sigma_n^2 = \hat p_a(1-\hat p_a)/n_a + \hat p_b(1-\hat p_b)/n_b`. The mixture
    likelihood ratio of :math:`\hat\theta_n \sim N(\theta, \sigma_n^2)` for
    :math:`H_0: \theta = 0` against :math:`\theta \sim N(0, \tau^2)` is

    .. math:: \Lambda_n = \sqrt{\frac{\sigma_n^2}{\sigma_n^2 + \tau^2}}
              \exp\Big(\frac{\tau^2 \hat\theta_n^2}{2\sigma_n^2(\sigma_n^2 + \tau^2)}\Big).

    With :math:`n_a = n_b = n` and :math:`V = \hat p_a(1-\hat p_a) + \hat p_b(1-\hat p_b)`,
    :math:`\sigma_n^2 = V/n` and this is exactly the statistic of Johari et al.,
    :math:`\Lambda_n = \sqrt{V/(V + n\tau^2)}\exp\big(n^2\tau^2\hat\theta_n^2 /
    (2V(V + n\tau^2))\big)`. The p-value is :math:`p_0 = 1`,
    :math:`p_n = \min(p_{n-1}, 1/\Lambda_n)`. Since :math:`\Lambda_n` is (asymptotically) a
    non-negative martingale under H0, Ville's inequality gives
    :math:`P(\exists n: p_n \le \alpha) \le \alpha`. Looks where an arm is empty or
    :math:`\sigma_n^2 = 0` (all successes or all failures in both arms) use
    :math:`\Lambda_n = 1`.

    References
    ----------
    .. [1] Johari, R., Koomen, P., Pekelis, L., Walsh, D. (2017). "Peeking at A/B tests: why it
       matters, and what to do about it". *KDD '17*, 1517–1525.
    .. [2] Johari, R., Pekelis, L., Walsh, D. (2015). "Always valid inference: bringing
       sequential analysis to A/B testing". arXiv:1512.04922.
    .. [3] Robbins, H. (1970). "Statistical methods related to the law of the iterated
       logarithm". *Ann. Math. Statist.* 41(5), 1397–1409.
    """
    estimate, var, tau2 = _msprt_moments(successes_a, n_a, successes_b, n_b, tau2)
    return mixture_pvalues(estimate, var, tau2)


def mixture_pvalues(estimate: ArrayLike, variance: ArrayLike, tau2: float) -> FloatArray:
    r"""Always-valid p-values of the normal-mixture SPRT from an estimate and its variance.

    The statistic of :func:`msprt_pvalues` for any asymptotically normal estimate
    :math:`\hat\theta_n` with variance :math:`\sigma_n^2` at each look — e.g. a difference of
    per-user ratio metrics with delta-method variances (:mod:`recarena.stats.ratio`):
    :math:`p_n = \min(p_{n-1}, 1/\Lambda_n)`, :math:`\Lambda_n` as in :func:`msprt_pvalues`.

    Parameters
    ----------
    estimate, variance
        Arrays of shape ``(..., n_looks)``; looks with a variance that is not finite and
        positive are uninformative (:math:`\Lambda_n = 1`).
    tau2
        Mixing variance on the scale of the estimate, in (0, inf).
    """
    estimate = np.asarray(estimate, dtype=np.float64)
    var = np.asarray(variance, dtype=np.float64)
    tau2 = _check_positive(tau2, "tau2")
    informative = np.isfinite(var) & (var > 0.0)
    safe_var = np.where(informative, var, 1.0)
    log_lambda = 0.5 * np.log(safe_var / (safe_var + tau2)) + tau2 * estimate**2 / (
        2.0 * safe_var * (safe_var + tau2)
    )
    log_lambda = np.where(informative & np.isfinite(estimate), log_lambda, 0.0)
    p_look = np.exp(-np.maximum(log_lambda, 0.0))  # min(1, 1/Λ) without overflow
    return np.asarray(np.minimum.accumulate(p_look, axis=-1), dtype=np.float64)


def always_valid_ci(
    successes_a: ArrayLike,
    n_a: ArrayLike,
    successes_b: ArrayLike,
    n_b: ArrayLike,
    tau2: float,
    alpha: float = 0.05,
) -> ConfidenceSequence:
    r"""Confidence sequence for ``p_b − p_a`` from the same normal mixture as :func:`msprt_pvalues`.

    Parameters
    ----------
    successes_a, n_a, successes_b, n_b, tau2
        As in :func:`msprt_pvalues`.
    alpha
        Level in (0, 1): the intervals cover the true difference at *all* looks
        simultaneously with probability >= 1 − alpha.

    Returns
    -------
    ConfidenceSequence

    Notes
    -----
    Inverting :math:`\Lambda_n(\theta_0) < 1/\alpha` (the statistic of :func:`msprt_pvalues`
    with :math:`\hat\theta_n - \theta_0` in place of :math:`\hat\theta_n`) gives the per-look
    interval :math:`\hat\theta_n \pm h_n` with

    .. math:: h_n = \sqrt{\frac{\sigma_n^2(\sigma_n^2 + \tau^2)}{\tau^2}
              \Big(\log\frac{\sigma_n^2 + \tau^2}{\sigma_n^2} - 2\log\alpha\Big)}.

    The reported interval at look :math:`n` is the running intersection over looks
    :math:`\le n` (clipped to :math:`[-1, 1]`), which matches the running-minimum p-value:
    ``0`` lies outside the interval at look ``n`` exactly when ``msprt_pvalues(...)[n] <=
    alpha``. Uninformative looks (see :func:`msprt_pvalues`) contribute :math:`[-1, 1]`.

    References
    ----------
    .. [1] Johari, R., Pekelis, L., Walsh, D. (2015). "Always valid inference: bringing
       sequential analysis to A/B testing". arXiv:1512.04922, §4.
    .. [2] Howard, S. R., Ramdas, A., McAuliffe, J., Sekhon, J. (2021). "Time-uniform,
       nonparametric, nonasymptotic confidence sequences". *Ann. Statist.* 49(2), 1055–1080.
    """
    estimate, var, tau2 = _msprt_moments(successes_a, n_a, successes_b, n_b, tau2)
    alpha = _check_alpha(alpha)
    informative = var > 0.0
    safe_var = np.where(informative, var, 1.0)
    half = np.sqrt(
        safe_var
        * (safe_var + tau2)
        / tau2
        * (np.log((safe_var + tau2) / safe_var) - 2.0 * math.log(alpha))
    )
    lo = np.where(informative, np.maximum(estimate - half, -1.0), -1.0)
    hi = np.where(informative, np.minimum(estimate + half, 1.0), 1.0)
    lower = np.maximum.accumulate(lo, axis=-1)
    upper = np.minimum.accumulate(hi, axis=-1)
    empty = lower > upper
    lower = np.where(empty, np.nan, lower)
    upper = np.where(empty, np.nan, upper)
    return ConfidenceSequence(
        estimate=np.asarray(estimate, dtype=np.float64),
        lower=np.asarray(lower, dtype=np.float64),
        upper=np.asarray(upper, dtype=np.float64),
        alpha=alpha,
        tau2=tau2,
    )
