"""``recarena export obp``: OBP's bandit_feedback format, and OBP's estimators reproduce ours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from obp.ope import DoublyRobust, InverseProbabilityWeighting
from obp.ope import SelfNormalizedInverseProbabilityWeighting as SelfNormalizedIPW

from recarena.analysis import ope
from recarena.experiment.cli import main
from recarena.experiment.export import load_bandit_feedback
from recarena.experiment.loading import scenario_from_dict
from recarena.experiment.runner import run_scenario

SCENARIO = {
    "name": "export_tiny",
    "seeds": [4],
    "world": {
        "population": {"n_users": 300, "arrivals_per_day": 5},
        "variants": [
            {"name": "A", "ctr": 0.05, "heterogeneity": 1.0},
            {"name": "B", "ctr": 0.08, "heterogeneity": 1.0},
            {"name": "C", "ctr": 0.04, "heterogeneity": 1.0},
        ],
    },
    "schedule": {"days": 3, "surface": "variant"},
    "executor": {"kind": "inline", "jobs": 1},
    "arms": [
        {"name": "eps", "policy": {"kind": "epsilon_greedy", "epsilon": 0.3}},
        {"name": "greedy", "policy": {"kind": "fixed", "action": 1}},
    ],
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = scenario_from_dict(SCENARIO)
    return run_scenario(config, tmp_path_factory.mktemp("export") / "out", progress=False,
                        report=False)  # fmt: skip


@pytest.fixture(scope="module")
def feedback(run_dir: Path) -> dict[str, object]:
    assert main(["export", "obp", str(run_dir), "--arm", "eps"]) == 0
    return load_bandit_feedback(run_dir / "export" / "obp_eps.npz")


def test_bandit_feedback_has_obps_documented_shapes_and_dtypes(feedback: dict) -> None:
    n, k = feedback["n_rounds"], feedback["n_actions"]
    assert isinstance(n, int) and isinstance(k, int) and n > 100 and k == 3
    for key, dtype, shape in (
        ("action", np.int64, (n,)),
        ("position", np.int64, (n,)),
        ("reward", np.float64, (n,)),
        ("pscore", np.float64, (n,)),
        ("action_context", np.float64, (k, k)),
    ):
        assert feedback[key].dtype == dtype and feedback[key].shape == shape, key
    assert feedback["context"].ndim == 2 and feedback["context"].shape[0] == n
    assert ((feedback["pscore"] > 0) & (feedback["pscore"] <= 1)).all()
    assert set(np.unique(feedback["action"])) <= {0, 1, 2}


def test_obp_estimators_reproduce_ours_on_the_export(feedback: dict) -> None:
    n, k = feedback["n_rounds"], feedback["n_actions"]
    log = ope.LoggedFeedback(feedback["action"], feedback["reward"], feedback["pscore"], k)
    q_hat = ope.fit_reward_model(feedback["context"], log.action, log.reward, k, "logistic")
    rng = np.random.default_rng(0)
    for target in (np.full((n, k), 1 / k), np.eye(k)[np.full(n, 2)], rng.dirichlet(np.ones(k), n)):
        common = {
            "reward": feedback["reward"],
            "action": feedback["action"],
            "position": feedback["position"],
            "pscore": feedback["pscore"],
            "action_dist": target[:, :, None],
        }
        theirs = {
            "ips": InverseProbabilityWeighting().estimate_policy_value(**common),
            "snips": SelfNormalizedIPW().estimate_policy_value(**common),
            "dr": DoublyRobust().estimate_policy_value(
                **common, estimated_rewards_by_reg_model=q_hat[:, :, None]
            ),
        }
        ours = {
            "ips": ope.ips(log, target).value,
            "snips": ope.snips(log, target).value,
            "dr": ope.doubly_robust(log, target, q_hat).value,
        }
        for name, value in ours.items():
            assert value == pytest.approx(theirs[name], abs=1e-9, rel=1e-9), name


def test_export_errors_are_clear(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "obp", str(run_dir), "--arm", "nope"]) == 2
    assert "arms: eps, greedy" in capsys.readouterr().err
    assert main(["export", "obp", str(run_dir), "--arm", "eps", "--seed", "9"]) == 2
    assert "seeds: [4]" in capsys.readouterr().err
    assert main(["export", "obp", str(run_dir / "runs"), "--arm", "eps"]) == 2
    assert "not a results directory" in capsys.readouterr().err
