r"""Metrics over a parameter sweep: per point and arm with CIs over seeds, arm differences,
winners and a sensitivity table.

A sweep's results directory (written by :mod:`recarena.experiment.runner`) holds one
results directory per point, ``points/<key>/``, where ``key`` lists the point's parameter
values (``variants=3,lift=0.05,traffic=1000``); the top-level ``manifest.json`` lists the
parameters and every point's values.

Per run (:func:`sweep_per_run`), besides the point's parameters, ``seed`` and ``arm``:

==================  ==============================================================
``decisions``,      from :func:`recarena.analysis.business.run_metrics`
``clicks``,
``mean_expected_
reward``,
``total_regret``,
``regret_per_
decision``
``regret_share``    :math:`R_N / \sum_i \mu^*_i`: the share of the oracle's value over the
                    horizon that the arm lost (pseudo-regret over the best expected
                    reward summed over decisions), comparable across traffic levels
``correct``         1 when the arm's final choice is the true best option, 0 otherwise
                    (:mod:`recarena.analysis.experiments`: an A/B test's winner, a bandit's
                    most served option over the last day); NaN when unscored
``share_on_best``   share of decisions that showed the best option
==================  ==============================================================

Summaries (:func:`sweep_summary`) are means over seeds with an interval inside the metric's
range (:func:`recarena.analysis.stats.mean_ci`: Wilson at the Korn–Graubard effective size
for shares, t on the log scale for counts and regret), except for ``correct``, a proportion
of runs, with its exact Clopper–Pearson interval.
Differences between two arms (:func:`arm_differences`) are paired by seed — arms of a seed
share the world and the random draws — with a Student-t interval over seeds, clipped to the
metric's range of differences; ``excludes_zero`` marks the points where it does not contain 0.

Sensitivity (:func:`sensitivity`): for each parameter, (i) ``winner_changes``, the share of
pairs of grid points one level apart on that parameter (all else equal) whose winning arm
differs; (ii) ``effect_range``, the range of its main effect on the difference ``arm −
baseline`` (the difference averaged over the other parameters, per level); (iii)
``variance_share``, the variance of that main effect over the variance of the difference
across all points (the main-effect share of a balanced grid's variance; points of random and
Latin-hypercube sweeps are binned in quintiles of each parameter).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from recarena.analysis.business import METRIC_BOUNDS, Metric, run_metrics
from recarena.analysis.experiments import analyse_experiments, proportion_ci
from recarena.analysis.results import MANIFEST_FILE, POINTS_DIR, SCENARIO_FILE, RunDirectory
from recarena.analysis.stats import ARM, CI_HIGH, CI_LOW, MEAN, METRIC, N_SEEDS, SEED, mean_ci

__all__ = [
    "CORRECT",
    "EXCLUDES_ZERO",
    "REGRET_SHARE",
    "SWEEP_METRICS",
    "SweepDirectory",
    "arm_differences",
    "is_sweep",
    "sensitivity",
    "sweep_per_run",
    "sweep_summary",
    "winners",
]

REGRET_SHARE = "regret_share"
CORRECT = "correct"
SHARE_ON_BEST = "share_on_best"
EXCLUDES_ZERO = "excludes_zero"
#: Per-run metrics of a sweep (columns of ``metrics/sweep_per_run.csv``).
SWEEP_METRICS: tuple[str, ...] = (
    Metric.DECISIONS, Metric.CLICKS, Metric.MEAN_EXPECTED_REWARD, Metric.TOTAL_REGRET,
    Metric.REGRET_PER_DECISION, REGRET_SHARE, CORRECT, SHARE_ON_BEST,
)  # fmt: skip
#: Metrics where less is better (the winner of a point minimises them).
LOWER_IS_BETTER = frozenset({Metric.TOTAL_REGRET, Metric.REGRET_PER_DECISION, REGRET_SHARE})
#: The range of each metric with one: it picks the interval over seeds
#: (:func:`recarena.analysis.stats.mean_ci`).
SWEEP_BOUNDS: dict[str, tuple[float, float]] = {
    **{m: METRIC_BOUNDS[m] for m in SWEEP_METRICS if m in METRIC_BOUNDS},
    REGRET_SHARE: (0.0, 1.0), SHARE_ON_BEST: (0.0, 1.0),
}  # fmt: skip
#: Proportions: summarised with exact binomial intervals, differences clipped to [−1, 1].
PROPORTIONS = frozenset({CORRECT})
SWEEP_LABELS: dict[str, str] = {
    REGRET_SHARE: "regret share (share of the oracle's value lost)",
    CORRECT: "P(final choice is the best option)",
    SHARE_ON_BEST: "share of decisions on the best option",
}


def is_sweep(path: Path | str) -> bool:
    """True when ``path`` is a sweep's results directory (it has ``points/``)."""
    return (Path(path) / POINTS_DIR).is_dir()


