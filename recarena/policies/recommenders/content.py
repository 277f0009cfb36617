r"""Content-based recommenders over the item descriptions (TF-IDF).

Each item description becomes a TF-IDF vector (scikit-learn ``TfidfVectorizer``: sublinear
term frequency :math:`1 + \log tf`, smoothed :math:`\mathrm{idf}(w) = 1 + \log\frac{1 + n}
{1 + \mathrm{df}(w)}`, rows L2-normalised; Salton & Buckley 1988). The catalogue text is
public, so the vectors are built at setup for every item, including those released later:
a new item is scorable the moment it goes on sale (content models have no item cold start).

* ``text_tfidf`` — the user profile is the interaction-weighted mean of the vectors of the
  items the user consumed, :math:`\pi_u = \sum_i r_{ui} x_i / \sum_i r_{ui}`, and items are
  ranked by :math:`s_{ui} = \pi_u \cdot x_i` (∝ cosine, since :math:`\lVert x_i\rVert = 1`;
  Pazzani & Billsus 2007). The profile uses the current interactions, so a user is
  personalised from the first click, without waiting for a refit.
* ``similar_items`` — item-to-item "similar description": each item keeps its ``neighbours``
  most cosine-similar items; a user is shown the neighbours of the ``anchors`` items they
  consumed most recently, :math:`s_{uj} = \sum_{a \in A_u} \cos(x_a, x_j)` over the
  neighbour lists (Lops, de Gemmis & Semeraro 2011).

Neither model needs fitting: they personalise from setup on. The scheduled fit still rebuilds
the interaction state from the logged history (as every recommender here does).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from pydantic import Field

from recarena.contract import EnvironmentSpec, Feedback, FeedbackKind, History, Surface
from recarena.numerics.topk import top_k
from recarena.policies.recommenders.base import (
    FactorRecommender,
    HistoryRecommender,
    RecommenderParams,
    sparse_scores_item_major,
)
from recarena.policies.registry import register
from recarena.typing import Float32Array, IntArray

__all__ = ["SimilarItemsRecommender", "TfidfRecommender", "tfidf_vectors"]


def tfidf_vectors(spec: EnvironmentSpec, max_features: int | None = None) -> Float32Array:
    """L2-normalised TF-IDF vectors of the item descriptions, dense ``(n_items, V)``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(sublinear_tf=True, max_features=max_features, dtype=np.float32)
    return np.asarray(vectorizer.fit_transform(spec.item_text).toarray(), dtype=np.float32)


class _TextParams(RecommenderParams):
    max_features: int = Field(
        2000, ge=1, le=100_000, description="vocabulary size cap (most frequent words)"
    )


@register
class TfidfRecommender(FactorRecommender):
    """Content-based: TF-IDF user profile (weighted mean of consumed items) · item vectors."""

    class Params(_TextParams):
        kind: Literal["text_tfidf"] = "text_tfidf"

    summary = "Content-based: TF-IDF profile of consumed items vs item descriptions."
    scores_current = True
    params: Params

    def _reset_model(self) -> None:
        super()._reset_model()
        self.item_vectors_ = tfidf_vectors(self.spec_, self.params.max_features)
        self.item_scorable_ = np.ones(self.spec_.n_items, dtype=bool)
        self.fitted_ = True  # nothing to learn beyond the catalogue text

    def _fit_model(self, matrix: sp.csr_array, history: History) -> None:
        """Nothing to fit: profiles come from the current interactions."""

    def _user_vectors(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array
    ) -> Float32Array:
        total = np.asarray(rows.sum(axis=1), dtype=np.float32).ravel()
        profile = np.asarray(rows @ self.item_vectors_, dtype=np.float32)
        return np.asarray(profile / np.maximum(total, 1e-12)[:, None], dtype=np.float32)


