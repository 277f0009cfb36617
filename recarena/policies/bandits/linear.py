"""Disjoint linear bandits on the variant and campaign surfaces: LinUCB and linear Thompson.

One ridge regression per arm on the user features (plus a constant): Aₐ = λI + Σ x xᵀ,
bₐ = Σ r x, θ̂ₐ = Aₐ⁻¹bₐ; each feedback batch adds its Gram matrices and re-solves the
touched arms with one batched inverse.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from recarena.contract import DecisionRequest, Feedback, Surface
from recarena.policies.bandits.arms import ArmSpace, Credits
from recarena.policies.bandits.base import Bandit
from recarena.policies.bandits.kernels import lin_thompson_kernel, lin_ucb_kernel
from recarena.policies.bandits.params import LinearParams, LinThompsonParams, LinUCBParams
from recarena.policies.bandits.propensities import lin_thompson_propensity
from recarena.policies.bandits.selection import TieBreak
from recarena.policies.bandits.slate_propensities import (
    Propensities,
    tie_decision_propensities,
)
from recarena.policies.registry import register
from recarena.typing import FloatArray, IntArray

__all__ = [
    "LinThompson",
    "LinUCB",
    "LinearState",
    "design_matrix",
    "gram_by_arm",
    "lin_ucb_decision",
]


@dataclass
class LinearState:
    """Per-arm ridge regression: Aₐ = λI + Σ x xᵀ, bₐ = Σ r x, Aₐ⁻¹ and θ̂ₐ = Aₐ⁻¹bₐ."""

    a: FloatArray  # (K, D, D)
    b: FloatArray  # (K, D)
    a_inv: FloatArray  # (K, D, D)
    theta: FloatArray  # (K, D)


def gram_by_arm(
    arms: IntArray, x: FloatArray, rewards: FloatArray, n_arms: int
) -> tuple[IntArray, FloatArray, FloatArray]:
    """The arms with records, and their Σ x xᵀ (A, D, D) and Σ r x (A, D).

    Records are grouped by arm with one stable sort, then each arm's block is one BLAS product
    (a loop over arms, never over records): O(N·D² + N log N), whatever the number of arms.
    """
    order = np.argsort(arms, kind="stable")
    xs, rs = x[order], rewards[order]
    counts = np.bincount(arms, minlength=n_arms)
    ends = np.cumsum(counts)
    touched = np.flatnonzero(counts)
    da = np.empty((touched.size, x.shape[1], x.shape[1]))
    db = np.empty((touched.size, x.shape[1]))
    for i, arm in enumerate(touched.tolist()):
        block = slice(int(ends[arm] - counts[arm]), int(ends[arm]))
        xk = xs[block]
        np.matmul(xk.T, xk, out=da[i])
        np.matmul(rs[block], xk, out=db[i])
    return touched, da, db


def design_matrix(features: NDArray[np.floating], fit_intercept: bool) -> FloatArray:
    """The design matrix: features as float64, plus a constant column with an intercept."""
    features = np.asarray(features)
    if not fit_intercept:
        return np.asarray(features, dtype=np.float64)
    n_rows, n_features = features.shape
    x = np.empty((n_rows, n_features + 1))
    x[:, :n_features] = features
    x[:, n_features] = 1.0
    return x


def lin_ucb_decision(
    x: FloatArray,
    theta: FloatArray,
    a_inv: FloatArray,
    alpha: float,
    space: ArmSpace,
    rng: np.random.Generator,
    tie_break: TieBreak,
) -> tuple[IntArray, Propensities]:
    """LinUCB's arms (:func:`.lin_ucb_kernel`) and the tie propensities of its scores (per
    slot and per slate on slates)."""
    ranked = lin_ucb_kernel(
        x, theta, a_inv, alpha, rng, k=space.k, eligible=space.eligible, tie_break=tie_break
    )
    return ranked.arms, tie_decision_propensities(
        ranked.scores, ranked.arms, space.eligible, tie_break
    )


class _Linear(Bandit[LinearState]):
    """Disjoint linear bandits on the variant and campaign surfaces."""

    surfaces: ClassVar[frozenset[Surface]] = frozenset({Surface.VARIANT, Surface.CAMPAIGN})
    contextual: ClassVar[bool] = True
    params: LinearParams

    def _design(self, features: NDArray[np.floating]) -> FloatArray:
        return design_matrix(features, self.params.fit_intercept)

    def _new_state(self, n_arms: int) -> LinearState:
        d = self.spec_.n_features + int(self.params.fit_intercept)
        a = np.broadcast_to(self.params.ridge * np.eye(d), (n_arms, d, d)).copy()
        a_inv = np.broadcast_to(np.eye(d) / self.params.ridge, (n_arms, d, d)).copy()
        return LinearState(a, np.zeros((n_arms, d)), a_inv, np.zeros((n_arms, d)))

    def _absorb(self, state: LinearState, credits: Credits, fb: Feedback) -> None:
        """Add the batch's Gram matrices and re-solve the touched arms (batched inverse)."""
        x = self._design(credits.features(fb))
        arms, da, db = gram_by_arm(credits.arms, x, credits.rewards, state.b.shape[0])
        state.a[arms] += da
        state.b[arms] += db
        a_inv = np.linalg.inv(state.a[arms])
        state.a_inv[arms] = 0.5 * (a_inv + np.swapaxes(a_inv, 1, 2))
        state.theta[arms] = np.einsum("kfg,kg->kf", state.a_inv[arms], state.b[arms])

    def _decide(
        self, state: LinearState, space: ArmSpace, request: DecisionRequest
    ) -> tuple[IntArray, Propensities]:
        return self._select(state, self._design(request.features), space)

    @abstractmethod
    def _select(
        self, state: LinearState, x: FloatArray, space: ArmSpace
    ) -> tuple[IntArray, Propensities]:
        """Arms and propensities from the ridge state and the design matrix ``x``."""


