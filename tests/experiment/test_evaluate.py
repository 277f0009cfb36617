"""Offline evaluation protocols and feedback-loop metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recarena.analysis.feedback_loops import drift, exposure_over_time, gini
from recarena.contract import Surface
from recarena.experiment.checks import check_context
from recarena.experiment.evaluate import (
    evaluate_offline,
    global_time_split,
    history_from_tables,
    leave_last_one_out,
)
from recarena.policies import registry
from recarena.simulator.engine import environment_spec
from recarena.simulator.log import Table
from recarena.simulator.params import (
    BehaviourParams,
    CatalogueParams,
    PopulationParams,
    ScheduleParams,
    WorldParams,
)
from recarena.simulator.simulation import simulate
from tests.simulator.helpers import DENSE_BEHAVIOUR, DENSE_POPULATION


@pytest.fixture(scope="module")
def logged():  # type: ignore[no-untyped-def]
    """A random-policy log of 8 days with arrivals and new items."""
    world = WorldParams(
        population=PopulationParams(n_users=400, arrivals_per_day=15, **DENSE_POPULATION),
        behaviour=BehaviourParams(**DENSE_BEHAVIOUR),
        catalogue=CatalogueParams(n_items=80, new_items_per_day=3),
    )
    schedule = ScheduleParams(days=8, slate_size=5, keep_impressions=True)
    result = simulate(world, schedule, 3, registry.make({"kind": "random"}))
    engine, w = result.engine, result.world
    history = engine.history.snapshot(8.0, w.features, engine.state.joined(w))
    spec = environment_spec(w, schedule, frozenset({Surface.SLATE}))
    return result, history, spec


def test_time_split_has_no_leakage(logged) -> None:  # type: ignore[no-untyped-def]
    _, history, spec = logged
    split = global_time_split(history, spec, test_fraction=0.25)
    t = split.t_eval
    train = split.train
    for frame in (train.clicks, train.conversions, train.impressions, train.lifecycle):
        assert (frame["t"] <= t).all()
    assert (split.test["t"] > t).all() and len(split.test)
    arrived = train.lifecycle.loc[train.lifecycle["event"] == "arrival", "user"]
    assert set(train.user_features.index) <= set(arrived)
    assert (spec.item_release_time[split.candidates] <= t).all()
    every = global_time_split(history, spec, test_fraction=0.25, catalogue="all")
    assert every.candidates.sum() > split.candidates.sum()  # new items become rankable
    n_events = len(history.clicks) + len(history.conversions)
    assert len(split.test) / n_events == pytest.approx(0.25, abs=0.02)


def test_leave_last_one_out(logged) -> None:  # type: ignore[no-untyped-def]
    _, history, spec = logged
    split = leave_last_one_out(history, spec)
    last = history.clicks.sort_values("t", kind="stable").groupby("user").tail(1)
    assert set(split.test["user"]) >= set(last["user"]) - set(history.conversions["user"])
    held = set(zip(split.test["user"], split.test["item"], strict=True))
    train_pairs = set(zip(split.train.clicks["user"], split.train.clicks["item"], strict=True))
    assert not held & train_pairs
    assert split.test.groupby("user").size().max() == 1


def test_history_from_tables_matches_engine(logged) -> None:  # type: ignore[no-untyped-def]
    result, history, _ = logged
    tables = {name: result.log.frame(name) for name in (Table.DECISIONS, Table.CONVERSIONS,
                                                        Table.LIFECYCLE)}  # fmt: skip
    rebuilt = history_from_tables(tables, result.world.features, result.world.feature_names)
    cols = ["t", "user", "item"]
    pd.testing.assert_frame_equal(
        rebuilt.clicks[cols].reset_index(drop=True), history.clicks[cols].reset_index(drop=True),
        check_dtype=False,
    )  # fmt: skip
    assert len(rebuilt.impressions) == len(history.impressions)
    assert set(rebuilt.user_features.index) == set(history.user_features.index)


def test_evaluate_offline_slices_and_ordering(logged) -> None:  # type: ignore[no-untyped-def]
    _, history, spec = logged
    split = global_time_split(history, spec, test_fraction=0.3, catalogue="all")
    models = {
        "random": {"kind": "random"},
        "popularity": {"kind": "popularity", "epsilon": 0.5},  # epsilon is switched off
        "text": {"kind": "text_tfidf"},
        "als": {"kind": "als", "factors": 8, "regularization": 1.0},
    }
    out = evaluate_offline(models, split, spec, k=5, seed=1)
    assert set(out["slice"]) == {"all", "warm_users", "cold_users", "warm_items", "cold_items"}
    value = out.set_index(["model", "slice", "metric"])["value"]
    assert value["popularity", "all", "catalogue_coverage@5"] <= 5 / split.candidates.sum() + 1e-9
    assert (
        value["random", "all", "catalogue_coverage@5"] > value["als", "all", "catalogue_coverage@5"]
    )
    # CF cannot score unseen items: its cold-item list is the popularity fallback, by id.
    assert value["als", "cold_items", "ndcg@5"] == value["popularity", "cold_items", "ndcg@5"]
    assert value["text", "cold_items", "hit_rate@5"] > 0.0
    for model in models:
        assert 0.0 <= value[model, "all", "ndcg@5"] <= 1.0


def test_prefitted_policy_ranks_as_fitted(logged) -> None:  # type: ignore[no-untyped-def]
    _, history, spec = logged
    split = global_time_split(history, spec, test_fraction=0.3)
    config = {"kind": "als", "factors": 8, "regularization": 1.0}
    policy = registry.make(config)
    policy.setup(spec, np.random.default_rng(1))
    policy.fit(split.train)
    fitted = evaluate_offline({"als": policy}, split, spec, k=5, seed=1, prefitted=True)
    refitted = evaluate_offline({"als": config}, split, spec, k=5, seed=1)
    pd.testing.assert_frame_equal(fitted, refitted)
    untrained = registry.make(config)
    untrained.setup(spec, np.random.default_rng(1))  # never fitted: evaluated as it is
    other = evaluate_offline({"als": untrained}, split, spec, k=5, seed=1, prefitted=True)
    assert not other["value"].equals(fitted["value"])
    with pytest.raises(TypeError, match="prefitted model must be a fitted Policy"):
        evaluate_offline({"als": config}, split, spec, prefitted=True)


def test_sampled_evaluation_warns_and_inflates(logged) -> None:  # type: ignore[no-untyped-def]
    _, history, spec = logged
    split = global_time_split(history, spec, test_fraction=0.3)
    models = {"als": {"kind": "als", "factors": 8}}
    full = evaluate_offline(models, split, spec, k=5, slices=False)
    with pytest.warns(UserWarning, match="Krichene"):
        sampled = evaluate_offline(models, split, spec, k=5, slices=False, sampled_negatives=10)
    hr = lambda df: float(df.loc[df["metric"] == "hit_rate@5", "value"].iloc[0])  # noqa: E731
    assert hr(sampled) > hr(full)


def test_bootstrap_intervals(logged) -> None:  # type: ignore[no-untyped-def]
    _, history, spec = logged
    split = global_time_split(history, spec)
    out = evaluate_offline({"svd": {"kind": "svd"}}, split, spec, slices=False, n_boot=50)
    row = out.loc[out["metric"] == "ndcg@10"].iloc[0]
    assert row["ci_low"] <= row["value"] <= row["ci_high"]


# ------------------------------------------------------------------------------ loops
def test_gini_known_values() -> None:
    assert gini(np.ones(5)) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 4.0])) == pytest.approx(0.75)  # (n−1)/n for one holder
    assert np.isnan(gini(np.zeros(3)))


def test_overlap_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    n_items, k = 30, 4
    slates = np.array([rng.choice(n_items, k, replace=False) for _ in range(25)])
    dec = pd.DataFrame({"t": np.full(25, 0.5), "click": np.zeros(25, np.int8),
                        "clicked_item": np.full(25, -1)})  # fmt: skip
    dec["slate"] = list(slates)
    row = exposure_over_time(dec, n_items).iloc[0]
    brute = np.mean([len(set(a) & set(b)) / k for i, a in enumerate(slates)
                     for j, b in enumerate(slates) if i != j])  # fmt: skip
    assert row["overlap"] == pytest.approx(brute)
    assert row["coverage"] == pytest.approx(len(np.unique(slates)) / n_items)


def test_exposure_over_time_popularity_uses_past_only() -> None:
    ctx = check_context(Surface.SLATE)
    k = 3
    # Day 1: everyone sees items 0-2 and clicks 0; day 2: everyone sees 0-2 again.
    dec = pd.DataFrame({"t": [0.5, 0.6, 1.5, 1.6], "click": [1, 1, 0, 0],
                        "clicked_item": [0, 0, -1, -1]})  # fmt: skip
    dec["slate"] = [np.arange(k)] * 4
    series = exposure_over_time(dec, ctx.spec.n_items)
    assert series["day"].tolist() == [1.0, 2.0]
    assert series["popularity_percentile"].iloc[1] > series["popularity_percentile"].iloc[0]
    assert series["overlap"].tolist() == [1.0, 1.0]
    slopes = drift(series).set_index("metric")["slope_per_day"]
    assert slopes["popularity_percentile"] > 0


def test_ips_ranking_metrics_hand_worked() -> None:
    import scipy.sparse as sp

    from recarena.experiment.evaluate import ips_ranking_metrics

    # user 0: relevant items 1 (p = 0.5, at rank 1) and 2 (p = 0.25, not in the top 2);
    # user 1: relevant item 0 (p = 0.1) at rank 2; user 2: relevant item 3, never exposed.
    relevance = sp.csr_array(np.array([[0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], float))
    recs = np.array([[1, 0, 2], [3, 0, -1], [0, 1, 2]])
    propensity = np.array([0.1, 0.5, 0.25, 0.0])
    got = ips_ranking_metrics(recs, relevance, propensity, k=2)
    # user 0: weights 2 and 4, hit weight 2 → 1/3; user 1: weight 10 hit at rank 2 → 1.
    assert got["ips_recall@2"] == pytest.approx((1 / 3 + 1.0) / 2)
    assert got["ips_dcg@2"] == pytest.approx((1 / 3 + 1 / np.log2(3)) / 2)
    # Uniform propensities: plain per-user recall.
    flat = ips_ranking_metrics(recs, relevance, np.full(4, 0.3), k=2)
    assert flat["ips_recall@2"] == pytest.approx((1 / 2 + 1 + 0) / 3)
