r"""CUPED variance reduction with a pre-period covariate (Deng et al. 2013).

:func:`cuped_ttest` adjusts a per-unit outcome by a per-unit covariate. :func:`cuped_ratio_test`
does the same for a *ratio* metric of a user-randomised test (clicks per session, each user's
sessions correlated), by the delta method: each group's ratio and pre-period ratio are
linearised per user (Deng, Knoblich & Lu 2018, as :mod:`recarena.stats.ratio`), and CUPED is
applied to the linearised values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from recarena.stats._common import (
    Alternative,
    FloatArray,
    _check_alpha,
    _check_alternative,
    _check_sample,
)
from recarena.stats.fixed_horizon import WelchTTestResult, welch_ttest

__all__ = ["CupedRatioResult", "CupedTTestResult", "cuped", "cuped_ratio_test", "cuped_theta",
           "cuped_ttest"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class CupedTTestResult:
    """Result of :func:`cuped_ttest`.

    Attributes
    ----------
    adjusted
        Welch test on CUPED-adjusted outcomes.
    unadjusted
        Welch test on raw outcomes, for comparison.
    theta
        Pooled within-group regression coefficient of ``y`` on ``x_pre``.
    variance_reduction
        ``1 − se_adjusted² / se_unadjusted²``: the fraction of the variance of the estimated
        difference removed by the adjustment (≈ ρ² for a large sample).
    """

    adjusted: WelchTTestResult
    unadjusted: WelchTTestResult
    theta: float
    variance_reduction: float


def _check_paired(y: ArrayLike, x: ArrayLike, y_name: str, x_name: str) -> tuple[FloatArray, ...]:
    y_arr = _check_sample(y, y_name, 2)
    x_arr = _check_sample(x, x_name, 2)
    if y_arr.shape != x_arr.shape:
        raise ValueError(
            f"{y_name} and {x_name} must have the same length, got {y_arr.size} and {x_arr.size}"
        )
    return y_arr, x_arr


def cuped_theta(y: ArrayLike, x_pre: ArrayLike) -> float:
    r"""CUPED coefficient :math:`\theta = \mathrm{cov}(y, x) / \mathrm{var}(x)`.

    Parameters
    ----------
    y
        Outcome per unit (1-D, finite, >= 2 values).
    x_pre
        Pre-experiment covariate per unit, same length as ``y``.

    Returns
    -------
    float
        The OLS slope of ``y`` on ``x_pre``; 0.0 when ``x_pre`` is constant (no adjustment).

    Notes
    -----
    :math:`\theta = \sum_i (y_i - \bar y)(x_i - \bar x) / \sum_i (x_i - \bar x)^2`, the value
    minimising :math:`\mathrm{var}(y - \theta x)`.

    References
    ----------
    .. [1] Deng, A., Xu, Y., Kohavi, R., Walker, T. (2013). "Improving the sensitivity of
       online controlled experiments by utilizing pre-experiment data". *WSDM '13*, 123–132.
    """
    y_arr, x_arr = _check_paired(y, x_pre, "y", "x_pre")
    xc = x_arr - x_arr.mean()
    sxx = float(xc @ xc)
    if sxx == 0.0:
        return 0.0
    return float((y_arr - y_arr.mean()) @ xc) / sxx


def cuped(
    y: ArrayLike,
    x_pre: ArrayLike,
    *,
    theta: float | None = None,
    x_center: float | None = None,
) -> FloatArray:
    r"""CUPED-adjusted outcomes :math:`y_i - \theta (x_i - \bar x)`.

    Parameters
    ----------
    y
        Outcome per unit (1-D, finite, >= 2 values).
    x_pre
        Pre-experiment covariate per unit, same length; must not be affected by treatment.
    theta
        Coefficient; default :func:`cuped_theta` of ``(y, x_pre)``.
    x_center
        Centre for ``x_pre``; default its own mean. When comparing groups, use one common
        centre (e.g. the pooled mean) for all groups, otherwise each group's adjusted mean
        collapses back to its raw mean (see :func:`cuped_ttest`).

    Returns
    -------
    numpy.ndarray
        Adjusted outcomes; same mean as ``y`` when ``x_center`` is the mean of ``x_pre``, and
        variance :math:`\mathrm{var}(y)(1 - \rho^2)` at the optimal ``theta``.

    Notes
    -----
    :math:`y^{cv}_i = y_i - \theta(x_i - \bar x)` with
    :math:`\theta = \mathrm{cov}(y, x)/\mathrm{var}(x)` (Deng et al. 2013, eq. 3–4).

    References
    ----------
    .. [1] Deng, A., Xu, Y., Kohavi, R., Walker, T. (2013). "Improving the sensitivity of
       online controlled experiments by utilizing pre-experiment data". *WSDM '13*, 123–132.
    """
    y_arr, x_arr = _check_paired(y, x_pre, "y", "x_pre")
    th = cuped_theta(y_arr, x_arr) if theta is None else float(theta)
    if not math.isfinite(th):
        raise ValueError(f"theta must be a finite number in (-inf, inf), got {theta!r}")
    centre = float(x_arr.mean()) if x_center is None else float(x_center)
    if not math.isfinite(centre):
        raise ValueError(f"x_center must be a finite number in (-inf, inf), got {x_center!r}")
    return y_arr - th * (x_arr - centre)


def cuped_ttest(
    y_a: ArrayLike,
    x_a: ArrayLike,
    y_b: ArrayLike,
    x_b: ArrayLike,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> CupedTTestResult:
    r"""Welch test on CUPED-adjusted outcomes with a pooled :math:`\theta`.

    Parameters
    ----------
    y_a, x_a
        Control outcomes and their pre-experiment covariates (equal lengths, >= 2).
    y_b, x_b
        Treatment outcomes and covariates.
    alpha
        Level in (0, 1).
    alternative
        ``"two-sided"``, ``"larger"`` or ``"smaller"``.

    Returns
    -------
    CupedTTestResult

    Notes
    -----
    * Pooled within-group coefficient
      :math:`\theta = \sum_g\sum_i (y_{gi}-\bar y_g)(x_{gi}-\bar x_g) /
      \sum_g\sum_i (x_{gi}-\bar x_g)^2` (group means removed, so a treatment effect on
      ``y`` does not leak into :math:`\theta`).
    * Both groups are centred on the **pooled** mean :math:`\bar x` of ``x``:
      :math:`y^{cv}_{gi} = y_{gi} - \theta(x_{gi} - \bar x)`, hence the estimate is
      :math:`(\bar y_b - \bar y_a) - \theta(\bar x_b - \bar x_a)`.
    * :func:`welch_ttest` is then applied to :math:`y^{cv}`; the one degree of freedom spent
      on :math:`\theta` is ignored (negligible at A/B-test sizes).
    * ``variance_reduction`` :math:`= 1 - SE_{cv}^2 / SE_{raw}^2`.

    References
    ----------
    .. [1] Deng, A., Xu, Y., Kohavi, R., Walker, T. (2013). "Improving the sensitivity of
       online controlled experiments by utilizing pre-experiment data". *WSDM '13*, 123–132.
    """
    ya, xa = _check_paired(y_a, x_a, "y_a", "x_a")
    yb, xb = _check_paired(y_b, x_b, "y_b", "x_b")
    alpha = _check_alpha(alpha)
    alternative = _check_alternative(alternative)

    xa_c = xa - xa.mean()
    xb_c = xb - xb.mean()
    sxx = float(xa_c @ xa_c + xb_c @ xb_c)
    sxy = float((ya - ya.mean()) @ xa_c + (yb - yb.mean()) @ xb_c)
    theta = sxy / sxx if sxx > 0.0 else 0.0
    centre = float(np.concatenate([xa, xb]).mean())

    adj_a = ya - theta * (xa - centre)
    adj_b = yb - theta * (xb - centre)
    adjusted = welch_ttest(adj_a, adj_b, alpha=alpha, alternative=alternative)
    unadjusted = welch_ttest(ya, yb, alpha=alpha, alternative=alternative)
    se_ratio2 = (adjusted.se / unadjusted.se) ** 2 if unadjusted.se > 0.0 else 1.0
    reduction = 1.0 - se_ratio2
    return CupedTTestResult(
        adjusted=adjusted, unadjusted=unadjusted, theta=theta, variance_reduction=reduction
    )


@dataclass(frozen=True, slots=True)
class CupedRatioResult:
    r"""Result of :func:`cuped_ratio_test` (treatment ``b`` minus control ``a``).

    Attributes
    ----------
    estimate, se, p_value, ci_low, ci_high
        CUPED-adjusted difference of ratios, its delta-method standard error, two-sided
        z-test p-value and confidence interval.
    estimate_unadjusted, se_unadjusted, p_value_unadjusted
        The same without the adjustment (the plain per-user delta-method test).
    theta
        The variance-minimising coefficient :math:`\theta`.
    rho
        Correlation between the difference of ratios and the difference of pre-period
        ratios; ``variance_reduction`` :math:`= \rho^2`.
    variance_reduction
        :math:`1 - se^2 / se_\text{unadjusted}^2`, the share of the estimate's variance the
        covariate removes.
    units_a, units_b
        Users in each group (with at least one trial in the test period).
    """

    estimate: float
    se: float
    p_value: float
    ci_low: float
    ci_high: float
    estimate_unadjusted: float
    se_unadjusted: float
    p_value_unadjusted: float
    theta: float
    rho: float
    variance_reduction: float
    units_a: int
    units_b: int


def _linearised(
    y: FloatArray, n: FloatArray, x: FloatArray, m: FloatArray
) -> tuple[float, float, FloatArray, FloatArray]:
    r"""Ratios :math:`R = \sum y/\sum n`, :math:`P = \sum x / \sum m` and the per-unit
    influence values :math:`\ell_u = (y_u - R n_u)/\bar n`, :math:`\kappa_u = (x_u - P
    m_u)/\bar m` (κ = 0 when no unit had a pre-period trial)."""
    ratio = float(y.sum() / n.sum())
    ell = (y - ratio * n) / n.mean()
    if m.sum() > 0:
        pre = float(x.sum() / m.sum())
        kappa = (x - pre * m) / m.mean()
    else:
        pre, kappa = math.nan, np.zeros_like(x)
    return ratio, pre, ell, kappa


def cuped_ratio_test(
    a: tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike],
    b: tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike],
    alpha: float = 0.05,
) -> CupedRatioResult:
    r"""CUPED for a ratio metric of a user-randomised test, per user by the delta method.

        Parameters
        ----------
        a, b
            Control and treatment, each ``(y, n, x, m)`` per user: successes and trials in the
            test period (:math:`y_u, n_u`) and in the pre-period (:math:`x_u, m_u`, 0 for a user
            without pre-period trials). Users with :math:`n_u = 0` are not in the test and are
            dropped; each group needs at least 2 users.
        alpha
            Level of the interval and the test, in (0, 1).

        Returns
        -------
        CupedRatioResult

        Notes
        -----
        Per group :math:`g` with :math:`N_g` users, the ratio :math:`R_g = \sum y/\sum n` is to
        first order :math:`\mu_g + ar\ell_g` with the influence values
        :math:`\ell_u = (y_u - R_g n_u)/ar n_g`; likewise the pre-period ratio
        :math:`P_g = \sum x / \sum m` with :math:`\kappa_u = (x_u - P_g m_u)/ar m_g`. So
        :math:`\mathrm{Var}(R_g) = s^2_{\ell,g}/N_g` — the delta-method variance of
        :mod:`recarena.stats.ratio` (Deng, Knoblich & Lu 2018). The adjusted difference is

        .. math::

            \hat\Delta_{cv} = (R_b - R_a) - 	heta (P_b - P_a), \qquad
            \mathrm{Var}(\hat\Delta_{cv}) = \sum_g rac{s^2_{\ell,g} - 2	heta
            s_{\ell\kappa,g} + 	heta^2 s^2_{\kappa,g}}{N_g},

        minimised by :math:`	heta = \sum_g s_{\ell\kappa,g}/N_g \,ig/\, \sum_g
        s^2_{\kappa,g}/N_g` (Deng et al. 2013, eq. 4, for the difference), which removes the
        share :math:`
    ho^2` of the variance, :math:`
    ho = \sum_g s_{\ell\kappa,g}/N_g ig/
        \sqrt{\sum_g s^2_{\ell,g}/N_g \cdot \sum_g s^2_{\kappa,g}/N_g}`. The pre-period
        precedes any treatment, so :math:`E[P_b - P_a] = 0` and the adjustment leaves the
        estimate unbiased (up to the :math:`O(1/N)` from estimating θ). Test and interval are
        normal (z).

        References
        ----------
        .. [1] Deng, A., Xu, Y., Kohavi, R., Walker, T. (2013). "Improving the sensitivity of
           online controlled experiments by utilizing pre-experiment data". *WSDM '13*, 123–132.
        .. [2] Deng, A., Knoblich, U., Lu, J. (2018). "Applying the delta method in metric
           analytics: a practical guide with novel ideas". *KDD '18*, 233–242.
    """
    alpha = _check_alpha(alpha)
    parts = []
    for label, group in (("a", a), ("b", b)):
        y, n, x, m = (np.asarray(v, dtype=np.float64).ravel() for v in group)
        if not y.shape == n.shape == x.shape == m.shape:
            raise ValueError(f"{label}: y, n, x and m must have the same length")
        if not all(np.isfinite(v).all() and (v >= 0).all() for v in (y, n, x, m)):
            raise ValueError(f"{label}: counts must be finite and >= 0")
        seen = n > 0
        if seen.sum() < 2:
            raise ValueError(f"{label}: needs at least 2 users with trials, got {seen.sum()}")
        parts.append(_linearised(y[seen], n[seen], x[seen], m[seen]))
    var_l = var_k = cov = 0.0
    for _, _, ell, kappa in parts:
        size = ell.size
        var_l += float(ell @ ell) / (size - 1) / size
        var_k += float(kappa @ kappa) / (size - 1) / size
        cov += float(ell @ kappa) / (size - 1) / size
    (r_a, p_a, _, _), (r_b, p_b, _, _) = parts
    theta = cov / var_k if var_k > 0 else 0.0
    raw = r_b - r_a
    shift = theta * (p_b - p_a) if theta != 0.0 else 0.0
    variance = max(var_l - 2.0 * theta * cov + theta * theta * var_k, 0.0)
    se, se_raw = math.sqrt(variance), math.sqrt(var_l)
    estimate = raw - shift
    z = float(special.ndtri(1.0 - alpha / 2.0))

    def p_value(value: float, scale: float) -> float:
        return float(2.0 * special.ndtr(-abs(value) / scale)) if scale > 0 else math.nan

    return CupedRatioResult(
        estimate=estimate, se=se, p_value=p_value(estimate, se),
        ci_low=estimate - z * se, ci_high=estimate + z * se,
        estimate_unadjusted=raw, se_unadjusted=se_raw,
        p_value_unadjusted=p_value(raw, se_raw), theta=theta,
        rho=cov / math.sqrt(var_l * var_k) if var_l > 0 and var_k > 0 else 0.0,
        variance_reduction=1.0 - variance / var_l if var_l > 0 else 0.0,
        units_a=parts[0][2].size, units_b=parts[1][2].size,
    )  # fmt: skip
