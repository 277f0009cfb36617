"""Gymnasium environments over a recarena world: ``recarena/Banner-v0``, ``Slate-v0``,
``Campaign-v0`` (one session per step) and their batched vector versions.

``reset(seed=s)`` builds the world of seed s (the world every scenario arm of seed s meets)
and seeds the environment's generator; ``step(action)`` plays one session
(:class:`~recarena.gym.core.SessionModel`) and moves on to the next user. Episodes end by
truncation after ``max_steps`` sessions. ``info`` holds the oracle's ``expected_reward`` of
the action taken and ``best_expected_reward`` (the best action's), so regret is exact.
The same seed gives the same trajectory for the same actions.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from numpy.typing import NDArray

from recarena.gym.core import GymSurface, SessionModel
from recarena.simulator.params import (
    CatalogueParams,
    OfferParams,
    PopulationParams,
    VariantParams,
    WorldParams,
)

__all__ = ["DEFAULT_WORLDS", "RecarenaEnv", "RecarenaVectorEnv"]

Obs = NDArray[np.float32]

_POPULATION = PopulationParams(n_users=2000)

#: The world each registered id builds unless given ``world=``.
DEFAULT_WORLDS: dict[GymSurface, WorldParams] = {
    "variant": WorldParams(
        population=_POPULATION,
        catalogue=CatalogueParams(n_items=20),
        variants=[
            VariantParams(name="A", ctr=0.05, heterogeneity=1.0),
            VariantParams(name="B", ctr=0.06, heterogeneity=1.0),
            VariantParams(name="C", ctr=0.04, heterogeneity=1.0),
        ],
    ),
    "slate": WorldParams(population=_POPULATION, catalogue=CatalogueParams(n_items=100)),
    "campaign": WorldParams(
        population=_POPULATION,
        catalogue=CatalogueParams(n_items=20),
        offers=[OfferParams(name="cashback"), OfferParams(name="upgrade", value=150.0)],
    ),
}


def _world(surface: GymSurface, world: WorldParams | dict[str, Any] | None) -> WorldParams:
    if world is None:
        return DEFAULT_WORLDS[surface]
    return world if isinstance(world, WorldParams) else WorldParams.model_validate(world)


def _world_seed(seed: int | None, default: int | None, rng: np.random.Generator) -> int:
    """The world to build on reset: ``seed``, else the env's ``world_seed``, else a draw."""
    if seed is not None:
        return seed
    return default if default is not None else int(rng.integers(2**31))


def _action_space(model: SessionModel) -> spaces.Space[Any]:
    if model.surface == "slate":
        return spaces.MultiDiscrete(np.full(model.slate_size, model.n_actions))
    return spaces.Discrete(model.n_actions)


def _observation_space(model: SessionModel) -> spaces.Box:
    return spaces.Box(-np.inf, np.inf, shape=(model.n_features,), dtype=np.float32)


class RecarenaEnv(gym.Env[Obs, Any]):
    """One session per step on one surface of a recarena world.

    Parameters
    ----------
    surface
        ``variant`` (Banner-v0), ``slate`` (Slate-v0) or ``campaign`` (Campaign-v0).
    world
        The world recipe (a :class:`~recarena.simulator.params.WorldParams` or its dict);
        default :data:`DEFAULT_WORLDS` of the surface.
    slate_size
        k on the slate surface.
    max_steps
        Sessions per episode (then ``truncated``).
    history_summary
        Add the user's session count and reward rate so far to the observation.
    world_seed
        Build this seed's world when ``reset`` is called without a seed (default: a seed
        drawn from the environment's generator).
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - Gymnasium declares it so

    def __init__(
        self,
        surface: GymSurface = "variant",
        world: WorldParams | dict[str, Any] | None = None,
        slate_size: int = 5,
        max_steps: int = 1000,
        history_summary: bool = False,
        world_seed: int | None = None,
    ) -> None:
        self.model = SessionModel(surface, _world(surface, world), slate_size, history_summary)
        self.max_steps = max_steps
        self._default_seed = world_seed
        # Spaces need the world's shape: build the default world once now.
        self.model.build(0 if world_seed is None else world_seed)
        self.action_space = _action_space(self.model)
        self.observation_space = _observation_space(self.model)  # type: ignore[assignment]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        """Build the world of ``seed`` and draw the first user."""
        super().reset(seed=seed)
        self.model.build(_world_seed(seed, self._default_seed, self.np_random))
        self._sessions = np.zeros(self.model.world.n_users)
        self._rewards = np.zeros(self.model.world.n_users)
        self._steps = 0
        self._user = self.model.draw_users(self.np_random, 1)
        return self._observe(), {"user": int(self._user[0])}

    def _observe(self) -> Obs:
        u = self._user
        return self.model.observe(u, self._sessions[u], self._rewards[u])[0]

    def step(self, action: Any) -> tuple[Obs, SupportsFloat, bool, bool, dict[str, Any]]:
        """Show ``action`` to the current user; return the next user's observation."""
        actions = np.asarray(action, dtype=np.int64).reshape(1, -1)
        if self.model.surface != "slate":
            actions = actions[:, 0]
        outcome = self.model.play(self._user, actions, self.np_random)
        user = int(self._user[0])
        self._sessions[user] += 1
        self._rewards[user] += outcome.reward[0]
        info = {
            "user": user,
            "expected_reward": float(outcome.expected_reward[0]),
            "best_expected_reward": float(outcome.best_expected_reward[0]),
        }
        self._steps += 1
        self._user = self.model.draw_users(self.np_random, 1)
        truncated = self._steps >= self.max_steps
        return self._observe(), float(outcome.reward[0]), False, truncated, info


