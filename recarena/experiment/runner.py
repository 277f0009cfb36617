"""Run a scenario: every (point ×) seed × arm, each a pure function of (scenario, seed, arm).

Every arm of a seed runs on the same world with the same common random numbers, so
differences between arms are the policies'. A scenario with a ``sweep:`` block runs every
point of the sweep (:mod:`recarena.experiment.sweep`), each into its own results directory
``points/<key>/``. Runs execute on an executor (:mod:`recarena.experiment.executors`): in
this process, a local process pool, or a Dask cluster. Each finished run is written
atomically — into a temporary directory renamed into place — so an interrupted sweep can be
resumed (``resume=True``) without redoing or duplicating runs. A run that fails is tried again
(``executor.retries``) and, if it keeps failing, reported with its point, seed and arm once
the other runs have finished.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from recarena.experiment.cost import check_cost
from recarena.experiment.executors import Executor, InlineExecutor, make_executor
from recarena.experiment.footprint import (
    estimate_peak_bytes,
    format_bytes,
    parse_bytes,
)
from recarena.experiment.invocation import InvocationError
from recarena.experiment.lock import LOCK_FILE, ResultsLock
from recarena.experiment.ope import write_ope_estimates
from recarena.experiment.schema import ArmConfig, ScenarioConfig
from recarena.experiment.sweep import POINTS, SweepPoint, point_scenarios
from recarena.policies import registry
from recarena.simulator.simulation import build_world, simulate
from recarena.simulator.world_tables import seed_directory, write_world_tables

__all__ = [
    "Outcome",
    "ResourceLimitError",
    "RunDirectoryError",
    "RunKey",
    "RunTask",
    "SweepError",
    "build_report",
    "completed_runs",
    "plan_runs",
    "run_one",
    "run_scenario",
    "run_task",
]

RUNS = "runs"
RUN_FILE = "run.json"
SCENARIO_FILE = "scenario.yaml"
MANIFEST_FILE = "manifest.json"
_VERSIONED = ("numpy", "scipy", "pandas", "pyarrow", "simpy", "pydantic", "scikit-learn",
              "implicit", "rectools-lightfm", "catboost", "torch", "scikit-uplift")  # fmt: skip


class SweepError(RuntimeError):
    """A run failed; the message names the point, seed and arm."""


class RunDirectoryError(InvocationError):
    """A results directory that cannot be used: a file, unwritable, not empty for a new
    sweep, or not the same scenario's for a resume."""


class ResourceLimitError(SweepError):
    """A run would not fit a worker's memory; raised before anything runs."""


@dataclass(frozen=True, order=True)
class RunKey:
    """One run: a seed and an arm."""

    seed: int
    arm: str

    @property
    def relpath(self) -> Path:
        """Where the run lives inside the results directory."""
        return Path(RUNS) / f"seed={self.seed}" / f"arm={self.arm}"


def plan_runs(config: ScenarioConfig) -> list[RunKey]:
    """Every (seed, arm) of the scenario, seeds outermost."""
    return [RunKey(seed, arm.name) for seed in config.seeds for arm in config.arms]


def completed_runs(out_dir: Path) -> set[RunKey]:
    """Runs whose directory was renamed into place (they hold ``run.json``)."""
    done = set()
    for run_file in (out_dir / RUNS).glob(f"seed=*/arm=*/{RUN_FILE}"):
        seed = int(run_file.parent.parent.name.removeprefix("seed="))
        done.add(RunKey(seed, run_file.parent.name.removeprefix("arm=")))
    return done


def _arm(config: ScenarioConfig, name: str) -> ArmConfig:
    return next(a for a in config.arms if a.name == name)


