"""In-memory store of what a real system would have logged, for policy refits.

The engine appends observable records (clicks, purchases, impressions, campaign decisions
and responses, arrivals and churn) as it runs; :meth:`HistoryStore.snapshot` hands a policy
a :class:`~recarena.contract.History` of everything up to now. Oracle columns are never
stored here. Chunks are concatenated lazily, once per snapshot, so appending stays O(1).

Only what a policy can read is kept (``window``, from
:meth:`~recarena.policies.base.Policy.history_window`): nothing when no policy refits, the
last ``window`` days (pruned at each snapshot) when that is all the refitting policies read,
everything otherwise. So a run's memory is flat in its length unless a policy reads it all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from recarena.contract import History
from recarena.simulator.log import Col

__all__ = ["HistoryStore"]

_TABLES: dict[str, tuple[str, ...]] = {
    "clicks": (Col.T, Col.USER, Col.ITEM, "position"),
    "conversions": (Col.T, Col.USER, Col.ITEM, Col.REVENUE),
    "impressions": (Col.T, Col.USER, Col.SLATE, Col.CLICKED_POSITION),
    "campaigns": (
        Col.T, Col.CAMPAIGN, Col.USER, Col.OFFER, Col.CONTROL_FOR, Col.PROPENSITY, Col.RESPONDED,
    ),
    "lifecycle": (Col.T, Col.USER, Col.EVENT),
}  # fmt: skip


class _Columns:
    """Append-only columns kept as lists of numpy chunks."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.chunks: dict[str, list[NDArray[Any]]] = {n: [] for n in names}

    def append(self, columns: Mapping[str, NDArray[Any]]) -> None:
        for name in self.names:
            self.chunks[name].append(np.asarray(columns[name]))

    def drop_before(self, t: float) -> None:
        """Forget rows logged at or before ``t``."""
        arrays = self.arrays()
        if Col.T not in arrays or not len(arrays[Col.T]):
            return
        keep = arrays[Col.T] > t
        if not keep.all():
            for name, values in arrays.items():
                self.chunks[name][:] = [values[keep]]

    def arrays(self) -> dict[str, NDArray[Any]]:
        out = {}
        for name, chunks in self.chunks.items():
            if len(chunks) > 1:
                chunks[:] = [np.concatenate(chunks)]
            out[name] = chunks[0] if chunks else np.zeros(0)
        return out


class HistoryStore:
    """Observable logged history, appended by the engine.

    Parameters
    ----------
    feature_names
        Columns of the user-feature matrix.
    keep_impressions
        Keep slate impressions (64 bytes a decision).
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
        self._tables = {name: _Columns(cols) for name, cols in _TABLES.items()}

    def append(self, table: str, columns: Mapping[str, NDArray[Any]]) -> None:
        """Append rows to ``table`` (one of clicks, conversions, impressions, campaigns,
        lifecycle)."""
        if self.window is None or (table == "impressions" and not self.keep_impressions):
            return
        self._tables[table].append(columns)

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
            lifecycle[Col.EVENT] = np.where(lifecycle[Col.EVENT] == 0, "arrival", "churn")
        return History(
            t=t,
            clicks=self.frame("clicks"),
            conversions=self.frame("conversions"),
            impressions=self.frame("impressions"),
            campaigns=self.frame("campaigns"),
            lifecycle=lifecycle,
            user_features=user_features,
        )
