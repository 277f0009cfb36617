"""Policies that each break one clause of the contract, to show that its check catches it.

Loaded as plugins (never registered), so the registry the contract suite walks stays the
package's own.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from recarena.contract import Decision, DecisionRequest, Feedback, History, Surface
from recarena.policies.base import Policy, PolicyParams


class _Variant(Policy):
    """Variant-surface skeleton: subclasses choose the actions and propensities."""

    surfaces = frozenset({Surface.VARIANT})

    def _setup(self) -> None:
        self.fits_ = 0

    def _decide(self, request: DecisionRequest) -> Decision:
        raise NotImplementedError

    def _act(self, request: DecisionRequest) -> Decision:
        return self._decide(request)


class LiesAboutRandomness(_Variant):
    """Declares ``randomised = False`` but logs propensity ½."""

    class Params(PolicyParams):
        kind: Literal["lies_about_randomness"] = "lies_about_randomness"

    def _decide(self, request: DecisionRequest) -> Decision:
        actions = self.rng_.integers(self.spec_.n_variants, size=request.size)
        return Decision(actions=actions, propensities=np.full(request.size, 0.5))


class ReadsFeatures(_Variant):
    """Declares ``contextual = False`` but chooses by the sign of the first feature."""

    class Params(PolicyParams):
        kind: Literal["reads_features"] = "reads_features"

    def _decide(self, request: DecisionRequest) -> Decision:
        return Decision(actions=(request.features[:, 0] > 0).astype(np.int64))


class IgnoresItsSeed(_Variant):
    """Draws from a generator of its own (OS entropy) instead of the stream it was given."""

    class Params(PolicyParams):
        kind: Literal["ignores_its_seed"] = "ignores_its_seed"

    randomised = True

    def _setup(self) -> None:
        self.own_ = np.random.default_rng()  # seeded from the OS: not reproducible

    def _decide(self, request: DecisionRequest) -> Decision:
        actions = self.own_.integers(self.spec_.n_variants, size=request.size)
        return Decision(actions=actions, propensities=np.full(request.size, 0.5))


class RefitsDifferently(_Variant):
    """Each fit draws from the advancing stream, so two fits differ from one."""

    class Params(PolicyParams):
        kind: Literal["refits_differently"] = "refits_differently"

    batch_fit = True

    def _fit(self, history: History) -> None:
        self.choice_ = int(self.rng_.integers(self.spec_.n_variants))

    def _decide(self, request: DecisionRequest) -> Decision:
        return Decision(actions=np.full(request.size, getattr(self, "choice_", 0)))


class DoesNotPickle(_Variant):
    """Keeps a lambda in its state."""

    class Params(PolicyParams):
        kind: Literal["does_not_pickle"] = "does_not_pickle"

    online = True

    def _setup(self) -> None:
        self.score_ = lambda n: n % 2

    def _learn(self, feedback: Feedback) -> None:
        pass

    def _decide(self, request: DecisionRequest) -> Decision:
        return Decision(actions=self.score_(request.users).astype(np.int64))


class FirstSlotOnly(Policy):
    """Draws only the first slot of its slates (the rest are the lowest-id other items) but
    logs the first slot's propensity for every slot, as if all were drawn."""

    class Params(PolicyParams):
        kind: Literal["first_slot_only"] = "first_slot_only"

    surfaces = frozenset({Surface.SLATE})
    randomised = True

    def _act(self, request: DecisionRequest) -> Decision:
        items = np.flatnonzero(request.available_items)
        k, b = self.spec_.slate_size, request.size
        first = items[self.rng_.integers(items.size, size=b)]
        rest = np.array([[i for i in items if i != f][: k - 1] for f in first], dtype=np.int64)
        p = np.full(b, 1.0 / items.size)
        return Decision(
            actions=np.column_stack([first, rest]),
            propensities=p,
            slot_propensities=np.tile(p[:, None], (1, k)),
        )
