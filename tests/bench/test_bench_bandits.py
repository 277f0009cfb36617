"""Smoke test of the bandit benchmark: ``bench/bench_bandits.py --quick`` runs end to end.

Tiny sizes: it checks that every policy and its bare kernel still run, not the speed target.
Run with ``pytest -m benchmark``; the full benchmark is ``python bench/bench_bandits.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "bench_bandits.py"


@pytest.mark.benchmark
def test_bench_bandits_quick(tmp_path: Path) -> None:
    out = tmp_path / "bandits_quick.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert {r["policy"] for r in rows} >= {"thompson", "ucb1", "lin_ucb", "bandit_over_policies"}
    for r in rows:
        assert r["decisions"] > 0 and r["kernel_dps"] > 0 and r["policy_dps"] > 0
