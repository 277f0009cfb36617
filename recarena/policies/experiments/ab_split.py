"""The A/B split: sticky hashed assignment, a sequential test at checkpoints, commit.

See :mod:`recarena.policies.experiments` for the assignment, the test rules and the commit;
the test itself is :class:`~recarena.stats.sequential_test.SequentialTest`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from pydantic import Field, model_validator

from recarena.contract import Decision, DecisionRequest, Feedback, Surface
from recarena.policies.experiments.assignment import assign_variants
from recarena.policies.experiments.composite import (
    Composite,
    CompositeParams,
    PolicyVariant,
    grow,
)
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
    before_start,
    test_plan,
)
from recarena.typing import FloatArray, IntArray

__all__ = ["ABSplit", "ABSplitParams"]

Metric = Literal["auto", "click", "response"]


class ABSplitParams(CompositeParams):
    """Parameters of :class:`ABSplit`."""

    kind: Literal["ab_split"] = "ab_split"
    variants: list[PolicyVariant] = Field(
        min_length=2, max_length=20, description="sub-policies; the first is the control"
    )
    weights: list[Annotated[float, Field(gt=0.0, le=1e6)]] | None = Field(
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
        None, gt=0.0, le=3650, description="test horizon H in days (default: the run's horizon)"
    )
    checkpoint_every: float = Field(1.0, ge=0.01, le=3650, description="days between looks c")
    msprt_tau: float = Field(
        0.01, gt=0.0, le=1.0, description="mSPRT mixing sd τ over the difference of rates"
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
        None,
        ge=0,
        le=2**63 - 1,
        description="assignment salt (default: drawn from the run's policy stream)",
    )
    pre_period_days: float = Field(
        0.0,
        ge=0.0,
        le=3650,
        description="pre-period P (a whole multiple of schedule.decision_window): up to day "
        "P every user gets the control (the first variant) and nothing is tested; the split "
        "and the test start at P, and each user's pre-period clicks per session are the "
        "CUPED covariate of the report",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ABSplitParams:
        self._distinct(self.variants)
        if self.weights is not None and len(self.weights) != len(self.variants):
            raise ValueError(
                f"weights has {len(self.weights)} entries for {len(self.variants)} variants"
            )
        if self.horizon_days is not None:
            self.plan(self.horizon_days)  # raises for an impossible O'Brien–Fleming design
        return self

    def plan(self, horizon: float) -> TestPlan:
        """The test design for a horizon (``horizon_days`` when set)."""
        h = self.horizon_days if self.horizon_days is not None else horizon
        if self.pre_period_days >= h:
            raise ValueError(
                f"pre_period_days ({self.pre_period_days:g}) must be shorter than the test "
                f"horizon ({h:g} days)"
            )
        return test_plan(
            self.test, self.alpha, h, self.checkpoint_every, self.msprt_tau, self.fallback,
            self.boundary, self.analysis_unit, self.pre_period_days,
        )  # fmt: skip

    def shares(self) -> FloatArray:
        """Normalised assignment weights w."""
        w = np.ones(len(self.variants)) if self.weights is None else np.asarray(self.weights)
        return np.asarray(w / w.sum(), dtype=np.float64)


@register
class ABSplit(Composite):
    """A/B(/n) test of whole policies: sticky hashed split, sequential analysis, commit.

    See the module docstring for the assignment hash, the four test rules and the commit.
    Learnt state: ``subs_`` (the sub-policies), ``test_`` (a :class:`SequentialTest`),
    ``committed_`` and ``commit_time_``; :meth:`outcome` returns the test's
    :class:`TestOutcome`.
    """

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
                self.user_successes_ = grow(self.user_successes_, top, 0.0)
                self.user_trials_ = grow(self.user_trials_, top, 0.0)
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
        if before_start(request.t, self.plan_.start):  # pre-period: everyone on the control
            return self._dispatch(request, np.zeros(b, dtype=np.int64), np.ones(b))
        self.last_pre_commit_t_ = request.t
        routes = self.assignment(request.users)
        return self._dispatch(request, routes, self.weights_[routes])

    def _learn(self, feedback: Feedback) -> None:
        when = feedback.decision_time
        t = np.full(feedback.size, feedback.t) if when is None else np.asarray(when, np.float64)
        pre = t <= self.last_pre_commit_t_ if self.committed_ else np.ones(t.size, dtype=bool)
        before_test = before_start(t, self.plan_.start)  # served by the control, not tested
        assigned = np.where(before_test, 0, self.assignment(feedback.users))
        routes = np.where(pre, assigned, self.test_.winner)
        tested = pre & ~before_test  # in the test: after the pre-period, before a commit
        weights = np.where(tested, self.weights_[assigned], 1.0)
        if self._is_reward(feedback) and tested.any():
            k, n_buckets = self.counts_.shape[1:]
            bucket = np.searchsorted(self.plan_.looks, t[tested], side="left")
            cell = assigned[tested] * n_buckets + bucket
            rewards = (np.asarray(feedback.rewards)[tested] > 0).astype(np.float64)
            size = k * n_buckets
            self.counts_[0] += np.bincount(cell, minlength=size).reshape(k, n_buckets)
            self.counts_[1] += np.bincount(cell, rewards, minlength=size).reshape(k, n_buckets)
            if self.plan_.unit == "user":
                self.pending_.append((bucket, np.asarray(feedback.users)[tested], rewards))
                self._add_user_rows(self.test_.n_seen)
        self._forward(feedback, routes, weights)
