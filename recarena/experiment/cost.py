"""What a run will cost, estimated from the scenario before anything runs, and a refusal of
what would not fit this machine or would take absurdly long.

The estimate is first order, from the world's size and the clock:

* users  U = n_users + Λ · days (arrivals; churn only lowers it);
* decisions  D = U · λ̄ · days on a session surface (λ̄ = ``activity_mean`` sessions a day),
  plus U per campaign day;
* events  E = days / decision_window (batches) + days / checkpoint_every + refits;
* log rows ≈ D (decisions and campaign rows) + 2U (arrivals and churn) + one snapshot per
  checkpoint;
* peak memory of one run = :data:`BASE_BYTES` + :data:`USER_BYTES` · U + :data:`ITEM_BYTES` ·
  items + :data:`IMPRESSION_BYTES` · D when impressions are kept + the log buffers;
* CPU seconds = D · :data:`DECISION_SECONDS` + E · :data:`WINDOW_SECONDS`.

The per-user, per-decision and per-window figures are the engine's measured ones
(``bench/README.md``: a 1M-user, 30-day run peaks at 1.21 GB, 2.96 GB with impressions kept,
64 bytes a decision; ≈ 1M decisions per CPU-second), rounded up. Policies' own fits are not
included (they vary by orders of magnitude); the estimate is a floor for them.

:func:`estimate_run` prices one run (one seed × arm) — a sweep executor can call it per
run; :func:`check_cost` prices the sweep and raises :class:`CostError` naming the estimate
and the knob to turn, unless ``force``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from recarena.experiment.schema import ScenarioConfig
from recarena.simulator.log import CHUNK_BYTES, SCHEMAS

__all__ = [
    "BASE_BYTES",
    "DECISION_SECONDS",
    "IMPRESSION_BYTES",
    "ITEM_BYTES",
    "LOG_BUFFER_BYTES",
    "MAX_SECONDS",
    "USER_BYTES",
    "WINDOW_SECONDS",
    "CostError",
    "RunCost",
    "SweepCost",
    "available_memory",
    "check_cost",
    "estimate_run",
    "estimate_sweep",
]

#: Resident memory of a worker with recarena, numpy, numba, pandas and pyarrow loaded
#: (``bench/bench_memory.py``: 335 MB peak for a 10k-user run, of which ≈ 10 MB users).
BASE_BYTES = 350 * 2**20
#: Per user: world tables, engine state, best-value cache (measured ≈ 880 B at 1M users).
USER_BYTES = 1024
#: Per item: latent vector, attributes, text.
ITEM_BYTES = 2048
#: Per decision kept in memory when impressions are kept for refits (measured 64 B).
IMPRESSION_BYTES = 64
#: Log buffers of one run: each table buffers at most ``CHUNK_BYTES`` before a row group.
LOG_BUFFER_BYTES = (len(SCHEMAS) + 1) * CHUNK_BYTES
#: CPU seconds per decision (measured ≈ 1 µs end to end; rounded up for slower machines).
DECISION_SECONDS = 2e-6
#: CPU seconds per decision window of the event loop (batch set-up, feedback, snapshots).
WINDOW_SECONDS = 5e-4
#: A sweep estimated to take longer than this (wall time) is refused without ``force``.
MAX_SECONDS = 24 * 3600.0
#: Share of the available memory a sweep may plan to use.
MEMORY_SHARE = 0.8


class CostError(ValueError):
    """A sweep that would not fit this machine or would take too long; the message gives the
    estimate and the knob to change."""


@dataclass(frozen=True)
class RunCost:
    """The estimated cost of one run (one seed × arm)."""

    users: float
    decisions: float
    events: float
    log_rows: float
    peak_bytes: float
    cpu_seconds: float

    def describe(self) -> str:
        """One line: users, decisions, events, log rows, peak memory, CPU time."""
        return (
            f"{self.users:,.0f} users, {self.decisions:,.0f} decisions, {self.events:,.0f} "
            f"events, {self.log_rows:,.0f} log rows, peak {_size(self.peak_bytes)}, "
            f"{_duration(self.cpu_seconds)} CPU"
        )


@dataclass(frozen=True)
class SweepCost:
    """Every run of a sweep on ``workers`` processes."""

    run: RunCost
    runs: int
    workers: int

    @property
    def peak_bytes(self) -> float:
        """Memory of ``workers`` runs at once."""
        return self.run.peak_bytes * self.workers

    @property
    def wall_seconds(self) -> float:
        """CPU time of every run spread over the workers."""
        return self.run.cpu_seconds * self.runs / self.workers

    def describe(self) -> str:
        """The per-run estimate and the sweep's totals."""
        return (
            f"each run: {self.run.describe()}; {self.runs} runs on {self.workers} worker(s): "
            f"peak {_size(self.peak_bytes)}, about {_duration(self.wall_seconds)}"
        )


