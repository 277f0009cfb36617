"""Run a benchmark script in ``--quick`` mode and return its JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_quick(script: str, out: Path, *extra: str) -> tuple[dict[str, Any], str]:
    """Run ``bench/<script> --quick --output OUT [extra…]``; assert it succeeds; (JSON, stdout)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick", "--output", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout
