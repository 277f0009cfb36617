"""Picking arms from scores: the top-k of every kernel, with seeded tie-breaking.

Every bandit kernel ranks per-arm scores — shared (K,) or per user (B, K), ``+inf`` for forced
arms, ``-inf`` for ineligible ones — with :func:`select_top_k`; the propensities in
:mod:`.propensities` read the same scores with the helpers here.
"""

from __future__ import annotations

from typing import Literal, TypedDict

import numpy as np
from numpy.typing import ArrayLike

from recarena.typing import BoolArray, FloatArray, IntArray

__all__ = [
    "Selection",
    "TieBreak",
    "any_row_tied",
    "eligible_count",
    "masked",
    "picked",
    "select_top_k",
    "tie_counts",
]

TieBreak = Literal["random", "first"]


class Selection(TypedDict):
    """How arms are picked from scores, shared by every kernel (see :func:`select_top_k`)."""

    k: int
    eligible: BoolArray | None
    tie_break: TieBreak


def masked(scores: ArrayLike, eligible: BoolArray | None) -> FloatArray:
    """Scores as float64 with ineligible arms set to -inf (shape (K,) or (B, K))."""
    s = np.asarray(scores, dtype=np.float64)
    return s if eligible is None else np.where(eligible, s, -np.inf)


def _candidate_columns(s: FloatArray, k: int) -> IntArray:
    """Per row of ``s`` (R, K), the columns of the C largest scores, C covering every row's ties
    with its k-th largest score — so the top-k under any tie-break lies within them."""
    n_arms = s.shape[1]
    all_columns = np.broadcast_to(np.arange(n_arms, dtype=np.int64), s.shape)
    if k >= n_arms:
        return all_columns
    kth = np.partition(s, n_arms - k, axis=1)[:, n_arms - k]
    c = int((s >= kth[:, None]).sum(axis=1).max())
    if c >= n_arms:
        return all_columns
    return np.argpartition(-s, c - 1, axis=1)[:, :c].astype(np.int64)


def _select_best(s: FloatArray, rng: np.random.Generator | None, batch_size: int) -> IntArray:
    """k = 1 without sorting: the argmax, ties resolved by random keys when ``rng`` is given."""
    if s.ndim == 1:
        ties = np.flatnonzero(s == s.max())
        if ties.size == 1 or rng is None:
            return np.full((batch_size, 1), ties[0], dtype=np.int64)
        return ties[rng.integers(ties.size, size=batch_size)][:, None]
    best = s.argmax(axis=1)
    if rng is None:
        return best[:, None]
    top = s[np.arange(s.shape[0]), best]
    ties = s == top[:, None]
    if not any_row_tied(ties, top):
        return best[:, None]
    return np.where(ties, rng.random(s.shape), -1.0).argmax(axis=1)[:, None]


def any_row_tied(ties: BoolArray, top: FloatArray) -> bool:
    """Whether some row of ``ties`` (R, K) = ``s == top[:, None]`` holds more than one True.

    Every row holds its own maximum unless that is NaN, so without NaN the total count says it
    (one pass, instead of a per-row sum over a short axis, which numpy does slowly)."""
    if np.isnan(top).any():
        return bool((ties.sum(axis=1) > 1).any())
    return int(np.count_nonzero(ties)) > top.shape[0]


def select_top_k(
    scores: ArrayLike,
    k: int,
    rng: np.random.Generator | None,
    *,
    batch_size: int,
    eligible: BoolArray | None = None,
    tie_break: TieBreak = "random",
) -> IntArray:
    """The k highest-scoring eligible arms per user, best first.

    Parameters
    ----------
    scores
        Shape (K,) when all users share the scores, or (B, K). ``+inf`` marks forced arms.
    k
        Number of arms per user (1 on the variant and campaign surfaces).
    rng
        Generator for random tie-breaks (may be ``None`` with ``tie_break="first"``).
    batch_size
        B; used when ``scores`` is shared.
    eligible
        Boolean mask (K,) or (B, K); ineligible arms score -inf.
    tie_break
        ``"random"``: equal scores are ordered uniformly at random, independently per user;
        ``"first"``: by lowest arm index.

    Returns
    -------
    numpy.ndarray
        int64 arm indices, shape (B, k).

    Notes
    -----
    Cost O(B·K) plus a sort of the (few) candidates tied with the k-th score: the k-th largest
    score is found by partition, and only columns scoring at least that much are lexsorted on
    (score, tie key).
    """
    s = masked(scores, eligible)
    n_arms = s.shape[-1]
    if not 1 <= k <= n_arms:
        raise ValueError(f"cannot select {k} of {n_arms} arms")
    if tie_break == "random" and rng is None:
        raise ValueError("random tie-breaking needs a generator")
    if k == 1:
        return _select_best(s, rng if tie_break == "random" else None, batch_size)
    if s.ndim == 1:
        columns = _candidate_columns(s[None, :], k)[0]
        if tie_break == "first":
            best = columns[np.lexsort((columns, -s[columns]))[:k]]
            return np.tile(best, (batch_size, 1))
        columns = np.broadcast_to(columns, (batch_size, columns.size))
        top = np.broadcast_to(s[columns[0]], columns.shape)
    else:
        columns = _candidate_columns(s, k)
        top = np.take_along_axis(s, columns, axis=1)
    key = rng.random(top.shape) if rng is not None and tie_break == "random" else columns
    order = np.lexsort((key, -top), axis=-1)[:, :k]
    return np.take_along_axis(columns, order, axis=1)


def picked(s: FloatArray, first: IntArray) -> FloatArray:
    """Score of each user's ``first`` arm, (B,), from shared (K,) or per-user (B, K) scores."""
    return s[first] if s.ndim == 1 else np.take_along_axis(s, first[:, None], axis=1)[:, 0]


def tie_counts(s: FloatArray) -> IntArray:
    """Per arm i of the shared scores ``s`` (K,), the number of arms j with sⱼ = sᵢ (0 for NaN,
    which equals nothing): a K×K comparison for small K, runs of a sort beyond."""
    n_arms = s.shape[0]
    if n_arms <= 64:
        return (s[:, None] == s[None, :]).sum(axis=1)
    order = np.argsort(s, kind="stable")
    ordered = s[order]
    starts = np.empty(n_arms, dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    run = np.cumsum(starts) - 1
    counts = np.empty(n_arms, dtype=np.int64)
    counts[order] = np.bincount(run)[run]
    counts[np.isnan(s)] = 0
    return counts


def eligible_count(eligible: BoolArray | None, n_rows: int, n_arms: int) -> FloatArray:
    """Number of eligible arms per user, (B,) as float64 (K for every user without a mask)."""
    if eligible is None:
        return np.full(n_rows, float(n_arms))
    return np.broadcast_to(eligible, (n_rows, n_arms)).sum(axis=1).astype(np.float64)
