"""Report sections for the campaign surface: segmentation, uplift, Next Best Action, look-alike.

:data:`SECTIONS` are listed in :data:`recarena.analysis.registry.SECTIONS`. Each section
applies when the scenario asks for it under ``analysis:`` (typed options in
:mod:`recarena.analysis.options`) — it is skipped otherwise::

    analysis:
      segmentation: {reference_arm: popularity, rfm_bins: 5, n_init: 10, rules: [...],
                     from_campaign: 1}
      uplift: {from_campaign: 1, learners: [s, t, x, class_transformation], folds: 4,
               budget_fraction: 0.3, base_model: logistic, baseline_arm: response_model}
      nba: {from_campaign: 1, baseline_arm: probability}
      lookalike: {reference_arm: no_contact, random_arm: random, campaign: 0,
                  label_days: 7, lookback_days: 14}

Numbers come from :mod:`recarena.analysis.campaigns` and
:mod:`recarena.analysis.segmentation`; every value is a mean over seeds with an interval
over seeds (:func:`recarena.analysis.stats.summarise`: inside [0, 1] for AUCs, shares and
NMI, above 0 for counts, Student t for values of either sign).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from recarena.analysis import campaigns as ca
from recarena.analysis import plots
from recarena.analysis.options import (
    CampaignOutcomeOptions,
    SegmentationOptions,
    UpliftOptions,
)
from recarena.analysis.report import (
    Headline,
    ReportContext,
    Section,
    SectionOutput,
    html_table,
    summary_html,
)
from recarena.analysis.segmentation import segmentation_analysis
from recarena.analysis.stats import ARM, SEED, mean_ci, paired_differences, summarise

__all__ = ["SECTIONS"]

Scored = TypeVar("Scored", bound=CampaignOutcomeOptions)

OUTCOME_LABELS: dict[str, str] = {
    "contacts": "contacts (count)",
    "true_incremental_conversions": "true incremental conversions (expected count)",
    "oracle_incremental_conversions": "oracle, same contacts (expected count)",
    "regret_conversions": "regret vs same-size oracle (conversions)",
    "expected_incremental_npv": "expected incremental NPV (currency)",
    "realised_incremental_npv": "realised incremental NPV (currency)",
    "realised_npv": "realised campaign NPV, all rows (currency)",
}
SHORT_OUTCOME_LABELS: dict[str, str] = {
    "contacts": "contacts",
    "true_incremental_conversions": "true incr. conversions",
    "oracle_incremental_conversions": "oracle incr. conversions",
    "regret_conversions": "regret (conversions)",
    "expected_incremental_npv": "E[incr. NPV]",
    "realised_incremental_npv": "realised incr. NPV",
    "realised_npv": "realised NPV",
}
LEARNER_LABELS: dict[str, str] = {
    "qini": "Qini coefficient (÷ perfect)",
    "auuc": "AUUC (÷ perfect)",
    "uplift_at_k": "uplift@k (response-rate difference)",
    "pehe": "PEHE (RMSE of τ̂)",
    "policy_value": "policy value (true τ per capita)",
    "policy_regret": "regret vs oracle (per capita)",
}


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _heatmap(
    matrix: pd.DataFrame, title: str, xlabel: str, ylabel: str, fmt: str = "{:.0f}"
) -> Figure:
    fig = plots.new_figure(
        width=1.2 + 0.9 * max(matrix.shape[1], 3), height=1.4 + 0.5 * max(matrix.shape[0], 3)
    )
    ax = fig.add_subplot()
    values = matrix.to_numpy(dtype=np.float64)
    image = ax.imshow(values, aspect="auto", cmap="viridis")
    ax.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns], rotation=30, ha="right")
    ax.set_yticks(range(matrix.shape[0]), [str(i) for i in matrix.index])
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    for (i, j), v in np.ndenumerate(values):
        light = high > low and (v - low) / (high - low) > 0.6  # viridis is light at the top
        ax.text(
            j,
            i,
            fmt.format(v),
            ha="center",
            va="center",
            fontsize="small",
            color="black" if light else "white",
        )
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.colorbar(image, ax=ax)
    return fig


def _ci_cells(
    frame: pd.DataFrame,
    by: str,
    metrics: Sequence[str],
    level: float,
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """Wide ``by × metric`` table of ``mean [low, high]`` strings over seeds (intervals
    inside ``bounds``, :func:`~recarena.analysis.stats.summarise`)."""
    summary = summarise(frame, by=by, metrics=list(metrics), level=level, bounds=bounds)
    rows = []
    for group in dict.fromkeys(frame[by]):
        row: dict[str, Any] = {by: group}
        part = summary[summary[by] == group].set_index("metric")
        for m in metrics:
            r = part.loc[m]
            row[m] = _fmt_ci(float(r["mean"]), float(r["ci_low"]), float(r["ci_high"]))
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt_ci(mean: float, low: float, high: float) -> str:
    if np.isnan(low):
        return f"{mean:.4g}"
    return f"{mean:.4g} [{low:.4g}, {high:.4g}]"


# ------------------------------------------------------------------------------ segmentation
def _segmentation(ctx: ReportContext) -> SectionOutput | None:
    options = ctx.options.segmentation
    if options is None:
        return None
    result = segmentation_analysis(ctx.results, options)
    if len(result.scores) == 0:
        return None
    scores = result.scores
    summary = summarise(scores, by="method", metrics=["ari", "nmi"], level=ctx.level,
                        bounds={"ari": (-1.0, 1.0), "nmi": (0.0, 1.0)})  # fmt: skip
    labels = {"ari": "adjusted Rand index vs latent", "nmi": "NMI vs latent"}
    figures: dict[str, Figure] = {
        "segmentation_agreement": plots.metric_bars(
            summary,
            ["ari", "nmi"],
            by="method",
            labels=labels,
            level=ctx.level,
            title="Recovered vs latent segments",
            ncols=2,
        )
    }
    captions = {
        "segmentation_agreement": "ARI and NMI of each segmentation against the "
        "simulator's latent segments: the taller the bar, the closer the method comes to "
        "the segments that really drive behaviour (0 = chance)."
    }
    body = [
        summary_html(summary, ["ari", "nmi"], by="method", labels=labels, level=ctx.level),
        _p(
            "Recovered segments against the world's latent segments (rebuilt from the scenario "
            "and seed). RFM segments follow purchase behaviour, not the latent segments, so a "
            "low score is expected there; the logistic models are scored on held-out users "
            "(ari_vs_labels: agreement with the labels they were taught)."
        ),
        html_table(scores, caption="per seed"),
    ]
    tables = {"segmentation_scores": scores}
    rfm_summary = result.rfm_summary()
    if len(rfm_summary):
        tables["rfm_segments"] = rfm_summary
        tables["rfm_table"] = result.rfm.reset_index()
        body.append(
            html_table(
                rfm_summary,
                caption="RFM segments, first seed (recency = days since the last purchase)",
            )
        )
        grid = result.rf_grid()
        figures["rfm_grid"] = _heatmap(grid, "Users per R and F score", "F score", "R score")
        captions["rfm_grid"] = (
            "Users per recency (rows, high = recent) and frequency score: bright cells are "
            "where the customer base sits; the top-right cell holds the best customers."
        )
    if len(result.profiles):
        profiles = result.profiles.reset_index()
        tables["segment_profiles"] = profiles
        body.append(
            html_table(
                profiles,
                caption="k-means segment profiles, first seed "
                "(feature means; purity = share of the dominant latent "
                "segment)",
            )
        )
        numeric = [
            c
            for c in result.profiles.columns
            if c not in ("size", "share", "latent_segment", "purity") and "=" not in c
        ]
        if numeric:
            figures["segment_profiles"] = _heatmap(
                result.profiles[numeric],
                "k-means segment profiles (feature means)",
                "feature",
                "segment",
                fmt="{:.2f}",
            )
            captions["segment_profiles"] = (
                "Mean numeric feature per k-means segment: a column whose colour changes "
                "from row to row is a feature that separates the segments."
            )
    headlines = _segment_offer_headlines(ctx, options)
    headline = Headline(
        title="How well each segmentation recovers the latent segments",
        summary=summary,
        metrics=["ari", "nmi"],
        labels=labels,
        by="method",
        note="0 = chance agreement, 1 = the latent segments exactly.",
    )
    return SectionOutput(
        html="".join(body), tables=tables, figures=figures, captions=captions,
        headlines=[headline, *headlines],
    )  # fmt: skip


def _segment_offer_headlines(ctx: ReportContext, options: SegmentationOptions) -> list[Headline]:
    """With ``from_campaign``: the segment offers on the campaigns after the pilot."""
    if options.from_campaign is None:
        return []
    start = options.from_campaign
    outcomes = ca.campaign_outcomes(ctx.results, start)
    if len(outcomes) == 0 or outcomes["contacts"].isna().all():
        return []
    baseline = str(options.baseline_arm or ctx.baseline)
    metrics = ["contacts", "true_incremental_conversions", "expected_incremental_npv",
               "realised_incremental_npv"]  # fmt: skip
    paired = ["expected_incremental_npv", "realised_incremental_npv"]
    return _campaign_headlines(ctx, outcomes, start, metrics, paired, baseline)


# ------------------------------------------------------------------------------ uplift
def _campaign_headlines(
    ctx: ReportContext,
    outcomes: pd.DataFrame,
    start: int,
    metrics: Sequence[str],
    paired: Sequence[str],
    baseline: str,
) -> list[Headline]:
    """The evaluated campaigns (index ≥ ``start``, the pilot excluded) per arm, and the
    ``paired`` metrics' differences from ``baseline`` on the same seed."""
    pilot = (
        "after the randomised pilot (campaign 0 excluded)" if start == 1
        else f"after the {start} randomised pilots (campaigns 0–{start - 1} excluded)"
    )  # fmt: skip
    shown = [m for m in metrics if outcomes[m].notna().any() and (outcomes[m] != 0).any()]
    out = [
        Headline(
            title=f"Evaluated campaigns per arm, {pilot}",
            summary=summarise(outcomes, by=ARM, metrics=shown, level=ctx.level),
            metrics=shown,
            labels=OUTCOME_LABELS,
            short=SHORT_OUTCOME_LABELS,
        )
    ]
    if baseline in set(outcomes[ARM]) and len(ctx.results.seeds) > 1:
        out.append(
            Headline(
                title=f"Evaluated campaigns: difference from {baseline}, paired by seed",
                summary=paired_differences(
                    outcomes, baseline, metrics=list(paired), level=ctx.level
                ),
                metrics=list(paired),
                labels=OUTCOME_LABELS,
                short=SHORT_OUTCOME_LABELS,
            )
        )
    return out


