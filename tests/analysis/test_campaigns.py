"""Campaign analyses with the simulator's truth, and their report sections, end to end."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recarena.analysis import campaigns as ca
from recarena.analysis.registry import SECTIONS
from recarena.analysis.report import write_report
from recarena.analysis.results import RunDirectory
from recarena.analysis.sections.personalization import SECTIONS as PERSONALIZATION
from recarena.experiment.loading import scenario_from_dict
from recarena.experiment.runner import run_scenario


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def _run(tmp_path: Path, name: str, scenario: dict[str, Any]) -> Path:
    config = scenario_from_dict(
        {"name": name, "executor": {"kind": "inline", "jobs": 1}, **scenario}, source=name
    )
    return run_scenario(config, tmp_path / name, progress=False, report=False)


def test_sections_are_listed_once_before_provenance() -> None:
    titles = [s.title for s in SECTIONS]
    for section in PERSONALIZATION:
        assert titles.count(section.title) == 1
    assert titles[-1].startswith("Configuration")


def test_run_outcomes_by_hand() -> None:
    offers = pd.DataFrame({"value": [100.0], "contact_cost": [1.0], "conversion_cost": [10.0],
                           "margin": [90.0]})  # fmt: skip
    campaigns = pd.DataFrame({
        "campaign": [0, 1, 1, 1, 1],
        "offer": [0, 0, -1, 0, -1],
        "control_for": [0, 0, 0, 0, 0],
        "true_effect": [0.5, 0.1, 0.3, -0.05, 0.0],
        "p_treated": [0.6, 0.3, 0.4, 0.15, 0.2],
        "p_control": [0.1, 0.2, 0.1, 0.2, 0.2],
        "npv": [89.0, 89.0, 0.0, -1.0, 0.0],
        # row 1 would have responded uncontacted too (value 100): 89 − 100
        "incremental_npv": [89.0, -11.0, 0.0, -1.0, 0.0],
    })  # fmt: skip
    out = ca.run_outcomes(campaigns, offers, from_campaign=1)
    assert out["contacts"] == 2
    assert out["true_incremental_conversions"] == pytest.approx(0.05)
    assert out["oracle_incremental_conversions"] == pytest.approx(0.4)  # top 2: 0.3 + 0.1
    assert out["regret_conversions"] == pytest.approx(0.35)
    # p1·90 − 1 − p0·100 per treated row: (27 − 1 − 20) + (13.5 − 1 − 20) = −1.5
    assert out["expected_incremental_npv"] == pytest.approx(-1.5)
    # the engine's counterfactual incremental NPV of campaign 1: −11 − 1
    assert out["realised_incremental_npv"] == pytest.approx(-12.0)
    assert out["realised_npv"] == pytest.approx(88.0)


UPLIFT = {
    "seeds": [1, 2],
    "world": {
        "population": {"n_users": 1500, "response_types": {"persuadable": 0.3, "sure_thing": 0.25,
                                                           "lost_cause": 0.2, "sleeping_dog": 0.25},
                       "response_type_feature_strength": 2.0},
        "catalogue": {"n_items": 10},
        "offers": [{"name": "voucher", "base_rate": 0.1, "effect": 1.5}],
    },
    "schedule": {"days": 2, "surface": "none", "campaign_days": [1, 2], "retrain_every": 1},
    "arms": [
        {"name": "x", "policy": {"kind": "uplift", "learner": "x", "target_fraction": 0.3}},
        {"name": "response", "policy": {"kind": "uplift", "learner": "response",
                                        "target_fraction": 0.3}},
        {"name": "oracle", "policy": {"kind": "oracle"}},
    ],
    "analysis": {"uplift": {"learners": ["t", "x"], "folds": 2, "budget_fraction": 0.3}},
}  # fmt: skip


def test_uplift_section_end_to_end(tmp_path: Path) -> None:
    out = _run(tmp_path, "uplift", UPLIFT)
    report = write_report(out)
    html = report.read_text(encoding="utf-8")
    assert "Uplift targeting" in html and "Qini" in html
    outcomes = pd.read_csv(out / "metrics" / "uplift_outcomes.csv")
    assert set(outcomes["arm"]) == {"x", "response", "oracle"}
    mean = outcomes.groupby("arm")["true_incremental_conversions"].mean()
    assert mean["oracle"] > mean["x"] > mean["response"]
    assert (outcomes["regret_conversions"] >= -1e-6).all()
    learners = pd.read_csv(out / "metrics" / "uplift_learners.csv")
    oracle = learners[learners["learner"] == "oracle"]
    np.testing.assert_allclose(oracle["pehe"], 0.0)
    np.testing.assert_allclose(oracle["policy_regret"], 0.0, atol=1e-12)
    fitted = learners[learners["learner"].isin(["t", "x"])]
    assert (fitted["pehe"] > 0).all() and (fitted["policy_regret"] >= 0).all()
    assert (fitted["qini"] > 0).all()  # better than random on the pilot
    curves = pd.read_csv(out / "metrics" / "uplift_qini_curves.csv")
    # a curve per arm that targets by a score (named by the arm), plus the extra learner t
    assert set(curves["learner"]) == {"oracle", "random", "x", "response", "t"}
    assert (out / "plots" / "uplift_qini_offer0.png").exists()


def test_nba_allocation_gaps(tmp_path: Path) -> None:
    scenario = {
        "seeds": [1],
        "world": {
            "population": {"n_users": 800},
            "catalogue": {"n_items": 10},
            "offers": [{"name": "a", "value": 40, "contact_cost": 1, "base_rate": 0.2},
                       {"name": "b", "value": 200, "contact_cost": 4, "conversion_cost": 40,
                        "effect": 1.5}],
        },
        "schedule": {"days": 3, "surface": "none", "campaign_days": [1, 3], "retrain_every": 1,
                     "campaign_budget": 200},
        "arms": [{"name": "npv", "policy": {"kind": "nba", "strategy": "npv"}},
                 {"name": "oracle", "policy": {"kind": "oracle"}}],
        "analysis": {"nba": {"from_campaign": 1}},
    }  # fmt: skip
    out = _run(tmp_path, "nba", scenario)
    gaps = ca.allocation_gaps(RunDirectory(out), from_campaign=1)
    assert set(gaps["method"]) == {"greedy", "lp", "milp"}
    by = gaps.set_index("method")
    assert by.loc["milp", "value"] >= by.loc["lp", "value"] - 1e-6
    assert by.loc["lp", "value"] >= by.loc["greedy", "value"] - 1e-6
    assert by.loc["lp", "gap"] < 0.01
    assert (gaps["bound"] >= gaps["value"] - 1e-6).all()
    html = write_report(out).read_text(encoding="utf-8")
    assert "Next Best Action" in html


def test_lookalike_section(tmp_path: Path) -> None:
    scenario = {
        "seeds": [1],
        "world": {
            "population": {"n_users": 800},
            "catalogue": {"n_items": 60},
            "behaviour": {"churn_base_hazard": 0.03, "churn_satisfaction": 8.0},
            "offers": [{"name": "retention", "retention_effect": 1.5}],
        },
        "schedule": {"days": 16, "surface": "slate", "slate_size": 5, "decision_window": 0.25,
                     "campaign_days": [8], "retrain_every": 4},
        "arms": [
            {"name": "none", "policy": {"kind": "popularity"},
             "campaign_policy": {"kind": "random", "treat_fraction": 0.0}},
            {"name": "lookalike", "policy": {"kind": "popularity"},
             "campaign_policy": {"kind": "lookalike", "lookback_days": 4, "label_days": 4}},
        ],
        "analysis": {"lookalike": {"reference_arm": "none", "label_days": 4, "lookback_days": 4,
                                   "models": ["logistic"]}},
    }  # fmt: skip
    out = _run(tmp_path, "lookalike", scenario)
    rd = RunDirectory(out)
    auc = ca.churn_model_evaluation(rd, "none", 8.0, 4.0, 4.0, models=["logistic"])
    assert len(auc) == 1 and 0.5 < auc.loc[0, "roc_auc"] <= 1.0
    assert auc.loc[0, "pr_auc"] > auc.loc[0, "churn_rate"]  # better than the base rate
    churns = ca.churns_prevented(rd, "none", 8.0)
    row = churns.set_index("arm").loc["lookalike"]
    assert row["contacted"] > 0
    assert row["contacted"] >= row["contacted_persuadable"] + row["contacted_sleeping_dog"]
    assert churns.set_index("arm").loc["none", "prevented"] == 0
    html = write_report(out).read_text(encoding="utf-8")
    assert "Look-alike retention" in html
    assert (out / "metrics" / "lookalike_churn_auc.csv").exists()
    assert (out / "metrics" / "lookalike_churns.csv").exists()
