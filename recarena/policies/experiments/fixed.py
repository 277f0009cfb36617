"""The fixed-action policy: one arm of a banner or offer A/B test."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from recarena.contract import Decision, DecisionRequest, Surface
from recarena.policies.base import Policy, PolicyParams, campaign_action_index, one_hot
from recarena.policies.registry import register
from recarena.typing import FloatArray

__all__ = ["FixedAction", "FixedActionParams"]


class FixedActionParams(PolicyParams):
    """Parameters of :class:`FixedAction`."""

    kind: Literal["fixed"] = "fixed"
    action: int = Field(
        0,
        ge=-1,
        le=10_000,
        description="variant index (variant surface) or offer index, -1 = no offer (checked "
        "against the world's variants and offers)",
    )


@register
class FixedAction(Policy):
    """Always the same variant (variant surface) or offer (campaign surface).

    The building block of banner A/B tests: ``{kind: fixed, action: 1}`` shows variant 1 to
    everyone. On the campaign surface users not eligible for the offer get no offer (-1).
    Deterministic (propensity 1).
    """

    summary = "Always the same variant or offer (an arm of a banner/offer A/B test)."
    Params = FixedActionParams
    surfaces = frozenset({Surface.VARIANT, Surface.CAMPAIGN})
    params: FixedActionParams

    def _setup(self) -> None:
        a = self.params.action
        if Surface.VARIANT in self.spec_.surfaces and not 0 <= a < self.spec_.n_variants:
            raise ValueError(f"action {a} is not a variant index in [0, {self.spec_.n_variants})")
        if Surface.CAMPAIGN in self.spec_.surfaces and a >= self.spec_.n_offers:
            raise ValueError(f"action {a} is not an offer index in [-1, {self.spec_.n_offers})")

    def _act(self, request: DecisionRequest) -> Decision:
        actions = np.full(request.size, self.params.action, dtype=np.int64)
        a = self.params.action
        if request.surface is Surface.CAMPAIGN and request.eligible is not None and a >= 0:
            actions[~request.eligible[:, a]] = -1
        return Decision(actions=actions, propensities=np.ones(request.size))

    def _action_probabilities(self, request: DecisionRequest) -> FloatArray:
        actions = self._act(request).actions
        if request.surface is Surface.CAMPAIGN:
            return one_hot(campaign_action_index(actions), self.spec_.n_offers + 1)
        return one_hot(actions, self.spec_.n_variants)
