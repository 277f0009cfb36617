"""Reading a results directory written by the experiment runner.

Layout (written by :mod:`recarena.experiment.runner`)::

    OUT/
      scenario.yaml      resolved scenario (name, description, seeds, world, schedule, arms, ...)
      manifest.json      {"scenario", "seeds", "arms", "versions", "git", "runs": [run.json, ...]}
      runs/seed=<seed>/arm=<arm>/
          decisions.parquet conversions.parquet campaigns.parquet lifecycle.parquet
          snapshots.parquet fits.parquet run.json
      world/seed=<seed>/users.parquet offers.parquet   (ground truth the log does not carry:
          latent segments and response types, features, offer parameters)
      metrics/ plots/ report.html      (written by :mod:`recarena.analysis.report`)

A run counts as finished when its directory holds ``run.json`` (the runner writes runs into a
temporary directory and renames it into place, so half-written runs are never listed).
Tables are read with :func:`recarena.simulator.log.read_table`, lazily: nothing is loaded until
a table is asked for, and each :class:`Run` keeps what it loaded so a table is read once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import yaml

from recarena.analysis.stats import ARM, SEED
from recarena.simulator.log import Col, Table, read_table, table_columns
from recarena.simulator.world_tables import WorldTables, read_world_tables, seed_directory

__all__ = [
    "MANIFEST_FILE",
    "METRICS_DIR",
    "PLOTS_DIR",
    "POINTS_DIR",
    "REPORT_FILE",
    "RUNS_DIR",
    "RUN_FILE",
    "SCENARIO_FILE",
    "TABLES",
    "LazyTables",
    "ResultsError",
    "Run",
    "RunDirectory",
]

SCENARIO_FILE = "scenario.yaml"
MANIFEST_FILE = "manifest.json"
RUNS_DIR = "runs"
#: A sweep's points, each a results directory of its own (``points/<key>/``).
POINTS_DIR = "points"
RUN_FILE = "run.json"
METRICS_DIR = "metrics"
PLOTS_DIR = "plots"
REPORT_FILE = "report.html"

TABLES: tuple[str, ...] = (
    Table.DECISIONS,
    Table.CONVERSIONS,
    Table.CAMPAIGNS,
    Table.LIFECYCLE,
    Table.SNAPSHOTS,
    Table.FITS,
)


class ResultsError(ValueError):
    """A results directory, or a file in it, that cannot be read; the message names the file."""


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{file}: cannot be read as JSON ({exc})") from None


class LazyTables(Mapping[str, pd.DataFrame]):
    """A read-only mapping ``table name → DataFrame`` that reads each table on first access.

    Keys are the tables present in the run directory (``<name>.parquet``). Pass it wherever a
    ``Mapping[str, DataFrame]`` of tables is expected (e.g.
    :func:`recarena.analysis.business.run_metrics`): only the tables actually used are read.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._names = tuple(name for name in TABLES if (path / f"{name}.parquet").exists())
        self._cache: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._names:
            raise KeyError(f"no {name!r} table in {self.path}; present: {list(self._names)}")
        if name not in self._cache:
            columns = None
            if name == Table.DECISIONS:  # slates are read separately, with read_slates
                try:
                    names = table_columns(self.path, name)
                except (OSError, pa.ArrowException) as exc:
                    raise ResultsError(
                        f"{self.path / f'{name}.parquet'}: cannot be read as Parquet ({exc})"
                    ) from None
                columns = [c for c in names if c != Col.SLATE]
            try:
                self._cache[name] = read_table(self.path, name, columns=columns)
            except (OSError, pa.ArrowException) as exc:  # truncated or not Parquet
                raise ResultsError(
                    f"{self.path / f'{name}.parquet'}: cannot be read as Parquet ({exc})"
                ) from None
        return self._cache[name]

    def __contains__(self, name: object) -> bool:
        # Mapping's default would read the table to answer; the file list is enough.
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def loaded(self) -> list[str]:
        """Names of the tables read so far."""
        return list(self._cache)

    def clear(self) -> None:
        """Forget what was read (frees memory; tables are re-read on next access)."""
        self._cache.clear()


@dataclass
class Run:
    """One finished run (a seed × arm) of a results directory."""

    seed: int
    arm: str
    path: Path
    tables: LazyTables = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.tables = LazyTables(self.path)

    def table(self, name: str) -> pd.DataFrame:
        """One table (see :class:`recarena.simulator.log.Table`), read on first use."""
        return self.tables[name]

    def full_table(self, name: str) -> pd.DataFrame:
        """One table with every column, read now: unlike :meth:`table` (which the analysis
        uses, and which leaves the decisions' slates out to save memory), the decisions come
        with their ``slate`` column (each row's k item ids in position order)."""
        if name not in self.tables:
            return self.tables[name]  # raises the KeyError that lists the tables present
        return read_table(self.path, name)

    @cached_property
    def info(self) -> dict[str, Any]:
        """The run's ``run.json`` (``seed, arm, horizon_days, stats, ...``)."""
        data = _read_json(self.path / RUN_FILE)
        if not isinstance(data, dict):
            raise ResultsError(f"{self.path / RUN_FILE}: expected a JSON object")
        return data

    @property
    def horizon(self) -> float | None:
        """``horizon_days`` from ``run.json`` (``None`` when absent)."""
        value = self.info.get("horizon_days")
        return None if value is None else float(value)


