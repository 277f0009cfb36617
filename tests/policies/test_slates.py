"""Random slates: distinct items, uniform over items and positions, seeded."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from recarena.policies.recommenders.slates import (
    explore,
    random_slate_decision,
    random_slates,
    uniform_slate_probability,
)


@pytest.mark.parametrize(("n", "k"), [(200, 10), (12, 10), (5, 5)])
def test_rows_are_distinct_candidates(n: int, k: int) -> None:
    candidates = np.arange(n) * 3 + 7  # not 0..n−1: items come from the candidate list
    slates = random_slates(np.random.default_rng(0), candidates, 2_000, k)
    assert slates.shape == (2_000, k)
    assert np.isin(slates, candidates).all()
    ordered = np.sort(slates, axis=1)
    assert not (ordered[:, 1:] == ordered[:, :-1]).any()


def test_same_generator_state_gives_the_same_slates() -> None:
    candidates = np.arange(100)
    a = random_slates(np.random.default_rng(5), candidates, 500, 8)
    b = random_slates(np.random.default_rng(5), candidates, 500, 8)
    c = random_slates(np.random.default_rng(6), candidates, 500, 8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(("n", "k"), [(40, 5), (12, 10)])
def test_every_item_is_equally_likely_in_every_position(n: int, k: int) -> None:
    """Chi-square per position of a uniform ordered sample without replacement."""
    rows = 40_000
    slates = random_slates(np.random.default_rng(11), np.arange(n), rows, k)
    for j in range(k):
        counts = np.bincount(slates[:, j], minlength=n)
        assert stats.chisquare(counts).pvalue > 1e-4, (j, counts)
    # Pairs: the second slot is uniform over the items other than the first.
    same_pair = np.mean((slates[:, 0] == 0) & (slates[:, 1] == 1))
    expected = 1 / (n * (n - 1))
    assert abs(same_pair - expected) < 5 * np.sqrt(expected / rows)


def test_catalogue_smaller_than_the_slate_is_padded_and_empty_is_an_error() -> None:
    slates = random_slates(np.random.default_rng(1), np.array([4, 9, 2]), 50, 5)
    assert (np.sort(slates[:, :3], axis=1) == [2, 4, 9]).all()
    assert (slates[:, 3:] == slates[:, 2:3]).all()
    with pytest.raises(ValueError, match="no items are available"):
        random_slates(np.random.default_rng(1), np.array([], dtype=np.int64), 3, 2)


def test_exploration_propensities_match_frequencies() -> None:
    assert uniform_slate_probability(5, 2) == pytest.approx(1 / 20)
    assert uniform_slate_probability(3, 5) == pytest.approx(1 / 6)  # padded: 3! orders
    rng = np.random.default_rng(0)
    candidates = np.arange(5)
    exploit = np.tile([3, 1], (200_000, 1))
    out = explore(rng, exploit, candidates, 0.3)
    # by hand: P(slate = exploit) = 0.7 + 0.3/20; P(slot 0 holds 3) = 0.7 + 0.3/5
    same = (out.slates == exploit).all(axis=1)
    assert out.slate_propensities[same][0] == pytest.approx(0.7 + 0.3 / 20)
    assert same.mean() == pytest.approx(0.7 + 0.3 / 20, abs=0.004)  # SE ≈ 0.001
    other = out.slates[~same][0]
    assert out.slate_propensities[~same][0] == pytest.approx(0.3 / 20)
    freq = (out.slates == other).all(axis=1).mean()
    assert freq == pytest.approx(0.3 / 20, abs=0.002)
    assert out.slot_propensities[same][0].tolist() == pytest.approx([0.76, 0.76])
    # Explored rows: per slot, 0.7 + 0.3/5 where the slot kept the exploit item, else 0.3/5.
    kept = out.slates[~same] == exploit[~same]
    assert kept.any() and not kept.all()
    np.testing.assert_allclose(out.slot_propensities[~same], np.where(kept, 0.76, 0.06))
    assert (out.explored | same).all()  # only explored rows leave the exploit slate
    uniform = random_slate_decision(rng, candidates, 3, 2)
    assert uniform.slot_propensities is not None and uniform.slate_propensities is not None
    assert np.allclose(uniform.slot_propensities, 0.2) and np.allclose(
        uniform.slate_propensities, 0.05
    )
