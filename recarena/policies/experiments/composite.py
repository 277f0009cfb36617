"""Policies made of sub-policies: validation, request splitting, decision assembly, routing.

A composite builds each sub-policy from an ordinary policy config (``{name, policy: {kind:
..., ...}}``) with its own random stream, cuts a request into one sub-request per sub-policy
(a loop over the K sub-policies, never over decisions), logs the serving sub-policy as
``Decision.group`` and the propensity of the (sub-policy, action) pair, and routes each
feedback record back to the sub-policy whose decision produced it.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, ValidationError, field_validator

from recarena.contract import Decision, DecisionRequest, Feedback, FeedbackKind, History, Surface
from recarena.policies import registry
from recarena.policies.base import Policy, PolicyParams
from recarena.typing import ClosedModel, FloatArray, IntArray

__all__ = [
    "Composite",
    "CompositeParams",
    "PolicyVariant",
    "checked_policy",
    "grow",
    "subset_feedback",
]


def checked_policy(config: dict[str, Any]) -> type[Policy]:
    """Validate a sub-policy config against the registry; ValueError with a readable reason."""
    try:
        policy_cls, _ = registry.parse_params(config)
    except registry.UnknownPolicyError as exc:
        raise ValueError(str(exc)) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"invalid sub-policy {config.get('kind')!r}: {problems}") from None
    if policy_cls.needs_oracle:
        raise ValueError(f"sub-policy {policy_cls.kind!r} needs the oracle; not allowed here")
    return policy_cls


class PolicyVariant(ClosedModel):
    """A named sub-policy of an experiment: ``{name, policy: {kind: ..., ...}}``."""

    name: str = Field(min_length=1, max_length=64, description="variant name shown in reports")
    policy: dict[str, Any] = Field(description="the sub-policy's config {kind: ..., ...}")

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, value: dict[str, Any]) -> dict[str, Any]:
        checked_policy(value)
        return value


class CompositeParams(PolicyParams):
    @staticmethod
    def _distinct(variants: Sequence[PolicyVariant]) -> None:
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be distinct, got {names}")


def grow(values: NDArray[Any], size: int, fill: float) -> NDArray[Any]:
    """``values`` extended with ``fill`` to at least ``size`` entries (doubling)."""
    if size <= values.size:
        return values
    out = np.full(max(size, 2 * values.size), fill, dtype=values.dtype)
    out[: values.size] = values
    return out


def subset_feedback(fb: Feedback, rows: IntArray, propensities: FloatArray | None) -> Feedback:
    """The records ``rows`` of a feedback batch, with the given propensities."""

    def take(values: NDArray[Any] | None) -> NDArray[Any] | None:
        return None if values is None else values[rows]

    return Feedback(
        kind=fb.kind,
        surface=fb.surface,
        t=fb.t,
        users=fb.users[rows],
        actions=fb.actions[rows],
        rewards=fb.rewards[rows],
        features=fb.features[rows],
        clicked_position=take(fb.clicked_position),
        propensities=propensities,
        decision_time=take(fb.decision_time),
    )


def _slate_propensities(part: Decision) -> tuple[FloatArray | float, FloatArray | float]:
    """A sub-policy's per-slot and whole-slate propensities: 1 for a deterministic one (it
    logs none), NaN where a randomised one does not know them."""
    if part.propensities is None:
        return 1.0, 1.0
    slots, slate = part.slot_propensities, part.slate_propensities
    return (np.nan if slots is None else slots), (np.nan if slate is None else slate)


class Composite(Policy):
    """A policy made of sub-policies: request splitting, decision assembly, feedback routing."""

    surfaces: ClassVar[frozenset[Surface]] = frozenset(Surface)
    online: ClassVar[bool] = True
    batch_fit: ClassVar[bool] = True
    contextual: ClassVar[bool] = True
    randomised: ClassVar[bool] = True
    per_decision_propensities: ClassVar[bool] = False  # (sub-policy, action) pairs

    @abstractmethod
    def _variants(self) -> list[PolicyVariant]:
        """The sub-policies this experiment allocates among, in order."""

    def _setup(self) -> None:
        variants = self._variants()
        streams = self.rng_.spawn(len(variants) + 1)
        self.aux_rng_ = streams[0]
        self.subs_: list[Policy] = []
        for variant, stream in zip(variants, streams[1:], strict=True):
            sub = registry.make(variant.policy)
            sub.setup(self.spec_, stream)
            self.subs_.append(sub)

    @property
    def variant_names(self) -> list[str]:
        """Names of the sub-policies, in index order."""
        return [v.name for v in self._variants()]

    def _fit(self, history: History) -> None:
        for sub in self.subs_:
            sub.fit(history)

    def _dispatch(self, request: DecisionRequest, routes: IntArray, weight: FloatArray) -> Decision:
        """Let sub-policy k act on the users routed to it; ``weight`` = P(route) per user."""
        b = request.size
        shape = (b, self.spec_.slate_size) if request.surface is Surface.SLATE else (b,)
        actions = np.zeros(shape, dtype=np.int64)
        propensities = np.ones(b)
        # slates: each slot's and the whole slate's, NaN where a sub-policy does not know them
        slots = np.full(shape, np.nan) if request.surface is Surface.SLATE else None
        slate = np.full(b, np.nan) if slots is not None else None
        fallback = np.zeros(b, dtype=bool)
        control_for = np.zeros(b, dtype=np.int64)
        for k, sub in enumerate(self.subs_):  # one sub-request per sub-policy
            rows = np.flatnonzero(routes == k)
            if rows.size == 0:
                continue
            sub_request = dataclasses.replace(
                request,
                users=request.users[rows],
                features=request.features[rows],
                eligible=None if request.eligible is None else request.eligible[rows],
                budget=request.budget * rows.size / b,
            )
            part = sub.act(sub_request)
            actions[rows] = part.actions
            if part.propensities is not None:
                propensities[rows] = part.propensities
            if slots is not None and slate is not None:
                slots[rows], slate[rows] = _slate_propensities(part)
            if part.fallback is not None:
                fallback[rows] = part.fallback
            if part.control_for is not None:
                control_for[rows] = part.control_for
        return Decision(
            actions=actions,
            propensities=propensities * weight,
            slot_propensities=None if slots is None else slots * weight[:, None],
            slate_propensities=None if slate is None else slate * weight,
            group=routes.astype(np.int64),
            fallback=fallback,
            control_for=control_for if request.surface is Surface.CAMPAIGN else None,
        )

    def _forward(self, fb: Feedback, routes: IntArray, weight: FloatArray) -> None:
        """Send each sub-policy the records of its decisions, with its own propensities."""
        own = None
        if fb.propensities is not None:
            own = np.asarray(fb.propensities, dtype=np.float64) / np.where(weight > 0, weight, 1.0)
        for k, sub in enumerate(self.subs_):
            if not sub.online:  # learn() would ignore it: skip building the subset
                continue
            rows = np.flatnonzero(routes == k)
            if rows.size:
                sub.learn(subset_feedback(fb, rows, None if own is None else own[rows]))

    @staticmethod
    def _is_reward(fb: Feedback) -> bool:
        """Feedback that carries the per-decision binary reward (one record per decision)."""
        if fb.surface is Surface.CAMPAIGN:
            return fb.kind is FeedbackKind.RESPONSE
        return fb.kind is FeedbackKind.CLICK
