"""Compiled batch loops over the row functions of :mod:`recarena.simulator.behaviour`.

The engine spends most of its time on per-slate arithmetic over tiny rows (k ≈ 10 items of
d ≈ 8 factors). In numpy each step is a pass over a (B, k) or (B, k, d) temporary plus a
Python-level call; a compiled loop does the gather, dot product, fatigue test, MNL and
inverse-CDF draw of a row while it sits in cache. The equations live in
:mod:`recarena.simulator.behaviour` (``bh`` below), once; this module only holds the loops
that apply them to batches, including the element-wise ones the engine's vectorised steps
use (:func:`sigmoids`, :func:`exponential_draws`, :func:`churn_probabilities`,
:func:`satisfaction_updates`). Every batch kernel is built from the same row functions, so
the engine's fused pass and the user model's separate steps compute identical bits.

The model's arrays travel as three tuples (numba takes heterogeneous tuples):

``people``
    ``(preference θ (n, d) float32, price_sensitivity ρ (n,), recent (n, R) int32,
    satiation σ (n, G) float64)`` — the live per-user state (``recent`` is the fatigue ring,
    −1 = empty; σ has one column when satiation is off).
``items``
    ``(vector φ (m, d) float32, vector_t φᵀ (d, m) float64, popularity b (m,),
    log_price log p (m,), scale w/√d, fatigue κ, category g (m,) int64, satiation κ_b)`` —
    κ = 0 turns the ring test off, κ_b = 0 the satiation penalty.
``choice``
    ``(examination e (k,), temperature T, no_choice_utility u₀)`` — the choice model.
``scan``
    ``(continuation λ (k,), budget mean β, scan minutes s, item length L (m,), survival
    h (m,), survival of a slot's examination g)`` — the scanning models (``pbm``,
    ``dcm``); β = ∞ without a time budget; built by :func:`scan_model`.

Every loop uses IEEE arithmetic in a fixed order (``fastmath`` is off), so results are
deterministic: one seed, one result, bit for bit. Compiled code is cached on disk
(``cache=True``): the first use on a machine compiles (a few seconds), later ones load.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from recarena.numerics.counter_rng import uniform_one
from recarena.numerics.prefetch import prefetch
from recarena.simulator import behaviour as bh

__all__ = [
    "CASCADE",
    "MNL",
    "SCANNING",
    "activity_rates",
    "cached_best_values",
    "cascade_choices",
    "cascade_click_probabilities",
    "cascade_click_totals",
    "catalogue_utilities",
    "churn_probabilities",
    "consume",
    "consumed_relevances",
    "decay",
    "exponential_draws",
    "interest_entropies",
    "keep_best_values",
    "mnl_choice",
    "mnl_click_probabilities",
    "mnl_click_totals",
    "next_sessions",
    "ou_drift",
    "record_clicks",
    "satisfaction_updates",
    "scan_any_clicks",
    "scan_click_probabilities",
    "scan_click_totals",
    "scan_model",
    "scan_outcomes",
    "session_relevances",
    "sigmoids",
    "slate_outcomes",
    "slate_utilities",
    "top_items",
    "win_back_probabilities",
]


#: How many users ahead the passes over scattered users request their rows
#: (:func:`recarena.numerics.prefetch.prefetch`): 3–4 were fastest for the oracle's
#: re-finds on 100k users (1: −10%, 4: −19%, 10: −12% against no hint).
PREFETCH_AHEAD = 4


# ---------------------------------------------------------------------- row functions
@njit(cache=True, nogil=True)
def _gather_users(people, items, users):  # type: ignore[no-untyped-def]  # numba: typed at the call
    """Copy each row's user data (θ_u, ρ_u, ring_u, satiation σ_u) into contiguous arrays.

    A tight loop of independent loads lets the CPU overlap the cache misses of scattered
    users (inside the per-row arithmetic they were serialised: ≈ 40% of a cold batch), and
    each user's rows are requested ``PREFETCH_AHEAD`` users early (7% off an MNL session
    pass over sorted batches of 100k users).
    σ_u is read only when satiation is on (κ_b ≠ 0, ``items[7]``): no row function reads
    it otherwise, and each array gathered is one more cache miss per user (zeros instead).
    """
    preference, price_sensitivity, recent, satiation = people
    n_rows, d, n_ring = users.shape[0], preference.shape[1], recent.shape[1]
    n_sat = satiation.shape[1] if items[7] != 0.0 else 0
    theta = np.empty((n_rows, d))  # float64: each θ_f is converted once, not once per item
    rho = np.empty(n_rows)
    ring = np.empty((n_rows, n_ring), dtype=recent.dtype)
    sat = np.zeros((n_rows, satiation.shape[1]))
    for b in range(-PREFETCH_AHEAD, n_rows):  # from −PREFETCH_AHEAD: the first hints only
        if b + PREFETCH_AHEAD < n_rows:
            ahead = users[b + PREFETCH_AHEAD]
            prefetch(preference, ahead)
            prefetch(price_sensitivity, ahead)
            prefetch(recent, ahead)
            if n_sat:
                prefetch(satiation, ahead)
        if b < 0:
            continue
        user = users[b]
        for f in range(d):
            theta[b, f] = preference[user, f]
        rho[b] = price_sensitivity[user]
        for r in range(n_ring):
            ring[b, r] = recent[user, r]
        for g in range(n_sat):
            sat[b, g] = satiation[user, g]
    return theta, rho, ring, sat


@njit(cache=True, nogil=True, inline="always")
def _row_utilities(out, slate, theta, rho, ring, sat, items, distinct):  # type: ignore[no-untyped-def]
    """u_j = w/√d·θ·φ_i + b_i − ρ log p_i − κ_b σ_{g_i} − κ·1[i ∈ ring], i = slate[j], into ``out``.

    Later copies of an item repeated in the row get −inf (one option, counted once) unless
    ``distinct``.
    """
    for j in range(slate.shape[0]):
        item = slate[j]
        u = bh.fatigued(_before_fatigue(item, theta, rho, sat, items), item, ring, items[5])
        if not distinct:
            for other in range(j):
                if slate[other] == item:
                    u = -np.inf
                    break
        out[j] = u


@njit(cache=True, nogil=True, inline="always")
def _before_fatigue(item, theta, rho, sat, items):  # type: ignore[no-untyped-def]
    """u_i before fatigue: w/√d·θ·φ_i + b_i − ρ log p_i − κ_b σ_{g_i}."""
    return bh.satiated(bh.utility(item, theta, rho, items), item, sat, items)


@njit(cache=True, nogil=True, inline="always")
def _row_catalogue(out, theta, rho, ring, sat, items, fatigue, satiation):  # type: ignore[no-untyped-def]
    """Utilities of every item for one user, into ``out`` (m,), as :func:`_row_utilities`.

    The loop over items is innermost (on φᵀ), so each item keeps its own accumulator — the
    same additions in the same order as the per-slate dot product, hence the same bits —
    while the compiler vectorises across items. ``fatigue`` κ and ``satiation`` κ_b are
    passed apart so that a shortlist can be scored before both (0, 0).
    """
    vector_t, popularity, log_price, scale = items[1], items[2], items[3], items[4]
    category = items[6]
    m = out.shape[0]
    for i in range(m):
        out[i] = 0.0
    for f in range(theta.shape[0]):
        weight = np.float64(theta[f])
        for i in range(m):
            out[i] += weight * vector_t[f, i]
    for i in range(m):
        out[i] = out[i] * scale + popularity[i] - rho * log_price[i]
    if satiation != 0.0:
        for i in range(m):
            out[i] -= satiation * sat[category[i]]
    if fatigue != 0.0:
        for r in range(ring.shape[0]):
            item = ring[r]
            if item < 0:
                continue
            seen = False
            for other in range(r):
                if ring[other] == item:
                    seen = True
                    break
            if not seen:  # an item twice in the ring is penalised once
                out[item] -= fatigue


@njit(cache=True, nogil=True, inline="always")
def _row_top(out, best, u, blocked, candidate_u, candidate):  # type: ignore[no-untyped-def]
    """The len(out) highest ``u`` over items not ``blocked``, by (u ↓, id ↑), into ``out``
    (their values into ``best``).

    ``u`` (m,) is scratch: blocked items are set to −inf first. Branch-free passes, so the
    compiler vectorises them and no branch is mispredicted on random utilities: counting
    passes bisect for a threshold t with len(out) ≤ #{u ≥ t} ≤ len(out) + 1 unless ties
    leave no such t (any t with at least len(out) items above it keeps every item of the
    answer, so the result is exact); the items above it are gathered in id order; each
    one's rank is #{others with higher u} + #{earlier (lower id) with equal u}, and the
    first len(out) ranks are placed. The rank count is quadratic in the candidates, so
    bisecting down to len(out) + 1 of them costs less than it saves (200 items, 36 kept:
    12% less than stopping at 1.25 len(out) + 1), and the whole is about half the cost of
    inserting into a sorted list from the whole catalogue. ``candidate_u``/``candidate``
    (m + 1,) are workspace; ``out`` keeps its fill (−1) past the number of items on sale.
    """
    size = out.shape[0]
    m = u.shape[0]
    for i in blocked:
        u[i] = -np.inf
    low, high, count = np.inf, -np.inf, 0
    for i in range(m):
        value = u[i]
        if value > -np.inf:
            low = min(low, value)
            high = max(high, value)
            count += 1
    target = size + 1
    while count > target:
        middle = 0.5 * (low + high)
        if not (low < middle < high):  # ties: no threshold separates them
            break
        above = 0
        for i in range(m):
            above += u[i] >= middle
        if above >= size:
            low, count = middle, above
        else:
            high = middle
    n = 0
    for i in range(m):  # written always, kept when above: no branch
        candidate_u[n] = u[i]
        candidate[n] = i
        n += u[i] >= low
    for i in range(n):
        value = candidate_u[i]
        rank = 0
        for j in range(n):
            rank += candidate_u[j] > value
        for j in range(i):
            rank += candidate_u[j] == value
        if rank < size:
            out[rank] = candidate[i]
            best[rank] = value


# ---------------------------------------------------------------------- batch kernels
@njit(cache=True, nogil=True)
def slate_utilities(people, items, users, slates, distinct):  # type: ignore[no-untyped-def]
    """(B, k) utilities of each user's slate (:func:`_row_utilities` per row)."""
    theta, rho, ring, sat = _gather_users(people, items, users)
    out = np.empty(slates.shape)
    for b in range(slates.shape[0]):
        _row_utilities(out[b], slates[b], theta[b], rho[b], ring[b], sat[b], items, distinct)
    return out


