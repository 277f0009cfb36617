"""Statistics for A/B tests: fixed-horizon tests, power, SRM, CUPED, sequential and Bayesian.

Pure functions of counts and samples; nothing here knows about the simulator. Every function
validates its inputs and raises :class:`ValueError` naming the offending argument and the
allowed range. Nothing draws from a global random state: the only stochastic routine
(:func:`prob_b_beats_a` with ``method="mc"``) takes an explicit :class:`numpy.random.Generator`.

Conventions
-----------
* Arm ``a`` is control, arm ``b`` is treatment. Differences are ``b - a`` and relative lifts
  are ``b / a - 1``.
* ``alternative`` is ``"two-sided"``, ``"larger"`` (H1: b > a) or ``"smaller"`` (H1: b < a),
  as in statsmodels. One-sided tests return one-sided confidence intervals whose open side is
  the parameter's natural limit (±inf for differences, -1 or +inf for relative lifts).

Contents
--------
Fixed horizon
    :func:`two_proportion_ztest`, :func:`welch_ttest`, :func:`adjust_pvalues`.
Design
    :func:`sample_size_two_proportions`, :func:`power_two_proportions`.
Health check
    :func:`srm_check`.
Variance reduction
    :func:`cuped_theta`, :func:`cuped`, :func:`cuped_ttest`.
Sequential
    :func:`msprt_pvalues`, :func:`always_valid_ci` (mixture SPRT, safe under continuous
    monitoring) and :func:`obrien_fleming_bounds` (group-sequential design, Lan–DeMets
    spending).
Bayesian
    :func:`prob_b_beats_a`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, optimize, special, stats

__all__ = [
    "Alternative",
    "BetaPosteriorComparison",
    "ConfidenceSequence",
    "CupedTTestResult",
    "GroupSequentialBounds",
    "SRMResult",
    "SampleSizeResult",
    "TwoProportionZTestResult",
    "WelchTTestResult",
    "adjust_pvalues",
    "always_valid_ci",
    "cuped",
    "cuped_theta",
    "cuped_ttest",
    "msprt_pvalues",
    "obrien_fleming_bounds",
    "power_two_proportions",
    "prob_b_beats_a",
    "sample_size_two_proportions",
    "srm_check",
    "two_proportion_ztest",
    "welch_ttest",
]

Alternative: TypeAlias = Literal["two-sided", "larger", "smaller"]
Number: TypeAlias = int | float | np.integer[Any] | np.floating[Any]
FloatArray: TypeAlias = NDArray[np.float64]

_ALTERNATIVES = ("two-sided", "larger", "smaller")
_INF = math.inf


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class SampleSizeResult:
    """Result of :func:`sample_size_two_proportions`.

    Attributes
    ----------
    n_a, n_b
        Required sample sizes (rounded up); ``n_b ≈ ratio · n_a``.
    p_a, p_b
        Baseline rate and the rate under the alternative.
    cohens_h
        ``2·asin(√p_b) − 2·asin(√p_a)``.
    alpha, power, ratio, alternative
        Design inputs.
    achieved_power
        Power at the rounded sizes (≥ ``power``).
    """

    n_a: int
    n_b: int
    p_a: float
    p_b: float
    cohens_h: float
    alpha: float
    power: float
    ratio: float
    alternative: Alternative
    achieved_power: float

    @property
    def total(self) -> int:
        """Total sample size ``n_a + n_b``."""
        return self.n_a + self.n_b


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


@dataclass(frozen=True, slots=True)
class GroupSequentialBounds:
    """Result of :func:`obrien_fleming_bounds`: a two-sided group-sequential design.

    Reject H0 at the first look ``k`` where ``|Z_k| >= z_bounds[k]``, with ``Z_k`` the
    cumulative z-statistic at information fraction ``info_fractions[k]``.

    Attributes
    ----------
    info_fractions
        Information fraction at each look (last is 1).
    z_bounds
        Critical values for ``|Z_k|``.
    nominal_alpha
        Two-sided nominal level of each boundary, ``2·(1 − Φ(z_bounds[k]))``.
    cumulative_alpha
        Alpha spent up to and including each look, ``α*(t_k)``.
    alpha
        Overall two-sided level.
    """

    info_fractions: tuple[float, ...]
    z_bounds: tuple[float, ...]
    nominal_alpha: tuple[float, ...]
    cumulative_alpha: tuple[float, ...]
    alpha: float


@dataclass(frozen=True, slots=True)
class BetaPosteriorComparison:
    """Result of :func:`prob_b_beats_a`.

    Attributes
    ----------
    prob_b_beats_a
        ``P(p_B > p_A | data)``.
    expected_loss_a
        Expected loss of shipping A: ``E[max(p_B − p_A, 0)]``.
    expected_loss_b
        Expected loss of shipping B: ``E[max(p_A − p_B, 0)]``.
    posterior_a, posterior_b
        Beta posterior parameters ``(α, β)``.
    method
        ``"exact"`` or ``"mc"``.
    """

    prob_b_beats_a: float
    expected_loss_a: float
    expected_loss_b: float
    posterior_a: tuple[float, float]
    posterior_b: tuple[float, float]
    method: Literal["exact", "mc"]


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _check_alpha(alpha: Number, name: str = "alpha") -> float:
    value = float(alpha)
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise ValueError(f"{name} must be in the open interval (0, 1), got {alpha!r}")
    return value


def _check_alternative(alternative: str) -> Alternative:
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")
    return alternative  # type: ignore[return-value]


def _check_count(value: Number, name: str, minimum: int = 0) -> int:
    x = float(value)
    if not math.isfinite(x) or not x.is_integer() or x < minimum:
        raise ValueError(f"{name} must be an integer in [{minimum}, inf), got {value!r}")
    return int(x)


def _check_successes(successes: Number, n: Number, s_name: str, n_name: str) -> tuple[int, int]:
    n_int = _check_count(n, n_name, minimum=1)
    s_int = _check_count(successes, s_name)
    if s_int > n_int:
        raise ValueError(f"{s_name} must be an integer in [0, {n_name}={n_int}], got {s_int}")
    return s_int, n_int


def _check_probability(p: Number, name: str, *, open_interval: bool = True) -> float:
    x = float(p)
    ok = math.isfinite(x) and ((0.0 < x < 1.0) if open_interval else (0.0 <= x <= 1.0))
    if not ok:
        rng = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name} must be in {rng}, got {p!r}")
    return x


def _check_positive(value: Number, name: str) -> float:
    x = float(value)
    if not (math.isfinite(x) and x > 0.0):
        raise ValueError(f"{name} must be a finite number in (0, inf), got {value!r}")
    return x


def _check_sample(x: ArrayLike, name: str, min_size: int) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} observations, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values in (-inf, inf) (no NaN/inf)")
    return arr


def _check_count_array(x: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] < 1:
        raise ValueError(f"{name} must be an array with at least one look, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.floor(arr)):
        raise ValueError(f"{name} must contain integers in [0, inf) (no NaN/inf/negatives)")
    if np.any(np.diff(arr, axis=-1) < 0):
        raise ValueError(f"{name} must be cumulative: non-decreasing along the last axis")
    return arr


def _check_cumulative_pair(
    successes: ArrayLike, n: ArrayLike, s_name: str, n_name: str
) -> tuple[FloatArray, FloatArray]:
    s_arr = _check_count_array(successes, s_name)
    n_arr = _check_count_array(n, n_name)
    if s_arr.shape != n_arr.shape:
        raise ValueError(
            f"{s_name} and {n_name} must have the same shape, got {s_arr.shape} and {n_arr.shape}"
        )
    if np.any(s_arr > n_arr):
        raise ValueError(f"{s_name} must be in [0, {n_name}] at every look")
    if np.any(np.diff(n_arr - s_arr, axis=-1) < 0):
        raise ValueError(
            f"{n_name} - {s_name} (failures) must be cumulative: non-decreasing over looks"
        )
    return s_arr, n_arr


# --------------------------------------------------------------------------------------------
# Small numerical helpers
# --------------------------------------------------------------------------------------------


def _normal_pvalue(stat: float, alternative: Alternative) -> float:
    if alternative == "two-sided":
        return float(min(1.0, 2.0 * special.ndtr(-abs(stat))))
    if alternative == "larger":
        return float(special.ndtr(-stat))
    return float(special.ndtr(stat))


def _t_pvalue(stat: float, df: float, alternative: Alternative) -> float:
    if alternative == "two-sided":
        return float(min(1.0, 2.0 * special.stdtr(df, -abs(stat))))
    if alternative == "larger":
        return float(special.stdtr(df, -stat))
    return float(special.stdtr(df, stat))


def _interval(
    estimate: float, se: float, crit_two: float, crit_one: float, alternative: Alternative
) -> tuple[float, float]:
    """``estimate ± crit·se`` on the side(s) given by ``alternative``."""
    if alternative == "two-sided":
        return (estimate - crit_two * se, estimate + crit_two * se)
    if alternative == "larger":
        return (estimate - crit_one * se, _INF)
    return (-_INF, estimate + crit_one * se)


def _log_ratio_lift(
    num: float,
    den: float,
    se_log: float,
    z_two: float,
    z_one: float,
    alternative: Alternative,
) -> tuple[float, tuple[float, float]]:
    """Lift ``num/den − 1`` and its delta-method interval built on ``log(num/den)``."""
    nan_ci = (math.nan, math.nan)
    if den == 0.0:
        return math.nan, nan_ci
    lift = num / den - 1.0
    if not (num > 0.0 and den > 0.0 and math.isfinite(se_log)):
        return lift, nan_ci
    lo, hi = _interval(math.log(num / den), se_log, z_two, z_one, alternative)
    return lift, (math.expm1(lo), math.expm1(hi))


# --------------------------------------------------------------------------------------------
# Fixed-horizon tests
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Power and sample size
# --------------------------------------------------------------------------------------------


def _cohens_h(p_a: float, p_b: float) -> float:
    return 2.0 * math.asin(math.sqrt(p_b)) - 2.0 * math.asin(math.sqrt(p_a))


def _power_h(h: float, n_eff: float, alpha: float, alternative: Alternative) -> float:
    """Normal-approximation power for effect ``h`` on the arcsine scale (both tails)."""
    shift = h * math.sqrt(n_eff)
    if alternative == "two-sided":
        crit = float(-special.ndtri(alpha / 2.0))
        return float(special.ndtr(shift - crit) + special.ndtr(-crit - shift))
    crit = float(-special.ndtri(alpha))
    if alternative == "larger":
        return float(special.ndtr(shift - crit))
    return float(special.ndtr(-shift - crit))


def power_two_proportions(
    p_a: float,
    p_b: float,
    n_per_group: Number,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
) -> float:
    r"""Power of the two-proportion z-test via Cohen's h (arcsine) normal approximation.

    Parameters
    ----------
    p_a, p_b
        True rates in control and treatment, each in [0, 1].
    n_per_group
        Size of group A (> 0); group B has ``ratio · n_per_group``.
    alpha
        Level in (0, 1).
    ratio
        ``n_b / n_a``, in (0, inf).
    alternative
        ``"two-sided"``, ``"larger"`` (H1: p_b > p_a) or ``"smaller"``.

    Returns
    -------
    float
        Power in [0, 1]; identical to statsmodels
        ``NormalIndPower().power(proportion_effectsize(p_b, p_a), n_per_group, alpha, ratio)``.

    Notes
    -----
    :math:`h = 2\arcsin\sqrt{p_b} - 2\arcsin\sqrt{p_a}`, :math:`n_{eff} = n_a n_b/(n_a+n_b)`;
    two-sided power is
    :math:`\Phi(h\sqrt{n_{eff}} - z_{1-\alpha/2}) + \Phi(-h\sqrt{n_{eff}} - z_{1-\alpha/2})`,
    one-sided ("larger") :math:`\Phi(h\sqrt{n_{eff}} - z_{1-\alpha})`.

    References
    ----------
    .. [1] Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*,
       2nd ed., Erlbaum, ch. 6.
    """
    pa = _check_probability(p_a, "p_a", open_interval=False)
    pb = _check_probability(p_b, "p_b", open_interval=False)
    n = _check_positive(n_per_group, "n_per_group")
    alpha = _check_alpha(alpha)
    ratio = _check_positive(ratio, "ratio")
    alternative = _check_alternative(alternative)
    n_eff = n * ratio / (1.0 + ratio)
    return _power_h(_cohens_h(pa, pb), n_eff, alpha, alternative)


def sample_size_two_proportions(
    p_base: float,
    mde_abs: float | None = None,
    *,
    lift: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
) -> SampleSizeResult:
    r"""Sample size per group for the two-proportion z-test (Cohen's h approximation).

    Parameters
    ----------
    p_base
        Control rate, in (0, 1).
    mde_abs
        Minimum detectable effect as an absolute difference ``p_b − p_base``. Give exactly one
        of ``mde_abs`` and ``lift``; ``p_base + mde_abs`` must lie in [0, 1] and differ from
        ``p_base``.
    lift
        Minimum detectable effect as a relative lift: ``p_b = p_base · (1 + lift)``.
    alpha
        Level in (0, 1).
    power
        Target power in (alpha, 1).
    ratio
        ``n_b / n_a`` in (0, inf).
    alternative
        ``"two-sided"``, ``"larger"`` (needs ``p_b > p_base``) or ``"smaller"`` (needs
        ``p_b < p_base``).

    Returns
    -------
    SampleSizeResult
        ``n_a = ceil(n*)`` and ``n_b = ceil(ratio · n*)`` where ``n*`` solves the power
        equation exactly; ``n_a`` equals ``ceil`` of statsmodels
        ``NormalIndPower().solve_power(proportion_effectsize(p_b, p_base), power=power,
        alpha=alpha, ratio=ratio)``.

    Notes
    -----
    Starting from the one-tail closed form
    :math:`n^{(0)} = (1 + 1/r)\,\big((z_{1-\alpha/2} + z_{power}) / h\big)^2` (with
    :math:`z_{1-\alpha}` for one-sided tests), the exact root of the power function in
    :func:`power_two_proportions` (which, for two-sided tests, also counts the opposite tail)
    is found with Brent's method on :math:`(0, n^{(0)}]`.

    References
    ----------
    .. [1] Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*,
       2nd ed., Erlbaum, ch. 6.
    .. [2] Chow, S.-C., Shao, J., Wang, H. (2008). *Sample Size Calculations in Clinical
       Research*, 2nd ed., Chapman & Hall, §4.2.
    """
    pa = _check_probability(p_base, "p_base")
    alpha = _check_alpha(alpha)
    power = _check_probability(power, "power")
    if power <= alpha:
        raise ValueError(f"power must be in (alpha={alpha}, 1), got {power!r}")
    ratio = _check_positive(ratio, "ratio")
    alternative = _check_alternative(alternative)
    if (mde_abs is None) == (lift is None):
        raise ValueError("give exactly one of mde_abs and lift")
    if mde_abs is not None:
        mde = float(mde_abs)
        if not math.isfinite(mde) or mde == 0.0:
            raise ValueError(f"mde_abs must be finite and non-zero, got {mde_abs!r}")
        pb = pa + mde
        if not 0.0 <= pb <= 1.0:
            raise ValueError(
                f"mde_abs must be in [-p_base, 1 - p_base] = [{-pa}, {1.0 - pa}], got {mde}"
            )
    else:
        rel = float(lift)  # type: ignore[arg-type]
        if not math.isfinite(rel) or rel == 0.0:
            raise ValueError(f"lift must be finite and non-zero, got {lift!r}")
        pb = pa * (1.0 + rel)
        if not 0.0 <= pb <= 1.0:
            raise ValueError(f"lift must be in [-1, 1/p_base - 1] = [-1, {1.0 / pa - 1.0}]")
    if alternative == "larger" and pb <= pa:
        raise ValueError("alternative='larger' needs a positive effect (mde_abs > 0 or lift > 0)")
    if alternative == "smaller" and pb >= pa:
        raise ValueError("alternative='smaller' needs a negative effect (mde_abs < 0 or lift < 0)")

    h = _cohens_h(pa, pb)
    if alternative == "two-sided":
        crit = float(-special.ndtri(alpha / 2.0))
    else:
        crit = float(-special.ndtri(alpha))
    z_power = float(special.ndtri(power))
    k = (1.0 + ratio) / ratio  # n_a = k · n_eff
    n_closed = k * ((crit + z_power) / h) ** 2

    def gap(n_a: float) -> float:
        return _power_h(h, n_a / k, alpha, alternative) - power

    if gap(n_closed) <= 0.0:  # only possible through rounding; the closed form is an upper bound
        n_star = n_closed
    else:
        n_star = float(optimize.brentq(gap, n_closed * 1e-9, n_closed, xtol=1e-10, rtol=1e-14))
    n_a = max(1, math.ceil(n_star))
    n_b = max(1, math.ceil(ratio * n_star))
    achieved = _power_h(h, n_a * n_b / (n_a + n_b), alpha, alternative)
    return SampleSizeResult(
        n_a=n_a,
        n_b=n_b,
        p_a=pa,
        p_b=pb,
        cohens_h=h,
        alpha=alpha,
        power=power,
        ratio=ratio,
        alternative=alternative,
        achieved_power=achieved,
    )


# --------------------------------------------------------------------------------------------
# Sample ratio mismatch
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# CUPED
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Sequential testing: mixture SPRT
# --------------------------------------------------------------------------------------------


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
    informative = var > 0.0
    safe_var = np.where(informative, var, 1.0)
    log_lambda = 0.5 * np.log(safe_var / (safe_var + tau2)) + tau2 * estimate**2 / (
        2.0 * safe_var * (safe_var + tau2)
    )
    log_lambda = np.where(informative, log_lambda, 0.0)
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


# --------------------------------------------------------------------------------------------
# Sequential testing: group-sequential O'Brien–Fleming-type design
# --------------------------------------------------------------------------------------------

# Simpson grid for the recursive integration (odd size). On the score scale the continuation
# region is |S| < c·sqrt(t) <~ 4, so the spacing is <~ 0.013, i.e. >= 7 points per standard
# deviation of an increment when information steps are >= _MIN_INFO_STEP. Against a 2401-point
# grid the bounds agree to < 1e-7 (equal spacing up to 20 looks, and steps of 0.01).
_GS_GRID = 601
_MIN_INFO_STEP = 0.01


def _obf_spending(t: FloatArray, alpha: float) -> FloatArray:
    """Lan–DeMets O'Brien–Fleming-type spending function ``2 − 2Φ(z_{1−α/2}/√t)``."""
    z = -special.ndtri(alpha / 2.0)
    return np.asarray(2.0 * special.ndtr(-z / np.sqrt(t)), dtype=np.float64)


def _simpson_weights(m: int, width: float) -> FloatArray:
    w = np.ones(m)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return np.asarray(w * width / (3.0 * (m - 1)), dtype=np.float64)


def _solve_score_bound(grid: FloatArray, mass: FloatArray, sd: float, spend: float) -> float:
    """Score-scale bound ``b`` with P(continue to here, then |S_prev + N(0, sd²)| >= b) = spend.

    ``mass`` holds quadrature weight × sub-density of the previous score on ``grid``.
    """

    def log_exit(b: float) -> float:
        tail = special.ndtr((-b - grid) / sd) + special.ndtr((grid - b) / sd)
        return math.log(max(float(mass @ tail), 1e-300))

    target = math.log(spend)
    upper = 1.0
    while log_exit(upper) > target:
        upper *= 2.0
    return float(optimize.brentq(lambda b: log_exit(b) - target, 0.0, upper, xtol=1e-12))


def obrien_fleming_bounds(
    n_looks: int,
    alpha: float = 0.05,
    info_fractions: ArrayLike | None = None,
    *,
    per_side: bool = False,
) -> GroupSequentialBounds:
    r"""Two-sided group-sequential boundaries from O'Brien–Fleming-type alpha spending.

    Parameters
    ----------
    n_looks
        Number of analyses including the final one, integer in [1, 50].
    alpha
        Overall two-sided type-I error in (0, 1).
    info_fractions
        Information fraction at each look: increasing in [0.01, 1] in steps of at least 0.01
        (finer steps would need a finer integration grid), ending at 1. Default equally spaced
        ``k / n_looks``.
    per_side
        ``False`` (default): the spending function is applied to the two-sided test with the
        overall ``alpha``, as written in Lan & DeMets (1983). ``True``: it is applied to each
        side with one-sided level ``alpha / 2`` (the convention of gsDesign's ``sfLDOF`` and
        rpact's ``"asOF"`` for symmetric two-sided designs), which spends less early; e.g.
        5 equally spaced looks at ``alpha=0.05`` give 4.877, 3.357, 2.680, 2.290, 2.031
        instead of 4.383, 3.100, 2.553, 2.254, 2.064. Both have overall level ``alpha``.

    Returns
    -------
    GroupSequentialBounds

    Notes
    -----
    Lan–DeMets spending function :math:`\alpha^*(t) = 2 - 2\Phi(z_{1-\alpha/2}/\sqrt t)`
    (so :math:`\alpha^*(1) = \alpha`); with ``per_side=True`` the two-sided cumulative spend
    is :math:`2\,\alpha^*_{\alpha/2}(t) = 4 - 4\Phi(z_{1-\alpha/4}/\sqrt t)`, which is exact
    for symmetric bounds because both tails exit with equal probability. Look :math:`k` may spend
    :math:`\alpha^*(t_k) - \alpha^*(t_{k-1})`; its critical value :math:`c_k` solves

    .. math:: P_{H_0}\big(|Z_1| < c_1, \dots, |Z_{k-1}| < c_{k-1}, |Z_k| \ge c_k\big)
              = \alpha^*(t_k) - \alpha^*(t_{k-1}),

    where the cumulative z-statistics are jointly normal with
    :math:`\mathrm{corr}(Z_i, Z_j) = \sqrt{t_i/t_j}` (:math:`i \le j`). The probability is
    computed by recursive numerical integration (Armitage, McPherson & Rowe 1969) on the score
    scale :math:`S_k = \sqrt{t_k} Z_k`, whose increments are independent
    :math:`N(0, t_k - t_{k-1})`: the sub-density of :math:`S_k` on the continuation region is
    propagated with Simpson's rule on a grid of 601 points, and each :math:`c_k` is found with
    Brent's method. The first bound is exactly :math:`z_{1-\alpha/2}/\sqrt{t_1}`.

    References
    ----------
    .. [1] Lan, K. K. G., DeMets, D. L. (1983). "Discrete sequential boundaries for clinical
       trials". *Biometrika* 70(3), 659–663.
    .. [2] O'Brien, P. C., Fleming, T. R. (1979). "A multiple testing procedure for clinical
       trials". *Biometrics* 35(3), 549–556.
    .. [3] Armitage, P., McPherson, C. K., Rowe, B. C. (1969). "Repeated significance tests on
       accumulating data". *JRSS A* 132(2), 235–244.
    .. [4] Jennison, C., Turnbull, B. W. (2000). *Group Sequential Methods with Applications to
       Clinical Trials*, Chapman & Hall/CRC, ch. 7 and 19.
    """
    if isinstance(n_looks, bool) or not isinstance(n_looks, int | np.integer):
        raise ValueError(f"n_looks must be an integer in [1, 50], got {n_looks!r}")
    k_looks = int(n_looks)
    if not 1 <= k_looks <= 50:
        raise ValueError(f"n_looks must be an integer in [1, 50], got {n_looks!r}")
    alpha = _check_alpha(alpha)
    if info_fractions is None:
        t = np.arange(1, k_looks + 1, dtype=np.float64) / k_looks
    else:
        t = np.asarray(info_fractions, dtype=np.float64)
        if t.shape != (k_looks,):
            raise ValueError(f"info_fractions must have length n_looks={k_looks}, got {t.shape}")
        if (
            not np.all(np.isfinite(t))
            or t[0] < _MIN_INFO_STEP
            or np.any(np.diff(t) < _MIN_INFO_STEP)
            or abs(t[-1] - 1.0) > 1e-12
        ):
            raise ValueError(
                "info_fractions must be increasing in [0.01, 1] in steps of at least 0.01, "
                "ending at 1"
            )
        t = t.copy()
        t[-1] = 1.0

    cum_spend = 2.0 * _obf_spending(t, alpha / 2.0) if per_side else _obf_spending(t, alpha)
    spend = np.diff(cum_spend, prepend=0.0)

    z_bounds = np.empty(k_looks)
    z_bounds[0] = -special.ndtri(spend[0] / 2.0)
    if k_looks > 1:
        # Sub-density of S_1 = sqrt(t_1) Z_1 on its continuation region (-b_1, b_1).
        b_prev = z_bounds[0] * math.sqrt(t[0])
        grid = np.linspace(-b_prev, b_prev, _GS_GRID)
        sd1 = math.sqrt(t[0])
        dens = np.exp(-0.5 * (grid / sd1) ** 2) / (sd1 * math.sqrt(2.0 * math.pi))
        weights = _simpson_weights(_GS_GRID, 2.0 * b_prev)
        for k in range(1, k_looks):
            sd = math.sqrt(t[k] - t[k - 1])
            mass = weights * dens
            b_k = _solve_score_bound(grid, mass, sd, float(spend[k]))
            z_bounds[k] = b_k / math.sqrt(t[k])
            if k < k_looks - 1:
                new_grid = np.linspace(-b_k, b_k, _GS_GRID)
                kernel = np.exp(-0.5 * ((new_grid[:, None] - grid[None, :]) / sd) ** 2) / (
                    sd * math.sqrt(2.0 * math.pi)
                )
                dens = kernel @ mass
                grid = new_grid
                weights = _simpson_weights(_GS_GRID, 2.0 * b_k)

    nominal = 2.0 * special.ndtr(-z_bounds)
    return GroupSequentialBounds(
        info_fractions=tuple(float(v) for v in t),
        z_bounds=tuple(float(v) for v in z_bounds),
        nominal_alpha=tuple(float(v) for v in nominal),
        cumulative_alpha=tuple(float(v) for v in cum_spend),
        alpha=alpha,
    )


# --------------------------------------------------------------------------------------------
# Bayesian comparison of two Beta posteriors
# --------------------------------------------------------------------------------------------


def _prob_x_greater_sum(a_x: float, b_x: float, a_y: float, b_y: float) -> float:
    """P(X > Y), X ~ Beta(a_x, b_x), Y ~ Beta(a_y, b_y), for integer ``a_x`` (Miller's sum)."""
    i = np.arange(int(a_x), dtype=np.float64)
    log_terms = (
        special.betaln(a_y + i, b_y + b_x)
        - np.log(b_x + i)
        - special.betaln(1.0 + i, b_x)
        - special.betaln(a_y, b_y)
    )
    return float(np.exp(log_terms).sum())


def _prob_x_greater_quad(a_x: float, b_x: float, a_y: float, b_y: float) -> float:
    """P(X > Y) = ∫_0^1 F_Y(F_X^{-1}(u)) du, by adaptive quadrature (any positive params)."""

    def integrand(u: float) -> float:
        return float(special.betainc(a_y, b_y, special.betaincinv(a_x, b_x, u)))

    value, _ = integrate.quad(integrand, 0.0, 1.0, epsabs=1e-13, epsrel=1e-11, limit=500)
    return float(value)


_MAX_SUM_TERMS = 5_000_000  # beyond this Miller's sum is slower than quadrature


def _prob_x_greater(a_x: float, b_x: float, a_y: float, b_y: float) -> float:
    """P(X > Y) for independent Betas: Miller's sum on the smaller integer shape, else quad."""
    x_ok = float(a_x).is_integer() and a_x <= _MAX_SUM_TERMS
    y_ok = float(a_y).is_integer() and a_y <= _MAX_SUM_TERMS
    if x_ok and (not y_ok or a_x <= a_y):
        p = _prob_x_greater_sum(a_x, b_x, a_y, b_y)
    elif y_ok:
        p = 1.0 - _prob_x_greater_sum(a_y, b_y, a_x, b_x)
    else:
        p = _prob_x_greater_quad(a_x, b_x, a_y, b_y)
    return min(1.0, max(0.0, p))


def prob_b_beats_a(
    successes_a: Number,
    n_a: Number,
    successes_b: Number,
    n_b: Number,
    prior: tuple[float, float] = (1.0, 1.0),
    method: Literal["exact", "mc"] = "exact",
    rng: np.random.Generator | None = None,
    n_draws: int = 200_000,
) -> BetaPosteriorComparison:
    r"""Posterior probability that B's rate exceeds A's, and the expected loss of each choice.

    Parameters
    ----------
    successes_a, n_a, successes_b, n_b
        Counts per arm (integers, ``0 <= successes <= n``, ``n >= 1``).
    prior
        Beta prior ``(α0, β0)`` shared by both arms, each in (0, inf). Default uniform.
    method
        ``"exact"``: closed form / numerical integration (deterministic); ``"mc"``: Monte
        Carlo from the posteriors.
    rng
        Required for ``method="mc"``: a :class:`numpy.random.Generator`. Ignored otherwise.
    n_draws
        Posterior draws per arm for ``"mc"``, integer >= 1.

    Returns
    -------
    BetaPosteriorComparison

    Notes
    -----
    Posteriors :math:`p_A \sim \mathrm{Beta}(a_A, b_A)` with :math:`a_A = \alpha_0 + s_A`,
    :math:`b_A = \beta_0 + n_A - s_A`, likewise for B.

    * Exact, :math:`a_B` integer (Evan Miller's closed form):

      .. math:: P(p_B > p_A) = \sum_{i=0}^{a_B - 1}
                \frac{B(a_A + i,\, b_A + b_B)}{(b_B + i)\, B(1 + i,\, b_B)\, B(a_A, b_A)},

      evaluated in log space. If only :math:`a_A` is an integer the same sum gives
      :math:`1 - P(p_A > p_B)`; otherwise
      :math:`P = \int_0^1 F_A(F_B^{-1}(u))\,du` by adaptive quadrature.
    * Expected loss of choosing B, using :math:`x\,\mathrm{Beta}(x; a, b) =
      \frac{a}{a+b}\mathrm{Beta}(x; a+1, b)`:
      :math:`E[(p_A - p_B)^+] = \frac{a_A}{a_A+b_A} P(p_A' > p_B) -
      \frac{a_B}{a_B+b_B} P(p_A > p_B')` with :math:`p_A' \sim \mathrm{Beta}(a_A+1, b_A)`,
      :math:`p_B' \sim \mathrm{Beta}(a_B+1, b_B)`; and
      :math:`E[(p_B - p_A)^+] = E[(p_A - p_B)^+] + E[p_B] - E[p_A]`.
    * Monte Carlo: sample means of :math:`1\{p_B > p_A\}` and of the positive parts over
      ``n_draws`` paired draws (standard error :math:`\le 0.5/\sqrt{n_{draws}}`).

    References
    ----------
    .. [1] Miller, E. (2015). "Formulas for Bayesian A/B testing".
       https://www.evanmiller.org/bayesian-ab-testing.html
    .. [2] Stucchio, C. (2015). "Bayesian A/B testing at VWO". VWO technical whitepaper
       (expected-loss decision rule).
    """
    s_a, na = _check_successes(successes_a, n_a, "successes_a", "n_a")
    s_b, nb = _check_successes(successes_b, n_b, "successes_b", "n_b")
    if len(prior) != 2:
        raise ValueError(f"prior must be a pair (alpha0, beta0), got {prior!r}")
    a0 = _check_positive(prior[0], "prior[0]")
    b0 = _check_positive(prior[1], "prior[1]")
    a_a, b_a = a0 + s_a, b0 + na - s_a
    a_b, b_b = a0 + s_b, b0 + nb - s_b

    if method == "exact":
        p_b_gt = _prob_x_greater(a_b, b_b, a_a, b_a)
        mean_a = a_a / (a_a + b_a)
        mean_b = a_b / (a_b + b_b)
        loss_b = mean_a * _prob_x_greater(a_a + 1.0, b_a, a_b, b_b) - mean_b * _prob_x_greater(
            a_a, b_a, a_b + 1.0, b_b
        )
        loss_b = max(0.0, loss_b)
        loss_a = max(0.0, loss_b + mean_b - mean_a)
    elif method == "mc":
        if not isinstance(rng, np.random.Generator):
            raise ValueError("rng must be a numpy.random.Generator when method='mc'")
        draws = _check_count(n_draws, "n_draws", minimum=1)
        pa = rng.beta(a_a, b_a, size=draws)
        pb = rng.beta(a_b, b_b, size=draws)
        diff = pb - pa
        p_b_gt = float(np.mean(diff > 0.0))
        loss_a = float(np.mean(np.maximum(diff, 0.0)))
        loss_b = float(np.mean(np.maximum(-diff, 0.0)))
    else:
        raise ValueError(f"method must be one of ('exact', 'mc'), got {method!r}")

    return BetaPosteriorComparison(
        prob_b_beats_a=p_b_gt,
        expected_loss_a=loss_a,
        expected_loss_b=loss_b,
        posterior_a=(a_a, b_a),
        posterior_b=(a_b, b_b),
        method=method,
    )