def _outcome_html(
    ctx: ReportContext, outcomes: pd.DataFrame, metrics: Sequence[str]
) -> tuple[str, Figure]:
    summary = summarise(outcomes, by=ARM, metrics=list(metrics), level=ctx.level)
    fig = plots.metric_bars(
        summary,
        list(metrics),
        colors=ctx.colors,
        labels=OUTCOME_LABELS,
        level=ctx.level,
        title="Evaluated campaigns",
    )
    return summary_html(summary, list(metrics), labels=OUTCOME_LABELS, level=ctx.level), fig


def _scorers(scenario: Mapping[str, Any], options: UpliftOptions) -> dict[str, tuple[str, str]]:
    """What to draw Qini curves of, ``name → (learner, base model)``: every arm that targets by
    a fitted score (an ``uplift`` policy other than ``random``), named by the arm, then each
    code of the ``learners`` option on ``base_model`` that no arm already fits."""
    scorers: dict[str, tuple[str, str]] = {}
    for arm in scenario.get("arms") or []:
        policy = arm.get("campaign_policy") or arm.get("policy") or {}
        learner = str(policy.get("learner", "x"))
        if policy.get("kind") == "uplift" and learner != "random":
            scorers[str(arm["name"])] = (learner, str(policy.get("base_model", "logistic")))
    base = str(options.base_model)
    # The learners option adds curves; left unset, it adds the default set only when no arm
    # fits a score of its own.
    codes = options.learners if "learners" in options.model_fields_set or not scorers else []
    for code in codes:
        if (str(code), base) not in scorers.values():
            scorers[str(code)] = (str(code), base)
    return scorers


