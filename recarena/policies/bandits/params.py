"""Parameter models of the bandit policies (one per registered kind, on shared bases)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from recarena.policies.bandits.selection import TieBreak
from recarena.policies.base import PolicyParams

__all__ = [
    "BanditParams",
    "ContextFreeParams",
    "DiscountedThompsonParams",
    "DiscountedUCBParams",
    "EpsilonGreedyParams",
    "ItemLinearParams",
    "KLUCBParams",
    "LinThompsonItemsParams",
    "LinThompsonParams",
    "LinThompsonScaleParams",
    "LinUCBItemsParams",
    "LinUCBParams",
    "LinUCBWidthParams",
    "LinearParams",
    "SlateCreditParams",
    "SlidingWindowUCBParams",
    "SoftmaxParams",
    "ThompsonFamilyParams",
    "ThompsonParams",
    "UCB1Params",
    "UCBFamilyParams",
]


class BanditParams(PolicyParams):
    """Shared by every bandit: tie-breaking, refresh schedule, the "no offer" arm."""

    tie_break: TieBreak = Field(
        "random",
        description="Order of equal scores: 'random' (uniform per user, propensity 1/#tied) or "
        "'first' (lowest arm index, deterministic); regret depends on it.",
    )
    refresh_every: float = Field(
        0.0,
        ge=0.0,
        le=3650,
        description="Days between updates of the decision statistics; feedback is buffered in "
        "between (0 = on every delivery).",
    )
    include_no_offer: bool = Field(
        False,
        description="Campaign surface: 'no offer' (-1) is an arm, learnt from control responses.",
    )


class SlateCreditParams(BanditParams):
    """Bandits that act on slates: how a click credits the shown items."""

    credit: Literal["cascade", "all_shown"] = Field(
        "cascade",
        description="Slate trials: positions down to the click (all if none) or all shown items.",
    )


class ContextFreeParams(SlateCreditParams):
    """Context-free bandits: initialisation, prior pseudo-observations and the reward."""

    init: Literal["round_robin", "prior"] = Field(
        "round_robin",
        description="'round_robin': unplayed arms score +inf and are tried first; 'prior': "
        "estimates include prior_count pseudo-observations of value prior_mean.",
    )
    prior_mean: float = Field(
        0.5,
        ge=-1e6,
        le=1e6,
        description="Prior mean reward m0 of the pseudo-observations (in [0, 1] for Bernoulli "
        "Thompson sampling).",
    )
    prior_count: float = Field(
        2.0,
        ge=0.0,
        le=1e6,
        description="Prior pseudo-count n0 (Beta(n0·m0, n0·(1-m0)) for Thompson).",
    )
    reward: Literal["click", "conversion"] = Field(
        "click",
        description="'click': clicks (slate, variant) or responses (campaign); 'conversion': "
        "slate items earn conversion revenue per examination.",
    )


class EpsilonGreedyParams(ContextFreeParams):
    """Parameters of :class:`EpsilonGreedy`."""

    kind: Literal["epsilon_greedy"] = "epsilon_greedy"
    epsilon: float = Field(0.1, ge=0.0, le=1.0, description="Exploration probability ε (fixed).")
    schedule: Literal["fixed", "decaying"] = Field(
        "fixed", description="'fixed' ε, or 'decaying' ε_t = min(1, c·K/t), t = trials so far."
    )
    c: float = Field(1.0, gt=0.0, le=1000, description="Constant c of the decaying schedule.")


class SoftmaxParams(ContextFreeParams):
    """Parameters of :class:`Softmax`."""

    kind: Literal["softmax"] = "softmax"
    temperature: float = Field(
        0.1,
        ge=1e-6,
        le=1e6,
        description="Boltzmann temperature τ, in reward units (below 1e-6, x̄/τ overflows).",
    )
    anneal: Literal["none", "log"] = Field(
        "none", description="'log': τ_t = τ / ln(e + t), t = trials so far."
    )
    propensity_samples: int = Field(
        1000,
        ge=0,
        le=100_000,
        description="Slates: Monte Carlo draws (shared by the users of a request) behind the "
        "propensities of the slots after the first (0: NaN); the first slot's and the whole "
        "slate's are exact.",
    )


class UCBFamilyParams(ContextFreeParams):
    """The UCB index family: width multiplier c and ξ."""

    exploration: float = Field(
        1.0, ge=0.0, le=100, description="Multiplier c of the confidence width c·√(ξ ln n / nᵢ)."
    )
    xi: float = Field(2.0, gt=0.0, le=100, description="ξ in the confidence width (2 for UCB1).")


class UCB1Params(UCBFamilyParams):
    """Parameters of :class:`UCB1`."""

    kind: Literal["ucb1"] = "ucb1"


class SlidingWindowUCBParams(UCBFamilyParams):
    """Parameters of :class:`SlidingWindowUCB`."""

    kind: Literal["sw_ucb"] = "sw_ucb"
    xi: float = Field(
        0.6, gt=0.0, le=100, description="ξ in the confidence width (G&M suggest 0.6)."
    )
    window: float = Field(
        7.0, gt=0.0, le=3650, description="Window τ in days of feedback remembered."
    )
    bucket_days: float = Field(
        1.0, ge=0.001, le=3650, description="Width in days of the ring's aggregation buckets."
    )

    @model_validator(mode="after")
    def _ring(self) -> SlidingWindowUCBParams:
        if self.window / self.bucket_days > 100_000:
            raise ValueError(
                f"window / bucket_days = {self.window / self.bucket_days:,.0f} buckets; at most "
                "100,000 (widen bucket_days)"
            )
        return self


class DiscountedUCBParams(UCBFamilyParams):
    """Parameters of :class:`DiscountedUCB`."""

    kind: Literal["discounted_ucb"] = "discounted_ucb"
    exploration: float = Field(
        2.0, ge=0.0, le=100, description="Multiplier c of the width (2B in Garivier & Moulines)."
    )
    xi: float = Field(
        0.6, gt=0.0, le=100, description="ξ in the confidence width (G&M suggest 0.6)."
    )
    gamma: float = Field(0.9, gt=0.0, le=1.0, description="Discount factor γ per day.")


class KLUCBParams(ContextFreeParams):
    """Parameters of :class:`KLUCB`."""

    kind: Literal["kl_ucb"] = "kl_ucb"
    reward: Literal["click"] = Field(
        "click", description="Bernoulli rewards only: clicks or campaign responses."
    )
    c: float = Field(
        0.0, ge=0.0, le=100, description="Coefficient of ln ln t in the exploration budget."
    )


class ThompsonFamilyParams(ContextFreeParams):
    """Thompson sampling: the posterior model, its prior and the propensity draws."""

    model: Literal["bernoulli", "gaussian"] = Field(
        "bernoulli",
        description="'bernoulli': Beta posterior; 'gaussian': Normal-Inverse-Gamma (unknown "
        "variance), for continuous rewards such as revenue.",
    )
    prior_count: float = Field(
        2.0,
        gt=0.0,
        le=1e6,
        description="Prior pseudo-count n0: Beta(n0·m0, n0·(1-m0)), or κ0 (NIG).",
    )
    prior_shape: float = Field(
        1.0, gt=0.0, le=1e6, description="NIG prior shape a0 of the variance."
    )
    prior_scale: float = Field(
        0.25,
        gt=0.0,
        le=1e12,
        description="NIG prior scale b0 of the variance (b0/a0 ~ prior variance, reward units²).",
    )
    propensity_samples: int = Field(
        100,
        ge=0,
        le=100_000,
        description="Monte Carlo posterior draws behind each propensity, shared by the "
        "users of a request (per slot on slates; 0: NaN).",
    )

    @model_validator(mode="after")
    def _bernoulli_needs_binary_rewards(self) -> ThompsonFamilyParams:
        if self.model == "bernoulli" and self.reward == "conversion":
            raise ValueError("reward='conversion' (revenue) needs model='gaussian'")
        if self.model == "bernoulli" and not 0.0 <= self.prior_mean <= 1.0:
            raise ValueError(
                f"prior_mean = {self.prior_mean:g}: the Beta prior's mean must lie in [0, 1] "
                "(model='bernoulli')"
            )
        return self


class ThompsonParams(ThompsonFamilyParams):
    """Parameters of :class:`Thompson`."""

    kind: Literal["thompson"] = "thompson"


class DiscountedThompsonParams(ThompsonFamilyParams):
    """Parameters of :class:`DiscountedThompson`."""

    kind: Literal["discounted_thompson"] = "discounted_thompson"
    gamma: float = Field(0.9, gt=0.0, le=1.0, description="Discount factor γ per day.")


class LinearParams(BanditParams):
    """Ridge-regression bandits: λ and the intercept."""

    ridge: float = Field(
        1.0, ge=1e-6, le=1e6, description="Ridge λ: Aₐ starts at λI (below 1e-6, A is singular)."
    )
    fit_intercept: bool = Field(True, description="Append a constant 1 to the user features.")


class LinUCBWidthParams(LinearParams):
    """LinUCB's width multiplier α."""

    alpha: float = Field(1.0, ge=0.0, le=100, description="Width multiplier α of √(xᵀAₐ⁻¹x).")


