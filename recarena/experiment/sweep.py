"""Expand a scenario's ``sweep:`` block into points, each a scenario of its own.

A point is one value per sweep parameter. Its scenario is the base scenario (every default
filled in) with each parameter's key paths set, in the order the parameters are declared (so
a ``levels`` parameter that replaces a list can come before a parameter that sets one element
of it). Every point is then validated like a scenario file, so a value out of range is an
error naming the point and the key before anything runs.

Points are drawn by

* ``grid`` — every combination of the parameters' values, first parameter outermost;
* ``random`` — ``samples`` independent draws: a value or level uniformly, a range uniformly
  (log-uniformly with ``log``);
* ``latin_hypercube`` — ``samples`` draws stratified on every axis at once (McKay, Beckman &
  Conover, *Technometrics* 21(2), 1979), by :class:`scipy.stats.qmc.LatinHypercube`: each of
  the ``samples`` equal slices of every axis holds exactly one point.

Drawn range values are rounded to 6 significant digits, so the value a run used is exactly
the one its key shows; draws that repeat a point already drawn are dropped.

A point's key names its directory: ``name=value`` pairs joined by ``,`` in parameter order
(``lift=0.05,traffic=1000,variants=3``), stable across runs and readable in a listing.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import qmc

from recarena.analysis.results import POINTS_DIR
from recarena.experiment.loading import Loc, Problem, ScenarioError, scenario_from_dict
from recarena.experiment.schema import ScenarioConfig, SweepConfig, SweepParameter
from recarena.simulator.rng import RandomStreams

__all__ = [
    "POINTS",
    "PointPathError",
    "SweepPoint",
    "apply_point",
    "format_value",
    "point_scenarios",
    "sample_points",
    "set_path",
]

#: Directory of the points inside a sweep's results directory.
POINTS = POINTS_DIR
_DIGITS = 6
_SHOWN_PROBLEMS = 20


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep: a value per parameter and the key paths those values set."""

    values: tuple[tuple[str, Any], ...]
    #: ``(parameter, key path, value)`` in the order they are applied
    settings: tuple[tuple[str, str, Any], ...]

    @property
    def key(self) -> str:
        """``name=value`` pairs joined by ``,`` (the point's directory name)."""
        return ",".join(f"{name}={format_value(value)}" for name, value in self.values)

    @property
    def relpath(self) -> Path:
        """Where the point's results directory lives inside the sweep's."""
        return Path(POINTS) / self.key

    def as_dict(self) -> dict[str, Any]:
        """``{parameter: value}``."""
        return dict(self.values)


def format_value(value: Any) -> str:
    """A parameter value as shown in keys: integers plainly, floats to 6 significant digits."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.{_DIGITS}g}"
    return str(value)


def _rounded(x: float) -> float:
    return float(f"{x:.{_DIGITS}g}")


def _settings(parameter: SweepParameter, value: Any) -> list[tuple[str, str, Any]]:
    if parameter.levels is not None:
        level = next(lv for lv in parameter.levels if lv.value == value)
        return [(parameter.name, path, v) for path, v in level.set.items()]
    assert parameter.path is not None  # the schema requires a path without levels
    return [(parameter.name, parameter.path, value)]


def _point(parameters: Sequence[SweepParameter], values: Sequence[Any]) -> SweepPoint:
    settings = [s for p, v in zip(parameters, values, strict=True) for s in _settings(p, v)]
    named = tuple((p.name, v) for p, v in zip(parameters, values, strict=True))
    return SweepPoint(values=named, settings=tuple(settings))


def _from_unit(parameter: SweepParameter, u: float) -> Any:
    """The value at quantile ``u`` ∈ [0, 1) of a parameter's values or range."""
    choices = parameter.choices()
    if choices is not None:
        return choices[min(int(u * len(choices)), len(choices) - 1)]
    assert parameter.low is not None and parameter.high is not None
    if parameter.log:
        lo, hi = math.log(parameter.low), math.log(parameter.high)
        x = math.exp(lo + u * (hi - lo))
    else:
        x = parameter.low + u * (parameter.high - parameter.low)
    return round(x) if parameter.integer else _rounded(x)


def sample_points(sweep: SweepConfig) -> list[SweepPoint]:
    """The points of a sweep (see the module docstring), in drawing order, without repeats."""
    parameters = sweep.parameters
    if sweep.method == "grid":
        grids = [p.choices() or [] for p in parameters]
        return [_point(parameters, combo) for combo in itertools.product(*grids)]
    assert sweep.samples is not None  # the schema requires samples for random draws
    rng = RandomStreams(sweep.seed).generator(f"sweep/{sweep.method}")
    if sweep.method == "random":
        unit = rng.random((sweep.samples, len(parameters)))
    else:
        unit = qmc.LatinHypercube(d=len(parameters), rng=rng).random(sweep.samples)
    points: dict[str, SweepPoint] = {}
    for row in np.asarray(unit, dtype=np.float64):
        values = [_from_unit(p, float(u)) for p, u in zip(parameters, row, strict=True)]
        point = _point(parameters, values)
        points.setdefault(point.key, point)
    return list(points.values())