@njit(cache=True, nogil=True)
def mnl_click_probabilities(u, choice):  # type: ignore[no-untyped-def]
    """(B, k) MNL slot probabilities (:func:`bh.mnl_slot_probabilities` per row)."""
    out = np.empty(u.shape)
    for b in range(u.shape[0]):
        bh.mnl_slot_probabilities(out[b], u[b], choice)
    return out


@njit(cache=True, nogil=True)
def mnl_click_totals(u, choice):  # type: ignore[no-untyped-def]
    """P(click) = Σ_j P_j per row, summed as :func:`slate_outcomes` sums it (same bits)."""
    out = np.empty(u.shape[0])
    probabilities = np.empty(u.shape[1])
    for b in range(u.shape[0]):
        out[b] = bh.mnl_slot_probabilities(probabilities, u[b], choice)
    return out


@njit(cache=True, nogil=True)
def mnl_choice(probabilities, uniforms):  # type: ignore[no-untyped-def]
    """Clicked slot per row (:func:`bh.inverse_cdf_choice`), −1 for no click."""
    out = np.empty(probabilities.shape[0], dtype=np.int64)
    for b in range(probabilities.shape[0]):
        out[b] = bh.inverse_cdf_choice(probabilities[b], uniforms[b])
    return out


@njit(cache=True, nogil=True)
def slate_outcomes(people, items, choice, users, slates, uniforms):  # type: ignore[no-untyped-def]
    """One MNL session per row: utilities, slot probabilities and the clicked slot.

    Returns (position, P(click), clicked item, utility of the clicked item); position and
    item are −1 and the utility NaN where nobody clicks.
    """
    n_rows, k = slates.shape
    theta, rho, ring, sat = _gather_users(people, items, users)
    position = np.empty(n_rows, dtype=np.int64)
    expected = np.empty(n_rows)
    clicked = np.empty(n_rows, dtype=np.int64)
    clicked_utility = np.empty(n_rows)
    u = np.empty(k)
    probabilities = np.empty(k)
    for b in range(n_rows):
        _row_utilities(u, slates[b], theta[b], rho[b], ring[b], sat[b], items, False)
        expected[b] = bh.mnl_slot_probabilities(probabilities, u, choice)
        slot = bh.inverse_cdf_choice(probabilities, uniforms[b])
        position[b] = slot
        clicked[b] = slates[b, slot] if slot >= 0 else -1
        clicked_utility[b] = u[slot] if slot >= 0 else np.nan
    return position, expected, clicked, clicked_utility


