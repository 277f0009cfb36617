"""The policy interface: what a policy sees, what it returns, and how it learns.

A policy acts on a *batch* of users at once and returns one action per user (an item slate,
a variant, or an offer) together with the propensity of that action where it randomises. It
learns online from feedback batches (:meth:`Policy.learn`), possibly delayed, and/or refits
from the logged history on a schedule (:meth:`Policy.fit`). What it can do is declared in
class attributes (``surfaces``, ``online``, ``batch_fit``, ``contextual``, ``needs_oracle``);
the runner reads those, never ``isinstance``.

Policies see only what a real system would see: observable user features, the catalogue's
public attributes (category, price, text), their own feedback and the logged history. Only
the ``oracle`` policy, which declares ``needs_oracle``, is handed the simulator's truth.

Conventions (after scikit-learn's estimator rules): the constructor stores the validated
parameters and nothing else; state learnt in :meth:`setup`/:meth:`fit` ends in ``_``;
calling :meth:`fit` twice on the same history gives the same state as calling it once;
acting before :meth:`setup` raises :class:`NotSetUpError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from recarena.simulator.oracle import OracleView

__all__ = [
    "Decision",
    "DecisionRequest",
    "EnvironmentSpec",
    "Feedback",
    "FeedbackKind",
    "History",
    "NotSetUpError",
    "Policy",
    "PolicyParams",
    "Surface",
]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class Surface(StrEnum):
    """Where a decision is made."""

    SLATE = "slate"  #: on each session visit, a slate of k items
    VARIANT = "variant"  #: on each session visit, one of K variants (creatives, banners)
    CAMPAIGN = "campaign"  #: on a schedule, an offer (or none) for each eligible user


class FeedbackKind(StrEnum):
    """What a feedback batch reports."""

    CLICK = "click"  #: immediate: which slot (or variant) was clicked, if any
    CONVERSION = "conversion"  #: delayed: a purchase following a click, with revenue
    RESPONSE = "response"  #: campaign: did the user respond to the offer (or to no offer)


class NotSetUpError(RuntimeError):
    """A policy was used before :meth:`Policy.setup`."""


class PolicyParams(BaseModel):
    """Base of every policy's parameter model: closed (``extra="forbid"``) and frozen.

    Subclasses declare ``kind: Literal["<registry id>"]`` and their hyperparameters, each
    with a default, a range where one applies, and a one-line description.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kind: str


@dataclass(frozen=True)
class EnvironmentSpec:
    """The observable, static description of the world a policy is deployed into.

    Attributes
    ----------
    surfaces
        The decision surfaces this run exercises.
    n_items, slate_size
        Catalogue size (including items released later) and slate length k.
    item_category, item_price, item_release_time, item_text
        Public catalogue attributes. ``item_release_time`` is in days (0 for the launch
        catalogue); an item is available from then on.
    n_categories
        Number of item categories.
    n_variants
        Number of variants on the variant surface (0 when unused).
    n_offers, offer_value, offer_contact_cost, offer_conversion_cost, offer_names
        The campaign surface's offers and their business parameters (value = NPV on
        conversion).
    feature_names
        Names of the columns of the encoded user-feature matrix handed with every request
        (numeric features standardised, categorical ones one-hot as ``name=level``).
    horizon
        Length of the run in days.
    """

    surfaces: frozenset[Surface]
    n_items: int
    slate_size: int
    item_category: IntArray
    item_price: FloatArray
    item_release_time: FloatArray
    item_text: tuple[str, ...]
    n_categories: int
    n_variants: int
    n_offers: int
    offer_value: FloatArray
    offer_contact_cost: FloatArray
    offer_conversion_cost: FloatArray
    offer_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    horizon: float

    @property
    def n_features(self) -> int:
        """Width of the encoded user-feature matrix."""
        return len(self.feature_names)


@dataclass(frozen=True)
class DecisionRequest:
    """A batch of decisions to make at time ``t``.

    Attributes
    ----------
    surface
        Which surface is asking.
    t
        Simulation time in days.
    users
        User ids, shape (B,). A user may appear more than once only on different requests.
    features
        Encoded observable features of those users, shape (B, F), float32.
    available_items
        Boolean mask (n_items,) of items on sale at ``t`` (slate surface).
    eligible
        Boolean mask (B, n_offers) of offers each user may receive (campaign surface);
        ``None`` elsewhere.
    budget
        Campaign budget in currency units for this campaign (contact + expected conversion
        costs are the policy's business); ``inf`` when unlimited.
    campaign
        Index of the campaign (0, 1, …) on the campaign surface, -1 elsewhere.
    """

    surface: Surface
    t: float
    users: IntArray
    features: NDArray[np.float32]
    available_items: BoolArray
    eligible: BoolArray | None = None
    budget: float = float("inf")
    campaign: int = -1

    @property
    def size(self) -> int:
        """Batch size B."""
        return int(self.users.shape[0])


