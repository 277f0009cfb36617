#!/usr/bin/env python
"""Gymnasium environment throughput against the scenario engine's own batch path.

Sessions per second on the banner (variant) surface of one world, uniformly random banners:

``engine``
    the baseline: :func:`recarena.simulator.simulation.simulate` with the ``random`` policy
    on a ``--users`` world for ``--days`` days (decision windows batch the sessions; the
    engine also moves satisfaction, churn and logs every decision to memory);
``vector_env``
    :class:`recarena.gym.RecarenaVectorEnv` with ``--num-envs`` streams, one numpy batch per
    step;
``sync_vector``
    Gymnasium's ``SyncVectorEnv`` of ``--num-envs`` single environments (one Python step
    per session);
``single_env``
    one :class:`recarena.gym.RecarenaEnv`, one session per step.

Each is reported as sessions/s and as a ratio to the engine measured in the same run. Writes
JSON to ``--output``. ``--quick`` runs tiny sizes (a smoke test, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import recarena.gym
from recarena.policies import registry
from recarena.simulator.params import ScheduleParams, WorldParams
from recarena.simulator.simulation import simulate


def _world(users: int) -> WorldParams:
    world = recarena.gym.DEFAULT_WORLDS["variant"].model_dump()
    world["population"] = {"n_users": users}
    return WorldParams.model_validate(world)


def engine_rate(users: int, days: float) -> tuple[float, int]:
    """Sessions/s of the engine's batch path (a warm-up run compiles the kernels first)."""
    params = _world(users)
    schedule = ScheduleParams(days=days, surface="variant", decision_window=0.25)
    simulate(
        params, ScheduleParams(days=1, surface="variant"), 0, registry.make({"kind": "random"})
    )
    tic = time.perf_counter()
    result = simulate(params, schedule, 1, registry.make({"kind": "random"}))
    seconds = time.perf_counter() - tic
    return result.stats.decisions / seconds, result.stats.decisions


def env_rate(env: Any, steps: int, batch: int) -> float:
    """Sessions/s of ``steps`` random steps of ``env`` (``batch`` sessions per step)."""
    env.reset(seed=1)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(steps)]
    tic = time.perf_counter()
    for action in actions:
        env.step(action)
    return steps * batch / (time.perf_counter() - tic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--num-envs", type=int, default=256)
    parser.add_argument("--steps", type=int, default=2_000)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--output", type=Path, default=Path("bench/results/gym.json"))
    args = parser.parse_args()
    if args.quick:
        args.users, args.days, args.num_envs, args.steps = 500, 2.0, 8, 50
    world = _world(args.users)
    kwargs = {"world": world, "max_steps": 10**9}
    engine, decisions = engine_rate(args.users, args.days)
    vector = gym.make_vec("recarena/Banner-v0", num_envs=args.num_envs,
                          vectorization_mode="vector_entry_point", **kwargs)  # fmt: skip
    sync = gym.vector.SyncVectorEnv(
        [lambda: gym.make("recarena/Banner-v0", **kwargs)] * min(args.num_envs, 32)
    )
    single = gym.make("recarena/Banner-v0", **kwargs)
    rates = {
        "engine": engine,
        "vector_env": env_rate(vector, args.steps, args.num_envs),
        "sync_vector": env_rate(sync, max(args.steps // 8, 10), sync.num_envs),
        "single_env": env_rate(single, args.steps, 1),
    }
    rows = [
        {"path": name, "sessions_per_second": rate, "ratio_to_engine": rate / engine}
        for name, rate in rates.items()
    ]
    result = {"users": args.users, "days": args.days, "engine_decisions": decisions,
              "num_envs": args.num_envs, "rows": rows}  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"{'path':<12} {'sessions/s':>12} {'× engine':>9}")
    for r in rows:
        print(f"{r['path']:<12} {r['sessions_per_second']:>12,.0f} {r['ratio_to_engine']:>9.3f}")
    assert np.isfinite([r["sessions_per_second"] for r in rows]).all()


if __name__ == "__main__":
    main()
