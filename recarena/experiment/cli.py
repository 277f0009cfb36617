"""The ``recarena`` command line: run, validate, list, report, export.

Exit codes: 0 success; 1 a run failed; 2 invalid input (scenario, arguments, paths).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path

from recarena.experiment.loading import ScenarioError, load_scenario
from recarena.experiment.scenarios import bundled_scenarios, resolve_scenario_path
from recarena.experiment.schema import ScenarioConfig

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


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
    run.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    run.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a scenario value, e.g. --set schedule.days=3 (repeatable)",
    )  # fmt: skip
    run.add_argument("--no-report", action="store_true", help="skip metrics, plots and report")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars")

    validate = sub.add_parser(
        "validate", help="check a scenario file without running it",
        description="Validate a scenario: every problem is listed with its line and key path.",
    )  # fmt: skip
    validate.add_argument("scenario", nargs="+", help="scenario file(s)")
    validate.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE"
    )

    sub.add_parser("list", help="list policies and bundled scenarios")

    report = sub.add_parser(
        "report", help="rebuild metrics, plots and report.html of a results directory"
    )
    report.add_argument("run_dir", type=Path, help="a results directory written by 'recarena run'")

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


def _load(name: str, overrides: Sequence[str], seeds: list[int] | None = None) -> ScenarioConfig:
    path = resolve_scenario_path(name)
    extra = list(overrides)
    if seeds is not None:
        extra.append(f"seeds=[{', '.join(str(s) for s in seeds)}]")
    return load_scenario(path, extra)


def _cmd_run(args: argparse.Namespace) -> int:
    from recarena.experiment.runner import SweepError, run_scenario

    config = _load(args.scenario, args.overrides, args.seeds)
    if args.jobs is not None and args.jobs < 0:
        print("recarena run: --jobs must be ≥ 0", file=sys.stderr)
        return EXIT_INVALID
    out = args.out
    if out is None:
        base = Path(config.output.dir) if config.output.dir else Path("results") / config.name
        out = base / datetime.now().strftime("%Y%m%d-%H%M%S")
    if args.resume and not out.exists():
        print(f"recarena run: --resume needs an existing --out directory, {out} does not exist",
              file=sys.stderr)  # fmt: skip
        return EXIT_INVALID
    try:
        run_scenario(
            config, out, jobs=args.jobs, resume=args.resume,
            progress=not args.quiet, report=not args.no_report,
        )  # fmt: skip
    except FileExistsError as exc:
        print(f"recarena run: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except SweepError as exc:
        print(f"recarena run: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not args.no_report:
        from recarena.analysis.report import summary_text

        print(summary_text(out))
        print(f"\nreport: {out / 'report.html'}")
    else:
        print(f"results: {out}")
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for name in args.scenario:
        try:
            config = _load(name, args.overrides)
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            status = EXIT_INVALID
            continue
        runs = len(config.seeds) * len(config.arms)
        print(f"{name}: ok — {len(config.arms)} arms × {len(config.seeds)} seeds = {runs} runs, "
              f"{config.schedule.days:g} days")  # fmt: skip
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
    """The first sentence of a scenario's description, for listings."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return ""
    text = " ".join(str((data or {}).get("description") or "").split())
    sentence = text.split(". ")[0].rstrip(".")
    return sentence if len(sentence) <= 90 else sentence[:89] + "…"


def _cmd_report(args: argparse.Namespace) -> int:
    from recarena.experiment.runner import build_report

    if not (args.run_dir / "scenario.yaml").exists():
        print(f"recarena report: {args.run_dir} is not a results directory (no scenario.yaml)",
              file=sys.stderr)  # fmt: skip
        return EXIT_INVALID
    print(f"report: {build_report(args.run_dir)}")
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
        "export": _cmd_export,
    }
    try:
        return handlers[args.command](args)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("\ninterrupted; finished runs are kept — rerun with --resume --out DIR",
              file=sys.stderr)  # fmt: skip
        return 130


if __name__ == "__main__":
    sys.exit(main())
