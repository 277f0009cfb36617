r"""Campaign analyses with the simulator's truth: uplift targeting, Next Best Action, look-alike.

Everything is computed from a results directory (:class:`~recarena.analysis.results.RunDirectory`):
the runs' ``campaigns``, ``decisions``, ``conversions`` and ``lifecycle`` tables, and — for
quantities the log does not carry (features, every offer's true response probabilities,
latent response types) — the world tables the runner wrote for each seed
(:meth:`~recarena.analysis.results.RunDirectory.world`), evaluated with the simulator's own
offer model (:mod:`recarena.simulator.campaigns`). No policy code is imported: models are
refitted with the shared building blocks of :mod:`recarena.models`.

Per-run campaign outcomes (:func:`campaign_outcomes`), over the *evaluated* campaigns
(index ≥ ``from_campaign``, i.e. after the randomised pilot), treated rows :math:`T`
---------------------------------------------------------------------------------------------
======================================  ======================================================
``contacts``                            :math:`|T|`
``true_incremental_conversions``        :math:`\sum_{T} \tau_u`, :math:`\tau = p_1 - p_0`
``oracle_incremental_conversions``      per campaign, the sum of the :math:`|T_c|` largest
                                        :math:`\tau_u` among its rows: oracle targeting with
                                        the same number of contacts
``regret_conversions``                  oracle − true incremental conversions (≥ 0)
``expected_incremental_npv``            :math:`\sum_T p_{1,u}(v_o - c^{conv}_o) - c_o -
                                        p_{0,u} v_o`, the noise-free value of the contacts
                                        (what they earn minus what the users would have
                                        brought organically)
``realised_incremental_npv``            :math:`\sum_T \text{npv}_u - p_{0,u} v_o`: realised
                                        NPV of the treated net of their expected organic value
``realised_npv``                        :math:`\sum` ``npv`` over all rows (treated and
                                        control; see the caveat below)
======================================  ======================================================

The true effect of a row is that of the offer the row is *about* (the offer sent, or for an
untreated row the offer it is a control for), so with several offers the same-size oracle
is computed within those offers (exact with one offer).

*Caveat on* ``realised_npv``: an untreated row earns the organic value of the offer it is
logged as a control for, which a policy chooses; two arms that contact the same users can
therefore differ in it. The incremental measures above do not depend on that choice.

Uplift learners (:func:`uplift_learner_evaluation`): each learner is cross-fitted on the
randomised pilot rows (K folds) and its out-of-fold scores evaluated with
:mod:`recarena.analysis.uplift`: Qini coefficient and AUUC (normalised by the perfect
ranking), uplift@k, PEHE against the true effect, policy value and regret against oracle
targeting of the same fraction; plus the Qini curves and the *oracle* Qini curve (rows
ranked by the true effect).

Look-alike (:func:`churn_model_evaluation`, :func:`churns_prevented`): the churn classifier
is rebuilt exactly as the policy builds it (cut-off :math:`t_c - H`, aggregates over
:math:`W` days) on the reference arm's log (no retention contacts, so churn is untouched)
and scored on the users alive at the campaign, labelled by churn within :math:`H` days:
ROC-AUC and PR-AUC (average precision). Churns prevented by an arm = churns after the first
campaign in the reference arm − in the arm (same seed: same world and common random numbers,
so the difference is the campaign's effect up to the divergence it causes).

Budget allocation (:func:`allocation_gaps`): on each evaluated campaign the oracle's
problem — the true incremental NPV of every (user, eligible offer), the scenario's budget —
is solved greedily, by the LP relaxation with rounding and exactly (MILP), reporting each
value and its gap to the LP bound.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from recarena.analysis import uplift as um
from recarena.analysis.results import Run, RunDirectory
from recarena.analysis.stats import ARM, SEED
from recarena.models.churn import (
    ActivityLog,
    churn_sample,
    make_churn_classifier,
)
from recarena.models.targeting import (
    allocate,
    make_classifier,
    make_uplift_learner,
    offer_samples,
    positive_proba,
    randomised,
)
from recarena.simulator import campaigns as offer_model
from recarena.simulator.log import LIFECYCLE_ARRIVAL, LIFECYCLE_CHURN, Col, Table
from recarena.simulator.params import ScheduleParams, WorldParams
from recarena.simulator.world_tables import WorldTables
from recarena.typing import BoolArray, FloatArray, IntArray

__all__ = [
    "OUTCOME_METRICS",
    "activity_log",
    "allocation_gaps",
    "campaign_outcomes",
    "churn_model_evaluation",
    "churns_prevented",
    "incremental_npv",
    "offer_eligibility",
    "offer_table",
    "response_probabilities",
    "true_effects",
    "uplift_learner_evaluation",
]


#: Metric columns of :func:`campaign_outcomes`.
OUTCOME_METRICS: tuple[str, ...] = (
    "contacts",
    "true_incremental_conversions",
    "oracle_incremental_conversions",
    "regret_conversions",
    "expected_incremental_npv",
    "realised_incremental_npv",
    "realised_npv",
)


# --------------------------------------------------------------------------------- scenario
def _params(rd: RunDirectory) -> tuple[WorldParams, ScheduleParams]:
    scenario = rd.scenario
    return (
        WorldParams.model_validate(scenario.get("world") or {}),
        ScheduleParams.model_validate(scenario.get("schedule") or {}),
    )


def offer_table(rd: RunDirectory) -> pd.DataFrame:
    """Offers of the scenario: ``name, value, contact_cost, conversion_cost, margin``."""
    world, _ = _params(rd)
    rows = [
        {
            "name": o.name,
            "value": o.value,
            "contact_cost": o.contact_cost,
            "conversion_cost": o.conversion_cost,
            "margin": o.value - o.conversion_cost,
        }
        for o in world.offers
    ]
    return pd.DataFrame(
        rows, columns=["name", "value", "contact_cost", "conversion_cost", "margin"]
    )


def response_probabilities(world: WorldTables, users: IntArray) -> tuple[FloatArray, FloatArray]:
    """True :math:`(p_0, p_1)` of every offer for ``users``, shape (n, O) each
    (:func:`recarena.simulator.campaigns.response_probabilities`)."""
    return offer_model.response_probabilities(
        world.features[users], world.response_type[users], world.offers, world.cate_latent[users]
    )


def true_effects(world: WorldTables, users: IntArray) -> FloatArray:
    """True effect :math:`p_1 - p_0` of every offer for ``users``, shape (n, O)."""
    p0, p1 = response_probabilities(world, users)
    out: FloatArray = p1 - p0
    return out


def incremental_npv(world: WorldTables, users: IntArray) -> FloatArray:
    """True expected incremental NPV of sending each offer, shape (n, O):
    :math:`p_1 (v - c^{conv}) - c - p_0 v`, the simulator's NPV accounting
    (:func:`recarena.simulator.campaigns.expected_incremental_npv`)."""
    p0, p1 = response_probabilities(world, users)
    return offer_model.expected_incremental_npv(p0, p1, world.offers)


def offer_eligibility(world: WorldTables, users: IntArray) -> BoolArray:
    """Boolean (n, O): each offer's eligibility rule holds for the user."""
    return offer_model.eligibility(world.numeric[users], world.offers.eligibility)


