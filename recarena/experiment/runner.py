"""Run a scenario: every seed × arm, each a pure function of (scenario, seed, arm).

Every arm of a seed runs on the same world with the same common random numbers, so
differences between arms are the policies'. Runs execute in this process or in a local
process pool (joblib's loky backend). Each finished run is written atomically — into a
temporary directory renamed into place — so an interrupted sweep can be resumed
(``resume=True``) without redoing or duplicating runs.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from recarena.experiment.ope import write_ope_estimates
from recarena.experiment.schema import ArmConfig, ScenarioConfig
from recarena.policies import registry
from recarena.simulator.simulation import build_world, simulate

__all__ = [
    "RunKey",
    "SweepError",
    "build_report",
    "completed_runs",
    "plan_runs",
    "run_one",
    "run_scenario",
]

RUNS = "runs"
RUN_FILE = "run.json"
SCENARIO_FILE = "scenario.yaml"
MANIFEST_FILE = "manifest.json"
_VERSIONED = ("numpy", "scipy", "pandas", "pyarrow", "simpy", "pydantic", "scikit-learn",
              "implicit", "rectools-lightfm", "catboost", "torch", "scikit-uplift")  # fmt: skip


class SweepError(RuntimeError):
    """A run failed; the message names the seed and arm."""


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
) -> dict[str, Any]:
    """Simulate one run and move its directory into place; returns its ``run.json``."""
    arm = _arm(config, key.arm)
    final = out_dir / key.relpath
    tmp = out_dir / RUNS / f".tmp-seed={key.seed}-arm={key.arm}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        with threadpool_limits(limits=threads):
            session = registry.make(arm.policy) if config.schedule.surface != "none" else None
            campaign_cfg = arm.campaign_policy if session is not None else arm.policy
            campaign = (
                registry.make(campaign_cfg)
                if campaign_cfg is not None and config.schedule.campaign_days
                else None
            )
            world = build_world(config.world, config.schedule, key.seed)
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
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # a run finished by someone else in the meantime: keep theirs
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
        return record
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
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


def _write_manifest(out_dir: Path, config: ScenarioConfig, started: str) -> None:
    runs = []
    for key in sorted(completed_runs(out_dir)):
        runs.append(json.loads((out_dir / key.relpath / RUN_FILE).read_text()))
    manifest = {
        "scenario": config.name,
        "seeds": config.seeds,
        "arms": [a.name for a in config.arms],
        "started": started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "git": _git_hash(),
        "runs": runs,
    }
    _write_atomic(out_dir / MANIFEST_FILE, json.dumps(manifest, indent=2))


def _workers(config: ScenarioConfig, jobs: int | None, n_tasks: int) -> int:
    if jobs is None:
        jobs = 1 if config.executor.kind == "inline" else config.executor.jobs
    if jobs == 0:
        jobs = os.cpu_count() or 1
    return max(1, min(jobs, n_tasks))


def _day_progress(bar: Any) -> Callable[[float], None]:
    def update(t: float) -> None:
        bar.update(max(0, round(t) - bar.n))

    return update


def _execute(
    config: ScenarioConfig, tasks: list[RunKey], out_dir: Path, workers: int, show: bool
) -> Iterator[RunKey]:
    if workers == 1:
        for key in tasks:
            days = tqdm(
                total=round(config.schedule.days),
                desc=f"  seed={key.seed} {key.arm}",
                unit="day",
                leave=False,
                disable=not show,
            )
            with days:
                run_one(config, key, out_dir, progress=_day_progress(days))
            yield key
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")
    # One BLAS/OpenMP thread per worker: several processes on few cores must not oversubscribe.
    calls = (delayed(run_one)(config, key, out_dir, threads=1) for key in tasks)
    for record in parallel(calls):
        yield RunKey(record["seed"], record["arm"])


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
) -> Path:
    """Run every seed × arm of ``config`` into ``out_dir`` and write metrics and the report.

    Parameters
    ----------
    config
        A validated scenario.
    out_dir
        Results directory. It must not hold results already unless ``resume`` is set.
    jobs
        Worker processes (1 = in this process, 0 = one per core); default from the
        scenario's ``executor``.
    resume
        Keep finished runs found in ``out_dir`` and only do the missing ones. The scenario
        must be the same as the one that started the sweep.
    progress
        Show progress bars (runs, and days within a run when running in-process).
    report
        Compute metrics, plots and ``report.html`` at the end.

    Raises
    ------
    SweepError
        When a run fails (its temporary directory is removed; finished runs stay, so the
        sweep can be resumed). A results directory created by this call that ends with no
        finished run is removed.
    """
    out_dir = Path(out_dir)
    if len(config.seeds) < MIN_SEEDS:
        warnings.warn(
            f"scenario {config.name!r} runs {len(config.seeds)} seed(s): intervals over seeds "
            f"are undefined with 1 and very wide with 2; use at least {MIN_SEEDS} seeds "
            "(seeds: [...] or --seeds) for numbers to act on",
            UserWarning,
            stacklevel=2,
        )
    created = not out_dir.exists()
    scenario_text = resolved_yaml(config)
    if not created:
        existing = out_dir / SCENARIO_FILE
        if not resume and any(out_dir.iterdir()):
            raise FileExistsError(
                f"results directory {out_dir} is not empty; pass resume=True (--resume) to "
                "continue it, or choose another directory"
            )
        if resume and existing.exists() and existing.read_text(encoding="utf-8") != scenario_text:
            raise FileExistsError(
                f"{out_dir} was started with a different scenario; resume needs the same one"
            )
    (out_dir / RUNS).mkdir(parents=True, exist_ok=True)
    for stale in (out_dir / RUNS).glob(".tmp-*"):  # left by a killed worker
        shutil.rmtree(stale, ignore_errors=True)
    _write_atomic(out_dir / SCENARIO_FILE, scenario_text)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    done = completed_runs(out_dir) if resume else set()
    tasks = [key for key in plan_runs(config) if key not in done]
    workers = _workers(config, jobs, len(tasks))
    bar = tqdm(total=len(tasks), desc=config.name, unit="run", disable=not progress)
    try:
        with bar:
            for key in _execute(config, tasks, out_dir, workers, progress):
                bar.set_postfix_str(f"seed={key.seed} {key.arm}", refresh=False)
                bar.update(1)
    except (KeyboardInterrupt, SystemExit):
        _cleanup(out_dir, created)
        raise
    except Exception as exc:
        _cleanup(out_dir, created)
        raise SweepError(f"a run of scenario {config.name!r} failed: {exc}") from exc
    _write_manifest(out_dir, config, started)
    if config.ope is not None:
        logging = {s: out_dir / RunKey(s, config.ope.logging_arm).relpath for s in config.seeds}
        try:
            write_ope_estimates(config, out_dir, logging)
        except (ValueError, NotImplementedError) as exc:  # e.g. no propensities logged
            raise SweepError(f"off-policy evaluation of {config.name!r} failed: {exc}") from exc
    if report:
        build_report(out_dir)
    return out_dir


def build_report(out_dir: Path | str) -> Path:
    """Run the evaluations that refit policies, then write metrics, plots and the report.

    The report itself (:func:`recarena.analysis.report.write_report`) only reads the results
    directory; evaluations that need policies (offline refits) run here first and leave
    their tables for it.
    """
    from recarena.analysis.report import write_report
    from recarena.experiment.evaluate import write_evaluations

    write_evaluations(out_dir)
    return write_report(out_dir)


def _cleanup(out_dir: Path, created: bool) -> None:
    """Remove a results directory this call created if no run finished in it."""
    if created and out_dir.exists() and not completed_runs(out_dir):
        shutil.rmtree(out_dir, ignore_errors=True)