def _parse(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            continue
    return text


@dataclass(frozen=True)
class SweepPointDir:
    """One point of a sweep: its key, parameter values and results directory."""

    key: str
    values: dict[str, Any]
    path: Path


class SweepDirectory:
    """A sweep's results directory: its scenario, parameters and points."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not is_sweep(self.path):
            raise FileNotFoundError(f"{self.path} is not a sweep: no {POINTS_DIR}/ inside it")

    @cached_property
    def scenario(self) -> dict[str, Any]:
        """The sweep's scenario (``scenario.yaml``, with its ``sweep:`` block)."""
        file = self.path / SCENARIO_FILE
        data = yaml.safe_load(file.read_text(encoding="utf-8")) if file.exists() else {}
        return data if isinstance(data, dict) else {}

    @cached_property
    def manifest(self) -> dict[str, Any]:
        """``manifest.json`` (``{}`` until the sweep has finished once)."""
        file = self.path / MANIFEST_FILE
        data = json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}
        return data if isinstance(data, dict) else {}

    @property
    def name(self) -> str:
        return str(self.scenario.get("name") or self.path.name)

    @property
    def parameters(self) -> list[str]:
        """Parameter names in declaration order."""
        sweep = self.scenario.get("sweep") or {}
        return [str(p["name"]) for p in sweep.get("parameters") or []]

    @property
    def maps(self) -> list[dict[str, Any]]:
        """The ``sweep.maps`` entries of the scenario."""
        return list((self.scenario.get("sweep") or {}).get("maps") or [])

    @property
    def arms(self) -> list[str]:
        return [str(a["name"]) for a in self.scenario.get("arms") or []]

    def points(self) -> list[SweepPointDir]:
        """Every point with a results directory, in the manifest's order (else by key)."""
        listed = (self.manifest.get("sweep") or {}).get("points") or []
        found = {p.name: p for p in (self.path / POINTS_DIR).iterdir() if p.is_dir()}
        out = [SweepPointDir(e["key"], dict(e["values"]), found[e["key"]])
               for e in listed if e["key"] in found]  # fmt: skip
        seen = {p.key for p in out}
        for key in sorted(set(found) - seen):
            values = dict(part.split("=", 1) for part in key.split(",") if "=" in part)
            out.append(SweepPointDir(key, {k: _parse(v) for k, v in values.items()}, found[key]))
        return out


def _point_rows(point: SweepPointDir) -> list[dict[str, Any]]:
    rd = RunDirectory(point.path)
    runs = rd.runs()
    if not runs:
        return []
    experiments = analyse_experiments(rd)
    scored: dict[tuple[int, str], dict[str, float]] = {}
    if experiments is not None:
        table = experiments.runs
        for seed, arm, correct, share in zip(table[SEED], table[ARM], table[CORRECT],
                                             table[SHARE_ON_BEST], strict=True):  # fmt: skip
            scored[(int(seed), str(arm))] = {CORRECT: float(correct), SHARE_ON_BEST: float(share)}
    rows = []
    for run in runs:
        m = run_metrics(run.tables, rd.horizon(run))
        run.tables.clear()
        regret, n = m.get(Metric.TOTAL_REGRET, math.nan), m.get(Metric.DECISIONS, 0)
        best_total = regret + m.get(Metric.MEAN_EXPECTED_REWARD, math.nan) * n
        row: dict[str, Any] = {**point.values, SEED: run.seed, ARM: run.arm}
        for metric in SWEEP_METRICS[:5]:
            row[metric] = m.get(metric, math.nan)
        row[REGRET_SHARE] = regret / best_total if best_total > 0 else math.nan
        row.update(scored.get((run.seed, run.arm), {CORRECT: math.nan, SHARE_ON_BEST: math.nan}))
        rows.append(row)
    return rows


