"""Compiled row loops behind the hottest behaviour and oracle functions (numba, no fastmath).

The engine spends most of its time on per-slate arithmetic over tiny rows (k ≈ 10 items of
d ≈ 8 factors). In numpy each step is a pass over a (B, k) or (B, k, d) temporary plus a
Python-level call; a compiled loop does the gather, dot product, fatigue test, MNL and
inverse-CDF draw of a row while it sits in cache. The typed, documented entry points with
the equations are in :mod:`recarena.simulator.behaviour` and :mod:`recarena.simulator.oracle`;
this module only holds their loops. Every batch kernel is built from the same row functions,
so the engine's fused pass and the oracle's separate steps compute identical bits.

The model's arrays travel as three tuples (numba takes heterogeneous tuples):

``people``
    ``(preference θ (n, d) float32, price_sensitivity ρ (n,), recent (n, R) int32)`` — the
    live per-user state (``recent`` is the fatigue ring, −1 = empty).
``items``
    ``(vector φ (m, d) float32, vector_t φᵀ (d, m) float64, popularity b (m,),
    log_price log p (m,), scale w/√d, fatigue κ)`` — κ = 0 turns the ring test off.
``choice``
    ``(examination e (k,), temperature T, no_choice_utility u₀)`` — the MNL model.

Every loop uses IEEE arithmetic in a fixed order (``fastmath`` is off), so results are
deterministic: one seed, one result, bit for bit. Compiled code is cached on disk
(``cache=True``): the first use on a machine compiles (a few seconds), later ones load.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from recarena.numerics.counter_rng import uniform_one

__all__ = [
    "cached_best_mnl_values",
    "catalogue_utilities",
    "keep_best_values",
    "mnl_choice",
    "mnl_click_probabilities",
    "mnl_click_totals",
    "next_sessions",
    "record_clicks",
    "slate_outcomes",
    "slate_utilities",
    "top_items",
]


# ---------------------------------------------------------------------- row functions
@njit(cache=True, nogil=True)
def _gather_users(people, users):  # type: ignore[no-untyped-def]  # numba: typed at the call
    """Copy each row's user data (θ_u, ρ_u, ring_u) into contiguous arrays.

    A tight loop of independent loads lets the CPU overlap the cache misses of scattered
    users; inside the per-row arithmetic they were serialised (≈ 40% of a cold batch).
    """
    preference, price_sensitivity, recent = people
    n_rows, d, n_ring = users.shape[0], preference.shape[1], recent.shape[1]
    theta = np.empty((n_rows, d))  # float64: each θ_f is converted once, not once per item
    rho = np.empty(n_rows)
    ring = np.empty((n_rows, n_ring), dtype=recent.dtype)
    for b in range(n_rows):
        user = users[b]
        for f in range(d):
            theta[b, f] = preference[user, f]
        rho[b] = price_sensitivity[user]
        for r in range(n_ring):
            ring[b, r] = recent[user, r]
    return theta, rho, ring


@njit(cache=True, nogil=True, inline="always")
def _utility_before_fatigue(item, theta, rho, items):  # type: ignore[no-untyped-def]
    """w/√d·θ·φ_i + b_i − ρ log p_i, the dot product summed in factor order."""
    vector, _, popularity, log_price, scale, _ = items
    affinity = 0.0
    for f in range(theta.shape[0]):
        affinity += np.float64(theta[f]) * np.float64(vector[item, f])
    return affinity * scale + popularity[item] - rho * log_price[item]


@njit(cache=True, nogil=True, inline="always")
def _row_utilities(out, slate, theta, rho, ring, items, distinct):  # type: ignore[no-untyped-def]
    """u_j = w/√d·θ·φ_i + b_i − ρ log p_i − κ·1[i ∈ ring] for i = slate[j], into ``out``.

    Later copies of an item repeated in the row get −inf (one option, counted once) unless
    ``distinct``.
    """
    fatigue = items[5]
    for j in range(slate.shape[0]):
        item = slate[j]
        u = _utility_before_fatigue(item, theta, rho, items)
        if fatigue != 0.0:
            for r in range(ring.shape[0]):
                if ring[r] == item:
                    u -= fatigue
                    break
        if not distinct:
            for other in range(j):
                if slate[other] == item:
                    u = -np.inf
                    break
        out[j] = u


@njit(cache=True, nogil=True, inline="always")
def _row_catalogue(out, theta, rho, ring, items, fatigue):  # type: ignore[no-untyped-def]
    """Utilities of every item for one user, into ``out`` (m,), as :func:`_row_utilities`.

    The loop over items is innermost (on φᵀ), so each item keeps its own accumulator — the
    same additions in the same order as the per-slate dot product, hence the same bits —
    while the compiler vectorises across items. ``fatigue`` is passed apart so that a
    shortlist can be scored before fatigue (0).
    """
    _, vector_t, popularity, log_price, scale, _ = items
    m = out.shape[0]
    for i in range(m):
        out[i] = 0.0
    for f in range(theta.shape[0]):
        weight = np.float64(theta[f])
        for i in range(m):
            out[i] += weight * vector_t[f, i]
    for i in range(m):
        out[i] = out[i] * scale + popularity[i] - rho * log_price[i]
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
def _row_mnl(out, u, choice):  # type: ignore[no-untyped-def]
    """P_j = e_j exp(z_j − s) / (exp(z₀ − s) + Σ_l e_l exp(z_l − s)), z = u/T, into ``out``.

    s = max(z₀, max_j z_j) keeps every exponent ≤ 0 (no overflow). Returns Σ_j P_j.
    Multiplications by 1/T and by 1/denominator instead of divisions (exact when T = 1):
    a division costs several multiplications and a row has 2k + 1 of them.
    """
    examination, temperature, no_choice_utility = choice
    k = u.shape[0]
    inverse = 1.0 / temperature
    peak = no_choice_utility
    for j in range(k):
        if u[j] > peak:
            peak = u[j]
    shift = peak * inverse  # = max_j z_j, as z ↦ z/T is monotone
    total = math.exp(no_choice_utility * inverse - shift)
    for j in range(k):
        w = examination[j] * math.exp(u[j] * inverse - shift)
        out[j] = w
        total += w
    norm = 1.0 / total
    clicked = 0.0
    for j in range(k):
        out[j] *= norm
        clicked += out[j]
    return clicked


@njit(cache=True, nogil=True, inline="always")
def _row_choice(probabilities, uniform):  # type: ignore[no-untyped-def]
    """The first slot j with U < Σ_{l ≤ j} P_l, or −1 when U is past P(click)."""
    cumulative = 0.0
    for j in range(probabilities.shape[0]):
        cumulative += probabilities[j]
        if uniform < cumulative:
            return j
    return -1


@njit(cache=True, nogil=True, inline="always")
def _row_top(out, best, u, ids):  # type: ignore[no-untyped-def]
    """The len(out) items of ``ids`` with the highest ``u``, by (u ↓, id ↑), into ``out``.

    One pass keeping a sorted list of the best so far (values in ``best``): an item enters
    only if it beats the current last, and equal values keep the lower id (seen first).
    """
    size = out.shape[0]
    count = 0
    for index in range(ids.shape[0]):
        item = ids[index]
        value = u[item]
        if count == size and not value > best[size - 1]:
            continue
        j = count if count < size else size - 1
        while j > 0 and best[j - 1] < value:  # strict: equal values keep the lower id first
            best[j] = best[j - 1]
            out[j] = out[j - 1]
            j -= 1
        best[j] = value
        out[j] = item
        if count < size:
            count += 1


# ---------------------------------------------------------------------- batch kernels
@njit(cache=True, nogil=True)
def slate_utilities(people, items, users, slates, distinct):  # type: ignore[no-untyped-def]
    """(B, k) utilities of each user's slate (:func:`_row_utilities` per row)."""
    theta, rho, ring = _gather_users(people, users)
    out = np.empty(slates.shape)
    for b in range(slates.shape[0]):
        _row_utilities(out[b], slates[b], theta[b], rho[b], ring[b], items, distinct)
    return out