def _qini_figure(curves: pd.DataFrame, offer: int, colors: plots.Colors) -> Figure:
    fig = plots.new_figure(width=8.4)
    ax = fig.add_subplot()
    part = curves[curves["offer"] == offer]
    labels = {"oracle": "oracle (ranks by the true effect)", "random": "random targeting"}
    for name, g in part.groupby("learner", sort=False):
        mean = g.groupby("u")["qini"].mean()
        key = str(name)
        if key in labels:
            ax.plot(mean.index, mean.to_numpy(), "k--" if key == "oracle" else "k:",
                    label=labels[key])  # fmt: skip
        else:
            ax.plot(mean.index, mean.to_numpy(), color=colors.get(key), label=key)
    ax.set_xlabel("fraction of users targeted (by score)")
    ax.set_ylabel("Qini Q(u)/n (incremental responses per user)")
    ax.set_title(f"Qini curves on the pilot, offer {offer} (mean over seeds)")
    ax.grid(True, alpha=0.3)
    plots.outside_legend(ax, title="arm")
    return fig


def _outcomes(
    ctx: ReportContext, options: Scored | None
) -> tuple[Scored, int, pd.DataFrame] | SectionOutput | None:
    """The section's options, first scored campaign and per-run campaign outcomes; ``None``
    when the scenario does not ask for the section, a note when no campaign is scored."""
    if options is None:
        return None
    start = options.from_campaign
    outcomes = ca.campaign_outcomes(ctx.results, start)
    if len(outcomes) == 0 or outcomes["contacts"].isna().all():
        return SectionOutput(html=_p(f"No campaign with index ≥ {start} in these runs."))
    return options, start, outcomes


