"""A problem with a scenario, and the error that lists every problem with its file and line."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from recarena.experiment.yaml_input import Loc

__all__ = ["RANGE_ERRORS", "Problem", "ScenarioError", "allowed_range", "dotted", "model_at"]

#: pydantic error types of a number outside its field's range.
RANGE_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario; ``line`` when known better than the key's line."""

    loc: Loc
    message: str
    line: int | None = None


class ScenarioError(ValueError):
    """A scenario file that cannot be used; ``str()`` lists every problem with its line."""

    def __init__(self, source: str, problems: Sequence[Problem], lines: Mapping[Loc, int]):
        self.source = source
        self.problems = list(problems)
        self.lines = dict(lines)
        super().__init__(self.render())

    def render(self) -> str:
        """The message: a header naming the source, then one ``file:line: key: problem`` each."""
        out = [f"{self.source}: invalid scenario ({len(self.problems)} problem(s))"]
        for p in self.problems:
            line = p.line or _nearest_line(self.lines, p.loc)
            where = f"{self.source}:{line}" if line else self.source
            path = dotted(p.loc) or "<top level>"
            out.append(f"  {where}: {path}: {p.message}")
        return "\n".join(out)


def dotted(loc: Loc) -> str:
    """A key path as written in YAML terms: ``arms[0].policy.kind``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _nearest_line(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def unwrap(annotation: Any) -> Any:
    """The model class inside Optional[...] / list[...] / dict[str, ...] annotations."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return unwrap(arg)
    if origin in (list, tuple, dict):
        args = typing.get_args(annotation)
        return unwrap(args[-1]) if args else None
    return annotation


def model_at(model: type[BaseModel] | None, loc: Loc) -> type[BaseModel] | None:
    """The model that holds the key path ``loc`` inside ``model`` (list indices skipped)."""
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        inner = unwrap(field.annotation)
        model = inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
    return model


def _element_metadata(annotation: Any) -> list[Any]:
    """Constraints on the elements of a ``list[Annotated[x, Field(...)]]`` (inside Optional)."""
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Annotated:
            return list(typing.get_args(arg)[1:])
        if typing.get_origin(arg) in (list, tuple) or arg is not type(None):
            inner = _element_metadata(arg)
            if inner:
                return inner
    return []


def _interval(metadata: Iterable[Any]) -> tuple[str, str]:
    """Lower and upper ends of a range as interval notation (``"[1"``, ``"1024]"``)."""
    low, high = "(-inf", "inf)"
    for item in metadata:
        if isinstance(item, FieldInfo):
            sub = _interval(item.metadata)
            low = sub[0] if sub[0] != "(-inf" else low
            high = sub[1] if sub[1] != "inf)" else high
        elif isinstance(item, annotated_types.Ge):
            low = f"[{item.ge:g}" if isinstance(item.ge, int | float) else low
        elif isinstance(item, annotated_types.Gt):
            low = f"({item.gt:g}" if isinstance(item.gt, int | float) else low
        elif isinstance(item, annotated_types.Le):
            high = f"{item.le:g}]" if isinstance(item.le, int | float) else high
        elif isinstance(item, annotated_types.Lt):
            high = f"{item.lt:g})" if isinstance(item.lt, int | float) else high
    return low, high


def allowed_range(model: type[BaseModel] | None, loc: Loc) -> str | None:
    """``"allowed range [1, 1024]"`` for the numeric field (or list element) at ``loc`` of
    ``model``; ``None`` when ``loc`` is not such a field."""
    element = bool(loc) and isinstance(loc[-1], int)
    key = loc[:-1] if element else loc
    if not key or not isinstance(key[-1], str):
        return None
    holder = model_at(model, key[:-1])
    field = None if holder is None else holder.model_fields.get(key[-1])
    if field is None:
        return None
    metadata = _element_metadata(field.annotation) if element else field.metadata
    low, high = _interval(metadata)
    if (low, high) == ("(-inf", "inf)"):
        return None
    return f"allowed range {low}, {high}"