@njit(cache=True, nogil=True)
def mnl_click_probabilities(u, choice):  # type: ignore[no-untyped-def]
    """(B, k) MNL slot probabilities (:func:`_row_mnl` per row)."""
    out = np.empty(u.shape)
    for b in range(u.shape[0]):
        _row_mnl(out[b], u[b], choice)
    return out


@njit(cache=True, nogil=True)
def mnl_click_totals(u, choice):  # type: ignore[no-untyped-def]
    """P(click) = Σ_j P_j per row, summed as :func:`slate_outcomes` sums it (same bits)."""
    out = np.empty(u.shape[0])
    probabilities = np.empty(u.shape[1])
    for b in range(u.shape[0]):
        out[b] = _row_mnl(probabilities, u[b], choice)
    return out


@njit(cache=True, nogil=True)
def mnl_choice(probabilities, uniforms):  # type: ignore[no-untyped-def]
    """Clicked slot per row by inverse CDF (:func:`_row_choice`), −1 for no click."""
    out = np.empty(probabilities.shape[0], dtype=np.int64)
    for b in range(probabilities.shape[0]):
        out[b] = _row_choice(probabilities[b], uniforms[b])
    return out


@njit(cache=True, nogil=True)
def slate_outcomes(people, items, choice, users, slates, uniforms):  # type: ignore[no-untyped-def]
    """One MNL session per row: utilities, slot probabilities and the clicked slot.

    Returns (position, P(click), clicked item, utility of the clicked item); position and
    item are −1 and the utility NaN where nobody clicks.
    """
    n_rows, k = slates.shape
    theta, rho, ring = _gather_users(people, users)
    position = np.empty(n_rows, dtype=np.int64)
    expected = np.empty(n_rows)
    clicked = np.empty(n_rows, dtype=np.int64)
    clicked_utility = np.empty(n_rows)
    u = np.empty(k)
    probabilities = np.empty(k)
    for b in range(n_rows):
        _row_utilities(u, slates[b], theta[b], rho[b], ring[b], items, False)
        expected[b] = _row_mnl(probabilities, u, choice)
        slot = _row_choice(probabilities, uniforms[b])
        position[b] = slot
        clicked[b] = slates[b, slot] if slot >= 0 else -1
        clicked_utility[b] = u[slot] if slot >= 0 else np.nan
    return position, expected, clicked, clicked_utility


