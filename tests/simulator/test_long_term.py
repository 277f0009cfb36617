"""Mechanisms where clicks and long-term value can disagree (issue 14): each compiled
equation against its numpy reference, and their effects in seeded runs."""

from __future__ import annotations

import numpy as np
import pytest

from recarena.policies import registry
from recarena.simulator import kernels
from recarena.simulator import reference as ref
from recarena.simulator.log import LIFECYCLE_CHURN, LIFECYCLE_RETURN
from recarena.simulator.params import ScheduleParams, WorldParams
from recarena.simulator.simulation import SimulationResult, build_world, simulate
from tests.simulator.helpers import log_digest, world_params

#: Every new mechanism on.
ALL_ON: dict[str, object] = {
    "satisfaction_signal": "quality",
    "no_click_cost": 0.05,
    "satisfaction_half_life": 10.0,
    "conversion_quality": 3.0,
    "win_back_hazard": 0.05,
    "interest_rate": 0.05,
    "satiation": 0.5,
    "satiation_half_life": 3.0,
    "drift_sd": 0.05,
    "drift_reversion_days": 20.0,
    "churn_base_hazard": 0.05,
}


def _params(n_users: int = 300, n_items: int = 60, **behaviour: object) -> WorldParams:
    return world_params(
        n_users,
        n_items,
        population={"tolerance_sd": 0.1, "arrivals_per_day": 3.0},
        catalogue={"clickbait_share": 0.2, "new_items_per_day": 1.0},
        behaviour={**ALL_ON, **behaviour},
    )


def _run(
    kind: str,
    params: WorldParams,
    days: float = 12.0,
    seed: int = 3,
    keep_history: bool | None = None,
) -> SimulationResult:
    schedule = ScheduleParams(days=days, slate_size=5, keep_impressions=keep_history)
    return simulate(params, schedule, seed, session_policy=registry.make({"kind": kind}))


# ---------------------------------------------------------------- equations vs references
def test_consumed_relevance_matches_the_reference() -> None:
    rng = np.random.default_rng(1)
    quality = rng.uniform(0, 1, 30)
    clicked = rng.integers(-1, 30, 200)
    baseline = rng.uniform(0.1, 0.3, 200)
    np.testing.assert_array_equal(
        kernels.consumed_relevances(clicked, quality, baseline, 0.05),
        ref.reference_consumed_relevance(clicked, quality, baseline, 0.05),
    )


def test_decay_and_win_back_match_the_references() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(0, 1, (40, 3))
    expected = ref.reference_half_life_decay(values, 0.7, 5.0)
    kernels.decay(values, 0.7, 5.0)
    np.testing.assert_allclose(values, expected, rtol=1e-14)
    multiplier = rng.uniform(0.3, 3.0, 50)
    np.testing.assert_allclose(
        kernels.win_back_probabilities(0.1, multiplier, 1.0),
        ref.reference_win_back_probability(0.1, multiplier, 1.0),
        rtol=1e-13,
    )


def test_consumption_moves_interest_and_satiation() -> None:
    rng = np.random.default_rng(3)
    preference = rng.normal(0, 1, (10, 4)).astype(np.float32)
    vectors = rng.normal(0, 1, (8, 4)).astype(np.float32)
    category = rng.integers(0, 3, 8)
    satiation = np.zeros((10, 3))
    users, items = np.array([1, 4, 7]), np.array([2, 5, 2])
    expected = ref.reference_interest_step(
        preference[users].astype(float), vectors[items].astype(float), 0.2
    ).astype(np.float32)
    kernels.consume(users, items, preference, vectors, 0.2, satiation, category)
    np.testing.assert_allclose(preference[users], expected, rtol=1e-6)
    assert satiation.sum() == 3 and (satiation[users, category[items]] == 1).all()


def test_ou_drift_matches_the_reference_and_reverts() -> None:
    rng = np.random.default_rng(4)
    mean = rng.normal(0, 1, (2000, 2)).astype(np.float32)
    theta = mean + 3.0
    noise = rng.standard_normal(theta.shape).astype(np.float32)
    expected = ref.reference_ou_step(
        theta.astype(float), mean.astype(float), 1.0, 5.0, 0.3, noise.astype(float)
    )
    kernels.ou_drift(theta, mean, 1.0, 5.0, 0.3, noise)
    np.testing.assert_allclose(theta, expected, rtol=1e-6)
    # Many steps: the offset decays and the spread settles at σ √(τ/2).
    for _ in range(200):
        kernels.ou_drift(
            theta, mean, 1.0, 5.0, 0.3, rng.standard_normal(theta.shape).astype(np.float32)
        )
    offset = (theta - mean).astype(float)
    assert abs(offset.mean()) < 0.05
    assert offset.std() == pytest.approx(0.3 * np.sqrt(2.5), rel=0.05)


