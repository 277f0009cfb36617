r"""Analysis of experiments: A/B tests replayed from the logs, bandit allocation, error rates.

Everything here is a pure function of logged tables (and of the resolved scenario, for the
experiment policies' configs); nothing reads simulator objects.

A/B tests
---------
An ``ab_split`` policy logs the variant that served each decision in the ``group`` column.
:func:`replay_test` rebuilds the policy's test from the ``group`` and ``click`` columns of the
decisions table (``responded`` of the campaigns table for campaign A/B tests): trials and
successes of the decisions with :math:`t \le \tau_\ell` at each planned look
:math:`\tau_\ell`, fed to the same :class:`recarena.stats.sequential_test.SequentialTest` the
policy runs, so the recomputed decision is the policy's (see that module for the delivery
caveat). When the policy does not commit, its logs are a plain randomised experiment, and the
same data are also analysed with each of the four rules (``fixed``, ``peeking``,
``sequential_msprt``, ``obrien_fleming``) to compare them on identical data.

Ground truth
------------
The true value of variant :math:`k` of an A/B arm is the mean oracle ``expected_reward``
(P(click) of what was shown; for campaigns P(respond) of the treatment received) over the
decisions it served before the test decided, :math:`\bar\mu_k`. Assignment is a hash of the
user, independent of everything else, so :math:`\bar\mu_k` is an unbiased, click-noise-free
estimate of the variant's value on the population during the test. The **true best** variant
is :math:`\arg\max_k \bar\mu_k`. A run is a **null** (A/A) run when every variant has the
same sub-policy config, or when :math:`\max_k \bar\mu_k - \min_k \bar\mu_k \le 10^{-7}`
(e.g. two banners with equal CTR and no heterogeneity); its rejections are false positives.

For arms that are not A/B tests, the values of the options come from an A/B arm of the same
seed that splits the same options: an A/B arm of ``fixed`` variants gives the value of each
banner (for plain bandits on the variant surface), and an A/B arm with the same sub-policies
gives the value of each (for ``bandit_over_policies``). Without such a reference arm the truth
is unknown and P(correct) is NaN; it is NaN too in worlds whose variants shift before the
horizon (the values measured during an A/B test no longer rank the options at the end).

Metrics
-------
* **time to decision** — the look at which a test rejected (days), over the runs that
  rejected; ``rejected_share`` is the share of runs that did.
* **P(correct)** — share of non-null runs whose final choice is the true best: the A/B winner,
  or for a bandit the option it chose most in the last ``pick_days`` days. Clopper–Pearson
  interval (Clopper & Pearson 1934) over runs.
* **false-positive rate** — share of null runs in which a rule rejected, with its
  Clopper–Pearson interval.
* **share of traffic on the best variant** — share of decisions whose ``expected_reward``
  equals the oracle's ``best_expected_reward`` for that user at that moment (within
  :math:`10^{-6}`), per day.
* **allocation over time** — per day, the share of decisions served by each option (the
  ``group`` column for experiment policies, the shown variant or offer otherwise).
* **health of every A/B run** (:func:`ab_health`) — sample-ratio mismatch: Pearson χ² of the
  users assigned to each variant against the designed weights, flagged at p < 0.001
  (:func:`~recarena.stats.srm_check`); and, for designs with a pre-period
  (``pre_period_days`` P > 0: everyone served the control up to day P, the split and the test
  after it), CUPED (Deng, Xu, Kohavi & Walker 2013) of every treatment against the control
  (:func:`cuped_comparisons`): outcome each user's clicks per session in the test, covariate
  the same ratio in the pre-period, per user by the delta method
  (:func:`~recarena.stats.cuped_ratio_test`), with θ, ρ, the share of variance removed and
  both p-values. Without a pre-period there is no covariate the treatment cannot have
  touched, and CUPED is not computed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from recarena.analysis import regret as rg
from recarena.analysis.results import RunDirectory
from recarena.analysis.stats import ARM, SEED
from recarena.simulator.log import Col, Table, read_table
from recarena.stats import always_valid_ci, cuped_ratio_test, srm_check
from recarena.stats.group_sequential import BoundaryKind
from recarena.stats.intervals import clopper_pearson_interval
from recarena.stats.ratio import moments_at_looks
from recarena.stats.sequential_test import (
    AnalysisUnit,
    Fallback,
    SequentialTest,
    TestKind,
    TestOutcome,
    TestPlan,
    before_start,
    test_plan,
)
from recarena.typing import FloatArray, IntArray

__all__ = [
    "AB_KIND",
    "BANDIT_KIND",
    "CUPED_COLUMNS",
    "CUPED_RULE",
    "METHODS",
    "ExperimentAnalysis",
    "ab_health",
    "analyse_experiments",
    "cuped_comparisons",
    "daily_allocation",
    "daily_share_on_best",
    "expected_outcome",
    "look_counts",
    "modal_choice",
    "per_user_counts",
    "proportion_ci",
    "replay_test",
    "test_trajectories",
    "variant_values",
]

AB_KIND = "ab_split"
BANDIT_KIND = "bandit_over_policies"
#: The decision rules, replayed on the logs of non-committing A/B arms.
METHODS: tuple[TestKind, ...] = ("fixed", "peeking", "sequential_msprt", "obrien_fleming",
                                 "bayes")  # fmt: skip
#: CUPED's fixed-horizon z-test per user (arms with a pre-period), scored beside the rules.
CUPED_RULE = "cuped"
#: Analysis units: the design's own first; the other is replayed for contrast.
UNITS: tuple[AnalysisUnit, ...] = ("user", "session")
_TIE = 1e-7  # float32 oracle columns: values closer than this are equal
_ON_BEST = 1e-6


# Column names of the tables built here.
DAY = rg.DAY
OPTION = "option"
SHARE = "share"
SHARE_ON_BEST = "share_on_best"
COMPARISON = "comparison"


# ====================================================================== per-table helpers
def outcome_column(frame: pd.DataFrame) -> str:
    """``click`` for decisions, ``responded`` for campaigns."""
    return Col.CLICK if Col.CLICK in frame.columns else Col.RESPONDED


def expected_outcome(frame: pd.DataFrame) -> FloatArray:
    """Oracle expected reward of each row: ``expected_reward`` (decisions), or P(respond) of
    the treatment received, ``p_treated`` if an offer was sent else ``p_control``
    (campaigns)."""
    if Col.EXPECTED_REWARD in frame.columns:
        return frame[Col.EXPECTED_REWARD].to_numpy(dtype=np.float64)
    treated = frame[Col.OFFER].to_numpy() >= 0
    return np.where(
        treated,
        frame[Col.P_TREATED].to_numpy(dtype=np.float64),
        frame[Col.P_CONTROL].to_numpy(dtype=np.float64),
    )


def look_counts(
    frame: pd.DataFrame, looks: FloatArray, n_variants: int
) -> tuple[FloatArray, FloatArray]:
    r"""Cumulative successes and trials per variant at each look, shape (K, L) each.

    A row with ``group`` k ≥ 0 and time t counts at every look :math:`\tau_\ell \ge t`.
    """
    t = frame[Col.T].to_numpy(dtype=np.float64)
    group = frame[Col.GROUP].to_numpy(dtype=np.int64)
    y = frame[outcome_column(frame)].to_numpy(dtype=np.float64) > 0
    n_looks = looks.size
    bucket = np.searchsorted(looks, t, side="left")
    keep = (group >= 0) & (group < n_variants) & (bucket < n_looks)
    cell = group[keep] * n_looks + bucket[keep]
    size = n_variants * n_looks
    trials = np.bincount(cell, minlength=size).reshape(n_variants, n_looks)
    successes = np.bincount(cell, y[keep].astype(np.float64), minlength=size)
    successes = successes.reshape(n_variants, n_looks)
    return np.cumsum(successes, axis=1), np.cumsum(trials, axis=1).astype(np.float64)


@dataclass(frozen=True)
class ABDesign:
    """What the analysis needs of an ``ab_split`` arm, read from its resolved config.

    The run directory's ``scenario.yaml`` holds every policy's parameters with their defaults
    filled in, so the analysis reads the design from it without importing the policy.
    """

    test: TestKind
    alpha: float
    horizon_days: float | None
    checkpoint_every: float
    msprt_tau: float
    commit: bool
    fallback: Fallback
    boundary: BoundaryKind
    unit: AnalysisUnit
    weights: tuple[float, ...]
    variant_names: tuple[str, ...]
    variant_configs: tuple[dict[str, Any], ...]
    pre_period_days: float = 0.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ABDesign:
        """From an ``ab_split`` policy config with every parameter present."""
        variants = config["variants"]
        return cls(
            test=config["test"],
            alpha=float(config["alpha"]),
            horizon_days=config["horizon_days"],
            checkpoint_every=float(config["checkpoint_every"]),
            msprt_tau=float(config["msprt_tau"]),
            commit=bool(config["commit"]),
            fallback=config["fallback"],
            # run directories written before the convention was selectable used this one
            boundary=config.get("boundary", "obf_two_sided"),
            unit=config.get("analysis_unit", "session"),
            weights=tuple(float(w) for w in (config.get("weights") or [1.0] * len(variants))),
            variant_names=tuple(str(v["name"]) for v in variants),
            variant_configs=tuple(dict(v["policy"]) for v in variants),
            pre_period_days=float(config.get("pre_period_days", 0.0)),
        )

    def plan(self, horizon: float) -> TestPlan:
        """The test design for a run of ``horizon`` days (``horizon_days`` when set)."""
        h = self.horizon_days if self.horizon_days is not None else horizon
        return test_plan(
            self.test, self.alpha, h, self.checkpoint_every, self.msprt_tau, self.fallback,
            self.boundary, self.unit, self.pre_period_days,
        )  # fmt: skip

    def split(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(pre_period, test)`` rows of a run's table: decisions up to
        ``pre_period_days`` (everyone on the control, not tested) and after it."""
        before = before_start(frame[Col.T].to_numpy(np.float64), self.pre_period_days)
        return frame[before], frame[~before]


