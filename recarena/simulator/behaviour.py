"""User behaviour: each equation once, as a compiled row function whose docstring is the equation.

These are the only implementations of the world's equations. The batch loops of
:mod:`recarena.simulator.kernels` call them row by row (they are inlined into each loop), and
the engine's vectorised steps go through those loops too, so every path computes the same
bits. Their numpy twins in :mod:`recarena.simulator.reference` exist for the tests alone.

Randomness comes in as uniforms from :func:`recarena.simulator.rng.uniform` (or the compiled
:func:`~recarena.simulator.rng.uniform_one`), so the same user, session and slot get the same
draw whichever policy is deployed (common random numbers). Arithmetic is IEEE in a fixed
order (no ``fastmath``): one seed, one result, bit for bit.

The item model travels as the tuple ``items = (φ (m, d) float32, φᵀ (d, m) float64, b (m,),
log p (m,), w/√d, κ, category g (m,), κ_b)`` and the choice model as ``choice = (e (k,), T,
u₀)`` (see :mod:`recarena.simulator.kernels`). The scanning models (``pbm``, ``dcm``) add
``scan = (λ (k,), β, s, L (m,), h (m,), g)``: continuation after a click per slot, the mean
session budget (∞ = none), the minutes a slot's examination takes, the item lengths, each
item's h_i = :func:`budget_survival` (L_i, β) and g = :func:`budget_survival` (s, β),
computed once per run (:func:`recarena.simulator.kernels.scan_model`) instead of once per
slot or session.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from recarena.numerics.counter_rng import uniform_one
from recarena.typing import FloatArray

__all__ = [
    "activity_rate",
    "attractiveness",
    "budget_survival",
    "cascade_choice",
    "cascade_slot_probabilities",
    "churn_probability",
    "consumed_relevance",
    "conversion_probability",
    "examination_probabilities",
    "examination_weights",
    "exponential_from_uniform",
    "fatigued",
    "first_click_step",
    "half_life_decay",
    "interest_step",
    "inverse_cdf_choice",
    "lifted_rate",
    "mnl_slot_probabilities",
    "ou_step",
    "satiated",
    "scan_any_click",
    "scan_expectations",
    "scan_session",
    "scan_slot_probabilities",
    "scan_step",
    "sigmoid",
    "update_satisfaction",
    "utility",
    "win_back_probability",
]


# Row functions: compiled, cached on disk, inlined into every loop that calls them.
_row = njit(cache=True, nogil=True, inline="always")


@_row
def sigmoid(x):  # type: ignore[no-untyped-def]  # numba: typed at the call
    """Logistic function σ(x) = 1 / (1 + e^{−x}), without overflow.

    For x < 0 it is computed as e^{x} / (1 + e^{x}), so e^{−x} is never formed for large |x|.
    """
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@_row
def exponential_from_uniform(uniform, mean):  # type: ignore[no-untyped-def]
    """An exponential draw of the given mean by inversion: X = −mean · log(1 − U)."""
    return -mean * math.log1p(-uniform)


@_row
def conversion_probability(utility, quality, intercept, slope, quality_slope):  # type: ignore[no-untyped-def]
    """P(purchase | click) = σ(α + γ u + γ_q (q_i − ½)), α the intercept, γ the slope.

    γ_q = 0 (the default) leaves σ(α + γ u): the quality term is not even added.
    """
    x = intercept + slope * utility
    if quality_slope != 0.0:
        x += quality_slope * (quality - 0.5)
    return sigmoid(x)


@_row
def consumed_relevance(clicked, quality, baseline, no_click_cost):  # type: ignore[no-untyped-def]
    """The signal satisfaction moves with under ``satisfaction_signal: quality``.

    r = q_i, the quality of the item consumed, or r₀,u − c₀ for a session without a click
    (so that s moves toward −c₀: a wasted visit costs a little).
    """
    if clicked:
        return quality
    return baseline - no_click_cost


@_row
def half_life_decay(value, dt, half_life):  # type: ignore[no-untyped-def]
    """Exponential decay toward 0: x(t + Δt) = x(t) · 2^{−Δt/h} (h the half-life)."""
    return value * 2.0 ** (-dt / half_life)


@_row
def win_back_probability(hazard, multiplier, dt):  # type: ignore[no-untyped-def]
    """P(a dormant user returns within Δt) = 1 − exp(−h_w Δt / m).

    m is the user's churn-hazard multiplier from a retention contact still in effect
    (exp(−sign·r): a contact that lowers a persuadable's churn hazard raises the win-back
    hazard by as much, and a sleeping dog's the other way); m = 1 without one.
    """
    return -math.expm1(-hazard / multiplier * dt)


@_row
def interest_step(theta, phi, rate):  # type: ignore[no-untyped-def]
    """Interest evolution on consumption: θ_u ← θ_u + ε (φ_i − θ_u), one factor."""
    return theta + rate * (phi - theta)


@_row
def ou_step(theta, mean, dt, reversion, sd, noise):  # type: ignore[no-untyped-def]
    """Ornstein–Uhlenbeck drift over Δt, exactly (one factor, ε ~ N(0, 1)).

    θ(t + Δt) = μ + (θ(t) − μ) e^{−Δt/τ} + σ_d √(τ (1 − e^{−2Δt/τ}) / 2) · ε,

    the solution of dθ = −(θ − μ)/τ dt + σ_d dW: it reverts to μ = θ_u(0) with time scale τ
    and has stationary sd σ_d √(τ/2) (a random walk θ + σ_d √Δt ε as τ → ∞).
    """
    keep = math.exp(-dt / reversion)
    spread = sd * math.sqrt(reversion * (1.0 - keep * keep) / 2.0)
    return mean + (theta - mean) * keep + spread * noise


@_row
def activity_rate(activity, activity_satisfaction, satisfaction):  # type: ignore[no-untyped-def]
    """Sessions per day λ_u(t) = λ_u · exp(β_a s_u)."""
    return activity * math.exp(activity_satisfaction * satisfaction)


@_row
def lifted_rate(rate, lift):  # type: ignore[no-untyped-def]
    """A campaign contact's lift of the visit rate: λ_u(t) · e^{ℓ_u} (ℓ_u = 0: unchanged)."""
    if lift != 0.0:
        return rate * math.exp(lift)
    return rate


@_row
def churn_probability(base_hazard, beta, satisfaction, dt, multiplier):  # type: ignore[no-untyped-def]
    """P(churn within Δt) = 1 − exp(−h Δt), h = h₀ exp(−β s) · multiplier."""
    hazard = base_hazard * math.exp(-beta * satisfaction) * multiplier
    return -math.expm1(-hazard * dt)


@_row
def update_satisfaction(satisfaction, relevance, rate, baseline):  # type: ignore[no-untyped-def]
    """Exponential smoothing of satisfaction: s ← (1 − η) s + η (r − r₀)."""
    return (1.0 - rate) * satisfaction + rate * (relevance - baseline)


@_row
def utility(item, theta, rho, items):  # type: ignore[no-untyped-def]
    """Utility before fatigue: u_ui = (w/√d) θ_u·φ_i + b_i − ρ_u log p_i.

    θ_u is float64 (converted once per user), φ_i float32 converted per factor; the dot
    product is summed in factor order.
    """
    vector, _, popularity, log_price, scale = items[0], items[1], items[2], items[3], items[4]
    affinity = 0.0
    for f in range(theta.shape[0]):
        affinity += np.float64(theta[f]) * np.float64(vector[item, f])
    return affinity * scale + popularity[item] - rho * log_price[item]


@_row
def satiated(u, item, satiation, items):  # type: ignore[no-untyped-def]
    """Category satiation: u − κ_b · σ_{u, g_i}, σ_u the user's satiation row (κ_b = 0: off).

    σ_{u,g} grows by 1 each time u consumes an item of category g and recovers with
    :func:`half_life_decay`.
    """
    weight = items[7]
    if weight != 0.0:
        return u - weight * satiation[items[6][item]]
    return u


@_row
def fatigued(u, item, ring, fatigue):  # type: ignore[no-untyped-def]
    """Fatigue: u − κ · 1[i in the user's ring of recently consumed items] (κ = 0: off)."""
    if fatigue != 0.0:
        for r in range(ring.shape[0]):
            if ring[r] == item:
                return u - fatigue
    return u


@_row
def mnl_slot_probabilities(out, u, choice):  # type: ignore[no-untyped-def]
    """Multinomial logit with position bias and a no-choice option, into ``out`` (k,).

    P_j = e_j exp(u_j/T) / (exp(u₀/T) + Σ_l e_l exp(u_l/T)); returns P(click) = Σ_j P_j.

    Computed with z = u/T shifted by s = max(z₀, max_j z_j) (every exponent ≤ 0, no
    overflow), and multiplications by 1/T and by 1/denominator instead of divisions (exact
    when T = 1: a division costs several multiplications and a row has 2k + 1 of them).
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


@_row
def inverse_cdf_choice(probabilities, uniform):  # type: ignore[no-untyped-def]
    """The chosen slot: min{j : U < Σ_{l ≤ j} P_l}, or −1 (no click) when U ≥ Σ_l P_l."""
    cumulative = 0.0
    for j in range(probabilities.shape[0]):
        cumulative += probabilities[j]
        if uniform < cumulative:
            return j
    return -1


@_row
def cascade_slot_probabilities(out, u, choice):  # type: ignore[no-untyped-def]
    """Cascade model (Craswell et al., WSDM 2008), into ``out`` (k,); returns P(click).

    The user reaches slot j, examines it with probability e_j/e_1, clicks it with
    c_j = σ((u_j − u₀)/T) · e_j/e_1 overall, and stops at the first click:
    P_j = c_j Π_{l<j} (1 − c_l).
    """
    examination, temperature, no_choice_utility = choice
    survive = 1.0
    clicked = 0.0
    for j in range(u.shape[0]):
        c = sigmoid((u[j] - no_choice_utility) / temperature) * (examination[j] / examination[0])
        out[j] = c * survive
        survive *= 1.0 - c
        clicked += out[j]
    return clicked


@_row
def cascade_choice(u, choice, uniforms):  # type: ignore[no-untyped-def]
    """The clicked slot of a cascade: the first j with U_j < c_j (one uniform per slot), or −1.

    c_j = σ((u_j − u₀)/T) · e_j/e_1 as in :func:`cascade_slot_probabilities`.
    """
    examination, temperature, no_choice_utility = choice
    for j in range(u.shape[0]):
        c = sigmoid((u[j] - no_choice_utility) / temperature) * (examination[j] / examination[0])
        if uniforms[j] < c:
            return j
    return -1


@_row
def budget_survival(minutes, budget_mean):  # type: ignore[no-untyped-def]
    """P(the session's time budget outlasts d more minutes | it has lasted so far) = e^{−d/β}.

    The budget B ~ Exp(mean β) is memoryless, so this does not depend on the minutes
    already spent; β = ∞ (no budget) gives 1.
    """
    if math.isinf(budget_mean):
        return 1.0
    return math.exp(-minutes / budget_mean)


@_row
def attractiveness(out, u, choice):  # type: ignore[no-untyped-def]
    """α_j = σ((u_j − u₀)/T), P(click | slot j examined), into ``out`` (k,).

    The scanning models' attraction factor (and the cascade's, there times e_j/e_1).
    """
    _, temperature, no_choice_utility = choice
    for j in range(u.shape[0]):
        out[j] = sigmoid((u[j] - no_choice_utility) / temperature)


@_row
def scan_step(reach, examination, attraction, continuation, survive_scan, survive_item):  # type: ignore[no-untyped-def]
    """One slot of a top-down scan: (P(click at slot j), R_{j+1} = P(reaching slot j + 1)).

    P_j = R_j ε_j g α_j,
    R_{j+1} = R_j (1 − ε_j) + R_j ε_j g (1 − α_j) + P_j λ_j h_j,

    with ε_j the examination probability of slot j (position-based model), g = e^{−s/β} the
    budget outlasting the examination, α_j the item's attractiveness, λ_j the probability of
    scanning on after a click (dependent click model) and h_j = e^{−L_i/β} the budget
    outlasting the consumption of the clicked item i.
    """
    seen = reach * examination * survive_scan
    click = seen * attraction
    after = reach * (1.0 - examination) + (seen - click) + click * continuation * survive_item
    return click, after


@_row
def scan_slot_probabilities(out, alpha, slate, examination, scan):  # type: ignore[no-untyped-def]
    """Expected clicks per slot of a scanning session, into ``out`` (k,); returns E[clicks].

    The user scans top-down from R_1 = 1 (:func:`scan_step`): slot j is examined with
    probability ε_j (``examination``), an examined item is clicked with its attractiveness
    α_j = σ((u_j − u₀)/T) (``alpha``, :func:`attractiveness`), after a click the user scans
    on with probability λ_j, and an exponential time budget of mean β ends the session when
    examining (s minutes a slot) and consuming (L_i minutes an item) use it up:

    P_j = R_j ε_j g α_j,  R_{j+1} = R_j [(1 − ε_j) + ε_j g (1 − α_j) + ε_j g α_j λ_j h_j],

    E[clicks] = Σ_j P_j. λ ≡ 1 without a budget is the position-based model (PBM, clicks
    independent: P_j = ε_j α_j); ε ≡ 1 is the dependent click model (DCM, Guo et al., WSDM
    2009). Without a budget, with ε_j and λ_j non-increasing in j, E[clicks] ≤ 1/(1 − λ_j)
    from any slot on, so it increases in every α and the k most attractive items in
    decreasing order are the best slate.
    """
    continuation, survival, survive_scan = scan[0], scan[4], scan[5]
    reach = 1.0
    total = 0.0
    for j in range(alpha.shape[0]):
        survive_item = survival[slate[j]]
        click, reach = scan_step(
            reach, examination[j], alpha[j], continuation[j], survive_scan, survive_item
        )
        out[j] = click
        total += click
    return total


@_row
def scan_any_click(alpha, examination, scan):  # type: ignore[no-untyped-def]
    """P(a scanning session has at least one click) = Σ_j Q_j ε_j g α_j, Q_1 = 1,

    Q_{j+1} = Q_j [(1 − ε_j) + ε_j g (1 − α_j)] (reaching slot j + 1 without a click), with
    ε_j, g, α_j as in :func:`scan_slot_probabilities`: the engagement signal r of
    ``satisfaction_signal: relevance``, as P(click) is under the single-click models.
    """
    survive_scan = scan[5]
    clean = 1.0
    any_click = 0.0
    for j in range(alpha.shape[0]):
        click, clean = first_click_step(clean, examination[j], alpha[j], survive_scan)
        any_click += click
    return any_click


@_row
def first_click_step(clean, examination, attraction, survive_scan):  # type: ignore[no-untyped-def]
    """One slot of :func:`scan_any_click`: (P(the first click is at slot j), Q_{j+1}).

    F_j = Q_j ε_j g α_j,  Q_{j+1} = Q_j (1 − ε_j) + (Q_j ε_j g − F_j).
    """
    seen = clean * examination * survive_scan
    click = seen * attraction
    return click, clean * (1.0 - examination) + (seen - click)


@_row
def scan_expectations(out, alpha, slate, examination, scan):  # type: ignore[no-untyped-def]
    """(E[clicks], P(any click)) of a scanning session in one pass; slot values into ``out``.

    The two recurrences of :func:`scan_slot_probabilities` and :func:`scan_any_click`, the
    same operations in the same order (the same bits), interleaved so that their dependency
    chains overlap.
    """
    continuation, survival, survive_scan = scan[0], scan[4], scan[5]
    reach = 1.0
    clean = 1.0
    total = 0.0
    any_click = 0.0
    for j in range(alpha.shape[0]):
        click, reach = scan_step(
            reach, examination[j], alpha[j], continuation[j], survive_scan, survival[slate[j]]
        )
        out[j] = click
        total += click
        first, clean = first_click_step(clean, examination[j], alpha[j], survive_scan)
        any_click += first
    return total, any_click


@_row
def scan_session(clicked, alpha, slate, examination, scan, seen_u, click_u, key, budget):  # type: ignore[no-untyped-def]
    """Play one scanning session; sets ``clicked[j]``; returns (clicks, minutes spent).

    At slot j, top-down: examined when U_j1 < ε_j (s minutes), clicked when U_j2 < α_j
    (L_i minutes), then scanning on after a click when U_j3 < λ_j; the session ends when the
    minutes spent pass the drawn budget ``budget`` (the last step is cut at it; ∞ = none).
    U_jd is the keyed uniform (seed, user, counter, j, purpose_d) of ``key = (seed, user,
    counter, purposes)``: U_j1 and U_j2 come drawn for every slot (``seen_u``, ``click_u``:
    independent draws the CPU overlaps, where drawing each after the last one's branch
    serialised them), U_j3 is drawn when it is read (a keyed draw is the same whenever it
    is drawn, so the session is the same either way). ε_j = 1 needs no comparison, as
    U < 1. The probabilities are those of :func:`scan_slot_probabilities` (the budget is
    memoryless).
    """
    continuation, scan_minutes, length = scan[0], scan[2], scan[3]
    seed, user, counter, purposes = key
    spent = 0.0
    clicks = 0
    for j in range(alpha.shape[0]):
        clicked[j] = False
    for j in range(alpha.shape[0]):
        if not seen_u[j] < examination[j]:
            continue
        spent += scan_minutes
        if spent > budget:
            return clicks, budget
        if click_u[j] < alpha[j]:
            clicked[j] = True
            clicks += 1
            spent += length[slate[j]]
            if spent > budget:
                return clicks, budget
            if continuation[j] < 1.0 and not (
                uniform_one(seed, user, counter, j, purposes[2]) < continuation[j]
            ):
                break
    return clicks, spent


def examination_probabilities(
    k: int, kind: str = "log", decay: float = 1.0, given: list[float] | None = None
) -> FloatArray:
    """ε_1…ε_k, the examination probabilities of the scanning models (``pbm``, ``dcm``).

    The first k of ``given`` (``examination_probabilities``), else the position-bias profile
    :func:`examination_weights` (each ≤ 1, ε_1 = 1).
    """
    if given is not None:
        return np.asarray(given[:k], dtype=np.float64)
    return examination_weights(k, kind, decay)


def examination_weights(k: int, kind: str = "log", decay: float = 1.0) -> FloatArray:
    """Position-bias examination weights e_j for slots j = 1…k.

    ``"log"``: e_j = 1 / log2(j + 1) (the DCG discount); ``"power"``: e_j = j^−η;
    ``"none"``: e_j = 1.
    """
    j = np.arange(1, k + 1, dtype=np.float64)
    if kind == "log":
        return 1.0 / np.log2(j + 1.0)
    if kind == "power":
        return j**-decay
    if kind == "none":
        return np.ones(k)
    raise ValueError(f"position_bias must be 'log', 'power' or 'none', got {kind!r}")
