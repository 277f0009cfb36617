"""Two-stage recommender: candidate provenance, features, leak-free labels, rankers, fallback,
and ALS warm/partial refits (fast: the contract suite's small world, one seeded quality check).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recarena.contract import Surface
from recarena.experiment.checks import CheckContext, check_context
from recarena.models.rankers import RankerSpec, fit_ranker
from recarena.models.ranking_features import (
    feature_names,
    item_stats,
    pair_labels,
    union_candidates,
)
from recarena.policies import registry
from recarena.policies.recommenders.base import truncate_history
from recarena.policies.recommenders.ranking import TwoStageRecommender, _subsample_negatives


@pytest.fixture(scope="module")
def ctx() -> CheckContext:
    return check_context(Surface.SLATE)


def _setup(ctx: CheckContext, config: dict[str, Any], seed: int = 5) -> Any:
    policy = registry.make(config)
    policy.setup(ctx.spec, np.random.default_rng(seed))
    return policy


# ----------------------------------------------------------------------------- features
def test_union_keeps_provenance_ranks_and_scores() -> None:
    items = np.arange(6, dtype=np.int64)
    lists = [np.array([[3, 1], [0, -1]]), np.array([[1, 5, 2], [4, 0, 2]])]
    scores = [np.arange(12, dtype=np.float32).reshape(6, 2), np.full((6, 2), -np.inf, np.float32)]
    cands = union_candidates(lists, scores, items)
    got = {(int(r), int(i)): c for c, (r, i) in enumerate(zip(cands.row, cands.item, strict=True))}
    assert sorted(got) == [(0, 1), (0, 2), (0, 3), (0, 5), (1, 0), (1, 2), (1, 4)]
    assert cands.ranks[:, got[0, 1]].tolist() == [2, 1]  # second of gen 0, first of gen 1
    assert cands.ranks[:, got[0, 5]].tolist() == [3, 2]  # absent from gen 0: depth + 1
    assert cands.ranks[:, got[1, 4]].tolist() == [3, 1]
    assert cands.scores[0, got[0, 3]] == 6.0  # item 3, user 0 → scores[3, 0]
    assert np.isnan(cands.scores[1]).all()  # -inf (no score) becomes NaN


def test_item_stats_by_hand() -> None:
    frame = pd.DataFrame(
        {"t": [0.5, 1.0, 2.5, 3.0], "user": [0, 1, 0, 2], "item": [1, 1, 2, 0],
         "weight": [1.0, 2.0, 1.0, 5.0]}
    )  # fmt: skip
    stats = item_stats(frame, 4, t=2.6, recent_days=1.0)  # the t=3.0 row is in the future
    assert stats.popularity.tolist() == [0.0, 3.0, 1.0, 0.0]
    assert stats.recent.tolist() == [0.0, 0.0, 1.0, 0.0]
    assert stats.last_seen[1] == 1.0 and stats.last_seen[0] == -np.inf


def test_labels_come_strictly_after_the_cut() -> None:
    lists = [np.array([[0, 1, 2]])]
    cands = union_candidates(lists, [np.zeros((3, 1), np.float32)], np.arange(3, dtype=np.int64))
    clicks = pd.DataFrame({"t": [1.0, 2.0, 2.5], "user": [7, 7, 7], "item": [0, 1, 2]})
    buys = pd.DataFrame({"t": [2.6], "user": [7], "item": [2]})
    labels = pair_labels(np.array([7]), cands, clicks, buys, cut=2.0)
    assert labels.tolist() == [0.0, 0.0, 2.0]  # clicks at or before the cut are not labels


def test_subsampling_keeps_every_positive() -> None:
    groups = np.repeat(np.arange(3), [10, 4, 6])
    labels = np.zeros(20, np.float32)
    labels[[2, 9, 15]] = [1, 2, 1]
    keep = _subsample_negatives(groups, labels, 3, np.random.default_rng(0))
    assert keep[[2, 9, 15]].all()
    negatives_kept = np.bincount(groups[keep & (labels == 0)], minlength=3)
    assert negatives_kept.tolist() == [3, 3, 3]


def test_training_features_do_not_see_the_label_window(ctx: CheckContext) -> None:
    """Changing what happens after the cut changes labels only, never features."""
    config = {"kind": "two_stage", "iterations": 5, "max_negatives": 100_000}  # keep all pairs
    policy: TwoStageRecommender = _setup(ctx, config)
    history, cut = ctx.history, ctx.history.t - 2.0
    clicks = history.clicks
    later = clicks["t"].to_numpy() > cut
    shifted = clicks.copy()
    shifted.loc[later, "item"] = (shifted.loc[later, "item"] + 1) % ctx.spec.n_items
    altered = replace(history, clicks=shifted)

    def build(h: Any) -> tuple[np.ndarray, np.ndarray]:
        past = truncate_history(h, cut)
        staged = policy._make_generators()
        for generator in staged:
            generator.fit(past)
        x, y, _ = policy._training_set(staged, past, h, cut)
        return x, y

    x1, y1 = build(history)
    x2, y2 = build(altered)
    assert x1.shape[1] == len(feature_names(2, ctx.spec.feature_names))
    assert (y1 > 0).any() and not np.array_equal(y1, y2)
    np.testing.assert_array_equal(x1, x2)


# ----------------------------------------------------------------------------- rankers
@pytest.mark.parametrize(
    ("kind", "loss"),
    [("catboost_ranker", "YetiRank"), ("catboost_ranker", "PairLogit"),
     ("catboost_ranker", "QueryRMSE"), ("catboost_regressor", "YetiRank"),
     ("hist_gbm", "YetiRank")],
)  # fmt: skip
def test_rankers_learn_a_planted_signal(kind: str, loss: str) -> None:
    rng = np.random.default_rng(0)
    n_groups, per = 150, 12
    groups = np.repeat(np.arange(n_groups), per)
    x = rng.normal(size=(groups.size, 4)).astype(np.float32)
    labels = (x[:, 0] + 0.3 * rng.normal(size=groups.size) > 1.0).astype(np.float32)
    spec = RankerSpec(kind=kind, loss=loss, iterations=30, depth=3, threads=1)  # type: ignore[arg-type]
    model = fit_ranker(spec, x, labels, groups)
    score = model.predict(x)
    assert np.corrcoef(score, x[:, 0])[0, 1] > 0.7
    assert fit_ranker(spec, x, np.zeros_like(labels), groups) is None  # nothing to learn


# ----------------------------------------------------------------------------- policy
def test_two_stage_validates_its_generators() -> None:
    with pytest.raises(ValueError, match="not a history-trained recommender"):
        registry.make({"kind": "two_stage", "generators": [{"policy": {"kind": "random"}}]})
    with pytest.raises(ValueError, match="alss"):
        registry.make({"kind": "two_stage", "generators": [{"policy": {"kind": "alss"}}]})


def test_users_no_generator_knows_get_the_logged_fallback(ctx: CheckContext) -> None:
    config = {
        "kind": "two_stage",
        "iterations": 5,
        "generators": [{"policy": {"kind": "als", "factors": 4}}, {"policy": {"kind": "bpr"}}],
    }
    policy = _setup(ctx, config)
    policy.fit(ctx.history)
    request = ctx.requests[0]
    newcomers = np.array([5_000, 5_001], dtype=np.int64)
    items, fallback = policy.recommend(newcomers, request.features[:2], request.available_items, 5)
    assert fallback.all() and (items >= 0).all()
    _, known_fallback = policy.recommend(
        request.users, request.features, request.available_items, 5
    )
    assert not known_fallback.all()


def test_two_stage_beats_its_best_generator_offline() -> None:
    from tests.policies.test_recommenders_quality import LATENT, _offline

    generators = [
        {"policy": {"kind": "als", "factors": 8, "regularization": 1.0}, "candidates": 50},
        {"policy": {"kind": "segment_popularity", "by": "kmeans", "n_segments": 1},
         "candidates": 30},
    ]  # fmt: skip
    models = {
        "als": generators[0]["policy"],
        "popularity": generators[1]["policy"],
        "two_stage": {"kind": "two_stage", "ranker": "hist_gbm", "generators": generators},
    }
    value = _offline(LATENT, models, "at_split")
    ndcg = {m: value[m, "all", "ndcg@10"] for m in models}
    assert ndcg["two_stage"] > 1.1 * max(ndcg["als"], ndcg["popularity"]), ndcg


# ----------------------------------------------------------------------------- ALS refits
def test_als_partial_refit_resolves_only_changed_users(ctx: CheckContext) -> None:
    config = {"kind": "als", "factors": 4, "refit": "partial", "full_refit_every": 3}
    policy = _setup(ctx, config)
    policy.fit(truncate_history(ctx.history, 3.0))
    before = policy.user_vectors_.copy()
    old_rows = policy.fit_matrix_
    policy.fit(ctx.history)
    new = policy.fit_matrix_
    same = np.array(
        [
            u < old_rows.shape[0] and (new[[u]] != old_rows[[u]]).nnz == 0
            for u in range(new.shape[0])
        ]
    )
    assert policy.user_vectors_.shape[0] == new.shape[0]
    unchanged = np.flatnonzero(same)
    np.testing.assert_array_equal(policy.user_vectors_[unchanged], before[unchanged])
    changed = np.flatnonzero(~same & (np.diff(new.indptr) > 0))
    assert changed.size and (policy.user_vectors_[changed] != 0).any(axis=1).mean() > 0.7
    old = changed[changed < before.shape[0]]
    moved = (policy.user_vectors_[old] != before[old]).any(axis=1)
    assert (moved | (before[old] == 0).all(axis=1)).all(), "changed users are re-solved"


def test_als_warm_refits_return_to_the_full_solution_on_schedule(ctx: CheckContext) -> None:
    warm = _setup(ctx, {"kind": "als", "factors": 4, "refit": "warm", "full_refit_every": 2})
    full = _setup(ctx, {"kind": "als", "factors": 4})
    cuts = (2.0, 3.0, 4.0)  # fits: full, warm, full
    for t in cuts:
        warm.fit(truncate_history(ctx.history, t))
    full.fit(truncate_history(ctx.history, cuts[-1]))
    np.testing.assert_array_equal(warm.item_vectors_, full.item_vectors_)
    mid = _setup(ctx, {"kind": "als", "factors": 4, "refit": "warm", "full_refit_every": 2})
    mid.fit(truncate_history(ctx.history, 3.0))
    warm2 = _setup(ctx, {"kind": "als", "factors": 4, "refit": "warm", "full_refit_every": 2})
    warm2.fit(truncate_history(ctx.history, 2.0))
    warm2.fit(truncate_history(ctx.history, 3.0))
    assert not np.array_equal(warm2.item_vectors_, mid.item_vectors_)  # warm ≠ from scratch
