"""Every bundled scenario runs (shortened), and the quickstart's small summary is golden."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from recarena.experiment.loading import load_scenario, scenario_from_dict
from recarena.experiment.runner import MIN_SEEDS, run_scenario
from recarena.experiment.scenarios import bundled_scenarios

SCENARIOS = bundled_scenarios()
GOLDEN = Path(__file__).parents[1] / "golden" / "quickstart_per_run.csv"


def shortened(path: Path, days: float = 4.0, users: int = 400) -> Any:
    """The scenario on one seed, at most ``days`` days and ``users`` users, in-process; a
    sweep keeps the first two levels of its first two parameters and the first of the rest."""
    data: dict[str, Any] = load_scenario(path).model_dump(mode="json")
    if data.get("sweep"):
        data["sweep"]["method"], data["sweep"]["samples"] = "grid", None
        for i, parameter in enumerate(data["sweep"]["parameters"]):
            for form in ("values", "levels"):
                if parameter.get(form):
                    parameter[form] = parameter[form][: 2 if i < 2 else 1]
    data["seeds"] = data["seeds"][:1]
    data["schedule"]["days"] = min(data["schedule"]["days"], days)
    population = data["world"]["population"]
    population["n_users"] = min(population["n_users"], users)
    population["arrivals_per_day"] = min(population["arrivals_per_day"], users / 20)
    data["executor"] = {"kind": "inline", "jobs": 1}
    return scenario_from_dict(data, source=str(path))


def test_library_has_the_quickstart() -> None:
    assert "quickstart" in {p.stem for p in SCENARIOS}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_bundled_scenarios_run_enough_seeds_for_intervals(path: Path) -> None:
    assert len(load_scenario(path).seeds) >= MIN_SEEDS


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_bundled_scenario_runs(path: Path, tmp_path: Path) -> None:
    out = run_scenario(shortened(path), tmp_path / "out", progress=False)
    assert (out / "report.html").exists()
    config = load_scenario(path)
    if config.sweep is not None:
        per_run = pd.read_csv(out / "metrics" / "sweep_per_run.csv")
        assert len(per_run) == 4 * len(config.arms)
        return
    per_run = pd.read_csv(out / "metrics" / "per_run.csv")
    assert len(per_run) == len(config.arms)


def _quickstart_per_run(tmp_path: Path) -> pd.DataFrame:
    # 1,000 users, so every arm has purchases to pin at the calibrated levels (a few
    # percent of sessions click, a tenth of clicks buy).
    config = shortened(Path("scenarios/quickstart.yaml"), days=3, users=1000)
    out = run_scenario(config, tmp_path / "q", progress=False, report=True)
    return pd.read_csv(out / "metrics" / "per_run.csv")


def test_quickstart_golden(tmp_path: Path) -> None:
    per_run = _quickstart_per_run(tmp_path)
    if os.environ.get("RECARENA_UPDATE_GOLDEN"):
        per_run.to_csv(GOLDEN, index=False)
    golden = pd.read_csv(GOLDEN)
    pd.testing.assert_frame_equal(per_run, golden, check_exact=False, rtol=1e-9, atol=1e-12)