@njit(cache=True, nogil=True)
def catalogue_utilities(people, items, users, available):  # type: ignore[no-untyped-def]
    """(B, m) utilities of every item for each user, −inf where not ``available``."""
    theta, rho, ring = _gather_users(people, users)
    m = available.shape[0]
    out = np.empty((users.shape[0], m))
    for b in range(users.shape[0]):
        _row_catalogue(out[b], theta[b], rho[b], ring[b], items, items[5])
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
    theta, rho, ring = _gather_users(people, users)
    ids = np.flatnonzero(available)
    fatigue = items[5] if with_fatigue else 0.0
    out = np.full((users.shape[0], size), -1, dtype=np.int64)
    u = np.empty(available.shape[0])
    best = np.empty(size)
    for b in range(users.shape[0]):
        _row_catalogue(u, theta[b], rho[b], ring[b], items, fatigue)
        _row_top(out[b], best, u, ids)
    return out


@njit(cache=True, nogil=True)
def cached_best_mnl_values(  # type: ignore[no-untyped-def]
    people, items, choice, users, available, value, valid, kth, shortlist, shortlist_utility,
):  # fmt: skip
    """P(click) of each user's best MNL slate, from and into a per-user cache.

    ``value``/``valid``/``kth`` (n_users,) cache the answer and the k-th highest utility of
    the best slate; ``shortlist`` (n_users, c) caches each user's c best items before
    fatigue (a row starting with −1 is not computed) and ``shortlist_utility`` their
    utilities before fatigue. A stale user gets a shortlist if missing (as
    :func:`top_items` without fatigue); its value is then re-found from the cached
    utilities, less κ for the items in the ring, without rescoring a single item: the same
    numbers, to the bit, as scoring the shortlist with :func:`slate_utilities`, sorting it
    and summing the MNL of its first k (:meth:`~recarena.simulator.oracle.Oracle.best_values_from`).
    """
    preference, price_sensitivity, recent = people
    fatigue = items[5]
    n_rows = users.shape[0]
    out = np.empty(n_rows)
    ids = np.flatnonzero(available)
    c = shortlist.shape[1]
    catalogue = np.empty(available.shape[0])
    theta = np.empty(preference.shape[1])
    best = np.empty(c)
    top = np.empty(c, dtype=np.int64)
    u = np.empty(c)
    probabilities = np.empty(choice[0].shape[0])
    for b in range(n_rows):
        user = users[b]
        if valid[user]:
            out[b] = value[user]
            continue
        ring = recent[user]
        if shortlist[user, 0] < 0:
            for f in range(theta.shape[0]):
                theta[f] = preference[user, f]
            _row_catalogue(catalogue, theta, price_sensitivity[user], ring, items, 0.0)
            top[:] = -1
            _row_top(top, best, catalogue, ids)
            for j in range(c):
                shortlist[user, j] = top[j]
                shortlist_utility[user, j] = catalogue[top[j]]
        for j in range(c):
            u[j] = shortlist_utility[user, j]
            if fatigue != 0.0:
                for r in range(ring.shape[0]):
                    if ring[r] == shortlist[user, j]:
                        u[j] -= fatigue
                        break
        _sort_descending(u)
        result = _row_mnl(probabilities, u[: probabilities.shape[0]], choice)
        value[user] = result
        valid[user] = True
        kth[user] = u[probabilities.shape[0] - 1]
        out[b] = result
    return out