def _size(n: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n / 2**10:,.0f} KiB"


def _duration(seconds: float) -> str:
    if seconds >= 86_400:
        return f"{seconds / 86_400:,.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def _keeps_impressions(config: ScenarioConfig) -> bool:
    """Whether some arm keeps slate impressions in memory (as the engine decides)."""
    schedule = config.schedule
    if schedule.keep_impressions is not None:
        return schedule.keep_impressions
    if schedule.retrain_every is None or schedule.surface != "slate":
        return False
    from recarena.policies import registry

    for arm in config.arms:
        try:
            if registry.parse_params(arm.policy)[0].batch_fit:
                return True
        except (KeyError, ValueError):  # a plugin not allowed here: assume the worst
            return True
    return False


def estimate_run(config: ScenarioConfig) -> RunCost:
    """The estimated cost of one run of ``config`` (every arm costs about the same: the
    world and the clock set it)."""
    world, schedule = config.world, config.schedule
    days = schedule.days
    users = world.population.n_users + world.population.arrivals_per_day * days
    items = world.catalogue.n_items + world.catalogue.new_items_per_day * days
    session = users * world.population.activity_mean * days if schedule.surface != "none" else 0
    decisions = session + users * len(schedule.campaign_days)
    refits = days / schedule.retrain_every if schedule.retrain_every else 0.0
    windows = days / schedule.decision_window
    checkpoints = days / schedule.checkpoint_every
    events = windows + checkpoints + refits
    log_rows = decisions + 2 * users + checkpoints
    kept = session * IMPRESSION_BYTES if _keeps_impressions(config) else 0.0
    peak = BASE_BYTES + USER_BYTES * users + ITEM_BYTES * items + kept + LOG_BUFFER_BYTES
    cpu = decisions * DECISION_SECONDS + windows * WINDOW_SECONDS
    return RunCost(users, decisions, events, log_rows, peak, cpu)


def available_memory() -> float:
    """Memory this machine can give a sweep now (``MemAvailable``; total memory elsewhere)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def estimate_sweep(config: ScenarioConfig, workers: int) -> SweepCost:
    """Every run of ``config`` on ``workers`` processes (capped at the number of runs)."""
    runs = len(config.seeds) * len(config.arms)
    return SweepCost(estimate_run(config), runs, max(1, min(workers, runs)))


def check_cost(config: ScenarioConfig, workers: int, force: bool = False) -> SweepCost:
    """The sweep's estimate; raises :class:`CostError` when it would need more than
    :data:`MEMORY_SHARE` of the available memory or longer than :data:`MAX_SECONDS`, unless
    ``force``."""
    cost = estimate_sweep(config, workers)
    if force:
        return cost
    memory = available_memory()
    knobs = "world.population.n_users, world.population.activity_mean or schedule.days"
    if cost.peak_bytes > MEMORY_SHARE * memory:
        fewer = " or fewer workers (--jobs)" if cost.workers > 1 else ""
        raise CostError(
            f"this sweep would need about {_size(cost.peak_bytes)} of memory and this machine "
            f"has {_size(memory)} available ({cost.describe()}). Reduce {knobs}{fewer}, or "
            "pass --force (force=True) to run anyway"
        )
    if cost.wall_seconds > MAX_SECONDS:
        raise CostError(
            f"this sweep would take about {_duration(cost.wall_seconds)} ({cost.describe()}). "
            f"Reduce {knobs}, schedule.decision_window's number of windows (raise it), the "
            "seeds or arms, or pass --force (force=True) to run anyway"
        )
    return cost
