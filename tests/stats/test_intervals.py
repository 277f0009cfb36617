"""Intervals inside a metric's range: hand-worked cases, independent references (statsmodels,
scipy) and seeded Monte-Carlo coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from recarena.stats.intervals import (
    clopper_pearson_interval,
    interval_method,
    range_interval,
    wilson_interval,
)

Z = stats.norm.ppf(0.975)


@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
@pytest.mark.parametrize(("x", "n"), [(0, 20), (1, 20), (7, 10), (10, 10), (3, 1000), (480, 1000)])
def test_wilson_and_clopper_pearson_match_statsmodels_and_scipy(
    x: int, n: int, level: float
) -> None:
    low, high = wilson_interval(x / n, n, level)
    assert (low, high) == pytest.approx(proportion_confint(x, n, 1 - level, "wilson"), abs=1e-9)
    sp = stats.binomtest(x, n).proportion_ci(level, method="wilson")
    assert (low, high) == pytest.approx((sp.low, sp.high), abs=1e-9)
    low, high = clopper_pearson_interval(x, n, level)
    assert (low, high) == pytest.approx(proportion_confint(x, n, 1 - level, "beta"), abs=1e-9)
    sp = stats.binomtest(x, n).proportion_ci(level, method="exact")
    assert (low, high) == pytest.approx((sp.low, sp.high), abs=1e-9)


def test_wilson_hand_worked() -> None:
    # 0 of 20: upper bound z²/(n + z²) = 3.8415 / 23.8415
    low, high = wilson_interval(0.0, 20)
    assert low == 0.0 and high == pytest.approx(Z**2 / (20 + Z**2), rel=1e-12)
    # 5 of 10: centre 0.5, half z·√(0.025 + z²/400)/(1 + z²/10)
    low, high = wilson_interval(0.5, 10)
    half = Z * math.sqrt(0.025 + Z**2 / 400) / (1 + Z**2 / 10)
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half), rel=1e-12)
    assert np.isnan(clopper_pearson_interval(0, 0)[0])


def test_korn_graubard_wilson_of_the_issue_example() -> None:
    # Two seeds with CTR 0.357 and 0.615: the t-interval is 0.486 ± 1.639, outside [0, 1].
    x = np.array([0.357, 0.615])
    mean, se = x.mean(), x.std(ddof=1) / math.sqrt(2)
    t_low, t_high = range_interval(mean, se, 1)
    assert t_low < 0 and t_high > 1
    low, high = range_interval(mean, se, 1, bounds=(0.0, 1.0))
    # by hand: n_eff = p(1-p)/se², n* = n_eff (z / t_{0.975,1})², Wilson at n*
    n_star = mean * (1 - mean) / se**2 * (Z / stats.t.ppf(0.975, 1)) ** 2
    expected = proportion_confint(mean * n_star, n_star, 0.05, "wilson")
    assert (low, high) == pytest.approx(expected, abs=1e-12)
    assert 0 < low < mean < high < 1


def test_korn_graubard_is_the_t_interval_far_from_the_bounds() -> None:
    low, high = range_interval(0.4, 1e-4, 4, bounds=(0.0, 1.0))
    half = stats.t.ppf(0.975, 4) * 1e-4
    assert (low, high) == pytest.approx((0.4 - half, 0.4 + half), abs=1e-7)


def test_trials_cap_the_effective_size_and_set_it_without_spread() -> None:
    t2 = stats.t.ppf(0.975, 2)
    # every seed clicked nothing in 3 × 1,000 decisions: Wilson at n* = 3000 (z/t)²
    low, high = range_interval(0.0, 0.0, 2, bounds=(0.0, 1.0), trials=3000)
    assert low == 0.0 and high == pytest.approx(
        wilson_interval(0.0, 3000 * (Z / t2) ** 2)[1], rel=1e-12
    )
    # spread smaller than binomial (design effect < 1) is not believed: n_eff = trials
    capped = range_interval(0.1, 1e-5, 2, bounds=(0.0, 1.0), trials=3000)
    assert capped == pytest.approx(wilson_interval(0.1, 3000 * (Z / t2) ** 2), rel=1e-12)
    # without trials a zero spread is a zero-width interval, as the t-interval's
    assert range_interval(0.3, 0.0, 2, bounds=(0.0, 1.0)) == (0.3, 0.3)
    with pytest.raises(ValueError, match="trials"):
        range_interval(3.0, 1.0, 2, bounds=(0.0, math.inf), trials=10)


def test_log_scale_interval_hand_worked_on_either_side() -> None:
    t2 = stats.t.ppf(0.975, 2)
    se = 1 / math.sqrt(3)
    low, high = range_interval(2.0, se, 2, bounds=(0.0, math.inf))
    assert (low, high) == pytest.approx((2 * math.exp(-t2 * se / 2), 2 * math.exp(t2 * se / 2)))
    low, high = range_interval(8.0, se, 2, bounds=(-math.inf, 10.0))  # 2 below the bound
    assert (low, high) == pytest.approx((10 - 2 * math.exp(t2 * se / 2),
                                         10 - 2 * math.exp(-t2 * se / 2)))  # fmt: skip
    assert range_interval(0.0, 0.0, 2, bounds=(0.0, math.inf)) == (0.0, 0.0)
    assert all(np.isnan(range_interval(1.0, math.nan, 0, bounds=(0.0, math.inf))))


def test_intervals_stay_inside_their_range_and_contain_the_mean() -> None:
    rng = np.random.default_rng(3)
    for bounds in [(0.0, 1.0), (0.0, math.inf), (-1.0, 1.0)]:
        k = rng.integers(2, 6, 500)
        high_end = 1.0 if math.isfinite(bounds[1]) else 50.0
        mean = rng.uniform(bounds[0], high_end, 500)
        se = rng.exponential(0.3, 500)
        low, high = range_interval(mean, se, k - 1, bounds=bounds)
        assert np.all((bounds[0] <= low) & (low <= mean) & (mean <= high) & (high <= bounds[1]))
    # A rate of 0 (or 1) with no spread: the interval starts (ends) exactly at the rate,
    # not a rounding error inside it (a negative error bar in the report's plots).
    low, high = range_interval([0.0, 1.0], [0.0, 0.0], [2, 2], bounds=(0.0, 1.0), trials=40)
    assert low[0] == 0.0 and high[1] == 1.0 and high[0] > 0.0 and low[1] < 1.0
    assert [interval_method(b) for b in (None, (0.0, math.inf), (0.0, 1.0))] == [
        "t", "log_t", "wilson_kg"
    ]  # fmt: skip


def _coverage(values: np.ndarray, truth: float, **kw: object) -> float:
    k = values.shape[1]
    mean, se = values.mean(axis=1), values.std(axis=1, ddof=1) / math.sqrt(k)
    low, high = range_interval(mean, se, k - 1, **kw)  # type: ignore[arg-type]
    return float(np.mean((low <= truth) & (truth <= high)))


REPS = 4000
MC_SE = math.sqrt(0.95 * 0.05 / REPS)  # 0.0034: coverage must be within 3 MC_SE = 0.010


def test_korn_graubard_wilson_coverage_on_clustered_counts() -> None:
    """3 seeds × 2,000 decisions; each seed's CTR ~ Beta (world-to-world variation, a design
    effect of about 100), clicks Binomial given it. Seed 20261206, 4,000 replications."""
    rng = np.random.default_rng(20261206)
    k, n = 3, 2000
    p = rng.beta(6.0, 14.0, (REPS, k))  # mean 0.3
    rates = rng.binomial(n, p) / n
    assert abs(_coverage(rates, 0.3, bounds=(0.0, 1.0), trials=k * n) - 0.95) < 3 * MC_SE
    # a rare event, CTR 0.005: the t-interval undercovers, Wilson–Korn–Graubard does not
    p = rng.beta(0.5, 99.5, (REPS, k))
    rates = rng.binomial(300, p) / 300
    assert _coverage(rates, 0.005) < 0.92
    assert _coverage(rates, 0.005, bounds=(0.0, 1.0), trials=k * 300) > 0.95 - 3 * MC_SE


def test_log_scale_coverage_on_skewed_positive_values() -> None:
    """3 seeds of a Gamma(5, 1) value (e.g. clicks per starting user across worlds): the
    log-scale interval covers the mean 5 at 95% within Monte-Carlo error. Seed 7."""
    rng = np.random.default_rng(7)
    values = rng.gamma(5.0, 1.0, (REPS, 3))
    assert abs(_coverage(values, 5.0, bounds=(0.0, math.inf)) - 0.95) < 3 * MC_SE
