"""Seeded quality checks: the models learn what the simulated world lets them learn.

* On a world with strong latent-factor structure (8 dimensions, preference weight 3, weak
  item popularity), ALS beats popularity offline (NDCG@10 on a time split of a random log)
  and online (the oracle's expected reward of the slates it showed, refitted daily, over
  five seeds).
* On a cold-start world (half the catalogue released during the run), LightFM with item
  features and the TF-IDF text model order new items (ranked among the new items,
  NDCG@10) far better than pure CF (ALS, item-kNN), which cannot score them at all.

Thresholds are sized for seed 11 with a wide margin (observed values in comments).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from recarena.contract import Surface
from recarena.experiment.evaluate import evaluate_offline, global_time_split
from recarena.policies import registry
from recarena.simulator.engine import environment_spec
from recarena.simulator.log import Col, Table
from recarena.simulator.params import (
    BehaviourParams,
    CatalogueParams,
    PopulationParams,
    ScheduleParams,
    WorldParams,
)
from recarena.simulator.simulation import simulate
from tests.simulator.helpers import DENSE_BEHAVIOUR, DENSE_POPULATION

SEED = 11
LATENT = WorldParams(
    population=PopulationParams(n_users=2000, arrivals_per_day=10, **DENSE_POPULATION),
    catalogue=CatalogueParams(
        n_items=300, n_categories=8, latent_dim=8, popularity_sd=0.3, price_log_sd=0.2
    ),
    behaviour=BehaviourParams(**{**DENSE_BEHAVIOUR, "preference_weight": 4.0}),
)
COLD = WorldParams(
    population=PopulationParams(
        n_users=800, arrivals_per_day=60, segment_separation=2.0, **DENSE_POPULATION
    ),
    catalogue=CatalogueParams(
        n_items=120, n_categories=8, latent_dim=8, popularity_sd=0.5, new_items_per_day=12,
        description_words=16,
    ),
    behaviour=BehaviourParams(**{**DENSE_BEHAVIOUR, "preference_weight": 3.0}),
)  # fmt: skip
SCHEDULE = ScheduleParams(days=10, slate_size=10, retrain_every=1.0, keep_impressions=True)
ALS: dict[str, Any] = {"kind": "als", "factors": 8, "regularization": 1.0}


def _offline(world: WorldParams, models: dict[str, dict[str, Any]], catalogue: str) -> pd.Series:
    result = simulate(world, SCHEDULE, SEED, registry.make({"kind": "random"}))
    engine, w = result.engine, result.world
    history = engine.history.snapshot(SCHEDULE.days, w.features, engine.state.joined(w))
    spec = environment_spec(w, SCHEDULE, frozenset({Surface.SLATE}))
    split = global_time_split(history, spec, test_fraction=0.25, catalogue=catalogue)  # type: ignore[arg-type]
    out = evaluate_offline(models, split, spec, k=10, seed=SEED)
    return out.set_index(["model", "slice", "metric"])["value"]


def _online_reward(world: WorldParams, config: dict[str, Any], seed: int = SEED) -> float:
    result = simulate(world, SCHEDULE, seed, registry.make(config))
    return float(result.log.frame(Table.DECISIONS)[Col.EXPECTED_REWARD].mean())


def test_als_beats_popularity_offline_on_latent_world() -> None:
    value = _offline(LATENT, {"als": ALS, "popularity": {"kind": "popularity"}}, "at_split")
    als, pop = value["als", "all", "ndcg@10"], value["popularity", "all", "ndcg@10"]
    assert als > 1.25 * pop, (als, pop)  # observed ≈ 0.16 vs 0.10


def test_als_beats_popularity_online_on_latent_world() -> None:
    # Popularity's online reward hinges on which items its first clicks lock in, so one
    # seed's gap swings widely (0.02–0.15 over seeds 11–15): compare over five seeds.
    gaps = np.array(
        [
            _online_reward(LATENT, {**ALS, "epsilon": 0.05}, seed)
            - _online_reward(LATENT, {"kind": "popularity", "epsilon": 0.05}, seed)
            for seed in range(SEED, SEED + 5)
        ]
    )
    assert (gaps > 0).all() and gaps.mean() > 0.04, gaps  # observed mean ≈ 0.074


def test_content_and_hybrid_beat_cf_on_new_items() -> None:
    models = {
        "als": ALS,
        "item_knn": {"kind": "item_knn"},
        "lightfm": {"kind": "lightfm", "item_identity": False, "factors": 16, "epochs": 15},
        "text": {"kind": "text_tfidf"},
    }
    value = _offline(COLD, models, "all")
    cold = {m: value[m, "cold_items", "ndcg@10"] for m in models}
    # CF cannot score unseen items: both fall back to the same (zero-popularity, by-id) list.
    assert cold["als"] == cold["item_knn"]
    assert cold["lightfm"] > 1.5 * cold["als"] and cold["text"] > 1.5 * cold["als"], cold
    assert np.isfinite(value["lightfm", "cold_users", "ndcg@10"])


@pytest.mark.slow
def test_lightfm_serves_new_users_online_better_than_cf_fallback() -> None:
    lightfm = _online_reward(COLD, {"kind": "lightfm", "item_identity": False, "epsilon": 0.05})
    als = _online_reward(COLD, {**ALS, "epsilon": 0.05})
    assert lightfm > als - 0.02, (lightfm, als)
