"""Odd and hostile input to the CLI and the Python API: clean errors (exit 2, file and key
named, no traceback), nothing written, no hang, no surprise code.

The scenario-file cases are in the broken corpus (``broken/*.yaml``,
:mod:`tests.experiment.test_broken_scenarios`); here are the cases that need more than a
file: special files, sizes, ``--set``, several files, the API, results directories.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

import recarena
from recarena.analysis.results import ResultsError
from recarena.experiment.cli import main
from recarena.experiment.cost import CostError, check_cost, estimate_run
from recarena.experiment.invocation import InvocationError
from recarena.experiment.loading import ScenarioError, load_scenario
from recarena.experiment.yaml_input import MAX_BYTES

SMALL: dict[str, Any] = {
    "name": "small",
    "seeds": [1],
    "world": {"population": {"n_users": 60}, "catalogue": {"n_items": 30}},
    "schedule": {"days": 1.0, "slate_size": 3, "decision_window": 0.25},
    "executor": {"kind": "inline"},
    "output": {"plots": False},
    "arms": [{"name": "random", "policy": {"kind": "random"}}],
}


def _write(tmp_path: Path, data: dict[str, Any], name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _clean(err: str) -> None:
    assert "Traceback" not in err


# ------------------------------------------------------------------ files
def test_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("name: big\n" + "# padding\n" * (MAX_BYTES // 10 + 10), encoding="utf-8")
    with pytest.raises(ScenarioError, match="larger than"):
        load_scenario(path)


def test_fifo_is_refused_without_blocking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert main(["validate", str(fifo)]) == 2
    err = capsys.readouterr().err
    assert "not a regular file" in err and str(fifo) in err


def test_validate_reports_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes("name: bad\n".encode("utf-16"))
    good = _write(tmp_path, SMALL, "good.yaml")
    assert main(["validate", str(bad), str(good)]) == 2
    captured = capsys.readouterr()
    assert "UTF-16" in captured.err and str(bad) in captured.err
    assert f"{good}: ok" in captured.out
    _clean(captured.err)


def test_one_pass_reports_every_problem(tmp_path: Path) -> None:
    data = {
        **SMALL,
        "schedule": {"surface": "variant", "slate_sise": 3},
        "world": {"variants": [{"name": "a", "ctr": 0.1}, {"name": "b", "ctr": 0.2}]},
        "analysis": {"baseline_arm": "nobody"},
        "arms": [
            {"name": "x", "policy": {"kind": "fixed", "action": 7}},
            {"name": "x", "policy": {"kind": "thompson", "prior_alpha": -1}},
        ],
    }
    with pytest.raises(ScenarioError) as exc:
        load_scenario(_write(tmp_path, data))
    text = str(exc.value)
    # The schema's problems (typo, duplicate arm names, a bad parameter) and the cross-field
    # ones (fixed action out of range) in one report, though the schedule did not validate.
    for expected in ("Did you mean 'slate_size'", "repeated: ['x']", "prior_alpha",
                     "action 7 is not a variant index"):  # fmt: skip
        assert expected in text, text


# ------------------------------------------------------------------ --set
def test_set_bracket_form(tmp_path: Path) -> None:
    data = {
        **SMALL,
        "schedule": {**SMALL["schedule"], "surface": "variant"},
        "world": {"variants": [{"name": "a", "ctr": 0.1}, {"name": "b", "ctr": 0.2}]},
        "arms": [{"name": "t", "policy": {"kind": "thompson"}}],
    }
    path = _write(tmp_path, data)
    config = load_scenario(path, ["world.variants[1].ctr=0.06", "arms.0.name=u"])
    assert config.world.variants[1].ctr == 0.06 and config.arms[0].name == "u"
    with pytest.raises(ScenarioError, match="has 2 entries; no index 5"):
        load_scenario(path, ["world.variants[5].ctr=0.06"])


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("seeds=1,2", "a list is written in brackets: --set seeds=[1,2]"),
        ("name=[unclosed", "not valid YAML"),
        ("name=!!python/name:os.system", "not valid YAML"),
        ("name", "expected KEY=VALUE"),
        ("name.x=1", "name is a single value"),
        ("wrold.n=1", "Did you mean 'world'"),
    ],
)
def test_set_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, expected: str
) -> None:
    path = _write(tmp_path, SMALL)
    assert main(["validate", str(path), "--set", override]) == 2
    err = capsys.readouterr().err
    assert expected in err and str(path) in err
    _clean(err)


# ------------------------------------------------------------------ plugins
def test_validate_never_runs_plugin_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = {**SMALL, "arms": [{"name": "z", "policy": {"kind": "plugin", "plugin": "this:x"}}]}
    path = _write(tmp_path, data)
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert "Beautiful is better" not in captured.out  # `import this` prints the Zen
    assert "--allow-plugins" in captured.err
    with pytest.raises(ScenarioError, match="allow_plugins=True"):
        recarena.run(path, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ results directories
def test_out_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    path = _write(tmp_path, SMALL)
    assert main(["run", str(path), "--out", str(target), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "is not a directory" in err
    _clean(err)
    with pytest.raises(InvocationError, match="is not a directory"):
        recarena.run(path, target, progress=False)


def test_unwritable_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, SMALL)
    # /proc refuses new directories even to root (chmod would not stop root).
    assert main(["run", str(path), "--out", "/proc/recarena-results", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cannot create or write results directory /proc/recarena-results" in err
    _clean(err)


def test_resume_needs_a_results_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, SMALL)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["run", str(path), "--out", str(foreign), "--resume", "--quiet"]) == 2
    assert "has no scenario.yaml" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    with pytest.raises(InvocationError, match="does not exist"):
        recarena.run(path, tmp_path / "missing", resume=True, progress=False)
    assert not (tmp_path / "missing").exists()


def test_first_line_says_where_results_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = {**SMALL, "output": {"dir": "elsewhere", "plots": False}}
    path = _write(tmp_path, data)
    assert main(["run", str(path), "--quiet", "--no-report", "--set", "seeds=[3]"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"results: elsewhere{os.sep}")
    assert "output.dir 'elsewhere' of the scenario" in first and str(tmp_path) in first
    (run_dir,) = (tmp_path / "elsewhere").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["overrides"] == ["seeds=[3]"]


# ------------------------------------------------------------------ the Python API
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"seeds": ["a"]}, "seeds must be a non-empty list of integers"),
        ({"seeds": 5}, "seeds must be a list of integers"),
        ({"seeds": "12"}, "seeds must be a list of integers"),
        ({"seeds": [1.7]}, "seeds must be a non-empty list of integers"),
        ({"seeds": [1, 1]}, "distinct"),
        ({"jobs": "2"}, "jobs must be a whole number"),
        ({"jobs": -1}, "jobs must be a whole number"),
        ({"jobs": 2.5}, "jobs must be a whole number"),
        ({"overrides": "name=x"}, "overrides must be a list"),
    ],
)
def test_api_refuses_like_the_cli(tmp_path: Path, kwargs: dict[str, Any], expected: str) -> None:
    path = _write(tmp_path, SMALL)
    out = tmp_path / "out"
    with pytest.raises(InvocationError, match=expected):
        recarena.run(path, out, progress=False, **kwargs)
    assert not out.exists()


def test_api_bad_override(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not valid YAML"):
        recarena.run(SMALL, tmp_path / "out", overrides=["name=[x"], progress=False)
    assert not (tmp_path / "out").exists()


def test_cli_jobs_message_matches_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, SMALL)
    assert main(["run", str(path), "--jobs", "-1", "--out", str(tmp_path / "o")]) == 2
    assert "jobs must be a whole number from 0 to 256" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ cost
def test_cost_estimate_refuses_what_would_not_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, SMALL)
    huge = ["world.population.n_users=50000000", "schedule.days=3650"]
    out = tmp_path / "o"
    sets = [arg for s in huge for arg in ("--set", s)]
    assert main(["run", str(path), "--out", str(out), *sets]) == 2
    err = capsys.readouterr().err
    assert "world.population.n_users" in err and "--force" in err and "decisions" in err
    assert not out.exists()
    config = load_scenario(path, huge)
    with pytest.raises(CostError):
        check_cost(config, workers=1)
    assert check_cost(config, workers=1, force=True).run.decisions > 1e10


def test_cost_estimate_counts(tmp_path: Path) -> None:
    config = load_scenario(_write(tmp_path, SMALL))
    cost = estimate_run(config)
    # 60 users, half a session a day on average (activity_mean 0.5), 1 day; 4 windows + 1
    # checkpoint.
    assert cost.users == 60 and cost.decisions == pytest.approx(30.0)
    assert cost.events == pytest.approx(5.0)


# ------------------------------------------------------------------ report and load
@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("finished") / "out"
    recarena.run(SMALL, out, progress=False)
    return out


def test_report_on_truncated_parquet(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    decisions = next(copy.glob("runs/seed=*/arm=*/decisions.parquet"))
    decisions.write_bytes(decisions.read_bytes()[:100])
    assert main(["report", str(copy)]) == 2
    err = capsys.readouterr().err
    assert str(decisions) in err and "cannot be read as Parquet" in err
    _clean(err)


def test_report_on_bad_manifest(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    (copy / "manifest.json").write_text("{not json")
    assert main(["report", str(copy)]) == 2
    err = capsys.readouterr().err
    assert "manifest.json: cannot be read as JSON" in err
    _clean(err)
    with pytest.raises(ResultsError, match=r"manifest\.json"):
        _ = recarena.load(copy).directory.manifest


def test_load_of_a_non_results_directory(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="not a results directory"):
        recarena.load(tmp_path)
