"""Shared-parameter linear bandits over items on the slate surface.

One θ for all items on the contexts x = x̃ᵤ ⊗ zᵢ — user features (with a constant) times the
public item vector zᵢ (:func:`item_feature_matrix`: one-hot category and standardised log
price, and/or a truncated-SVD embedding of the TF-IDF description) — so D = (F + 1)·dz
parameters in all, and new items are scored from their attributes alone.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from functools import partial
from typing import ClassVar, Literal

import numpy as np

from recarena.contract import DecisionRequest, EnvironmentSpec, Feedback, Surface
from recarena.policies.bandits.arms import ArmSpace, Credits, feedback_credits
from recarena.policies.bandits.base import Bandit
from recarena.policies.bandits.kernels import lin_thompson_items_kernel
from recarena.policies.bandits.linear import design_matrix, lin_ucb_decision
from recarena.policies.bandits.params import (
    ItemLinearParams,
    LinThompsonItemsParams,
    LinUCBItemsParams,
)
from recarena.policies.bandits.scores import (
    BLOCK_ELEMENTS,
    kronecker_item_grams,
    shared_linear_draws,
)
from recarena.policies.bandits.slate_propensities import Propensities
from recarena.policies.registry import register
from recarena.typing import FloatArray, IntArray

__all__ = ["LinThompsonItems", "LinUCBItems", "item_feature_matrix"]


def _standardised(columns: FloatArray) -> FloatArray:
    """Columns centred and scaled to unit standard deviation (constant columns become 0)."""
    sd = columns.std(axis=0)
    return (columns - columns.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def _text_embedding(spec: EnvironmentSpec, n_components: int) -> FloatArray:
    """TF-IDF vectors of the descriptions reduced to ``n_components`` by truncated SVD (the
    vectors themselves when the vocabulary is no larger), standardised per component."""
    from sklearn.decomposition import TruncatedSVD

    from recarena.policies.recommenders.content import tfidf_vectors

    try:
        tfidf = np.asarray(tfidf_vectors(spec, max_features=2000), dtype=np.float64)
    except ValueError as error:  # no word in any description
        raise ValueError(f"item_features needs item descriptions with words: {error}") from error
    rank = min(n_components, tfidf.shape[0] - 1, tfidf.shape[1] - 1)
    if tfidf.shape[1] <= n_components or rank < 1:
        return _standardised(tfidf)
    svd = TruncatedSVD(n_components=rank, random_state=0)
    return _standardised(np.asarray(svd.fit_transform(tfidf), dtype=np.float64))


def item_feature_matrix(
    spec: EnvironmentSpec,
    item_features: Literal["category_price", "text", "both"] = "category_price",
    text_components: int = 8,
) -> FloatArray:
    """The observable item vectors zᵢ, shape (n_items, dz), built from the public catalogue.

    ``"category_price"``: one-hot category (n_categories columns) and the standardised log
    price; ``"text"``: a TF-IDF embedding of ``item_text`` reduced to ``text_components``
    dimensions by truncated SVD (scikit-learn ``TruncatedSVD``, fixed seed), standardised, plus
    a constant column (the one-hot block spans the constant otherwise); ``"both"``: the two
    blocks side by side.
    """
    n_items = spec.n_items
    blocks: list[FloatArray] = []
    if item_features in ("category_price", "both"):
        onehot = np.zeros((n_items, max(spec.n_categories, 1)))
        onehot[np.arange(n_items), np.asarray(spec.item_category, dtype=np.int64)] = 1.0
        log_price = np.log(np.maximum(np.asarray(spec.item_price, dtype=np.float64), 1e-12))
        blocks += [onehot, _standardised(log_price[:, None])]
    if item_features in ("text", "both"):
        blocks.append(_text_embedding(spec, text_components))
    if item_features == "text":
        blocks.append(np.ones((n_items, 1)))
    return np.hstack(blocks)


@dataclass
class _SharedLinearState:
    """One ridge regression over x = x̃ ⊗ zᵢ: A = λI + Σ x xᵀ (D, D), b = Σ r x (D,).

    ``solved`` caches what decisions need (θ̂, A⁻¹, item rows, the policy's own matrices); it
    is dropped when feedback changes A and rebuilt by the next decision, so the inverse is paid
    once per refresh, not once per feedback batch or per request."""

    items: FloatArray  # (n_items, dz)
    a: FloatArray
    b: FloatArray
    solved: _SharedSolution | None = None


@dataclass(frozen=True)
class _SharedSolution:
    theta: FloatArray  # (D,) = vec Θ̂, Θ̂ (P, dz)
    item_theta: FloatArray  # (n_items, P): row i is Θ̂zᵢ
    a_inv: FloatArray  # (D, D)
    decision: FloatArray  # per policy: item Gram matrices (UCB) or chol(A⁻¹) (Thompson)


class _SharedLinear(Bandit[_SharedLinearState]):
    """Shared-parameter linear bandits on the slate surface: one θ for all items.

    The context of user u and item i is the flattened outer product x = x̃ᵤ ⊗ zᵢ, x̃ᵤ the user
    features plus a constant (``fit_intercept``, so x also holds zᵢ alone: item effects every
    user shares), zᵢ the public item vector (:func:`item_feature_matrix`); D = P·dz with
    P = F + 1. The score θᵀx = x̃ᵤᵀΘzᵢ (Θ = θ as a (P, dz) matrix) is one (B, P)·(P, n) product.
    Ridge statistics A = λI + Σ x xᵀ, b = Σ r x over the credited (user, item) pairs, with
    cascade or all-shown credit as the context-free slate bandits.
    """

    surfaces: ClassVar[frozenset[Surface]] = frozenset({Surface.SLATE})
    contextual: ClassVar[bool] = True
    params: ItemLinearParams

    @classmethod
    def contract_configs(cls) -> list[dict[str, object]]:
        return [{"kind": cls.kind}, {"kind": cls.kind, "item_features": "both"}]

    def _setup(self) -> None:
        p = self.params
        self.item_features_ = item_feature_matrix(self.spec_, p.item_features, p.text_components)
        super()._setup()

    def _new_state(self, n_arms: int) -> _SharedLinearState:
        d = (self.spec_.n_features + int(self.params.fit_intercept)) * self.item_features_.shape[1]
        return _SharedLinearState(self.item_features_, self.params.ridge * np.eye(d), np.zeros(d))

    def _credits(self, fb: Feedback, n_arms: int) -> Credits | None:
        p = self.params
        return feedback_credits(fb, n_arms, include_no_offer=p.include_no_offer, credit=p.credit)

    def _absorb(self, state: _SharedLinearState, credits: Credits, fb: Feedback) -> None:
        """Add Σ x xᵀ and Σ r x of the credited (user, item) pairs, in blocks of records."""
        users = design_matrix(credits.features(fb), self.params.fit_intercept)
        d = state.b.size
        step = max(1, BLOCK_ELEMENTS // d)
        for start in range(0, credits.arms.size, step):  # blocks of records, not records
            block = slice(start, start + step)
            z = state.items[credits.arms[block]]
            x = (users[block, :, None] * z[:, None, :]).reshape(-1, d)
            state.a += x.T @ x
            state.b += credits.rewards[block] @ x
        state.solved = None

    def _solution(self, state: _SharedLinearState) -> _SharedSolution:
        if state.solved is None:
            a_inv = np.linalg.inv(state.a)
            a_inv = 0.5 * (a_inv + a_inv.T)
            theta = a_inv @ state.b
            item_theta = state.items @ theta.reshape(-1, state.items.shape[1]).T
            state.solved = _SharedSolution(theta, item_theta, a_inv, self._prepare(a_inv, state))
        return state.solved

    def _decide(
        self, state: _SharedLinearState, space: ArmSpace, request: DecisionRequest
    ) -> tuple[IntArray, Propensities]:
        x = design_matrix(request.features, self.params.fit_intercept)
        return self._select(self._solution(state), state.items, x, space)

    @abstractmethod
    def _prepare(self, a_inv: FloatArray, state: _SharedLinearState) -> FloatArray:
        """What the decisions need from A⁻¹ (item Gram matrices or a Cholesky factor)."""

    @abstractmethod
    def _select(
        self, sol: _SharedSolution, items: FloatArray, x: FloatArray, space: ArmSpace
    ) -> tuple[IntArray, Propensities]:
        """Slates and propensities from the shared solution and item vectors."""


@register
class LinUCBItems(_SharedLinear):
    """LinUCB with one shared θ over item vectors: top-k items by θ̂ᵀx + α √(xᵀA⁻¹x).

    x = x̃ᵤ ⊗ zᵢ (see :class:`_SharedLinear`); Li et al. 2010's shared-feature setting. The width
    uses the Kronecker structure: per refresh the item matrices Gᵢ = (I ⊗ zᵢ)ᵀA⁻¹(I ⊗ zᵢ)
    (:func:`kronecker_item_grams`, O(n_items·D·(D + P))), then per decision xᵀA⁻¹x = x̃ᵀGᵢx̃
    for all items by :func:`linear_moments` — O(n_items·P²) per user instead of
    O(n_items·D²) = O(n_items·P²·dz²) for the explicit contexts (e.g. 100 items, P = 12,
    dz = 6: ~16k flops per user). Deterministic: propensities 1 (ties by lowest item id), or
    the random tie-break's probabilities with ``tie_break="random"``, per slot and per slate
    (:func:`tie_slot_propensities`).
    """

    summary = "LinUCB over items with a shared θ on user ⊗ item features (slates)"
    Params = LinUCBItemsParams
    params: LinUCBItemsParams

    def _prepare(self, a_inv: FloatArray, state: _SharedLinearState) -> FloatArray:
        return kronecker_item_grams(a_inv, state.items)

    def _select(
        self, sol: _SharedSolution, items: FloatArray, x: FloatArray, space: ArmSpace
    ) -> tuple[IntArray, Propensities]:
        p = self.params
        return lin_ucb_decision(
            x, sol.item_theta, sol.decision, p.alpha, space, self.rng_, p.tie_break
        )


@register
class LinThompsonItems(_SharedLinear):
    """Linear Thompson sampling with one shared θ over item vectors: per user
    θ̃ ~ N(θ̂, v²A⁻¹), slate = top-k items by x̃ᵤᵀΘ̃zᵢ.

    Agrawal & Goyal 2013 on the contexts x = x̃ᵤ ⊗ zᵢ (see :class:`_SharedLinear`). One
    Cholesky factor L of A⁻¹ per refresh; each user's θ̃ = θ̂ + vLε, then the scores of all
    items (:func:`lin_thompson_items_kernel`): O(D² + dz·n_items) per user. The items' scores
    share θ̃, so they are correlated and no slot's probability has a cheap closed form: each
    slot's propensity is a Monte Carlo estimate from ``propensity_samples`` (default 20) extra
    draws per user on the auxiliary stream (:func:`monte_carlo_slot_propensities`, per-user
    draws, the user's own slate counted, so it lies in (0, 1] with standard error ≤ ½/√(M+1);
    each draw costs about one decision), or NaN with ``propensity_samples: 0``. The whole
    slate's probability is not computable and is logged NaN.
    """

    summary = "linear Thompson sampling over items with a shared θ (slates)"
    Params = LinThompsonItemsParams
    params: LinThompsonItemsParams

    @classmethod
    def contract_configs(cls) -> list[dict[str, object]]:
        return [*super().contract_configs(), {"kind": cls.kind, "propensity_samples": 200}]

    def _prepare(self, a_inv: FloatArray, state: _SharedLinearState) -> FloatArray:
        return np.asarray(np.linalg.cholesky(a_inv), dtype=np.float64)

    def _select(
        self, sol: _SharedSolution, items: FloatArray, x: FloatArray, space: ArmSpace
    ) -> tuple[IntArray, Propensities]:
        p = self.params
        chosen = lin_thompson_items_kernel(
            x, sol.theta, sol.decision, items, p.v, self.rng_, **self._selection(space)
        ).arms
        draw = partial(shared_linear_draws, x, sol.theta, sol.decision, items, p.v, self.aux_rng_)
        return chosen, self._sampled_propensities(
            draw, chosen, space, p.propensity_samples, shared=False
        )
