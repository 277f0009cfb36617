"""The world's user, item and offer tables: what analysis needs of a world, once per seed.

Analysis reads a results directory, never simulator objects, but some ground truth is not in
the event log: each user's latent segment and response type, their observable features,
every item's category and latent quality, and every offer's response parameters (to compute
true effects and incremental NPV of any offer for any user). :func:`write_world_tables`
stores them as three Parquet files;
:func:`read_world_tables` gives them back as :class:`WorldTables`, whose ``offers`` is the
same :class:`~recarena.simulator.world.Offers` the engine used, so the offer model of
:mod:`recarena.simulator.campaigns` computes the same numbers from it.

``users.parquet``
    ``user, join_time, segment, response_type, cate_latent``, then one float32 column per encoded
    feature (named as :attr:`World.feature_names`; the numeric features come first). The
    file's metadata names the numeric features.
``items.parquet``
    ``item, category, popularity, price, release_time, quality, clickbait``: the catalogue,
    with the latent quality of each item and its clickbait flag.
``offers.parquet``
    ``name, value, contact_cost, conversion_cost, base_logit, effect, retention_effect,
    retention_days, cate, cate_scale, session_conversion_lift, session_activity_lift``, the
    eligibility rule (``eligibility_feature``: column of the numeric feature, −1 for none;
    ``eligibility_min``, ``eligibility_max``) and the per-feature weights
    ``response_weights`` and ``effect_weights`` (one list per offer).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from recarena.simulator.world import Offers, World
from recarena.typing import FloatArray

__all__ = [
    "ITEMS_FILE",
    "OFFERS_FILE",
    "USERS_FILE",
    "WORLD_DIR",
    "WorldTables",
    "read_world_tables",
    "seed_directory",
    "write_world_tables",
]

WORLD_DIR = "world"
USERS_FILE = "users.parquet"
ITEMS_FILE = "items.parquet"
OFFERS_FILE = "offers.parquet"
_NUMERIC_KEY = b"recarena.numeric_features"
_FIXED_USER_COLUMNS = ("user", "join_time", "segment", "response_type", "cate_latent")


@dataclass(frozen=True)
class WorldTables:
    """The ground truth of a world that analysis reads (see the module docstring).

    Attributes
    ----------
    features : (n, F) float32 — encoded observable features, numeric first
    feature_names : names of the F columns
    numeric_names : names of the numeric features (the first columns)
    segment : (n,) int64 — latent segment
    join_time : (n,) float64 — arrival day
    response_type : (n,) int8 — latent campaign-response type
    offers : the offers and their response parameters
    cate_latent : (n,) float64 — ν_u, the unobservable part of a continuous treatment effect
    items : the catalogue (one row per item; see the module docstring)
    """

    features: NDArray[np.float32]
    feature_names: tuple[str, ...]
    numeric_names: tuple[str, ...]
    segment: NDArray[np.int64]
    join_time: NDArray[np.float64]
    response_type: NDArray[np.int8]
    offers: Offers
    cate_latent: FloatArray
    items: pd.DataFrame

    @property
    def numeric(self) -> NDArray[np.float32]:
        """The numeric features, (n, Fn) (what eligibility rules test)."""
        return self.features[:, : len(self.numeric_names)]


def seed_directory(results: Path, seed: int) -> Path:
    """Where a results directory keeps the world tables of ``seed``: ``world/seed=<seed>``."""
    return Path(results) / WORLD_DIR / f"seed={seed}"


def _users_table(world: World) -> pa.Table:
    users = world.users
    columns = {
        "user": pa.array(np.arange(world.n_users, dtype=np.int64)),
        "join_time": pa.array(users.join_time),
        "segment": pa.array(users.segment),
        "response_type": pa.array(users.response_type),
        "cate_latent": pa.array(users.cate_latent),
    }
    for j, name in enumerate(world.feature_names):
        columns[name] = pa.array(world.features[:, j])
    metadata = {_NUMERIC_KEY: json.dumps(list(world.numeric_names)).encode()}
    return pa.table(columns).replace_schema_metadata(metadata)


def _items_table(world: World) -> pa.Table:
    items = world.items
    return pa.table(
        {
            "item": pa.array(np.arange(world.n_items, dtype=np.int64)),
            "category": pa.array(items.category),
            "popularity": pa.array(items.popularity),
            "price": pa.array(items.price),
            "release_time": pa.array(items.release_time),
            "quality": pa.array(items.quality),
            "clickbait": pa.array(items.clickbait),
        }
    )


def _offers_table(offers: Offers) -> pa.Table:
    rules = [rule if rule is not None else (-1, -np.inf, np.inf) for rule in offers.eligibility]
    return pa.table(
        {
            "name": pa.array(list(offers.names), type=pa.string()),
            "value": pa.array(offers.value),
            "contact_cost": pa.array(offers.contact_cost),
            "conversion_cost": pa.array(offers.conversion_cost),
            "base_logit": pa.array(offers.base_logit),
            "effect": pa.array(offers.effect),
            "retention_effect": pa.array(offers.retention_effect),
            "retention_days": pa.array(offers.retention_days),
            "eligibility_feature": pa.array([int(r[0]) for r in rules], type=pa.int64()),
            "eligibility_min": pa.array([float(r[1]) for r in rules], type=pa.float64()),
            "eligibility_max": pa.array([float(r[2]) for r in rules], type=pa.float64()),
            "cate": pa.array(list(offers.cate), type=pa.string()),
            "cate_scale": pa.array(offers.cate_scale),
            "session_conversion_lift": pa.array(offers.session_conversion_lift),
            "session_activity_lift": pa.array(offers.session_activity_lift),
            "response_weights": pa.array(list(offers.response_weights), pa.list_(pa.float64())),
            "effect_weights": pa.array(list(offers.effect_weights), pa.list_(pa.float64())),
        }
    )


def write_world_tables(world: World, directory: Path) -> None:
    """Write ``users.parquet`` and ``items.parquet``
        ``item, category, popularity, price, release_time, quality, clickbait``: the catalogue,
        with the latent quality of each item and its clickbait flag.
    ``offers.parquet`` of ``world`` into ``directory``.

        Written into a temporary sibling and renamed into place, so a reader never sees half a
        directory; when ``directory`` exists already (another arm of the same seed wrote it:
        the world is a pure function of the seed) nothing is written.
    """
    if directory.exists():
        return
    tmp = directory.with_name(f".tmp-{directory.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    pq.write_table(_users_table(world), tmp / USERS_FILE)
    pq.write_table(_items_table(world), tmp / ITEMS_FILE)
    pq.write_table(_offers_table(world.offers), tmp / OFFERS_FILE)
    try:
        os.replace(tmp, directory)
    except OSError:  # written by a concurrent run of the same seed meanwhile
        shutil.rmtree(tmp, ignore_errors=True)


def _matrix(column: pa.ChunkedArray, width: int) -> NDArray[np.float64]:
    rows = column.to_pylist()
    return np.array(rows, dtype=np.float64).reshape(len(rows), width)


def read_world_tables(directory: Path) -> WorldTables:
    """The tables written by :func:`write_world_tables`.

    Raises
    ------
    FileNotFoundError
        If ``directory`` does not hold them (e.g. results written by an older version).
    """
    users_path, offers_path = directory / USERS_FILE, directory / OFFERS_FILE
    for path in (users_path, directory / ITEMS_FILE, offers_path):
        if not path.exists():
            raise FileNotFoundError(
                f"no world table {path.name} in {directory}: the runner writes one per seed; "
                "re-run the scenario to get it"
            )
    users = pq.read_table(users_path)
    numeric = tuple(json.loads((users.schema.metadata or {})[_NUMERIC_KEY]))
    names = tuple(c for c in users.column_names if c not in _FIXED_USER_COLUMNS)
    features = np.empty((users.num_rows, len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        features[:, j] = users.column(name).to_numpy()
    offers = pq.read_table(offers_path)
    width = len(names)
    rules: list[tuple[int, float, float] | None] = []
    for col, low, high in zip(
        offers.column("eligibility_feature").to_pylist(),
        offers.column("eligibility_min").to_pylist(),
        offers.column("eligibility_max").to_pylist(),
        strict=True,
    ):
        rules.append(None if col < 0 else (int(col), float(low), float(high)))

    def floats(name: str) -> NDArray[np.float64]:
        return offers.column(name).to_numpy().astype(np.float64)

    return WorldTables(
        features=features,
        feature_names=names,
        numeric_names=numeric,
        segment=users.column("segment").to_numpy().astype(np.int64),
        join_time=users.column("join_time").to_numpy().astype(np.float64),
        response_type=users.column("response_type").to_numpy().astype(np.int8),
        offers=Offers(
            names=tuple(offers.column("name").to_pylist()),
            value=floats("value"),
            contact_cost=floats("contact_cost"),
            conversion_cost=floats("conversion_cost"),
            base_logit=floats("base_logit"),
            response_weights=_matrix(offers.column("response_weights"), width),
            effect=floats("effect"),
            effect_weights=_matrix(offers.column("effect_weights"), width),
            retention_effect=floats("retention_effect"),
            retention_days=floats("retention_days"),
            eligibility=tuple(rules),
            cate=tuple(offers.column("cate").to_pylist()),
            cate_scale=floats("cate_scale"),
            session_conversion_lift=floats("session_conversion_lift"),
            session_activity_lift=floats("session_activity_lift"),
        ),
        cate_latent=users.column("cate_latent").to_numpy().astype(np.float64),
        items=pq.read_table(directory / ITEMS_FILE).to_pandas(),
    )
