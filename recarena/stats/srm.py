"""Sample ratio mismatch: a chi-squared test of assignment counts against the planned split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from recarena.stats._common import _check_alpha

__all__ = ["SRMResult", "srm_check"]


@dataclass(frozen=True, slots=True)
class SRMResult:
    """Result of :func:`srm_check`.

    Attributes
    ----------
    statistic, df, p_value
        Pearson chi-square goodness-of-fit statistic, its degrees of freedom (groups − 1) and
        p-value.
    observed_shares, expected_shares
        Observed and designed traffic shares per group.
    alpha
        Threshold for flagging.
    mismatch
        ``p_value < alpha``: the split is inconsistent with the design.
    """

    statistic: float
    df: int
    p_value: float
    observed_shares: tuple[float, ...]
    expected_shares: tuple[float, ...]
    alpha: float
    mismatch: bool


def srm_check(
    observed_counts: ArrayLike, expected_shares: ArrayLike, alpha: float = 0.001
) -> SRMResult:
    r"""Sample-ratio-mismatch check: chi-square goodness of fit of the traffic split.

    Parameters
    ----------
    observed_counts
        Units assigned to each group (integers >= 0, at least 2 groups, positive total).
    expected_shares
        Designed share of each group, each in (0, 1), summing to 1 (within 1e-9).
    alpha
        Flagging threshold in (0, 1). The default 0.001 is deliberately strict: SRM checks
        run on every experiment and a flag means the results must not be trusted.

    Returns
    -------
    SRMResult

    Notes
    -----
    :math:`\chi^2 = \sum_g (O_g - E_g)^2 / E_g` with :math:`E_g = N \pi_g`, referred to
    :math:`\chi^2_{G-1}` (``scipy.stats.chisquare``). ``mismatch = p_value < alpha``.

    References
    ----------
    .. [1] Fabijan, A., Gupchup, J., Gupta, S., et al. (2019). "Diagnosing sample ratio
       mismatch in online controlled experiments". *KDD '19*, 2156–2164.
    .. [2] Kohavi, R., Tang, D., Xu, Y. (2020). *Trustworthy Online Controlled Experiments*,
       Cambridge University Press, ch. 21.
    """
    obs = np.asarray(observed_counts, dtype=np.float64)
    shares = np.asarray(expected_shares, dtype=np.float64)
    alpha = _check_alpha(alpha)
    if obs.ndim != 1 or obs.size < 2:
        raise ValueError(f"observed_counts must be 1-D with >= 2 groups, got shape {obs.shape}")
    if not np.all(np.isfinite(obs)) or np.any(obs < 0) or np.any(obs != np.floor(obs)):
        raise ValueError("observed_counts must contain integers in [0, inf) (no NaN)")
    if obs.sum() <= 0:
        raise ValueError("observed_counts must have a positive total")
    if shares.shape != obs.shape:
        raise ValueError(
            f"expected_shares must have the same shape as observed_counts, got {shares.shape}"
        )
    if not np.all(np.isfinite(shares)) or np.any((shares <= 0.0) | (shares >= 1.0)):
        raise ValueError("expected_shares must contain values in (0, 1) (no NaN)")
    if abs(float(shares.sum()) - 1.0) > 1e-9:
        raise ValueError(f"expected_shares must sum to 1, got {float(shares.sum())!r}")
    total = float(obs.sum())
    statistic, p_value = stats.chisquare(obs, f_exp=shares * total)
    return SRMResult(
        statistic=float(statistic),
        df=int(obs.size - 1),
        p_value=float(p_value),
        observed_shares=tuple(float(v) for v in obs / total),
        expected_shares=tuple(float(v) for v in shares),
        alpha=alpha,
        mismatch=bool(p_value < alpha),
    )
