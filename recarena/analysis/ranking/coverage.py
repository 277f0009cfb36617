r"""Coverage and popularity bias: catalogue and user coverage, Gini, ARP, novelty.

Catalogue coverage and the Gini index are aggregates over all lists (no per-user form); the
list-property metrics (ARP, novelty) are undefined for an empty list, whose users are NaN
and left out of the mean (:func:`~recarena.analysis.ranking.base.mean_over_users`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from recarena.analysis.ranking.base import mean_over_users
from recarena.analysis.ranking.inputs import as_recs, check_k, check_option
from recarena.typing import FloatArray, IntArray

__all__ = [
    "average_recommendation_popularity",
    "average_recommendation_popularity_per_user",
    "catalogue_coverage",
    "gini_index",
    "novelty",
    "novelty_per_user",
    "recommendation_counts",
    "user_coverage",
    "user_coverage_per_user",
]


def recommendation_counts(recs: ArrayLike, n_items: int, k: int | None = None) -> IntArray:
    """How many top-k lists each item appears in: int64 ``(n_items,)`` (empty slots ignored)."""
    check_k(k, allow_none=True)
    r = as_recs(recs, k)
    shown = r[r >= 0]
    if shown.size and int(shown.max()) >= n_items:
        raise ValueError(f"recommended item {int(shown.max())} out of range (n_items={n_items})")
    return np.bincount(shown, minlength=n_items).astype(np.int64)


def catalogue_coverage(recs: ArrayLike, n_items: int, k: int | None = None) -> float:
    r"""Share of the catalogue recommended to at least one user.

    .. math:: \mathrm{Cov} = \frac{|\bigcup_u L_u@k|}{|I|}

    An aggregate over users (no per-user form). ``n_items`` is the catalogue size ``|I|``;
    ``k=None`` uses every column.

    References
    ----------
    Ge, Delgado-Battenfeld & Jannach, RecSys 2010 ("catalog coverage"). Herlocker et al.,
    ACM TOIS 22(1), 2004.
    """
    if n_items < 1:
        raise ValueError("n_items must be positive")
    counts = recommendation_counts(recs, n_items, k)
    return float(np.count_nonzero(counts)) / float(n_items)


def user_coverage_per_user(
    recs: ArrayLike, k: int | None = None, *, min_items: int = 1
) -> FloatArray:
    """1.0 for users whose top-k list holds at least ``min_items`` items, else 0.0.

    Its mean is user coverage: the share of users the system could recommend to
    (Ge et al., RecSys 2010; Herlocker et al. 2004, "prediction coverage").
    """
    check_k(k, allow_none=True)
    if min_items < 1:
        raise ValueError("min_items must be >= 1")
    r = as_recs(recs, k)
    return ((r >= 0).sum(axis=1) >= min_items).astype(np.float64)


user_coverage = mean_over_users(
    user_coverage_per_user, "Share of users with a non-empty (``>= min_items``) top-k list"
)


def gini_index(
    recs: ArrayLike,
    n_items: int,
    k: int | None = None,
    *,
    denominator: Literal["n", "n_minus_1"] = "n",
) -> float:
    r"""Gini index of how often each catalogue item is recommended.

    With ``c_(1) <= ... <= c_(n)`` the recommendation counts of all ``n = n_items`` items
    (items never recommended included, as 0):

    .. math:: G = \frac{\sum_{j=1}^{n} (2j - n - 1)\, c_{(j)}}{D \sum_j c_{(j)}},
              \qquad D = n \;(\texttt{"n"}) \text{ or } n - 1 \;(\texttt{"n_minus_1"})

    0 when every item is recommended equally often. With ``"n"`` (default, the classical
    Gini coefficient, as in RecBole) a single item taking every slot gives ``(n-1)/n``;
    ``"n_minus_1"`` rescales that to 1 (as in Shani & Gunawardana's handbook chapter).
    NaN when nothing is recommended.

    References
    ----------
    Fleder & Hosanagar, "Blockbuster culture's next rise or fall", Management Science 55(5),
    2009. Shani & Gunawardana, "Evaluating recommendation systems", Recommender Systems
    Handbook, 2011.
    """
    check_option("denominator", denominator, ("n", "n_minus_1"))
    if n_items < 1:
        raise ValueError("n_items must be positive")
    counts = np.sort(recommendation_counts(recs, n_items, k)).astype(np.float64)
    total = counts.sum()
    if total == 0:
        return float("nan")
    if n_items == 1:
        return 0.0
    j = np.arange(1, n_items + 1, dtype=np.float64)
    num = float(((2.0 * j - n_items - 1.0) * counts).sum())
    den = float(n_items if denominator == "n" else n_items - 1) * total
    return num / den


def _item_values(values: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_items,)")
    if arr.size and (not np.all(np.isfinite(arr)) or float(arr.min()) < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    return arr


def _list_mean(recs: IntArray, per_item: FloatArray) -> FloatArray:
    """Mean of ``per_item`` over each user's non-empty slots (NaN for empty lists)."""
    valid = recs >= 0
    if recs.size and int(recs.max()) >= per_item.size:
        raise ValueError(f"recommended item {int(recs.max())} out of range ({per_item.size})")
    vals = np.where(valid, per_item[np.where(valid, recs, 0)] if per_item.size else 0.0, 0.0)
    n = valid.sum(axis=1)
    out = np.full(recs.shape[0], np.nan)
    np.divide(vals.sum(axis=1), n, out=out, where=n > 0)
    return out


def average_recommendation_popularity_per_user(
    recs: ArrayLike, item_popularity: ArrayLike, k: int | None = None
) -> FloatArray:
    r"""Average popularity of each user's recommended items (ARP before averaging).

    .. math:: \mathrm{ARP}_u = \frac{1}{|L_u@k|}\sum_{i \in L_u@k} \phi(i)

    ``phi(i) = item_popularity[i]``, typically the number of training interactions of ``i``.
    Users with an empty list are NaN (left out).

    References
    ----------
    Abdollahpouri, Burke & Mobasher, "Managing popularity bias in recommender systems with
    personalized re-ranking", FLAIRS 2019.
    """
    check_k(k, allow_none=True)
    pop = _item_values(item_popularity, "item_popularity")
    return _list_mean(as_recs(recs, k), pop)


average_recommendation_popularity = mean_over_users(
    average_recommendation_popularity_per_user,
    "ARP, the mean over users of the average popularity of their recommended items",
)


def _self_information(
    item_popularity: ArrayLike, denominator: float | None, min_count: float
) -> FloatArray:
    pop = _item_values(item_popularity, "item_popularity")
    if not min_count > 0:
        raise ValueError("min_count must be > 0 (a zero probability has infinite information)")
    den = float(pop.sum()) if denominator is None else float(denominator)
    if not den > 0 or not np.isfinite(den):
        raise ValueError("popularity denominator must be positive and finite")
    p = np.maximum(pop, min_count) / den
    if p.size and float(p.max()) > 1.0:
        raise ValueError("item popularity exceeds the denominator: p(i) > 1")
    return np.asarray(-np.log2(p), dtype=np.float64)


def novelty_per_user(
    recs: ArrayLike,
    item_popularity: ArrayLike,
    k: int | None = None,
    *,
    denominator: float | None = None,
    min_count: float = 1.0,
) -> FloatArray:
    r"""Mean self-information (bits) of each user's recommended items.

    .. math:: \mathrm{Nov}_u = \frac{1}{|L_u@k|}\sum_{i \in L_u@k} -\log_2 p(i), \qquad
              p(i) = \frac{\max(\mathrm{pop}(i),\, m)}{N}

    Parameters
    ----------
    recs
        ``(n_users, L)`` item ids, ``-1`` for empty slots.
    item_popularity
        Training popularity ``pop(i)`` of every item, ``(n_items,)``.
    k
        Cut-off (``None``: all columns).
    denominator
        ``N``. ``None`` (default): ``sum_i pop(i)``, so ``p(i)`` is the item's share of
        training interactions. Pass the number of training users when ``pop(i)`` counts
        distinct users, giving ``p(i)`` = share of users who interacted with ``i``
        (Zhou et al. 2010).
    min_count
        ``m``: counts are floored at ``m`` (default 1) so items unseen in training get a
        finite, maximal self-information instead of infinity.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_users,)``; NaN for users with an empty list.

    References
    ----------
    Zhou et al., "Solving the apparent diversity-accuracy dilemma of recommender systems",
    PNAS 107(10), 2010. Vargas & Castells, "Rank and relevance in novelty and diversity
    metrics for recommender systems", RecSys 2011.
    """
    check_k(k, allow_none=True)
    info = _self_information(item_popularity, denominator, min_count)
    return _list_mean(as_recs(recs, k), info)


novelty = mean_over_users(novelty_per_user, "Mean novelty over users")