class RecarenaVectorEnv(VectorEnv[Obs, Any, Any]):
    """``num_envs`` independent session streams on one world, stepped as one numpy batch.

    Takes :class:`RecarenaEnv`'s parameters. Every stream meets the same world (that of the
    ``seed`` given to :meth:`reset`) and draws its users and rewards from one generator, so
    a batch step costs one call of the user model. Streams truncate after ``max_steps``
    sessions and restart on their next step (Gymnasium's next-step autoreset: that step's
    action is ignored and its reward is 0).
    """

    metadata: dict[str, Any] = {  # noqa: RUF012 - Gymnasium declares it so
        "render_modes": [],
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 8,
        surface: GymSurface = "variant",
        world: WorldParams | dict[str, Any] | None = None,
        slate_size: int = 5,
        max_steps: int = 1000,
        history_summary: bool = False,
        world_seed: int | None = None,
    ) -> None:
        self.num_envs = num_envs
        self.model = SessionModel(surface, _world(surface, world), slate_size, history_summary)
        self.max_steps = max_steps
        self._default_seed = world_seed
        self.model.build(0 if world_seed is None else world_seed)
        self.single_action_space = _action_space(self.model)
        self.single_observation_space = _observation_space(self.model)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        """Build the world of ``seed`` (an int: every stream shares one world)."""
        if isinstance(seed, list):
            seed = seed[0]
        super().reset(seed=seed)
        self.model.build(_world_seed(seed, self._default_seed, self.np_random))
        n_users = self.model.world.n_users
        self._sessions = np.zeros((self.num_envs, n_users))
        self._rewards = np.zeros((self.num_envs, n_users))
        self._steps = np.zeros(self.num_envs, dtype=np.int64)
        self._restart = np.zeros(self.num_envs, dtype=bool)
        self._users = self.model.draw_users(self.np_random, self.num_envs)
        return self._observe(), {}

    def _observe(self) -> Obs:
        streams = np.arange(self.num_envs)
        return self.model.observe(
            self._users, self._sessions[streams, self._users], self._rewards[streams, self._users]
        )

    def step(self, actions: Any) -> tuple[Obs, Any, Any, Any, dict[str, Any]]:
        """One session in every stream."""
        actions = np.asarray(actions, dtype=np.int64)
        outcome = self.model.play(self._users, actions, self.np_random)
        streams = np.arange(self.num_envs)
        live = ~self._restart
        reward = np.where(live, outcome.reward, 0.0)
        self._sessions[streams[live], self._users[live]] += 1
        self._rewards[streams[live], self._users[live]] += reward[live]
        self._steps = np.where(live, self._steps + 1, 0)
        for stream in np.flatnonzero(self._restart):  # a new episode: forget its history
            self._sessions[stream] = 0
            self._rewards[stream] = 0
        truncated = self._steps >= self.max_steps
        self._restart = truncated
        info = {
            "expected_reward": np.where(live, outcome.expected_reward, np.nan),
            "best_expected_reward": np.where(live, outcome.best_expected_reward, np.nan),
        }
        self._users = self.model.draw_users(self.np_random, self.num_envs)
        terminated = np.zeros(self.num_envs, dtype=bool)
        return self._observe(), reward, terminated, truncated, info
