"""A deliberately naive reference simulator, kept only to measure the batched engine against.

Same world, same behaviour equations, same ``random`` slate policy as
:class:`recarena.simulator.engine.Engine`, written the way one would write it without
vectorisation:

* one SimPy process per user, woken at each of the user's sessions (event-exact, no
  decision window);
* per event, in Python: draw the gap, build the slate (k distinct items uniformly among the
  available ones, by rejection as in
  :func:`recarena.policies.recommenders.slates.random_slates`), compute the MNL choice for
  that one user with the pure functions of :mod:`recarena.simulator.behaviour` called on
  1-row arrays, draw the conversion, update satisfaction and the fatigue ring, and append a
  row to a Python list;
* a daily process that walks the users one by one for churn (same hazard equation).

What it does not do (so the comparison is, if anything, flattering to it): no Parquet, no
history store, no oracle columns, no feedback delivery to the policy (``random`` does not
learn), no preference drift (the benchmark world has ``drift_sd = 0``), no campaigns or
variants. Random numbers come from one :class:`numpy.random.Generator` (scalar draws), not
from the engine's counter-based common random numbers, so runs agree with the engine in
distribution, not draw for draw.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from recarena.simulator import behaviour as bh
from recarena.simulator import reference as ref
from recarena.simulator.params import BehaviourParams, ScheduleParams
from recarena.simulator.world import World

__all__ = ["NaiveResult", "NaiveSimulation"]


class _User:
    """Per-user mutable state, one Python object per user (the naive layout)."""

    __slots__ = ("alive", "ring", "ring_pos", "satisfaction", "sessions")

    def __init__(self, memory: int) -> None:
        self.satisfaction = 0.0
        self.alive = True
        self.sessions = 0
        self.ring: list[int] = [-1] * max(memory, 1)
        self.ring_pos = 0


@dataclass
class NaiveResult:
    """What a naive run did and how long it took."""

    decisions: int
    clicks: int
    conversions: int
    churned: int
    seconds: float
    mean_satisfaction: float
    rows: list[tuple[Any, ...]] = field(repr=False, default_factory=list)

    @property
    def decisions_per_second(self) -> float:
        return self.decisions / self.seconds if self.seconds else float("nan")


class NaiveSimulation:
    """Event-by-event simulation of ``world`` under the uniformly random slate policy.

    Parameters
    ----------
    world, behaviour, schedule
        As for the engine (``schedule.surface`` must be ``"slate"``).
    seed
        Seed of the single generator used for every draw.
    users
        Optional subset of user ids to simulate (default: everyone).
    keep_rows
        Keep the logged decision rows in :attr:`NaiveResult.rows` (they are always built).
    """

    def __init__(
        self,
        world: World,
        behaviour: BehaviourParams,
        schedule: ScheduleParams,
        seed: int = 0,
        users: np.ndarray | None = None,
        keep_rows: bool = False,
    ) -> None:
        if schedule.surface != "slate":
            raise ValueError("the naive reference only implements the slate surface")
        if behaviour.choice_model != "mnl":
            raise ValueError("the naive reference only implements the MNL choice model")
        self.world = world
        self.b = behaviour
        self.schedule = schedule
        self.rng = np.random.default_rng(seed)
        self.user_ids = (
            np.arange(world.n_users) if users is None else np.asarray(users, dtype=np.int64)
        )
        self.keep_rows = keep_rows
        items = world.items
        self.available = np.flatnonzero(items.release_time <= 0.0)
        self.exam = bh.examination_weights(
            schedule.slate_size, behaviour.position_bias, behaviour.position_decay
        )
        self.log_price = np.log(items.price)
        self.revenue = items.price * items.margin
        self.state = {int(u): _User(behaviour.fatigue_memory) for u in self.user_ids}
        self.rows: list[tuple[Any, ...]] = []
        self.conversions: list[tuple[float, float, int, int, float]] = []
        self.lifecycle: list[tuple[float, int, int]] = []
        self.snapshots: list[tuple[float, int, float]] = []
        self.clicks = 0

    # ------------------------------------------------------------------ policy
    def _random_slate(self) -> np.ndarray:
        """k distinct available items, uniformly (rejection for k ≪ n, else permutation)."""
        cand = self.available
        n, k = cand.shape[0], self.schedule.slate_size
        if k >= n or 4 * k > n:
            order = self.rng.permutation(n)[: min(k, n)]
            slate = cand[order]
            if k > n:
                slate = np.concatenate([slate, np.repeat(slate[-1:], k - n)])
            return slate
        while True:
            idx = self.rng.integers(0, n, k)
            if len(set(idx.tolist())) == k:
                return cand[idx]

    # ------------------------------------------------------------------ one session
    def _session(self, t: float, u: int, st: _User) -> None:
        b, items = self.b, self.world.items
        slate = self._random_slate()
        if b.fatigue and b.fatigue_memory:
            ring = st.ring
            fatigue = np.array([b.fatigue if i in ring else 0.0 for i in slate.tolist()])
        else:
            fatigue = np.zeros(slate.shape[0])
        util = ref.reference_utilities(
            self.world.users.preference[u][None, :],
            items.vector[slate],
            items.popularity[slate],
            self.log_price[slate],
            self.world.users.price_sensitivity[u : u + 1],
            b.preference_weight,
            fatigue[None, :],
        )
        probs = ref.reference_mnl_probabilities(util, self.exam, b.temperature, b.no_choice_utility)
        position = int(ref.reference_inverse_cdf_choice(probs, np.array([self.rng.random()]))[0])
        expected = float(probs.sum())
        clicked = -1
        if position >= 0:
            clicked = int(slate[position])
            self.clicks += 1
            if b.fatigue_memory:
                st.ring[st.ring_pos] = clicked
                st.ring_pos = (st.ring_pos + 1) % b.fatigue_memory
            p_convert = bh.conversion_probability(
                float(util[0, position]), float(items.quality[clicked]),
                b.conversion_intercept, b.conversion_slope, b.conversion_quality,
            )  # fmt: skip
            if self.rng.random() < p_convert:
                draw = self.rng.random()
                delay = float(bh.exponential_from_uniform(draw, b.conversion_delay_mean))
                self.conversions.append((t + delay, t, u, clicked, float(self.revenue[clicked])))
        st.satisfaction = float(
            bh.update_satisfaction(
                st.satisfaction, expected, b.satisfaction_rate, b.satisfaction_baseline
            )
        )
        self.rows.append(
            (t, u, st.sessions, tuple(slate.tolist()), 1.0 / self.available.shape[0],
             position >= 0, position, clicked, expected)
        )  # fmt: skip
        st.sessions += 1

    # ------------------------------------------------------------------ processes
    def _user_process(self, env: simpy.Environment, u: int) -> Generator[simpy.Event, Any, None]:
        st = self.state[u]
        users = self.world.users
        first = float(users.join_time[u]) + float(
            bh.exponential_from_uniform(self.rng.random(), 1.0 / users.activity[u])
        )
        yield env.timeout(first)
        while st.alive:
            self._session(env.now, u, st)
            rate = bh.activity_rate(
                users.activity[u], self.b.activity_satisfaction, st.satisfaction
            )
            gap = float(bh.exponential_from_uniform(self.rng.random(), 1.0 / rate))
            yield env.timeout(gap)

    def _daily_process(self, env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        dt = self.schedule.checkpoint_every
        b, join = self.b, self.world.users.join_time
        while True:
            yield env.timeout(dt)
            t = env.now
            active = 0
            total_s = 0.0
            for u, st in self.state.items():
                if not st.alive or join[u] > t:
                    continue
                p = bh.churn_probability(
                    b.churn_base_hazard, b.churn_satisfaction, st.satisfaction, dt, 1.0
                )
                if self.rng.random() < p:
                    st.alive = False
                    self.lifecycle.append((t, u, 1))
                else:
                    active += 1
                    total_s += st.satisfaction
            self.snapshots.append((t, active, total_s / active if active else 0.0))

    def run(self) -> NaiveResult:
        """Simulate ``schedule.days`` days; the clock includes creating the processes."""
        start = time.perf_counter()
        env = simpy.Environment()
        for u in self.state:
            env.process(self._user_process(env, u))
        env.process(self._daily_process(env))
        env.run(until=self.schedule.days + 1e-9)
        seconds = time.perf_counter() - start
        alive = [st.satisfaction for st in self.state.values() if st.alive]
        days = self.schedule.days
        return NaiveResult(
            decisions=len(self.rows),
            clicks=self.clicks,
            conversions=sum(1 for c in self.conversions if c[0] <= days),
            churned=len(self.lifecycle),
            seconds=seconds,
            mean_satisfaction=float(np.mean(alive)) if alive else 0.0,
            rows=self.rows if self.keep_rows else [],
        )
