"""The ``recarena`` command line: run, validate, list, report, clean, export.

Exit codes: 0 success; 1 a run failed; 2 invalid input (scenario, arguments, paths); 130
interrupted (Ctrl-C), 143 terminated (SIGTERM) — either way finished runs are kept.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from recarena.analysis.results import ResultsError
from recarena.experiment.cost import CostError, estimate_run
from recarena.experiment.invocation import InvocationError, check_jobs, results_directory
from recarena.experiment.loading import ScenarioError, load_scenario
from recarena.experiment.lock import ResultsDirectoryLocked
from recarena.experiment.scenarios import bundled_scenarios, resolve_scenario_path
from recarena.experiment.schema import EXECUTORS, ScenarioConfig
from recarena.experiment.termination import Terminated, sigterm_as_interrupt

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
_PLUGINS_HELP = (
    "load plugin policies the scenario names (kind: plugin); a scenario that uses plugins is "
    "code: allow only those you trust (or set RECARENA_ALLOW_PLUGINS=1)"
)


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seeds must be integers like 1,2,3, got {text!r}"
        ) from None
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"seeds must be non-negative integers, got {text!r}")
    return seeds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recarena",
        description="Recommendation and personalization policies meet a simulated population.",
        epilog="Start with: recarena run scenarios/quickstart.yaml",
    )
    parser.add_argument(
        "--version", action="version", version=f"recarena {metadata.version('recarena')}"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run a scenario (every seed × arm), write metrics, plots and report.html",
        description="Run a YAML scenario: every seed × arm on the same worlds, then metrics, "
        "plots and a self-contained report.html in the results directory.",
    )
    run.add_argument("scenario", help="scenario file, or the name of a bundled scenario")
    run.add_argument("--out", type=Path, help="results directory (default results/<name>/<time>)")
    run.add_argument(
        "--seeds", type=_seeds, help="seeds to run instead of the scenario's, e.g. 1,2,3"
    )
    run.add_argument("--jobs", type=int, help="worker processes (1 = in-process, 0 = all cores)")
    run.add_argument(
        "--executor", choices=EXECUTORS,
        help="where runs execute: inline (this process), process (local pool), dask (a "
        "cluster; a local one on 127.0.0.1 unless --address)",
    )  # fmt: skip
    run.add_argument(
        "--address", metavar="tcp://HOST:PORT",
        help="Dask scheduler of an existing cluster (implies --executor dask)",
    )  # fmt: skip
    run.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    run.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a scenario value, e.g. --set schedule.days=3 (repeatable)",
    )  # fmt: skip
    run.add_argument(
        "--baseline", metavar="ARM",
        help="arm the paired differences are taken from (default: analysis.baseline_arm, "
        "else the first arm)",
    )  # fmt: skip
    run.add_argument("--no-report", action="store_true", help="skip metrics, plots and report")
    run.add_argument(
        "--force", action="store_true",
        help="run even if the cost estimate says it would not fit this machine or take too long",
    )  # fmt: skip
    run.add_argument(
        "--no-logs", action="store_true",
        help="delete the event logs once the report is written (keeps metrics, plots, "
        "report.html; the report can then not be rebuilt)",
    )  # fmt: skip
    run.add_argument("--allow-plugins", action="store_true", help=_PLUGINS_HELP)
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars")

    validate = sub.add_parser(
        "validate", help="check a scenario file without running it",
        description="Validate a scenario: every problem is listed with its line and key path.",
    )  # fmt: skip
    validate.add_argument("scenario", nargs="+", help="scenario file(s)")
    validate.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE"
    )
    validate.add_argument("--allow-plugins", action="store_true", help=_PLUGINS_HELP)

    sub.add_parser("list", help="list policies and bundled scenarios")

    report = sub.add_parser(
        "report",
        help="rebuild metrics, plots and report.html of a results directory; print its summary",
    )
    report.add_argument("run_dir", type=Path, help="a results directory written by 'recarena run'")
    report.add_argument(
        "--baseline", metavar="ARM", help="arm the paired differences are taken from"
    )

    clean = sub.add_parser(
        "clean", help="free disk: delete the event logs of results directories",
        description="Delete the Parquet event logs of every results directory at or under "
        "PATH (keeps metrics, plots, report.html, scenario.yaml, manifest.json).",
    )  # fmt: skip
    clean.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="a results directory, or a folder holding some (e.g. results)",
    )
    clean.add_argument(
        "--all",
        action="store_true",
        help="delete the whole results directories, not only their logs",
    )
    clean.add_argument("-n", "--dry-run", action="store_true",
                       help="list what would be deleted, delete nothing")  # fmt: skip

    export = sub.add_parser(
        "export", help="export a logged arm for another tool (obp: Open Bandit Pipeline)",
        description="Write one arm's log in another tool's format. obp: the bandit_feedback "
        "dict of Open Bandit Pipeline as .npz (load with "
        "recarena.experiment.export.load_bandit_feedback).",
    )  # fmt: skip
    export.add_argument("format", choices=["obp"], help="target format")
    export.add_argument("run_dir", type=Path, help="a results directory written by 'recarena run'")
    export.add_argument("--arm", required=True, help="the arm whose log to export")
    export.add_argument("--seed", type=int, help="which seed's run (default: the first)")
    export.add_argument(
        "--out", type=Path, help="output file (default RUN_DIR/export/obp_<arm>_seed<seed>.npz)"
    )
    return parser


def _load(
    name: str, overrides: Sequence[str], allow_plugins: bool, seeds: list[int] | None = None
) -> ScenarioConfig:
    path = resolve_scenario_path(name)
    extra = list(overrides)
    if seeds is not None:
        extra.append(f"seeds=[{', '.join(str(s) for s in seeds)}]")
    return load_scenario(path, extra, allow_plugins=allow_plugins)


def _unknown_arm(command: str, baseline: str | None, arms: Sequence[str]) -> bool:
    """Print an error and return True when ``baseline`` is given and names no arm."""
    if baseline is None or baseline in arms:
        return False
    print(f"recarena {command}: --baseline {baseline!r} is not an arm; arms: "
          f"{', '.join(arms)}", file=sys.stderr)  # fmt: skip
    return True


def _print_summary(out: Path) -> None:
    """The run's summary (a sweep has none: its report compares the points) and the report."""
    from recarena.analysis.report import summary_text
    from recarena.analysis.sweep import is_sweep

    if not is_sweep(out):
        print(summary_text(out))
    print(f"\nreport: {out / 'report.html'}")