def _campaigns(run: Run) -> pd.DataFrame:
    if Table.CAMPAIGNS not in run.tables:
        return pd.DataFrame()
    return run.table(Table.CAMPAIGNS)


# --------------------------------------------------------------------------------- outcomes
def _top_sum(values: FloatArray, m: int) -> float:
    if m <= 0:
        return 0.0
    if m >= values.size:
        return float(values.sum())
    return float(np.partition(values, values.size - m)[values.size - m :].sum())


def run_outcomes(
    campaigns: pd.DataFrame, offers: pd.DataFrame, from_campaign: int
) -> dict[str, float]:
    """The metrics of :data:`OUTCOME_METRICS` for one run's campaigns table."""
    c = campaigns[campaigns[Col.CAMPAIGN] >= from_campaign]
    out = dict.fromkeys(OUTCOME_METRICS, math.nan)
    if len(c) == 0:
        return out
    offer = c[Col.OFFER].to_numpy(dtype=np.int64)
    about = c[Col.CONTROL_FOR].to_numpy(dtype=np.int64)
    treated = offer >= 0
    tau = c[Col.TRUE_EFFECT].to_numpy(dtype=np.float64)
    npv = c[Col.NPV].to_numpy(dtype=np.float64)
    p0 = c[Col.P_CONTROL].to_numpy(dtype=np.float64)
    p1 = c[Col.P_TREATED].to_numpy(dtype=np.float64)
    value = offers["value"].to_numpy(dtype=np.float64)
    conversion = offers["conversion_cost"].to_numpy(dtype=np.float64)
    contact = offers["contact_cost"].to_numpy(dtype=np.float64)
    o = about[treated]
    oracle = 0.0
    for _, part in c.groupby(Col.CAMPAIGN, sort=True):
        m = int((part[Col.OFFER].to_numpy() >= 0).sum())
        oracle += _top_sum(part[Col.TRUE_EFFECT].to_numpy(dtype=np.float64), m)
    true_inc = float(tau[treated].sum())
    out.update(
        contacts=float(treated.sum()),
        true_incremental_conversions=true_inc,
        oracle_incremental_conversions=oracle,
        regret_conversions=oracle - true_inc,
        expected_incremental_npv=float(
            offer_model.incremental_value(
                p0[treated], p1[treated], value[o], conversion[o], contact[o]
            ).sum()
        ),
        realised_incremental_npv=float(c[Col.INCREMENTAL_NPV].to_numpy(np.float64).sum()),
        realised_npv=float(npv.sum()),
    )
    return out


