r"""Rule heuristics: "bought together" association rules and per-segment popularity.

**Association rules** (Agrawal, Imieliński & Swami 1993; apriori-style support pruning).
A *basket* is the set of items one user clicked or bought within one time window of
``basket_days`` days (``null``: the user's whole history). With :math:`N` baskets, binary
basket × item matrix :math:`X` and co-occurrence counts :math:`C = X^\top X`:

.. math:: \mathrm{supp}(i) = C_{ii}/N, \quad \mathrm{supp}(i \Rightarrow j) = C_{ij}/N, \quad
          \mathrm{conf}(i \Rightarrow j) = C_{ij}/C_{ii}, \quad
          \mathrm{lift}(i \Rightarrow j) = \mathrm{conf}(i \Rightarrow j)/\mathrm{supp}(j).

Only pairs of frequent items (``supp ≥ min_support``, the apriori pruning: a frequent pair
needs frequent members) with :math:`\mathrm{supp}(i \Rightarrow j) \ge` ``min_support`` and
:math:`\mathrm{conf} \ge` ``min_confidence`` become rules. A user's score for item j sums the
rule strength (confidence or lift) over the rules whose antecedent the user has consumed,
:math:`s_{uj} = \sum_{i \in H_u} \mathrm{strength}(i \Rightarrow j)`; items no rule reaches
come from the popularity fallback.

**Per-segment popularity.** Users are grouped by an *observable* attribute and each group
gets its own most-clicked list, shrunk towards the global list for small groups:

.. math:: s_{g,i} = n_{g,i} + m\,\frac{n_i}{\sum_j n_j},

with :math:`n_{g,i}` the interaction weight of segment g on item i, :math:`n_i` the global
weight and :math:`m` = ``prior_strength`` (a Dirichlet prior worth m interactions).
Segments: ``by: feature`` uses the level of a categorical feature (the one-hot columns
``name=level`` of the encoded features); ``by: kmeans`` clusters the encoded features with
k-means (scikit-learn, seeded from ``seed_``), fitted on the users known at the fit. Both
are observable for a brand-new user, so new users get their segment's list at once.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from pydantic import Field, model_validator

from recarena.contract import History
from recarena.policies.recommenders.base import (
    HistoryRecommender,
    RecommenderParams,
    interaction_frame,
    sparse_scores_item_major,
)
from recarena.policies.registry import register
from recarena.typing import Float32Array, IntArray

__all__ = ["AssociationRulesRecommender", "SegmentPopularityRecommender", "association_rules"]


def association_rules(
    baskets: sp.csr_array,
    min_support: float,
    min_confidence: float,
    metric: Literal["confidence", "lift"] = "confidence",
) -> sp.csr_array:
    """Rule-strength matrix ``A`` (n_items × n_items): ``A[i, j]`` for the rule i ⇒ j.

    Parameters
    ----------
    baskets
        Basket × item matrix; any stored positive value counts as "in the basket".
    min_support, min_confidence
        Thresholds (module docstring).
    metric
        Strength stored for a kept rule: its confidence or its lift.
    """
    x = sp.csr_array(baskets > 0, dtype=np.float32)
    n_baskets = max(x.shape[0], 1)
    item_count = np.asarray(x.sum(axis=0), dtype=np.float64).ravel()
    frequent = item_count / n_baskets >= min_support
    xf = sp.csr_array(x @ sp.diags_array(frequent.astype(np.float32)))
    xf.eliminate_zeros()
    co = sp.coo_array(xf.T @ xf)
    i, j, c = co.row, co.col, co.data.astype(np.float64)
    confidence = c / np.maximum(item_count[i], 1.0)
    keep = (i != j) & (c / n_baskets >= min_support) & (confidence >= min_confidence)
    i, j, confidence = i[keep], j[keep], confidence[keep]
    strength = confidence if metric == "confidence" else confidence / (item_count[j] / n_baskets)
    n = x.shape[1]
    return sp.csr_array((strength.astype(np.float32), (i, j)), shape=(n, n))


@register
class AssociationRulesRecommender(HistoryRecommender):
    """ "Bought together": apriori-style association rules over per-user baskets."""

    class Params(RecommenderParams):
        kind: Literal["association_rules"] = "association_rules"
        basket_days: float | None = Field(
            None,
            gt=0,
            le=3650,
            description="basket = a user's items within one window of days (null: all)",
        )
        min_support: float = Field(0.002, ge=0, le=1, description="minimum pair support")
        min_confidence: float = Field(0.02, ge=0, le=1, description="minimum confidence")
        metric: Literal["confidence", "lift"] = Field(
            "confidence", description="rule strength summed into the score"
        )

    summary = "Association rules ('bought together'): support/confidence/lift co-occurrence."
    scores_current = True

    params: Params

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        return cls._recommender_configs({"basket_days": 1.0, "metric": "lift", "min_support": 0.0})

    def _reset_model(self) -> None:
        self.rules_ = sp.csr_array((self.spec_.n_items, self.spec_.n_items), dtype=np.float32)

    def _fit_model(self, matrix: sp.csr_array, history: History) -> None:
        events = interaction_frame(history, self.params.conversion_weight)
        users = events["user"].to_numpy(np.int64)
        if self.params.basket_days is None:
            basket = users
        else:
            window = np.floor(events["t"].to_numpy(np.float64) / self.params.basket_days)
            _, basket = np.unique(np.stack([users, window.astype(np.int64)]), axis=1,
                                  return_inverse=True)  # fmt: skip
            basket = basket.ravel()
        n_baskets = int(basket.max()) + 1 if basket.size else 0
        baskets = sp.csr_array(
            (np.ones(basket.size, np.float32), (basket, events["item"].to_numpy(np.int64))),
            shape=(n_baskets, self.spec_.n_items),
        )
        p = self.params
        self.rules_ = association_rules(baskets, p.min_support, p.min_confidence, p.metric)

    def _score_items(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array, items: IntArray
    ) -> Float32Array:
        consumed = sp.csr_array(rows > 0, dtype=np.float32)
        return sparse_scores_item_major(sp.csr_array(consumed @ self.rules_), items)


@register
class SegmentPopularityRecommender(HistoryRecommender):
    """Most-popular items within the user's observable segment (feature level or k-means)."""

    class Params(RecommenderParams):
        kind: Literal["segment_popularity"] = "segment_popularity"
        by: Literal["feature", "kmeans"] = Field(
            "feature", description="segment users by a categorical feature or by k-means"
        )
        feature: str = Field(
            "region", description="by=feature: name of the categorical feature (one-hot)"
        )
        n_segments: int = Field(8, ge=1, le=1000, description="by=kmeans: number of clusters")
        prior_strength: float = Field(
            5.0, ge=0, le=1e6, description="m: shrinkage towards global popularity (interactions)"
        )

        @model_validator(mode="after")
        def _feature_name(self) -> Any:
            if self.by == "feature" and not self.feature:
                raise ValueError("by=feature needs a feature name")
            return self

    summary = "Popularity per observable segment (categorical feature or k-means), shrunk."
    contextual = True

    params: Params

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        return cls._recommender_configs(
            {"by": "kmeans", "n_segments": 3}, {"feature": "device", "prior_strength": 0.0}
        )

    def _reset_model(self) -> None:
        self.segment_scores_ = np.zeros((0, self.spec_.n_items), dtype=np.float32)
        self.centroids_ = np.zeros((0, self.spec_.n_features), dtype=np.float32)
        prefix = f"{self.params.feature}="
        self.columns_ = np.array(
            [j for j, name in enumerate(self.spec_.feature_names) if name.startswith(prefix)],
            dtype=np.int64,
        )
        if self.params.by == "feature" and self.columns_.size == 0:
            categorical = sorted({n.split("=")[0] for n in self.spec_.feature_names if "=" in n})
            raise ValueError(
                f"segment_popularity: no categorical feature {self.params.feature!r}; "
                f"observable categorical features: {categorical}"
            )

    def segments(self, features: NDArray[np.float32]) -> IntArray:
        """Segment of each user from its encoded features (shape (B,))."""
        if self.params.by == "feature":
            return np.argmax(features[:, self.columns_], axis=1).astype(np.int64)
        d2 = (
            (features**2).sum(axis=1)[:, None]
            - 2.0 * features @ self.centroids_.T
            + (self.centroids_**2).sum(axis=1)[None, :]
        )
        return np.argmin(d2, axis=1).astype(np.int64)

    def _fit_model(self, matrix: sp.csr_array, history: History) -> None:
        known = history.user_features
        features = np.zeros((matrix.shape[0], self.spec_.n_features), dtype=np.float32)
        if len(known):
            ids = known.index.to_numpy(np.int64)
            features[ids] = known.to_numpy(np.float32)
        if self.params.by == "kmeans":
            from sklearn.cluster import KMeans

            sample = features[known.index.to_numpy(np.int64)] if len(known) else features
            n_clusters = max(1, min(self.params.n_segments, sample.shape[0]))
            model = KMeans(n_clusters=n_clusters, n_init=4, random_state=self.seed_)
            self.centroids_ = np.asarray(model.fit(sample).cluster_centers_, dtype=np.float32)
        segment = self.segments(features)
        n_seg = self.columns_.size if self.params.by == "feature" else self.centroids_.shape[0]
        assign = sp.csr_array(
            (np.ones(segment.size, np.float32), (segment, np.arange(segment.size))),
            shape=(n_seg, segment.size),
        )
        counts = np.asarray((assign @ matrix).toarray(), dtype=np.float64)
        total = counts.sum()
        share = counts.sum(axis=0) / total if total > 0 else np.zeros(counts.shape[1])
        self.segment_scores_ = (counts + self.params.prior_strength * share).astype(np.float32)

    def _personalisable(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array
    ) -> NDArray[np.bool_]:
        return np.full(users.size, self.segment_scores_.shape[0] > 0)

    def _score_items(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array, items: IntArray
    ) -> Float32Array:
        seg = self.segments(np.asarray(features, dtype=np.float32))
        # Item-major gather: columns of the (items, segments) table, no transposed copy.
        by_item = np.ascontiguousarray(self.segment_scores_[:, items].T)
        return np.take(by_item, seg, axis=1)
