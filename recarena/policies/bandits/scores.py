"""The per-arm scores the kernels rank: confidence indices, posterior draws, linear moments.

Pure functions of the sufficient statistics (and a generator for the draws); the kernels in
:mod:`.kernels` rank what they return, and the propensities in :mod:`.propensities` reuse it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import xlogy

from recarena.stats.bandit_bounds import KL_EPS
from recarena.typing import BoolArray, FloatArray

__all__ = [
    "BLOCK_ELEMENTS",
    "beta_draws",
    "kl_ucb_index",
    "kronecker_item_grams",
    "linear_moments",
    "nig_draws",
    "shared_linear_draws",
    "ucb_index",
    "with_forced",
]

_KL_ITERATIONS = 50  # cap on KL-UCB's Newton steps (quadratic convergence: ~5 suffice)
BLOCK_ELEMENTS = 1 << 21  # elements per Monte Carlo / Gram block, bounds temporary memory


def ucb_index(
    counts: FloatArray, sums: FloatArray, *, exploration: float = 1.0, xi: float = 2.0
) -> FloatArray:
    """UCB index x̄ᵢ + c·√(ξ ln n / nᵢ), n = Σ nᵢ; +∞ for arms with nᵢ = 0.

    ξ = 2, c = 1 is UCB1 (Auer, Cesa-Bianchi & Fischer 2002, "Finite-time analysis of the
    multiarmed bandit problem"). On windowed or discounted counts it is SW-UCB / D-UCB (Garivier
    & Moulines 2011, "On upper-confidence bound policies for switching bandit problems"), there
    with c = B (reward bound) or 2B and ξ ≈ 0.6.
    """
    played = counts > 0
    n = np.where(played, counts, 1.0)
    log_total = math.log(max(float(counts.sum()), 1.0))
    index = sums / n + exploration * np.sqrt(xi * log_total / n)
    return np.where(played, index, np.inf)


def kl_ucb_index(counts: FloatArray, sums: FloatArray, *, c: float = 0.0) -> FloatArray:
    """KL-UCB index max{q ∈ [p̂ᵢ, 1] : nᵢ·kl(p̂ᵢ, q) ≤ ln t + c ln ln t}; +∞ when nᵢ = 0.

    t = Σ nᵢ. Solved for all arms at once by Newton's method on the convex, increasing
    q ↦ kl(p̂, q) - dᵢ, dᵢ = (ln t + c ln ln t)/nᵢ, started from Pinsker's upper bound
    p̂ + √(dᵢ/2) (kl ≥ 2(q - p̂)²), so the iterates decrease monotonically to the root;
    stops when every step is below 1e-12. Garivier & Cappé 2011, "The KL-UCB algorithm for
    bounded stochastic bandits and beyond" (COLT; c = 3 in the theorem, c = 0 in their
    experiments).
    """
    played = counts > 0
    n = np.where(played, counts, 1.0)
    p = np.clip(sums / n, 0.0, 1.0)
    log_t = math.log(max(float(counts.sum()), 1.0))
    budget = (log_t + c * math.log(max(log_t, 1.0))) / n
    entropy = xlogy(p, p) + xlogy(1.0 - p, 1.0 - p)
    low = np.maximum(p, KL_EPS)
    q = np.clip(p + np.sqrt(0.5 * budget), low, 1.0 - KL_EPS)
    for _ in range(_KL_ITERATIONS):  # Newton steps, vectorised over arms
        excess = entropy - p * np.log(q) - (1.0 - p) * np.log1p(-q) - budget
        slope = (q - p) / (q * (1.0 - q))
        step = np.where(slope > 0, excess / np.where(slope > 0, slope, 1.0), 0.0)
        q = np.clip(q - step, low, 1.0 - KL_EPS)
        if float(np.abs(step).max(initial=0.0)) < 1e-12:
            break
    return np.where(played, q, np.inf)


def with_forced(draws: FloatArray, forced: BoolArray | None) -> FloatArray:
    return draws if forced is None or not forced.any() else np.where(forced, np.inf, draws)


def beta_draws(
    alpha: FloatArray, beta: FloatArray, shape: tuple[int, ...], rng: np.random.Generator
) -> FloatArray:
    return rng.beta(alpha, beta, size=shape)


def nig_draws(
    post: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    shape: tuple[int, ...],
    rng: np.random.Generator,
) -> FloatArray:
    """Marginal posterior of the mean under NIG: m + √(b/(a κ))·t_{2a}."""
    mean, kappa, a, b = post
    return mean + np.sqrt(b / (a * kappa)) * rng.standard_t(2.0 * a, size=shape)


def linear_moments(
    features: FloatArray, theta: FloatArray, a_inv: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per user and arm, the ridge estimate θ̂ₐᵀx and its width √(xᵀAₐ⁻¹x), both (B, K).

    The quadratic forms are one batched matrix product x·Aₐ⁻¹ (K, B, D) and a row-wise dot
    with x, in blocks of users that bound the temporary.
    """
    mean = features @ theta.T
    n_rows, n_arms, dim = features.shape[0], a_inv.shape[0], a_inv.shape[-1]
    var = np.empty((n_rows, n_arms))
    step = max(1, BLOCK_ELEMENTS // max(n_arms * dim, 1))
    for start in range(0, n_rows, step):  # blocks of users, not single decisions
        x = features[start : start + step]
        var[start : start + step] = np.einsum("kbf,bf->bk", x @ a_inv, x)
    return mean, np.sqrt(np.maximum(var, 0.0))


def kronecker_item_grams(a_inv: FloatArray, items: FloatArray) -> FloatArray:
    """Per item i, Gᵢ = (I_P ⊗ zᵢ)ᵀ A⁻¹ (I_P ⊗ zᵢ), shape (n_items, P, P).

    For the context x = x̃ ⊗ zᵢ (x̃ of length P, zᵢ of length dz, D = P·dz) the quadratic form
    is xᵀA⁻¹x = x̃ᵀGᵢx̃, so with Gᵢ and the item rows Θ̂zᵢ the shared model is a disjoint one
    over items in user-feature space (:func:`linear_moments` applies). Reading A⁻¹ as a
    (P, dz, P, dz) tensor, Gᵢ[p, q] = Σ_ab zᵢₐ A⁻¹[p a, q b] zᵢ_b: O(n_items·D·(D + P)) per
    refresh, in blocks of items that bound the temporary.
    """
    n_items, dz = items.shape
    p = a_inv.shape[0] // dz
    blocks = a_inv.reshape(p, dz, p, dz)
    grams = np.empty((n_items, p, p))
    step = max(1, BLOCK_ELEMENTS // max(a_inv.shape[0] * p, 1))
    for start in range(0, n_items, step):  # blocks of items, not single items
        z = items[start : start + step]
        right = np.tensordot(z, blocks, axes=([1], [3]))  # (i, p, a, q): Σ_b z_b A⁻¹[pa, qb]
        grams[start : start + step] = np.einsum("ia,ipaq->ipq", z, right)
    return 0.5 * (grams + np.swapaxes(grams, 1, 2))


def shared_linear_draws(
    features: FloatArray,
    theta: FloatArray,
    chol: FloatArray,
    items: FloatArray,
    v: float,
    rng: np.random.Generator,
    n_draws: int,
) -> FloatArray:
    """Scores x̃ᵀΘ̃zᵢ of every item for ``n_draws`` posterior samples θ̃ = θ̂ + v·L·ε per user
    (L Lᵀ = A⁻¹, ε standard normal), shape (n_draws, B, n_items); O(D² + D + dz·n_items) per
    user and draw."""
    n_rows, p = features.shape
    dz = items.shape[1]
    sampled = theta + v * rng.standard_normal((n_draws, n_rows, theta.size)) @ chol.T
    per_user = np.einsum("bp,mbpa->mba", features, sampled.reshape(n_draws, n_rows, p, dz))
    return np.asarray(per_user @ items.T, dtype=np.float64)
