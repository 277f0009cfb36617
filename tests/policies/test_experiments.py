"""Tests of the experiment policies: fixed variants, A/B splits and bandits over policies.

Unit tests use the contract suite's small world (``check_context``); integration tests run the
engine on tiny variant-surface worlds with fixed seeds.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import numpy as np
import pytest
from pydantic import Field, ValidationError

from recarena.analysis.experiments import ABDesign, replay_test
from recarena.contract import Decision, DecisionRequest, Feedback, FeedbackKind, Surface
from recarena.experiment.checks import check_context
from recarena.policies import registry
from recarena.policies.base import Policy, PolicyParams
from recarena.policies.experiments.ab_split import ABSplit, ABSplitParams
from recarena.policies.experiments.assignment import assign_variants
from recarena.policies.experiments.bandit_over_policies import BanditOverPolicies
from recarena.simulator.log import Col
from recarena.simulator.params import (
    CatalogueParams,
    PopulationParams,
    ScheduleParams,
    VariantParams,
    WorldParams,
)
from recarena.simulator.simulation import simulate
from recarena.stats import group_sequential_bounds, srm_check, two_proportion_ztest
from recarena.stats.sequential_test import SequentialTest, TestPlan, look_times

RECORDER = "tests.policies.test_experiments:Recorder"


@pytest.fixture(autouse=True)
def _plugins_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recorder sub-policy is a plugin; plugins load only where allowed."""
    monkeypatch.setenv(registry.PLUGINS_ENV, "1")


class Recorder(Policy):
    """A plugin sub-policy: a fixed variant with a given propensity; records what it learns."""

    class Params(PolicyParams):
        kind: Literal["recorder"] = "recorder"
        action: int = Field(0, ge=0)
        propensity: float = Field(1.0, gt=0, le=1)

    kind = "recorder"
    surfaces: ClassVar[frozenset[Surface]] = frozenset({Surface.VARIANT})
    online = True
    params: Params

    def _setup(self) -> None:
        self.acted_: list[np.ndarray] = []
        self.learnt_: list[Feedback] = []

    def _act(self, request: DecisionRequest) -> Decision:
        self.acted_.append(request.users.copy())
        n = request.size
        return Decision(
            actions=np.full(n, self.params.action, dtype=np.int64),
            propensities=np.full(n, self.params.propensity),
        )

    def _learn(self, feedback: Feedback) -> None:
        self.learnt_.append(feedback)


def fixed(action: int) -> dict[str, Any]:
    return {"kind": "fixed", "action": action}


def ab_config(**params: Any) -> dict[str, Any]:
    variants = params.pop("variants", [fixed(0), fixed(1)])
    return {
        "kind": "ab_split",
        "variants": [{"name": f"v{i}", "policy": p} for i, p in enumerate(variants)],
        **params,
    }


def variant_world(ctrs: tuple[float, ...], n_users: int = 1500) -> WorldParams:
    return WorldParams(
        population=PopulationParams(n_users=n_users),
        catalogue=CatalogueParams(n_items=5, n_categories=1),
        variants=[VariantParams(name=f"V{i}", ctr=c) for i, c in enumerate(ctrs)],
    )


def schedule(days: float = 10.0) -> ScheduleParams:
    return ScheduleParams(days=days, surface="variant", decision_window=0.25)


def setup_policy(config: dict[str, Any], seed: int = 0) -> Policy:
    ctx = check_context(Surface.VARIANT)
    policy = registry.make(config)
    policy.setup(ctx.spec, np.random.default_rng(seed))
    return policy


def feedback_for(request: DecisionRequest, decision: Decision, clicks: np.ndarray) -> Feedback:
    return Feedback(
        kind=FeedbackKind.CLICK,
        surface=Surface.VARIANT,
        t=request.t,
        users=request.users,
        actions=decision.actions,
        rewards=clicks.astype(np.float64),
        features=request.features,
        propensities=decision.propensities,
        decision_time=np.full(request.size, request.t),
    )


