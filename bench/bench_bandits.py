#!/usr/bin/env python
"""Bandit benchmark: decisions per second of every bandit in the simulator vs its bare kernel.

For each bandit kind (and ``bandit_over_policies`` with a Thompson allocator) a simulation runs
on the variant surface of a ``--users`` world (default 100,000 users, 3 banners) for ``--days``
days, with the policy's ``act`` and ``learn`` wrapped in timers that also record every call in
order (the batch size of each ``act``, the feedback of each ``learn``). The policy's time is
everything it costs the simulation: ``act`` (choose B arms *and* report their propensities)
plus ``learn`` (fold a feedback batch into its statistics). It is compared with the bare numpy
kernel of the same policy doing the same work with nothing around it.

The kernel baseline
-------------------
``decide(features)``, for the B users of a request
    the kernel of :data:`recarena.policies.bandits.kernels.KERNELS` (statistics + generator
    -> ranked arms)
    plus the propensity the policy logs, computed with the module's pure functions and sharing
    the kernel's intermediate results as a bare implementation would. UCB family and KL-UCB:
    ``ucb_index`` / ``kl_ucb_index`` over the K arms, ``select_top_k`` for the B users and
    ``tie_propensity`` of that index. ε-greedy and softmax: their kernel and exact propensity.
    Thompson sampling: B×K Beta draws, the top arm and ``monte_carlo_propensity`` (a large
    batch is its own Monte Carlo sample). LinUCB and linear Thompson: the design matrix from the
    request's float32 features, ``linear_moments`` once, the selection, and ``tie_propensity``
    / ``lin_thompson_propensity`` (``propensity_samples`` quadrature points).
``update(feedback)``
    the statistics update written directly in numpy: two ``np.bincount`` per click batch into
    (n, s) for context-free bandits (plus the decay for discounted ones); for linear bandits
    the design matrix, per-arm Gram matrices and reward sums (records sorted by arm, one BLAS
    product per arm), a batched inverse and θ̂ of the touched arms.

It leaves out the memory's bookkeeping (window ring and discounting at decision time, the
sum-of-squares statistic of the Gaussian model, symmetrising Aₐ⁻¹), which the policy pays for.

Why this baseline, and why it is timed inside the simulation
------------------------------------------------------------
Earlier versions replayed the arms-only kernel back to back on the same batch sizes. That
compared unlike things twice. (1) Work any implementation must do was counted as overhead:
the propensities (for UCB the kernel is a shared argmax broadcast, ≈0.006 µs per decision, so
even a length-B propensity vector looked expensive) and the learning (the kernel did not learn
at all). (2) Caches: the policy runs between the engine's steps, the replay in a hot loop.
Measured on the 100k scenario, the bare UCB decision costs 18 µs per call back to back but
43 µs when it runs right after an engine step (the bare update: 9 µs vs 14 µs); whichever code
runs first after the engine pays ~25 µs per call. So the kernel is now also timed inside a
simulation: called immediately before each ``act`` / ``learn`` of the policy, on the same
request (users, features) and feedback, with the policy's statistics at that point, so it
meets the caches in the state the policy meets them in its own run; only the kernel is timed
there, the policy's time comes from runs without the kernel. The two former comparisons are
still reported: against the same baseline replayed back to back (``overhead_hot``) and
against the arms-only kernel replayed back to back (``overhead_vs_arms``, the former number).

Reported per policy
-------------------
kernel_dps
    Decisions per second of the bare kernel in the simulation: decisions / (decide + update).
policy_dps
    Decisions per second of the policy inside the simulation: decisions / (time in ``act`` +
    time in ``learn``).
overhead
    (act + learn time) / (decide + update time): what the policy adds around its kernel.
    Target ≤ 2.
act_overhead, learn_overhead
    act time / decide time and learn time / update time.
overhead_hot, overhead_vs_arms
    (act + learn time) / the baseline replayed back to back (hot caches, final statistics), and
    / the arms-only kernel replayed back to back (the former definition).
simulation_dps
    Decisions per second of the whole simulation (engine, oracle columns, logging included);
    ``policy_share`` is the fraction of that wall time spent in the policy.

Everything runs in this process with BLAS/OpenMP limited to one thread (threadpoolctl); each
measurement (policy simulation, kernel simulation, replays) is repeated ``--repeat`` times with
the same seed and batches and the best time kept, which filters out noise from other processes.

Slate propensities (``--slates``)
---------------------------------
On slates every bandit logs each slot's propensity and the whole slate's where computable
(:mod:`recarena.policies.bandits.slate_propensities`). ``--slates`` measures what that costs
``act``: each slate bandit runs a slate simulation (``--users`` users, ``--items`` items,
slates of ``--slate-size``) twice in the same process — as it is, and with its slot and slate
propensity functions swapped for first-slot-only ones (the module attributes the policies
call, patched for that run only), the two alternating ``--repeat`` times — and reports
``act_ratio`` = act seconds with all slots / act seconds with the first slot only (best of
each), and decisions per second inside ``act``.

Usage::

    python bench/bench_bandits.py                    # 100k users, writes bench/results/bandits.json
    python bench/bench_bandits.py --quick            # tiny sizes, for the smoke test
    python bench/bench_bandits.py --slates --users 20000   # slot propensities' act() cost
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from recarena.contract import Decision, DecisionRequest, Feedback, FeedbackKind, Surface
from recarena.policies import registry
from recarena.policies.bandits.context_free import Thompson
from recarena.policies.bandits.kernels import (
    KERNELS,
    epsilon_greedy_kernel,
    softmax_kernel,
    thompson_kernel,
)
from recarena.policies.bandits.propensities import (
    epsilon_greedy_propensity,
    lin_thompson_propensity,
    monte_carlo_propensity,
    softmax_propensity,
    tie_propensity,
)
from recarena.policies.bandits.scores import kl_ucb_index, linear_moments, ucb_index
from recarena.policies.bandits.selection import select_top_k
from recarena.policies.base import Policy
from recarena.simulator.params import (
    CatalogueParams,
    PopulationParams,
    ScheduleParams,
    VariantParams,
    WorldParams,
)
from recarena.simulator.simulation import build_world, simulate
from recarena.simulator.world import World

HERE = Path(__file__).resolve().parent
TARGET_OVERHEAD = 2.0
VARIANTS = (0.050, 0.055, 0.048)

#: Policy configs benchmarked (kind → config); kernels are looked up by the policy kind.
CONFIGS: dict[str, dict[str, Any]] = {
    "epsilon_greedy": {"kind": "epsilon_greedy", "epsilon": 0.1},
    "ucb1": {"kind": "ucb1"},
    "sw_ucb": {"kind": "sw_ucb", "window": 1.0},
    "discounted_ucb": {"kind": "discounted_ucb", "gamma": 0.9},
    "kl_ucb": {"kind": "kl_ucb"},
    "thompson": {"kind": "thompson"},
    "discounted_thompson": {"kind": "discounted_thompson", "gamma": 0.9},
    "softmax": {"kind": "softmax", "temperature": 0.01},
    "lin_ucb": {"kind": "lin_ucb"},
    "lin_thompson": {"kind": "lin_thompson"},
    "bandit_over_policies": {
        "kind": "bandit_over_policies",
        "bandit": {"kind": "thompson"},
        "policies": [
            {"name": n, "policy": {"kind": "fixed", "action": a}} for a, n in enumerate("ABC")
        ],
    },
}


Event = tuple[str, Any]  #: ("act", batch size) or ("learn", feedback)
Decide = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, ...]]
Update = Callable[[Feedback], None]


@dataclass
class Timed:
    """Wall time of a policy's ``act`` and ``learn`` calls, and the calls in order."""

    act_seconds: float = 0.0
    learn_seconds: float = 0.0
    events: list[Event] = field(default_factory=list)

    @property
    def total(self) -> float:
        """Seconds in ``act`` and ``learn``."""
        return self.act_seconds + self.learn_seconds

    @property
    def batches(self) -> list[int]:
        """Batch size of every ``act``."""
        return [b for kind, b in self.events if kind == "act"]

    def wrap(self, policy: Policy) -> Policy:
        act, learn = policy.act, policy.learn

        def timed_act(request: DecisionRequest) -> Decision:
            tic = time.perf_counter()
            decision = act(request)
            self.act_seconds += time.perf_counter() - tic
            self.events.append(("act", request.size))
            return decision

        def timed_learn(feedback: Feedback) -> None:
            tic = time.perf_counter()
            learn(feedback)
            self.learn_seconds += time.perf_counter() - tic
            self.events.append(("learn", feedback))

        setattr(policy, "act", timed_act)  # noqa: B010  (instance attribute shadows the method)
        setattr(policy, "learn", timed_learn)  # noqa: B010
        return policy


