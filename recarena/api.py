"""The Python API, mirroring the CLI, for notebooks and scripts.

>>> import recarena
>>> results = recarena.run("scenarios/quickstart.yaml", seeds=[1], progress=False)  # doctest: +SKIP
>>> results.summary()                                                               # doctest: +SKIP
>>> results.plot_regret(log_time=True)                                              # doctest: +SKIP
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from recarena.experiment.invocation import (
    InvocationError,
    check_jobs,
    check_seeds,
    results_directory,
)
from recarena.experiment.loading import load_scenario, scenario_from_dict
from recarena.experiment.overrides import apply_overrides, parse_override
from recarena.experiment.scenarios import resolve_scenario_path
from recarena.experiment.schema import ScenarioConfig

__all__ = ["Results", "SweepResults", "load", "run"]


class _ReportDirectory:
    """What every results directory offers: its path, its report and its metric tables
    (built on first use when missing)."""

    path: Path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    @property
    def report_path(self) -> Path:
        """The self-contained HTML report."""
        return self.path / "report.html"

    def _metrics(self, name: str) -> pd.DataFrame:
        path = self.path / "metrics" / f"{name}.csv"
        if not path.exists():
            from recarena.experiment.runner import build_report

            build_report(self.path)
        return pd.read_csv(path)


class Results(_ReportDirectory):
    """A finished results directory: tables, metrics and plots.

    Parameters
    ----------
    path
        A directory written by :func:`run` or ``recarena run``.
    """

    def __init__(self, path: Path | str) -> None:
        from recarena.analysis.results import RunDirectory

        self.path = Path(path)
        self.directory = RunDirectory(self.path)
        self._ctx: Any = None

    def summary(self) -> pd.DataFrame:
        """Per arm and metric: mean over seeds with its 95% CI (long format)."""
        return self._metrics("summary")

    def summary_text(self) -> str:
        """The summary as the compact text table ``recarena run`` prints."""
        from recarena.analysis.report import summary_text

        self.summary()  # builds the metrics when they are missing
        return summary_text(self.directory)

    def per_run(self) -> pd.DataFrame:
        """One row per (seed, arm) with every scalar metric."""
        return self._metrics("per_run")

    def daily(self) -> pd.DataFrame:
        """Per run and day: reward, regret, active users, satisfaction, revenue."""
        return self._metrics("daily")

    def ope(self) -> pd.DataFrame:
        """Off-policy estimates against on-policy truth, per target and estimator (a scenario
        with an ``ope:`` block; see docs/ope.md)."""
        if not (self.path / "ope" / "estimates.csv").exists():
            raise ValueError(f"{self.path} has no off-policy estimates (no ope: block)")
        return self._metrics("ope")

    def table(self, seed: int, arm: str, name: str) -> pd.DataFrame:
        """One event-log table of one run (``decisions``, ``campaigns``, ``lifecycle``…).

        On the slate surface a decision shows k items: ``action`` is −1 and the ``slate``
        column holds each row's k item ids in position order (``clicked_position`` indexes
        it). For millions of rows, :func:`recarena.simulator.log.read_slates` reads the
        slates as one (n, k) array, faster.
        """
        return self.directory.run(seed, arm).full_table(name)

    def _context(self) -> Any:
        from recarena.analysis.report import build_context

        if self._ctx is None:
            self._ctx = build_context(self.path, 0.95)
        return self._ctx

    def _curves(self) -> pd.DataFrame:
        curves: pd.DataFrame = self._context().curves
        return curves

    def plot_reward(self, expected: bool = False, log_time: bool = False) -> Figure:
        """Cumulative (realised or expected) reward over time, mean ± 95% CI per arm."""
        from recarena.analysis.plots import cumulative_reward_plot

        return cumulative_reward_plot(self._curves(), expected=expected, log_x=log_time)

    def plot_regret(self, log_time: bool = False) -> Figure:
        """Cumulative pseudo-regret against the oracle, mean ± 95% CI per arm."""
        from recarena.analysis.plots import cumulative_regret_plot

        return cumulative_regret_plot(self._curves(), log_x=log_time)

    def plot_retention(self) -> Figure:
        """Kaplan–Meier retention curves per arm."""
        from recarena.analysis.plots import retention_plot

        return retention_plot(self._context().survival)

    def plot_metrics(self, metrics: Sequence[str]) -> Figure:
        """Bar chart of metrics per arm with 95% CI error bars."""
        from recarena.analysis.plots import metric_bars

        return metric_bars(self.summary(), list(metrics))


class SweepResults(_ReportDirectory):
    """A finished sweep's results directory: its tables, and each point as :class:`Results`.

    Parameters
    ----------
    path
        A directory written by :func:`run` or ``recarena run`` for a scenario with a sweep.
    """

    def __init__(self, path: Path | str) -> None:
        from recarena.analysis.sweep import SweepDirectory

        self.path = Path(path)
        self.directory = SweepDirectory(self.path)

    def per_run(self) -> pd.DataFrame:
        """One row per point × seed × arm: the parameters and the sweep metrics."""
        return self._metrics("sweep_per_run")

    def summary(self) -> pd.DataFrame:
        """Per point × arm × metric: mean over seeds with its 95% CI."""
        return self._metrics("sweep_summary")

    def points(self) -> list[str]:
        """The points' keys (``name=value,…``)."""
        return [p.key for p in self.directory.points()]

    def point(self, key: str) -> Results:
        """One point's results directory."""
        return Results(self.path / "points" / key)