def run_one(
    config: ScenarioConfig,
    key: RunKey,
    out_dir: Path,
    threads: int | None = None,
    progress: Callable[[float], None] | None = None,
    allow_plugins: bool = False,
) -> dict[str, Any]:
    """Simulate one run and move its directory into place; returns its ``run.json``.

    The world's user and offer tables are written once per seed, by the first of its runs
    (:func:`recarena.simulator.world_tables.write_world_tables`), for analysis to read.
    """
    arm = _arm(config, key.arm)
    final = out_dir / key.relpath
    tmp = out_dir / RUNS / f".tmp-seed={key.seed}-arm={key.arm}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        with threadpool_limits(limits=threads), registry.allow_plugins(allow_plugins):
            session = registry.make(arm.policy) if config.schedule.session_surface else None
            campaign_cfg = arm.campaign_policy if session is not None else arm.policy
            campaign = (
                registry.make(campaign_cfg)
                if campaign_cfg is not None and config.schedule.campaign_days
                else None
            )
            world = build_world(config.world, config.schedule, key.seed)
            write_world_tables(world, seed_directory(out_dir, key.seed))
            tic = time.perf_counter()
            result = simulate(
                config.world,
                config.schedule,
                key.seed,
                session,
                campaign,
                world=world,
                log_path=tmp,
                oracle_columns=config.output.oracle_columns,
                progress=progress,
            )
        record = {
            "seed": key.seed,
            "arm": key.arm,
            "horizon_days": config.schedule.days,
            "n_users": world.n_users,
            "n_items": world.n_items,
            "seconds": time.perf_counter() - tic,
            "stats": {
                "decisions": result.stats.decisions,
                "campaign_decisions": result.stats.campaign_decisions,
                "fits": result.stats.fits,
                "fallbacks": result.stats.fallbacks,
                "seconds": result.stats.seconds,
                "act_seconds": result.stats.act_seconds,
                "fit_seconds": result.stats.fit_seconds,
                "decisions_per_second": result.stats.decisions_per_second,
            },
        }
        (tmp / RUN_FILE).write_text(json.dumps(record, indent=2))
        _move_into_place(tmp, final)
        return record
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _move_into_place(tmp: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():  # a run finished by someone else in the meantime: keep theirs
        shutil.rmtree(tmp)
    else:
        os.replace(tmp, final)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("recarena", *_VERSIONED):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _git_hash() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _write_atomic(path: Path, content: str | bytes) -> None:
    """Write ``content`` (text as UTF-8) to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    os.replace(tmp, path)


def resolved_yaml(config: ScenarioConfig) -> str:
    """The scenario with every default filled in, as YAML that loads back to the same config.

    Policy configs are resolved too (every parameter with its default), so the analysis can
    read a policy's design from the results directory without importing the policy; a
    plugin's config is written as given.
    """
    data = config.model_dump(mode="json")
    for arm in data["arms"]:
        for role in ("policy", "campaign_policy"):
            if arm.get(role) and arm[role].get("kind") != "plugin":
                arm[role] = registry.parse_params(arm[role])[1].model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _write_manifest(
    out_dir: Path, config: ScenarioConfig, started: str, overrides: Sequence[str] = ()
) -> None:
    runs = []
    for key in sorted(completed_runs(out_dir)):
        runs.append(json.loads((out_dir / key.relpath / RUN_FILE).read_text()))
    manifest = {
        "scenario": config.name,
        "seeds": config.seeds,
        "arms": [a.name for a in config.arms],
        "overrides": list(overrides),
        "started": started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "git": _git_hash(),
        "runs": runs,
    }
    _write_atomic(out_dir / MANIFEST_FILE, json.dumps(manifest, indent=2))


# ---------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class RunTask:
    """One run to execute: a point's scenario, a seed and an arm, and where it belongs.

    ``shared`` says whether the worker writes into ``root`` itself (a file system shared with
    the driver) or sends the run's files back (:attr:`Outcome.files`).
    """

    config: ScenarioConfig
    key: RunKey
    root: Path
    point: str = ""
    shared: bool = True
    show_days: bool = False
    allow_plugins: bool = False

    @property
    def label(self) -> str:
        """``point <key>, seed=<seed>, arm=<arm>``: how messages name the run."""
        where = f"point {self.point}, " if self.point else ""
        return f"{where}seed={self.key.seed}, arm={self.key.arm}"


@dataclass(frozen=True)
class Outcome:
    """What came back from a task: its ``run.json`` record (and files) or an error."""

    task: RunTask
    record: dict[str, Any] | None = None
    files: dict[str, bytes] | None = field(default=None, repr=False)
    error: str | None = None
    worker: str = ""


def run_task(task: RunTask) -> Outcome:
    """Execute one task anywhere (in this process or on a worker); errors become outcomes."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    threads = None if task.show_days else 1  # workers share cores: one BLAS thread each
    try:
        if task.shared:
            bar = tqdm(total=round(task.config.schedule.days), desc=f"  {task.label}",
                       unit="day", leave=False, disable=not task.show_days)  # fmt: skip
            with bar:
                record = run_one(task.config, task.key, task.root, threads, _day_progress(bar),
                                 task.allow_plugins)  # fmt: skip
            return Outcome(task, record, worker=worker)
        with tempfile.TemporaryDirectory(prefix="recarena-run-") as scratch:
            record = run_one(task.config, task.key, Path(scratch), threads, None,
                             task.allow_plugins)  # fmt: skip
            # The run's files and its seed's world tables, by path relative to the results root.
            root = Path(scratch)
            wanted = [root / task.key.relpath, seed_directory(root, task.key.seed)]
            files = {
                str(p.relative_to(root)): p.read_bytes()
                for directory in wanted
                for p in sorted(directory.iterdir())
                if p.is_file()
            }
        return Outcome(task, record, files, worker=worker)
    except Exception as exc:
        return Outcome(task, error=f"{type(exc).__name__}: {exc}", worker=worker)


def _lost(task: RunTask, error: BaseException) -> Outcome:
    return Outcome(task, error=f"worker lost: {type(error).__name__}: {error}")


def _install(outcome: Outcome) -> None:
    """Write a run's returned files into its results directory, atomically: the run's own
    files into its run directory, its seed's world tables once (every run of a seed returns
    the same tables)."""
    task, files = outcome.task, outcome.files or {}
    run_rel = Path(task.key.relpath)
    tmp = task.root / RUNS / f".tmp-seed={task.key.seed}-arm={task.key.arm}-driver"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, data in files.items():
        rel = Path(name)
        if rel.parent == run_rel:
            (tmp / rel.name).write_bytes(data)
        elif not (task.root / rel).exists():
            (task.root / rel).parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(task.root / rel, data)
    _move_into_place(tmp, task.root / task.key.relpath)


def _day_progress(bar: Any) -> Callable[[float], None]:
    def update(t: float) -> None:
        bar.update(max(0, round(t) - bar.n))

    return update


def _execute(
    executor: Executor, tasks: Sequence[RunTask], retries: int, bar: Any
) -> list[tuple[Outcome, int]]:
    """Run every task, retrying failures; the runs that kept failing, with their attempts."""
    attempts: Counter[str] = Counter()
    failures: list[tuple[Outcome, int]] = []
    pending = list(tasks)
    while pending:
        again: list[RunTask] = []
        runs = executor.map_unordered(run_task, pending, _lost)
        try:
            for outcome in runs:
                task = outcome.task
                if outcome.error is None:
                    if outcome.files is not None:
                        _install(outcome)
                    bar.set_postfix_str(task.label, refresh=False)
                    bar.update(1)
                    continue
                attempts[task.label] += 1
                tried = attempts[task.label]
                where = f" on {outcome.worker}" if outcome.worker else ""
                if tried <= retries:
                    tqdm.write(f"run {task.label} failed{where} (attempt {tried} of "
                               f"{retries + 1}): {outcome.error}; trying again",
                               file=sys.stderr)  # fmt: skip
                    again.append(task)
                else:
                    failures.append((outcome, tried))
        finally:
            # Stop what still runs now, on an interrupt too (the pool's workers, the
            # cluster's futures), not whenever the generator happens to be collected.
            runs.close()
        pending = again
    return failures


# ---------------------------------------------------------------------- sweeps
@dataclass(frozen=True)
class _Point:
    """A results directory to fill: the whole scenario, or one sweep point."""

    config: ScenarioConfig
    root: Path
    point: SweepPoint | None = None

    @property
    def key(self) -> str:
        return "" if self.point is None else self.point.key


def _points(config: ScenarioConfig, out_dir: Path) -> list[_Point]:
    if config.sweep is None:
        return [_Point(config, out_dir)]
    return [_Point(c, out_dir / p.relpath, p) for p, c in point_scenarios(config, config.name)]


def _check_memory(points: Sequence[_Point], limit: int, where: str) -> None:
    """Refuse, before anything runs, a sweep with a run that cannot fit a worker's memory."""
    too_big = [(p, estimate_peak_bytes(p.config)) for p in points]
    too_big = [(p, need) for p, need in too_big if need > limit]
    if not too_big:
        return
    point, need = too_big[0]
    run = RunTask(point.config, RunKey(point.config.seeds[0], point.config.arms[0].name),
                  point.root, point.key).label  # fmt: skip
    more = f" (and the runs of {len(too_big) - 1} more point(s))" if len(too_big) > 1 else ""
    raise ResourceLimitError(
        f"run {run}{more} needs an estimated {format_bytes(need)} of memory "
        f"(world.population.n_users={point.config.world.population.n_users}), more than a "
        f"worker's {format_bytes(limit)} ({where}); lower world.population.n_users, or run on "
        "fewer, larger workers (--jobs, executor.worker_memory)"
    )


def _workers(config: ScenarioConfig, jobs: int | None, n_tasks: int) -> int:
    if jobs is None:
        jobs = 1 if config.executor.kind == "inline" else config.executor.jobs
    if jobs == 0:
        jobs = os.cpu_count() or 1
    return max(1, min(jobs, n_tasks))


def _make_executor(
    config: ScenarioConfig, kind: str, workers: int, address: str | None
) -> Executor:
    memory = config.executor.worker_memory
    limit = parse_bytes(memory) if memory is not None else None
    if kind == "dask":
        return make_executor("dask", workers, address, limit)
    if kind == "inline" or workers == 1:
        return InlineExecutor()
    return make_executor("process", workers)


def _write_sweep_manifest(
    out_dir: Path, config: ScenarioConfig, points: Sequence[_Point], started: str, how: str
) -> None:
    assert config.sweep is not None
    manifest = {
        "scenario": config.name,
        "sweep": {
            "method": config.sweep.method,
            "parameters": [p.name for p in config.sweep.parameters],
            "points": [
                {"key": p.key, "values": p.point.as_dict() if p.point else {}} for p in points
            ],
        },
        "seeds": config.seeds,
        "arms": [a.name for a in config.arms],
        "executor": how,
        "started": started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "git": _git_hash(),
        "runs": sum(len(completed_runs(p.root)) for p in points),
    }
    _write_atomic(out_dir / MANIFEST_FILE, json.dumps(manifest, indent=2))


#: Fewer seeds than this get a warning: a CI over seeds needs a few replications.
MIN_SEEDS = 3


def run_scenario(
    config: ScenarioConfig,
    out_dir: Path,
    *,
    jobs: int | None = None,
    resume: bool = False,
    progress: bool = True,
    report: bool = True,
    executor: str | None = None,
    address: str | None = None,
    force: bool = False,
    allow_plugins: bool = False,
    overrides: Sequence[str] = (),
) -> Path:
    """Run every (sweep point ×) seed × arm of ``config`` into ``out_dir``, then write metrics
    and the report.

    Parameters
    ----------
    config
        A validated scenario (with or without a ``sweep:`` block).
    out_dir
        Results directory. It must not hold results already unless ``resume`` is set.
    jobs
        Workers (1 = in this process for the process pool, 0 = one per core); default from
        the scenario's ``executor``.
    resume
        Keep finished runs found in ``out_dir`` and only do the missing ones. The scenario
        must be the same as the one that started the sweep.
    progress
        Show progress bars (runs, and days within a run when running in-process).
    report
        Compute metrics, plots and ``report.html`` at the end.
    executor
        ``inline``, ``process`` or ``dask`` instead of the scenario's ``executor.kind``.
    address
        Dask scheduler address instead of the scenario's ``executor.address`` (none = a
        local cluster on 127.0.0.1).

    force
        Run even when the cost estimate (:func:`recarena.experiment.cost.check_cost`) says
        the sweep would not fit this machine or would take too long.
    allow_plugins
        Load plugin policies the scenario names (they are code).
    overrides
        The ``--set`` strings that produced ``config``, recorded in ``manifest.json``.

    Raises
    ------
    recarena.experiment.cost.CostError
        The sweep would not fit or would take too long (nothing is written).
    RunDirectoryError
        ``out_dir`` cannot be used (see :func:`_check_directory`) or cannot be written.
    recarena.experiment.lock.ResultsDirectoryLocked
        Another live process is running a sweep into ``out_dir``.
    ResourceLimitError
        When a run's estimated memory exceeds a worker's, before anything is written.
    SweepError
        When runs kept failing after their retries (their temporary directories are
        removed; finished runs stay, so the sweep can be resumed). A results directory
        created by this call that ends with no finished run is removed.
    """
    out_dir = Path(out_dir)
    with registry.allow_plugins(allow_plugins):  # validating points parses plugin configs
        points = _points(config, out_dir)
    kind = executor or config.executor.kind
    address = address if address is not None else config.executor.address
    if len(config.seeds) < MIN_SEEDS:
        warnings.warn(
            f"scenario {config.name!r} runs {len(config.seeds)} seed(s): intervals over seeds "
            f"are undefined with 1 and very wide with 2; use at least {MIN_SEEDS} seeds "
            "(seeds: [...] or --seeds) for numbers to act on",
            UserWarning,
            stacklevel=2,
        )
    with registry.allow_plugins(allow_plugins):
        scenario_text = resolved_yaml(config)
    check_cost(config, _workers(config, jobs, len(plan_runs(config))), force=force)
    created = _check_directory(out_dir, scenario_text, resume)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        lock = ResultsLock(out_dir)
        lock.acquire()
    except OSError as exc:
        _cleanup(out_dir, created)
        raise RunDirectoryError(
            f"cannot create or write results directory {out_dir}: {exc.strerror or exc}"
        ) from None
    try:
        if lock.taken_over is not None:
            print(f"recarena: took over the lock of {out_dir} from PID {lock.taken_over}, "
                  "which ended without releasing it", file=sys.stderr)  # fmt: skip
        return _sweep(config, out_dir, points, created, scenario_text, jobs, resume, progress,
                      report, kind, address, allow_plugins, overrides)  # fmt: skip
    finally:
        lock.release()


def _sweep(
    config: ScenarioConfig,
    out_dir: Path,
    points: Sequence[_Point],
    created: bool,
    scenario_text: str,
    jobs: int | None,
    resume: bool,
    progress: bool,
    report: bool,
    kind: str,
    address: str | None,
    allow_plugins: bool,
    overrides: Sequence[str],
) -> Path:
    """The sweep itself, with ``out_dir`` locked."""
    tasks: list[RunTask] = []
    for p in points:
        done = completed_runs(p.root) if resume else set()
        tasks += [RunTask(p.config, key, p.root, p.key) for key in plan_runs(p.config)
                  if key not in done]  # fmt: skip
    workers = _workers(config, jobs, len(tasks))
    memory = config.executor.worker_memory
    with _make_executor(config, kind, workers, address) as engine:
        limit = parse_bytes(memory) if memory is not None else engine.worker_memory()
        try:
            _check_memory(points, limit, engine.describe())
        except ResourceLimitError:  # refused before any run: leave nothing behind
            _cleanup(out_dir, created)
            raise
        inline = isinstance(engine, InlineExecutor)
        shared = config.executor.shared_dir or kind != "dask"
        tasks = [RunTask(t.config, t.key, t.root.resolve(), t.point, shared, inline and progress,
                         allow_plugins) for t in tasks]  # fmt: skip
        try:
            _prepare(out_dir, points, scenario_text)
        except OSError as exc:
            _cleanup(out_dir, created)
            raise RunDirectoryError(f"cannot write to {out_dir}: {exc.strerror or exc}") from None
        started = datetime.now(UTC).isoformat(timespec="seconds")
        bar = tqdm(total=len(tasks), desc=config.name, unit="run", disable=not progress)
        try:
            with bar:
                failures = _execute(engine, tasks, config.executor.retries, bar)
        except (KeyboardInterrupt, SystemExit):  # Ctrl-C, or SIGTERM from the command line
            # The pool has stopped its workers on the way out (joblib aborts on any
            # BaseException): what they left half-written goes, finished runs stay.
            _drop_unfinished(points)
            _cleanup(out_dir, created)
            raise
        except Exception as exc:
            _cleanup(out_dir, created)
            raise SweepError(f"a run of scenario {config.name!r} failed: {exc}") from exc
        how = engine.describe()
    if failures:
        _cleanup(out_dir, created)
        lines = [
            f"  run {o.task.label}: failed {n} time(s){' on ' + o.worker if o.worker else ''}: "
            f"{o.error}"
            for o, n in failures
        ]
        raise SweepError(
            f"{len(failures)} run(s) of scenario {config.name!r} failed (finished runs are "
            "kept; fix the cause and rerun with --resume):\n" + "\n".join(lines)
        )
    try:
        _finish(config, out_dir, points, started, how, overrides, allow_plugins)
        if report:
            build_report(out_dir, jobs=min(workers, os.cpu_count() or 1))
    except OSError as exc:
        raise SweepError(
            f"the runs finished but {out_dir} could not be written: {exc.strerror or exc}"
        ) from exc
    return out_dir


def _finish(
    config: ScenarioConfig,
    out_dir: Path,
    points: Sequence[_Point],
    started: str,
    how: str,
    overrides: Sequence[str],
    allow_plugins: bool,
) -> None:
    """Manifests, and the off-policy estimates where the scenario asks for them."""
    for p in points:
        _write_manifest(p.root, p.config, started, overrides)
    if config.sweep is not None:
        _write_sweep_manifest(out_dir, config, points, started, how)
    for p in points:
        if p.config.ope is None:
            continue
        logging = {s: p.root / RunKey(s, p.config.ope.logging_arm).relpath
                   for s in p.config.seeds}  # fmt: skip
        try:
            with registry.allow_plugins(allow_plugins):
                write_ope_estimates(p.config, p.root, logging)
        except (ValueError, NotImplementedError) as exc:  # e.g. no propensities logged
            raise SweepError(f"off-policy evaluation of {config.name!r} failed: {exc}") from exc


def _check_directory(out_dir: Path, scenario_text: str, resume: bool) -> bool:
    """Check ``out_dir`` for a new sweep or a resume; returns whether it must be created."""
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirectoryError(f"results directory {out_dir} exists and is not a directory")
    if resume:
        existing = out_dir / SCENARIO_FILE
        if not out_dir.is_dir():
            raise RunDirectoryError(
                f"--resume needs an existing results directory; {out_dir} does not exist"
            )
        if not existing.is_file():
            raise RunDirectoryError(
                f"{out_dir} has no {SCENARIO_FILE}, so it is not a results directory to resume "
                "(resuming into it could mix scenarios); choose the directory of the sweep"
            )
        if existing.read_text(encoding="utf-8") != scenario_text:
            raise RunDirectoryError(
                f"{out_dir} was started with a different scenario; resume needs the same one"
            )
        return False
    if out_dir.exists() and any(p.name != LOCK_FILE for p in out_dir.iterdir()):
        raise RunDirectoryError(
            f"results directory {out_dir} is not empty; pass resume=True (--resume) to "
            "continue it, or choose another directory"
        )
    return not out_dir.exists()


def _drop_unfinished(points: Sequence[_Point]) -> None:
    """Remove the temporary directories of runs that never finished (a killed worker's, or
    those in flight when the sweep was interrupted): with the lock held, nothing else
    writes them."""
    for p in points:
        for stale in (p.root / RUNS).glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)


