"""The event log: typed columnar tables, streamed to Parquet in chunks.

Tables (names in :class:`Table`, columns in :class:`Col`):

``decisions``
    One row per session-surface decision: ``t, user, session, action`` (variant, or −1 on
    the slate surface), ``slate`` (fixed-size list of item ids, slate surface only),
    ``propensity, group, fallback, click, clicked_position, clicked_item``, and the oracle
    columns ``expected_reward`` (P(click) of what was shown) and ``best_expected_reward``
    (P(click) of the best action available).
``conversions``
    ``t`` (when the purchase happened), ``click_t, user, item, revenue``.
``campaigns``
    One row per user considered by a campaign: ``t, campaign, user, offer`` (−1 = none),
    ``control_for, propensity, group, responded`` and the oracle columns ``p_treated,
    p_control`` (response probability with and without the offer it is about) and
    ``true_effect``; ``npv`` realised by a contact (response value − conversion cost −
    contact cost; 0 for untreated rows) and the oracle's ``incremental_npv``: that minus the
    value the user would have brought uncontacted (the counterfactual response under the
    same common random number).
``lifecycle``
    ``t, user, event`` (0 = arrival, 1 = churn).
``snapshots``
    Daily: ``t, active_users, mean_satisfaction, sessions, clicks, revenue``.
``fits``
    ``t, seconds, rows``: each refit of the policy.

Rows are buffered per table and flushed as a Parquet row group when the buffer holds
``chunk_rows`` rows, so memory does not grow with the length of the run. With ``path=None``
the tables stay in memory (tests, notebooks).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

__all__ = ["SCHEMAS", "Col", "EventLog", "Table", "read_table"]


class Col:
    """Column names, as constants so analysis code never spells them twice."""

    T = "t"
    USER = "user"
    SESSION = "session"
    ACTION = "action"
    SLATE = "slate"
    PROPENSITY = "propensity"
    GROUP = "group"
    FALLBACK = "fallback"
    CLICK = "click"
    CLICKED_POSITION = "clicked_position"
    CLICKED_ITEM = "clicked_item"
    EXPECTED_REWARD = "expected_reward"
    BEST_EXPECTED_REWARD = "best_expected_reward"
    CLICK_T = "click_t"
    ITEM = "item"
    REVENUE = "revenue"
    CAMPAIGN = "campaign"
    OFFER = "offer"
    CONTROL_FOR = "control_for"
    RESPONDED = "responded"
    P_TREATED = "p_treated"
    P_CONTROL = "p_control"
    TRUE_EFFECT = "true_effect"
    NPV = "npv"
    INCREMENTAL_NPV = "incremental_npv"
    EVENT = "event"
    ACTIVE_USERS = "active_users"
    MEAN_SATISFACTION = "mean_satisfaction"
    SESSIONS = "sessions"
    CLICKS = "clicks"
    SECONDS = "seconds"
    ROWS = "rows"


class Table:
    """Table names (also the Parquet file stems)."""

    DECISIONS = "decisions"
    CONVERSIONS = "conversions"
    CAMPAIGNS = "campaigns"
    LIFECYCLE = "lifecycle"
    SNAPSHOTS = "snapshots"
    FITS = "fits"


LIFECYCLE_ARRIVAL = 0
LIFECYCLE_CHURN = 1

_f64, _f32, _i64, _i32, _i8, _bool = (
    pa.float64(),
    pa.float32(),
    pa.int64(),
    pa.int32(),
    pa.int8(),
    pa.bool_(),
)


def _decisions_schema(slate_size: int) -> pa.Schema:
    fields = [
        (Col.T, _f64),
        (Col.USER, _i64),
        (Col.SESSION, _i32),
        (Col.ACTION, _i32),
        (Col.PROPENSITY, _f32),
        (Col.GROUP, _i32),
        (Col.FALLBACK, _bool),
        (Col.CLICK, _i8),
        (Col.CLICKED_POSITION, _i8),
        (Col.CLICKED_ITEM, _i32),
        (Col.EXPECTED_REWARD, _f32),
        (Col.BEST_EXPECTED_REWARD, _f32),
    ]
    if slate_size:
        fields.insert(4, (Col.SLATE, pa.list_(_i32, slate_size)))
    return pa.schema(fields)


SCHEMAS: dict[str, pa.Schema] = {
    Table.CONVERSIONS: pa.schema(
        [(Col.T, _f64), (Col.CLICK_T, _f64), (Col.USER, _i64), (Col.ITEM, _i32),
         (Col.REVENUE, _f64)]
    ),
    Table.CAMPAIGNS: pa.schema(
        [(Col.T, _f64), (Col.CAMPAIGN, _i32), (Col.USER, _i64), (Col.OFFER, _i32),
         (Col.CONTROL_FOR, _i32), (Col.PROPENSITY, _f32), (Col.GROUP, _i32),
         (Col.RESPONDED, _i8), (Col.P_TREATED, _f32), (Col.P_CONTROL, _f32),
         (Col.TRUE_EFFECT, _f32), (Col.NPV, _f64), (Col.INCREMENTAL_NPV, _f64)]
    ),
    Table.LIFECYCLE: pa.schema([(Col.T, _f64), (Col.USER, _i64), (Col.EVENT, _i8)]),
    Table.SNAPSHOTS: pa.schema(
        [(Col.T, _f64), (Col.ACTIVE_USERS, _i64), (Col.MEAN_SATISFACTION, _f64),
         (Col.SESSIONS, _i64), (Col.CLICKS, _i64), (Col.REVENUE, _f64)]
    ),
    Table.FITS: pa.schema([(Col.T, _f64), (Col.SECONDS, _f64), (Col.ROWS, _i64)]),
}  # fmt: skip


def _numpy_dtype(typ: pa.DataType) -> np.dtype[Any]:
    """The numpy dtype a column of Arrow type ``typ`` is buffered in."""
    if pa.types.is_fixed_size_list(typ):
        return np.dtype(np.int32)
    return np.dtype(typ.to_pandas_dtype())


def _to_arrow(values: NDArray[Any], typ: pa.DataType) -> pa.Array:
    if pa.types.is_fixed_size_list(typ):
        flat = pa.array(np.ascontiguousarray(values, dtype=np.int32).ravel(), type=_i32)
        return pa.FixedSizeListArray.from_arrays(flat, typ.list_size)
    return pa.array(np.asarray(values).astype(typ.to_pandas_dtype(), copy=False), type=typ)


class EventLog:
    """Chunked columnar writer of the run's tables.

    Appended rows are buffered as numpy columns (one cast and copy per column and append)
    and converted to Arrow once per chunk, not once per append: a run appends thousands of
    small batches, and per-batch Arrow conversion of a dozen tiny arrays cost more than
    writing them.

    Parameters
    ----------
    path
        Directory for ``<table>.parquet`` files, or ``None`` to keep everything in memory.
    slate_size
        k, the width of the ``slate`` column (0 when the session surface shows variants).
    chunk_rows
        Rows buffered per table before a row group is written.
    """

    def __init__(
        self, path: Path | str | None = None, slate_size: int = 0, chunk_rows: int = 1_000_000
    ) -> None:
        self.path = None if path is None else Path(path)
        self.chunk_rows = chunk_rows
        self.schemas = {Table.DECISIONS: _decisions_schema(slate_size), **SCHEMAS}
        self._names = {name: frozenset(schema.names) for name, schema in self.schemas.items()}
        self._dtypes = {
            name: [(f.name, _numpy_dtype(f.type)) for f in schema]
            for name, schema in self.schemas.items()
        }
        self._parts: dict[str, dict[str, list[NDArray[Any]]]] = {
            name: {f.name: [] for f in schema} for name, schema in self.schemas.items()
        }
        self._buffered_rows: dict[str, int] = dict.fromkeys(self.schemas, 0)
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._memory: dict[str, list[pa.RecordBatch]] = {name: [] for name in self.schemas}
        self.rows: dict[str, int] = dict.fromkeys(self.schemas, 0)
        self._closed = False
        if self.path is not None:
            self.path.mkdir(parents=True, exist_ok=True)

    def append(self, table: str, columns: Mapping[str, NDArray[Any]]) -> None:
        """Append rows; ``columns`` must hold every column of the table's schema."""
        if self._closed:
            raise RuntimeError("event log is closed")
        names = self._names[table]
        if names != columns.keys():
            missing = names - set(columns)
            extra = set(columns) - names
            raise KeyError(
                f"table {table!r}: missing {sorted(missing)}, unexpected {sorted(extra)}"
            )
        # astype copies: the log never aliases an array the caller may change later.
        converted = [
            (name, np.asarray(columns[name]).astype(dt)) for name, dt in self._dtypes[table]
        ]
        n = converted[0][1].shape[0] if converted[0][1].ndim else 1
        for name, values in converted:
            if values.ndim == 0 or values.shape[0] != n:
                raise ValueError(f"table {table!r}: column {name!r} does not have {n} rows")
        if n == 0:
            return
        parts = self._parts[table]
        for name, values in converted:
            parts[name].append(values)
        self.rows[table] += n
        self._buffered_rows[table] += n
        if self._buffered_rows[table] >= self.chunk_rows:
            self._flush(table)

    def _batch(self, table: str) -> pa.RecordBatch | None:
        """The buffered rows of ``table`` as one record batch (the buffer is emptied)."""
        if not self._buffered_rows[table]:
            return None
        schema = self.schemas[table]
        parts = self._parts[table]
        arrays = []
        for f in schema:
            chunks = parts[f.name]
            values = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
            chunks.clear()  # free the parts column by column: peak ≈ one column's copy
            arrays.append(_to_arrow(values, f.type))
        self._buffered_rows[table] = 0
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def _flush(self, table: str) -> None:
        batch = self._batch(table)
        if batch is None:
            return
        if self.path is None:
            self._memory[table].append(batch)
            return
        writer = self._writers.get(table)
        if writer is None:
            schema = self.schemas[table]
            # Dictionary-encode ids, flags and slates, not floats: continuous values (times,
            # probabilities) almost never repeat, so trying a dictionary on them is ~4× the
            # cost of plain encoding and the file gets no smaller.
            dictionary = [
                f"{f.name}.list.element" if pa.types.is_fixed_size_list(f.type) else f.name
                for f in schema
                if not pa.types.is_floating(f.type)
            ]
            writer = pq.ParquetWriter(
                self.path / f"{table}.parquet",
                schema,
                compression="lz4",
                use_dictionary=dictionary,
            )
            self._writers[table] = writer
        writer.write_batch(batch)

    def close(self) -> None:
        """Flush every buffer and close the files (empty tables get an empty file)."""
        if self._closed:
            return
        if self.path is not None:
            for table in self.schemas:
                self._flush(table)
                if table not in self._writers:
                    pq.write_table(
                        self.schemas[table].empty_table(), self.path / f"{table}.parquet"
                    )
            for writer in self._writers.values():
                writer.close()
        self._closed = True

    def arrow(self, table: str) -> pa.Table:
        """A table as Arrow (from memory, or read back from Parquet once closed)."""
        if self.path is None:
            self._flush(table)
            return pa.Table.from_batches(self._memory[table], self.schemas[table])
        if not self._closed:
            raise RuntimeError("close() the log before reading it back from disk")
        return pq.read_table(self.path / f"{table}.parquet")

    def frame(self, table: str) -> pd.DataFrame:
        """A table as a pandas DataFrame (see :func:`read_table`)."""
        return _frame(self.arrow(table))


