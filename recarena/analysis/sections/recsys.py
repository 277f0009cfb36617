r"""Report section "Recommenders": online outcomes, feedback loops and offline ranking.

:data:`SECTION` is listed in :data:`recarena.analysis.registry.SECTIONS`. It applies to
results directories for which the evaluation step
(:func:`recarena.experiment.evaluate.write_evaluations`) wrote
``metrics/offline_evaluation.csv``: the session surface shows slates and the scenario either
runs a history-trained recommender or sets ``analysis.recsys``. The section reads that table;
it never refits a policy itself.

Contents
--------
* **Online** (what the simulated users did), mean and CI over seeds per arm: CTR, true
  expected reward (the oracle's P(click) of the slates shown) and its regret against the
  oracle's best slate, conversions, revenue per user, retention, mean satisfaction, the share
  of decisions served by the fallback, and the mean refit time.
* **Feedback loops** per day (:mod:`recarena.analysis.feedback_loops`): exposure
  concentration (Gini of impressions over items), popularity percentile of what is shown,
  slate overlap between users (homogenisation) — as bands over seeds — and every loop
  metric's drift (slope per day), catalogue coverage included.
* **Offline** (:mod:`recarena.experiment.evaluate`): every arm's policy is refitted on a global
  time split of one arm's log (by default the ``random`` arm — an unbiased exposure log) and
  ranks the full candidate catalogue: NDCG, HitRate, MRR, MAP, coverage at k (and their
  inverse-propensity-weighted recall and DCG), overall and on the cold/warm user and item
  slices.
* **Offline vs online agreement** (:mod:`recarena.analysis.agreement`): Kendall τ between each
  offline metric's ordering of the arms and their online long-term value (expected clicks per
  starting user), with a bootstrap interval over seeds; ``metrics/recsys_offline_online_tau.csv``.

Scenario options (``analysis: {recsys: {...}}``): ``offline`` (default true), ``log_arm``
(default: the first arm whose policy kind is ``random``, else the first arm), ``protocol``
(``time_split`` | ``leave_last_one_out``), ``test_fraction`` (0.2), ``catalogue``
(``at_split`` | ``all``), ``k`` (10), ``sampled_negatives`` (null; sampled evaluation warns).
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from recarena.analysis import plots
from recarena.analysis.agreement import offline_online_tau
from recarena.analysis.business import METRIC_BOUNDS, Metric
from recarena.analysis.feedback_loops import drift, exposure_over_time
from recarena.analysis.options import RecsysOptions
from recarena.analysis.report import (
    Headline,
    ReportContext,
    Section,
    SectionOutput,
    format_value,
    html_table,
)
from recarena.analysis.stats import ARM, CI_HIGH, CI_LOW, MEAN, METRIC, SEED, band, summarise
from recarena.simulator.log import Col, Table, read_slates

__all__ = ["SECTION", "TITLE", "build", "online_table", "recsys_options"]

TITLE = "Recommenders"
ONLINE_METRICS = (
    Metric.CTR, Metric.MEAN_EXPECTED_REWARD, Metric.REGRET_PER_DECISION, Metric.CONVERSIONS,
    Metric.REVENUE_PER_USER, Metric.RETENTION, "mean_satisfaction", "fallback_share",
    "fit_seconds",
)  # fmt: skip
OFFLINE_METRICS = ("ndcg", "hit_rate", "mrr", "map", "catalogue_coverage", "ips_recall",
                   "ips_dcg")  # fmt: skip
# Plotted per day. Exposure concentration rather than "catalogue shown so far": with any
# ε-exploration every arm shows nearly the whole catalogue within a day, so that curve could
# not tell the arms apart (it stays in the drift table).
#: Ranges of the online and offline metrics (they pick the interval over seeds).
ONLINE_BOUNDS: dict[str, tuple[float, float]] = {
    **METRIC_BOUNDS,
    "fallback_share": (0.0, 1.0),
    "fit_seconds": (0.0, math.inf),
}
_OFFLINE_BOUNDS: dict[str, tuple[float, float]] = {
    **dict.fromkeys(("ndcg", "hit_rate", "mrr", "map", "catalogue_coverage"), (0.0, 1.0)),
    **dict.fromkeys(("ips_recall", "ips_dcg"), (0.0, math.inf)),
}
#: The feedback-loop series, each a share in [0, 1].
LOOP_METRICS = ("exposure_gini", "popularity_percentile", "overlap")
_LOOP_LABELS = {
    "exposure_gini": "exposure concentration (Gini over items)",
    "popularity_percentile": "popularity percentile of shown items",
    "overlap": "slate overlap between users (share of k)",
}


_LOOP_READING = {
    "exposure_gini": "higher means a few items take most impressions (a popularity loop).",
    "popularity_percentile": "higher means the arm shows already-popular items.",
    "overlap": "higher means users are shown the same items (homogenisation).",
}
_SLICES = {
    "all": "all test users and items",
    "cold_users": "users with no training interaction",
    "cold_items": "items with no training interaction",
}


def recsys_options(ctx: ReportContext) -> RecsysOptions | None:
    """The section's options, or ``None`` when it does not apply.

    It applies when the evaluation step wrote ``metrics/offline_evaluation.csv``
    (:func:`recarena.experiment.evaluate.write_evaluations`: slate surface with recommender
    arms or ``analysis.recsys`` set).
    """
    if not _offline_path(ctx).exists():
        return None
    return ctx.options.recsys or RecsysOptions()


def _offline_path(ctx: ReportContext) -> Path:
    return ctx.results.metrics_dir / "offline_evaluation.csv"


def online_table(ctx: ReportContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-run recsys extras merged with the business metrics, and the per-day loop series.

    Returns ``(per_run, daily)``: ``per_run`` has ``seed, arm`` and :data:`ONLINE_METRICS`;
    ``daily`` has ``seed, arm, day`` and the feedback-loop metrics.
    """
    extra, daily = [], []
    for run in ctx.results.runs():
        tables = run.tables
        dec = tables[Table.DECISIONS] if Table.DECISIONS in tables else pd.DataFrame()
        snaps = tables[Table.SNAPSHOTS] if Table.SNAPSHOTS in tables else pd.DataFrame()
        fits = tables[Table.FITS] if Table.FITS in tables else pd.DataFrame()
        extra.append(
            {
                SEED: run.seed,
                ARM: run.arm,
                "mean_satisfaction": float(snaps[Col.MEAN_SATISFACTION].mean())
                if len(snaps)
                else np.nan,
                "fallback_share": float(dec[Col.FALLBACK].mean()) if len(dec) else np.nan,
                "fit_seconds": float(fits[Col.SECONDS].mean()) if len(fits) else np.nan,
            }
        )
        n_items = int(run.info.get("n_items") or 0)
        slates = read_slates(run.path) if len(dec) else np.zeros((0, 0), np.int32)
        if len(dec) and slates.shape[1] and n_items:
            series = exposure_over_time(dec, n_items, slates=slates)
            series.insert(0, ARM, run.arm)
            series.insert(0, SEED, run.seed)
            daily.append(series)
    base_cols = [SEED, ARM, *(m for m in ONLINE_METRICS if m in ctx.per_run.columns)]
    per_run = ctx.per_run[base_cols].merge(pd.DataFrame(extra), on=[SEED, ARM], how="left")
    return per_run, (pd.concat(daily, ignore_index=True) if daily else pd.DataFrame())


