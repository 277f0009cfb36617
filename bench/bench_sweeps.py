#!/usr/bin/env python
"""Sweep benchmark: parallel efficiency of the local pool and of the Dask executor, the Dask
per-task overhead, and the peak memory of a 1M-user run on a Dask worker.

Measured in one process, as ratios to baselines measured in the same run:

parallel efficiency
    The same sweep (``--points`` × ``--seeds`` × 2 arms of a ``--users``-user, ``--days``-day
    banner world, one JSON line per executor) runs with 1 worker and with 2 workers, on the
    local process pool and on a Dask ``LocalCluster`` (127.0.0.1). Efficiency = T₁ / (2 T₂):
    1.0 means the second worker halved the wall time. The 1-worker pool is the in-process
    executor (the runner does not start a pool for one worker), which is the baseline of
    both. Every run writes its Parquet logs; the executors' logs must hash identically.
per-task overhead
    (i) ``--noop`` empty tasks through one Dask worker: wall time per task, everything the
    engine adds to a task (serialisation, scheduling, the round trip). (ii) On the sweep:
    (T_dask,1 − T_inline) / runs, the overhead per real run with one worker.
memory
    A ``--big-users``-user, ``--big-days``-day slate run (random policy, as
    ``bench_engine.py``'s memory figure) on a fresh one-worker Dask cluster; the worker's peak
    RSS (``ru_maxrss``) against the engine benchmark's target, ``TARGET_RSS_GB``.

The machine is shared: compare the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from recarena.experiment.executors import DaskExecutor  # noqa: E402
from recarena.experiment.loading import scenario_from_dict  # noqa: E402
from recarena.experiment.runner import run_scenario  # noqa: E402

TARGET_RSS_GB = 1.5  # bench_engine.py's figure for a 1M-user, 30-day run


def sweep_scenario(points: int, seeds: int, users: int, days: float) -> Any:
    """A banner sweep: ``points`` lifts × ``seeds`` seeds × 2 arms (A/B test, Thompson)."""
    lifts = [round(0.01 * (i + 1), 4) for i in range(points)]
    ab = {"kind": "ab_split", "test": "fixed", "horizon_days": max(days / 2, 1), "commit": True,
          "fallback": "empirical_best",
          "variants": [{"name": "A", "policy": {"kind": "fixed", "action": 0}},
                       {"name": "B", "policy": {"kind": "fixed", "action": 1}}]}  # fmt: skip
    return scenario_from_dict({
        "name": "bench_sweep",
        "seeds": list(range(1, seeds + 1)),
        "world": {"population": {"n_users": users}, "catalogue": {"n_items": 20},
                  "variants": [{"name": "A", "ctr": 0.05}, {"name": "B", "ctr": 0.05}]},
        "schedule": {"days": days, "surface": "variant", "decision_window": 0.25},
        "arms": [{"name": "ab", "policy": ab},
                 {"name": "thompson", "policy": {"kind": "thompson"}}],
        "sweep": {"parameters": [{"name": "lift", "levels": [
            {"value": lift, "set": {"world.variants.B.ctr": 0.05 * (1 + lift)}} for lift in lifts
        ]}]},
    })  # fmt: skip


def _hash(out: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(out.rglob("*.parquet")):
        digest.update(str(path.relative_to(out)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def timed_sweep(config: Any, executor: str, jobs: int, scratch: Path) -> dict[str, Any]:
    out = scratch / f"{executor}-{jobs}"
    tic = time.perf_counter()
    run_scenario(config, out, jobs=jobs, executor=executor, progress=False, report=False)
    seconds = time.perf_counter() - tic
    row = {"executor": executor, "workers": jobs, "seconds": seconds, "hash": _hash(out)}
    shutil.rmtree(out)
    print(f"  {executor:8s} {jobs} worker(s): {seconds:7.2f} s", flush=True)
    return row


def _noop(x: int) -> int:
    return x


def noop_overhead(tasks: int) -> dict[str, Any]:
    """Seconds per empty task through a one-worker Dask cluster (started before timing)."""
    with DaskExecutor(1) as dask:
        list(dask.map_unordered(_noop, list(range(20)), lambda x, e: -1))  # warm-up
        tic = time.perf_counter()
        done = list(dask.map_unordered(_noop, list(range(tasks)), lambda x, e: -1))
        seconds = time.perf_counter() - tic
    assert sorted(done) == list(range(tasks))
    return {"tasks": tasks, "seconds": seconds, "ms_per_task": 1e3 * seconds / tasks}


def _peak_rss_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def big_run_memory(users: int, days: float, scratch: Path) -> dict[str, Any]:
    """Peak RSS of a one-worker Dask cluster's worker after one big slate run."""
    config = scenario_from_dict({
        "name": "bench_big", "seeds": [1],
        "world": {"population": {"n_users": users}, "catalogue": {"n_items": 200}},
        "schedule": {"days": days, "keep_impressions": False},
        "arms": [{"name": "random", "policy": {"kind": "random"}}],
    })  # fmt: skip
    with DaskExecutor(1) as dask:
        from recarena.experiment.runner import RunKey, RunTask, run_task

        task = RunTask(config, RunKey(1, "random"), (scratch / "big").resolve())
        tic = time.perf_counter()
        outcome = dask.client.submit(run_task, task, pure=False).result()
        seconds = time.perf_counter() - tic
        if outcome.error is not None:
            raise RuntimeError(outcome.error)
        peak_kb = max(dask.client.run(_peak_rss_kb).values())
    shutil.rmtree(scratch / "big", ignore_errors=True)
    gb = peak_kb * 1024 / 1e9
    return {"users": users, "days": days, "seconds": seconds,
            "decisions": outcome.record["stats"]["decisions"], "worker_peak_rss_gb": gb,
            "target_gb": TARGET_RSS_GB, "target_met": gb <= TARGET_RSS_GB}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=6)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--noop", type=int, default=500, help="empty tasks for the overhead")
    parser.add_argument("--big-users", type=int, default=1_000_000)
    parser.add_argument("--big-days", type=float, default=30.0)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.points, args.seeds, args.users, args.days = 2, 2, 500, 2.0
        args.noop, args.big_users, args.big_days = 50, 20_000, 2.0
    output = args.output or HERE / "results" / ("sweeps_quick.json" if args.quick else
                                                "sweeps.json")  # fmt: skip
    config = sweep_scenario(args.points, args.seeds, args.users, args.days)
    runs = args.points * args.seeds * 2
    print(f"sweep: {args.points} points × {args.seeds} seeds × 2 arms = {runs} runs of "
          f"{args.users:,} users × {args.days:g} days")  # fmt: skip
    scratch = Path(tempfile.mkdtemp(prefix="recarena-bench-sweeps-"))
    try:
        timed_sweep(config, "inline", 1, scratch)  # warm-up: compiled kernels, imports
        plan = (("inline", 1), ("process", 2), ("dask", 1), ("dask", 2))
        rows = [timed_sweep(config, kind, jobs, scratch) for kind, jobs in plan]
        t = {(r["executor"], r["workers"]): r["seconds"] for r in rows}
        identical = len({r["hash"] for r in rows}) == 1
        efficiency = {
            "process": t[("inline", 1)] / (2 * t[("process", 2)]),
            "dask": t[("dask", 1)] / (2 * t[("dask", 2)]),
        }
        per_run_overhead = (t[("dask", 1)] - t[("inline", 1)]) / runs
        noop = noop_overhead(args.noop)
        memory = None if args.skip_memory else big_run_memory(args.big_users, args.big_days,
                                                               scratch)  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"parallel efficiency, 2 workers vs 1: process pool {efficiency['process']:.2f}, "
        f"dask {efficiency['dask']:.2f}; logs identical across executors: {identical}"
    )
    print(
        f"dask overhead: {noop['ms_per_task']:.2f} ms per empty task; "
        f"{1e3 * per_run_overhead:.0f} ms per run on the sweep (1 worker vs in-process)"
    )
    if memory is not None:
        print(f"{memory['users']:,} users × {memory['days']:g} days on a Dask worker: peak RSS "
              f"{memory['worker_peak_rss_gb']:.2f} GB (target ≤ {TARGET_RSS_GB} GB)")  # fmt: skip
    result = {
        "meta": {"python": platform.python_version(), "machine": platform.machine(),
                 "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                 "args": {k: (str(v) if isinstance(v, Path) else v)
                          for k, v in vars(args).items()}},
        "sweep_runs": runs,
        "timings": rows,
        "identical_logs": identical,
        "parallel_efficiency": efficiency,
        "dask_overhead_per_run_seconds": per_run_overhead,
        "dask_noop": noop,
        "memory": memory,
    }  # fmt: skip
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2))
    print(f"written {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
