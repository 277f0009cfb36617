"""The snapshot's interest entropy against its formula, with fixed and with moving interests."""

from __future__ import annotations

import numpy as np
import pytest

from recarena.policies import registry
from recarena.simulator.params import ScheduleParams
from recarena.simulator.simulation import build_world, simulate
from recarena.simulator.state import SimState
from recarena.simulator.user_model import UserModel
from tests.simulator.helpers import world_params


def reference_entropy(
    theta: np.ndarray, vectors: np.ndarray, category: np.ndarray, weight: float
) -> float:
    """H_u = −Σ_g p_ug log₂ p_ug with p_ug ∝ exp((w/√d) θ_u·φ̄_g), averaged over users,
    one user and one category at a time."""
    d = vectors.shape[1]
    groups = np.unique(category)
    centres = [vectors[category == g].astype(np.float64).mean(axis=0) for g in groups]
    total = 0.0
    for row in theta.astype(np.float64):
        z = np.array([weight / np.sqrt(d) * float(row @ c) for c in centres])
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        total += -sum(q * np.log2(q) for q in p if q > 0)
    return total / theta.shape[0]


@pytest.mark.parametrize("behaviour", [{}, {"drift_sd": 0.2}, {"interest_rate": 0.1}])
def test_interest_entropy_matches_its_formula(behaviour: dict[str, float]) -> None:
    params = world_params(200, 40, behaviour={"preference_weight": 3.0, **behaviour})
    world = build_world(params, ScheduleParams(days=3), seed=4)
    state = SimState.initial(world, params.behaviour.fatigue_memory)
    model = UserModel(world, state, params.behaviour, slate_size=5)
    users = np.arange(0, 200, 3)
    for _ in range(2):  # the second call reads the cache where interests are fixed
        expected = reference_entropy(
            state.preference[users],
            world.items.vector,
            world.items.category,
            params.behaviour.preference_weight,
        )
        assert model.interest_entropy(users) == pytest.approx(expected, rel=1e-12)
        # Entropies are cached per user: a moved θ is read afresh once reported moved.
        if behaviour:
            state.preference[users] *= np.float32(2.0)
            model.interests_moved(users[::2])
            model.interests_moved(users[1::2])
    assert model.interest_entropy(users[:0]) == 0.0


@pytest.mark.parametrize("behaviour", [{"drift_sd": 0.2}, {"interest_rate": 0.2}])
def test_the_engine_reports_every_move_of_interest(behaviour: dict[str, float]) -> None:
    """After a run in which θ moved (drift every day, or clicks), the engine's cached
    entropies equal entropies computed afresh from the final θ: every move was reported."""
    params = world_params(300, 40, behaviour={"preference_weight": 3.0, **behaviour})
    schedule = ScheduleParams(days=4, slate_size=5)
    res = simulate(params, schedule, seed=2, session_policy=registry.make({"kind": "random"}))
    engine = res.engine
    users = np.flatnonzero(engine.state.active(res.world))
    fresh = UserModel(res.world, engine.state, params.behaviour, slate_size=5)
    assert users.size > 100
    assert engine.users.interest_entropy(users) == fresh.interest_entropy(users)
    start = UserModel(res.world, SimState.initial(res.world, 5), params.behaviour, 5)
    assert start.interest_entropy(users) != fresh.interest_entropy(users)  # θ did move
