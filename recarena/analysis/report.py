"""Metrics tables, plots and a self-contained HTML report for a results directory.

:func:`write_report` reads every finished run of a results directory
(:class:`recarena.analysis.results.RunDirectory`), computes

* ``metrics/per_run.csv`` / ``.json`` — one row per seed × arm, the metrics of
  :func:`recarena.analysis.business.run_metrics` (business, reward, regret, retention,
  campaigns);
* ``metrics/summary.csv`` / ``.json`` — per arm and metric: mean over seeds and a CI over
  seeds inside the metric's range, the ``interval`` column naming it
  (:func:`recarena.analysis.stats.summarise`: Wilson at the Korn–Graubard effective size for
  rates, t on the log scale for counts and values, Student t for differences);
* ``metrics/daily.csv`` — per seed × arm × day (:func:`recarena.analysis.regret.daily_series`);
* ``metrics/curves.csv`` — cumulative reward/regret per run on a shared time grid;
* ``metrics/retention.csv`` — each run's Kaplan–Meier table with Greenwood intervals;
* ``metrics/timings.csv`` — wall-clock seconds and engine counters per run;

then builds the report from :data:`recarena.analysis.registry.SECTIONS`, writing each
section's tables to ``metrics/<name>.csv``, its figures to ``plots/<name>.png``, and
``report.html`` with every figure inlined as a base64 PNG and all CSS inline (one file,
opens offline).

Extending the report
--------------------
A section is any object with a ``title`` and ``build(ctx) -> SectionOutput | None``
(:class:`ReportSection`); :class:`Section` wraps a plain function. ``build`` gets the
:class:`ReportContext` (the results directory, the per-run and summary tables, the curves,
the arm colours, the confidence level) and returns HTML, tables and figures — or ``None``
when it does not apply (e.g. no campaigns), and the section is skipped. Later analyses
are listed, in report order, in :data:`recarena.analysis.registry.SECTIONS`; a section
with options reads them typed from ``ctx.options`` (declare them in
:mod:`recarena.analysis.options`, so ``recarena validate`` checks them)::

    def build_ab(ctx: ReportContext) -> SectionOutput | None:
        ...
        return SectionOutput(html=..., tables={"ab_tests": df}, figures={"ab_lift": fig},
                             captions={"ab_lift": "One sentence: what to read from it."},
                             headlines=[Headline(title=..., summary=long_df, metrics=[...])])

    SECTION = Section("A/B statistics", build_ab)   # then add it to the registry

A section's ``headlines`` are the tables that answer the scenario's question: they open the
report's first section and the text summary ``recarena run`` / ``recarena report`` print
(:func:`summary_text`, from ``metrics/headline.json``), before the core key metrics and the
paired differences from the baseline arm (``--baseline`` / ``analysis.baseline_arm``).

Table and figure names must be unique across sections (they become file names) and must not
clash with the core tables above.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import ValidationError

from recarena.analysis import plots
from recarena.analysis import regret as rg
from recarena.analysis import retention as rt
from recarena.analysis import value as lv
from recarena.analysis.business import (
    CAMPAIGN_METRICS,
    CORE_METRICS,
    KEY_METRICS,
    METRIC_LABELS,
    METRIC_TRIALS,
    SESSION_METRICS,
    VALUE_METRICS,
    Metric,
    metric_bounds,
    run_metrics,
)
from recarena.analysis.options import AnalysisOptions, analysis_options
from recarena.analysis.results import (
    METRICS_DIR,
    PLOTS_DIR,
    REPORT_FILE,
    ResultsError,
    RunDirectory,
)
from recarena.analysis.stats import (
    ARM,
    CI_HIGH,
    CI_LOW,
    MEAN,
    METRIC,
    N_SEEDS,
    SEED,
    band,
    paired_differences,
    summarise,
)
from recarena.simulator.log import Col, Table

__all__ = [
    "CORE_SECTIONS",
    "CORE_TABLES",
    "PROVENANCE",
    "ReportContext",
    "ReportSection",
    "Section",
    "SectionOutput",
    "build_context",
    "format_value",
    "html_table",
    "print_summary",
    "render_report",
    "summary_html",
    "summary_text",
    "write_report",
]

PER_RUN = "per_run"
SUMMARY = "summary"
DAILY = "daily"
CURVES = "curves"
RETENTION = "retention"
TIMINGS = "timings"
#: Tables written by :func:`write_report` itself; section tables may not use these names.
CORE_TABLES: tuple[str, ...] = (PER_RUN, SUMMARY, DAILY, CURVES, RETENTION, TIMINGS)

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


# ---------------------------------------------------------------------------------- protocol
@dataclass
class ReportContext:
    """Everything a report section may use, computed once by :func:`build_context`.

    Attributes
    ----------
    results
        The results directory (scenario, manifest, runs and their lazily read tables).
    level
        Confidence level of every interval.
    horizon
        Simulated horizon (days).
    arms
        Arms in display order; ``colors`` maps each to its plot colour.
    per_run
        One row per run: ``seed, arm`` and the metrics of
        :func:`recarena.analysis.business.run_metrics`.
    summary
        :func:`recarena.analysis.stats.summarise` of ``per_run``.
    daily
        ``seed, arm`` + :func:`recarena.analysis.regret.daily_series` of every run.
    curves
        ``seed, arm`` + :func:`recarena.analysis.regret.cumulative_curve` of every run, on a
        shared grid that is dense both linearly and logarithmically in time.
    retention
        ``seed, arm`` + each run's :func:`recarena.analysis.retention.kaplan_meier` table.
    survival
        ``seed, arm, time, survival``: each run's KM curve on a shared grid of days since
        arrival (for bands over seeds).
    options
        The scenario's typed ``analysis:`` block
        (:class:`recarena.analysis.options.AnalysisOptions`).
    baseline
        The arm paired differences are taken from: ``--baseline``, else the scenario's
        ``analysis.baseline_arm``, else the first arm.
    cache
        Free space for sections to share intermediate results.
    """

    results: RunDirectory
    level: float
    horizon: float
    arms: list[str]
    colors: dict[str, tuple[float, float, float]]
    per_run: pd.DataFrame
    summary: pd.DataFrame
    daily: pd.DataFrame
    curves: pd.DataFrame
    retention: pd.DataFrame
    survival: pd.DataFrame
    options: AnalysisOptions = field(default_factory=AnalysisOptions)
    baseline: str = ""
    cache: dict[str, Any] = field(default_factory=dict)

    def has_metric(self, metric: str) -> bool:
        """True when some run has a non-NaN value of ``metric``."""
        return metric in self.per_run.columns and bool(self.per_run[metric].notna().any())

    def varies(self, metric: str) -> bool:
        """True when ``metric`` can tell the arms apart: defined for some run, not 0 in every
        run, and (with several arms) different between two arms of some seed.

        Revenue on a banner surface is 0 everywhere and regret on an A/A test is 0
        everywhere; a campaign-only scenario's active users are the same for every arm of
        a seed. Tables and plots of such metrics carry no comparison and are left out.
        """
        return varies(self.per_run, metric)


CF_REGRETS = (Metric.CF_REGRET_CLICKS, Metric.CF_REGRET_CONVERSIONS, Metric.CF_REGRET_REVENUE)
#: Terminal column titles of the key metrics (the report uses the longer METRIC_LABELS).
SHORT_LABELS: dict[str, str] = {
    Metric.VALUE_CLICKS: "value: clicks/user",
    Metric.CF_REGRET_CLICKS: "regret: clicks/user",
    Metric.VALUE_CONVERSIONS: "value: conversions/user",
    Metric.CF_REGRET_CONVERSIONS: "regret: conversions/user",
    Metric.VALUE_REVENUE: "value: revenue/user",
    Metric.CF_REGRET_REVENUE: "regret: revenue/user",
    Metric.CTR: "CTR",
    Metric.MEAN_EXPECTED_REWARD: "E[reward]/decision",
    Metric.REGRET_PER_DECISION: "regret/decision",
    Metric.REVENUE_PER_USER: "revenue/user",
    Metric.RETENTION: "retention",
    Metric.CONTACTS: "contacts",
    Metric.TRUE_INCREMENTAL_RESPONSES: "true incr. responses",
    Metric.INCREMENTAL_NPV: "incremental NPV",
}


def varies(per_run: pd.DataFrame, metric: str) -> bool:
    """True when ``metric`` in ``per_run`` (``seed, arm, metrics…``) is defined for some run,
    not 0 in every run, and — with several arms — differs between two arms of some seed."""
    if metric not in per_run.columns:
        return False
    values = per_run[metric]
    if not values.notna().any() or bool((values.fillna(0.0) == 0.0).all()):
        return False
    if per_run[ARM].nunique() < 2:
        return True
    spread = per_run.groupby(SEED)[metric].agg(lambda v: v.max() - v.min())
    return bool((spread.fillna(0.0) > 1e-12 * max(1.0, float(values.abs().max()))).any())


@dataclass
class Headline:
    """One table of a scenario's answer: shown first by ``recarena run`` / ``report`` in the
    terminal and first in ``report.html``.

    Attributes
    ----------
    title
        The question the table answers, in one line.
    summary
        Long table in the layout of :func:`recarena.analysis.stats.summarise`:
        ``<by>, metric, mean, ci_low, ci_high, n_seeds``.
    metrics
        Columns to show, in order (absent ones are skipped).
    labels
        Column titles with units (default :data:`recarena.analysis.business.METRIC_LABELS`).
    by
        The row column (``arm``, or ``rule`` for A/A false-positive rates, …).
    note
        One sentence on how to read it, printed under the table.
    extra
        Optional columns (``<by>`` and text values) shown before the metrics, e.g. the
        variant an A/B arm picked most often.
    exact
        Metrics whose intervals are exact and asymmetric (binomial proportions): shown
        ``[low, high]`` in the terminal instead of ``± half-width``.
    short
        Shorter column titles for the terminal (default :data:`SHORT_LABELS`, then
        ``labels``).
    """

    title: str
    summary: pd.DataFrame
    metrics: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    by: str = ARM
    note: str = ""
    extra: pd.DataFrame | None = None
    exact: list[str] = field(default_factory=list)
    short: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable record (``metrics/headline.json`` holds a list of them)."""
        return {
            "title": self.title, "metrics": self.metrics, "labels": self.labels,
            "by": self.by, "note": self.note, "exact": self.exact, "short": self.short,
            "summary": json.loads(self.summary.to_json(orient="records")),
            "extra": None if self.extra is None
            else json.loads(self.extra.to_json(orient="records")),
        }  # fmt: skip

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Headline:
        """Inverse of :meth:`to_json`."""
        summary = pd.DataFrame.from_records(record["summary"])
        for column in (MEAN, CI_LOW, CI_HIGH):
            if column in summary.columns:
                summary[column] = pd.to_numeric(summary[column]).astype(float)
        extra = record.get("extra")
        return cls(
            title=record["title"], summary=summary, metrics=list(record["metrics"]),
            labels=dict(record.get("labels") or {}), by=record.get("by", ARM),
            note=record.get("note", ""), exact=list(record.get("exact") or []),
            short=dict(record.get("short") or {}),
            extra=None if extra is None else pd.DataFrame.from_records(extra),
        )  # fmt: skip

    def _wide(self, cell: Callable[[pd.Series], str], labels: Mapping[str, str]) -> pd.DataFrame:
        wide = _summary_wide(self.summary, self.metrics, self.by, cell)
        if self.extra is not None and len(self.extra):
            extra_columns = [c for c in self.extra.columns if c != self.by]
            wide = wide.merge(self.extra, on=self.by, how="left")
            shown = [c for c in wide.columns if c not in extra_columns]
            wide = wide[[shown[0], *extra_columns, *shown[1:]]].fillna("–")
        return wide.rename(columns={m: labels.get(m, m) for m in self.metrics})

    def text(self) -> str:
        """The table for the terminal, under its title, with its note."""
        labels = {**(self.labels or METRIC_LABELS), **SHORT_LABELS, **self.short}
        wide = self._wide(lambda r: _text_cell(r, r.name in self.exact), labels)
        table = _text_table(wide.astype(str))
        return "\n".join([self.title, table, *([self.note] if self.note else [])])

    def html(self) -> str:
        """The table for the report, under its title, with its note."""
        labels = self.labels or METRIC_LABELS
        wide = self._wide(lambda r: _with_ci(r[MEAN], r[CI_LOW], r[CI_HIGH]), labels)
        shown = [labels.get(m, m) for m in self.metrics]
        return (
            f"<h3>{html.escape(self.title)}</h3>"
            + html_table(wide, right_align=shown)
            + (f"<p>{html.escape(self.note)}</p>" if self.note else "")
        )


