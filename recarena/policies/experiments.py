r"""Experiments are policies too: A/B splits and bandits over whole policies.

Registered kinds
----------------
==========================  ===============================================================
``fixed``                   always the same variant (or offer): one arm of a banner A/B test
``ab_split``                sticky hashed split of users over sub-policies, a fixed-horizon or
                            sequential test at checkpoints, optional explore-then-commit
``bandit_over_policies``    a bandit (any kind from :mod:`recarena.policies.bandits`) that
                            allocates sessions or users adaptively among whole sub-policies
==========================  ===============================================================

Both experiment policies wrap *sub-policies* given as ordinary policy configs
(``{name, policy: {kind: ..., ...}}``), built with :func:`recarena.policies.registry.make`,
each with its own random stream spawned from the wrapper's. A request is cut into one
sub-request per sub-policy (a loop over the K sub-policies, never over decisions); each
sub-policy acts on its users, learns only from the feedback of the decisions it made, and
every sub-policy refits on the whole history (:meth:`Policy.fit` is forwarded to all).

Logged columns
--------------
``Decision.group`` is the index of the sub-policy that served the decision. The propensity is
the probability of the logged (sub-policy, action) pair: the sub-policy's propensity of its
action (1 when it is deterministic) times the probability that the decision was routed to it
(the assignment weight :math:`w_k` during an A/B test, 1 after a commit, the allocating
bandit's propensity for :class:`BanditOverPolicies`). The marginal probability of the action
alone, :math:`\sum_j w_j \pi_j(a \mid x)`, is at least that large; off-policy estimators that
condition on the group use the logged value directly.

A/B split
---------
**Assignment.** User :math:`u` is assigned to variant
:math:`g(u) = \min\{k : U_u < \sum_{j \le k} w_j\}` with :math:`U_u` the counter-based uniform
``uniform(salt, u, 0, 0, Purpose.ASSIGNMENT)`` (:mod:`recarena.simulator.rng`), a hash of
(user, salt): the assignment is sticky (the same user always gets the same variant),
deterministic, independent across users and needs no stored table (Kohavi, Tang & Xu 2020,
*Trustworthy Online Controlled Experiments*, ch. 14). The salt is ``salt`` when given (the
same split in every run), else a number drawn from the policy's stream at set-up (the same
for every arm of a seed, different across seeds).

**Test.** Variant 0 is the control; each treatment k ≥ 1 is compared with it on the
per-decision binary reward (``metric="click"``: a click on the session surfaces;
``"response"``: a campaign response; ``"auto"``: whichever fits the surface). Checkpoints
("looks") are at :math:`c, 2c, \dots` up to the test horizon :math:`H` (``checkpoint_every`` = c,
``horizon_days`` = H, default the run's horizon), with :math:`H` always the last look. At look
:math:`\ell`, decisions made at :math:`t \le \tau_\ell` count (cumulative trials
:math:`n_{k\ell}` and successes :math:`s_{k\ell}`).
:class:`~recarena.stats.sequential_test.SequentialTest` turns the looks into a decision.

The rules (``fixed``, ``peeking``, ``sequential_msprt``, ``obrien_fleming``), how a look
decides and how the winner is chosen are those of :mod:`recarena.stats.sequential_test`.

**Commit.** With ``commit=True`` (explore-then-commit) every decision after the test decided
is routed to the winner. The policy evaluates look :math:`\ell` at its first request with
:math:`t > \tau_\ell`, on the feedback received by then.

**Where the test lives.** The policy runs the test only to know when to commit; it does no
I/O. :mod:`recarena.analysis.experiments` recomputes the same :class:`SequentialTest` from the
logged ``group`` and ``click`` (or ``responded``) columns, which gives identical looks when
feedback is delivered after every decision window (``schedule.feedback_every = 0``, the
default); with batched or delayed feedback the policy's looks may miss late feedback that the
logs hold.

Bandit over policies
--------------------
A bandit policy from :mod:`recarena.policies.bandits` (``bandit``, any kind acting on the
variant surface: ε-greedy, UCB1, KL-UCB, Thompson, softmax, the sliding-window and discounted
variants, LinUCB, linear Thompson) is set up on a virtual variant surface whose K "variants"
are the sub-policies. Per session (``unit="session"``) or per user on first sight, sticky
afterwards (``unit="user"``), it chooses the sub-policy that serves the decision, and learns
from the binary reward of that decision (click, or campaign response). Feedback follows the
decisions in order, one record per decision, so records are matched to the decisions that
produced them by position; conversions are routed to the sub-policy that served the user's
latest click.

References
----------
.. [1] Kohavi, R., Tang, D., Xu, Y. (2020). *Trustworthy Online Controlled Experiments*.
   Cambridge University Press.
.. [2] Johari, R., Koomen, P., Pekelis, L., Walsh, D. (2017). "Peeking at A/B tests: why it
   matters, and what to do about it". *KDD '17*.
.. [3] Lan, K. K. G., DeMets, D. L. (1983). "Discrete sequential boundaries for clinical
   trials". *Biometrika* 70(3).
.. [4] Garivier, A., Kaufmann, E., Lattimore, T. (2016). "On explore-then-commit strategies".
   *NeurIPS*.
.. [5] Holm, S. (1979). "A simple sequentially rejective multiple test procedure".
   *Scand. J. Statist.* 6(2).
"""

