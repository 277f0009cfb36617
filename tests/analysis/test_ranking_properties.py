"""Property-based invariants of the ranking metrics (recarena.analysis.ranking).

Hand-worked cases pin the conventions (tests/analysis/test_ranking.py); these properties
hold for every input Hypothesis generates: per-user values lie in [0, 1], the ideal list
scores 1 on every accuracy metric, HitRate bounds the others from above, and the mean over
users does not depend on the order of users.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recarena.analysis import ranking as rk

N_ITEMS = 12
K = 4

PER_USER = (
    rk.hit_rate_at_k_per_user,
    rk.precision_at_k_per_user,
    rk.recall_at_k_per_user,
    rk.mrr_at_k_per_user,
    rk.map_at_k_per_user,
    rk.ndcg_at_k_per_user,
)


@st.composite
def ranked_users(draw: st.DrawFn) -> tuple[np.ndarray, list[set[int]]]:
    """Lists of up to K distinct items (-1 padded) and a non-empty relevant set per user."""
    n_users = draw(st.integers(1, 8))
    recs, relevant = [], []
    for _ in range(n_users):
        items = draw(st.lists(st.integers(0, N_ITEMS - 1), max_size=K, unique=True))
        recs.append(items + [-1] * (K - len(items)))
        relevant.append(set(draw(st.lists(st.integers(0, N_ITEMS - 1), min_size=1, unique=True))))
    return np.array(recs, dtype=np.int64), relevant


@settings(max_examples=200, deadline=None)
@given(ranked_users())
def test_per_user_values_are_in_the_unit_interval(case: tuple[np.ndarray, list[set[int]]]) -> None:
    recs, relevant = case
    for metric in PER_USER:
        values = metric(recs, relevant, K)
        assert values.shape == (recs.shape[0],)
        assert np.all((values >= 0.0) & (values <= 1.0 + 1e-12)), metric.__name__


@settings(max_examples=200, deadline=None)
@given(ranked_users())
def test_hit_rate_bounds_every_accuracy_metric(case: tuple[np.ndarray, list[set[int]]]) -> None:
    recs, relevant = case
    hit = rk.hit_rate_at_k_per_user(recs, relevant, K)
    for metric in PER_USER[1:]:
        assert np.all(metric(recs, relevant, K) <= hit + 1e-12), metric.__name__


@settings(max_examples=200, deadline=None)
@given(ranked_users())
def test_the_ideal_list_scores_one(case: tuple[np.ndarray, list[set[int]]]) -> None:
    _, relevant = case
    ideal = np.array(
        [sorted(r)[:K] + [-1] * (K - min(K, len(r))) for r in relevant], dtype=np.int64
    )
    for metric in (rk.hit_rate_at_k_per_user, rk.mrr_at_k_per_user, rk.ndcg_at_k_per_user):
        np.testing.assert_allclose(metric(ideal, relevant, K), 1.0, err_msg=metric.__name__)
    # MAP and recall divide by min(|R|, k) under that convention: 1 for the ideal list too.
    np.testing.assert_allclose(
        rk.map_at_k_per_user(ideal, relevant, K, divisor="min_k_relevant"), 1.0
    )
    np.testing.assert_allclose(
        rk.recall_at_k_per_user(ideal, relevant, K, divisor="min_k_relevant"), 1.0
    )


@settings(max_examples=100, deadline=None)
@given(ranked_users(), st.randoms(use_true_random=False))
def test_the_mean_does_not_depend_on_the_order_of_users(
    case: tuple[np.ndarray, list[set[int]]], random: object
) -> None:
    recs, relevant = case
    order = np.arange(recs.shape[0])
    random.shuffle(order)  # type: ignore[attr-defined]
    for mean_metric in (rk.hit_rate_at_k, rk.mrr_at_k, rk.ndcg_at_k, rk.map_at_k):
        a = mean_metric(recs, relevant, K)
        b = mean_metric(recs[order], [relevant[i] for i in order], K)
        assert abs(a - b) < 1e-12, mean_metric.__name__
