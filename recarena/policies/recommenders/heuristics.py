"""Baseline heuristics: uniformly random actions and item popularity."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from recarena.contract import Decision, DecisionRequest, Feedback, FeedbackKind, Surface
from recarena.policies.base import Policy, PolicyParams
from recarena.policies.recommenders.slates import explore, random_slate_decision, ranked_items
from recarena.policies.registry import register
from recarena.typing import IntArray

__all__ = ["PopularityPolicy", "RandomPolicy", "random_campaign"]


def random_campaign(
    rng: np.random.Generator,
    request: DecisionRequest,
    treat_fraction: float,
    contact_cost: NDArray[np.float64],
) -> Decision:
    """A randomised campaign: each user is treated with probability q, with an offer drawn
    uniformly among those eligible, and kept within budget by dropping a random subset.

    Propensity of the logged action: q / (number of eligible offers) for a treated user,
    1 − q for a control user. Budget truncation lowers the realised q for everyone equally
    (random order), so relative propensities stay right; the recorded values are scaled by
    the kept share.
    """
    assert request.eligible is not None
    b = request.size
    n_eligible = request.eligible.sum(axis=1)
    treated = (rng.random(b) < treat_fraction) & (n_eligible > 0)
    # Uniform among eligible offers: pick the j-th eligible by a uniform rank.
    rank = np.floor(rng.random(b) * np.maximum(n_eligible, 1)).astype(np.int64)
    cum = np.cumsum(request.eligible, axis=1)
    offer = np.argmax(cum > rank[:, None], axis=1)
    actions = np.where(treated, offer, -1).astype(np.int64)
    kept_share = 1.0
    if np.isfinite(request.budget) and treated.any():
        order = rng.permutation(np.flatnonzero(treated))
        spend = np.cumsum(contact_cost[actions[order]])
        drop = order[spend > request.budget]
        actions[drop] = -1
        kept_share = 1.0 - drop.size / order.size
    q = treat_fraction * kept_share
    propensity = np.where(actions >= 0, q / np.maximum(n_eligible, 1), 1.0 - q)
    # A control user is the control of the eligible offer drawn for them, so each offer's
    # treated and control groups are one randomised split of that offer's eligible users.
    control_for = offer
    return Decision(actions=actions, propensities=propensity, control_for=control_for)


@register
class RandomPolicy(Policy):
    """Uniformly random slates, variants or offers — the no-knowledge baseline."""

    class Params(PolicyParams):
        kind: Literal["random"] = "random"
        treat_fraction: float = Field(
            0.5, ge=0, le=1, description="campaign surface: share of users sent an offer"
        )

    summary = "Uniformly random slates, variants or offers (randomised pilot on campaigns)."
    surfaces = frozenset({Surface.SLATE, Surface.VARIANT, Surface.CAMPAIGN})
    randomised = True
    params: Params

    def _act(self, request: DecisionRequest) -> Decision:
        b = request.size
        if request.surface is Surface.SLATE:
            candidates = np.flatnonzero(request.available_items)
            return random_slate_decision(self.rng_, candidates, b, self.spec_.slate_size)
        if request.surface is Surface.VARIANT:
            k = self.spec_.n_variants
            return Decision(actions=self.rng_.integers(0, k, b), propensities=np.full(b, 1.0 / k))
        return random_campaign(
            self.rng_, request, self.params.treat_fraction, self.spec_.offer_contact_cost
        )

    def _action_probabilities(self, request: DecisionRequest) -> NDArray[np.float64]:
        if request.surface is Surface.VARIANT:
            k = self.spec_.n_variants
            return np.full((request.size, k), 1.0 / k)
        if request.surface is Surface.SLATE:
            # Every available item is equally likely in every slot.
            available = request.available_items.astype(np.float64)
            per_slot = available / available.sum()
            return np.broadcast_to(per_slot, (request.size, self.spec_.slate_size, per_slot.size))
        raise NotImplementedError(
            "policy 'random' reports its action distribution on the variant and slate "
            "surfaces, not on campaigns (its budget truncation is random)"
        )


@register
class PopularityPolicy(Policy):
    """Most-clicked (or most-bought) items first, over all time or a recent window, learnt
    online.

    Score of item i at time t: the number of clicks on i (purchases with
    ``signal: conversions``) in (t − W, t] (all time when ``window_days`` is None), or with
    ``half_life`` an exponentially decayed count Σ 2^{−(t − t_c)/h}. Ties by lower item id.
    With probability ``epsilon`` a user gets a random slate instead (propensities logged).
    Counting purchases ranks items by what happens after the click: in a world where
    conversion depends on quality (``conversion_quality``) it demotes clickbait.
    """

    class Params(PolicyParams):
        kind: Literal["popularity"] = "popularity"
        window_days: float | None = Field(
            None, gt=0, le=3650, description="count clicks over the last W days (None = all time)"
        )
        half_life: float | None = Field(
            None,
            ge=0.001,
            le=3650,
            description="exponential decay half-life in days (instead of a window; below "
            "0.001 the decay underflows)",
        )
        epsilon: float = Field(0.0, ge=0, le=1, description="share of random slates")
        signal: Literal["clicks", "conversions"] = Field(
            "clicks", description="count clicks, or purchases (slate surface)"
        )

    kind = "popularity"
    summary = "Most-clicked or most-bought items (all time, window or decayed), ε-exploration."
    surfaces = frozenset({Surface.SLATE, Surface.VARIANT})
    online = True
    randomised = True
    params: Params

    def _setup(self) -> None:
        n = self.spec_.n_items if Surface.SLATE in self.spec_.surfaces else self.spec_.n_variants
        self.counts_ = np.zeros(n)
        self.recent_: list[tuple[float, IntArray]] = []
        self.last_t_ = 0.0

    def _scores(self, t: float) -> NDArray[np.float64]:
        window = self.params.window_days
        if window is None:
            return self.counts_
        scores = np.zeros_like(self.counts_)
        self.recent_ = [(tc, items) for tc, items in self.recent_ if tc > t - window]
        for _, items in self.recent_:
            scores += np.bincount(items, minlength=scores.size)
        return scores

    def _act(self, request: DecisionRequest) -> Decision:
        b = request.size
        scores = self._scores(request.t)
        if request.surface is Surface.VARIANT:
            arm = int(np.argmax(scores))
            actions = np.full(b, arm)
            explored = self.rng_.random(b) < self.params.epsilon
            actions[explored] = self.rng_.integers(0, scores.size, int(explored.sum()))
            eps = self.params.epsilon
            propensity = (1 - eps) * (actions == arm) + eps / scores.size
            return Decision(
                actions=actions, propensities=propensity, group=explored.astype(np.int64)
            )
        k = self.spec_.slate_size
        ranked = ranked_items(scores, request.available_items)
        top = ranked[:k]
        if top.size < k:
            top = np.concatenate([top, np.repeat(top[-1:], k - top.size)])
        slates = np.broadcast_to(top, (b, k)).copy()
        return explore(self.rng_, slates, ranked, self.params.epsilon).decision()

    def _learn(self, feedback: Feedback) -> None:
        purchases = self.params.signal == "conversions"
        if feedback.kind is not (FeedbackKind.CONVERSION if purchases else FeedbackKind.CLICK):
            return
        clicked = feedback.rewards > 0
        if purchases:  # one purchase of item ``actions`` per row
            items = feedback.actions
        elif feedback.surface is Surface.SLATE:  # every click of a session with several
            rows, slots = feedback.clicks()
            items = feedback.actions[rows, slots]
        else:
            items = feedback.actions[clicked]
        items = items.astype(np.int64)
        if self.params.half_life is not None:
            decay = 0.5 ** ((feedback.t - self.last_t_) / self.params.half_life)
            self.counts_ *= decay
            self.last_t_ = feedback.t
        self.counts_ += np.bincount(items, minlength=self.counts_.size)
        if self.params.window_days is not None:
            self.recent_.append((feedback.t, items))
