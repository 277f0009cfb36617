"""Unit tests of the history-trained recommenders (fast: the contract suite's small world)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.typing import NDArray

from recarena.contract import DecisionRequest, Feedback, FeedbackKind, History, Surface
from recarena.experiment.checks import check_context
from recarena.numerics.topk import top_k
from recarena.policies import registry
from recarena.policies.recommenders.association import association_rules
from recarena.policies.recommenders.base import (
    HistoryRecommender,
    blockwise_top_k,
    interaction_matrix,
)

KINDS = [
    "item_knn", "user_knn", "als", "bpr", "svd", "lightfm", "text_tfidf", "similar_items",
    "association_rules", "segment_popularity",
]  # fmt: skip


@pytest.fixture(scope="module")
def ctx():  # type: ignore[no-untyped-def]
    return check_context(Surface.SLATE)


def _policy(ctx, config):  # type: ignore[no-untyped-def]
    policy = registry.make(config)
    policy.setup(ctx.spec, np.random.default_rng(5))
    return policy


# ----------------------------------------------------------------------------- top-k
@pytest.mark.parametrize("trial", range(12))
def test_blockwise_top_k_equals_reference(trial: int) -> None:
    rng = np.random.default_rng(trial)
    n, b, k = int(rng.integers(1300, 4000)), int(rng.integers(1, 30)), int(rng.integers(1, 15))
    if trial % 3 == 0:  # heavy ties
        scores = rng.integers(0, 4, (n, b)).astype(np.float32)
    else:
        scores = rng.standard_normal((n, b)).astype(np.float32)
    if trial % 2:  # most items unscorable
        scores[rng.random(scores.shape) < 0.98] = -np.inf
    np.testing.assert_array_equal(blockwise_top_k(scores, k), top_k(scores.T, k)[0])


def test_blockwise_top_k_edge_cases() -> None:
    scores = np.full((2000, 3), -np.inf, dtype=np.float32)
    scores[5, 1] = 1.0
    out = blockwise_top_k(scores, 4)
    assert (out[0] == -1).all() and out[1].tolist() == [5, -1, -1, -1]
    scores[7, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        blockwise_top_k(scores, 4)
    assert blockwise_top_k(np.zeros((10, 2), np.float32), 3).tolist() == [[0, 1, 2]] * 2


@pytest.mark.parametrize("trial", range(8))
def test_blockwise_top_k_equals_stable_full_sort(trial: int) -> None:
    """Odd catalogue sizes (a tail outside the chunks), other chunk sizes, ±0 and ±inf."""
    rng = np.random.default_rng(100 + trial)
    n, b, k = int(rng.integers(700, 3000)), int(rng.integers(1, 40)), int(rng.integers(1, 6))
    scores: NDArray[np.floating[Any]] = rng.standard_normal((n, b))
    if trial % 2:
        scores = scores.astype(np.float32)
    if trial % 4 == 0:
        scores = np.round(scores * 2) / 2  # ties, including 0.0 vs -0.0
        scores[rng.random(scores.shape) < 0.3] *= -0.0
    scores[rng.random(scores.shape) < 0.01] = np.inf
    scores[rng.random(scores.shape) < 0.2] = -np.inf
    scores[:, 0] = 3.0  # a column tied at the top
    chunk = [64, 48, 16, 100][trial % 4]
    ref = np.full((b, k), -1)
    for u in range(b):
        ids = np.flatnonzero(scores[:, u] > -np.inf)
        ids = ids[np.argsort(-scores[ids, u], kind="stable")][:k]
        ref[u, : ids.size] = ids
    np.testing.assert_array_equal(blockwise_top_k(scores, k, chunk=chunk), ref)


@pytest.mark.parametrize("kind", ["als", "svd", "lightfm"])
def test_recommend_threads_do_not_change_lists(ctx, monkeypatch, kind) -> None:  # type: ignore[no-untyped-def]
    import recarena.policies.recommenders.base as rec

    monkeypatch.setattr(rec, "_BLOCK_ELEMENTS", 64)  # several blocks of users
    policy = _policy(ctx, {"kind": kind, "filter_consumed": True})
    assert isinstance(policy, HistoryRecommender)
    policy.fit(ctx.history)  # one model: the fit itself may depend on the threads
    request = ctx.requests[0]
    results = []
    for threads in (1, 2, 3):
        policy.params = policy.params.model_copy(update={"threads": threads})
        results.append(
            policy.recommend(request.users, request.features, request.available_items, 7)
        )
    for recs, fallback in results[1:]:
        np.testing.assert_array_equal(recs, results[0][0])
        np.testing.assert_array_equal(fallback, results[0][1])


# ----------------------------------------------------------------------------- data
def test_interaction_matrix_weights(ctx) -> None:  # type: ignore[no-untyped-def]
    h = History(
        t=1.0,
        clicks=pd.DataFrame({"t": [0.1, 0.2, 0.3], "user": [0, 0, 2], "item": [1, 1, 3],
                             "position": [0, 1, 0]}),
        conversions=pd.DataFrame({"t": [0.5], "user": [0], "item": [1], "revenue": [9.0]}),
        impressions=pd.DataFrame(), campaigns=pd.DataFrame(), lifecycle=pd.DataFrame(),
        user_features=pd.DataFrame(index=pd.Index([0, 1, 2, 3], name="user")),
    )  # fmt: skip
    mat = interaction_matrix(h, 5, conversion_weight=2.5)
    assert mat.shape == (4, 5)
    assert mat[0, 1] == pytest.approx(4.5) and mat[2, 3] == 1.0 and mat.nnz == 2


def test_association_rules_hand_computed() -> None:
    # baskets {0,1}, {0,1,2}, {0}, {2}: supp(0)=3/4, supp(0,1)=2/4, conf(0⇒1)=2/3, conf(1⇒0)=1
    baskets = sp.csr_array(
        (np.ones(7), ([0, 0, 1, 1, 1, 2, 3], [0, 1, 0, 1, 2, 0, 2])), shape=(4, 3)
    )
    conf = association_rules(baskets, min_support=0.3, min_confidence=0.5)
    assert conf[0, 1] == pytest.approx(2 / 3) and conf[1, 0] == pytest.approx(1.0)
    assert conf[0, 2] == 0 and conf[2, 0] == 0  # support 1/4 < 0.3
    lift = association_rules(baskets, min_support=0.3, min_confidence=0.5, metric="lift")
    assert lift[0, 1] == pytest.approx((2 / 3) / (2 / 4))


# ----------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize("kind", KINDS)
def test_slates_valid_and_unknown_users_fall_back(ctx, kind: str) -> None:  # type: ignore[no-untyped-def]
    policy = _policy(ctx, {"kind": kind})
    request = ctx.requests[0]
    before = policy.act(request)
    if kind not in ("text_tfidf", "similar_items"):  # content models need no fit
        assert before.fallback is not None and before.fallback.all()
    policy.fit(ctx.history)
    newcomer = int(ctx.world.n_users) + 10  # an id the model has never seen
    users = np.concatenate([request.users, [newcomer]])
    features = np.vstack([request.features, request.features[:1]])
    req = replace(request, users=users, features=features)
    decision = policy.act(req)
    slates = decision.actions
    assert slates.shape == (users.size, ctx.spec.slate_size)
    assert req.available_items[slates].all()
    srt = np.sort(slates, axis=1)
    assert not (srt[:, 1:] == srt[:, :-1]).any()
    assert decision.fallback is not None and decision.propensities is not None
    if kind not in ("lightfm", "segment_popularity"):  # these score anyone from features
        assert decision.fallback[-1]
    assert not decision.fallback[:-1].all()


@pytest.mark.parametrize("kind", ["als", "item_knn", "text_tfidf", "lightfm"])
def test_filter_consumed(ctx, kind: str) -> None:  # type: ignore[no-untyped-def]
    policy = _policy(ctx, {"kind": kind, "filter_consumed": True})
    assert isinstance(policy, HistoryRecommender)
    policy.fit(ctx.history)
    request = ctx.requests[0]
    slates = policy.act(request).actions
    consumed = policy.current_rows(request.users).toarray() > 0
    assert not consumed[np.arange(request.size)[:, None], slates].any()


def test_unavailable_items_never_recommended(ctx) -> None:  # type: ignore[no-untyped-def]
    policy = _policy(ctx, {"kind": "als"})
    policy.fit(ctx.history)
    request = ctx.requests[0]
    available = request.available_items.copy()
    available[np.flatnonzero(available)[::2]] = False
    slates = policy.act(replace(request, available_items=available)).actions
    assert available[slates].all()


def test_exploration_and_propensities(ctx) -> None:  # type: ignore[no-untyped-def]
    request = ctx.requests[0]
    n = int(request.available_items.sum())
    greedy = _policy(ctx, {"kind": "item_knn"})
    greedy.fit(ctx.history)
    d0 = greedy.act(request)
    assert d0.group is not None and not d0.group.any()
    np.testing.assert_allclose(d0.propensities, 1.0)
    explorer = _policy(ctx, {"kind": "item_knn", "epsilon": 1.0})
    explorer.fit(ctx.history)
    d1 = explorer.act(request)
    assert d1.group is not None and d1.group.all()
    np.testing.assert_allclose(d1.propensities, 1.0 / n)


def test_new_clicks_personalise_without_refit(ctx) -> None:  # type: ignore[no-untyped-def]
    """Item-kNN scores from current interactions: a newcomer's click counts at once."""
    policy = _policy(ctx, {"kind": "item_knn"})
    policy.fit(ctx.history)
    newcomer = np.array([int(ctx.world.n_users) + 3])
    features = ctx.requests[0].features[:1]
    request = replace(ctx.requests[0], users=newcomer, features=features)
    assert policy.act(request).fallback.all()  # type: ignore[union-attr]
    item = int(ctx.history.clicks["item"].value_counts().index[0])
    slate = np.full((1, ctx.spec.slate_size), item)
    policy.learn(
        Feedback(kind=FeedbackKind.CLICK, surface=Surface.SLATE, t=4.2, users=newcomer,
                 actions=slate, rewards=np.ones(1), features=features,
                 clicked_position=np.zeros(1, np.int64), decision_time=np.array([4.2]))
    )  # fmt: skip
    assert not policy.act(request).fallback.any()  # type: ignore[union-attr]