def _ci_text(frame: pd.DataFrame, metrics: tuple[str, ...], by: str = ARM) -> pd.DataFrame:
    """Pivot a long summary into ``by × metric`` cells ``mean [low, high]``."""

    def cell(r: pd.Series) -> str:
        mean, low, high = r[MEAN], r[CI_LOW], r[CI_HIGH]
        if np.isnan(low):
            return format_value(mean)
        return f"{format_value(mean)} [{format_value(low)}, {format_value(high)}]"

    frame = frame.assign(cell=frame.apply(cell, axis=1))
    wide = frame.pivot(index=by, columns=METRIC, values="cell")
    order = list(dict.fromkeys(frame[by]))
    return wide.reindex(index=order, columns=[m for m in metrics if m in wide.columns])


def _offline(ctx: ReportContext) -> pd.DataFrame:
    """The refits' long table written by the evaluation step (empty when it was skipped)."""
    try:
        return pd.read_csv(_offline_path(ctx))
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _offline_summary(offline: pd.DataFrame, level: float) -> pd.DataFrame:
    """Mean and CI over seeds of each model × slice × metric."""
    wide = offline.pivot_table(
        index=[SEED, "model", "slice"], columns="metric", values="value"
    ).reset_index()
    wide["model_slice"] = wide["model"] + " / " + wide["slice"]
    metrics = [c for c in wide.columns if "@" in str(c)]
    bounds = {m: _OFFLINE_BOUNDS[m.split("@")[0]] for m in metrics
              if m.split("@")[0] in _OFFLINE_BOUNDS}  # fmt: skip
    summary = summarise(wide[["model_slice", SEED, *metrics]], by="model_slice", level=level,
                        bounds=bounds)  # fmt: skip
    parts = summary["model_slice"].str.split(" / ", n=1, expand=True)
    return summary.assign(model=parts[0], slice=parts[1]).drop(columns="model_slice")