class RunDirectory:
    """A results directory: its scenario, manifest and finished runs.

    Parameters
    ----------
    path
        The directory (``OUT`` above). It must contain ``runs/``.

    Notes
    -----
    Arms are ordered as in the manifest (the scenario's order), then the scenario file, then
    alphabetically for any arm found on disk only; seeds ascending. This order fixes the arm
    colours of every plot.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not (self.path / RUNS_DIR).is_dir():
            raise ResultsError(f"{self.path} is not a results directory: no {RUNS_DIR}/ inside it")
        self._worlds: dict[int, WorldTables] = {}

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    # ------------------------------------------------------------------ metadata
    @cached_property
    def scenario(self) -> dict[str, Any]:
        """The resolved scenario (``scenario.yaml``); ``{}`` when the file is missing."""
        file = self.path / SCENARIO_FILE
        if not file.exists():
            return {}
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ResultsError(f"{file}: cannot be read as YAML ({exc})") from None
        return data if isinstance(data, dict) else {}

    @cached_property
    def scenario_text(self) -> str:
        """``scenario.yaml`` verbatim (``""`` when missing)."""
        file = self.path / SCENARIO_FILE
        return file.read_text(encoding="utf-8") if file.exists() else ""

    @cached_property
    def manifest(self) -> dict[str, Any]:
        """``manifest.json``; ``{}`` when the file is missing."""
        file = self.path / MANIFEST_FILE
        if not file.exists():
            return {}
        data = _read_json(file)
        return data if isinstance(data, dict) else {}

    @property
    def name(self) -> str:
        """Scenario name (manifest, then scenario file, then the directory name)."""
        return str(self.manifest.get("scenario") or self.scenario.get("name") or self.path.name)

    @property
    def metrics_dir(self) -> Path:
        return self.path / METRICS_DIR

    @property
    def plots_dir(self) -> Path:
        return self.path / PLOTS_DIR

    @property
    def report_path(self) -> Path:
        return self.path / REPORT_FILE

    # ------------------------------------------------------------------ runs
    @cached_property
    def _runs(self) -> list[Run]:
        found: list[Run] = []
        for run_file in (self.path / RUNS_DIR).glob(f"seed=*/arm=*/{RUN_FILE}"):
            run_dir = run_file.parent
            try:
                seed = int(run_dir.parent.name.removeprefix("seed="))
            except ValueError:
                continue
            found.append(Run(seed=seed, arm=run_dir.name.removeprefix("arm="), path=run_dir))
        rank = {arm: i for i, arm in enumerate(self._declared_arms())}
        found.sort(key=lambda r: (rank.get(r.arm, len(rank)), r.arm, r.seed))
        return found

    def _declared_arms(self) -> list[str]:
        names: list[str] = []
        for source in (self.manifest.get("arms"), self.scenario.get("arms")):
            for arm in source or []:
                name = arm.get("name") if isinstance(arm, dict) else arm
                if isinstance(name, str) and name not in names:
                    names.append(name)
        return names

    def runs(self) -> list[Run]:
        """Every finished run, ordered by arm (see class notes) then seed."""
        return list(self._runs)

    def iter_runs(self) -> Iterator[Run]:
        """Iterate over :meth:`runs`."""
        return iter(self._runs)

    def run(self, seed: int, arm: str) -> Run:
        """The run of ``seed`` and ``arm``; :class:`KeyError` listing what exists otherwise."""
        for r in self._runs:
            if r.seed == seed and r.arm == arm:
                return r
        have = [(r.seed, r.arm) for r in self._runs]
        raise KeyError(f"no run seed={seed} arm={arm!r} in {self.path}; runs: {have}")

    @property
    def arms(self) -> list[str]:
        """Arms with at least one finished run, in display order."""
        return list(dict.fromkeys(r.arm for r in self._runs))

    @property
    def seeds(self) -> list[int]:
        """Seeds with at least one finished run, ascending."""
        return sorted({r.seed for r in self._runs})

    def world(self, seed: int) -> WorldTables:
        """The world tables of ``seed`` (ground truth the log does not carry), read once.

        Raises
        ------
        FileNotFoundError
            If the results directory has no world tables for ``seed``.
        """
        cached = self._worlds.get(seed)
        if cached is None:
            cached = self._worlds[seed] = read_world_tables(seed_directory(self.path, seed))
        return cached

    def horizon(self, run: Run | None = None) -> float:
        """Simulated horizon in days.

        From the run's ``run.json`` (``horizon_days``), else the scenario's
        ``schedule.days``, else the last snapshot time of the run (or of the first run).
        """
        if run is not None and run.horizon is not None:
            return run.horizon
        for r in self._runs:
            if run is None and r.horizon is not None:
                return r.horizon
        schedule = self.scenario.get("schedule")
        if isinstance(schedule, dict) and schedule.get("days") is not None:
            return float(schedule["days"])
        source = run if run is not None else (self._runs[0] if self._runs else None)
        if source is not None and Table.SNAPSHOTS in source.tables:
            snaps = source.table(Table.SNAPSHOTS)
            if len(snaps):
                return float(snaps[Col.T].max())
        raise ValueError(f"cannot tell the horizon of {self.path}: no run.json horizon_days, "
                         "no schedule.days in scenario.yaml, no snapshots")  # fmt: skip

    def timings(self) -> pd.DataFrame:
        """Per-run wall-clock figures from ``run.json``: seed, arm, seconds, decisions, ...

        Columns: ``seed, arm, seconds`` (the runner's wall clock, or the engine's when absent)
        and every numeric entry of ``stats``.
        """
        rows = []
        for r in self._runs:
            info = r.info
            stats = info.get("stats") or {}
            row: dict[str, Any] = {SEED: r.seed, ARM: r.arm}
            row["seconds"] = info.get("seconds", stats.get("seconds"))
            for key, value in stats.items():
                if isinstance(value, int | float) and key != "seconds":
                    row[key] = value
            rows.append(row)
        return pd.DataFrame(rows)