class LinThompsonScaleParams(LinearParams):
    """Linear Thompson sampling's posterior scale v."""

    v: float = Field(0.5, gt=0.0, le=100, description="Posterior scale v: θ̃ ~ N(θ̂, v²A⁻¹).")


class LinUCBParams(LinUCBWidthParams):
    """Parameters of :class:`LinUCB`."""

    kind: Literal["lin_ucb"] = "lin_ucb"


class LinThompsonParams(LinThompsonScaleParams):
    """Parameters of :class:`LinThompson`."""

    kind: Literal["lin_thompson"] = "lin_thompson"
    propensity_samples: int = Field(
        100,
        ge=0,
        le=100_000,
        description="Gauss–Legendre points of the exact propensity integral (0: NaN).",
    )


class ItemLinearParams(SlateCreditParams, LinearParams):
    """Shared-θ linear bandits over items: the item vectors and the tie-break default."""

    tie_break: TieBreak = Field(
        "first",
        description="Order of equal scores: 'first' (lowest item id, deterministic) or "
        "'random' (uniform per user, propensity 1/#tied).",
    )
    fit_intercept: bool = Field(
        True,
        description="Append a constant 1 to the user features, so the context x ⊗ z also "
        "holds z alone (item effects shared by all users).",
    )
    item_features: Literal["category_price", "text", "both"] = Field(
        "category_price",
        description="Item vector z: one-hot category + standardised log price, a TF-IDF "
        "embedding of the description reduced by truncated SVD (plus a constant), or both.",
    )
    text_components: int = Field(
        8, ge=1, le=256, description="SVD components of the TF-IDF embedding (text, both)."
    )


class LinUCBItemsParams(ItemLinearParams, LinUCBWidthParams):
    """Parameters of :class:`LinUCBItems`."""

    kind: Literal["lin_ucb_items"] = "lin_ucb_items"


class LinThompsonItemsParams(ItemLinearParams, LinThompsonScaleParams):
    """Parameters of :class:`LinThompsonItems`."""

    kind: Literal["lin_thompson_items"] = "lin_thompson_items"
    propensity_samples: int = Field(
        20,
        ge=0,
        le=100_000,
        description="Monte Carlo posterior draws per user for each slot's propensity (0: NaN; "
        "each draw costs about as much as the decision).",
    )
