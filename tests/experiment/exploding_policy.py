"""A plugin policy that fails on purpose, for the runner's failure-path tests."""

from __future__ import annotations

from typing import Literal

from recarena.contract import Decision, DecisionRequest, Surface
from recarena.policies.base import Policy, PolicyParams


class Exploding(Policy):
    """Raises on its first decision."""

    class Params(PolicyParams):
        kind: Literal["exploding"] = "exploding"

    kind = "exploding"
    summary = "Fails on purpose."
    surfaces = frozenset({Surface.SLATE})

    def _act(self, request: DecisionRequest) -> Decision:
        raise RuntimeError("boom: this policy always fails")
