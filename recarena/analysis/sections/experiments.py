r"""Report section "Experiments: A/B tests and bandits".

:data:`SECTION` is listed in :data:`recarena.analysis.registry.SECTIONS`. It applies to any
results directory with an arm that allocates over variants, offers or sub-policies (an
``ab_split``, a ``bandit_over_policies``, or a bandit on the variant or campaign surface); the
numbers come from :func:`recarena.analysis.experiments.analyse_experiments`.

Figures
-------
* cumulative pseudo-regret on a log-time axis with 95% bands over seeds and, for Bernoulli
  arms (variant surface, no heterogeneity, no shift), the Lai–Robbins asymptote
  :math:`C \ln n(t)` with :math:`C = \sum_{i:\Delta_i>0} \Delta_i / \mathrm{kl}(\mu_i, \mu^*)`
  (Lai & Robbins 1985) and :math:`n(t)` the mean number of decisions by time t — the regret
  any uniformly good policy must eventually exceed;
* allocation over time (share of each option per day, mean over seeds), one panel per arm;
* share of traffic on the oracle's best variant per day, with bands;
* p-value trajectories of each A/B arm's test (always-valid p for the mSPRT, nominal p
  otherwise, with α or the O'Brien–Fleming nominal boundary), one line per seed;
* always-valid confidence sequences for the first treatment's difference, one band per seed,
  with the true difference.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import special

from recarena.analysis import plots
from recarena.analysis import regret as rg
from recarena.analysis.business import Metric
from recarena.analysis.experiments import (
    AB_KIND,
    DAY,
    OPTION,
    SHARE,
    SHARE_ON_BEST,
    ExperimentAnalysis,
    analyse_experiments,
)
from recarena.analysis.report import (
    Headline,
    ReportContext,
    Section,
    SectionOutput,
    html_table,
    summary_html,
)
from recarena.analysis.stats import ARM, CI_HIGH, CI_LOW, MEAN, METRIC, N_SEEDS, SEED, band
from recarena.simulator.log import Col
from recarena.stats.bandit_bounds import lai_robbins_constant
from recarena.stats.group_sequential import BOUNDARY_LABELS

__all__ = [
    "SECTION",
    "TITLE",
    "allocation_plot",
    "bernoulli_means",
    "build",
    "confidence_sequence_plot",
    "pvalue_plot",
    "regret_plot",
]

TITLE = "Experiments: A/B tests and bandits"
Colors = Mapping[str, tuple[float, float, float]]


def bernoulli_means(scenario: Mapping[str, Any], horizon: float) -> np.ndarray | None:
    """The variants' CTRs when every user sees the same Bernoulli arms, else ``None``.

    That is: the variant surface, every variant with ``heterogeneity`` 0 and no
    ``shift_day`` before the horizon.
    """
    world = scenario.get("world") or {}
    variants = world.get("variants") or []
    surface = (scenario.get("schedule") or {}).get("surface")
    shift = world.get("shift_day")
    if surface != "variant" or len(variants) < 2:
        return None
    if any(float(v.get("heterogeneity") or 0.0) > 0 for v in variants):
        return None
    if shift is not None and float(shift) < horizon:
        return None
    return np.array([float(v["ctr"]) for v in variants])


def regret_plot(
    curves: pd.DataFrame,
    means: np.ndarray | None,
    *,
    colors: Colors | None = None,
    level: float = 0.95,
    log_x: bool = True,
) -> Figure:
    """Cumulative pseudo-regret per arm (bands over seeds) with the Lai–Robbins asymptote.

    The asymptote :math:`C \\ln n(t)` is drawn when ``means`` (Bernoulli arm means) are given
    and differ; :math:`n(t)` is the mean over runs of the decisions made by time t.
    """
    fig = plots.cumulative_regret_plot(curves, colors=colors, level=level, log_x=log_x)
    if means is None or np.ptp(means) <= 0 or len(curves) == 0:
        return fig
    constant = lai_robbins_constant(means)
    n = curves.groupby(Col.T, sort=True)[rg.CUM_DECISIONS].mean()
    t = n.index.to_numpy(dtype=np.float64)
    keep = (t > 0) & (n.to_numpy() >= 1)
    ax = fig.axes[0]
    ax.plot(t[keep], constant * np.log(n.to_numpy(dtype=np.float64)[keep]), color="black",
            linestyle="--", linewidth=1.2,
            label=f"Lai–Robbins C·ln n(t), C = {constant:.3g}")  # fmt: skip
    plots.outside_legend(ax, title=f"line: mean over seeds; band: {level:.0%} CI")
    return fig


def _panels(n: int, width: float = 3.6, height: float = 2.8) -> tuple[Figure, int, int]:
    ncols = max(1, min(3, n))
    nrows = max(1, math.ceil(n / ncols))
    return plots.new_figure(width * ncols + 0.6, height * nrows + 0.6), nrows, ncols


def allocation_plot(allocation: pd.DataFrame, names: Mapping[str, Sequence[str]]) -> Figure:
    """Per arm, the share of each option per day (stacked; mean over seeds)."""
    arms = list(dict.fromkeys(allocation[ARM])) if len(allocation) else []
    fig, nrows, ncols = _panels(len(arms))
    for i, arm in enumerate(arms):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        mean = (
            allocation[allocation[ARM] == arm]
            .groupby([DAY, OPTION])[SHARE]
            .mean()
            .unstack(OPTION)
            .fillna(0.0)
        )
        labels = list(names.get(arm) or [])
        legend = [labels[k] if k < len(labels) else str(k) for k in mean.columns]
        ax.stackplot(mean.index.to_numpy(), mean.to_numpy().T, labels=legend, alpha=0.85)
        ax.set_ylim(0, 1)
        ax.set_title(arm, fontsize="medium")
        ax.set_xlabel("day")
        ax.set_ylabel("share of decisions")
        plots.legend_below(ax)
    if not arms:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no allocation data", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle("Allocation over time (mean over seeds)")
    return fig


def _ab_arms(runs: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(runs.loc[runs["kind"] == AB_KIND, ARM]))


def pvalue_plot(trajectories: pd.DataFrame, runs: pd.DataFrame) -> Figure:
    """Per A/B arm, the test's p-value at each look, one line per seed and comparison.

    mSPRT arms show the always-valid p-values; the others the nominal z-test p-values with
    their rejection level: α, or the nominal level 2(1 − Φ(b_ℓ)) of the O'Brien–Fleming
    boundary b_ℓ.
    """
    arms = _ab_arms(runs)
    fig, nrows, ncols = _panels(len(arms))
    for i, arm in enumerate(arms):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        info = runs[runs[ARM] == arm].iloc[0]
        part = trajectories[trajectories[ARM] == arm]
        column = "p_sequential" if info["test"] == "sequential_msprt" else "p_nominal"
        for _, line in part.groupby([SEED, "comparison"], sort=False):
            ax.plot(line[Col.T], np.maximum(line[column], 1e-6), color="tab:blue", alpha=0.35,
                    linewidth=0.8)  # fmt: skip
        if len(part):
            first = part[part[SEED] == part[SEED].iloc[0]].drop_duplicates(Col.T)
            level = first["threshold"].to_numpy(dtype=np.float64)
            if info["test"] == "obrien_fleming":
                level = 2.0 * special.ndtr(-level)
            ax.step(first[Col.T], level, where="mid", color="black", linestyle="--",
                    linewidth=1.0, label="rejection level")  # fmt: skip
            plots.legend_below(ax)
        ax.set_yscale("log")
        ax.set_title(f"{arm} ({info['test']})", fontsize="medium")
        ax.set_xlabel("time of look (days)")
        ax.set_ylabel("p-value")
    if not arms:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no A/B arms", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle("p-value trajectories (one line per seed)")
    return fig


def confidence_sequence_plot(trajectories: pd.DataFrame, runs: pd.DataFrame) -> Figure:
    """Per A/B arm, the always-valid confidence sequence of rate₁ − rate₀, one band per
    seed, with the true difference (mean over seeds of the variants' true values)."""
    arms = _ab_arms(runs)
    fig, nrows, ncols = _panels(len(arms))
    for i, arm in enumerate(arms):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        part = trajectories[(trajectories[ARM] == arm) & (trajectories["comparison"] == 1)]
        for _, line in part.groupby(SEED, sort=False):
            ax.fill_between(line[Col.T], line["cs_low"], line["cs_high"], color="tab:blue",
                            alpha=0.08, linewidth=0)  # fmt: skip
            ax.plot(line[Col.T], line["estimate"], color="tab:blue", alpha=0.4, linewidth=0.7)
        rows = runs[runs[ARM] == arm]
        if {"value_0", "value_1"} <= set(rows.columns):
            truth = float((rows["value_1"] - rows["value_0"]).mean())
            if math.isfinite(truth):
                ax.axhline(truth, color="black", linestyle="--", linewidth=1.0,
                           label=f"true difference {truth:.4f}")  # fmt: skip
                plots.legend_below(ax)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_title(arm, fontsize="medium")
        ax.set_xlabel("time of look (days)")
        ax.set_ylabel("rate(variant 1) − rate(control)")
    if not arms:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no A/B arms", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle("Always-valid confidence sequences (one band per seed)")
    return fig


#: Columns of the per-arm table, with their headers.
LABELS: dict[str, str] = {
    Metric.TOTAL_REGRET: "total regret",
    Metric.CTR: "CTR",
    "share_on_best": "share on best",
    "share_on_best_last_day": "share on best, last day",
    "p_correct": "P(correct)",
    "rejected_share": "rejected H0",
    "time_to_decision": "time to decision (days)",
}


def _long_summary(ctx: ReportContext, analysis: ExperimentAnalysis) -> pd.DataFrame:
    """Per arm and metric ``mean, ci_low, ci_high, n_seeds`` (the layout of
    :func:`recarena.analysis.stats.summarise`): regret and CTR from the report's summary,
    the experiment metrics from :meth:`ExperimentAnalysis.summary`."""
    core = ctx.summary[ctx.summary[METRIC].isin([Metric.TOTAL_REGRET, Metric.CTR])]
    rows = []
    for _, r in analysis.summary().iterrows():
        for metric in LABELS:
            if metric not in r.index:
                continue
            low, high = r.get(f"{metric}_low", np.nan), r.get(f"{metric}_high", np.nan)
            rows.append({ARM: r[ARM], METRIC: metric, MEAN: r[metric], CI_LOW: low,
                         CI_HIGH: high, N_SEEDS: r["seeds"]})  # fmt: skip
    mine = pd.DataFrame(rows, columns=[ARM, METRIC, MEAN, CI_LOW, CI_HIGH, N_SEEDS])
    arms = set(mine[ARM])
    return pd.concat([core[core[ARM].isin(arms)], mine], ignore_index=True)


def _fpr_summary(fpr: pd.DataFrame) -> pd.DataFrame:
    """The false-positive rates in the same layout, one "metric" per rule and unit."""
    return pd.DataFrame({ARM: fpr[ARM], METRIC: fpr["rule"] + " · per " + fpr["unit"],
                         MEAN: fpr["fpr"], CI_LOW: fpr["ci_low"], CI_HIGH: fpr["ci_high"],
                         N_SEEDS: fpr["runs"]})  # fmt: skip


def _winners(runs: pd.DataFrame) -> pd.DataFrame:
    """Per A/B arm: the variant its test picked most often over seeds, with the count
    (``no winner`` when the test never rejected)."""
    ab = runs[runs["kind"] == AB_KIND]
    rows = []
    for arm, part in ab.groupby(ARM, sort=False):
        names = part["winner_name"].where(part["significant"].astype(bool)).dropna()
        if names.empty:
            rows.append({ARM: arm, "winner": f"no winner (0/{len(part)} seeds)"})
            continue
        counts = names.astype(str).value_counts()
        rows.append({ARM: arm, "winner": f"{counts.index[0]} ({counts.iloc[0]}/{len(part)} seeds)"})
    return pd.DataFrame(rows, columns=[ARM, "winner"])


def headlines(ctx: ReportContext, analysis: ExperimentAnalysis) -> list[Headline]:
    """The answer of an experiments scenario: each A/A rule's false-positive rate, and for
    arms that face a real difference, how often they end on the best variant."""
    out = []
    fpr = analysis.false_positive_rates()
    if len(fpr):
        units = list(dict.fromkeys(fpr["unit"]))
        rates = pd.DataFrame({"rule": fpr[ARM] + ": " + fpr["rule"],
                              METRIC: "fpr_" + fpr["unit"], MEAN: fpr["fpr"],
                              CI_LOW: fpr["ci_low"], CI_HIGH: fpr["ci_high"],
                              N_SEEDS: fpr["runs"]})  # fmt: skip
        metrics = [f"fpr_{unit}" for unit in units]
        out.append(
            Headline(
                title="A/A false-positive rate of each rule (share of null runs that declared "
                "a difference)",
                summary=rates,
                metrics=metrics,
                labels={m: f"false-positive rate, per {m[4:]}" for m in metrics},
                short={m: f"FPR per {m[4:]}" for m in metrics},
                by="rule",
                note=f"Compare with the nominal α; intervals are exact {ctx.level:.0%} "
                "Clopper–Pearson intervals over runs. Per user is the randomisation unit; per "
                "session treats every session as independent.",
                exact=metrics,
            )
        )
    summary = _long_summary(ctx, analysis)
    scored = summary[(summary[METRIC] == "p_correct") & summary[MEAN].notna()]
    if len(scored):
        arms = list(scored[ARM])
        metrics = ["p_correct", "share_on_best", "rejected_share", "time_to_decision"]
        winners = _winners(analysis.runs)
        out.append(
            Headline(
                title="Which arm ends on the best variant, and how often it is right",
                summary=summary[summary[ARM].isin(arms)],
                metrics=[m for m in metrics if (summary[METRIC] == m).any()],
                labels=LABELS,
                extra=winners if len(winners) else None,
                note="winner: the variant an A/B test picked most often; P(correct): the A/B "
                "winner, or the option a bandit served most on the last day, is the truly "
                "best variant.",
                exact=["p_correct"],
            )
        )
    return out


def _health_html(ab: pd.DataFrame, cuped: pd.DataFrame, pre_periods: Mapping[str, float]) -> str:
    """Per A/B arm: runs with a sample-ratio mismatch, and CUPED's θ, ρ and share of
    variance removed (or why there is none)."""
    rows = []
    for arm, part in ab.groupby(ARM, sort=False):
        flagged = part["srm_mismatch"].dropna()
        rows.append({
            ARM: arm,
            "SRM flagged (p < 0.001)": f"{int(flagged.sum())} of {len(flagged)} runs",
            "median SRM p": float(part["srm_p"].median()),
            "pre-period (days)": pre_periods.get(str(arm), 0.0),
        })  # fmt: skip
    text = (
        "Health checks of every A/B run. Sample-ratio mismatch: χ² of the users assigned to "
        "each variant against the designed weights (Fabijan et al. 2019). CUPED (Deng et al. "
        "2013) needs a covariate the treatment cannot have touched: arms with a pre-period "
        "(pre_period_days: everyone on the control before the split) adjust each user's "
        "clicks per session in the test by the same ratio in the pre-period, per user by "
        "the delta method. θ is the adjustment coefficient, ρ the correlation it exploits, "
        "and ρ² the share of the estimate's variance removed; the spread of the estimates "
        "over runs shows the same reduction across replications. Arms without a pre-period "
        "get no CUPED."
    )
    out = f"<h3>SRM and CUPED</h3><p>{html.escape(text)}</p>" + html_table(pd.DataFrame(rows))
    if len(cuped):
        shown = cuped.rename(columns={
            "variance_reduction": "variance removed (mean)",
            "variance_reduction_low": "low", "variance_reduction_high": "high",
            "sd_estimate": "sd of estimate, CUPED", "sd_estimate_unadjusted": "sd, raw",
            "significant_share": "share significant, CUPED",
            "significant_share_unadjusted": "share significant, raw",
        })  # fmt: skip
        out += html_table(shown, caption="CUPED per A/B arm and treatment, over runs")
    return out


def _pre_periods(ctx: ReportContext) -> dict[str, float]:
    """``pre_period_days`` of every A/B arm (0 without one)."""
    return {
        str(arm.get("name")): float((arm.get("policy") or {}).get("pre_period_days") or 0.0)
        for arm in ctx.results.scenario.get("arms") or []
        if isinstance(arm, dict) and (arm.get("policy") or {}).get("kind") == "ab_split"
    }


def _boundary_note(ctx: ReportContext) -> str:
    """Which group-sequential convention each A/B arm's O'Brien–Fleming rule uses."""
    named = []
    for arm in ctx.results.scenario.get("arms") or []:
        policy = arm.get("policy") or {} if isinstance(arm, dict) else {}
        if policy.get("kind") == "ab_split":
            kind = str(policy.get("boundary", "obf_two_sided"))
            named.append(f"{arm.get('name')}: {BOUNDARY_LABELS.get(kind, kind)}")
    if not named:
        return ""
    text = "O'Brien–Fleming rule boundaries — " + "; ".join(named) + "."
    return f"<p>{html.escape(text)}</p>"


def build(ctx: ReportContext) -> SectionOutput | None:
    """The section, or ``None`` when no arm allocates over variants, offers or policies."""
    analysis = analyse_experiments(ctx.results, level=ctx.level)
    if analysis is None:
        return None
    ctx.cache["experiments"] = analysis
    level = ctx.level
    body = [
        f"<p>Per arm, mean over seeds with a {level:.0%} interval inside the metric's range "
        "(Wilson–Korn–Graubard for shares, log-scale t for times; exact Clopper–Pearson for "
        "P(correct) and false-positive rates). <em>Share on best</em>: decisions that "
        "showed the oracle's best action for that user. <em>P(correct)</em>: the A/B "
        "winner, or the option a bandit served most on the last day, is the variant with "
        "the highest true value. <em>Time to decision</em>: over the runs whose test "
        "rejected H0 (at the horizon for a "
        "fixed-horizon test).</p>",
        summary_html(_long_summary(ctx, analysis), list(LABELS), labels=LABELS, level=level),
    ]
    fpr = analysis.false_positive_rates()
    if len(fpr):
        body.append(
            "<h3>A/A false-positive rates</h3><p>Null runs (all variants equal): the share of "
            "runs in which each rule declared a difference, replayed on the same logged data "
            "(arms that commit are scored on their own rule only). <em>Per user</em>: the "
            "randomisation unit — clicks per session as a ratio of per-user sums with a "
            "delta-method variance (Deng et al. 2018), at every look. <em>Per session</em>: "
            "every session treated as independent, which users' heterogeneity makes "
            "anti-conservative; shown for contrast.</p>"
        )
        summary = _fpr_summary(fpr)
        rules = list(dict.fromkeys(summary[METRIC]))
        body.append(summary_html(summary, rules, level=level, labels={}))
    body.append(_boundary_note(ctx))
    ab = analysis.ab_runs()
    cuped = analysis.cuped_summary()
    if len(ab):
        body.append(_health_html(ab, cuped, _pre_periods(ctx)))
        keep = [c for c in (SEED, ARM, "test", "unit", "significant", "decision_time",
                            "winner_name", "best", "correct", "null", "srm_p", "srm_mismatch",
                            "cuped_theta", "cuped_rho", "cuped_variance_reduction", "cuped_p",
                            "cuped_p_unadjusted")
                if c in ab.columns]  # fmt: skip
        body.append("<details><summary>A/B tests per run</summary>")
        body.append(html_table(ab[keep]) + "</details>")
    means = bernoulli_means(ctx.results.scenario, ctx.horizon)
    kw: dict[str, Any] = {"colors": ctx.colors, "level": level}
    figures: dict[str, Figure] = {}
    captions: dict[str, str] = {}
    if ctx.varies(Metric.TOTAL_REGRET):  # all zero on an A/A test: nothing to learn
        figures["experiments_regret_logt"] = regret_plot(ctx.curves, means, **kw)
        captions["experiments_regret_logt"] = (
            "Cumulative pseudo-regret on a log-time axis: lower is better; a learner's line "
            "bends to the slope of "
            + ("the Lai–Robbins asymptote C·ln n(t), the least any consistent policy can "
               "lose on these Bernoulli arms." if means is not None
               else "log t once it has found the best option (no asymptote: the arms are not "
               "plain Bernoulli arms).")
        )  # fmt: skip
    figures["experiments_allocation"] = allocation_plot(analysis.allocation, analysis.option_names)
    captions["experiments_allocation"] = (
        "Share of decisions served by each option per day: an arm that learns moves its "
        "traffic onto one option; an A/B split stays even until its test decides."
    )
    share = analysis.share_on_best
    if len(share) and share[SHARE_ON_BEST].nunique() > 1:  # constant 1 when all are equal
        figures["experiments_share_on_best"] = plots.band_plot(
            band(share, DAY, SHARE_ON_BEST, ARM, level, bounds=(0.0, 1.0)), DAY,
            title="Share of traffic on the best variant", xlabel="day",
            ylabel="share of decisions on the oracle's best action", **kw,
        )  # fmt: skip
        captions["experiments_share_on_best"] = (
            "Per day, the share of decisions on the oracle's best action: the arm whose line "
            "reaches 1 first exploits the best variant soonest."
        )
    if len(analysis.trajectories):
        figures["experiments_pvalues"] = pvalue_plot(analysis.trajectories, analysis.runs)
        figures["experiments_confidence_sequences"] = confidence_sequence_plot(
            analysis.trajectories, analysis.runs
        )
        captions["experiments_pvalues"] = (
            "p-value of each A/B test at each look, per seed: a line that dips below its "
            "boundary is a rejection; peeking at a fixed-horizon p-value crosses α too often."
        )
        captions["experiments_confidence_sequences"] = (
            "Always-valid confidence sequences of the first treatment's difference, per seed: "
            "they shrink over time, and a band that leaves 0 is a valid decision."
        )
    tables = {
        "experiments_runs": analysis.runs,
        "experiments_summary": analysis.summary(),
        "experiments_allocation": analysis.allocation,
        "experiments_share_on_best": analysis.share_on_best,
    }
    if len(fpr):
        tables["experiments_fpr"] = fpr
    if len(analysis.trajectories):
        tables["experiments_trajectories"] = analysis.trajectories
    if len(analysis.cuped):
        tables["experiments_cuped"] = analysis.cuped
        tables["experiments_cuped_summary"] = cuped
    return SectionOutput(
        html="".join(body),
        tables=tables,
        figures=figures,
        captions=captions,
        headlines=headlines(ctx, analysis),
    )


SECTION = Section(TITLE, build)