from __future__ import annotations

import dataclasses
import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import Field, ValidationError, field_validator, model_validator

from recarena.contract import Decision, DecisionRequest, Feedback, FeedbackKind, History, Surface
from recarena.numerics.counter_rng import Purpose, uniform
from recarena.policies import registry
from recarena.policies.base import Policy, PolicyParams, campaign_action_index, one_hot
from recarena.policies.registry import register
from recarena.stats.group_sequential import BoundaryKind
from recarena.stats.ratio import unit_moments
from recarena.stats.sequential_test import (
    AnalysisUnit,
    Fallback,
    SequentialTest,
    TestKind,
    TestOutcome,
    TestPlan,
    test_plan,
)
from recarena.typing import ClosedModel, FloatArray, IntArray

__all__ = [
    "ABSplit",
    "ABSplitParams",
    "BanditOverPolicies",
    "BanditOverPoliciesParams",
    "FixedAction",
    "FixedActionParams",
    "PolicyVariant",
    "assign_variants",
]

Metric = Literal["auto", "click", "response"]


# ====================================================================== test machinery


def assign_variants(users: ArrayLike, weights: ArrayLike, salt: int) -> IntArray:
    """Sticky hashed assignment of users to variants with probabilities ``weights``.

    :math:`g(u) = \\min\\{k : U_u < \\sum_{j \\le k} w_j\\}` with
    :math:`U_u` = ``uniform(salt, u, 0, 0, Purpose.ASSIGNMENT)``.
    """
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0  # U < 1, so every user lands in a variant despite rounding
    u = uniform(salt, np.asarray(users, dtype=np.int64), 0, 0, Purpose.ASSIGNMENT)
    return np.searchsorted(cdf, u, side="right").astype(np.int64)


# ====================================================================== parameters
def _checked_policy(config: dict[str, Any]) -> type[Policy]:
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
        _checked_policy(value)
        return value


class _CompositeParams(PolicyParams):
    @staticmethod
    def _distinct(variants: Sequence[PolicyVariant]) -> None:
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be distinct, got {names}")