# ---------------------------------------------------------------- in the engine
def test_defaults_leave_the_new_mechanisms_off() -> None:
    """With every new key at its default the run is bit for bit the one without them."""
    base = world_params(200, 40)
    explicit = world_params(
        200,
        40,
        population={"tolerance_sd": 0.0},
        catalogue={"clickbait_share": 0.0},
        behaviour={"satisfaction_signal": "relevance", "win_back_hazard": 0.0,
                   "interest_rate": 0.0, "satiation": 0.0, "conversion_quality": 0.0},
    )  # fmt: skip
    assert log_digest(_run("random", base, 6).log) == log_digest(_run("random", explicit, 6).log)


def test_clickbait_has_high_appeal_and_low_quality() -> None:
    world = build_world(_params(n_items=2000), ScheduleParams(days=1), 5)
    bait = world.items.clickbait
    assert 0.17 < bait.mean() < 0.23
    assert (world.items.quality[bait] == 0.05).all()
    assert world.items.quality[~bait].mean() > 0.4
    assert world.items.popularity[bait].mean() > world.items.popularity[~bait].mean() + 1.5


def test_oracle_regret_stays_zero_and_arms_pair_with_every_mechanism_on() -> None:
    params = _params()
    oracle = _run("oracle", params).log.frame("decisions")
    assert len(oracle) > 1000
    np.testing.assert_array_equal(oracle["expected_reward"], oracle["best_expected_reward"])
    random = _run("random", params)
    frame = random.log.frame("decisions")
    assert (frame["best_expected_reward"] >= frame["expected_reward"] - 1e-6).all()
    # Common random numbers: the same policy on the same seed logs the same thing.
    assert log_digest(random.log) == log_digest(_run("random", params).log)


def test_quality_signal_makes_clickbait_erode_satisfaction() -> None:
    """Under the quality signal, clicking clickbait lowers satisfaction; under relevance it
    raises it (clicks are what relevance rewards)."""
    quality = _run("oracle", _params(win_back_hazard=0.0), days=10)
    relevance = _run("oracle", _params(win_back_hazard=0.0, satisfaction_signal="relevance"), 10)
    world = quality.world
    for res, sign in ((quality, -1), (relevance, +1)):
        dec = res.log.frame("decisions")
        bait = dec["clicked_item"].ge(0) & world.items.clickbait[dec["clicked_item"].clip(0)]
        assert bait.mean() > 0.2  # the myopic optimum clicks clickbait a lot
        mean_s = res.engine.state.satisfaction[res.engine.state.joined(world)].mean()
        assert np.sign(mean_s) == sign, mean_s


def test_dormant_users_return_and_the_lifecycle_logs_it() -> None:
    # keep_history: random never refits, so otherwise the store keeps nothing to look at.
    res = _run(
        "random", _params(churn_base_hazard=0.2, win_back_hazard=0.3), days=15, keep_history=True
    )
    life = res.log.frame("lifecycle")
    returns = life[life["event"] == LIFECYCLE_RETURN]
    churns = life[life["event"] == LIFECYCLE_CHURN]
    assert len(returns) > 20 and len(churns) > len(returns)
    # Every return follows a churn of the same user, and the user has sessions again after.
    first_churn = churns.groupby("user")["t"].min()
    assert (returns["t"].to_numpy() > first_churn.loc[returns["user"]].to_numpy()).all()
    dec = res.log.frame("decisions")
    back = returns.groupby("user")["t"].min()
    later = dec.merge(back.rename("back"), left_on="user", right_index=True)
    assert (later["t"] > later["back"]).any()
    history = res.engine.history.snapshot(
        15.0, res.world.features, res.engine.state.joined(res.world)
    )
    assert set(history.lifecycle["event"]) == {"arrival", "churn", "return"}
    # Without a win-back hazard churn is final.
    final = _run("random", _params(churn_base_hazard=0.2, win_back_hazard=0.0), days=15)
    assert (final.log.frame("lifecycle")["event"] != LIFECYCLE_RETURN).all()
