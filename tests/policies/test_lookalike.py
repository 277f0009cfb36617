"""Look-alike retention: activity aggregates, churn samples, top-k targeting end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recarena.contract import DecisionRequest, Surface
from recarena.models.churn import ActivityLog, behaviour_aggregates, churn_sample
from recarena.policies import registry
from recarena.policies.campaigns.lookalike import LookalikePolicy, activity_log
from recarena.simulator.campaigns import offer_eligibility
from recarena.simulator.engine import environment_spec
from recarena.simulator.params import ScheduleParams, WorldParams
from recarena.simulator.simulation import simulate
from tests.simulator.helpers import DENSE_BEHAVIOUR, DENSE_POPULATION

WORLD = WorldParams.model_validate(
    {
        "population": {**DENSE_POPULATION, "n_users": 1500,
                       "response_types": {"persuadable": 0.5, "sure_thing": 0.2,
                                          "lost_cause": 0.2, "sleeping_dog": 0.1}},
        "catalogue": {"n_items": 100},
        "behaviour": {**DENSE_BEHAVIOUR, "churn_base_hazard": 0.03, "churn_satisfaction": 8.0},
        "offers": [{"name": "retention", "retention_effect": 1.5, "retention_days": 30}],
    }
)  # fmt: skip
SCHEDULE = ScheduleParams(
    days=20, surface="slate", slate_size=5, decision_window=0.2, campaign_days=[14.0],
    retrain_every=7.0, keep_impressions=True,
)  # fmt: skip


def _log() -> ActivityLog:
    """Three users: 0 clicks twice and buys, 1 clicks once early, 2 joins late; 1 churns."""
    return ActivityLog.from_frames(
        sessions=pd.DataFrame({"t": [1.0, 2.0, 3.0, 1.5, 9.0], "user": [0, 0, 0, 1, 2]}),
        clicks=pd.DataFrame({"t": [2.0, 3.0, 1.5], "user": [0, 0, 1]}),
        purchases=pd.DataFrame({"t": [3.5], "user": [0], "revenue": [12.0]}),
        lifecycle=pd.DataFrame({"t": [0.0, 0.0, 8.0, 6.0], "user": [0, 1, 2, 1],
                                "event": ["arrival", "arrival", "arrival", "churn"]}),
        churn_event="churn", arrival_event="arrival",
    )  # fmt: skip


def test_aggregates_by_hand() -> None:
    log = _log()
    agg = behaviour_aggregates(log, np.array([0, 1, 2]), cutoff=4.0, lookback=2.5)
    names = log.feature_names()
    frame = pd.DataFrame(agg, columns=names, index=[0, 1, 2])
    # Window (1.5, 4]: user 0 has sessions at 2, 3 and clicks at 2, 3, a purchase at 3.5.
    assert frame.loc[0, "sessions"] == 2 and frame.loc[0, "clicks"] == 2
    assert frame.loc[0, "ctr"] == 1.0
    assert frame.loc[0, "conversions"] == 1 and frame.loc[0, "revenue"] == 12.0
    assert frame.loc[0, "days_since_click"] == pytest.approx(1.0)
    # User 1's click at 1.5 is outside the window (exclusive) but sets the recency.
    assert frame.loc[1, "clicks"] == 0 and frame.loc[1, "days_since_click"] == pytest.approx(2.5)
    assert frame.loc[1, "days_observed"] == 2.5
    # User 2 has not joined by the cut-off: nothing observed.
    assert frame.loc[2, "days_observed"] <= 0


def test_churn_sample_labels_the_window_after_the_cutoff() -> None:
    log = _log()
    sample = churn_sample(log, cutoff=4.0, label_days=3.0, lookback=4.0)
    np.testing.assert_array_equal(sample.users, [0, 1])  # user 2 not yet arrived
    np.testing.assert_array_equal(sample.churned, [0, 1])  # user 1 churns at 6 ∈ (4, 7]
    assert log.alive(7.0).tolist() == [0]


def test_sessions_unknown_without_impressions() -> None:
    log = ActivityLog.from_frames(
        None, pd.DataFrame({"t": [1.0], "user": [0]}), pd.DataFrame(columns=["t", "user"]),
        pd.DataFrame({"t": [0.0], "user": [0], "event": [0]}), churn_event=1, arrival_event=0,
    )  # fmt: skip
    assert "sessions" not in log.feature_names()
    assert behaviour_aggregates(log, np.array([0]), 2.0, 5.0).shape == (1, 5)


def _fitted(model: str, seed: int = 3) -> tuple[LookalikePolicy, DecisionRequest]:
    result = simulate(WORLD, SCHEDULE, seed, registry.make({"kind": "popularity"}),
                      registry.make({"kind": "random", "treat_fraction": 0.0}))  # fmt: skip
    world, engine = result.world, result.engine
    history = engine.history.snapshot(20.0, world.features, engine.state.joined(world))
    spec = environment_spec(world, SCHEDULE, frozenset([Surface.CAMPAIGN]))
    policy = registry.make({"kind": "lookalike", "model": model, "top_k": 50})
    assert isinstance(policy, LookalikePolicy)
    policy.setup(spec, np.random.default_rng(0))
    policy.fit(history)
    users = np.flatnonzero(engine.state.active(world))
    request = DecisionRequest(
        surface=Surface.CAMPAIGN, t=20.0, users=users, features=world.features[users],
        available_items=np.ones(world.n_items, bool), eligible=offer_eligibility(world, users),
        campaign=0,
    )  # fmt: skip
    assert len(activity_log(history).alive(20.0)) == users.size
    return policy, request


def test_top_k_goes_to_the_highest_churn_scores() -> None:
    policy, request = _fitted("logistic")
    assert policy.model_ is not None
    scores = policy.churn_scores(request)
    decision = policy.act(request)
    treated = decision.actions >= 0
    assert treated.sum() == 50
    assert scores[treated].min() >= scores[~treated].max()
    assert decision.fallback is not None and not decision.fallback.any()
    np.testing.assert_allclose(decision.propensities, 1.0)


def test_random_model_targets_the_same_number_at_random() -> None:
    policy, request = _fitted("random")
    decision = policy.act(request)
    assert (decision.actions >= 0).sum() == 50
    assert decision.fallback is not None and not decision.fallback.any()


def test_random_targeting_logs_each_users_probability_of_being_treated() -> None:
    policy, request = _fitted("random")
    assert request.eligible is not None
    candidates = int(request.eligible[:, policy.params.offer].sum())
    share, draws = 50 / candidates, 400
    treated_count = np.zeros(request.size)
    for _ in range(draws):
        decision = policy.act(request)
        treated = decision.actions >= 0
        treated_count += treated
        np.testing.assert_allclose(decision.propensities[treated], share)
        np.testing.assert_allclose(decision.propensities[~treated], 1.0 - share)
    # The logged probability is each user's long-run treatment frequency (5 SE, seeded).
    se = np.sqrt(share * (1 - share) / draws)
    assert np.abs(treated_count / draws - share).max() < 5 * se


def test_without_a_model_scores_are_random_and_flagged() -> None:
    policy, request = _fitted("logistic")
    policy._setup_model()  # forget the fit
    decision = policy.act(request)
    assert (decision.actions >= 0).sum() == 50
    assert decision.fallback is not None and decision.fallback.all()


def test_unknown_offer_is_rejected_at_setup() -> None:
    policy, _ = _fitted("logistic")
    bad = registry.make({"kind": "lookalike", "offer": 3})
    with pytest.raises(ValueError, match="offer 3 does not exist"):
        bad.setup(policy.spec_, np.random.default_rng(0))


@pytest.mark.slow
def test_lookalike_prevents_more_churn_than_random_targeting() -> None:
    """Summed over seeds 1–3 (CRN: each arm against the no-contact arm of its seed)."""
    schedule = ScheduleParams(days=28, surface="slate", slate_size=5, decision_window=0.2,
                              campaign_days=[14.0, 21.0], retrain_every=7.0)  # fmt: skip
    prevented = {"logistic": 0.0, "random": 0.0}
    for seed in (1, 2, 3):
        churns = {}
        for name, campaign in (
            ("none", {"kind": "random", "treat_fraction": 0.0}),
            ("logistic", {"kind": "lookalike", "model": "logistic", "target_fraction": 0.2}),
            ("random", {"kind": "lookalike", "model": "random", "target_fraction": 0.2}),
        ):
            life = simulate(WORLD, schedule, seed, registry.make({"kind": "popularity"}),
                            registry.make(campaign)).log.frame("lifecycle")  # fmt: skip
            churns[name] = int(((life["event"] == 1) & (life["t"] > 14.0)).sum())
        for name in prevented:
            prevented[name] += churns["none"] - churns[name]
    assert prevented["logistic"] > prevented["random"] > 0
