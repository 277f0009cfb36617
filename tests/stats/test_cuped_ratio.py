"""CUPED for per-user ratio metrics (delta method): references, and seeded A/A and A/B
simulations sized for their thresholds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from recarena.stats import cuped_ratio_test, cuped_ttest
from recarena.stats.ratio import delta_method_ratio, unit_moments


def test_one_trial_per_user_is_the_unit_level_cuped_test() -> None:
    """With one trial per user in both periods and equal groups, the ratio test is
    :func:`cuped_ttest` on the 0/1 outcomes: same θ, estimate and standard error."""
    rng = np.random.default_rng(5)
    n = 3000
    p = rng.beta(1.0, 4.0, (2, n))
    x = (rng.random((2, n)) < p).astype(float)
    y = (rng.random((2, n)) < p).astype(float)
    ones = np.ones(n)
    r = cuped_ratio_test((y[0], ones, x[0], ones), (y[1], ones, x[1], ones))
    ref = cuped_ttest(y[0], x[0], y[1], x[1])
    assert r.theta == pytest.approx(ref.theta, rel=1e-10)
    assert r.estimate == pytest.approx(ref.adjusted.difference, rel=1e-10)
    assert r.se == pytest.approx(ref.adjusted.se, rel=1e-10)
    assert r.se_unadjusted == pytest.approx(ref.unadjusted.se, rel=1e-10)
    assert r.variance_reduction == pytest.approx(ref.variance_reduction, rel=1e-9)
    assert r.variance_reduction == pytest.approx(r.rho**2, rel=1e-12)


def test_unadjusted_part_is_the_delta_method_of_the_ratio_module() -> None:
    rng = np.random.default_rng(6)
    sessions = rng.poisson(3.0, (2, 500)).astype(float)
    clicks = rng.binomial(sessions.astype(int), 0.1).astype(float)
    pre = rng.poisson(2.0, (2, 500)).astype(float)
    pre_clicks = rng.binomial(pre.astype(int), 0.1).astype(float)
    r = cuped_ratio_test((clicks[0], sessions[0], pre_clicks[0], pre[0]),
                         (clicks[1], sessions[1], pre_clicks[1], pre[1]))  # fmt: skip
    group = np.repeat([0, 1], 500)
    ratio, variance = delta_method_ratio(unit_moments(clicks.ravel(), sessions.ravel(), group, 2))
    assert r.estimate_unadjusted == pytest.approx(ratio[1] - ratio[0], rel=1e-12)
    assert r.se_unadjusted == pytest.approx(math.sqrt(variance.sum()), rel=1e-12)
    assert r.units_a == int((sessions[0] > 0).sum())  # users without test trials are dropped
    # the adjusted estimate is raw − θ·(difference of pre-period ratios)
    # only users with test trials enter the pre-period ratios
    seen = sessions > 0
    pre_ratio = [(pre_clicks[g][seen[g]]).sum() / pre[g][seen[g]].sum() for g in (0, 1)]
    shift = r.theta * (pre_ratio[1] - pre_ratio[0])
    assert r.estimate == pytest.approx(r.estimate_unadjusted - shift, rel=1e-10)


def _experiment(
    rng: np.random.Generator, users: int, effect: float
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """Per-user click rates ~ Beta(0.5, 9.5) (mean 0.05, users differ a lot), Poisson(8)
    pre-period and Poisson(10) test sessions (ρ² ≈ 0.2); the treatment adds ``effect`` to
    every rate in the test period only."""
    groups = []
    for add in (0.0, effect):
        p = rng.beta(0.5, 9.5, users)
        m = rng.poisson(8.0, users)
        n = rng.poisson(10.0, users)
        x = rng.binomial(m, p)
        y = rng.binomial(n, np.minimum(p + add, 1.0))
        groups.append(tuple(v.astype(np.float64) for v in (y, n, x, m)))
    return groups[0], groups[1]


def test_aa_with_heterogeneity_reduces_variance_and_keeps_the_false_positive_rate() -> None:
    """2,000 seeded A/A experiments of 2 × 400 users: CUPED removes variance in every one
    and rejects at α = 0.05 within the 99.9% binomial band [0.034, 0.068]."""
    rng = np.random.default_rng(20261206)
    reps = 2000
    results = [cuped_ratio_test(*_experiment(rng, 400, 0.0)) for _ in range(reps)]
    reduction = np.array([r.variance_reduction for r in results])
    assert (reduction >= 0).all() and reduction.mean() > 0.15
    low, high = (v / reps for v in stats.binom.interval(0.999, reps, 0.05))
    for p_values in ([r.p_value for r in results], [r.p_value_unadjusted for r in results]):
        assert low <= np.mean(np.asarray(p_values) <= 0.05) <= high


def test_ab_estimate_is_unbiased_and_its_interval_covers() -> None:
    """2,000 seeded A/B experiments with a true effect of +0.02 on every user's rate (so on
    the ratio): the CUPED estimate's mean is within 4 Monte-Carlo SE of 0.02, its 95%
    interval covers within the 99.9% band, and the spread of the estimates over experiments
    shrinks by the variance reduction the test reports."""
    rng = np.random.default_rng(11)
    reps, effect = 2000, 0.02
    results = [cuped_ratio_test(*_experiment(rng, 400, effect)) for _ in range(reps)]
    estimate = np.array([r.estimate for r in results])
    raw = np.array([r.estimate_unadjusted for r in results])
    assert abs(estimate.mean() - effect) < 4 * estimate.std(ddof=1) / math.sqrt(reps)
    covered = np.mean([r.ci_low <= effect <= r.ci_high for r in results])
    assert stats.binom.interval(0.999, reps, 0.95)[0] / reps <= covered
    observed = 1 - estimate.var(ddof=1) / raw.var(ddof=1)
    reported = float(np.mean([r.variance_reduction for r in results]))
    assert observed > 0.1 and abs(observed - reported) < 0.06


def test_bad_input_names_the_group() -> None:
    ok = (np.ones(3), np.ones(3), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="b: y, n, x and m"):
        cuped_ratio_test(ok, (np.ones(3), np.ones(2), np.ones(3), np.ones(3)))
    with pytest.raises(ValueError, match="a: counts"):
        cuped_ratio_test((-np.ones(3), np.ones(3), np.ones(3), np.ones(3)), ok)
    with pytest.raises(ValueError, match="at least 2 users"):
        cuped_ratio_test(ok, (np.ones(3), np.array([0.0, 0.0, 1.0]), np.ones(3), np.ones(3)))
