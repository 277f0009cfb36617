"""Behaviour mechanisms against their formulas: closed forms and seeded Monte-Carlo checks.

Every Monte-Carlo check draws its uniforms the way the engine does (counter-based keys from
:func:`recarena.numerics.counter_rng.uniform`), so it also tests that those keyed draws drive each
mechanism to the distribution its formula states. Thresholds are 4–5 standard errors for
the sample size; the seeds are fixed, so the checks are deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from recarena.numerics.counter_rng import Purpose, uniform
from recarena.simulator import behaviour as bh

SEED = 98765
N = 200_000


def _within(observed: np.ndarray, expected: np.ndarray, n: int, z: float = 4.5) -> None:
    """Every observed share lies within ``z`` binomial standard errors of its expectation."""
    se = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(observed - expected) <= z * se + 1e-12), (observed, expected, se)


# ---------------------------------------------------------------- closed forms
def test_sigmoid_matches_formula_and_does_not_overflow() -> None:
    x = np.array([-800.0, -30.0, -1.0, 0.0, 2.0, 40.0, 800.0])
    s = bh.sigmoid(x)
    np.testing.assert_allclose(s[1:-1], 1.0 / (1.0 + np.exp(-x[1:-1])), rtol=1e-12)
    assert s[0] == 0.0 and s[-1] == 1.0
    np.testing.assert_allclose(bh.sigmoid(-x) + s, 1.0, atol=1e-15)


def test_examination_weights() -> None:
    np.testing.assert_allclose(bh.examination_weights(4, "log"), 1 / np.log2([2, 3, 4, 5]))
    np.testing.assert_allclose(bh.examination_weights(3, "power", 2.0), [1, 1 / 4, 1 / 9])
    np.testing.assert_array_equal(bh.examination_weights(3, "none"), [1, 1, 1])
    with pytest.raises(ValueError, match="position_bias"):
        bh.examination_weights(3, "exp")


def test_utilities_formula_and_shapes() -> None:
    rng = np.random.default_rng(1)
    b, m, d = 4, 6, 5
    theta = rng.normal(size=(b, d)).astype(np.float32)
    phi = rng.normal(size=(m, d)).astype(np.float32)
    pop, log_p, rho = rng.normal(size=m), rng.normal(size=m), rng.uniform(0, 1, b)
    fatigue = np.zeros((b, m))
    fatigue[1, 2] = 1.5
    u = bh.utilities(theta, phi, pop, log_p, rho, 2.0, fatigue)
    expected = (
        2.0 / np.sqrt(d) * theta.astype(float) @ phi.astype(float).T
        + pop
        - rho[:, None] * log_p
        - fatigue
    )
    np.testing.assert_allclose(u, expected, rtol=1e-5, atol=1e-5)


def test_mnl_probabilities_match_formula() -> None:
    u = np.array([[0.5, 2.0, -1.0, 1.0], [3.0, 3.0, 3.0, 3.0]])
    e = bh.examination_weights(4, "log")
    t, u0 = 0.7, 1.5
    p = bh.mnl_click_probabilities(u, e, t, u0)
    w = e * np.exp(u / t)
    np.testing.assert_allclose(p, w / (np.exp(u0 / t) + w.sum(axis=1, keepdims=True)))
    assert (p.sum(axis=1) < 1).all()
    # Max-shift keeps huge utilities finite; the no-choice option then vanishes.
    big = bh.mnl_click_probabilities(np.array([[900.0, 0.0]]), np.ones(2), 1.0, 0.0)
    np.testing.assert_allclose(big, [[1.0, 0.0]], atol=1e-12)


def test_cascade_probabilities_match_formula() -> None:
    u = np.array([[1.0, -0.5, 2.0]])
    e = bh.examination_weights(3, "power", 1.0)
    t, u0 = 1.3, 0.4
    p = bh.cascade_click_probability(u, e, t, u0)
    c = 1 / (1 + np.exp(-(u[0] - u0) / t)) * e / e[0]
    expected = [c[0], (1 - c[0]) * c[1], (1 - c[0]) * (1 - c[1]) * c[2]]
    np.testing.assert_allclose(p[0], expected)


def test_conversion_satisfaction_and_churn_formulas() -> None:
    u = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(
        bh.conversion_probability(u, -1.0, 0.5), 1 / (1 + np.exp(-(-1.0 + 0.5 * u)))
    )
    s = np.array([0.0, 0.4, -0.2])
    np.testing.assert_allclose(
        bh.update_satisfaction(s, np.array([0.5, 0.1, 0.9]), 0.1, 0.2),
        0.9 * s + 0.1 * (np.array([0.5, 0.1, 0.9]) - 0.2),
    )
    p = bh.churn_probability(0.05, 2.0, s, 0.5, np.array([1.0, 0.5, 2.0]))
    hazard = 0.05 * np.exp(-2.0 * s) * np.array([1.0, 0.5, 2.0])
    np.testing.assert_allclose(p, 1 - np.exp(-hazard * 0.5))


# ---------------------------------------------------------------- Monte Carlo
@pytest.mark.parametrize(("temperature", "u0", "bias"), [(1.0, 2.0, "log"), (0.5, 0.5, "none")])
def test_mnl_choice_shares_match_probabilities(temperature: float, u0: float, bias: str) -> None:
    k = 5
    u_row = np.array([1.5, 0.2, 2.5, -0.5, 1.0])
    probs = bh.mnl_click_probabilities(
        u_row[None, :], bh.examination_weights(k, bias), temperature, u0
    )
    draws = uniform(SEED, np.arange(N), 0, 0, Purpose.CHOICE)
    slots = bh.mnl_choice(np.repeat(probs, N, axis=0), draws)
    shares = np.bincount(slots + 1, minlength=k + 1) / N  # index 0 = no click
    expected = np.concatenate([[1 - probs.sum()], probs[0]])
    _within(shares, expected, N)
    counts = np.bincount(slots + 1, minlength=k + 1)
    assert stats.chisquare(counts, expected * N).pvalue > 1e-4


def test_mnl_choice_per_row_probabilities() -> None:
    """Heterogeneous rows: the realised click share of each row type matches its P(click)."""
    rng = np.random.default_rng(3)
    u = rng.normal(0, 1.5, (8, 4))
    probs = bh.mnl_click_probabilities(u, bh.examination_weights(4), 1.0, 1.0)
    reps = 20_000
    rows = np.repeat(np.arange(8), reps)
    draws = uniform(SEED, rows, np.tile(np.arange(reps), 8), 0, Purpose.CHOICE)
    slots = bh.mnl_choice(probs[rows], draws).reshape(8, reps)
    for r in range(8):
        shares = np.array([(slots[r] == j).mean() for j in range(4)])
        _within(shares, probs[r], reps)


@pytest.mark.parametrize(("bias", "u0"), [("log", 1.0), ("power", 0.0)])
def test_cascade_choice_matches_click_probability(bias: str, u0: float) -> None:
    k = 6
    u_row = np.array([0.5, 1.5, -0.5, 2.0, 0.0, 1.0])
    e = bh.examination_weights(k, bias, 1.5)
    probs = bh.cascade_click_probability(u_row[None, :], e, 1.0, u0)[0]
    draws = uniform(
        SEED, np.arange(N)[:, None], 0, np.arange(k)[None, :], Purpose.CASCADE
    )  # one uniform per (session, slot), as in the engine
    slots = bh.cascade_choice(np.repeat(u_row[None, :], N, axis=0), e, 1.0, u0, draws)
    shares = np.bincount(slots + 1, minlength=k + 1) / N
    _within(shares, np.concatenate([[1 - probs.sum()], probs]), N)


def test_conversion_draws_match_probability() -> None:
    u = np.linspace(-3, 3, 7)
    p = bh.conversion_probability(u, -1.0, 0.8)
    reps = 30_000
    users = np.repeat(np.arange(7), reps)
    draws = uniform(SEED, users, np.tile(np.arange(reps), 7), 0, Purpose.CONVERSION)
    shares = (draws < p[users]).reshape(7, reps).mean(axis=1)
    _within(shares, p, reps)


@pytest.mark.parametrize("rate", [0.2, 1.0, 7.5])
def test_session_gaps_are_exponential_with_mean_one_over_rate(rate: float) -> None:
    """Counter-based gaps (one per user and session counter) are Exp(λ)."""
    users = np.repeat(np.arange(1000), 100)
    counters = np.tile(np.arange(1, 101), 1000)
    gaps = bh.exponential_from_uniform(
        uniform(SEED, users, counters, 0, Purpose.SESSION_GAP), 1.0 / rate
    )
    n = gaps.size
    assert (gaps >= 0).all()
    assert abs(gaps.mean() * rate - 1.0) < 4.5 / np.sqrt(n)  # sd of Exp(1) mean is 1/√n
    assert stats.kstest(gaps, "expon", args=(0, 1.0 / rate)).pvalue > 1e-3


def test_gaps_with_per_user_rates() -> None:
    rng = np.random.default_rng(11)
    rate = rng.lognormal(0, 0.5, 20_000)
    users = np.arange(rate.size)
    scaled = []
    for counter in range(5):
        gaps = bh.exponential_from_uniform(
            uniform(SEED, users, counter, 0, Purpose.SESSION_GAP), 1.0 / rate
        )
        scaled.append(gaps * rate)  # Exp(1) whatever the user's rate
    scaled_all = np.concatenate(scaled)
    assert abs(scaled_all.mean() - 1.0) < 4.5 / np.sqrt(scaled_all.size)
    assert stats.kstest(scaled_all, "expon").pvalue > 1e-3


@pytest.mark.parametrize(("hazard", "dt"), [(0.1, 1.0), (0.3, 0.5)])
def test_churn_survival_curve_matches_hazard(hazard: float, dt: float) -> None:
    """Daily Bernoulli churn with P = 1 − exp(−h Δt) gives survival exp(−h t) (keyed draws)."""
    n, steps = 50_000, 30
    users = np.arange(n)
    alive = np.ones(n, dtype=bool)
    survival = []
    for step in range(1, steps + 1):
        p = bh.churn_probability(hazard, 0.0, np.zeros(n), dt)
        churn = alive & (uniform(SEED, users, step, 0, Purpose.CHURN) < p)
        alive &= ~churn
        survival.append(alive.mean())
    t = dt * np.arange(1, steps + 1)
    _within(np.array(survival), np.exp(-hazard * t), n)