def _uplift(ctx: ReportContext) -> SectionOutput | None:
    found = _outcomes(ctx, ctx.options.uplift)
    if not isinstance(found, tuple):
        return found
    options, start, outcomes = found
    rd = ctx.results
    metrics = [
        "contacts",
        "true_incremental_conversions",
        "regret_conversions",
        "expected_incremental_npv",
        "realised_incremental_npv",
        "realised_npv",
    ]
    table, fig = _outcome_html(ctx, outcomes, metrics)
    body = [
        table,
        _p(
            "Targeting campaigns only (after the randomised pilot). True incremental conversions "
            "sum p1 − p0 over contacted users; the regret compares with the oracle contacting the "
            "same number of users by true effect. Realised campaign NPV also counts the organic "
            "responses of untreated users, valued at the offer each is logged as a control for."
        ),
    ]
    baseline = str(options.baseline_arm or ctx.baseline)
    paired = ["true_incremental_conversions", "expected_incremental_npv"]
    if (outcomes[ARM] == baseline).any():
        body.append(_paired_html(outcomes, paired, baseline, ctx.level))
    headlines = _campaign_headlines(ctx, outcomes, start, metrics, paired, baseline)
    figures: dict[str, Figure] = {"uplift_outcomes": fig}
    captions = {
        "uplift_outcomes": "Targeting campaigns after the pilot: the arm with the highest "
        "true incremental conversions and the lowest regret targets best."
    }
    tables = {"uplift_outcomes": outcomes}
    scores, curves = ca.uplift_learner_evaluation(
        rd,
        learners=_scorers(rd.scenario, options),
        base=options.base_model,
        folds=options.folds,
        budget_fraction=options.budget_fraction,
        before_campaign=start,
    )
    if len(scores):
        keys = list(LEARNER_LABELS)
        wide = _ci_cells(scores, "learner", keys, ctx.level).rename(columns=LEARNER_LABELS)
        body.append(
            html_table(
                wide,
                caption=f"Learners cross-fitted on the pilot "
                f"(mean over seeds [{ctx.level:.0%} CI]); oracle = ranking by "
                "the true effect",
                right_align=list(LEARNER_LABELS.values()),
            )
        )
        tables["uplift_learners"] = scores
        tables["uplift_qini_curves"] = curves
        for offer in sorted(curves["offer"].unique()):
            name = f"uplift_qini_offer{int(offer)}"
            figures[name] = _qini_figure(curves, int(offer), ctx.colors)
            captions[name] = (
                "Qini curves of out-of-fold scores on the pilot: the higher a learner's "
                "curve above the dotted random line (and the closer to the dashed oracle), "
                "the better it ranks users by their true effect."
            )
    return SectionOutput(
        html="".join(body), tables=tables, figures=figures, captions=captions,
        headlines=headlines,
    )  # fmt: skip


