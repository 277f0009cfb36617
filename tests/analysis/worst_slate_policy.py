"""A test-only plugin policy that shows each user the items they like least.

It reads the simulator's truth like the oracle (``needs_oracle``) but picks the k *lowest*
utilities: the adversarial arm that per-decision pseudo-regret mis-ranks (it drives users
away, and sessions that never happen cost it nothing), while long-term value ranks it last.
Loaded through ``{kind: plugin, plugin: "tests.analysis.worst_slate_policy:WorstSlate"}``,
so it never appears in the user-facing policy list.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from recarena.contract import Decision, DecisionRequest, Surface
from recarena.policies.base import Policy, PolicyParams


class WorstSlate(Policy):
    """The k available items of lowest true utility, worst first."""

    class Params(PolicyParams):
        kind: Literal["worst_slate"] = "worst_slate"

    kind = "worst_slate"
    summary = "Test only: the user's least liked items."
    surfaces = frozenset({Surface.SLATE})
    needs_oracle = True

    def _act(self, request: DecisionRequest) -> Decision:
        utilities = self.oracle_.catalogue_utilities(request.users, request.available_items)
        utilities = np.where(np.isfinite(utilities), utilities, np.inf)  # unavailable: never
        k = self.spec_.slate_size
        worst = np.argpartition(utilities, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(utilities, worst, axis=1), axis=1, kind="stable")
        return Decision(actions=np.take_along_axis(worst, order, axis=1))
