r"""Offline evaluation of slate recommenders on a logged history (refits policies).

This is the one place that refits policies on a finished run's log, so it lives above the
policy layer; the report's recommender section only reads what it writes
(:func:`write_evaluations`: ``metrics/offline_evaluation.csv``).

Protocols
---------
* **Global time split** (:func:`global_time_split`, the default): one cut time :math:`t_s`
  for everybody. Train = every logged record with :math:`t \le t_s` (clicks, purchases,
  impressions, lifecycle, and the features of users who had arrived by then); test = the
  clicks and purchases after :math:`t_s`. Nothing from after the cut reaches the model, so
  there is no leakage (Meng, McCreadie, Macdonald & Ounis, RecSys 2020). The candidate
  catalogue is what was on sale at :math:`t_s` (``catalogue="at_split"``) or everything
  released by the end of the log (``"all"``, to measure new items; models then see items
  that had no interaction before the cut — content and hybrid models can rank them, pure CF
  cannot).
* **Leave-last-one-out** (:func:`leave_last_one_out`): each user's latest interaction (with
  every earlier interaction of that user with the same item) is held out; everything else
  trains. Common in the literature, but it leaks time: other users' later behaviour is in the
  training data. Use the global split for claims about deployment.

Ranking
-------
Each model ranks the **full candidate catalogue** for every test user (top ``k``); items the
user consumed in train are removed from the relevance set when ``filter_train_items`` (the
models filter them too). Relevance is binary: the items the user clicked or bought in the
test period. Metrics come from :mod:`recarena.analysis.ranking` (HitRate, MRR, NDCG — linear
gain, ideal DCG over :math:`\min(k, |R_u|)` — precision, recall, MAP, user coverage,
novelty, ARP, Gini) with catalogue coverage over the candidate catalogue.

**Inverse-propensity weighting.** A log records clicks only on what its policy showed, so
items the logging policy exposed often look more relevant than they are. Alongside the naive
metrics, :func:`ips_ranking_metrics` weights each held-out relevant item by
:math:`1/\hat p_i`, its exposure propensity in the train log (the share of logged slates that
contained it), self-normalised per user (Schnabel et al., ICML 2016; Yang et al., RecSys
2018): ``ips_recall@k`` :math:`= \sum_{i \in R_u} 1[\text{rank}_i \le k]/\hat p_i \big/
\sum_{i \in R_u} 1/\hat p_i` and ``ips_dcg@k`` with :math:`1/\log_2(\text{rank}_i + 1)`
for the indicator, averaged over users. On a uniformly random log :math:`\hat p_i` is nearly
constant and the weighted metrics equal the naive ones; the gap on another log is the
exposure bias. Relevant items never exposed in train have no propensity and are left out.

**Sampled evaluation** (``sampled_negatives=n``) ranks each user's relevant items among
``n`` uniformly sampled non-relevant candidates. It is *only* behind this flag and warns:
sampled metrics are inconsistent with the full ranking and can even reverse model
comparisons (Krichene & Rendle, KDD 2020).

Slices
------
``all``; ``warm_users`` / ``cold_users`` (with / without train interactions); ``warm_items``
/ ``cold_items``: the items with / without train interactions — the model ranks *within*
that part of the candidate catalogue and relevance is restricted to it. Within-slice ranking
asks "how well are new items ordered?"; in a mixed ranking new items rarely reach the top k
of any model, so the slice would mostly measure how much a model favours the old ones. CF
models cannot score new items at all, so their cold-item lists are the popularity fallback
(all new items tie at zero: ordered by id).

Models
------
A :class:`~recarena.policies.recommenders.base.HistoryRecommender` is fitted on the train history
and asked for its exploitation ranking (:meth:`recommend`, no exploration, popularity
fallback included, as it would act). Any other slate policy is set up, fitted (if
``batch_fit``), fed the train clicks as click feedback (if ``online``; each click arrives as a
slate whose clicked slot holds the item), and asked to ``act`` once at :math:`t_s` — its
slates (length = slate size) are its ranking. Policies configured from a mapping have their
``epsilon`` (where they have one) set to 0: offline rankings are exploitation only.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from recarena.analysis.options import RecsysOptions, analysis_options
from recarena.analysis.ranking import ranking_report, relevance_from_frame
from recarena.analysis.results import RunDirectory
from recarena.contract import (
    DecisionRequest,
    EnvironmentSpec,
    Feedback,
    FeedbackKind,
    History,
    Surface,
)
from recarena.experiment.schema import ScenarioConfig
from recarena.policies import registry
from recarena.policies.base import Policy
from recarena.policies.recommenders.base import (
    HistoryRecommender,
    interaction_frame,
    truncate_history,
)
from recarena.simulator.engine import environment_spec
from recarena.simulator.log import LIFECYCLE_EVENTS, Col, Table, read_slates
from recarena.simulator.simulation import build_world
from recarena.typing import BoolArray, IntArray

__all__ = [
    "OfflineSplit",
    "evaluate_offline",
    "evaluate_run",
    "global_time_split",
    "history_from_tables",
    "ips_ranking_metrics",
    "leave_last_one_out",
    "rank_items",
    "recsys_offline_applies",
    "truncate_history",
    "write_evaluations",
]

#: Written by :func:`write_evaluations` into the metrics directory; read by the report.
OFFLINE_EVALUATION = "offline_evaluation"

Catalogue = Literal["at_split", "all"]


@dataclass(frozen=True)
class OfflineSplit:
    """A train history and the held-out interactions to rank for.

    Attributes
    ----------
    protocol
        ``"time_split"`` or ``"leave_last_one_out"``.
    train
        What the models may learn from.
    test
        Held-out ``t, user, item, weight`` rows.
    t_eval
        When the models rank (the cut time; the end of the log for leave-last-one-out).
    candidates
        Boolean mask over the catalogue of the items that may be ranked.
    features
        Encoded features of every user in the full log (index = user id), for test users
        who arrived after the cut.
    """

    protocol: str
    train: History
    test: pd.DataFrame
    t_eval: float
    candidates: BoolArray
    features: pd.DataFrame


# ------------------------------------------------------------------------------ histories
def history_from_tables(
    tables: Mapping[str, pd.DataFrame],
    features: NDArray[np.float32],
    feature_names: tuple[str, ...],
    slates: NDArray[np.integer] | None = None,
) -> History:
    """Rebuild the observable :class:`History` of a finished run from its event-log tables.

    ``features`` are the world's encoded user features (the world is a pure function of the
    scenario and seed); users enter ``user_features`` with their arrival. ``slates`` (N, k)
    are the decisions' slates when the decisions frame has no ``slate`` column
    (:func:`recarena.simulator.log.read_slates`).
    """
    dec = tables[Table.DECISIONS]
    if slates is None:
        slates = np.stack(list(dec[Col.SLATE])) if len(dec) else np.zeros((0, 0), np.int64)
    clicked = dec[Col.CLICK].to_numpy() > 0
    clicks = pd.DataFrame(
        {
            "t": dec[Col.T].to_numpy()[clicked],
            "user": dec[Col.USER].to_numpy(np.int64)[clicked],
            "item": dec[Col.CLICKED_ITEM].to_numpy(np.int64)[clicked],
            "position": dec[Col.CLICKED_POSITION].to_numpy(np.int64)[clicked],
        }
    )
    conv = tables[Table.CONVERSIONS] if Table.CONVERSIONS in tables else pd.DataFrame()
    conversions = pd.DataFrame(
        {
            "t": conv[Col.T].to_numpy() if len(conv) else np.zeros(0),
            "user": conv[Col.USER].to_numpy(np.int64) if len(conv) else np.zeros(0, np.int64),
            "item": conv[Col.ITEM].to_numpy(np.int64) if len(conv) else np.zeros(0, np.int64),
            "revenue": conv[Col.REVENUE].to_numpy() if len(conv) else np.zeros(0),
        }
    )
    impressions = pd.DataFrame(
        {
            "t": dec[Col.T].to_numpy(),
            "user": dec[Col.USER].to_numpy(np.int64),
            "slate": list(np.asarray(slates, dtype=np.int64)),
            "clicked_position": dec[Col.CLICKED_POSITION].to_numpy(np.int64),
        }
    )
    life = tables[Table.LIFECYCLE]
    lifecycle = pd.DataFrame(
        {
            "t": life[Col.T].to_numpy(),
            "user": life[Col.USER].to_numpy(np.int64),
            "event": np.array(LIFECYCLE_EVENTS)[life[Col.EVENT].to_numpy().astype(np.int64)],
        }
    )
    joined = np.unique(lifecycle.loc[lifecycle["event"] == "arrival", "user"].to_numpy(np.int64))
    user_features = pd.DataFrame(features[joined], index=joined, columns=list(feature_names))
    user_features.index.name = "user"
    t_end = float(max(lifecycle["t"].max() if len(lifecycle) else 0.0, clicks["t"].max()
                      if len(clicks) else 0.0))  # fmt: skip
    return History(
        t=t_end,
        clicks=clicks,
        conversions=conversions,
        impressions=impressions,
        campaigns=pd.DataFrame(),
        lifecycle=lifecycle,
        user_features=user_features,
    )


# ------------------------------------------------------------------------------ protocols
def global_time_split(
    history: History,
    spec: EnvironmentSpec,
    t_split: float | None = None,
    *,
    test_fraction: float = 0.2,
    catalogue: Catalogue = "at_split",
    conversion_weight: float = 1.0,
) -> OfflineSplit:
    """Train on everything up to ``t_split``, test on the interactions after it.

    ``t_split`` defaults to the time by which ``1 − test_fraction`` of the interactions had
    happened. See the module docstring for ``catalogue``.
    """
    events = interaction_frame(history, conversion_weight)
    if t_split is None:
        if not len(events):
            raise ValueError("the history holds no interactions to split")
        t_split = float(np.quantile(events["t"].to_numpy(), 1.0 - test_fraction))
    test = events.loc[events["t"].to_numpy() > t_split].reset_index(drop=True)
    horizon = t_split if catalogue == "at_split" else max(history.t, t_split)
    return OfflineSplit(
        protocol="time_split",
        train=truncate_history(history, t_split),
        test=test,
        t_eval=t_split,
        candidates=spec.item_release_time <= horizon,
        features=history.user_features,
    )


def leave_last_one_out(
    history: History, spec: EnvironmentSpec, *, conversion_weight: float = 1.0
) -> OfflineSplit:
    """Hold out each user's latest interacted item (all their interactions with it)."""
    events = interaction_frame(history, conversion_weight)
    last = events.groupby("user", sort=True).tail(1)
    pairs = pd.MultiIndex.from_frame(last[["user", "item"]])

    def without(frame: pd.DataFrame) -> pd.DataFrame:
        if not len(frame):
            return frame
        keys = pd.MultiIndex.from_frame(frame[["user", "item"]])
        return frame.loc[~keys.isin(pairs)].reset_index(drop=True)

    held = events.loc[pd.MultiIndex.from_frame(events[["user", "item"]]).isin(pairs)]
    test = held.groupby(["user", "item"], as_index=False).agg(
        t=("t", "max"), weight=("weight", "sum")
    )
    train = replace(
        history, clicks=without(history.clicks), conversions=without(history.conversions)
    )
    return OfflineSplit(
        protocol="leave_last_one_out",
        train=train,
        test=test[["t", "user", "item", "weight"]],
        t_eval=history.t,
        candidates=spec.item_release_time <= history.t,
        features=history.user_features,
    )


