"""Per-arm sufficient statistics of the context-free bandits, and how long they remember.

Each memory holds trials ``n``, reward sum ``s`` and sum of squared rewards ``q`` per arm,
(3, K): cumulative, discounted by γ per day, or over a sliding window (a ring of per-bucket
aggregates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recarena.typing import FloatArray

__all__ = ["ArmStats", "DiscountedMemory", "Memory", "SlidingWindowMemory"]


@dataclass(frozen=True)
class ArmStats:
    """Per-arm sufficient statistics: trials ``n``, reward sum ``s``, sum of squares ``q``."""

    n: FloatArray
    s: FloatArray
    q: FloatArray


class Memory:
    """Cumulative statistics (3, K): every trial counts forever."""

    def __init__(self, n_arms: int) -> None:
        self.total = np.zeros((3, n_arms))

    def add(self, t: float, delta: FloatArray) -> None:
        self.total += delta

    def totals(self, t: float) -> FloatArray:
        return self.total


class DiscountedMemory(Memory):
    """Statistics discounted by γ per day: a trial observed at t' weighs γ^(t - t')."""

    def __init__(self, n_arms: int, gamma: float) -> None:
        super().__init__(n_arms)
        self.gamma = gamma
        self.t_ref = 0.0

    def add(self, t: float, delta: FloatArray) -> None:
        if t >= self.t_ref:
            self.total *= self.gamma ** (t - self.t_ref)
            self.t_ref = t
            self.total += delta
        else:  # late delivery: age it to the reference time
            self.total += delta * self.gamma ** (self.t_ref - t)

    def totals(self, t: float) -> FloatArray:
        return self.total * self.gamma ** max(t - self.t_ref, 0.0)


class SlidingWindowMemory(Memory):
    """Statistics over the last ``window`` days: a ring of per-bucket aggregates.

    Bucket j holds the feedback delivered in [j·w, (j+1)·w), w = ``bucket_days``; the ring has
    R = ⌈window / w⌉ slots, and at time t the buckets ⌊t/w⌋-R+1 … ⌊t/w⌋ are summed. Feedback
    older than the window when it arrives is dropped.
    """

    def __init__(self, n_arms: int, window: float, bucket_days: float) -> None:
        super().__init__(n_arms)
        self.bucket_days = bucket_days
        self.n_slots = max(1, math.ceil(window / bucket_days - 1e-9))
        self.ring = np.zeros((self.n_slots, 3, n_arms))
        self.bucket = np.full(self.n_slots, np.iinfo(np.int64).min, dtype=np.int64)

    def add(self, t: float, delta: FloatArray) -> None:
        j = math.floor(t / self.bucket_days)
        slot = j % self.n_slots
        if self.bucket[slot] < j:
            self.ring[slot] = 0.0
            self.bucket[slot] = j
        if self.bucket[slot] == j:
            self.ring[slot] += delta

    def totals(self, t: float) -> FloatArray:
        live = self.bucket > math.floor(t / self.bucket_days) - self.n_slots
        return self.ring[live].sum(axis=0)
