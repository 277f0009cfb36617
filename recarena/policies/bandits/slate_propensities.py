"""Slate propensities: the probability of every slot's arm and of the whole ordered slate.

A bandit that shows a slate of k arms logs, per slot j, P(the arm shown in slot j was put in
slot j) and, where it is computable, P(the whole ordered slate), as
:class:`~recarena.contract.Decision` defines them; off-policy estimators of slates (IIPS)
divide by the first. Column 0 is the first-slot propensity of :mod:`.propensities`.

=====================  ==========================================  ==========================
policy                 per slot                                    whole slate
=====================  ==========================================  ==========================
index (UCB family,     exact: 1/g, g = arms tied with the shown    exact: Π_j 1/(g_j − c_j)
KL-UCB, LinUCB items)  arm (1 with ``tie_break="first"``)
ε-greedy               exact: (1−ε)·P_greedy + ε/m                 exact
softmax                slot 0 exact, later slots Monte Carlo       exact (Plackett–Luce)
Thompson sampling      Monte Carlo                                 NaN (not computable)
(also discounted, and
linear over items)
=====================  ==========================================  ==========================

Monte Carlo estimates count the users' own slates as draws (so they lie in (0, 1]); their
standard error is at most ½/√M for M draws (:func:`monte_carlo_slot_propensities`). A
Plackett–Luce slate's later slots have no closed form (their marginals sum over every
prefix); its whole slate has one (Plackett 1975; Luce 1959). IIPS: Li, Kim & Zitouni 2018.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from recarena.policies.bandits.propensities import Draw, tie_propensity
from recarena.policies.bandits.scores import BLOCK_ELEMENTS
from recarena.policies.bandits.selection import TieBreak, masked, select_top_k
from recarena.policies.recommenders.slates import uniform_slate_probability
from recarena.typing import BoolArray, FloatArray, IntArray

__all__ = [
    "Propensities",
    "epsilon_greedy_slot_propensities",
    "monte_carlo_slot_propensities",
    "plackett_luce_slate_probability",
    "tie_decision_propensities",
    "tie_slot_propensities",
]


@dataclass(frozen=True)
class Propensities:
    """What a bandit logs with its arms (B, k): per-slot propensities and the whole slate's.

    Attributes
    ----------
    slots
        (B, k): P(the arm in slot j was put in slot j); column 0 is the decision's
        ``propensities`` (k = 1 off the slate surface).
    slate
        (B,): P(the whole ordered slate); ``None`` where not computable (logged as NaN).
    """

    slots: FloatArray
    slate: FloatArray | None = None

    @classmethod
    def first_only(cls, first: FloatArray) -> Propensities:
        """One arm per user (k = 1): its propensity is the slot's and the slate's."""
        return cls(first[:, None], first)

    @property
    def first(self) -> FloatArray:
        """The first slot's propensities, (B,)."""
        return self.slots[:, 0]


def _earlier_ties(values: FloatArray) -> IntArray:
    """c[b, j] = number of slots i < j of row b whose score equals slot j's, (B, k)."""
    equal = values[:, :, None] == values[:, None, :]
    return np.tril(equal, -1).sum(axis=2)


def _tied_rows(s: FloatArray, values: FloatArray) -> IntArray:
    """Rows of per-user scores ``s`` (B, K) whose shown arms (``values``, (B, k), best first)
    tie with some arm: a row without ties has exactly k arms at or above its k-th score,
    all distinct (found in one pass)."""
    k = values.shape[1]
    above_kth = (s >= values[:, -1:]).sum(axis=1) > k
    return np.flatnonzero(above_kth | (values[:, 1:] == values[:, :-1]).any(axis=1))


