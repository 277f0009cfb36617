"""Tests for recarena.stats: fixed-horizon, power, SRM, CUPED, sequential, Bayesian statistics.

Reference values come from hand calculations (shown in comments), scipy, statsmodels and
published group-sequential tables. Simulation tests are seeded; their thresholds are binomial
intervals at 99.9 % (or a stated margin), wide enough to be stable yet narrow enough that a
wrong standard error, a missing square root or a flipped sign fails them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    power_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
    samplesize_proportions_2indep_onetail,
)

from recarena.stats import (
    Alternative,
    adjust_pvalues,
    always_valid_ci,
    bayes,
    cuped,
    cuped_theta,
    cuped_ttest,
    group_sequential_bounds,
    msprt_pvalues,
    obrien_fleming_bounds,
    power_two_proportions,
    prob_b_beats_a,
    sample_size_two_proportions,
    srm_check,
    two_proportion_ztest,
    welch_ttest,
)


def _bad(value: str) -> Any:
    """An out-of-range option value, typed ``Any`` so the invalid call type-checks."""
    return value


def binom_band(n: int, p: float, level: float = 0.999) -> tuple[float, float]:
    """Central ``level`` acceptance band for a binomial proportion with ``n`` trials."""
    lo, hi = stats.binom.interval(level, n, p)
    return lo / n, hi / n


# --------------------------------------------------------------------------------------------
# two_proportion_ztest
# --------------------------------------------------------------------------------------------


def test_ztest_hand_worked() -> None:
    # A: 100/1000 = 0.10, B: 130/1000 = 0.13, difference 0.03.
    # Pooled p = 230/2000 = 0.115; SE0 = sqrt(0.115·0.885·(1/1000 + 1/1000))
    #   = sqrt(0.101775 · 0.002) = sqrt(2.0355e-4) = 0.0142671.
    # z = 0.03 / 0.0142671 = 2.10274; two-sided p = 2·(1 − Φ(2.10274)) = 0.035488.
    # Unpooled SE = sqrt(0.1·0.9/1000 + 0.13·0.87/1000) = sqrt(2.031e-4) = 0.0142513;
    #   95 % CI = 0.03 ± 1.959964·0.0142513 = (0.0020679, 0.0579321).
    # Lift = 0.13/0.10 − 1 = 0.30. SE(log RR) = sqrt(0.9/100 + 0.87/130)
    #   = sqrt(0.009 + 0.0066923) = 0.1252689; CI = 1.3·exp(∓1.959964·0.1252689) − 1
    #   = 1.3·(0.782321, 1.278290) − 1 = (0.016984, 0.661776).
    r = two_proportion_ztest(100, 1000, 130, 1000)
    assert r.rate_a == pytest.approx(0.10)
    assert r.rate_b == pytest.approx(0.13)
    assert r.difference == pytest.approx(0.03)
    assert r.se_pooled == pytest.approx(0.0142671, abs=1e-7)
    assert r.z == pytest.approx(2.10274, abs=1e-5)
    assert r.p_value == pytest.approx(0.035488, abs=1e-6)
    assert r.se_unpooled == pytest.approx(0.0142513, abs=1e-7)
    assert r.difference_ci == pytest.approx((0.0020679, 0.0579321), abs=1e-7)
    assert r.relative_lift == pytest.approx(0.30)
    assert r.relative_lift_ci == pytest.approx((0.016984, 0.661776), abs=1e-6)


@pytest.mark.parametrize(
    ("s_a", "n_a", "s_b", "n_b"),
    [(100, 1000, 130, 1000), (37, 400, 25, 350), (5, 80, 9, 60), (4800, 50000, 5020, 49000)],
)
@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_ztest_matches_statsmodels(
    s_a: int, n_a: int, s_b: int, n_b: int, alternative: Alternative
) -> None:
    r = two_proportion_ztest(s_a, n_a, s_b, n_b, alpha=0.1, alternative=alternative)
    # statsmodels tests prop1 - prop2 with the pooled SE; pass B first so the sign matches.
    z_sm, p_sm = proportions_ztest([s_b, s_a], [n_b, n_a], alternative=alternative)
    assert r.z == pytest.approx(z_sm, rel=1e-12)
    assert r.p_value == pytest.approx(p_sm, rel=1e-10)
    if alternative == "two-sided":
        lo, hi = confint_proportions_2indep(
            s_b, n_b, s_a, n_a, method="wald", compare="diff", alpha=0.1
        )
        assert r.difference_ci == pytest.approx((lo, hi), rel=1e-10)
        lo, hi = confint_proportions_2indep(
            s_b, n_b, s_a, n_a, method="log", compare="ratio", alpha=0.1
        )
        assert r.relative_lift_ci == pytest.approx((lo - 1.0, hi - 1.0), rel=1e-10)


def test_ztest_one_sided_intervals_and_pvalues() -> None:
    two = two_proportion_ztest(100, 1000, 130, 1000)
    larger = two_proportion_ztest(100, 1000, 130, 1000, alternative="larger")
    smaller = two_proportion_ztest(100, 1000, 130, 1000, alternative="smaller")
    assert larger.p_value == pytest.approx(two.p_value / 2)
    assert smaller.p_value == pytest.approx(1 - two.p_value / 2)
    z95 = stats.norm.ppf(0.95)
    assert larger.difference_ci == (pytest.approx(0.03 - z95 * two.se_unpooled), math.inf)
    assert smaller.difference_ci == (-math.inf, pytest.approx(0.03 + z95 * two.se_unpooled))
    assert larger.relative_lift_ci[1] == math.inf
    assert smaller.relative_lift_ci[0] == -1.0  # the lift's natural lower limit


def test_ztest_degenerate_inputs_are_quiet() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = two_proportion_ztest(0, 100, 0, 120)
        assert r.z == 0.0
        assert r.p_value == 1.0
        assert math.isnan(r.relative_lift)
        r = two_proportion_ztest(0, 100, 3, 120)
        assert math.isnan(r.relative_lift)
        assert all(math.isnan(v) for v in r.relative_lift_ci)
        assert r.p_value < 0.2


def test_ztest_aa_false_positive_rate_matches_alpha() -> None:
    rng = np.random.default_rng(20240611)
    n_exp, n, p = 2000, 2000, 0.1
    s_a = rng.binomial(n, p, size=n_exp)
    s_b = rng.binomial(n, p, size=n_exp)
    pvals = np.array(
        [two_proportion_ztest(a, n, b, n).p_value for a, b in zip(s_a, s_b, strict=True)]
    )
    fpr = float(np.mean(pvals <= 0.05))
    lo, hi = binom_band(n_exp, 0.05)
    assert lo <= fpr <= hi
    # Under H0 the CI for the difference covers 0 exactly when p > alpha (up to the pooled vs
    # unpooled SE); check coverage of the Wald interval too.
    cover = np.mean(
        [
            (ci := two_proportion_ztest(a, n, b, n).difference_ci)[0] <= 0.0 <= ci[1]
            for a, b in zip(s_a, s_b, strict=True)
        ]
    )
    lo, hi = binom_band(n_exp, 0.95)
    assert lo <= cover <= hi


def test_peeking_with_fixed_horizon_ztest_inflates_false_positives() -> None:
    # 20 looks, stop at the first p <= 0.05. Theory (Armitage et al. 1969): ~25 % type-I error.
    rng = np.random.default_rng(7)
    n_exp, looks, step, p = 1000, 20, 100, 0.1
    s_a = rng.binomial(step, p, size=(n_exp, looks)).cumsum(axis=1)
    s_b = rng.binomial(step, p, size=(n_exp, looks)).cumsum(axis=1)
    n = step * np.arange(1, looks + 1)
    rejected_any = np.zeros(n_exp, dtype=bool)
    rejected_final = np.zeros(n_exp, dtype=bool)
    for e in range(n_exp):
        pv = [two_proportion_ztest(s_a[e, k], n[k], s_b[e, k], n[k]).p_value for k in range(looks)]
        rejected_any[e] = min(pv) <= 0.05
        rejected_final[e] = pv[-1] <= 0.05
    lo, hi = binom_band(n_exp, 0.05)
    assert lo <= rejected_final.mean() <= hi
    assert rejected_any.mean() > 0.15  # > 3·alpha; binomial 99.9 % band around 0.25 is ±0.045


# --------------------------------------------------------------------------------------------
# welch_ttest
# --------------------------------------------------------------------------------------------


def test_welch_hand_worked() -> None:
    # a = [1, 2, 3, 4]: mean 2.5, s² = 5/3; b = [2, 4, 6, 8]: mean 5, s² = 20/3.
    # v_a = 5/12, v_b = 20/12, SE² = 25/12, SE = 1.443376; t = 2.5 / SE = sqrt(3) = 1.732051.
    # df = (25/12)² / ((5/12)²/3 + (20/12)²/3) = 625 / ((25 + 400)/3) = 1875/425 = 75/17.
    r = welch_ttest([1, 2, 3, 4], [2, 4, 6, 8])
    assert r.difference == pytest.approx(2.5)
    assert r.se == pytest.approx(math.sqrt(25 / 12))
    assert r.t == pytest.approx(math.sqrt(3))
    assert r.df == pytest.approx(75 / 17)
    assert r.p_value == pytest.approx(2 * stats.t.sf(math.sqrt(3), 75 / 17))
    half = stats.t.ppf(0.975, 75 / 17) * math.sqrt(25 / 12)
    assert r.difference_ci == pytest.approx((2.5 - half, 2.5 + half))
    # Lift = 5/2.5 − 1 = 1; SE(log ratio) = sqrt((5/12)/2.5² + (20/12)/5²) = sqrt(2/15).
    se_log = math.sqrt(2 / 15)
    z = stats.norm.ppf(0.975)
    assert r.relative_lift == pytest.approx(1.0)
    assert r.relative_lift_ci == pytest.approx(
        (2 * math.exp(-z * se_log) - 1, 2 * math.exp(z * se_log) - 1)
    )


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_welch_matches_scipy(alternative: Alternative) -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(10.0, 2.0, size=57)
    b = rng.normal(10.8, 4.0, size=143)
    r = welch_ttest(a, b, alpha=0.1, alternative=alternative)
    # scipy tests mean(first) − mean(second): pass b first.
    scipy_alt = {"two-sided": "two-sided", "larger": "greater", "smaller": "less"}[alternative]
    ref = stats.ttest_ind(b, a, equal_var=False, alternative=scipy_alt)
    assert r.t == pytest.approx(ref.statistic, rel=1e-12)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert r.df == pytest.approx(ref.df, rel=1e-12)
    ci = ref.confidence_interval(confidence_level=0.9)
    assert r.difference_ci == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_welch_lift_ci_coverage() -> None:
    rng = np.random.default_rng(11)
    n_exp, true_lift = 1000, 0.1
    covered = 0
    for _ in range(n_exp):
        a = rng.exponential(2.0, size=400)
        b = rng.exponential(2.0 * (1 + true_lift), size=300)
        lo, hi = welch_ttest(a, b).relative_lift_ci
        covered += lo <= true_lift <= hi
    lo_band, hi_band = binom_band(n_exp, 0.95)
    assert lo_band <= covered / n_exp <= hi_band


def test_welch_constant_samples_give_nan_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = welch_ttest([1.0, 1.0, 1.0], [1.0, 1.0])
    assert r.difference == 0.0
    assert math.isnan(r.t) and math.isnan(r.p_value) and math.isnan(r.df)


# --------------------------------------------------------------------------------------------
# Power and sample size
# --------------------------------------------------------------------------------------------


def test_sample_size_hand_worked() -> None:
    # p_a = 0.10, p_b = 0.12: h = 2·asin(sqrt(0.12)) − 2·asin(sqrt(0.10))
    #   = 2·(0.3537416 − 0.3217506) = 0.0639821.
    # n = 2·((1.959964 + 0.841621)/0.0639821)² = 2·43.7870² = 3834.6 → 3835 per group.
    r = sample_size_two_proportions(0.10, 0.02)
    assert r.cohens_h == pytest.approx(0.0639821, abs=1e-7)
    assert (r.n_a, r.n_b, r.total) == (3835, 3835, 7670)
    assert r.achieved_power >= 0.8
    by_lift = sample_size_two_proportions(0.10, lift=0.2)
    assert (by_lift.n_a, by_lift.n_b) == (3835, 3835)
    assert by_lift.p_b == pytest.approx(0.12)


_ALTERNATIVES: tuple[Alternative, ...] = ("two-sided", "larger", "smaller")
_DESIGNS = [
    (p_base, mde, alpha, ratio, alternative)
    for p_base in (0.01, 0.1, 0.5, 0.9)
    for mde in (0.005, -0.01, 0.03)
    for alpha in (0.01, 0.05)
    for ratio in (0.5, 1.0, 3.0)
    for alternative in _ALTERNATIVES
    if 0 < p_base + mde < 1
    and (alternative == "two-sided" or (alternative == "larger") == (mde > 0))
]


def test_sample_size_matches_statsmodels() -> None:
    assert len(_DESIGNS) == 132
    for p_base, mde, alpha, ratio, alternative in _DESIGNS:
        _check_design_against_statsmodels(p_base, mde, alpha, ratio, alternative)


def _check_design_against_statsmodels(
    p_base: float, mde: float, alpha: float, ratio: float, alternative: Alternative
) -> None:
    r = sample_size_two_proportions(
        p_base, mde, alpha=alpha, power=0.9, ratio=ratio, alternative=alternative
    )
    h = proportion_effectsize(p_base + mde, p_base)
    n_sm = NormalIndPower().solve_power(
        h, power=0.9, alpha=alpha, ratio=ratio, alternative=alternative
    )
    assert r.n_a == math.ceil(n_sm)
    assert r.n_b == math.ceil(ratio * n_sm) or r.n_b == math.ceil(ratio * r.n_a - 1e-9)
    # Minimality: one fewer unit in A (B scaled alike) falls short of the target power.
    below = power_two_proportions(
        p_base, p_base + mde, r.n_a - 1, alpha=alpha, ratio=ratio, alternative=alternative
    )
    assert below < 0.9 <= r.achieved_power


@pytest.mark.parametrize(("p_a", "p_b"), [(0.1, 0.12), (0.3, 0.25), (0.05, 0.05)])
@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_power_matches_statsmodels(p_a: float, p_b: float, alternative: Alternative) -> None:
    h = proportion_effectsize(p_b, p_a)
    for n, ratio in [(500, 1.0), (2500, 2.0), (10000, 0.7)]:
        ref = NormalIndPower().power(h, n, 0.05, ratio=ratio, alternative=alternative)
        got = power_two_proportions(p_a, p_b, n, alpha=0.05, ratio=ratio, alternative=alternative)
        assert got == pytest.approx(ref, rel=1e-10, abs=1e-14)


def test_pooled_unpooled_sample_size_is_the_calculators_3841() -> None:
    # 10% → 12%, α = 0.05 two-sided, 80% power: (1.959964·√(2·0.11·0.89) +
    # 0.841621·√(0.09 + 0.1056))² / 0.02² = 3840.85 → 3,841 per group (Cohen's h: 3,835).
    r = sample_size_two_proportions(0.10, 0.02, method="pooled_unpooled")
    assert (r.n_a, r.n_b, r.method) == (3841, 3841, "pooled_unpooled")
    assert sample_size_two_proportions(0.10, 0.02).n_a == 3835


@pytest.mark.parametrize("ratio", [1.0, 2.0, 0.5])
@pytest.mark.parametrize("alternative", ["two-sided", "larger"])
def test_pooled_unpooled_matches_statsmodels(ratio: float, alternative: Alternative) -> None:
    # statsmodels' first group is our b (rate p_a + diff), its ratio is n_a / n_b.
    got = power_two_proportions(0.10, 0.13, 1000, ratio=ratio, alternative=alternative,
                                method="pooled_unpooled")  # fmt: skip
    ref = power_proportions_2indep(0.03, 0.10, 1000 * ratio, ratio=1 / ratio,
                                   alternative=alternative).power  # fmt: skip
    assert got == pytest.approx(ref, abs=1e-9)
    r = sample_size_two_proportions(0.10, 0.03, ratio=ratio, method="pooled_unpooled")
    n_b = samplesize_proportions_2indep_onetail(0.03, 0.10, 0.8, ratio=1 / ratio)
    assert r.n_b == math.ceil(n_b - 1e-9)


def test_designed_sample_size_achieves_power_in_simulation() -> None:
    design = sample_size_two_proportions(0.10, 0.02, power=0.8)
    rng = np.random.default_rng(5)
    n_exp, n = 2000, design.n_a
    s_a = rng.binomial(n, 0.10, size=n_exp)
    s_b = rng.binomial(n, 0.12, size=n_exp)
    power = np.mean(
        [two_proportion_ztest(a, n, b, n).p_value <= 0.05 for a, b in zip(s_a, s_b, strict=True)]
    )
    lo, hi = binom_band(n_exp, 0.8)
    assert lo <= power <= hi


# --------------------------------------------------------------------------------------------
# SRM
# --------------------------------------------------------------------------------------------


def test_srm_flags_52_48_split_at_large_n() -> None:
    # 5200 vs 4800 against 50/50: χ² = 2·200²/5000 = 16, df = 1, p = 6.33e-5 < 0.001.
    r = srm_check([5200, 4800], [0.5, 0.5])
    assert r.statistic == pytest.approx(16.0)
    assert r.df == 1
    assert r.p_value == pytest.approx(stats.chi2.sf(16.0, 1))
    assert r.mismatch
    assert r.observed_shares == pytest.approx((0.52, 0.48))
    # The same 52/48 split on 1000 units: χ² = 1.6, p = 0.206, not flagged.
    small = srm_check([520, 480], [0.5, 0.5])
    assert small.statistic == pytest.approx(1.6)
    assert not small.mismatch


def test_srm_three_groups_matches_scipy() -> None:
    counts = [3300, 3380, 3320]
    shares = [0.33, 0.34, 0.33]
    r = srm_check(counts, shares, alpha=0.01)
    ref = stats.chisquare(counts, f_exp=np.array(shares) * sum(counts))
    assert r.statistic == pytest.approx(ref.statistic)
    assert r.p_value == pytest.approx(ref.pvalue)
    assert r.df == 2
    assert r.mismatch == (ref.pvalue < 0.01)


def test_srm_aa_flag_rate_is_alpha() -> None:
    rng = np.random.default_rng(9)
    n_exp = 1000
    n_a = rng.binomial(20000, 0.5, size=n_exp)
    flags = np.array([srm_check([a, 20000 - a], [0.5, 0.5], alpha=0.05).mismatch for a in n_a])
    lo, hi = binom_band(n_exp, 0.05)
    assert lo <= flags.mean() <= hi


# --------------------------------------------------------------------------------------------
# CUPED
# --------------------------------------------------------------------------------------------


def _correlated(rng: np.random.Generator, n: int, rho: float) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(5.0, 2.0, size=n)
    noise = rng.normal(0.0, 2.0, size=n)
    y = 3.0 + rho * x + math.sqrt(1 - rho**2) * noise
    return y, x


def test_cuped_theta_and_variance_reduction() -> None:
    rng = np.random.default_rng(1)
    y, x = _correlated(rng, 20000, rho=0.8)
    theta = cuped_theta(y, x)
    assert theta == pytest.approx(np.cov(y, x)[0, 1] / np.var(x, ddof=1), rel=1e-12)
    assert theta == pytest.approx(0.8, abs=0.02)
    adj = cuped(y, x)
    assert adj.mean() == pytest.approx(y.mean(), rel=1e-12)
    rho2 = np.corrcoef(y, x)[0, 1] ** 2
    # var(y − θ(x − x̄)) = var(y)(1 − ρ²) exactly at the sample-optimal θ.
    assert adj.var() == pytest.approx(y.var() * (1 - rho2), rel=1e-9)
    assert adj.var() < 0.45 * y.var()
    # Explicit theta / centre are honoured.
    assert cuped(y, x, theta=0.0) == pytest.approx(y)
    assert cuped(y, x, theta=1.0, x_center=0.0) == pytest.approx(y - x)


def test_cuped_constant_covariate_means_no_adjustment() -> None:
    y = np.array([1.0, 2.0, 4.0])
    assert cuped_theta(y, [3.0, 3.0, 3.0]) == 0.0
    assert cuped(y, [3.0, 3.0, 3.0]) == pytest.approx(y)


def test_cuped_ttest_reduces_variance_and_keeps_estimate_consistent() -> None:
    rng = np.random.default_rng(2)
    y_a, x_a = _correlated(rng, 5000, rho=0.7)
    y_b, x_b = _correlated(rng, 5000, rho=0.7)
    y_b = y_b + 0.1
    r = cuped_ttest(y_a, x_a, y_b, x_b)
    # Pooled within-group slope.
    xa_c, xb_c = x_a - x_a.mean(), x_b - x_b.mean()
    theta = ((y_a - y_a.mean()) @ xa_c + (y_b - y_b.mean()) @ xb_c) / (xa_c @ xa_c + xb_c @ xb_c)
    assert r.theta == pytest.approx(theta, rel=1e-12)
    # Estimate = raw difference − θ·(difference in pre-period means), Deng et al. eq. (5).
    expected = (y_b.mean() - y_a.mean()) - theta * (x_b.mean() - x_a.mean())
    assert r.adjusted.difference == pytest.approx(expected, rel=1e-10)
    assert r.unadjusted.difference == pytest.approx(y_b.mean() - y_a.mean(), rel=1e-12)
    # Variance reduction ≈ ρ² = 0.49 (sampling error of ρ² at n = 10⁴ is ~0.01).
    assert r.variance_reduction == pytest.approx(0.49, abs=0.03)
    assert r.adjusted.se < r.unadjusted.se
    assert abs(r.adjusted.difference - 0.1) < 4 * r.adjusted.se
    assert r.adjusted.difference_ci[1] - r.adjusted.difference_ci[0] == pytest.approx(
        2 * stats.t.ppf(0.975, r.adjusted.df) * r.adjusted.se
    )


def test_cuped_ttest_aa_false_positive_rate_and_no_gain_without_correlation() -> None:
    rng = np.random.default_rng(4)
    n_exp = 1000
    pvals = np.empty(n_exp)
    for e in range(n_exp):
        y_a, x_a = _correlated(rng, 200, rho=0.6)
        y_b, x_b = _correlated(rng, 200, rho=0.6)
        pvals[e] = cuped_ttest(y_a, x_a, y_b, x_b).adjusted.p_value
    lo, hi = binom_band(n_exp, 0.05)
    assert lo <= float(np.mean(pvals <= 0.05)) <= hi

    y_a, x_a = _correlated(rng, 5000, rho=0.0)
    y_b, x_b = _correlated(rng, 5000, rho=0.0)
    assert abs(cuped_ttest(y_a, x_a, y_b, x_b).variance_reduction) < 0.01


# --------------------------------------------------------------------------------------------
# adjust_pvalues
# --------------------------------------------------------------------------------------------


def test_adjust_pvalues_hand_worked() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # Bonferroni: 4·p.
    assert adjust_pvalues(p, "bonferroni") == pytest.approx([0.04, 0.16, 0.12, 0.02])
    # Holm, sorted 0.005, 0.01, 0.03, 0.04 × (4, 3, 2, 1) = 0.02, 0.03, 0.06, 0.04;
    # running max 0.02, 0.03, 0.06, 0.06 → original order [0.03, 0.06, 0.06, 0.02].
    assert adjust_pvalues(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH, sorted × 4/rank = 0.02, 0.02, 0.04, 0.04; running min from the top is unchanged
    # → original order [0.02, 0.04, 0.04, 0.02].
    assert adjust_pvalues(p, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])


@pytest.mark.parametrize(
    ("method", "sm_method"), [("holm", "holm"), ("bh", "fdr_bh"), ("bonferroni", "bonferroni")]
)
def test_adjust_pvalues_matches_statsmodels(
    method: Literal["holm", "bh", "bonferroni"], sm_method: str
) -> None:
    rng = np.random.default_rng(6)
    p = np.concatenate([rng.uniform(size=30), rng.uniform(0, 0.01, size=10)])
    rng.shuffle(p)
    got = adjust_pvalues(p, method)
    ref = multipletests(p, method=sm_method)[1]
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert np.all(got >= p)


# --------------------------------------------------------------------------------------------
# mSPRT: always-valid p-values and confidence sequences
# --------------------------------------------------------------------------------------------


def _cumulative_looks(
    rng: np.random.Generator, p_a: float, p_b: float, n_exp: int, looks: int, step: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s_a = rng.binomial(step, p_a, size=(n_exp, looks)).cumsum(axis=1)
    s_b = rng.binomial(step, p_b, size=(n_exp, looks)).cumsum(axis=1)
    n = np.broadcast_to(step * np.arange(1, looks + 1), (n_exp, looks))
    return s_a, s_b, n


def test_msprt_hand_worked_single_look() -> None:
    # One look, n = 1000 per arm, 100 vs 130 successes, τ² = 0.01² = 1e-4.
    # V = 0.1·0.9 + 0.13·0.87 = 0.2031 (Johari et al.'s per-pair variance), n·τ² = 0.1.
    # Λ = sqrt(0.2031/0.3031)·exp(1000²·1e-4·0.03² / (2·0.2031·0.3031))
    #   = sqrt(0.670076)·exp(0.09/0.12311922) = 0.818582·exp(0.730999)
    #   = 0.818582·2.077154 = 1.700320.
    # p = min(1, 1/Λ) = 0.588124.
    v, ntau2 = 0.2031, 0.1
    lam = math.sqrt(v / (v + ntau2)) * math.exp(1000**2 * 1e-4 * 0.03**2 / (2 * v * (v + ntau2)))
    assert lam == pytest.approx(1.700320, abs=1e-6)
    p = msprt_pvalues([100], [1000], [130], [1000], tau2=1e-4)
    assert p.shape == (1,)
    assert p[0] == pytest.approx(1 / lam, rel=1e-12)
    assert p[0] == pytest.approx(0.588124, abs=1e-6)


def test_msprt_running_minimum_and_shapes() -> None:
    rng = np.random.default_rng(12)
    s_a, s_b, n = _cumulative_looks(rng, 0.1, 0.14, n_exp=5, looks=40, step=100)
    p2d = msprt_pvalues(s_a, n, s_b, n, tau2=0.02**2)
    assert p2d.shape == (5, 40)
    assert np.all(np.diff(p2d, axis=1) <= 0)
    assert np.all((p2d > 0) & (p2d <= 1))
    # Rows are independent experiments: 2-D call equals row-by-row calls.
    for e in range(5):
        np.testing.assert_array_equal(p2d[e], msprt_pvalues(s_a[e], n[e], s_b[e], n[e], 4e-4))
    # Empty arms and degenerate variance are uninformative, and quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = msprt_pvalues([0, 0, 1], [0, 5, 10], [0, 0, 5], [0, 5, 10], tau2=0.01)
    assert p[0] == 1.0 and p[1] == 1.0 and p[2] < 1.0


def test_msprt_controls_type_one_error_under_continuous_monitoring() -> None:
    # Check after every 20 users per arm, 250 looks (5000 per arm); reject at the first p <= α.
    rng = np.random.default_rng(2017)
    n_exp, alpha = 2000, 0.05
    s_a, s_b, n = _cumulative_looks(rng, 0.1, 0.1, n_exp, looks=250, step=20)
    reject = msprt_pvalues(s_a, n, s_b, n, tau2=0.01**2)[:, -1] <= alpha
    # Guarantee: P(ever reject) <= α; allow binomial slack above α only.
    assert reject.mean() <= binom_band(n_exp, alpha)[1]
    # Same data, fixed-horizon z-test at every look: far above α (contrast with peeking test).
    p_pool = (s_a + s_b) / (2 * n)
    se0 = np.sqrt(p_pool * (1 - p_pool) * 2 / n)
    z = np.divide((s_b - s_a) / n, se0, out=np.zeros_like(se0), where=se0 > 0)
    assert np.mean(np.any(np.abs(z) >= 1.959964, axis=1)) > 3 * alpha


def test_msprt_has_power_under_alternative() -> None:
    rng = np.random.default_rng(31)
    n_exp = 500
    s_a, s_b, n = _cumulative_looks(rng, 0.10, 0.13, n_exp, looks=100, step=50)
    reject = msprt_pvalues(s_a, n, s_b, n, tau2=0.02**2)[:, -1] <= 0.05
    assert reject.mean() > 0.8


def test_always_valid_ci_dual_to_pvalues_and_covers_uniformly() -> None:
    rng = np.random.default_rng(44)
    n_exp, alpha, true_diff = 1000, 0.05, 0.02
    s_a, s_b, n = _cumulative_looks(rng, 0.10, 0.10 + true_diff, n_exp, looks=100, step=50)
    cs = always_valid_ci(s_a, n, s_b, n, tau2=0.02**2, alpha=alpha)
    p = msprt_pvalues(s_a, n, s_b, n, tau2=0.02**2)
    # Duality: 0 outside the interval at look n  ⇔  p_n <= α.
    excludes_zero = ~((cs.lower <= 0.0) & (cs.upper >= 0.0))
    np.testing.assert_array_equal(excludes_zero, p <= alpha)
    # Nested intervals, estimate inside.
    assert np.all(np.diff(cs.lower, axis=1) >= 0) and np.all(np.diff(cs.upper, axis=1) <= 0)
    ok = ~np.isnan(cs.lower)
    assert np.all(cs.lower[ok] <= cs.estimate[ok] + 0.05)
    # Time-uniform coverage: the truth is inside at *every* look in >= 1 − α of experiments.
    covered_always = np.all((cs.lower <= true_diff) & (true_diff <= cs.upper), axis=1)
    assert covered_always.mean() >= binom_band(n_exp, 1 - alpha)[0]
    # And the per-look intervals are wider than fixed-horizon Wald intervals at the last look.
    last = two_proportion_ztest(s_a[0, -1], n[0, -1], s_b[0, -1], n[0, -1]).difference_ci
    assert cs.upper[0, -1] - cs.lower[0, -1] > last[1] - last[0]


# --------------------------------------------------------------------------------------------
# O'Brien–Fleming-type group-sequential bounds
# --------------------------------------------------------------------------------------------


def test_obf_single_look_is_fixed_horizon() -> None:
    b = obrien_fleming_bounds(1, alpha=0.05)
    assert b.z_bounds == pytest.approx((stats.norm.ppf(0.975),), rel=1e-12)
    assert b.cumulative_alpha == pytest.approx((0.05,))


@pytest.mark.parametrize(
    ("n_looks", "published"),
    [
        (3, (3.7103, 2.5114, 1.9930)),
        (4, (4.3326, 2.9631, 2.3590, 2.0141)),
        (5, (4.8769, 3.3570, 2.6803, 2.2898, 2.0310)),
    ],
)
def test_obf_per_side_matches_published_tables(n_looks: int, published: tuple[float, ...]) -> None:
    # Symmetric two-sided Lan–DeMets O'Brien–Fleming design, 0.025 per side, equally spaced:
    # the bounds tabulated by gsDesign (sfLDOF) / rpact ("asOF") / Jennison & Turnbull.
    b = obrien_fleming_bounds(n_looks, alpha=0.05, per_side=True)
    assert b.z_bounds == pytest.approx(published, abs=1e-4)


def test_obf_first_bound_and_spending() -> None:
    b = obrien_fleming_bounds(5, alpha=0.05)
    # Look 1 spends 2 − 2Φ(1.959964/√0.2) = 2 − 2Φ(4.382613) = 1.1726e-5 → c_1 = 4.382613.
    assert b.z_bounds[0] == pytest.approx(stats.norm.ppf(0.975) / math.sqrt(0.2), rel=1e-12)
    assert b.cumulative_alpha[0] == pytest.approx(1.1726e-5, rel=1e-3)
    assert b.cumulative_alpha[-1] == pytest.approx(0.05, rel=1e-12)
    assert b.info_fractions == pytest.approx((0.2, 0.4, 0.6, 0.8, 1.0))
    # Final nominal level below α (some α was spent early) but not by much for OBF.
    assert 0.035 < b.nominal_alpha[-1] < 0.05


@pytest.mark.parametrize("n_looks", [2, 4, 10])
def test_obf_bounds_decrease(n_looks: int) -> None:
    for per_side in (False, True):
        z = np.array(obrien_fleming_bounds(n_looks, alpha=0.05, per_side=per_side).z_bounds)
        assert np.all(np.diff(z) < 0)
        assert z[-1] > stats.norm.ppf(0.975)


def test_obf_exact_crossing_probability_against_multivariate_normal() -> None:
    t = np.array([0.3, 0.7, 1.0])
    b = obrien_fleming_bounds(3, alpha=0.05, info_fractions=t)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    c = np.array(b.z_bounds)
    mvn = stats.multivariate_normal(mean=np.zeros(3), cov=cov, seed=np.random.default_rng(0))
    stay = mvn.cdf(c, lower_limit=-c)
    assert 1 - stay == pytest.approx(0.05, abs=2e-4)


@pytest.mark.parametrize(
    ("n_looks", "info_fractions", "per_side"),
    [(5, None, False), (5, None, True), (4, [0.1, 0.25, 0.6, 1.0], False)],
)
def test_obf_monte_carlo_crossing_probability_is_alpha(
    n_looks: int, info_fractions: list[float] | None, per_side: bool
) -> None:
    alpha, n_paths = 0.05, 400_000
    b = obrien_fleming_bounds(
        n_looks, alpha=alpha, info_fractions=info_fractions, per_side=per_side
    )
    t = np.array(b.info_fractions)
    rng = np.random.default_rng(1983)
    # Brownian motion at the looks: S_k = Σ increments ~ N(0, Δt); Z_k = S_k / √t_k.
    increments = rng.standard_normal((n_paths, n_looks)) * np.sqrt(np.diff(t, prepend=0.0))
    z = increments.cumsum(axis=1) / np.sqrt(t)
    crossed = np.any(np.abs(z) >= np.array(b.z_bounds), axis=1)
    lo, hi = binom_band(n_paths, alpha)  # ±0.0009
    assert lo <= crossed.mean() <= hi
    # Crossing by each look tracks the spending function.
    first_cross = np.cumsum(np.abs(z) >= np.array(b.z_bounds), axis=1) > 0
    np.testing.assert_allclose(first_cross.mean(axis=0), b.cumulative_alpha, atol=1.2e-3)


@pytest.mark.parametrize(("n_looks", "c_b"), [(2, 1.977), (3, 2.004), (4, 2.024), (5, 2.040)])
def test_classical_obf_constants_match_jennison_turnbull(n_looks: int, c_b: float) -> None:
    # Jennison & Turnbull (2000), Table 2.3: C_B(K, α = 0.05), equal spacing, c_k = C_B√(K/k).
    b = group_sequential_bounds(n_looks, 0.05, kind="obf_classical")
    k = np.arange(1, n_looks + 1)
    np.testing.assert_allclose(b.z_bounds, c_b * np.sqrt(n_looks / k), atol=5e-4 * np.sqrt(n_looks))
    assert b.z_bounds[-1] == pytest.approx(c_b, abs=5e-4)
    assert b.cumulative_alpha[-1] == pytest.approx(0.05, abs=1e-9)


def test_classical_obf_matches_gsdesign_unit_test() -> None:
    # gsDesign's own check (inst/unitTests/runit.output.R, "test.Deming.OFbound"):
    # gsDesign(k=4, test.type=2, sfu="OF") gives bounds 4.05, 2.86, 2.34, 2.02 (2 decimals).
    b = group_sequential_bounds(4, 0.05, kind="obf_classical")
    assert np.round(b.z_bounds, 2).tolist() == [4.05, 2.86, 2.34, 2.02]


@pytest.mark.parametrize("kind", ["obf_per_side", "obf_two_sided", "pocock_spending",
                                  "obf_classical"])  # fmt: skip
def test_every_convention_spends_as_declared_against_multivariate_normal(kind: Any) -> None:
    # Independent reference: scipy's multivariate normal CDF (Genz) of staying inside the
    # bounds up to each look, corr(Z_i, Z_j) = √(t_i/t_j); its error is ~1e-5 here.
    t = np.array([0.2, 0.5, 0.8, 1.0])
    b = group_sequential_bounds(4, 0.05, t, kind=kind)
    c = np.array(b.z_bounds)
    for look in range(1, 5):
        tt = t[:look]
        cov = np.sqrt(np.minimum.outer(tt, tt) / np.maximum.outer(tt, tt))
        mvn = stats.multivariate_normal(np.zeros(look), cov, seed=np.random.default_rng(7))
        crossed = 1.0 - mvn.cdf(c[:look], lower_limit=-c[:look])
        assert crossed == pytest.approx(b.cumulative_alpha[look - 1], abs=5e-5), look
    if kind == "pocock_spending":
        assert b.cumulative_alpha[0] == pytest.approx(0.05 * math.log1p((math.e - 1) * 0.2))
    assert b.kind == kind


def test_pocock_spending_bounds_are_nearly_flat_and_obf_default_is_per_side() -> None:
    b = group_sequential_bounds(5, 0.05, kind="pocock_spending")
    assert np.all(np.diff(b.z_bounds) < 0) and b.z_bounds[0] - b.z_bounds[-1] < 0.06
    assert group_sequential_bounds(5).z_bounds[0] == pytest.approx(4.8769, abs=1e-4)


# --------------------------------------------------------------------------------------------
# Bayesian comparison
# --------------------------------------------------------------------------------------------


def test_prob_b_beats_a_hand_worked() -> None:
    # Uniform prior; A: 0/1 → Beta(1, 2), density 2(1−x); B: 1/1 → Beta(2, 1), density 2y.
    # P(B > A) = ∫ 2y·F_A(y) dy = ∫ 2y(2y − y²) dy = 4/3 − 1/2 = 5/6.
    # E[(A − B)⁺] = ∫_0^1 ∫_0^x (x − y)·4y(1 − x) dy dx = ∫ (2/3)(x³ − x⁴) dx = 1/30.
    # E[(B − A)⁺] = 1/30 + E[B] − E[A] = 1/30 + 2/3 − 1/3 = 11/30.
    r = prob_b_beats_a(0, 1, 1, 1)
    assert r.prob_b_beats_a == pytest.approx(5 / 6, rel=1e-12)
    assert r.expected_loss_b == pytest.approx(1 / 30, rel=1e-10)
    assert r.expected_loss_a == pytest.approx(11 / 30, rel=1e-10)
    assert r.posterior_a == (1.0, 2.0) and r.posterior_b == (2.0, 1.0)


def test_prob_b_beats_a_symmetry() -> None:
    r = prob_b_beats_a(120, 1000, 120, 1000)
    assert r.prob_b_beats_a == pytest.approx(0.5, abs=1e-12)
    assert r.expected_loss_a == pytest.approx(r.expected_loss_b, rel=1e-9)
    fwd = prob_b_beats_a(100, 1000, 130, 1000).prob_b_beats_a
    rev = prob_b_beats_a(130, 1000, 100, 1000).prob_b_beats_a
    assert fwd + rev == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    ("counts", "prior"),
    [
        ((100, 1000, 130, 1000), (1.0, 1.0)),
        ((7, 40, 3, 35), (0.5, 0.5)),
        ((3, 10, 4, 12), (2.5, 1)),
    ],
)
def test_prob_b_beats_a_exact_matches_monte_carlo(
    counts: tuple[int, int, int, int], prior: tuple[float, float]
) -> None:
    s_a, n_a, s_b, n_b = counts
    exact = prob_b_beats_a(s_a, n_a, s_b, n_b, prior=prior)
    mc = prob_b_beats_a(
        s_a, n_a, s_b, n_b, prior=prior, method="mc", rng=np.random.default_rng(8), n_draws=400_000
    )
    se = 0.5 / math.sqrt(400_000)
    assert mc.prob_b_beats_a == pytest.approx(exact.prob_b_beats_a, abs=5 * se)
    assert mc.expected_loss_a == pytest.approx(exact.expected_loss_a, abs=5 * se)
    assert mc.expected_loss_b == pytest.approx(exact.expected_loss_b, abs=5 * se)


def test_closed_form_sum_and_quadrature_agree() -> None:
    for params in [(11, 91, 9, 95), (131, 871, 101, 901), (3, 2, 5, 7), (1, 1, 1, 1)]:
        s = bayes._prob_x_greater_sum(*params)
        q = bayes._prob_x_greater_quad(*params)
        assert s == pytest.approx(q, abs=1e-9)


def test_prob_b_beats_a_large_counts_matches_normal_approximation() -> None:
    r = prob_b_beats_a(10000, 100000, 10250, 100000)
    a_a, b_a = r.posterior_a
    a_b, b_b = r.posterior_b
    mean = a_b / (a_b + b_b) - a_a / (a_a + b_a)
    var = stats.beta.var(a_a, b_a) + stats.beta.var(a_b, b_b)
    assert r.prob_b_beats_a == pytest.approx(stats.norm.cdf(mean / math.sqrt(var)), abs=2e-3)
    assert 0 < r.expected_loss_b < r.expected_loss_a


def test_prob_b_beats_a_mc_uses_only_the_given_generator() -> None:
    r1 = prob_b_beats_a(10, 100, 15, 100, method="mc", rng=np.random.default_rng(5), n_draws=1000)
    r2 = prob_b_beats_a(10, 100, 15, 100, method="mc", rng=np.random.default_rng(5), n_draws=1000)
    assert r1 == r2
    with pytest.raises(ValueError, match="rng"):
        prob_b_beats_a(10, 100, 15, 100, method="mc")


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: two_proportion_ztest(-1, 100, 5, 100), "successes_a"),
        (lambda: two_proportion_ztest(5, 100, 101, 100), r"successes_b.*\[0, n_b=100\]"),
        (lambda: two_proportion_ztest(5, 0, 5, 100), r"n_a.*\[1, inf\)"),
        (lambda: two_proportion_ztest(5.5, 100, 5, 100), "successes_a"),
        (lambda: two_proportion_ztest(float("nan"), 100, 5, 100), "successes_a"),
        (lambda: two_proportion_ztest(5, 100, 5, 100, alpha=1.0), r"alpha.*\(0, 1\)"),
        (lambda: two_proportion_ztest(5, 100, 5, 100, alpha=float("nan")), "alpha"),
        (lambda: two_proportion_ztest(5, 100, 5, 100, alternative=_bad("bigger")), "alternative"),
        (lambda: welch_ttest([1.0, np.nan, 2.0], [1.0, 2.0]), "x_a"),
        (lambda: welch_ttest([1.0, 2.0], [1.0]), "x_b"),
        (lambda: welch_ttest([1.0, 2.0], [1.0, 3.0], alpha=0), "alpha"),
        (lambda: sample_size_two_proportions(0.1), "mde_abs and lift"),
        (lambda: sample_size_two_proportions(0.1, 0.01, lift=0.1), "mde_abs and lift"),
        (lambda: sample_size_two_proportions(1.2, 0.01), r"p_base.*\(0, 1\)"),
        (lambda: sample_size_two_proportions(0.1, 0.95), "mde_abs"),
        (lambda: sample_size_two_proportions(0.1, -0.01, alternative="larger"), "larger"),
        (lambda: sample_size_two_proportions(0.1, 0.01, power=0.01), "power"),
        (lambda: sample_size_two_proportions(0.1, 0.01, ratio=0), r"ratio.*\(0, inf\)"),
        (lambda: power_two_proportions(0.1, float("nan"), 100), "p_b"),
        (lambda: power_two_proportions(0.1, 0.2, -5), "n_per_group"),
        (lambda: srm_check([100, -1], [0.5, 0.5]), "observed_counts"),
        (lambda: srm_check([100, 100], [0.6, 0.6]), "sum to 1"),
        (lambda: srm_check([100, 100], [0.5, 0.5], alpha=2), "alpha"),
        (lambda: cuped([1.0, 2.0, 3.0], [1.0, 2.0]), "same length"),
        (lambda: cuped_ttest([1.0, 2.0], [np.inf, 1.0], [1.0, 2.0], [1.0, 2.0]), "x_a"),
        (lambda: adjust_pvalues([0.1, 1.2]), r"\[0, 1\]"),
        (lambda: adjust_pvalues([0.1, 0.2], method=_bad("fdr")), "method"),
        (lambda: msprt_pvalues([1, 0], [10, 20], [1, 2], [10, 20], 0.01), "successes_a"),
        (lambda: msprt_pvalues([1, 2], [10, 20], [11, 12], [10, 20], 0.01), "successes_b"),
        (lambda: msprt_pvalues([1, 2], [10, 20], [1, 2], [10, 20], 0.0), "tau2"),
        (lambda: always_valid_ci([1, 2], [10, 20], [1, 2], [10, 20], 0.01, alpha=-1), "alpha"),
        (lambda: obrien_fleming_bounds(0), "n_looks"),
        (lambda: obrien_fleming_bounds(3, alpha=0.0), "alpha"),
        (lambda: obrien_fleming_bounds(2, info_fractions=[0.5, 0.9]), "info_fractions"),
        (lambda: prob_b_beats_a(5, 4, 1, 10), "successes_a"),
        (lambda: prob_b_beats_a(1, 10, 1, 10, prior=(0.0, 1.0)), r"prior\[0\]"),
        (lambda: prob_b_beats_a(1, 10, 1, 10, method=_bad("sampling")), "method"),
    ],
)
def test_invalid_inputs_raise_value_error(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
