"""Inputs of the ranking metrics: validating top-k lists and building relevance matrices.

Recommendations are ``(n_users, L)`` item ids, best first, ``-1`` for an empty slot;
relevance is a sparse ``(n_users, n_items)`` matrix of grades or one item collection (or
``{item: grade}``) per user — see :mod:`recarena.analysis.ranking` for the conventions.
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
    "EmptyRelevant",
    "Gain",
    "Ideal",
    "RelevanceLike",
    "as_recs",
    "as_relevance_matrix",
    "check_k",
    "check_option",
    "lookup_grades",
    "relevance_for",
    "relevance_from_frame",
    "safe_div",
]

#: A sparse ``(n_users, n_items)`` matrix of grades, or one item collection per user.
RelevanceLike: TypeAlias = Any

EmptyRelevant = Literal["skip", "zero"]
Gain = Literal["linear", "exponential"]
Ideal = Literal["min_k_relevant", "k", "all_relevant"]


def check_option(name: str, value: str, allowed: tuple[str, ...]) -> None:
    """ValueError naming the option and its allowed values unless ``value`` is one of them."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def check_k(k: int | None, *, allow_none: bool) -> None:
    """ValueError unless ``k`` is a positive integer (or None where ``allow_none``)."""
    if k is None:
        if not allow_none:
            raise ValueError("k is required")
        return
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or int(k) < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def as_recs(recs: ArrayLike, k: int | None, *, check_duplicates: bool = True) -> IntArray:
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


def safe_div(num: FloatArray, den: ArrayLike) -> FloatArray:
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
    check_option("duplicates", duplicates, ("max", "sum", "error"))
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


def relevance_for(relevance: RelevanceLike, recs: IntArray) -> Any:
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


def lookup_grades(mat: Any, recs: IntArray) -> FloatArray:
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
