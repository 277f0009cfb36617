"""One simulation: a world, a seed and the policies of one arm — a pure function of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recarena.contract import PolicyProtocol, Surface
from recarena.simulator.engine import Engine, RunStats, environment_spec
from recarena.simulator.log import EventLog
from recarena.simulator.params import SCAN_MODELS, ScheduleParams, WorldParams
from recarena.simulator.rng import RandomStreams
from recarena.simulator.world import World, generate_world

__all__ = ["SimulationResult", "build_world", "simulate"]


@dataclass
class SimulationResult:
    """The log, run statistics and world of one simulation."""

    log: EventLog
    stats: RunStats
    world: World
    engine: Engine


def build_world(params: WorldParams, schedule: ScheduleParams, seed: int) -> World:
    """The world of ``seed``: the same for every arm run on that seed."""
    return generate_world(params, RandomStreams(seed).seed_sequence("world"), schedule.days)


def simulate(
    params: WorldParams,
    schedule: ScheduleParams,
    seed: int,
    session_policy: PolicyProtocol | None = None,
    campaign_policy: PolicyProtocol | None = None,
    *,
    world: World | None = None,
    log_path: Path | str | None = None,
    oracle_columns: bool = True,
    policy_stream: str = "policy",
    progress: Callable[[float], None] | None = None,
) -> SimulationResult:
    """Run one arm on one seed.

    Parameters
    ----------
    params, schedule
        World recipe and clock.
    seed
        Root seed: world, common random numbers, drift and policy streams derive from it.
    session_policy, campaign_policy
        Policies for the session surface (``schedule.surface``) and the campaign surface
        (``schedule.campaign_days``); either may be ``None`` where unused.
    world
        A pre-built world (e.g. shared by arms, or calibrated from data); built from
        ``params`` and ``seed`` when omitted.
    log_path
        Directory for the Parquet tables, or ``None`` to keep them in memory.
    oracle_columns
        Compute the best-action oracle column.
    policy_stream
        Name prefix of the policies' random streams (e.g. the arm name), so two arms with
        the same policy draw the same numbers.
    progress
        Called with the simulation time after each day.
    """
    streams = RandomStreams(seed)
    if world is None:
        world = build_world(params, schedule, seed)
    slate_size = schedule.slate_size if schedule.surface == "slate" else 0
    scanning = bool(slate_size) and params.behaviour.choice_model in SCAN_MODELS
    log = EventLog(log_path, slate_size=slate_size, scanning=scanning)
    engine = Engine(
        world=world,
        behaviour=params.behaviour,
        schedule=schedule,
        crn_seed=streams.crn_seed(),
        drift_rng=streams.generator("drift"),
        session_policy=session_policy,
        campaign_policy=campaign_policy,
        log=log,
        oracle_columns=oracle_columns,
        progress=progress,
    )
    session_surface = schedule.session_surface
    roles: list[tuple[PolicyProtocol | None, frozenset[Surface], str]] = [
        (
            session_policy,
            frozenset([session_surface]) if session_surface else frozenset(),
            "session",
        ),
        (campaign_policy, frozenset([Surface.CAMPAIGN]), "campaign"),
    ]
    for policy, surfaces, role in roles:
        if policy is None or not surfaces:
            continue
        policy.setup(
            environment_spec(world, schedule, surfaces),
            streams.generator(f"{policy_stream}/{role}"),
        )
        if policy.needs_oracle:
            policy.attach_oracle(engine.oracle)
    stats = engine.run()
    return SimulationResult(log=log, stats=stats, world=world, engine=engine)