# ------------------------------------------------------------------------------ NBA
def _nba(ctx: ReportContext) -> SectionOutput | None:
    found = _outcomes(ctx, ctx.options.nba)
    if not isinstance(found, tuple):
        return found
    options, start, outcomes = found
    rd = ctx.results
    metrics = [
        "contacts",
        "realised_npv",
        "realised_incremental_npv",
        "expected_incremental_npv",
        "true_incremental_conversions",
    ]
    table, fig = _outcome_html(ctx, outcomes, metrics)
    body = [
        table,
        _p(
            "Realised incremental NPV = realised NPV of the contacted users minus their expected "
            "organic value (p0 · value): what the contacts earned. Expected incremental NPV is its "
            "noise-free counterpart from the simulator's p1 − p0."
        ),
    ]
    baseline = str(options.baseline_arm or ctx.baseline)
    paired = ["expected_incremental_npv", "realised_incremental_npv"]
    if (outcomes[ARM] == baseline).any():
        body.append(_paired_html(outcomes, paired, baseline, ctx.level))
    tables = {"nba_outcomes": outcomes}
    gaps = ca.allocation_gaps(rd, start)
    if len(gaps):
        summary = (
            gaps.groupby("method", sort=False)
            .agg(
                campaigns=("gap", "size"),
                mean_value=("value", "mean"),
                mean_gap=("gap", "mean"),
                max_gap=("gap", "max"),
                mean_treated=("treated", "mean"),
            )
            .reset_index()
        )
        body.append(
            html_table(
                summary,
                caption="Oracle budget allocation on true incremental "
                "NPV: greedy (value per cost), LP relaxation with rounding, "
                "exact MILP; gap = (LP bound − value) / LP bound",
            )
        )
        tables["nba_allocation_gaps"] = gaps
    return SectionOutput(
        html="".join(body),
        tables=tables,
        figures={"nba_outcomes": fig},
        captions={
            "nba_outcomes": "NBA strategies on the evaluated campaigns (pilot excluded): the "
            "highest expected incremental NPV is the best strategy."
        },
        headlines=_campaign_headlines(ctx, outcomes, start, metrics, paired, baseline),
    )


# ------------------------------------------------------------------------------ look-alike
def _paired(frame: pd.DataFrame, metric: str, baseline: str, level: float) -> pd.DataFrame:
    """Per arm: mean [CI] over seeds of ``metric(arm) − metric(baseline)`` on the same seed."""
    base = frame[frame[ARM] == baseline].set_index(SEED)[metric]
    rows = []
    for arm, part in frame.groupby(ARM, sort=False):
        diff = part.set_index(SEED)[metric] - base.reindex(part[SEED]).to_numpy()
        r = mean_ci(diff.to_numpy(dtype=np.float64), level)
        rows.append({ARM: arm, f"{metric} − {baseline}": _fmt_ci(r.mean, r.ci_low, r.ci_high)})
    return pd.DataFrame(rows)


def _paired_html(frame: pd.DataFrame, metrics: Sequence[str], baseline: str, level: float) -> str:
    """Differences with ``baseline`` on the same seed, one column per metric."""
    table = _paired(frame, metrics[0], baseline, level)
    for metric in metrics[1:]:
        table = table.merge(_paired(frame, metric, baseline, level), on=ARM)
    return html_table(
        table,
        caption=f"Difference with {baseline} on the same seed (same world "
        f"and random numbers), mean [{level:.0%} CI]",
        right_align=table.columns[1:],
    )