@njit(cache=True, nogil=True)
def catalogue_utilities(people, items, users, available):  # type: ignore[no-untyped-def]
    """(B, m) utilities of every item for each user, −inf where not ``available``."""
    theta, rho, ring, sat = _gather_users(people, items, users)
    m = available.shape[0]
    out = np.empty((users.shape[0], m))
    for b in range(users.shape[0]):
        _row_catalogue(out[b], theta[b], rho[b], ring[b], sat[b], items, items[5], items[7])
        for i in range(m):
            if not available[i]:
                out[b, i] = -np.inf
    return out


@njit(cache=True, nogil=True)
def top_items(people, items, users, available, size, with_fatigue):  # type: ignore[no-untyped-def]
    """Per user, the ``size`` available items of highest utility, by (utility ↓, item id ↑).

    Utilities with fatigue, or before it (``with_fatigue=False``, for shortlists). Rows are
    padded with −1 when fewer than ``size`` items are available.
    """
    theta, rho, ring, sat = _gather_users(people, items, users)
    blocked = np.flatnonzero(~available)
    fatigue = items[5] if with_fatigue else 0.0
    m = available.shape[0]
    out = np.full((users.shape[0], size), -1, dtype=np.int64)
    u = np.empty(m)
    best = np.empty(size)
    candidate_u = np.empty(m + 1)
    candidate = np.empty(m + 1, dtype=np.int64)
    for b in range(users.shape[0]):
        _row_catalogue(u, theta[b], rho[b], ring[b], sat[b], items, fatigue, items[7])
        _row_top(out[b], best, u, blocked, candidate_u, candidate)
    return out


#: Choice-model codes of :func:`cached_best_values` (how a sorted best slate is valued).
MNL, CASCADE, SCANNING = 0, 1, 2


