"""Report section "Off-policy evaluation against the truth".

:data:`SECTION` is listed in :data:`recarena.analysis.registry.SECTIONS`. It applies to a
results directory whose scenario has an ``ope:`` block and holds ``ope/estimates.csv``
(written by :mod:`recarena.experiment.ope`). Each target's truth per seed is its own on-policy run
(:func:`recarena.analysis.ope.validation.on_policy_value`); the section tabulates, per
target and estimator, the mean estimate, the truth, bias, RMSE over seeds, CI coverage (with
a Clopper–Pearson interval over seeds) and the effective sample size, and plots every
seed's estimate (with its interval) against the truth.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from recarena.analysis import plots
from recarena.analysis.ope.validation import on_policy_value, validation_summary
from recarena.analysis.report import (
    Headline,
    ReportContext,
    Section,
    SectionOutput,
    html_table,
)
from recarena.simulator.log import Table

__all__ = ["SECTION", "TITLE", "build", "estimate_plot", "per_seed_table"]

TITLE = "Off-policy evaluation against the truth"
ESTIMATES = Path("ope") / "estimates.csv"


def per_seed_table(ctx: ReportContext) -> pd.DataFrame | None:
    """``ope/estimates.csv`` joined with each target's on-policy truth per seed."""
    path = ctx.results.path / ESTIMATES
    if not path.exists() or not ctx.results.scenario.get("ope"):
        return None
    estimates = pd.read_csv(path)
    campaigns = (ctx.results.scenario.get("schedule") or {}).get("surface") == "none"
    table = Table.CAMPAIGNS if campaigns else Table.DECISIONS
    truth = [
        {
            "seed": seed,
            "target": target,
            "truth": on_policy_value(ctx.results.run(int(seed), str(target)).table(table)),
        }
        for seed, target in estimates[["seed", "target"]].drop_duplicates().itertuples(index=False)
    ]
    return estimates.merge(pd.DataFrame(truth), on=["seed", "target"], how="left")


def estimate_plot(per_seed: pd.DataFrame) -> Figure:
    """One panel per estimator: each seed's estimate and CI against the truth, by target."""
    estimators = list(dict.fromkeys(per_seed["estimator"]))
    targets = list(dict.fromkeys(per_seed["target"]))
    colors = plots.arm_colors(targets)
    cols = min(4, len(estimators))
    rows = -(-len(estimators) // cols)
    fig = plots.new_figure(3.2 * cols, 3.0 * rows)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    low = float(min(per_seed["truth"].min(), per_seed["estimate"].min()))
    high = float(max(per_seed["truth"].max(), per_seed["estimate"].max()))
    for ax, estimator in zip(axes.ravel(), estimators, strict=False):
        part = per_seed[per_seed["estimator"] == estimator]
        ax.plot([low, high], [low, high], color="0.6", lw=1, ls="--")
        for target in targets:
            g = part[part["target"] == target]
            # An interval clipped to the reward's range (or a percentile interval) may not
            # hold its own estimate: draw only the part on each side of it.
            below = (g["estimate"] - g["ci_low"]).clip(lower=0)
            above = (g["ci_high"] - g["estimate"]).clip(lower=0)
            ax.errorbar(
                g["truth"], g["estimate"], yerr=[below, above],
                fmt="o", ms=3, lw=0.8, color=colors[target], label=target,
            )  # fmt: skip
        ax.set_title(estimator, fontsize=9)
    for ax in axes.ravel()[len(estimators) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("on-policy truth")
    for ax in axes[:, 0]:
        ax.set_ylabel("estimate")
    plots.outside_legend(axes[0, -1], title="target")
    return fig


#: Estimators in the terminal summary (the report's table has every one).
HEADLINE_ESTIMATORS = ("ips", "snips", "dm", "dr")


def headline(summary: pd.DataFrame) -> Headline:
    """Bias, RMSE and interval coverage of the main estimators for every target."""
    part = summary[summary["estimator"].isin(HEADLINE_ESTIMATORS)]
    key = part["target"] + ": " + part["estimator"]
    nan = float("nan")
    rows = []
    for k, (_, r) in zip(key, part.iterrows(), strict=True):
        rows += [
            {"estimate": k, "metric": "bias", "mean": r["bias"], "ci_low": nan,
             "ci_high": nan, "n_seeds": r["n_seeds"]},
            {"estimate": k, "metric": "rmse", "mean": r["rmse"], "ci_low": nan,
             "ci_high": nan, "n_seeds": r["n_seeds"]},
            {"estimate": k, "metric": "coverage", "mean": r["coverage"],
             "ci_low": r["coverage_low"], "ci_high": r["coverage_high"],
             "n_seeds": r["n_seeds"]},
        ]  # fmt: skip
    return Headline(
        title="How close each off-policy estimate comes to the target's on-policy truth",
        summary=pd.DataFrame(rows),
        metrics=["bias", "rmse", "coverage"],
        labels={
            "bias": "bias (mean error)",
            "rmse": "RMSE over seeds",
            "coverage": "CI coverage of the truth",
        },
        by="estimate",
        note="A good estimator has bias near 0, small RMSE and coverage near the nominal "
        "level; the report's table adds the other estimators and the effective sample size.",
        exact=["coverage"],
    )


def build(ctx: ReportContext) -> SectionOutput | None:
    """The section (``None`` without an ``ope:`` block and its estimates)."""
    per_seed = per_seed_table(ctx)
    if per_seed is None:
        return None
    options = ctx.results.scenario["ope"]
    summary = validation_summary(per_seed, level=ctx.level)
    intro = (
        f"<p>Every target's value estimated from the log of arm "
        f"<b>{html.escape(str(options['logging_arm']))}</b>, against the truth: the target's "
        f"own on-policy run on the same seed (common random numbers), measured as the oracle's "
        f"expected reward per decision (on campaigns: expected responses to the contacts per "
        f"user considered). Reward model of DM/DR: "
        f"<code>{html.escape(str(options.get('reward_model', 'mean')))}</code>; clipped IPS at "
        f"M = {options.get('clip')}, switch-DR at τ = {options.get('switch')}. Coverage is the "
        f"share of seeds whose interval holds the truth (nominal "
        f"{options.get('level', 0.95):.0%}), with its exact interval over seeds; ESS is Kish's "
        f"effective sample size of the weights.</p>"
    )
    table = html_table(
        summary.drop(columns=["sd"]), caption="Off-policy estimates vs on-policy truth"
    )
    return SectionOutput(
        html=intro + table,
        tables={"ope": summary, "ope_per_seed": per_seed},
        figures={"ope_estimates": estimate_plot(per_seed)},
        captions={
            "ope_estimates": "Each seed's estimate (with its 95% interval) against the "
            "target's on-policy truth: points on the dashed diagonal are right, and intervals "
            "that cross it cover the truth."
        },
        headlines=[headline(summary)],
    )


SECTION = Section(TITLE, build)