# ====================================================================== assignment and plan
def test_assignment_is_sticky_deterministic_and_matches_weights() -> None:
    users = np.arange(60_000)
    weights = [0.2, 0.3, 0.5]
    groups = assign_variants(users, weights, salt=11)
    np.testing.assert_array_equal(groups, assign_variants(users, weights, salt=11))
    np.testing.assert_array_equal(groups[::-1], assign_variants(users[::-1], weights, salt=11))
    counts = np.bincount(groups, minlength=3)
    assert not srm_check(counts, weights, alpha=0.001).mismatch
    other = assign_variants(users, weights, salt=12)
    assert 0.3 < np.mean(other != groups) < 0.8  # a new salt reshuffles the split
    assert set(assign_variants(users, [1.0, 1.0], salt=0)) == {0, 1}  # weights are normalised


def test_look_times_end_at_the_horizon() -> None:
    np.testing.assert_allclose(look_times(5.0, 1.0), [1, 2, 3, 4, 5])
    np.testing.assert_allclose(look_times(7.5, 2.0), [2, 4, 6, 7.5])
    np.testing.assert_allclose(look_times(1.0, 1 / 3), [1 / 3, 2 / 3, 1.0])
    with pytest.raises(ValueError, match="must be > 0"):
        look_times(0.0, 1.0)


# ====================================================================== the sequential test
def plan(test: str, n_looks: int = 4, **kw: Any) -> TestPlan:
    return TestPlan(test=test, alpha=0.05, looks=np.arange(1.0, n_looks + 1), **kw)  # type: ignore[arg-type]


STRONG = ([30, 60, 90, 120], [1000, 2000, 3000, 4000], [60, 120, 180, 240])


def feed(test: SequentialTest, successes: list[list[int]], trials: list[int]) -> None:
    for look in range(len(trials)):
        test.add_look([s[look] for s in successes], [trials[look]] * len(successes))


def test_fixed_test_decides_only_at_the_horizon() -> None:
    control, n, treated = STRONG
    test = SequentialTest(plan("fixed"), 2)
    feed(test, [control[:3], treated[:3]], n[:3])
    assert not test.decided
    feed_last = SequentialTest(plan("fixed"), 2)
    feed(feed_last, [control, treated], n)
    out = feed_last.outcome()
    assert out.decided and out.significant and out.winner == 1 and out.decision_time == 4.0
    expected = two_proportion_ztest(control[-1], n[-1], treated[-1], n[-1])
    assert out.z[0, -1] == pytest.approx(expected.z)
    assert out.p_nominal[0, -1] == pytest.approx(expected.p_value)
    assert not out.reject[0, :3].any()  # no decision before the horizon, whatever the data
    with pytest.raises(ValueError, match="already evaluated"):
        feed_last.add_look([1, 1], [10, 10])


def test_peeking_stops_at_the_first_nominal_rejection() -> None:
    control, n, treated = STRONG
    test = SequentialTest(plan("peeking"), 2)
    feed(test, [control, treated], n)
    out = test.outcome()
    first = int(np.argmax(out.p_nominal[0] <= 0.05))
    assert out.decision_look == first and out.decision_time == first + 1.0


def test_msprt_uses_running_minimum_always_valid_pvalues() -> None:
    control, n, _ = STRONG
    test = SequentialTest(plan("sequential_msprt", tau=0.02), 2)
    # a treatment whose lead vanishes later: the always-valid p-value cannot go back up
    feed(test, [control, [60, 100, 120, 130]], n)
    out = test.outcome()
    assert (np.diff(out.p_sequential[0]) <= 0).all()
    assert out.p_sequential[0, 0] > out.p_nominal[0, 0]  # the price of always-validity
    assert out.p_sequential[0, -1] < out.p_nominal[0, -1]  # but it never forgets