# ------------------------------------------------------------------------------ ranking
def _make(model: Mapping[str, Any] | Policy) -> Policy:
    """A fresh policy; a config's ``epsilon`` is set to 0 (rankings are exploitation only)."""
    if isinstance(model, Policy):
        return model
    config = dict(model)
    if "epsilon" in registry.get(str(config.get("kind"))).Params.model_fields:
        config["epsilon"] = 0.0
    return registry.make(config)


def _replay_clicks(policy: Policy, history: History, spec: EnvironmentSpec) -> None:
    clicks = history.clicks
    if not len(clicks):
        return
    n = len(clicks)
    items = clicks["item"].to_numpy(np.int64)
    users = clicks["user"].to_numpy(np.int64)
    features = history.user_features.reindex(users).fillna(0.0).to_numpy(np.float32)
    policy.learn(
        Feedback(
            kind=FeedbackKind.CLICK,
            surface=Surface.SLATE,
            t=history.t,
            users=users,
            actions=np.repeat(items[:, None], spec.slate_size, axis=1),
            rewards=np.ones(n),
            features=features,
            clicked_position=np.zeros(n, dtype=np.int64),
            propensities=np.full(n, np.nan),
            decision_time=clicks["t"].to_numpy(np.float64),
        )
    )


def rank_items(
    model: Mapping[str, Any] | Policy,
    split: OfflineSplit,
    spec: EnvironmentSpec,
    users: IntArray,
    k: int,
    *,
    seed: int = 0,
    filter_train_items: bool = True,
    catalogues: Sequence[BoolArray] | None = None,
    prefitted: bool = False,
) -> tuple[list[IntArray], Policy]:
    """Fit ``model`` on ``split.train`` once; rank each catalogue for each of ``users``.

    Parameters
    ----------
    catalogues
        Boolean masks of the items to rank among (default: ``[split.candidates]``).
    prefitted
        ``model`` is a policy already set up and fitted on ``split.train`` (for instance by
        a sequence of refits up to the cut): it ranks as it is, without a refit.

    Returns
    -------
    lists, policy
        One ``(len(users), k)`` array per catalogue (``-1`` padded; for non-recommender
        policies the width is the slate size), and the fitted policy.
    """
    if prefitted:
        if not isinstance(model, Policy):
            raise TypeError(f"a prefitted model must be a fitted Policy, not {type(model)}")
        policy = model
    else:
        policy = _make(model)
        spec = replace(spec, surfaces=frozenset({Surface.SLATE}))
        policy.setup(spec, np.random.default_rng(seed))
        policy.fit(split.train)
    features = split.features.reindex(users).fillna(0.0).to_numpy(np.float32)
    masks = [split.candidates] if catalogues is None else list(catalogues)
    out: list[IntArray] = []
    if isinstance(policy, HistoryRecommender):
        for mask in masks:
            recs, _ = policy.recommend(users, features, mask, k, filter_consumed=filter_train_items)
            out.append(recs)
        return out, policy
    if policy.online and not prefitted:
        _replay_clicks(policy, split.train, spec)
    for mask in masks:
        request = DecisionRequest(
            surface=Surface.SLATE, t=split.t_eval, users=users, features=features,
            available_items=mask,
        )  # fmt: skip
        out.append(policy.act(request).actions.astype(np.int64))
    return out, policy