@dataclass
class SectionOutput:
    """What a section contributes: HTML body, tables (→ CSV) and figures (→ PNG, inlined).

    ``html`` is inserted verbatim (escape your text with :func:`html.escape` or use
    :func:`html_table`); figures are appended after it in dict order, each with its caption
    from ``captions`` (one sentence saying what to read from the figure; the figure's name
    when missing). ``headlines`` are the tables that answer the scenario's question: they
    open the report and the terminal summary.
    """

    html: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    headlines: list[Headline] = field(default_factory=list)


@runtime_checkable
class ReportSection(Protocol):
    """A report section: a title and a ``build`` that returns its output or ``None``."""

    @property
    def title(self) -> str:
        """Heading of the section (also its anchor in the page)."""
        ...

    def build(self, ctx: ReportContext) -> SectionOutput | None:
        """Compute the section; ``None`` when it does not apply to this results directory."""
        ...


@dataclass(frozen=True)
class Section:
    """A :class:`ReportSection` made from a function ``ctx -> SectionOutput | None``.

    ``options`` is the key under the scenario's ``analysis:`` block whose typed options
    (:class:`recarena.analysis.options.AnalysisOptions`) the section reads, if any.
    """

    title: str
    builder: Callable[[ReportContext], SectionOutput | None]
    options: str | None = None

    def build(self, ctx: ReportContext) -> SectionOutput | None:
        """Call the builder."""
        return self.builder(ctx)


