"""The online bandit skeleton every bandit policy derives from.

:class:`Bandit` owns what is not the algorithm: per-surface state, feedback buffering and
refreshes, and the decision pipeline request → :class:`~.arms.ArmSpace` → arms and
propensities → :class:`~recarena.contract.Decision`. A family states its statistics
(``_new_state``, ``_absorb``) and its decision (``_decide``).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import ClassVar, Generic, TypeVar

import numpy as np

from recarena.contract import Decision, DecisionRequest, Feedback, Surface
from recarena.policies.bandits.arms import ArmSpace, Credits, count_arms, feedback_credits
from recarena.policies.bandits.params import BanditParams
from recarena.policies.bandits.propensities import (
    Draw,
    monte_carlo_propensity,
    tie_propensity,
)
from recarena.policies.bandits.selection import Selection
from recarena.policies.bandits.slate_propensities import (
    Propensities,
    monte_carlo_slot_propensities,
)
from recarena.policies.base import Policy
from recarena.typing import BoolArray, IntArray

__all__ = ["Bandit", "child_generator"]


def child_generator(rng: np.random.Generator) -> np.random.Generator:
    """An independent stream spawned from the policy's generator (used for Monte Carlo
    propensities, so estimating them never changes the actions)."""
    return rng.spawn(1)[0]


S = TypeVar("S")


class Bandit(Policy, Generic[S]):
    """Online bandit skeleton: per-surface state, feedback buffering, the decision pipeline."""

    surfaces: ClassVar[frozenset[Surface]] = frozenset(Surface)
    online: ClassVar[bool] = True
    randomised: ClassVar[bool] = True
    params: BanditParams

    def _setup(self) -> None:
        self.aux_rng_ = child_generator(self.rng_)
        self.pending_: list[Feedback] = []
        self.next_refresh_ = self.params.refresh_every
        self.n_arms_: dict[Surface, int] = {}
        self.state_: dict[Surface, S] = {}
        for surface in sorted(self.spec_.surfaces & self.surfaces):
            n_arms = count_arms(self.spec_, surface, self.params.include_no_offer)
            if n_arms < 1:
                raise ValueError(f"surface {surface} has no arms in this environment")
            self.n_arms_[surface] = n_arms
            self.state_[surface] = self._new_state(n_arms)

    def _learn(self, feedback: Feedback) -> None:
        if self.params.refresh_every > 0:
            self.pending_.append(feedback)
            self._refresh(feedback.t)
        else:  # nothing is ever buffered: apply at once
            self._apply(feedback)

    def _refresh(self, t: float) -> None:
        """Apply the buffered feedback once ``t`` reaches the next refresh time."""
        every = self.params.refresh_every
        if every <= 0 or t < self.next_refresh_:
            return
        pending, self.pending_ = self.pending_, []
        for fb in pending:  # buffered deliveries, each applied as one vectorised batch
            self._apply(fb)
        self.next_refresh_ = (math.floor(t / every) + 1) * every

    def _apply(self, fb: Feedback) -> None:
        """Fold one feedback batch into the statistics of its surface."""
        if fb.surface in self.state_:
            credits = self._credits(fb, self.n_arms_[fb.surface])
            if credits is not None and credits.arms.size:
                self._absorb(self.state_[fb.surface], credits, fb)

    def _act(self, request: DecisionRequest) -> Decision:
        if request.surface not in self.state_:
            raise ValueError(f"surface {request.surface} is not in the environment spec")
        self._refresh(request.t)
        space = ArmSpace.of(request, self.spec_, self.params.include_no_offer)
        chosen, logged = self._decide(self.state_[request.surface], space, request)
        return space.decision(chosen, logged, self.rng_)

    # ------------------------------------------------------------------ per family
    @abstractmethod
    def _new_state(self, n_arms: int) -> S:
        """Empty statistics for ``n_arms`` arms."""

    def _credits(self, fb: Feedback, n_arms: int) -> Credits | None:
        return feedback_credits(fb, n_arms, include_no_offer=self.params.include_no_offer)

    @abstractmethod
    def _absorb(self, state: S, credits: Credits, fb: Feedback) -> None:
        """Add the credited feedback to the statistics."""

    @abstractmethod
    def _decide(
        self, state: S, space: ArmSpace, request: DecisionRequest
    ) -> tuple[IntArray, Propensities]:
        """Arms (B, k) and their propensities (per slot on slates) for the request."""

    def _selection(self, space: ArmSpace) -> Selection:
        return {"k": space.k, "eligible": space.eligible, "tie_break": self.params.tie_break}

    def _sampled_propensities(
        self,
        draw: Draw,
        chosen: IntArray,
        space: ArmSpace,
        n_samples: int,
        *,
        shared: bool,
        forced: BoolArray | None = None,
    ) -> Propensities:
        """Monte Carlo propensities drawn from the auxiliary stream: of the chosen arm (k = 1;
        ``forced`` first arms are exact) or of every slot's (slates; the whole slate's is not
        computable, logged NaN)."""
        tie = self.params.tie_break
        if space.k > 1:
            slots = monte_carlo_slot_propensities(
                draw, chosen, n_samples, space.n_arms, eligible=space.eligible,
                forced=forced, tie_break=tie, shared=shared,
            )  # fmt: skip
            return Propensities(slots)
        first = chosen[:, 0]
        prop = monte_carlo_propensity(
            draw, first, n_samples, space.n_arms, eligible=space.eligible, shared=shared
        )
        if forced is not None and n_samples and forced.any():
            # A forced first arm is exact: 1/#forced eligible arms (random ties) or 1.
            exact = tie_propensity(
                forced.astype(np.float64), first, eligible=space.eligible, tie_break=tie
            )
            prop = np.where(forced[first], exact, prop)
        return Propensities.first_only(prop)