def campaign_outcomes(rd: RunDirectory, from_campaign: int = 1) -> pd.DataFrame:
    """One row per run with campaigns: ``seed, arm`` and :data:`OUTCOME_METRICS`."""
    offers = offer_table(rd)
    rows = []
    for run in rd.runs():
        campaigns = _campaigns(run)
        if len(campaigns):
            rows.append(
                {SEED: run.seed, ARM: run.arm, **run_outcomes(campaigns, offers, from_campaign)}
            )
    return pd.DataFrame(rows, columns=[SEED, ARM, *OUTCOME_METRICS])


# --------------------------------------------------------------------------------- uplift
def pilot_rows(rd: RunDirectory, seed: int, before_campaign: int) -> pd.DataFrame:
    """Randomised campaign rows of the first arm of ``seed`` that has any, before
    ``before_campaign`` (every arm running the same pilot logs the same rows)."""
    for run in rd.runs():
        if run.seed != seed:
            continue
        c = _campaigns(run)
        if len(c) == 0:
            continue
        c = c[c[Col.CAMPAIGN] < before_campaign]
        keep = randomised(c[Col.PROPENSITY].to_numpy(dtype=np.float64))
        if keep.any():
            return c[keep].reset_index(drop=True)
    return pd.DataFrame()


def _qini_on_grid(y: FloatArray, t: FloatArray, scores: FloatArray, grid: FloatArray) -> FloatArray:
    k, q = um.qini_curve(y, t, scores)
    return np.interp(grid, k / k[-1], q / k[-1])