@pytest.mark.parametrize("boundary", ["obf_per_side", "obf_two_sided", "pocock_spending",
                                      "obf_classical"])  # fmt: skip
def test_obrien_fleming_rule_uses_the_named_boundaries(boundary: Any) -> None:
    control, n, treated = STRONG
    design = dataclasses.replace(plan("obrien_fleming"), boundary=boundary)
    test = SequentialTest(design, 2)
    feed(test, [control, treated], n)
    out = test.outcome()
    expected = group_sequential_bounds(4, 0.05, kind=boundary).z_bounds
    np.testing.assert_allclose(out.threshold, expected)
    np.testing.assert_array_equal(out.reject[0], np.abs(out.z[0]) >= np.asarray(expected))
    assert plan("obrien_fleming").boundary == "obf_per_side"  # the scenarios' default
    with pytest.raises(ValueError, match="at most 50 looks"):
        plan("obrien_fleming", n_looks=60)


def test_winner_among_several_treatments() -> None:
    # control 5%, B 8% (significant), C 5.5% (not): B wins; Holm over the two comparisons.
    test = SequentialTest(plan("fixed", n_looks=1), 3)
    test.add_look([150, 240, 165], [3000, 3000, 3000])
    out = test.outcome()
    assert out.significant and out.winner == 1
    np.testing.assert_array_equal(out.reject[:, 0], [True, False])
    # a treatment significantly worse than control: stop and keep the control
    worse = SequentialTest(plan("fixed", n_looks=1), 2)
    worse.add_look([240, 150], [3000, 3000])
    assert worse.outcome().significant and worse.winner == 0


@pytest.mark.parametrize(("fallback", "winner"), [("control", 0), ("empirical_best", 1)])
def test_inconclusive_test_falls_back(fallback: str, winner: int) -> None:
    test = SequentialTest(plan("fixed", n_looks=1, fallback=fallback), 2)
    test.add_look([50, 52], [1000, 1000])
    out = test.outcome()
    assert out.decided and not out.significant and out.winner == winner


def test_empty_arms_give_no_evidence() -> None:
    test = SequentialTest(plan("peeking"), 2)
    test.add_look([0, 0], [0, 0])
    out = test.outcome()
    assert out.z[0, 0] == 0.0 and out.p_nominal[0, 0] == 1.0 and not test.decided


