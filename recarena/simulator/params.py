"""Parameters of the simulated world, its behaviour and its clock (pydantic, closed models).

Every field carries its range and the equation it enters (see ``docs/world.md`` and the
docstrings of :mod:`recarena.simulator.behaviour`). Models are closed (``extra="forbid"``) so
a typo in a scenario is an error, not a silently ignored key.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from recarena.contract import Surface
from recarena.typing import ClosedModel

__all__ = [
    "MAX_SCAN_SLATE",
    "SCAN_MODELS",
    "BehaviourParams",
    "CatalogueParams",
    "ClockParams",
    "EligibilityRule",
    "OfferParams",
    "PopulationParams",
    "ResponseTypeShares",
    "ScheduleParams",
    "SurfacesParams",
    "VariantParams",
    "WorldParams",
    "check_scanning_slate",
]


#: Choice models in which the user scans the slate top-down (examination × attraction).
SCAN_MODELS = ("pbm", "dcm")
#: Widest slate of a scanning model: its clicked slots are logged as one int64 bit mask.
MAX_SCAN_SLATE = 63


def _check_profile(values: list[float], name: str) -> None:
    """A per-slot probability profile: non-empty, each in [0, 1], non-increasing.

    Non-increasing keeps the oracle's best slate exact: with ε_j and λ_j non-increasing in
    the position, the k most attractive items in decreasing order are the best slate (see
    :func:`recarena.simulator.behaviour.scan_slot_probabilities`).
    """
    if not 1 <= len(values) <= MAX_SCAN_SLATE:
        raise ValueError(f"{name} needs 1 to {MAX_SCAN_SLATE} entries, got {len(values)}")
    if any(not (0.0 <= v <= 1.0) or math.isnan(v) for v in values):
        raise ValueError(f"{name} must lie in [0, 1], got {values}")
    if any(b > a for a, b in itertools.pairwise(values)):
        raise ValueError(f"{name} must be non-increasing down the slate, got {values}")


def _check_shares(values: list[float], name: str) -> list[float]:
    if any(v < 0 for v in values):
        raise ValueError(f"{name} must be non-negative, got {values}")
    if not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ValueError(f"{name} must sum to 1, got {values} (sum {sum(values):.6g})")
    return values


class ResponseTypeShares(ClosedModel):
    """Shares of the latent campaign-response types (must sum to 1).

    persuadable: τ > 0; sure thing: high P0, τ ≈ 0; lost cause: low P0, τ ≈ 0;
    sleeping dog: τ < 0 (contact makes them less likely to respond and more likely to churn).
    """

    persuadable: float = Field(0.3, ge=0, le=1)
    sure_thing: float = Field(0.25, ge=0, le=1)
    lost_cause: float = Field(0.3, ge=0, le=1)
    sleeping_dog: float = Field(0.15, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> ResponseTypeShares:
        _check_shares(self.as_list(), "response_types")
        return self

    def as_list(self) -> list[float]:
        """Shares in the order persuadable, sure thing, lost cause, sleeping dog."""
        return [self.persuadable, self.sure_thing, self.lost_cause, self.sleeping_dog]


class PopulationParams(ClosedModel):
    """The user population.

    Segment z ~ Cat(π); numeric features x ~ N(μ_z, I) with μ_z ~ N(0, separation²);
    categorical features ~ Cat(θ_z) with θ_z ~ Dirichlet(concentration);
    preference θ_u = c_z + σ_θ ε; activity λ_u ~ LogNormal(log mean − s²/2, s);
    price sensitivity ρ_u ~ LogNormal likewise; arrivals ~ Poisson(Λ per day).
    """

    n_users: int = Field(2000, ge=1, le=50_000_000, description="users at day 0")
    n_segments: int = Field(4, ge=1, le=1000, description="latent segments")
    segment_shares: list[float] | None = Field(
        None, description="segment shares π (sum to 1); uniform when omitted"
    )
    numeric_features: list[str] = Field(
        default_factory=lambda: ["age", "income", "tenure"],
        max_length=100,
        description="names of numeric observable features",
    )
    categorical_features: dict[str, int] = Field(
        default_factory=lambda: {"region": 5, "device": 3},
        description="categorical observable features and their number of levels",
    )
    segment_separation: float = Field(1.0, ge=0, le=100, description="sd of segment feature means")
    categorical_concentration: float = Field(
        1.0, gt=0, le=1e6, description="Dirichlet concentration"
    )
    preference_noise: float = Field(
        0.5, ge=0, le=100, description="σ_θ: user spread around centroid"
    )
    activity_mean: float = Field(0.5, gt=0, le=1000, description="mean sessions per day λ")
    activity_dispersion: float = Field(0.5, ge=0, le=10, description="log-normal sd of λ_u")
    price_sensitivity_mean: float = Field(0.3, ge=0, le=100, description="mean ρ_u")
    price_sensitivity_dispersion: float = Field(
        0.3, ge=0, le=10, description="log-normal sd of ρ_u"
    )
    arrivals_per_day: float = Field(
        0.0, ge=0, le=10_000_000, description="Λ: new users per day (Poisson)"
    )
    response_types: ResponseTypeShares = Field(default_factory=ResponseTypeShares)
    response_type_feature_strength: float = Field(
        1.0, ge=0, le=100, description="how strongly observable features predict the response type"
    )
    tolerance_sd: float = Field(
        0.0, ge=0, le=10, description="sd of the per-user satisfaction baseline r₀,u = r₀ + sd·z_u"
    )

    @field_validator("segment_shares")
    @classmethod
    def _shares(cls, v: list[float] | None) -> list[float] | None:
        return None if v is None else _check_shares(v, "segment_shares")

    @field_validator("categorical_features")
    @classmethod
    def _levels(cls, v: dict[str, int]) -> dict[str, int]:
        for name, levels in v.items():
            if not 2 <= levels <= 1000:
                raise ValueError(
                    f"categorical feature {name!r} needs 2 to 1000 levels, got {levels}"
                )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> PopulationParams:
        if self.segment_shares is not None and len(self.segment_shares) != self.n_segments:
            raise ValueError(
                f"segment_shares has {len(self.segment_shares)} entries but n_segments is "
                f"{self.n_segments}"
            )
        names = list(self.numeric_features) + list(self.categorical_features)
        if len(set(names)) != len(names):
            raise ValueError(f"feature names must be distinct, got {names}")
        return self


class CatalogueParams(ClosedModel):
    """The item catalogue.

    Category g_i ~ Uniform; φ_i = c'_g + σ_φ ε with c'_g ~ N(0, spread²);
    popularity b_i ~ N(0, σ_b²); price p_i ~ LogNormal(μ_p, σ_p); margin m_i ~ U(lo, hi).
    Descriptions: category words plus words tied to the sign of the largest |φ_id|.
    """

    n_items: int = Field(200, ge=1, le=2_000_000, description="items at day 0")
    n_categories: int = Field(8, ge=1, le=10_000, description="item categories")
    latent_dim: int = Field(8, ge=1, le=512, description="d: dimension of θ_u and φ_i")
    category_spread: float = Field(1.0, ge=0, le=100, description="sd of category centroids")
    item_noise: float = Field(0.5, ge=0, le=100, description="σ_φ: item spread around centroid")
    popularity_sd: float = Field(1.0, ge=0, le=100, description="σ_b: sd of item popularity b_i")
    price_log_mean: float = Field(3.0, ge=-20, le=20, description="μ_p of log price")
    price_log_sd: float = Field(0.5, ge=0, le=10, description="σ_p of log price")
    margin_low: float = Field(0.1, ge=0, le=1)
    margin_high: float = Field(0.4, ge=0, le=1)
    new_items_per_day: float = Field(
        0.0, ge=0, le=100_000, description="items released per day (Poisson)"
    )
    description_words: int = Field(12, ge=1, le=200, description="words per description")
    quality_logit_mean: float = Field(
        0.0, ge=-20, le=20, description="mean of logit q_i (item quality)"
    )
    quality_logit_sd: float = Field(1.0, ge=0, le=10, description="sd of logit q_i")
    clickbait_share: float = Field(
        0.0, ge=0, le=1, description="share of clickbait items (high appeal, low quality)"
    )
    clickbait_appeal: float = Field(
        2.0, ge=0, le=100, description="utility added to b_i of a clickbait item"
    )
    clickbait_quality: float = Field(
        0.05, ge=0, le=1, description="quality q_i of a clickbait item"
    )
    item_length_minutes: float = Field(
        5.0, gt=0, le=100_000, description="mean length L_i of an item (minutes, log-normal)"
    )
    item_length_sd: float = Field(
        0.8, ge=0, le=10, description="log-normal sd of the item lengths L_i"
    )

    @model_validator(mode="after")
    def _margins(self) -> CatalogueParams:
        if self.margin_low > self.margin_high:
            raise ValueError("margin_low must be ≤ margin_high")
        return self


class BehaviourParams(ClosedModel):
    """How users choose, convert, get bored, drift and churn (equations in behaviour.py).

    The defaults of the levels (no-choice utility, conversion intercept, satisfaction
    baseline, activity and churn sensitivities, base hazard; with ``activity_mean``) are
    calibrated to published moments: click, purchase and churn rates of real products
    (docs/world.md, 'Moments'; asserted by tests/simulator/test_moments.py).
    """

    choice_model: Literal["mnl", "cascade", "pbm", "dcm"] = Field(
        "mnl",
        description="mnl: one choice among the slate; cascade: top-down, stop at the first "
        "click; pbm: each slot examined (ε_j) and clicked (α) independently, several clicks "
        "possible; dcm: top-down scan, after a click continue with probability λ_j",
    )
    temperature: float = Field(1.0, ge=0.001, le=1000, description="T in exp(u/T)")
    no_choice_utility: float = Field(
        7.5, ge=-1000, le=1000, description="u_0, utility of not clicking"
    )
    position_bias: Literal["log", "power", "none"] = Field(
        "log",
        description="position profile e_j: log 1/log2(j+1), power j^−η, none 1 — the mnl's "
        "attention weights, the cascade's examination, the ε_j of pbm and dcm when "
        "examination_probabilities is not given",
    )
    position_decay: float = Field(1.0, ge=0, le=10, description="η in e_j = j^−η (power bias)")
    examination_probabilities: list[float] | None = Field(
        None,
        max_length=100,
        description="pbm, dcm: ε_j, P(slot j is examined), one per slot (at least slate_size, "
        "non-increasing, in [0, 1]); None = the position_bias profile e_j",
    )
    continuation: float | list[float] = Field(
        0.5,
        description="dcm: λ_j, P(scanning on after a click at slot j), one value or one per "
        "slot (non-increasing, in [0, 1]); 0 = stop at the first click, 1 = never stop",
    )
    session_budget_minutes: float | None = Field(
        None,
        gt=0,
        le=100_000,
        description="pbm, dcm: mean of the exponential time budget of a session (minutes); "
        "scanning and consuming items spend it (None = no budget)",
    )
    scan_minutes: float = Field(
        0.05, ge=0, le=1000, description="minutes spent examining one slot (time budget)"
    )
    preference_weight: float = Field(
        2.0, ge=0, le=100, description="weight of θ_u·φ_i/√d in utility"
    )
    conversion_intercept: float = Field(
        -5.5, ge=-100, le=100, description="α in P(convert)=σ(α+γu)"
    )
    conversion_slope: float = Field(0.5, ge=-100, le=100, description="γ in P(convert)=σ(α+γu)")
    conversion_delay_mean: float = Field(
        0.5, ge=0, le=365, description="mean delay δ (days); 0 = now"
    )
    satisfaction_rate: float = Field(0.1, ge=0, le=1, description="η_s in s ← (1−η_s)s + η_s r")
    satisfaction_baseline: float = Field(0.05, ge=0, le=1, description="r₀ subtracted from r")
    fatigue: float = Field(
        1.0, ge=0, le=100, description="κ: utility penalty for recently consumed"
    )
    fatigue_memory: int = Field(5, ge=0, le=64, description="recent items remembered")
    drift_sd: float = Field(0.0, ge=0, le=10, description="σ_d: preference drift per √day")
    activity_satisfaction: float = Field(2.0, ge=-10, le=10, description="β_a in λ_u exp(β_a s)")
    churn_base_hazard: float = Field(0.0025, ge=0, le=10, description="h₀ per day")
    churn_satisfaction: float = Field(10.0, ge=0, le=100, description="β_s in h₀ exp(−β_s s)")
    satisfaction_signal: Literal["relevance", "quality"] = Field(
        "relevance",
        description="what moves satisfaction: P(click) of the slate shown (relevance) or the "
        "quality q_i of the item consumed (quality; no click costs no_click_cost)",
    )
    no_click_cost: float = Field(
        0.05, ge=0, le=10, description="c₀: r = r₀,u − c₀ for a session without a click (quality)"
    )
    satisfaction_half_life: float | None = Field(
        None,
        gt=0,
        le=100_000,
        description="days for satisfaction to decay halfway to 0 (None = no decay)",
    )
    conversion_quality: float = Field(
        0.0, ge=-100, le=100, description="γ_q in P(convert) = σ(α + γu + γ_q (q_i − ½))"
    )
    win_back_hazard: float = Field(
        0.0,
        ge=0,
        le=10,
        description="h_w per day: a churned (dormant) user returns (0 = churn is final)",
    )
    interest_rate: float = Field(
        0.0, ge=0, le=1, description="ε in θ_u ← θ_u + ε (φ_i − θ_u) after consuming item i"
    )
    satiation: float = Field(
        0.0, ge=0, le=100, description="κ_b: utility penalty per unit of category satiation"
    )
    satiation_half_life: float = Field(
        7.0, gt=0, le=100_000, description="days for category satiation to recover halfway"
    )
    drift_reversion_days: float | None = Field(
        None,
        gt=0,
        le=100_000,
        description="τ of Ornstein–Uhlenbeck drift toward θ_u(0) (None = random walk)",
    )

    @field_validator("examination_probabilities")
    @classmethod
    def _examination(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            _check_profile(v, "examination_probabilities")
        return v

    @field_validator("continuation")
    @classmethod
    def _continuation(cls, v: float | list[float]) -> float | list[float]:
        _check_profile([v] if isinstance(v, float | int) else v, "continuation")
        return v

    @model_validator(mode="after")
    def _scan_only(self) -> BehaviourParams:
        if self.session_budget_minutes is not None and self.choice_model not in SCAN_MODELS:
            raise ValueError(
                "session_budget_minutes needs a scanning choice model (choice_model: pbm or "
                f"dcm), got choice_model: {self.choice_model}"
            )
        return self

    def examination_profile(self, k: int) -> list[float] | None:
        """ε_1…ε_k from ``examination_probabilities`` (``None`` when not given).

        Raises
        ------
        ValueError
            If the list has fewer than ``k`` entries.
        """
        given = self.examination_probabilities
        if given is None:
            return None
        if len(given) < k:
            raise ValueError(
                f"behaviour.examination_probabilities has {len(given)} entries but the slate "
                f"has {k} slots; give at least one per slot"
            )
        return given[:k]

    def continuation_profile(self, k: int) -> list[float]:
        """λ_1…λ_k: the scalar ``continuation`` repeated, or the list's first k (its last
        value repeated when it is shorter); all 1 under ``pbm`` (it never stops)."""
        if self.choice_model == "pbm":
            return [1.0] * k
        given = self.continuation
        values = [float(given)] * k if isinstance(given, float | int) else list(given)
        return (values + [values[-1]] * k)[:k]


def check_scanning_slate(behaviour: BehaviourParams, slate_size: int) -> None:
    """A scanning choice model (pbm, dcm) fits the slate: at most :data:`MAX_SCAN_SLATE`
    slots, and an examination probability for each.

    Raises
    ------
    ValueError
        Naming the field and the allowed values.
    """
    if slate_size > MAX_SCAN_SLATE:
        raise ValueError(
            f"choice_model {behaviour.choice_model!r} logs the clicked slots as a bit mask: "
            f"schedule.slate_size must be ≤ {MAX_SCAN_SLATE}, got {slate_size}"
        )
    behaviour.examination_profile(slate_size)


class EligibilityRule(ClosedModel):
    """An offer is eligible for users whose ``feature`` lies in [min, max]."""

    feature: str
    min: float | None = Field(None, ge=-1e9, le=1e9, description="lower bound (None = no bound)")
    max: float | None = Field(None, ge=-1e9, le=1e9, description="upper bound (None = no bound)")


class OfferParams(ClosedModel):
    """A campaign offer.

    P0_uo = σ(a_o + w_o·x_u + shift_type); P1_uo = σ(a_o + w_o·x_u + shift_type + τ_uo),
    a_o = logit(base_rate). ``cate: types``: τ_uo = effect + β_o·x_u for persuadables,
    −(effect + β_o·x_u) for sleeping dogs, 0 for sure things and lost causes; ``linear`` and
    ``nonlinear``: a continuous τ(x_u, ν_u) for everyone (see
    :func:`recarena.simulator.campaigns.continuous_effect`). ``value`` is the NPV earned when
    the user responds; costs are subtracted for expected NPV. A contact can also lift the
    session surface for ``retention_days``: the conversion logit and the log visit rate.
    """

    name: str
    value: float = Field(100.0, ge=0, le=1e9, description="NPV of a response")
    contact_cost: float = Field(1.0, ge=0, le=1e9, description="cost of sending the offer")
    conversion_cost: float = Field(
        10.0, ge=0, le=1e9, description="cost paid when the user responds"
    )
    base_rate: float = Field(0.05, gt=0, lt=1, description="typical untreated response rate")
    response_heterogeneity: float = Field(0.5, ge=0, le=100, description="sd of w_o·x_u")
    effect: float = Field(1.0, ge=0, le=100, description="τ scale (logit) for persuadables")
    effect_heterogeneity: float = Field(0.5, ge=0, le=100, description="sd of β_o·x_u")
    retention_effect: float = Field(
        0.0, ge=0, le=100, description="log churn-hazard change on contact"
    )
    retention_days: float = Field(
        30.0, ge=0, le=3650, description="how long the retention effect lasts"
    )
    eligibility: EligibilityRule | None = None
    cate: Literal["types", "linear", "nonlinear"] = Field(
        "types", description="treatment effect: by response type, or continuous τ(x, latent)"
    )
    cate_scale: float = Field(
        1.0, ge=0, le=100, description="s: heterogeneity scale of a continuous τ (logit)"
    )
    session_conversion_lift: float = Field(
        0.0, ge=-20, le=20, description="added to the conversion logit of a contacted user's clicks"
    )
    session_activity_lift: float = Field(
        0.0, ge=-20, le=20, description="added to the log visit rate of a contacted user"
    )


class VariantParams(ClosedModel):
    """A variant (banner, creative) on the variant surface.

    P(click | u, v) = σ(a_v + h_v w_v·x_u), w_v ~ N(0, I/F), with the intercept a_v solved so
    that the population's mean P(click) is ``ctr`` (mean_u σ(a_v + h_v w_v·x_u) = ctr_v);
    after ``shift_day`` the intercept is solved for ``ctr_after_shift`` when given.
    """

    name: str
    ctr: float = Field(
        gt=0,
        lt=1,
        description="population mean click-through rate of the variant (the "
        "intercept is solved for it, whatever the heterogeneity)",
    )
    heterogeneity: float = Field(0.0, ge=0, le=100, description="h_v: how much features shift CTR")
    ctr_after_shift: float | None = Field(
        None, gt=0, lt=1, description="population mean CTR from shift_day on"
    )


#: The default levels before the calibration of docs/world.md ("Moments"): twice the visits,
#: about five times the clicks and ten times the purchases per session. Small test worlds and
#: the engine benchmark use them, so a few hundred users leave every mechanism enough events
#: (and benchmark numbers stay comparable with their history).
DENSE_POPULATION: dict[str, float] = {"activity_mean": 1.0}
DENSE_BEHAVIOUR: dict[str, float] = {
    "no_choice_utility": 5.0,
    "conversion_intercept": -1.0,
    "satisfaction_baseline": 0.2,
    "activity_satisfaction": 1.0,
    "churn_base_hazard": 0.01,
    "churn_satisfaction": 5.0,
}


class WorldParams(ClosedModel):
    """Everything needed to generate a world."""

    population: PopulationParams = Field(default_factory=PopulationParams, description="users")
    catalogue: CatalogueParams = Field(default_factory=CatalogueParams, description="items")
    behaviour: BehaviourParams = Field(default_factory=BehaviourParams, description="choices")
    offers: list[OfferParams] = Field(
        default_factory=list, max_length=1000, description="campaign offers"
    )
    variants: list[VariantParams] = Field(
        default_factory=list, max_length=1000, description="variants for the variant surface"
    )
    shift_day: float | None = Field(
        None, ge=0, le=3650, description="day on which variants switch to ctr_after_shift"
    )

    @model_validator(mode="after")
    def _names(self) -> WorldParams:
        for kind, names in (
            ("offer", [o.name for o in self.offers]),
            ("variant", [v.name for v in self.variants]),
        ):
            if len(set(names)) != len(names):
                raise ValueError(f"{kind} names must be distinct, got {names}")
        numeric = set(self.population.numeric_features)
        for offer in self.offers:
            rule = offer.eligibility
            if rule is not None and rule.feature not in numeric:
                raise ValueError(
                    f"offer {offer.name!r}: eligibility feature {rule.feature!r} is not a "
                    f"numeric feature; allowed: {sorted(numeric)}"
                )
        return self


class ClockParams(ClosedModel):
    """The clock: horizon, decision window and periodic processes (all in days)."""

    days: float = Field(14.0, gt=0, le=3650, description="length of the run")
    decision_window: float = Field(
        0.05, ge=0.001, le=1, description="sessions within one window form one vectorised batch"
    )
    feedback_every: float = Field(
        0.0,
        ge=0,
        le=3650,
        description="deliver feedback to policies every this many days (0 = each window)",
    )
    retrain_every: float | None = Field(
        None, gt=0, le=3650, description="call fit(history) every this many days (None = never)"
    )
    checkpoint_every: float = Field(1.0, gt=0, le=3650, description="daily snapshots / checkpoints")

    @model_validator(mode="after")
    def _aligned(self) -> ClockParams:
        # Daily steps must fall on window boundaries, or sessions just before a checkpoint
        # would be handled after it (e.g. after an item release or a churn draw).
        ratio = self.checkpoint_every / self.decision_window
        if abs(ratio - round(ratio)) > 1e-6:
            raise ValueError(
                f"checkpoint_every ({self.checkpoint_every}) must be a whole multiple of "
                f"decision_window ({self.decision_window})"
            )
        return self


class SurfacesParams(ClosedModel):
    """The surfaces: what sessions show (slates of k items, variants, or nothing) and when
    campaigns run."""

    surface: Literal["slate", "variant", "none"] = Field(
        "slate", description="what the session surface shows: item slates or variants"
    )
    slate_size: int = Field(10, ge=1, le=100, description="k items per slate")
    campaign_days: list[float] = Field(
        default_factory=list,
        max_length=10_000,
        description="days on which the campaign surface runs",
    )
    campaign_budget: float | None = Field(
        None, gt=0, le=1e12, description="contact budget per campaign (None = unlimited)"
    )
    keep_impressions: bool | None = Field(
        None,
        description="keep slate decisions in memory for History (needed by rankers and some "
        "refits); None = only when a batch-fit policy retrains. true also keeps the whole "
        "history (otherwise only what the refitting policies read)",
    )

    @field_validator("campaign_days")
    @classmethod
    def _campaign_days(cls, v: list[float]) -> list[float]:
        if any(not 0 <= d <= 3650 for d in v):
            raise ValueError(f"campaign_days must be in [0, 3650], got {v}")
        return sorted(v)

    @property
    def session_surface(self) -> Surface | None:
        """The session surface as the contract's :class:`~recarena.contract.Surface`
        (``None`` for ``surface: none``): the one place the YAML value is parsed."""
        return _SESSION_SURFACES[self.surface]


_SESSION_SURFACES: dict[str, Surface | None] = {
    "slate": Surface.SLATE,
    "variant": Surface.VARIANT,
    "none": None,
}


class ScheduleParams(SurfacesParams, ClockParams):
    """The ``schedule:`` block: the clock (horizon, decision window and periodic processes,
    in days) and the surfaces (what sessions show, when campaigns run) in one mapping."""