def sweep_per_run(sweep: SweepDirectory, jobs: int = 1) -> pd.DataFrame:
    """One row per point × seed × arm: the parameters, ``seed``, ``arm`` and
    :data:`SWEEP_METRICS`; points are read by ``jobs`` processes (each point's metrics are a
    pure function of its runs' logs)."""
    points = sweep.points()
    if jobs > 1:
        from joblib import Parallel, delayed

        parts = Parallel(n_jobs=jobs, backend="loky")(delayed(_point_rows)(p) for p in points)
    else:
        parts = [_point_rows(p) for p in points]
    rows = [row for part in parts for row in part]
    columns = [*sweep.parameters, SEED, ARM, *SWEEP_METRICS]
    return pd.DataFrame(rows, columns=columns)


def _interval(metric: str, values: np.ndarray, level: float) -> tuple[float, float, float, int]:
    x = values[~np.isnan(values)]
    if metric in PROPORTIONS:
        mean, low, high = proportion_ci(round(x.sum()), x.size, level)
        return mean, low, high, x.size
    r = mean_ci(x, level, bounds=SWEEP_BOUNDS.get(metric))
    return r.mean, r.ci_low, r.ci_high, r.n


def sweep_summary(
    per_run: pd.DataFrame, parameters: Sequence[str], level: float = 0.95
) -> pd.DataFrame:
    """Per point and arm, every metric's mean and CI over seeds.

    Returns
    -------
    pandas.DataFrame
        ``[*parameters, arm, metric, mean, ci_low, ci_high, n_seeds]``.
    """
    rows = []
    keys = [*parameters, ARM]
    for group, part in per_run.groupby(keys, sort=False, dropna=False):
        for metric in SWEEP_METRICS:
            values = part[metric].to_numpy(dtype=np.float64)
            mean, low, high, n = _interval(metric, values, level)
            rows.append({**dict(zip(keys, group, strict=True)), METRIC: metric, MEAN: mean,
                         CI_LOW: low, CI_HIGH: high, N_SEEDS: n})  # fmt: skip
    return pd.DataFrame(rows, columns=[*keys, METRIC, MEAN, CI_LOW, CI_HIGH, N_SEEDS])


