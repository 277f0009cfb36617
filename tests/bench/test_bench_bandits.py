"""Smoke test of the bandit benchmark: ``bench/bench_bandits.py --quick`` runs end to end.

Tiny sizes: it checks that every policy and its bare kernel still run, not the speed target.
Run with ``pytest -m benchmark``; the full benchmark is ``python bench/bench_bandits.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.quick import run_quick


@pytest.mark.benchmark
def test_bench_bandits_quick(tmp_path: Path) -> None:
    result, _ = run_quick("bench_bandits.py", tmp_path / "bandits_quick.json")
    rows = result["rows"]
    assert {r["policy"] for r in rows} >= {"thompson", "ucb1", "lin_ucb", "bandit_over_policies"}
    for r in rows:
        assert r["decisions"] > 0 and r["kernel_dps"] > 0 and r["policy_dps"] > 0


@pytest.mark.benchmark
def test_bench_bandits_slates_quick(tmp_path: Path) -> None:
    result, _ = run_quick("bench_bandits.py", tmp_path / "slates_quick.json", "--slates")
    rows = {r["policy"]: r for r in result["rows"]}
    assert {"epsilon_greedy", "thompson", "softmax", "lin_thompson_items"} <= set(rows)
    for r in rows.values():
        assert r["decisions"] > 0 and r["act_ratio"] > 0
