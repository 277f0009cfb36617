"""Smoke test of the neural benchmark: runs ``bench/bench_neural.py --quick`` end to end.

Tiny sizes: it checks that every section (training throughput, scoring against the bound,
thread clash, incremental ALS refits, two-stage runs, full vs warm neural refits) still runs,
not the speed targets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.quick import run_quick


@pytest.mark.benchmark
def test_bench_neural_quick(tmp_path: Path) -> None:
    result, stdout = run_quick("bench_neural.py", tmp_path / "neural_quick.json")
    assert "Training throughput" in stdout
    assert {(r["model"], r["threads"]) for r in result["training"]} == {
        (m, t) for m in ("mf_dot", "dssm", "two_tower", "neumf") for t in (1, 2)
    }
    assert all(r["examples_per_second"] > 0 for r in result["training"])
    assert all(r["share_of_bound"] > 0 for r in result["scoring"])
    assert [r["policy"]["refit"] for r in result["refits"]] == ["full", "warm", "partial"]
    summary = result["neural_refits"]["summary"]
    assert [s["model"] for s in summary] == ["mf_dot", "dssm_two_tower", "neumf"]
    assert all(0 < s["fit_share"][mode] < 1 for s in summary for mode in ("full", "warm"))
    assert all(0 <= s["ndcg@10"]["warm"] <= 1 for s in summary)
    assert len(result["neural_refits"]["runs"]) == 6
    assert result["two_stage"]["fits"] > 0
