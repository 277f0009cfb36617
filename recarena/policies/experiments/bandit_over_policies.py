"""A bandit over whole policies: adaptive allocation of sessions or users among sub-policies.

See :mod:`recarena.policies.experiments` ("Bandit over policies") for the virtual variant
surface, the allocation unit and how rewards are matched to the decisions that earned them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from recarena.contract import Decision, DecisionRequest, Feedback, FeedbackKind, Surface
from recarena.policies import registry
from recarena.policies.experiments.composite import (
    Composite,
    CompositeParams,
    PolicyVariant,
    checked_policy,
    grow,
)
from recarena.policies.registry import register
from recarena.typing import FloatArray, IntArray

__all__ = ["BanditOverPolicies", "BanditOverPoliciesParams"]


class BanditOverPoliciesParams(CompositeParams):
    """Parameters of :class:`BanditOverPolicies`."""

    kind: Literal["bandit_over_policies"] = "bandit_over_policies"
    policies: list[PolicyVariant] = Field(
        min_length=2, max_length=50, description="the sub-policies the bandit allocates among"
    )
    bandit: dict[str, Any] = Field(
        default_factory=lambda: {"kind": "thompson"},
        description="config of the allocating bandit (a kind acting on the variant surface)",
    )
    unit: Literal["session", "user"] = Field(
        "session", description="allocate every session, or each user once (sticky)"
    )

    @field_validator("bandit")
    @classmethod
    def _bandit(cls, value: dict[str, Any]) -> dict[str, Any]:
        policy_cls = checked_policy(value)
        if Surface.VARIANT not in policy_cls.surfaces or not policy_cls.online:
            raise ValueError(
                f"bandit {policy_cls.kind!r} must be an online policy acting on the variant "
                "surface (e.g. thompson, ucb1, epsilon_greedy, lin_ucb)"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> BanditOverPoliciesParams:
        self._distinct(self.policies)
        return self


@register
class BanditOverPolicies(Composite):
    """A bandit allocating sessions (or users) among whole sub-policies.

    The allocating bandit sees a virtual variant surface with one variant per sub-policy and
    the real users' features (so a contextual bandit can personalise the choice of policy);
    its reward is the binary outcome of the decision it routed. See the module docstring.
    Learnt state: ``subs_``, ``allocator_``, and for ``unit="user"`` ``assigned_`` (the
    sub-policy of each user, -1 before the first visit).
    """

    summary = "A bandit allocating sessions or users among whole policies."
    Params = BanditOverPoliciesParams
    params: BanditOverPoliciesParams

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        """Configs for the contract suite: policies that act on every surface."""
        policies = [
            {"name": "random", "policy": {"kind": "random"}},
            {"name": "greedy", "policy": {"kind": "epsilon_greedy", "epsilon": 0.1}},
        ]
        return [
            {"kind": cls.kind, "policies": policies},
            {"kind": cls.kind, "policies": policies, "unit": "user",
             "bandit": {"kind": "epsilon_greedy", "epsilon": 0.3}},
        ]  # fmt: skip

    def _variants(self) -> list[PolicyVariant]:
        return self.params.policies

    def _setup(self) -> None:
        super()._setup()
        k = len(self.subs_)
        self.allocator_ = registry.make(self.params.bandit)
        virtual = dataclasses.replace(
            self.spec_, surfaces=frozenset({Surface.VARIANT}), n_variants=k
        )
        self.allocator_.setup(virtual, self.aux_rng_)
        self.assigned_ = np.full(0, -1, dtype=np.int64)
        self.assigned_prob_ = np.full(0, np.nan)
        self.click_route_ = np.full(0, -1, dtype=np.int64)
        self.last_route_ = np.full(0, -1, dtype=np.int64)
        self.pending_: list[tuple[IntArray, IntArray, FloatArray]] = []

    def _allocate(self, request: DecisionRequest) -> tuple[IntArray, FloatArray]:
        """Sub-policy index and its allocation probability, per user of the request."""
        virtual = DecisionRequest(
            surface=Surface.VARIANT,
            t=request.t,
            users=request.users,
            features=request.features,
            available_items=request.available_items,
        )
        if self.params.unit == "session":
            decision = self.allocator_.act(virtual)
            prob = decision.propensities
            return decision.actions, np.ones(request.size) if prob is None else prob
        users = request.users
        top = int(users.max()) + 1 if users.size else 0
        self.assigned_ = grow(self.assigned_, top, -1)
        self.assigned_prob_ = grow(self.assigned_prob_, top, np.nan)
        new = np.flatnonzero(self.assigned_[users] < 0)
        if new.size:
            fresh, first = np.unique(users[new], return_index=True)
            rows = new[first]
            decision = self.allocator_.act(
                dataclasses.replace(virtual, users=fresh, features=request.features[rows])
            )
            prob = decision.propensities
            self.assigned_[fresh] = decision.actions
            self.assigned_prob_[fresh] = 1.0 if prob is None else prob
        return self.assigned_[users], self.assigned_prob_[users]

    def _act(self, request: DecisionRequest) -> Decision:
        routes, prob = self._allocate(request)
        if self.params.unit == "session":
            self.pending_.append((request.users, routes, prob))
            top = int(request.users.max()) + 1 if request.size else 0
            self.last_route_ = grow(self.last_route_, top, -1)
            self.last_route_[request.users] = routes
        return self._dispatch(request, routes, prob)

    def _match(self, fb: Feedback) -> tuple[IntArray, FloatArray]:
        """Routes and allocation probabilities of the decisions behind a reward batch.

        Session unit: records follow the decisions in order, so the batch is the next
        ``N`` pending decisions (checked on the user ids); when they do not line up (an
        engine delivering out of order), each record falls back to the route of the user's
        latest decision (exact when a user has one decision outstanding).
        """
        if self.params.unit == "user":
            return self.assigned_[fb.users], self.assigned_prob_[fb.users]
        users = np.concatenate([p[0] for p in self.pending_]) if self.pending_ else fb.users[:0]
        n = fb.size
        if users.size >= n and np.array_equal(users[:n], fb.users):
            routes = np.concatenate([p[1] for p in self.pending_])
            prob = np.concatenate([p[2] for p in self.pending_])
            rest = (users[n:], routes[n:], prob[n:])
            self.pending_ = [rest] if rest[0].size else []
            return routes[:n], prob[:n]
        return np.maximum(self.last_route_[fb.users], 0), np.full(n, np.nan)

    def _click_routes(self, users: IntArray) -> IntArray:
        top = int(users.max()) + 1 if users.size else 0
        self.click_route_ = grow(self.click_route_, top, -1)
        return self.click_route_[users]

    def _learn(self, feedback: Feedback) -> None:
        if not self._is_reward(feedback):
            # Conversions: route to the sub-policy behind the user's latest click.
            routes = (
                self.assigned_[feedback.users]
                if self.params.unit == "user"
                else np.maximum(self._click_routes(feedback.users), 0)
            )
            self._forward(feedback, routes, np.ones(feedback.size))
            return
        routes, prob = self._match(feedback)
        rewards = (np.asarray(feedback.rewards) > 0).astype(np.float64)
        clicked = rewards > 0
        if clicked.any():
            self._click_routes(feedback.users)  # grow the table
            self.click_route_[feedback.users[clicked]] = routes[clicked]
        self.allocator_.learn(
            Feedback(
                kind=FeedbackKind.CLICK,
                surface=Surface.VARIANT,
                t=feedback.t,
                users=feedback.users,
                actions=routes,
                rewards=rewards,
                features=feedback.features,
                propensities=prob,
                decision_time=feedback.decision_time,
            )
        )
        self._forward(feedback, routes, prob)