def set_path(data: Any, path: str, value: Any) -> None:
    """Set ``value`` at a dotted key path of a raw scenario mapping, in place.

    Every step but the last must exist; list elements are addressed by index or by the
    ``name`` of an element. The last key of a mapping may be new (e.g. a policy parameter
    left at its default), and the scenario validation then checks it.

    Raises
    ------
    KeyError
        Naming the step that does not exist and what exists there.
    """
    parts = path.split(".")
    node = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[:depth]) or "<top level>"
        if isinstance(node, list):
            names = [e.get("name") for e in node if isinstance(e, dict)]
            if part.isdigit() and int(part) < len(node):
                index = int(part)
            elif part in names:
                index = names.index(part)
            else:
                named = f", names {', '.join(map(str, names))}" if names else ""
                raise KeyError(
                    f"{where} has no element {part!r} (indices 0–{len(node) - 1}{named})"
                )
            if last:
                node[index] = copy.deepcopy(value)
            node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = copy.deepcopy(value)
            elif part not in node or not isinstance(node[part], dict | list):
                keys = ", ".join(str(k) for k in node if isinstance(node[k], dict | list))
                raise KeyError(f"{where} has no section {part!r} (sections: {keys or 'none'})")
            node = node[part]
        else:
            raise KeyError(f"{where} is a value, not a section; cannot set {path!r}")


class PointPathError(KeyError):
    """A key path of a sweep parameter that does not exist in the scenario."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


def apply_point(base: Mapping[str, Any], point: SweepPoint) -> dict[str, Any]:
    """The point's raw scenario: a copy of ``base`` (without its sweep) with the point's
    settings applied in order.

    Raises
    ------
    PointPathError
        When a key path does not exist (naming the parameter that set it).
    """
    data = copy.deepcopy(dict(base))
    data.pop("sweep", None)
    for parameter, path, value in point.settings:
        try:
            set_path(data, path, value)
        except KeyError as exc:
            raise PointPathError(parameter, f"{path}: {exc.args[0]}") from None
    return data


def _parameter_loc(sweep: SweepConfig, name: str) -> Loc:
    index = next(i for i, p in enumerate(sweep.parameters) if p.name == name)
    return ("sweep", "parameters", index)


def _normalised(data: Mapping[str, Any], path: str) -> str:
    """``path`` with list elements named by index (as validation errors name them)."""
    parts, node, out = path.split("."), data, []
    for part in parts:
        if isinstance(node, list):
            names = [e.get("name") if isinstance(e, dict) else None for e in node]
            index = int(part) if part.isdigit() else names.index(part) if part in names else -1
            if index < 0 or index >= len(node):
                return path
            out.append(str(index))
            node = node[index]
        elif isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        else:
            return ".".join([*out, *parts[len(out) :]])
    return ".".join(out)


def _setter(data: Mapping[str, Any], point: SweepPoint, loc: Loc) -> str:
    """The parameter whose key path is the longest prefix of ``loc`` (the last one to set it
    wins, as settings apply in order); the first parameter when none matches."""
    dotted = ".".join(str(part) for part in loc)
    best, length = point.values[0][0], -1
    for parameter, path, _ in point.settings:
        path = _normalised(data, path)
        if (dotted == path or dotted.startswith(path + ".")) and len(path) >= length:
            best, length = parameter, len(path)
    return best


def point_scenarios(
    config: ScenarioConfig, source: str = "<scenario>", lines: Mapping[Loc, int] | None = None
) -> list[tuple[SweepPoint, ScenarioConfig]]:
    """Every point of ``config.sweep`` with its validated scenario.

    Raises
    ------
    ScenarioError
        Listing every point whose values make an invalid scenario: the point's key, the key
        path and the problem, at the line of the sweep parameter that set it.
    """
    assert config.sweep is not None
    sweep = config.sweep
    base = config.model_dump(mode="json")
    problems: list[Problem] = []
    out: list[tuple[SweepPoint, ScenarioConfig]] = []
    for point in sample_points(sweep):
        try:
            data = apply_point(base, point)
        except PointPathError as exc:
            loc = _parameter_loc(sweep, exc.parameter)
            problems.append(Problem(loc, f"point {point.key}: {exc.message}"))
            continue
        try:
            out.append((point, scenario_from_dict(data, source)))
        except ScenarioError as exc:
            for p in exc.problems:
                loc = _parameter_loc(sweep, _setter(data, point, p.loc))
                path = ".".join(str(part) for part in p.loc) or "<top level>"
                problems.append(Problem(loc, f"point {point.key}: {path}: {p.message}"))
    if len(problems) > _SHOWN_PROBLEMS:
        rest = len(problems) - _SHOWN_PROBLEMS
        problems = [*problems[:_SHOWN_PROBLEMS], Problem(("sweep",), f"… and {rest} more")]
    if problems:
        raise ScenarioError(source, problems, lines or {})
    return out