@njit(cache=True, nogil=True)
def cached_best_values(  # type: ignore[no-untyped-def]
    people, items, choice, scan, model, users, available, value, valid, kth, shortlist,
    shortlist_utility, bound, anchor,
):  # fmt: skip
    """Expected reward of each user's best slate, from and into a per-user cache.

    ``value``/``valid``/``kth`` (n_users,) cache the answer and the k-th highest utility of
    the best slate. ``shortlist`` (n_users, c) caches each user's c best items by *base*
    utility v_ui = (w/√d) θ_u·φ_i + b_i − ρ_u log p_i (before satiation and fatigue; a row
    starting with −1 is not computed), ``shortlist_utility`` their v, ``bound`` the
    (c+1)-th highest v over the catalogue (−inf if none) and ``anchor`` (n_users, d) the θ_u
    they were computed with — an empty (0, d) array when interests never move.

    Satiation and fatigue only lower utilities (κ_b σ ≥ 0, κ ≥ 0). Since the anchor, with
    Δ = θ_u − θ_anchor, c_g the mean φ_i of category g's items on sale and
    r_i = ‖φ_i − c_{g_i}‖, an item's base utility has moved by
    (w/√d) Δ·φ_i = (w/√d) Δ·c_{g_i} + (w/√d) Δ·(φ_i − c_{g_i}), so its current utility is at
    most v_i + M_i with M_i = (w/√d)(Δ·c_{g_i} + ‖Δ‖ r_i) − κ_b σ_{g_i} (Cauchy–Schwarz on
    the vectors centred per category: the shift Δ·c_g moves a category's items alike, and
    its satiation lowers them alike). The shortlist is stored by base utility at the anchor
    (↓), so after its j-th item every item not yet seen is worth at most the ceiling
    C_j = max(max_{j' > j} (v_{j'} + M_{j'}),
    max_g (``bound`` + (w/√d)(Δ·c_g + ‖Δ‖ R_g) − κ_b σ_g)), R_g = max_{i ∈ g} r_i,
    the first term over the rest of the list, the second over the items outside it. The
    shortlist is walked in that order keeping the k best current utilities (satiation and
    fatigue applied, base utilities re-scored at the current θ if interests move), and the
    walk stops as soon as the k-th is strictly above C_j: the best slate is then exact,
    usually after little more than k items. If the shortlist runs out first, it is
    recomputed (if it was old), and if even a fresh one cannot decide (a heavily satiated
    category) the catalogue is scored whole. Either way the
    k highest utilities, by (utility ↓, item id ↑), are valued by the MNL
    (:func:`bh.mnl_slot_probabilities`), the cascade (:func:`bh.cascade_slot_probabilities`)
    or, for ``model`` = ``SCANNING`` (pbm, dcm), :func:`bh.scan_slot_probabilities` — the
    same numbers, to the bit, as scoring the catalogue with :func:`top_items`, then
    :func:`slate_utilities` and the model's slot values.
    """
    preference = people[0]
    fatigue = items[5]
    d = preference.shape[1]
    moving = anchor.shape[0] > 0
    n_rows = users.shape[0]
    out = np.empty(n_rows)
    blocked = np.flatnonzero(~available)
    m = available.shape[0]
    c = shortlist.shape[1]
    k = choice[0].shape[0]
    # The drift margin's parts (see above): μ, the radii r_i and their largest.
    n_groups = 1
    for i in range(m):
        n_groups = max(n_groups, items[6][i] + 1)
    centres = np.zeros((n_groups, d))
    radius = np.zeros(m)
    widest = np.full(n_groups, -np.inf)
    if moving:
        centres, radius, widest = _item_spread(items[0], items[6], available, n_groups)
    common = np.empty(n_groups)
    scale = items[4]
    catalogue = np.empty(m)
    candidate_u = np.empty(m + 1)
    candidate = np.empty(m + 1, dtype=np.int64)
    best = np.empty(c + 1)
    top = np.empty(c + 1, dtype=np.int64)
    ceiling = np.empty(c)
    u = np.empty(k)
    order = np.empty(k, dtype=np.int64)
    probabilities = np.empty(k)
    alpha = np.empty(k)
    stale = np.empty(n_rows, dtype=np.int64)
    n_stale = 0
    for b in range(n_rows):
        if valid[users[b]]:
            out[b] = value[users[b]]
        else:
            stale[n_stale] = b
            n_stale += 1
    stale = stale[:n_stale]
    # Copy the stale users' rows first: a tight loop of independent loads, each user's rows
    # requested PREFETCH_AHEAD users early, overlaps the cache misses of scattered users
    # (as _gather_users does; the hints took ≈ 10-20% off a re-find after a day's drift).
    theta, rho, ring, sat = _gather_users(people, items, users[stale])
    listed = np.empty((n_stale, c), dtype=np.int64)
    listed_u = np.empty((n_stale, c))
    anchored = np.empty((n_stale, d))
    for s in range(-PREFETCH_AHEAD, n_stale):
        if s + PREFETCH_AHEAD < n_stale:
            ahead = users[stale[s + PREFETCH_AHEAD]]
            prefetch(shortlist, ahead)
            prefetch(shortlist_utility, ahead)
            prefetch(bound, ahead)
            if moving:
                prefetch(anchor, ahead)
        if s >= 0:
            _copy_shortlist(s, users[stale[s]], listed, listed_u, anchored, shortlist,
                            shortlist_utility, anchor)  # fmt: skip
    for s in range(n_stale):
        b = stale[s]
        user = users[b]
        fresh = False
        if listed[s, 0] < 0:
            _shortlist(user, catalogue, best, top, theta[s], rho[s], ring[s], sat[s], items,
                       blocked, candidate_u, candidate, shortlist, shortlist_utility, bound,
                       anchor)  # fmt: skip
            _copy_shortlist(s, user, listed, listed_u, anchored, shortlist, shortlist_utility,
                            anchor)  # fmt: skip
            fresh = True
        while True:
            # The shortlist in its stored order (base utility at the anchor ↓): keep the k
            # best current utilities, and stop as soon as the k-th beats the most any item
            # not yet seen can be worth (ceiling[j]: the rest of the list, and the bound).
            drifted = moving and not fresh
            if drifted:
                _drift_ceilings(ceiling, common, listed[s], listed_u[s], bound[user], theta[s],
                                anchored[s], sat[s], items, centres, radius, widest, scale,
                                k)  # fmt: skip
            filled = 0
            decided = False
            for j in range(c):
                item = listed[s, j]
                # Re-scored after a move; a fresh shortlist's are the current ones (same bits).
                v = bh.utility(item, theta[s], rho[s], items) if drifted else listed_u[s, j]
                x = bh.fatigued(bh.satiated(v, item, sat[s], items), item, ring[s], fatigue)
                filled = _insert_top(u, order, filled, x, item)
                if filled == k:
                    # Utilities as scored (no drift since): the next stored one, or the bound.
                    if drifted:
                        highest = ceiling[j]
                    else:
                        highest = listed_u[s, j + 1] if j + 1 < c else bound[user]
                    if u[k - 1] > highest:
                        decided = True
                        break
            if decided:
                break
            if not fresh:
                _shortlist(user, catalogue, best, top, theta[s], rho[s], ring[s], sat[s],
                           items, blocked, candidate_u, candidate, shortlist, shortlist_utility,
                           bound, anchor)  # fmt: skip
                _copy_shortlist(s, user, listed, listed_u, anchored, shortlist,
                                shortlist_utility, anchor)  # fmt: skip
                fresh = True
                continue
            # The shortlist cannot decide (satiation pushed its items below the bound):
            # the k best of the whole catalogue, as top_items finds them.
            _row_catalogue(catalogue, theta[s], rho[s], ring[s], sat[s], items, fatigue,
                           items[7])  # fmt: skip
            top[:] = -1
            _row_top(top[:k], best[:k], catalogue, blocked, candidate_u, candidate)
            for j in range(k):
                order[j] = top[j]
                u[j] = catalogue[top[j]]
            break
        if model == SCANNING:
            bh.attractiveness(alpha, u[:k], choice)
            result = bh.scan_slot_probabilities(probabilities, alpha, order[:k], choice[0], scan)
        elif model == CASCADE:
            result = bh.cascade_slot_probabilities(probabilities, u[:k], choice)
        else:
            result = bh.mnl_slot_probabilities(probabilities, u[:k], choice)
        value[user] = result
        valid[user] = True
        kth[user] = u[k - 1]
        out[b] = result
    return out


@njit(cache=True, nogil=True)
def _item_spread(vector, category, available, n_groups):  # type: ignore[no-untyped-def]
    """Per category g: c_g = the mean φ_i of its items on sale; r_i = ‖φ_i − c_{g_i}‖ (0 off
    sale) and R_g = max r_i over g's items on sale (−inf for a category with none)."""
    m, d = vector.shape
    on_sale = np.flatnonzero(available)
    centres = np.zeros((n_groups, d))
    counts = np.zeros(n_groups)
    for i in on_sale:
        g = category[i]
        counts[g] += 1.0
        for f in range(d):
            centres[g, f] += np.float64(vector[i, f])
    for g in range(n_groups):
        for f in range(d):
            centres[g, f] /= max(counts[g], 1.0)
    radius = np.zeros(m)
    widest = np.full(n_groups, -np.inf)
    for i in on_sale:
        g = category[i]
        norm = 0.0
        for f in range(d):
            norm += (np.float64(vector[i, f]) - centres[g, f]) ** 2
        radius[i] = np.sqrt(norm)
        widest[g] = max(widest[g], radius[i])
    return centres, radius, widest