# ---------------------------------------------------------------------------------- formatting
def format_value(x: Any) -> str:
    """Compact display of a number: 4 significant digits, thousands separators from 10⁴.

    NaN/None → ``"–"``; integers (or integral floats ≥ 100) without decimals; other text as is.
    """
    if x is None:
        return "–"
    if isinstance(x, bool | np.bool_):
        return str(bool(x))
    if isinstance(x, int | np.integer):
        return f"{int(x):,}" if abs(int(x)) >= 10_000 else str(int(x))
    if isinstance(x, float | np.floating):
        v = float(x)
        if math.isnan(v):
            return "–"
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if abs(v) >= 10_000:
            return f"{v:,.0f}"
        if abs(v) >= 100 and v == round(v):
            return f"{v:.0f}"
        return f"{v:.4g}"
    return str(x)


def _with_ci(mean: float, low: float, high: float) -> str:
    if math.isnan(low) or math.isnan(high):
        return format_value(mean)
    return f"{format_value(mean)} [{format_value(low)}, {format_value(high)}]"


def html_table(
    df: pd.DataFrame,
    caption: str | None = None,
    index: bool = False,
    right_align: Collection[str] = (),
) -> str:
    """A DataFrame as an escaped HTML table with :func:`format_value` cells.

    Numeric cells, and every cell of the ``right_align`` columns (e.g. preformatted
    ``mean [low, high]`` text), are right-aligned.
    """
    frame = df.reset_index() if index else df
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    aligned = [c in right_align for c in frame.columns]
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for v, right in zip(row, aligned, strict=True):
            numeric = isinstance(v, int | float | np.integer | np.floating) and not isinstance(
                v, bool | np.bool_
            )
            cls = ' class="num"' if numeric or right else ""
            cells.append(f"<td{cls}>{html.escape(format_value(v))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (f'<table>{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            "</table>")  # fmt: skip


def _summary_wide(
    summary: pd.DataFrame, metrics: Sequence[str], by: str, cell: Callable[[pd.Series], str]
) -> pd.DataFrame:
    present = [m for m in metrics if (summary[METRIC] == m).any()]
    groups = list(dict.fromkeys(summary[by]))
    rows = []
    for g in groups:
        part = summary[summary[by] == g].set_index(METRIC)
        row: dict[str, Any] = {by: g}
        n = part[N_SEEDS].max() if len(part) else 0
        row["seeds"] = int(n) if pd.notna(n) else 0
        for m in present:
            row[m] = cell(part.loc[m]) if m in part.index else "–"
        rows.append(row)
    return pd.DataFrame(rows, columns=[by, "seeds", *present])


def summary_html(
    summary: pd.DataFrame,
    metrics: Sequence[str],
    by: str = ARM,
    labels: Mapping[str, str] | None = None,
    level: float = 0.95,
) -> str:
    """Arms as rows, ``metrics`` as columns, cells ``mean [ci_low, ci_high]``."""
    labels = METRIC_LABELS if labels is None else labels
    wide = _summary_wide(summary, metrics, by, lambda r: _with_ci(r[MEAN], r[CI_LOW], r[CI_HIGH]))
    shown = {m: labels.get(m, m) for m in metrics}
    wide = wide.rename(columns=shown)
    return html_table(
        wide, caption=f"mean over seeds [{level:.0%} CI]", right_align=list(shown.values())
    )


def headline_metrics(summary: pd.DataFrame, per_run: pd.DataFrame | None = None) -> list[str]:
    """The key metrics that say something in ``summary``: defined for some arm and not 0 for
    every arm (revenue is 0 everywhere on a campaign-only or variant scenario, say) and, when
    ``per_run`` is given, different between arms on some seed (:func:`varies`)."""
    informative = summary.loc[summary[MEAN].notna() & (summary[MEAN] != 0), METRIC]
    candidates = (*KEY_METRICS, Metric.CONTACTS, Metric.TRUE_INCREMENTAL_RESPONSES,
                  Metric.INCREMENTAL_NPV)  # fmt: skip
    shown = [m for m in candidates if (informative == m).any()]
    return shown if per_run is None else [m for m in shown if varies(per_run, m)]


def _text_cell(r: pd.Series, exact: bool = False) -> str:
    """``mean ± half-width`` of a symmetric interval, ``mean [low, high]`` of an asymmetric
    one (a rate near 0, a count on the log scale) or when ``exact``; the mean alone without
    an interval (one seed)."""
    mean, low, high = float(r[MEAN]), float(r[CI_LOW]), float(r[CI_HIGH])
    if math.isnan(low) or math.isnan(high):
        return format_value(mean)
    symmetric = math.isclose(mean - low, high - mean, rel_tol=1e-6, abs_tol=1e-12)
    if exact or not symmetric:
        return f"{format_value(mean)} [{format_value(low)}, {format_value(high)}]"
    return f"{format_value(mean)} ± {format_value((high - low) / 2.0)}"


def _text_table(wide: pd.DataFrame) -> str:
    """Columns aligned with two spaces: the first left-aligned, the others right-aligned."""
    header = list(wide.columns)
    rows = [header, *wide.to_numpy().tolist()]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]

    def line(r: Sequence[Any]) -> str:
        first = str(r[0]).ljust(widths[0])
        rest = [str(v).rjust(w) for v, w in zip(r[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows[1:])])


