"""The Gymnasium environments: the env checker, determinism, the oracle's numbers, vectors."""

from __future__ import annotations

import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import recarena.gym
from recarena.simulator.campaigns import offer_eligibility
from recarena.simulator.reference import reference_sigmoid as sigmoid

IDS = list(recarena.gym.ENV_IDS)
SMALL = {"population": {"n_users": 300}, "catalogue": {"n_items": 30}}


def _small(env_id: str) -> dict[str, object]:
    surface = recarena.gym.ENV_IDS[env_id]
    world = recarena.gym.DEFAULT_WORLDS[surface].model_dump()  # type: ignore[index]
    world.update(SMALL)
    return world


@pytest.mark.filterwarnings("ignore:.*Box observation space.*infinity")
@pytest.mark.parametrize("env_id", IDS)
def test_env_checker_passes(env_id: str) -> None:
    check_env(gym.make(env_id, world=_small(env_id)).unwrapped)


def _trajectory(env_id: str, seed: int, steps: int = 60) -> list[tuple]:
    env = gym.make(env_id, world=_small(env_id), max_steps=steps)
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(5)
    out = [tuple(obs)]
    for _ in range(steps):
        obs, reward, _, truncated, info = env.step(env.action_space.sample())
        out.append((tuple(obs), reward, info["expected_reward"], truncated))
    return out


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_trajectory(env_id: str) -> None:
    assert _trajectory(env_id, 11) == _trajectory(env_id, 11)
    assert _trajectory(env_id, 11) != _trajectory(env_id, 12)
    assert _trajectory(env_id, 11)[-1][-1] is True  # truncated at max_steps


def test_banner_info_is_the_user_models_probability() -> None:
    env = gym.make("recarena/Banner-v0", world=_small("recarena/Banner-v0"))
    obs, info = env.reset(seed=2)
    world = env.unwrapped.model.world
    user = info["user"]
    # P(click | u, v) = σ(logit(ctr_v) + h_v w_v·x_u), written out here as the reference.
    x = world.features[user].astype(np.float64)
    truth = sigmoid(world.variants.logit + world.variants.weights @ x)
    np.testing.assert_array_equal(obs, world.features[user])
    _, reward, _, _, info = env.step(1)
    assert info["expected_reward"] == pytest.approx(truth[1], rel=1e-12)
    assert info["best_expected_reward"] == pytest.approx(truth.max(), rel=1e-12)
    assert reward in (0.0, 1.0)


def test_slate_best_value_bounds_every_slate() -> None:
    env = gym.make("recarena/Slate-v0", world=_small("recarena/Slate-v0"))
    env.reset(seed=4)
    for _ in range(30):
        *_, info = env.step(env.action_space.sample())
        assert 0 <= info["expected_reward"] <= info["best_expected_reward"] + 1e-12 <= 1 + 1e-12


def test_slate_reward_counts_the_clicks_of_a_scanning_session() -> None:
    """Under dcm a session can have several clicks: the reward counts them, and its mean
    follows the expected reward E[clicks]."""
    world = _small("recarena/Slate-v0")
    world["behaviour"] = {**world["behaviour"], "choice_model": "dcm",  # type: ignore[dict-item]
                          "continuation": 0.9, "no_choice_utility": -1.0}  # fmt: skip
    env = gym.make("recarena/Slate-v0", world=world)
    env.reset(seed=4)
    rewards, expected = [], []
    for _ in range(400):
        _, reward, _, _, info = env.step(env.action_space.sample())
        rewards.append(reward)
        expected.append(info["expected_reward"])
        assert info["expected_reward"] <= info["best_expected_reward"] + 1e-12
    rewards_array = np.asarray(rewards)
    assert rewards_array.max() >= 2 and np.mean(expected) > 1
    se = rewards_array.std() / np.sqrt(400)
    assert abs(rewards_array.mean() - np.mean(expected)) < 4.5 * se


def test_history_summary_counts_sessions() -> None:
    env = gym.make("recarena/Banner-v0", world=_small("recarena/Banner-v0"), history_summary=True)
    obs, _ = env.reset(seed=1)
    assert obs.shape == (len(env.unwrapped.model.world.feature_names) + 2,)
    seen = 0.0
    for _ in range(2000):  # 300 users: someone comes back
        obs, *_ = env.step(0)
        seen = max(seen, float(obs[-2]))
    assert seen >= np.log1p(1)


def test_vector_env_batches_the_same_model() -> None:
    envs = gym.make_vec(
        "recarena/Banner-v0", num_envs=16, vectorization_mode="vector_entry_point",
        world=_small("recarena/Banner-v0"), max_steps=3,
    )  # fmt: skip
    obs, _ = envs.reset(seed=3)
    assert obs.shape == (16, envs.single_observation_space.shape[0])
    rewards = []
    for step in range(4):
        obs, reward, _, truncated, info = envs.step(np.full(16, 1))
        rewards.append(reward)
        assert truncated.all() == (step == 2)
        if step == 3:  # next-step autoreset: the restarted streams earn nothing
            assert (reward == 0).all() and np.isnan(info["expected_reward"]).all()
        else:
            assert np.isfinite(info["expected_reward"]).all()
    again = gym.make_vec("recarena/Banner-v0", num_envs=16, vectorization_mode="vector_entry_point",
                         world=_small("recarena/Banner-v0"), max_steps=3)  # fmt: skip
    again.reset(seed=3)
    np.testing.assert_array_equal(again.step(np.full(16, 1))[1], rewards[0])


def test_docs_example_runs_and_learns() -> None:
    text = (Path(__file__).parents[2] / "docs" / "gym.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S)
    assert code is not None
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "docs/gym.md", "exec"), namespace)
    first, last = namespace["regret_first"], namespace["regret_last"]
    assert last < 0.6 * first  # the tiny policy's regret per session falls as it learns


def test_campaign_reward_is_a_response_to_the_offer_sent() -> None:
    env = gym.make("recarena/Campaign-v0", world=_small("recarena/Campaign-v0"))
    model = env.unwrapped.model
    for seed in range(8):
        _, info = env.reset(seed=seed)
        user = np.array([info["user"]])
        _, p1 = model.oracle.offer_probabilities(user)
        p1 = np.where(offer_eligibility(model.world, user), p1, 0.0)[0]
        _, reward, _, _, info = env.step(0)  # no offer: nothing to respond to
        assert reward == 0.0 and info["expected_reward"] == 0.0
        assert info["best_expected_reward"] == pytest.approx(max(p1.max(), 0.0))
        env.reset(seed=seed)
        *_, info = env.step(1)  # offer 0
        assert info["expected_reward"] == pytest.approx(p1[0])