@njit(cache=True, nogil=True, inline="always")
def _drift_ceilings(  # type: ignore[no-untyped-def]
    ceiling, common, listed, listed_u, bound, theta, anchored, sat, items, centres, radius,
    widest, scale, k,
):  # fmt: skip
    """ceiling[j] = C_j of :func:`cached_best_values` for j ≥ k − 1 (the walk stops no
    earlier): the most any item after the j-th of the list, or outside it, can be worth at
    θ when the list was scored at the anchor, plus a relative allowance far above float64
    rounding. ``common`` (G,) is workspace: (w/√d) Δ·c_g − κ_b σ_g per category (G dot
    products a re-find, repaid by a shorter walk and fewer re-scored shortlists)."""
    c = listed.shape[0]
    n_groups, d = centres.shape
    weight, category = items[7], items[6]
    shift = 0.0
    for f in range(d):
        delta = theta[f] - anchored[f]
        shift += delta * delta
    spread = scale * np.sqrt(shift)
    for g in range(n_groups):
        acc = 0.0
        for f in range(d):
            acc += (theta[f] - anchored[f]) * centres[g, f]
        common[g] = scale * acc
        if weight != 0.0:
            common[g] -= weight * sat[g]
    rest = -np.inf
    if bound > -np.inf:
        for g in range(n_groups):
            if widest[g] > -np.inf:
                rest = max(rest, bound + common[g] + spread * widest[g])
    for j in range(c - 1, k - 2, -1):
        ceiling[j] = rest + 1e-9 * (1.0 + abs(rest)) if rest > -np.inf else rest
        if j > 0:
            item = listed[j]
            rest = max(rest, listed_u[j] + common[category[item]] + spread * radius[item])


@njit(cache=True, nogil=True, inline="always")
def _insert_top(u, ids, filled, value, item):  # type: ignore[no-untyped-def]
    """Insert (value, item) into the sorted best list (``u``, ``ids``) of len(u) entries,
    ``filled`` of them used, by (value ↓, id ↑); returns the new fill."""
    size = u.shape[0]
    last = size - 1
    if filled == size and not (value > u[last] or (value == u[last] and item < ids[last])):
        return filled
    j = filled if filled < size else size - 1
    while j > 0 and (u[j - 1] < value or (u[j - 1] == value and ids[j - 1] > item)):
        u[j] = u[j - 1]
        ids[j] = ids[j - 1]
        j -= 1
    u[j] = value
    ids[j] = item
    return filled + 1 if filled < size else filled


@njit(cache=True, nogil=True, inline="always")
def _copy_shortlist(  # type: ignore[no-untyped-def]
    s, user, listed, listed_u, anchored, shortlist, shortlist_utility, anchor
):  # fmt: skip
    """Row ``s`` of the gathered copies := the user's cached shortlist, its base utilities
    and (when interests move) its anchor θ."""
    for j in range(shortlist.shape[1]):
        listed[s, j] = shortlist[user, j]
        listed_u[s, j] = shortlist_utility[user, j]
    for f in range(anchor.shape[1] if anchor.shape[0] else 0):
        anchored[s, f] = anchor[user, f]


@njit(cache=True, nogil=True, inline="always")
def _shortlist(  # type: ignore[no-untyped-def]
    user, catalogue, best, top, theta, rho, ring, sat, items, blocked, candidate_u, candidate,
    shortlist, shortlist_utility, bound, anchor,
):  # fmt: skip
    """Score the catalogue at base utility (no satiation, no fatigue) and cache the user's
    c best items, their utilities, the (c+1)-th utility as the bound and θ as the anchor."""
    c = shortlist.shape[1]
    _row_catalogue(catalogue, theta, rho, ring, sat, items, 0.0, 0.0)
    top[:] = -1
    _row_top(top, best, catalogue, blocked, candidate_u, candidate)
    for j in range(c):
        shortlist[user, j] = top[j]
        shortlist_utility[user, j] = catalogue[top[j]]
    bound[user] = catalogue[top[c]] if top[c] >= 0 else -np.inf
    if anchor.shape[0] > 0:
        for f in range(theta.shape[0]):
            anchor[user, f] = theta[f]


@njit(cache=True, nogil=True)
def record_clicks(  # type: ignore[no-untyped-def]
    seed, users, counter, clicked, utility, recent, recent_pos, memory, quality, intercept,
    lift, slope, quality_slope, delay_mean, conversion_purpose, delay_purpose, rank,
):  # fmt: skip
    """What follows each click: the fatigue ring and a possible (delayed) purchase.

    Per click (user u, session c, item i = ``clicked``, utility x): i enters u's ring at its
    write position (when ``memory`` > 0; each user at most once per call), evicting the
    oldest entry; the user buys with P = σ(α + ℓ_u + γ x + γ_q (q_i − ½)) (ℓ_u = ``lift``
    of a campaign contact, 0 otherwise; ``lift`` empty when no offer has one)
    (:func:`bh.conversion_probability`) on the keyed uniform
    (u, c, r, ``conversion_purpose``), after an exponential delay of mean ``delay_mean``
    drawn by inversion (:func:`bh.exponential_from_uniform`)
    from the uniform (u, c, r, ``delay_purpose``); r = ``rank`` is the click's rank in its
    session (0 for the first; sessions of several clicks call once per rank).

    Returns (the delays, NaN where there is no purchase; the evicted items, −1 for none).
    """
    n = users.shape[0]
    delay = np.full(n, np.nan)
    evicted = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        user = users[i]
        if memory > 0:
            slot = recent_pos[user]
            evicted[i] = recent[user, slot]
            recent[user, slot] = clicked[i]
            recent_pos[user] = (slot + 1) % memory
        item = clicked[i]
        shifted = intercept + lift[user] if lift.shape[0] > 0 else intercept
        p = bh.conversion_probability(utility[i], quality[item], shifted, slope, quality_slope)
        if uniform_one(seed, user, counter[i], rank, conversion_purpose) < p:
            draw = uniform_one(seed, user, counter[i], rank, delay_purpose)
            delay[i] = bh.exponential_from_uniform(draw, delay_mean)
    return delay, evicted


