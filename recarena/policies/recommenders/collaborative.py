r"""Collaborative filtering: item-kNN, user-kNN, ALS, BPR and PureSVD.

All are :class:`~recarena.policies.recommenders.base.HistoryRecommender` s: refitted on the
scenario's schedule from the logged clicks and purchases (weights
:math:`r_{ui} = \#\text{clicks} + w_c\,\#\text{purchases}`), with consumed-item filtering,
popularity fallback, ε-exploration and blockwise top-k selection from the base class.

Nearest neighbours (``implicit.nearest_neighbours``, Deshpande & Karypis 2004):

* **item-kNN** — similarity between item columns of R, each item keeping its ``K`` nearest:
  cosine :math:`\frac{r_{\cdot i}\cdot r_{\cdot j}}{\lVert r_{\cdot i}\rVert\lVert r_{\cdot
  j}\rVert}`, TF-IDF (:math:`\sqrt{r_{ui}}\,\log\frac{N}{1+n_u}` per user, then cosine), or
  BM25 (Robertson & Zaragoza 2009: :math:`r\frac{K_1+1}{K_1((1-B)+B\,\ell_u/\bar\ell)+r}
  \cdot\mathrm{idf}`, then dot products). Score :math:`s_{ui} = \sum_j r_{uj}\,
  \mathrm{sim}(j, i)` from the user's *current* interactions, so new users are served as soon
  as they click. Items no neighbour reaches are not scored (popularity fills the slate).
* **user-kNN** — the same weightings between user rows;
  :math:`s_{ui} = \sum_{v \in N_K(u)} \mathrm{sim}(u, v)\,r_{vi}` (Herlocker et al. 1999).
  Users unknown at the fit fall back to popularity.

Matrix factorisation (scores :math:`s_{ui} = p_u\cdot q_i`, selected by the base's
:func:`~recarena.policies.recommenders.base.blockwise_top_k`; ``implicit``'s own ``recommend`` is
not used, so its ``-3.4e38`` scores for filtered items when fewer than N remain never leak):

* **ALS** — implicit-feedback ALS (Hu, Koren & Volinsky 2008): minimise
  :math:`\sum_{u,i} c_{ui}(p_{ui} - x_u\cdot y_i)^2 + \lambda(\sum\lVert x_u\rVert^2 +
  \sum\lVert y_i\rVert^2)` with :math:`p_{ui} = 1[r_{ui}>0]`, :math:`c_{ui} = 1 + \alpha
  r_{ui}`; conjugate-gradient solver (Takács et al. 2011). Deterministic with
  ``random_state`` (checked by the contract suite).
* **BPR** — Bayesian personalised ranking (Rendle et al. 2009): SGD on
  :math:`\sum \ln\sigma(s_{ui} - s_{uj}) - \lambda\lVert\Theta\rVert^2` over sampled
  (user, clicked i, unclicked j) triples, item bias in the last factor. Hogwild SGD is only
  reproducible with one thread (``threads: 1``, the default).
* **PureSVD** — truncated SVD :math:`R \approx U\Sigma V^\top` (randomised, seeded) and
  the fold-in score :math:`s_u = r_u V V^\top` (Cremonesi, Koren & Turrin 2010), which serves
  users with interactions after the fit without refitting.

Items without any interaction in the fitted history are *cold* for every model here: their
factors are zero (ALS) or random (BPR), so they are never scored (``-inf``) and reach users
only through exploration or the popularity top-up.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from pydantic import Field

from recarena.contract import History
from recarena.policies.recommenders.base import (
    FactorRecommender,
    HistoryRecommender,
    RecommenderParams,
    WarmStartParams,
    row_slice,
    sparse_scores_item_major,
)
from recarena.policies.registry import register
from recarena.typing import Float32Array, IntArray

__all__ = [
    "ALSRecommender",
    "BPRRecommender",
    "ItemKNNRecommender",
    "PureSVDRecommender",
    "UserKNNRecommender",
]


Weighting = Literal["cosine", "tfidf", "bm25"]


def _knn_model(weighting: str, neighbours: int, threads: int, k1: float, b: float) -> Any:
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender, TFIDFRecommender

    if weighting == "bm25":
        return BM25Recommender(K=neighbours, K1=k1, B=b, num_threads=threads)
    cls = CosineRecommender if weighting == "cosine" else TFIDFRecommender
    return cls(K=neighbours, num_threads=threads)


class KNNParams(RecommenderParams):
    """Parameters shared by the nearest-neighbour recommenders."""

    weighting: Weighting = Field("cosine", description="similarity: cosine, tfidf or bm25")
    neighbours: int = Field(50, ge=1, le=10_000, description="K nearest neighbours kept")
    bm25_k1: float = Field(1.2, gt=0, le=100, description="BM25 term-frequency saturation K1")
    bm25_b: float = Field(0.75, ge=0, le=1, description="BM25 length normalisation B")


class _KNNRecommender(HistoryRecommender):
    """Fits ``implicit``'s item-item model on R (item-kNN) or on Rᵀ (user-kNN)."""

    params: KNNParams
    transpose: bool = False

    def _reset_model(self) -> None:
        self.similarity_ = sp.csr_array((0, 0), dtype=np.float32)

    def _fit_model(self, matrix: sp.csr_array, history: History) -> None:
        p = self.params
        model = _knn_model(p.weighting, p.neighbours, p.threads, p.bm25_k1, p.bm25_b)
        data = sp.csr_matrix(matrix.T if self.transpose else matrix, dtype=np.float32)
        with warnings.catch_warnings():
            # implicit re-weights into a COO matrix internally and then warns about its own
            # conversion back to CSR; nothing to act on here.
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            model.fit(data, show_progress=False)
        self.similarity_ = sp.csr_array(model.similarity, dtype=np.float32)


