"""The event log: typed tables, chunked Parquet streaming, and the slate column round trip."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recarena.contract import Decision, DecisionRequest, Surface
from recarena.policies import registry
from recarena.policies.base import Policy, PolicyParams
from recarena.simulator import simulation
from recarena.simulator.log import (
    Col,
    EventLog,
    Table,
    read_slates,
    read_table,
    slate_columns,
    slates_array,
    table_columns,
)
from recarena.simulator.params import ScheduleParams
from tests.simulator.helpers import TABLES, decision_rows, world_params

K = 4


def _fill(log: EventLog, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for size in (7, 0, 13, 1, 30, 5, 22):
        log.append(Table.DECISIONS, decision_rows(rng, size, K))
        log.append(
            Table.LIFECYCLE,
            {Col.T: rng.uniform(0, 5, size), Col.USER: rng.integers(0, 9, size),
             Col.EVENT: rng.integers(0, 2, size)},
        )  # fmt: skip
    log.close()


def _assert_same_frames(a: pd.DataFrame, b: pd.DataFrame) -> None:
    if Col.SLATE in a.columns:
        np.testing.assert_array_equal(slates_array(a), slates_array(b))
        a, b = a.drop(columns=[Col.SLATE]), b.drop(columns=[Col.SLATE])
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_chunked_parquet_round_trips_to_in_memory_frames(tmp_path: Path) -> None:
    memory = EventLog(None, slate_size=K)
    disk = EventLog(tmp_path, slate_size=K, chunk_rows=10)
    _fill(memory)
    _fill(disk)
    assert memory.rows == disk.rows
    assert pq.ParquetFile(tmp_path / "decisions.parquet").num_row_groups > 1  # really chunked
    for table in TABLES:
        assert memory.arrow(table).schema == disk.arrow(table).schema, table
        _assert_same_frames(memory.frame(table), disk.frame(table))
        _assert_same_frames(memory.frame(table), read_table(tmp_path, table))


def test_row_groups_close_before_the_buffer_would_overflow(tmp_path: Path) -> None:
    disk = EventLog(tmp_path, slate_size=K, chunk_rows=10)
    _fill(disk)  # appends of 7, 0, 13, 1, 30, 5, 22 rows
    meta = pq.ParquetFile(tmp_path / "decisions.parquet").metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    # A group is written when the next append would overflow it (7 | 13 | 1 | 30 | 5 | 22):
    # at most chunk_rows rows, unless one append alone is larger.
    assert sizes == [7, 13, 1, 30, 5, 22]


def test_slate_column_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    rows = decision_rows(rng, 25, K)
    for path in (None, tmp_path):
        log = EventLog(path, slate_size=K, chunk_rows=3)
        log.append(Table.DECISIONS, rows)
        log.close()
        frame = log.frame(Table.DECISIONS)
        assert slates_array(frame).dtype == np.int32
        np.testing.assert_array_equal(slates_array(frame), rows[Col.SLATE])
        np.testing.assert_array_equal(frame[Col.CLICK], rows[Col.CLICK].astype(np.int8))
        np.testing.assert_allclose(
            frame[Col.EXPECTED_REWARD], rows[Col.EXPECTED_REWARD].astype(np.float32)
        )


def test_simulation_log_streams_to_the_same_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole run streamed to Parquet in small chunks equals the in-memory run."""
    params = world_params(200, 60, population={"arrivals_per_day": 3.0}, offers=[{"name": "a"}])
    schedule = ScheduleParams(days=5, slate_size=5, campaign_days=[2.0, 4.0])

    def run(path: Path | None) -> simulation.SimulationResult:
        return simulation.simulate(
            params,
            schedule,
            seed=3,
            session_policy=registry.make({"kind": "random"}),
            campaign_policy=registry.make({"kind": "random"}),
            log_path=path,
        )

    memory = run(None)
    monkeypatch.setattr(simulation, "EventLog", functools.partial(EventLog, chunk_rows=97))
    disk = run(tmp_path)
    assert disk.log.chunk_rows == 97 and memory.log.path is None
    assert pq.ParquetFile(tmp_path / "decisions.parquet").num_row_groups > 1
    for table in TABLES:
        _assert_same_frames(memory.log.frame(table), read_table(tmp_path, table))
    assert memory.log.rows[Table.DECISIONS] > 500
    assert memory.log.rows[Table.CAMPAIGNS] > 0
    assert memory.log.rows[Table.CONVERSIONS] > 0


def test_read_slates_and_column_subsets(tmp_path: Path) -> None:
    rows = decision_rows(np.random.default_rng(9), 40, K)
    log = EventLog(tmp_path, slate_size=K, chunk_rows=7)
    log.append(Table.DECISIONS, rows)
    log.close()
    slates = read_slates(tmp_path)
    assert slates.dtype == np.int32
    np.testing.assert_array_equal(slates, rows[Col.SLATE])
    part = read_table(tmp_path, Table.DECISIONS, columns=[Col.USER, Col.CLICK])
    assert list(part.columns) == [Col.USER, Col.CLICK]
    np.testing.assert_array_equal(part[Col.USER], rows[Col.USER])
    variant = tmp_path / "variant"
    log = EventLog(variant, slate_size=0)
    log.close()
    assert read_slates(variant).shape == (0, 0)


