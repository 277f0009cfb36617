"""The mutable state of a running simulation (what changes while time passes).

Kept apart from the static :class:`~recarena.simulator.world.World` so a world can be shared
by every arm of a comparison while each arm evolves its own state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from recarena.simulator.world import World

__all__ = ["SimState"]


@dataclass
class SimState:
    """Per-user and per-item state, struct-of-arrays.

    Attributes
    ----------
    t : current time (days)
    preference : (n, d) float32 — θ_u(t), drifting
    satisfaction : (n,) float — s_u
    alive : (n,) bool — has not churned (a user who has not joined yet is alive)
    next_session : (n,) float — time of the user's next session (inf once churned)
    session_count : (n,) int32 — sessions so far (the CRN counter)
    recent_items : (n, R) int32 — ring of recently consumed items (−1 = empty)
    recent_pos : (n,) int16 — next write position in the ring
    retention_multiplier : (n,) float — churn-hazard multiplier from retention offers
    retention_until : (n,) float — when that multiplier expires
    variant_logit : (K,) float — current variant intercepts (switch at the shift day)
    satiation : (n, G) float — per-category satiation σ_ug (one column when satiation is off)
    conversion_lift, activity_lift : (n,) float — a contact's lift of the conversion logit
        and of the log visit rate (campaign → session coupling), until ``lift_until``
    """

    t: float
    preference: NDArray[np.float32]
    satisfaction: NDArray[np.float64]
    alive: NDArray[np.bool_]
    next_session: NDArray[np.float64]
    session_count: NDArray[np.int32]
    recent_items: NDArray[np.int32]
    recent_pos: NDArray[np.int16]
    retention_multiplier: NDArray[np.float64]
    retention_until: NDArray[np.float64]
    variant_logit: NDArray[np.float64]
    satiation: NDArray[np.float64]
    conversion_lift: NDArray[np.float64]
    activity_lift: NDArray[np.float64]
    lift_until: NDArray[np.float64]

    @classmethod
    def initial(cls, world: World, memory: int, satiation_columns: int = 1) -> SimState:
        """State at t = 0: everyone alive and neutral, no sessions scheduled yet.

        ``satiation_columns``: one per item category when satiation is on, else 1 (unused).
        """
        n = world.n_users
        return cls(
            t=0.0,
            preference=world.users.preference.copy(),
            satisfaction=np.zeros(n),
            alive=np.ones(n, dtype=bool),
            next_session=np.full(n, np.inf),
            session_count=np.zeros(n, dtype=np.int32),
            recent_items=np.full((n, max(memory, 1)), -1, dtype=np.int32),
            recent_pos=np.zeros(n, dtype=np.int16),
            retention_multiplier=np.ones(n),
            retention_until=np.zeros(n),
            variant_logit=world.variants.logit.copy(),
            satiation=np.zeros((n, satiation_columns)),
            conversion_lift=np.zeros(n),
            activity_lift=np.zeros(n),
            lift_until=np.zeros(n),
        )

    def joined(self, world: World) -> NDArray[np.bool_]:
        """Users who have arrived by ``t``."""
        return world.users.join_time <= self.t

    def active(self, world: World) -> NDArray[np.bool_]:
        """Users who have arrived and not churned."""
        return self.alive & self.joined(world)
