"""Sweeps: expansion, validation of every point, resume, and executors (pool, Dask).

Dask tests run a LocalCluster bound to 127.0.0.1 only, under a time limit, and close it.
"""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import recarena
from recarena.api import SweepResults
from recarena.experiment.cli import main
from recarena.experiment.executors import loopback_cluster
from recarena.experiment.loading import ScenarioError, scenario_from_dict
from recarena.experiment.runner import ResourceLimitError, SweepError, run_scenario
from recarena.experiment.schema import SweepConfig
from recarena.experiment.sweep import apply_point, sample_points, set_path
from recarena.policies import registry

AB = {
    "kind": "ab_split",
    "variants": [
        {"name": "A", "policy": {"kind": "fixed", "action": 0}},
        {"name": "B", "policy": {"kind": "fixed", "action": 1}},
    ],
    "test": "fixed",
    "horizon_days": 2,
    "commit": True,
    "fallback": "empirical_best",
}
TINY: dict[str, Any] = {
    "name": "tiny_sweep",
    "seeds": [1, 2],
    "world": {
        "population": {"n_users": 300},
        "catalogue": {"n_items": 20},
        "variants": [{"name": "A", "ctr": 0.05}, {"name": "B", "ctr": 0.06}],
    },
    "schedule": {"days": 3, "surface": "variant", "decision_window": 0.25},
    "arms": [
        {"name": "ab", "policy": AB},
        {"name": "thompson", "policy": {"kind": "thompson"}},
    ],
    "executor": {"kind": "inline"},
    "sweep": {
        "parameters": [
            {"name": "lift", "levels": [
                {"value": 0.1, "set": {"world.variants.B.ctr": 0.055}},
                {"value": 0.5, "set": {"world.variants.B.ctr": 0.075}},
            ]},
            {"name": "users", "path": "world.population.n_users", "values": [200, 400]},
        ],
    },
}  # fmt: skip


def _config(data: dict[str, Any] | None = None) -> Any:
    return scenario_from_dict(data or TINY)


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _hashes(out: Path) -> dict[str, str]:
    """sha256 of every Parquet file under ``out``: the runs' logs and each seed's world tables
    (run.json holds wall-clock timings)."""
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*.parquet"))
    }


@pytest.fixture
def time_limit() -> Iterator[None]:
    """Fail a test that runs for more than 180 s instead of hanging the suite."""

    def expire(*_: Any) -> None:
        raise TimeoutError("test exceeded its 180 s limit")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(180)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------------- expansion
def test_grid_points_keys_and_order() -> None:
    points = sample_points(_config().sweep)
    assert [p.key for p in points] == [
        "lift=0.1,users=200", "lift=0.1,users=400", "lift=0.5,users=200", "lift=0.5,users=400"
    ]  # fmt: skip
    data = apply_point(_config().model_dump(mode="json"), points[3])
    assert data["world"]["variants"][1]["ctr"] == 0.075
    assert data["world"]["population"]["n_users"] == 400
    assert "sweep" not in data


def test_set_path_by_index_and_name() -> None:
    data: dict[str, Any] = {"arms": [{"name": "a", "policy": {"kind": "x"}}]}
    set_path(data, "arms.a.policy.epsilon", 0.2)
    set_path(data, "arms.0.policy.kind", "y")
    assert data["arms"][0]["policy"] == {"kind": "y", "epsilon": 0.2}
    with pytest.raises(KeyError, match="no element 'b'"):
        set_path(data, "arms.b.policy.epsilon", 0.1)
    with pytest.raises(KeyError, match="no section 'polcy'"):
        set_path(data, "arms.0.polcy.epsilon", 0.1)


def _ranged(method: str, samples: int) -> SweepConfig:
    return SweepConfig.model_validate({
        "method": method, "samples": samples, "seed": 7,
        "parameters": [
            {"name": "eps", "path": "arms.0.policy.epsilon", "low": 0.0, "high": 0.5},
            {"name": "users", "path": "world.population.n_users", "low": 100, "high": 10000,
             "log": True, "integer": True},
        ],
    })  # fmt: skip


def test_latin_hypercube_fills_every_slice_of_every_axis() -> None:
    n = 20
    points = sample_points(_ranged("latin_hypercube", n))
    assert len(points) == n
    eps = np.array([p.as_dict()["eps"] for p in points])
    users = np.array([p.as_dict()["users"] for p in points])
    # one point in each of the n equal slices of [0, 0.5) and of [log 100, log 10000)
    assert sorted(np.floor(eps / 0.5 * n).astype(int)) == list(range(n))
    u = (np.log(users) - np.log(100)) / (np.log(10000) - np.log(100))
    assert len(set(np.floor(np.clip(u, 0, 1 - 1e-9) * n).astype(int))) >= n - 2  # rounding
    assert users.dtype.kind == "i" and users.min() >= 100 and users.max() <= 10000
    assert [p.key for p in sample_points(_ranged("latin_hypercube", n))] == [
        p.key for p in points
    ]  # same seed, same points


