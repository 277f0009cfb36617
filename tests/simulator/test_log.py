"""The event log: typed tables, chunked Parquet streaming, and the slate column round trip."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from recarena.policies import registry
from recarena.simulator import simulation
from recarena.simulator.log import Col, EventLog, Table, read_slates, read_table, slates_array
from recarena.simulator.params import ScheduleParams
from tests.simulator.helpers import TABLES, world_params

K = 4


def _decision_rows(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        Col.T: np.sort(rng.uniform(0, 1, n)),
        Col.USER: rng.integers(0, 1000, n),
        Col.SESSION: rng.integers(0, 50, n),
        Col.ACTION: np.full(n, -1),
        Col.SLATE: rng.integers(0, 500, (n, K)),
        Col.PROPENSITY: rng.uniform(0, 1, n),
        Col.GROUP: rng.integers(-1, 3, n),
        Col.FALLBACK: rng.random(n) < 0.1,
        Col.CLICK: rng.random(n) < 0.3,
        Col.CLICKED_POSITION: rng.integers(-1, K, n),
        Col.CLICKED_ITEM: rng.integers(-1, 500, n),
        Col.EXPECTED_REWARD: rng.uniform(0, 1, n),
        Col.BEST_EXPECTED_REWARD: rng.uniform(0, 1, n),
    }


def _fill(log: EventLog, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for size in (7, 0, 13, 1, 30, 5, 22):
        log.append(Table.DECISIONS, _decision_rows(rng, size))
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


def test_slate_column_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    rows = _decision_rows(rng, 25)
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
    rows = _decision_rows(np.random.default_rng(9), 40)
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
    for table in TABLES:
        frame = read_table(tmp_path, table)
        assert len(frame) == 0
        assert list(frame.columns) == [c for c in log.schemas[table].names if c != Col.SLATE] + (
            [Col.SLATE] if table == Table.DECISIONS else []
        )


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
    assert Col.SLATE not in log.schemas[Table.DECISIONS].names