def _cmd_run(args: argparse.Namespace) -> int:
    from recarena.experiment.executors import ExecutorError
    from recarena.experiment.runner import ResourceLimitError, SweepError, run_scenario

    jobs = check_jobs(args.jobs)
    overrides = list(args.overrides)
    if args.baseline is not None:
        overrides.append(f"analysis.baseline_arm={args.baseline}")
    config = _load(args.scenario, overrides, args.allow_plugins, args.seeds)
    if _unknown_arm("run", args.baseline, [arm.name for arm in config.arms]):
        return EXIT_INVALID
    if args.address is not None and args.executor not in (None, "dask"):
        print(f"recarena run: --address needs --executor dask, not {args.executor}",
              file=sys.stderr)  # fmt: skip
        return EXIT_INVALID
    executor = "dask" if args.address is not None else args.executor
    out, why = results_directory(config, args.out)
    print(f"results: {out} ({why})", flush=True)
    try:
        run_scenario(
            config, out, jobs=jobs, resume=args.resume, progress=not args.quiet,
            report=not args.no_report, force=args.force, allow_plugins=args.allow_plugins,
            overrides=overrides, executor=executor, address=args.address,
        )  # fmt: skip
    except (ExecutorError, ResourceLimitError) as exc:
        print(f"recarena run: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except SweepError as exc:
        print(f"recarena run: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not args.no_report:
        _print_summary(out)
    else:
        print(f"results: {out}")
    if args.no_logs:
        from recarena.experiment.cleaning import drop_event_logs

        freed = drop_event_logs(out)
        print(f"event logs deleted ({_size(freed.bytes)} freed)")
    return EXIT_OK


def _size(n_bytes: int) -> str:
    """Bytes in decimal units, e.g. ``"1.1 GB"``."""
    value = float(n_bytes)
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def _cmd_clean(args: argparse.Namespace) -> int:
    from recarena.experiment.cleaning import drop_event_logs, has_event_logs, results_directories

    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"recarena clean: no such path: {', '.join(missing)}", file=sys.stderr)
        return EXIT_INVALID
    total, found = 0, 0
    for directory in results_directories(args.paths):
        found += 1
        if not args.all and not has_event_logs(directory):
            continue
        if args.dry_run:
            what = "everything" if args.all else "event logs"
            print(f"would delete {what} of {directory}")
            continue
        cleaned = drop_event_logs(directory, everything=args.all)
        total += cleaned.bytes
        print(f"{directory}: {cleaned.files} files, {_size(cleaned.bytes)}")
    if not found:
        print("recarena clean: no results directory (with scenario.yaml and runs/) under "
              f"{', '.join(map(str, args.paths))}", file=sys.stderr)  # fmt: skip
        return EXIT_INVALID
    if not args.dry_run:
        print(f"freed {_size(total)}")
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for name in args.scenario:  # every file, even after a broken one
        try:
            config = _load(name, args.overrides, args.allow_plugins)
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            status = EXIT_INVALID
            continue
        runs = len(config.seeds) * len(config.arms)
        points = ""
        if config.sweep is not None:
            from recarena.experiment.sweep import sample_points

            n_points = len(sample_points(config.sweep))
            points, runs = f"{n_points} points × ", runs * n_points
        cost = estimate_run(config)
        print(f"{name}: ok — {points}{len(config.arms)} arms × {len(config.seeds)} seeds = "
              f"{runs} runs, {config.schedule.days:g} days; "
              f"each run ≈ {cost.describe()}")  # fmt: skip
    return status


def _cmd_list(_: argparse.Namespace) -> int:
    from recarena.policies import registry

    print("Policies (kind — surfaces — description):")
    for kind, cls in registry.available().items():
        surfaces = ",".join(sorted(s.value for s in cls.surfaces))
        print(f"  {kind:<22} {surfaces:<24} {cls.summary}")
    print("  plugin                 (any)                    your own Policy class: "
          "{kind: plugin, plugin: 'package.module:Class', params: {...}}")  # fmt: skip
    print("\nBundled scenarios (recarena run NAME, or the path):")
    for path in bundled_scenarios():
        print(f"  {path.stem:<22} {_first_sentence(path)}")
    return EXIT_OK


def _first_sentence(path: Path) -> str:
    """The question a scenario answers (its description's first sentence), for listings."""
    import yaml

    from recarena.analysis.report import scenario_question

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return ""
    sentence = scenario_question(data or {})
    return sentence if len(sentence) <= 110 else sentence[:109] + "…"


def _cmd_report(args: argparse.Namespace) -> int:
    from recarena.analysis.results import RunDirectory
    from recarena.experiment.runner import build_report

    if not (args.run_dir / "scenario.yaml").is_file():
        print(f"recarena report: {args.run_dir} is not a results directory (no scenario.yaml)",
              file=sys.stderr)  # fmt: skip
        return EXIT_INVALID
    if args.baseline is not None and _unknown_arm(
        "report", args.baseline, RunDirectory(args.run_dir).arms
    ):
        return EXIT_INVALID
    from recarena.experiment.cleaning import has_event_logs

    if not has_event_logs(args.run_dir):
        print(f"recarena report: {args.run_dir} has no event logs (deleted by --no-logs or "
              "'recarena clean'), so its report cannot be rebuilt; report.html and metrics/ "
              "are still there", file=sys.stderr)  # fmt: skip
        return EXIT_INVALID
    try:
        build_report(args.run_dir, baseline=args.baseline)
    except OSError as exc:
        print(f"recarena report: cannot write the report into {args.run_dir}: "
              f"{exc.strerror or exc}", file=sys.stderr)  # fmt: skip
        return EXIT_INVALID
    _print_summary(args.run_dir)
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from recarena.experiment.export import ExportError, export_obp

    seed = args.seed
    out = args.out
    if out is None:
        name = f"obp_{args.arm}" + ("" if seed is None else f"_seed{seed}")
        out = args.run_dir / "export" / f"{name}.npz"
    try:
        path = export_obp(args.run_dir, args.arm, out, seed=seed)
    except ExportError as exc:
        print(f"recarena export: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"bandit_feedback: {path}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``recarena`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_INVALID
    handlers = {
        "run": _cmd_run,
        "validate": _cmd_validate,
        "list": _cmd_list,
        "report": _cmd_report,
        "clean": _cmd_clean,
        "export": _cmd_export,
    }
    try:
        with sigterm_as_interrupt():
            return handlers[args.command](args)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    except (InvocationError, CostError, ResultsDirectoryLocked, ResultsError) as exc:
        print(f"recarena {args.command}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:  # a file or directory that cannot be read or written
        where = f" {exc.filename}" if exc.filename else ""
        print(f"recarena {args.command}: cannot use{where}: {exc.strerror or exc}",
              file=sys.stderr)  # fmt: skip
        return EXIT_INVALID
    except KeyboardInterrupt as exc:
        what, code = ("terminated", 143) if isinstance(exc, Terminated) else ("interrupted", 130)
        hint = "; finished runs are kept — rerun with --resume --out DIR"
        print(f"\n{what}{hint if args.command == 'run' else ''}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
