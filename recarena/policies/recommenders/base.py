r"""Shared machinery of history-trained slate recommenders.

Every recommender in :mod:`~recarena.policies.recommenders.collaborative`,
:mod:`~recarena.policies.recommenders.hybrid`, :mod:`~recarena.policies.recommenders.content`
and :mod:`~recarena.policies.recommenders.association` derives from
:class:`HistoryRecommender`, which owns everything that is not the model itself:

* **Interactions.** On each scheduled :meth:`~recarena.policies.base.Policy.fit` the logged
  clicks and purchases become a user × item CSR matrix of weights

  .. math:: r_{ui} = \#\text{clicks}_{ui} + w_c \cdot \#\text{purchases}_{ui},

  rows indexed by the raw user id and columns by the item id (ids are dense in recarena, so
  the id maps are the identity; users that arrive later than the fit have no row and are
  *unknown*). Between fits, click and purchase feedback is added to a small *delta* matrix, so
  consumed-item filtering, the popularity fallback and models that score from the current
  interactions (item-kNN, PureSVD fold-in, content profiles) see every interaction at once.
* **Selection.** The model scores the available items for a block of users (item-major,
  ``(n_candidates, B)``, ``-inf`` = cannot score); items already consumed are removed when
  ``filter_consumed`` is set (off by default: recarena's users re-consume items, with a
  fatigue penalty only for their most recent ones; offline evaluation filters);
  :func:`blockwise_top_k` picks the best ``k`` exactly, with ties
  broken by the lower item id.
* **Fallback.** Users the model cannot personalise (unknown users, too few interactions, a
  model not fitted yet, or a model that scored nothing) get the most popular available items
  (interaction weight, ties by id) and ``Decision.fallback = True``. Slates the model could
  only partly fill are topped up from the same ranking.
* **Exploration.** With probability ``epsilon`` a user gets a uniformly random slate
  (:func:`recarena.policies.recommenders.slates.explore`, propensity of the first item logged;
  ``group`` = 1 for explored rows).
* **Threads.** Fit and scoring run under ``threadpoolctl`` with ``threads`` BLAS/OpenMP
  threads, so OpenBLAS, ``implicit`` and PyTorch do not oversubscribe the cores. Factor
  models rank blocks of users on ``threads`` worker threads instead (one BLAS thread each),
  so one block's matrix product overlaps another's top-k selection.

Determinism: fit-time randomness comes from :attr:`HistoryRecommender.seed_`, drawn once from
the policy's stream at setup, so fitting twice on the same history equals fitting once.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from queue import SimpleQueue
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from pydantic import Field

from recarena.contract import Decision, DecisionRequest, Feedback, FeedbackKind, History, Surface
from recarena.numerics.topk import blockwise_top_k
from recarena.policies.base import Policy, PolicyParams
from recarena.policies.recommenders.slates import explore
from recarena.typing import BoolArray, Float32Array, IntArray

__all__ = [
    "FactorRecommender",
    "HistoryRecommender",
    "RecommenderParams",
    "RefitPlan",
    "WarmStartParams",
    "blockwise_top_k",
    "interaction_frame",
    "interaction_matrix",
    "row_slice",
    "sparse_scores_item_major",
    "truncate_history",
    "user_feature_matrix",
]


#: Score elements per scoring block (≈ 16 MB of float32): big enough for BLAS, small for cache.
_BLOCK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------------- matrices
def interaction_matrix(
    history: History, n_items: int, conversion_weight: float, n_users: int | None = None
) -> sp.csr_array:
    r"""User × item CSR of interaction weights from a logged history.

    .. math:: r_{ui} = \#\{\text{clicks of } u \text{ on } i\}
              + w_c\,\#\{\text{purchases of } i \text{ by } u\}

    Rows are raw user ids (``n_users`` rows, default: one past the largest id among the
    history's users and interactions), columns item ids. float32, summed duplicates.
    """
    frames = [history.clicks, history.conversions]
    weights = [1.0, conversion_weight]
    users = np.concatenate([f["user"].to_numpy(np.int64) for f in frames if len(f)] + [_EMPTY])
    items = np.concatenate([f["item"].to_numpy(np.int64) for f in frames if len(f)] + [_EMPTY])
    w = np.concatenate(
        [np.full(len(f), wt, np.float32) for f, wt in zip(frames, weights, strict=True) if len(f)]
        + [np.zeros(0, np.float32)]
    )
    if n_users is None:
        known = history.user_features.index.to_numpy(np.int64)
        n_users = int(max(users.max(initial=-1), known.max(initial=-1))) + 1
    mat = sp.csr_array((w, (users, items)), shape=(n_users, n_items), dtype=np.float32)
    mat.sum_duplicates()
    mat.eliminate_zeros()
    return mat


_EMPTY = np.zeros(0, dtype=np.int64)


def row_slice(mat: sp.csr_array, rows: IntArray) -> sp.csr_array:
    """Rows ``rows`` of ``mat``; ids at or past ``mat.shape[0]`` give empty rows."""
    if mat.shape[0] == 0:
        return sp.csr_array((rows.size, mat.shape[1]), dtype=mat.dtype)
    inside = rows < mat.shape[0]
    if inside.all():
        return sp.csr_array(mat[rows])
    out = sp.csr_array(mat[np.where(inside, rows, 0)])
    return sp.csr_array(sp.diags_array(inside.astype(mat.dtype)) @ out)


def sparse_scores_item_major(scores: sp.csr_array, items: IntArray) -> Float32Array:
    """Dense item-major ``(len(items), B)`` scores from a sparse ``(B, n_items)`` matrix.

    Unstored entries are ``-inf`` (the model has no evidence for that item).
    """
    b = scores.shape[0]
    position = np.full(scores.shape[1], -1, dtype=np.int64)
    position[items] = np.arange(items.size)
    out = np.full((items.size, b), -np.inf, dtype=np.float32)
    coo = scores.tocoo()
    pos = position[coo.col]
    keep = pos >= 0
    out[pos[keep], coo.row[keep]] = coo.data[keep]
    return out


def _exclude(scores_t: NDArray[np.floating[Any]], position: IntArray, rows: sp.csr_array) -> None:
    """Set ``scores_t[position[item], user] = -inf`` for every stored (user, item) of ``rows``."""
    if rows.nnz == 0:
        return
    users = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    pos = position[rows.indices]
    keep = pos >= 0
    scores_t[pos[keep], users[keep]] = -np.inf


#: What a scheduled fit does: nothing (same data as the last fit), a full refit, or an
#: incremental one starting from the previous model.
RefitPlan = Literal["unchanged", "full", "incremental"]


# --------------------------------------------------------------------------------- base class
class RecommenderParams(PolicyParams):
    """Parameters shared by every :class:`HistoryRecommender`."""

    epsilon: float = Field(0.0, ge=0, le=1, description="share of uniformly random slates")
    filter_consumed: bool = Field(
        False,
        description="never recommend items the user already clicked or bought (off: the "
        "simulated users re-consume, with fatigue for recent items)",
    )
    conversion_weight: float = Field(
        1.0,
        ge=0,
        le=1000,
        description="w_c: extra interaction weight of a purchase over its click",
    )
    min_user_interactions: int = Field(
        1, ge=1, le=1_000_000, description="fewer interactions than this: popularity fallback"
    )
    threads: int = Field(1, ge=1, le=64, description="BLAS/OpenMP threads while fitting/scoring")
    refit_every: float | None = Field(
        None,
        gt=0,
        le=3650,
        description="days between refits: a scheduled fit sooner than this after the last one "
        "is skipped (None = refit at every scheduled retrain; longer than the run = fit once)",
    )


class WarmStartParams(RecommenderParams):
    """Parameters of recommenders that can refit incrementally from their previous model."""

    refit: Literal["full", "warm"] = Field(
        "full",
        description="full: refit from scratch at every scheduled fit; warm: start from the "
        "previous model and train warm_iterations passes (a full refit every "
        "full_refit_every fits)",
    )
    warm_iterations: int = Field(
        2, ge=1, le=500, description="passes (ALS sweeps / epochs) of a warm refit"
    )
    full_refit_every: int = Field(
        7, ge=1, le=10_000, description="every n-th scheduled fit is a full refit"
    )


class HistoryRecommender(Policy):
    """Base of slate recommenders refitted from the logged history (see module docstring).

    Subclasses implement :meth:`_fit_model` and :meth:`_score_items`, and may override
    :meth:`_personalisable`. Class attribute ``scores_current`` says the model scores from
    the current interactions (fit + delta), so users with interactions since the last fit are
    personalised too; otherwise a user must have had ``min_user_interactions`` at the fit.
    """

    surfaces = frozenset({Surface.SLATE})
    online = True
    batch_fit = True
    randomised = True
    scores_current: ClassVar[bool] = False
    #: :meth:`_score_block` is thread-safe: with ``threads > 1`` blocks of users are ranked
    #: in parallel (see :meth:`_rank_blocks`).
    parallel_blocks: ClassVar[bool] = False
    params: RecommenderParams

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        """The defaults and the shared options (exploration, filtering, a minimum history)."""
        return cls._recommender_configs()

    @classmethod
    def _recommender_configs(cls, *extras: dict[str, Any]) -> list[dict[str, Any]]:
        """:meth:`contract_configs` of a recommender: the defaults, the shared options, and
        each of ``extras`` (a model's own option sets)."""
        shared = {"epsilon": 0.2, "filter_consumed": True, "min_user_interactions": 2}
        return [
            {"kind": cls.kind},
            {"kind": cls.kind, **shared},
            *({"kind": cls.kind, **extra} for extra in extras),
        ]

    # ------------------------------------------------------------------ lifecycle
    def _setup(self) -> None:
        self.seed_ = int(self.rng_.integers(2**31 - 1))
        n = self.spec_.n_items
        self.fit_matrix_ = sp.csr_array((0, n), dtype=np.float32)
        self.fit_t_ = -np.inf
        self.fitted_ = False
        self.popularity_ = np.zeros(n)
        self._delta: list[tuple[IntArray, IntArray, Float32Array]] = []
        self._delta_matrix = sp.csr_array((0, n), dtype=np.float32)
        self._controller: Any = None
        self._last_fit: tuple[float, sp.csr_array] | None = None
        self._fits_since_full = 0
        self._reset_model()

    def _reset_model(self) -> None:
        """Forget model state (called at setup); subclasses clear what they learn."""

    def __getstate__(self) -> dict[str, Any]:
        # The thread-pool controller holds handles to loaded libraries, which do not pickle;
        # it is a cache, rebuilt on the next use.
        state = self.__dict__.copy()
        if "_controller" in state:
            state["_controller"] = None
        return state

    @contextmanager
    def threads(self, limit: int | None = None) -> Iterator[None]:
        """Limit BLAS/OpenMP threads to ``limit`` (default ``params.threads``) inside the block."""
        if self._controller is None:
            from threadpoolctl import ThreadpoolController

            self._controller = ThreadpoolController()
        with self._controller.limit(limits=self.params.threads if limit is None else limit):
            yield

    def _fit(self, history: History) -> None:
        every = self.params.refit_every
        if self.fitted_ and every is not None and history.t - self.fit_t_ < every - 1e-9:
            return  # a slower refit cadence than the schedule's (models go stale in between)
        mat = interaction_matrix(history, self.spec_.n_items, self.params.conversion_weight)
        self.fit_matrix_ = mat
        self.fit_t_ = history.t
        self._delta = []
        self._delta_matrix = sp.csr_array((0, self.spec_.n_items), dtype=np.float32)
        self.popularity_ = np.asarray(mat.sum(axis=0), dtype=np.float64).ravel()
        with self.threads():
            self._fit_model(mat, history)
        self.fitted_ = True

    def _learn(self, feedback: Feedback) -> None:
        if feedback.surface is not Surface.SLATE:
            return
        if feedback.kind is FeedbackKind.CLICK:
            users, items = self.new_clicks(feedback)
            weight = 1.0
        elif feedback.kind is FeedbackKind.CONVERSION and feedback.t > self.fit_t_:
            users, items = feedback.users.astype(np.int64), feedback.actions.astype(np.int64)
            weight = self.params.conversion_weight
        else:
            return
        if users.size == 0 or weight == 0:
            return
        self._delta.append((users, items, np.full(users.size, weight, np.float32)))
        self.popularity_ += np.bincount(items, minlength=self.popularity_.size) * weight

    def new_clicks(self, feedback: Feedback) -> tuple[IntArray, IntArray]:
        """(users, clicked items) of a click batch not already in the fitted history, in
        decision-time order (clicks decided up to the fit were logged in its history); every
        click of a session with several (pbm, dcm)."""
        rows, slots = feedback.clicks()
        if feedback.decision_time is not None:
            keep = feedback.decision_time[rows] > self.fit_t_
            rows, slots = rows[keep], slots[keep]
            order = np.argsort(feedback.decision_time[rows], kind="stable")
            rows, slots = rows[order], slots[order]
        items = feedback.actions[rows, slots]
        return feedback.users[rows].astype(np.int64), items.astype(np.int64)

    def refit_plan(self, matrix: sp.csr_array, incremental: bool, full_every: int) -> RefitPlan:
        """Decide what this scheduled fit on ``matrix`` does (and record it).

        ``"unchanged"`` when the history is the one of the previous fit (same time, same
        interactions): a warm-started model must not drift by being refitted on the same
        data, so fitting twice equals fitting once. Otherwise ``"full"`` for the first fit,
        when ``incremental`` is off, and on every ``full_every``-th fit; ``"incremental"``
        in between.
        """
        previous = self._last_fit
        if (
            previous is not None
            and previous[0] == self.fit_t_
            and previous[1].shape == matrix.shape
            and (previous[1] != matrix).nnz == 0
        ):
            return "unchanged"
        self._last_fit = (self.fit_t_, matrix)
        if not incremental or previous is None or self._fits_since_full + 1 >= full_every:
            self._fits_since_full = 0
            return "full"
        self._fits_since_full += 1
        return "incremental"

    # ------------------------------------------------------------------ interactions
    def current_rows(self, users: IntArray) -> sp.csr_array:
        """Interaction rows of ``users`` now: fitted history plus feedback since (B × n_items)."""
        rows = row_slice(self.fit_matrix_, users)
        if self._delta:
            u, i, w = (np.concatenate(parts) for parts in zip(*self._delta, strict=True))
            n_rows = max(int(u.max()) + 1, self._delta_matrix.shape[0])
            add = sp.csr_array((w, (u, i)), shape=(n_rows, self.spec_.n_items), dtype=np.float32)
            old = self._delta_matrix
            old.resize((n_rows, self.spec_.n_items))
            self._delta_matrix = sp.csr_array(old + add)
            self._delta = []
        if self._delta_matrix.nnz:
            rows = sp.csr_array(rows + row_slice(self._delta_matrix, users))
        return rows

    def _personalisable(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array
    ) -> BoolArray:
        """Which users the fitted model can score (``rows``: their current interactions)."""
        source = rows if self.scores_current else row_slice(self.fit_matrix_, users)
        counts = np.diff(source.indptr)
        return np.asarray(counts >= self.params.min_user_interactions)

    # ------------------------------------------------------------------ model hooks
    @abstractmethod
    def _fit_model(self, matrix: sp.csr_array, history: History) -> None:
        """Fit the model on the user×item matrix built from ``history``."""

    @abstractmethod
    def _score_items(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array, items: IntArray
    ) -> NDArray[np.float32]:
        """Scores of ``items`` (ascending ids) for ``users``, item-major ``(len(items), B)``.

        ``rows`` holds the users' current interactions. ``-inf`` marks items the model
        cannot score (never recommended by the model; the fallback may still show them).
        """

    def _prepare_scoring(self, items: IntArray) -> None:
        """Called once per :meth:`recommend` before the blocks are scored (possibly in
        parallel): build whatever :meth:`_score_block` reads for this catalogue."""

    def _score_block(
        self,
        users: IntArray,
        features: NDArray[np.float32],
        rows: sp.csr_array,
        items: IntArray,
        buffer: Float32Array,
    ) -> NDArray[np.floating[Any]]:
        """:meth:`_score_items`, free to write the scores into ``buffer`` (float32,
        ``(len(items), B)``) and return it. Must not change the policy's state."""
        return self._score_items(users, features, rows, items)

    # ------------------------------------------------------------------ acting
    def personalisable(self, users: IntArray, features: NDArray[np.float32]) -> BoolArray:
        """Which users the model would rank now (the others get the popularity fallback)."""
        self._check_set_up()
        if not self.fitted_:
            return np.zeros(users.size, dtype=bool)
        return self._personalisable(users, features, self.current_rows(users))

    def score_items(
        self, users: IntArray, features: NDArray[np.float32], items: IntArray
    ) -> Float32Array:
        """The model's current scores of ``items`` for ``users``, item-major ``(len(items), B)``.

        ``-inf`` where the model has no score, including every item for users it cannot
        personalise (no fallback here: this is the raw model, e.g. a stage-1 feature).
        """
        self._check_set_up()
        out = np.full((items.size, users.size), -np.inf, dtype=np.float32)
        if not self.fitted_ or not items.size or not users.size:
            return out
        rows = self.current_rows(users)
        personal = np.flatnonzero(self._personalisable(users, features, rows))
        if personal.size:
            with self.threads():
                scores = self._score_items(
                    users[personal], features[personal], sp.csr_array(rows[personal]), items
                )
            out[:, personal] = scores
        return out

    def recommend(
        self,
        users: IntArray,
        features: NDArray[np.float32],
        available: BoolArray,
        k: int,
        filter_consumed: bool | None = None,
        scores: Float32Array | None = None,
    ) -> tuple[IntArray, BoolArray]:
        """The top-``k`` available items for each user, without exploration.

        Parameters
        ----------
        users, features
            User ids (B,) and their encoded features (B, F).
        available
            Boolean mask over the catalogue of items that may be recommended.
        k
            List length (may exceed the slate size, e.g. for offline evaluation).
        filter_consumed
            Override ``params.filter_consumed``.
        scores
            Optional float32 ``(n_available, B)`` array filled with ``-inf`` by the caller: it
            receives the model's scores of the available items (ascending ids) before consumed
            items are excluded — what :meth:`score_items` returns — so a caller that needs
            both the list and the scores (a two-stage pipeline) scores the catalogue once.

        Returns
        -------
        items : numpy.ndarray
            int64 ``(B, k)``, best first, distinct per row; ``-1`` only when fewer than ``k``
            items are available.
        fallback : numpy.ndarray
            bool ``(B,)``: the model could not personalise this user (popularity list).
        """
        self._check_set_up()
        filt = self.params.filter_consumed if filter_consumed is None else filter_consumed
        items = np.flatnonzero(available).astype(np.int64)
        position = np.full(self.spec_.n_items, -1, dtype=np.int64)
        position[items] = np.arange(items.size)
        b = users.shape[0]
        out = np.full((b, k), -1, dtype=np.int64)
        consumed = self.current_rows(users)
        personal = np.zeros(b, dtype=bool)
        if self.fitted_ and items.size:
            personal = self._personalisable(users, features, consumed)
        rows = np.flatnonzero(personal)
        if rows.size:
            self._rank_blocks(users, features, consumed, rows, items, position, filt, out, scores)
        fallback = (out >= 0).sum(axis=1) == 0
        self._top_up(out, consumed, items, position, filt)
        return out, fallback

    def _rank_blocks(
        self,
        users: IntArray,
        features: NDArray[np.float32],
        consumed: sp.csr_array,
        rows: IntArray,
        items: IntArray,
        position: IntArray,
        filt: bool,
        out: IntArray,
        scores_out: Float32Array | None = None,
    ) -> None:
        """Write the model's top ``out.shape[1]`` items of ``users[rows]`` into ``out[rows]``.

        Users are scored in blocks of about ``_BLOCK_ELEMENTS`` scores, each written into a
        reused buffer (no fresh 16 MB allocation per block). With ``threads > 1`` and a
        class that allows it (:attr:`parallel_blocks`), ``threads`` workers take whole blocks
        (scores, exclusion, top-k) with one BLAS thread each: the matrix product of one block
        overlaps the selection of another (numpy and BLAS release the GIL). Blocks are
        independent, so the result does not depend on the number of threads.
        """
        k = out.shape[1]
        step = max(1, _BLOCK_ELEMENTS // items.size)
        blocks = [rows[start : start + step] for start in range(0, rows.size, step)]
        workers = min(self.params.threads, len(blocks)) if self.parallel_blocks else 1
        buffers: SimpleQueue[Float32Array] = SimpleQueue()
        for _ in range(workers):
            buffers.put(np.empty(items.size * min(step, rows.size), dtype=np.float32))

        def rank(blk: IntArray) -> None:
            buffer = buffers.get()
            block_rows = sp.csr_array(consumed[blk])
            scores = self._score_block(
                users[blk], features[blk], block_rows, items,
                buffer[: items.size * blk.size].reshape(items.size, blk.size),
            )  # fmt: skip
            if scores_out is not None:
                scores_out[:, blk] = scores
            if filt:
                _exclude(scores, position, block_rows)
            pos = blockwise_top_k(scores, k)
            out[blk] = np.where(pos >= 0, items[np.maximum(pos, 0)], -1)
            buffers.put(buffer)

        self._prepare_scoring(items)
        if workers == 1:
            with self.threads():
                for blk in blocks:
                    rank(blk)
            return
        with self.threads(1), ThreadPoolExecutor(workers) as pool:
            for _ in pool.map(rank, blocks):  # re-raises a worker's exception
                pass

    def _top_up(
        self, out: IntArray, consumed: sp.csr_array, items: IntArray, position: IntArray, filt: bool
    ) -> None:
        """Fill ``-1`` slots with the most popular items not yet in the row (and, first,
        not consumed when filtering; then consumed ones if nothing else is left)."""
        k = out.shape[1]
        base = self.popularity_[items].astype(np.float32)
        for exclude_consumed in (True, False) if filt else (False,):
            short = np.flatnonzero((out < 0).any(axis=1))
            step = max(1, _BLOCK_ELEMENTS // max(items.size, 1))
            for start in range(0, short.size, step):
                blk = short[start : start + step]
                scores = np.repeat(base[:, None], blk.size, axis=1)
                if exclude_consumed:
                    _exclude(scores, position, sp.csr_array(consumed[blk]))
                have = out[blk]
                r, c = np.nonzero(have >= 0)
                scores[position[have[r, c]], r] = -np.inf
                pos = blockwise_top_k(scores, k)
                extra = np.where(pos >= 0, items[np.maximum(pos, 0)], -1)
                # Append the extra items after the model's ones, keeping the model's order.
                merged = np.concatenate([have, extra], axis=1)
                order = np.argsort(merged < 0, axis=1, kind="stable")
                out[blk] = np.take_along_axis(merged, order, axis=1)[:, :k]

    def _act(self, request: DecisionRequest) -> Decision:
        k = self.spec_.slate_size
        ranked, fallback = self.recommend(
            request.users, request.features, request.available_items, k
        )
        if (ranked < 0).any():  # fewer than k items on sale
            ranked = self._pad_short(request, k)
        candidates = np.flatnonzero(request.available_items)
        return explore(self.rng_, ranked, candidates, self.params.epsilon).decision(fallback)

    def _pad_short(self, request: DecisionRequest, k: int) -> IntArray:
        """Slates when fewer than ``k`` items are on sale: all of them, last one repeated."""
        ranked, _ = self.recommend(
            request.users, request.features, request.available_items, k, filter_consumed=False
        )
        last = ranked[np.arange(ranked.shape[0]), (ranked >= 0).sum(axis=1) - 1]
        return np.where(ranked < 0, last[:, None], ranked)


class FactorRecommender(HistoryRecommender):
    r"""A recommender that scores by an inner product: :math:`s_{ui} = p_u \cdot q_i`.

    Subclasses set ``item_vectors_`` (n_items, d) float32 and ``item_scorable_`` (n_items,)
    bool in :meth:`_fit_model`, and implement :meth:`_user_vectors` (thread-safe: blocks
    are ranked in parallel when ``threads > 1``). Scoring is one matrix product per block of
    users, item-major (``Q_S P_Bᵀ``) and written into a reused buffer, followed by
    :func:`blockwise_top_k`; the item block for the current catalogue is cached.
    """

    parallel_blocks: ClassVar[bool] = True

    def _reset_model(self) -> None:
        self.item_vectors_ = np.zeros((self.spec_.n_items, 0), dtype=np.float32)
        self.item_scorable_ = np.zeros(self.spec_.n_items, dtype=bool)
        self._cache_items = _EMPTY
        self._cache_vectors = np.zeros((0, 0), dtype=np.float32)
        self._cache_mask: BoolArray = np.zeros(0, dtype=bool)
        self._cache_masked = False

    def _fit(self, history: History) -> None:
        super()._fit(history)
        self._cache_items = _EMPTY  # item vectors changed

    @abstractmethod
    def _user_vectors(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array
    ) -> NDArray[np.float32]:
        """User factor vectors (B, f) for scoring: fitted rows, or folded in from ``rows``."""

    def _prepare_scoring(self, items: IntArray) -> None:
        if self._cache_items.shape != items.shape or not np.array_equal(self._cache_items, items):
            self._cache_items = items.copy()
            self._cache_vectors = np.ascontiguousarray(self.item_vectors_[items])
            self._cache_mask = ~self.item_scorable_[items]
            self._cache_masked = bool(self._cache_mask.any())

    def _score_items(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array, items: IntArray
    ) -> NDArray[np.float32]:
        self._prepare_scoring(items)
        buffer = np.empty((items.size, users.size), dtype=np.float32)
        return self._score_block(users, features, rows, items, buffer)

    def _score_block(
        self,
        users: IntArray,
        features: NDArray[np.float32],
        rows: sp.csr_array,
        items: IntArray,
        buffer: Float32Array,
    ) -> Float32Array:
        p = np.ascontiguousarray(self._user_vectors(users, features, rows), dtype=np.float32)
        scores = np.matmul(self._cache_vectors, p.T, out=buffer)
        if self._cache_masked:
            scores[self._cache_mask] = -np.inf
        return scores


def interaction_frame(history: History, conversion_weight: float) -> pd.DataFrame:
    """Clicks and purchases as one ``t, user, item, weight`` frame, sorted by time."""
    parts = []
    for frame, weight in ((history.clicks, 1.0), (history.conversions, conversion_weight)):
        if len(frame):
            part = frame[["t", "user", "item"]].copy()
            part["weight"] = weight
            parts.append(part)
    if not parts:
        return pd.DataFrame({"t": [], "user": [], "item": [], "weight": []}).astype(
            {"user": np.int64, "item": np.int64}
        )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["t", "user", "item"], kind="stable").reset_index(drop=True)


def user_feature_matrix(history: History, n_users: int, n_features: int) -> Float32Array:
    """Encoded features of users ``0..n_users-1`` from ``history.user_features``, float32
    ``(n_users, n_features)``; zeros for users without a row."""
    features = np.zeros((n_users, n_features), dtype=np.float32)
    known = history.user_features
    if len(known):
        ids = known.index.to_numpy(np.int64)
        inside = ids < n_users
        features[ids[inside]] = known.to_numpy(np.float32)[inside]
    return features


def _until(frame: pd.DataFrame, t: float) -> pd.DataFrame:
    if not len(frame):
        return frame
    return frame.loc[frame["t"].to_numpy() <= t].reset_index(drop=True)


def truncate_history(history: History, t: float) -> History:
    """The history as it was at time ``t``: records up to ``t``, users arrived by ``t``."""
    lifecycle = _until(history.lifecycle, t)
    features = history.user_features
    if len(history.lifecycle):
        arrived = lifecycle.loc[lifecycle["event"] == "arrival", "user"].to_numpy(np.int64)
        features = features.loc[features.index.isin(arrived)]
    return History(
        t=t,
        clicks=_until(history.clicks, t),
        conversions=_until(history.conversions, t),
        impressions=_until(history.impressions, t),
        campaigns=_until(history.campaigns, t),
        lifecycle=lifecycle,
        user_features=features,
    )
