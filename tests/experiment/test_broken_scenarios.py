"""Every broken scenario in the corpus gives one clear error, exit code 2 and no output."""

from __future__ import annotations

from pathlib import Path

import pytest

from recarena.experiment.cli import main

BROKEN = sorted((Path(__file__).parent / "broken").glob("*.yaml"))


def _lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    utf16 = raw[:2] in (b"\xff\xfe", b"\xfe\xff")
    return raw.decode("utf-16" if utf16 else "utf-8", "replace").splitlines()


def _expected(path: Path) -> str:
    first = _lines(path)[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: ...'"
    return first.removeprefix("# expect: ")


def _args(path: Path) -> list[str]:
    """Extra command-line arguments from an optional second line ``# args: ...``."""
    lines = _lines(path)
    second = lines[1] if len(lines) > 1 else ""
    return second.removeprefix("# args: ").split() if second.startswith("# args: ") else []


def test_corpus_is_large_enough() -> None:
    assert len(BROKEN) >= 20


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_scenario_fails_cleanly(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    code = main(["run", str(path), "--out", str(out), "--quiet", *_args(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert _expected(path) in err
    assert str(path) in err  # the message names the file
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("path", BROKEN[:5], ids=[p.stem for p in BROKEN[:5]])
def test_validate_reports_line_numbers(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:" in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
