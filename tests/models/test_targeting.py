"""Campaign targeting blocks: training samples, learner factory, budget allocation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from recarena.models.targeting import (
    UPLIFT_LEARNERS,
    allocate,
    greedy_allocation,
    lp_allocation,
    make_uplift_learner,
    milp_allocation,
    offer_samples,
    randomised,
    take_in_order,
)


def test_randomised_rows_are_strictly_inside_zero_one() -> None:
    p = np.array([0.5, 1.0, 0.0, np.nan, 0.2])
    np.testing.assert_array_equal(randomised(p), [True, False, False, False, True])


def test_offer_samples_pick_treated_and_their_controls() -> None:
    offer = np.array([0, 1, -1, -1, 0, -1])
    control_for = np.array([0, 1, 0, 1, 0, 0])
    propensity = np.array([0.25, 0.25, 0.5, 0.5, 1.0, 0.5])
    index, t = offer_samples(offer, control_for, propensity, 0)
    np.testing.assert_array_equal(index, [0, 2, 5])
    np.testing.assert_array_equal(t, [1, 0, 0])
    index, t = offer_samples(offer, control_for, propensity, 0, rows="all")
    np.testing.assert_array_equal(index, [0, 2, 4, 5])
    np.testing.assert_array_equal(t, [1, 0, 1, 0])


@pytest.mark.parametrize("name", UPLIFT_LEARNERS)
def test_learner_factory_recovers_the_sign_of_a_linear_effect(name: str) -> None:
    rng = np.random.default_rng(0)
    n = 4000
    X = rng.normal(size=(n, 3))
    t = rng.integers(0, 2, n)
    tau = 0.2 * np.sign(X[:, 0])
    y = (rng.random(n) < 0.3 + t * tau).astype(float)
    model = make_uplift_learner(name, "logistic", seed=1).fit(X, t, y)  # type: ignore[arg-type]
    est = model.predict_uplift(X)
    assert est[X[:, 0] > 0.5].mean() > est[X[:, 0] < -0.5].mean() + 0.1


def test_take_in_order_skips_what_no_longer_fits() -> None:
    cost = np.array([5.0, 3.0, 4.0, 1.0, 1.0])
    kept = take_in_order(np.arange(5), cost, budget=9.0)
    np.testing.assert_array_equal(kept, [0, 1, 3])  # 5+3, 4 does not fit, 1 does, then full
    np.testing.assert_array_equal(take_in_order(np.arange(5), cost, 100.0, 2), [0, 1])


def _brute_force(values: np.ndarray, costs: np.ndarray, budget: float) -> float:
    best = 0.0
    b, o = values.shape
    for choice in itertools.product(range(-1, o), repeat=b):
        c = np.array(choice)
        sent = c >= 0
        if costs[c[sent]].sum() > budget + 1e-9:
            continue
        best = max(best, float(np.where(sent, values[np.arange(b), np.maximum(c, 0)], 0).sum()))
    return best


def test_allocations_against_brute_force() -> None:
    rng = np.random.default_rng(3)
    costs = np.array([1.0, 2.5, 4.0])
    for _ in range(15):
        values = rng.normal(1.0, 1.5, (6, 3))
        values[rng.random((6, 3)) < 0.2] = -np.inf  # ineligible
        budget = float(rng.uniform(2, 9))
        exact = _brute_force(np.where(np.isfinite(values), np.maximum(values, 0), 0), costs,
                             budget)  # fmt: skip
        greedy = greedy_allocation(values, costs, budget)
        lp = lp_allocation(values, costs, budget)
        milp = milp_allocation(values, costs, budget)
        for result in (greedy, lp, milp):
            sent = result.actions >= 0
            assert costs[result.actions[sent]].sum() <= budget + 1e-9
            assert np.isfinite(values[np.flatnonzero(sent), result.actions[sent]]).all()
            assert result.value <= exact + 1e-9
        assert milp.value == pytest.approx(exact, abs=1e-7)
        assert lp.bound >= exact - 1e-7  # the LP relaxation bounds the integer optimum
        assert lp.value >= exact - (lp.bound - lp.value) - 1e-9
        assert 0.0 <= lp.gap <= 1.0


def test_lp_rounding_gap_is_tiny_on_a_large_instance() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(1.0, 1.0, (2000, 3))
    costs = np.array([1.0, 2.0, 3.0])
    greedy = allocate("greedy", values, costs, 1000.0)
    lp = allocate("lp", values, costs, 1000.0)
    assert lp.gap < 1e-3
    assert lp.value >= greedy.value
    assert (greedy.bound != greedy.bound) and greedy.method == "greedy"  # NaN: no bound


def test_unlimited_budget_sends_each_user_the_best_positive_offer() -> None:
    values = np.array([[1.0, 3.0], [-1.0, -2.0], [2.0, -np.inf]])
    result = greedy_allocation(values, np.array([1.0, 5.0]))
    np.testing.assert_array_equal(result.actions, [1, -1, 0])
    capped = greedy_allocation(values, np.array([1.0, 5.0]), max_treated=1)
    assert (capped.actions >= 0).sum() == 1
    lp = lp_allocation(values, np.array([1.0, 5.0]), max_treated=1)
    np.testing.assert_array_equal(lp.actions, [1, -1, -1])
