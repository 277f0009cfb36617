"""The report of a sweep: metrics over the grid, difference maps, winners and sensitivity.

:func:`write_sweep_report` reads every point of a sweep's results directory
(:class:`recarena.analysis.sweep.SweepDirectory`) and writes, besides ``report.html``:

* ``metrics/sweep_per_run.csv`` — one row per point × seed × arm (:func:`sweep_per_run`);
* ``metrics/sweep_summary.csv`` — per point × arm × metric: mean and CI over seeds;
* ``metrics/sweep_winners_<metric>.csv`` — the winning arm of each point;
* ``metrics/sweep_diff_<i>.csv`` and ``metrics/sweep_sensitivity_<i>.csv`` — for each map of
  the scenario's ``sweep.maps`` (default: the second arm minus the first on
  ``regret_share`` over the first two parameters), the paired difference per point and the
  sensitivity table;
* the figures of :mod:`recarena.analysis.sweep_plots` in ``plots/``.

Each point is also a results directory of its own: ``recarena report points/<key>`` writes
its full single-scenario report.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from recarena.analysis import sweep_plots
from recarena.analysis.business import METRIC_LABELS
from recarena.analysis.report import SectionOutput, html_table, render_report
from recarena.analysis.stats import ARM, CI_HIGH, CI_LOW, MEAN
from recarena.analysis.sweep import (
    CORRECT,
    LOWER_IS_BETTER,
    REGRET_SHARE,
    SWEEP_LABELS,
    SweepDirectory,
    arm_differences,
    sensitivity,
    sweep_per_run,
    sweep_summary,
    winners,
)

__all__ = ["PER_RUN_TABLE", "SUMMARY_TABLE", "default_maps", "write_sweep_report"]

PER_RUN_TABLE = "sweep_per_run"
SUMMARY_TABLE = "sweep_summary"


def _label(metric: str) -> str:
    return SWEEP_LABELS.get(metric) or METRIC_LABELS.get(metric, metric)


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def default_maps(sweep: SweepDirectory) -> list[dict[str, Any]]:
    """The scenario's maps, or the second arm − the first on regret share over the first
    two parameters."""
    if sweep.maps:
        return sweep.maps
    params, arms = sweep.parameters, sweep.arms
    if len(arms) < 2 or not params:
        return []
    return [{"metric": REGRET_SHARE, "arm": arms[1], "baseline": arms[0], "x": params[0],
             "y": params[1] if len(params) > 1 else None}]  # fmt: skip


def _overview(sweep: SweepDirectory, per_run: pd.DataFrame, summary: pd.DataFrame) -> SectionOutput:
    params = sweep.parameters
    levels = ", ".join(
        f"{p} ∈ {{{', '.join(sweep_plots.level_label(v) for v in sorted(per_run[p].unique()))}}}"
        for p in params
    )
    points = per_run[params].drop_duplicates()
    seeds = ", ".join(map(str, sorted(per_run["seed"].unique())))
    facts = pd.DataFrame(
        {
            "": ["scenario", "method", "parameters", "points", "seeds", "arms", "runs",
                 "executor"],
            "value": [sweep.name, str((sweep.scenario.get("sweep") or {}).get("method")),
                      levels, str(len(points)), seeds,
                      ", ".join(sweep.arms), str(len(per_run)),
                      str(sweep.manifest.get("executor", "–"))],
        }
    )  # fmt: skip
    overall = (
        per_run.groupby(ARM, sort=False)[[REGRET_SHARE, CORRECT]].mean().reset_index()
        .rename(columns={REGRET_SHARE: _label(REGRET_SHARE), CORRECT: _label(CORRECT)})
    )  # fmt: skip
    description = str(sweep.scenario.get("description") or "").strip()
    body = [
        _p(description) if description else "",
        html_table(facts),
        "<h3>Per arm, averaged over every point and seed</h3>",
        html_table(overall),
        _p(
            "Each point is a scenario of its own (points/<key>/, with its own runs); arms of "
            "one seed share the world and the random draws, so differences between arms are "
            "paired by seed. Intervals are over seeds and inside each metric's range "
            "(Wilson–Korn–Graubard for shares, log-scale t for counts and regret, Student t "
            "for differences), exact Clopper–Pearson for the share of runs that chose the "
            "best option."
        ),
    ]
    return SectionOutput(
        html="".join(body), tables={PER_RUN_TABLE: per_run, SUMMARY_TABLE: summary}
    )


def _winners(
    sweep: SweepDirectory,
    summary: pd.DataFrame,
    per_run: pd.DataFrame,
    axes: tuple[str, str | None],
    level: float,
) -> tuple[SectionOutput, dict[str, pd.DataFrame]]:
    x, y = axes
    params = sweep.parameters
    tables: dict[str, pd.DataFrame] = {}
    figures = {}
    captions = {}
    parts = []
    for metric in (REGRET_SHARE, CORRECT):
        table = winners(summary, per_run, params, metric, level)
        if table.empty:
            continue
        tables[f"sweep_winners_{metric}"] = table
        best = "lowest" if metric in LOWER_IS_BETTER else "highest"
        counts = table["winner"].value_counts()
        parts.append(
            f"<h3>{html.escape(_label(metric))}: {best} mean wins</h3>"
            + html_table(counts.rename_axis("arm").reset_index(name="points won"))
        )
        if y is not None:
            name = f"sweep_winners_{metric}"
            figures[name] = sweep_plots.winner_map(
                table, params, x, y, sweep.arms, f"Winning arm: {best} {_label(metric)}"
            )
            captions[name] = (f"The arm with the {best} mean {_label(metric)} at each point; "
                              "pale cells: the paired difference from the runner-up's has a "
                              "CI that includes 0.")  # fmt: skip
    out = SectionOutput(html="".join(parts), tables=dict(tables), figures=figures,
                        captions=captions)  # fmt: skip
    return out, tables


def _map_section(
    sweep: SweepDirectory,
    per_run: pd.DataFrame,
    spec: dict[str, Any],
    index: int,
    winner_tables: dict[str, pd.DataFrame],
    level: float,
) -> SectionOutput:
    params = sweep.parameters
    metric = str(spec.get("metric", REGRET_SHARE))
    arm, base = str(spec["arm"]), str(spec["baseline"])
    x, y = str(spec["x"]), spec.get("y")
    diff = arm_differences(per_run, params, arm, base, metric, level)
    what = f"{_label(metric)}: {arm} − {base}"
    figures = {}
    captions = {}
    if y is not None:
        figures[f"sweep_map_{index}"] = sweep_plots.difference_heatmaps(
            diff, params, x, str(y), what, f"{arm} − {base}"
        )
        captions[f"sweep_map_{index}"] = (
            f"Mean difference {arm} − {base} of {_label(metric)} per point, paired by seed; "
            "blue: below 0, red: above; outlined cells: the CI excludes 0."
        )
    figures[f"sweep_lines_{index}"] = sweep_plots.difference_lines(
        diff, params, x, None if y is None else str(y), what, f"{arm} − {base}"
    )
    captions[f"sweep_lines_{index}"] = f"The same difference against {x}, with its CI band."
    tables = {f"sweep_diff_{index}": diff}
    body = []
    significant = diff[diff["excludes_zero"]]
    lower = metric in LOWER_IS_BETTER
    better = significant[(significant[MEAN] < 0) if lower else (significant[MEAN] > 0)]
    body.append(_p(
        f"{arm} is better than {base} with the CI excluding 0 at {len(better)} of {len(diff)} "
        f"points, worse at {len(significant) - len(better)}, and not distinguishable at "
        f"{len(diff) - len(significant)}."
    ))  # fmt: skip
    winner_table = winner_tables.get(f"sweep_winners_{metric}")
    if winner_table is not None and not diff.empty:
        sens = sensitivity(diff, winner_table, params)
        tables[f"sweep_sensitivity_{index}"] = sens
        body.append("<h3>Sensitivity: which parameter moves the winner</h3>")
        body.append(html_table(sens))
        body.append(_p(
            "winner_changes: share of neighbouring grid points (one level apart on the "
            "parameter, all else equal) whose winning arm differs; effect_range: range of the "
            f"parameter's main effect on {arm} − {base}; variance_share: that main effect's "
            "share of the difference's variance over the grid."
        ))  # fmt: skip
    shown = diff.assign(**{"CI": [f"[{lo:.3g}, {hi:.3g}]" for lo, hi in
                                  zip(diff[CI_LOW], diff[CI_HIGH], strict=True)]})  # fmt: skip
    body.append("<details><summary>Every point</summary>"
                + html_table(shown.drop(columns=[CI_LOW, CI_HIGH])) + "</details>")  # fmt: skip
    return SectionOutput(html="".join(body), tables=tables, figures=figures, captions=captions)


def _configuration(sweep: SweepDirectory) -> SectionOutput:
    file = sweep.path / "scenario.yaml"
    text = file.read_text(encoding="utf-8") if file.exists() else ""
    return SectionOutput(html=f"<h3>scenario.yaml</h3><pre>{html.escape(text)}</pre>")


def write_sweep_report(path: Path | str, level: float = 0.95, jobs: int = 1) -> Path:
    """Compute the sweep's tables and figures and write its ``report.html`` (the points' logs
    are read by ``jobs`` processes).

    Raises
    ------
    ValueError
        When no point holds a finished run.
    """
    sweep = SweepDirectory(path)
    per_run = sweep_per_run(sweep, jobs)
    if per_run.empty:
        raise ValueError(f"no finished runs under {sweep.path / 'points'}")
    params = sweep.parameters
    summary = sweep_summary(per_run, params, level)
    maps = default_maps(sweep)
    x = str(maps[0]["x"]) if maps else params[0]
    y = maps[0].get("y") if maps else (params[1] if len(params) > 1 else None)
    outputs: list[tuple[str, SectionOutput]] = [("Sweep", _overview(sweep, per_run, summary))]
    axes = (x, None if y is None else str(y))
    winner_out, winner_tables = _winners(sweep, summary, per_run, axes, level)
    outputs.append(("Sweep: winners", winner_out))
    for i, spec in enumerate(maps):
        title = (
            f"Sweep map: {spec.get('arm')} − {spec.get('baseline')}, "
            f"{spec.get('metric', REGRET_SHARE)}"
        )
        outputs.append((title, _map_section(sweep, per_run, spec, i, winner_tables, level)))
    outputs.append(("Configuration", _configuration(sweep)))
    n_points = len(per_run[params].drop_duplicates())
    subtitle = (
        f"sweep: {n_points} points × {len(sweep.arms)} arms × {per_run['seed'].nunique()} seeds"
    )
    return render_report(sweep.path, f"recarena sweep — {sweep.name}", subtitle, outputs, ())
