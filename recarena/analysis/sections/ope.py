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
    axes[0, 0].legend(fontsize=7)
    return fig


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
        captions={"ope_estimates": "Estimate (95% CI) against on-policy truth, every seed"},
    )


SECTION = Section(TITLE, build)
