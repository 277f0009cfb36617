"""Arms of a request and credit from feedback: the allocation helpers every bandit shares.

:class:`ArmSpace` maps a request to arms (variants, offers plus an optional "no offer" arm,
or items) and the chosen arms back to a :class:`~recarena.contract.Decision` (campaign
budget, control offers, slate padding); :func:`feedback_credits` turns a feedback batch into
per-arm trials and rewards (:class:`Credits`), cascade or all-shown on slates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from recarena.contract import (
    Decision,
    DecisionRequest,
    EnvironmentSpec,
    Feedback,
    FeedbackKind,
    Surface,
)
from recarena.policies.bandits.slate_propensities import Propensities
from recarena.typing import BoolArray, FloatArray, IntArray

__all__ = ["ArmSpace", "Credits", "count_arms", "feedback_credits"]


def count_arms(spec: EnvironmentSpec, surface: Surface, include_no_offer: bool) -> int:
    if surface is Surface.SLATE:
        return spec.n_items
    if surface is Surface.VARIANT:
        return spec.n_variants
    return spec.n_offers + int(include_no_offer)


@dataclass(frozen=True)
class ArmSpace:
    """The arms of one request: count, slate length, eligibility and the action mapping."""

    surface: Surface
    n_arms: int
    k: int
    batch_size: int
    eligible: BoolArray | None = None
    no_eligible: BoolArray | None = None
    no_offer: int = -1
    slate_size: int = 1
    budget: float = math.inf
    contact_cost: FloatArray | None = None

    @classmethod
    def of(
        cls, request: DecisionRequest, spec: EnvironmentSpec, include_no_offer: bool
    ) -> ArmSpace:
        b = request.size
        if request.surface is Surface.SLATE:
            available = np.asarray(request.available_items, dtype=bool)
            n_available = int(available.sum())
            if n_available == 0:
                raise ValueError("no items are available to recommend")
            k = min(spec.slate_size, n_available)
            return cls(request.surface, spec.n_items, k, b, available, slate_size=spec.slate_size)
        if request.surface is Surface.VARIANT:
            return cls(request.surface, spec.n_variants, 1, b)
        offers = (
            np.ones((b, spec.n_offers), dtype=bool)
            if request.eligible is None
            else np.asarray(request.eligible, dtype=bool)
        )
        if include_no_offer:
            offers = np.hstack([offers, np.ones((b, 1), dtype=bool)])
        return cls(
            request.surface, offers.shape[1], 1, b, offers,
            no_eligible=np.logical_not(offers.any(axis=1)),
            no_offer=spec.n_offers if include_no_offer else -1,
            budget=request.budget,
            contact_cost=np.asarray(spec.offer_contact_cost, dtype=np.float64),
        )  # fmt: skip

    def decision(
        self, chosen: IntArray, propensities: Propensities, rng: np.random.Generator
    ) -> Decision:
        """Map arms to actions. Slates shorter than k (too few items on sale) are padded by
        repeating their last item, as elsewhere in recarena (a padded slot repeats the last
        slot's propensity; the padding adds no choice to the slate's); campaigns go through
        :meth:`_campaign`."""
        first = propensities.first
        if self.surface is Surface.SLATE:
            slots = propensities.slots
            pad = self.slate_size - chosen.shape[1]
            if pad:
                chosen = np.hstack([chosen, np.repeat(chosen[:, -1:], pad, axis=1)])
                slots = np.hstack([slots, np.repeat(slots[:, -1:], pad, axis=1)])
            return Decision(
                actions=chosen,
                propensities=first,
                slot_propensities=slots,
                slate_propensities=propensities.slate,
            )
        actions = chosen[:, 0]
        if self.surface is Surface.VARIANT:
            return Decision(actions=actions, propensities=first)
        return self._campaign(actions, first, rng)

    def _campaign(
        self, arms: IntArray, propensities: FloatArray, rng: np.random.Generator
    ) -> Decision:
        """Campaign actions: "no offer" -> -1; the budget; a control offer for the untreated.

        A user without eligible offers gets -1 with propensity 1. When the contact costs exceed
        the budget, a uniformly random subset of treated users is dropped to -1 (like the
        random baseline); with kept share ρ the propensities become p·ρ for kept offers,
        p + (1-p)(1-ρ) for chosen "no offer", NaN for dropped users. Untreated users serve as
        the control group of a uniformly random eligible offer (``control_for``).
        """
        assert self.eligible is not None and self.no_eligible is not None
        assert self.contact_cost is not None
        actions = np.where((arms == self.no_offer) | self.no_eligible, -1, arms)
        p = np.where(self.no_eligible, 1.0, propensities)
        treated = np.flatnonzero(actions >= 0)
        if math.isfinite(self.budget) and treated.size:
            order = rng.permutation(treated)
            dropped = order[np.cumsum(self.contact_cost[actions[order]]) > self.budget]
            if dropped.size:
                kept = 1.0 - dropped.size / treated.size
                p = np.where(actions >= 0, p * kept, p + (1.0 - p) * (1.0 - kept))
                p[dropped] = np.nan
                actions[dropped] = -1
        offers = self.eligible[:, : self.contact_cost.size]
        n_eligible = offers.sum(axis=1)
        rank = np.floor(rng.random(self.batch_size) * np.maximum(n_eligible, 1))
        control_for = np.argmax(np.cumsum(offers, axis=1) > rank[:, None], axis=1)
        return Decision(actions=actions, propensities=p, control_for=control_for)


@dataclass(frozen=True)
class Credits:
    """Flattened credit of a feedback batch: per credited (record, arm) a trial and a reward."""

    arms: IntArray
    rows: IntArray | None  #: feedback record of each credit (for its features); None: all, in order
    trials: FloatArray | None  #: None: one trial per credit
    rewards: FloatArray

    def delta(self, n_arms: int) -> FloatArray:
        """Per-arm increments of (n, s, q), shape (3, K): one bincount each (no np.add.at),
        and none for q when the rewards are 0/1 (r² = r, so q = s exactly)."""
        arms, rewards = self.arms, self.rewards
        out = np.empty((3, n_arms))
        if self.trials is None:
            out[0] = np.bincount(arms, minlength=n_arms)
        else:
            out[0] = np.bincount(arms, weights=self.trials, minlength=n_arms)
        out[1] = np.bincount(arms, weights=rewards, minlength=n_arms)
        if np.count_nonzero(rewards) == np.count_nonzero(rewards == 1.0):  # binary rewards
            out[2] = out[1]
        else:
            out[2] = np.bincount(arms, weights=rewards * rewards, minlength=n_arms)
        return out

    def features(self, fb: Feedback) -> NDArray[np.floating]:
        """The feature rows of the credited records."""
        features = np.asarray(fb.features)
        return features if self.rows is None else features[self.rows]


def _slate_credits(
    fb: Feedback, reward: Literal["click", "conversion"], credit: Literal["cascade", "all_shown"]
) -> Credits | None:
    if fb.kind is FeedbackKind.CONVERSION and reward == "conversion":
        items = np.asarray(fb.actions, dtype=np.int64).reshape(-1)
        rows = np.arange(items.size)
        revenue = np.asarray(fb.rewards, dtype=np.float64)
        return Credits(items, rows, np.zeros(items.size), revenue)
    if fb.kind is not FeedbackKind.CLICK:
        return None
    slates = np.asarray(fb.actions, dtype=np.int64)
    position = np.arange(slates.shape[1])
    slots = np.zeros((slates.shape[0], slates.shape[1]), dtype=bool)
    clicked_rows, clicked_slots = fb.clicks()  # every click of a session with several
    slots[clicked_rows, clicked_slots] = True
    examined = np.ones(slates.shape, dtype=bool)
    if credit == "cascade":  # slots down to the last click (all of them without a click)
        last = np.where(slots.any(axis=1), slots.shape[1] - 1 - np.argmax(slots[:, ::-1], axis=1),
                        slots.shape[1] - 1)  # fmt: skip
        examined = position <= last[:, None]
    rows, cols = np.nonzero(examined)
    hit = slots[rows, cols].astype(np.float64)
    rewards = hit if reward == "click" else np.zeros_like(hit)
    return Credits(slates[rows, cols], rows.astype(np.int64), None, rewards)


def feedback_credits(
    fb: Feedback,
    n_arms: int,
    *,
    include_no_offer: bool,
    reward: Literal["click", "conversion"] = "click",
    credit: Literal["cascade", "all_shown"] = "cascade",
) -> Credits | None:
    """Turn a feedback batch into per-arm credit, or ``None`` when it is not learnt from."""
    if fb.surface is Surface.SLATE:
        return _slate_credits(fb, reward, credit)
    wanted = FeedbackKind.RESPONSE if fb.surface is Surface.CAMPAIGN else FeedbackKind.CLICK
    if fb.kind is not wanted:
        return None
    arms = np.asarray(fb.actions, dtype=np.int64).reshape(-1)
    rewards = np.asarray(fb.rewards, dtype=np.float64)
    if fb.surface is Surface.CAMPAIGN:
        untreated = arms < 0
        if include_no_offer:
            arms = np.where(untreated, n_arms - 1, arms)
        elif untreated.any():
            rows = np.flatnonzero(~untreated)
            return Credits(arms[rows], rows, None, rewards[rows])
    return Credits(arms, None, None, rewards)
