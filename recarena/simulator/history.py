"""In-memory store of what a real system would have logged, for policy refits.

The history is a view of the event log minus its oracle columns: the engine appends each
event once (:meth:`~recarena.simulator.engine.Engine` writes a log table and hands the same
columns to :meth:`HistoryStore.observe`), and each history table is derived from one log
table by :data:`VIEWS` — clicks and impressions from the slate decisions, conversions,
campaign decisions and responses, arrivals and churn (under the pbm and dcm choice models
a session can have several clicks: the clicks table has one row per click).
:meth:`HistoryStore.snapshot` hands a policy a :class:`~recarena.contract.History` of
everything up to now. Chunks are concatenated lazily, once per snapshot, so appending stays
O(1).

Only what a policy can read is kept (``window``, from
:meth:`~recarena.policies.base.Policy.history_window`): nothing when no policy refits, the
last ``window`` days (pruned at each snapshot) when that is all the refitting policies read,
everything otherwise. So a run's memory is flat in its length unless a policy reads it all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from recarena.contract import History
from recarena.simulator.log import LIFECYCLE_EVENTS, Col, Table, every_click

__all__ = ["VIEWS", "HistoryStore", "HistoryView"]


@dataclass(frozen=True)
class HistoryView:
    """A history table as a view of a log table.

    Attributes
    ----------
    source
        The log table (a :class:`~recarena.simulator.log.Table` name).
    columns
        ``(history column, log column)`` pairs: what is kept, under which name. Oracle
        columns are never among them.
    clicked_only
        Keep only the rows with a click (the ``click`` column).
    slates_only
        Derived only from decisions on the slate surface (rows that carry a slate).
    """

    source: str
    columns: tuple[tuple[str, str], ...]
    clicked_only: bool = False
    slates_only: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """The history table's column names."""
        return tuple(name for name, _ in self.columns)


def _same(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, name) for name in names)


#: Every history table, as a view of the log table it comes from.
VIEWS: dict[str, HistoryView] = {
    "clicks": HistoryView(
        Table.DECISIONS,
        (*_same(Col.T, Col.USER), (Col.ITEM, Col.CLICKED_ITEM), ("position", Col.CLICKED_POSITION)),
        clicked_only=True,
        slates_only=True,
    ),
    "impressions": HistoryView(
        Table.DECISIONS, _same(Col.T, Col.USER, Col.SLATE, Col.CLICKED_POSITION), slates_only=True
    ),
    "conversions": HistoryView(Table.CONVERSIONS, _same(Col.T, Col.USER, Col.ITEM, Col.REVENUE)),
    "campaigns": HistoryView(
        Table.CAMPAIGNS,
        _same(
            Col.T, Col.CAMPAIGN, Col.USER, Col.OFFER, Col.CONTROL_FOR, Col.PROPENSITY, Col.RESPONDED
        ),
    ),
    "lifecycle": HistoryView(Table.LIFECYCLE, _same(Col.T, Col.USER, Col.EVENT)),
}


class _Columns:
    """Append-only columns kept as lists of numpy chunks."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.chunks: dict[str, list[NDArray[Any]]] = {n: [] for n in names}

    def append(self, columns: Mapping[str, NDArray[Any]]) -> None:
        for name in self.names:
            self.chunks[name].append(np.asarray(columns[name]))

    def arrays(self) -> dict[str, NDArray[Any]]:
        out = {}
        for name, chunks in self.chunks.items():
            if len(chunks) > 1:
                chunks[:] = [np.concatenate(chunks)]
            out[name] = chunks[0] if chunks else np.zeros(0)
        return out

    def drop_before(self, t: float) -> None:
        """Forget rows logged at or before ``t``."""
        arrays = self.arrays()
        if Col.T not in arrays or not len(arrays[Col.T]):
            return
        keep = arrays[Col.T] > t
        if not keep.all():
            for name, values in arrays.items():
                self.chunks[name][:] = [values[keep]]


class HistoryStore:
    """Observable logged history, derived from the event log's tables as they are appended.

    Parameters
    ----------
    feature_names
        Names of the encoded feature columns (of :attr:`History.user_features`).
    keep_impressions
        Keep the slate decisions (64 bytes per decision): only when a refit can read them.
    window
        Days of history kept before each snapshot: ``None`` keeps nothing, ``math.inf``
        everything.
    """

    def __init__(
        self,
        feature_names: tuple[str, ...],
        keep_impressions: bool = True,
        window: float | None = math.inf,
    ) -> None:
        self.feature_names = feature_names
        self.keep_impressions = keep_impressions
        self.window = window
        views = {n: v for n, v in VIEWS.items() if keep_impressions or n != "impressions"}
        self._views: dict[str, list[tuple[str, HistoryView]]] = {}
        for name, view in views.items():
            self._views.setdefault(view.source, []).append((name, view))
        self._tables = {name: _Columns(view.names) for name, view in VIEWS.items()}

    def observe(self, table: str, columns: Mapping[str, NDArray[Any]]) -> None:
        """Derive the history rows of log ``table``'s appended ``columns`` (:data:`VIEWS`)."""
        if self.window is None:  # no policy refits: nothing to keep
            return
        for name, view in self._views.get(table, ()):
            if view.slates_only and Col.SLATE not in columns:
                continue
            rows = None
            if view.clicked_only:  # one row per click (several per session under pbm, dcm)
                slates = np.asarray(columns[Col.SLATE])
                rows, slots = every_click(
                    columns[Col.CLICK], columns[Col.CLICKED_POSITION],
                    columns.get(Col.CLICKED_SLOTS), slates.shape[1],
                )  # fmt: skip
                if not rows.size:
                    continue
            derived = {}
            for target, source in view.columns:
                values = np.asarray(columns[source])
                if source == Col.SLATE:
                    values = values.astype(np.int32)  # 4 bytes per item id kept in memory
                derived[target] = values if rows is None else values[rows]
            if view.clicked_only:
                derived[Col.ITEM] = slates[rows, slots].astype(np.int64)
                derived["position"] = slots
            self._tables[name].append(derived)

    def frame(self, table: str) -> pd.DataFrame:
        """One table as a DataFrame (slates as a column of arrays)."""
        arrays = self._tables[table].arrays()
        if table == "impressions":
            slates = arrays.pop(Col.SLATE)
            frame = pd.DataFrame(arrays)
            frame[Col.SLATE] = list(slates) if len(slates) else []
            return frame
        return pd.DataFrame(arrays)

    def snapshot(
        self, t: float, features: NDArray[np.float32], joined: NDArray[np.bool_]
    ) -> History:
        """What is kept up to ``t`` (see ``window``), and the features of users who have
        joined."""
        if self.window is not None and math.isfinite(self.window):
            for table in self._tables.values():
                table.drop_before(t - self.window)
        users = np.flatnonzero(joined)
        user_features = pd.DataFrame(features[users], index=users, columns=list(self.feature_names))
        user_features.index.name = Col.USER
        lifecycle = self.frame("lifecycle")
        if len(lifecycle):
            names = np.array(LIFECYCLE_EVENTS)
            lifecycle[Col.EVENT] = names[lifecycle[Col.EVENT].to_numpy().astype(np.int64)]
        return History(
            t=t,
            clicks=self.frame("clicks"),
            conversions=self.frame("conversions"),
            impressions=self.frame("impressions"),
            campaigns=self.frame("campaigns"),
            lifecycle=lifecycle,
            user_features=user_features,
        )
