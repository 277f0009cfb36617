"""The results-directory lock: a second sweep into a directory in use is refused cleanly, and
the lock of a killed sweep is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from recarena.experiment.cli import main
from recarena.experiment.lock import LOCK_FILE, ResultsDirectoryLocked, ResultsLock

ROOT = Path(__file__).resolve().parents[2]
# Long enough (several seeds, in-process) that the second start happens while it runs.
SLOW: dict[str, Any] = {
    "name": "slow",
    "seeds": list(range(1, 31)),
    "world": {"population": {"n_users": 5000}, "catalogue": {"n_items": 50}},
    "schedule": {"days": 20.0, "slate_size": 5},
    "executor": {"kind": "inline"},
    "output": {"plots": False},
    "arms": [{"name": "random", "policy": {"kind": "random"}}],
}


def _start(scenario: Path, out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "recarena.experiment.cli", "run", str(scenario),
         "--out", str(out), "--quiet", "--no-report"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_for_first_run(process: subprocess.Popen[str], out: Path) -> None:
    """Until the sweep holds the lock and has finished a run (so a resume is legitimate)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        lock = out / LOCK_FILE
        if lock.exists() and lock.read_text().strip() and any(out.glob("runs/*/*/run.json")):
            return
        time.sleep(0.1)
    raise AssertionError("the first sweep did not start")


def test_second_sweep_is_refused_and_a_dead_holder_is_taken_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(yaml.safe_dump(SLOW), encoding="utf-8")
    out = tmp_path / "out"
    first = _start(scenario, out)
    try:
        _wait_for_first_run(first, out)
        # A second start, with --resume (a fresh start is refused as "not empty" before).
        code = main(["run", str(scenario), "--out", str(out), "--resume", "--quiet",
                     "--no-report"])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2
        assert f"is in use by PID {first.pid}" in err and "Traceback" not in err
        assert first.poll() is None  # the first sweep was left alone
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert (out / LOCK_FILE).read_text().strip() == str(first.pid)  # the dead holder's PID
    # The killed sweep's lock is free: a resume takes it over and finishes every run.
    assert main(["run", str(scenario), "--out", str(out), "--resume", "--quiet",
                 "--no-report"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert f"took over the lock of {out} from PID {first.pid}" in err
    assert len(list(out.glob("runs/*/*/run.json"))) == len(SLOW["seeds"])
    assert not list(out.glob("runs/.tmp-*"))
    assert (out / LOCK_FILE).read_text() == ""  # released


def test_lock_in_one_process(tmp_path: Path) -> None:
    with ResultsLock(tmp_path) as held:
        assert held.taken_over is None
        with pytest.raises(ResultsDirectoryLocked, match=f"in use by PID {os.getpid()}"):
            ResultsLock(tmp_path).acquire()
    with ResultsLock(tmp_path) as again:  # released: free again, nothing to take over
        assert again.taken_over is None
