r"""LightFM: a hybrid factorisation model with user and item features (Kula 2015).

Every user and item is the sum of the embeddings of its features:

.. math:: p_u = \sum_{f} x^U_{uf}\, e^U_f, \quad q_i = \sum_{g} x^I_{ig}\, e^I_g, \quad
          s_{ui} = p_u \cdot q_i + b_i \; (+ b_u, \text{ constant per user}).

Features (each row L1-normalised, as the LightFM docs advise, so users and items with many
features are not louder):

* users — a per-user identity column for users with interactions in the fitted history, plus
  the observable encoded features (numeric standardised, categorical one-hot) when
  ``user_features`` is set;
* items — a per-item identity column for items with interactions, plus (``item_features``)
  the category (one-hot), a log-price quintile (one-hot) and the words of the description
  (binary bag of words).

A user or item without interactions has no identity column, so it is represented by its
features alone — at training time too, so cold items are ranked by what their features
learnt: this is how LightFM serves **cold-start users and items** (new arrivals are scored
from their features at once; with ``user_features: false`` they fall back to popularity).

Losses: ``warp`` (Weston et al. 2011, weighted approximate-rank pairwise), ``bpr`` (Rendle et
al. 2009), ``logistic`` (pointwise; its negatives are the logged impressions the user did not
click, since clicks alone are all positive), ``warp-kos`` (k-order statistic). Training uses
``random_state`` seeded from ``seed_`` and one thread per ``threads``; with one thread it is
reproducible.

Library: ``rectools-lightfm`` (imports as ``lightfm``), imported inside :meth:`_fit_model`.
This module is called ``hybrid`` so that nothing named ``lightfm`` inside the package can
ever shadow the library.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from pydantic import Field

from recarena.contract import EnvironmentSpec, History
from recarena.policies.recommenders.base import (
    FactorRecommender,
    RecommenderParams,
    user_feature_matrix,
)
from recarena.policies.registry import register
from recarena.typing import Float32Array, IntArray

__all__ = ["LightFMRecommender", "catalogue_features"]


def _l1_rows(mat: sp.csr_array) -> sp.csr_array:
    """Each row divided by the sum of its absolute values (empty rows stay empty)."""
    norms = np.asarray(abs(mat).sum(axis=1), dtype=np.float64).ravel()
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_array(sp.diags_array(scale.astype(np.float32)) @ mat)


def _int32_csr(mat: sp.csr_array) -> sp.csr_matrix:
    """A float32 ``csr_matrix`` with int32 indices, as LightFM's Cython code requires."""
    out = sp.csr_matrix(mat, dtype=np.float32)
    out.indices = out.indices.astype(np.int32)
    out.indptr = out.indptr.astype(np.int32)
    return out


def catalogue_features(spec: EnvironmentSpec, price_bins: int = 5) -> sp.csr_array:
    """Public item attributes as a binary sparse matrix ``(n_items, n_features)``.

    Columns: category one-hot, log-price quantile bin one-hot (``price_bins`` bins over the
    whole catalogue), and the words of each description (binary bag of words).
    """
    from sklearn.feature_extraction.text import CountVectorizer

    n = spec.n_items
    rows = np.arange(n)
    category = sp.csr_array(
        (np.ones(n, np.float32), (rows, spec.item_category)), shape=(n, max(spec.n_categories, 1))
    )
    log_price = np.log(spec.item_price)
    edges = np.quantile(log_price, np.linspace(0, 1, price_bins + 1)[1:-1])
    price = sp.csr_array(
        (np.ones(n, np.float32), (rows, np.searchsorted(edges, log_price))),
        shape=(n, price_bins),
    )
    words = CountVectorizer(binary=True, dtype=np.float32).fit_transform(spec.item_text)
    return sp.csr_array(sp.hstack([category, price, sp.csr_array(words)], format="csr"))


