"""Smoke test of the sweep benchmark: ``bench/bench_sweeps.py --quick`` end to end.

Checks that every executor runs the benchmark's sweep with identical logs and that the
figures are produced, not the speed (run ``python bench/bench_sweeps.py`` for those).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.quick import run_quick


@pytest.mark.benchmark
def test_bench_sweeps_quick(tmp_path: Path) -> None:
    result, stdout = run_quick("bench_sweeps.py", tmp_path / "sweeps_quick.json")
    assert "parallel efficiency" in stdout
    assert result["identical_logs"] is True
    assert {(r["executor"], r["workers"]) for r in result["timings"]} == {
        ("inline", 1), ("process", 2), ("dask", 1), ("dask", 2)
    }  # fmt: skip
    assert all(v > 0 for v in result["parallel_efficiency"].values())
    assert result["dask_noop"]["ms_per_task"] > 0
    assert 0.05 < result["memory"]["worker_peak_rss_gb"] < 4