class ABSplitParams(_CompositeParams):
    """Parameters of :class:`ABSplit`."""

    kind: Literal["ab_split"] = "ab_split"
    variants: list[PolicyVariant] = Field(
        min_length=2, max_length=20, description="sub-policies; the first is the control"
    )
    weights: list[float] | None = Field(
        None, description="assignment shares per variant (normalised; default equal)"
    )
    metric: Metric = Field(
        "auto",
        description="binary outcome tested: 'click' (session surfaces), 'response' (campaign "
        "surface); 'auto' picks the surface's",
    )
    test: TestKind = Field(
        "fixed",
        description="'fixed' (z-test at the horizon), 'peeking' (z-test at every checkpoint), "
        "'sequential_msprt' (always-valid p-values) or 'obrien_fleming' (group-sequential)",
    )
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="family-wise two-sided level α")
    horizon_days: float | None = Field(
        None, gt=0.0, description="test horizon H in days (default: the run's horizon)"
    )
    checkpoint_every: float = Field(1.0, gt=0.0, description="days between looks c")
    msprt_tau: float = Field(
        0.01, gt=0.0, description="mSPRT mixing sd τ over the difference of rates"
    )
    analysis_unit: AnalysisUnit = Field(
        "user",
        description="unit the test treats as independent: 'user' (the randomisation unit: "
        "per-user clicks and sessions, delta-method variance) or 'session' (every session "
        "independent; understates the variance when users differ — kept for comparison)",
    )
    boundary: BoundaryKind = Field(
        "obf_per_side",
        description="boundaries of the 'obrien_fleming' rule: 'obf_per_side' (Lan–DeMets "
        "O'Brien–Fleming-type spending at α/2 per side, as gsDesign/rpact), 'obf_two_sided' "
        "(the same over both sides combined), 'pocock_spending' or 'obf_classical' "
        "(O'Brien–Fleming's constants)",
    )
    commit: bool = Field(
        False, description="explore-then-commit: route everyone to the winner once decided"
    )
    fallback: Fallback = Field(
        "control", description="winner of an inconclusive test: 'control' or 'empirical_best'"
    )
    salt: int | None = Field(
        None, ge=0, description="assignment salt (default: drawn from the run's policy stream)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ABSplitParams:
        self._distinct(self.variants)
        if self.weights is not None:
            if len(self.weights) != len(self.variants):
                raise ValueError(
                    f"weights has {len(self.weights)} entries for {len(self.variants)} variants"
                )
            if any(not (w > 0 and math.isfinite(w)) for w in self.weights):
                raise ValueError(f"weights must be positive, got {self.weights}")
        if self.horizon_days is not None:
            self.plan(self.horizon_days)  # raises for an impossible O'Brien–Fleming design
        return self

    def plan(self, horizon: float) -> TestPlan:
        """The test design for a horizon (``horizon_days`` when set)."""
        h = self.horizon_days if self.horizon_days is not None else horizon
        return test_plan(
            self.test, self.alpha, h, self.checkpoint_every, self.msprt_tau, self.fallback,
            self.boundary, self.analysis_unit,
        )  # fmt: skip

    def shares(self) -> FloatArray:
        """Normalised assignment weights w."""
        w = np.ones(len(self.variants)) if self.weights is None else np.asarray(self.weights)
        return np.asarray(w / w.sum(), dtype=np.float64)


class BanditOverPoliciesParams(_CompositeParams):
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
        policy_cls = _checked_policy(value)
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


class FixedActionParams(PolicyParams):
    """Parameters of :class:`FixedAction`."""

    kind: Literal["fixed"] = "fixed"
    action: int = Field(
        0, ge=-1, description="variant index (variant surface) or offer index, -1 = no offer"
    )


# ====================================================================== policies
@register
class FixedAction(Policy):
    """Always the same variant (variant surface) or offer (campaign surface).

    The building block of banner A/B tests: ``{kind: fixed, action: 1}`` shows variant 1 to
    everyone. On the campaign surface users not eligible for the offer get no offer (-1).
    Deterministic (propensity 1).
    """

    kind = "fixed"
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


def _grow(values: NDArray[Any], size: int, fill: float) -> NDArray[Any]:
    """``values`` extended with ``fill`` to at least ``size`` entries (doubling)."""
    if size <= values.size:
        return values
    out = np.full(max(size, 2 * values.size), fill, dtype=values.dtype)
    out[: values.size] = values
    return out


def _subset_feedback(fb: Feedback, rows: IntArray, propensities: FloatArray | None) -> Feedback:
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


class _Composite(Policy):
    """A policy made of sub-policies: request splitting, decision assembly, feedback routing."""

    surfaces: ClassVar[frozenset[Surface]] = frozenset(Surface)
    online: ClassVar[bool] = True
    batch_fit: ClassVar[bool] = True
    contextual: ClassVar[bool] = True
    randomised: ClassVar[bool] = True

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
            if part.fallback is not None:
                fallback[rows] = part.fallback
            if part.control_for is not None:
                control_for[rows] = part.control_for
        return Decision(
            actions=actions,
            propensities=propensities * weight,
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
                sub.learn(_subset_feedback(fb, rows, None if own is None else own[rows]))

    @staticmethod
    def _is_reward(fb: Feedback) -> bool:
        """Feedback that carries the per-decision binary reward (one record per decision)."""
        if fb.surface is Surface.CAMPAIGN:
            return fb.kind is FeedbackKind.RESPONSE
        return fb.kind is FeedbackKind.CLICK


@register
class ABSplit(_Composite):
    """A/B(/n) test of whole policies: sticky hashed split, sequential analysis, commit.

    See the module docstring for the assignment hash, the four test rules and the commit.
    Learnt state: ``subs_`` (the sub-policies), ``test_`` (a :class:`SequentialTest`),
    ``committed_`` and ``commit_time_``; :meth:`outcome` returns the test's
    :class:`TestOutcome`.
    """

    kind = "ab_split"
    summary = "A/B split of policies: sticky hash, fixed/sequential test, explore-then-commit."
    Params = ABSplitParams
    params: ABSplitParams

    @classmethod
    def contract_configs(cls) -> list[dict[str, Any]]:
        """Configs for the contract suite: policies that act on every surface."""
        variants = [
            {"name": "A", "policy": {"kind": "random"}},
            {"name": "B", "policy": {"kind": "epsilon_greedy", "epsilon": 0.2}},
        ]
        return [
            {"kind": cls.kind, "variants": variants},
            {"kind": cls.kind, "variants": variants, "weights": [1, 3], "test": "peeking",
             "commit": True, "checkpoint_every": 0.5, "alpha": 0.5},
        ]  # fmt: skip

    def _variants(self) -> list[PolicyVariant]:
        return self.params.variants

    def _setup(self) -> None:
        p = self.params
        campaign = Surface.CAMPAIGN in self.spec_.surfaces
        if (p.metric == "response" and not campaign) or (p.metric == "click" and campaign):
            raise ValueError(
                f"metric {p.metric!r} does not fit the {sorted(self.spec_.surfaces)} surface: "
                "'click' is for session surfaces, 'response' for campaigns"
            )
        self.salt_ = p.salt if p.salt is not None else int(self.rng_.integers(0, 2**63 - 1))
        super()._setup()
        self.weights_ = p.shares()
        self.plan_ = p.plan(self.spec_.horizon)
        self.test_ = SequentialTest(self.plan_, len(p.variants))
        # Trials and successes of pre-commit decisions, per variant and look bucket
        # (bucket L holds decisions after the test horizon).
        self.counts_ = np.zeros((2, len(p.variants), self.plan_.n_looks + 1))
        # Per-user successes and trials of the looks evaluated or next to be evaluated, and
        # rows of later looks waiting for theirs (per-user analysis only).
        self.user_successes_ = np.zeros(0)
        self.user_trials_ = np.zeros(0)
        self.pending_: list[tuple[IntArray, IntArray, FloatArray]] = []
        self.committed_ = False
        self.commit_time_ = math.nan
        self.last_pre_commit_t_ = -math.inf

    def outcome(self) -> TestOutcome:
        """The test's looks so far and its decision."""
        self._check_set_up()
        return self.test_.outcome()

    def assignment(self, users: ArrayLike) -> IntArray:
        """The (sticky) variant of each user."""
        self._check_set_up()
        return assign_variants(users, self.weights_, self.salt_)

    def _advance(self, t: float) -> None:
        """Evaluate every planned look before ``t`` not evaluated yet; commit when decided."""
        test, looks = self.test_, self.plan_.looks
        while not test.done and looks[test.n_seen] < t:
            cumulative = self.counts_[:, :, : test.n_seen + 1].sum(axis=2)
            moments = None
            if self.plan_.unit == "user":
                self._add_user_rows(test.n_seen)
                groups = self.assignment(np.arange(self.user_trials_.size))
                k = len(self.params.variants)
                moments = unit_moments(self.user_successes_, self.user_trials_, groups, k)
            test.add_look(cumulative[1], cumulative[0], moments)
        if self.params.commit and test.decided and not self.committed_:
            self.committed_ = True
            self.commit_time_ = t

    def _add_user_rows(self, look: int) -> None:
        """Move the pending rows of looks ≤ ``look`` into the per-user totals."""
        later = []
        for bucket, users, rewards in self.pending_:
            now = bucket <= look
            if now.any():
                top = int(users[now].max()) + 1
                self.user_successes_ = _grow(self.user_successes_, top, 0.0)
                self.user_trials_ = _grow(self.user_trials_, top, 0.0)
                np.add.at(self.user_successes_, users[now], rewards[now])
                np.add.at(self.user_trials_, users[now], 1.0)
            if not now.all():
                later.append((bucket[~now], users[~now], rewards[~now]))
        self.pending_ = later

    def _act(self, request: DecisionRequest) -> Decision:
        self._advance(request.t)
        b = request.size
        if self.committed_:
            routes = np.full(b, self.test_.winner, dtype=np.int64)
            return self._dispatch(request, routes, np.ones(b))
        self.last_pre_commit_t_ = request.t
        routes = self.assignment(request.users)
        return self._dispatch(request, routes, self.weights_[routes])

    def _learn(self, feedback: Feedback) -> None:
        when = feedback.decision_time
        t = np.full(feedback.size, feedback.t) if when is None else np.asarray(when, np.float64)
        pre = t <= self.last_pre_commit_t_ if self.committed_ else np.ones(t.size, dtype=bool)
        assigned = self.assignment(feedback.users)
        routes = np.where(pre, assigned, self.test_.winner)
        if self._is_reward(feedback) and pre.any():
            k, n_buckets = self.counts_.shape[1:]
            bucket = np.searchsorted(self.plan_.looks, t[pre], side="left")
            cell = assigned[pre] * n_buckets + bucket
            rewards = (np.asarray(feedback.rewards)[pre] > 0).astype(np.float64)
            size = k * n_buckets
            self.counts_[0] += np.bincount(cell, minlength=size).reshape(k, n_buckets)
            self.counts_[1] += np.bincount(cell, rewards, minlength=size).reshape(k, n_buckets)
            if self.plan_.unit == "user":
                self.pending_.append((bucket, np.asarray(feedback.users)[pre], rewards))
                self._add_user_rows(self.test_.n_seen)
        self._forward(feedback, routes, np.where(pre, self.weights_[assigned], 1.0))


@register
class BanditOverPolicies(_Composite):
    """A bandit allocating sessions (or users) among whole sub-policies.

    The allocating bandit sees a virtual variant surface with one variant per sub-policy and
    the real users' features (so a contextual bandit can personalise the choice of policy);
    its reward is the binary outcome of the decision it routed. See the module docstring.
    Learnt state: ``subs_``, ``allocator_``, and for ``unit="user"`` ``assigned_`` (the
    sub-policy of each user, -1 before the first visit).
    """

    kind = "bandit_over_policies"
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
        self.assigned_ = _grow(self.assigned_, top, -1)
        self.assigned_prob_ = _grow(self.assigned_prob_, top, np.nan)
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
            self.last_route_ = _grow(self.last_route_, top, -1)
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
        self.click_route_ = _grow(self.click_route_, top, -1)
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
