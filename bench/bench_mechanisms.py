#!/usr/bin/env python
"""Cost of each world mechanism (issue 14): engine throughput with it on vs all off.

Measured in ONE run of this script on one core (pinned, BLAS/pyarrow at one thread, as
``bench_engine.py``): ``simulate()`` with Parquet logging and the oracle columns on (off, or
both, with ``--oracle``), for
``random`` and ``popularity`` on ``--users`` users × ``--days`` days (200 items), first with
every mechanism at its default (off), then with each mechanism on alone (the scanning
sessions — pbm, dcm, dcm with a time budget — in place of the MNL), then all on (with dcm
and its time budget) and all on but the MNL kept (``all_on_mnl``). Each
row is the fastest of ``--repeat`` runs by process CPU time, the configurations measured
round robin; the cost is the CPU-time ratio
to the all-off row of the same policy, world and oracle setting (target: all on ≤ 2×, and all off ≥
1,000,000 decisions per CPU second).

Two worlds (``--worlds``): ``calibrated``, the defaults (half a session a user-day), and
``engine``, the denser world ``bench_engine.py`` measures its throughput on (one session a
user-day, the levels before calibration). Drift, satiation recovery and the interest-entropy
snapshot cost per user and day, so they weigh about twice as much per decision in the
calibrated world.

Usage::

    python bench/bench_mechanisms.py                  # writes bench/results/mechanisms.json
    python bench/bench_mechanisms.py --quick          # tiny sizes (seconds), a smoke test
    python bench/bench_mechanisms.py --oracle both    # with and without the oracle's column
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_engine import (  # noqa: E402
    _timed,
    machine_info,
    one_core,
    run_engine,
    warm_up,
    write_result,
)

from recarena.simulator.params import (  # noqa: E402
    DENSE_BEHAVIOUR,
    DENSE_POPULATION,
    ScheduleParams,
    WorldParams,
)
from recarena.simulator.simulation import build_world  # noqa: E402

TARGET_DPS = 1_000_000.0
TARGET_ALL_ON_RATIO = 2.0

#: Each mechanism as the world keys that turn it on (everything else at its default).
MECHANISMS: dict[str, dict[str, dict[str, Any]]] = {
    "off": {},
    "quality_satisfaction": {
        "catalogue": {"clickbait_share": 0.2},
        "behaviour": {"satisfaction_signal": "quality"},
    },
    "tolerance_and_decay": {
        "population": {"tolerance_sd": 0.05},
        "behaviour": {"satisfaction_half_life": 14.0},
    },
    "conversion_quality": {"behaviour": {"conversion_quality": 4.0}},
    "win_back": {"behaviour": {"win_back_hazard": 0.05}},
    "interest_evolution": {"behaviour": {"interest_rate": 0.03}},
    "satiation": {"behaviour": {"satiation": 0.3}},
    "drift_random_walk": {"behaviour": {"drift_sd": 0.05}},
    "drift_ou": {"behaviour": {"drift_sd": 0.05, "drift_reversion_days": 30.0}},
    # Richer sessions: the scanning choice models instead of the MNL.
    "pbm": {"behaviour": {"choice_model": "pbm"}},
    "dcm": {"behaviour": {"choice_model": "dcm", "continuation": 0.7}},
    "time_budget": {
        "behaviour": {"choice_model": "dcm", "continuation": 0.7, "session_budget_minutes": 20.0}
    },
}
#: The richer-session mechanisms (choice models other than the MNL).
SESSIONS = ("pbm", "dcm", "time_budget")
#: Left out of "all_on": the random walk (OU drift replaces it) and pbm (dcm replaces it).
NOT_IN_ALL_ON = ("off", "drift_random_walk", "pbm")


#: The worlds measured: the calibrated defaults, and bench_engine.py's denser world.
WORLDS: dict[str, dict[str, dict[str, Any]]] = {
    "calibrated": {"population": {}, "behaviour": {}},
    "engine": {"population": dict(DENSE_POPULATION), "behaviour": dict(DENSE_BEHAVIOUR)},
}


def world(n_users: int, mechanisms: list[str], base: str = "calibrated") -> WorldParams:
    """200 items, ``n_users`` users, the ``base`` world's levels and the union of the named
    mechanisms' keys."""
    sections: dict[str, dict[str, Any]] = {
        "population": {"n_users": n_users, **WORLDS[base]["population"]},
        "catalogue": {"n_items": 200},
        "behaviour": dict(WORLDS[base]["behaviour"]),
    }
    for name in mechanisms:
        for section, keys in MECHANISMS[name].items():
            sections[section].update(keys)
    return WorldParams.model_validate(sections)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--days", type=float, default=10.0)
    p.add_argument("--policies", nargs="+", default=["random", "popularity"])
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument(
        "--worlds",
        nargs="+",
        choices=sorted(WORLDS),
        default=list(WORLDS),
        help="calibrated: the defaults; engine: bench_engine.py's denser world",
    )
    p.add_argument(
        "--oracle",
        choices=["on", "off", "both"],
        default="on",
        help="the oracle's best-slate column (its exact re-finds are most of what drift, "
        "interest evolution and satiation cost); each ratio is to all off with the same setting",
    )
    return parse_run_options(p, argv)


