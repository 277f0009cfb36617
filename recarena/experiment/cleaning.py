"""Freeing disk: drop the event logs of finished results directories, keep what was learnt.

A results directory's event logs (``runs/seed=*/arm=*/*.parquet``) are nearly all of its size
(a full pass over the bundled scenarios writes about 1.1 GB of them). The report reads
them, so they are needed to rebuild it (``recarena report``) or to query a run's table;
everything else — ``metrics/``, ``plots/``, ``report.html``, ``scenario.yaml``,
``manifest.json`` and each run's ``run.json`` — is small and stays.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from recarena.experiment.runner import RUN_FILE, RUNS, SCENARIO_FILE

__all__ = ["Cleaned", "drop_event_logs", "has_event_logs", "results_directories"]

LOG_SUFFIX = ".parquet"


@dataclass(frozen=True)
class Cleaned:
    """What a clean removed from one results directory."""

    path: Path
    files: int
    bytes: int


def results_directories(paths: Iterable[Path]) -> Iterator[Path]:
    """Every results directory (a folder with ``scenario.yaml`` and ``runs/``) at or under
    ``paths``, in sorted order, each once."""
    seen: set[Path] = set()
    for root in paths:
        candidates = [root] if (root / SCENARIO_FILE).exists() else []
        candidates += sorted(p.parent for p in root.rglob(SCENARIO_FILE) if p.parent != root)
        for path in candidates:
            if (path / RUNS).is_dir() and path.resolve() not in seen:
                seen.add(path.resolve())
                yield path


def _run_dirs(results_dir: Path) -> list[Path]:
    """Every run folder, a sweep's (``points/<key>/runs/…``) included."""
    pattern = f"{RUNS}/seed=*/arm=*"
    return sorted([*results_dir.glob(pattern), *results_dir.glob(f"points/*/{pattern}")])


def _logs(results_dir: Path) -> list[Path]:
    return [log for run in _run_dirs(results_dir) for log in sorted(run.glob(f"*{LOG_SUFFIX}"))]


def has_event_logs(results_dir: Path) -> bool:
    """True when some finished run of ``results_dir`` still has its event log."""
    return any(
        (run / RUN_FILE).exists() and any(run.glob(f"*{LOG_SUFFIX}"))
        for run in _run_dirs(results_dir)
    )


def drop_event_logs(results_dir: Path, everything: bool = False) -> Cleaned:
    """Delete the event logs of ``results_dir`` (or, with ``everything``, the whole
    directory); returns what was removed."""
    if everything:
        files = [p for p in results_dir.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        shutil.rmtree(results_dir)
        return Cleaned(results_dir, len(files), size)
    logs = _logs(results_dir)
    size = 0
    for log in logs:
        size += log.stat().st_size
        log.unlink()
    return Cleaned(results_dir, len(logs), size)