@register
class ItemKNNRecommender(_KNNRecommender):
    """Item-based nearest neighbours (cosine / TF-IDF / BM25) via ``implicit``."""

    class Params(KNNParams):
        kind: Literal["item_knn"] = "item_knn"

    summary = "Item-kNN collaborative filtering (cosine, TF-IDF or BM25 via implicit)."
    scores_current = True

    params: Params

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        return cls._recommender_configs(
            {"weighting": "bm25"}, {"weighting": "tfidf", "neighbours": 5}
        )

    def _score_items(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array, items: IntArray
    ) -> Float32Array:
        return sparse_scores_item_major(sp.csr_array(rows @ self.similarity_), items)


@register
class UserKNNRecommender(_KNNRecommender):
    """User-based nearest neighbours (cosine / TF-IDF / BM25) via ``implicit``."""

    class Params(KNNParams):
        kind: Literal["user_knn"] = "user_knn"

    summary = "User-kNN collaborative filtering (cosine, TF-IDF or BM25 via implicit)."
    transpose = True

    params: Params

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        return cls._recommender_configs({"weighting": "bm25"}, {"weighting": "tfidf"})

    def _score_items(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array, items: IntArray
    ) -> Float32Array:
        neighbours = row_slice(self.similarity_, users)
        return sparse_scores_item_major(sp.csr_array(neighbours @ self.fit_matrix_), items)


class _ImplicitFactors(FactorRecommender):
    """Takes user/item factors from a fitted ``implicit`` model."""

    @abstractmethod
    def _implicit_model(self) -> Any:
        """The unfitted ``implicit`` model configured from ``self.params``."""

    def _reset_model(self) -> None:
        super()._reset_model()
        self.user_vectors_ = np.zeros((0, 0), dtype=np.float32)
        self.model_: Any = None

    def _fit_model(self, matrix: sp.csr_array, history: History) -> None:
        self._fit_implicit(self._implicit_model(), matrix)

    def _fit_implicit(self, model: Any, matrix: sp.csr_array) -> None:
        """Fit ``model`` from scratch on ``matrix`` and take its factors."""
        model.fit(sp.csr_matrix(matrix, dtype=np.float32), show_progress=False)
        self.model_ = model
        self._take_factors(matrix)

    def _take_factors(self, matrix: sp.csr_array) -> None:
        model = self.model_
        self.user_vectors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_vectors_ = np.asarray(model.item_factors, dtype=np.float32)
        self.item_scorable_ = np.diff(sp.csc_array(matrix).indptr) > 0
        self._cache_items = np.zeros(0, dtype=np.int64)  # item vectors changed

    def _user_vectors(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array
    ) -> Float32Array:
        return self.user_vectors_[users]