def test_random_sampling_is_seeded_and_in_range() -> None:
    points = sample_points(_ranged("random", 30))
    again = sample_points(_ranged("random", 30))
    assert [p.key for p in points] == [p.key for p in again]
    eps = [p.as_dict()["eps"] for p in points]
    assert min(eps) >= 0.0 and max(eps) < 0.5
    # keys show exactly the value the run uses (6 significant digits)
    assert all(f"eps={p.as_dict()['eps']:.6g}" in p.key for p in points)


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"parameters": [{"name": "x", "path": "seeds", "low": 0, "high": 1}]},
         "a grid needs values or levels"),
        ({"method": "random", "parameters": [{"name": "x", "path": "a", "values": [1]}]},
         "needs samples"),
        ({"parameters": [{"name": "x", "path": "a", "values": [1, 1]}]}, "distinct"),
        ({"parameters": [{"name": "x", "values": [1]}]}, "need a path"),
        ({"parameters": [{"name": "x", "path": "a", "values": ["a/b"]}]}, "letters, digits"),
        ({"parameters": [{"name": "x", "path": "a", "values": [1]}],
          "maps": [{"arm": "nope", "baseline": "ab", "x": "x"}]}, "sweep map arm 'nope'"),
    ],
)  # fmt: skip
def test_bad_sweep_blocks_are_rejected(sweep: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        _config({**TINY, "sweep": sweep})


def test_validate_checks_every_point_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(yaml.safe_dump(TINY))
    data["sweep"]["parameters"][1]["values"] = [200, -5]
    data["sweep"]["parameters"][0]["levels"][1]["set"] = {"world.variants.B.ctr": 1.5}
    path = _write(tmp_path, data)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "point lift=0.1,users=-5: world.population.n_users: Input should be greater" in err
    assert "point lift=0.5,users=200: world.variants.1.ctr: Input should be less than 1" in err
    assert f"{path}:" in err  # the line of the parameter that set it
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    assert not out.exists()
    good = _write(tmp_path, TINY)
    assert main(["validate", str(good)]) == 0
    assert "4 points × 2 arms × 2 seeds = 16 runs" in capsys.readouterr().out


# ---------------------------------------------------------------------- running
def test_sweep_runs_every_point_and_resumes(tmp_path: Path) -> None:
    out = run_scenario(_config(), tmp_path / "out", progress=False)
    per_run = pd.read_csv(out / "metrics" / "sweep_per_run.csv")
    assert len(per_run) == 4 * 2 * 2
    assert set(per_run.columns) >= {"lift", "users", "seed", "arm", "regret_share", "correct"}
    assert (out / "report.html").exists() and (out / "plots" / "sweep_map_0.png").exists()
    point = out / "points" / "lift=0.5,users=400"
    assert (point / "scenario.yaml").exists() and (point / "manifest.json").exists()
    # the point's scenario is the base with the point's values
    assert (
        yaml.safe_load((point / "scenario.yaml").read_text())["world"]["population"]["n_users"]
        == 400
    )
    before = _hashes(out)
    kept = point / "runs" / "seed=1" / "arm=ab" / "run.json"
    stamp = kept.stat().st_mtime_ns
    lost = point / "runs" / "seed=2" / "arm=thompson"
    for f in lost.iterdir():
        f.unlink()
    lost.rmdir()
    run_scenario(_config(), out, resume=True, progress=False)
    assert kept.stat().st_mtime_ns == stamp  # finished runs are not redone
    assert _hashes(out) == before  # the redone run is the same, bit for bit
    results = recarena.load(out)  # the Python API opens a sweep as SweepResults
    assert isinstance(results, SweepResults)
    assert len(results.per_run()) == 16 and "lift=0.5,users=400" in results.points()
    assert len(results.point("lift=0.5,users=400").per_run()) == 4  # its own report


def test_memory_estimate_refuses_a_run_that_cannot_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(yaml.safe_dump(TINY))
    data["executor"]["worker_memory"] = "1GB"
    data["sweep"]["parameters"][1]["values"] = [200, 2_000_000]
    with pytest.raises(ResourceLimitError) as err:
        run_scenario(_config(data), tmp_path / "x", progress=False)
    text = str(err.value)
    assert "run point lift=0.1,users=2000000, seed=1, arm=ab" in text
    assert "needs an estimated 2.10 GB" in text and "1.00 GB" in text
    assert not (tmp_path / "x").exists()
    path = _write(tmp_path, data)
    assert main(["run", str(path), "--out", str(tmp_path / "y"), "--quiet"]) == 2
    assert "needs an estimated" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()


def test_pool_results_equal_inline(tmp_path: Path) -> None:
    inline = run_scenario(_config(), tmp_path / "a", progress=False, report=False)
    pool = run_scenario(
        _config(), tmp_path / "b", jobs=2, executor="process", progress=False, report=False
    )
    # 4 points × 2 seeds: 2 arms × 6 log tables, and the users/items/offers world tables.
    assert _hashes(inline) == _hashes(pool) and len(_hashes(inline)) == 4 * 2 * (2 * 6 + 3)


# ---------------------------------------------------------------------- Dask
dask_distributed = pytest.importorskip("distributed")


@pytest.fixture
def local_cluster(time_limit: None) -> Iterator[str]:
    """A two-worker Dask cluster on 127.0.0.1; yields its scheduler address."""
    with loopback_cluster(2) as cluster:
        yield cluster.scheduler_address


def test_local_cluster_listens_on_loopback_only(local_cluster: str) -> None:
    import psutil

    with dask_distributed.Client(local_cluster) as client:
        pids = [os.getpid(), *client.run(os.getpid).values()]
    listening = [c.laddr.ip for pid in pids for c in psutil.Process(pid).net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN]  # fmt: skip
    assert listening and set(listening) == {"127.0.0.1"}


def test_dask_results_are_bit_identical_to_a_local_run(tmp_path: Path, local_cluster: str) -> None:
    local = run_scenario(_config(), tmp_path / "local", progress=False)
    shared = run_scenario(
        _config(), tmp_path / "shared", executor="dask", address=local_cluster, progress=False
    )
    data = yaml.safe_load(yaml.safe_dump(TINY))
    data["executor"] = {"kind": "dask", "jobs": 2, "shared_dir": False}
    returned = run_scenario(_config(data), tmp_path / "returned", progress=False)  # own cluster
    assert _hashes(local) == _hashes(shared) == _hashes(returned)
    metrics = [pd.read_csv(d / "metrics" / "sweep_per_run.csv") for d in (local, shared, returned)]
    pd.testing.assert_frame_equal(metrics[0], metrics[1], check_exact=True)
    pd.testing.assert_frame_equal(metrics[0], metrics[2], check_exact=True)
    manifest = (shared / "manifest.json").read_text()
    assert f"dask ({local_cluster}), 2 worker(s)" in manifest


def _flaky(tmp_path: Path, retries: int) -> Any:
    data = yaml.safe_load(yaml.safe_dump(TINY))
    plugin = {"kind": "plugin", "plugin": "tests.experiment.flaky_policy:FailsOnce",
              "params": {"marker": str(tmp_path / "marker")}}  # fmt: skip
    data["arms"] = [{"name": "flaky", "policy": plugin}]
    data["seeds"] = [1]
    data["sweep"]["parameters"] = data["sweep"]["parameters"][:1]
    data["executor"] = {"kind": "dask", "jobs": 2, "retries": retries}
    with registry.allow_plugins():
        return _config(data)


def test_dask_retries_a_failed_run_and_reports_it(
    tmp_path: Path, local_cluster: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_scenario(
        _flaky(tmp_path, 1),
        tmp_path / "out",
        address=local_cluster,
        progress=False,
        allow_plugins=True,
    )
    err = capsys.readouterr().err
    assert "failed on" in err and "(attempt 1 of 2)" in err and "trying again" in err
    assert "transient failure" in err and "point lift=" in err and "arm=flaky" in err
    assert len(pd.read_csv(out / "metrics" / "sweep_per_run.csv")) == 2


def test_dask_reports_a_run_that_keeps_failing(tmp_path: Path, local_cluster: str) -> None:
    with pytest.raises(SweepError) as err:
        run_scenario(
            _flaky(tmp_path, 0),
            tmp_path / "out",
            address=local_cluster,
            progress=False,
            allow_plugins=True,
        )
    text = str(err.value)
    assert "1 run(s) of scenario 'tiny_sweep' failed" in text
    assert "run point lift=" in text and "seed=1, arm=flaky: failed 1 time(s)" in text
    assert "transient failure" in text
    # the other point's run finished and is kept for --resume
    assert len(list((tmp_path / "out").rglob("run.json"))) == 1
