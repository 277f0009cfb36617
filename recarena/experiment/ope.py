"""Off-policy evaluation checked against the truth: the half that needs policies and worlds.

For a scenario with an ``ope:`` block, every arm (the logging arm and the targets) has been
run on the same seeds under common random numbers, so each target's true value is its own
on-policy run. Here, per seed, the logging arm's decisions are read back, each logged user's
encoded features are taken from the seed's world, every target policy reports its action
distribution π(·|x_i) on those decisions (:meth:`~recarena.policies.base.Policy.
action_probabilities`), a reward model is fitted on the log, and every estimator of
:func:`recarena.analysis.ope.estimate_all` is applied. The estimates go to
``ope/estimates.csv``; the report section (:mod:`recarena.analysis.sections.ope`) joins them
with the targets' on-policy values and summarises bias, RMSE, coverage and ESS.

Targets must be stationary (neither ``online`` nor ``batch_fit``) and report their action
distribution: off-policy estimators value a fixed policy, and a target that learns would
act differently on the logger's log than on its own run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recarena.analysis.ope import LoggedFeedback, estimate_all, fit_reward_model
from recarena.analysis.ope.direct import bootstrap_model_values
from recarena.analysis.ope.estimate import Estimate, cluster_bootstrap_weights
from recarena.analysis.ope.slate import (
    independent_item_ips,
    position_based_ips,
    pseudoinverse_uniform,
)
from recarena.contract import DecisionRequest, Surface
from recarena.experiment.schema import OPEConfig, ScenarioConfig
from recarena.policies import registry
from recarena.policies.base import Policy, campaign_action_index
from recarena.simulator.behaviour import examination_probabilities, examination_weights
from recarena.simulator.campaigns import offer_eligibility
from recarena.simulator.engine import environment_spec
from recarena.simulator.log import (
    Col,
    Table,
    read_clicked_slots,
    read_slates,
    read_slot_propensities,
    read_table,
)
from recarena.simulator.oracle import OracleView
from recarena.simulator.params import SCAN_MODELS
from recarena.simulator.rng import RandomStreams
from recarena.simulator.simulation import build_world
from recarena.simulator.state import SimState
from recarena.simulator.user_model import UserModel
from recarena.simulator.world import World

__all__ = [
    "ESTIMATES_FILE",
    "OPE_DIR",
    "ope_problems",
    "ope_surface",
    "seed_estimates",
    "write_ope_estimates",
]

OPE_DIR = "ope"
ESTIMATES_FILE = "estimates.csv"
Loc = tuple[str | int, ...]


def ope_problems(config: ScenarioConfig) -> list[tuple[Loc, str]]:
    """What makes a scenario's ``ope:`` block impossible to evaluate, as (key path, message)."""
    ope = config.ope
    if ope is None:
        return []
    problems: list[tuple[Loc, str]] = []
    if ope_surface(config) is None:
        problems.append(
            (
                ("ope",),
                "off-policy validation runs on one surface: variant or slate without "
                "campaign_days, or campaigns with surface: none; this scenario has surface "
                f"{config.schedule.surface!r} and campaign_days {config.schedule.campaign_days}",
            )
        )
    shift = config.world.shift_day
    if shift is not None and shift < config.schedule.days:
        problems.append(
            (("world", "shift_day"), "off-policy validation needs a stationary world (no shift)")
        )
    if ope_surface(config) is Surface.SLATE:
        behaviour = config.world.behaviour
        if config.world.catalogue.new_items_per_day > 0:
            problems.append(
                (("world", "catalogue", "new_items_per_day"),
                 "off-policy validation on slates needs a fixed catalogue (new_items_per_day: 0)")
            )  # fmt: skip
        if behaviour.drift_sd > 0 or (behaviour.fatigue > 0 and behaviour.fatigue_memory > 0):
            problems.append(
                (("world", "behaviour"),
                 "off-policy validation on slates needs fixed utilities: set fatigue: 0 and "
                 "drift_sd: 0 (the best slate would move with them)")
            )  # fmt: skip
    arms = {a.name: a for a in config.arms}
    logger = registry.parse_params(arms[ope.logging_arm].policy)[0]
    if not logger.randomised:
        problems.append(
            (
                ("ope", "logging_arm"),
                f"arm {ope.logging_arm!r} runs policy {logger.kind!r}, which does not "
                "randomise, so its log has no usable propensities",
            )
        )
    for i, name in enumerate(ope.targets):
        cls = registry.parse_params(arms[name].policy)[0]
        if cls.online or cls.batch_fit or not cls.reports_probabilities():
            problems.append(
                (
                    ("ope", "targets", i),
                    f"arm {name!r} runs policy {cls.kind!r}: a target must be stationary "
                    "(not online, not batch_fit) and report its action distribution; "
                    f"such policies: {', '.join(_stationary_kinds())}",
                )
            )
    return problems