def _prepare(out_dir: Path, points: Sequence[_Point], scenario_text: str) -> None:
    """Create the results directory (and each point's), drop stale temporary runs, write
    the scenario files."""
    for p in points:
        (p.root / RUNS).mkdir(parents=True, exist_ok=True)
    _drop_unfinished(points)
    for p in points:
        if p.point is not None:
            _write_atomic(p.root / SCENARIO_FILE, resolved_yaml(p.config))
    _write_atomic(out_dir / SCENARIO_FILE, scenario_text)


def _finished_anywhere(out_dir: Path) -> bool:
    return any(out_dir.glob(f"{RUNS}/seed=*/arm=*/{RUN_FILE}")) or any(
        out_dir.glob(f"{POINTS}/*/{RUNS}/seed=*/arm=*/{RUN_FILE}")
    )


def build_report(out_dir: Path | str, jobs: int = 1, baseline: str | None = None) -> Path:
    """Run the evaluations that refit policies, then write metrics, plots and the report
    (of a sweep: :func:`recarena.analysis.sweep_report.write_sweep_report`, reading its
    points with ``jobs`` local processes). ``baseline`` is the arm paired differences are
    taken from (default: the scenario's ``analysis.baseline_arm``, else the first arm).

    The report itself (:func:`recarena.analysis.report.write_report`) only reads the results
    directory; evaluations that need policies (offline refits) run here first and leave
    their tables for it.
    """
    from recarena.analysis.report import write_report
    from recarena.analysis.sweep import is_sweep
    from recarena.analysis.sweep_report import write_sweep_report
    from recarena.experiment.evaluate import write_evaluations

    if is_sweep(out_dir):
        return write_sweep_report(out_dir, jobs=jobs)
    write_evaluations(out_dir)
    return write_report(out_dir, baseline=baseline)


def _cleanup(out_dir: Path, created: bool) -> None:
    """Remove a results directory this call created if no run finished in it."""
    if created and out_dir.exists() and not _finished_anywhere(out_dir):
        shutil.rmtree(out_dir, ignore_errors=True)
