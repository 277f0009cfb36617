"""Every ranking metric at one cut-off in one table, with bootstrap intervals over users."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike

from recarena.analysis.ranking.accuracy import (
    score_average_precision,
    score_hit_rate,
    score_mrr,
    score_ndcg,
    score_precision,
    score_recall,
    score_serendipity,
)
from recarena.analysis.ranking.base import judge, nanmean, with_empty_relevant
from recarena.analysis.ranking.coverage import (
    average_recommendation_popularity_per_user,
    catalogue_coverage,
    gini_index,
    novelty_per_user,
    user_coverage_per_user,
)
from recarena.analysis.ranking.diversity import (
    calibration_kl_per_user,
    intra_list_diversity_per_user,
)
from recarena.analysis.ranking.inputs import EmptyRelevant, Gain, Ideal, RelevanceLike
from recarena.analysis.ranking.uncertainty import bootstrap_ci
from recarena.typing import FloatArray

__all__ = ["ranking_report"]


def ranking_report(
    recs: ArrayLike,
    relevance: RelevanceLike,
    k: int,
    item_popularity: ArrayLike | None = None,
    item_vectors: ArrayLike | None = None,
    item_category: ArrayLike | None = None,
    *,
    history: RelevanceLike | None = None,
    baseline_recs: ArrayLike | None = None,
    n_items: int | None = None,
    rng: np.random.Generator | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    empty_relevant: EmptyRelevant = "skip",
    precision_divisor: Literal["k", "n_recommended"] = "k",
    recall_divisor: Literal["relevant", "min_k_relevant"] = "relevant",
    map_divisor: Literal["min_k_relevant", "relevant"] = "min_k_relevant",
    gain: Gain = "linear",
    ideal: Ideal = "min_k_relevant",
    serendipity_divisor: Literal["k", "unexpected"] = "k",
    popularity_denominator: float | None = None,
    gini_denominator: Literal["n", "n_minus_1"] = "n",
    calibration_alpha: float = 0.01,
) -> pd.DataFrame:
    """All metrics at cut-off ``k`` in one table.

    Rows (index ``metric``, named ``<name>@<k>``) always include ``hit_rate``,
    ``precision``, ``recall``, ``mrr``, ``map``, ``ndcg`` and ``user_coverage``; then
    ``catalogue_coverage`` and ``gini`` when the catalogue size is known (``n_items``, else
    the width of a sparse ``relevance``, else ``len(item_popularity)``, ``len(item_vectors)``
    or ``len(item_category)``); ``novelty`` and ``arp`` with ``item_popularity``;
    ``ild_cosine`` with ``item_vectors``; ``ild_category`` with 1-D ``item_category``;
    ``serendipity`` with ``baseline_recs``; ``calibration_kl`` with ``history`` and
    ``item_category``. The keyword options are passed to the matching metric functions.

    Columns: ``value`` (mean over counted users, or the aggregate), ``ci_low``/``ci_high``
    (percentile bootstrap over users with :func:`bootstrap_ci`, drawing from ``rng`` metric
    by metric in row order; NaN when ``rng`` is None, and always NaN for the aggregate
    ``catalogue_coverage`` and ``gini``, whose user-bootstrap is biased downward by
    duplicated users), and ``n_users`` (users counted; all users for aggregates).
    """
    lists = judge(recs, relevance, k)
    r, mat, n_users = lists.recs, lists.relevance, lists.recs.shape[0]

    scores: dict[str, FloatArray] = {
        "hit_rate": score_hit_rate(lists),
        "precision": score_precision(lists, precision_divisor),
        "recall": score_recall(lists, recall_divisor),
        "mrr": score_mrr(lists),
        "map": score_average_precision(lists, map_divisor),
        "ndcg": score_ndcg(lists, gain, ideal),
    }
    per_user = {m: with_empty_relevant(v, lists, empty_relevant) for m, v in scores.items()}
    per_user["user_coverage"] = user_coverage_per_user(r)

    if n_items is None:
        if sp.issparse(relevance):
            n_items = int(mat.shape[1])
        else:
            for candidate in (item_popularity, item_vectors, item_category):
                if candidate is not None:
                    n_items = int(np.asarray(candidate).shape[0])
                    break
    aggregates: dict[str, float] = {}
    if n_items is not None:
        aggregates["catalogue_coverage"] = catalogue_coverage(r, n_items)
        aggregates["gini"] = gini_index(r, n_items, denominator=gini_denominator)

    if item_popularity is not None:
        per_user["novelty"] = novelty_per_user(
            r, item_popularity, denominator=popularity_denominator
        )
        per_user["arp"] = average_recommendation_popularity_per_user(r, item_popularity)
    if item_vectors is not None:
        per_user["ild_cosine"] = intra_list_diversity_per_user(r, item_vectors=item_vectors)
    if item_category is not None and np.asarray(item_category).ndim == 1:
        per_user["ild_category"] = intra_list_diversity_per_user(r, item_category=item_category)
    if baseline_recs is not None:
        per_user["serendipity"] = with_empty_relevant(
            score_serendipity(lists, baseline_recs, serendipity_divisor), lists, empty_relevant
        )
    if history is not None and item_category is not None:
        per_user["calibration_kl"] = calibration_kl_per_user(
            r, history, item_category, alpha=calibration_alpha
        )

    rows: list[dict[str, Any]] = []
    for name, values in per_user.items():
        lo, hi = (
            bootstrap_ci(values, n_boot, alpha, rng=rng)
            if rng is not None
            else (float("nan"), float("nan"))
        )
        rows.append(
            {
                "metric": f"{name}@{k}",
                "value": nanmean(values),
                "ci_low": lo,
                "ci_high": hi,
                "n_users": int(np.count_nonzero(~np.isnan(values))),
            }
        )
    for name, value in aggregates.items():
        rows.append(
            {
                "metric": f"{name}@{k}",
                "value": value,
                "ci_low": float("nan"),
                "ci_high": float("nan"),
                "n_users": n_users,
            }
        )
    frame = pd.DataFrame(rows, columns=["metric", "value", "ci_low", "ci_high", "n_users"])
    return frame.set_index("metric")