def test_empty_tables_are_written_with_their_schema(tmp_path: Path) -> None:
    log = EventLog(tmp_path, slate_size=K)
    log.close()
    stored = set(slate_columns(K))
    for table in TABLES:
        frame = read_table(tmp_path, table)
        assert len(frame) == 0
        assert list(frame.columns) == [c for c in log.schemas[table].names if c not in stored] + (
            [Col.SLATE] if table == Table.DECISIONS else []
        )
        assert list(frame.columns) == table_columns(tmp_path, table)


def test_log_misuse_raises(tmp_path: Path) -> None:
    log = EventLog(tmp_path, slate_size=K)
    with pytest.raises(KeyError, match="missing"):
        log.append(Table.LIFECYCLE, {Col.T: np.zeros(1), Col.USER: np.zeros(1)})
    with pytest.raises(KeyError, match="unexpected"):
        log.append(
            Table.LIFECYCLE,
            {Col.T: np.zeros(1), Col.USER: np.zeros(1), Col.EVENT: np.zeros(1), "x": np.zeros(1)},
        )
    with pytest.raises(RuntimeError, match="close"):
        log.arrow(Table.LIFECYCLE)
    log.close()
    with pytest.raises(RuntimeError, match="closed"):
        log.append(
            Table.FITS, {Col.T: np.zeros(1), Col.SECONDS: np.zeros(1), Col.ROWS: np.zeros(1)}
        )
    with pytest.raises(FileNotFoundError, match="nope"):
        read_table(tmp_path, "nope")


def test_variant_runs_have_no_slate_column() -> None:
    log = EventLog(None, slate_size=0)
    names = log.schemas[Table.DECISIONS].names
    assert not [c for c in names if c.startswith(Col.SLATE)]


def test_slates_are_stored_as_int32_columns(tmp_path: Path) -> None:
    """On disk and in Arrow the slate is k flat int32 columns, dictionary-encoded; only t,
    user and session carry statistics."""
    assert slate_columns(3) == ["slate_0", "slate_1", "slate_2"]
    assert slate_columns(0) == []
    rows = decision_rows(np.random.default_rng(2), 30, K)
    for path in (None, tmp_path):
        log = EventLog(path, slate_size=K, chunk_rows=8)
        log.append(Table.DECISIONS, rows)
        log.close()
        schema = log.arrow(Table.DECISIONS).schema
        assert schema.names[4 : 4 + K] == slate_columns(K)
        assert Col.SLATE not in schema.names
        assert all(schema.field(c).type == pa.int32() for c in slate_columns(K))
        assert not any(pa.types.is_nested(f.type) for f in schema)
        assert not any(f.nullable for f in schema)  # required: no definition levels written
    file = pq.ParquetFile(tmp_path / "decisions.parquet")
    assert file.schema_arrow.names == log.schemas[Table.DECISIONS].names
    assert all(file.schema.column(i).max_definition_level == 0 for i in range(len(file.schema)))
    group = file.metadata.row_group(0)
    for i in range(group.num_columns):
        column = group.column(i)
        name = column.path_in_schema
        assert column.is_stats_set == (name in (Col.T, Col.USER, Col.SESSION)), name
        if name.startswith(Col.SLATE_PREFIX):
            assert "RLE_DICTIONARY" in column.encodings, name
    stored = pq.read_table(tmp_path / "decisions.parquet", columns=slate_columns(K))
    np.testing.assert_array_equal(
        np.column_stack([stored.column(c).to_numpy() for c in slate_columns(K)]), rows[Col.SLATE]
    )


@pytest.mark.parametrize("k", [0, 1, K])
@pytest.mark.parametrize("n", [0, 1, 25])
def test_slates_round_trip_exactly(tmp_path: Path, k: int, n: int) -> None:
    """read_table, read_slates and frame give back the appended slates (any k, any n)."""
    rows = decision_rows(np.random.default_rng(n + 10 * k), n, k)
    expected = rows[Col.SLATE] if k else np.zeros((n, 0), dtype=np.int32)
    for path in (None, tmp_path):
        log = EventLog(path, slate_size=k, chunk_rows=4)
        log.append(Table.DECISIONS, rows)
        log.close()
        frames = [log.frame(Table.DECISIONS)]
        if path is not None:
            frames.append(read_table(path, Table.DECISIONS))
            slates = read_slates(path)
            assert slates.dtype == np.int32 and slates.shape == (n, k)
            np.testing.assert_array_equal(slates, expected)
        for frame in frames:
            assert len(frame) == n
            assert (Col.SLATE in frame.columns) == bool(k)
            assert not [c for c in frame.columns if c.startswith(Col.SLATE_PREFIX)]
            np.testing.assert_array_equal(frame[Col.USER], rows[Col.USER])
            if k and n:
                assert all(s.dtype == np.int32 and s.shape == (k,) for s in frame[Col.SLATE])
                np.testing.assert_array_equal(slates_array(frame), expected)


