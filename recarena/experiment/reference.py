"""Generate the YAML reference (``docs/scenario-reference.md``) from the schema itself.

The reference is derived from the pydantic models, so it cannot drift from the code; a test
checks that the committed file equals the generated one (``python -m
recarena.experiment.reference > docs/scenario-reference.md`` refreshes it).
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Union

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from recarena.experiment.schema import ScenarioConfig
from recarena.policies import registry

__all__ = ["scenario_reference"]


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is list:
        return f"list[{_type_name(args[0])}]"
    if origin is dict:
        return f"dict[{_type_name(args[0])}, {_type_name(args[1])}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _bounds(metadata: list[Any]) -> list[str]:
    parts = []
    bounds = ((Ge, "≥", "ge"), (Gt, ">", "gt"), (Le, "≤", "le"), (Lt, "<", "lt"))
    for meta in metadata:
        if isinstance(meta, FieldInfo):
            parts += _bounds(meta.metadata)
        for cls, symbol, attr in bounds:
            if isinstance(meta, cls):
                parts.append(f"{symbol} {getattr(meta, attr)}")
    return parts


def _element_bounds(annotation: Any) -> list[str]:
    """Bounds on the elements of ``list[Annotated[x, Field(...)]]`` (inside Optional)."""
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Annotated:
            return _bounds(list(typing.get_args(arg)[1:]))
        inner = _element_bounds(arg)
        if inner:
            return inner
    return []


def _range(field: FieldInfo) -> str:
    parts = _bounds(field.metadata)
    if not parts and (each := _element_bounds(field.annotation)):
        return "each " + ", ".join(each)
    return ", ".join(parts)


def _default(field: FieldInfo) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
        return "" if isinstance(value, BaseModel) else repr(value)
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        return "" if isinstance(value, BaseModel) else repr(value)
    return "**required**"


def _nested(annotation: Any) -> type[BaseModel] | None:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _nested(arg)
            if found is not None:
                return found
        return None
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _model_table(model: type[BaseModel], path: str, out: list[str]) -> None:
    doc = inspect.cleandoc(model.__doc__ or "")
    title = f"`{path}`" if path else "top level"
    out += [f"### {title}", "", doc, "", "| key | type | default | range | meaning |",
            "|---|---|---|---|---|"]  # fmt: skip
    nested = []
    for name, field in model.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        type_name = _type_name(field.annotation).replace("|", "\\|")
        out.append(
            f"| `{name}` | {type_name} | {_default(field)} | {_range(field)} | {description} |"
        )
        inner = _nested(field.annotation)
        if inner is not None:
            suffix = "[]" if typing.get_origin(field.annotation) is list else ""
            nested.append((inner, f"{path}.{name}{suffix}" if path else name))
    out.append("")
    for inner, inner_path in nested:
        _model_table(inner, inner_path, out)


def scenario_reference() -> str:
    """The whole reference as Markdown: scenario keys, then every policy's parameters."""
    out = ["# Scenario reference", "",
           "Generated from the schema by `python -m recarena.experiment.reference`; do not edit.",
           "Equations for the world parameters are in [world.md](world.md).", ""]  # fmt: skip
    _model_table(ScenarioConfig, "", out)
    out += ["## Policies", "", "Each arm's `policy` (and `campaign_policy`) is `{kind: ..., "
            "<parameters>}`.", ""]  # fmt: skip
    for kind, cls in registry.available().items():
        surfaces = ", ".join(sorted(s.value for s in cls.surfaces))
        out += [f"### `{kind}`", "", f"{cls.summary} Surfaces: {surfaces}.", ""]
        rows = [(n, f) for n, f in cls.Params.model_fields.items() if n != "kind"]
        if not rows:
            out += ["No parameters.", ""]
            continue
        out += ["| parameter | type | default | range | meaning |", "|---|---|---|---|---|"]
        for name, field in rows:
            description = (field.description or "").replace("|", "\\|")
            type_name = _type_name(field.annotation).replace("|", "\\|")
            out.append(
                f"| `{name}` | {type_name} | {_default(field)} | {_range(field)} | {description} |"
            )
        out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(scenario_reference(), end="")