@register
class SimilarItemsRecommender(HistoryRecommender):
    """Item-to-item: neighbours (by description cosine) of the user's latest items."""

    class Params(_TextParams):
        kind: Literal["similar_items"] = "similar_items"
        neighbours: int = Field(50, ge=1, le=5000, description="similar items kept per item")
        anchors: int = Field(3, ge=1, le=100, description="latest consumed items used")

    summary = "Item-to-item 'similar description' (TF-IDF cosine) of the latest items."

    params: Params

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        return cls._recommender_configs({"anchors": 1, "neighbours": 5})

    def _reset_model(self) -> None:
        vectors = tfidf_vectors(self.spec_, self.params.max_features)
        self.similar_ = _neighbour_matrix(vectors, self.params.neighbours)
        # Ring of each user's latest consumed items (-1 = empty), grown as ids appear.
        self.recent_ = np.full((0, self.params.anchors), -1, dtype=np.int64)
        self.fitted_ = True

    def _grow(self, n_users: int) -> None:
        if n_users > self.recent_.shape[0]:
            extra = np.full((n_users - self.recent_.shape[0], self.params.anchors), -1)
            self.recent_ = np.vstack([self.recent_, extra.astype(np.int64)])

    def _push(self, users: IntArray, items: IntArray) -> None:
        """Append (user, item) events in order: each becomes its user's latest item."""
        if users.size == 0:
            return
        self._grow(int(users.max()) + 1)
        for u, i in zip(users.tolist(), items.tolist(), strict=True):
            ring = self.recent_[u]
            ring[:-1] = ring[1:]
            ring[-1] = i

    def _fit_model(self, matrix: sp.csr_array, history: History) -> None:
        self.recent_ = np.full((0, self.params.anchors), -1, dtype=np.int64)
        clicks = history.clicks.sort_values(["t", "user", "item"], kind="stable")
        latest = clicks.groupby("user", sort=False).tail(self.params.anchors)
        self._push(latest["user"].to_numpy(np.int64), latest["item"].to_numpy(np.int64))

    def _learn(self, feedback: Feedback) -> None:
        super()._learn(feedback)
        if feedback.kind is FeedbackKind.CLICK and feedback.surface is Surface.SLATE:
            self._push(*self.new_clicks(feedback))

    def _anchors(self, users: IntArray) -> IntArray:
        self._grow(int(users.max(initial=-1)) + 1)
        return self.recent_[users]

    def _personalisable(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array
    ) -> NDArray[np.bool_]:
        return np.asarray((self._anchors(users) >= 0).any(axis=1))

    def _score_items(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array, items: IntArray
    ) -> Float32Array:
        anchors = self._anchors(users)
        r, c = np.nonzero(anchors >= 0)
        picks = sp.csr_array(
            (np.ones(r.size, np.float32), (r, anchors[r, c])),
            shape=(users.size, self.spec_.n_items),
        )
        return sparse_scores_item_major(sp.csr_array(picks @ self.similar_), items)


def _neighbour_matrix(vectors: Float32Array, neighbours: int) -> sp.csr_array:
    """Sparse ``(n, n)``: each row keeps its ``neighbours`` most cosine-similar other items
    (ties by lower id; zero similarities dropped)."""
    n = vectors.shape[0]
    k = min(neighbours, max(n - 1, 1))
    step = max(1, (1 << 22) // max(n, 1))
    rows, cols, vals = [], [], []
    for start in range(0, n, step):
        sim = vectors[start : start + step] @ vectors.T
        own = np.arange(start, min(start + step, n))
        sim[own - start, own] = -np.inf  # an item is not its own neighbour
        idx, val = top_k(sim, k)
        keep = (idx >= 0) & (val > 0)
        rows.append(np.broadcast_to(own[:, None], idx.shape)[keep])
        cols.append(idx[keep])
        vals.append(val[keep])
    data = np.concatenate(vals).astype(np.float32) if vals else np.zeros(0, np.float32)
    return sp.csr_array(
        (data, (np.concatenate(rows), np.concatenate(cols))) if rows else data, shape=(n, n)
    )
