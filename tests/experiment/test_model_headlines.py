"""Headlines of ``scenarios/two_stage.yaml`` and ``scenarios/neural.yaml`` on reduced runs.

Each scenario's world (fewer users and days, one seed) logs a random policy; the scenario's
own arm configs are fitted on a global time split of that log and rank the catalogue, as the
report's offline table does. Thresholds are sized for the seed with a margin (observed values
in comments). The neural headlines train networks on every arm and are marked slow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from recarena.contract import Surface
from recarena.experiment.evaluate import evaluate_offline, global_time_split
from recarena.experiment.loading import load_scenario
from recarena.policies import registry
from recarena.simulator.engine import environment_spec
from recarena.simulator.params import ScheduleParams, WorldParams
from recarena.simulator.simulation import simulate

SCENARIOS = Path(__file__).parents[2] / "scenarios"


def _offline(
    name: str, users: int, days: float, arms: list[str], catalogue: str, seed: int = 1
) -> pd.Series:
    """Offline metrics of the named arms of a bundled scenario on a reduced random log."""
    config = load_scenario(SCENARIOS / f"{name}.yaml")
    data: dict[str, Any] = config.world.model_dump(mode="json")
    data["population"]["n_users"] = users
    data["population"]["arrivals_per_day"] = min(data["population"]["arrivals_per_day"], users / 15)
    world = WorldParams.model_validate(data)
    schedule = ScheduleParams.model_validate(
        {**config.schedule.model_dump(mode="json"), "days": days, "keep_impressions": True}
    )
    result = simulate(world, schedule, seed, registry.make({"kind": "random"}))
    engine, w = result.engine, result.world
    history = engine.history.snapshot(days, w.features, engine.state.joined(w))
    spec = environment_spec(w, schedule, frozenset({Surface.SLATE}))
    split = global_time_split(history, spec, test_fraction=0.25, catalogue=catalogue)  # type: ignore[arg-type]
    policies = {arm.name: arm.policy for arm in config.arms if arm.name in arms}
    models = {name: dict(policy) for name, policy in policies.items()}
    out = evaluate_offline(models, split, spec, k=10, seed=seed)
    return out.set_index(["model", "slice", "metric"])["value"]


def test_two_stage_headline_rankers_beat_the_best_single_generator() -> None:
    rankers = ["two_stage_yetirank", "two_stage_regressor", "two_stage_hgb"]
    value = _offline("two_stage", 1500, 8.0, ["als", "item_knn", *rankers], "at_split")
    ndcg = {m: value[m, "all", "ndcg@10"] for m in ["als", "item_knn", *rankers]}
    best_generator = max(ndcg["als"], ndcg["item_knn"])
    for ranker in rankers:  # observed ≈ 0.12 (all three) vs 0.089 (ALS)
        assert ndcg[ranker] > 1.15 * best_generator, ndcg


@pytest.mark.slow  # ≈ 30 s on an idle core: four neural fits per arm on the reduced log
def test_neural_headline_two_tower_serves_new_items_and_leads_overall() -> None:
    arms = ["als", "mf_dot", "dssm_two_tower"]
    value = _offline("neural", 800, 8.0, arms, "all")
    ndcg = {(m, s): value[m, s, "ndcg@10"] for m in arms for s in ("all", "cold_items")}
    # observed: two-tower 0.139 overall vs MF-dot 0.094 and ALS 0.090
    assert ndcg["dssm_two_tower", "all"] > 1.2 * max(ndcg["mf_dot", "all"], ndcg["als", "all"])
    # id models cannot score new items (all tie: 0.029); the item tower reads their content (0.155)
    assert ndcg["mf_dot", "cold_items"] == ndcg["als", "cold_items"]
    assert ndcg["dssm_two_tower", "cold_items"] > 3 * ndcg["mf_dot", "cold_items"], ndcg


@pytest.mark.slow
def test_neural_headline_mf_dot_matches_the_id_networks() -> None:
    arms = ["lightfm", "mf_dot", "dssm", "neumf", "dssm_two_tower"]
    value = _offline("neural", 800, 8.0, arms, "all")
    ndcg = {(m, s): value[m, s, "ndcg@10"] for m in arms for s in ("all", "cold_items")}
    # observed: MF-dot 0.094 vs DSSM 0.059 and NeuMF 0.059 (Rendle et al. 2020)
    assert (
        ndcg["mf_dot", "all"] > ndcg["dssm", "all"] and ndcg["mf_dot", "all"] > ndcg["neumf", "all"]
    )
    # LightFM's item features also rank new items (0.187 vs 0.029 for the id models)
    assert ndcg["lightfm", "cold_items"] > 3 * ndcg["neumf", "cold_items"], ndcg