@njit(cache=True, nogil=True, inline="always")
def _sort_descending(u):  # type: ignore[no-untyped-def]
    """Insertion sort, largest first: cheap on rows of ~15 that are nearly sorted already."""
    for j in range(1, u.shape[0]):
        value = u[j]
        i = j - 1
        while i >= 0 and u[i] < value:
            u[i + 1] = u[i]
            i -= 1
        u[i + 1] = value


@njit(cache=True, nogil=True)
def record_clicks(  # type: ignore[no-untyped-def]
    seed, users, counter, clicked, utility, recent, recent_pos, memory, intercept, slope,
    delay_mean, conversion_purpose, delay_purpose,
):  # fmt: skip
    """What follows each click: the fatigue ring and a possible (delayed) purchase.

    Per click (user u, session c, item i = ``clicked``, utility x): i enters u's ring at its
    write position (when ``memory`` > 0; each user at most once per call), evicting the
    oldest entry; the user buys with P = σ(α + γ x)
    (:func:`~recarena.simulator.behaviour.conversion_probability`) on the keyed uniform
    (u, c, 0, ``conversion_purpose``), after an exponential delay of mean ``delay_mean``
    drawn by inversion (:func:`~recarena.simulator.behaviour.exponential_from_uniform`)
    from the uniform (u, c, 0, ``delay_purpose``).

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
        x = intercept + slope * utility[i]
        # σ(x) without overflow, as behaviour.sigmoid computes it.
        p = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        if uniform_one(seed, user, counter[i], 0, conversion_purpose) < p:
            draw = uniform_one(seed, user, counter[i], 0, delay_purpose)
            delay[i] = -delay_mean * math.log1p(-draw)
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
    preference, price_sensitivity, recent = people
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
        if (newly_fatigued and _utility_before_fatigue(x, theta, rho, items) >= kth[user]) or (
            released and _utility_before_fatigue(y, theta, rho, items) >= kth[user]
        ):
            valid[user] = False


@njit(cache=True, nogil=True)
def next_sessions(  # type: ignore[no-untyped-def]
    seed, users, times, session_count, activity, satisfaction, activity_satisfaction,
    next_session, t_end, purpose,
):  # fmt: skip
    """Schedule each user's next session after the one at ``times`` (in place).

    Per user u: the session counter c_u grows by one, and the next session comes after an
    exponential gap of rate λ_u exp(a·s_u) (activity λ, satisfaction s), drawn by inversion
    from the keyed uniform U(u, c_u, 0, ``purpose``): gap = −log(1 − U) / (λ_u e^{a s_u}),
    as :func:`~recarena.simulator.behaviour.exponential_from_uniform`. Returns the users
    whose next session still falls at or before ``t_end`` (in ``users`` order).
    """
    again = np.empty(users.shape[0], dtype=np.int64)
    n_again = 0
    for i in range(users.shape[0]):
        user = users[i]
        count = session_count[user] + 1
        session_count[user] = count
        rate = activity[user] * math.exp(activity_satisfaction * satisfaction[user])
        draw = uniform_one(seed, user, count, 0, purpose)
        t = times[i] + -(1.0 / rate) * math.log1p(-draw)
        next_session[user] = t
        if t <= t_end:
            again[n_again] = user
            n_again += 1
    return again[:n_again]