def _frame(table: pa.Table) -> pd.DataFrame:
    """Arrow → pandas; a fixed-size ``slate`` column becomes a (n, k) int array per row."""
    if Col.SLATE in table.column_names:
        slates = table.column(Col.SLATE).combine_chunks()
        k = slates.type.list_size
        flat = slates.flatten().to_numpy(zero_copy_only=False).reshape(-1, k)
        df = table.drop_columns([Col.SLATE]).to_pandas()
        df[Col.SLATE] = list(flat)
        return df
    return table.to_pandas()


def _table_path(run_dir: Path | str, table: str) -> Path:
    path = Path(run_dir) / f"{table}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"no {table!r} table in {run_dir} (expected {path})")
    return path


def read_table(run_dir: Path | str, table: str, columns: list[str] | None = None) -> pd.DataFrame:
    """Load one table (or some of its columns) of a finished run directory as a DataFrame.

    The ``slate`` column becomes one array per row, which is slow for millions of rows:
    leave it out with ``columns`` and use :func:`read_slates` when slates are needed.
    """
    return _frame(pq.read_table(_table_path(run_dir, table), columns=columns))


def read_slates(run_dir: Path | str) -> NDArray[np.int32]:
    """The decisions table's slates as one (n, k) int32 array (zero rows without slates)."""
    arrow = pq.read_table(_table_path(run_dir, Table.DECISIONS))
    if Col.SLATE not in arrow.column_names:
        return np.zeros((arrow.num_rows, 0), dtype=np.int32)
    slates = arrow.column(Col.SLATE).combine_chunks()
    k = slates.type.list_size
    return slates.flatten().to_numpy(zero_copy_only=False).reshape(-1, k).astype(np.int32)


def slates_array(frame: pd.DataFrame) -> NDArray[np.int32]:
    """The ``slate`` column of a decisions frame as one (n, k) int32 array."""
    if len(frame) == 0:
        return np.zeros((0, 0), dtype=np.int32)
    return np.stack(list(frame[Col.SLATE])).astype(np.int32)