def _config(
    scenario: str | Path | Mapping[str, Any] | ScenarioConfig,
    overrides: Sequence[str],
    allow_plugins: bool,
) -> ScenarioConfig:
    if isinstance(scenario, ScenarioConfig):
        if not overrides:
            return scenario
        scenario = scenario.model_dump(mode="json")
    if isinstance(scenario, Mapping):
        parsed = [parse_override(text) for text in overrides]
        data = apply_overrides(copy.deepcopy(dict(scenario)), parsed)
        return scenario_from_dict(data, "<scenario>", None, parsed, allow_plugins)
    if not isinstance(scenario, str | Path):
        raise InvocationError(
            "scenario must be a YAML path, a bundled scenario's name, a mapping or a "
            f"ScenarioConfig, got {type(scenario).__name__}"
        )
    return load_scenario(resolve_scenario_path(str(scenario)), overrides, allow_plugins)


def run(
    scenario: str | Path | Mapping[str, Any] | ScenarioConfig,
    out: str | Path | None = None,
    *,
    seeds: Sequence[int] | None = None,
    jobs: int | None = None,
    resume: bool = False,
    overrides: Sequence[str] = (),
    progress: bool = True,
    force: bool = False,
    allow_plugins: bool = False,
    executor: str | None = None,
    address: str | None = None,
) -> Results | SweepResults:
    """Run a scenario (file, bundled name, mapping or config) like ``recarena run``.

    The same rules as the command line, with the same messages: nothing is written for an
    invalid scenario or argument.

    Parameters
    ----------
    scenario
        A YAML path, the name of a bundled scenario, a mapping, or a :class:`ScenarioConfig`.
    out
        Results directory (default ``results/<name>/<timestamp>``, or the scenario's
        ``output.dir``; relative to the working directory).
    seeds
        Seeds to run instead of the scenario's: a list of distinct integers in [0, 2³²).
    jobs
        Worker processes (1 = in-process, 0 = all cores); default from the scenario.
    resume
        Continue an interrupted run in ``out`` (which must exist and hold its
        ``scenario.yaml``).
    overrides
        ``KEY.PATH=VALUE`` strings, as ``--set`` on the command line.
    progress
        Show progress bars.
    force
        Run even if the cost estimate says it would not fit this machine or take too long.
    allow_plugins
        Load plugin policies the scenario names; a scenario that uses plugins is code.
    executor, address
        ``inline``, ``process`` or ``dask``, and a Dask scheduler address, as ``--executor``
        and ``--address``.

    Returns
    -------
    Results or SweepResults
        :class:`SweepResults` when the scenario has a ``sweep:`` block.

    Raises
    ------
    recarena.experiment.loading.ScenarioError
        For an invalid scenario or override.
    recarena.experiment.invocation.InvocationError
        For an invalid argument (seeds, jobs, out, resume), or a results directory that
        cannot be used (:class:`recarena.experiment.runner.RunDirectoryError`).
    recarena.experiment.cost.CostError
        When the sweep would not fit or would take too long (pass ``force=True``).
    recarena.experiment.lock.ResultsDirectoryLocked
        When another process is running a sweep into ``out``.
    """
    from recarena.experiment.runner import run_scenario

    if isinstance(overrides, str | bytes) or not all(isinstance(o, str) for o in overrides):
        raise InvocationError(f"overrides must be a list of 'KEY=VALUE' strings, got {overrides!r}")
    extra = list(overrides)
    if seeds is not None:
        extra.append(f"seeds=[{', '.join(str(s) for s in check_seeds(seeds))}]")
    workers = check_jobs(jobs)
    config = _config(scenario, extra, allow_plugins)
    path, _ = results_directory(config, out)
    run_scenario(
        config, path, jobs=workers, resume=resume, progress=progress, force=force,
        allow_plugins=allow_plugins, overrides=extra, executor=executor, address=address,
    )  # fmt: skip
    return SweepResults(path) if config.sweep is not None else Results(path)


def load(path: str | Path) -> Results | SweepResults:
    """Open a finished results directory (a sweep's as :class:`SweepResults`).

    Raises :class:`recarena.analysis.results.ResultsError` when ``path`` is not one.
    """
    from recarena.analysis.sweep import is_sweep

    return SweepResults(path) if is_sweep(path) else Results(path)
