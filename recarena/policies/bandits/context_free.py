"""Context-free bandits: ε-greedy, softmax, the UCB family, KL-UCB and Thompson sampling.

Each keeps a memory of per-arm statistics (:mod:`.memory`) per surface, calls its kernel
(:mod:`.kernels`) on them and computes the propensity of the first arm from the kernel's
scores or its exact law (:mod:`.propensities`).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from functools import partial

import numpy as np

from recarena.contract import DecisionRequest, Feedback, Surface
from recarena.policies.bandits.arms import ArmSpace, Credits, feedback_credits
from recarena.policies.bandits.base import Bandit
from recarena.policies.bandits.kernels import (
    Ranked,
    epsilon_greedy_kernel,
    gaussian_thompson_kernel,
    kl_ucb_kernel,
    softmax_kernel,
    thompson_kernel,
    ucb_kernel,
)
from recarena.policies.bandits.memory import (
    ArmStats,
    DiscountedMemory,
    Memory,
    SlidingWindowMemory,
)
from recarena.policies.bandits.params import (
    ContextFreeParams,
    DiscountedThompsonParams,
    DiscountedUCBParams,
    EpsilonGreedyParams,
    KLUCBParams,
    SlidingWindowUCBParams,
    SoftmaxParams,
    ThompsonFamilyParams,
    ThompsonParams,
    UCB1Params,
    UCBFamilyParams,
)
from recarena.policies.bandits.propensities import (
    epsilon_greedy_propensity,
    softmax_propensity,
)
from recarena.policies.bandits.scores import beta_draws, nig_draws
from recarena.policies.bandits.slate_propensities import (
    Propensities,
    epsilon_greedy_slot_propensities,
    monte_carlo_slot_propensities,
    plackett_luce_slate_probability,
    tie_decision_propensities,
)
from recarena.policies.registry import register
from recarena.typing import BoolArray, FloatArray, IntArray

__all__ = [
    "KLUCB",
    "UCB1",
    "DiscountedThompson",
    "DiscountedUCB",
    "EpsilonGreedy",
    "SlidingWindowUCB",
    "Softmax",
    "Thompson",
]


class _ContextFree(Bandit[Memory]):
    """Context-free bandits: a memory of (n, s, q) per arm and surface."""

    params: ContextFreeParams

    def _setup(self) -> None:
        if self.params.reward == "conversion" and Surface.VARIANT in self.spec_.surfaces:
            raise ValueError(
                "reward='conversion' cannot be learnt on the variant surface: conversion "
                "feedback carries the purchased item, not the variant shown"
            )
        super()._setup()

    def _new_state(self, n_arms: int) -> Memory:
        return Memory(n_arms)

    def _credits(self, fb: Feedback, n_arms: int) -> Credits | None:
        p = self.params
        return feedback_credits(
            fb, n_arms, include_no_offer=p.include_no_offer, reward=p.reward, credit=p.credit
        )

    def _absorb(self, state: Memory, credits: Credits, fb: Feedback) -> None:
        state.add(fb.t, credits.delta(state.total.shape[1]))

    def _decide(
        self, state: Memory, space: ArmSpace, request: DecisionRequest
    ) -> tuple[IntArray, Propensities]:
        return self._select(self._stats(state, request.t), space)

    @abstractmethod
    def _select(self, stats: ArmStats, space: ArmSpace) -> tuple[IntArray, Propensities]:
        """Arms and propensities (per slot on slates) from the per-arm statistics."""

    @staticmethod
    def _stats(state: Memory, t: float) -> ArmStats:
        n, s, q = state.totals(t)
        return ArmStats(n, s, q)

    def statistics(self, surface: Surface, t: float) -> ArmStats:
        """A copy of the statistics the policy would decide with at time ``t`` on ``surface``."""
        self._check_set_up()
        n, s, q = self.state_[surface].totals(t).copy()
        return ArmStats(n, s, q)

    # ------------------------------------------------------------------ shared estimates
    def _pseudo(self, stats: ArmStats) -> tuple[FloatArray, FloatArray]:
        """(n, s) with the prior pseudo-observations when ``init="prior"``."""
        p = self.params
        if p.init == "prior":
            return stats.n + p.prior_count, stats.s + p.prior_count * p.prior_mean
        return stats.n, stats.s

    def _unplayed(self, stats: ArmStats) -> BoolArray | None:
        return stats.n <= 0 if self.params.init == "round_robin" else None

    def _means(self, stats: ArmStats) -> FloatArray:
        """Point estimates x̄ᵢ = sᵢ/nᵢ (prior-adjusted per ``init``); +∞ with no data."""
        n, s = self._pseudo(stats)
        return np.where(n > 0, s / np.where(n > 0, n, 1.0), np.inf)


class _IndexPolicy(_ContextFree):
    """Deterministic index policies: top-k of an index; propensities from random tie-breaks
    (per slot and per slate on slates: :func:`tie_slot_propensities`)."""

    def _select(self, stats: ArmStats, space: ArmSpace) -> tuple[IntArray, Propensities]:
        n, s = self._pseudo(stats)
        ranked = self._kernel(n, s, space)
        return ranked.arms, tie_decision_propensities(
            ranked.scores, ranked.arms, space.eligible, self.params.tie_break
        )

    @abstractmethod
    def _kernel(self, n: FloatArray, s: FloatArray, space: ArmSpace) -> Ranked:
        """The index kernel on trial counts ``n`` and reward sums ``s``."""


@register
class EpsilonGreedy(_ContextFree):
    """ε-greedy (Sutton & Barto 1998; decaying schedule from Auer et al. 2002).

    With probability ε a user gets a uniformly random (ordered slate of) eligible arm(s), else
    the greedy top-k of x̄ᵢ = sᵢ/nᵢ. ``schedule="decaying"`` uses ε_t = min(1, c·K/t) with t the
    number of trials so far ("ε_n-greedy"; logarithmic regret when c is large enough relative
    to the smallest gap). Propensities are exact (:func:`epsilon_greedy_propensity`; on slates
    per slot and per slate, :func:`epsilon_greedy_slot_propensities`).
    """

    summary = "ε-greedy bandit, fixed or decaying ε (Auer et al. 2002)"
    Params = EpsilonGreedyParams
    params: EpsilonGreedyParams

    def _epsilon(self, stats: ArmStats) -> float:
        p = self.params
        if p.schedule == "fixed":
            return p.epsilon
        return min(1.0, p.c * stats.n.size / max(float(stats.n.sum()), 1.0))

    def _select(self, stats: ArmStats, space: ArmSpace) -> tuple[IntArray, Propensities]:
        means, eps, tie = self._means(stats), self._epsilon(stats), self.params.tie_break
        chosen = epsilon_greedy_kernel(
            means, eps, space.batch_size, self.rng_, **self._selection(space)
        ).arms
        if space.k > 1:
            slots = epsilon_greedy_slot_propensities(
                means, eps, chosen, eligible=space.eligible, tie_break=tie
            )
            return chosen, slots
        p = epsilon_greedy_propensity(
            means, eps, chosen[:, 0], eligible=space.eligible, tie_break=tie
        )
        return chosen, Propensities.first_only(p)


@register
class Softmax(_ContextFree):
    """Boltzmann (softmax) exploration: P(i) ∝ exp(x̄ᵢ/τ_t).

    τ_t = τ, or τ / ln(e + t) with ``anneal="log"`` (t = trials so far); slates are
    Plackett–Luce draws without replacement. Sutton & Barto 1998, §2.3; Cesa-Bianchi et al.
    2017, "Boltzmann exploration done right". The first arm's propensity is exact
    (:func:`softmax_propensity`); on slates so is the whole slate's
    (:func:`plackett_luce_slate_probability`), and the later slots' (which have no closed form)
    are Monte Carlo estimates from ``propensity_samples`` shared Gumbel draws on the auxiliary
    stream (:func:`monte_carlo_slot_propensities`, standard error ≤ ½/√M).
    """

    summary = "Boltzmann exploration with temperature, optionally annealed"
    Params = SoftmaxParams
    params: SoftmaxParams

    def _select(self, stats: ArmStats, space: ArmSpace) -> tuple[IntArray, Propensities]:
        p = self.params
        tau = p.temperature
        if p.anneal == "log":
            tau /= math.log(math.e + float(stats.n.sum()))
        means = self._means(stats)
        selection = self._selection(space)
        chosen = softmax_kernel(means, tau, space.batch_size, self.rng_, **selection).arms
        prop = softmax_propensity(
            means, tau, chosen[:, 0], eligible=space.eligible, tie_break=p.tie_break
        )
        if space.k == 1:
            return chosen, Propensities.first_only(prop)
        logits = np.asarray(means, dtype=np.float64) / tau
        slots = monte_carlo_slot_propensities(
            lambda m: logits + self.aux_rng_.gumbel(size=(m, 1, logits.size)),
            chosen, p.propensity_samples, space.n_arms, eligible=space.eligible,
            forced=np.isposinf(logits), tie_break=p.tie_break,
        )  # fmt: skip
        slots[:, 0] = prop
        slate = plackett_luce_slate_probability(
            means, tau, chosen, eligible=space.eligible, tie_break=p.tie_break
        )
        return chosen, Propensities(slots, slate)


class _UCBFamily(_IndexPolicy):
    params: UCBFamilyParams

    def _kernel(self, n: FloatArray, s: FloatArray, space: ArmSpace) -> Ranked:
        p = self.params
        return ucb_kernel(
            n, s, space.batch_size, self.rng_, exploration=p.exploration, xi=p.xi,
            **self._selection(space),
        )  # fmt: skip


@register
class UCB1(_UCBFamily):
    """UCB1: index x̄ᵢ + c·√(2 ln n / nᵢ), n = total trials (c = 1, ξ = 2).

    Auer, Cesa-Bianchi & Fischer 2002, "Finite-time analysis of the multiarmed bandit problem"
    (Thm 1: E[R_n] ≤ Σ_{Δᵢ>0} 8 ln n / Δᵢ + (1 + π²/3) Σ Δᵢ for rewards in [0, 1]). Deterministic
    given the statistics: propensity 1, or the random tie-break's probability.
    """

    summary = "UCB1 upper-confidence-bound bandit (Auer et al. 2002)"
    Params = UCB1Params
    params: UCB1Params


@register
class SlidingWindowUCB(_UCBFamily):
    """Sliding-window UCB: the UCB index on the statistics of the last ``window`` days.

    x̄ᵢ(τ) + c·√(ξ ln n(τ) / nᵢ(τ)) with counts over the window (a ring of per-bucket
    aggregates, see :class:`SlidingWindowMemory`); an arm with no trial in the window scores
    +∞ under round robin. Garivier & Moulines 2011, "On upper-confidence bound policies for
    switching bandit problems" (ALT).
    """

    summary = "sliding-window UCB for switching bandits (Garivier & Moulines 2011)"
    Params = SlidingWindowUCBParams
    params: SlidingWindowUCBParams

    def _new_state(self, n_arms: int) -> Memory:
        return SlidingWindowMemory(n_arms, self.params.window, self.params.bucket_days)


@register
class DiscountedUCB(_UCBFamily):
    """Discounted UCB: the UCB index on statistics discounted by γ per day.

    nᵢ(γ) = Σ γ^(t - tₛ) 1{aₛ = i}, likewise sᵢ(γ); index x̄ᵢ(γ) + c·√(ξ ln n(γ) / nᵢ(γ)).
    Garivier & Moulines 2011 (ALT), discounting per unit of time instead of per play.
    """

    summary = "discounted UCB for switching bandits (Garivier & Moulines 2011)"
    Params = DiscountedUCBParams
    params: DiscountedUCBParams

    def _new_state(self, n_arms: int) -> Memory:
        return DiscountedMemory(n_arms, self.params.gamma)


@register
class KLUCB(_IndexPolicy):
    """KL-UCB: index max{q ≥ p̂ᵢ : nᵢ·kl(p̂ᵢ, q) ≤ ln t + c ln ln t} (Bernoulli KL).

    Garivier & Cappé 2011, "The KL-UCB algorithm for bounded stochastic bandits and beyond"
    (COLT); asymptotically optimal for Bernoulli rewards (regret ~ Lai–Robbins constant · ln t).
    The index is found by vectorised Newton steps (:func:`kl_ucb_index`).
    """

    summary = "KL-UCB for Bernoulli rewards (Garivier & Cappé 2011)"
    Params = KLUCBParams
    params: KLUCBParams

    def _kernel(self, n: FloatArray, s: FloatArray, space: ArmSpace) -> Ranked:
        c = self.params.c
        return kl_ucb_kernel(n, s, space.batch_size, self.rng_, c=c, **self._selection(space))


class _ThompsonFamily(_ContextFree):
    """Shared Thompson-sampling decision; subclasses choose the memory.

    Thompson sampling with a Beta–Bernoulli or Normal–Inverse-Gamma posterior per arm.

    Bernoulli: θᵢ ~ Beta(n0·m0 + sᵢ, n0·(1-m0) + nᵢ - sᵢ). Gaussian (unknown mean and variance,
    NIG(m0, κ0 = n0, a0, b0) prior): κ = κ0 + n, m = (κ0 m0 + s)/κ, a = a0 + n/2,
    b = b0 + ½(q + κ0 m0² - κ m²); the mean is drawn from its Student-t marginal. Thompson 1933;
    Agrawal & Goyal 2012; Chapelle & Li 2011; Russo et al. 2018, "A tutorial on Thompson
    sampling". One draw per user and arm; propensity of the first arm (of every slot on
    slates; the whole slate's is not computable and logged NaN) by Monte Carlo from
    ``propensity_samples`` posterior draws (:func:`monte_carlo_slot_propensities`).
    """

    params: ThompsonFamilyParams

    def _select(self, stats: ArmStats, space: ArmSpace) -> tuple[IntArray, Propensities]:
        p = self.params
        unplayed = self._unplayed(stats)
        n0, m0, n_arms, selection = (
            p.prior_count,
            p.prior_mean,
            stats.n.size,
            self._selection(space),
        )
        if p.model == "bernoulli":
            alpha = n0 * m0 + stats.s
            beta = np.maximum(n0 * (1.0 - m0) + stats.n - stats.s, 1e-12)
            sample = partial(beta_draws, alpha, beta)
            chosen = thompson_kernel(
                alpha, beta, space.batch_size, self.rng_, forced=unplayed, **selection
            ).arms
        else:
            kappa = n0 + stats.n
            mean = (n0 * m0 + stats.s) / kappa
            a = p.prior_shape + 0.5 * stats.n
            b = p.prior_scale + 0.5 * np.maximum(stats.q + n0 * m0**2 - kappa * mean**2, 0.0)
            sample = partial(nig_draws, (mean, kappa, a, b))
            chosen = gaussian_thompson_kernel(
                mean, kappa, a, b, space.batch_size, self.rng_, forced=unplayed, **selection
            ).arms
        return chosen, self._sampled_propensities(
            lambda m: sample((m, 1, n_arms), self.aux_rng_),
            chosen,
            space,
            p.propensity_samples,
            shared=True,
            forced=unplayed,
        )


@register
class Thompson(_ThompsonFamily):
    """Thompson sampling on cumulative statistics.

    Beta–Bernoulli (``model="bernoulli"``) or Normal–Inverse-Gamma posterior with unknown
    variance (``model="gaussian"``), see :class:`_ThompsonFamily` for the update formulas.
    Thompson 1933; Agrawal & Goyal 2012, "Analysis of Thompson sampling for the multi-armed
    bandit problem" (COLT) — asymptotically optimal for Bernoulli rewards (Kaufmann et al. 2012).
    """

    summary = "Thompson sampling, Beta-Bernoulli or Normal-Inverse-Gamma rewards"
    Params = ThompsonParams
    params: ThompsonParams


@register
class DiscountedThompson(_ThompsonFamily):
    """Discounted Thompson sampling: posteriors on statistics discounted by γ per day.

    The pseudo-counts decay toward the prior: αᵢ = n0·m0 + sᵢ(γ), βᵢ = n0·(1-m0) + nᵢ(γ) - sᵢ(γ)
    with sᵢ(γ) = Σ γ^(t - tₛ) rₛ. Raj & Kalyani 2017, "Taming non-stationary bandits: a Bayesian
    approach"; the NIG model is discounted the same way.
    """

    summary = "Thompson sampling with discounted pseudo-counts for drifting rewards"
    Params = DiscountedThompsonParams
    params: DiscountedThompsonParams

    def _new_state(self, n_arms: int) -> Memory:
        return DiscountedMemory(n_arms, self.params.gamma)
