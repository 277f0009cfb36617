"""Load and validate a scenario file, with errors that name the file, line and key path.

Only :func:`yaml.safe_load` semantics are used (the YAML is composed into nodes to learn each
key's line, then constructed with the safe constructor); nothing in a scenario can make
recarena import code except an explicit ``kind: plugin`` policy entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from recarena.experiment.ope import ope_problems
from recarena.experiment.overrides import Override, apply_overrides, parse_override
from recarena.experiment.problems import (
    RANGE_ERRORS,
    Problem,
    ScenarioError,
    allowed_range,
    model_at,
)
from recarena.experiment.schema import ScenarioConfig
from recarena.experiment.semantics import ScenarioParts, semantic_problems, unknown_key
from recarena.experiment.yaml_input import MAX_BYTES, Loc, YamlInputError, decode, parse
from recarena.policies import registry

__all__ = [
    "Problem",
    "ScenarioError",
    "apply_overrides",
    "load_scenario",
    "scenario_from_dict",
]


def _read_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    source = str(path)

    def fail(message: str, line: int | None = None) -> ScenarioError:
        return ScenarioError(source, [Problem((), message, line)], {})

    if not path.exists():
        raise fail("file not found")
    if path.is_dir():
        raise fail("is a directory, expected a YAML file")
    if not path.is_file():  # a FIFO or a device would block or never end
        raise fail("is not a regular file (a pipe, socket or device), expected a YAML file")
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise fail(f"cannot read the file: {exc.strerror or exc}") from None
    try:
        document = parse(decode(raw))
    except YamlInputError as exc:
        problems = [Problem(loc, message, line) for loc, line, message in exc.problems]
        raise ScenarioError(source, problems, {}) from None
    if document.data is None:
        raise fail("the file is empty")
    if not isinstance(document.data, dict):
        raise fail("expected a mapping at the top level")
    return document.data, document.lines


# ---------------------------------------------------------------------- pydantic errors
def _describe(error: Mapping[str, Any], root: type[BaseModel], loc: Loc) -> Problem:
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = model_at(root, loc[:-1])
        allowed = sorted(parent.model_fields) if parent is not None else []
        return Problem(loc, unknown_key(str(loc[-1]), allowed))
    message = error["msg"]
    if "input" in error and kind not in ("missing",):
        shown = repr(error["input"])
        if len(shown) <= 60 and not isinstance(error["input"], dict | list):
            message += f" (got {shown})"
    hint = allowed_range(root, loc) if kind in RANGE_ERRORS else None
    if hint:
        message += f"; {hint}"
    field_model = model_at(root, loc[:-1])
    if field_model is not None and loc and isinstance(loc[-1], str):
        field = field_model.model_fields.get(loc[-1])
        if field is not None and field.description:
            message += f" — {loc[-1]}: {field.description}"
    return Problem(loc, message)


def _data_loc(loc: Sequence[str | int], data: Any) -> Loc:
    """``loc`` without pydantic's internal tags for union members and function validators
    (``function-after[...]``, ``list[...]``): the parts that are keys of the data, or a
    last key that is missing from it."""
    out: list[str | int] = []
    node = data
    for part in loc:
        in_list = (
            isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node)
        )
        if in_list or (isinstance(node, Mapping) and part in node):
            node = node[part]
        elif isinstance(part, str) and "[" in part:
            continue
        else:
            node = None
        out.append(part)
    return tuple(out)


def _problems(exc: ValidationError, root: type[BaseModel], data: Any) -> list[Problem]:
    return [_describe(error, root, _data_loc(error["loc"], data)) for error in exc.errors()]


def _validation_problems(
    data: Mapping[str, Any], overrides: Sequence[Override] = ()
) -> tuple[ScenarioConfig | None, list[Problem]]:
    """The config (``None`` when invalid) and every problem found in one pass: the schema's,
    then the cross-field checks on whatever parts are valid."""
    try:
        config: ScenarioConfig | None = ScenarioConfig.model_validate(dict(data))
        problems: list[Problem] = []
    except ValidationError as exc:
        config, problems = None, _problems(exc, ScenarioConfig, data)
    parts = ScenarioParts.of(config) if config is not None else ScenarioParts.salvage(data)
    problems += semantic_problems(parts)
    if config is not None and not problems:  # the ope block's checks need valid policies
        problems = [Problem(loc, message) for loc, message in ope_problems(config)]
    if overrides:
        problems = [_with_origin(p, overrides) for p in problems]
    return config, problems


def _with_origin(problem: Problem, overrides: Sequence[Override]) -> Problem:
    """Say which ``--set`` a problem comes from (the last one that wrote its key)."""
    for override in reversed(overrides):
        if problem.loc[: len(override.loc)] == override.loc:
            return Problem(problem.loc, problem.message + override.hint(), problem.line)
    return problem


def scenario_from_dict(
    data: Mapping[str, Any],
    source: str = "<scenario>",
    lines: Mapping[Loc, int] | None = None,
    overrides: Sequence[Override] = (),
    allow_plugins: bool = False,
) -> ScenarioConfig:
    """Validate a raw scenario mapping; raise :class:`ScenarioError` listing every problem.

    Plugin policies are loaded only with ``allow_plugins`` (or ``RECARENA_ALLOW_PLUGINS=1``);
    otherwise naming one is a problem and no plugin code runs.
    """
    if not isinstance(data, Mapping):
        raise ScenarioError(source, [Problem((), "expected a mapping at the top level")], {})
    with registry.allow_plugins(allow_plugins):
        config, problems = _validation_problems(data, overrides)
    if problems or config is None:
        raise ScenarioError(source, problems, lines or {})
    if config.sweep is not None:
        # Every point must be a valid scenario before anything runs. The sweep module builds
        # on this one (a point is validated by this function), hence the import here.
        from recarena.experiment.sweep import point_scenarios

        with registry.allow_plugins(allow_plugins):
            point_scenarios(config, source, lines)
    return config


def load_scenario(
    path: str | Path, overrides: Sequence[str] = (), allow_plugins: bool = False
) -> ScenarioConfig:
    """Read, override and validate a scenario file (see :func:`scenario_from_dict`)."""
    path = Path(path)
    data, lines = _read_yaml(path)
    try:
        parsed = [parse_override(text) for text in overrides]
        apply_overrides(data, parsed)
    except ScenarioError as exc:
        raise ScenarioError(f"{path} (--set)", exc.problems, {}) from None
    return scenario_from_dict(data, str(path), lines, parsed, allow_plugins)