def _fold_scores(
    learner: str, base: str, seed: int, X: FloatArray, t: NDArray[Any], y: FloatArray,
    train: NDArray[Any], test: NDArray[Any],
) -> FloatArray:  # fmt: skip
    """Scores of one fold: the uplift learner's τ̂, or for ``response`` the classic response
    model P(respond | treated, x) fitted on the treated training rows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if learner == "response":
            treated = train[t[train].astype(bool)]
            model = make_classifier(base, seed).fit(X[treated], y[treated])  # type: ignore[arg-type]
            return positive_proba(model, X[test])
        uplift = make_uplift_learner(learner, base, seed)  # type: ignore[arg-type]
        uplift.fit(X[train], t[train], y[train])
        return np.asarray(uplift.predict_uplift(X[test]), dtype=np.float64)


def uplift_learner_evaluation(
    rd: RunDirectory,
    learners: Sequence[str] | Mapping[str, tuple[str, str]] = (
        "s",
        "t",
        "x",
        "class_transformation",
        "transformed_outcome",
    ),
    base: str = "logistic",
    folds: int = 4,
    budget_fraction: float = 0.3,
    before_campaign: int = 1,
    grid_points: int = 101,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cross-fitted uplift learners on each seed's pilot, scored against observed and true
    effects.

    Parameters
    ----------
    learners
        Learner codes (fitted on ``base`` models and named by their code), or a mapping
        ``name → (learner, base model)`` — e.g. one entry per arm that targets by a score.
        The learner ``response`` is the response model P(respond | treated, x).

    Returns
    -------
    scores
        One row per ``seed, offer, learner``: ``qini`` and ``auuc`` (normalised by the
        perfect ranking), ``uplift_at_k`` (k = ``budget_fraction``), ``pehe``,
        ``policy_value`` and ``policy_regret`` (per capita, top ``budget_fraction`` by score
        vs by true effect), ``n`` rows. The pseudo-learner ``oracle`` ranks by the true effect.
    curves
        ``seed, offer, learner, u, qini``: per-capita Qini curves :math:`Q(un)/n` on a grid of
        targeted fractions ``u``, for every learner, ``oracle`` and ``random`` (the diagonal).
    """
    from sklearn.model_selection import KFold

    grid = np.linspace(0.0, 1.0, grid_points)
    scorers = (
        dict(learners) if isinstance(learners, Mapping)
        else {code: (code, base) for code in learners}
    )  # fmt: skip
    score_rows: list[dict[str, Any]] = []
    curve_rows: list[pd.DataFrame] = []
    world_params, _ = _params(rd)
    for seed in rd.seeds:
        pilot = pilot_rows(rd, seed, before_campaign)
        if len(pilot) == 0:
            continue
        world = rd.world(seed)
        for o in range(len(world_params.offers)):
            index, t = offer_samples(
                pilot[Col.OFFER].to_numpy(),
                pilot[Col.CONTROL_FOR].to_numpy(),
                pilot[Col.PROPENSITY].to_numpy(dtype=np.float64),
                o,
                "all",
            )
            if t.sum() < folds * 5 or (t.size - t.sum()) < folds * 5:
                continue
            users = pilot[Col.USER].to_numpy(dtype=np.int64)[index]
            y = pilot[Col.RESPONDED].to_numpy(dtype=np.float64)[index]
            X = world.features[users].astype(np.float64)
            tau = true_effects(world, users)[:, o]
            tf = t.astype(np.float64)
            scored: dict[str, FloatArray] = {"oracle": tau}
            split = KFold(n_splits=folds, shuffle=True, random_state=seed)
            for name, (learner, model_base) in scorers.items():
                oof = np.zeros(users.size)
                for train, test in split.split(X):
                    oof[test] = _fold_scores(learner, model_base, seed, X, t, y, train, test)
                scored[name] = oof
            for name, s in scored.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", um.UpliftMetricWarning)
                    score_rows.append(
                        {
                            SEED: seed,
                            "offer": o,
                            "learner": name,
                            "n": users.size,
                            "qini": um.qini_coefficient(y, tf, s),
                            "auuc": um.auuc(y, tf, s),
                            "uplift_at_k": um.uplift_at_k(y, tf, s, budget_fraction),
                            "pehe": um.pehe(tau, s),
                            "policy_value": um.policy_value(tau, s, budget_fraction),
                            "policy_regret": um.policy_regret(tau, s, budget_fraction),
                        }
                    )
                curve_rows.append(
                    pd.DataFrame(
                        {
                            SEED: seed,
                            "offer": o,
                            "learner": name,
                            "u": grid,
                            "qini": _qini_on_grid(y, tf, s, grid),
                        }
                    )
                )
            end = _qini_on_grid(y, tf, np.zeros(users.size), grid)[-1]
            curve_rows.append(
                pd.DataFrame(
                    {SEED: seed, "offer": o, "learner": "random", "u": grid, "qini": grid * end}
                )
            )
    scores = pd.DataFrame(score_rows)
    curves = pd.concat(curve_rows, ignore_index=True) if curve_rows else pd.DataFrame()
    return scores, curves


