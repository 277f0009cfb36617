"""Every snippet of README.md runs: Python blocks verbatim, YAML scenarios load (the plugin
one with the README's own policy class), the command lines parse and the cheap ones run."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import recarena
from recarena.experiment.cli import _parser, main
from recarena.experiment.loading import scenario_from_dict
from recarena.experiment.runner import run_scenario
from recarena.policies import registry

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
BLOCKS: list[tuple[str, str]] = BLOCK.findall(README)


def blocks(language: str) -> list[str]:
    return [code for lang, code in BLOCKS if lang == language]


def test_the_readme_has_the_snippets_this_file_runs() -> None:
    assert [len(blocks(lang)) for lang in ("python", "yaml", "bash")] == [3, 2, 4]
    assert {lang for lang, _ in BLOCKS} == {"python", "yaml", "bash", ""}


@pytest.fixture
def in_a_clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that looks like a fresh clone: scenarios/ at the top."""
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_python_api_example_runs_verbatim(in_a_clone: Path) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(blocks("python")[0], "README.md (Python API)", "exec"), namespace)
    results = namespace["results"]
    assert isinstance(results, recarena.Results)
    assert len(namespace["decisions"]["slate"].iloc[0]) == 10  # slate_size of the quickstart
    # "What a run writes" describes this directory
    layout = next(code for lang, code in BLOCKS if lang == "" and "scenario.yaml" in code)
    written = results.path
    assert written.resolve().parent == (in_a_clone / "results" / "quickstart").resolve()
    for entry in re.findall(r"^  (\S+)", layout, re.M):
        if entry == "ope/":  # written only for a scenario with an ope: block
            continue
        assert (written / entry.rstrip("/")).exists(), entry


def test_simulator_example_runs_verbatim() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(blocks("python")[1], "README.md (simulator)", "exec"), namespace)
    assert len(namespace["result"].log.frame("decisions")) > 0


def test_plugin_policy_runs_from_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "mypackage"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "policies.py").write_text(blocks("python")[2])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(registry.PLUGINS_ENV, "1")  # the README's plugin is code: allowed here
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # undone after
    monkeypatch.delitem(sys.modules, "mypackage", raising=False)
    monkeypatch.delitem(sys.modules, "mypackage.policies", raising=False)
    tiny, plugin = (yaml.safe_load(code) for code in blocks("yaml"))
    data = {
        **tiny,
        "arms": tiny["arms"] + plugin["arms"],
        "seeds": [1],
        "schedule": {**tiny["schedule"], "days": 1},
        "executor": {"kind": "inline"},
    }
    config = scenario_from_dict(data, source="README.md")
    out = run_scenario(config, tmp_path / "out", progress=False, report=False)
    assert (out / "runs" / "seed=1" / "arm=mine" / "run.json").exists()
    sys.modules.pop("mypackage.policies", None)
    sys.modules.pop("mypackage", None)


def _commands() -> list[list[str]]:
    lines = []
    for code in blocks("bash"):
        for line in code.splitlines():
            line = line.split("#", 1)[0].strip()
            lines += [shlex.split(part) for part in line.split("&&") if part.strip()]
    return lines


def test_command_lines_name_real_files_and_options(
    in_a_clone: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = _commands()
    assert commands
    for argv in commands:
        if argv[0] == "recarena":
            args = _parser().parse_args(argv[1:])  # every option exists
            if args.command == "run":  # run it small: one seed, one short day
                cheap = [*argv[1:], "--seeds", "1", "--set", "schedule.days=0.5", "-q",
                         "--out", str(in_a_clone / "run")]  # fmt: skip
                assert main(cheap) == 0
                assert "Key metrics per arm" in capsys.readouterr().out
        else:
            for word in argv:
                if re.search(r"\.(txt|py|yaml|md)$", word) and not word.startswith("http"):
                    assert (ROOT / word).exists(), f"{' '.join(argv)}: no {word}"
