"""Smoke test of the engine benchmark: runs ``bench/bench_engine.py --quick`` end to end.

Tiny sizes, so it checks that the benchmark (naive reference, end-to-end runs, floor, the
memory subprocess) still runs against the current engine, not the speed targets. Run with
``pytest -m benchmark``; the full benchmark is ``python bench/bench_engine.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.quick import ROOT, run_quick


@pytest.mark.benchmark
def test_bench_engine_quick(tmp_path: Path) -> None:
    result, stdout = run_quick("bench_engine.py", tmp_path / "engine_quick.json")
    assert "Batched engine vs naive" in stdout

    rows = result["end_to_end"]
    assert {(r["policy"], r["n_items"], r["oracle_columns"]) for r in rows} == {
        (p, m, o) for p in ("random", "popularity") for m in (200, 1000) for o in (True, False)
    }
    for r in rows:
        assert r["decisions"] > 0
        assert r["decisions_per_second"] > 0 and r["decisions_per_cpu_second"] > 0
        assert r["x_floor"] > 0
        assert r["parquet_bytes"] > 0
        assert r["log_rows"]["decisions"] == r["decisions"]

    env = result["engine_vs_naive"]
    assert env["naive"]["decisions"] > 0
    assert env["ratio"] > 0
    # Same world, same equations: the naive reference and the engine agree in distribution.
    naive, engine = env["naive"], env["engine_same_horizon"]
    assert abs(naive["ctr"] - engine["ctr"]) < 0.05
    assert abs(naive["sessions_per_user_day"] - engine["sessions_per_user_day"]) < 0.1

    mem = result["memory"]
    assert [m["keep_impressions"] for m in mem] == [True, False]
    for m in mem:
        assert m["decisions"] > 0
        assert 10e6 < m["peak_rss_bytes"] < 4e9


@pytest.mark.benchmark
def test_bench_mechanisms_quick(tmp_path: Path) -> None:
    result, _ = run_quick(
        "bench_mechanisms.py", tmp_path / "mechanisms_quick.json", "--oracle", "both"
    )
    rows = result["rows"]
    mechanisms = {r["mechanism"] for r in rows}
    assert {"off", "all_on", "all_on_mnl", "quality_satisfaction", "win_back", "drift_ou",
            "pbm", "dcm", "time_budget"} <= mechanisms  # fmt: skip
    assert {r["world"] for r in rows} == {"calibrated", "engine"}
    for r in rows:
        assert r["decisions"] > 0 and r["cost_ratio"] > 0
    assert all(r["cost_ratio"] == 1.0 for r in rows if r["mechanism"] == "off")
    # Every configuration with and without the oracle's column, each to its own all-off row.
    assert {(r["mechanism"], r["oracle_columns"]) for r in rows} == {
        (m, o) for m in mechanisms for o in (True, False)
    }
    assert set(result["all_on_target_met"]) == {
        f"{w}, oracle {o}" for w in ("calibrated", "engine") for o in ("on", "off")
    }


@pytest.mark.benchmark
def test_ab_kernels_quick(tmp_path: Path) -> None:
    # B = a copy of this checkout's kernels module: loaded beside it, both sides run.
    copy = tmp_path / "kernels_copy.py"
    copy.write_text((ROOT / "recarena" / "simulator" / "kernels.py").read_text())
    result, stdout = run_quick("ab_kernels.py", tmp_path / "ab_quick.json", str(copy))
    assert "all on / all off" in stdout
    assert [r["mechanism"] for r in result["rows"]] == ["off", "all_on"]
    for r in result["rows"]:
        assert r["a_ns_per_decision"] > 0 and r["b_ns_per_decision"] > 0 and r["b_over_a"] > 0
    assert set(result["all_on_over_off"]) == {"A", "B"}
