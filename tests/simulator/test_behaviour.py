"""Behaviour mechanisms against their formulas: closed forms and seeded Monte-Carlo checks.

Every Monte-Carlo check draws its uniforms the way the engine does (counter-based keys from
:func:`recarena.simulator.rng.uniform`), so it also tests that those keyed draws drive each
mechanism to the distribution its formula states. Thresholds are 4–5 standard errors for
the sample size; the seeds are fixed, so the checks are deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from recarena.numerics.counter_rng import Purpose, uniform
from recarena.simulator import behaviour as bh
from recarena.simulator import kernels
from recarena.simulator import reference as ref

SEED = 98765
N = 200_000


def _within(observed: np.ndarray, expected: np.ndarray, n: int, z: float = 4.5) -> None:
    """Every observed share lies within ``z`` binomial standard errors of its expectation."""
    se = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(observed - expected) <= z * se + 1e-12), (observed, expected, se)


# ---------------------------------------------------------------- helpers
def mnl(u: np.ndarray, e: np.ndarray, temperature: float, u0: float) -> np.ndarray:
    """MNL slot probabilities through the compiled row function."""
    return kernels.mnl_click_probabilities(np.asarray(u, float), (e, float(temperature), float(u0)))


def cascade(u: np.ndarray, e: np.ndarray, temperature: float, u0: float) -> np.ndarray:
    """Cascade slot probabilities through the compiled row function."""
    u = np.asarray(u, float)
    return kernels.cascade_click_probabilities(u, (e, float(temperature), float(u0)))


def scalar(function: object, *arrays: np.ndarray, **fixed: float) -> np.ndarray:
    """Apply a compiled row function element by element (its own call, not a loop kernel)."""
    return np.array([function(*row, **fixed) for row in zip(*arrays, strict=True)])  # type: ignore[operator]


# ---------------------------------------------------------------- against the references
def test_sigmoid_matches_formula_and_does_not_overflow() -> None:
    x = np.array([-800.0, -30.0, -1.0, 0.0, 2.0, 40.0, 800.0])
    s = kernels.sigmoids(x)
    np.testing.assert_allclose(s[1:-1], ref.reference_sigmoid(x[1:-1]), rtol=1e-14)
    assert s[0] == 0.0 and s[-1] == 1.0
    np.testing.assert_allclose(kernels.sigmoids(-x) + s, 1.0, atol=1e-15)
    np.testing.assert_array_equal(scalar(bh.sigmoid, x), s)
    grid = np.linspace(-5, 5, 12).reshape(3, 4)  # any shape
    np.testing.assert_allclose(kernels.sigmoids(grid), ref.reference_sigmoid(grid), rtol=1e-14)


def test_examination_weights() -> None:
    np.testing.assert_allclose(bh.examination_weights(4, "log"), 1 / np.log2([2, 3, 4, 5]))
    np.testing.assert_allclose(bh.examination_weights(3, "power", 2.0), [1, 1 / 4, 1 / 9])
    np.testing.assert_array_equal(bh.examination_weights(3, "none"), [1, 1, 1])
    with pytest.raises(ValueError, match="position_bias"):
        bh.examination_weights(3, "exp")


def test_utility_and_fatigue_match_the_reference() -> None:
    rng = np.random.default_rng(1)
    b, m, d = 4, 6, 5
    theta = rng.normal(size=(b, d)).astype(np.float32)
    phi = rng.normal(size=(m, d)).astype(np.float32)
    pop, log_p, rho = rng.normal(size=m), rng.normal(size=m), rng.uniform(0, 1, b)
    ring = np.array([[2, -1], [-1, -1], [0, 5], [-1, 3]], dtype=np.int32)
    category = np.array([0, 1, 1, 2, 0, 2])
    satiation = rng.uniform(0, 2, (b, 3))
    items = (phi, np.ascontiguousarray(phi.T, dtype=np.float64), pop, log_p, 2.0 / np.sqrt(d),
             1.5, category, 0.7)  # fmt: skip
    people = (theta, rho, ring, satiation)
    slates = np.tile(np.arange(m), (b, 1))
    u = kernels.slate_utilities(people, items, np.arange(b), slates, True)
    penalty = 1.5 * (np.arange(m)[None, :, None] == ring[:, None, :]).any(axis=2)
    penalty += 0.7 * satiation[:, category]
    expected = ref.reference_utilities(theta, phi, pop, log_p, rho, 2.0, penalty)
    np.testing.assert_allclose(u, expected, rtol=1e-12, atol=1e-12)
    one = bh.utility(2, theta[0].astype(float), rho[0], items)
    one = bh.fatigued(bh.satiated(one, 2, satiation[0], items), 2, ring[0], 1.5)
    assert one == u[0, 2]
    # The whole-catalogue pass computes the same bits.
    catalogue = kernels.catalogue_utilities(people, items, np.arange(b), np.ones(m, dtype=bool))
    np.testing.assert_array_equal(catalogue, u)


def test_mnl_probabilities_match_formula() -> None:
    u = np.array([[0.5, 2.0, -1.0, 1.0], [3.0, 3.0, 3.0, 3.0]])
    e = bh.examination_weights(4, "log")
    t, u0 = 0.7, 1.5
    p = mnl(u, e, t, u0)
    np.testing.assert_allclose(p, ref.reference_mnl_probabilities(u, e, t, u0), rtol=1e-13)
    w = e * np.exp(u / t)
    np.testing.assert_allclose(p, w / (np.exp(u0 / t) + w.sum(axis=1, keepdims=True)))
    assert (p.sum(axis=1) < 1).all()
    # Max-shift keeps huge utilities finite; the no-choice option then vanishes.
    big = mnl(np.array([[900.0, 0.0]]), np.ones(2), 1.0, 0.0)
    np.testing.assert_allclose(big, [[1.0, 0.0]], atol=1e-12)


def test_inverse_cdf_choice_matches_the_reference() -> None:
    rng = np.random.default_rng(5)
    p = mnl(rng.normal(0, 2, (300, 5)), bh.examination_weights(5), 1.0, 0.5)
    draws = rng.random(300)
    np.testing.assert_array_equal(
        kernels.mnl_choice(p, draws), ref.reference_inverse_cdf_choice(p, draws)
    )


def test_cascade_probabilities_match_formula() -> None:
    u = np.array([[1.0, -0.5, 2.0]])
    e = bh.examination_weights(3, "power", 1.0)
    t, u0 = 1.3, 0.4
    p = cascade(u, e, t, u0)
    c = 1 / (1 + np.exp(-(u[0] - u0) / t)) * e / e[0]
    expected = [c[0], (1 - c[0]) * c[1], (1 - c[0]) * (1 - c[1]) * c[2]]
    np.testing.assert_allclose(p[0], expected, rtol=1e-14)
    np.testing.assert_allclose(p, ref.reference_cascade_probabilities(u, e, t, u0), rtol=1e-14)
    totals = kernels.cascade_click_totals(u, (e, t, u0))
    np.testing.assert_allclose(totals, p.sum(axis=1), rtol=1e-15)


def test_cascade_choice_matches_the_reference() -> None:
    rng = np.random.default_rng(6)
    u, draws = rng.normal(0, 2, (400, 5)), rng.random((400, 5))
    e = bh.examination_weights(5, "log")
    np.testing.assert_array_equal(
        kernels.cascade_choices(u, (e, 1.2, 0.3), draws),
        ref.reference_cascade_choice(u, e, 1.2, 0.3, draws),
    )


def test_conversion_activity_satisfaction_and_churn_formulas() -> None:
    u = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(
        scalar(lambda x: bh.conversion_probability(x, 0.5, -1.0, 0.5, 0.0), u),
        ref.reference_conversion_probability(u, -1.0, 0.5),
        rtol=1e-14,
    )
    np.testing.assert_allclose(
        ref.reference_conversion_probability(u, -1.0, 0.5), 1 / (1 + np.exp(-(-1.0 + 0.5 * u)))
    )
    s = np.array([0.0, 0.4, -0.2])
    r = np.array([0.5, 0.1, 0.9])
    np.testing.assert_allclose(
        kernels.satisfaction_updates(s, r, 0.1, np.full(3, 0.2)),
        ref.reference_update_satisfaction(s, r, 0.1, 0.2),
        rtol=1e-15,
    )
    np.testing.assert_allclose(
        kernels.satisfaction_updates(s, r, 0.1, np.full(3, 0.2)), 0.9 * s + 0.1 * (r - 0.2)
    )
    multiplier = np.array([1.0, 0.5, 2.0])
    p = kernels.churn_probabilities(0.05, 2.0, s, 0.5, multiplier)
    np.testing.assert_allclose(
        p, ref.reference_churn_probability(0.05, 2.0, s, 0.5, multiplier), rtol=1e-12
    )
    hazard = 0.05 * np.exp(-2.0 * s) * multiplier
    np.testing.assert_allclose(p, 1 - np.exp(-hazard * 0.5))
    activity = np.array([0.5, 1.0, 3.0])
    np.testing.assert_allclose(
        scalar(lambda a, x: bh.activity_rate(a, 1.5, x), activity, s),
        ref.reference_activity_rate(activity, 1.5, s),
        rtol=1e-14,
    )


def test_exponential_draws_match_the_reference() -> None:
    draws = uniform(SEED, np.arange(1000), 0, 0, Purpose.SESSION_GAP)
    means = np.linspace(0.1, 5.0, 1000)
    np.testing.assert_allclose(
        kernels.exponential_draws(draws, means),
        ref.reference_exponential_from_uniform(draws, means),
        rtol=1e-14,
    )


# ---------------------------------------------------------------- Monte Carlo
@pytest.mark.parametrize(("temperature", "u0", "bias"), [(1.0, 2.0, "log"), (0.5, 0.5, "none")])
def test_mnl_choice_shares_match_probabilities(temperature: float, u0: float, bias: str) -> None:
    k = 5
    u_row = np.array([1.5, 0.2, 2.5, -0.5, 1.0])
    probs = mnl(u_row[None, :], bh.examination_weights(k, bias), temperature, u0)
    draws = uniform(SEED, np.arange(N), 0, 0, Purpose.CHOICE)
    slots = kernels.mnl_choice(np.repeat(probs, N, axis=0), draws)
    shares = np.bincount(slots + 1, minlength=k + 1) / N  # index 0 = no click
    expected = np.concatenate([[1 - probs.sum()], probs[0]])
    _within(shares, expected, N)
    counts = np.bincount(slots + 1, minlength=k + 1)
    assert stats.chisquare(counts, expected * N).pvalue > 1e-4


def test_mnl_choice_per_row_probabilities() -> None:
    """Heterogeneous rows: the realised click share of each row type matches its P(click)."""
    rng = np.random.default_rng(3)
    u = rng.normal(0, 1.5, (8, 4))
    probs = mnl(u, bh.examination_weights(4), 1.0, 1.0)
    reps = 20_000
    rows = np.repeat(np.arange(8), reps)
    draws = uniform(SEED, rows, np.tile(np.arange(reps), 8), 0, Purpose.CHOICE)
    slots = kernels.mnl_choice(probs[rows], draws).reshape(8, reps)
    for r in range(8):
        shares = np.array([(slots[r] == j).mean() for j in range(4)])
        _within(shares, probs[r], reps)


@pytest.mark.parametrize(("bias", "u0"), [("log", 1.0), ("power", 0.0)])
def test_cascade_choice_matches_click_probability(bias: str, u0: float) -> None:
    k = 6
    u_row = np.array([0.5, 1.5, -0.5, 2.0, 0.0, 1.0])
    e = bh.examination_weights(k, bias, 1.5)
    probs = cascade(u_row[None, :], e, 1.0, u0)[0]
    draws = uniform(
        SEED, np.arange(N)[:, None], 0, np.arange(k)[None, :], Purpose.CASCADE
    )  # one uniform per (session, slot), as in the engine
    slots = kernels.cascade_choices(np.repeat(u_row[None, :], N, axis=0), (e, 1.0, u0), draws)
    shares = np.bincount(slots + 1, minlength=k + 1) / N
    _within(shares, np.concatenate([[1 - probs.sum()], probs]), N)


def test_conversion_draws_match_probability() -> None:
    u = np.linspace(-3, 3, 7)
    p = scalar(lambda x: bh.conversion_probability(x, 0.5, -1.0, 0.8, 0.0), u)
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
    draws = uniform(SEED, users, counters, 0, Purpose.SESSION_GAP)
    gaps = kernels.exponential_draws(draws, np.full(draws.size, 1.0 / rate))
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
        gaps = kernels.exponential_draws(
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
        p = kernels.churn_probabilities(hazard, 0.0, np.zeros(n), dt, np.ones(n))
        churn = alive & (uniform(SEED, users, step, 0, Purpose.CHURN) < p)
        alive &= ~churn
        survival.append(alive.mean())
    t = dt * np.arange(1, steps + 1)
    _within(np.array(survival), np.exp(-hazard * t), n)
