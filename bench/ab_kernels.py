#!/usr/bin/env python
"""A/B of the engine's compiled passes in one process: two versions of the kernels module.

Whole-engine timings on a shared machine move by 5–10% between runs minutes apart, more than
most changes to a compiled pass are worth. Here A is this checkout's
``recarena/simulator/kernels.py`` and B another version of that file (say, from a git
worktree): B is loaded beside A, every compiled function of ``recarena.simulator.kernels`` is
pointed at A's or at B's before each run, and the same prebuilt worlds are simulated A, B,
then B, A, and so on, keeping each side's fastest CPU time per decision. The result is B/A per
configuration (and each side's all-on/all-off ratio). On this project's 2-core machine two
copies of the same file read B/A = 1.02–1.04 at ``--repeat 9``, where separate runs of
``bench_mechanisms.py`` differ by ±10%: a few percent is the resolution.

B's imports resolve to this checkout (its ``behaviour``, ``numerics``…): it may differ from A
in ``kernels.py`` only, plus modules only B imports, given as ``--module name=path``.
Both sides are compiled afresh (a private numba cache directory), so neither reads the
other's cache.

Usage::

    python bench/ab_kernels.py ../other/recarena/simulator/kernels.py
    python bench/ab_kernels.py B.py --mechanisms off all_on --oracle on --repeat 7
    python bench/ab_kernels.py B.py --quick           # tiny sizes, a smoke test
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

# Before numba is imported: both sides compile into a private cache, removed at exit.
_CACHE = tempfile.TemporaryDirectory(prefix="recarena-ab-numba-")
os.environ["NUMBA_CACHE_DIR"] = _CACHE.name

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_engine import _timed, machine_info, one_core, run_engine, write_result  # noqa: E402
from bench_mechanisms import (  # noqa: E402
    MECHANISMS,
    NOT_IN_ALL_ON,
    WORLDS,
    parse_run_options,
    world,
)
from numba.core.registry import CPUDispatcher  # noqa: E402

import recarena.simulator.kernels as kernels  # noqa: E402
from recarena.simulator.params import ScheduleParams  # noqa: E402
from recarena.simulator.simulation import build_world  # noqa: E402

#: The name B's kernels module is registered under (numba's cache finds it by name).
B_MODULE = "recarena_ab_kernels_b"


def load_module(name: str, path: Path) -> ModuleType:
    """Import the file ``path`` as module ``name`` (registered in ``sys.modules``)."""
    if not path.is_file():
        raise SystemExit(f"ab_kernels: no such file: {path}")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"ab_kernels: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def compiled_functions(module: ModuleType) -> dict[str, Any]:
    """The numba-compiled functions a module defines, by name."""
    return {n: f for n, f in vars(module).items() if isinstance(f, CPUDispatcher)}


def use(functions: dict[str, Any]) -> None:
    """Point ``recarena.simulator.kernels`` at these compiled functions (the engine, the user
    model and the oracle look them up there at each call)."""
    for name, function in functions.items():
        setattr(kernels, name, function)


def mechanism_names(label: str) -> list[str]:
    """The mechanisms a configuration turns on: ``off``, ``all_on`` or one name."""
    if label == "all_on":
        return [name for name in MECHANISMS if name not in NOT_IN_ALL_ON]
    return [] if label == "off" else [label]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("kernels_b", type=Path, help="B: another version of kernels.py")
    p.add_argument(
        "--module",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a module only B imports, registered under NAME before B is loaded (repeatable)",
    )
    choices = ["all_on", *MECHANISMS]
    p.add_argument("--mechanisms", nargs="+", choices=choices, default=["off", "all_on"])
    p.add_argument("--world", choices=sorted(WORLDS), default="engine")
    p.add_argument("--policy", choices=["random", "popularity"], default="random")
    p.add_argument("--oracle", choices=["on", "off"], default="on")
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--days", type=float, default=10.0)
    p.add_argument("--repeat", type=int, default=5, help="runs of each side per configuration")
    args = parse_run_options(p, argv)
    for spec in args.module:
        if "=" not in spec:
            p.error(f"--module takes NAME=PATH, got {spec!r}")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    setup = one_core(not args.no_pin)
    for spec in args.module:
        name, path = spec.split("=", 1)
        load_module(name, Path(path))
    sides = {"A": compiled_functions(kernels)}
    other = compiled_functions(load_module(B_MODULE, args.kernels_b))
    missing = sorted(set(sides["A"]) - set(other))
    if missing:
        raise SystemExit(f"ab_kernels: B lacks compiled functions of A: {', '.join(missing)}")
    sides["B"] = {name: other[name] for name in sides["A"]}
    oracle = args.oracle == "on"
    schedule = ScheduleParams(days=args.days)
    worlds = {}
    for label in args.mechanisms:
        params = world(args.users, mechanism_names(label), args.world)
        worlds[label] = (params, build_world(params, schedule, 1))
    best: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="recarena-ab-") as tmp:
        workdir = Path(tmp)
        for side, functions in sides.items():  # compile both sides before timing: a whole
            use(functions)  # run, as some passes first run late (win-back, a refill)
            for label, (params, built) in worlds.items():
                _timed(f"compile and warm {side} {label}", run_engine, built, params, schedule,
                       args.policy, oracle, workdir)  # fmt: skip
        for i in range(args.repeat):
            order = ("A", "B") if i % 2 == 0 else ("B", "A")
            for side in order:
                use(sides[side])
                for label, (params, built) in worlds.items():
                    run = _timed(f"{side} {label:<22} run {i + 1}", run_engine, built, params,
                                 schedule, args.policy, oracle, workdir)  # fmt: skip
                    ns = run["seconds_cpu"] / run["decisions"] * 1e9
                    best[(side, label)] = min(best.get((side, label), float("inf")), ns)
    use(sides["A"])
    rows = [
        {"mechanism": label, "a_ns_per_decision": best[("A", label)],
         "b_ns_per_decision": best[("B", label)],
         "b_over_a": best[("B", label)] / best[("A", label)]}
        for label in args.mechanisms
    ]  # fmt: skip
    result: dict[str, Any] = {
        "meta": {**machine_info(), **setup, "args": {k: str(v) for k, v in vars(args).items()}},
        "rows": rows,
    }
    print(f"\n{'mechanism':<22} {'A ns/dec':>9} {'B ns/dec':>9} {'B/A':>6}")
    for r in rows:
        print(f"{r['mechanism']:<22} {r['a_ns_per_decision']:>9,.0f} "
              f"{r['b_ns_per_decision']:>9,.0f} {r['b_over_a']:>6.3f}")  # fmt: skip
    if {"off", "all_on"} <= set(args.mechanisms):
        result["all_on_over_off"] = {
            side: best[(side, "all_on")] / best[(side, "off")] for side in sides
        }
        ratios = result["all_on_over_off"]
        print(f"all on / all off: A {ratios['A']:.2f}×, B {ratios['B']:.2f}×")
    write_result(result, args.output, "ab_kernels", args.quick)
    return result


if __name__ == "__main__":
    main()
