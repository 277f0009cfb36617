"""Bandit kernels: statistics and a generator in, the chosen arms and their scores out.

Each kernel is a pure function — the policy calls it and a benchmark can call it bare
(:data:`KERNELS`). It returns a :class:`Ranked`: the arms (B, k), best first, and the scores it
ranked (an index, posterior draws, noisy logits; (K,) when shared by all users, else (B, K)).
The policy computes the propensity of its first arm from those scores with
:mod:`.propensities`, so no index is computed twice. Linear Thompson sampling also returns
the law of its scores (:class:`GaussianRanked`), which its exact propensity integrates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from recarena.policies.bandits.scores import (
    beta_draws,
    kl_ucb_index,
    linear_moments,
    nig_draws,
    shared_linear_draws,
    ucb_index,
    with_forced,
)
from recarena.policies.bandits.selection import TieBreak, select_top_k
from recarena.typing import BoolArray, FloatArray, IntArray

__all__ = [
    "KERNELS",
    "GaussianRanked",
    "Ranked",
    "epsilon_greedy_kernel",
    "gaussian_thompson_kernel",
    "kl_ucb_kernel",
    "lin_thompson_items_kernel",
    "lin_thompson_kernel",
    "lin_ucb_kernel",
    "softmax_kernel",
    "thompson_kernel",
    "ucb_kernel",
]


@dataclass(frozen=True)
class Ranked:
    """What a kernel returns: the chosen arms and the scores they were ranked by."""

    arms: IntArray  #: (B, k), best first
    scores: FloatArray  #: (K,) shared by all users, or (B, K); +inf marks a forced arm


@dataclass(frozen=True)
class GaussianRanked(Ranked):
    """Arms ranked by independent Gaussian scores Sₐ ~ N(``mean``, ``scale``²), both (B, K)."""

    mean: FloatArray
    scale: FloatArray


def epsilon_greedy_kernel(
    means: FloatArray,
    epsilon: float,
    batch_size: int,
    rng: np.random.Generator,
    *,
    k: int = 1,
    eligible: BoolArray | None = None,
    tie_break: TieBreak = "random",
) -> Ranked:
    """ε-greedy: each user independently explores with probability ε.

    Exploring users get a uniformly random ordered slate of k eligible arms; the others the
    top-k of ``means`` (K,). Scores: ``means``.
    """
    chosen = select_top_k(
        means, k, rng, batch_size=batch_size, eligible=eligible, tie_break=tie_break
    )
    explore = rng.random(batch_size) < epsilon
    n_explore = int(explore.sum())
    if n_explore:
        mask = eligible if eligible is None or eligible.ndim == 1 else eligible[explore]
        noise = rng.random((n_explore, means.shape[-1]))
        chosen[explore] = select_top_k(
            noise, k, None, batch_size=n_explore, eligible=mask, tie_break="first"
        )
    return Ranked(chosen, means)


def ucb_kernel(
    counts: FloatArray,
    sums: FloatArray,
    batch_size: int,
    rng: np.random.Generator,
    *,
    exploration: float = 1.0,
    xi: float = 2.0,
    k: int = 1,
    eligible: BoolArray | None = None,
    tie_break: TieBreak = "random",
) -> Ranked:
    """Top-k of :func:`.ucb_index` (UCB1, SW-UCB, D-UCB on their counts); scores: the index."""
    index = ucb_index(counts, sums, exploration=exploration, xi=xi)
    arms = select_top_k(
        index, k, rng, batch_size=batch_size, eligible=eligible, tie_break=tie_break
    )
    return Ranked(arms, index)


def kl_ucb_kernel(
    counts: FloatArray,
    sums: FloatArray,
    batch_size: int,
    rng: np.random.Generator,
    *,
    c: float = 0.0,
    k: int = 1,
    eligible: BoolArray | None = None,
    tie_break: TieBreak = "random",
) -> Ranked:
    """Top-k of :func:`.kl_ucb_index`; scores: the index."""
    index = kl_ucb_index(counts, sums, c=c)
    arms = select_top_k(
        index, k, rng, batch_size=batch_size, eligible=eligible, tie_break=tie_break
    )
    return Ranked(arms, index)


def thompson_kernel(
    alpha: FloatArray,
    beta: FloatArray,
    batch_size: int,
    rng: np.random.Generator,
    *,
    k: int = 1,
    eligible: BoolArray | None = None,
    tie_break: TieBreak = "random",
    forced: BoolArray | None = None,
) -> Ranked:
    """Beta–Bernoulli Thompson sampling: one draw θᵢ ~ Beta(αᵢ, βᵢ) per user and arm, top-k.

    ``forced`` arms (K,) score +∞ (round-robin initialisation). Scores: the draws (B, K).
    """
    draws = with_forced(beta_draws(alpha, beta, (batch_size, alpha.shape[0]), rng), forced)
    arms = select_top_k(
        draws, k, rng, batch_size=batch_size, eligible=eligible, tie_break=tie_break
    )
    return Ranked(arms, draws)


def gaussian_thompson_kernel(
    mean: FloatArray,
    kappa: FloatArray,
    a: FloatArray,
    b: FloatArray,
    batch_size: int,
    rng: np.random.Generator,
    *,
    k: int = 1,
    eligible: BoolArray | None = None,
    tie_break: TieBreak = "random",
    forced: BoolArray | None = None,
) -> Ranked:
    """Normal–Inverse-Gamma Thompson sampling (unknown mean and variance), top-k.

    Posterior NIG(m, κ, a, b) per arm; the mean's marginal is a Student t with 2a degrees of
    freedom, location m and scale √(b/(aκ)), sampled once per user and arm. Scores: the
    draws (B, K).
    """
    post = (mean, kappa, a, b)
    draws = with_forced(nig_draws(post, (batch_size, mean.shape[0]), rng), forced)
    arms = select_top_k(
        draws, k, rng, batch_size=batch_size, eligible=eligible, tie_break=tie_break
    )
    return Ranked(arms, draws)


def softmax_kernel(
    means: FloatArray,
    temperature: float,
    batch_size: int,
    rng: np.random.Generator,
    *,
    k: int = 1,
    eligible: BoolArray | None = None,
    tie_break: TieBreak = "random",
) -> Ranked:
    """Boltzmann exploration: P(i) ∝ exp(x̄ᵢ/τ); slates by Plackett–Luce without replacement.

    Sampled by the Gumbel-top-k trick: the top-k of x̄ᵢ/τ + Gᵢ, Gᵢ iid standard Gumbel, is a
    Plackett–Luce draw (Yellott 1977; Kool et al. 2019). +∞ means (forced arms) come first, in
    ``tie_break`` order. Scores: the perturbed logits (B, K).
    """
    logits = np.asarray(means, dtype=np.float64) / temperature
    noisy = logits + rng.gumbel(size=(batch_size, logits.shape[0]))
    arms = select_top_k(
        noisy, k, rng, batch_size=batch_size, eligible=eligible, tie_break=tie_break
    )
    return Ranked(arms, noisy)


def lin_ucb_kernel(
    features: FloatArray,
    theta: FloatArray,
    a_inv: FloatArray,
    alpha: float,
    rng: np.random.Generator,
    *,
    k: int = 1,
    eligible: BoolArray | None = None,
    tie_break: TieBreak = "random",
) -> Ranked:
    """LinUCB with disjoint arms: top-k of the scores θ̂ₐᵀx + α √(xᵀAₐ⁻¹x), (B, K)."""
    mean, width = linear_moments(features, theta, a_inv)
    scores = mean + alpha * width
    arms = select_top_k(
        scores, k, rng, batch_size=len(features), eligible=eligible, tie_break=tie_break
    )
    return Ranked(arms, scores)


def lin_thompson_kernel(
    features: FloatArray,
    theta: FloatArray,
    a_inv: FloatArray,
    v: float,
    rng: np.random.Generator,
    *,
    k: int = 1,
    eligible: BoolArray | None = None,
    tie_break: TieBreak = "random",
) -> GaussianRanked:
    """Linear Thompson sampling: per user and arm θ̃ₐ ~ N(θ̂ₐ, v²Aₐ⁻¹), argmaxₐ θ̃ₐᵀx.

    Only the score θ̃ₐᵀx matters to user x, and it is N(θ̂ₐᵀx, v²·xᵀAₐ⁻¹x), independent across
    arms; it is sampled directly in that form (O(B·K·F²), as a Cholesky draw θ̂ + vLz would be,
    but without the (B, K, F) parameter tensor). The decision has exactly the law of sampling
    θ̃ per user. Returns the draws with their means θ̂ₐᵀx and scales v·√(xᵀAₐ⁻¹x).
    """
    mean, width = linear_moments(features, theta, a_inv)
    scale = v * width
    draws = mean + scale * rng.standard_normal(mean.shape)
    arms = select_top_k(
        draws, k, rng, batch_size=len(features), eligible=eligible, tie_break=tie_break
    )
    return GaussianRanked(arms, draws, mean, scale)


def lin_thompson_items_kernel(
    features: FloatArray,
    theta: FloatArray,
    chol: FloatArray,
    items: FloatArray,
    v: float,
    rng: np.random.Generator,
    *,
    k: int = 1,
    eligible: BoolArray | None = None,
    tie_break: TieBreak = "random",
) -> Ranked:
    """Shared-parameter linear Thompson sampling over items: per user one θ̃ ~ N(θ̂, v²A⁻¹),
    drawn as θ̂ + v·L·ε with L the Cholesky factor of A⁻¹ (D,D); top-k of x̃ᵀΘ̃zᵢ over items.

    ``features`` x̃ (B, P), ``theta`` θ̂ (D,) = vec Θ̂ with Θ̂ (P, dz), ``items`` z (n_items, dz).
    The items' scores share θ̃, so they are correlated (unlike the disjoint
    :func:`lin_thompson_kernel`). Scores: the draws (B, n_items).
    """
    draws = shared_linear_draws(features, theta, chol, items, v, rng, 1)[0]
    arms = select_top_k(
        draws, k, rng, batch_size=len(features), eligible=eligible, tie_break=tie_break
    )
    return Ranked(arms, draws)


#: The pure decision kernel behind each registered kind (statistics + generator -> ranked arms).
KERNELS: dict[str, Callable[..., Ranked]] = {
    "epsilon_greedy": epsilon_greedy_kernel,
    "ucb1": ucb_kernel,
    "sw_ucb": ucb_kernel,
    "discounted_ucb": ucb_kernel,
    "kl_ucb": kl_ucb_kernel,
    "thompson": thompson_kernel,  # gaussian_thompson_kernel with model="gaussian"
    "discounted_thompson": thompson_kernel,
    "softmax": softmax_kernel,
    "lin_ucb": lin_ucb_kernel,
    "lin_thompson": lin_thompson_kernel,
    # the shared model reduced to items: features x̃, rows Θ̂zᵢ, kronecker_item_grams(A⁻¹, z)
    "lin_ucb_items": lin_ucb_kernel,
    "lin_thompson_items": lin_thompson_items_kernel,
}
