"""Shared plumbing of the model-based campaign policies: pilot → fit → target.

Every campaign policy built on :class:`CampaignPolicy` (``uplift``, ``nba``, ``lookalike``,
``segment``) runs the same life cycle:

1. **Contact rules.** Before anything else, a user's eligibility for every offer is cut by
   the contact cap (at most ``max_contacts`` offers over the run, counting every offer this
   policy sent) and the suppression window (no new offer within ``suppression_days`` of the
   last one). The policy keeps its own ledger of the offers it sent, as a CRM would.
2. **Randomised pilot.** On the first ``pilot_campaigns`` campaigns — and on any later one for
   which the model has nothing to fit yet — the policy runs
   :func:`recarena.policies.recommenders.heuristics.random_campaign`: each user is treated with
   probability ``pilot_treat_fraction`` with a uniformly drawn eligible offer, propensities
   are logged, untreated users are the control group of a random offer. Those rows are
   ``group`` :data:`GROUP_PILOT`; a pilot forced by a missing model is flagged ``fallback``.
3. **Fit.** ``fit(history)`` (the engine calls it every ``schedule.retrain_every`` days) reads
   ``History.campaigns`` and the other tables and refits the subclass's model. Fit-time
   randomness comes from ``model_seed_``, drawn once at setup, so fitting twice equals
   fitting once.
4. **Target.** The subclass scores a value matrix :math:`V` (B, O) — −inf where an offer is
   ineligible or must not be sent — and the plumbing selects whom to treat:

   * ``selection="rank"``: each user's best offer :math:`o_u = \\arg\\max_o V_{uo}`; users in
     decreasing order of :math:`V_{u o_u}` are treated up to ``target_fraction`` of the
     request (⌈f·B⌉ users) and within ``request.budget`` (contact costs, a user who no longer
     fits is skipped);
   * ``selection="value"``: :math:`V` is a value in currency; one offer or none per user is
     chosen by :func:`recarena.models.targeting.allocate` with ``allocation`` = ``greedy``
     (value per cost), ``lp`` (LP relaxation, rounded, with its optimality gap) or ``milp``
     (exact), under the budget and the ⌈f·B⌉ cap.

   Targeted rows log propensity 1 (a deterministic decision; a random-targeting baseline
   logs each candidate's probability of being treated, or of being left out), ``group``
   :data:`GROUP_TARGETED`, and untreated users are the control group of their best offer,
   so the log's ``true_effect`` for them is the effect the policy chose not to have.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import Field

from recarena.contract import Decision, DecisionRequest, History, Surface
from recarena.models.targeting import allocate, offer_samples, take_in_order
from recarena.policies.base import Policy, PolicyParams
from recarena.policies.recommenders.heuristics import random_campaign
from recarena.typing import BoolArray, FloatArray, IntArray

__all__ = [
    "GROUP_PILOT",
    "GROUP_TARGETED",
    "CampaignParams",
    "CampaignPolicy",
    "ContactLedger",
    "ValueCampaignParams",
    "fit_offer_models",
    "history_features",
]


#: ``group`` logged with randomised pilot decisions.
GROUP_PILOT = 0
#: ``group`` logged with model-targeted decisions.
GROUP_TARGETED = 1


class CampaignParams(PolicyParams):
    """Parameters shared by every :class:`CampaignPolicy` (subclasses add ``kind`` and theirs)."""

    pilot_campaigns: int = Field(
        1, ge=0, le=100, description="first campaigns run as a randomised pilot"
    )
    pilot_treat_fraction: float = Field(
        0.5, gt=0, lt=1, description="share of users treated in a pilot campaign"
    )
    target_fraction: float | None = Field(
        0.2, gt=0, le=1, description="treat at most this share of the users of a campaign"
    )
    max_contacts: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description="at most this many offers per user over the run (None = no cap)",
    )
    suppression_days: float = Field(
        0.0, ge=0, le=3650, description="no new offer within this many days of the last one"
    )


class ValueCampaignParams(CampaignParams):
    """:class:`CampaignParams` of a policy whose scores are values in currency."""

    allocation: Literal["greedy", "lp", "milp"] = Field(
        "greedy",
        description="budget allocation: greedy by value per cost, LP relaxation with "
        "rounding (optimality gap logged), or exact MILP",
    )


class ContactLedger:
    """The offers a policy has sent: per user, how many and when the last one was.

    Arrays indexed by user id, grown on demand (user ids are dense, ``0 … n − 1``).
    """

    def __init__(self) -> None:
        self.count = np.zeros(0, dtype=np.int64)
        self.last = np.zeros(0, dtype=np.float64)

    def _grow(self, n: int) -> None:
        if n > self.count.size:
            extra = n - self.count.size
            self.count = np.concatenate([self.count, np.zeros(extra, dtype=np.int64)])
            self.last = np.concatenate([self.last, np.full(extra, -np.inf)])

    def allowed(
        self, users: IntArray, t: float, max_contacts: int | None, suppression: float
    ) -> BoolArray:
        """Users the contact cap and the suppression window still allow to contact, (B,)."""
        self._grow(int(users.max()) + 1 if users.size else 0)
        ok = np.ones(users.size, dtype=bool)
        if max_contacts is not None:
            ok &= self.count[users] < max_contacts
        if suppression > 0:
            ok &= t - self.last[users] >= suppression - 1e-9
        return ok

    def record(self, users: IntArray, t: float, actions: IntArray) -> None:
        """Note the offers just sent (``actions ≥ 0``)."""
        sent = users[actions >= 0]
        self._grow(int(users.max()) + 1 if users.size else 0)
        self.count[sent] += 1
        self.last[sent] = t


def history_features(history: History, users: NDArray[Any]) -> FloatArray:
    """Encoded features of ``users`` from ``History.user_features``, float64 (n, F)."""
    frame = history.user_features
    return np.asarray(frame.reindex(np.asarray(users)).to_numpy(dtype=np.float64))


def campaign_log(history: History) -> pd.DataFrame:
    """``History.campaigns`` with a clean integer index (empty frame when nothing logged)."""
    return history.campaigns.reset_index(drop=True)


#: Fewer rows per arm than this and an offer's model is not fitted (the offer is not scored).
MIN_ROWS_PER_ARM = 20


def fit_offer_models(
    history: History,
    n_offers: int,
    build: Any,
    rows: Literal["randomised", "all"],
    arms: Literal["both", "treated"],
) -> dict[int, Any]:
    """Fit one model per offer on its campaign-log sample; offers with too little data skipped.

    Parameters
    ----------
    history
        The logged history.
    n_offers
        Number of offers.
    build
        ``build(X, t, y) -> fitted model`` for one offer's sample.
    rows
        ``"randomised"``: pilot rows only (unconfounded); ``"all"``: every logged row.
    arms
        ``"both"``: treated and control rows (uplift learners, both arms need
        :data:`MIN_ROWS_PER_ARM` rows); ``"treated"``: treated rows only (response models).
    """
    log = campaign_log(history)
    if len(log) == 0:
        return {}
    offer = log["offer"].to_numpy()
    control_for = log["control_for"].to_numpy()
    propensity = log["propensity"].to_numpy(dtype=np.float64)
    responded = log["responded"].to_numpy(dtype=np.float64)
    users = log["user"].to_numpy()
    models: dict[int, Any] = {}
    for o in range(n_offers):
        index, t = offer_samples(offer, control_for, propensity, o, rows)
        if arms == "treated":
            index, t = index[t == 1], t[t == 1]
        n_treated = int(t.sum())
        n_control = int(t.size - n_treated)
        if n_treated < MIN_ROWS_PER_ARM or (arms == "both" and n_control < MIN_ROWS_PER_ARM):
            continue
        y = responded[index]
        if arms == "treated" and np.unique(y).size < 2:
            continue
        models[o] = build(history_features(history, users[index]), t, y)
    return models


class CampaignPolicy(Policy):
    """Base of the model-based campaign policies (life cycle in the module docstring).

    Subclasses implement :meth:`_fit_model` (called single-threaded by :meth:`_fit`),
    :meth:`_ready` and :meth:`_values`, and choose ``selection``.
    """

    surfaces = frozenset({Surface.CAMPAIGN})
    batch_fit = True
    contextual = True
    randomised = True
    params: CampaignParams
    #: How :meth:`_values` is read: ``"rank"`` (scores) or ``"value"`` (currency).
    selection: Literal["rank", "value"] = "rank"

    def _setup(self) -> None:
        # One seed for every model fit, fixed here so fit twice = fit once.
        self.model_seed_ = int(self.rng_.integers(0, 2**31 - 1))
        self.ledger_ = ContactLedger()
        self.allocations_: list[dict[str, float]] = []
        self._setup_model()

    def _setup_model(self) -> None:
        """Reset the subclass's model state (called on every setup)."""

    def _fit(self, history: History) -> None:
        # Single-threaded BLAS/OpenMP: the models are small, and several runs may share the
        # cores (thread start-up and oversubscription would dominate the fit).
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            self._fit_model(history)

    @abstractmethod
    def _fit_model(self, history: History) -> None:
        """Refit the subclass's model from the logged history."""

    # ------------------------------------------------------------------ acting
    def _act(self, request: DecisionRequest) -> Decision:
        return self._campaign(request)

    def _campaign(self, request: DecisionRequest) -> Decision:
        p = self.params
        assert request.eligible is not None
        ok = self.ledger_.allowed(request.users, request.t, p.max_contacts, p.suppression_days)
        allowed = replace(request, eligible=request.eligible & ok[:, None])
        b = request.size
        pilot = request.campaign < p.pilot_campaigns
        if pilot or not self._ready():
            decision = random_campaign(
                self.rng_, allowed, p.pilot_treat_fraction, self.spec_.offer_contact_cost
            )
            decision.group = np.full(b, GROUP_PILOT, dtype=np.int64)
            decision.fallback = np.full(b, not pilot)
        else:
            decision = self._target(allowed)
        self.ledger_.record(request.users, request.t, decision.actions)
        return decision

    def _ready(self) -> bool:
        """Whether the model can target (otherwise the campaign is a randomised pilot)."""
        return False

    def _target(self, request: DecisionRequest) -> Decision:
        assert request.eligible is not None
        values = np.where(request.eligible, self._values(request), -np.inf)
        b = request.size
        cap = self._max_treated(b)
        costs = self.spec_.offer_contact_cost
        best = np.argmax(values, axis=1).astype(np.int64) if b else np.zeros(0, np.int64)
        propensities = np.ones(b)
        if self.selection == "value":
            assert isinstance(self.params, ValueCampaignParams)
            result = allocate(self.params.allocation, values, costs, request.budget, cap)
            actions = result.actions
            self.allocations_.append(
                {
                    "campaign": float(request.campaign),
                    "value": result.value,
                    "bound": result.bound,
                    "gap": result.gap,
                    "treated": float((actions >= 0).sum()),
                }
            )
        else:
            priority = values[np.arange(b), best]
            users = np.flatnonzero(np.isfinite(priority))
            order = users[np.lexsort((users, -priority[users]))]
            take = take_in_order(order, costs[best], request.budget, cap)
            actions = np.full(b, -1, dtype=np.int64)
            actions[take] = best[take]
            if self._random_priority() and users.size:
                # A uniformly random order treats each candidate with probability
                # (treated / candidates); the others are left out with the complement.
                share = take.size / users.size
                propensities[users] = np.where(actions[users] >= 0, share, 1.0 - share)
        return Decision(
            actions=actions,
            propensities=propensities,
            group=np.full(b, GROUP_TARGETED, dtype=np.int64),
            fallback=self._fallback_mask(request),
            control_for=best,
        )

    def _random_priority(self) -> bool:
        """Whether :meth:`_values` ranks users in a uniformly random order (a random-targeting
        baseline): its decisions then log the probability of being treated, not 1."""
        return False

    def _max_treated(self, b: int) -> int | None:
        """Cap on users treated in a campaign of ``b`` users: ⌈target_fraction · b⌉."""
        if self.params.target_fraction is None:
            return None
        return math.ceil(round(self.params.target_fraction * b, 9))

    def _fallback_mask(self, request: DecisionRequest) -> BoolArray:
        """Users the model could not personalise for (logged as ``fallback``)."""
        return np.zeros(request.size, dtype=bool)

    @abstractmethod
    def _values(self, request: DecisionRequest) -> FloatArray:
        """(B, O) scores (``rank``) or values (``value``); −inf = never send."""
