r"""Learning-to-rank models for candidate pairs: CatBoost ranking losses and pointwise regressors.

* ``catboost_ranker`` — :class:`catboost.CatBoostRanker` with a ranking loss over groups
  (one group per user):

  - ``YetiRank`` — pairwise, weights pairs by the NDCG change of swapping them, with
    randomised permutations (Gulin, Kuralenok & Pavlov 2011);
  - ``PairLogit`` — :math:`-\sum_{(i,j): y_i > y_j} \log\sigma(s_i - s_j)` (RankNet-style
    pairwise logistic loss; Burges et al. 2005);
  - ``QueryRMSE`` — RMSE after removing each group's mean:
    :math:`\sum_q\sum_{i\in q}\big(y_i - s_i - \frac{1}{|q|}\sum_{j\in q}(y_j - s_j)\big)^2`.

  Groups without any positive carry no ranking signal and are dropped for these losses.
* ``catboost_regressor`` — :class:`catboost.CatBoostRegressor` (RMSE on the graded label).
* ``hist_gbm`` — scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingRegressor`
  (squared error), a light pointwise option without CatBoost.

All are seeded (``random_seed`` / ``random_state``) and run on ``threads`` threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["RankerKind", "RankerSpec", "RankingLoss", "fit_ranker"]

RankerKind = Literal["catboost_ranker", "catboost_regressor", "hist_gbm"]
RankingLoss = Literal["YetiRank", "PairLogit", "QueryRMSE"]


@dataclass(frozen=True)
class RankerSpec:
    """Which learner, its loss (CatBoostRanker only) and its budget."""

    kind: RankerKind = "catboost_ranker"
    loss: RankingLoss = "YetiRank"
    iterations: int = 200
    depth: int = 6
    learning_rate: float = 0.1
    threads: int = 1
    seed: int = 0


def fit_ranker(
    spec: RankerSpec,
    features: NDArray[np.float32],
    labels: NDArray[np.float32],
    groups: NDArray[np.int64],
) -> Any | None:
    """Fit the ranker on pairs sorted by group; ``None`` when there is nothing to learn
    (no positive label, or no group with one for the ranking losses).

    The returned model has ``predict(features) -> scores`` (higher = better).
    """
    if labels.size == 0 or not (labels > 0).any():
        return None
    if spec.kind == "hist_gbm":
        from sklearn.ensemble import HistGradientBoostingRegressor
        from threadpoolctl import threadpool_limits

        model = HistGradientBoostingRegressor(
            max_iter=spec.iterations,
            max_depth=spec.depth,
            learning_rate=spec.learning_rate,
            random_state=spec.seed,
        )
        with threadpool_limits(spec.threads):  # HGB's OpenMP pool
            return model.fit(features, labels)
    common = {
        "iterations": spec.iterations,
        "depth": spec.depth,
        "learning_rate": spec.learning_rate,
        "thread_count": spec.threads,
        "random_seed": spec.seed,
        "verbose": False,
        "allow_writing_files": False,
    }
    if spec.kind == "catboost_regressor":
        from catboost import CatBoostRegressor

        return CatBoostRegressor(loss_function="RMSE", **common).fit(features, labels)
    from catboost import CatBoostRanker, Pool

    has_positive = np.zeros(int(groups.max()) + 1, dtype=bool)
    has_positive[groups[labels > 0]] = True
    keep = has_positive[groups]
    pool = Pool(features[keep], labels[keep], group_id=groups[keep])
    return CatBoostRanker(loss_function=spec.loss, **common).fit(pool)
