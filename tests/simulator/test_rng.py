"""Counter-based uniforms and named random streams (recarena.simulator.rng)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from recarena.numerics.counter_rng import Purpose, normal, uniform
from recarena.simulator.rng import RandomStreams

SEED = 20240611
N = 50_000


def _keys(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    """A seeded range of (user, counter) keys: 500 users × 100 counters."""
    users = np.repeat(np.arange(n // 100), 100)
    counters = np.tile(np.arange(100), n // 100)
    return users, counters


def test_uniform_is_in_unit_interval_with_broadcast_shape() -> None:
    users, counters = _keys()
    u = uniform(SEED, users, counters, 3, Purpose.CHOICE)
    assert u.dtype == np.float64
    assert u.shape == (N,)
    assert (u >= 0.0).all() and (u < 1.0).all()
    grid = uniform(SEED, np.arange(7)[:, None], np.arange(5)[None, :], 0, Purpose.CASCADE)
    assert grid.shape == (7, 5)
    # The all-zero key hits the finaliser's fixed point 0; it must still be a valid draw.
    assert 0.0 <= float(uniform(0, 0, 0, 0, 0)) < 1.0


def test_uniform_is_a_pure_function_of_its_key() -> None:
    users, counters = _keys()
    a = uniform(SEED, users, counters, 2, Purpose.CONVERSION)
    b = uniform(SEED, users, counters, 2, Purpose.CONVERSION)
    np.testing.assert_array_equal(a, b)
    # An element does not depend on the rest of the batch (the CRN promise).
    picks = np.random.default_rng(0).choice(N, 25, replace=False)
    for i in picks:
        single = uniform(SEED, users[i], counters[i], 2, Purpose.CONVERSION)
        assert float(single) == a[i]
    np.testing.assert_array_equal(
        uniform(SEED, users[picks], counters[picks], 2, Purpose.CONVERSION), a[picks]
    )


def _reference_uniform(
    seed: int, user: object, counter: object, slot: object, purpose: int
) -> np.ndarray:
    """The documented formula in plain numpy uint64 arithmetic (wrapping mod 2⁶⁴)."""
    u64 = np.uint64

    def mix(z: np.ndarray) -> np.ndarray:
        z = (z ^ (z >> u64(30))) * u64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> u64(27))) * u64(0x94D049BB133111EB)
        return z ^ (z >> u64(31))

    with np.errstate(over="ignore"):
        key = (
            np.asarray(u64(seed % (1 << 64)))
            ^ (np.asarray(user).astype(u64) * u64(0x9E3779B97F4A7C15))
            ^ (np.asarray(counter).astype(u64) * u64(0xBF58476D1CE4E5B9))
            ^ (np.asarray(slot).astype(u64) * u64(0x94D049BB133111EB))
            ^ (u64(purpose) * u64(0xD6E8FEB86659FD93))
        )
        key = mix(mix(key) + u64(purpose))
    return (key >> u64(11)).astype(np.float64) * (1.0 / float(1 << 53))


@pytest.mark.parametrize("seed", [0, SEED, 2**63 + 5, 2**64 - 1])
def test_uniform_is_the_documented_hash_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(1)
    users = rng.integers(0, 10**7, 2_000)
    counters = rng.integers(0, 10**4, 2_000).astype(np.int32)
    cases = [
        (users, counters, 0),
        (users, counters, rng.integers(0, 50, 2_000)),
        (users[:, None], counters[:, None], np.arange(7)[None, :]),
        (users[:1], counters, 3),
        (17, 4, 2),
    ]
    for user, counter, slot in cases:
        np.testing.assert_array_equal(
            uniform(seed, user, counter, slot, Purpose.CHOICE),
            _reference_uniform(seed, user, counter, slot, Purpose.CHOICE),
        )


@pytest.mark.parametrize("changed", ["seed", "user", "counter", "slot", "purpose"])
def test_uniform_changes_with_every_part_of_the_key(changed: str) -> None:
    users, counters = _keys()
    key = {"seed": SEED, "user": users, "counter": counters, "slot": 1, "purpose": 2}
    base = uniform(**key)
    other = dict(key)
    other[changed] = key[changed] + 1
    moved = uniform(**other)
    # Every draw changes and the two sets are uncorrelated (not a shifted copy).
    assert (moved != base).all()
    assert abs(np.corrcoef(base, moved)[0, 1]) < 0.02


def test_swapped_inputs_do_not_collide() -> None:
    a = np.arange(1, 2001)
    b = np.arange(2001, 4001)
    pairs = [
        (uniform(SEED, a, b), uniform(SEED, b, a)),
        (uniform(SEED, a, 0, b), uniform(SEED, b, 0, a)),
        (uniform(SEED, 0, a, b), uniform(SEED, 0, b, a)),
    ]
    for left, right in pairs:
        assert (left != right).all()


def test_uniform_is_uniform_ks() -> None:
    users, counters = _keys()
    for purpose in (Purpose.SESSION_GAP, Purpose.CHOICE, Purpose.CHURN):
        u = uniform(SEED, users, counters, 0, purpose)
        assert stats.kstest(u, "uniform").pvalue > 1e-3
        # Successive counters of one user must be independent too (serial pairs on a grid).
        pairs = u.reshape(-1, 100)
        cells = np.floor(pairs[:, :-1] * 10) * 10 + np.floor(pairs[:, 1:] * 10)
        counts = np.bincount(cells.astype(np.int64).ravel(), minlength=100)
        assert stats.chisquare(counts).pvalue > 1e-3


def test_purposes_are_independent() -> None:
    users, counters = _keys()
    draws = np.stack([uniform(SEED, users, counters, 0, p) for p in Purpose])
    corr = np.corrcoef(draws)
    off_diagonal = corr[~np.eye(len(Purpose), dtype=bool)]
    assert np.abs(off_diagonal).max() < 0.02


def test_normal_has_standard_moments() -> None:
    users, counters = _keys()
    z = normal(SEED, users, counters, 0, Purpose.CHOICE)
    assert abs(z.mean()) < 4 / np.sqrt(N)
    assert abs(z.std() - 1.0) < 4 / np.sqrt(2 * N)
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_streams_are_order_independent() -> None:
    first = RandomStreams(7)
    a1 = first.generator("world").random(5)
    b1 = first.generator("policy/session").random(5)
    second = RandomStreams(7)
    b2 = second.generator("policy/session").random(5)
    second.generator("something/else").random(100)
    a2 = second.generator("world").random(5)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    # Asking twice gives a generator in the same initial state.
    np.testing.assert_array_equal(first.generator("world").random(5), a1)
    assert first.int_seed("x") == second.int_seed("x")
    assert first.crn_seed() == second.crn_seed()


def test_streams_differ_by_name_and_root_seed() -> None:
    s = RandomStreams(7)
    assert not np.array_equal(s.generator("a").random(5), s.generator("b").random(5))
    assert not np.array_equal(s.generator("a").random(5), RandomStreams(8).generator("a").random(5))
    assert RandomStreams(7).crn_seed() != RandomStreams(8).crn_seed()
    assert s.int_seed("a") != s.int_seed("b")
    assert 0 <= s.int_seed("a") < 2**32


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_streams_reject_bad_seeds(bad: object) -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        RandomStreams(bad)  # type: ignore[arg-type]
