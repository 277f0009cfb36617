"""Policies that act on the simulator's truth: the oracle (the myopic optimum, the upper
bound every arm's expected reward is measured against) and the long-term reference. They
are the only policies that declare ``needs_oracle``."""

from __future__ import annotations

from typing import Literal

import numpy as np

from recarena.contract import Decision, DecisionRequest, Surface
from recarena.policies.base import Policy, PolicyParams, campaign_action_index, one_hot
from recarena.policies.registry import register

__all__ = ["LongTermReferencePolicy", "OraclePolicy", "greedy_budget"]


def greedy_budget(gain: np.ndarray, cost: np.ndarray, budget: float) -> np.ndarray:
    """Boolean mask of rows to keep: highest gain-per-cost first while the budget lasts.

    Only rows with positive gain are considered. Zero-cost rows come first.
    """
    keep = np.zeros(gain.shape[0], dtype=bool)
    positive = np.flatnonzero(gain > 0)
    if not np.isfinite(budget):
        keep[positive] = True
        return keep
    ratio = np.where(
        cost[positive] > 0, gain[positive] / np.maximum(cost[positive], 1e-300), np.inf
    )
    order = positive[np.lexsort((positive, -ratio))]
    within = np.cumsum(cost[order]) <= budget + 1e-9
    keep[order[within]] = True
    return keep


@register
class OraclePolicy(Policy):
    """Best slate, best variant, or the offer with the highest true incremental NPV."""

    class Params(PolicyParams):
        kind: Literal["oracle"] = "oracle"

    summary = "Upper bound: acts on the simulator's ground truth (never a real policy)."
    surfaces = frozenset({Surface.SLATE, Surface.VARIANT, Surface.CAMPAIGN})
    needs_oracle = True
    contextual = True

    def _act(self, request: DecisionRequest) -> Decision:
        oracle = self.oracle_
        users = request.users
        if request.surface is Surface.SLATE:
            slates, _ = oracle.best_slates(users, request.available_items)
            return Decision(actions=slates)
        if request.surface is Surface.VARIANT:
            probs = oracle.variant_click_probabilities(users)
            return Decision(actions=np.argmax(probs, axis=1))
        value = oracle.offer_incremental_npv(users)
        assert request.eligible is not None
        value = np.where(request.eligible, value, -np.inf)
        best = np.argmax(value, axis=1)
        gain = value[np.arange(users.size), best]
        keep = greedy_budget(gain, self.spec_.offer_contact_cost[best], request.budget)
        return Decision(actions=np.where(keep, best, -1).astype(np.int64))

    def _action_probabilities(self, request: DecisionRequest) -> np.ndarray:
        # Deterministic: all mass on the action it takes.
        actions = self._act(request).actions
        if request.surface is Surface.SLATE:
            out = np.zeros((request.size, self.spec_.slate_size, self.spec_.n_items))
            rows = np.arange(request.size)[:, None]
            out[rows, np.arange(self.spec_.slate_size), actions] = 1.0
            return out
        if request.surface is Surface.CAMPAIGN:
            return one_hot(campaign_action_index(actions), self.spec_.n_offers + 1)
        return one_hot(actions, self.spec_.n_variants)


@register
class LongTermReferencePolicy(Policy):
    """Slates of the highest quality-weighted appeal exp(u/T)·q_i, from the simulator's truth.

    The myopic oracle maximises P(click) now; this reference trades some of it for the
    quality of what is consumed, which is what keeps users under
    ``satisfaction_signal: quality`` (see
    :meth:`recarena.simulator.oracle.OracleView.long_term_slates`). A reference, not an
    optimum.
    """

    class Params(PolicyParams):
        kind: Literal["long_term_reference"] = "long_term_reference"

    kind = "long_term_reference"
    summary = "Long-term reference: quality-weighted best slates from the simulator's truth."
    surfaces = frozenset({Surface.SLATE})
    needs_oracle = True
    contextual = True

    def _act(self, request: DecisionRequest) -> Decision:
        return Decision(
            actions=self.oracle_.long_term_slates(request.users, request.available_items)
        )
