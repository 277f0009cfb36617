"""Peak memory against run length: is a run's RSS flat from 30 to 365 days?

Each configuration runs in a fresh child process (so one run's peak is not another's), with
Parquet logging on, and its peak RSS is read through ``RUSAGE_CHILDREN`` of a wrapper whose
only child it is. The baseline is the same configuration's 30-day run, measured in the same
invocation; the figure reported is the ratio ``peak RSS (365 days) / peak RSS (30 days)``,
target within ±10%.

Configurations (one arm each, the population fixed: no arrivals, so only time grows):

* ``random`` and ``popularity`` (online, never refits): the history store keeps nothing and
  the log buffers flush by bytes, so memory should not depend on the horizon;
* ``random, full history`` (``keep_impressions: true``: everything a refit could read is
  kept): the contrast, what every run did before the history window — it grows with the
  horizon by design.

Usage: ``python bench/bench_memory.py`` (about 3 minutes on 2 cores); ``--quick`` is the
smoke test (``pytest -m benchmark``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import _RSS_WRAPPER

TARGET = 0.10
CONFIGS: dict[str, dict[str, Any]] = {
    "random": {"policy": "random", "keep": None},
    "popularity": {"policy": "popularity", "keep": None},
    "random, full history": {"policy": "random", "keep": True},
}


def child(days: float, users: int, policy: str, keep: bool | None, out: str) -> None:
    """Run one simulation (in this fresh process) and print its counters as JSON."""
    from recarena.policies import registry
    from recarena.simulator.params import (
        CatalogueParams,
        PopulationParams,
        ScheduleParams,
        WorldParams,
    )
    from recarena.simulator.simulation import simulate

    world = WorldParams(
        population=PopulationParams(n_users=users), catalogue=CatalogueParams(n_items=200)
    )
    schedule = ScheduleParams(days=days, slate_size=10, keep_impressions=keep)
    result = simulate(world, schedule, 1, registry.make({"kind": policy}), log_path=Path(out))
    print(json.dumps({"decisions": result.stats.decisions}))


def measure(days: float, users: int, policy: str, keep: bool | None) -> dict[str, Any]:
    """Peak RSS of one run in a fresh child process."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-c", _RSS_WRAPPER, sys.executable, str(Path(__file__).resolve()),
               "--child", str(days), str(users), policy, json.dumps(keep), tmp]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wrapped = json.loads(proc.stdout)
    if wrapped["rc"] != 0:
        raise RuntimeError(f"child failed: {wrapped['stderr']}")
    stats = json.loads(wrapped["stdout"].strip().splitlines()[-1])
    return {"days": days, "peak_rss_mb": wrapped["ru_maxrss_kb"] / 1024, **stats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--output", type=Path, default=Path("bench/results/memory.json"))
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        days, users, policy, keep, out = args.child
        child(float(days), int(users), policy, json.loads(keep), out)
        return
    users = 500 if args.quick else 10_000
    horizons = (5.0, 20.0) if args.quick else (30.0, 365.0)
    rows = []
    print(f"Peak RSS, {users:,} users, one arm, Parquet logging; ratio = long / short run")
    for name, config in CONFIGS.items():
        short, long = (measure(d, users, config["policy"], config["keep"]) for d in horizons)
        ratio = long["peak_rss_mb"] / short["peak_rss_mb"]
        flat = abs(ratio - 1.0) <= TARGET
        rows.append({"config": name, "short": short, "long": long, "ratio": ratio, "flat": flat})
        print(f"  {name:<22} {horizons[0]:>4.0f} d: {short['peak_rss_mb']:7.1f} MB   "
              f"{horizons[1]:>4.0f} d: {long['peak_rss_mb']:7.1f} MB   ×{ratio:.3f}"
              f"{'  (flat within ±10%)' if flat else ''}")  # fmt: skip
    result = {"users": users, "horizons": horizons, "target": TARGET, "rows": rows}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