def _lookalike(ctx: ReportContext) -> SectionOutput | None:
    options = ctx.options.lookalike
    if options is None:
        return None
    rd = ctx.results
    reference = options.reference_arm or ctx.arms[0]
    scenario_days = (rd.scenario.get("schedule") or {}).get("campaign_days") or []
    index = options.campaign
    days = [d for d in scenario_days if d <= ctx.horizon]
    if index >= len(days):
        return SectionOutput(html=_p("No look-alike campaign ran within the horizon."))
    campaign_t = float(days[index])
    label_days = options.label_days
    body: list[str] = []
    tables: dict[str, pd.DataFrame] = {}
    figures: dict[str, Figure] = {}
    captions: dict[str, str] = {}
    auc = ca.churn_model_evaluation(
        rd,
        reference,
        campaign_t,
        label_days,
        options.lookback_days,
        models=options.models,
    )
    if len(auc):
        shares = ["roc_auc", "pr_auc", "churn_rate"]
        wide = _ci_cells(auc, "model", shares, ctx.level, dict.fromkeys(shares, (0.0, 1.0)))
        body.append(
            html_table(
                wide,
                caption=f"Churn model at day {campaign_t:g}: trained at "
                f"cut-off {campaign_t - label_days:g}, tested on churn within "
                f"{label_days:g} days (reference arm {reference}); PR-AUC's "
                "baseline is the churn rate",
                right_align=["roc_auc", "pr_auc", "churn_rate"],
            )
        )
        tables["lookalike_churn_auc"] = auc
    prevented = ca.churns_prevented(rd, reference, campaign_t)
    metrics = [
        "churns",
        "prevented",
        "contacted",
        "contacted_persuadable",
        "contacted_sleeping_dog",
    ]
    counts = dict.fromkeys((m for m in metrics if m != "prevented"), (0.0, math.inf))
    summary = summarise(prevented, by=ARM, metrics=metrics, level=ctx.level, bounds=counts)
    labels = {
        "churns": f"churns after day {campaign_t:g}",
        "prevented": f"churns prevented vs {reference}",
        "contacted": "users contacted",
        "contacted_persuadable": "contacted persuadables",
        "contacted_sleeping_dog": "contacted sleeping dogs",
    }
    body.append(summary_html(summary, metrics, labels=labels, level=ctx.level))
    random_arm = options.random_arm
    if random_arm and (prevented[ARM] == random_arm).any():
        body.append(
            html_table(
                _paired(prevented, "prevented", str(random_arm), ctx.level),
                caption="Churns prevented beyond random targeting of the same "
                "size (paired by seed)",
            )
        )
    body.append(
        _p(
            "Same seed, same world and common random numbers: the difference in churns "
            "with the reference arm is what the campaign changed. A retention offer "
            "lowers the churn hazard of persuadables and raises that of sleeping dogs."
        )
    )
    tables["lookalike_churns"] = prevented
    figures["lookalike_churns"] = plots.metric_bars(
        summary,
        ["prevented", "contacted_persuadable", "contacted_sleeping_dog"],
        colors=ctx.colors,
        labels=labels,
        level=ctx.level,
        title="Look-alike retention",
    )
    captions["lookalike_churns"] = (
        "Churns prevented and who was contacted, per arm: the best targeting prevents the "
        "most churns by contacting persuadables and leaving sleeping dogs alone."
    )
    headline = Headline(
        title=f"Churns prevented by the retention campaign of day {campaign_t:g} "
        f"(vs {reference}, same seed)",
        summary=summary,
        metrics=["prevented", "contacted", "contacted_persuadable", "contacted_sleeping_dog"],
        labels=labels,
        short={"prevented": "churns prevented", "contacted_persuadable": "persuadables",
               "contacted_sleeping_dog": "sleeping dogs"},
    )  # fmt: skip
    return SectionOutput(
        html="".join(body), tables=tables, figures=figures, captions=captions,
        headlines=[headline],
    )  # fmt: skip


#: The sections of this module, in report order.
SECTIONS: tuple[Section, ...] = (
    Section("Segmentation", _segmentation, options="segmentation"),
    Section("Uplift targeting", _uplift, options="uplift"),
    Section("Next Best Action", _nba, options="nba"),
    Section("Look-alike retention", _lookalike, options="lookalike"),
)
