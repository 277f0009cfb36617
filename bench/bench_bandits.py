#!/usr/bin/env python
"""Bandit benchmark: decisions per second of every bandit in the simulator vs its bare kernel.

For each bandit kind (and ``bandit_over_policies`` with a Thompson allocator) one simulation
runs on the variant surface of a ``--users`` world (default 100,000 users, 3 banners) for
``--days`` days, with the policy's ``act`` and ``learn`` wrapped in timers that also record
every batch size. The bare numpy kernel of the same policy
(:data:`recarena.policies.bandits.KERNELS`: e.g. B×K Beta draws and an argmax for Thompson
sampling) is then called on the same sequence of batch sizes, with the statistics the policy
ended with, and timed the same way.

Reported per policy
-------------------
kernel_dps
    Decisions per second of the bare kernel.
policy_dps
    Decisions per second of the policy inside the simulation: decisions / (time in ``act`` +
    time in ``learn``) — everything the policy costs the simulation (bookkeeping, statistics,
    propensities, learning).
overhead
    (act + learn time) / kernel time: what the policy adds around its kernel. Target ≤ 2.
act_overhead
    act time / kernel time (decision path only).
simulation_dps
    Decisions per second of the whole simulation (engine, oracle columns, logging included);
    ``policy_share`` is the fraction of that wall time spent in the policy.

Everything runs in this process with BLAS/OpenMP limited to one thread (threadpoolctl); each
policy is simulated ``--repeat`` times (same seed, same batches) and the kernel replayed as
often, and the best time of each is kept, which filters out noise from other processes.

Usage::

    python bench/bench_bandits.py                    # 100k users, writes bench/results/bandits.json
    python bench/bench_bandits.py --quick            # tiny sizes, for the smoke test
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from recarena.policies import bandits as bd
from recarena.policies import registry
from recarena.policies.base import Decision, DecisionRequest, Feedback, Policy, Surface
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


@dataclass
class Timed:
    """Wall time and batch sizes of a policy's ``act`` and ``learn`` calls."""

    act_seconds: float = 0.0
    learn_seconds: float = 0.0
    batches: list[int] = field(default_factory=list)

    @property
    def total(self) -> float:
        """Seconds in ``act`` and ``learn``."""
        return self.act_seconds + self.learn_seconds

    def wrap(self, policy: Policy) -> Policy:
        act, learn = policy.act, policy.learn

        def timed_act(request: DecisionRequest) -> Decision:
            tic = time.perf_counter()
            decision = act(request)
            self.act_seconds += time.perf_counter() - tic
            self.batches.append(request.size)
            return decision

        def timed_learn(feedback: Feedback) -> None:
            tic = time.perf_counter()
            learn(feedback)
            self.learn_seconds += time.perf_counter() - tic

        setattr(policy, "act", timed_act)  # noqa: B010  (instance attribute shadows the method)
        setattr(policy, "learn", timed_learn)  # noqa: B010
        return policy


def world_params(users: int) -> WorldParams:
    return WorldParams(
        population=PopulationParams(n_users=users),
        catalogue=CatalogueParams(n_items=20),
        variants=[VariantParams(name=n, ctr=c) for n, c in zip("ABC", VARIANTS, strict=True)],
    )


def kernel_call(
    kind: str, policy: Policy, features: np.ndarray, t: float
) -> Callable[[int, np.random.Generator], np.ndarray]:
    """The bare kernel of ``policy`` with its final statistics, as ``call(B, rng)``."""
    if kind == "bandit_over_policies":
        assert isinstance(policy.allocator_, bd.Thompson)  # type: ignore[attr-defined]
        return kernel_call("thompson", policy.allocator_, features, t)  # type: ignore[attr-defined]
    kernel = bd.KERNELS[kind]
    p: Any = policy.params
    if kind in ("lin_ucb", "lin_thompson"):
        state = policy.state_[Surface.VARIANT]  # type: ignore[attr-defined]
        x = np.hstack([features.astype(np.float64), np.ones((features.shape[0], 1))])
        scale = p.alpha if kind == "lin_ucb" else p.v
        return lambda b, rng: kernel(x[:b], state.theta, state.a_inv, scale, rng)
    stats = policy.statistics(Surface.VARIANT, t)  # type: ignore[attr-defined]
    n, s = stats.n, stats.s
    means = s / np.maximum(n, 1.0)
    if kind == "epsilon_greedy":
        return lambda b, rng: kernel(means, p.epsilon, b, rng)
    if kind == "softmax":
        return lambda b, rng: kernel(means, p.temperature, b, rng)
    if kind in ("thompson", "discounted_thompson"):
        alpha = p.prior_count * p.prior_mean + s
        beta = p.prior_count * (1 - p.prior_mean) + n - s
        return lambda b, rng: kernel(alpha, beta, b, rng)
    if kind == "kl_ucb":
        return lambda b, rng: kernel(n, s, b, rng, c=p.c)
    return lambda b, rng: kernel(n, s, b, rng, exploration=p.exploration, xi=p.xi)


def bench_one(kind: str, world: World, params: WorldParams, schedule: ScheduleParams,
              seed: int, repeat: int) -> dict[str, Any]:  # fmt: skip
    """Best of ``repeat`` simulations (policy time) and kernel replays (kernel time)."""
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
    call = kernel_call(kind, policy, world.features[: max(best.batches)], schedule.days)
    kernel = math.inf
    for _ in range(repeat):
        rng = np.random.default_rng(seed)
        tic = time.perf_counter()
        for b in best.batches:
            call(b, rng)
        kernel = min(kernel, time.perf_counter() - tic)
    return {
        "policy": kind,
        "decisions": decisions,
        "batches": len(best.batches),
        "mean_batch": decisions / max(len(best.batches), 1),
        "kernel_seconds": kernel,
        "act_seconds": best.act_seconds,
        "learn_seconds": best.learn_seconds,
        "simulation_seconds": wall,
        "kernel_dps": decisions / kernel,
        "policy_dps": decisions / best.total,
        "simulation_dps": decisions / wall,
        "overhead": best.total / kernel,
        "act_overhead": best.act_seconds / kernel,
        "policy_share": best.total / wall,
        "within_target": best.total / kernel <= TARGET_OVERHEAD,
    }


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
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.days, args.repeat = 2_000, 1.0, 1
    output = args.output or HERE / "results" / ("bandits_quick.json" if args.quick else
                                                 "bandits.json")  # fmt: skip
    params = world_params(args.users)
    schedule = ScheduleParams(days=args.days, surface="variant", decision_window=args.window,
                              keep_impressions=False)  # fmt: skip
    rows = []
    with threadpool_limits(limits=1):
        world = build_world(params, schedule, args.seed)
        for kind in args.policies:
            row = bench_one(kind, world, params, schedule, args.seed, args.repeat)
            rows.append(row)
            print(f"{kind:22s} kernel {row['kernel_dps']:>13,.0f} dec/s   policy "
                  f"{row['policy_dps']:>11,.0f} dec/s   overhead {row['overhead']:5.2f}× "
                  f"(act {row['act_overhead']:5.2f}×)   simulation "
                  f"{row['simulation_dps']:>9,.0f} dec/s   policy share "
                  f"{row['policy_share']:.1%}", flush=True)  # fmt: skip
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