def _agreement(ctx: ReportContext, offline: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Kendall τ of each offline metric (slice ``all``) against online value, per arm."""
    if not ctx.has_metric(Metric.VALUE_CLICKS):
        return pd.DataFrame()
    part = offline.loc[(offline["slice"] == "all") & offline["metric"].isin(metrics)]
    return offline_online_tau(part, ctx.per_run, Metric.VALUE_CLICKS, level=ctx.level)


def build(ctx: ReportContext) -> SectionOutput | None:
    """The section (module docstring); ``None`` when it does not apply."""
    options = recsys_options(ctx)
    if options is None:
        return None
    per_run, daily = online_table(ctx)
    metrics = tuple(m for m in ONLINE_METRICS if m in per_run.columns)
    online = summarise(per_run, metrics=list(metrics), level=ctx.level, bounds=ONLINE_BOUNDS)
    body = [
        "<p>Online outcomes per arm: mean [CI] over seeds. Expected reward and regret use the "
        "simulator's oracle (P(click) of what was shown vs the best slate).</p>",
        html_table(_ci_text(online, metrics), index=True, right_align=metrics),
    ]
    tables: dict[str, pd.DataFrame] = {"recsys_online": online}
    figures, captions = {}, {}
    headlines: list[Headline] = []
    if len(daily):
        tables["recsys_feedback_loops"] = daily
        drifts = []
        for (seed, arm), series in daily.groupby([SEED, ARM], sort=False):
            d = drift(series)
            d.insert(0, ARM, str(arm))
            d.insert(0, SEED, int(str(seed)))
            drifts.append(d)
        drift_table = pd.concat(drifts, ignore_index=True)
        tables["recsys_drift"] = drift_table
        slope = drift_table.pivot_table(
            index=ARM, columns=METRIC, values="slope_per_day", sort=False
        )
        body.append(
            "<p>Feedback loops: slope per day (mean over seeds) of coverage, exposure "
            "concentration, popularity bias and homogenisation of what users are shown.</p>"
            + html_table(slope, index=True)
        )
        for metric in LOOP_METRICS:
            bands = band(daily, "day", metric, level=ctx.level, bounds=(0.0, 1.0))
            name = f"recsys_{metric}"
            figures[name] = plots.band_plot(
                bands, "day", title=_LOOP_LABELS[metric], xlabel="day",
                ylabel=_LOOP_LABELS[metric], colors=ctx.colors, level=ctx.level,
            )  # fmt: skip
            captions[name] = f"{_LOOP_LABELS[metric]} per day: {_LOOP_READING[metric]}"
    offline = _offline(ctx)
    if len(offline):
        summary = _offline_summary(offline, ctx.level)
        tables["recsys_offline_summary"] = summary
        k = options.k
        wanted = tuple(f"{m}@{k}" for m in OFFLINE_METRICS)
        log_arm = str(offline["log_arm"].iloc[0])
        protocol = str(options.protocol)
        for slice_name in ("all", "cold_users", "cold_items"):
            part = summary.loc[summary["slice"] == slice_name]
            if not len(part):
                continue
            body.append(
                f"<p>Offline ({html.escape(log_arm)} log, {html.escape(protocol)}, "
                f"full-catalogue ranking) — slice <b>{html.escape(slice_name)}</b>.</p>"
                + html_table(_ci_text(part, wanted, by="model"), index=True)
            )
            headlines.append(
                Headline(
                    title=f"Offline ranking, {_SLICES[slice_name]}: each model refitted on "
                    f"the {log_arm} arm's log ({protocol}), ranking the whole catalogue",
                    summary=part.drop(columns="slice"),
                    metrics=[m for m in wanted if (part[METRIC] == m).any()],
                    by="model",
                )
            )
        agreement = _agreement(ctx, offline, wanted)
        if len(agreement):
            tables["recsys_offline_online_tau"] = agreement
            body.append(
                "<p>Offline vs online: Kendall τ between each offline metric's ordering of the "
                "arms and their online long-term value (expected clicks per starting user), "
                f"{ctx.level:.0%} percentile bootstrap over seeds. +1: the offline metric ranks "
                "the arms as users do; −1: it reverses them. Compare the ips_ rows with the "
                "naive ones to see how much of the disagreement is exposure bias.</p>"
                + html_table(agreement)
            )
    return SectionOutput(
        html="".join(body), tables=tables, figures=figures, captions=captions,
        headlines=headlines,
    )  # fmt: skip


SECTION = Section(TITLE, build, options="recsys")