@njit(cache=True, nogil=True)
def keep_best_values(people, items, users, entered, evicted, valid, kth):  # type: ignore[no-untyped-def]
    """After clicks changed the users' rings: mark stale the cached best values that moved.

    The best slate is the k highest fatigue-adjusted utilities, the k-th being ``kth``.
    An item entering the ring (i, newly fatigued) can change it only if it was in it
    (u_i ≥ kth); an item leaving the ring (j, no copy left) only if its unfatigued utility
    reaches kth (it was in it, or now beats its last). Any other click leaves the value as
    it is. Ties count as changes, and an unknown kth (−inf) always does.
    """
    preference, price_sensitivity, recent, satiation = people
    theta = np.empty(preference.shape[1])
    for b in range(users.shape[0]):
        user = users[b]
        if not valid[user]:
            continue
        ring = recent[user]
        x, y = entered[b], evicted[b]
        copies_x = 0
        copies_y = 0
        for r in range(ring.shape[0]):
            copies_x += ring[r] == x
            copies_y += ring[r] == y
        newly_fatigued = y != x and copies_x == 1
        released = y >= 0 and copies_y == 0
        if not (newly_fatigued or released):
            continue
        for f in range(theta.shape[0]):
            theta[f] = preference[user, f]
        rho = price_sensitivity[user]
        sat = satiation[user]
        if (newly_fatigued and _before_fatigue(x, theta, rho, sat, items) >= kth[user]) or (
            released and _before_fatigue(y, theta, rho, sat, items) >= kth[user]
        ):
            valid[user] = False


@njit(cache=True, nogil=True)
def next_sessions(  # type: ignore[no-untyped-def]
    seed, users, times, session_count, activity, satisfaction, activity_satisfaction, lift,
    next_session, t_end, purpose,
):  # fmt: skip
    """Schedule each user's next session after the one at ``times`` (in place).

    Per user u: the session counter c_u grows by one, and the next session comes after an
    exponential gap of rate λ_u exp(a·s_u) (activity λ, satisfaction s; times e^{ℓ_u} while
    a campaign contact lifts it, :func:`bh.lifted_rate`; ``lift`` empty when no offer can),
    drawn by inversion
    from the keyed uniform U(u, c_u, 0, ``purpose``): gap = −log(1 − U) / (λ_u e^{a s_u}),
    as :func:`bh.exponential_from_uniform`. Returns the users
    whose next session still falls at or before ``t_end`` (in ``users`` order).
    """
    again = np.empty(users.shape[0], dtype=np.int64)
    n_again = 0
    for i in range(users.shape[0]):
        user = users[i]
        count = session_count[user] + 1
        session_count[user] = count
        rate = bh.activity_rate(activity[user], activity_satisfaction, satisfaction[user])
        if lift.shape[0] > 0:
            rate = bh.lifted_rate(rate, lift[user])
        draw = uniform_one(seed, user, count, 0, purpose)
        t = times[i] + bh.exponential_from_uniform(draw, 1.0 / rate)
        next_session[user] = t
        if t <= t_end:
            again[n_again] = user
            n_again += 1
    return again[:n_again]


# ---------------------------------------------------------------------- element-wise
@njit(cache=True, nogil=True)
def sigmoids(x):  # type: ignore[no-untyped-def]
    """σ(x) element-wise (:func:`bh.sigmoid`), any shape."""
    flat = x.ravel()
    out = np.empty(flat.shape[0])
    for i in range(flat.shape[0]):
        out[i] = bh.sigmoid(flat[i])
    return out.reshape(x.shape)


@njit(cache=True, nogil=True)
def exponential_draws(uniforms, means):  # type: ignore[no-untyped-def]
    """−mean · log(1 − U) per row (:func:`bh.exponential_from_uniform`)."""
    out = np.empty(uniforms.shape[0])
    for i in range(uniforms.shape[0]):
        out[i] = bh.exponential_from_uniform(uniforms[i], means[i])
    return out


@njit(cache=True, nogil=True)
def churn_probabilities(base_hazard, beta, satisfaction, dt, multiplier):  # type: ignore[no-untyped-def]
    """P(churn within Δt) per user (:func:`bh.churn_probability`)."""
    out = np.empty(satisfaction.shape[0])
    for i in range(satisfaction.shape[0]):
        out[i] = bh.churn_probability(base_hazard, beta, satisfaction[i], dt, multiplier[i])
    return out


@njit(cache=True, nogil=True)
def satisfaction_updates(satisfaction, relevance, rate, baseline):  # type: ignore[no-untyped-def]
    """s ← (1 − η) s + η (r − r₀,u) per user (:func:`bh.update_satisfaction`)."""
    out = np.empty(satisfaction.shape[0])
    for i in range(satisfaction.shape[0]):
        out[i] = bh.update_satisfaction(satisfaction[i], relevance[i], rate, baseline[i])
    return out


@njit(cache=True, nogil=True)
def activity_rates(activity, activity_satisfaction, satisfaction):  # type: ignore[no-untyped-def]
    """λ_u e^{β_a s_u} per user (:func:`bh.activity_rate`)."""
    out = np.empty(activity.shape[0])
    for i in range(activity.shape[0]):
        out[i] = bh.activity_rate(activity[i], activity_satisfaction, satisfaction[i])
    return out


# ---------------------------------------------------------------------- cascade
@njit(cache=True, nogil=True)
def cascade_click_probabilities(u, choice):  # type: ignore[no-untyped-def]
    """(B, k) cascade slot probabilities (:func:`bh.cascade_slot_probabilities`)."""
    out = np.empty(u.shape)
    for b in range(u.shape[0]):
        bh.cascade_slot_probabilities(out[b], u[b], choice)
    return out


