"""Smoke test of the Gymnasium benchmark: ``bench/bench_gym.py --quick`` runs end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.quick import run_quick


@pytest.mark.benchmark
def test_bench_gym_quick(tmp_path: Path) -> None:
    result, _ = run_quick("bench_gym.py", tmp_path / "gym_quick.json")
    paths = {r["path"] for r in result["rows"]}
    assert paths == {"engine", "vector_env", "sync_vector", "single_env"}
    assert all(r["sessions_per_second"] > 0 for r in result["rows"])