def world_params(users: int) -> WorldParams:
    return WorldParams(
        population=PopulationParams(n_users=users),
        catalogue=CatalogueParams(n_items=20),
        variants=[VariantParams(name=n, ctr=c) for n, c in zip("ABC", VARIANTS, strict=True)],
    )


def _design(features: np.ndarray) -> np.ndarray:
    """Float64 design matrix with a constant column (the linear policies' default)."""
    x = np.empty((features.shape[0], features.shape[1] + 1))
    x[:, :-1] = features
    x[:, -1] = 1.0
    return x


def kernel_call(
    kind: str, policy: Policy, features: np.ndarray, t: float
) -> Callable[[int, np.random.Generator], np.ndarray]:
    """The arms-only kernel of ``policy`` with its final statistics, as ``call(B, rng)``."""
    if kind == "bandit_over_policies":
        assert isinstance(policy.allocator_, Thompson)  # type: ignore[attr-defined]
        return kernel_call("thompson", policy.allocator_, features, t)  # type: ignore[attr-defined]
    kernel = KERNELS[kind]
    p: Any = policy.params
    if kind in ("lin_ucb", "lin_thompson"):
        state = policy.state_[Surface.VARIANT]  # type: ignore[attr-defined]
        x = _design(features.astype(np.float64))
        scale = p.alpha if kind == "lin_ucb" else p.v
        return lambda b, rng: kernel(x[:b], state.theta, state.a_inv, scale, rng).arms
    stats = policy.statistics(Surface.VARIANT, t)  # type: ignore[attr-defined]
    n, s = stats.n, stats.s
    means = s / np.maximum(n, 1.0)
    if kind == "epsilon_greedy":
        return lambda b, rng: kernel(means, p.epsilon, b, rng).arms
    if kind == "softmax":
        return lambda b, rng: kernel(means, p.temperature, b, rng).arms
    if kind in ("thompson", "discounted_thompson"):
        alpha = p.prior_count * p.prior_mean + s
        beta = p.prior_count * (1 - p.prior_mean) + n - s
        return lambda b, rng: kernel(alpha, beta, b, rng).arms
    if kind == "kl_ucb":
        return lambda b, rng: kernel(n, s, b, rng, c=p.c).arms
    return lambda b, rng: kernel(n, s, b, rng, exploration=p.exploration, xi=p.xi).arms


