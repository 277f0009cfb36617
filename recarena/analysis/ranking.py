"""Offline metrics for top-k recommendation lists.

Pure functions on numpy / scipy.sparse / pandas; nothing here knows about the simulator.

Data conventions
----------------
* **Recommendations** ``recs``: an integer array ``(n_users, L)`` of item ids, best first.
  ``-1`` marks an empty slot (short or empty lists are padded with ``-1``). Only the first
  ``k`` columns are evaluated; if ``L < k`` the missing slots are empty. The rank of an item
  is its column position (1-based), so an empty slot still occupies its rank. A list may not
  name the same item twice (:class:`ValueError`).
* **Relevance**: either a scipy.sparse matrix ``(n_users, n_items)`` whose stored values are
  grades (binary: all 1; graded: any non-negative number, 0 meaning not relevant), or a
  sequence with one entry per user that is either an iterable of item ids (binary) or a
  mapping ``item -> grade``. :func:`relevance_from_frame` builds the CSR matrix from a
  ``(user, item[, weight])`` DataFrame. An item is *relevant* when its grade is > 0;
  ``R_u`` below is that set and ``|R_u|`` its size.
* ``rel_u(j)`` is the grade of the item at rank ``j`` of user ``u``'s list (0 for an empty
  slot or an irrelevant item) and ``hit_u(j) = 1[rel_u(j) > 0]``.

Conventions (named options where libraries disagree; defaults first)
---------------------------------------------------------------------
* Users with no relevant items: left out of the mean (``empty_relevant="skip"``, their
  per-user value is NaN) or counted as 0 (``"zero"``).
* Users with no recommendations stay in every *accuracy* metric and score 0. List-property
  metrics (novelty, ARP, intra-list diversity, calibration) are undefined for an empty list
  (a 0 there would claim "perfectly unbiased / no diversity"), so those users are NaN and
  left out; :func:`user_coverage` reports how many users got a list at all.
* Precision divides by ``k`` (``divisor="k"``), or by the number of items actually shown
  (``"n_recommended"``).
* Recall divides by ``|R_u|`` (``divisor="relevant"``), or by ``min(|R_u|, k)``
  (``"min_k_relevant"``).
* MAP divides each user's sum of precisions by ``min(|R_u|, k)`` (``divisor="min_k_relevant"``)
  or by ``|R_u|`` (``"relevant"``).
* NDCG gains are linear, ``g(r) = r`` (``gain="linear"``, Järvelin & Kekäläinen 2002;
  scikit-learn, trec_eval), or exponential, ``g(r) = 2^r - 1`` (``gain="exponential"``,
  Burges et al. 2005); identical for binary relevance. The ideal DCG is over the
  ``min(k, |R_u|)`` best grades (``ideal="min_k_relevant"``), over ``k`` ideal hits whatever
  ``|R_u|`` (``ideal="k"``, binary relevance only), or over all of ``R_u`` untruncated
  (``ideal="all_relevant"``).

Every per-user metric ``m`` has ``m_per_user(...) -> ndarray`` (NaN for users left out) and
``m(...) -> float`` (mean over the non-NaN users; NaN if there are none).
:func:`bootstrap_ci` gives a percentile bootstrap interval over users and
:func:`ranking_report` collects everything into one DataFrame.

No global random state is used anywhere: randomness comes only from a
:class:`numpy.random.Generator` passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike

from recarena.typing import FloatArray, IntArray

__all__ = [
    "as_relevance_matrix",
    "average_recommendation_popularity",
    "average_recommendation_popularity_per_user",
    "bootstrap_ci",
    "calibration_kl",
    "calibration_kl_per_user",
    "catalogue_coverage",
    "gini_index",
    "hit_rate_at_k",
    "hit_rate_at_k_per_user",
    "intra_list_diversity",
    "intra_list_diversity_per_user",
    "map_at_k",
    "map_at_k_per_user",
    "mrr_at_k",
    "mrr_at_k_per_user",
    "ndcg_at_k",
    "ndcg_at_k_per_user",
    "novelty",
    "novelty_per_user",
    "precision_at_k",
    "precision_at_k_per_user",
    "ranking_report",
    "recall_at_k",
    "recall_at_k_per_user",
    "recommendation_counts",
    "relevance_from_frame",
    "serendipity",
    "serendipity_per_user",
    "user_coverage",
    "user_coverage_per_user",
]

#: A sparse ``(n_users, n_items)`` matrix of grades, or one item collection per user.
RelevanceLike: TypeAlias = Any

EmptyRelevant = Literal["skip", "zero"]
Gain = Literal["linear", "exponential"]
Ideal = Literal["min_k_relevant", "k", "all_relevant"]

# Work-size targets (array elements per block) that keep temporaries to tens of MB.
_BOOT_BLOCK_ELEMENTS = 1 << 20
_LIST_BLOCK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------------------
# Validation and conversion helpers
# --------------------------------------------------------------------------------------


def _check_option(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _check_k(k: int | None, *, allow_none: bool) -> None:
    if k is None:
        if not allow_none:
            raise ValueError("k is required")
        return
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or int(k) < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _as_recs(recs: ArrayLike, k: int | None, *, check_duplicates: bool = True) -> IntArray:
    """Validate a ``(n_users, L)`` id array with ``-1`` padding and cut it to ``k`` columns."""
    arr = np.asarray(recs)
    if arr.ndim != 2:
        raise ValueError(f"recommendations must be a 2-D array (n_users, k), got {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"recommendations must hold integer item ids, got dtype {arr.dtype}")
    out = arr.astype(np.int64, copy=False)
    if k is not None:
        out = out[:, : int(k)]
    if out.size and int(out.min()) < -1:
        raise ValueError("recommendation ids must be >= 0, or -1 for an empty slot")
    if check_duplicates and out.shape[1] > 1:
        srt = np.sort(out, axis=1)
        dup = (srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] >= 0)
        if dup.any():
            user = int(np.flatnonzero(dup.any(axis=1))[0])
            raise ValueError(f"recommendation list of user {user} names an item twice")
    return out


def _nanmean(values: FloatArray) -> float:
    """Mean of the non-NaN entries; NaN (without a warning) when there are none."""
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _safe_div(num: FloatArray, den: ArrayLike) -> FloatArray:
    """``num / den`` with 0 wherever ``den == 0``."""
    den_arr = np.broadcast_to(np.asarray(den, dtype=np.float64), num.shape)
    out = np.zeros(num.shape, dtype=np.float64)
    np.divide(num, den_arr, out=out, where=den_arr != 0)
    return out


def _build_csr(
    users: IntArray,
    items: IntArray,
    weights: FloatArray,
    n_users: int | None,
    n_items: int | None,
    duplicates: str,
) -> Any:
    """Canonical float64 ``csr_array`` from triplets, merging repeated (user, item) pairs."""
    _check_option("duplicates", duplicates, ("max", "sum", "error"))
    if users.size and (int(users.min()) < 0 or int(items.min()) < 0):
        raise ValueError("user and item ids must be non-negative")
    if weights.size and (not np.all(np.isfinite(weights)) or float(weights.min()) < 0):
        raise ValueError("relevance weights must be finite and non-negative")
    n_u = int(users.max()) + 1 if users.size else 0
    n_i = int(items.max()) + 1 if items.size else 0
    if n_users is None:
        n_users = n_u
    elif n_u > n_users:
        raise ValueError(f"user id {n_u - 1} out of range for n_users={n_users}")
    if n_items is None:
        n_items = n_i
    elif n_i > n_items:
        raise ValueError(f"item id {n_i - 1} out of range for n_items={n_items}")
    keys = users * max(n_items, 1) + items
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    w = weights[order]
    uniq, start = np.unique(keys, return_index=True)
    if uniq.size < keys.size:
        if duplicates == "error":
            raise ValueError("repeated (user, item) pairs and duplicates='error'")
        reduce = np.maximum if duplicates == "max" else np.add
        w = reduce.reduceat(w, start)
    rows, cols = np.divmod(uniq, max(n_items, 1))
    mat = sp.csr_array((w, (rows, cols)), shape=(n_users, n_items), dtype=np.float64)
    mat.eliminate_zeros()
    mat.sort_indices()
    return mat


def relevance_from_frame(
    frame: pd.DataFrame,
    *,
    n_users: int | None = None,
    n_items: int | None = None,
    user_col: str = "user",
    item_col: str = "item",
    weight_col: str | None = None,
    duplicates: Literal["max", "sum", "error"] = "max",
) -> Any:
    """Build a CSR relevance (or history) matrix from a ``(user, item[, weight])`` DataFrame.

    Parameters
    ----------
    frame
        One row per (user, item) interaction, ids non-negative integers.
    n_users, n_items
        Shape of the result; default ``max id + 1``. Pass the catalogue size explicitly when
        some items never appear (coverage and Gini depend on it).
    user_col, item_col
        Column names of the ids.
    weight_col
        Column of non-negative grades / weights. ``None`` (default) gives binary relevance
        (every listed pair has grade 1). A weight of 0 means "not relevant" and is dropped.
    duplicates
        How repeated (user, item) rows combine: ``"max"`` (default; for binary relevance
        repeats stay 1), ``"sum"`` (e.g. repeat counts as history weights), or ``"error"``.

    Returns
    -------
    scipy.sparse.csr_array
        float64 ``(n_users, n_items)`` with sorted indices and no explicit zeros.
    """
    cols = [user_col, item_col] + ([weight_col] if weight_col is not None else [])
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise KeyError(f"columns not in frame: {missing}")
    if bool(frame[cols].isna().to_numpy().any()):
        raise ValueError("relevance frame contains missing values")
    for col in (user_col, item_col):
        if len(frame) and not pd.api.types.is_integer_dtype(frame[col]):
            raise TypeError(f"column {col!r} must hold integer ids")
    users = frame[user_col].to_numpy(dtype=np.int64)
    items = frame[item_col].to_numpy(dtype=np.int64)
    if weight_col is None:
        weights = np.ones(len(frame), dtype=np.float64)
    else:
        weights = frame[weight_col].to_numpy(dtype=np.float64)
    return _build_csr(users, items, weights, n_users, n_items, duplicates)


def as_relevance_matrix(
    relevance: RelevanceLike, *, n_users: int | None = None, n_items: int | None = None
) -> Any:
    """Canonical float64 CSR form of a relevance argument.

    ``relevance`` is a scipy.sparse matrix/array of non-negative grades, or a sequence with
    one entry per user: an iterable of item ids (binary, grade 1) or a mapping
    ``item -> grade``. Explicit zeros are dropped; repeated ids in one user's entry count
    once (the largest grade wins). ``n_items`` defaults to the sparse matrix's width or to
    ``max id + 1``.
    """
    if sp.issparse(relevance):
        mat = sp.csr_array(relevance, dtype=np.float64, copy=True)
        if n_users is not None and mat.shape[0] != n_users:
            raise ValueError(f"relevance has {mat.shape[0]} rows, expected {n_users} users")
        if n_items is not None and mat.shape[1] != n_items:
            raise ValueError(f"relevance has {mat.shape[1]} columns, expected {n_items} items")
        mat.sum_duplicates()
        if mat.nnz and (not np.all(np.isfinite(mat.data)) or float(mat.data.min()) < 0):
            raise ValueError("relevance grades must be finite and non-negative")
        mat.eliminate_zeros()
        mat.sort_indices()
        return mat
    if isinstance(relevance, np.ndarray | str | Mapping) or not isinstance(relevance, Sequence):
        raise TypeError(
            "relevance must be a scipy.sparse matrix or a sequence of per-user item "
            f"collections, got {type(relevance).__name__}"
        )
    if n_users is not None and len(relevance) != n_users:
        raise ValueError(f"relevance has {len(relevance)} users, expected {n_users}")
    users: list[IntArray] = []
    items: list[IntArray] = []
    grades: list[FloatArray] = []
    for u, entry in enumerate(relevance):
        if isinstance(entry, Mapping):
            ids = np.fromiter((int(i) for i in entry), dtype=np.int64)
            g = np.fromiter((float(v) for v in entry.values()), dtype=np.float64)
        else:
            ids = np.fromiter((int(i) for i in _iter_ids(entry)), dtype=np.int64)
            g = np.ones(ids.size, dtype=np.float64)
        users.append(np.full(ids.size, u, dtype=np.int64))
        items.append(ids)
        grades.append(g)
    empty_i = np.empty(0, dtype=np.int64)
    return _build_csr(
        np.concatenate(users) if users else empty_i,
        np.concatenate(items) if items else empty_i,
        np.concatenate(grades) if grades else np.empty(0, dtype=np.float64),
        len(relevance) if n_users is None else n_users,
        n_items,
        "max",
    )


def _iter_ids(entry: Iterable[Any]) -> Iterable[Any]:
    if isinstance(entry, np.ndarray):
        return entry.ravel().tolist()
    return entry


def _relevance_for(relevance: RelevanceLike, recs: IntArray) -> Any:
    """CSR relevance aligned with ``recs`` (same users; every recommended id in range)."""
    n_users = recs.shape[0]
    max_rec = int(recs.max()) if recs.size else -1
    if sp.issparse(relevance):
        mat = as_relevance_matrix(relevance, n_users=n_users)
        if max_rec >= mat.shape[1]:
            raise ValueError(
                f"recommended item {max_rec} is out of range for relevance with "
                f"{mat.shape[1]} items"
            )
        return mat
    mat = as_relevance_matrix(relevance, n_users=n_users)
    if max_rec >= mat.shape[1]:
        mat.resize((n_users, max_rec + 1))
    return mat


def _lookup(mat: Any, recs: IntArray) -> FloatArray:
    """Grade of every ``recs[u, j]`` in ``mat`` (0 for empty slots and unlisted items)."""
    n_users, n_items = mat.shape
    out = np.zeros(recs.shape, dtype=np.float64)
    if mat.nnz == 0 or recs.size == 0:
        return out
    counts = np.diff(mat.indptr)
    rows = np.repeat(np.arange(n_users, dtype=np.int64), counts)
    keys = rows * n_items + mat.indices.astype(np.int64)  # sorted: CSR is row-major, sorted
    valid = recs >= 0
    query = np.arange(n_users, dtype=np.int64)[:, None] * n_items + recs
    pos = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    found = valid & (keys[pos] == query)
    out[found] = mat.data[pos[found]]
    return out


def _prepare(
    recs: ArrayLike, relevance: RelevanceLike, k: int
) -> tuple[IntArray, FloatArray, IntArray, Any]:
    """(recs cut to k, grades at each slot, |R_u|, canonical CSR relevance)."""
    _check_k(k, allow_none=False)
    r = _as_recs(recs, k)
    mat = _relevance_for(relevance, r)
    grades = _lookup(mat, r)
    n_rel = np.diff(mat.indptr).astype(np.int64)
    return r, grades, n_rel, mat


def _apply_empty_relevant(values: FloatArray, n_rel: IntArray, empty_relevant: str) -> FloatArray:
    _check_option("empty_relevant", empty_relevant, ("skip", "zero"))
    fill = np.nan if empty_relevant == "skip" else 0.0
    return np.where(n_rel > 0, values, fill)


# --------------------------------------------------------------------------------------
# Accuracy metrics
# --------------------------------------------------------------------------------------


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
    _, grades, n_rel, _ = _prepare(recs, relevance, k)
    return _apply_empty_relevant(_hit_rate(grades), n_rel, empty_relevant)


def hit_rate_at_k(
    recs: ArrayLike, relevance: RelevanceLike, k: int, *, empty_relevant: EmptyRelevant = "skip"
) -> float:
    """Mean HitRate@k over users; see :func:`hit_rate_at_k_per_user`."""
    return _nanmean(hit_rate_at_k_per_user(recs, relevance, k, empty_relevant=empty_relevant))


def _hit_rate(grades: FloatArray) -> FloatArray:
    return np.asarray((grades > 0).any(axis=1), dtype=np.float64)


def _precision(recs: IntArray, grades: FloatArray, k: int, divisor: str) -> FloatArray:
    _check_option("divisor", divisor, ("k", "n_recommended"))
    n_hits = (grades > 0).sum(axis=1).astype(np.float64)
    den = float(k) if divisor == "k" else (recs >= 0).sum(axis=1)
    return _safe_div(n_hits, den)


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
    r, grades, n_rel, _ = _prepare(recs, relevance, k)
    return _apply_empty_relevant(_precision(r, grades, k, divisor), n_rel, empty_relevant)


def precision_at_k(
    recs: ArrayLike,
    relevance: RelevanceLike,
    k: int,
    *,
    divisor: Literal["k", "n_recommended"] = "k",
    empty_relevant: EmptyRelevant = "skip",
) -> float:
    """Mean Precision@k over users; see :func:`precision_at_k_per_user`."""
    return _nanmean(
        precision_at_k_per_user(recs, relevance, k, divisor=divisor, empty_relevant=empty_relevant)
    )


def _recall(grades: FloatArray, n_rel: IntArray, k: int, divisor: str) -> FloatArray:
    _check_option("divisor", divisor, ("relevant", "min_k_relevant"))
    n_hits = (grades > 0).sum(axis=1).astype(np.float64)
    den = n_rel if divisor == "relevant" else np.minimum(n_rel, k)
    return _safe_div(n_hits, den)


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
    _, grades, n_rel, _ = _prepare(recs, relevance, k)
    return _apply_empty_relevant(_recall(grades, n_rel, k, divisor), n_rel, empty_relevant)


def recall_at_k(
    recs: ArrayLike,
    relevance: RelevanceLike,
    k: int,
    *,
    divisor: Literal["relevant", "min_k_relevant"] = "relevant",
    empty_relevant: EmptyRelevant = "skip",
) -> float:
    """Mean Recall@k over users; see :func:`recall_at_k_per_user`."""
    return _nanmean(
        recall_at_k_per_user(recs, relevance, k, divisor=divisor, empty_relevant=empty_relevant)
    )


def _mrr(grades: FloatArray) -> FloatArray:
    hits = grades > 0
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
    _, grades, n_rel, _ = _prepare(recs, relevance, k)
    return _apply_empty_relevant(_mrr(grades), n_rel, empty_relevant)


def mrr_at_k(
    recs: ArrayLike, relevance: RelevanceLike, k: int, *, empty_relevant: EmptyRelevant = "skip"
) -> float:
    """Mean reciprocal rank at k; see :func:`mrr_at_k_per_user`."""
    return _nanmean(mrr_at_k_per_user(recs, relevance, k, empty_relevant=empty_relevant))


def _average_precision(grades: FloatArray, n_rel: IntArray, k: int, divisor: str) -> FloatArray:
    _check_option("divisor", divisor, ("min_k_relevant", "relevant"))
    hits = (grades > 0).astype(np.float64)
    ranks = np.arange(1, hits.shape[1] + 1, dtype=np.float64)
    prec_at_j = np.cumsum(hits, axis=1) / ranks
    total = (prec_at_j * hits).sum(axis=1)
    den = np.minimum(n_rel, k) if divisor == "min_k_relevant" else n_rel
    return _safe_div(total, den)


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
    _, grades, n_rel, _ = _prepare(recs, relevance, k)
    values = _average_precision(grades, n_rel, k, divisor)
    return _apply_empty_relevant(values, n_rel, empty_relevant)


def map_at_k(
    recs: ArrayLike,
    relevance: RelevanceLike,
    k: int,
    *,
    divisor: Literal["min_k_relevant", "relevant"] = "min_k_relevant",
    empty_relevant: EmptyRelevant = "skip",
) -> float:
    """Mean average precision at k; see :func:`map_at_k_per_user`."""
    return _nanmean(
        map_at_k_per_user(recs, relevance, k, divisor=divisor, empty_relevant=empty_relevant)
    )


def _gain(grades: FloatArray, gain: str) -> FloatArray:
    _check_option("gain", gain, ("linear", "exponential"))
    if gain == "linear":
        return grades
    return np.asarray(np.exp2(grades) - 1.0, dtype=np.float64)


def _discounts(n: int) -> FloatArray:
    return 1.0 / np.log2(np.arange(2, n + 2, dtype=np.float64))


def _idcg(mat: Any, k: int, gain: str, ideal: str) -> FloatArray:
    _check_option("ideal", ideal, ("min_k_relevant", "k", "all_relevant"))
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


def _ndcg(grades: FloatArray, mat: Any, k: int, gain: str, ideal: str) -> FloatArray:
    dcg = (_gain(grades, gain) * _discounts(grades.shape[1])).sum(axis=1)
    return _safe_div(dcg, _idcg(mat, k, gain, ideal))


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
    _, grades, n_rel, mat = _prepare(recs, relevance, k)
    return _apply_empty_relevant(_ndcg(grades, mat, k, gain, ideal), n_rel, empty_relevant)


def ndcg_at_k(
    recs: ArrayLike,
    relevance: RelevanceLike,
    k: int,
    *,
    gain: Gain = "linear",
    ideal: Ideal = "min_k_relevant",
    empty_relevant: EmptyRelevant = "skip",
) -> float:
    """Mean NDCG@k over users; see :func:`ndcg_at_k_per_user`."""
    return _nanmean(
        ndcg_at_k_per_user(
            recs, relevance, k, gain=gain, ideal=ideal, empty_relevant=empty_relevant
        )
    )


def _serendipity(
    recs: IntArray, grades: FloatArray, baseline_recs: ArrayLike, divisor: str, k: int
) -> FloatArray:
    _check_option("divisor", divisor, ("k", "unexpected"))
    n_users = recs.shape[0]
    base = np.asarray(baseline_recs)
    if base.ndim == 1:
        base = np.broadcast_to(base, (n_users, base.shape[0]))
    base = _as_recs(base, None, check_duplicates=False)
    if base.shape[0] != n_users:
        raise ValueError(f"baseline_recs has {base.shape[0]} rows, expected {n_users} users")
    width = max(int(recs.max()) if recs.size else 0, int(base.max()) if base.size else 0) + 1
    row_ids = np.arange(n_users, dtype=np.int64)[:, None]
    base_keys = np.unique((row_ids * width + base)[base >= 0])
    rec_keys = row_ids * width + recs
    expected = np.isin(rec_keys, base_keys) & (recs >= 0)
    unexpected = (recs >= 0) & ~expected
    n_serendipitous = ((grades > 0) & unexpected).sum(axis=1).astype(np.float64)
    den = float(k) if divisor == "k" else unexpected.sum(axis=1)
    return _safe_div(n_serendipitous, den)


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
    r, grades, n_rel, _ = _prepare(recs, relevance, k)
    values = _serendipity(r, grades, baseline_recs, divisor, k)
    return _apply_empty_relevant(values, n_rel, empty_relevant)


def serendipity(
    recs: ArrayLike,
    relevance: RelevanceLike,
    baseline_recs: ArrayLike,
    k: int,
    *,
    divisor: Literal["k", "unexpected"] = "k",
    empty_relevant: EmptyRelevant = "skip",
) -> float:
    """Mean serendipity over users; see :func:`serendipity_per_user`."""
    return _nanmean(
        serendipity_per_user(
            recs, relevance, baseline_recs, k, divisor=divisor, empty_relevant=empty_relevant
        )
    )


# --------------------------------------------------------------------------------------
# Coverage and popularity bias
# --------------------------------------------------------------------------------------


def recommendation_counts(recs: ArrayLike, n_items: int, k: int | None = None) -> IntArray:
    """How many top-k lists each item appears in: int64 ``(n_items,)`` (empty slots ignored)."""
    _check_k(k, allow_none=True)
    r = _as_recs(recs, k)
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
    _check_k(k, allow_none=True)
    if min_items < 1:
        raise ValueError("min_items must be >= 1")
    r = _as_recs(recs, k)
    return ((r >= 0).sum(axis=1) >= min_items).astype(np.float64)


def user_coverage(recs: ArrayLike, k: int | None = None, *, min_items: int = 1) -> float:
    """Share of users with a non-empty (``>= min_items``) top-k list."""
    return _nanmean(user_coverage_per_user(recs, k, min_items=min_items))


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
    _check_option("denominator", denominator, ("n", "n_minus_1"))
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
    _check_k(k, allow_none=True)
    pop = _item_values(item_popularity, "item_popularity")
    return _list_mean(_as_recs(recs, k), pop)


def average_recommendation_popularity(
    recs: ArrayLike, item_popularity: ArrayLike, k: int | None = None
) -> float:
    """ARP: mean over users of :func:`average_recommendation_popularity_per_user`."""
    return _nanmean(average_recommendation_popularity_per_user(recs, item_popularity, k))


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
    _check_k(k, allow_none=True)
    info = _self_information(item_popularity, denominator, min_count)
    return _list_mean(_as_recs(recs, k), info)


def novelty(
    recs: ArrayLike,
    item_popularity: ArrayLike,
    k: int | None = None,
    *,
    denominator: float | None = None,
    min_count: float = 1.0,
) -> float:
    """Mean novelty over users; see :func:`novelty_per_user`."""
    return _nanmean(
        novelty_per_user(recs, item_popularity, k, denominator=denominator, min_count=min_count)
    )


# --------------------------------------------------------------------------------------
# Diversity and calibration
# --------------------------------------------------------------------------------------


def intra_list_diversity_per_user(
    recs: ArrayLike,
    k: int | None = None,
    *,
    item_vectors: ArrayLike | None = None,
    item_category: ArrayLike | None = None,
) -> FloatArray:
    r"""Mean pairwise distance between the items of each user's list.

    .. math:: \mathrm{ILD}_u = \frac{2}{n_u(n_u-1)} \sum_{a<b} d(i_a, i_b)

    over the ``n_u`` non-empty slots of ``L_u@k``. Exactly one of:

    * ``item_vectors`` ``(n_items, d)``: cosine distance ``d = 1 - cos(v_a, v_b)`` (in
      [0, 2]); a zero vector has cosine similarity 0 with everything (distance 1).
    * ``item_category`` ``(n_items,)`` integer labels: ``d = 1`` if the categories differ,
      else 0.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_users,)``; NaN for lists with fewer than two items.

    References
    ----------
    Ziegler et al., "Improving recommendation lists through topic diversification", WWW
    2005. Vargas & Castells, RecSys 2011.
    """
    _check_k(k, allow_none=True)
    if (item_vectors is None) == (item_category is None):
        raise ValueError("pass exactly one of item_vectors or item_category")
    r = _as_recs(recs, k)
    n_users, width = r.shape
    out = np.full(n_users, np.nan)
    if item_vectors is not None:
        vec = np.asarray(item_vectors, dtype=np.float64)
        if vec.ndim != 2:
            raise ValueError("item_vectors must be 2-D (n_items, d)")
        norms = np.linalg.norm(vec, axis=1, keepdims=True)
        unit = np.divide(vec, norms, out=np.zeros_like(vec), where=norms > 0)
        n_items, dim = vec.shape
    else:
        cat = np.asarray(item_category)
        if cat.ndim != 1 or (cat.size and not np.issubdtype(cat.dtype, np.integer)):
            raise ValueError("item_category must be a 1-D integer array (n_items,)")
        n_items, dim = cat.shape[0], 1
    if r.size and int(r.max()) >= n_items:
        raise ValueError(f"recommended item {int(r.max())} out of range ({n_items} items)")
    if width < 2:
        return out
    off_diag = ~np.eye(width, dtype=bool)
    block = max(1, _LIST_BLOCK_ELEMENTS // (width * max(width, dim)))
    for start in range(0, n_users, block):
        rb = r[start : start + block]
        valid = rb >= 0
        safe = np.where(valid, rb, 0)
        if item_vectors is not None:
            x = unit[safe]
            dist = np.clip(1.0 - np.matmul(x, np.swapaxes(x, 1, 2)), 0.0, 2.0)
        else:
            c = cat[safe]
            dist = (c[:, :, None] != c[:, None, :]).astype(np.float64)
        pair = valid[:, :, None] & valid[:, None, :] & off_diag
        total = (dist * pair).sum(axis=(1, 2)) / 2.0
        n = valid.sum(axis=1).astype(np.float64)
        n_pairs = n * (n - 1.0) / 2.0
        seg = out[start : start + block]
        np.divide(total, n_pairs, out=seg, where=n_pairs > 0)
    return out


def intra_list_diversity(
    recs: ArrayLike,
    k: int | None = None,
    *,
    item_vectors: ArrayLike | None = None,
    item_category: ArrayLike | None = None,
) -> float:
    """Mean intra-list diversity over users; see :func:`intra_list_diversity_per_user`."""
    return _nanmean(
        intra_list_diversity_per_user(
            recs, k, item_vectors=item_vectors, item_category=item_category
        )
    )


def _category_matrix(item_category: ArrayLike) -> tuple[Any, FloatArray | None, IntArray | None]:
    """(sparse p(c|i) rows, dense p(c|i) or None, integer labels or None)."""
    cat = np.asarray(item_category)
    if cat.ndim == 1:
        if cat.size and not np.issubdtype(cat.dtype, np.integer):
            raise ValueError("1-D item_category must hold integer labels")
        labels = cat.astype(np.int64)
        if labels.size and int(labels.min()) < 0:
            raise ValueError("category labels must be non-negative")
        n_cat = int(labels.max()) + 1 if labels.size else 0
        onehot = sp.csr_array(
            (np.ones(labels.size), (np.arange(labels.size), labels)),
            shape=(labels.size, n_cat),
        )
        return onehot, None, labels
    if cat.ndim != 2:
        raise ValueError("item_category must be (n_items,) labels or (n_items, n_cat) weights")
    dense = np.asarray(cat, dtype=np.float64)
    if not np.all(np.isfinite(dense)) or (dense.size and float(dense.min()) < 0):
        raise ValueError("category weights must be finite and non-negative")
    row_sum = dense.sum(axis=1, keepdims=True)
    if np.any(row_sum <= 0):
        raise ValueError("every item needs a positive category weight")
    dense = dense / row_sum
    return sp.csr_array(dense), dense, None


def calibration_kl_per_user(
    recs: ArrayLike,
    history: RelevanceLike,
    item_category: ArrayLike,
    k: int | None = None,
    *,
    alpha: float = 0.01,
) -> FloatArray:
    r"""Miscalibration per user: KL divergence from history genres to recommended genres.

    .. math:: C_{KL}(p, q) = \sum_c p(c|u) \ln\frac{p(c|u)}{\tilde q(c|u)}, \qquad
              \tilde q = (1-\alpha)\, q + \alpha\, p

    with ``p(c|u) ∝ sum_{i in H_u} w_{u,i} p(c|i)`` over the user's history (weights = stored
    values of ``history``) and ``q(c|u) = (1/|L_u@k|) sum_{i in L_u@k} p(c|i)`` (uniform over
    the list). Natural log (nats); terms with ``p(c|u) = 0`` are 0. The smoothing keeps the
    value finite for ``alpha > 0``; ``alpha=0`` gives ``inf`` when a history category is
    missing from the list. 0 means perfectly calibrated.

    Parameters
    ----------
    recs
        ``(n_users, L)`` item ids, ``-1`` for empty slots.
    history
        The users' training interactions, same forms as ``relevance`` elsewhere
        (sparse ``(n_users, n_items)`` weights or per-user item collections).
    item_category
        ``(n_items,)`` integer labels (``p(c|i)`` one-hot), or ``(n_items, n_cat)``
        non-negative weights, each row normalised to ``p(c|i)``.
    k
        Cut-off (``None``: all columns).
    alpha
        Smoothing weight in [0, 1]; Steck uses 0.01.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_users,)``; NaN for users with an empty history or an empty list.

    References
    ----------
    Steck, "Calibrated recommendations", RecSys 2018.
    """
    _check_k(k, allow_none=True)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must be in [0, 1]")
    r = _as_recs(recs, k)
    n_users, width = r.shape
    cat_sparse, cat_dense, labels = _category_matrix(item_category)
    n_items, n_cat = cat_sparse.shape
    if r.size and int(r.max()) >= n_items:
        raise ValueError(f"recommended item {int(r.max())} out of range ({n_items} items)")
    hist = as_relevance_matrix(history, n_users=n_users)
    if hist.shape[1] > n_items:
        raise ValueError(f"history has {hist.shape[1]} items, item_category {n_items}")
    if hist.shape[1] < n_items:
        hist.resize((n_users, n_items))
    out = np.full(n_users, np.nan)
    block = max(1, _LIST_BLOCK_ELEMENTS // max(1, width * n_cat, n_cat))
    for start in range(0, n_users, block):
        rb = r[start : start + block]
        b = rb.shape[0]
        valid = rb >= 0
        safe = np.where(valid, rb, 0)
        p = np.asarray((hist[start : start + b] @ cat_sparse).toarray(), dtype=np.float64)
        p_tot = p.sum(axis=1, keepdims=True)
        if labels is not None:
            flat = (np.arange(b)[:, None] * n_cat + labels[safe])[valid]
            q = np.bincount(flat, minlength=b * n_cat).astype(np.float64).reshape(b, n_cat)
        else:
            assert cat_dense is not None
            q = (cat_dense[safe] * valid[:, :, None]).sum(axis=1)
        n_rec = valid.sum(axis=1, keepdims=True).astype(np.float64)
        ok = (p_tot[:, 0] > 0) & (n_rec[:, 0] > 0)
        p = _safe_div(p, p_tot)
        q = _safe_div(q, n_rec)
        q_s = (1.0 - alpha) * q + alpha * p
        pos = p > 0
        with np.errstate(divide="ignore"):
            ratio = np.divide(p, q_s, out=np.ones_like(p), where=pos & (q_s > 0))
            ratio[pos & (q_s == 0)] = np.inf
            terms = np.where(pos, p * np.log(ratio), 0.0)
        seg = out[start : start + b]
        seg[ok] = terms.sum(axis=1)[ok]
    return out


def calibration_kl(
    recs: ArrayLike,
    history: RelevanceLike,
    item_category: ArrayLike,
    k: int | None = None,
    *,
    alpha: float = 0.01,
) -> float:
    """Mean miscalibration over users; see :func:`calibration_kl_per_user`."""
    return _nanmean(calibration_kl_per_user(recs, history, item_category, k, alpha=alpha))


# --------------------------------------------------------------------------------------
# Uncertainty
# --------------------------------------------------------------------------------------


def bootstrap_ci(
    per_user_values: ArrayLike,
    n_boot: int = 1000,
    alpha: float = 0.05,
    *,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean over users.

    NaN entries (users left out of the metric) are dropped first; the remaining ``n`` values
    are resampled with replacement ``n_boot`` times and the ``alpha/2`` and ``1 - alpha/2``
    quantiles of the resampled means are returned. ``(nan, nan)`` when no value remains.
    Deterministic given the state of ``rng`` (the only source of randomness).

    References
    ----------
    Efron & Tibshirani, *An Introduction to the Bootstrap*, ch. 13, 1993.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    if isinstance(n_boot, bool) or int(n_boot) < 1:
        raise ValueError("n_boot must be a positive integer")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    vals = np.asarray(per_user_values, dtype=np.float64).ravel()
    vals = vals[~np.isnan(vals)]
    n = vals.size
    if n == 0:
        return float("nan"), float("nan")
    n_boot = int(n_boot)
    means = np.empty(n_boot, dtype=np.float64)
    chunk = max(1, _BOOT_BLOCK_ELEMENTS // n)
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(m, n))
        means[start : start + m] = vals[idx].mean(axis=1)
    with np.errstate(invalid="ignore"):  # infinite per-user values give inf - inf
        lo, hi = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def ranking_report(
    recs: ArrayLike,
    relevance: RelevanceLike,
    k: int,
    item_popularity: ArrayLike | None = None,
    item_vectors: ArrayLike | None = None,
    item_category: ArrayLike | None = None,
    *,
    history: RelevanceLike | None = None,
    baseline_recs: ArrayLike | None = None,
    n_items: int | None = None,
    rng: np.random.Generator | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    empty_relevant: EmptyRelevant = "skip",
    precision_divisor: Literal["k", "n_recommended"] = "k",
    recall_divisor: Literal["relevant", "min_k_relevant"] = "relevant",
    map_divisor: Literal["min_k_relevant", "relevant"] = "min_k_relevant",
    gain: Gain = "linear",
    ideal: Ideal = "min_k_relevant",
    serendipity_divisor: Literal["k", "unexpected"] = "k",
    popularity_denominator: float | None = None,
    gini_denominator: Literal["n", "n_minus_1"] = "n",
    calibration_alpha: float = 0.01,
) -> pd.DataFrame:
    """All metrics at cut-off ``k`` in one table.

    Rows (index ``metric``, named ``<name>@<k>``) always include ``hit_rate``,
    ``precision``, ``recall``, ``mrr``, ``map``, ``ndcg`` and ``user_coverage``; then
    ``catalogue_coverage`` and ``gini`` when the catalogue size is known (``n_items``, else
    the width of a sparse ``relevance``, else ``len(item_popularity)``, ``len(item_vectors)``
    or ``len(item_category)``); ``novelty`` and ``arp`` with ``item_popularity``;
    ``ild_cosine`` with ``item_vectors``; ``ild_category`` with 1-D ``item_category``;
    ``serendipity`` with ``baseline_recs``; ``calibration_kl`` with ``history`` and
    ``item_category``. The keyword options are passed to the matching metric functions.

    Columns: ``value`` (mean over counted users, or the aggregate), ``ci_low``/``ci_high``
    (percentile bootstrap over users with :func:`bootstrap_ci`, drawing from ``rng`` metric
    by metric in row order; NaN when ``rng`` is None, and always NaN for the aggregate
    ``catalogue_coverage`` and ``gini``, whose user-bootstrap is biased downward by
    duplicated users), and ``n_users`` (users counted; all users for aggregates).
    """
    _check_k(k, allow_none=False)
    r, grades, n_rel, mat = _prepare(recs, relevance, k)
    n_users = r.shape[0]

    per_user: dict[str, FloatArray] = {
        "hit_rate": _hit_rate(grades),
        "precision": _precision(r, grades, k, precision_divisor),
        "recall": _recall(grades, n_rel, k, recall_divisor),
        "mrr": _mrr(grades),
        "map": _average_precision(grades, n_rel, k, map_divisor),
        "ndcg": _ndcg(grades, mat, k, gain, ideal),
    }
    per_user = {m: _apply_empty_relevant(v, n_rel, empty_relevant) for m, v in per_user.items()}
    per_user["user_coverage"] = user_coverage_per_user(r)

    if n_items is None:
        if sp.issparse(relevance):
            n_items = int(mat.shape[1])
        else:
            for candidate in (item_popularity, item_vectors, item_category):
                if candidate is not None:
                    n_items = int(np.asarray(candidate).shape[0])
                    break
    aggregates: dict[str, float] = {}
    if n_items is not None:
        aggregates["catalogue_coverage"] = catalogue_coverage(r, n_items)
        aggregates["gini"] = gini_index(r, n_items, denominator=gini_denominator)

    if item_popularity is not None:
        per_user["novelty"] = novelty_per_user(
            r, item_popularity, denominator=popularity_denominator
        )
        per_user["arp"] = average_recommendation_popularity_per_user(r, item_popularity)
    if item_vectors is not None:
        per_user["ild_cosine"] = intra_list_diversity_per_user(r, item_vectors=item_vectors)
    if item_category is not None and np.asarray(item_category).ndim == 1:
        per_user["ild_category"] = intra_list_diversity_per_user(r, item_category=item_category)
    if baseline_recs is not None:
        per_user["serendipity"] = _apply_empty_relevant(
            _serendipity(r, grades, baseline_recs, serendipity_divisor, k), n_rel, empty_relevant
        )
    if history is not None and item_category is not None:
        per_user["calibration_kl"] = calibration_kl_per_user(
            r, history, item_category, alpha=calibration_alpha
        )

    rows: list[dict[str, Any]] = []
    for name, values in per_user.items():
        lo, hi = (
            bootstrap_ci(values, n_boot, alpha, rng=rng)
            if rng is not None
            else (float("nan"), float("nan"))
        )
        rows.append(
            {
                "metric": f"{name}@{k}",
                "value": _nanmean(values),
                "ci_low": lo,
                "ci_high": hi,
                "n_users": int(np.count_nonzero(~np.isnan(values))),
            }
        )
    for name, value in aggregates.items():
        rows.append(
            {
                "metric": f"{name}@{k}",
                "value": value,
                "ci_low": float("nan"),
                "ci_high": float("nan"),
                "n_users": n_users,
            }
        )
    frame = pd.DataFrame(rows, columns=["metric", "value", "ci_low", "ci_high", "n_users"])
    return frame.set_index("metric")
