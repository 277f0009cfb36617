"""The Python API, mirroring the CLI, for notebooks and scripts.

>>> import recarena
>>> results = recarena.run("scenarios/quickstart.yaml", seeds=[1], progress=False)  # doctest: +SKIP
>>> results.summary()                                                               # doctest: +SKIP
>>> results.plot_regret(log_time=True)                                              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from recarena.experiment.loading import apply_overrides, load_scenario, scenario_from_dict
from recarena.experiment.scenarios import resolve_scenario_path
from recarena.experiment.schema import ScenarioConfig

__all__ = ["Results", "load", "run"]


class Results:
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

    def __repr__(self) -> str:
        return f"Results({str(self.path)!r})"

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
        """One event-log table of one run (``decisions``, ``campaigns``, ``lifecycle``…)."""
        return self.directory.run(seed, arm).table(name)

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


def _config(
    scenario: str | Path | Mapping[str, Any] | ScenarioConfig, overrides: Sequence[str]
) -> ScenarioConfig:
    if isinstance(scenario, ScenarioConfig):
        if overrides:
            data = apply_overrides(scenario.model_dump(mode="json"), overrides)
            return scenario_from_dict(data)
        return scenario
    if isinstance(scenario, Mapping):
        return scenario_from_dict(apply_overrides(dict(scenario), overrides))
    return load_scenario(resolve_scenario_path(str(scenario)), overrides)


def run(
    scenario: str | Path | Mapping[str, Any] | ScenarioConfig,
    out: str | Path | None = None,
    *,
    seeds: Sequence[int] | None = None,
    jobs: int | None = None,
    resume: bool = False,
    overrides: Sequence[str] = (),
    progress: bool = True,
) -> Results:
    """Run a scenario (file, bundled name, mapping or config) like ``recarena run``.

    Parameters
    ----------
    scenario
        A YAML path, the name of a bundled scenario, a mapping, or a :class:`ScenarioConfig`.
    out
        Results directory (default ``results/<name>/<timestamp>``).
    seeds
        Seeds to run instead of the scenario's.
    jobs
        Worker processes (1 = in-process, 0 = all cores); default from the scenario.
    resume
        Continue an interrupted run in ``out``.
    overrides
        ``KEY.PATH=VALUE`` strings, as ``--set`` on the command line.
    progress
        Show progress bars.

    Raises
    ------
    recarena.experiment.loading.ScenarioError
        For an invalid scenario (nothing is written).
    """
    from recarena.experiment.runner import run_scenario

    extra = list(overrides)
    if seeds is not None:
        extra.append(f"seeds=[{', '.join(str(int(s)) for s in seeds)}]")
    config = _config(scenario, extra)
    if out is None:
        base = Path(config.output.dir) if config.output.dir else Path("results") / config.name
        out = base / datetime.now().strftime("%Y%m%d-%H%M%S")
    run_scenario(config, Path(out), jobs=jobs, resume=resume, progress=progress)
    return Results(out)


def load(path: str | Path) -> Results:
    """Open a finished results directory."""
    return Results(path)
