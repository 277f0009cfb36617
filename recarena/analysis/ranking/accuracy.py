r"""Accuracy metrics of top-k lists: HitRate, Precision, Recall, MRR, MAP, NDCG, serendipity.

Each is written once, per user, as a function of the judged lists
(:class:`~recarena.analysis.ranking.base.JudgedLists`); the empty-relevant convention and the
mean over users come from :mod:`recarena.analysis.ranking.base`.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from recarena.analysis.ranking.base import JudgedLists, mean_over_users, per_user
from recarena.analysis.ranking.inputs import (
    EmptyRelevant,
    Gain,
    Ideal,
    RelevanceLike,
    as_recs,
    check_option,
    safe_div,
)
from recarena.typing import FloatArray

__all__ = [
    "hit_rate_at_k",
    "hit_rate_at_k_per_user",
    "map_at_k",
    "map_at_k_per_user",
    "mrr_at_k",
    "mrr_at_k_per_user",
    "ndcg_at_k",
    "ndcg_at_k_per_user",
    "precision_at_k",
    "precision_at_k_per_user",
    "recall_at_k",
    "recall_at_k_per_user",
    "score_average_precision",
    "score_hit_rate",
    "score_mrr",
    "score_ndcg",
    "score_precision",
    "score_recall",
    "score_serendipity",
    "serendipity",
    "serendipity_per_user",
]


def score_hit_rate(lists: JudgedLists) -> FloatArray:
    """HitRate@k of each user (see :func:`hit_rate_at_k_per_user`)."""
    return np.asarray((lists.grades > 0).any(axis=1), dtype=np.float64)


def hit_rate_at_k_per_user(
    recs: ArrayLike, relevance: RelevanceLike, k: int, *, empty_relevant: EmptyRelevant = "skip"
) -> FloatArray:
    r"""HitRate@k per user: 1 if any of the top-k items is relevant, else 0.

    .. math:: \mathrm{HR}_u@k = \mathbb{1}\left[\sum_{j=1}^{k} \mathrm{hit}_u(j) > 0\right]

    Parameters
    ----------
    recs
        ``(n_users, L)`` item ids, best first, ``-1`` for empty slots.
    relevance
        Sparse ``(n_users, n_items)`` grades, or one item collection / ``{item: grade}`` per
        user. Relevant means grade > 0.
    k
        Cut-off.
    empty_relevant
        ``"skip"`` (default): users with no relevant items get NaN and are left out of the
        mean; ``"zero"``: they score 0.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_users,)``. Users with no recommendations score 0.

    References
    ----------
    Deshpande & Karypis, "Item-based top-N recommendation algorithms", ACM TOIS 22(1), 2004.
    """
    return per_user(score_hit_rate, recs, relevance, k, empty_relevant)


hit_rate_at_k = mean_over_users(hit_rate_at_k_per_user, "Mean HitRate@k over users")


def score_precision(lists: JudgedLists, divisor: str) -> FloatArray:
    """Precision@k of each user (see :func:`precision_at_k_per_user`)."""
    check_option("divisor", divisor, ("k", "n_recommended"))
    n_hits = (lists.grades > 0).sum(axis=1).astype(np.float64)
    den = float(lists.k) if divisor == "k" else (lists.recs >= 0).sum(axis=1)
    return safe_div(n_hits, den)


def precision_at_k_per_user(
    recs: ArrayLike,
    relevance: RelevanceLike,
    k: int,
    *,
    divisor: Literal["k", "n_recommended"] = "k",
    empty_relevant: EmptyRelevant = "skip",
) -> FloatArray:
    r"""Precision@k per user: the share of the k slots holding a relevant item.

    .. math:: \mathrm{P}_u@k = \frac{1}{D_u}\sum_{j=1}^{k} \mathrm{hit}_u(j),
              \qquad D_u = k \;(\texttt{"k"}) \text{ or } |L_u@k| \;(\texttt{"n_recommended"})

    where ``|L_u@k|`` is the number of non-empty slots among the first k (0/0 := 0).

    Parameters
    ----------
    recs, relevance, k, empty_relevant
        As in :func:`hit_rate_at_k_per_user`.
    divisor
        ``"k"`` (default): short lists are penalised for their empty slots.
        ``"n_recommended"``: divide by the number of items actually shown.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_users,)``; NaN for skipped users, 0 for users with no recommendations.

    References
    ----------
    Herlocker et al., "Evaluating collaborative filtering recommender systems", ACM TOIS
    22(1), 2004.
    """
    score = partial(score_precision, divisor=divisor)
    return per_user(score, recs, relevance, k, empty_relevant)


precision_at_k = mean_over_users(precision_at_k_per_user, "Mean Precision@k over users")


def score_recall(lists: JudgedLists, divisor: str) -> FloatArray:
    """Recall@k of each user (see :func:`recall_at_k_per_user`)."""
    check_option("divisor", divisor, ("relevant", "min_k_relevant"))
    n_hits = (lists.grades > 0).sum(axis=1).astype(np.float64)
    n_rel = lists.n_relevant
    den = n_rel if divisor == "relevant" else np.minimum(n_rel, lists.k)
    return safe_div(n_hits, den)


def recall_at_k_per_user(
    recs: ArrayLike,
    relevance: RelevanceLike,
    k: int,
    *,
    divisor: Literal["relevant", "min_k_relevant"] = "relevant",
    empty_relevant: EmptyRelevant = "skip",
) -> FloatArray:
    r"""Recall@k per user: the share of the user's relevant items found in the top k.

    .. math:: \mathrm{R}_u@k = \frac{1}{D_u}\sum_{j=1}^{k} \mathrm{hit}_u(j),
              \qquad D_u = |R_u| \;(\texttt{"relevant"}) \text{ or }
              \min(|R_u|, k) \;(\texttt{"min_k_relevant"})

    Parameters
    ----------
    recs, relevance, k, empty_relevant
        As in :func:`hit_rate_at_k_per_user`.
    divisor
        ``"relevant"`` (default, the textbook recall: at most ``k/|R_u|`` when
        ``|R_u| > k``) or ``"min_k_relevant"`` (reaches 1 whenever the list is perfect).

    Returns
    -------
    numpy.ndarray
        float64 ``(n_users,)``; NaN for skipped users, 0 for users with no recommendations.

    References
    ----------
    Herlocker et al., ACM TOIS 22(1), 2004.
    """
    score = partial(score_recall, divisor=divisor)
    return per_user(score, recs, relevance, k, empty_relevant)


recall_at_k = mean_over_users(recall_at_k_per_user, "Mean Recall@k over users")


def score_mrr(lists: JudgedLists) -> FloatArray:
    """Reciprocal rank at k of each user (see :func:`mrr_at_k_per_user`)."""
    hits = lists.grades > 0
    if hits.shape[1] == 0:
        return np.zeros(hits.shape[0], dtype=np.float64)
    first = hits.argmax(axis=1)
    return np.where(hits.any(axis=1), 1.0 / (first + 1.0), 0.0)


def mrr_at_k_per_user(
    recs: ArrayLike, relevance: RelevanceLike, k: int, *, empty_relevant: EmptyRelevant = "skip"
) -> FloatArray:
    r"""Reciprocal rank of the first relevant item within the top k (0 if none).

    .. math:: \mathrm{RR}_u@k = \max_{1 \le j \le k} \frac{\mathrm{hit}_u(j)}{j}

    Parameters
    ----------
    recs, relevance, k, empty_relevant
        As in :func:`hit_rate_at_k_per_user`.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_users,)``; its mean is MRR@k.

    References
    ----------
    Voorhees, "The TREC-8 question answering track report", TREC 1999.
    """
    return per_user(score_mrr, recs, relevance, k, empty_relevant)


mrr_at_k = mean_over_users(mrr_at_k_per_user, "Mean reciprocal rank at k")


def score_average_precision(lists: JudgedLists, divisor: str) -> FloatArray:
    """Average precision at k of each user (see :func:`map_at_k_per_user`)."""
    check_option("divisor", divisor, ("min_k_relevant", "relevant"))
    hits = (lists.grades > 0).astype(np.float64)
    ranks = np.arange(1, hits.shape[1] + 1, dtype=np.float64)
    prec_at_j = np.cumsum(hits, axis=1) / ranks
    total = (prec_at_j * hits).sum(axis=1)
    n_rel = lists.n_relevant
    den = np.minimum(n_rel, lists.k) if divisor == "min_k_relevant" else n_rel
    return safe_div(total, den)


def map_at_k_per_user(
    recs: ArrayLike,
    relevance: RelevanceLike,
    k: int,
    *,
    divisor: Literal["min_k_relevant", "relevant"] = "min_k_relevant",
    empty_relevant: EmptyRelevant = "skip",
) -> FloatArray:
    r"""Average precision at k per user (its mean over users is MAP@k).

    .. math:: \mathrm{AP}_u@k = \frac{1}{D_u}\sum_{j=1}^{k} \mathrm{P}_u@j \cdot
              \mathrm{hit}_u(j), \qquad \mathrm{P}_u@j = \frac{1}{j}\sum_{i \le j}
              \mathrm{hit}_u(i)

    Parameters
    ----------
    recs, relevance, k, empty_relevant
        As in :func:`hit_rate_at_k_per_user`. Graded relevance is binarised (grade > 0).
    divisor
        ``D_u = min(|R_u|, k)`` (``"min_k_relevant"``, default; a perfect list scores 1
        even when ``|R_u| > k``) or ``D_u = |R_u|`` (``"relevant"``, the untruncated TREC
        definition).

    Returns
    -------
    numpy.ndarray
        float64 ``(n_users,)``.

    References
    ----------
    Manning, Raghavan & Schütze, *Introduction to Information Retrieval*, §8.4, 2008.
    """
    score = partial(score_average_precision, divisor=divisor)
    return per_user(score, recs, relevance, k, empty_relevant)


map_at_k = mean_over_users(map_at_k_per_user, "Mean average precision at k")


def _gain(grades: FloatArray, gain: str) -> FloatArray:
    check_option("gain", gain, ("linear", "exponential"))
    if gain == "linear":
        return grades
    return np.asarray(np.exp2(grades) - 1.0, dtype=np.float64)


def _discounts(n: int) -> FloatArray:
    return 1.0 / np.log2(np.arange(2, n + 2, dtype=np.float64))


def _idcg(mat: Any, k: int, gain: str, ideal: str) -> FloatArray:
    check_option("ideal", ideal, ("min_k_relevant", "k", "all_relevant"))
    n_users = mat.shape[0]
    counts = np.diff(mat.indptr)
    if ideal == "k":
        if mat.nnz and not np.all(mat.data == 1.0):
            raise ValueError(
                "ideal='k' counts k ideal *hits* and is defined for binary relevance only; "
                "use ideal='min_k_relevant' or 'all_relevant' with graded relevance"
            )
        return np.where(counts > 0, float(_discounts(k).sum()), 0.0)
    rows = np.repeat(np.arange(n_users, dtype=np.int64), counts)
    order = np.lexsort((-mat.data, rows))  # by user, then grade descending
    pos = np.arange(mat.nnz, dtype=np.int64) - mat.indptr[rows]
    contrib = _gain(mat.data[order], gain) / np.log2(pos + 2.0)
    if ideal == "min_k_relevant":
        keep = pos < k
        rows, contrib = rows[keep], contrib[keep]
    return np.asarray(np.bincount(rows, weights=contrib, minlength=n_users), dtype=np.float64)


def score_ndcg(lists: JudgedLists, gain: str, ideal: str) -> FloatArray:
    """NDCG@k of each user (see :func:`ndcg_at_k_per_user`)."""
    grades = lists.grades
    dcg = (_gain(grades, gain) * _discounts(grades.shape[1])).sum(axis=1)
    return safe_div(dcg, _idcg(lists.relevance, lists.k, gain, ideal))


def ndcg_at_k_per_user(
    recs: ArrayLike,
    relevance: RelevanceLike,
    k: int,
    *,
    gain: Gain = "linear",
    ideal: Ideal = "min_k_relevant",
    empty_relevant: EmptyRelevant = "skip",
) -> FloatArray:
    r"""Normalised discounted cumulative gain at k per user.

    .. math:: \mathrm{DCG}_u@k = \sum_{j=1}^{k} \frac{g(\mathrm{rel}_u(j))}{\log_2(j+1)},
              \qquad \mathrm{NDCG}_u@k = \frac{\mathrm{DCG}_u@k}{\mathrm{IDCG}_u}

    With ``r_(1) >= r_(2) >= ...`` the user's positive grades sorted descending:

    * ``ideal="min_k_relevant"`` (default): ``IDCG = sum_{j<=min(k,|R_u|)} g(r_(j))/log2(j+1)``,
      the DCG of the best possible top-k list (scikit-learn's ``ndcg_score``, RecBole, ...).
    * ``ideal="k"``: ``IDCG = sum_{j<=k} 1/log2(j+1)`` — k ideal hits whatever ``|R_u|``.
      Differs from the default only when ``|R_u| < k`` (where the ideal list would have to
      be longer than the relevant set), so such users can never reach 1. Binary relevance
      only (:class:`ValueError` otherwise).
    * ``ideal="all_relevant"``: ``IDCG = sum_{j<=|R_u|} g(r_(j))/log2(j+1)``, over all
      relevant items, truncated nowhere. Differs from the default only when ``|R_u| > k``.

    Parameters
    ----------
    recs, relevance, k, empty_relevant
        As in :func:`hit_rate_at_k_per_user`.
    gain
        ``"linear"``: ``g(r) = r`` (default; Järvelin & Kekäläinen; scikit-learn) or
        ``"exponential"``: ``g(r) = 2^r - 1`` (Burges et al.). Equal for binary relevance.
    ideal
        Normaliser, see above.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_users,)`` in [0, 1].

    References
    ----------
    Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR techniques", ACM TOIS
    20(4), 2002. Burges et al., "Learning to rank using gradient descent", ICML 2005.
    """
    score = partial(score_ndcg, gain=gain, ideal=ideal)
    return per_user(score, recs, relevance, k, empty_relevant)


ndcg_at_k = mean_over_users(ndcg_at_k_per_user, "Mean NDCG@k over users")


def score_serendipity(lists: JudgedLists, baseline_recs: ArrayLike, divisor: str) -> FloatArray:
    """Serendipity of each user (see :func:`serendipity_per_user`)."""
    check_option("divisor", divisor, ("k", "unexpected"))
    recs, grades = lists.recs, lists.grades
    n_users = recs.shape[0]
    base = np.asarray(baseline_recs)
    if base.ndim == 1:
        base = np.broadcast_to(base, (n_users, base.shape[0]))
    base = as_recs(base, None, check_duplicates=False)
    if base.shape[0] != n_users:
        raise ValueError(f"baseline_recs has {base.shape[0]} rows, expected {n_users} users")
    width = max(int(recs.max()) if recs.size else 0, int(base.max()) if base.size else 0) + 1
    row_ids = np.arange(n_users, dtype=np.int64)[:, None]
    base_keys = np.unique((row_ids * width + base)[base >= 0])
    rec_keys = row_ids * width + recs
    expected = np.isin(rec_keys, base_keys) & (recs >= 0)
    unexpected = (recs >= 0) & ~expected
    n_serendipitous = ((grades > 0) & unexpected).sum(axis=1).astype(np.float64)
    den = float(lists.k) if divisor == "k" else unexpected.sum(axis=1)
    return safe_div(n_serendipitous, den)


def serendipity_per_user(
    recs: ArrayLike,
    relevance: RelevanceLike,
    baseline_recs: ArrayLike,
    k: int,
    *,
    divisor: Literal["k", "unexpected"] = "k",
    empty_relevant: EmptyRelevant = "skip",
) -> FloatArray:
    r"""Serendipity per user: recommended items that are relevant *and* unexpected.

    An item is unexpected for ``u`` if it is not in ``u``'s list from a primitive baseline
    (typically the most-popular list), ``B_u``:

    .. math:: \mathrm{SRDP}_u@k = \frac{|\{i \in L_u@k : i \in R_u,\ i \notin B_u\}|}{D_u},
              \qquad D_u = k \;(\texttt{"k"}) \text{ or }
              |L_u@k \setminus B_u| \;(\texttt{"unexpected"})

    Parameters
    ----------
    recs, relevance, k, empty_relevant
        As in :func:`hit_rate_at_k_per_user`.
    baseline_recs
        ``(n_users, L_b)`` baseline lists (``-1`` padded), or one ``(L_b,)`` list shared by
        all users. The whole baseline row is used (cut it to the depth you want).
    divisor
        ``"k"`` (default): share of the k slots that are serendipitous.
        ``"unexpected"``: share of the unexpected recommended items that are relevant
        (Ge et al. 2010); 0 when nothing recommended is unexpected.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_users,)``.

    References
    ----------
    Ge, Delgado-Battenfeld & Jannach, "Beyond accuracy: evaluating recommender systems by
    coverage and serendipity", RecSys 2010. Kotkov, Wang & Veijalainen, "A survey of
    serendipity in recommender systems", Knowledge-Based Systems 111, 2016.
    """
    score = partial(score_serendipity, baseline_recs=baseline_recs, divisor=divisor)
    return per_user(score, recs, relevance, k, empty_relevant)


serendipity = mean_over_users(serendipity_per_user, "Mean serendipity over users")
