"""Run directories: lazily read tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recarena.analysis.results import LazyTables
from recarena.simulator.log import Col, EventLog, Table
from tests.simulator.helpers import decision_rows


def test_lazy_decisions_leave_the_slates_out(tmp_path: Path) -> None:
    """Slates are read with read_slates: neither ``slate`` nor its stored columns load."""
    rows = decision_rows(np.random.default_rng(1), 12, 4)
    log = EventLog(tmp_path, slate_size=4)
    log.append(Table.DECISIONS, rows)
    log.close()
    decisions = LazyTables(tmp_path)[Table.DECISIONS]
    assert not [c for c in decisions.columns if c.startswith(Col.SLATE)]
    assert Col.CLICKED_ITEM in decisions.columns and len(decisions) == 12