@dataclass
class Decision:
    """What a policy returns for a :class:`DecisionRequest`.

    Attributes
    ----------
    actions
        Slate surface: item ids, shape (B, k), distinct within a row. Variant surface: variant
        index, shape (B,). Campaign surface: offer index or -1 for "no offer", shape (B,).
    propensities
        Probability with which the policy chose the logged action, shape (B,), or ``None``
        for deterministic policies. For slates it is the probability that the item shown
        first was put first; NaN where unknown.
    group
        Optional int label per decision logged with it (A/B variant, "explored" flag…).
    fallback
        Optional boolean per decision: the policy could not personalise (unknown user,
        untrained model) and used its fallback. Logged, so fallbacks are visible.
    control_for
        Campaign surface only: for users left untreated (action -1), the offer whose
        organic (untreated) outcome is recorded for them, so they serve as that offer's
        control group. Defaults to offer 0.
    """

    actions: IntArray
    propensities: FloatArray | None = None
    group: IntArray | None = None
    fallback: BoolArray | None = None
    control_for: IntArray | None = None


@dataclass(frozen=True)
class Feedback:
    """Observed outcomes of earlier decisions, delivered when they happen.

    Attributes
    ----------
    kind
        :class:`FeedbackKind`.
    surface
        Surface of the decisions this feedback is about.
    t
        Delivery time in days.
    users
        User ids, shape (N,).
    actions
        As in :class:`Decision` (slates (N, k); variants/offers (N,)). For conversions: the
        purchased item (N,).
    rewards
        Click (0/1) for clicks, revenue for conversions, response (0/1) for campaigns.
    features
        Encoded features of the users at decision time, shape (N, F).
    clicked_position
        Slate surface: clicked slot or -1, shape (N,). ``None`` elsewhere.
    propensities
        Propensities logged with the decisions (or ``None``).
    decision_time
        When the decisions were made, shape (N,).
    """

    kind: FeedbackKind
    surface: Surface
    t: float
    users: IntArray
    actions: IntArray
    rewards: FloatArray
    features: NDArray[np.float32]
    clicked_position: IntArray | None = None
    propensities: FloatArray | None = None
    decision_time: FloatArray | None = None

    @property
    def size(self) -> int:
        """Number of feedback records."""
        return int(self.users.shape[0])


@dataclass
class History:
    """The logged history a policy may refit from, as a real system would have it.

    Attributes
    ----------
    t
        Time of the refit, in days. Nothing in the tables is later than ``t``.
    clicks
        One row per click: ``t, user, item, position``.
    conversions
        One row per purchase: ``t, user, item, revenue``.
    impressions
        One row per session decision on the slate surface that the engine kept in memory:
        ``t, user, slate`` (list of item ids), ``clicked_position``. May be empty when the
        run does not keep impressions in memory.
    campaigns
        One row per campaign decision: ``t, campaign, user, offer, propensity, responded``
        (``offer`` = -1 for users left untreated; they are the control group).
    lifecycle
        ``t, user, event`` with ``event`` in {"arrival", "churn"}: churn is observable
        (an account closes / a user stops coming back for good).
    user_features
        Encoded features of every user that has joined by ``t``, indexed by user id.
    """

    t: float
    clicks: pd.DataFrame
    conversions: pd.DataFrame
    impressions: pd.DataFrame
    campaigns: pd.DataFrame
    lifecycle: pd.DataFrame
    user_features: pd.DataFrame
    extra: dict[str, Any] = field(default_factory=dict)