# --------------------------------------------------------------------------------- look-alike
def activity_log(run: Run) -> ActivityLog:
    """The observable activity of a run: sessions and clicks from ``decisions``, purchases
    from ``conversions``, arrivals and churn from ``lifecycle``."""
    tables = run.tables
    empty = pd.DataFrame({Col.T: [], Col.USER: []})
    decisions = tables.get(Table.DECISIONS, empty)
    sessions = decisions[[Col.T, Col.USER]] if len(decisions) else empty
    clicks = decisions.loc[decisions[Col.CLICK] > 0, [Col.T, Col.USER]] if len(decisions) else empty
    conversions = tables.get(Table.CONVERSIONS, empty)
    lifecycle = tables[Table.LIFECYCLE]
    return ActivityLog.from_frames(
        sessions,
        clicks,
        conversions,
        lifecycle,
        churn_event=LIFECYCLE_CHURN,
        arrival_event=LIFECYCLE_ARRIVAL,
    )


def churn_model_evaluation(
    rd: RunDirectory,
    reference_arm: str,
    campaign_t: float,
    label_days: float = 7.0,
    lookback_days: float = 14.0,
    models: Sequence[str] = ("logistic", "catboost"),
) -> pd.DataFrame:
    """ROC-AUC and PR-AUC of the look-alike churn model at a campaign, per seed and model.

    Trained at cut-off ``campaign_t − label_days`` as the policy is, evaluated on the users
    alive at ``campaign_t`` (features + aggregates at ``campaign_t``) against churn in
    ``(campaign_t, campaign_t + label_days]`` in the reference arm. Columns ``seed, model,
    roc_auc, pr_auc, churn_rate, n_train, n_test``.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    rows = []
    for run in rd.runs():
        if run.arm != reference_arm:
            continue
        log = activity_log(run)
        world = rd.world(run.seed)
        train = churn_sample(log, campaign_t - label_days, label_days, lookback_days)
        test = churn_sample(log, campaign_t, label_days, lookback_days)
        pos = int(train.churned.sum())
        if min(pos, train.churned.size - pos) < 5 or np.unique(test.churned).size < 2:
            continue
        X_train = np.hstack([world.features[train.users], train.aggregates])
        X_test = np.hstack([world.features[test.users], test.aggregates])
        for name in models:
            model = make_churn_classifier(name, run.seed).fit(X_train, train.churned)  # type: ignore[arg-type]
            p = positive_proba(model, X_test)
            rows.append(
                {
                    SEED: run.seed,
                    "model": name,
                    "roc_auc": float(roc_auc_score(test.churned, p)),
                    "pr_auc": float(average_precision_score(test.churned, p)),
                    "churn_rate": float(test.churned.mean()),
                    "n_train": int(train.users.size),
                    "n_test": int(test.users.size),
                }
            )
        run.tables.clear()
    return pd.DataFrame(
        rows, columns=[SEED, "model", "roc_auc", "pr_auc", "churn_rate", "n_train", "n_test"]
    )


def churns_prevented(rd: RunDirectory, reference_arm: str, from_t: float) -> pd.DataFrame:
    """Churns after ``from_t`` per run, and churns prevented against the reference arm.

    Columns ``seed, arm, churns, prevented`` (reference − arm, same seed), ``contacted``
    (distinct users sent an offer), ``contacted_persuadable`` and
    ``contacted_sleeping_dog`` (latent response types of those users, from the world
    tables: a retention offer lowers the churn hazard of the former and raises the latter's).
    """
    persuadable = offer_model.RESPONSE_TYPES.index("persuadable")
    sleeping = offer_model.RESPONSE_TYPES.index("sleeping_dog")
    rows = []
    for run in rd.runs():
        life = run.table(Table.LIFECYCLE)
        churned = (life[Col.EVENT].to_numpy() == LIFECYCLE_CHURN) & (
            life[Col.T].to_numpy(dtype=np.float64) > from_t
        )
        c = _campaigns(run)
        contacted = (
            np.unique(c.loc[c[Col.OFFER] >= 0, Col.USER].to_numpy(dtype=np.int64))
            if len(c)
            else np.zeros(0, dtype=np.int64)
        )
        types = rd.world(run.seed).response_type[contacted]
        rows.append(
            {
                SEED: run.seed,
                ARM: run.arm,
                "churns": float(churned.sum()),
                "contacted": float(contacted.size),
                "contacted_persuadable": float((types == persuadable).sum()),
                "contacted_sleeping_dog": float((types == sleeping).sum()),
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            SEED,
            ARM,
            "churns",
            "contacted",
            "contacted_persuadable",
            "contacted_sleeping_dog",
        ],
    )
    reference = frame[frame[ARM] == reference_arm].set_index(SEED)["churns"]
    frame.insert(3, "prevented", frame[SEED].map(reference) - frame["churns"])
    return frame


# --------------------------------------------------------------------------------- allocation
def allocation_gaps(
    rd: RunDirectory, from_campaign: int = 1, milp_max_variables: int = 20_000
) -> pd.DataFrame:
    """The oracle's budget allocation on every evaluated campaign: greedy, LP and MILP.

    Users are the rows of the campaign in the first arm of the seed; values the true
    incremental NPV (:func:`incremental_npv`) of each eligible offer; the
    budget the scenario's ``campaign_budget`` (contact costs). Columns ``seed, campaign,
    method, value, bound, gap, treated``; MILP only up to ``milp_max_variables`` positive
    (user, offer) pairs.
    """
    _, schedule = _params(rd)
    offers = offer_table(rd)
    contact = offers["contact_cost"].to_numpy(dtype=np.float64)
    budget = math.inf if schedule.campaign_budget is None else float(schedule.campaign_budget)
    rows = []
    done: set[int] = set()
    for run in rd.runs():
        if run.seed in done:
            continue
        c = _campaigns(run)
        if len(c) == 0:
            continue
        done.add(run.seed)
        world = rd.world(run.seed)
        for index, part in c[c[Col.CAMPAIGN] >= from_campaign].groupby(Col.CAMPAIGN, sort=True):
            users = part[Col.USER].to_numpy(dtype=np.int64)
            values = incremental_npv(world, users)
            values = np.where(offer_eligibility(world, users), values, -np.inf)
            methods = ["greedy", "lp"]
            if int((values > 0).sum()) <= milp_max_variables:
                methods.append("milp")
            for method in methods:
                result = allocate(method, values, contact, budget)  # type: ignore[arg-type]
                rows.append(
                    {
                        SEED: run.seed,
                        "campaign": int(str(index)),
                        "method": method,
                        "value": result.value,
                        "bound": result.bound,
                        "gap": result.gap,
                        "treated": int((result.actions >= 0).sum()),
                    }
                )
    frame = pd.DataFrame(
        rows, columns=[SEED, "campaign", "method", "value", "bound", "gap", "treated"]
    )
    # The greedy solution's gap is measured against the LP bound of the same instance.
    bounds = frame[frame["method"] == "lp"].set_index([SEED, "campaign"])["bound"]
    greedy = frame["method"] == "greedy"
    if greedy.any():
        key = pd.MultiIndex.from_frame(frame.loc[greedy, [SEED, "campaign"]])
        bound = bounds.reindex(key).to_numpy(dtype=np.float64)
        value = frame.loc[greedy, "value"].to_numpy(dtype=np.float64)
        frame.loc[greedy, "bound"] = bound
        frame.loc[greedy, "gap"] = np.where(bound != 0, (bound - value) / np.abs(bound), 0.0)
    return frame