def tie_slot_propensities(
    scores: ArrayLike,
    slates: IntArray,
    *,
    eligible: BoolArray | None = None,
    tie_break: TieBreak = "random",
) -> Propensities:
    """Exact slot and slate probabilities of deterministic scores ranked with random ties.

    ``slates`` (B, k) is the top-k of ``scores`` ((K,) shared or (B, K)). Equal scores are
    ordered uniformly at random, so the arm in slot j, tied with g_j arms in all, is there with
    probability 1/g_j, and the whole ordered slate has probability

        P(s) = Π_j 1 / (g_j − c_j),   c_j = number of earlier slots tied with slot j

    (each tie group's shown members are a uniform ordered draw from it; in a top-k the group
    fills ranks [h, h + g), h arms above it, so c_j = j − h_j). Both are 1 with
    ``tie_break="first"`` or without ties. Column 0 is :func:`.tie_propensity`.
    """
    ones = np.ones(slates.shape)
    if tie_break == "first":
        return Propensities(ones, ones[:, 0])
    s = masked(scores, eligible)
    if s.ndim == 1:  # shared scores: tie groups per arm once, then gathered
        above, tied = _rank_ranges(s)
        g = tied[slates]
        if bool((g == 1).all()):
            return Propensities(ones, ones[:, 0])
        earlier = np.arange(slates.shape[1]) - above[slates]
        return Propensities(1.0 / g, np.prod(1.0 / (g - earlier), axis=1))
    values = np.take_along_axis(s, slates, axis=1)
    rows = _tied_rows(s, values)
    if not rows.size:
        return Propensities(ones, ones[:, 0])
    k = slates.shape[1]
    groups = np.ones(slates.shape, dtype=np.int64)
    step = max(1, BLOCK_ELEMENTS // (k * s.shape[1]))
    for start in range(0, rows.size, step):  # blocks of tied rows bound the (b, k, K) compare
        block = rows[start : start + step]
        groups[block] = (s[block][:, None, :] == values[block][:, :, None]).sum(axis=2)
    return Propensities(1.0 / groups, np.prod(1.0 / (groups - _earlier_ties(values)), axis=1))


def tie_decision_propensities(
    scores: ArrayLike, arms: IntArray, eligible: BoolArray | None, tie_break: TieBreak
) -> Propensities:
    """Propensities of the top-k ``arms`` (B, k) of deterministic scores: the first arm's
    (:func:`.tie_propensity`) for k = 1, every slot's and the slate's
    (:func:`tie_slot_propensities`) on longer slates."""
    if arms.shape[1] > 1:
        return tie_slot_propensities(scores, arms, eligible=eligible, tie_break=tie_break)
    first = tie_propensity(scores, arms[:, 0], eligible=eligible, tie_break=tie_break)
    return Propensities.first_only(first)


def _rank_ranges(s: FloatArray) -> tuple[IntArray, IntArray]:
    """Per arm of the shared scores ``s`` (K,): the number of arms strictly above it and the
    number tied with it (itself included), so its tie group fills ranks [above, above + g)."""
    ordered = np.sort(s)
    right = np.searchsorted(ordered, s, side="right")
    return s.size - right, right - np.searchsorted(ordered, s, side="left")


def epsilon_greedy_slot_propensities(
    means: FloatArray,
    epsilon: float,
    slates: IntArray,
    *,
    eligible: BoolArray | None = None,
    tie_break: TieBreak = "random",
) -> Propensities:
    """Exact slot and slate probabilities of :func:`.epsilon_greedy_kernel`'s slates.

    With probability 1−ε the greedy top-k of ``means`` (K,), else a uniform ordered draw of k of
    the m eligible arms (``eligible`` (K,)). Per slot,

        P(a at j) = (1−ε)·P_greedy(a at j) + ε/m,

    P_greedy(a at j) = 1/g when a's tie group (g arms of equal mean, ranks [h, h + g), h arms
    above it) covers rank j, else 0 (``tie_break="first"``: 1 when a is the greedy slate's j-th
    arm). The whole slate,

        P(s) = (1−ε)·P_greedy(s) + ε·(m−k)!/m!,

    P_greedy(s) = Π_j 1[s_j's group covers j] / (g_j − c_j) (c_j: earlier slots tied with j),
    or 1[s = greedy slate] with ``tie_break="first"``.
    """
    k = slates.shape[1]
    n_arms = means.shape[-1]
    m = n_arms if eligible is None else int(np.count_nonzero(eligible))
    if tie_break == "first":
        greedy = select_top_k(means, k, None, batch_size=1, eligible=eligible, tie_break="first")
        hit = slates == greedy
        p_greedy, slate_greedy = hit.astype(np.float64), hit.all(axis=1).astype(np.float64)
    else:
        s = masked(means, eligible)
        above, tied = _rank_ranges(s)
        h, g = above[slates], tied[slates]
        rank = np.arange(k)
        covers = (h <= rank) & (rank < h + g)
        p_greedy = np.where(covers, 1.0 / g, 0.0)
        # in a greedy slate slot j's group fills ranks [h, h + g): j − h earlier slots share it
        left = np.where(covers, g - (rank - h), 1)
        slate_greedy = np.where(covers.all(axis=1), np.prod(1.0 / left, axis=1), 0.0)
    slots = (1.0 - epsilon) * p_greedy + epsilon / np.float64(m)
    slate = (1.0 - epsilon) * slate_greedy + epsilon * uniform_slate_probability(m, k)
    return Propensities(slots, slate)


def plackett_luce_slate_probability(
    means: FloatArray,
    temperature: float,
    slates: IntArray,
    *,
    eligible: BoolArray | None = None,
    tie_break: TieBreak = "random",
) -> FloatArray:
    """Exact probability of each ordered slate of :func:`.softmax_kernel`, (B,).

    Forced arms (mean +∞, F of them) come first in random order (probability
    Π_{j<min(F,k)} 1/(F−j); 1 with ``tie_break="first"``); the rest is a Plackett–Luce draw
    with weights wᵢ = exp(x̄ᵢ/τ) over the finite eligible arms:

        P(s_f … s_{k−1}) = Π_j w_{s_j} / (Σ of the weights of the arms not yet shown).

    The remaining weight is summed over the unshown arms row by row (not as W − Σ shown, which
    loses every digit when the shown arms hold almost all the weight).
    """
    n_rows, k = slates.shape
    logits = masked(np.asarray(means, dtype=np.float64) / temperature, eligible)
    forced = np.isposinf(logits)
    n_forced = int(forced.sum())
    f = min(n_forced, k)
    prob = np.asarray(forced[slates[:, :f]].all(axis=1), dtype=np.float64)  # forced first
    if f and tie_break == "random":
        prob = prob / float(np.prod(np.arange(n_forced, n_forced - f, -1, dtype=np.float64)))
    if f == k:
        return prob
    finite = np.isfinite(logits)
    w = np.where(finite, np.exp(logits - np.max(np.where(finite, logits, -np.inf))), 0.0)
    rest = slates[:, f:]
    shown = w[rest]  # (B, k − f); 0 for a forced or ineligible arm (probability 0 after f)
    unshown = np.empty(n_rows)
    step = max(1, BLOCK_ELEMENTS // w.size)
    for start in range(0, n_rows, step):  # blocks of rows bound the (b, K) mask
        block = slice(start, start + step)
        keep = np.ones((rest[block].shape[0], w.size), dtype=bool)
        np.put_along_axis(keep, rest[block], False, axis=1)
        unshown[block] = (keep * w).sum(axis=1)
    # weight left before slot j: the unshown arms plus the shown ones from j on
    remaining = unshown[:, None] + np.cumsum(shown[:, ::-1], axis=1)[:, ::-1]
    return prob * np.prod(shown / remaining, axis=1)


def _ranked(samples: FloatArray, k: int) -> IntArray:
    """Indices of the k largest entries along the last axis, largest first (draws are
    continuous, so ties have probability 0 and are broken by index)."""
    if k >= samples.shape[-1]:
        return np.argsort(-samples, axis=-1, kind="stable")
    idx = np.argpartition(-samples, k - 1, axis=-1)[..., :k]
    order = np.argsort(-np.take_along_axis(samples, idx, axis=-1), axis=-1, kind="stable")
    return np.take_along_axis(idx, order, axis=-1)


def monte_carlo_slot_propensities(
    draw: Draw,
    slates: IntArray,
    n_samples: int,
    n_arms: int,
    *,
    eligible: BoolArray | None = None,
    forced: BoolArray | None = None,
    tie_break: TieBreak = "random",
    shared: bool = True,
) -> FloatArray:
    """Monte Carlo estimate of P(arm ``slates[b, j]`` is ranked j-th by the sampled scores).

    ``draw(m)`` returns m independent score samples, (m, 1, K) when ``shared`` (all users have
    the same score law) or (m, B, K); ``eligible`` is a mask (K,). The users' own slates are
    draws from the same law and are counted, as in :func:`.monte_carlo_propensity`: shared,
    (own slates with that arm in slot j + extra draws with it ranked j) / (B + m), m just
    large enough for M = ``n_samples`` draws in all; per user, (1 + hits) / (1 + M). Each
    estimate is a proportion over at least M draws, so its standard error is at most ½/√M
    (0.016 at M = 1,000, 0.11 at M = 20), and it lies in (0, 1].

    ``forced`` arms (K,) (+∞ scores: round-robin initialisation) fill the first F slots in
    random order (exact probability 1/F; 1 with ``tie_break="first"``); the later slots rank
    the others, and are estimated among them. ``n_samples = 0`` returns NaN.
    """
    n_rows, k = slates.shape
    out = np.full((n_rows, k), np.nan)
    if n_samples == 0:
        return out
    allowed = eligible
    first = 0
    if forced is not None and forced.any():
        present = forced if eligible is None else forced & eligible
        n_forced = int(present.sum())
        first = min(n_forced, k)
        out[:, :first] = 1.0 if tie_break == "first" else 1.0 / max(n_forced, 1)
        allowed = ~forced if eligible is None else eligible & ~forced
    if first == k:
        return out
    rest = slates[:, first:]
    width = k - first
    if shared:
        hits = np.zeros(width * n_arms)
        offsets = np.arange(width) * n_arms
        hits += np.bincount((rest + offsets).ravel(), minlength=width * n_arms)
        n_extra = max(n_samples - n_rows, 0)
        step = max(1, BLOCK_ELEMENTS // n_arms)
        for start in range(0, n_extra, step):  # blocks of samples, not decisions
            samples = draw(min(step, n_extra - start))[:, 0, :]
            if allowed is not None:
                samples = np.where(allowed, samples, -np.inf)
            ranked = _ranked(samples, width) + offsets
            hits += np.bincount(ranked.ravel(), minlength=width * n_arms)
        out[:, first:] = hits[rest + offsets] / (n_rows + n_extra)
        return out
    wins = np.ones(rest.shape)  # each user's own draw
    step = max(1, BLOCK_ELEMENTS // (n_rows * n_arms))
    for start in range(0, n_samples, step):  # blocks of draws bound the (m, B, K) samples
        samples = draw(min(step, n_samples - start))
        if allowed is not None:
            samples = np.where(allowed, samples, -np.inf)
        wins += (_ranked(samples, width) == rest).sum(axis=0)
    out[:, first:] = wins / (1 + n_samples)
    return out
