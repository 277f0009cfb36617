"""Off-policy evaluation against on-policy truth: the ope_validation headline on a reduced run,
and a clear error for a logging arm without propensities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import recarena
from recarena.experiment.loading import load_scenario, scenario_from_dict
from recarena.experiment.runner import SweepError, run_scenario
from tests.simulator.helpers import DENSE_BEHAVIOUR, DENSE_POPULATION

SCENARIO = Path("scenarios/ope_validation.yaml")


def _reduced(**changes: Any) -> Any:
    data: dict[str, Any] = load_scenario(SCENARIO).model_dump(mode="json")
    data.update(seeds=[1, 2, 3], executor={"kind": "inline", "jobs": 1})
    data["ope"]["bootstrap"] = 50
    for key, value in changes.items():
        data[key] = value
    return scenario_from_dict(data, source=str(SCENARIO))


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = run_scenario(_reduced(), tmp_path_factory.mktemp("ope") / "out", progress=False)
    assert (out / "plots" / "ope_estimates.png").exists()
    assert "Off-policy evaluation against the truth" in (out / "report.html").read_text()
    return pd.read_csv(out / "metrics" / "ope.csv").set_index(["target", "estimator"])


def test_dm_is_biased_on_the_contextual_target_and_dr_repairs_it(summary: pd.DataFrame) -> None:
    # The per-banner mean reward model ignores features; the oracle picks per user.
    dm, dr, ips = (summary.loc[("oracle", e)] for e in ("dm", "dr", "ips"))
    assert dm["bias"] < -0.03
    assert dm["coverage"] == 0.0
    assert abs(dr["bias"]) < abs(dm["bias"]) / 3
    assert dr["rmse"] <= 1.25 * min(ips["rmse"], dm["rmse"])
    assert dr["coverage"] >= 2 / 3


def test_ips_loses_its_sample_far_from_the_logger(summary: pd.DataFrame) -> None:
    n = summary.loc[("always_B", "dm"), "ess"]  # the direct method's ESS is the log's size
    assert summary.loc[("always_B", "ips"), "ess"] > 0.5 * n  # the logger's usual banner
    assert summary.loc[("always_C", "ips"), "ess"] < 0.05 * n  # shown ~1.7% of the time
    for target in ("always_B", "always_A", "always_C", "uniform", "oracle"):
        assert abs(summary.loc[(target, "ips"), "bias"]) < 0.015


def test_replay_is_biased_under_a_non_uniform_logger(summary: pd.DataFrame) -> None:
    assert summary.loc[("uniform", "replay"), "bias"] > 0.02


def test_logging_arm_without_propensities_is_named(tmp_path: Path) -> None:
    config = _reduced(
        seeds=[1],
        arms=[
            {"name": "ts_no_p", "policy": {"kind": "thompson", "propensity_samples": 0}},
            {"name": "always_B", "policy": {"kind": "fixed", "action": 1}},
        ],
        ope={"logging_arm": "ts_no_p", "targets": ["always_B"]},
    )
    with pytest.raises(SweepError, match="arm 'ts_no_p' logged no propensities"):
        run_scenario(config, tmp_path / "out", progress=False, report=False)


CAMPAIGN = {
    "name": "ope_campaign",
    "seeds": [1, 2],
    "world": {
        "population": {**DENSE_POPULATION, "n_users": 1500},
        "catalogue": {"n_items": 20},
        "behaviour": {**DENSE_BEHAVIOUR, "activity_satisfaction": 0, "churn_satisfaction": 0},
        "offers": [
            {"name": "voucher", "base_rate": 0.1, "effect": 1.5},
            {"name": "upgrade", "base_rate": 0.05, "value": 150, "contact_cost": 2},
        ],
    },
    "schedule": {"days": 2, "surface": "none", "campaign_days": [1, 2]},
    "executor": {"kind": "inline", "jobs": 1},
    "arms": [
        {"name": "pilot", "policy": {"kind": "random", "treat_fraction": 0.5}},
        {"name": "voucher_all", "policy": {"kind": "fixed", "action": 0}},
        {"name": "nobody", "policy": {"kind": "fixed", "action": -1}},
        {"name": "oracle", "policy": {"kind": "oracle"}},
    ],
    "ope": {"logging_arm": "pilot", "targets": ["voucher_all", "nobody", "oracle"],
            "bootstrap": 20},
}  # fmt: skip


def test_campaign_targets_are_estimated_against_their_runs(tmp_path: Path) -> None:
    config = scenario_from_dict(CAMPAIGN)
    out = run_scenario(config, tmp_path / "out", progress=False)
    summary = recarena.load(out).ope().set_index(["target", "estimator"])
    # Nobody contacted: no response to credit, and every estimator knows it exactly.
    assert (summary.loc["nobody", "estimate"] == 0).all()
    assert (summary.loc["nobody", "truth"] == 0).all()
    # The pilot sends each offer to a quarter of users (weights 4): IPS and DR are close.
    for target in ("voucher_all", "oracle"):
        truth = summary.loc[(target, "ips"), "truth"]
        assert truth > 0.02
        for estimator in ("ips", "snips", "dr"):
            assert abs(summary.loc[(target, estimator), "bias"]) < 0.2 * truth


SLATES = {
    "name": "ope_slates",
    "seeds": [1, 2],
    "world": {
        "population": {**DENSE_POPULATION, "n_users": 2000},
        "catalogue": {"n_items": 12},
        # Rare clicks (a nearly additive logit) and fixed utilities: see test_slate_ope.py.
        "behaviour": {**DENSE_BEHAVIOUR, "fatigue": 0, "activity_satisfaction": 0,
                      "churn_satisfaction": 0, "no_choice_utility": 8.0},
    },
    "schedule": {"days": 5, "surface": "slate", "slate_size": 3},
    "executor": {"kind": "inline", "jobs": 1},
    "arms": [
        {"name": "logger", "policy": {"kind": "random"}},
        {"name": "also_random", "policy": {"kind": "random"}},
        {"name": "oracle", "policy": {"kind": "oracle"}},
    ],
    "ope": {"logging_arm": "logger", "targets": ["also_random", "oracle"]},
}  # fmt: skip


def test_slate_targets_are_estimated_from_logged_slot_propensities(tmp_path: Path) -> None:
    out = run_scenario(scenario_from_dict(SLATES), tmp_path / "out", progress=False)
    summary = recarena.load(out).ope().set_index(["target", "estimator"])
    assert set(summary.index.get_level_values("estimator")) == {"iips", "pbm_ips",
                                                                  "pseudoinverse"}  # fmt: skip
    for estimator in ("iips", "pbm_ips", "pseudoinverse"):
        # the logger's own policy: every weight is 1 (IIPS, PBM) — the logged click rate
        same = summary.loc[("also_random", estimator)]
        assert abs(same["bias"]) < 0.25 * same["truth"], estimator
        best = summary.loc[("oracle", estimator)]
        assert best["truth"] > 2 * same["truth"]
        assert abs(best["bias"]) < 0.35 * best["truth"], estimator


def test_slate_estimators_under_the_position_based_model(tmp_path: Path) -> None:
    """Under ``choice_model: pbm`` a slate's clicks add up over its slots (several per
    session), so IIPS, PBM-IPS (with the world's examination probabilities) and the
    pseudoinverse are unbiased even with frequent clicks, end to end from the run's log."""
    config = {**SLATES, "name": "ope_slates_pbm"}
    config["world"] = {
        **SLATES["world"],  # type: ignore[dict-item]
        "behaviour": {"fatigue": 0, "activity_satisfaction": 0, "churn_satisfaction": 0,
                      "no_choice_utility": 4.0, "choice_model": "pbm",
                      "examination_probabilities": [1.0, 0.3, 0.1]},
    }  # fmt: skip
    out = run_scenario(scenario_from_dict(config), tmp_path / "out", progress=False)
    summary = recarena.load(out).ope().set_index(["target", "estimator"])
    # measured: truth 0.094 (random) and 0.374 (oracle) clicks per session; biases +0.002
    # (random) and −0.013 to +0.008 (oracle)
    for estimator in ("iips", "pbm_ips", "pseudoinverse"):
        for target in ("also_random", "oracle"):
            row = summary.loc[(target, estimator)]
            assert abs(row["bias"]) < 0.1 * row["truth"], (target, estimator, row["bias"])
    assert summary.loc[("oracle", "iips"), "truth"] > 0.3  # frequent clicks


def test_slate_targets_are_estimated_from_a_bandit_loggers_slot_propensities(
    tmp_path: Path,
) -> None:
    """An ε-greedy slate bandit logs every slot's exact propensity, so IIPS can reweight its
    log (PBM-IPS and the pseudoinverse need a uniform logger's cross-slot probabilities)."""
    arms = [{"name": "logger", "policy": {"kind": "epsilon_greedy", "epsilon": 0.5}},
            *SLATES["arms"][1:]]  # fmt: skip
    config = scenario_from_dict({**SLATES, "name": "ope_bandit_slates", "arms": arms})
    out = run_scenario(config, tmp_path / "out", progress=False, report=False)
    estimates = pd.read_csv(out / "ope" / "estimates.csv")
    assert set(estimates["estimator"]) == {"iips"}
    truth = recarena.load(out).ope().set_index(["target", "estimator"])
    uniform = truth.loc[("also_random", "iips")]
    assert abs(uniform["bias"]) < 0.25 * uniform["truth"]
    best = truth.loc[("oracle", "iips")]
    assert abs(best["bias"]) < 0.35 * best["truth"]
