"""User behaviour: each mechanism a small vectorised function with its equation.

All functions are pure: they take arrays and (where random) pre-drawn uniforms, and return
arrays. Randomness comes in as uniforms from :func:`recarena.numerics.counter_rng.uniform`, so the
same user, session and slot get the same draw whichever policy is deployed (common random
numbers).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from recarena.simulator import kernels
from recarena.typing import FloatArray

__all__ = [
    "cascade_choice",
    "cascade_click_probability",
    "churn_probability",
    "conversion_probability",
    "examination_weights",
    "exponential_from_uniform",
    "mnl_choice",
    "mnl_click_probabilities",
    "sigmoid",
    "update_satisfaction",
    "utilities",
]


def sigmoid(x: NDArray[np.floating]) -> FloatArray:
    """Logistic function σ(x) = 1 / (1 + e^{−x}), computed without overflow."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


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


def utilities(
    preference: NDArray[np.float32],
    item_vectors: NDArray[np.float32],
    popularity: FloatArray,
    log_price: FloatArray,
    price_sensitivity: FloatArray,
    preference_weight: float,
    fatigue_penalty: FloatArray | None = None,
) -> FloatArray:
    """Utility of items for users.

    u_ui = w · θ_u·φ_i / √d + b_i − ρ_u log p_i − κ·1[i recently consumed by u]

    Parameters
    ----------
    preference
        θ, shape (B, d).
    item_vectors
        φ of the candidate items, shape (m, d), shared by the whole batch (per-user slates
        are scored by :meth:`recarena.simulator.oracle.Oracle.slate_utilities`).
    popularity, log_price
        b and log p for the same items, shape (m,).
    price_sensitivity
        ρ, shape (B,).
    preference_weight
        w.
    fatigue_penalty
        κ·1[recent], same shape as the result, or ``None``.

    Returns
    -------
    numpy.ndarray
        Shape (B, m).
    """
    d = preference.shape[1]
    scale = preference_weight / np.sqrt(d)
    affinity = (preference @ item_vectors.T).astype(np.float64)
    # In place, in the order of the formula: ((w/√d)·a + b) − ρ log p − κ·1[recent].
    u = affinity
    u *= scale
    u += popularity
    u -= price_sensitivity[:, None] * log_price
    if fatigue_penalty is not None:
        u -= fatigue_penalty
    return u


def mnl_click_probabilities(
    u: FloatArray, examination: FloatArray, temperature: float, no_choice_utility: float
) -> FloatArray:
    """Multinomial-logit slot probabilities with position bias and a no-choice option.

    P(slot j) = e_j exp(u_j/T) / (exp(u_0/T) + Σ_l e_l exp(u_l/T)); the remainder is
    "no click". Computed with the max-shift s = max(u_0, max_j u_j)/T for numerical
    stability, one compiled pass per row (:mod:`recarena.simulator.kernels`).

    Returns
    -------
    numpy.ndarray
        Shape (B, k); rows sum to P(click) < 1.
    """
    choice = (
        np.ascontiguousarray(examination, dtype=np.float64),
        float(temperature),
        float(no_choice_utility),
    )
    probabilities: FloatArray = kernels.mnl_click_probabilities(
        np.ascontiguousarray(u, dtype=np.float64), choice
    )
    return probabilities


def mnl_choice(probabilities: FloatArray, uniforms: FloatArray) -> NDArray[np.int64]:
    """Sample the clicked slot (or −1 for none) by inverse CDF on one uniform per row.

    slot = min{j : U < Σ_{l ≤ j} P_l}, or −1 when U ≥ Σ_l P_l (no click).
    """
    slots: NDArray[np.int64] = kernels.mnl_choice(
        np.ascontiguousarray(probabilities, dtype=np.float64),
        np.ascontiguousarray(uniforms, dtype=np.float64),
    )
    return slots


def cascade_click_probability(
    u: FloatArray, examination: FloatArray, temperature: float, u0: float
) -> FloatArray:
    """Per-slot click probabilities of the cascade model (Craswell et al., WSDM 2008).

    The user examines slot j with probability e_j/e_1 given she reached it, clicks it with
    c_j = σ((u_j − u_0)/T), and stops at the first click:
    P(click at j) = c_j (e_j/e_1) Π_{l<j} (1 − c_l e_l/e_1).
    """
    c = sigmoid((u - u0) / temperature) * (examination / examination[0])[None, :]
    survive = np.cumprod(1.0 - c, axis=1)
    before = np.hstack([np.ones((u.shape[0], 1)), survive[:, :-1]])
    return c * before


def cascade_choice(
    u: FloatArray, examination: FloatArray, temperature: float, u0: float, uniforms: FloatArray
) -> NDArray[np.int64]:
    """Sample the cascade model: first slot j whose uniform is below its click probability.

    ``uniforms`` has shape (B, k), one per slot (common random numbers per slot).
    """
    c = sigmoid((u - u0) / temperature) * (examination / examination[0])[None, :]
    clicks = uniforms < c
    first = np.argmax(clicks, axis=1)
    return np.where(clicks.any(axis=1), first, -1).astype(np.int64)


def conversion_probability(u: FloatArray, intercept: float, slope: float) -> FloatArray:
    """P(purchase | click) = σ(α + γ u)."""
    return sigmoid(intercept + slope * u)


def exponential_from_uniform(uniforms: FloatArray, mean: FloatArray | float) -> FloatArray:
    """Exponential draws with the given mean by inversion: −mean · log(1 − U)."""
    return -np.asarray(mean) * np.log1p(-uniforms)


def update_satisfaction(
    s: FloatArray, relevance: FloatArray, rate: float, baseline: float
) -> FloatArray:
    """Exponential smoothing of satisfaction: s ← (1 − η) s + η (r − r₀)."""
    return (1.0 - rate) * s + rate * (relevance - baseline)


def churn_probability(
    base_hazard: float,
    beta: float,
    satisfaction: FloatArray,
    dt: float,
    multiplier: FloatArray | float = 1.0,
) -> FloatArray:
    """P(churn within Δt) = 1 − exp(−h Δt), h = h₀ exp(−β s) · multiplier."""
    hazard = base_hazard * np.exp(-beta * satisfaction) * multiplier
    return -np.expm1(-hazard * dt)