def test_fit_runs_under_thread_limit(ctx, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from threadpoolctl import threadpool_info

    seen: list[int] = []
    cls = registry.get("svd")
    original = cls._fit_model

    def spy(self, matrix, history):  # type: ignore[no-untyped-def]
        seen.extend(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
        return original(self, matrix, history)

    monkeypatch.setattr(cls, "_fit_model", spy)
    _policy(ctx, {"kind": "svd", "threads": 1}).fit(ctx.history)
    assert seen and set(seen) == {1}


def test_segment_popularity_by_feature(ctx) -> None:  # type: ignore[no-untyped-def]
    policy = _policy(ctx, {"kind": "segment_popularity", "feature": "region", "prior_strength": 0})
    policy.fit(ctx.history)
    request = ctx.requests[0]
    seg = policy.segments(request.features)  # type: ignore[attr-defined]
    slates = policy.act(request).actions
    for s in np.unique(seg):
        rows = slates[seg == s]
        assert (rows == rows[0]).all()  # one list per segment
    with pytest.raises(ValueError, match="no categorical feature"):
        _policy(ctx, {"kind": "segment_popularity", "feature": "height"})


def test_similar_items_follow_latest_click(ctx) -> None:  # type: ignore[no-untyped-def]
    policy = _policy(ctx, {"kind": "similar_items", "anchors": 1})
    policy.fit(ctx.history)
    last = ctx.history.clicks.sort_values("t").groupby("user").tail(1).set_index("user")
    request = ctx.requests[0]
    row = int(np.flatnonzero(np.isin(request.users, last.index))[0])
    anchor = int(last.loc[int(request.users[row]), "item"])
    sim = policy.similar_.toarray()[anchor]  # type: ignore[attr-defined]
    first = int(policy.act(request).actions[row, 0])
    assert sim[first] == pytest.approx(sim[request.available_items].max())


def test_lightfm_scores_cold_items_and_users(ctx) -> None:  # type: ignore[no-untyped-def]
    policy = _policy(ctx, {"kind": "lightfm", "item_identity": False, "epochs": 5})
    policy.fit(ctx.history)
    assert policy.item_scorable_.all()  # type: ignore[attr-defined]
    newcomer = np.array([int(ctx.world.n_users) + 1])
    request = replace(ctx.requests[0], users=newcomer, features=ctx.requests[0].features[:1])
    decision = policy.act(request)
    assert decision.fallback is not None and not decision.fallback.any()


def test_recommend_longer_lists(ctx) -> None:  # type: ignore[no-untyped-def]
    policy = _policy(ctx, {"kind": "als"})
    assert isinstance(policy, HistoryRecommender)
    policy.fit(ctx.history)
    request = ctx.requests[0]
    n_avail = int(request.available_items.sum())
    recs, fallback = policy.recommend(
        request.users, request.features, request.available_items, n_avail + 5
    )
    assert (recs[:, :n_avail] >= 0).all() and (recs[:, n_avail:] == -1).all()
    assert fallback.shape == (request.size,)
    assert (np.sort(recs[:, :n_avail], axis=1) == np.flatnonzero(request.available_items)).all()


def test_decision_request_with_few_items(ctx) -> None:  # type: ignore[no-untyped-def]
    policy = _policy(ctx, {"kind": "text_tfidf"})
    policy.fit(ctx.history)
    available = np.zeros(ctx.spec.n_items, dtype=bool)
    available[[3, 8]] = True
    request = DecisionRequest(
        surface=Surface.SLATE, t=4.0, users=ctx.requests[0].users[:4],
        features=ctx.requests[0].features[:4], available_items=available,
    )  # fmt: skip
    slates = policy.act(request).actions
    assert set(np.unique(slates)) <= {3, 8}
