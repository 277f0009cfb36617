"""Exact top-k selection over score matrices, with deterministic tie-breaking.

Shared by every scorer that turns item scores into slates (recommenders, content models,
two-stage rankers) and by offline evaluation. Pure numpy; imports nothing of recarena but
:mod:`recarena.typing`.

Ordering convention everywhere: score descending, then **item id ascending** on equal scores
(``0.0`` and ``-0.0`` are equal); ``-inf`` scores and excluded items are never returned, and
rows with fewer eligible items than ``k`` are padded with index ``-1`` and score ``-inf``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from recarena.typing import IntArray

__all__ = ["blockwise_top_k", "top_k"]

# Work-size target (score elements per block) that keeps temporaries to tens of MB.
_TOPK_BLOCK_ELEMENTS = 1 << 22
#: Items per chunk of :func:`blockwise_top_k` (their maxima give the threshold) and per
#: sub-chunk (their maxima locate the candidates).
_CHUNK = 64
_SUB_CHUNK = 8


def blockwise_top_k(scores_t: NDArray[np.floating[Any]], k: int, chunk: int = _CHUNK) -> IntArray:
    r"""Exact top-k of each column of an item-major score matrix, fast for large catalogues.

    ``scores_t`` is ``(n_items, B)``: one column per user. The items are cut into chunks of
    ``chunk`` consecutive rows, each cut into sub-chunks of (up to) 8 rows; one streaming
    pass takes every sub-chunk's maximum (vectorised along the contiguous user axis) and the
    chunk maxima follow from those. Let :math:`\theta_u` be user u's k-th largest chunk
    maximum: the k best chunks each hold an item scoring at least :math:`\theta_u`, so the
    user's k-th best score is :math:`\ge \theta_u`, and every item of the true top k
    satisfies :math:`s_{iu} \ge \theta_u`. Those items lie in the sub-chunks whose maximum
    is :math:`\ge \theta_u` (about k per user), so only those are read again; the candidates
    (typically little more than k per user; all tied items are included) are sorted by score
    descending, then item ascending, and cut at k. The result therefore equals a full stable
    sort: score descending, ties by the lower item position (``0.0`` and ``-0.0`` equal),
    ``-inf`` never returned, ``-1`` padding when fewer than ``k`` items are finite.

    Cost: one streaming pass over the block (less than the matrix product that wrote it),
    plus work proportional to the candidates; no per-user ``argpartition`` of the catalogue.
    The worst case is many items tied at :math:`\theta_u` (all become candidates). Small
    catalogues (at most ``2k`` chunks) take the ``argpartition`` path of :func:`top_k`.

    Parameters
    ----------
    scores_t
        ``(n_items, B)`` float scores, item-major. NaN raises :class:`ValueError`.
    k
        Items per user.
    chunk
        Items per chunk.

    Returns
    -------
    numpy.ndarray
        int64 ``(B, k)`` item positions (rows of ``scores_t``), best first, ``-1`` padded.
    """
    n, b = scores_t.shape
    n_chunks = n // chunk
    if b == 0 or n == 0 or n_chunks <= 2 * k:  # small catalogue: nothing to gain
        return _top_k_blocks(np.asarray(scores_t).T, k, None, None)[0]
    s = np.ascontiguousarray(scores_t)
    sub = int(np.gcd(chunk, _SUB_CHUNK))
    full = n_chunks * chunk
    sub_max = np.max(s[:full].reshape(full // sub, sub, b), axis=1)
    chunk_max = np.max(sub_max.reshape(n_chunks, chunk // sub, b), axis=1)
    tail = s[full:]  # fewer than `chunk` items: always compared directly
    if np.isnan(chunk_max.max()) or np.isnan(tail).any():  # NaN propagates through max
        raise ValueError("scores contain NaN")
    theta = np.partition(chunk_max, n_chunks - k, axis=0)[n_chunks - k]
    # θ_u; a user with fewer than k finite chunks takes every finite item (-inf never passes).
    np.maximum(theta, np.finfo(s.dtype).min, out=theta)
    # Candidate sub-chunks in item order; flatnonzero + divmod beats a 2-D np.nonzero.
    part, user = np.divmod(np.flatnonzero(sub_max >= theta), b)
    rows = part[:, None] * sub + np.arange(sub)
    value = s[rows, user[:, None]]
    hit = value >= theta[user, None]
    item, value, user = rows[hit], value[hit], np.broadcast_to(user[:, None], hit.shape)[hit]
    if tail.size:
        t_item, t_user = np.divmod(np.flatnonzero(tail >= theta), b)
        item = np.concatenate([item, t_item + full])
        value = np.concatenate([value, tail[t_item, t_user]])
        user = np.concatenate([user, t_user])
    # Group by user (stable: items stay ascending), then sort each user's row of candidates
    # by score descending (stable again: ties by the lower item).
    order = np.argsort(user, kind="stable")
    user, item, value = user[order], item[order], value[order]
    counts = np.bincount(user, minlength=b)
    rank = np.arange(user.size) - (np.cumsum(counts) - counts)[user]
    width = max(int(counts.max()), k)
    neg = np.full((b, width), np.inf, dtype=s.dtype)
    pos = np.full((b, width), -1, dtype=np.int64)
    neg[user, rank] = -value
    pos[user, rank] = item
    best = np.argsort(neg, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(pos, best, axis=1)


def top_k(
    scores: ArrayLike,
    k: int,
    exclude_mask: ArrayLike | Any | None = None,
    *,
    block_rows: int | None = None,
) -> tuple[IntArray, NDArray[np.floating[Any]]]:
    """The k highest-scoring items of each row, best first, with deterministic ties.

    Ordering: score descending, then **item id ascending** on equal scores (``0.0`` and
    ``-0.0`` are equal) — also at the cut-off, so which of several tied items make the top k
    never depends on the partition algorithm. Items excluded by ``exclude_mask`` and items
    scored ``-inf`` are never returned; when a row has fewer than k eligible items (or
    ``k > n_items``) the tail is padded with index ``-1`` and score ``-inf``, matching the
    ``-1`` padding of the metrics. NaN scores raise :class:`ValueError`.

    Rows are processed in blocks of ``block_rows`` (default: about 4M score elements per
    block). Large catalogues (more than ``2k`` chunks of 64 items) go through
    :func:`blockwise_top_k` on an item-major copy of the block. Otherwise
    ``np.argpartition`` selects k candidates per row in O(n_items); only rows whose k-th
    score is tied with items left outside get one more O(n_items) pass that takes the lowest
    tied ids; then only the k candidates are sorted (``np.lexsort`` on (score, id)).
    ``scores`` and ``exclude_mask`` are never modified.

    Parameters
    ----------
    scores
        ``(B, n_items)`` real scores (float32 typical; integer input is cast to float64).
    k
        Number of items per row (>= 1).
    exclude_mask
        Optional ``(B, n_items)`` boolean array or scipy.sparse matrix; True / stored
        non-zero = never recommend (e.g. already consumed items).
    block_rows
        Rows per block.

    Returns
    -------
    indices : numpy.ndarray
        int64 ``(B, k)``.
    values : numpy.ndarray
        ``(B, k)`` scores of those items, dtype of ``scores``.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or int(k) < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    s = np.asarray(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must be 2-D (B, n_items), got shape {s.shape}")
    if not np.issubdtype(s.dtype, np.floating):
        if not np.issubdtype(s.dtype, np.number) or np.issubdtype(s.dtype, np.complexfloating):
            raise TypeError(f"scores must be real numbers, got dtype {s.dtype}")
        s = s.astype(np.float64)
    mask: Any = None
    if exclude_mask is not None:
        sparse_mask = sp.issparse(exclude_mask)
        mask = sp.csr_array(exclude_mask) if sparse_mask else np.asarray(exclude_mask, dtype=bool)
        if mask.shape != s.shape:
            raise ValueError(f"exclude_mask shape {mask.shape} != scores shape {s.shape}")
    if block_rows is not None and block_rows < 1:
        raise ValueError("block_rows must be >= 1")
    return _top_k_blocks(s, int(k), mask, block_rows)


def _top_k_blocks(
    s: NDArray[np.floating[Any]], k: int, mask: Any, block_rows: int | None
) -> tuple[IntArray, NDArray[np.floating[Any]]]:
    """:func:`top_k` of validated float scores ``s`` (B, n_items); ``mask``: None, a bool
    array or a CSR array of the same shape."""
    n_rows, n_items = s.shape
    kk = min(k, n_items)
    idx_out = np.full((n_rows, k), -1, dtype=np.int64)
    val_out = np.full((n_rows, k), -np.inf, dtype=s.dtype)
    if n_rows == 0 or kk == 0:
        return idx_out, val_out
    if block_rows is None:
        block_rows = max(1, _TOPK_BLOCK_ELEMENTS // n_items)
    all_items = np.arange(n_items, dtype=np.int64)
    blockwise = n_items // _CHUNK > 2 * k

    for start in range(0, n_rows, block_rows):
        stop = min(start + block_rows, n_rows)
        blk_mask: Any = None
        if mask is not None:
            blk_mask = mask[start:stop].toarray() != 0 if sp.issparse(mask) else mask[start:stop]
        if blockwise:
            scores_t = s[start:stop].T.copy()  # item-major, a fresh copy
            if blk_mask is not None:
                if np.isnan(scores_t).any():  # masking must not hide a NaN
                    raise ValueError("scores contain NaN")
                scores_t[blk_mask.T] = -np.inf
            idx = blockwise_top_k(scores_t, k)
            got = idx >= 0
            idx_out[start:stop] = idx
            val_out[start:stop][got] = s[start:stop][np.nonzero(got)[0], idx[got]]
            continue
        neg = -s[start:stop]  # ascending order of neg == descending score; a fresh copy
        if np.isnan(neg).any():
            raise ValueError("scores contain NaN")
        if blk_mask is not None:
            neg[blk_mask] = np.inf
        b = stop - start
        if kk < n_items:
            cand = np.argpartition(neg, kk - 1, axis=1)[:, :kk]
            cand_val = np.take_along_axis(neg, cand, axis=1)
            thr = cand_val.max(axis=1, keepdims=True)  # k-th smallest neg of the row
            # argpartition picks an arbitrary subset of the items tied at the threshold; a
            # row needs repair when more items sit at or below it than there are slots.
            # (Ties at +inf are ineligible items, returned as -1 whichever they are.)
            tied = np.flatnonzero(((neg <= thr).sum(axis=1) > kk) & (thr[:, 0] != np.inf))
            for row in tied:  # a per-row loop beats a blockwise cumsum here by ~10x
                r_neg = neg[row]
                t = r_neg.dtype.type(thr[row, 0])
                better = np.flatnonzero(r_neg < t)
                at_thr = np.flatnonzero(r_neg == t)[: kk - better.size]  # lowest ids first
                cand[row] = np.concatenate((better, at_thr))
                cand_val[row] = r_neg[cand[row]]
        else:
            cand = np.broadcast_to(all_items, (b, n_items)).copy()
            cand_val = neg
        order = np.lexsort((cand, cand_val), axis=1)  # by neg ascending, then id ascending
        idx = np.take_along_axis(cand, order, axis=1)
        val = np.take_along_axis(cand_val, order, axis=1)
        dead = val == np.inf  # excluded or scored -inf
        idx[dead] = -1
        val = -val
        val[dead] = -np.inf
        idx_out[start:stop, :kk] = idx
        val_out[start:stop, :kk] = val
    return idx_out, val_out
