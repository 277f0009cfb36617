"""A run's peak memory, estimated before it runs, and the memory a worker has.

The estimate is linear in the population, from the engine benchmark's measured figure
(``bench/bench_engine.py``: a 1M-user, 30-day run peaks at 1.21 GB of RSS with Parquet
logging), plus the impressions a policy keeps in memory (64 bytes a decision)::

    bytes ≈ B + b_u (N + Λ D) + 1[keep impressions] · 64 · λ̄ (N + Λ D) D

with N users at day 0, Λ arrivals a day, D days, λ̄ mean sessions a user-day, B = 400 MB (the
interpreter and its libraries) and b_u = 850 bytes a user. It is deliberately simple: the
executors use it to refuse a run that cannot fit a worker, with a clear error instead of an
out-of-memory kill halfway through a sweep.
"""

from __future__ import annotations

import os
import re

from recarena.experiment.schema import ScenarioConfig

__all__ = [
    "BASE_BYTES",
    "BYTES_PER_USER",
    "estimate_peak_bytes",
    "format_bytes",
    "machine_memory",
    "parse_bytes",
]

BASE_BYTES = 400e6
BYTES_PER_USER = 850.0
BYTES_PER_KEPT_DECISION = 64.0

_UNITS = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
          "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}  # fmt: skip


def estimate_peak_bytes(config: ScenarioConfig) -> float:
    """Estimated peak resident memory of one run of ``config`` (bytes; see module docstring)."""
    population = config.world.population
    days = config.schedule.days
    users = population.n_users + population.arrivals_per_day * days
    total = BASE_BYTES + BYTES_PER_USER * users
    if config.schedule.keep_impressions:
        total += BYTES_PER_KEPT_DECISION * population.activity_mean * users * days
    return total


def parse_bytes(text: str) -> int:
    """``'4GB'``, ``'512 MiB'``… as bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*", text)
    if match is None or match.group(2) not in _UNITS:
        raise ValueError(f"not a memory size: {text!r} (e.g. 4GB, 512MiB)")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def machine_memory() -> int:
    """Physical memory of this machine (bytes)."""
    return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def format_bytes(n: float) -> str:
    """``1.2 GB``-style text."""
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"
