r"""Features and leak-free labels for second-stage rankers of (user, candidate item) pairs.

A two-stage recommender ranks a short candidate list per user (the union of several
generators' top lists) with a learnt model. This module builds what that model reads.

Features of a pair :math:`(u, i)` at reference time :math:`t_0` (:data:`BASE_FEATURES`,
after one ``rank``/``score`` pair per generator and the user's encoded features)
-------------------------------------------------------------------------------------
=======================  ===================================================================
``gen<g>_rank``          1-based rank of :math:`i` in generator :math:`g`'s list; ``n_g + 1``
                         when absent
``gen<g>_score``         generator :math:`g`'s score, NaN when it has none
``n_generators``         how many generators proposed :math:`i`
``category``             item category (integer code)
``log_price``            :math:`\log p_i`
``price_gap``            :math:`\log p_i - \overline{\log p}_u` (mean over the user's items;
                         0 for users without interactions)
``log_popularity``       :math:`\log(1 + n_i)`, :math:`n_i` = weighted interactions up to
                         :math:`t_0`
``log_recent``           :math:`\log(1 + n_i^{(W)})` over :math:`(t_0 - W, t_0]`
``item_age``             :math:`t_0 - t^{\text{release}}_i` (days)
``days_since_item``      :math:`t_0 -` the item's last interaction (capped at 365)
``user_activity``        :math:`\log(1 + \sum_j r_{uj})`
``category_affinity``    :math:`\sum_{j:\,g_j = g_i} r_{uj} / \sum_j r_{uj}` (0 without
                         interactions): the user's share of interest in the item's category
``past_interactions``    :math:`r_{ui}` (re-consumption)
=======================  ===================================================================

Labels (:func:`pair_labels`) — strictly after the cut-off
    A ranker's training set is built at a cut-off :math:`c < t`: generators are fitted and
    every feature computed from the log up to :math:`c`; a pair is labelled 2 if the user
    bought the item in :math:`(c, t]`, 1 if the user clicked it there, 0 otherwise. No
    record after :math:`c` reaches a feature, so the ranker learns what it will face when
    serving (features up to now, outcome in the future). Groups are users; the pairs of a
    user are the generators' candidates, the items the user was shown after :math:`c` and
    did not click (hard negatives), and ``sampled`` uniformly drawn unseen items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from recarena.typing import Float32Array, FloatArray, IntArray

__all__ = [
    "BASE_FEATURES",
    "CandidateSet",
    "ItemStats",
    "feature_names",
    "item_stats",
    "pair_features",
    "pair_labels",
    "shown_after",
    "union_candidates",
]


BASE_FEATURES: tuple[str, ...] = (
    "n_generators",
    "category",
    "log_price",
    "price_gap",
    "log_popularity",
    "log_recent",
    "item_age",
    "days_since_item",
    "user_activity",
    "category_affinity",
    "past_interactions",
)
_MAX_DAYS = 365.0


def feature_names(n_generators: int, user_features: tuple[str, ...]) -> list[str]:
    """Column names of :func:`pair_features` for ``n_generators`` generators."""
    per_gen = [f"gen{g}_{what}" for g in range(n_generators) for what in ("rank", "score")]
    return [*per_gen, *(f"user:{name}" for name in user_features), *BASE_FEATURES]


@dataclass(frozen=True)
class ItemStats:
    """Item popularity and recency at a reference time."""

    t: float
    popularity: FloatArray
    recent: FloatArray
    last_seen: FloatArray  # time of the last interaction, -inf when none


def item_stats(frame: pd.DataFrame, n_items: int, t: float, recent_days: float) -> ItemStats:
    """Popularity (all and last ``recent_days``) and last interaction time of every item,
    from a ``t, user, item, weight`` interaction frame restricted to times ``<= t``."""
    frame = frame.loc[frame["t"].to_numpy() <= t]
    items = frame["item"].to_numpy(np.int64)
    weight = frame["weight"].to_numpy(np.float64)
    times = frame["t"].to_numpy(np.float64)
    recent = times > t - recent_days
    last = np.full(n_items, -np.inf)
    np.maximum.at(last, items, times)
    return ItemStats(
        t=t,
        popularity=np.bincount(items, weight, minlength=n_items).astype(np.float64),
        recent=np.bincount(items[recent], weight[recent], minlength=n_items).astype(np.float64),
        last_seen=last,
    )


@dataclass(frozen=True)
class CandidateSet:
    """Candidate pairs of a block of users: ``row`` indexes the block, ``item`` the catalogue;
    ``ranks``/``scores`` are (n_generators, n_pairs) stage-1 features; ``depth`` the
    generators' list lengths (an absent item has rank ``depth + 1``)."""

    row: IntArray
    item: IntArray
    ranks: Float32Array
    scores: Float32Array
    depth: IntArray