# ------------------------------------------------------------------------------ evaluation
def _sampled_lists(
    recs: IntArray, relevant: sp.csr_array, n_negatives: int, k: int, rng: np.random.Generator
) -> IntArray:
    """Keep, in order, each user's relevant items and ``n_negatives`` sampled others."""
    b, n = relevant.shape
    keep = relevant.toarray() > 0
    draws = rng.random((b, n))
    draws[keep] = np.inf
    negatives = np.argsort(draws, axis=1, kind="stable")[:, :n_negatives]
    keep[np.arange(b)[:, None], negatives] = True
    valid = recs >= 0
    mask = np.where(valid, keep[np.arange(b)[:, None], np.maximum(recs, 0)], False)
    order = np.argsort(~mask, axis=1, kind="stable")
    out = np.take_along_axis(np.where(mask, recs, -1), order, axis=1)[:, :k]
    return out


def exposure_propensity(impressions: pd.DataFrame, n_items: int) -> NDArray[np.float64]:
    r"""Share of logged slates that contained each item, :math:`\hat p_i` (0 when unseen)."""
    if not len(impressions):
        return np.zeros(n_items)
    slates = np.stack(list(impressions[Col.SLATE])).astype(np.int64)
    shown = np.zeros(n_items)
    for column in slates.T:  # a slate holds an item at most once
        valid = column >= 0
        shown += np.bincount(column[valid], minlength=n_items)[:n_items]
    return shown / slates.shape[0]


