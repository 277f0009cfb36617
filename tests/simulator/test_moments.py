"""The default world's moments that docs/world.md states (seeded, so exact thresholds)."""

from __future__ import annotations

import pytest

from recarena.policies import registry
from recarena.simulator.log import LIFECYCLE_CHURN
from recarena.simulator.params import ScheduleParams, WorldParams
from recarena.simulator.simulation import simulate


@pytest.mark.parametrize(
    ("kind", "ctr", "churned", "sessions"),
    [("random", (0.14, 0.19), (0.25, 0.35), (0.75, 0.95)),
     ("oracle", (0.52, 0.62), (0.09, 0.16), (1.1, 1.35))],
)  # fmt: skip
def test_default_world_moments(
    kind: str, ctr: tuple[float, float], churned: tuple[float, float], sessions: tuple[float, float]
) -> None:
    params = WorldParams.model_validate({"population": {"n_users": 2000}})
    res = simulate(params, ScheduleParams(days=28), 1, session_policy=registry.make({"kind": kind}))
    decisions = res.log.frame("decisions")
    life = res.log.frame("lifecycle")
    assert ctr[0] < decisions["click"].mean() < ctr[1]
    assert churned[0] < (life["event"] == LIFECYCLE_CHURN).sum() / 2000 < churned[1]
    assert sessions[0] < len(decisions) / 2000 / 28 < sessions[1]