def replay_test(
    frame: pd.DataFrame,
    params: ABDesign,
    horizon: float,
    test: TestKind | None = None,
    unit: AnalysisUnit | None = None,
) -> TestOutcome:
    """Recompute an ``ab_split`` test from its logged ``group`` and outcome columns.

    Parameters
    ----------
    frame
        The decisions table (or campaigns table for a campaign A/B test) of one run.
    params
        The A/B policy's parameters.
    horizon
        The run's horizon (days): the test horizon when ``horizon_days`` is unset, and no
        look after it is evaluated.
    test
        Replay with another rule on the same data (default: the policy's own).
    unit
        Replay at another analysis unit (default: the policy's own); ``"user"`` needs the
        ``user`` column.

    Rows of the pre-period (``pre_period_days``) are not part of the test and are left out.
    """
    plan = params.plan(horizon)
    if test is not None and test != plan.test:
        plan = replace(plan, test=test)
    if unit is not None and unit != plan.unit:
        plan = replace(plan, unit=unit)
    k = len(params.variant_names)
    frame = params.split(frame)[1]
    successes, trials = look_counts(frame, plan.looks, k)
    moments = None
    if plan.unit == "user":
        moments = moments_at_looks(
            frame[Col.T].to_numpy(np.float64), frame[Col.USER].to_numpy(np.int64),
            frame[Col.GROUP].to_numpy(np.int64),
            frame[outcome_column(frame)].to_numpy(np.float64) > 0, plan.looks, k,
        )  # fmt: skip
    replay = SequentialTest(plan, k)
    for look in range(int(np.sum(plan.looks <= horizon + 1e-9))):
        replay.add_look(
            successes[:, look], trials[:, look], None if moments is None else moments[look]
        )
    return replay.outcome()