def ips_ranking_metrics(
    recs: IntArray, relevance: sp.csr_array, propensity: NDArray[np.float64], k: int
) -> dict[str, float]:
    """Self-normalised inverse-propensity recall and DCG at ``k`` (module docstring).

    Parameters
    ----------
    recs
        (users, ≥ k) ranked item columns of ``relevance`` (−1 = empty slot).
    relevance
        (users, items) binary relevance.
    propensity
        Exposure propensity of each item column; items with propensity 0 are left out.
    k
        Cut-off.

    Returns
    -------
    dict
        ``{"ips_recall@k": …, "ips_dcg@k": …}``: means over users with at least one weighted
        relevant item (NaN when there is none).
    """
    rel = sp.coo_array(relevance)
    weight = np.where(propensity > 0, 1.0 / np.where(propensity > 0, propensity, 1.0), 0.0)
    users, items = rel.row.astype(np.int64), rel.col.astype(np.int64)
    n_users, n_items = relevance.shape
    total = np.bincount(users, weight[items], minlength=n_users)
    top = np.asarray(recs, dtype=np.int64)[:, :k]
    row = np.repeat(np.arange(top.shape[0]), top.shape[1])
    rank = np.tile(np.arange(1, top.shape[1] + 1), top.shape[0])
    item = top.ravel()
    hit = (item >= 0) & np.isin(row * n_items + item, users * n_items + items)
    w = weight[np.maximum(item, 0)] * hit
    recall = np.bincount(row, w, minlength=n_users)
    dcg = np.bincount(row, w / np.log2(rank + 1.0), minlength=n_users)
    counted = total > 0
    if not counted.any():
        return {f"ips_recall@{k}": np.nan, f"ips_dcg@{k}": np.nan}
    return {
        f"ips_recall@{k}": float(np.mean(recall[counted] / total[counted])),
        f"ips_dcg@{k}": float(np.mean(dcg[counted] / total[counted])),
    }