# ====================================================================== validation
@pytest.mark.parametrize(
    ("config", "message"),
    [
        (ab_config(variants=[{"kind": "thompsn"}, fixed(0)]), "Did you mean 'thompson'"),
        (ab_config(variants=[{"kind": "thompson", "prior_count": -1}, fixed(0)]), "prior_count"),
        (ab_config(variants=[{"kind": "oracle"}, fixed(0)]), "needs the oracle"),
        (ab_config(weights=[1.0]), "weights has 1 entries"),
        (ab_config(weights=[1.0, 0.0]), "greater than 0"),
        (ab_config(test="obrien_fleming", horizon_days=28, checkpoint_every=0.25), "50 looks"),
        (ab_config(variants=[fixed(0)]), "at least 2"),
        ({"kind": "bandit_over_policies", "policies": [{"name": "a", "policy": fixed(0)},
          {"name": "b", "policy": fixed(1)}], "bandit": {"kind": "fixed"}}, "online"),
        ({"kind": "bandit_over_policies", "policies": [{"name": "a", "policy": fixed(0)},
          {"name": "a", "policy": fixed(1)}]}, "distinct"),
    ],
)  # fmt: skip
def test_invalid_configs_are_rejected(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        registry.parse_params(config)


def test_config_round_trip_and_surface_checks() -> None:
    config = ab_config(weights=[1, 3], test="sequential_msprt", commit=True, salt=5)
    policy = registry.make(config)
    assert ABSplitParams.model_validate(policy.get_config()) == policy.params
    ctx = check_context(Surface.SLATE)
    with pytest.raises(ValueError, match=r"cannot act on|acts on surfaces"):
        registry.make(ab_config()).setup(ctx.spec, np.random.default_rng(0))
    campaign = check_context(Surface.CAMPAIGN)
    with pytest.raises(ValueError, match="does not fit"):
        registry.make(ab_config(metric="click", variants=[{"kind": "random"}] * 2)).setup(
            campaign.spec, np.random.default_rng(0)
        )


def test_fixed_action_respects_eligibility_and_range() -> None:
    ctx = check_context(Surface.CAMPAIGN)
    policy = registry.make({"kind": "fixed", "action": 1})
    policy.setup(ctx.spec, np.random.default_rng(0))
    request = ctx.requests[0]
    assert request.eligible is not None
    actions = policy.act(request).actions
    np.testing.assert_array_equal(actions, np.where(request.eligible[:, 1], 1, -1))
    variant = check_context(Surface.VARIANT)
    with pytest.raises(ValueError, match="not a variant index"):
        registry.make({"kind": "fixed", "action": 5}).setup(variant.spec, np.random.default_rng(0))


# ====================================================================== A/B split on requests
def test_ab_split_routes_by_assignment_and_scales_propensities() -> None:
    halved = {"kind": "plugin", "plugin": RECORDER, "params": {"action": 0, "propensity": 0.5}}
    plain = {"kind": "plugin", "plugin": RECORDER, "params": {"action": 1}}
    config = ab_config(variants=[halved, plain], weights=[1, 3], salt=3)
    policy = setup_policy(config)
    assert isinstance(policy, ABSplit)
    request = check_context(Surface.VARIANT).requests[0]
    decision = policy.act(request)
    groups = assign_variants(request.users, [0.25, 0.75], salt=3)
    assert decision.group is not None and decision.propensities is not None
    np.testing.assert_array_equal(decision.group, groups)
    np.testing.assert_array_equal(decision.actions, groups)
    np.testing.assert_allclose(decision.propensities, np.where(groups == 0, 0.25 * 0.5, 0.75))
    clicks = np.arange(request.size) % 2 == 0
    policy.learn(feedback_for(request, decision, clicks))
    for k, sub in enumerate(policy.subs_):
        assert isinstance(sub, Recorder)
        (fb,) = sub.learnt_
        np.testing.assert_array_equal(fb.users, request.users[groups == k])
        own = 0.5 if k == 0 else 1.0
        assert fb.propensities is not None
        np.testing.assert_allclose(fb.propensities, own)  # the sub-policy's own propensity
    # counts of look 5 (t = 4.0 falls in the bucket ending at day 4)
    assert policy.counts_[0].sum() == request.size
    assert policy.counts_[1].sum() == clicks.sum()


def test_ab_split_commits_to_the_winner_and_routes_late_feedback() -> None:
    config = ab_config(test="peeking", commit=True, checkpoint_every=0.25, alpha=0.5)
    policy = setup_policy(config)
    assert isinstance(policy, ABSplit)
    ctx = check_context(Surface.VARIANT)
    first = ctx.requests[0]
    decision = policy.act(first)
    assign = policy.assignment(first.users)
    clicks = assign == 1  # variant 1 always clicked, variant 0 never: decisive
    policy.learn(feedback_for(first, decision, clicks))
    second = ctx.requests[1]
    late = policy.act(second)  # evaluates the look at t = 4.0 and commits
    assert policy.committed_ and policy.commit_time_ == second.t
    assert policy.outcome().winner == 1
    np.testing.assert_array_equal(late.actions, 1)
    np.testing.assert_array_equal(late.group, 1)
    np.testing.assert_allclose(late.propensities, 1.0)
    before = policy.counts_.copy()
    # feedback of the pre-commit decisions arrives after the commit: routed by assignment;
    # feedback of post-commit decisions goes to the winner and leaves the test alone
    mixed = feedback_for(first, decision, clicks)
    policy.learn(mixed)
    assert policy.counts_[0].sum() == before[0].sum() + first.size
    policy.learn(feedback_for(second, late, np.ones(second.size, dtype=bool)))
    assert policy.counts_[0].sum() == before[0].sum() + first.size


def test_ab_split_same_seed_same_salt_and_actions() -> None:
    a, b = setup_policy(ab_config(), seed=4), setup_policy(ab_config(), seed=4)
    c = setup_policy(ab_config(), seed=5)
    assert isinstance(a, ABSplit) and isinstance(b, ABSplit) and isinstance(c, ABSplit)
    assert a.salt_ == b.salt_ != c.salt_
    request = check_context(Surface.VARIANT).requests[0]
    np.testing.assert_array_equal(a.act(request).actions, b.act(request).actions)


# ====================================================================== A/B split in the engine
@pytest.mark.parametrize(
    ("test", "commit"),
    [("fixed", False), ("peeking", True), ("sequential_msprt", True), ("obrien_fleming", True)],
)
def test_policy_test_matches_the_replay_from_logs(test: str, commit: bool) -> None:
    config = ab_config(test=test, commit=commit, horizon_days=8)
    policy = registry.make(config)
    result = simulate(variant_world((0.05, 0.08)), schedule(10.0), seed=2, session_policy=policy)
    assert isinstance(policy, ABSplit)
    decisions = result.log.frame("decisions")
    own = policy.outcome()
    design = ABDesign.from_config(ABSplitParams.model_validate(config).model_dump())
    replay = replay_test(decisions, design, 10.0)
    assert own.decided and own.winner == 1  # 5% vs 8% on 1,500 users a day: B wins
    upto = own.decision_look + 1
    np.testing.assert_array_equal(own.trials[:, :upto], replay.trials[:, :upto])
    np.testing.assert_array_equal(own.successes[:, :upto], replay.successes[:, :upto])
    assert (own.decision_time, own.winner, own.significant) == (
        replay.decision_time,
        replay.winner,
        replay.significant,
    )
    if commit:
        after = decisions[decisions[Col.T] > policy.commit_time_]
        assert (after[Col.GROUP] == own.winner).all() and (after[Col.PROPENSITY] == 1).all()
        before = decisions[decisions[Col.T] <= own.decision_time]
        np.testing.assert_array_equal(
            before[Col.GROUP], assign_variants(before[Col.USER], [0.5, 0.5], policy.salt_)
        )


@pytest.mark.parametrize("test", ["fixed", "obrien_fleming"])
def test_pre_period_serves_the_control_and_the_test_starts_after_it(test: str) -> None:
    config = ab_config(test=test, horizon_days=10, pre_period_days=3)
    policy = registry.make(config)
    result = simulate(variant_world((0.05, 0.08)), schedule(10.0), seed=2, session_policy=policy)
    assert isinstance(policy, ABSplit)
    decisions = result.log.frame("decisions")
    t = decisions[Col.T].to_numpy()
    pre, after = decisions[t <= 3.0], decisions[t > 3.0]
    assert len(pre) and (pre[Col.GROUP] == 0).all() and (pre[Col.PROPENSITY] == 1).all()
    np.testing.assert_array_equal(
        after[Col.GROUP], assign_variants(after[Col.USER], [0.5, 0.5], policy.salt_)
    )
    own = policy.outcome()
    np.testing.assert_allclose(policy.plan_.looks, np.arange(4.0, 11.0))  # daily from P to H
    # the pre-period is not in the test: the looks count only decisions after day 3
    assert own.trials[:, 0].sum() == ((t > 3.0) & (t <= 4.0)).sum()
    design = ABDesign.from_config(ABSplitParams.model_validate(config).model_dump())
    replay = replay_test(decisions, design, 10.0)
    seen = own.looks.size  # the policy sees the last look only on a later request
    np.testing.assert_array_equal(own.trials, replay.trials[:, :seen])
    np.testing.assert_array_equal(own.successes, replay.successes[:, :seen])
    if own.decided:
        assert (own.decision_time, own.winner) == (replay.decision_time, replay.winner)
    if test == "obrien_fleming":  # information fractions (τ − P) / (H − P)
        expected = group_sequential_bounds(7, 0.05, list(np.arange(1, 8) / 7.0)).z_bounds
        np.testing.assert_allclose(policy.plan_.obf_bounds(1), expected, rtol=1e-12)


def test_pre_period_must_end_before_the_horizon_and_on_a_window() -> None:
    with pytest.raises(ValueError, match=r"pre_period_days .* shorter than the test horizon"):
        ABSplitParams.model_validate(ab_config(horizon_days=5, pre_period_days=5))
    from recarena.experiment.loading import scenario_from_dict
    from recarena.experiment.problems import ScenarioError

    data = {
        "name": "pre", "seeds": [1, 2, 3],
        "world": {"population": {"n_users": 50}, "catalogue": {"n_items": 5},
                  "variants": [{"name": "a", "ctr": 0.05}]},
        "schedule": {"days": 4, "surface": "variant", "decision_window": 0.25},
        "arms": [{"name": "ab", "policy": ab_config(variants=[fixed(0), fixed(0)],
                                                    pre_period_days=1.1)}],
    }  # fmt: skip
    with pytest.raises(ScenarioError, match=r"whole multiple of schedule\.decision_window"):
        scenario_from_dict(data)
    data["arms"][0]["policy"]["pre_period_days"] = 4  # type: ignore[index]
    with pytest.raises(ScenarioError, match="shorter than the test horizon"):
        scenario_from_dict(data)


# ====================================================================== bandit over policies
def bandit_config(**params: Any) -> dict[str, Any]:
    policies = params.pop("policies", [fixed(0), fixed(1)])
    return {
        "kind": "bandit_over_policies",
        "policies": [{"name": f"p{i}", "policy": p} for i, p in enumerate(policies)],
        **params,
    }


@pytest.mark.parametrize("unit", ["session", "user"])
def test_bandit_over_policies_prefers_the_better_policy(unit: str) -> None:
    policy = registry.make(bandit_config(unit=unit))
    result = simulate(variant_world((0.02, 0.12)), schedule(8.0), seed=1, session_policy=policy)
    d = result.log.frame("decisions")
    late = d[d[Col.T] > 6.0]
    assert (late[Col.GROUP] == 1).mean() > 0.8
    np.testing.assert_array_equal(d[Col.GROUP], d[Col.ACTION])
    assert ((d[Col.PROPENSITY] > 0) & (d[Col.PROPENSITY] <= 1)).all()
    if unit == "user":
        assert (d.groupby(Col.USER)[Col.GROUP].nunique() == 1).all()  # sticky per user


def test_bandit_over_policies_routes_feedback_to_the_deciding_policy() -> None:
    recorder = [{"kind": "plugin", "plugin": RECORDER, "params": {"action": a, "propensity": 0.5}}
                for a in (0, 1)]  # fmt: skip
    policy = setup_policy(bandit_config(policies=recorder, bandit={"kind": "epsilon_greedy",
                                                                    "epsilon": 1.0}))  # fmt: skip
    assert isinstance(policy, BanditOverPolicies)
    ctx = check_context(Surface.VARIANT)
    request = ctx.requests[0]
    decision = policy.act(request)
    assert decision.group is not None and decision.propensities is not None
    np.testing.assert_allclose(decision.propensities, 0.5 * 0.5)  # uniform allocation × own
    policy.learn(feedback_for(request, decision, np.ones(request.size, dtype=bool)))
    for k, sub in enumerate(policy.subs_):
        assert isinstance(sub, Recorder)
        (fb,) = sub.learnt_
        np.testing.assert_array_equal(fb.users, request.users[decision.group == k])
    stats = policy.allocator_.statistics(Surface.VARIANT, request.t)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(stats.n, np.bincount(decision.group, minlength=2))