def parse_run_options(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Add ``--quick``, ``--no-pin`` and ``--output`` to ``p`` and parse; ``--quick`` sets
    tiny sizes (``users``, ``days``, ``repeat``: a smoke test)."""
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    p.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    p.add_argument("--output", type=Path, default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.users, args.days, args.repeat = 2_000, 2.0, 1
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    setup = one_core(not args.no_pin)
    _timed("warm-up (load the compiled kernels)", warm_up, tuple(args.policies))
    schedule = ScheduleParams(days=args.days)
    configs = {name: [name] for name in MECHANISMS}
    configs["all_on"] = [name for name in MECHANISMS if name not in NOT_IN_ALL_ON]
    # The same without the scanning sessions: what they add on top of the rest.
    configs["all_on_mnl"] = [name for name in configs["all_on"] if name not in SESSIONS]
    worlds = {}
    for base in args.worlds:
        for label, names in configs.items():
            params = world(args.users, names, base)
            worlds[(base, label)] = (params, build_world(params, schedule, 1))
    # Round robin (every configuration once, then again): a slow spell of the machine
    # then touches every row alike instead of the one measured during it.
    oracles = {"on": [True], "off": [False], "both": [True, False]}[args.oracle]
    best: dict[tuple[str, str, str, bool], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="recarena-mech-") as tmp:
        workdir = Path(tmp)
        for i in range(args.repeat):
            for (base, label), (params, built) in worlds.items():
                for kind in args.policies:
                    for oracle in oracles:
                        state = "on " if oracle else "off"
                        name = f"{base:<10} {label:<22} {kind:<10} oracle {state} run {i + 1}"
                        run = _timed(name, run_engine, built, params, schedule, kind, oracle,
                                     workdir)  # fmt: skip
                        key = (base, label, kind, oracle)
                        if key not in best or run["seconds_cpu"] < best[key]["seconds_cpu"]:
                            best[key] = run
    rows = [{"world": base, "mechanism": label, **run} for (base, label, _, _), run in best.items()]
    offs = {
        (r["world"], r["policy"], r["oracle_columns"]): r for r in rows if r["mechanism"] == "off"
    }
    for r in rows:
        off = offs[(r["world"], r["policy"], r["oracle_columns"])]
        # Cost per decision (the mechanisms change how many sessions happen).
        r["cost_ratio"] = (r["seconds_cpu"] / r["decisions"]) / (
            off["seconds_cpu"] / off["decisions"]
        )
    result = {
        "meta": {**machine_info(), **setup, "args": {k: str(v) for k, v in vars(args).items()}},
        "rows": rows,
        # Per world: every policy's all-off throughput, and its all-on cost.
        "off_target_met": {
            base: all(
                r["decisions_per_cpu_second"] >= TARGET_DPS
                for r in rows
                if r["mechanism"] == "off" and r["world"] == base
            )
            for base in args.worlds
        },
        "all_on_target_met": {
            f"{base}, oracle {'on' if oracle else 'off'}": all(
                r["cost_ratio"] <= TARGET_ALL_ON_RATIO
                for r in rows
                if r["mechanism"] == "all_on"
                and r["world"] == base
                and r["oracle_columns"] == oracle
            )
            for base in args.worlds
            for oracle in oracles
        },
    }
    print(f"\n{'world':<10} {'mechanism':<22} {'policy':<10} {'oracle':<6} {'decisions':>10} "
          f"{'dec/CPU s':>12} {'cost':>6}")  # fmt: skip
    for r in rows:
        oracle_label = "on" if r["oracle_columns"] else "off"
        print(f"{r['world']:<10} {r['mechanism']:<22} {r['policy']:<10} {oracle_label:<6} "
              f"{r['decisions']:>10,} {r['decisions_per_cpu_second']:>12,.0f} "
              f"{r['cost_ratio']:>5.2f}×")  # fmt: skip
    write_result(result, args.output, "mechanisms", args.quick)
    return result


if __name__ == "__main__":
    main()