@register
class LinUCB(_Linear):
    """LinUCB with disjoint arms: argmaxₐ θ̂ₐᵀx + α √(xᵀAₐ⁻¹x).

    Aₐ = λI + Σ_{s: aₛ=a} xₛxₛᵀ, bₐ = Σ rₛxₛ, θ̂ₐ = Aₐ⁻¹bₐ; each feedback batch adds its Gram
    matrices and re-solves the touched arms with one batched inverse. Li, Chu, Langford &
    Schapire 2010, "A contextual-bandit approach to personalized news article recommendation"
    (WWW), Algorithm 1. Deterministic: propensity 1, or the random tie-break's probability
    (all arms tie before any feedback).
    """

    summary = "LinUCB contextual bandit, disjoint arms (Li et al. 2010)"
    Params = LinUCBParams
    params: LinUCBParams

    def _select(
        self, state: LinearState, x: FloatArray, space: ArmSpace
    ) -> tuple[IntArray, Propensities]:
        p = self.params
        return lin_ucb_decision(x, state.theta, state.a_inv, p.alpha, space, self.rng_, p.tie_break)


@register
class LinThompson(_Linear):
    """Linear Thompson sampling: θ̃ₐ ~ N(θ̂ₐ, v²Aₐ⁻¹) per user, argmaxₐ θ̃ₐᵀx.

    Same ridge statistics as :class:`LinUCB`. Agrawal & Goyal 2013, "Thompson sampling for
    contextual bandits with linear payoffs" (ICML). Sampled in score space, which gives the
    decision the same law (see :func:`lin_thompson_kernel`). The propensity integrates the other
    arms out exactly and the chosen arm's score with ``propensity_samples`` quadrature points
    (:func:`lin_thompson_propensity`): deterministic, far more accurate than as many Monte
    Carlo draws, and no draws from the auxiliary stream.
    """

    summary = "linear Thompson sampling contextual bandit (Agrawal & Goyal 2013)"
    Params = LinThompsonParams
    params: LinThompsonParams

    def _select(
        self, state: LinearState, x: FloatArray, space: ArmSpace
    ) -> tuple[IntArray, Propensities]:
        p = self.params
        ranked = lin_thompson_kernel(
            x, state.theta, state.a_inv, p.v, self.rng_, **self._selection(space)
        )
        prop = lin_thompson_propensity(
            ranked.mean, ranked.scale, ranked.arms[:, 0], p.propensity_samples,
            eligible=space.eligible, tie_break=p.tie_break,
        )  # fmt: skip
        return ranked.arms, Propensities.first_only(prop)
