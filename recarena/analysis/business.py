r"""Business metrics of one run, from its event-log tables.

:func:`run_metrics` maps a run's tables to a flat ``{metric name: value}`` dict — one row of
the per-run table that :func:`recarena.analysis.stats.summarise` averages over seeds. Metric
names are the constants of :class:`Metric`; :data:`METRIC_LABELS` gives each a display label
with its unit.

Definitions (:math:`N` decisions, :math:`C` clicks, :math:`U` users who ever arrived):

=============================  ==============================================================
``value_clicks``,              long-term value per *starting* user over the horizon: expected
``value_conversions``,         clicks, conversions and revenue of the users present at the
``value_revenue``              start, divided by their number (:mod:`recarena.analysis.value`;
                               churned users' lost sessions count as zero)
``cf_regret_clicks``, ...      counterfactual regret: the oracle arm's value minus the arm's,
                               paired by seed (added across arms by the report)
``starting_users``             users present at the start
``decisions``                  :math:`N`, session decisions
``clicks``                     :math:`C`, clicks (the realised reward; one per decision at
                               most, several under the ``pbm`` and ``dcm`` choice models)
``ctr``                        decisions with a click / :math:`N` (:math:`C / N` with one
                               click at most)
``mean_expected_reward``       :math:`\frac1N \sum_i \mu_i`, the oracle's expected reward of
                               what was shown (P(click); expected clicks under ``pbm`` and
                               ``dcm``), averaged over decisions (noise-free CTR)
``total_regret``,              *myopic* pseudo-regret :math:`R_N` and :math:`R_N/N` against
``regret_per_decision``        the oracle's best action on the arm's own trajectory
                               (:mod:`recarena.analysis.regret`)
``conversions``                purchases logged by the horizon (conversions still pending at
                               the horizon are not counted)
``conversion_rate``            conversions per click, ``conversions / clicks``
``revenue``                    :math:`\sum` revenue (price × margin) of those conversions
``users``                      :math:`U`, arrivals in ``lifecycle`` (initial population and
                               new users)
``revenue_per_user``           ``revenue / users``
``active_users_end``           users not churned at the horizon, :math:`U - \text{churned}`
``churned_users``              churn events
``retention``                  Kaplan–Meier :math:`\hat S(\text{horizon})`, the share of a
                               cohort still active ``horizon`` days after arrival
                               (:mod:`recarena.analysis.retention`; late arrivals are
                               censored, not counted as retained)
``minutes_per_session``,       under ``pbm`` and ``dcm`` (:data:`SESSION_METRICS`): the mean
``minutes_per_user``           session length, and the minutes of all sessions / :math:`U`
                               (time spent, an engagement measure of the long run)
=============================  ==============================================================

Campaign metrics, only when the ``campaigns`` table has rows. A row is *treated* when
``offer ≥ 0`` (contacted) and *control* when ``offer = −1``:

=================================  ==========================================================
``campaign_rows``                  users considered, summed over campaigns
``contacts``                       treated rows (offers sent)
``contacted_users``                distinct users contacted at least once
``response_rate_treated``          mean ``responded`` over treated rows
``response_rate_control``          mean ``responded`` over control rows
``campaign_npv``                   :math:`\sum` realised ``npv``: response value minus
                                   conversion and contact costs of the contacts
``incremental_npv``                :math:`\sum` ``incremental_npv``: that minus the value the
                                   contacted users would have brought uncontacted (oracle)
``true_incremental_responses``     :math:`\sum_{\text{treated}} (p_1 - p_0)`, the oracle's
                                   expected extra responses caused by the contacts
``npv_per_contacted_user``         :math:`\sum_{\text{treated}}` npv / ``contacted_users``
=================================  ==========================================================

Ratios with a zero denominator are NaN (never a RuntimeWarning).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from recarena.analysis import regret as rg
from recarena.analysis import value as lv
from recarena.analysis.retention import retention_curve, survival_at
from recarena.simulator.log import LIFECYCLE_ARRIVAL, LIFECYCLE_CHURN, Col, Table

__all__ = ["CAMPAIGN_METRICS", "CORE_METRICS", "KEY_METRICS", "METRIC_BOUNDS", "METRIC_LABELS",
           "METRIC_TRIALS", "SESSION_METRICS", "VALUE_METRICS",
           "Metric", "campaign_metrics", "metric_bounds", "run_metrics"]  # fmt: skip


class Metric:
    """Names of the per-run metrics (columns of ``metrics/per_run.csv``)."""

    VALUE_CLICKS = lv.VALUE_CLICKS
    VALUE_CONVERSIONS = lv.VALUE_CONVERSIONS
    VALUE_REVENUE = lv.VALUE_REVENUE
    CF_REGRET_CLICKS = lv.CF_REGRET[lv.VALUE_CLICKS]
    CF_REGRET_CONVERSIONS = lv.CF_REGRET[lv.VALUE_CONVERSIONS]
    CF_REGRET_REVENUE = lv.CF_REGRET[lv.VALUE_REVENUE]
    STARTING_USERS = lv.STARTING_USERS
    DECISIONS = "decisions"
    CLICKS = "clicks"
    CTR = "ctr"
    MEAN_EXPECTED_REWARD = "mean_expected_reward"
    TOTAL_REGRET = rg.TOTAL_REGRET
    REGRET_PER_DECISION = rg.REGRET_PER_DECISION
    CONVERSIONS = "conversions"
    CONVERSION_RATE = "conversion_rate"
    REVENUE = "revenue"
    USERS = "users"
    REVENUE_PER_USER = "revenue_per_user"
    ACTIVE_USERS_END = "active_users_end"
    CHURNED_USERS = "churned_users"
    RETENTION = "retention"
    MINUTES_PER_SESSION = "minutes_per_session"
    MINUTES_PER_USER = "minutes_per_user"
    CAMPAIGN_ROWS = "campaign_rows"
    CONTACTS = "contacts"
    CONTACTED_USERS = "contacted_users"
    RESPONSE_RATE_TREATED = "response_rate_treated"
    RESPONSE_RATE_CONTROL = "response_rate_control"
    CAMPAIGN_NPV = "campaign_npv"
    INCREMENTAL_NPV = "incremental_npv"
    TRUE_INCREMENTAL_RESPONSES = "true_incremental_responses"
    NPV_PER_CONTACTED_USER = "npv_per_contacted_user"


#: Long-term value and counterfactual regret, the headline of every summary.
VALUE_METRICS: tuple[str, ...] = (
    Metric.VALUE_CLICKS, Metric.CF_REGRET_CLICKS, Metric.VALUE_CONVERSIONS,
    Metric.CF_REGRET_CONVERSIONS, Metric.VALUE_REVENUE, Metric.CF_REGRET_REVENUE,
)  # fmt: skip
CORE_METRICS: tuple[str, ...] = (
    *lv.VALUE, Metric.STARTING_USERS,
    Metric.DECISIONS, Metric.CLICKS, Metric.CTR, Metric.MEAN_EXPECTED_REWARD,
    Metric.TOTAL_REGRET, Metric.REGRET_PER_DECISION, Metric.CONVERSIONS,
    Metric.CONVERSION_RATE, Metric.REVENUE, Metric.USERS, Metric.REVENUE_PER_USER,
    Metric.ACTIVE_USERS_END, Metric.CHURNED_USERS, Metric.RETENTION,
)  # fmt: skip
#: Time spent, when sessions have a length (the ``pbm`` and ``dcm`` choice models).
SESSION_METRICS: tuple[str, ...] = (Metric.MINUTES_PER_SESSION, Metric.MINUTES_PER_USER)
CAMPAIGN_METRICS: tuple[str, ...] = (
    Metric.CAMPAIGN_ROWS, Metric.CONTACTS, Metric.CONTACTED_USERS,
    Metric.RESPONSE_RATE_TREATED, Metric.RESPONSE_RATE_CONTROL, Metric.CAMPAIGN_NPV,
    Metric.INCREMENTAL_NPV,
    Metric.TRUE_INCREMENTAL_RESPONSES, Metric.NPV_PER_CONTACTED_USER,
)  # fmt: skip
#: The few metrics shown first (terminal summary, headline table).
KEY_METRICS: tuple[str, ...] = (
    Metric.VALUE_CLICKS, Metric.CF_REGRET_CLICKS, Metric.VALUE_REVENUE,
    Metric.CF_REGRET_REVENUE, Metric.CTR, Metric.REGRET_PER_DECISION, Metric.RETENTION,
)  # fmt: skip

METRIC_LABELS: dict[str, str] = {
    Metric.VALUE_CLICKS: "long-term value (expected clicks / starting user)",
    Metric.VALUE_CONVERSIONS: "long-term value (conversions / starting user)",
    Metric.VALUE_REVENUE: "long-term value (revenue / starting user)",
    Metric.CF_REGRET_CLICKS: "counterfactual regret vs oracle arm (expected clicks / user)",
    Metric.CF_REGRET_CONVERSIONS: "counterfactual regret vs oracle arm (conversions / user)",
    Metric.CF_REGRET_REVENUE: "counterfactual regret vs oracle arm (revenue / user)",
    Metric.STARTING_USERS: "starting users (count)",
    Metric.DECISIONS: "decisions (count)",
    Metric.CLICKS: "clicks (count)",
    Metric.CTR: "CTR (clicks / decision)",
    Metric.MEAN_EXPECTED_REWARD: "mean expected reward (expected clicks / decision)",
    Metric.TOTAL_REGRET: "myopic pseudo-regret, total (expected clicks)",
    Metric.REGRET_PER_DECISION: "myopic pseudo-regret per decision (P(click))",
    Metric.CONVERSIONS: "conversions (count)",
    Metric.CONVERSION_RATE: "conversion rate (conversions / click)",
    Metric.REVENUE: "revenue (currency)",
    Metric.USERS: "users (count)",
    Metric.REVENUE_PER_USER: "revenue per user (currency / user)",
    Metric.ACTIVE_USERS_END: "active users at horizon (count)",
    Metric.CHURNED_USERS: "churned users (count)",
    Metric.RETENTION: "retention at horizon (KM survival, share)",
    Metric.MINUTES_PER_SESSION: "session length (minutes / session)",
    Metric.MINUTES_PER_USER: "time spent (minutes / user)",
    Metric.CAMPAIGN_ROWS: "users considered by campaigns (count)",
    Metric.CONTACTS: "offers sent (count)",
    Metric.CONTACTED_USERS: "users contacted (count)",
    Metric.RESPONSE_RATE_TREATED: "response rate, treated (share)",
    Metric.RESPONSE_RATE_CONTROL: "response rate, control (share)",
    Metric.CAMPAIGN_NPV: "campaign NPV, realised (currency)",
    Metric.INCREMENTAL_NPV: "incremental NPV vs no contact (currency)",
    Metric.TRUE_INCREMENTAL_RESPONSES: "true incremental responses (expected count)",
    Metric.NPV_PER_CONTACTED_USER: "NPV per contacted user (currency / user)",
}


_UNIT = (0.0, 1.0)
_NON_NEGATIVE = (0.0, math.inf)
#: The range of each metric that has one, which picks its interval over seeds
#: (:func:`recarena.analysis.stats.mean_ci`): Wilson at the Korn–Graubard effective size for
#: rates and shares, t on the log scale for counts and other non-negative values. Metrics
#: not listed (counterfactual regret, NPVs: either sign) keep the Student-t interval.
METRIC_BOUNDS: dict[str, tuple[float, float]] = {
    **dict.fromkeys((Metric.CTR, Metric.MEAN_EXPECTED_REWARD, Metric.REGRET_PER_DECISION,
                     Metric.CONVERSION_RATE, Metric.RETENTION, Metric.RESPONSE_RATE_TREATED,
                     Metric.RESPONSE_RATE_CONTROL), _UNIT),
    **dict.fromkeys((Metric.VALUE_CLICKS, Metric.VALUE_CONVERSIONS, Metric.VALUE_REVENUE,
                     Metric.STARTING_USERS, Metric.DECISIONS, Metric.CLICKS,
                     Metric.TOTAL_REGRET, Metric.CONVERSIONS,
                     Metric.REVENUE, Metric.USERS, Metric.REVENUE_PER_USER,
                     Metric.ACTIVE_USERS_END, Metric.CHURNED_USERS, Metric.CAMPAIGN_ROWS,
                     Metric.CONTACTS, Metric.CONTACTED_USERS, Metric.MINUTES_PER_SESSION,
                     Metric.MINUTES_PER_USER), _NON_NEGATIVE),
}  # fmt: skip
#: Rates of Bernoulli counts → the per-run column of their trials: the interval's effective
#: sample size never exceeds the trials (design effect ≥ 1).
METRIC_TRIALS: dict[str, str] = {
    Metric.CTR: Metric.DECISIONS,
    Metric.CONVERSION_RATE: Metric.CLICKS,
    Metric.RESPONSE_RATE_TREATED: Metric.CONTACTS,
}


def metric_bounds(several_clicks: bool) -> dict[str, tuple[float, float]]:
    """:data:`METRIC_BOUNDS`, adjusted when a session can have several clicks (the ``pbm`` and
    ``dcm`` choice models): the mean expected reward (expected clicks) is not a share, and
    the myopic regret is not one either (nor of one sign under a time budget, where the
    oracle's slate is a reference), so it keeps the Student-t interval."""
    if not several_clicks:
        return METRIC_BOUNDS
    bounds = {**METRIC_BOUNDS, Metric.MEAN_EXPECTED_REWARD: _NON_NEGATIVE}
    for regret in (Metric.TOTAL_REGRET, Metric.REGRET_PER_DECISION):
        bounds.pop(regret, None)
    return bounds


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else math.nan


def run_metrics(tables: Mapping[str, pd.DataFrame], horizon: float) -> dict[str, float]:
    """Per-run business, reward and retention metrics (definitions in the module docstring).

    Parameters
    ----------
    tables
        The run's tables by name (:class:`recarena.simulator.log.Table`); a lazy mapping such
        as :class:`recarena.analysis.results.LazyTables` reads only what is used. Missing
        tables count as empty.
    horizon
        Length of the run in days (censoring time of the retention estimate).

    Returns
    -------
    dict
        ``{name: value}`` for :data:`CORE_METRICS`, plus :data:`SESSION_METRICS` when the
        sessions have a length and :data:`CAMPAIGN_METRICS` when the campaigns table has
        rows. Counts are returned as floats (so a per-run frame has one dtype); undefined
        ratios are NaN.
    """
    out: dict[str, float] = lv.long_term_value(tables)
    empty = pd.DataFrame()

    decisions = tables.get(Table.DECISIONS, empty)
    n = len(decisions)
    click = decisions[Col.CLICK].to_numpy(dtype=np.float64) if n else np.zeros(0)
    clicks = float(click.sum())
    out[Metric.DECISIONS] = float(n)
    out[Metric.CLICKS] = clicks
    out[Metric.CTR] = _ratio(float((click > 0).sum()), n)
    out[Metric.MEAN_EXPECTED_REWARD] = (
        _mean(decisions[Col.EXPECTED_REWARD].to_numpy(dtype=np.float64)) if n else math.nan
    )
    out.update(
        rg.regret_metrics(decisions)
        if n
        else dict.fromkeys((Metric.TOTAL_REGRET, Metric.REGRET_PER_DECISION), math.nan)
    )

    conversions = tables.get(Table.CONVERSIONS, empty)
    revenue = (
        float(conversions[Col.REVENUE].to_numpy(dtype=np.float64).sum()) if len(conversions)
        else 0.0
    )  # fmt: skip
    out[Metric.CONVERSIONS] = float(len(conversions))
    out[Metric.CONVERSION_RATE] = _ratio(len(conversions), clicks)
    out[Metric.REVENUE] = revenue

    lifecycle = tables.get(Table.LIFECYCLE, empty)
    if len(lifecycle):
        event = lifecycle[Col.EVENT].to_numpy()
        users = float(np.unique(lifecycle[Col.USER].to_numpy()[event == LIFECYCLE_ARRIVAL]).size)
        churned = float(np.unique(lifecycle[Col.USER].to_numpy()[event == LIFECYCLE_CHURN]).size)
        retention = float(survival_at(retention_curve(lifecycle, horizon), horizon)[0])
    else:
        users, churned, retention = 0.0, 0.0, math.nan
    out[Metric.USERS] = users
    out[Metric.REVENUE_PER_USER] = _ratio(revenue, users)
    out[Metric.ACTIVE_USERS_END] = users - churned
    out[Metric.CHURNED_USERS] = churned
    out[Metric.RETENTION] = retention
    if Col.SESSION_MINUTES in decisions.columns:  # sessions have a length (pbm, dcm)
        minutes = decisions[Col.SESSION_MINUTES].to_numpy(dtype=np.float64)
        out[Metric.MINUTES_PER_SESSION] = _mean(minutes)
        out[Metric.MINUTES_PER_USER] = _ratio(float(minutes.sum()), users)

    campaigns = tables.get(Table.CAMPAIGNS, empty)
    if len(campaigns):
        out.update(campaign_metrics(campaigns))
    return out


def campaign_metrics(campaigns: pd.DataFrame) -> dict[str, float]:
    """The campaign metrics of :func:`run_metrics` (module docstring) for a non-empty table."""
    treated = campaigns[Col.OFFER].to_numpy() >= 0
    responded = campaigns[Col.RESPONDED].to_numpy(dtype=np.float64)
    npv = campaigns[Col.NPV].to_numpy(dtype=np.float64)
    effect = campaigns[Col.TRUE_EFFECT].to_numpy(dtype=np.float64)
    contacted = float(np.unique(campaigns[Col.USER].to_numpy()[treated]).size)
    return {
        Metric.CAMPAIGN_ROWS: float(len(campaigns)),
        Metric.CONTACTS: float(treated.sum()),
        Metric.CONTACTED_USERS: contacted,
        Metric.RESPONSE_RATE_TREATED: _mean(responded[treated]),
        Metric.RESPONSE_RATE_CONTROL: _mean(responded[~treated]),
        Metric.CAMPAIGN_NPV: float(npv.sum()),
        Metric.INCREMENTAL_NPV: float(campaigns[Col.INCREMENTAL_NPV].to_numpy(np.float64).sum()),
        Metric.TRUE_INCREMENTAL_RESPONSES: float(effect[treated].sum()),
        Metric.NPV_PER_CONTACTED_USER: _ratio(float(npv[treated].sum()), contacted),
    }
