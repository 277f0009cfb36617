"""The boundary between the simulator and the policies: what is asked, answered and observed.

This module sits on the bottom floor: it imports nothing of recarena but
:mod:`recarena.typing`. The simulator builds :class:`DecisionRequest` and :class:`Feedback`
batches and a :class:`History`; a policy (anything that satisfies :class:`PolicyProtocol`)
answers with a :class:`Decision`. The only policy allowed to see the truth is handed an
:class:`OracleView`, a read-only window on the simulator's user model.

Policies see only what a real system would see: observable user features, the catalogue's
public attributes (category, price, text), their own feedback and the logged history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from recarena.typing import BoolArray, FloatArray, IntArray

__all__ = [
    "Decision",
    "DecisionRequest",
    "EnvironmentSpec",
    "Feedback",
    "FeedbackKind",
    "History",
    "OracleView",
    "PolicyProtocol",
    "Surface",
    "check_decision",
]


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
    slot_propensities
        Slate surface: for every slot j, the probability that the item shown in slot j was
        put in slot j, shape (B, k) (column 0 is ``propensities``); NaN where unknown.
        ``None``: only the first slot's is known.
    slate_propensities
        Slate surface: the probability of the whole ordered slate, shape (B,); NaN where
        unknown, ``None`` when never computed.
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
    slot_propensities: FloatArray | None = None
    slate_propensities: FloatArray | None = None
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
        Clicks (0/1; a count under pbm and dcm) for clicks, revenue for conversions,
        response (0/1) for campaigns.
    features
        Encoded features of the users at decision time, shape (N, F).
    clicked_position
        Slate surface: clicked slot or -1, shape (N,) (the first click when a session can
        have several). ``None`` elsewhere.
    clicked_slots
        Slate surface under the pbm and dcm choice models (several clicks per session):
        every clicked slot, shape (N, k) bool; ``rewards`` then counts the clicks. ``None``
        otherwise.
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
    clicked_slots: BoolArray | None = None

    @property
    def size(self) -> int:
        """Number of feedback records."""
        return int(self.users.shape[0])

    def clicks(self) -> tuple[IntArray, IntArray]:
        """``(row, slot)`` of every click of a slate click batch, by row then slot: every
        clicked slot under pbm and dcm (sessions of several clicks), the clicked position
        otherwise."""
        if self.clicked_position is None:
            raise ValueError("slate click feedback needs clicked_position")
        if self.clicked_slots is not None:
            rows, slots = np.nonzero(np.asarray(self.clicked_slots, dtype=bool))
        else:
            position = np.asarray(self.clicked_position, dtype=np.int64)
            rows = np.flatnonzero(position >= 0)
            slots = position[rows]
        return rows.astype(np.int64), slots.astype(np.int64)


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
        ``t, user, event`` with ``event`` in {"arrival", "churn", "return"}: churn is
        observable (an account closes / a user stops coming back); "return" only in worlds
        where dormant users can come back (``behaviour.win_back_hazard`` > 0).
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


class OracleView(Protocol):
    """What the oracle policy may read of the simulator's truth (and nothing may write).

    The simulator's user model satisfies it; the ``oracle`` policy, the only one that
    declares ``needs_oracle``, receives it through ``attach_oracle``.
    """

    def best_slates(
        self, users: IntArray, available_items: BoolArray
    ) -> tuple[IntArray, FloatArray]:
        """Each user's best slate of the available items and its expected reward."""
        ...

    def variant_click_probabilities(self, users: IntArray) -> FloatArray:
        """True click probability of every variant for each user, shape (B, n_variants)."""
        ...

    def offer_incremental_npv(self, users: IntArray) -> FloatArray:
        """True expected incremental NPV of every offer for each user, shape (B, n_offers)."""
        ...

    def long_term_slates(self, users: IntArray, available_items: BoolArray) -> IntArray:
        """Each user's long-term reference slate (quality-weighted appeal), shape (B, k)."""
        ...


@runtime_checkable
class PolicyProtocol(Protocol):
    """What the runner and the engine need of a policy (``recarena.policies.base.Policy``
    implements it; a plugin may implement it from scratch).

    Capabilities are declared as attributes, never discovered by ``isinstance``.
    """

    kind: ClassVar[str]
    surfaces: ClassVar[frozenset[Surface]]
    online: ClassVar[bool]
    batch_fit: ClassVar[bool]
    contextual: ClassVar[bool]
    randomised: ClassVar[bool]
    needs_oracle: ClassVar[bool]

    def setup(self, spec: EnvironmentSpec, rng: np.random.Generator) -> None:
        """Bind to a world description and a random stream; reset state."""
        ...

    def act(self, request: DecisionRequest) -> Decision:
        """Choose actions for a batch of users."""
        ...

    def learn(self, feedback: Feedback) -> None:
        """Update from a feedback batch."""
        ...

    def fit(self, history: History) -> None:
        """Refit from the logged history."""
        ...

    def history_window(self) -> float | None:
        """Days of history before the refit time that ``fit`` reads (``None``: none,
        ``math.inf``: all); the engine keeps only that much."""
        ...

    def get_config(self) -> dict[str, Any]:
        """Parameters as a plain mapping that validates back to the same policy."""
        ...

    def attach_oracle(self, oracle: OracleView) -> None:
        """Receive the simulator's truth; only allowed where ``needs_oracle`` is declared."""
        ...


def check_decision(decision: Decision, request: DecisionRequest, spec: EnvironmentSpec) -> None:
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
    for name in ("propensities", "slate_propensities", "group", "fallback", "control_for"):
        value = getattr(decision, name)
        if value is not None and value.shape != (b,):
            raise ValueError(f"policy returned {name} of shape {value.shape}, expected ({b},)")
    slots = decision.slot_propensities
    if slots is not None and slots.shape != actions.shape:
        raise ValueError(
            f"policy returned slot_propensities of shape {slots.shape}, expected {actions.shape}"
        )
