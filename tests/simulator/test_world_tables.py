"""The world tables analysis reads give back the world's ground truth, offers included."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from recarena.simulator import campaigns
from recarena.simulator.params import ScheduleParams
from recarena.simulator.simulation import build_world
from recarena.simulator.world_tables import read_world_tables, seed_directory, write_world_tables
from tests.simulator.helpers import world_params

OFFERS = [
    {
        "name": "coupon",
        "retention_effect": 0.5,
        "cate": "nonlinear",
        "cate_scale": 0.8,
        "session_activity_lift": 0.3,
    },
    {"name": "gift", "contact_cost": 2.0, "eligibility": {"feature": "age", "min": -0.5}},
]


def test_round_trip_gives_the_same_ground_truth(tmp_path: Path) -> None:
    world = build_world(
        world_params(
            120,
            10,
            population={"arrivals_per_day": 3.0},
            catalogue={"clickbait_share": 0.3},
            offers=OFFERS,
        ),
        ScheduleParams(days=4),
        5,
    )
    directory = seed_directory(tmp_path, 5)
    write_world_tables(world, directory)
    tables = read_world_tables(directory)
    np.testing.assert_array_equal(tables.features, world.features)
    np.testing.assert_array_equal(tables.segment, world.users.segment)
    np.testing.assert_array_equal(tables.join_time, world.users.join_time)
    np.testing.assert_array_equal(tables.response_type, world.users.response_type)
    np.testing.assert_array_equal(tables.cate_latent, world.users.cate_latent)
    assert tables.cate_latent.std() > 0.3  # drawn: one offer has a continuous effect
    np.testing.assert_array_equal(tables.numeric, world.users.numeric)
    assert tables.feature_names == world.feature_names
    assert tables.numeric_names == world.numeric_names
    for field in fields(world.offers):
        np.testing.assert_array_equal(
            np.asarray(getattr(tables.offers, field.name), dtype=object),
            np.asarray(getattr(world.offers, field.name), dtype=object),
            err_msg=field.name,
        )
    # The offer model gives the same numbers, bit for bit, from the tables.
    users = np.arange(world.n_users)
    p0, p1 = campaigns.response_probabilities(
        tables.features[users], tables.response_type[users], tables.offers, tables.cate_latent
    )
    q0, q1 = campaigns.offer_probabilities(world, users)
    np.testing.assert_array_equal(p0, q0)
    np.testing.assert_array_equal(p1, q1)
    np.testing.assert_array_equal(
        campaigns.eligibility(tables.numeric, tables.offers.eligibility),
        campaigns.offer_eligibility(world, users),
    )
    # A second writer of the same seed leaves the first one's tables alone.
    write_world_tables(world, directory)
    names = ["items.parquet", "offers.parquet", "users.parquet"]
    assert sorted(p.name for p in directory.iterdir()) == names
    items = tables.items
    np.testing.assert_array_equal(items["category"], world.items.category)
    np.testing.assert_array_equal(items["quality"], world.items.quality)
    np.testing.assert_array_equal(items["clickbait"], world.items.clickbait)


def test_missing_tables_name_the_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"users\.parquet"):
        read_world_tables(tmp_path / "world" / "seed=1")
