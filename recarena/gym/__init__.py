"""Gymnasium environments over recarena worlds (the optional ``gym`` extra).

Importing this package registers ``recarena/Banner-v0`` (variant surface),
``recarena/Slate-v0`` and ``recarena/Campaign-v0``, each with a batched vector version::

    import gymnasium as gym
    import recarena.gym  # noqa: F401  (registers the ids)

    env = gym.make("recarena/Banner-v0")
    envs = gym.make_vec("recarena/Banner-v0", num_envs=64, vectorization_mode="vector_entry_point")

See :mod:`recarena.gym.env` and :mod:`recarena.gym.core`.
"""

from __future__ import annotations

import gymnasium as gym

from recarena.gym.env import DEFAULT_WORLDS, RecarenaEnv, RecarenaVectorEnv

__all__ = ["DEFAULT_WORLDS", "ENV_IDS", "RecarenaEnv", "RecarenaVectorEnv", "register_envs"]

#: Registered ids and their surfaces.
ENV_IDS: dict[str, str] = {
    "recarena/Banner-v0": "variant",
    "recarena/Slate-v0": "slate",
    "recarena/Campaign-v0": "campaign",
}


def register_envs() -> None:
    """Register every id of :data:`ENV_IDS` with Gymnasium (once)."""
    for env_id, surface in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="recarena.gym.env:RecarenaEnv",
            vector_entry_point="recarena.gym.env:RecarenaVectorEnv",
            kwargs={"surface": surface},
        )


register_envs()