#: Per-run CUPED columns of an A/B run (first treatment vs the control).
CUPED_COLUMNS: tuple[str, ...] = (
    "cuped_theta", "cuped_rho", "cuped_variance_reduction", "cuped_estimate",
    "cuped_estimate_unadjusted", "cuped_p", "cuped_p_unadjusted",
)  # fmt: skip


def per_user_counts(frame: pd.DataFrame, users: IntArray) -> tuple[FloatArray, FloatArray]:
    """Successes and trials of each of ``users`` (sorted ids) in ``frame``, 0 for a user
    without rows."""
    if users.size == 0:
        return np.zeros(0), np.zeros(0)
    ids = frame[Col.USER].to_numpy(np.int64)
    index = np.minimum(np.searchsorted(users, ids), users.size - 1)
    mine = users[index] == ids
    y = (frame[outcome_column(frame)].to_numpy(np.float64) > 0)[mine]
    successes = np.bincount(index[mine], y.astype(np.float64), minlength=users.size)
    trials = np.bincount(index[mine], minlength=users.size)
    return successes.astype(np.float64), trials.astype(np.float64)


def cuped_comparisons(frame: pd.DataFrame, params: ABDesign, until: float) -> pd.DataFrame:
    r"""CUPED of every treatment against the control of one A/B run with a pre-period.

    Outcome: each user's clicks per session (responses per contact) in the test, from
    ``pre_period_days`` to ``until``; covariate: the same ratio over the pre-period, when
    every user was served the control (:func:`~recarena.stats.cuped_ratio_test`, per user by
    the delta method). A user's group is the one their test-period rows were served by.

    Returns
    -------
    pandas.DataFrame
        One row per treatment k ≥ 1: ``comparison``, ``treatment``, ``users_control``,
        ``users_treatment``, ``theta``, ``rho``, ``variance_reduction``, ``estimate``,
        ``se``, ``estimate_unadjusted``, ``se_unadjusted``, ``p_value``,
        ``p_value_unadjusted``, ``significant``, ``significant_unadjusted`` (p ≤ the design's
        α); empty without a pre-period or with fewer than 2 users in a group.
    """
    columns = ["comparison", "treatment", "users_control", "users_treatment", "theta", "rho",
               "variance_reduction", "estimate", "se", "estimate_unadjusted",
               "se_unadjusted", "p_value", "p_value_unadjusted", "significant",
               "significant_unadjusted"]  # fmt: skip
    if params.pre_period_days <= 0.0:
        return pd.DataFrame(columns=columns)
    pre, test = params.split(frame)
    test = test[(test[Col.T].to_numpy(np.float64) <= until + 1e-9)]
    group = test[Col.GROUP].to_numpy(np.int64)
    rows = []
    per_group = []
    for g in range(len(params.variant_names)):
        users = np.unique(test[Col.USER].to_numpy(np.int64)[group == g])
        y, n = per_user_counts(test[group == g], users)
        x, m = per_user_counts(pre, users)
        per_group.append((y, n, x, m))
    for k in range(1, len(per_group)):
        if min(per_group[0][0].size, per_group[k][0].size) < 2:
            continue
        r = cuped_ratio_test(per_group[0], per_group[k])
        rows.append({
            "comparison": k, "treatment": params.variant_names[k], "users_control": r.units_a,
            "users_treatment": r.units_b, "theta": r.theta, "rho": r.rho,
            "variance_reduction": r.variance_reduction, "estimate": r.estimate, "se": r.se,
            "estimate_unadjusted": r.estimate_unadjusted, "se_unadjusted": r.se_unadjusted,
            "p_value": r.p_value, "p_value_unadjusted": r.p_value_unadjusted,
            "significant": r.p_value <= params.alpha,
            "significant_unadjusted": r.p_value_unadjusted <= params.alpha,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def ab_health(frame: pd.DataFrame, params: ABDesign, until: float) -> dict[str, float]:
    r"""SRM and CUPED of one A/B run (module docstring): ``srm_p, srm_mismatch`` on the test
    rows with :math:`t \le` ``until``, and :data:`CUPED_COLUMNS` of the first treatment
    against the control (:func:`cuped_comparisons`; NaN without a pre-period or with fewer
    than 2 users in a group)."""
    k = len(params.variant_names)
    test = params.split(frame)[1]
    t = test[Col.T].to_numpy(np.float64)
    group = test[Col.GROUP].to_numpy(np.int64)
    user = test[Col.USER].to_numpy(np.int64)
    keep = (t <= until + 1e-9) & (group >= 0) & (group < k)
    pairs = np.unique(np.stack([user[keep], group[keep]], axis=1), axis=0)
    counts = np.bincount(pairs[:, 1], minlength=k)
    shares = np.asarray(params.weights) / np.sum(params.weights)
    out = dict.fromkeys(("srm_p", "srm_mismatch", *CUPED_COLUMNS), math.nan)
    if counts.sum() > 0:
        srm = srm_check(counts, shares)
        out["srm_p"], out["srm_mismatch"] = srm.p_value, float(srm.mismatch)
    cuped = cuped_comparisons(frame, params, until)
    if len(cuped):
        first = cuped.iloc[0]
        out.update(
            cuped_theta=float(first["theta"]), cuped_rho=float(first["rho"]),
            cuped_variance_reduction=float(first["variance_reduction"]),
            cuped_estimate=float(first["estimate"]),
            cuped_estimate_unadjusted=float(first["estimate_unadjusted"]),
            cuped_p=float(first["p_value"]), cuped_p_unadjusted=float(first["p_value_unadjusted"]),
        )  # fmt: skip
    return out


def test_trajectories(outcome: TestOutcome, alpha: float, tau: float) -> pd.DataFrame:
    """Per comparison and look: estimate, p-values, z, threshold and the confidence sequence.

    Returns
    -------
    pandas.DataFrame
        ``comparison`` (treatment index k ≥ 1), ``t``, ``estimate`` (rate_k − rate_0),
        ``p_nominal``, ``p_sequential``, ``z``, ``threshold``, ``cs_low``, ``cs_high`` (the
        always-valid confidence sequence of :func:`~recarena.stats.always_valid_ci`
        at level 1 − α with mixing variance τ²).
    """
    k, n_looks = outcome.trials.shape
    if n_looks == 0:
        return pd.DataFrame()
    s, n = outcome.successes, outcome.trials
    cs = always_valid_ci(
        np.broadcast_to(s[0], s[1:].shape), np.broadcast_to(n[0], n[1:].shape),
        s[1:], n[1:], tau**2, alpha,
    )  # fmt: skip
    comparison = np.repeat(np.arange(1, k), n_looks)
    return pd.DataFrame(
        {
            COMPARISON: comparison,
            Col.T: np.tile(outcome.looks, k - 1),
            "estimate": cs.estimate.ravel(),
            "p_nominal": outcome.p_nominal.ravel(),
            "p_sequential": outcome.p_sequential.ravel(),
            "z": outcome.z.ravel(),
            "threshold": np.tile(outcome.threshold, k - 1),
            "cs_low": cs.lower.ravel(),
            "cs_high": cs.upper.ravel(),
        }
    )


def option_column(frame: pd.DataFrame, kind: str) -> str | None:
    """What an arm of policy ``kind`` allocates over: ``group`` for the experiment policies,
    else the variant or offer shown; ``None`` on the slate surface, and for campaigns that
    only decide whom to contact with a single offer (targeting, not allocation)."""
    if kind in (AB_KIND, BANDIT_KIND):
        return Col.GROUP
    if Col.ACTION in frame.columns and len(frame) and (frame[Col.ACTION].to_numpy() >= 0).any():
        return Col.ACTION
    if Col.OFFER in frame.columns and len(frame):
        offers = frame[Col.OFFER].to_numpy()
        if np.unique(offers[offers >= 0]).size >= 2:
            return Col.OFFER
    return None


def daily_allocation(frame: pd.DataFrame, column: str, horizon: float) -> pd.DataFrame:
    """Per day and option, the share of that day's decisions served by the option.

    Returns ``day, option, share`` for days 1..⌈horizon⌉ (day d covers (d−1, d]) and options
    0..max; days without decisions have NaN shares.
    """
    n_days = max(1, math.ceil(horizon - 1e-9))
    option = frame[column].to_numpy(dtype=np.int64)
    keep = option >= 0
    day = np.clip(np.ceil(frame[Col.T].to_numpy(dtype=np.float64)[keep] - 1e-9), 1, n_days)
    option = option[keep]
    n_options = int(option.max()) + 1 if option.size else 0
    counts = np.zeros((n_days, n_options))
    np.add.at(counts, (day.astype(np.int64) - 1, option), 1.0)
    total = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, counts / total, np.nan)
    return pd.DataFrame(
        {
            DAY: np.repeat(np.arange(1, n_days + 1), n_options),
            OPTION: np.tile(np.arange(n_options), n_days),
            SHARE: share.ravel(),
        }
    )


def on_best(decisions: pd.DataFrame) -> NDArray[np.bool_]:
    """Decisions whose expected reward equals the oracle's best (within 1e-6)."""
    expected = decisions[Col.EXPECTED_REWARD].to_numpy(dtype=np.float64)
    best = decisions[Col.BEST_EXPECTED_REWARD].to_numpy(dtype=np.float64)
    return np.asarray(expected >= best - _ON_BEST)


def daily_share_on_best(decisions: pd.DataFrame, horizon: float) -> pd.DataFrame:
    """``day, share_on_best``: per day, the share of decisions on the oracle's best action."""
    n_days = max(1, math.ceil(horizon - 1e-9))
    day = np.clip(np.ceil(decisions[Col.T].to_numpy(dtype=np.float64) - 1e-9), 1, n_days)
    day = day.astype(np.int64)
    hits = np.bincount(day, on_best(decisions).astype(np.float64), minlength=n_days + 1)[1:]
    count = np.bincount(day, minlength=n_days + 1)[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(count > 0, hits / count, np.nan)
    return pd.DataFrame({DAY: np.arange(1, n_days + 1), SHARE_ON_BEST: share})


def modal_choice(frame: pd.DataFrame, column: str, since: float) -> int:
    """The option served most often at ``t > since`` (ties: lowest index; -1 if none)."""
    t = frame[Col.T].to_numpy(dtype=np.float64)
    option = frame[column].to_numpy(dtype=np.int64)
    option = option[(t > since) & (option >= 0)]
    return int(np.bincount(option).argmax()) if option.size else -1


def variant_values(frame: pd.DataFrame, column: str, n_options: int, until: float) -> FloatArray:
    """Mean oracle expected reward per option over rows with ``t ≤ until`` (NaN if unseen)."""
    t = frame[Col.T].to_numpy(dtype=np.float64)
    option = frame[column].to_numpy(dtype=np.int64)
    keep = (t <= until + 1e-9) & (option >= 0) & (option < n_options)
    value = np.bincount(option[keep], expected_outcome(frame)[keep], minlength=n_options)
    count = np.bincount(option[keep], minlength=n_options)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, value / count, np.nan)


def proportion_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """Share ``successes / n`` and its exact Clopper–Pearson interval (NaN when n = 0)."""
    if n <= 0:
        return math.nan, math.nan, math.nan
    low, high = clopper_pearson_interval(successes, n, level)
    return successes / n, float(low), float(high)


def _best(values: FloatArray) -> int:
    """Index of the largest value, -1 when all are NaN or tied (a null comparison)."""
    if np.isnan(values).all():
        return -1
    filled = np.nan_to_num(values, nan=-np.inf)
    if filled.max() - np.nanmin(values) <= _TIE:
        return -1
    return int(np.argmax(filled))


# ====================================================================== a results directory
@dataclass
class _Role:
    """An arm's policy acting on one table."""

    arm: str
    config: dict[str, Any]
    table: str


def _roles(scenario: Mapping[str, Any]) -> list[_Role]:
    surface = (scenario.get("schedule") or {}).get("surface", "slate")
    roles = []
    for arm in scenario.get("arms") or []:
        if not isinstance(arm, dict):
            continue
        main = Table.DECISIONS if surface != "none" else Table.CAMPAIGNS
        roles.append(_Role(str(arm.get("name")), dict(arm.get("policy") or {}), main))
        if arm.get("campaign_policy"):
            roles.append(_Role(str(arm["name"]), dict(arm["campaign_policy"]), Table.CAMPAIGNS))
    return roles


_COLUMNS = {
    Table.DECISIONS: [Col.T, Col.USER, Col.ACTION, Col.GROUP, Col.CLICK, Col.EXPECTED_REWARD,
                      Col.BEST_EXPECTED_REWARD],
    Table.CAMPAIGNS: [Col.T, Col.USER, Col.OFFER, Col.GROUP, Col.RESPONDED, Col.P_TREATED,
                      Col.P_CONTROL],
}  # fmt: skip


@dataclass
class ExperimentAnalysis:
    """Everything :func:`analyse_experiments` computes for a results directory.

    Attributes
    ----------
    runs
        One row per seed × arm (× table): ``seed, arm, table, kind, option_column, pick,
        best, null, correct, share_on_best, share_on_best_last_day`` and, for A/B arms,
        ``test, commit, decided, significant, decision_time, winner, winner_name``, the true
        value of each variant ``value_<k>`` and per replayed rule ``reject_<rule>`` and
        ``decision_time_<rule>``.
    allocation
        ``seed, arm, day, option, share``.
    share_on_best
        ``seed, arm, day, share_on_best`` (decisions tables only).
    trajectories
        ``seed, arm`` + :func:`test_trajectories` of every A/B run (up to the decision for
        arms that commit: later looks only hold the winner's data).
    option_names
        Per arm, the names of its options (sub-policy or variant names).
    level
        Confidence level of the intervals.
    cuped
        ``seed, arm`` + :func:`cuped_comparisons` of every A/B run with a pre-period (every
        treatment against the control).
    """

    runs: pd.DataFrame
    allocation: pd.DataFrame
    share_on_best: pd.DataFrame
    trajectories: pd.DataFrame
    option_names: dict[str, list[str]]
    level: float = 0.95
    cuped: pd.DataFrame = field(default_factory=pd.DataFrame)

    def ab_runs(self) -> pd.DataFrame:
        """The rows of A/B arms."""
        return self.runs[self.runs["kind"] == AB_KIND]

    def false_positive_rates(self) -> pd.DataFrame:
        """Per A/B arm, rule and analysis unit, over null runs: ``rejections, runs, fpr,
        ci_low, ci_high`` (Clopper–Pearson). ``unit`` is the arm's own analysis unit, or the
        other one replayed on the same logs for contrast (column ``own_unit`` False). Arms
        with a pre-period also score :data:`CUPED_RULE`, CUPED's z-test per user at α.

        Committing arms are only scored on their own rule (their later data depend on it).
        """
        null = self.ab_runs()
        null = null[null["null"].astype(bool)]
        columns = [ARM, "rule", "unit", "own_unit", "rejections", "runs", "fpr", "ci_low",
                   "ci_high"]  # fmt: skip
        rows = []
        for arm, part in null.groupby(ARM, sort=False):
            own = str(part["unit"].iloc[0])
            for unit in (own, *(u for u in UNITS if u != own)):
                suffix = "" if unit == own else f"_{unit}"
                for method in (*METHODS, CUPED_RULE):
                    column = f"reject_{method}{suffix}"
                    if column not in part.columns:
                        continue
                    values = part[column].dropna()
                    if values.empty:
                        continue
                    k, n = int(values.astype(bool).sum()), len(values)
                    fpr, low, high = proportion_ci(k, n, self.level)
                    rows.append({ARM: arm, "rule": method, "unit": unit, "own_unit": unit == own,
                                 "rejections": k, "runs": n, "fpr": fpr, "ci_low": low,
                                 "ci_high": high})  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    def cuped_summary(self) -> pd.DataFrame:
        """Per A/B arm with a pre-period and treatment, over runs: ``runs``, mean ``theta``,
        ``rho`` and ``variance_reduction`` (with its interval over runs,
        ``variance_reduction_low/high``), the spread over runs of the adjusted and raw
        estimates (``sd_estimate``, ``sd_estimate_unadjusted``: the variance reduction seen
        across replications) and the share of runs significant with and without CUPED."""
        from recarena.analysis.stats import mean_ci

        columns = [ARM, "comparison", "treatment", "runs", "theta", "rho",
                   "variance_reduction", "variance_reduction_low", "variance_reduction_high",
                   "sd_estimate", "sd_estimate_unadjusted", "significant_share",
                   "significant_share_unadjusted"]  # fmt: skip
        rows = []
        if len(self.cuped) == 0:
            return pd.DataFrame(columns=columns)
        for (arm, k), part in self.cuped.groupby([ARM, "comparison"], sort=False):
            reduction = mean_ci(part["variance_reduction"].to_numpy(float), self.level,
                                bounds=(0.0, 1.0))  # fmt: skip
            rows.append({
                ARM: arm, "comparison": k, "treatment": part["treatment"].iloc[0],
                "runs": len(part), "theta": float(part["theta"].mean()),
                "rho": float(part["rho"].mean()), "variance_reduction": reduction.mean,
                "variance_reduction_low": reduction.ci_low,
                "variance_reduction_high": reduction.ci_high,
                "sd_estimate": float(part["estimate"].std(ddof=1)),
                "sd_estimate_unadjusted": float(part["estimate_unadjusted"].std(ddof=1)),
                "significant_share": float(part["significant"].astype(bool).mean()),
                "significant_share_unadjusted": float(
                    part["significant_unadjusted"].astype(bool).mean()
                ),
            })  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    def summary(self) -> pd.DataFrame:
        """Per arm: P(correct) with its exact CI; for A/B arms the share of runs whose test
        rejected (``rejected_share``) and the time to decision (mean and log-scale t-interval
        over those runs); the share of traffic on the best variant (whole run and last day;
        mean over seeds with a Wilson–Korn–Graubard interval, variant surface only)."""
        from recarena.analysis.stats import mean_ci

        rows = []
        for arm, part in self.runs.groupby(ARM, sort=False):
            row: dict[str, Any] = {ARM: arm, "kind": part["kind"].iloc[0], "seeds": len(part)}
            scored = part[~part["null"].astype(bool) & part["correct"].notna()]
            k = int((scored["correct"] == 1.0).sum())
            p, low, high = proportion_ci(k, len(scored), self.level)
            row.update({"p_correct": p, "p_correct_low": low, "p_correct_high": high})
            if row["kind"] == AB_KIND:
                early = part["significant"].astype(bool)
                times = mean_ci(part.loc[early, "decision_time"].to_numpy(float), self.level,
                                bounds=(0.0, math.inf))  # fmt: skip
                row.update({
                    "rejected_share": float(early.mean()),
                    "time_to_decision": times.mean,
                    "time_to_decision_low": times.ci_low,
                    "time_to_decision_high": times.ci_high,
                })  # fmt: skip
            for column in ("share_on_best", "share_on_best_last_day"):
                ci = mean_ci(part[column].to_numpy(float), self.level, bounds=(0.0, 1.0))
                row.update({column: ci.mean, f"{column}_low": ci.ci_low,
                            f"{column}_high": ci.ci_high})  # fmt: skip
            rows.append(row)
        return pd.DataFrame(rows)


def _ab_row(
    frame: pd.DataFrame, params: ABDesign, horizon: float
) -> tuple[dict[str, Any], TestOutcome, FloatArray]:
    own = replay_test(frame, params, horizon)
    until = own.decision_time if own.decided else horizon
    test = params.split(frame)[1]  # the pre-period served everyone the control
    values = variant_values(test, Col.GROUP, len(params.variant_names), until)
    configs = list(params.variant_configs)
    null = all(c == configs[0] for c in configs) or _best(values) < 0
    names = list(params.variant_names)
    health = ab_health(frame, params, until)
    row: dict[str, Any] = {
        "test": params.test,
        "unit": params.unit,
        "commit": params.commit,
        "decided": own.decided,
        "significant": own.significant,
        "decision_time": own.decision_time,
        "winner": own.winner,
        "winner_name": names[own.winner] if own.winner >= 0 else None,
        "pick": own.winner,
        "null": null,
        **{f"value_{k}": float(v) for k, v in enumerate(values)},
        **health,
    }
    for unit in UNITS:
        for method in METHODS:
            if params.commit and (method != params.test or unit != params.unit):
                continue
            own_rule = method == params.test and unit == params.unit
            try:
                result = own if own_rule else replay_test(frame, params, horizon, method, unit)
            except ValueError:  # e.g. too many looks for an O'Brien–Fleming design
                continue
            suffix = "" if unit == params.unit else f"_{unit}"
            row[f"reject_{method}{suffix}"] = result.significant
            row[f"decision_time_{method}{suffix}"] = result.decision_time
    if not params.commit and not math.isnan(health["cuped_p"]):  # a per-user test
        suffix = "" if params.unit == "user" else "_user"
        row[f"reject_{CUPED_RULE}{suffix}"] = bool(health["cuped_p"] <= params.alpha)
    return row, own, values


def _stack(parts: Sequence[tuple[int, str, pd.DataFrame]]) -> pd.DataFrame:
    """Per-run frames stacked with their ``seed`` and ``arm`` as leading columns."""
    if not parts:
        return pd.DataFrame()
    keys = pd.DataFrame([(seed, arm) for seed, arm, _ in parts], columns=[SEED, ARM])
    lengths = [len(f) for _, _, f in parts]
    tags = keys.loc[keys.index.repeat(lengths)].reset_index(drop=True)
    body = pd.concat([f for _, _, f in parts], ignore_index=True)
    return pd.concat([tags, body], axis=1)


def analyse_experiments(
    results: RunDirectory, level: float = 0.95, pick_days: float = 1.0
) -> ExperimentAnalysis | None:
    """Analyse every arm of a results directory from the experiments' point of view.

    Parameters
    ----------
    results
        The results directory.
    level
        Confidence level of every interval.
    pick_days
        A bandit's final choice is its most served option over the last ``pick_days`` days.

    Returns
    -------
    ExperimentAnalysis or None
        ``None`` when no arm allocates over variants, offers or sub-policies (e.g. a slate
        scenario without experiment policies).
    """
    scenario = results.scenario
    roles = {(r.arm, r.table): r for r in _roles(scenario)}
    rows: list[dict[str, Any]] = []
    allocation: list[tuple[int, str, pd.DataFrame]] = []
    best_share: list[tuple[int, str, pd.DataFrame]] = []
    trajectories: list[tuple[int, str, pd.DataFrame]] = []
    cuped: list[tuple[int, str, pd.DataFrame]] = []
    names: dict[str, list[str]] = {}
    world = scenario.get("world") or {}
    variant_names = [str(v.get("name")) for v in world.get("variants") or []]
    shift = world.get("shift_day")
    # Truth per seed: option values keyed by what is compared (see module docstring).
    truth: dict[tuple[int, Any], list[FloatArray]] = {}
    for run in results.runs():
        horizon = results.horizon(run)
        stationary = shift is None or float(shift) >= horizon
        for table in (Table.DECISIONS, Table.CAMPAIGNS):
            role = roles.get((run.arm, table))
            if role is None or not (run.path / f"{table}.parquet").exists():
                continue
            frame = read_table(run.path, table, columns=_COLUMNS[table])
            if len(frame) == 0:
                continue
            kind = str(role.config.get("kind"))
            column = option_column(frame, kind)
            if column is None:
                continue
            row: dict[str, Any] = {SEED: run.seed, ARM: run.arm, "table": table, "kind": kind,
                                   "option_column": column, "best": np.nan, "null": False,
                                   "truth_key": None}  # fmt: skip
            if kind == AB_KIND:
                params = ABDesign.from_config(role.config)
                ab, outcome, values = _ab_row(frame, params, horizon)
                row.update(ab)
                row["best"] = float(_best(values)) if _best(values) >= 0 else np.nan
                names[run.arm] = list(params.variant_names)
                configs = list(params.variant_configs)
                truth.setdefault((run.seed, _key(configs)), []).append(values)
                fixed = _fixed_actions(configs)
                if fixed is not None:
                    per_variant = np.full(max(fixed) + 1, np.nan)
                    per_variant[fixed] = values
                    truth.setdefault((run.seed, "variants"), []).append(per_variant)
                traj = test_trajectories(outcome, params.alpha, params.msprt_tau)
                if params.commit and outcome.decided:  # later looks hold the winner's data only
                    traj = traj[traj[Col.T] <= outcome.decision_time + 1e-9]
                trajectories.append((run.seed, run.arm, traj))
                until = outcome.decision_time if outcome.decided else horizon
                cuped.append((run.seed, run.arm, cuped_comparisons(frame, params, until)))
            elif kind == BANDIT_KIND:
                sub_policies = role.config["policies"]
                names[run.arm] = [str(v["name"]) for v in sub_policies]
                row["truth_key"] = _key([dict(v["policy"]) for v in sub_policies])
            else:
                names.setdefault(run.arm, variant_names if column == Col.ACTION else [])
                row["truth_key"] = "variants" if column == Col.ACTION else None
            if not stationary:  # the truth a bandit's final pick is scored on has moved
                row["truth_key"] = None
            if "pick" not in row:
                row["pick"] = modal_choice(frame, column, horizon - pick_days)
            alloc = daily_allocation(frame, column, horizon)
            allocation.append((run.seed, run.arm, alloc))
            if table == Table.DECISIONS and (frame[Col.ACTION].to_numpy() >= 0).all():
                share = daily_share_on_best(frame, horizon)
                best_share.append((run.seed, run.arm, share))
                row["share_on_best"] = float(on_best(frame).mean())
                row["share_on_best_last_day"] = float(share[SHARE_ON_BEST].iloc[-1])
            rows.append(row)
    if not rows:
        return None
    runs = pd.DataFrame(rows)
    for column in ("share_on_best", "share_on_best_last_day"):
        if column not in runs.columns:
            runs[column] = np.nan
    _score(runs, truth)
    return ExperimentAnalysis(
        runs=runs.drop(columns=["truth_key"]),
        allocation=_stack(allocation),
        share_on_best=_stack(best_share),
        trajectories=_stack(trajectories),
        option_names=names,
        level=level,
        cuped=_stack([part for part in cuped if len(part[2])]),
    )


def _key(configs: list[dict[str, Any]]) -> str:
    return repr(configs)


def _fixed_actions(configs: list[dict[str, Any]]) -> list[int] | None:
    """The variant of each sub-policy when all are distinct ``fixed`` variants, else None."""
    if not all(c.get("kind") == "fixed" for c in configs):
        return None
    actions = [int(c.get("action", 0)) for c in configs]
    return actions if len(set(actions)) == len(actions) and min(actions) >= 0 else None


def _score(runs: pd.DataFrame, truth: Mapping[tuple[int, Any], list[FloatArray]]) -> None:
    """Fill ``best`` and ``null`` of non-A/B rows from the reference truth; then ``correct``
    (1.0 / 0.0, NaN when unscored) for every row."""
    best = runs["best"].to_numpy(dtype=np.float64).copy()
    null = runs["null"].to_numpy(dtype=bool).copy()
    for i, (seed, key) in enumerate(zip(runs[SEED], runs["truth_key"], strict=True)):
        if runs["kind"].iloc[i] == AB_KIND or not isinstance(key, str):
            continue
        refs = truth.get((int(seed), key))
        if not refs:
            continue
        width = max(r.size for r in refs)
        stacked = np.vstack([np.pad(r, (0, width - r.size), constant_values=np.nan) for r in refs])
        seen = (~np.isnan(stacked)).sum(axis=0)
        mean = np.where(seen > 0, np.nansum(stacked, axis=0) / np.maximum(seen, 1), np.nan)
        b = _best(mean)
        best[i], null[i] = (np.nan, True) if b < 0 else (float(b), False)
    runs["best"] = best
    runs["null"] = null
    pick = runs["pick"].to_numpy(dtype=np.float64)
    scored = ~null & ~np.isnan(best)
    runs["correct"] = np.where(scored, (pick == best).astype(np.float64), np.nan)