def arm_differences(
    per_run: pd.DataFrame,
    parameters: Sequence[str],
    arm: str,
    baseline: str,
    metric: str,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per point, ``arm − baseline`` of ``metric`` paired by seed, with its CI.

    Returns
    -------
    pandas.DataFrame
        ``[*parameters, mean, ci_low, ci_high, n_seeds, excludes_zero]``; a proportion's
        interval is clipped to [−1, 1].
    """
    cols = [*parameters, SEED]
    a = per_run[per_run[ARM] == arm].set_index(cols)[metric]
    b = per_run[per_run[ARM] == baseline].set_index(cols)[metric]
    diff = (a - b).dropna().reset_index()
    rows = []
    for group, part in diff.groupby(list(parameters), sort=False):
        key = group if isinstance(group, tuple) else (group,)
        r = mean_ci(part[metric].to_numpy(dtype=np.float64), level)
        low, high = r.ci_low, r.ci_high
        if metric in PROPORTIONS:
            low, high = max(low, -1.0), min(high, 1.0)
        excludes = bool(low > 0 or high < 0) if not (math.isnan(low) or math.isnan(high)) else False
        rows.append({**dict(zip(parameters, key, strict=True)), MEAN: r.mean, CI_LOW: low,
                     CI_HIGH: high, N_SEEDS: r.n, EXCLUDES_ZERO: excludes})  # fmt: skip
    return pd.DataFrame(rows, columns=[*parameters, MEAN, CI_LOW, CI_HIGH, N_SEEDS, EXCLUDES_ZERO])


def winners(
    summary: pd.DataFrame,
    per_run: pd.DataFrame,
    parameters: Sequence[str],
    metric: str,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per point, the arm with the best mean ``metric`` and the runner-up.

    Returns
    -------
    pandas.DataFrame
        ``[*parameters, winner, winner_mean, runner_up, runner_up_mean, separated]`` where
        ``separated`` is true when the CI of the paired difference winner − runner-up over
        seeds excludes 0.
    """
    part = summary[summary[METRIC] == metric].dropna(subset=[MEAN])
    lower = metric in LOWER_IS_BETTER
    by_run = {
        key: group.set_index(SEED)[metric]
        for key, group in per_run.groupby([*parameters, ARM], sort=False)
    }
    rows = []
    for group, cell in part.groupby(list(parameters), sort=False):
        key = group if isinstance(group, tuple) else (group,)
        ranked = cell.sort_values(MEAN, ascending=lower, kind="stable")
        first = ranked.iloc[0]
        second = ranked.iloc[1] if len(ranked) > 1 else None
        separated = False
        if second is not None:
            a, b = by_run[(*key, first[ARM])], by_run[(*key, second[ARM])]
            r = mean_ci((a - b).dropna().to_numpy(dtype=np.float64), level)
            separated = bool(r.ci_high < 0 if lower else r.ci_low > 0)
        rows.append({**dict(zip(parameters, key, strict=True)), "winner": first[ARM],
                     "winner_mean": first[MEAN],
                     "runner_up": None if second is None else second[ARM],
                     "runner_up_mean": math.nan if second is None else second[MEAN],
                     "separated": separated})  # fmt: skip
    return pd.DataFrame(rows, columns=[*parameters, "winner", "winner_mean", "runner_up",
                                       "runner_up_mean", "separated"])  # fmt: skip


def _levels(values: pd.Series) -> pd.Series:
    """The parameter's levels: itself when it has few distinct values, else its quintile."""
    if values.nunique() <= 8 or not pd.api.types.is_numeric_dtype(values):
        return values
    return pd.qcut(values, 5, duplicates="drop").astype(str)


def sensitivity(
    differences: pd.DataFrame, winner_table: pd.DataFrame, parameters: Sequence[str]
) -> pd.DataFrame:
    """Which parameter moves the winner and the difference (see the module docstring).

    Parameters
    ----------
    differences
        :func:`arm_differences` of one pair of arms and one metric.
    winner_table
        :func:`winners` of the same metric.
    parameters
        The sweep's parameters.

    Returns
    -------
    pandas.DataFrame
        ``parameter, levels, winner_changes, pairs, effect_range, variance_share``, sorted
        by ``variance_share`` (largest first).
    """
    total = float(np.nanvar(differences[MEAN].to_numpy(dtype=np.float64)))
    rows = []
    for p in parameters:
        levels = _levels(differences[p])
        main = differences.groupby(levels, sort=True)[MEAN].mean()
        others = [q for q in parameters if q != p]
        changes, pairs = 0, 0
        ordered = sorted(winner_table[p].unique())
        rank = {v: i for i, v in enumerate(ordered)}
        groups = winner_table.groupby(others, sort=False) if others else [((), winner_table)]
        for _, part in groups:
            seq = part.assign(_r=part[p].map(rank)).sort_values("_r")
            if (np.diff(seq["_r"].to_numpy()) == 1).all():
                w = seq["winner"].to_numpy()
                changes += int((w[1:] != w[:-1]).sum())
                pairs += len(w) - 1
        rows.append({
            "parameter": p,
            "levels": int(levels.nunique()),
            "winner_changes": changes / pairs if pairs else math.nan,
            "pairs": pairs,
            "effect_range": float(main.max() - main.min()) if len(main) else math.nan,
            "variance_share": float(np.var(main.to_numpy())) / total if total > 0 else math.nan,
        })  # fmt: skip
    out = pd.DataFrame(rows, columns=["parameter", "levels", "winner_changes", "pairs",
                                      "effect_range", "variance_share"])  # fmt: skip
    return out.sort_values("variance_share", ascending=False, kind="stable").reset_index(drop=True)