def evaluate_offline(
    models: Mapping[str, Mapping[str, Any] | Policy],
    split: OfflineSplit,
    spec: EnvironmentSpec,
    *,
    k: int = 10,
    seed: int = 0,
    filter_train_items: bool = True,
    slices: bool = True,
    sampled_negatives: int | None = None,
    n_boot: int = 0,
    level: float = 0.95,
    prefitted: bool = False,
) -> pd.DataFrame:
    """Rank the candidate catalogue with every model and score it against the test period.

    Parameters
    ----------
    models
        ``name → policy config`` (or a fresh :class:`Policy`).
    split
        From :func:`global_time_split` or :func:`leave_last_one_out`.
    spec
        The environment the models are deployed in (catalogue attributes, features).
    k
        Cut-off.
    seed
        Seed of the models' streams and of the bootstrap / negative sampling.
    filter_train_items
        Models filter items each user consumed in train, and those items are not relevant.
    slices
        Add the cold/warm user and item slices.
    sampled_negatives
        Rank among this many sampled negatives instead of the full catalogue (warns).
    n_boot
        Bootstrap replicates for per-user intervals (0 = none).
    level
        Confidence level of the intervals.
    prefitted
        The models are policies already fitted on ``split.train`` (e.g. by daily refits up
        to the cut, to compare refit strategies); they are ranked without a refit.

    Returns
    -------
    pandas.DataFrame
        ``protocol, model, slice, metric, value, ci_low, ci_high, n_users`` with metric names
        like ``ndcg@10`` and ``catalogue_coverage@10``.
    """
    if sampled_negatives is not None:
        warnings.warn(
            "sampled evaluation ranks test items among a few sampled negatives; its metrics "
            "are inconsistent with full-catalogue ranking and may reorder models "
            "(Krichene & Rendle 2020). Use it only for comparison with published numbers.",
            UserWarning,
            stacklevel=2,
        )
    test = split.test
    train_events = interaction_frame(split.train, 1.0)
    train_pairs = pd.MultiIndex.from_frame(train_events[["user", "item"]])
    if filter_train_items and len(test):
        test = test.loc[~pd.MultiIndex.from_frame(test[["user", "item"]]).isin(train_pairs)]
    test = test.loc[split.candidates[test["item"].to_numpy(np.int64)]]
    users = np.unique(test["user"].to_numpy(np.int64))
    candidates = np.flatnonzero(split.candidates)
    position = np.full(spec.n_items, -1, dtype=np.int64)
    position[candidates] = np.arange(candidates.size)
    row = np.searchsorted(users, test["user"].to_numpy(np.int64))
    frame = pd.DataFrame({"user": row, "item": position[test["item"].to_numpy(np.int64)]})
    relevance = relevance_from_frame(frame, n_users=users.size, n_items=candidates.size)
    popularity = np.bincount(
        train_events["item"].to_numpy(np.int64), minlength=spec.n_items
    ).astype(np.float64)
    warm_items = popularity > 0
    warm_users = np.isin(users, train_events["user"].to_numpy(np.int64))
    item_slices = {"warm_items": warm_items[candidates], "cold_items": ~warm_items[candidates]}
    rng = np.random.default_rng(seed)
    exposure = exposure_propensity(split.train.impressions, spec.n_items)[candidates]
    length = candidates.size if sampled_negatives is not None else k
    catalogues = [split.candidates]
    if slices:
        for item_mask in item_slices.values():
            full_mask = np.zeros(spec.n_items, dtype=bool)
            full_mask[candidates[item_mask]] = True
            catalogues.append(full_mask)
    rows: list[pd.DataFrame] = []
    for name, model in models.items():
        lists, _ = rank_items(
            model, split, spec, users, length, seed=seed,
            filter_train_items=filter_train_items, catalogues=catalogues, prefitted=prefitted,
        )  # fmt: skip
        ranked = []
        for recs in lists:
            recs = np.where(recs >= 0, position[np.maximum(recs, 0)], -1)
            if sampled_negatives is not None:
                recs = _sampled_lists(recs, relevance, sampled_negatives, k, rng)
            ranked.append(recs)
        everyone = np.ones(users.size, bool)
        cases: list[tuple[str, BoolArray, Any, IntArray]] = [
            ("all", everyone, relevance, ranked[0])
        ]
        if slices:
            cases += [
                ("warm_users", warm_users, relevance, ranked[0]),
                ("cold_users", ~warm_users, relevance, ranked[0]),
            ]
            for (slice_name, item_mask), recs in zip(item_slices.items(), ranked[1:], strict=True):
                if not item_mask.any():
                    continue
                sliced = sp.csr_array(relevance @ sp.diags_array(item_mask.astype(np.float64)))
                sliced.eliminate_zeros()
                cases.append((slice_name, everyone, sliced, recs))
        for slice_name, user_mask, rel, recs in cases:
            if not user_mask.any():
                continue
            report = ranking_report(
                recs[user_mask],
                sp.csr_array(rel[np.flatnonzero(user_mask)]),
                k,
                item_popularity=popularity[candidates],
                rng=rng if n_boot else None,
                n_boot=max(n_boot, 1),
                alpha=1.0 - level,
            ).reset_index()
            if slice_name == "all" and sampled_negatives is None:
                ips = ips_ranking_metrics(recs, sp.csr_array(rel), exposure, k)
                extra = pd.DataFrame({"metric": list(ips), "value": list(ips.values()),
                                      "n_users": report["n_users"].iloc[0]})  # fmt: skip
                report = pd.concat([report, extra], ignore_index=True)
            report.insert(0, "slice", slice_name)
            report.insert(0, "model", name)
            rows.append(report)
    columns = ["protocol", "model", "slice", "metric", "value", "ci_low", "ci_high", "n_users"]
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.concat(rows, ignore_index=True)
    out.insert(0, "protocol", split.protocol)
    return out[columns]


