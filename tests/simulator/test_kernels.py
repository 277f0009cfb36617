"""Compiled loops against the reference formulas of the equations they apply."""

from __future__ import annotations

import numpy as np
import pytest

from recarena.numerics.counter_rng import Purpose, uniform
from recarena.simulator import kernels
from recarena.simulator.reference import (
    reference_conversion_probability,
    reference_exponential_from_uniform,
)

SEED = 4242


@pytest.mark.parametrize(("memory", "quality_slope"), [(0, 0.0), (3, 0.0), (3, 4.0)])
def test_record_clicks_is_the_ring_push_and_the_purchase_formulas(
    memory: int, quality_slope: float
) -> None:
    rng = np.random.default_rng(0)
    n_users, n = 50, 40
    users = rng.permutation(n_users)[:n].astype(np.int64)  # each user once, as in a round
    counter = rng.integers(0, 30, n).astype(np.int32)
    items = rng.integers(0, 100, n).astype(np.int64)
    utility = rng.normal(0, 3, n)
    ring = rng.integers(-1, 100, (n_users, max(memory, 1))).astype(np.int32)
    pos = rng.integers(0, max(memory, 1), n_users).astype(np.int16)
    ring0, pos0 = ring.copy(), pos.copy()
    intercept, slope, mean = -0.5, 0.8, 1.7

    quality = rng.uniform(0, 1, 100)
    lift = np.where(rng.random(n_users) < 0.3, 1.5, 0.0)  # campaign contacts lift some users
    delay, evicted = kernels.record_clicks(
        np.uint64(SEED), users, counter, items, utility, ring, pos, memory, quality, intercept,
        lift, slope, quality_slope, mean, np.uint64(Purpose.CONVERSION),
        np.uint64(Purpose.CONVERSION_DELAY), 0,
    )  # fmt: skip

    p = reference_conversion_probability(
        utility, intercept + lift[users], slope, quality[items], quality_slope
    )
    buys = uniform(SEED, users, counter, 0, Purpose.CONVERSION) < p
    assert 0 < buys.sum() < n
    np.testing.assert_array_equal(~np.isnan(delay), buys)
    expected = reference_exponential_from_uniform(
        uniform(SEED, users, counter, 0, Purpose.CONVERSION_DELAY), mean
    )
    np.testing.assert_allclose(delay[buys], expected[buys], rtol=1e-14)
    if memory:
        np.testing.assert_array_equal(evicted, ring0[users, pos0[users]])
        np.testing.assert_array_equal(ring[users, pos0[users]], items)
        np.testing.assert_array_equal(pos[users], (pos0[users] + 1) % memory)
        untouched = np.setdiff1d(np.arange(n_users), users)
        np.testing.assert_array_equal(ring[untouched], ring0[untouched])
    else:
        assert (evicted == -1).all()
        np.testing.assert_array_equal(ring, ring0)
        np.testing.assert_array_equal(pos, pos0)


def test_next_sessions_draws_the_documented_gaps_and_returns_the_users_due_again() -> None:
    rng = np.random.default_rng(2)
    n_users = 300
    users = np.sort(rng.permutation(n_users)[:120]).astype(np.int64)
    times = rng.uniform(0.0, 1.0, 120)
    counts = rng.integers(0, 50, n_users).astype(np.int32)
    activity = rng.lognormal(1.0, 1.0, n_users)  # some users come back within the window
    satisfaction = rng.normal(0.0, 0.5, n_users)
    next_session = np.full(n_users, np.inf)
    counts0 = counts.copy()
    lift = np.where(rng.random(n_users) < 0.3, 0.8, 0.0)  # campaign contacts lift some users
    again = kernels.next_sessions(
        np.uint64(SEED), users, times, counts, activity, satisfaction, 0.7, lift, next_session,
        1.0, np.uint64(Purpose.SESSION_GAP),
    )  # fmt: skip
    np.testing.assert_array_equal(counts[users], counts0[users] + 1)
    rate = activity[users] * np.exp(0.7 * satisfaction[users]) * np.exp(lift[users])
    gaps = reference_exponential_from_uniform(
        uniform(SEED, users, counts[users], 0, Purpose.SESSION_GAP), 1.0 / rate
    )
    np.testing.assert_allclose(next_session[users], times + gaps, rtol=1e-13)
    np.testing.assert_array_equal(again, users[next_session[users] <= 1.0])
    assert 0 < again.size < users.size
    untouched = np.setdiff1d(np.arange(n_users), users)
    assert np.isinf(next_session[untouched]).all()
    np.testing.assert_array_equal(counts[untouched], counts0[untouched])


def test_item_spread_centres_each_category_on_its_items_on_sale() -> None:
    """c_g = mean φ of g's items on sale, r_i = ‖φ_i − c_{g_i}‖ (0 off sale), R_g = max r_i
    over g (−inf for a category with nothing on sale): the drift ceilings' parts."""
    rng = np.random.default_rng(8)
    vector = rng.normal(size=(30, 4)).astype(np.float32)
    category = rng.integers(0, 4, 30)
    category[category == 3] = 2  # category 3 has no items
    available = rng.random(30) < 0.7
    centres, radius, widest = kernels._item_spread(vector, category, available, 4)
    phi = vector.astype(np.float64)
    for g in range(3):
        members = available & (category == g)
        np.testing.assert_allclose(centres[g], phi[members].mean(axis=0), rtol=1e-12)
        r = np.linalg.norm(phi[members] - centres[g], axis=1)
        np.testing.assert_allclose(radius[members], r, rtol=1e-12)
        assert widest[g] == pytest.approx(r.max(), rel=1e-12)
    assert (radius[~available] == 0).all()
    assert widest[3] == -np.inf and (centres[3] == 0).all()
