"""Next Best Action: the three value definitions, allocation, and an end-to-end comparison."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recarena.analysis.campaigns import run_outcomes
from recarena.contract import DecisionRequest, EnvironmentSpec, Surface
from recarena.policies import registry
from recarena.policies.campaigns.nba import NextBestActionPolicy
from recarena.simulator.params import ScheduleParams, WorldParams
from recarena.simulator.simulation import simulate

OFFERS = [
    {"name": "discount", "base_rate": 0.15, "effect": 1.0, "value": 40, "contact_cost": 1,
     "conversion_cost": 10},
    {"name": "premium", "base_rate": 0.04, "effect": 1.5, "value": 200, "contact_cost": 4,
     "conversion_cost": 40},
    {"name": "bundle", "base_rate": 0.08, "effect": 1.2, "value": 100, "contact_cost": 2,
     "conversion_cost": 20, "eligibility": {"feature": "income", "min": -0.5}},
]  # fmt: skip
WORLD = WorldParams.model_validate(
    {
        "population": {
            "n_users": 3000,
            "response_types": {"persuadable": 0.3, "sure_thing": 0.25, "lost_cause": 0.25,
                               "sleeping_dog": 0.2},
            "response_type_feature_strength": 2.0,
        },
        "catalogue": {"n_items": 10},
        "offers": OFFERS,
    }
)  # fmt: skip
SCHEDULE = ScheduleParams(
    days=8, surface="none", campaign_days=[1.0, 8.0], retrain_every=7.0, campaign_budget=1000.0
)
OFFER_TABLE = pd.DataFrame(
    [{"value": o["value"], "contact_cost": o["contact_cost"],
      "conversion_cost": o["conversion_cost"], "margin": o["value"] - o["conversion_cost"]}
     for o in OFFERS]
)  # fmt: skip


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


class _Proba:
    """A fitted-classifier stand-in: P(y=1) is a fixed value per row."""

    classes_ = np.array([0, 1])

    def __init__(self, p: np.ndarray) -> None:
        self.p = p

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.column_stack([1 - self.p, self.p])


class _Uplift:
    def __init__(self, tau: np.ndarray) -> None:
        self.tau = tau

    def predict_uplift(self, X: Any) -> np.ndarray:
        return self.tau


def _spec() -> EnvironmentSpec:
    return EnvironmentSpec(
        surfaces=frozenset([Surface.CAMPAIGN]), n_items=1, slate_size=1,
        item_category=np.zeros(1, dtype=np.int64), item_price=np.ones(1),
        item_release_time=np.zeros(1), item_text=("x",), n_categories=1, n_variants=0,
        n_offers=2, offer_value=np.array([40.0, 200.0]), offer_contact_cost=np.array([1.0, 4.0]),
        offer_conversion_cost=np.array([10.0, 40.0]), offer_names=("a", "b"),
        feature_names=("f",), horizon=10.0,
    )  # fmt: skip


def _request(b: int = 3, budget: float = float("inf")) -> DecisionRequest:
    return DecisionRequest(
        surface=Surface.CAMPAIGN, t=5.0, users=np.arange(b), features=np.zeros((b, 1), np.float32),
        available_items=np.ones(1, bool), eligible=np.ones((b, 2), bool), budget=budget,
        campaign=3,
    )  # fmt: skip


def _policy(strategy: str, **kw: Any) -> NextBestActionPolicy:
    policy = registry.make({"kind": "nba", "strategy": strategy, **kw})
    assert isinstance(policy, NextBestActionPolicy)
    policy.setup(_spec(), np.random.default_rng(0))
    # Three users: P(respond | offer a), P(respond | offer b), and the uplift of each.
    p = {0: np.array([0.50, 0.10, 0.30]), 1: np.array([0.05, 0.20, 0.02])}
    tau = {0: np.array([0.00, 0.10, 0.10]), 1: np.array([-0.02, 0.00, 0.02])}
    policy.models_ = {o: _Proba(v) for o, v in p.items()}
    policy.uplift_models_ = {o: _Uplift(v) for o, v in tau.items()}
    return policy


def test_probability_strategy_picks_the_most_likely_offer() -> None:
    decision = _policy("probability").act(_request())
    np.testing.assert_array_equal(decision.actions, [0, 1, 0])


def test_npv_strategy_picks_the_highest_expected_npv() -> None:
    # P(v − c) − contact: offer a 0.5·30 − 1 …, offer b 0.05·160 − 4 ….
    values = _policy("npv")._values(_request())
    np.testing.assert_allclose(values[:, 0], [14.0, 2.0, 8.0])
    np.testing.assert_allclose(values[:, 1], [4.0, 28.0, -0.8])
    np.testing.assert_array_equal(_policy("npv").act(_request()).actions, [0, 1, 0])


def test_incremental_strategy_uses_uplift_and_skips_losses() -> None:
    # τ·v − P·c_conv − contact: offer a 0·40 − 0.5·10 − 1 …, offer b −0.02·200 − 0.05·40 − 4 ….
    values = _policy("incremental")._values(_request())
    np.testing.assert_allclose(values[:, 0], [-6.0, 2.0, 0.0])
    np.testing.assert_allclose(values[:, 1], [-10.0, -12.0, -0.8])
    np.testing.assert_array_equal(_policy("incremental").act(_request()).actions, [-1, 0, -1])


def test_budget_is_allocated_by_value_per_cost_and_by_lp() -> None:
    # npv values (cost): user 0 a 14 (1); user 1 a 2 (1), b 28 (4); user 2 a 8 (1).
    # Greedy by value per cost under a budget of 4 takes users 0 and 2 (14/1, 8/1); user 1's
    # best ratio (b: 28/4 = 7) no longer fits, so it gets a (2/1): 24. The optimum sends only
    # b to user 1: 28 — the MILP allocation finds it.
    greedy_policy = _policy("npv")
    greedy = greedy_policy.act(_request(budget=4.0))
    np.testing.assert_array_equal(greedy.actions, [0, 0, 0])
    assert greedy_policy.allocations_[-1]["value"] == pytest.approx(24.0)
    milp_policy = _policy("npv", allocation="milp")
    np.testing.assert_array_equal(milp_policy.act(_request(budget=4.0)).actions, [-1, 1, -1])
    assert milp_policy.allocations_[-1]["value"] == pytest.approx(28.0)
    lp_policy = _policy("npv", allocation="lp")
    lp = lp_policy.act(_request(budget=5.0))
    # Budget 5: the LP optimum is fractional (users 0 and 2 on a, 3/4 of user 1 on b: 43);
    # rounding room for the fractional pair gives user 0 a + user 1 b = 42, the optimum, and
    # the certified gap to the LP bound is 1/43.
    np.testing.assert_array_equal(lp.actions, [0, 1, -1])
    assert lp_policy.allocations_[-1]["bound"] == pytest.approx(43.0)
    assert lp_policy.allocations_[-1]["gap"] == pytest.approx(1.0 / 43.0)
    assert lp.group is not None and (lp.group == 1).all()


def test_ineligible_offers_are_never_sent() -> None:
    request = _request()
    eligible = np.ones((3, 2), bool)
    eligible[1, 1] = False
    request = DecisionRequest(**{**request.__dict__, "eligible": eligible})
    decision = _policy("npv").act(request)
    assert decision.actions[1] == 0


def _expected_incremental(strategy: str, seed: int, **kw: Any) -> float:
    policy = registry.make({"kind": "nba", "strategy": strategy, **kw})
    campaigns = simulate(WORLD, SCHEDULE, seed, None, policy).log.frame("campaigns")
    return run_outcomes(campaigns, OFFER_TABLE, 1)["expected_incremental_npv"]


def test_incremental_value_beats_probability_and_npv_end_to_end() -> None:
    """Seed 3 measured (expected incremental NPV of the targeted campaign): probability
    −3828, npv −1883, incremental +901; seeds 1–5 all rank incremental first (margins ≥ 970).
    Sure things make (a) and (b) pay conversion costs on responses that happen anyway."""
    prob = _expected_incremental("probability", 3)
    npv = _expected_incremental("npv", 3)
    inc = _expected_incremental("incremental", 3)
    assert inc - prob > 2000.0
    assert inc - npv > 1500.0
    assert inc > 0.0
