"""numpy reference formulas of the world's equations, for tests (and the naive benchmark).

Each ``reference_*`` function is the textbook, vectorised form of one compiled row function
of :mod:`recarena.simulator.behaviour`; the tests check that the compiled equations (applied
by :mod:`recarena.simulator.kernels`) agree with them. The simulator never calls these.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from recarena.typing import FloatArray

__all__ = [
    "reference_activity_rate",
    "reference_budget_survival",
    "reference_cascade_choice",
    "reference_cascade_probabilities",
    "reference_churn_probability",
    "reference_consumed_relevance",
    "reference_conversion_probability",
    "reference_exponential_from_uniform",
    "reference_half_life_decay",
    "reference_interest_step",
    "reference_inverse_cdf_choice",
    "reference_mnl_probabilities",
    "reference_ou_step",
    "reference_scan_any_click",
    "reference_scan_probabilities",
    "reference_scan_session",
    "reference_sigmoid",
    "reference_update_satisfaction",
    "reference_utilities",
    "reference_win_back_probability",
]


def reference_sigmoid(x: NDArray[np.floating]) -> FloatArray:
    """σ(x) = 1 / (1 + e^{−x})."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def reference_exponential_from_uniform(
    uniforms: FloatArray, mean: FloatArray | float
) -> FloatArray:
    """−mean · log(1 − U)."""
    return -np.asarray(mean) * np.log1p(-np.asarray(uniforms))


def reference_conversion_probability(
    u: FloatArray,
    intercept: float,
    slope: float,
    quality: FloatArray | float = 0.5,
    quality_slope: float = 0.0,
) -> FloatArray:
    """σ(α + γ u + γ_q (q − ½))."""
    return reference_sigmoid(
        intercept + slope * np.asarray(u) + quality_slope * (np.asarray(quality) - 0.5)
    )


def reference_activity_rate(
    activity: FloatArray, beta: float, satisfaction: FloatArray
) -> FloatArray:
    """λ exp(β_a s)."""
    return np.asarray(activity) * np.exp(beta * np.asarray(satisfaction))


def reference_churn_probability(
    base_hazard: float,
    beta: float,
    satisfaction: FloatArray,
    dt: float,
    multiplier: FloatArray | float = 1.0,
) -> FloatArray:
    """1 − exp(−h Δt), h = h₀ exp(−β s) · multiplier."""
    hazard = base_hazard * np.exp(-beta * np.asarray(satisfaction)) * multiplier
    return 1.0 - np.exp(-hazard * dt)


def reference_update_satisfaction(
    s: FloatArray, relevance: FloatArray, rate: float, baseline: float
) -> FloatArray:
    """(1 − η) s + η (r − r₀)."""
    return (1.0 - rate) * np.asarray(s) + rate * (np.asarray(relevance) - baseline)


def reference_utilities(
    preference: NDArray[np.floating],
    item_vectors: NDArray[np.floating],
    popularity: FloatArray,
    log_price: FloatArray,
    price_sensitivity: FloatArray,
    preference_weight: float,
    fatigue_penalty: FloatArray | None = None,
) -> FloatArray:
    """u_ui = w θ_u·φ_i / √d + b_i − ρ_u log p_i − κ·1[recent], shape (B, m)."""
    theta = np.asarray(preference, dtype=np.float64)
    phi = np.asarray(item_vectors, dtype=np.float64)
    u = preference_weight / np.sqrt(theta.shape[1]) * theta @ phi.T
    u = u + popularity - np.asarray(price_sensitivity)[:, None] * log_price
    return u if fatigue_penalty is None else u - fatigue_penalty


def reference_mnl_probabilities(
    u: FloatArray, examination: FloatArray, temperature: float, no_choice_utility: float
) -> FloatArray:
    """P_j = e_j exp(u_j/T) / (exp(u₀/T) + Σ_l e_l exp(u_l/T)), shape (B, k)."""
    z = np.asarray(u, dtype=np.float64) / temperature
    shift = np.maximum(z.max(axis=1, keepdims=True), no_choice_utility / temperature)
    w = examination * np.exp(z - shift)
    out: FloatArray = w / (
        np.exp(no_choice_utility / temperature - shift) + w.sum(axis=1, keepdims=True)
    )
    return out


def reference_inverse_cdf_choice(
    probabilities: FloatArray, uniforms: FloatArray
) -> NDArray[np.int64]:
    """min{j : U < Σ_{l ≤ j} P_l}, or −1 when U ≥ Σ_l P_l."""
    cumulative = np.cumsum(probabilities, axis=1)
    below = uniforms[:, None] < cumulative
    return np.where(below.any(axis=1), np.argmax(below, axis=1), -1).astype(np.int64)


def reference_cascade_probabilities(
    u: FloatArray, examination: FloatArray, temperature: float, no_choice_utility: float
) -> FloatArray:
    """P_j = c_j Π_{l<j} (1 − c_l), c_j = σ((u_j − u₀)/T) · e_j/e_1, shape (B, k)."""
    c = reference_sigmoid((u - no_choice_utility) / temperature) * (examination / examination[0])
    survive = np.cumprod(1.0 - c, axis=1)
    before = np.hstack([np.ones((u.shape[0], 1)), survive[:, :-1]])
    out: FloatArray = c * before
    return out