def ope_surface(config: ScenarioConfig) -> Surface | None:
    """The surface an ``ope:`` block evaluates: banners (``variant``), slates, or campaigns
    (each alone in the scenario); ``None`` otherwise."""
    if config.schedule.surface == "variant":
        return Surface.VARIANT
    if config.schedule.surface == "slate" and not config.schedule.campaign_days:
        return Surface.SLATE
    if config.schedule.surface == "none" and config.schedule.campaign_days:
        return Surface.CAMPAIGN
    return None


def _stationary_kinds() -> list[str]:
    return [
        kind
        for kind, cls in registry.available().items()
        if cls.reports_probabilities() and not (cls.online or cls.batch_fit)
    ]


def _target_policy(
    config: ScenarioConfig, policy_config: dict[str, Any], world: World, seed: int,
    surface: Surface,
) -> Policy:  # fmt: skip
    """A target policy set up as in its own run (same random stream), oracle attached."""
    policy: Policy = registry.make(policy_config)
    role = "campaign" if surface is Surface.CAMPAIGN else "session"
    policy.setup(
        environment_spec(world, config.schedule, frozenset([surface])),
        RandomStreams(seed).generator(f"policy/{role}"),
    )
    if policy.needs_oracle:
        # A stationary world: the truth the oracle acts on is the initial state's.
        state = SimState.initial(world, config.world.behaviour.fatigue_memory)
        model = UserModel(world, state, config.world.behaviour, config.schedule.slate_size)
        policy.attach_oracle(OracleView(model))
    return policy


def _target_probabilities(
    config: ScenarioConfig, policy_config: dict[str, Any], world: World, seed: int,
    log: _Log,
) -> np.ndarray:  # fmt: skip
    """π(·|x_i) of one target policy on the logged decisions, shape (n, K)."""
    surface = log.surface
    policy = _target_policy(config, policy_config, world, seed, surface)
    available = world.items.release_time <= 0.0
    if surface is Surface.VARIANT:
        request = DecisionRequest(
            surface=surface,
            t=0.0,  # stationary targets: the time of the request does not matter
            users=log.users,
            features=world.features[log.users],
            available_items=available,
        )
        return policy.action_probabilities(request)
    # One request per campaign, as the target's own run made them (budgets are per campaign).
    budget = config.schedule.campaign_budget
    assert log.campaign is not None
    out = np.empty((log.users.size, len(world.offers) + 1))
    for index in np.unique(log.campaign):
        rows = np.flatnonzero(log.campaign == index)
        users = log.users[rows]
        request = DecisionRequest(
            surface=surface,
            t=0.0,
            users=users,
            features=world.features[users],
            available_items=available,
            eligible=offer_eligibility(world, users),
            budget=float("inf") if budget is None else float(budget),
            campaign=int(index),
        )
        out[rows] = policy.action_probabilities(request)
    return out


@dataclass(frozen=True)
class _Log:
    """The logging arm's decisions on the evaluated surface."""

    surface: Surface
    users: np.ndarray
    feedback: LoggedFeedback
    campaign: np.ndarray | None = None


