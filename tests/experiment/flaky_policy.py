"""A plugin policy that fails on its first attempt only, for the executors' retry tests."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from recarena.policies.base import Decision, DecisionRequest, Policy, PolicyParams, Surface


class FailsOnce(Policy):
    """Shows variant 0; the first decision of a run fails while ``marker`` does not exist
    (and creates it), so a retried run succeeds."""

    class Params(PolicyParams):
        kind: Literal["fails_once"] = "fails_once"
        marker: str = Field(description="file created by the failing attempt")

    kind = "fails_once"
    summary = "Fails on its first attempt."
    surfaces = frozenset({Surface.VARIANT})

    def _act(self, request: DecisionRequest) -> Decision:
        try:  # exclusive creation: exactly one run fails, even when runs start together
            Path(self.params.marker).open("x").close()
        except FileExistsError:
            return Decision(actions=np.zeros(request.size, dtype=np.int64))
        raise RuntimeError("transient failure: first attempt")