def union_candidates(
    lists: list[IntArray],
    scores: list[Float32Array],
    items: IntArray,
    extra: tuple[IntArray, IntArray] | None = None,
) -> CandidateSet:
    """Union of per-generator top lists with provenance.

    Parameters
    ----------
    lists
        Per generator, ``(B, n_g)`` item ids best first (``-1`` = empty slot).
    scores
        Per generator, its item-major ``(len(items), B)`` scores over the catalogue ``items``.
    items
        Ascending catalogue ids the scores are indexed by.
    extra
        ``(rows, items)`` pairs to add even if no generator proposed them (training
        negatives); they get the "absent" rank of every generator.
    """
    rows_parts, item_parts = [], []
    for top in lists:
        r, c = np.nonzero(top >= 0)
        rows_parts.append(r.astype(np.int64))
        item_parts.append(top[r, c])
    if extra is not None:
        rows_parts.append(extra[0])
        item_parts.append(extra[1])
    b = lists[0].shape[0] if lists else 0
    n_items = int(items.max(initial=-1)) + 1
    # A dense (B, items) mask gives the distinct pairs in (row, item) order without a sort.
    all_rows, all_items = np.concatenate(rows_parts), np.concatenate(item_parts)
    proposed = np.zeros((max(b, int(all_rows.max(initial=-1)) + 1), max(n_items, 1)), dtype=bool)
    proposed[all_rows, all_items] = True
    row, item = (axis.astype(np.int64) for axis in np.nonzero(proposed))
    position = np.full(max(n_items, 1), -1, dtype=np.int64)
    position[items] = np.arange(items.size)
    ranks = np.empty((len(lists), row.size), dtype=np.float32)
    out_scores = np.full((len(lists), row.size), np.nan, dtype=np.float32)
    for g, (top, sc) in enumerate(zip(lists, scores, strict=True)):
        rank_of = np.full((b, max(n_items, 1)), top.shape[1] + 1, dtype=np.float32)
        r, c = np.nonzero(top >= 0)
        rank_of[r, top[r, c]] = c + 1
        ranks[g] = rank_of[row, item]
        value = sc[position[item], row]
        out_scores[g] = np.where(np.isfinite(value), value, np.nan)
    depth = np.array([top.shape[1] for top in lists], dtype=np.int64)
    return CandidateSet(row, item, ranks, out_scores, depth)


def pair_features(
    pairs: CandidateSet,
    user_features: Float32Array,
    rows: sp.csr_array,
    item_category: IntArray,
    item_price: FloatArray,
    item_release: FloatArray,
    stats: ItemStats,
    n_categories: int,
) -> Float32Array:
    """The feature matrix of candidate pairs (columns: :func:`feature_names`).

    ``user_features`` and ``rows`` (interaction weights, CSR) are per block row.
    """
    item, row = pairs.item, pairs.row
    log_price = np.log(item_price)
    weights = rows.sum(axis=1)
    activity = np.asarray(weights, dtype=np.float64).ravel()
    n_cat = max(n_categories, 1)
    by_category = sp.csr_array(
        (np.ones(item_category.size), (np.arange(item_category.size), item_category)),
        shape=(item_category.size, n_cat),
    )
    cat_weight = np.asarray((rows @ by_category).toarray(), dtype=np.float64)
    safe = np.maximum(activity, 1e-12)
    affinity = np.where(activity[row] > 0, cat_weight[row, item_category[item]] / safe[row], 0.0)
    mean_log_price = np.asarray(rows @ log_price, dtype=np.float64).ravel() / safe
    gap = np.where(activity[row] > 0, log_price[item] - mean_log_price[row], 0.0)
    past = np.asarray(rows[row, item], dtype=np.float64).ravel() if row.size else np.zeros(0)
    since = np.minimum(stats.t - stats.last_seen[item], _MAX_DAYS)
    base = np.column_stack(
        [
            (pairs.ranks <= pairs.depth[:, None]).sum(axis=0),
            item_category[item],
            log_price[item],
            gap,
            np.log1p(stats.popularity[item]),
            np.log1p(stats.recent[item]),
            stats.t - item_release[item],
            since,
            np.log1p(activity[row]),
            affinity,
            past,
        ]
    )
    per_gen = np.empty((row.size, 2 * pairs.ranks.shape[0]), dtype=np.float32)
    per_gen[:, 0::2] = pairs.ranks.T
    per_gen[:, 1::2] = pairs.scores.T
    return np.hstack([per_gen, user_features[row], base]).astype(np.float32)


def pair_labels(
    users: IntArray,
    pairs: CandidateSet,
    clicks: pd.DataFrame,
    conversions: pd.DataFrame,
    cut: float,
) -> NDArray[np.float32]:
    """Graded labels of the pairs from the log strictly after ``cut``: 2 bought, 1 clicked,
    0 otherwise. ``users[pairs.row]`` are the pairs' user ids."""
    label = np.zeros(pairs.row.size, dtype=np.float32)
    n_items = int(pairs.item.max(initial=0)) + 1
    key = users[pairs.row] * n_items + pairs.item
    for frame, grade in ((clicks, 1.0), (conversions, 2.0)):
        if not len(frame):
            continue
        after = frame.loc[frame["t"].to_numpy() > cut]
        item = after["item"].to_numpy(np.int64)
        inside = item < n_items
        hit = np.isin(key, after["user"].to_numpy(np.int64)[inside] * n_items + item[inside])
        label[hit] = np.maximum(label[hit], grade)
    return label


def shown_after(impressions: pd.DataFrame, cut: float) -> tuple[IntArray, IntArray]:
    """``(users, items)`` of every item shown on a slate after ``cut`` (hard negatives
    unless clicked: the labels decide)."""
    if not len(impressions):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    after = impressions.loc[impressions["t"].to_numpy() > cut]
    if not len(after):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    slates = np.stack(list(after["slate"])).astype(np.int64)
    users = np.repeat(after["user"].to_numpy(np.int64), slates.shape[1])
    return users, slates.ravel()