def print_summary(
    summary: pd.DataFrame, metrics: Sequence[str] | None = None, by: str = ARM
) -> str:
    """A compact text table for the terminal: arms as rows, ``mean ± CI half-width`` cells.

    Parameters
    ----------
    summary
        Output of :func:`recarena.analysis.stats.summarise`.
    metrics
        Columns to show (default: :data:`recarena.analysis.business.KEY_METRICS` and the
        campaign NPV, those defined for some arm).
    by
        The row grouping column.

    Returns
    -------
    str
        The table (no trailing newline); the half-width is omitted where undefined (one seed).
    """
    if metrics is None:
        metrics = headline_metrics(summary)
    return _text_table(_summary_wide(summary, metrics, by, _text_cell).astype(str))


# ---------------------------------------------------------------------------------- answer
HEADLINE_FILE = "headline.json"


def interval_legend(level: float, n_seeds: int, terminal: bool = True) -> str:
    """How to read the cells of the summary tables (shown once, above the first): in the
    terminal ``mean ± half-width``, in the report ``mean [low, high]``."""
    if n_seeds < 2:
        return "One seed: values without confidence intervals."
    if terminal:
        return (
            f"Cells: mean over {n_seeds} seeds with its {level:.0%} confidence interval over "
            "seeds, inside the metric's range (Wilson for rates, log scale for counts, "
            "Student t for differences): ± half-width where it is symmetric, [low, high] "
            "where it is not (and for exact intervals of binomial proportions)."
        )
    return (
        f"Cells: mean over {n_seeds} seeds [its {level:.0%} confidence interval over seeds] — "
        "inside the metric's range: Wilson at the Korn–Graubard effective sample size for "
        "rates, Student t on the log scale for counts and values, Student t for differences "
        "and regret; exact Clopper–Pearson for proportions of runs."
    )


def scenario_question(scenario: Mapping[str, Any]) -> str:
    """The question the scenario answers: the first sentence of its description (bundled
    scenarios open with a question)."""
    text = " ".join(str(scenario.get("description") or "").split())
    ends = [i for i in (text.find(". "), text.find("? ")) if i >= 0]
    return text[: min(ends) + 1] if ends else text


def recorded_overrides(rd: RunDirectory) -> list[str]:
    """The ``--set`` overrides the run was made with, as recorded in ``manifest.json``
    (``overrides``: a list of ``KEY=VALUE`` strings or a ``{key: value}`` mapping)."""
    recorded = rd.manifest.get("overrides") if rd.manifest else None
    if isinstance(recorded, Mapping):
        return [f"{key}={value}" for key, value in recorded.items()]
    return [str(item) for item in recorded] if isinstance(recorded, list) else []


def read_headlines(run_dir: RunDirectory | Path | str) -> tuple[float, list[Headline]]:
    """The confidence level and the headlines :func:`write_report` saved in
    ``metrics/headline.json`` (no headlines when the report has not been written)."""
    rd = run_dir if isinstance(run_dir, RunDirectory) else RunDirectory(run_dir)
    path = rd.metrics_dir / HEADLINE_FILE
    if not path.exists():
        return 0.95, []
    record = json.loads(path.read_text(encoding="utf-8"))
    return float(record["level"]), [Headline.from_json(r) for r in record["headlines"]]


def summary_text(run_dir: RunDirectory | Path | str) -> str:
    """The summary ``recarena run`` and ``recarena report`` print, from the written report.

    The scenario's question (first sentence of its description), how to read the cells,
    then the report's headlines in order: the tables that answer the question (false-positive
    rates of an A/A test, the A/B winner, offline metrics, evaluated campaigns, …), the key
    metrics per arm and the paired-by-seed differences from the baseline arm.
    """
    rd = run_dir if isinstance(run_dir, RunDirectory) else RunDirectory(run_dir)
    level, headlines = read_headlines(rd)
    parts = [f"{rd.name}: {scenario_question(rd.scenario)}".rstrip(": ")]
    overrides = recorded_overrides(rd)
    if overrides:
        parts.append("run with overrides: " + ", ".join(overrides))
    parts.append(interval_legend(level, len(rd.seeds)))
    parts += [h.text() for h in headlines]
    return "\n\n".join(parts)


def _tagged(frame: pd.DataFrame, seed: int, arm: str) -> pd.DataFrame:
    frame = frame.copy()
    frame.insert(0, ARM, arm)
    frame.insert(0, SEED, seed)
    return frame


def _concat(frames: list[pd.DataFrame], columns: Iterable[str]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=list(columns))
    return pd.concat(frames, ignore_index=True)


def resolve_baseline(rd: RunDirectory, baseline: str | None = None) -> str:
    """The arm paired differences are taken from: ``baseline``, else the scenario's
    ``analysis.baseline_arm``, else the first arm.

    Raises
    ------
    ValueError
        When the named arm is not an arm of the results directory (the message lists them).
    """
    options = rd.scenario.get("analysis") or {}
    chosen = baseline or (options.get("baseline_arm") if isinstance(options, dict) else None)
    arms = rd.arms
    if not chosen:
        return arms[0] if arms else ""
    if str(chosen) not in arms:
        source = "--baseline" if baseline else "analysis.baseline_arm"
        raise ValueError(f"{source}: {chosen!r} is not an arm of {rd.path}; arms: {arms}")
    return str(chosen)


