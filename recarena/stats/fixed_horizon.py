"""Fixed-horizon tests: two-proportion z-test, Welch's t-test, multiple-testing adjustment."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from recarena.stats._common import (
    Alternative,
    FloatArray,
    Number,
    _check_alpha,
    _check_alternative,
    _check_sample,
    _check_successes,
    _interval,
    _log_ratio_lift,
    _normal_pvalue,
    _t_pvalue,
)

__all__ = [
    "TwoProportionZTestResult",
    "WelchTTestResult",
    "adjust_pvalues",
    "two_proportion_ztest",
    "welch_ttest",
]


@dataclass(frozen=True, slots=True)
class TwoProportionZTestResult:
    """Result of :func:`two_proportion_ztest`.

    Attributes
    ----------
    rate_a, rate_b
        Observed conversion rates ``successes / n``.
    difference
        ``rate_b - rate_a``.
    difference_ci
        Unpooled Wald confidence interval for the difference.
    relative_lift
        ``rate_b / rate_a - 1`` (NaN when ``rate_a == 0``).
    relative_lift_ci
        Delta-method interval on the log risk ratio, mapped back to the lift scale (NaN when
        either arm has zero successes).
    z
        Test statistic with the pooled standard error.
    p_value
        p-value for ``alternative``.
    se_pooled, se_unpooled
        Standard errors of the difference under H0 (pooled) and in general (unpooled).
    alpha, alternative
        The level and alternative the intervals and p-value refer to.
    """

    rate_a: float
    rate_b: float
    difference: float
    difference_ci: tuple[float, float]
    relative_lift: float
    relative_lift_ci: tuple[float, float]
    z: float
    p_value: float
    se_pooled: float
    se_unpooled: float
    alpha: float
    alternative: Alternative


@dataclass(frozen=True, slots=True)
class WelchTTestResult:
    """Result of :func:`welch_ttest` (also used for the CUPED-adjusted test).

    Attributes
    ----------
    mean_a, mean_b
        Sample means.
    difference
        ``mean_b - mean_a``.
    difference_ci
        Welch confidence interval for the difference (t quantile with Welch–Satterthwaite df).
    relative_lift
        ``mean_b / mean_a - 1`` (NaN when ``mean_a == 0``).
    relative_lift_ci
        Delta-method interval on the log ratio of means (NaN unless both means are > 0).
    t, df, p_value
        Welch t statistic, Welch–Satterthwaite degrees of freedom and p-value.
    se
        Standard error of the difference, ``sqrt(s_a²/n_a + s_b²/n_b)``.
    n_a, n_b
        Sample sizes.
    alpha, alternative
        The level and alternative the intervals and p-value refer to.
    """

    mean_a: float
    mean_b: float
    difference: float
    difference_ci: tuple[float, float]
    relative_lift: float
    relative_lift_ci: tuple[float, float]
    t: float
    df: float
    p_value: float
    se: float
    n_a: int
    n_b: int
    alpha: float
    alternative: Alternative


def two_proportion_ztest(
    successes_a: Number,
    n_a: Number,
    successes_b: Number,
    n_b: Number,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> TwoProportionZTestResult:
    r"""Two-sample z-test for a difference of proportions, with CIs for difference and lift.

    Parameters
    ----------
    successes_a, n_a
        Successes and trials in control (integers, ``0 <= successes_a <= n_a``, ``n_a >= 1``).
    successes_b, n_b
        Successes and trials in treatment.
    alpha
        Level of the test and ``1 − alpha`` coverage of the intervals, in (0, 1).
    alternative
        ``"two-sided"``, ``"larger"`` (H1: p_b > p_a) or ``"smaller"`` (H1: p_b < p_a).

    Returns
    -------
    TwoProportionZTestResult

    Notes
    -----
    With :math:`\hat p_a = s_a/n_a`, :math:`\hat p_b = s_b/n_b`, :math:`\hat d = \hat p_b -
    \hat p_a` and :math:`\bar p = (s_a + s_b)/(n_a + n_b)`:

    * test statistic (pooled SE, the variance under H0: p_a = p_b):
      :math:`z = \hat d / \sqrt{\bar p(1-\bar p)(1/n_a + 1/n_b)}`;
    * difference CI (unpooled Wald):
      :math:`\hat d \pm z_{1-\alpha/2}\sqrt{\hat p_a(1-\hat p_a)/n_a + \hat p_b(1-\hat p_b)/n_b}`;
    * relative lift :math:`\hat p_b/\hat p_a - 1`, CI by the **delta method on the log risk
      ratio** (Katz log interval):
      :math:`\exp\big(\log(\hat p_b/\hat p_a) \pm z_{1-\alpha/2}
      \sqrt{(1-\hat p_a)/(n_a\hat p_a) + (1-\hat p_b)/(n_b\hat p_b)}\big) - 1`.

    One-sided alternatives use :math:`z_{1-\alpha}` and a one-sided interval. If both arms
    are all-failures or all-successes the pooled SE is 0; then ``z = 0`` (no evidence of a
    difference) and the p-value follows from it.

    References
    ----------
    .. [1] Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley, §2.2 and §3.1.
    .. [2] Katz, D., Baptista, J., Azen, S. P., Pike, M. C. (1978). "Obtaining confidence
       intervals for the risk ratio in cohort studies". *Biometrics* 34(3), 469–474.
    """
    s_a, na = _check_successes(successes_a, n_a, "successes_a", "n_a")
    s_b, nb = _check_successes(successes_b, n_b, "successes_b", "n_b")
    alpha = _check_alpha(alpha)
    alternative = _check_alternative(alternative)

    p_a = s_a / na
    p_b = s_b / nb
    diff = p_b - p_a
    pooled = (s_a + s_b) / (na + nb)
    se_pooled = math.sqrt(pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb))
    se_unpooled = math.sqrt(p_a * (1.0 - p_a) / na + p_b * (1.0 - p_b) / nb)
    z = diff / se_pooled if se_pooled > 0.0 else 0.0
    p_value = _normal_pvalue(z, alternative)

    z_two = float(-special.ndtri(alpha / 2.0))
    z_one = float(-special.ndtri(alpha))
    diff_ci = _interval(diff, se_unpooled, z_two, z_one, alternative)

    se_log = (
        math.sqrt((1.0 - p_a) / (na * p_a) + (1.0 - p_b) / (nb * p_b))
        if s_a > 0 and s_b > 0
        else math.nan
    )
    lift, lift_ci = _log_ratio_lift(p_b, p_a, se_log, z_two, z_one, alternative)

    return TwoProportionZTestResult(
        rate_a=p_a,
        rate_b=p_b,
        difference=diff,
        difference_ci=diff_ci,
        relative_lift=lift,
        relative_lift_ci=lift_ci,
        z=z,
        p_value=p_value,
        se_pooled=se_pooled,
        se_unpooled=se_unpooled,
        alpha=alpha,
        alternative=alternative,
    )


def welch_ttest(
    x_a: ArrayLike,
    x_b: ArrayLike,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> WelchTTestResult:
    r"""Welch's unequal-variance t-test for ``mean(x_b) − mean(x_a)``, with lift CI.

    Parameters
    ----------
    x_a, x_b
        One-dimensional finite samples, at least 2 observations each.
    alpha
        Level of the test and ``1 − alpha`` coverage of the intervals, in (0, 1).
    alternative
        ``"two-sided"``, ``"larger"`` (H1: μ_b > μ_a) or ``"smaller"``.

    Returns
    -------
    WelchTTestResult

    Notes
    -----
    With sample means :math:`\bar x_g`, unbiased variances :math:`s_g^2` and
    :math:`v_g = s_g^2/n_g`:

    * :math:`\hat d = \bar x_b - \bar x_a`, :math:`SE = \sqrt{v_a + v_b}`,
      :math:`t = \hat d / SE`;
    * Welch–Satterthwaite :math:`\nu = (v_a + v_b)^2 / (v_a^2/(n_a-1) + v_b^2/(n_b-1))`;
    * CI :math:`\hat d \pm t_{\nu, 1-\alpha/2}\, SE`; p-value from :math:`t_\nu`;
    * lift :math:`\bar x_b/\bar x_a - 1`, CI by the delta method on the log ratio of means,
      :math:`\exp(\log(\bar x_b/\bar x_a) \pm z_{1-\alpha/2}
      \sqrt{v_a/\bar x_a^2 + v_b/\bar x_b^2}) - 1` (normal quantile; defined only when both
      means are positive, NaN otherwise).

    If both samples are constant, ``SE = 0`` and ``t``, ``df``, ``p_value`` and the CIs are NaN.

    References
    ----------
    .. [1] Welch, B. L. (1947). "The generalization of 'Student's' problem when several
       different population variances are involved". *Biometrika* 34(1–2), 28–35.
    .. [2] Satterthwaite, F. E. (1946). "An approximate distribution of estimates of variance
       components". *Biometrics Bulletin* 2(6), 110–114.
    .. [3] Casella, G., Berger, R. L. (2002). *Statistical Inference*, 2nd ed., §5.5.4 (delta
       method).
    """
    a = _check_sample(x_a, "x_a", 2)
    b = _check_sample(x_b, "x_b", 2)
    alpha = _check_alpha(alpha)
    alternative = _check_alternative(alternative)
    return _welch_from_moments(
        float(a.mean()),
        float(a.var(ddof=1)),
        a.size,
        float(b.mean()),
        float(b.var(ddof=1)),
        b.size,
        alpha,
        alternative,
    )


def _welch_from_moments(
    mean_a: float,
    var_a: float,
    n_a: int,
    mean_b: float,
    var_b: float,
    n_b: int,
    alpha: float,
    alternative: Alternative,
) -> WelchTTestResult:
    v_a = var_a / n_a
    v_b = var_b / n_b
    se2 = v_a + v_b
    se = math.sqrt(se2)
    diff = mean_b - mean_a
    z_two = float(-special.ndtri(alpha / 2.0))
    z_one = float(-special.ndtri(alpha))
    nan_pair = (math.nan, math.nan)
    if se2 > 0.0:
        df = se2 * se2 / (v_a * v_a / (n_a - 1) + v_b * v_b / (n_b - 1))
        t = diff / se
        p_value = _t_pvalue(t, df, alternative)
        t_two = float(special.stdtrit(df, 1.0 - alpha / 2.0))
        t_one = float(special.stdtrit(df, 1.0 - alpha))
        diff_ci = _interval(diff, se, t_two, t_one, alternative)
    else:
        df = t = p_value = math.nan
        diff_ci = nan_pair
    if mean_a > 0.0 and mean_b > 0.0 and se2 > 0.0:
        se_log = math.sqrt(v_a / mean_a**2 + v_b / mean_b**2)
    else:
        se_log = math.nan
    lift, lift_ci = _log_ratio_lift(mean_b, mean_a, se_log, z_two, z_one, alternative)
    return WelchTTestResult(
        mean_a=mean_a,
        mean_b=mean_b,
        difference=diff,
        difference_ci=diff_ci,
        relative_lift=lift,
        relative_lift_ci=lift_ci,
        t=t,
        df=df,
        p_value=p_value,
        se=se,
        n_a=n_a,
        n_b=n_b,
        alpha=alpha,
        alternative=alternative,
    )


def adjust_pvalues(
    pvalues: ArrayLike, method: Literal["holm", "bh", "bonferroni"] = "holm"
) -> FloatArray:
    r"""Multiplicity-adjusted p-values (numpy; checked against statsmodels ``multipletests``,
    which is avoided here because it calls ``gc.collect()`` on every call).

    Parameters
    ----------
    pvalues
        One-dimensional p-values in [0, 1], no NaN.
    method
        ``"bonferroni"`` (FWER), ``"holm"`` (FWER, uniformly more powerful than Bonferroni) or
        ``"bh"`` (Benjamini–Hochberg, FDR under independence / PRDS).

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order; reject hypothesis ``i`` at level ``q`` when
        ``adjusted[i] <= q``.

    Notes
    -----
    With :math:`m` hypotheses and sorted p-values :math:`p_{(1)} \le \dots \le p_{(m)}`:

    * Bonferroni: :math:`\tilde p_i = \min(1, m p_i)`;
    * Holm: :math:`\tilde p_{(i)} = \max_{j \le i} \min(1, (m - j + 1) p_{(j)})`;
    * BH: :math:`\tilde p_{(i)} = \min_{j \ge i} \min(1, m p_{(j)} / j)`.

    References
    ----------
    .. [1] Holm, S. (1979). "A simple sequentially rejective multiple test procedure".
       *Scandinavian Journal of Statistics* 6(2), 65–70.
    .. [2] Benjamini, Y., Hochberg, Y. (1995). "Controlling the false discovery rate".
       *JRSS B* 57(1), 289–300.
    """
    if method not in ("holm", "bh", "bonferroni"):
        raise ValueError(f"method must be one of ('holm', 'bh', 'bonferroni'), got {method!r}")
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"pvalues must be a non-empty one-dimensional array, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any((p < 0.0) | (p > 1.0)):
        raise ValueError("pvalues must contain values in [0, 1] (no NaN)")
    m = p.size
    if method == "bonferroni":
        return np.minimum(1.0, m * p)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    rank = np.arange(1, m + 1)
    if method == "holm":
        stepped = np.maximum.accumulate(np.minimum(1.0, (m - rank + 1) * ranked))
    else:
        stepped = np.minimum.accumulate(np.minimum(1.0, ranked * (m / rank))[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted
