#!/usr/bin/env python
"""Profile the engine on the benchmark case (default 100k users × 30 days) with cProfile.

One core (threadpoolctl limits BLAS/OpenMP to one thread, pyarrow's pool to one thread), world
pre-built and not profiled, timings on the process CPU clock (robust to other load on a
shared machine). Prints a breakdown of the run into the engine's phases and the top functions
by own and by cumulative time; writes the text report and a ``.pstats`` file (open with
``python -m pstats`` or snakeviz) under ``bench/results/``.

Usage::

    python bench/profile_engine.py                       # random, oracle columns on
    python bench/profile_engine.py --policy popularity --no-oracle --items 1000
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench_engine import warm_up  # bench/ is the script's directory, on sys.path
from threadpoolctl import threadpool_limits

from recarena.policies import registry
from recarena.simulator.params import (
    CatalogueParams,
    PopulationParams,
    ScheduleParams,
    WorldParams,
)
from recarena.simulator.simulation import build_world, simulate

HERE = Path(__file__).resolve().parent

#: (label, file suffix, function name) of the phases reported in the breakdown (cumulative).
PHASES = (
    ("whole run (Engine.run)", "engine.py", "run"),
    ("sessions step (_sessions)", "engine.py", "_sessions"),
    ("  policy.act", "base.py", "act"),
    ("    random_slates", "slates.py", "random_slates"),
    ("  outcomes (_slate_outcomes)", "engine.py", "_slate_outcomes"),
    ("    MNL sessions (compiled)", "kernels.py", "slate_outcomes"),
    ("    best-slate value (oracle column)", "oracle.py", "best_values"),
    ("      compiled pass", "kernels.py", "cached_best_values"),
    ("    _record_clicks", "engine.py", "_record_clicks"),
    ("      compiled pass", "kernels.py", "record_clicks"),
    ("  rng.uniform (CRN, all callers)", "rng.py", "uniform"),
    ("  _log_decisions", "engine.py", "_log_decisions"),
    ("  EventLog.append (all tables)", "log.py", "append"),
    ("  HistoryStore.observe", "history.py", "observe"),
    ("  _flush_clicks", "engine.py", "_flush_clicks"),
    ("feedback step (_deliver)", "engine.py", "_deliver"),
    ("daily step (_daily)", "engine.py", "_daily"),
    ("Parquet row groups (EventLog._flush)", "log.py", "_flush"),
    ("EventLog.close", "log.py", "close"),
)


def phase_table(stats: pstats.Stats, total: float) -> str:
    rows = []
    raw = stats.stats  # type: ignore[attr-defined]
    for label, suffix, name in PHASES:
        cum = 0.0
        calls = 0
        for (file, _line, func), (_cc, nc, _tt, ct, _callers) in raw.items():
            if func == name and file.endswith(suffix):
                cum += ct
                calls += nc
        if calls:
            rows.append(f"{label:<42}{calls:>8}{cum:>9.2f} s{100 * cum / total:>7.1f} %")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--days", type=float, default=30.0)
    p.add_argument("--items", type=int, default=200)
    p.add_argument("--policy", default="random")
    p.add_argument("--no-oracle", action="store_true", help="oracle_columns=False")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)

    threadpool_limits(limits=1)
    import pyarrow as pa

    pa.set_cpu_count(1)
    wp = WorldParams(
        population=PopulationParams(n_users=args.users),
        catalogue=CatalogueParams(n_items=args.items),
    )
    sp = ScheduleParams(days=args.days)
    world = build_world(wp, sp, 1)
    log_dir = Path(tempfile.mkdtemp(prefix="recarena-prof-"))
    warm_up((args.policy,))  # compiled kernels load outside the profile
    policy = registry.make({"kind": args.policy})
    # CPU clock, so that other load on a shared machine does not distort the shares.
    prof = cProfile.Profile(time.process_time)
    try:
        tic, cpu = time.perf_counter(), time.process_time()
        prof.enable()
        res = simulate(
            wp, sp, 1, session_policy=policy, world=world, log_path=log_dir,
            oracle_columns=not args.no_oracle,
        )  # fmt: skip
        prof.disable()
        wall, cpu = time.perf_counter() - tic, time.process_time() - cpu
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    tag = f"{args.policy}_{args.items}_{'nooracle' if args.no_oracle else 'oracle'}"
    stats = pstats.Stats(prof)
    total = max(st[3] for st in stats.stats.values())  # type: ignore[attr-defined]
    for (file, _line, func), st in stats.stats.items():  # type: ignore[attr-defined]
        if func == "run" and file.endswith("engine.py"):
            total = st[3]  # shares relative to Engine.run
    buf = io.StringIO()
    buf.write(
        f"profile {tag}: {args.users:,} users × {args.days:g} days, "
        f"{res.stats.decisions:,} decisions, {wall:.2f} s wall / {cpu:.2f} s CPU under cProfile "
        f"({res.stats.decisions / cpu:,.0f} dec/CPU-s with profiling overhead)\n\n"
    )
    buf.write(f"{'phase (cumulative)':<42}{'calls':>8}{'time':>11}{'share':>9}\n")
    buf.write(phase_table(stats, total) + "\n\n")
    for key in ("tottime", "cumulative"):
        s = pstats.Stats(prof, stream=buf)
        s.sort_stats(key).print_stats(args.top)
    text = buf.getvalue()
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"profile_{tag}.txt").write_text(text)
    stats.dump_stats(str(args.out / f"profile_{tag}.pstats"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
