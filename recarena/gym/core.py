"""The decisions a Gymnasium environment steps through, for a batch of independent streams.

One :class:`SessionModel` serves the single environment (a batch of one) and the vector
environment (a batch of ``num_envs``), so both play the same user model bit for bit.

The environment is the world's user model seen as a contextual bandit: each step is one
session of a user drawn from the starting population with probability proportional to
their activity rate λ_u (the share of sessions a user has in the simulator when nothing
changes λ), the observation is the user's encoded features, the action is shown, and the
reward is drawn from the user model's probabilities. Preferences, satisfaction and fatigue
stay at their starting values (the scenario engine, not this environment, simulates how
they move), so every step is a draw from the same distribution and the oracle's expected
reward and best value in ``info`` are exact.

Rewards: a click on a banner (``variant``) or on any slot of a slate (``slate``); on the
``campaign`` surface, a response (conversion) to the offer sent — 0 with no offer, or with
an offer the user is not eligible for (it is not sent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from recarena.simulator.campaigns import offer_eligibility, offer_probabilities
from recarena.simulator.oracle import OracleView
from recarena.simulator.params import ScheduleParams, WorldParams
from recarena.simulator.simulation import build_world
from recarena.simulator.state import SimState
from recarena.simulator.user_model import UserModel
from recarena.simulator.world import World
from recarena.typing import FloatArray, IntArray

__all__ = ["GymSurface", "Outcome", "SessionModel"]

GymSurface = Literal["variant", "slate", "campaign"]


@dataclass(frozen=True)
class Outcome:
    """One step of every stream: reward, and the oracle's expected reward and best value."""

    reward: FloatArray
    expected_reward: FloatArray
    best_expected_reward: FloatArray


@dataclass
class SessionModel:
    """A world's user model for one surface, and per-stream history counters.

    Parameters
    ----------
    surface
        ``variant``, ``slate`` or ``campaign``.
    params
        The world recipe.
    slate_size
        k on the slate surface.
    history_summary
        Append two history features to the observation: log(1 + the user's sessions so far
        in this stream) and the user's click (response) rate so far.
    """

    surface: GymSurface
    params: WorldParams
    slate_size: int = 5
    history_summary: bool = False
    world: World = field(init=False)
    user_model: UserModel = field(init=False)
    oracle: OracleView = field(init=False)
    world_seed: int | None = field(init=False, default=None)

    def build(self, seed: int) -> None:
        """Build (or keep, when ``seed`` is unchanged) the world of ``seed``."""
        if seed == self.world_seed:
            return
        schedule = ScheduleParams(
            days=1.0,
            surface="slate" if self.surface == "slate" else "variant",
            slate_size=self.slate_size,
        )
        self.world = build_world(self.params, schedule, seed)
        self.world_seed = seed
        state = SimState.initial(self.world, self.params.behaviour.fatigue_memory)
        self.user_model = UserModel(self.world, state, self.params.behaviour, self.slate_size)
        self.oracle = OracleView(self.user_model)
        start = np.flatnonzero(self.world.users.join_time <= 0)
        self.users = start
        activity = self.world.users.activity[start]
        self.user_cdf = np.cumsum(activity) / activity.sum()
        self.available = self.world.items.release_time <= 0
        self.n_items = int(self.available.sum())

    # ------------------------------------------------------------------ spaces
    @property
    def n_features(self) -> int:
        """Width of an observation."""
        return len(self.world.feature_names) + (2 if self.history_summary else 0)

    @property
    def n_actions(self) -> int:
        """K banners, O + 1 offer choices (0 = none), or m items per slot."""
        if self.surface == "variant":
            return len(self.world.variants)
        if self.surface == "campaign":
            return len(self.world.offers) + 1
        return self.n_items

    # ------------------------------------------------------------------ stepping
    def draw_users(self, rng: np.random.Generator, n: int) -> IntArray:
        """The next session's user of each of n streams (∝ activity)."""
        index = np.searchsorted(self.user_cdf, rng.random(n), side="right")
        return self.users[np.minimum(index, self.users.size - 1)]

    def observe(
        self, users: IntArray, sessions: FloatArray, rewards: FloatArray
    ) -> NDArray[np.float32]:
        """Observations of the given users; ``sessions``/``rewards`` are their counts so far."""
        x = self.world.features[users].astype(np.float32)
        if not self.history_summary:
            return x
        rate = np.divide(rewards, sessions, out=np.zeros_like(rewards), where=sessions > 0)
        extra = np.stack([np.log1p(sessions), rate], axis=1).astype(np.float32)
        return np.hstack([x, extra])

    def play(self, users: IntArray, actions: IntArray, rng: np.random.Generator) -> Outcome:
        """Show ``actions`` to ``users`` and draw the rewards."""
        if self.surface == "variant":
            probs = self.user_model.variant_click_probabilities(users)
            expected = probs[np.arange(users.size), actions]
            reward = (rng.random(users.size) < expected).astype(np.float64)
            return Outcome(reward, expected, probs.max(axis=1))
        if self.surface == "slate":
            slates = np.asarray(actions, dtype=np.int64).reshape(users.size, self.slate_size)
            _, best = self.oracle.best_slates(users, self.available)
            if self.user_model.scanning:  # pbm, dcm: the reward counts the session's clicks
                # Keyed draws under a key from the environment's generator, one per row.
                seed = np.uint64(rng.integers(0, 2**63))
                counter = np.arange(users.size, dtype=np.int32)
                played = self.user_model.scan_sessions(seed, users, counter, slates)
                return Outcome(played.clicks.astype(np.float64), played.expected, best)
            slots = self.user_model.slot_probabilities(users, slates)
            clicked = rng.random(users.size) < slots.sum(axis=1)
            return Outcome(clicked.astype(np.float64), slots.sum(axis=1), best)
        return self._campaign(users, actions, rng)

    def _campaign(self, users: IntArray, actions: IntArray, rng: np.random.Generator) -> Outcome:
        _, p1 = offer_probabilities(self.world, users)
        eligible = offer_eligibility(self.world, users)
        # P(response) of each choice: 0 for no offer (column 0) and for an offer the user is
        # not eligible for (it is not sent), P1 for an eligible offer.
        choice = np.hstack([np.zeros((users.size, 1)), np.where(eligible, p1, 0.0)])
        expected = choice[np.arange(users.size), actions]
        reward = (rng.random(users.size) < expected).astype(np.float64)
        return Outcome(reward, expected, choice.max(axis=1))
