"""The runner and CLI: atomic runs, resume after a kill, failure paths, the Python API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import recarena
from recarena.experiment.cli import main
from recarena.experiment.loading import scenario_from_dict
from recarena.experiment.runner import completed_runs, plan_runs, run_scenario

SMALL = {
    "name": "small",
    "seeds": [1, 2],
    "world": {"population": {"n_users": 300}, "catalogue": {"n_items": 60}},
    "schedule": {"days": 3, "slate_size": 5},
    "arms": [
        {"name": "random", "policy": {"kind": "random"}},
        {"name": "popularity", "policy": {"kind": "popularity"}},
        {"name": "oracle", "policy": {"kind": "oracle"}},
    ],
    "executor": {"kind": "inline"},
}


def _write(tmp_path: Path, data: dict[str, object], name: str = "s.yaml") -> Path:
    import yaml

    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_every_run_written_once(tmp_path: Path) -> None:
    config = scenario_from_dict(SMALL)
    out = run_scenario(config, tmp_path / "out", progress=False, report=False)
    assert completed_runs(out) == set(plan_runs(config))
    assert not list((out / "runs").glob(".tmp-*"))


def test_arms_share_the_world_and_arrivals(tmp_path: Path) -> None:
    from recarena.simulator.log import read_table

    out = run_scenario(scenario_from_dict(SMALL), tmp_path / "out", progress=False, report=False)
    a = read_table(out / "runs/seed=1/arm=random", "lifecycle")
    b = read_table(out / "runs/seed=1/arm=oracle", "lifecycle")
    arrivals = [x[x["event"] == 0].reset_index(drop=True) for x in (a, b)]
    assert arrivals[0].equals(arrivals[1])


def test_resume_after_kill(tmp_path: Path) -> None:
    data = {**SMALL, "seeds": [1, 2, 3], "schedule": {"days": 6, "slate_size": 5}}
    scenario = _write(tmp_path, data)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "recarena.experiment.cli", "run", str(scenario),
           "--out", str(out), "--jobs", "1", "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not completed_runs(out):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = completed_runs(out)
    assert 0 < len(done_before) < 9, "the kill must land mid-sweep"
    assert (
        main(["run", str(scenario), "--out", str(out), "--resume", "--quiet", "--jobs", "1"]) == 0
    )
    runs = sorted(p.relative_to(out) for p in (out / "runs").glob("seed=*/arm=*"))
    assert len(runs) == 9 and len(set(runs)) == 9
    assert not list((out / "runs").glob(".tmp-*"))
    assert (out / "report.html").exists()


def test_sigterm_stops_the_pool_and_keeps_finished_runs(tmp_path: Path) -> None:
    # SIGTERM (kill, timeout, a scheduler) unwinds as Ctrl-C does: the pool's workers stop
    # with the driver, runs in flight leave nothing, finished runs stay for --resume.
    data = {**SMALL, "seeds": [1, 2, 3, 4, 5, 6], "schedule": {"days": 20, "slate_size": 5}}
    scenario = _write(tmp_path, data)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "recarena.experiment.cli", "run", str(scenario), "--out",
           str(out), "--executor", "process", "--jobs", "2", "--quiet"]  # fmt: skip
    # A session of its own, so that a failure can stop the driver and its workers at once.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not completed_runs(out):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # to the driver only, as kill PID sends it
    try:
        # The workers share the driver's output pipes: this returns once they are gone too
        # (left running, idle pool workers would hold them for minutes).
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the driver or its workers were still running 60 s after SIGTERM")
    assert proc.returncode == 143, err
    assert "terminated; finished runs are kept" in err and "Traceback" not in err
    done = completed_runs(out)
    assert 0 < len(done) < 18, "the signal must land mid-sweep"
    assert not list((out / "runs").glob(".tmp-*"))


def test_existing_directory_needs_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = _write(tmp_path, {**SMALL, "seeds": [1]})
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--no-report"]) == 0
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err


def test_resume_refuses_a_different_scenario(tmp_path: Path) -> None:
    scenario = _write(tmp_path, {**SMALL, "seeds": [1]})
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--no-report"]) == 0
    other = _write(tmp_path, {**SMALL, "seeds": [1], "schedule": {"days": 2}}, "other.yaml")
    assert main(["run", str(other), "--out", str(out), "--resume", "--quiet"]) == 2


def test_failing_run_leaves_no_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = {"kind": "plugin", "plugin": "tests.experiment.exploding_policy:Exploding"}
    scenario = _write(tmp_path, {**SMALL, "seeds": [1], "arms": [{"name": "x", "policy": plugin}]})
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--allow-plugins"]) == 1
    err = capsys.readouterr().err
    assert "boom" in err and "Traceback" not in err
    assert not out.exists()


def test_cli_basics(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert recarena.__version__ in capsys.readouterr().out
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "popularity" in listing and "quickstart" in listing
    assert main(["validate", "scenarios/quickstart.yaml"]) == 0
    for command in (["run", "--help"], ["validate", "--help"], ["report", "--help"]):
        with pytest.raises(SystemExit):
            main(command)
        assert "usage" in capsys.readouterr().out


def test_python_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = recarena.run(SMALL, tmp_path / "api", seeds=[1], progress=False)
    summary = results.summary()
    assert set(summary["arm"]) == {"random", "popularity", "oracle"}
    assert results.per_run().shape[0] == 3
    assert results.plot_regret(log_time=True) is not None
    assert len(results.table(1, "oracle", "decisions")) > 0
    again = recarena.load(tmp_path / "api")
    assert again.summary().equals(summary)
    capsys.readouterr()
    assert main(["report", str(tmp_path / "api"), "--baseline", "oracle"]) == 0
    printed = capsys.readouterr().out
    assert "Key metrics per arm" in printed and "Difference from oracle" not in printed  # 1 seed
    assert printed.strip().endswith("report.html")
    assert main(["report", str(tmp_path / "api"), "--baseline", "nope"]) == 2
    assert "'nope' is not an arm; arms: random, popularity, oracle" in capsys.readouterr().err