def reference_cascade_choice(
    u: FloatArray,
    examination: FloatArray,
    temperature: float,
    no_choice_utility: float,
    uniforms: FloatArray,
) -> NDArray[np.int64]:
    """The first slot j with U_j < c_j, or −1."""
    c = reference_sigmoid((u - no_choice_utility) / temperature) * (examination / examination[0])
    clicks = uniforms < c
    return np.where(clicks.any(axis=1), np.argmax(clicks, axis=1), -1).astype(np.int64)


def reference_consumed_relevance(
    clicked: NDArray[np.int64], quality: FloatArray, baseline: FloatArray, no_click_cost: float
) -> FloatArray:
    """r = q of the clicked item, or r₀,u − c₀ without a click."""
    q = quality[np.maximum(clicked, 0)]
    return np.where(clicked >= 0, q, baseline - no_click_cost)


def reference_half_life_decay(values: FloatArray, dt: float, half_life: float) -> FloatArray:
    """x · 2^{−Δt/h}."""
    return np.asarray(values) * 0.5 ** (dt / half_life)


def reference_win_back_probability(hazard: float, multiplier: FloatArray, dt: float) -> FloatArray:
    """1 − exp(−h_w Δt / m)."""
    return 1.0 - np.exp(-hazard / np.asarray(multiplier) * dt)


def reference_interest_step(theta: FloatArray, phi: FloatArray, rate: float) -> FloatArray:
    """θ + ε (φ − θ)."""
    return np.asarray(theta) + rate * (np.asarray(phi) - np.asarray(theta))


def reference_ou_step(
    theta: FloatArray, mean: FloatArray, dt: float, reversion: float, sd: float, noise: FloatArray
) -> FloatArray:
    """μ + (θ − μ) e^{−Δt/τ} + σ √(τ (1 − e^{−2Δt/τ}) / 2) ε."""
    keep = np.exp(-dt / reversion)
    return mean + (theta - mean) * keep + sd * np.sqrt(reversion * (1 - keep**2) / 2) * noise


def reference_budget_survival(minutes: FloatArray, budget_mean: float) -> FloatArray:
    """e^{−d/β} (1 without a budget, β = ∞)."""
    return np.exp(-np.asarray(minutes, dtype=np.float64) / budget_mean)


def reference_scan_probabilities(
    u: FloatArray,
    examination: FloatArray,
    temperature: float,
    no_choice_utility: float,
    continuation: FloatArray,
    survive_scan: float = 1.0,
    survive_items: FloatArray | None = None,
) -> FloatArray:
    """P_j = R_j ε_j g α_j, R_{j+1} = R_j [(1 − ε_j) + ε_j g (1 − α_j) + ε_j g α_j λ_j h_j],
    R_1 = 1, α_j = σ((u_j − u₀)/T); ``survive_items`` = h (B, k), 1 without a budget."""
    u = np.asarray(u, dtype=np.float64)
    alpha = reference_sigmoid((u - no_choice_utility) / temperature)
    h = np.ones_like(u) if survive_items is None else np.asarray(survive_items)
    g = survive_scan
    keep = (
        (1 - examination)
        + examination * g * (1 - alpha)
        + examination * g * alpha * (continuation * h)
    )
    reach = np.hstack([np.ones((u.shape[0], 1)), np.cumprod(keep, axis=1)[:, :-1]])
    out: FloatArray = reach * examination * g * alpha
    return out


def reference_scan_any_click(
    u: FloatArray,
    examination: FloatArray,
    temperature: float,
    no_choice_utility: float,
    survive_scan: float = 1.0,
) -> FloatArray:
    """Σ_j Q_j ε_j g α_j, Q_{j+1} = Q_j [(1 − ε_j) + ε_j g (1 − α_j)], Q_1 = 1."""
    alpha = reference_sigmoid((np.asarray(u, dtype=np.float64) - no_choice_utility) / temperature)
    keep = (1 - examination) + examination * survive_scan * (1 - alpha)
    clean = np.hstack([np.ones((alpha.shape[0], 1)), np.cumprod(keep, axis=1)[:, :-1]])
    out: FloatArray = (clean * examination * survive_scan * alpha).sum(axis=1)
    return out


def reference_scan_session(
    u: FloatArray,
    lengths: FloatArray,
    examination: FloatArray,
    temperature: float,
    no_choice_utility: float,
    continuation: FloatArray,
    scan_minutes: float,
    uniforms: FloatArray,
    budget: FloatArray,
) -> tuple[NDArray[np.bool_], FloatArray]:
    """Scanning sessions, all rows at once: (clicked (B, k), minutes (B,)).

    Slot j (top-down, while scanning): examined if U_j1 < ε_j (s minutes), clicked if
    U_j2 < α_j (L_j minutes), scanning on after a click if U_j3 < λ_j; a session stops when
    its minutes pass its budget, its minutes then cut at the budget.
    """
    alpha = reference_sigmoid((np.asarray(u, dtype=np.float64) - no_choice_utility) / temperature)
    n, k = alpha.shape
    scanning = np.ones(n, dtype=bool)
    spent = np.zeros(n)
    clicked = np.zeros((n, k), dtype=bool)
    for j in range(k):
        seen = scanning & (uniforms[:, j, 0] < examination[j])
        spent = np.where(seen, spent + scan_minutes, spent)
        seen &= spent <= budget
        click = seen & (uniforms[:, j, 1] < alpha[:, j])
        clicked[:, j] = click
        spent = np.where(click, spent + lengths[:, j], spent)
        stop = (scanning & (spent > budget)) | (click & ~(uniforms[:, j, 2] < continuation[j]))
        scanning &= ~stop
    return clicked, np.minimum(spent, budget)