def _read_log(run_dir: Path, surface: Surface, n_actions: int, arm: str) -> _Log:
    """Variant decisions (reward: click), or campaign decisions as actions 0 = no offer and
    o + 1 = offer o (reward: a response to a sent offer; 0 without an offer)."""
    if surface is Surface.VARIANT:
        log = read_table(run_dir, Table.DECISIONS, [Col.USER, Col.ACTION, Col.PROPENSITY,
                                                    Col.CLICK])  # fmt: skip
        action = log[Col.ACTION].to_numpy(np.int64)
        reward = log[Col.CLICK].to_numpy(np.float64)
        campaign = None
    else:
        log = read_table(run_dir, Table.CAMPAIGNS, [Col.CAMPAIGN, Col.USER, Col.OFFER,
                                                    Col.PROPENSITY, Col.RESPONDED])  # fmt: skip
        offer = log[Col.OFFER].to_numpy(np.int64)
        action = campaign_action_index(offer)
        reward = (log[Col.RESPONDED].to_numpy(np.float64)) * (offer >= 0)
        campaign = log[Col.CAMPAIGN].to_numpy(np.int64)
    users = log[Col.USER].to_numpy(np.int64)
    feedback = LoggedFeedback(
        action=action,
        reward=reward,
        pscore=log[Col.PROPENSITY].to_numpy(np.float64),
        n_actions=n_actions,
        clusters=users,
        arm=arm,
    )
    return _Log(surface, users, feedback, campaign)


def seed_estimates(config: ScenarioConfig, run_dir: Path, seed: int) -> pd.DataFrame:
    """Every estimator's estimate of every target on one seed's logging run.

    Parameters
    ----------
    config
        The scenario (with an ``ope:`` block).
    run_dir
        The logging arm's run directory for ``seed``.

    Returns
    -------
    pandas.DataFrame
        ``seed, target, estimator, estimate, ci_low, ci_high, ess, n``.
    """
    ope: OPEConfig | None = config.ope
    surface = ope_surface(config)
    assert ope is not None and surface is not None
    world = build_world(config.world, config.schedule, seed)
    if surface is Surface.SLATE:
        return _slate_estimates(config, run_dir, seed, world)
    n_actions = len(world.variants) if surface is Surface.VARIANT else len(world.offers) + 1
    log = _read_log(run_dir, surface, n_actions, ope.logging_arm)
    users, feedback = log.users, log.feedback
    features = world.features[users]

    def refit(weight: np.ndarray | None = None) -> np.ndarray:
        return fit_reward_model(
            features, feedback.action, feedback.reward, feedback.n_actions, ope.reward_model,
            sample_weight=weight,
        )  # fmt: skip

    q_hat = refit()
    arms = {a.name: a for a in config.arms}
    targets = [
        _target_probabilities(config, arms[name].policy, world, seed, log) for name in ope.targets
    ]
    replicates = None
    if ope.bootstrap:
        rng = RandomStreams(seed).generator("ope/bootstrap")
        weights = cluster_bootstrap_weights(users, users.size, rng, ope.bootstrap)
        replicates = bootstrap_model_values(feedback, targets, refit, weights)
    rows: list[dict[str, object]] = []
    for t, (name, probs) in enumerate(zip(ope.targets, targets, strict=True)):
        estimates = estimate_all(
            feedback, probs, q_hat, clip=ope.clip, switch=ope.switch, level=ope.level,
            dm_replicates=None if replicates is None else replicates[:, t],
        )  # fmt: skip
        rows.extend(_rows(seed, name, estimates))
    return pd.DataFrame(rows)


