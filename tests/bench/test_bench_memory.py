"""Smoke test of the memory benchmark: ``bench/bench_memory.py --quick`` runs end to end.

Tiny sizes: it checks that every configuration runs in its child process and reports a peak
RSS, not the flatness target (``python bench/bench_memory.py`` measures that).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.quick import run_quick


@pytest.mark.benchmark
def test_bench_memory_quick(tmp_path: Path) -> None:
    result, stdout = run_quick("bench_memory.py", tmp_path / "memory_quick.json")
    assert "Peak RSS" in stdout
    assert {r["config"] for r in result["rows"]} == {"random", "popularity", "random, full history"}
    for row in result["rows"]:
        assert row["short"]["peak_rss_mb"] > 0 and row["long"]["decisions"] > 0
        assert row["long"]["decisions"] > row["short"]["decisions"]
