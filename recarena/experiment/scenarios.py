"""Where the bundled scenario library lives, and how a scenario argument becomes a path."""

from __future__ import annotations

from pathlib import Path

from recarena.experiment.loading import Problem, ScenarioError

__all__ = ["bundled_scenarios", "resolve_scenario_path", "scenario_library"]


def scenario_library() -> Path | None:
    """The ``scenarios/`` directory of the source checkout recarena runs from, if any."""
    candidate = Path(__file__).resolve().parents[2] / "scenarios"
    return candidate if candidate.is_dir() else None


def bundled_scenarios() -> list[Path]:
    """Every ``*.yaml`` in the scenario library, sorted by name."""
    library = scenario_library()
    return sorted(library.glob("*.yaml")) if library is not None else []


def resolve_scenario_path(name: str) -> Path:
    """A path as given if it exists; otherwise a bundled scenario called ``name``.

    Raises :class:`ScenarioError` naming the bundled scenarios when neither exists.
    """
    path = Path(name)
    if path.exists():
        return path
    library = scenario_library()
    if library is not None:
        for candidate in (library / name, library / f"{name}.yaml"):
            if candidate.is_file():
                return candidate
    names = ", ".join(p.stem for p in bundled_scenarios()) or "none found"
    raise ScenarioError(name, [Problem((), f"file not found (bundled scenarios: {names})")], {})
