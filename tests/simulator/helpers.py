"""Small worlds, log digests and scripted policies shared by the simulator tests."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from recarena.contract import Decision, DecisionRequest, Feedback, History, Surface
from recarena.policies.base import Policy
from recarena.policies.recommenders.slates import random_slates
from recarena.simulator.log import Col, EventLog, slot_propensity_columns

# Tests of a mechanism on a few hundred users take the dense levels, so their runs have
# enough events; tests of the defaults themselves do not (re-exported for the other tests).
from recarena.simulator.params import DENSE_BEHAVIOUR, DENSE_POPULATION, WorldParams

#: Global call sequence, so calls recorded by several policies and callbacks can be merged.
SEQUENCE = itertools.count()

TABLES = ("decisions", "conversions", "campaigns", "lifecycle", "snapshots", "fits")


def world_params(
    n_users: int = 300,
    n_items: int = 80,
    *,
    population: dict[str, Any] | None = None,
    catalogue: dict[str, Any] | None = None,
    behaviour: dict[str, Any] | None = None,
    **top: Any,
) -> WorldParams:
    """A small dense world (a few hundred users, a small catalogue, the dense levels) with
    overrides per section."""
    return WorldParams.model_validate(
        {
            "population": {"n_users": n_users, **DENSE_POPULATION, **(population or {})},
            "catalogue": {"n_items": n_items, **(catalogue or {})},
            "behaviour": {**DENSE_BEHAVIOUR, **(behaviour or {})},
            **top,
        }
    )


def table_digest(table: pa.Table) -> str:
    """SHA-256 of a table's schema and contents (Arrow IPC of one contiguous chunk)."""
    sink = pa.BufferOutputStream()
    combined = table.combine_chunks()
    with pa.ipc.new_stream(sink, combined.schema) as writer:
        writer.write_table(combined)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def decision_rows(rng: np.random.Generator, n: int, k: int) -> dict[str, np.ndarray]:
    """n random rows of the decisions table with k-item slates (no ``slate`` when k = 0)."""
    rows = {
        Col.T: np.sort(rng.uniform(0, 1, n)),
        Col.USER: rng.integers(0, 1000, n),
        Col.SESSION: rng.integers(0, 50, n),
        Col.ACTION: np.full(n, -1),
        Col.SLATE: rng.integers(0, 500, (n, k)),
        Col.PROPENSITY: rng.uniform(0, 1, n),
        Col.GROUP: rng.integers(-1, 3, n),
        Col.FALLBACK: rng.random(n) < 0.1,
        Col.CLICK: rng.random(n) < 0.3,
        Col.CLICKED_POSITION: rng.integers(-1, max(k, 1), n),
        Col.CLICKED_ITEM: rng.integers(-1, 500, n),
        Col.EXPECTED_REWARD: rng.uniform(0, 1, n),
        Col.BEST_EXPECTED_REWARD: rng.uniform(0, 1, n),
    }
    if not k:  # the variant surface: no slate
        del rows[Col.SLATE]
        return rows
    rows[Col.SLATE_PROPENSITY] = rng.uniform(0, 1, n)
    for name in slot_propensity_columns(k):
        rows[name] = rng.uniform(0, 1, n)
    return rows


def log_digest(log: EventLog) -> dict[str, str]:
    """One digest per table of an event log."""
    return {name: table_digest(log.arrow(name)) for name in TABLES}


class RecordingPolicy(Policy):
    """Random actions on every surface; records every call as ``(t, seq, what)`` in ``calls``.

    On the campaign surface it sends ``campaign_offer`` to everyone (−1 = nobody).
    """

    kind = "recording"
    surfaces = frozenset({Surface.SLATE, Surface.VARIANT, Surface.CAMPAIGN})
    online = True
    batch_fit = True
    campaign_offer: ClassVar[int] = -1

    def _setup(self) -> None:
        self.calls: list[tuple[float, int, str]] = []
        self.feedback: list[Feedback] = []
        self.requests: list[DecisionRequest] = []
        self.histories: list[History] = []

    def _act(self, request: DecisionRequest) -> Decision:
        self.calls.append((request.t, next(SEQUENCE), f"act:{request.surface}"))
        self.requests.append(request)
        b = request.size
        if request.surface is Surface.SLATE:
            items = np.flatnonzero(request.available_items)
            return Decision(actions=random_slates(self.rng_, items, b, self.spec_.slate_size))
        if request.surface is Surface.VARIANT:
            return Decision(actions=self.rng_.integers(0, self.spec_.n_variants, b))
        return Decision(actions=np.full(b, self.campaign_offer, dtype=np.int64))

    def _learn(self, feedback: Feedback) -> None:
        self.calls.append((feedback.t, next(SEQUENCE), f"learn:{feedback.kind}"))
        self.feedback.append(feedback)

    def _fit(self, history: History) -> None:
        self.calls.append((history.t, next(SEQUENCE), "fit"))
        self.histories.append(history)


class OfferToAll(RecordingPolicy):
    """Sends offer 0 to every user a campaign considers, eligible or not, budget or not."""

    kind = "offer_to_all"
    campaign_offer = 0


class SwitchingVariant(Policy):
    """Shows variant 0 until ``switch_day`` (exclusive), then ``after`` — deterministic."""

    kind = "switching_variant"
    surfaces = frozenset({Surface.VARIANT})
    switch_day: ClassVar[float] = 5.0
    after: ClassVar[int] = 0

    def _act(self, request: DecisionRequest) -> Decision:
        arm = 0 if request.t < self.switch_day else self.after
        return Decision(actions=np.full(request.size, arm, dtype=np.int64))


class SwitchToOne(SwitchingVariant):
    kind = "switch_to_one"
    after = 1
