r"""Diversity and calibration of top-k lists: intra-list diversity and miscalibration (KL).

Both are list properties, undefined (NaN, left out of the mean) for lists too short to have
them; the mean over users comes from :func:`~recarena.analysis.ranking.base.mean_over_users`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from recarena.analysis.ranking.base import mean_over_users
from recarena.analysis.ranking.inputs import (
    RelevanceLike,
    as_recs,
    as_relevance_matrix,
    check_k,
    safe_div,
)
from recarena.typing import FloatArray, IntArray

__all__ = [
    "calibration_kl",
    "calibration_kl_per_user",
    "intra_list_diversity",
    "intra_list_diversity_per_user",
]

# Work-size target (array elements per block) that keeps temporaries to tens of MB.
_LIST_BLOCK_ELEMENTS = 1 << 22


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
    check_k(k, allow_none=True)
    if (item_vectors is None) == (item_category is None):
        raise ValueError("pass exactly one of item_vectors or item_category")
    r = as_recs(recs, k)
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


intra_list_diversity = mean_over_users(
    intra_list_diversity_per_user, "Mean intra-list diversity over users"
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
    check_k(k, allow_none=True)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must be in [0, 1]")
    r = as_recs(recs, k)
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
        p = safe_div(p, p_tot)
        q = safe_div(q, n_rec)
        q_s = (1.0 - alpha) * q + alpha * p
        pos = p > 0
        with np.errstate(divide="ignore"):
            ratio = np.divide(p, q_s, out=np.ones_like(p), where=pos & (q_s > 0))
            ratio[pos & (q_s == 0)] = np.inf
            terms = np.where(pos, p * np.log(ratio), 0.0)
        seg = out[start : start + b]
        seg[ok] = terms.sum(axis=1)[ok]
    return out


calibration_kl = mean_over_users(calibration_kl_per_user, "Mean miscalibration over users")
