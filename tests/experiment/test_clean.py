"""Keeping less on disk: ``recarena run --no-logs``, ``recarena clean``, and the report that
cannot be rebuilt without event logs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from recarena.experiment.cli import main

TINY = {
    "name": "tiny",
    "seeds": [1],
    "world": {"population": {"n_users": 200}, "catalogue": {"n_items": 40}},
    "schedule": {"days": 2, "slate_size": 5},
    "arms": [
        {"name": "random", "policy": {"kind": "random"}},
        {"name": "popularity", "policy": {"kind": "popularity"}},
    ],
    "executor": {"kind": "inline"},
}


def _logs(out: Path) -> list[Path]:
    return sorted(out.glob("runs/seed=*/arm=*/*.parquet"))


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_no_logs_keeps_the_report_and_metrics(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "-q", "--no-logs"]) == 0
    assert "event logs deleted" in capsys.readouterr().out
    assert _logs(out) == []
    assert (out / "report.html").exists() and (out / "metrics" / "summary.csv").exists()
    assert len(list(out.glob("runs/seed=*/arm=*/run.json"))) == 2
    assert main(["report", str(out)]) == 2
    assert "has no event logs" in capsys.readouterr().err


def test_clean_finds_results_directories_below_a_folder(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    out = results / "tiny" / "20260101-000000"
    assert main(["run", str(scenario), "--out", str(out), "-q", "--no-report"]) == 0
    logs = _logs(out)
    assert logs
    capsys.readouterr()
    assert main(["clean", str(results), "--dry-run"]) == 0
    assert f"would delete event logs of {out}" in capsys.readouterr().out
    assert _logs(out) == logs
    assert main(["clean", str(results)]) == 0
    assert f"{out}: {len(logs)} files" in capsys.readouterr().out
    assert _logs(out) == [] and (out / "scenario.yaml").exists()
    assert main(["clean", str(results), "--all"]) == 0
    assert not out.exists()
    assert main(["clean", str(results)]) == 2  # nothing left to clean
    assert "no results directory" in capsys.readouterr().err
    assert main(["clean", str(tmp_path / "nope")]) == 2