def decide_call(kind: str, policy: Policy, t: float, seed: int) -> Decide:
    """The bare decision of ``policy`` with its statistics at ``t``: arms *and* propensities,
    as ``decide(features, rng)`` for a batch of B = len(features) users."""
    if kind == "bandit_over_policies":
        return decide_call("thompson", policy.allocator_, t, seed)  # type: ignore[attr-defined]
    p: Any = policy.params
    if kind in ("lin_ucb", "lin_thompson"):
        state = policy.state_[Surface.VARIANT]  # type: ignore[attr-defined]
        theta, a_inv = state.theta, state.a_inv

        def linear(features: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
            b = features.shape[0]
            mean, width = linear_moments(_design(features), theta, a_inv)
            if kind == "lin_ucb":
                scores = mean + p.alpha * width
                arms = select_top_k(scores, 1, rng, batch_size=b)
                return arms, tie_propensity(scores, arms[:, 0])
            draws = mean + p.v * width * rng.standard_normal(mean.shape)
            arms = select_top_k(draws, 1, rng, batch_size=b)
            prop = lin_thompson_propensity(mean, p.v * width, arms[:, 0], p.propensity_samples)
            return arms, prop

        return linear
    stats = policy.statistics(Surface.VARIANT, t)  # type: ignore[attr-defined]
    n, s = stats.n, stats.s
    n_arms = n.size
    unplayed = n <= 0  # round robin (the configs' init): unplayed arms come first
    if kind in ("epsilon_greedy", "softmax"):
        means = np.where(unplayed, np.inf, s / np.maximum(n, 1.0))
        kernel, propensity = (
            (epsilon_greedy_kernel, epsilon_greedy_propensity)
            if kind == "epsilon_greedy"
            else (softmax_kernel, softmax_propensity)
        )
        knob = p.epsilon if kind == "epsilon_greedy" else p.temperature

        def exact(features: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
            arms = kernel(means, knob, features.shape[0], rng).arms
            return arms, propensity(means, knob, arms[:, 0])

        return exact
    if kind in ("thompson", "discounted_thompson"):
        alpha = p.prior_count * p.prior_mean + s
        beta = p.prior_count * (1 - p.prior_mean) + n - s
        extra = np.random.default_rng(seed + 1)  # Monte Carlo draws of small batches

        def thompson(features: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
            arms = thompson_kernel(alpha, beta, features.shape[0], rng, forced=unplayed).arms
            prop = monte_carlo_propensity(
                lambda m: extra.beta(alpha, beta, size=(m, 1, n_arms)),
                arms[:, 0], p.propensity_samples, n_arms,
            )  # fmt: skip
            return arms, prop

        return thompson
    if kind == "kl_ucb":
        index_of: Callable[[], np.ndarray] = lambda: kl_ucb_index(n, s, c=p.c)  # noqa: E731
    else:
        index_of = lambda: ucb_index(n, s, exploration=p.exploration, xi=p.xi)  # noqa: E731

    def index_policy(features: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        index = index_of()
        arms = select_top_k(index, 1, rng, batch_size=features.shape[0])
        return arms, tie_propensity(index, arms[:, 0])

    return index_policy


def update_call(kind: str, policy: Policy) -> Update:
    """The bare statistics update of ``policy`` for one click batch, on fresh statistics."""
    if kind == "bandit_over_policies":
        return update_call("thompson", policy.allocator_)  # type: ignore[attr-defined]
    n_arms = policy.n_arms_[Surface.VARIANT]  # type: ignore[attr-defined]
    p: Any = policy.params
    if kind in ("lin_ucb", "lin_thompson"):
        dim = policy.spec_.n_features + 1
        a = np.broadcast_to(p.ridge * np.eye(dim), (n_arms, dim, dim)).copy()
        b_sum = np.zeros((n_arms, dim))
        a_inv, theta = np.linalg.inv(a), np.zeros((n_arms, dim))

        def ridge(fb: Feedback) -> None:
            if fb.kind is not FeedbackKind.CLICK:
                return
            x, arms, r = _design(fb.features), fb.actions, fb.rewards
            order = np.argsort(arms, kind="stable")
            xs, rs = x[order], r[order]
            counts = np.bincount(arms, minlength=n_arms)
            ends = np.cumsum(counts)
            touched = np.flatnonzero(counts)
            for k in touched.tolist():  # one BLAS product per arm
                block = slice(int(ends[k] - counts[k]), int(ends[k]))
                a[k] += xs[block].T @ xs[block]
                b_sum[k] += rs[block] @ xs[block]
            a_inv[touched] = np.linalg.inv(a[touched])
            theta[touched] = np.einsum("kfg,kg->kf", a_inv[touched], b_sum[touched])

        return ridge
    n, s = np.zeros(n_arms), np.zeros(n_arms)
    gamma = getattr(p, "gamma", None)
    t_ref = [0.0]

    def counts(fb: Feedback) -> None:
        if fb.kind is not FeedbackKind.CLICK:
            return
        if gamma is not None:
            decay = gamma ** (fb.t - t_ref[0])
            n[:] *= decay
            s[:] *= decay
            t_ref[0] = fb.t
        n[:] += np.bincount(fb.actions, minlength=n_arms)
        s[:] += np.bincount(fb.actions, weights=fb.rewards, minlength=n_arms)

    return counts


def replay_kernel(
    events: list[Event], decide: Decide, update: Update, features: np.ndarray, seed: int
) -> tuple[float, float]:
    """Seconds in ``decide`` and ``update`` over the policy's sequence of calls, back to back."""
    rng = np.random.default_rng(seed)
    decide_seconds = update_seconds = 0.0
    for kind, item in events:
        if kind == "act":
            batch = features[:item]
            tic = time.perf_counter()
            decide(batch, rng)
            decide_seconds += time.perf_counter() - tic
        else:
            tic = time.perf_counter()
            update(item)
            update_seconds += time.perf_counter() - tic
    return decide_seconds, update_seconds


def kernel_in_simulation(kind: str, world: World, params: WorldParams, schedule: ScheduleParams,
                         seed: int) -> tuple[float, float]:  # fmt: skip
    """Seconds of the bare kernel called right before each ``act`` / ``learn`` of the policy in
    a simulation, on the request's users with the policy's statistics at that point: the
    kernel meets the caches in the state the policy meets them in (only the kernel is timed).
    """
    policy = registry.make(CONFIGS[kind])
    act, learn = policy.act, policy.learn
    rng = np.random.default_rng(seed)
    seconds = [0.0, 0.0]
    ready: dict[str, Any] = {}  # prepared after each policy call, outside the timed region

    def prepare(t: float) -> None:
        ready["decide"] = decide_call(kind, policy, t, seed)
        ready.setdefault("update", update_call(kind, policy))

    def kernel_then_act(request: DecisionRequest) -> Decision:
        if not ready:
            prepare(request.t)
        tic = time.perf_counter()
        ready["decide"](request.features, rng)
        seconds[0] += time.perf_counter() - tic
        decision = act(request)
        prepare(request.t)
        return decision

    def kernel_then_learn(feedback: Feedback) -> None:
        if not ready:
            prepare(feedback.t)
        tic = time.perf_counter()
        ready["update"](feedback)
        seconds[1] += time.perf_counter() - tic
        learn(feedback)
        prepare(feedback.t)

    setattr(policy, "act", kernel_then_act)  # noqa: B010
    setattr(policy, "learn", kernel_then_learn)  # noqa: B010
    simulate(params, schedule, seed, session_policy=policy, world=world)
    return seconds[0], seconds[1]


def bench_one(kind: str, world: World, params: WorldParams, schedule: ScheduleParams,
              seed: int, repeat: int) -> dict[str, Any]:  # fmt: skip
    """Best of ``repeat`` runs of: the simulation (policy time), the simulation with the
    kernel in front of the policy (kernel time), the back-to-back kernel replays."""
    best: Timed | None = None
    wall = math.inf
    decisions = 0
    policy: Policy | None = None
    for _ in range(repeat):
        timer = Timed()
        candidate = timer.wrap(registry.make(CONFIGS[kind]))
        tic = time.perf_counter()
        result = simulate(params, schedule, seed, session_policy=candidate, world=world)
        wall = min(wall, time.perf_counter() - tic)
        decisions = result.stats.decisions
        if best is None or timer.total < best.total:
            best, policy = timer, candidate
    assert best is not None and policy is not None
    decide_s, update_s = min(
        (kernel_in_simulation(kind, world, params, schedule, seed) for _ in range(repeat)),
        key=sum,
    )
    kernel = decide_s + update_s
    # Back to back, with the final statistics: hot caches (the former baseline's conditions).
    features = world.features[: max(best.batches)]
    hot = math.inf
    for _ in range(repeat):
        decide = decide_call(kind, policy, schedule.days, seed)
        hot = min(hot, sum(replay_kernel(best.events, decide, update_call(kind, policy),
                                         features, seed)))  # fmt: skip
    call = kernel_call(kind, policy, features, schedule.days)
    arms = math.inf
    for _ in range(repeat):
        rng = np.random.default_rng(seed)
        tic = time.perf_counter()
        for b in best.batches:
            call(b, rng)
        arms = min(arms, time.perf_counter() - tic)
    return {
        "policy": kind,
        "decisions": decisions,
        "batches": len(best.batches),
        "mean_batch": decisions / max(len(best.batches), 1),
        "kernel_seconds": kernel,
        "decide_seconds": decide_s,
        "update_seconds": update_s,
        "kernel_hot_seconds": hot,
        "arms_kernel_seconds": arms,
        "act_seconds": best.act_seconds,
        "learn_seconds": best.learn_seconds,
        "simulation_seconds": wall,
        "kernel_dps": decisions / kernel,
        "policy_dps": decisions / best.total,
        "simulation_dps": decisions / wall,
        "overhead": best.total / kernel,
        "act_overhead": best.act_seconds / decide_s,
        "learn_overhead": best.learn_seconds / update_s if update_s > 0 else math.inf,
        "overhead_hot": best.total / hot,
        "overhead_vs_arms": best.total / arms,
        "policy_share": best.total / wall,
        "within_target": best.total / kernel <= TARGET_OVERHEAD,
    }


#: Slate bandits measured by ``--slates`` (their slot propensities differ in kind).
SLATE_CONFIGS: dict[str, dict[str, Any]] = {
    "epsilon_greedy": {"kind": "epsilon_greedy", "epsilon": 0.1},
    "ucb1": {"kind": "ucb1", "tie_break": "random"},
    "kl_ucb": {"kind": "kl_ucb"},
    "softmax": {"kind": "softmax", "temperature": 0.01},
    "thompson": {"kind": "thompson"},
    "lin_ucb_items": {"kind": "lin_ucb_items", "tie_break": "random"},
    "lin_thompson_items": {"kind": "lin_thompson_items"},
}


@contextmanager
def first_slot_only() -> Iterator[None]:
    """Swap the slate bandits' slot and slate propensity functions for first-slot-only ones
    (what every bandit logged before), restoring them afterwards."""
    from recarena.policies.bandits import base, context_free, linear
    from recarena.policies.bandits.slate_propensities import Propensities

    def only_first(first: np.ndarray, k: int) -> Propensities:
        slots = np.full((first.shape[0], k), np.nan)
        slots[:, 0] = first
        return Propensities(slots)

    def eps_first(means, eps, slates, *, eligible=None, tie_break="random"):  # type: ignore[no-untyped-def]
        p = epsilon_greedy_propensity(means, eps, slates[:, 0], eligible=eligible,
                                      tie_break=tie_break)  # fmt: skip
        return only_first(p, slates.shape[1])

    def tie_first(scores, arms, eligible, tie_break):  # type: ignore[no-untyped-def]
        p = tie_propensity(scores, arms[:, 0], eligible=eligible, tie_break=tie_break)
        return only_first(p, arms.shape[1])

    def mc_first(draw, slates, n_samples, n_arms, *, eligible=None, forced=None,  # type: ignore[no-untyped-def]
                 tie_break="random", shared=True):  # fmt: skip
        p = monte_carlo_propensity(draw, slates[:, 0], n_samples, n_arms, eligible=eligible,
                                   shared=shared)  # fmt: skip
        return only_first(p, slates.shape[1]).slots

    def no_slate(means, temperature, slates, *, eligible=None, tie_break="random"):  # type: ignore[no-untyped-def]
        return np.full(slates.shape[0], np.nan)

    patches = [
        (context_free, "epsilon_greedy_slot_propensities", eps_first),
        (context_free, "tie_decision_propensities", tie_first),
        (linear, "tie_decision_propensities", tie_first),
        (context_free, "monte_carlo_slot_propensities", mc_first),
        (context_free, "plackett_luce_slate_probability", no_slate),
        (base, "monte_carlo_slot_propensities", mc_first),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    try:
        for module, name, replacement in patches:
            setattr(module, name, replacement)
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def bench_slates(args: argparse.Namespace) -> list[dict[str, Any]]:
    """``act`` seconds of every slate bandit with all slots' propensities vs the first's."""
    params = WorldParams(
        population=PopulationParams(n_users=args.users),
        catalogue=CatalogueParams(n_items=args.items, new_items_per_day=0),
    )
    schedule = ScheduleParams(days=args.days, surface="slate", slate_size=args.slate_size,
                              decision_window=args.window, keep_impressions=False)  # fmt: skip
    world = build_world(params, schedule, args.seed)
    rows = []
    for kind, config in SLATE_CONFIGS.items():
        seconds = {"all_slots": math.inf, "first_slot": math.inf}
        decisions = 0
        for _ in range(args.repeat):  # the two modes alternate, so load changes hit both
            for mode in seconds:
                timer = Timed()
                policy = timer.wrap(registry.make(config))
                with first_slot_only() if mode == "first_slot" else nullcontext():
                    result = simulate(params, schedule, args.seed, session_policy=policy,
                                      world=world)  # fmt: skip
                seconds[mode] = min(seconds[mode], timer.act_seconds)
                decisions = result.stats.decisions
        row = {
            "policy": kind,
            "decisions": decisions,
            "act_seconds_all_slots": seconds["all_slots"],
            "act_seconds_first_slot": seconds["first_slot"],
            "act_ratio": seconds["all_slots"] / seconds["first_slot"],
            "act_dps_all_slots": decisions / seconds["all_slots"],
            "act_dps_first_slot": decisions / seconds["first_slot"],
        }
        rows.append(row)
        print(f"{kind:20s} act {row['act_dps_all_slots']:>10,.0f} dec/s with every slot, "
              f"{row['act_dps_first_slot']:>10,.0f} with the first only: "
              f"×{row['act_ratio']:.2f}", flush=True)  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=0.05, help="decision window (days)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--policies", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--quick", action="store_true", help="2,000 users, 1 day")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument(
        "--slates",
        action="store_true",
        help="measure the slot propensities' act() cost on slates instead",
    )
    parser.add_argument("--items", type=int, default=200, help="catalogue size (--slates)")
    parser.add_argument("--slate-size", type=int, default=5, help="slate length (--slates)")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.days, args.repeat = 2_000, 1.0, 1
    name = "bandits_slates" if args.slates else "bandits"
    output = args.output or HERE / "results" / (f"{name}_quick.json" if args.quick else
                                                 f"{name}.json")  # fmt: skip
    if args.slates:
        with threadpool_limits(limits=1):
            slate_rows = bench_slates(args)
        _write(output, args, slate_rows)
        return 0
    params = world_params(args.users)
    schedule = ScheduleParams(days=args.days, surface="variant", decision_window=args.window,
                              keep_impressions=False)  # fmt: skip
    rows = []
    with threadpool_limits(limits=1):
        world = build_world(params, schedule, args.seed)
        for kind in args.policies:
            row = bench_one(kind, world, params, schedule, args.seed, args.repeat)
            rows.append(row)
            print(f"{kind:20s} kernel {row['kernel_dps']:>12,.0f} dec/s  policy "
                  f"{row['policy_dps']:>11,.0f} dec/s  overhead {row['overhead']:5.2f}× "
                  f"(act {row['act_overhead']:4.2f}×, learn {row['learn_overhead']:4.2f}×; vs hot "
                  f"kernel {row['overhead_hot']:4.2f}×, arms-only {row['overhead_vs_arms']:5.2f}×)"
                  f"  simulation "
                  f"{row['simulation_dps']:>9,.0f} dec/s  policy share "
                  f"{row['policy_share']:.1%}", flush=True)  # fmt: skip
    _write(output, args, rows)
    return 0


def _write(output: Path, args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    result = {
        "meta": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "machine": platform.processor() or platform.machine(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "target_overhead": TARGET_OVERHEAD,
        },
        "rows": rows,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2))
    print(f"written {output}")


if __name__ == "__main__":
    sys.exit(main())