def evaluate_run(
    run_dir: Any,
    models: Mapping[str, Mapping[str, Any] | Policy],
    *,
    seed: int,
    log_arm: str,
    protocol: Literal["time_split", "leave_last_one_out"] = "time_split",
    test_fraction: float = 0.2,
    catalogue: Catalogue = "at_split",
    **kwargs: Any,
) -> pd.DataFrame:
    """:func:`evaluate_offline` on the log of one arm of a results directory.

    The world of ``seed`` is rebuilt from the scenario (a pure function of it) for the
    catalogue and the user features; the history is the ``log_arm`` run's event log. Extra
    keyword arguments go to :func:`evaluate_offline`. Adds a ``seed`` column.
    """
    rd = run_dir if isinstance(run_dir, RunDirectory) else RunDirectory(run_dir)
    config = ScenarioConfig.model_validate(rd.scenario)
    world = build_world(config.world, config.schedule, seed)
    spec = environment_spec(world, config.schedule, frozenset({Surface.SLATE}))
    run = rd.run(seed, log_arm)
    history = history_from_tables(
        run.tables, world.features, world.feature_names, read_slates(run.path)
    )
    history = replace(history, t=float(config.schedule.days))
    if protocol == "time_split":
        split = global_time_split(history, spec, test_fraction=test_fraction, catalogue=catalogue)
    else:
        split = leave_last_one_out(history, spec)
    out = evaluate_offline(models, split, spec, seed=seed, **kwargs)
    out.insert(0, "seed", seed)
    return out