def _slate_positions(
    policy: Policy, world: World, users: np.ndarray, slates: np.ndarray, chunk: int = 4096
) -> np.ndarray:
    """``[i, j, k]`` = P(the target shows the logged item s_ij in slot k), (n, k, k), from
    its per-slot marginals asked in chunks (they are (rows, k, n_items))."""
    n, k = slates.shape
    out = np.empty((n, k, k))
    available = world.items.release_time <= 0.0
    for start in range(0, n, chunk):
        rows = slice(start, min(start + chunk, n))
        request = DecisionRequest(
            surface=Surface.SLATE,
            t=0.0,
            users=users[rows],
            features=world.features[users[rows]],
            available_items=available,
        )
        marginals = policy.action_probabilities(request)  # (b, k slots, items)
        b = marginals.shape[0]
        # out[i, j, slot] = marginals[i, slot, s_ij]
        out[rows] = marginals[np.arange(b)[:, None, None], np.arange(k)[None, None, :],
                              slates[rows][:, :, None]]  # fmt: skip
    return out


def _slate_estimates(
    config: ScenarioConfig, run_dir: Path, seed: int, world: World
) -> pd.DataFrame:
    """IIPS from the logged per-slot propensities; PBM-IPS and the pseudoinverse too when the
    logger is uniformly random (their logging terms need every slot's probability of an
    item, which only the uniform logger's log implies). Reward: the clicks on the slate
    (every clicked slot; several per session under the pbm and dcm choice models)."""
    ope = config.ope
    assert ope is not None
    k = config.schedule.slate_size
    frame = read_table(run_dir, Table.DECISIONS, [Col.USER])
    users = frame[Col.USER].to_numpy(np.int64)
    slates = read_slates(run_dir).astype(np.int64)
    logged = read_slot_propensities(run_dir)
    # Every clicked slot (several per session under the pbm and dcm choice models).
    slot_reward = read_clicked_slots(run_dir).astype(np.float64)
    arms = {a.name: a for a in config.arms}
    uniform = registry.parse_params(arms[ope.logging_arm].policy)[0].kind == "random"
    n_items = int((world.items.release_time <= 0.0).sum())
    behaviour = config.world.behaviour
    if behaviour.choice_model in SCAN_MODELS:  # the examination probabilities ε_j
        theta = examination_probabilities(
            k, behaviour.position_bias, behaviour.position_decay,
            behaviour.examination_profile(k),
        )  # fmt: skip
    else:
        theta = examination_weights(k, behaviour.position_bias, behaviour.position_decay)
    rows: list[dict[str, object]] = []
    for name in ope.targets:
        policy = _target_policy(config, arms[name].policy, world, seed, Surface.SLATE)
        positions = _slate_positions(policy, world, users, slates)
        own = np.diagonal(positions, axis1=1, axis2=2)
        estimates = [
            independent_item_ips(slot_reward, own, logged, clusters=users,
                                 arm=ope.logging_arm, level=ope.level)
        ]  # fmt: skip
        if uniform:
            estimates += [
                position_based_ips(slot_reward, positions, np.full(positions.shape, 1 / n_items),
                                   theta, clusters=users, level=ope.level),
                pseudoinverse_uniform(slot_reward.sum(axis=1), positions, n_items,
                                      clusters=users, level=ope.level),
            ]  # fmt: skip
        rows.extend(_rows(seed, name, estimates))
    return pd.DataFrame(rows)


def _rows(seed: int, target: str, estimates: list[Estimate]) -> list[dict[str, object]]:
    return [
        {"seed": seed, "target": target, "estimator": e.estimator, "estimate": e.value,
         "ci_low": e.ci_low, "ci_high": e.ci_high, "ess": e.ess, "n": e.n}
        for e in estimates
    ]  # fmt: skip


def write_ope_estimates(
    config: ScenarioConfig, out_dir: Path, logging_runs: Mapping[int, Path]
) -> Path | None:
    """Estimate every target on every seed; write ``out_dir/ope/estimates.csv``.

    ``logging_runs`` maps each seed to the logging arm's run directory. Returns ``None``
    (and writes nothing) without an ``ope:`` block.
    """
    if config.ope is None:
        return None
    frame = pd.concat([seed_estimates(config, logging_runs[s], s) for s in config.seeds])
    path = out_dir / OPE_DIR / ESTIMATES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path