@register
class ALSRecommender(_ImplicitFactors):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) via ``implicit``.

    Refits (``refit``): ``full`` solves from a random start every time; ``warm`` runs
    ``warm_iterations`` sweeps from the previous factors (new users start at random, as in a
    full fit); ``partial`` re-solves only the users whose rows changed since the last fit
    and then the items whose columns changed (``implicit``'s ``partial_fit_users`` /
    ``partial_fit_items``: one least-squares solve each, against the other side's current
    factors). Both keep a full refit every ``full_refit_every`` fits, so the factors cannot
    drift far from the full solution.
    """

    class Params(WarmStartParams):
        kind: Literal["als"] = "als"
        factors: int = Field(64, ge=1, le=1024, description="latent dimension")
        regularization: float = Field(0.05, ge=0, le=1e4, description="λ: L2 penalty")
        alpha: float = Field(2.0, ge=0, le=1e4, description="α in the confidence c = 1 + α r")
        iterations: int = Field(15, ge=1, le=500, description="ALS sweeps")
        refit: Literal["full", "warm", "partial"] = Field(  # type: ignore[assignment]
            "full",
            description="full: solve from scratch at each fit; warm: warm_iterations sweeps "
            "from the previous factors; partial: re-solve only changed users, then changed "
            "items (a full refit every full_refit_every fits either way)",
        )

    summary = "Matrix factorisation by implicit-feedback ALS (implicit), full/warm/partial refits."

    params: Params

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        return cls._recommender_configs(
            {"factors": 4, "alpha": 10.0},
            {"factors": 4, "refit": "warm", "full_refit_every": 3},
            {"factors": 4, "refit": "partial"},
        )

    def _implicit_model(self) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares

        p = self.params
        return AlternatingLeastSquares(
            factors=p.factors,
            regularization=p.regularization,
            alpha=p.alpha,
            iterations=p.iterations,
            num_threads=p.threads,
            random_state=self.seed_,
        )

    def _fit_model(self, matrix: sp.csr_array, history: History) -> None:
        p = self.params
        previous = self._last_fit[1] if self._last_fit is not None else None
        plan = self.refit_plan(matrix, p.refit != "full", p.full_refit_every)
        if plan == "unchanged":
            return
        if plan == "full" or self.model_ is None or previous is None:
            super()._fit_model(matrix, history)
            return
        data = sp.csr_matrix(matrix, dtype=np.float32)
        if p.refit == "warm":
            self._warm_sweeps(data)
        else:
            self._partial_solves(data, previous)
        self._take_factors(matrix)

    def _warm_sweeps(self, data: sp.csr_matrix) -> None:
        """``warm_iterations`` ALS sweeps starting from the previous factors."""
        model = self.model_
        old = model.user_factors
        if old.shape[0] < data.shape[0]:  # users who arrived since: random start rows
            rng = np.random.default_rng(self.seed_ + self._fits_since_full)
            extra = rng.random((data.shape[0] - old.shape[0], old.shape[1]), np.float32) * 0.01
            model.user_factors = np.vstack([old, extra.astype(old.dtype)])
        model.iterations = self.params.warm_iterations
        model.fit(data, show_progress=False)
        model.iterations = self.params.iterations

    def _partial_solves(self, data: sp.csr_matrix, previous: sp.csr_array) -> None:
        """Re-solve users whose rows changed, then items whose columns changed."""
        model = self.model_
        old = sp.csr_array(previous, copy=True)
        old.resize(data.shape)
        changed = sp.csr_array(data) != old
        users = np.flatnonzero(np.diff(changed.indptr) > 0)
        items = np.flatnonzero(np.diff(sp.csc_array(changed).indptr) > 0)
        if users.size:
            model.partial_fit_users(users, data[users])
        if items.size:
            model.partial_fit_items(items, sp.csr_matrix(data.T)[items])
            # Again for the users: one whose clicks are all on items new since the last fit
            # was solved against their zero factors in the first pass. (Users and items
            # linked only to each other stay at zero until the next full refit.)
            model.partial_fit_users(users, data[users])
        missing = data.shape[0] - model.user_factors.shape[0]
        if missing > 0:  # trailing users without interactions: zero factors, as new users get
            pad = np.zeros((missing, model.user_factors.shape[1]), model.user_factors.dtype)
            model.user_factors = np.vstack([model.user_factors, pad])


@register
class BPRRecommender(_ImplicitFactors):
    """Bayesian personalised ranking (Rendle et al. 2009) via ``implicit``."""

    class Params(RecommenderParams):
        kind: Literal["bpr"] = "bpr"
        factors: int = Field(64, ge=1, le=1024, description="latent dimension")
        learning_rate: float = Field(0.05, gt=0, le=10, description="SGD step size")
        regularization: float = Field(0.01, ge=0, le=1e4, description="λ: L2 penalty")
        iterations: int = Field(100, ge=1, le=5000, description="SGD epochs")

    summary = "Matrix factorisation by Bayesian personalised ranking (implicit)."

    params: Params

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        return cls._recommender_configs({"factors": 4, "iterations": 20})

    def _implicit_model(self) -> Any:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        p = self.params
        return BayesianPersonalizedRanking(
            factors=p.factors,
            learning_rate=p.learning_rate,
            regularization=p.regularization,
            iterations=p.iterations,
            num_threads=p.threads,
            random_state=self.seed_,
        )


@register
class PureSVDRecommender(FactorRecommender):
    """Truncated SVD of the interaction matrix with fold-in scoring (PureSVD)."""

    class Params(RecommenderParams):
        kind: Literal["svd"] = "svd"
        factors: int = Field(32, ge=1, le=1024, description="rank of the truncated SVD")

    summary = "PureSVD: truncated SVD (scipy) with fold-in scores r_u V Vᵀ."
    scores_current = True
    params: Params

    def _fit_model(self, matrix: sp.csr_array, history: History) -> None:
        from sklearn.utils.extmath import randomized_svd

        rank = min(self.params.factors, min(matrix.shape) - 1)
        if rank < 1 or matrix.nnz == 0:
            self.item_vectors_ = np.zeros((self.spec_.n_items, 1), dtype=np.float32)
            self.item_scorable_ = np.zeros(self.spec_.n_items, dtype=bool)
            return
        # Randomised range finder (Halko, Martinsson & Tropp 2011) seeded from seed_: unlike
        # ARPACK it gives the same subspace on every call, so refits are reproducible.
        _, _, vt = randomized_svd(
            sp.csr_array(matrix, dtype=np.float64), rank, n_iter=7, random_state=self.seed_
        )
        self.item_vectors_ = np.ascontiguousarray(vt.T, dtype=np.float32)
        self.item_scorable_ = np.diff(sp.csc_array(matrix).indptr) > 0

    def _user_vectors(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array
    ) -> Float32Array:
        return np.asarray(rows @ self.item_vectors_, dtype=np.float32)