@njit(cache=True, nogil=True)
def cascade_click_totals(u, choice):  # type: ignore[no-untyped-def]
    """P(click) of each cascade row, summed as :func:`cascade_click_probabilities` sums it."""
    out = np.empty(u.shape[0])
    probabilities = np.empty(u.shape[1])
    for b in range(u.shape[0]):
        out[b] = bh.cascade_slot_probabilities(probabilities, u[b], choice)
    return out


@njit(cache=True, nogil=True)
def cascade_choices(u, choice, uniforms):  # type: ignore[no-untyped-def]
    """Clicked slot of each cascade row (one uniform per slot), −1 for none."""
    out = np.empty(u.shape[0], dtype=np.int64)
    for b in range(u.shape[0]):
        out[b] = bh.cascade_choice(u[b], choice, uniforms[b])
    return out


# ---------------------------------------------------------------------- scanning (pbm, dcm)
def scan_model(
    continuation: ArrayLike, budget_mean: float, scan_minutes: float, length: ArrayLike
) -> tuple[np.ndarray, float, float, np.ndarray, np.ndarray, float]:
    """The ``scan`` tuple (λ, β, s, L, h, g) with h_i = e^{−L_i/β} and g = e^{−s/β}
    (:func:`bh.budget_survival`, 1 without a budget), computed once per run rather than
    once per slot or session (the same bits: the same compiled function)."""
    length = np.ascontiguousarray(length, dtype=np.float64)
    budget_mean = float(budget_mean)
    return (
        np.ascontiguousarray(continuation, dtype=np.float64),
        budget_mean,
        float(scan_minutes),
        length,
        _budget_survivals(length, budget_mean),
        float(_budget_survivals(np.array([float(scan_minutes)]), budget_mean)[0]),
    )


@njit(cache=True, nogil=True)
def _budget_survivals(length, budget_mean):  # type: ignore[no-untyped-def]
    """h_i = :func:`bh.budget_survival` (L_i, β) per item (the same bits as per slot)."""
    out = np.empty(length.shape[0])
    for i in range(length.shape[0]):
        out[i] = bh.budget_survival(length[i], budget_mean)
    return out


@njit(cache=True, nogil=True)
def scan_click_probabilities(u, slates, choice, scan):  # type: ignore[no-untyped-def]
    """(B, k) expected clicks per slot (:func:`bh.scan_slot_probabilities` per row)."""
    out = np.empty(u.shape)
    alpha = np.empty(u.shape[1])
    for b in range(u.shape[0]):
        bh.attractiveness(alpha, u[b], choice)
        bh.scan_slot_probabilities(out[b], alpha, slates[b], choice[0], scan)
    return out


@njit(cache=True, nogil=True)
def scan_click_totals(u, slates, choice, scan):  # type: ignore[no-untyped-def]
    """E[clicks] of each row, summed as :func:`scan_outcomes` sums it (same bits)."""
    out = np.empty(u.shape[0])
    probabilities = np.empty(u.shape[1])
    alpha = np.empty(u.shape[1])
    for b in range(u.shape[0]):
        bh.attractiveness(alpha, u[b], choice)
        out[b] = bh.scan_slot_probabilities(probabilities, alpha, slates[b], choice[0], scan)
    return out


@njit(cache=True, nogil=True)
def scan_any_clicks(u, choice, scan):  # type: ignore[no-untyped-def]
    """P(at least one click) of each scanning row (:func:`bh.scan_any_click`)."""
    out = np.empty(u.shape[0])
    alpha = np.empty(u.shape[1])
    for b in range(u.shape[0]):
        bh.attractiveness(alpha, u[b], choice)
        out[b] = bh.scan_any_click(alpha, choice[0], scan)
    return out


@njit(cache=True, nogil=True)
def scan_outcomes(  # type: ignore[no-untyped-def]
    seed, people, items, choice, scan, users, counter, slates, purposes,
):  # fmt: skip
    """One scanning session per row: utilities, E[clicks] and the clicks, in one pass.

    The draws are keyed uniforms: (u, c, j, purpose) for slot j's examination, attraction
    and continuation (``purposes[0:3]``), and (u, c, 0, ``purposes[3]``) for the budget,
    B = −β log(1 − U) (:func:`bh.exponential_from_uniform`; ∞ without a budget).

    Returns (clicked (B, k) bool, clicks (B,), E[clicks] (B,), P(any click) (B,)
    (:func:`bh.scan_any_click`), utilities (B, k), minutes spent (B,), every click as
    (row, slot) ordered by its rank in the session, then row: ``click_rows``,
    ``click_slots`` and ``rank_starts`` (where the clicks of each rank begin, one more entry
    than the largest count), and per row the first clicked slot and its item (−1 without a
    click) and the clicked slots as a bit mask (bit j = slot j, the log's ``clicked_slots``)).
    """
    n_rows, k = slates.shape
    theta, rho, ring, sat = _gather_users(people, items, users)
    examination, budget_mean = choice[0], scan[1]
    clicked = np.zeros((n_rows, k), dtype=np.bool_)
    clicks = np.empty(n_rows, dtype=np.int64)
    expected = np.empty(n_rows)
    any_click = np.empty(n_rows)
    u = np.empty((n_rows, k))
    minutes = np.empty(n_rows)
    probabilities = np.empty(k)
    alpha = np.empty(k)
    seen_u = np.empty(k)  # the examination and click uniforms of a row's k slots
    click_u = np.empty(k)
    most = 0
    for b in range(n_rows):
        user, count = users[b], counter[b]
        _row_utilities(u[b], slates[b], theta[b], rho[b], ring[b], sat[b], items, False)
        bh.attractiveness(alpha, u[b], choice)
        expected[b], any_click[b] = bh.scan_expectations(probabilities, alpha, slates[b],
                                                         examination, scan)  # fmt: skip
        budget = np.inf
        if not np.isinf(budget_mean):
            budget = bh.exponential_from_uniform(
                uniform_one(seed, user, count, 0, purposes[3]), budget_mean
            )
        for j in range(k):
            seen_u[j] = uniform_one(seed, user, count, j, purposes[0])
        for j in range(k):
            click_u[j] = uniform_one(seed, user, count, j, purposes[1])
        clicks[b], minutes[b] = bh.scan_session(
            clicked[b], alpha, slates[b], examination, scan, seen_u, click_u,
            (seed, user, count, purposes), budget,
        )  # fmt: skip
        most = max(most, clicks[b])
    # Every click, by rank then row: each rank is one round of click consequences.
    rank_starts = np.zeros(most + 1, dtype=np.int64)
    for b in range(n_rows):
        for r in range(clicks[b]):
            rank_starts[r + 1] += 1
    for r in range(most):
        rank_starts[r + 1] += rank_starts[r]
    click_rows = np.empty(rank_starts[most], dtype=np.int64)
    click_slots = np.empty(rank_starts[most], dtype=np.int64)
    fill = rank_starts[:most].copy()
    first_slot = np.full(n_rows, -1, dtype=np.int64)
    first_item = np.full(n_rows, -1, dtype=np.int64)
    mask = np.zeros(n_rows, dtype=np.int64)
    for b in range(n_rows):
        r = 0
        for j in range(k):
            if clicked[b, j]:
                click_rows[fill[r]] = b
                click_slots[fill[r]] = j
                fill[r] += 1
                if r == 0:
                    first_slot[b] = j
                    first_item[b] = slates[b, j]
                mask[b] |= np.int64(1) << np.int64(j)
                r += 1
    return (clicked, clicks, expected, any_click, u, minutes, click_rows, click_slots,
            rank_starts, first_slot, first_item, mask)  # fmt: skip


