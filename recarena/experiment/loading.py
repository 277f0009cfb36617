"""Load and validate a scenario file, with errors that name the file, line and key path.

Only :func:`yaml.safe_load` semantics are used (the YAML is composed into nodes to learn each
key's line, then constructed with the safe constructor); nothing in a scenario can make
recarena import code except an explicit ``kind: plugin`` policy entry.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from recarena.contract import Surface
from recarena.experiment.ope import ope_problems
from recarena.experiment.schema import ScenarioConfig
from recarena.policies import registry

__all__ = ["ScenarioError", "apply_overrides", "load_scenario", "scenario_from_dict"]

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario."""

    loc: Loc
    message: str


class ScenarioError(ValueError):
    """A scenario file that cannot be used; ``str()`` lists every problem with its line."""

    def __init__(self, source: str, problems: Sequence[Problem], lines: Mapping[Loc, int]):
        self.source = source
        self.problems = list(problems)
        self.lines = dict(lines)
        super().__init__(self.render())

    def render(self) -> str:
        out = [f"{self.source}: invalid scenario ({len(self.problems)} problem(s))"]
        for p in self.problems:
            line = _nearest_line(self.lines, p.loc)
            where = f"{self.source}:{line}" if line else self.source
            path = _dotted(p.loc) or "<top level>"
            out.append(f"  {where}: {path}: {p.message}")
        return "\n".join(out)


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _nearest_line(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _line_map(node: yaml.Node, loc: Loc = ()) -> dict[Loc, int]:
    """Map every key path of a composed YAML document to its 1-based line number."""
    lines: dict[Loc, int] = {loc: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*loc, str(key.value))
            lines[child] = key.start_mark.line + 1
            lines.update({k: v for k, v in _line_map(value, child).items() if k != child})
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            lines.update(_line_map(value, (*loc, i)))
    return lines


def _read_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    source = str(path)
    if not path.exists():
        raise ScenarioError(source, [Problem((), "file not found")], {})
    if path.is_dir():
        raise ScenarioError(source, [Problem((), "is a directory, expected a YAML file")], {})
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line: dict[Loc, int] = {(): mark.line + 1} if mark is not None else {}
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(source, [Problem((), f"YAML syntax error: {problem}")], line) from None
    if node is None or data is None:
        raise ScenarioError(source, [Problem((), "the file is empty")], {})
    if not isinstance(data, dict):
        raise ScenarioError(source, [Problem((), "expected a mapping at the top level")], {})
    return data, _line_map(node)


# ---------------------------------------------------------------------- pydantic errors
def _unwrap(annotation: Any) -> Any:
    """The model class inside Optional[...] / list[...] / dict[str, ...] annotations."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _unwrap(arg)
    if origin in (list, tuple, dict):
        args = typing.get_args(annotation)
        return _unwrap(args[-1]) if args else None
    return annotation


def _model_at(model: type[BaseModel] | None, loc: Loc) -> type[BaseModel] | None:
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        inner = _unwrap(field.annotation)
        model = inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
    return model


def _describe(error: Mapping[str, Any], root: type[BaseModel], loc: Loc) -> Problem:
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        allowed = sorted(parent.model_fields) if parent is not None else []
        key = str(loc[-1])
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return Problem(loc, f"unknown key {key!r}.{hint} Allowed keys: {', '.join(allowed)}")
    message = error["msg"]
    if "input" in error and kind not in ("missing",):
        shown = repr(error["input"])
        if len(shown) <= 60 and not isinstance(error["input"], dict | list):
            message += f" (got {shown})"
    field_model = _model_at(root, loc[:-1])
    if field_model is not None and loc and isinstance(loc[-1], str):
        field = field_model.model_fields.get(loc[-1])
        if field is not None and field.description:
            message += f" — {loc[-1]}: {field.description}"
    return Problem(loc, message)


def _problems(exc: ValidationError, root: type[BaseModel], prefix: Loc = ()) -> list[Problem]:
    out = []
    for error in exc.errors():
        # Drop pydantic's internal tags for union members and function validators.
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
        out.append(
            _describe(error, root, loc) if not prefix else Problem((*prefix, *loc), error["msg"])
        )
    return out


def _policy_problems(config: ScenarioConfig) -> list[Problem]:
    """Validate every arm's policy configs against the registry and the scenario's surfaces."""
    problems: list[Problem] = []
    surface = {"slate": Surface.SLATE, "variant": Surface.VARIANT}.get(config.schedule.surface)
    campaigns = bool(config.schedule.campaign_days)
    if surface is None and not campaigns:
        problems.append(
            Problem(
                ("schedule", "surface"),
                "surface is 'none' and there are no campaign_days: nothing would be decided",
            )
        )
    for i, arm in enumerate(config.arms):
        roles = [("policy", arm.policy, surface or Surface.CAMPAIGN)]
        if arm.campaign_policy is not None:
            roles.append(("campaign_policy", arm.campaign_policy, Surface.CAMPAIGN))
        elif campaigns and surface is not None:
            problems.append(
                Problem(
                    ("arms", i),
                    "the scenario has campaign_days and a session surface, so "
                    "this arm needs a campaign_policy",
                )
            )
        for role, policy_config, needed in roles:
            loc: Loc = ("arms", i, role)
            try:
                cls, _ = registry.parse_params(policy_config)
            except registry.UnknownPolicyError as exc:
                problems.append(Problem((*loc, "kind"), str(exc)))
                continue
            except ValidationError as exc:
                kind = policy_config.get("kind")
                known = registry.available().get(str(kind))
                params_model = known.Params if known is not None else None
                for error in exc.errors():
                    eloc = tuple(error["loc"])
                    if error["type"] == "extra_forbidden" and params_model is not None:
                        allowed = sorted(params_model.model_fields)
                        key = str(eloc[-1])
                        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                        hint = f" Did you mean {close[0]!r}?" if close else ""
                        msg = f"unknown parameter {key!r} for policy {kind!r}.{hint} "
                        msg += f"Allowed: {', '.join(allowed)}"
                    else:
                        msg = error["msg"]
                        if "input" in error and not isinstance(error["input"], dict | list):
                            msg += f" (got {error['input']!r})"
                    problems.append(Problem((*loc, *eloc), msg))
                continue
            except ValueError as exc:  # plugin path problems
                problems.append(Problem((*loc, "plugin"), str(exc)))
                continue
            if needed not in cls.surfaces:
                problems.append(
                    Problem(
                        (*loc, "kind"),
                        f"policy {cls.kind!r} cannot act on the {needed} "
                        f"surface; it supports {sorted(s.value for s in cls.surfaces)}",
                    )
                )
    return problems


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``KEY.PATH=VALUE`` overrides (VALUE parsed as YAML) to a raw scenario mapping.

    List elements are addressed by index (``arms.0.policy.epsilon=0.2``).
    """
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ScenarioError("--set", [Problem((), f"expected KEY=VALUE, got {item!r}")], {})
        value = yaml.safe_load(raw)
        parts = key.split(".")
        node: Any = data
        for j, part in enumerate(parts[:-1]):
            nxt: Any = parts[j + 1]
            if isinstance(node, list):
                node = node[int(part)]
                continue
            if part not in node or node[part] is None:
                node[part] = [] if nxt.isdigit() else {}
            node = node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return data


def scenario_from_dict(
    data: Mapping[str, Any], source: str = "<scenario>", lines: Mapping[Loc, int] | None = None
) -> ScenarioConfig:
    """Validate a raw scenario mapping; raise :class:`ScenarioError` listing every problem."""
    lines = lines or {}
    try:
        config = ScenarioConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ScenarioError(source, _problems(exc, ScenarioConfig), lines) from None
    problems = _policy_problems(config)
    if not problems:  # the ope block's checks read the arms' policy classes
        problems = [Problem(loc, message) for loc, message in ope_problems(config)]
    if problems:
        raise ScenarioError(source, problems, lines)
    return config


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> ScenarioConfig:
    """Read, override and validate a scenario file."""
    path = Path(path)
    data, lines = _read_yaml(path)
    try:
        data = apply_overrides(data, overrides)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        if isinstance(exc, ScenarioError):
            raise
        raise ScenarioError(str(path), [Problem((), f"cannot apply --set: {exc}")], lines) from None
    return scenario_from_dict(data, str(path), lines)
