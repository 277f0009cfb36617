"""Segmentation models (rules, RFM, k-means, logistic) and the segment-level policy."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recarena.contract import DecisionRequest, EnvironmentSpec, Feedback, FeedbackKind, Surface
from recarena.models import segmentation as seg
from recarena.policies import registry
from recarena.policies.campaigns.segmentation import SegmentPolicy
from recarena.simulator.params import ScheduleParams, WorldParams
from recarena.simulator.simulation import simulate


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


# ------------------------------------------------------------------------------ models
def test_rules_first_match_wins_and_the_rest_is_a_catch_all() -> None:
    X = np.array([[1.0, 5.0], [-1.0, 5.0], [-1.0, -5.0], [2.0, -5.0]])
    rules = [("a", 0.0, np.inf), ("b", 0.0, np.inf)]
    np.testing.assert_array_equal(seg.rule_segments(X, ["a", "b"], rules), [0, 1, 2, 0])
    with pytest.raises(ValueError, match="not a feature"):
        seg.rule_segments(X, ["a", "b"], [("c", 0.0, 1.0)])


def _rfm_example() -> pd.DataFrame:
    # Users 0–4 at t = 10: purchases (t, user, revenue).
    t = np.array([9.0, 8.0, 2.0, 5.0, 5.0, 1.0])
    user = np.array([0, 0, 1, 2, 2, 3])
    revenue = np.array([10.0, 20.0, 5.0, 7.0, 7.0, 100.0])
    join = np.array([0.0, 0.0, 0.0, 0.0, 4.0])
    return seg.rfm_table(t, user, revenue, np.arange(5), join, 10.0)


def test_rfm_table_by_hand() -> None:
    table = _rfm_example()
    np.testing.assert_allclose(table["recency"], [1.0, 8.0, 5.0, 9.0, 6.0])  # 4: since join
    np.testing.assert_allclose(table["frequency"], [2, 1, 2, 1, 0])
    np.testing.assert_allclose(table["monetary"], [30.0, 5.0, 14.0, 100.0, 0.0])
    assert table["purchased"].tolist() == [True, True, True, True, False]


def test_rfm_scores_use_mid_ranks_so_ties_share_a_score() -> None:
    scores = seg.rfm_scores(_rfm_example(), bins=4)
    # Frequency 2, 1, 2, 1, 0: average ranks 4.5, 2.5, 4.5, 2.5, 1 → 1 + ⌊4(r − ½)/5⌋.
    np.testing.assert_array_equal(scores["F"], [4, 2, 4, 2, 1])
    # Recency (lower is better) ranks −R: user 0 (1 day) is the best; user 4 never bought → 1.
    np.testing.assert_array_equal(scores["R"], [4, 2, 3, 1, 1])
    # Monetary 30, 5, 14, 100, 0 → ranks 4, 2, 3, 5, 1.
    np.testing.assert_array_equal(scores["M"], [3, 2, 3, 4, 1])
    assert scores.loc[0, "RFM"] == "443"
    with pytest.raises(ValueError, match="4 or 5"):
        seg.rfm_scores(_rfm_example(), bins=3)


def test_rfm_segment_names() -> None:
    scores = pd.DataFrame({"R": [5, 3, 5, 1, 1, 3, 3], "F": [5, 5, 1, 4, 1, 3, 1],
                           "purchased": [True] * 6 + [False]})  # fmt: skip
    codes = seg.rfm_segments(scores, bins=5)
    names = [seg.RFM_SEGMENTS[c] for c in codes]
    assert names == ["champions", "loyal", "promising", "at_risk", "hibernating",
                     "needs_attention", "prospects"]  # fmt: skip


def test_kmeans_is_seeded_labels_by_size_and_recovers_blobs() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [8, 0], [0, 8]])
    sizes = [300, 200, 100]
    X = np.vstack([c + rng.normal(size=(n, 2)) for c, n in zip(centres, sizes, strict=True)])
    truth = np.repeat([0, 1, 2], sizes)
    labels, model = seg.kmeans_segments(X, 3, n_init=5, seed=1)
    again, _ = seg.kmeans_segments(X, 3, n_init=5, seed=1)
    np.testing.assert_array_equal(labels, again)
    np.testing.assert_array_equal(np.bincount(labels), [300, 200, 100])  # largest = 0
    assert seg.segment_agreement(truth, labels)["ari"] > 0.99
    np.testing.assert_array_equal(seg.predict_kmeans(model, X), labels)


def test_logistic_segment_model_assigns_new_users() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 2))
    labels = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    model = seg.fit_segment_classifier(X[:400], labels[:400])
    assert (model.predict(X[400:]) == labels[400:]).mean() > 0.9
    constant = seg.fit_segment_classifier(X[:10], np.zeros(10, dtype=int))
    assert (constant.predict(X) == 0).all()


def test_segment_profiles() -> None:
    X = np.array([[1.0, 0.0], [3.0, 2.0], [10.0, 10.0]])
    profiles = seg.segment_profiles(X, ["a", "b"], np.array([0, 0, 1]))
    assert profiles.loc[0, "size"] == 2 and profiles.loc[0, "a"] == 2.0
    assert profiles.loc[1, "share"] == pytest.approx(1 / 3)


# ------------------------------------------------------------------------------ policy
def _spec(surfaces: set[Surface], n_items: int = 10, n_variants: int = 3) -> EnvironmentSpec:
    return EnvironmentSpec(
        surfaces=frozenset(surfaces), n_items=n_items, slate_size=2,
        item_category=np.zeros(n_items, dtype=np.int64), item_price=np.ones(n_items),
        item_release_time=np.zeros(n_items), item_text=("x",) * n_items, n_categories=1,
        n_variants=n_variants, n_offers=2, offer_value=np.array([50.0, 80.0]),
        offer_contact_cost=np.array([1.0, 2.0]), offer_conversion_cost=np.array([5.0, 5.0]),
        offer_names=("a", "b"), feature_names=("age", "income"), horizon=10.0,
    )  # fmt: skip


RULES: dict[str, Any] = {"kind": "segment", "method": "rules", "epsilon": 0.0,
                         "rules": [{"feature": "age", "min": 0.0}]}  # fmt: skip


def _request(surface: Surface, features: np.ndarray, n_items: int = 10) -> DecisionRequest:
    b = features.shape[0]
    return DecisionRequest(
        surface=surface, t=1.0, users=np.arange(b), features=features.astype(np.float32),
        available_items=np.ones(n_items, dtype=bool),
        eligible=np.ones((b, 2), dtype=bool) if surface is Surface.CAMPAIGN else None,
        campaign=1,
    )  # fmt: skip


def test_slates_follow_each_segment_clicks() -> None:
    policy = registry.make(RULES)
    policy.setup(_spec({Surface.SLATE}), np.random.default_rng(0))
    features = np.array([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]], dtype=np.float32)
    slates = np.array([[3, 4], [3, 4], [7, 8], [7, 8]])
    policy.learn(Feedback(
        kind=FeedbackKind.CLICK, surface=Surface.SLATE, t=0.5, users=np.arange(4),
        actions=slates, rewards=np.ones(4), features=features,
        clicked_position=np.zeros(4, dtype=np.int64),
    ))  # fmt: skip
    decision = policy.act(_request(Surface.SLATE, features))
    assert decision.actions[0, 0] == 3 and decision.actions[2, 0] == 7
    assert decision.group is not None and decision.group.tolist() == [0, 0, 1, 1]
    assert decision.fallback is not None and not decision.fallback.any()


def test_variants_are_chosen_per_segment() -> None:
    policy = registry.make(RULES)
    policy.setup(_spec({Surface.VARIANT}), np.random.default_rng(0))
    features = np.repeat(np.array([[1.0, 0.0], [-1.0, 0.0]], dtype=np.float32), 50, axis=0)
    # Segment 0 was shown variant 0 and always clicked; segment 1 variant 2 and never did.
    actions = np.where(np.arange(100) < 50, 0, 2)
    rewards = np.where(np.arange(100) < 50, 1.0, 0.0)
    policy.learn(Feedback(kind=FeedbackKind.CLICK, surface=Surface.VARIANT, t=0.5,
                          users=np.arange(100), actions=actions, rewards=rewards,
                          features=features))  # fmt: skip
    decision = policy.act(_request(Surface.VARIANT, features[[0, 99]]))
    assert decision.actions[0] == 0  # segment 0: variant 0 clicked every time
    assert decision.actions[1] == 0  # segment 1: variant 2 failed; untried 0 and 1 tie at 0.5
    np.testing.assert_allclose(decision.propensities, 1.0)


def test_fixed_offers_per_segment() -> None:
    policy = registry.make({**RULES, "segment_offers": [1, -1], "pilot_campaigns": 0})
    policy.setup(_spec({Surface.CAMPAIGN}), np.random.default_rng(0))
    features = np.array([[1.0, 0.0], [-1.0, 0.0], [2.0, 1.0]], dtype=np.float32)
    decision = policy.act(_request(Surface.CAMPAIGN, features))
    np.testing.assert_array_equal(decision.actions, [1, -1, 1])


def test_wrong_segment_offers_are_rejected() -> None:
    policy = registry.make({**RULES, "segment_offers": [0, 0, 0]})
    with pytest.raises(ValueError, match="segment_offers has 3 entries"):
        policy.setup(_spec({Surface.CAMPAIGN}), np.random.default_rng(0))
    with pytest.raises(ValueError, match="needs at least one rule"):
        registry.make({"kind": "segment", "method": "rules"})


def _run(config: dict[str, Any], seed: int = 2) -> tuple[Any, pd.DataFrame]:
    world = WorldParams.model_validate({
        "population": {"n_users": 1200, "n_segments": 3, "segment_separation": 2.5,
                       "categorical_concentration": 0.3},
        "catalogue": {"n_items": 60},
        "offers": [{"name": "voucher", "effect": 1.5, "base_rate": 0.1},
                   {"name": "upgrade", "effect": 0.2, "base_rate": 0.05}],
    })  # fmt: skip
    schedule = ScheduleParams(days=6, slate_size=5, decision_window=0.2,
                              campaign_days=[1.0, 5.0], retrain_every=1.0)  # fmt: skip
    session, campaign = registry.make(config), registry.make(config)
    result = simulate(world, schedule, seed, session, campaign)
    return campaign, result.log.frame("campaigns")


def test_kmeans_segments_learn_offers_from_the_pilot() -> None:
    campaign, log = _run({"kind": "segment", "method": "kmeans", "n_segments": 3, "n_init": 3})
    assert isinstance(campaign, SegmentPolicy)
    assert campaign.offer_values_ is not None and campaign.offer_values_.shape == (3, 2)
    target = log[log["campaign"] == 1]
    assert (target["group"] == 1).all()
    # Every treated user belongs to a segment whose best estimated value is positive.
    best = campaign.offer_values_.max(axis=1)
    treated = target[target["offer"] >= 0]
    assert len(treated) > 0 and (best > 0).any()


def test_rfm_assigns_new_users_with_the_logistic_model() -> None:
    campaign, _ = _run({"kind": "segment", "method": "rfm", "rfm_bins": 4})
    assert isinstance(campaign, SegmentPolicy)
    assert campaign.rfm_classifier_ is not None
    assert set(np.unique(campaign.rfm_labels_)) <= set(range(len(seg.RFM_SEGMENTS)))
    unknown = np.array([10**6])
    labels, fallback = campaign.segments(unknown, np.zeros((1, campaign.spec_.n_features)))
    assert labels.shape == (1,) and not fallback.any()