@njit(cache=True, nogil=True)
def session_relevances(clicks, quality_sum, baseline, no_click_cost):  # type: ignore[no-untyped-def]
    """r per session of several clicks: the mean quality of the items consumed, or
    r₀,u − c₀ without a click (:func:`bh.consumed_relevance`)."""
    out = np.empty(clicks.shape[0])
    for i in range(clicks.shape[0]):
        n = clicks[i]
        q = quality_sum[i] / n if n > 0 else 0.0
        out[i] = bh.consumed_relevance(n > 0, q, baseline[i], no_click_cost)
    return out


# ---------------------------------------------------------------------- long-term mechanisms
@njit(cache=True, nogil=True)
def consumed_relevances(clicked, quality, baseline, no_click_cost):  # type: ignore[no-untyped-def]
    """r per session: q of the clicked item, or r₀,u − c₀ (:func:`bh.consumed_relevance`)."""
    out = np.empty(clicked.shape[0])
    for i in range(clicked.shape[0]):
        item = clicked[i]
        q = quality[item] if item >= 0 else 0.0
        out[i] = bh.consumed_relevance(item >= 0, q, baseline[i], no_click_cost)
    return out


@njit(cache=True, nogil=True)
def consume(users, clicked, preference, vectors, rate, satiation, category):  # type: ignore[no-untyped-def]
    """After each click (user u, item i), in place: interest evolution and satiation.

    θ_u ← θ_u + ε (φ_i − θ_u) factor by factor (:func:`bh.interest_step`, when ε > 0) and
    σ_{u, g_i} += 1 (when ``satiation`` has a column per category).
    """
    per_category = satiation.shape[1] > 1
    for b in range(users.shape[0]):
        user, item = users[b], clicked[b]
        if rate > 0.0:
            for f in range(preference.shape[1]):
                preference[user, f] = bh.interest_step(
                    np.float64(preference[user, f]), np.float64(vectors[item, f]), rate
                )
        if per_category:
            satiation[user, category[item]] += 1.0


@njit(cache=True, nogil=True)
def decay(values, dt, half_life):  # type: ignore[no-untyped-def]
    """x ← x · 2^{−Δt/h} in place, element-wise (:func:`bh.half_life_decay`), any shape."""
    flat = values.reshape(-1)
    for i in range(flat.shape[0]):
        flat[i] = bh.half_life_decay(flat[i], dt, half_life)


@njit(cache=True, nogil=True)
def win_back_probabilities(hazard, multiplier, dt):  # type: ignore[no-untyped-def]
    """P(return within Δt) per dormant user (:func:`bh.win_back_probability`)."""
    out = np.empty(multiplier.shape[0])
    for i in range(multiplier.shape[0]):
        out[i] = bh.win_back_probability(hazard, multiplier[i], dt)
    return out


@njit(cache=True, nogil=True)
def interest_entropies(preference, users, centres, scale):  # type: ignore[no-untyped-def]
    """Entropy (bits) of each user's interest over item categories, in one pass per user.

    H_u = −Σ_g p_ug log₂ p_ug with p_ug ∝ exp(z_ug), z_ug = (w/√d) θ_u·φ̄_g, computed as
    (ln Σ_g e^{z_g − z*} − Σ_g p_g (z_g − z*)) / ln 2 with z* = max_g z_g (no temporaries,
    no log of a vanishing p: both terms are non-negative, so nothing cancels).
    """
    n_groups, d = centres.shape
    out = np.empty(users.shape[0])
    z = np.empty(n_groups)
    theta = np.empty(d)  # converted once per user, not once per category (same bits)
    for b in range(users.shape[0]):
        user = users[b]
        for f in range(d):
            theta[f] = np.float64(preference[user, f])
        top = -np.inf
        for g in range(n_groups):
            acc = 0.0
            for f in range(d):
                acc += theta[f] * centres[g, f]
            z[g] = acc * scale
            top = max(top, z[g])
        total = 0.0
        weighted = 0.0
        for g in range(n_groups):
            e = np.exp(z[g] - top)
            total += e
            weighted += e * (z[g] - top)
        out[b] = (np.log(total) - weighted / total) / np.log(2.0)
    return out


@njit(cache=True, nogil=True)
def ou_drift(preference, mean, dt, reversion, sd, noise):  # type: ignore[no-untyped-def]
    """θ ← OU step toward μ = θ(0), in place, every user and factor (:func:`bh.ou_step`)."""
    for u in range(preference.shape[0]):
        for f in range(preference.shape[1]):
            preference[u, f] = bh.ou_step(
                np.float64(preference[u, f]), np.float64(mean[u, f]), dt, reversion, sd,
                np.float64(noise[u, f]),
            )  # fmt: skip