def build_context(
    results: RunDirectory | Path | str,
    level: float = 0.95,
    grid_points: int = 200,
    baseline: str | None = None,
) -> ReportContext:
    """Read every run once and compute the core tables of the report.

    Parameters
    ----------
    results
        A results directory (or its path).
    level
        Confidence level of the intervals over seeds.
    grid_points
        Points of the shared time grids (curves, survival).
    baseline
        The arm paired differences are taken from (:func:`resolve_baseline`).

    Raises
    ------
    ValueError
        When the directory holds no finished run, or ``baseline`` names no arm.
    """
    rd = results if isinstance(results, RunDirectory) else RunDirectory(results)
    runs = rd.runs()
    if not runs:
        raise ValueError(f"no finished runs in {rd.path / 'runs'} (a run needs its run.json)")
    chosen = resolve_baseline(rd, baseline)
    horizon = max(rd.horizon(r) for r in runs)
    grid = np.union1d(
        rg.time_grid(horizon, grid_points),
        rg.time_grid(horizon, max(grid_points // 2, 2), log=True),
    )
    surv_grid = np.linspace(0.0, horizon, grid_points + 1)
    per_run, daily, curves, kms, survival = [], [], [], [], []
    for run in runs:
        h = rd.horizon(run)
        tables = run.tables
        per_run.append({SEED: run.seed, ARM: run.arm, **run_metrics(tables, h)})
        daily.append(_tagged(rg.daily_series(tables, h), run.seed, run.arm))
        if Table.DECISIONS in tables and len(tables[Table.DECISIONS]):
            curves.append(
                _tagged(rg.cumulative_curve(tables[Table.DECISIONS], grid), run.seed, run.arm)
            )
        if Table.LIFECYCLE in tables and len(tables[Table.LIFECYCLE]):
            km = rt.retention_curve(tables[Table.LIFECYCLE], h, level=level)
            kms.append(_tagged(km, run.seed, run.arm))
            s = pd.DataFrame({rt.TIME: surv_grid, rt.SURVIVAL: rt.survival_at(km, surv_grid)})
            survival.append(_tagged(s[s[rt.TIME] <= h + 1e-9], run.seed, run.arm))
        tables.clear()  # one run's tables in memory at a time
    per_run_df = lv.add_counterfactual_regret(pd.DataFrame(per_run), lv.oracle_arm(rd.scenario))
    # Sessions of several clicks (pbm, dcm) have an expected reward above 1.
    several = bool(set(SESSION_METRICS) & set(per_run_df.columns))
    ordered = [c for c in dict.fromkeys((*VALUE_METRICS, *CORE_METRICS, *SESSION_METRICS,
                                         *CAMPAIGN_METRICS))
               if c in per_run_df.columns]  # fmt: skip
    extra = [c for c in per_run_df.columns if c not in (SEED, ARM, *ordered)]
    per_run_df = per_run_df[[SEED, ARM, *ordered, *extra]]
    arms = rd.arms
    return ReportContext(
        results=rd,
        level=level,
        horizon=horizon,
        arms=arms,
        colors=plots.arm_colors(arms),
        per_run=per_run_df,
        summary=summarise(
            per_run_df, ARM, level=level, bounds=metric_bounds(several), trials=METRIC_TRIALS
        ),
        daily=_concat(daily, [SEED, ARM, rg.DAY]),
        curves=_concat(curves, [SEED, ARM, Col.T, rg.CUM_REWARD, rg.CUM_REGRET]),
        retention=_concat(kms, [SEED, ARM, rt.TIME, rt.SURVIVAL]),
        survival=_concat(survival, [SEED, ARM, rt.TIME, rt.SURVIVAL]),
        options=_options(rd),
        baseline=chosen,
    )


def _options(rd: RunDirectory) -> AnalysisOptions:
    """The typed ``analysis:`` block of the directory's scenario."""
    try:
        return analysis_options(rd.scenario)
    except ValidationError as exc:
        where = rd.path / "scenario.yaml"
        raise ResultsError(f"{where}: invalid analysis options: {exc}") from None


# ---------------------------------------------------------------------------------- sections
def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def key_metrics(ctx: ReportContext) -> list[str]:
    """The key metrics of the overview: :data:`KEY_METRICS` and the campaign NPV, those that
    tell the arms apart (:meth:`ReportContext.varies`)."""
    metrics = [m for m in KEY_METRICS if ctx.varies(m)]
    if ctx.varies(Metric.INCREMENTAL_NPV):
        metrics.append(Metric.INCREMENTAL_NPV)
    return metrics


def _value_headline(ctx: ReportContext) -> Headline | None:
    """The first headline: long-term value per starting user and counterfactual regret, with
    what the oracle's regret means in this run."""
    metrics = [m for m in VALUE_METRICS if ctx.varies(m)]
    if not metrics:
        return None
    oracle = lv.oracle_arm(ctx.results.scenario)
    notes = [
        "Value per user present at the start, over the whole horizon: users a policy drives "
        "away count as zero for the sessions they no longer have. Clicks are the oracle's "
        "expected clicks; conversions and revenue are realised."
    ]
    if oracle is None:
        notes.append(
            "No arm runs the oracle, so there is no counterfactual regret; compare values "
            "(the paired differences below)."
        )
    else:
        notes.append(
            f"Counterfactual regret = value of the oracle arm ({oracle}) − value of the arm, "
            "paired by seed. The oracle shows each session the slate with the highest current "
            "P(click): it is only myopically optimal, not necessarily the best long-term "
            "policy, so regret can be negative; value differences stay meaningful."
        )
        means = ctx.summary[ctx.summary[METRIC] == Metric.VALUE_CLICKS].set_index(ARM)[MEAN]
        if oracle in means.index:
            better = [a for a in means.index if a != oracle and means[a] > means[oracle]]
            if better:
                notes.append(
                    f"Here {', '.join(better)} earn(s) more expected clicks per starting user "
                    f"than the oracle: in this world the oracle is only myopically optimal."
                )
    return Headline(
        title="Long-term value per starting user and counterfactual regret",
        summary=ctx.summary,
        metrics=metrics,
        note=" ".join(notes),
    )


def _overview(ctx: ReportContext) -> SectionOutput:
    rd = ctx.results
    description = str(rd.scenario.get("description") or "").strip()
    facts = pd.DataFrame(
        {
            "": ["scenario", "seeds", "arms", "runs", "horizon (days)", "confidence level"],
            "value": [rd.name, ", ".join(map(str, rd.seeds)), ", ".join(ctx.arms),
                      str(len(rd.runs())), format_value(ctx.horizon), f"{ctx.level:.0%}"],
        }
    )  # fmt: skip
    metrics = key_metrics(ctx)
    campaigns = ctx.has_metric(Metric.CONTACTS)
    whole = " (whole run, every campaign including any pilot)" if campaigns else ""
    value = _value_headline(ctx)
    headlines = [] if value is None else [value]
    shown_first = set(value.metrics) if value is not None else set()
    headlines.append(
        Headline(
            title=f"Key metrics per arm{whole}",
            summary=ctx.summary,
            metrics=[m for m in metrics if m not in shown_first],
            note="Intervals stay inside each metric's range (rates in [0, 1], counts ≥ 0): "
            "Wilson for rates, log scale for counts and values (docs/intervals.md). "
            "Arms on one seed share the world and the random draws (common random numbers). "
            "Metrics that are equal for every arm are not shown.",
        )
    )
    tables: dict[str, pd.DataFrame] = {}
    if len(ctx.arms) > 1 and len(rd.seeds) > 1:
        paired = paired_differences(ctx.per_run, ctx.baseline, level=ctx.level)  # all metrics
        tables["paired_differences"] = paired
        headlines.append(
            Headline(
                title=f"Difference from {ctx.baseline}, paired by seed{whole}",
                summary=paired,
                # a regret difference is minus the value difference: show the value
                metrics=[m for m in metrics if m not in CF_REGRETS],
                note="Each seed's difference from the baseline arm (--baseline ARM or "
                "analysis.baseline_arm to change it), then its mean and CI over seeds: "
                "pairing removes world-to-world variation, so read these when comparing arms.",
            )
        )
    overrides = recorded_overrides(rd)
    body = [
        _p("Run with overrides: " + ", ".join(overrides)) if overrides else "",
        _p(description) if description else "",
        html_table(facts),
    ]
    figures: dict[str, Figure] = {}
    captions: dict[str, str] = {}
    if metrics:
        figures["key_metrics"] = plots.metric_bars(
            ctx.summary, metrics, colors=ctx.colors, level=ctx.level, title="Key metrics"
        )
        captions["key_metrics"] = (
            "Key metrics per arm: compare bar heights, and read overlapping whiskers as "
            "differences the seeds cannot resolve (the paired table is sharper)."
        )
    return SectionOutput(
        html="".join(body),
        tables=tables,
        figures=figures,
        captions=captions,
        headlines=headlines,
    )


def _reward_regret(ctx: ReportContext) -> SectionOutput | None:
    if len(ctx.curves) == 0 or not ctx.varies(Metric.MEAN_EXPECTED_REWARD):
        return None  # no session decisions, or every arm showed the same (an A/A test)
    kw: dict[str, Any] = {"colors": ctx.colors, "level": ctx.level}
    figures = {
        "cumulative_reward": plots.cumulative_reward_plot(ctx.curves, **kw),
        "cumulative_expected_reward": plots.cumulative_reward_plot(ctx.curves, expected=True, **kw),
    }
    captions = {
        "cumulative_reward": "Realised clicks accumulated over time: the steeper line earns "
        "more, including click noise.",
        "cumulative_expected_reward": "Expected clicks (oracle P(click) of what was shown) "
        "accumulated over time: the reward without click noise, so gaps between lines are "
        "the policies' doing.",
    }
    has_regret = ctx.varies(Metric.TOTAL_REGRET)
    if has_regret:
        figures["cumulative_regret"] = plots.cumulative_regret_plot(ctx.curves, **kw)
        figures["cumulative_regret_logt"] = plots.cumulative_regret_plot(
            ctx.curves, log_x=True, **kw
        )
        captions["cumulative_regret"] = (
            "Cumulative pseudo-regret Σ(best expected reward − expected reward): lower is "
            "better, and a line that flattens has found what the oracle shows."
        )
        captions["cumulative_regret_logt"] = (
            "The same on a log-time axis: a straight line is log t regret (learning), an "
            "upward-bending one is linear regret (not learning)."
        )
    metrics = [m for m in (Metric.DECISIONS, Metric.CLICKS, Metric.CTR,
                           Metric.MEAN_EXPECTED_REWARD) if ctx.varies(m)]  # fmt: skip
    if has_regret:
        metrics += [Metric.TOTAL_REGRET, Metric.REGRET_PER_DECISION]
    note = (
        "Pseudo-regret compares each decision with the oracle's best action for that user at "
        "that moment, in expectation (no click noise). It is myopic: it is measured on the "
        "arm's own trajectory, so sessions lost to churn cost nothing here; the long-term "
        "value and counterfactual regret of the overview count them."
        if has_regret
        else "No regret shown: the runs were logged without oracle columns, or every arm's "
        "regret is the same."
    )
    return SectionOutput(
        html=summary_html(ctx.summary, metrics, level=ctx.level) + _p(note),
        figures=figures,
        captions=captions,
    )


def _daily_plot(ctx: ReportContext, column: str, title: str, ylabel: str) -> Figure:
    """One daily series per arm, mean over seeds with its band."""
    return plots.band_plot(
        band(ctx.daily, rg.DAY, column, ARM, ctx.level, bounds=(0.0, math.inf)), rg.DAY,
        title=title, xlabel="day",
        ylabel=ylabel, colors=ctx.colors, level=ctx.level,
    )  # fmt: skip


def _business(ctx: ReportContext) -> SectionOutput | None:
    metrics = [m for m in CORE_METRICS if ctx.varies(m)]
    if not metrics:
        return None  # e.g. a campaign-only scenario: no sessions, no purchases of items
    bars = [m for m in (Metric.CTR, Metric.CONVERSION_RATE, Metric.REVENUE_PER_USER,
                        Metric.REVENUE, Metric.ACTIVE_USERS_END, Metric.CHURNED_USERS)
            if m in metrics]  # fmt: skip
    figures: dict[str, Figure] = {}
    captions: dict[str, str] = {}
    if bars:
        figures["business_metrics"] = plots.metric_bars(
            ctx.summary, bars, colors=ctx.colors, level=ctx.level, title="Business metrics"
        )
        captions["business_metrics"] = (
            "Business metrics per arm: bar heights with whiskers; metrics equal for every arm "
            "are left out."
        )
    if len(ctx.daily):
        if ctx.varies(Metric.ACTIVE_USERS_END):
            figures["active_users"] = _daily_plot(
                ctx, Col.ACTIVE_USERS, "Active users at the end of each day", "active users (count)"
            )
            captions["active_users"] = (
                "Users arrived minus users churned at each day's end: a line that falls "
                "below the others is losing users to churn."
            )
        if ctx.varies(Metric.REVENUE):
            figures["cumulative_revenue"] = _daily_plot(
                ctx, rg.CUM_REVENUE, "Cumulative revenue", "revenue (currency)"
            )
            captions["cumulative_revenue"] = (
                "Revenue of conversions by purchase time: the steeper line earns more."
            )
    per_run = ctx.per_run[[SEED, ARM, *metrics]].rename(columns=METRIC_LABELS)
    body = (
        summary_html(ctx.summary, metrics, level=ctx.level)
        + "<details><summary>Per-run values</summary>"
        + html_table(per_run)
        + "</details>"
    )
    return SectionOutput(html=body, figures=figures, captions=captions)


def _retention(ctx: ReportContext) -> SectionOutput | None:
    if len(ctx.survival) == 0 or not (
        ctx.varies(Metric.RETENTION) or ctx.varies(Metric.CHURNED_USERS)
    ):
        return None
    fig = plots.retention_plot(ctx.survival, colors=ctx.colors, level=ctx.level)
    body = summary_html(
        ctx.summary,
        [Metric.USERS, Metric.CHURNED_USERS, Metric.ACTIVE_USERS_END, Metric.RETENTION],
        level=ctx.level,
    ) + _p(
        "Kaplan–Meier survival in time since arrival; users still active at the horizon are "
        "censored. Per-run curves with Greenwood intervals are in metrics/retention.csv."
    )
    return SectionOutput(
        html=body,
        figures={"retention": fig},
        captions={
            "retention": "Share of users still active by days since arrival: the higher "
            "curve keeps more users."
        },
    )


def _campaigns(ctx: ReportContext) -> SectionOutput | None:
    metrics = [m for m in CAMPAIGN_METRICS if ctx.varies(m)]
    if not metrics:
        return None
    bars = [m for m in (Metric.CONTACTS, Metric.RESPONSE_RATE_TREATED,
                        Metric.RESPONSE_RATE_CONTROL, Metric.CAMPAIGN_NPV,
                        Metric.INCREMENTAL_NPV,
                        Metric.TRUE_INCREMENTAL_RESPONSES, Metric.NPV_PER_CONTACTED_USER)
            if m in metrics]  # fmt: skip
    fig = plots.metric_bars(
        ctx.summary, bars, colors=ctx.colors, level=ctx.level, title="Campaign metrics"
    )
    return SectionOutput(
        html=summary_html(ctx.summary, metrics, level=ctx.level)
        + _p(
            "Every campaign of the run, including any randomised pilot. Treated rows received "
            "an offer, control rows did not. True incremental responses sum the oracle's "
            "P(respond | treated) − P(respond | control) over treated rows."
        ),
        figures={"campaign_metrics": fig},
        captions={
            "campaign_metrics": "Campaign metrics per arm over every campaign (pilot "
            "included): incremental NPV and true incremental responses say which arm's "
            "contacts paid off."
        },
    )


def _provenance(ctx: ReportContext) -> SectionOutput:
    rd = ctx.results
    manifest = rd.manifest
    parts = []
    versions = manifest.get("versions") or {}
    meta = {k: manifest.get(k) for k in ("git", "started", "finished") if manifest.get(k)}
    if meta or versions:
        rows = [*meta.items(), *versions.items()]
        parts.append(html_table(pd.DataFrame(rows, columns=["", "value"]), caption="versions"))
    timings = rd.timings()
    if len(timings):
        parts.append(html_table(timings, caption="run timings (seconds, engine counters)"))
    text = rd.scenario_text
    if text:
        parts.append(f"<h3>scenario.yaml</h3><pre>{html.escape(text)}</pre>")
    if not parts:
        parts.append(_p("No scenario.yaml or manifest.json in this directory."))
    return SectionOutput(html="".join(parts))


#: The sections every report starts with, in order (see :mod:`recarena.analysis.registry`).
CORE_SECTIONS: tuple[Section, ...] = (
    Section("Overview", _overview),
    Section("Reward and regret", _reward_regret),
    Section("Business metrics", _business),
    Section("Retention", _retention),
    Section("Campaigns", _campaigns),
)
#: The section every report ends with.
PROVENANCE = Section("Configuration and provenance", _provenance)


# ---------------------------------------------------------------------------------- writing
_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;
color:#222;background:#fafafa;line-height:1.45}
header{background:#243447;color:#fff;padding:18px 32px}
header h1{margin:0 0 4px 0;font-size:1.6em}header p{margin:0;opacity:.85}
nav{padding:8px 32px;background:#e9eef3;font-size:.92em}nav a{margin-right:14px;color:#243447}
main{padding:8px 32px 40px 32px;max-width:1200px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px 20px 16px 20px;
margin:18px 0}
h2{border-bottom:2px solid #243447;padding-bottom:4px}
table{border-collapse:collapse;margin:10px 0;font-size:.88em}
caption{text-align:left;font-style:italic;color:#555;padding-bottom:4px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f3f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafbfc}
figure{margin:14px 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.88em;color:#555}
pre{background:#f4f4f4;border:1px solid #ddd;padding:10px;overflow-x:auto;font-size:.85em}
details{margin:8px 0}summary{cursor:pointer;color:#243447}
footer{color:#777;font-size:.8em;padding:0 32px 24px 32px}
"""


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


def _write_table(df: pd.DataFrame, directory: Path, name: str, json_too: bool = False) -> None:
    df.to_csv(directory / f"{name}.csv", index=False)
    if json_too:
        records = json.loads(df.to_json(orient="records"))
        (directory / f"{name}.json").write_text(json.dumps(records, indent=2), encoding="utf-8")


def _check_name(name: str, kind: str, seen: set[str], reserved: Iterable[str] = ()) -> None:
    if not _NAME.match(name):
        raise ValueError(f"{kind} name {name!r} is not a safe file name ([A-Za-z0-9_.-])")
    if name in seen or name in reserved:
        raise ValueError(f"{kind} name {name!r} is used twice in the report")
    seen.add(name)


def write_report(
    run_dir: RunDirectory | Path | str,
    sections: Sequence[ReportSection] | None = None,
    level: float = 0.95,
    baseline: str | None = None,
) -> Path:
    """Compute metrics, write tables and plots, and write ``report.html``.

    The sections' headlines (the tables that answer the scenario's question, then the core
    key metrics and paired differences) open the first section and are saved to
    ``metrics/headline.json`` for :func:`summary_text`.

    Parameters
    ----------
    run_dir
        The results directory (or a :class:`RunDirectory`).
    sections
        Sections to render, in order (default :data:`recarena.analysis.registry.SECTIONS`).
    level
        Confidence level of every interval.
    baseline
        The arm paired differences are taken from (default: the scenario's
        ``analysis.baseline_arm``, else the first arm).

    Returns
    -------
    pathlib.Path
        The written ``report.html``.
    """
    if sections is None:
        from recarena.analysis.registry import SECTIONS

        sections = SECTIONS
    ctx = build_context(run_dir, level=level, baseline=baseline)
    rd = ctx.results
    metrics_dir, plots_dir = rd.metrics_dir, rd.plots_dir
    metrics_dir.mkdir(parents=True, exist_ok=True)
    plots_dir.mkdir(parents=True, exist_ok=True)
    for stale in plots_dir.glob("*.png"):  # a rebuilt report may leave out a plot
        stale.unlink()
    _write_table(ctx.per_run, metrics_dir, PER_RUN, json_too=True)
    _write_table(ctx.summary, metrics_dir, SUMMARY, json_too=True)
    _write_table(ctx.daily, metrics_dir, DAILY)
    _write_table(ctx.curves, metrics_dir, CURVES)
    _write_table(ctx.retention, metrics_dir, RETENTION)
    _write_table(rd.timings(), metrics_dir, TIMINGS)

    outputs = []
    for section in sections:
        out = section.build(ctx)
        if out is not None:
            outputs.append((section.title, out))
    # The sections' answers first, then the core key metrics and paired differences.
    headlines = [h for _, out in outputs[1:] for h in out.headlines]
    headlines += outputs[0][1].headlines if outputs else []
    headlines = [h for h in headlines if h.metrics and len(h.summary)]
    record = {"level": level, "headlines": [h.to_json() for h in headlines]}
    (metrics_dir / HEADLINE_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")
    if outputs and headlines:
        first_title, first = outputs[0]
        legend = _p(interval_legend(level, len(rd.seeds), terminal=False))
        answer = legend + "".join(h.html() for h in headlines)
        outputs[0] = (first_title, replace(first, html=_answer_first(first.html, answer)))
    subtitle = (f"{len(ctx.arms)} arms × {len(rd.seeds)} seeds, horizon "
                f"{format_value(ctx.horizon)} days")  # fmt: skip
    return render_report(rd.path, f"recarena report — {rd.name}", subtitle, outputs)


def _answer_first(content: str, answer: str) -> str:
    """``answer`` inserted in the first section before its first table or figure (after the
    overrides and the description, which opens with the scenario's question)."""
    found = [i for i in (content.find("<table"), content.find("<figure")) if i >= 0]
    at = min(found) if found else len(content)
    return content[:at] + answer + content[at:]


def render_report(
    directory: Path,
    title: str,
    subtitle: str,
    outputs: Sequence[tuple[str, SectionOutput]],
    reserved: Iterable[str] = CORE_TABLES,
) -> Path:
    """Write sections' tables (``metrics/<name>.csv``), figures (``plots/<name>.png``) and
    ``report.html`` into ``directory``.

    Parameters
    ----------
    directory
        The results directory.
    title, subtitle
        Page heading.
    outputs
        ``(section title, output)`` in page order.
    reserved
        Table names the sections may not use (tables the caller writes itself).

    Returns
    -------
    pathlib.Path
        The written ``report.html``.
    """
    metrics_dir, plots_dir = directory / METRICS_DIR, directory / PLOTS_DIR
    metrics_dir.mkdir(parents=True, exist_ok=True)
    plots_dir.mkdir(parents=True, exist_ok=True)
    reserved = tuple(reserved)
    table_names: set[str] = set()
    figure_names: set[str] = set()
    rendered: list[tuple[str, str, str]] = []
    slugs: set[str] = set()
    for section_title, out in outputs:
        for name, table in out.tables.items():
            _check_name(name, "table", table_names, reserved)
            _write_table(table, metrics_dir, name)
        figures_html = []
        for name, fig in out.figures.items():
            _check_name(name, "figure", figure_names)
            png = plots.to_png(fig)
            (plots_dir / f"{name}.png").write_bytes(png)
            caption = out.captions.get(name, name)
            data = base64.b64encode(png).decode("ascii")
            figures_html.append(
                f'<figure id="fig-{html.escape(name)}"><img alt="{html.escape(name)}" '
                f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)} '
                f"<code>plots/{html.escape(name)}.png</code></figcaption></figure>"
            )
        slug = _slug(section_title)
        while slug in slugs:
            slug += "-"
        slugs.add(slug)
        rendered.append((slug, section_title, out.html + "".join(figures_html)))
    page = _page(title, subtitle, directory, rendered)
    path = directory / REPORT_FILE
    path.write_text(page, encoding="utf-8")
    return path


def _page(title: str, sub: str, source: Path, rendered: list[tuple[str, str, str]]) -> str:
    nav = "".join(f'<a href="#{s}">{html.escape(t)}</a>' for s, t, _ in rendered)
    body = "".join(
        f'<section id="{s}"><h2>{html.escape(t)}</h2>{content}</section>'
        for s, t, content in rendered
    )
    made = datetime.now(UTC).isoformat(timespec="seconds")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(sub)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main>"
        f"<footer>Generated {made} by recarena.analysis.report from "
        f"{html.escape(str(source))}.</footer></body></html>\n"
    )