def test_read_table_maps_slate_to_the_stored_columns(tmp_path: Path) -> None:
    rows = decision_rows(np.random.default_rng(4), 33, K)
    log = EventLog(tmp_path, slate_size=K, chunk_rows=10)
    log.append(Table.DECISIONS, rows)
    log.close()
    with_slate = read_table(tmp_path, Table.DECISIONS, columns=[Col.USER, Col.SLATE, Col.CLICK])
    assert list(with_slate.columns) == [Col.USER, Col.CLICK, Col.SLATE]  # slate comes last
    np.testing.assert_array_equal(slates_array(with_slate), rows[Col.SLATE])
    np.testing.assert_array_equal(with_slate[Col.USER], rows[Col.USER])
    only = read_table(tmp_path, Table.DECISIONS, columns=[Col.SLATE])
    assert list(only.columns) == [Col.SLATE]
    np.testing.assert_array_equal(slates_array(only), rows[Col.SLATE])
    without = read_table(tmp_path, Table.DECISIONS, columns=[Col.T, Col.CLICKED_ITEM])
    assert list(without.columns) == [Col.T, Col.CLICKED_ITEM]
    np.testing.assert_array_equal(without[Col.CLICKED_ITEM], rows[Col.CLICKED_ITEM])
    columns = table_columns(tmp_path, Table.DECISIONS)
    assert columns[-1] == Col.SLATE and not [c for c in columns if c in slate_columns(K)]
    assert list(read_table(tmp_path, Table.DECISIONS).columns) == columns


def test_slate_of_the_wrong_width_is_rejected() -> None:
    log = EventLog(None, slate_size=K)
    rows = decision_rows(np.random.default_rng(0), 5, K)
    with pytest.raises(ValueError, match="shape"):
        log.append(Table.DECISIONS, {**rows, Col.SLATE: np.zeros((5, K + 1), dtype=np.int32)})
    with pytest.raises(ValueError, match="shape"):
        log.append(Table.DECISIONS, {**rows, Col.SLATE: np.zeros(5, dtype=np.int32)})


class _FirstSlotOnly(Policy):
    """Uniformly random slates that log the first slot's propensity only."""

    class Params(PolicyParams):
        kind: Literal["first_slot_only_log"] = "first_slot_only_log"

    surfaces = frozenset({Surface.SLATE})
    randomised = True

    def _act(self, request: DecisionRequest) -> Decision:
        items = np.flatnonzero(request.available_items)
        keys = self.rng_.random((request.size, items.size))
        slates = items[np.argsort(keys, axis=1)[:, : self.spec_.slate_size]]
        return Decision(actions=slates, propensities=np.full(request.size, 1.0 / items.size))


def test_slates_log_whole_slate_and_per_slot_propensities(tmp_path: Path) -> None:
    from recarena.policies import registry
    from recarena.simulator.log import read_slot_propensities
    from recarena.simulator.simulation import simulate
    from tests.simulator.helpers import world_params as small_world

    schedule = ScheduleParams(days=2, surface="slate", slate_size=3)
    policies = {
        "random": registry.make({"kind": "random"}),
        "popularity": registry.make({"kind": "popularity", "epsilon": 0.2}),
        "epsilon_greedy": registry.make({"kind": "epsilon_greedy", "epsilon": 0.2}),
        "thompson": registry.make({"kind": "thompson"}),  # whole slate unknown (NaN)
        "first_slot_only": _FirstSlotOnly(),  # the engine fills the other slots with NaN
    }
    for name, policy in policies.items():
        known = 1 if name == "first_slot_only" else 3
        out = tmp_path / name
        simulate(small_world(), schedule, 3, policy, log_path=out).log.close()
        slots = read_slot_propensities(out)
        frame = read_table(out, Table.DECISIONS, [Col.PROPENSITY, Col.SLATE_PROPENSITY])
        assert slots.shape == (len(frame), 3)
        np.testing.assert_allclose(slots[:, 0], frame[Col.PROPENSITY], rtol=1e-6)
        assert np.isfinite(slots[:, :known]).all() and np.isnan(slots[:, known:]).all()
        assert ((slots[:, :known] > 0) & (slots[:, :known] <= 1)).all()
        whole = frame[Col.SLATE_PROPENSITY].to_numpy()
        if name in ("thompson", "first_slot_only"):
            assert np.isnan(whole).all()
        else:  # the whole slate is no likelier than any of its slots
            assert (whole > 0).all() and (whole <= slots.min(axis=1) + 1e-7).all()