def _arm_policies(scenario: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    arms = scenario.get("arms") or []
    return {a["name"]: a["policy"] for a in arms if isinstance(a, dict) and "policy" in a}


def _policy_class(config: Mapping[str, Any]) -> type[Policy] | None:
    try:
        return registry.get(str(config.get("kind")))
    except KeyError:  # a plugin: not evaluated offline
        return None


def recsys_offline_applies(scenario: Mapping[str, Any]) -> bool:
    """Whether a scenario gets the recommender section (and, with it, offline evaluation).

    It does on the slate surface when some arm is a
    :class:`~recarena.policies.recommenders.base.HistoryRecommender` or the scenario sets
    ``analysis.recsys``; ``analysis.recsys.offline: false`` keeps the section but skips the
    refits.
    """
    schedule = scenario.get("schedule") or {}
    if schedule.get("surface", "slate") != "slate":
        return False
    options = analysis_options(scenario).recsys
    recommenders = [
        name
        for name, cfg in _arm_policies(scenario).items()
        if (cls := _policy_class(cfg)) is not None and issubclass(cls, HistoryRecommender)
    ]
    return bool(recommenders) or options is not None


def recsys_offline_evaluation(rd: RunDirectory) -> pd.DataFrame:
    """Every non-oracle arm's model refitted on the ``log_arm`` run's log, per seed.

    Options come from ``analysis.recsys`` (``log_arm`` — default the ``random`` arm, else the
    first —, ``protocol``, ``test_fraction``, ``catalogue``, ``k``, ``sampled_negatives``).
    Returns the long table of :func:`evaluate_run` with a ``log_arm`` column.
    """
    scenario = rd.scenario
    options = analysis_options(scenario).recsys or RecsysOptions()
    policies = _arm_policies(scenario)
    models = {}
    for name, cfg in policies.items():
        cls = _policy_class(cfg)
        if cls is not None and not cls.needs_oracle:
            models[name] = cfg
    default_log = next(
        (n for n, c in policies.items() if c.get("kind") == "random"), next(iter(policies), None)
    )
    log_arm = options.log_arm or default_log
    if log_arm is None or not models:
        return pd.DataFrame()
    frames = [
        evaluate_run(
            rd,
            models,
            seed=seed,
            log_arm=log_arm,
            protocol=options.protocol,
            test_fraction=options.test_fraction,
            catalogue=options.catalogue,
            k=options.k,
            sampled_negatives=options.sampled_negatives,
        )
        for seed in rd.seeds
    ]
    out = pd.concat(frames, ignore_index=True)
    out["log_arm"] = log_arm
    return out


def write_evaluations(run_dir: RunDirectory | str | Any) -> None:
    """Run the evaluations that refit policies and write their tables for the report.

    Writes ``metrics/offline_evaluation.csv`` when :func:`recsys_offline_applies` (empty,
    header only, when ``analysis.recsys.offline`` is false); its presence is what tells the
    report that the recommender section applies. A model that fails to refit is reported as
    a warning and leaves the table empty rather than stopping the report.
    """
    rd = run_dir if isinstance(run_dir, RunDirectory) else RunDirectory(run_dir)
    path = rd.metrics_dir / f"{OFFLINE_EVALUATION}.csv"
    path.unlink(missing_ok=True)
    if not recsys_offline_applies(rd.scenario):
        return
    options = analysis_options(rd.scenario).recsys or RecsysOptions()
    offline = pd.DataFrame(columns=["seed", "model", "slice", "metric", "value", "log_arm"])
    if options.offline:
        try:
            offline = recsys_offline_evaluation(rd)
        except Exception as exc:  # the report must not die with one model
            warnings.warn(f"offline recommender evaluation failed: {exc}", stacklevel=2)
    rd.metrics_dir.mkdir(parents=True, exist_ok=True)
    offline.to_csv(path, index=False)
