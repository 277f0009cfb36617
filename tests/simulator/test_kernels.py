"""Compiled loops against the documented behaviour functions they implement."""

from __future__ import annotations

import numpy as np
import pytest

from recarena.simulator import behaviour as bh
from recarena.simulator import kernels
from recarena.simulator.rng import Purpose, uniform

SEED = 4242


@pytest.mark.parametrize("memory", [0, 3])
def test_record_clicks_is_the_ring_push_and_the_purchase_formulas(memory: int) -> None:
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

    no_cache = np.zeros(0, dtype=bool), np.zeros((0, 1), dtype=np.int32)
    delay = kernels.record_clicks(
        np.uint64(SEED), users, counter, items, utility, ring, pos, memory, intercept, slope,
        mean, np.uint64(Purpose.CONVERSION), np.uint64(Purpose.CONVERSION_DELAY), *no_cache,
    )  # fmt: skip

    p = bh.conversion_probability(utility, intercept, slope)
    buys = uniform(SEED, users, counter, 0, Purpose.CONVERSION) < p
    assert 0 < buys.sum() < n
    np.testing.assert_array_equal(~np.isnan(delay), buys)
    expected = bh.exponential_from_uniform(
        uniform(SEED, users, counter, 0, Purpose.CONVERSION_DELAY), mean
    )
    np.testing.assert_allclose(delay[buys], expected[buys], rtol=1e-14)
    if memory:
        np.testing.assert_array_equal(ring[users, pos0[users]], items)
        np.testing.assert_array_equal(pos[users], (pos0[users] + 1) % memory)
        untouched = np.setdiff1d(np.arange(n_users), users)
        np.testing.assert_array_equal(ring[untouched], ring0[untouched])
    else:
        np.testing.assert_array_equal(ring, ring0)
        np.testing.assert_array_equal(pos, pos0)


def test_a_click_stales_the_best_value_only_when_it_touches_the_shortlist() -> None:
    n_users, memory = 6, 2
    users = np.arange(n_users, dtype=np.int64)
    ring = np.array([[1, 2], [1, 2], [1, 2], [1, 9], [1, 2], [1, 2]], dtype=np.int32)
    pos = np.zeros(n_users, dtype=np.int16)  # each click evicts ring[:, 0], the item 1
    shortlist = np.array(
        [[5, 6, 7], [3, 6, 7], [5, 1, 7], [5, 6, 7], [-1, -1, -1], [5, 6, 7]], dtype=np.int32
    )
    items = np.array([4, 3, 4, 9, 4, 5], dtype=np.int64)
    valid = np.ones(n_users, dtype=bool)
    valid[5] = False  # already stale: stays stale
    kernels.record_clicks(
        np.uint64(SEED), users, np.zeros(n_users, dtype=np.int32), items, np.zeros(n_users),
        ring, pos, memory, 0.0, 1.0, 1.0, np.uint64(Purpose.CONVERSION),
        np.uint64(Purpose.CONVERSION_DELAY), valid, shortlist,
    )  # fmt: skip
    # 0: neither 4 (in) nor 1 (out) is shortlisted; 1: 3 enters its shortlist; 2: 1 leaves
    # it; 3: 9 is neither; 4: no shortlist computed; 5: was stale.
    np.testing.assert_array_equal(valid, [True, False, False, True, False, False])
    np.testing.assert_array_equal(ring[:, 0], items)