@register
class LightFMRecommender(FactorRecommender):
    """LightFM (WARP / BPR / logistic) with user and item features, cold-start capable."""

    class Params(RecommenderParams):
        kind: Literal["lightfm"] = "lightfm"
        loss: Literal["warp", "bpr", "logistic", "warp-kos"] = Field(
            "warp", description="training loss"
        )
        factors: int = Field(32, ge=1, le=512, description="embedding dimension")
        epochs: int = Field(20, ge=1, le=1000, description="passes over the interactions")
        learning_rate: float = Field(0.05, gt=0, le=10, description="adagrad step size")
        item_alpha: float = Field(1e-6, ge=0, le=1e3, description="L2 penalty on item features")
        user_alpha: float = Field(1e-6, ge=0, le=1e3, description="L2 penalty on user features")
        max_sampled: int = Field(
            10, ge=1, le=10_000, description="WARP: max negatives sampled per step"
        )
        user_features: bool = Field(True, description="use observable user features")
        item_identity: bool = Field(
            True, description="per-item identity embeddings for items with interactions"
        )
        item_features: bool = Field(
            True, description="use category, price bin and description words"
        )

    summary = "LightFM hybrid MF (WARP/BPR/logistic) with user and item features."
    contextual = True

    params: Params

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        return cls._recommender_configs(
            {"loss": "logistic", "user_features": False},
            {"loss": "bpr", "item_identity": False, "epochs": 5},
            {"item_features": False},
        )

    def _reset_model(self) -> None:
        super()._reset_model()
        self.item_content_ = (
            catalogue_features(self.spec_)
            if self.params.item_features
            else sp.csr_array((self.spec_.n_items, 0), dtype=np.float32)
        )
        self.warm_users_ = np.zeros(0, dtype=bool)
        self.user_embeddings_ = np.zeros((0, 0), dtype=np.float32)

    # ------------------------------------------------------------------ features
    def _user_matrix(self, users: IntArray, features: NDArray[np.float32]) -> sp.csr_array:
        """Feature rows of ``users``: identity (warm users only) | observable features."""
        n_warm = self.warm_users_.size
        warm = (users < n_warm) & self.warm_users_[np.minimum(users, max(n_warm - 1, 0))]
        ident = sp.csr_array(
            (np.ones(int(warm.sum()), np.float32), (np.flatnonzero(warm), users[warm])),
            shape=(users.size, n_warm),
        )
        blocks = [ident]
        if self.params.user_features:
            blocks.append(sp.csr_array(np.asarray(features, dtype=np.float32)))
        return _l1_rows(sp.csr_array(sp.hstack(blocks, format="csr")))

    def _item_matrix(self, warm_items: NDArray[np.bool_]) -> sp.csr_array:
        ident = sp.diags_array(warm_items.astype(np.float32), format="csr")
        return _l1_rows(sp.csr_array(sp.hstack([ident, self.item_content_], format="csr")))

    @staticmethod
    def _negatives(history: History, positives: sp.csr_array) -> sp.coo_array:
        """Shown-but-never-clicked (user, item) pairs from the impressions, as −1 entries."""
        imp = history.impressions
        if not len(imp):
            return sp.coo_array(positives.shape, dtype=np.float32)
        slates = np.stack(list(imp["slate"]))
        users = np.repeat(imp["user"].to_numpy(np.int64), slates.shape[1])
        items = slates.ravel().astype(np.int64)
        keep = users < positives.shape[0]
        users, items = users[keep], items[keep]
        shown = sp.csr_array(
            (np.ones(users.size, np.float32), (users, items)), shape=positives.shape
        )
        shown.sum_duplicates()
        shown.data[:] = 1.0
        negative = shown - shown.multiply(positives > 0)
        negative.eliminate_zeros()
        return sp.coo_array(-negative)

    # ------------------------------------------------------------------ fit / score
    def _fit_model(self, matrix: sp.csr_array, history: History) -> None:
        from lightfm import LightFM

        p = self.params
        n_users, n_items = matrix.shape
        self.warm_users_ = np.diff(matrix.indptr) > 0
        warm_items = np.diff(sp.csc_array(matrix).indptr) > 0
        if not p.item_identity and p.item_features:
            warm_items = np.zeros(n_items, dtype=bool)
        if matrix.nnz == 0:
            self.item_scorable_ = np.zeros(n_items, dtype=bool)
            return
        features = user_feature_matrix(history, n_users, self.spec_.n_features)
        user_x = self._user_matrix(np.arange(n_users, dtype=np.int64), features)
        item_x = self._item_matrix(warm_items)
        positives = sp.coo_array(matrix > 0, dtype=np.float32)
        if p.loss == "logistic":
            interactions = sp.coo_array(positives + self._negatives(history, matrix))
        else:
            interactions = positives
        model = LightFM(
            no_components=p.factors,
            loss=p.loss,
            learning_rate=p.learning_rate,
            item_alpha=p.item_alpha,
            user_alpha=p.user_alpha,
            max_sampled=p.max_sampled,
            random_state=np.random.RandomState(self.seed_),
        )
        coo = sp.coo_matrix(
            (
                interactions.data,
                (interactions.row.astype(np.int32), interactions.col.astype(np.int32)),
            ),
            shape=interactions.shape,
            dtype=np.float32,
        )
        model.fit(
            coo,
            user_features=_int32_csr(user_x),
            item_features=_int32_csr(item_x),
            epochs=p.epochs,
            num_threads=p.threads,
        )
        item_emb = np.asarray(item_x @ model.item_embeddings, dtype=np.float32)
        item_bias = np.asarray(item_x @ model.item_biases, dtype=np.float32)
        self.item_vectors_ = np.hstack([item_emb, item_bias[:, None]])
        self.item_scorable_ = np.ones(n_items, dtype=bool) if p.item_features else warm_items
        self.user_embeddings_ = np.asarray(model.user_embeddings, dtype=np.float32)

    def _personalisable(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array
    ) -> NDArray[np.bool_]:
        if self.user_embeddings_.size == 0:
            return np.zeros(users.size, dtype=bool)
        if self.params.user_features:
            return np.ones(users.size, dtype=bool)
        n_warm = self.warm_users_.size
        return (users < n_warm) & self.warm_users_[np.minimum(users, max(n_warm - 1, 0))]

    def _user_vectors(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array
    ) -> Float32Array:
        emb = np.asarray(self._user_matrix(users, features) @ self.user_embeddings_, np.float32)
        return np.hstack([emb, np.ones((users.size, 1), dtype=np.float32)])