class Policy(ABC):
    """Base class of every policy.

    Subclasses set the class attributes, define a :class:`PolicyParams` subclass as
    ``Params``, and implement :meth:`_act` (and :meth:`_learn` / :meth:`_fit` where they
    declare ``online`` / ``batch_fit``). The public methods check the contract and delegate.

    Class attributes
    ----------------
    kind
        Registry id, also the ``kind`` of the parameter model.
    summary
        One line shown by ``recarena list``.
    surfaces
        Surfaces the policy can act on.
    online
        Learns from feedback batches via :meth:`learn`.
    batch_fit
        Refits from the logged :class:`History` on the scenario's retrain schedule.
    contextual
        Uses user features.
    randomised
        Draws random actions and reports propensities.
    needs_oracle
        Is handed the simulator's :class:`~recarena.simulator.oracle.OracleView` (the upper
        bound policy only).
    """

    kind: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Params: ClassVar[type[PolicyParams]] = PolicyParams
    surfaces: ClassVar[frozenset[Surface]] = frozenset()
    online: ClassVar[bool] = False
    batch_fit: ClassVar[bool] = False
    contextual: ClassVar[bool] = False
    randomised: ClassVar[bool] = False
    needs_oracle: ClassVar[bool] = False

    def __init__(self, params: PolicyParams | None = None, **kwargs: Any) -> None:
        if params is None:
            params = self.Params(kind=self.kind, **kwargs)
        elif kwargs:
            raise TypeError("pass either a params model or keyword parameters, not both")
        if not isinstance(params, self.Params):
            raise TypeError(f"{type(self).__name__} expects {self.Params.__name__}")
        self.params = params
        self._is_set_up = False

    # ------------------------------------------------------------------ lifecycle
    def setup(self, spec: EnvironmentSpec, rng: np.random.Generator) -> None:
        """Bind the policy to a world description and its own random stream; reset state."""
        unsupported = spec.surfaces - self.surfaces
        if unsupported:
            raise ValueError(
                f"policy {self.kind!r} acts on surfaces {sorted(self.surfaces)}, "
                f"but is asked to act on {sorted(unsupported)}"
            )
        self.spec_ = spec
        self.rng_ = rng
        self._setup()
        self._is_set_up = True

    def attach_oracle(self, oracle: OracleView) -> None:
        """Give the simulator's truth to a policy that declares ``needs_oracle``."""
        if not self.needs_oracle:
            raise PermissionError(f"policy {self.kind!r} does not declare needs_oracle")
        self.oracle_ = oracle

    def act(self, request: DecisionRequest) -> Decision:
        """Choose actions for a batch of users; see :class:`Decision` for shapes."""
        self._check_set_up()
        if request.surface not in self.surfaces:
            raise ValueError(f"policy {self.kind!r} cannot act on surface {request.surface}")
        decision = self._act(request)
        _check_decision(decision, request, self.spec_)
        return decision

    def learn(self, feedback: Feedback) -> None:
        """Update from a feedback batch. A no-op unless the policy is ``online``."""
        self._check_set_up()
        if self.online and feedback.size:
            self._learn(feedback)

    def fit(self, history: History) -> None:
        """Refit from the logged history. A no-op unless the policy is ``batch_fit``."""
        self._check_set_up()
        if self.batch_fit:
            self._fit(history)

    def get_config(self) -> dict[str, Any]:
        """The parameters as a plain dict that :meth:`Params.model_validate` accepts back."""
        return self.params.model_dump(mode="json")

    # ------------------------------------------------------------------ to override
    def _setup(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Allocate state for ``self.spec_``. Called on every :meth:`setup`."""

    @abstractmethod
    def _act(self, request: DecisionRequest) -> Decision:
        """Choose actions for the batch (every policy implements this)."""

    def _learn(self, feedback: Feedback) -> None:
        """Update from feedback; required of policies that declare ``online = True``."""
        raise TypeError(f"policy {self.kind!r} declares online = True but defines no _learn")

    def _fit(self, history: History) -> None:
        """Refit from history; required of policies that declare ``batch_fit = True``."""
        raise TypeError(f"policy {self.kind!r} declares batch_fit = True but defines no _fit")

    # ------------------------------------------------------------------ helpers
    def _check_set_up(self) -> None:
        if not self._is_set_up:
            raise NotSetUpError(f"policy {self.kind!r} used before setup()")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "kind")
        return f"{type(self).__name__}({args})"


def _check_decision(decision: Decision, request: DecisionRequest, spec: EnvironmentSpec) -> None:
    """Raise a clear error when a policy returns actions of the wrong shape or range."""
    b = request.size
    actions = decision.actions
    if request.surface is Surface.SLATE:
        expected: tuple[int, ...] = (b, spec.slate_size)
        high = spec.n_items
        low = 0
    elif request.surface is Surface.VARIANT:
        expected, high, low = (b,), spec.n_variants, 0
    else:
        expected, high, low = (b,), spec.n_offers, -1
    if actions.shape != expected:
        raise ValueError(
            f"policy returned actions of shape {actions.shape}, expected {expected} "
            f"on surface {request.surface}"
        )
    if b and (actions.min() < low or actions.max() >= high):
        raise ValueError(
            f"policy returned actions outside [{low}, {high}) on surface {request.surface}"
        )
    for name in ("propensities", "group", "fallback", "control_for"):
        value = getattr(decision, name)
        if value is not None and value.shape != (b,):
            raise ValueError(f"policy returned {name} of shape {value.shape}, expected ({b},)")
