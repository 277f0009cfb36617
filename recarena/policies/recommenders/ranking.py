r"""Two-stage recommender: candidate generators, then a learnt ranker (one policy).

Stage 1 — candidates
    Each generator (any history-trained slate recommender: ALS, item-kNN, TF-IDF text,
    LightFM, the neural models, ``segment_popularity`` for popularity…) proposes its top
    ``candidates`` available items per user. The union keeps provenance: every pair carries
    each generator's rank (absent = list length + 1) and raw score.
Stage 2 — ranker
    A ranker (:mod:`recarena.models.rankers`: CatBoostRanker with YetiRank / PairLogit /
    QueryRMSE, CatBoostRegressor, or scikit-learn's HistGradientBoostingRegressor) scores the
    candidate pairs from the features of :mod:`recarena.models.ranking_features`; the slate
    is the top ``k`` by that score, through the shared blockwise top-k path.

Training (at every scheduled fit at time :math:`t`), leak-free on a time split
    The cut-off is :math:`c = t - ` ``label_days``. Fresh copies of the generators are fitted
    on the log up to :math:`c`, the candidates and every feature are computed at :math:`c`,
    and the labels come from :math:`(c, t]` (2 bought, 1 clicked, 0 not). Groups are the
    users active after :math:`c` (at most ``max_training_users``, sampled); each group holds
    the union of candidates, the items shown to the user after :math:`c` (shown-not-clicked
    negatives, when the run keeps impressions) and ``sampled_negatives`` uniformly drawn
    items; of its negatives (label 0) at most ``max_negatives`` are kept, drawn uniformly,
    which bounds the ranker's training cost without losing a positive. Then the serving
    generators are refitted on the whole log up to :math:`t`.
    Until a ranker could be trained (no clicks before the cut, or no positive label), the
    candidates are ordered by reciprocal-rank fusion :math:`\sum_g 1/(60 + \text{rank}_g)`
    (Cormack, Clarke & Büttcher 2009).

Fallback
    A user no generator can personalise (all would serve popularity) gets the popularity
    slate with ``Decision.fallback = True``, as every recommender here.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator

from recarena.contract import Feedback, History
from recarena.models.rankers import RankerKind, RankerSpec, RankingLoss, fit_ranker
from recarena.models.ranking_features import (
    CandidateSet,
    ItemStats,
    item_stats,
    pair_features,
    pair_labels,
    shown_after,
    union_candidates,
)
from recarena.policies import registry
from recarena.policies.recommenders.base import (
    HistoryRecommender,
    RecommenderParams,
    interaction_frame,
    interaction_matrix,
    row_slice,
    truncate_history,
)
from recarena.policies.registry import register
from recarena.typing import Float32Array, IntArray

__all__ = ["GeneratorConfig", "TwoStageRecommender"]


#: Score elements per block of training users (users × catalogue), as in the serving path.
_BLOCK_ELEMENTS = 1 << 22
#: Reciprocal-rank-fusion constant (Cormack et al. 2009).
_RRF_K = 60.0


class GeneratorConfig(BaseModel):
    """One candidate generator: a history-trained recommender and its list length."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: dict[str, Any] = Field(description="policy config ({kind: ..., params})")
    candidates: int = Field(50, ge=1, le=100_000, description="top items it proposes per user")

    @field_validator("policy")
    @classmethod
    def _history_recommender(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            policy_cls, _ = registry.parse_params(value)
        except registry.UnknownPolicyError as exc:  # a KeyError: pydantic wants ValueError
            raise ValueError(str(exc)) from None
        if not issubclass(policy_cls, HistoryRecommender):
            allowed = sorted(
                k for k, c in registry.available().items() if issubclass(c, HistoryRecommender)
            )
            raise ValueError(
                f"generator kind {policy_cls.kind!r} is not a history-trained recommender; "
                f"allowed: {', '.join(allowed)} (popularity: segment_popularity with by: "
                "kmeans, n_segments: 1)"
            )
        return value  # as written (validated above): configs stay short in the reference


_DEFAULT_GENERATORS = (
    GeneratorConfig(policy={"kind": "als", "factors": 16, "regularization": 1.0}, candidates=50),
    GeneratorConfig(
        policy={"kind": "segment_popularity", "by": "kmeans", "n_segments": 1}, candidates=30
    ),
)


@register
class TwoStageRecommender(HistoryRecommender):
    """Candidate generators → union with provenance → learnt ranker → slate."""

    class Params(RecommenderParams):
        kind: Literal["two_stage"] = "two_stage"
        generators: tuple[GeneratorConfig, ...] = Field(
            _DEFAULT_GENERATORS, min_length=1, description="candidate generators (stage 1)"
        )
        ranker: RankerKind = Field(
            "catboost_ranker",
            description="catboost_ranker, catboost_regressor or hist_gbm (sklearn)",
        )
        loss: RankingLoss = Field(
            "YetiRank", description="catboost_ranker loss: YetiRank, PairLogit or QueryRMSE"
        )
        iterations: int = Field(50, ge=1, le=10_000, description="boosting iterations")
        depth: int = Field(4, ge=1, le=16, description="tree depth")
        learning_rate: float = Field(0.1, gt=0, le=1, description="boosting step size")
        label_days: float = Field(
            2.0, gt=0, le=3650, description="length of the label window before each fit (days)"
        )
        sampled_negatives: int = Field(
            10, ge=0, le=10_000, description="uniform unseen items added per training user"
        )
        max_negatives: int = Field(
            30, ge=1, le=100_000, description="negatives kept per training user (sampled)"
        )
        max_training_users: int = Field(
            5000, ge=1, le=10_000_000, description="cap on ranker training groups (users, sampled)"
        )
        recent_days: float = Field(
            3.0, gt=0, le=3650, description="window of the recent popularity"
        )

    summary = "Two-stage: candidate generators → CatBoost/regressor ranker (learning to rank)."
    contextual = True
    scores_current = True

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        return cls._recommender_configs(
            {"ranker": "catboost_regressor", "iterations": 20},
            {"ranker": "hist_gbm", "iterations": 20},
            {"loss": "PairLogit", "iterations": 20},
            {"loss": "QueryRMSE", "iterations": 20, "label_days": 1.0, "sampled_negatives": 0},
        )

    params: Params

    # ------------------------------------------------------------------ lifecycle
    def _make_generators(self) -> list[HistoryRecommender]:
        """Fresh generators, each on a stream derived from ``seed_`` and its position."""
        out = []
        for g, config in enumerate(self.params.generators):
            policy = registry.make(config.policy)
            assert isinstance(policy, HistoryRecommender)
            policy.setup(self.spec_, np.random.default_rng([self.seed_, g]))
            out.append(policy)
        return out

    def _reset_model(self) -> None:
        self.generators_ = self._make_generators()
        self.ranker_: Any = None
        self.stats_ = ItemStats(0.0, *(np.zeros(self.spec_.n_items) for _ in range(3)))

    def _learn(self, feedback: Feedback) -> None:
        super()._learn(feedback)
        for generator in self.generators_:
            generator.learn(feedback)

    def _fit_model(self, matrix: sp.csr_array, history: History) -> None:
        p = self.params
        cut = history.t - p.label_days
        past = truncate_history(history, cut)
        self.ranker_ = None
        if len(past.clicks):
            staged = self._make_generators()
            for generator in staged:
                generator.fit(past)
            features, labels, groups = self._training_set(staged, past, history, cut)
            spec = RankerSpec(
                kind=p.ranker,
                loss=p.loss,
                iterations=p.iterations,
                depth=p.depth,
                learning_rate=p.learning_rate,
                threads=p.threads,
                seed=self.seed_,
            )
            self.ranker_ = fit_ranker(spec, features, labels, groups)
        for generator in self.generators_:
            generator.fit(history)
        frame = interaction_frame(history, p.conversion_weight)
        self.stats_ = item_stats(frame, self.spec_.n_items, history.t, p.recent_days)

    # ------------------------------------------------------------------ training set
    def _training_set(
        self, staged: list[HistoryRecommender], past: History, history: History, cut: float
    ) -> tuple[Float32Array, NDArray[np.float32], IntArray]:
        """Features, labels and group ids (users, ascending) of the ranker's training pairs."""
        p = self.params
        shown_users, shown_items = shown_after(history.impressions, cut)
        later = history.clicks.loc[history.clicks["t"].to_numpy() > cut, "user"]
        users = np.union1d(shown_users, later.to_numpy(np.int64))
        rng = np.random.default_rng([self.seed_, 1_000])
        if users.size > p.max_training_users:
            users = np.sort(rng.choice(users, p.max_training_users, replace=False))
        on_sale = self.spec_.item_release_time <= cut
        items = np.flatnonzero(on_sale).astype(np.int64)
        if users.size == 0 or items.size == 0:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
        features = _features_of(history.user_features, users, self.spec_.n_features)
        matrix = interaction_matrix(
            past, self.spec_.n_items, p.conversion_weight, n_users=int(users.max()) + 1
        )
        stats = item_stats(
            interaction_frame(past, p.conversion_weight), self.spec_.n_items, cut, p.recent_days
        )
        step = max(1, _BLOCK_ELEMENTS // items.size)
        parts: list[tuple[Float32Array, NDArray[np.float32], IntArray]] = []
        for lo in range(0, users.size, step):
            blk = users[lo : lo + step]
            extra = _extra_pairs(blk, shown_users, shown_items, items, p.sampled_negatives, rng)
            cands, x = self._pairs(
                staged, blk, features[lo : lo + step], row_slice(matrix, blk), items, on_sale,
                stats, extra,
            )  # fmt: skip
            y = pair_labels(blk, cands, history.clicks, history.conversions, cut)
            keep = _subsample_negatives(cands.row, y, p.max_negatives, rng)
            parts.append((x[keep], y[keep], cands.row[keep] + lo))
        x, y, g = (np.concatenate(part) for part in zip(*parts, strict=True))
        return x, y, g

    # ------------------------------------------------------------------ pairs
    def _pairs(
        self,
        generators: list[HistoryRecommender],
        users: IntArray,
        features: NDArray[np.float32],
        rows: sp.csr_array,
        items: IntArray,
        available: NDArray[np.bool_],
        stats: ItemStats,
        extra: tuple[IntArray, IntArray] | None = None,
    ) -> tuple[CandidateSet, Float32Array]:
        """Candidate union of ``users`` and its feature matrix."""
        lists, scores = [], []
        for generator, config in zip(generators, self.params.generators, strict=True):
            # One scoring pass gives both the generator's list and its scores of every item
            # (``items`` are the available ones, ascending, as ``recommend`` indexes them).
            score = np.full((items.size, users.size), -np.inf, dtype=np.float32)
            top, _ = generator.recommend(
                users, features, available, config.candidates, scores=score
            )
            lists.append(top)
            scores.append(score)
        cands = union_candidates(lists, scores, items, extra)
        spec = self.spec_
        x = pair_features(
            cands, features, rows, spec.item_category, spec.item_price,
            spec.item_release_time, stats, spec.n_categories,
        )  # fmt: skip
        return cands, x

    # ------------------------------------------------------------------ serving
    def _personalisable(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array
    ) -> NDArray[np.bool_]:
        can = [g.personalisable(users, features) for g in self.generators_]
        return np.logical_or.reduce(can)

    def _score_items(
        self, users: IntArray, features: NDArray[np.float32], rows: sp.csr_array, items: IntArray
    ) -> Float32Array:
        available = np.zeros(self.spec_.n_items, dtype=bool)
        available[items] = True
        cands, x = self._pairs(
            self.generators_, users, features, rows, items, available, self.stats_
        )
        if self.ranker_ is not None:
            with self.threads():
                score = np.asarray(self.ranker_.predict(x), dtype=np.float32)
        else:
            score = (1.0 / (_RRF_K + cands.ranks)).sum(axis=0).astype(np.float32)
        position = np.full(self.spec_.n_items, -1, dtype=np.int64)
        position[items] = np.arange(items.size)
        out = np.full((items.size, users.size), -np.inf, dtype=np.float32)
        out[position[cands.item], cands.row] = score
        return out


def _features_of(known: pd.DataFrame, users: IntArray, n_features: int) -> NDArray[np.float32]:
    """Encoded features of ``users`` (zeros for users without a row)."""
    if not len(known):
        return np.zeros((users.size, n_features), dtype=np.float32)
    return known.reindex(users, fill_value=0.0).to_numpy(np.float32)


def _extra_pairs(
    block: IntArray,
    shown_users: IntArray,
    shown_items: IntArray,
    items: IntArray,
    sampled: int,
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray]:
    """Training-only pairs of a block of users: items shown after the cut and uniformly
    sampled on-sale items, as ``(row in block, item)``."""
    position = np.searchsorted(block, shown_users)
    inside = (position < block.size) & (block[np.minimum(position, block.size - 1)] == shown_users)
    on_sale = np.isin(shown_items, items)
    keep = inside & on_sale
    rows = [position[keep].astype(np.int64)]
    chosen = [shown_items[keep]]
    if sampled:
        rows.append(np.repeat(np.arange(block.size, dtype=np.int64), sampled))
        chosen.append(items[rng.integers(0, items.size, block.size * sampled)])
    return np.concatenate(rows), np.concatenate(chosen)


def _subsample_negatives(
    groups: IntArray, labels: NDArray[np.float32], limit: int, rng: np.random.Generator
) -> NDArray[np.bool_]:
    """Mask keeping every positive and at most ``limit`` uniformly drawn negatives per group
    (``groups`` ascending)."""
    keys = rng.random(groups.size)
    keys[labels > 0] = -1.0  # positives sort first and are always kept
    order = np.lexsort((keys, groups))
    starts = np.searchsorted(groups[order], groups[order], side="left")
    rank_in_group = np.arange(groups.size) - starts
    positives = np.bincount(groups, weights=labels > 0, minlength=int(groups.max(initial=-1)) + 1)
    keep = np.zeros(groups.size, dtype=bool)
    keep[order] = rank_in_group < positives[groups[order]] + limit
    return keep
