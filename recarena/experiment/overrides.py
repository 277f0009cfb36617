"""``--set KEY.PATH=VALUE`` overrides of a raw scenario mapping, remembered for the manifest.

A path is dotted keys with list indices either as ``[i]`` or as a dotted number:
``world.variants[1].ctr=0.06`` and ``world.variants.1.ctr=0.06`` are the same. The value is
parsed as YAML with the same limits and the same safe constructor as a scenario file, so
``--set 'name=!!python/name:os.system'`` is an error, never code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from recarena.experiment.problems import Problem, ScenarioError, dotted
from recarena.experiment.yaml_input import Loc, YamlInputError, parse

__all__ = ["Override", "apply_overrides", "parse_override"]

SOURCE = "--set"
_PART = re.compile(r"^([^\[\]]*)((?:\[-?\d+\])*)$")
_LIST_LIKE = re.compile(r"^[^\[\]{}]*,[^\[\]{}]*$")


@dataclass(frozen=True)
class Override:
    """One parsed ``--set``: the text as given, its key path and its value."""

    text: str
    loc: Loc
    value: Any

    def hint(self) -> str:
        """Said after a problem at this key: where the value came from, and for ``a,b`` the
        list form that was probably meant."""
        out = f" (from --set {self.text})"
        if isinstance(self.value, str) and _LIST_LIKE.match(self.value):
            out += f"; a list is written in brackets: --set {dotted(self.loc)}=[{self.value}]"
        return out


def _fail(text: str, message: str) -> ScenarioError:
    return ScenarioError(SOURCE, [Problem((), f"{text!r}: {message}")], {})


def _path(text: str, key: str) -> Loc:
    loc: list[str | int] = []
    for part in key.split("."):
        match = _PART.match(part)
        if match is None or not (match.group(1) or match.group(2)):
            raise _fail(text, f"cannot read the key path {key!r}; write e.g. "
                        "world.variants[1].ctr=0.06 or arms.0.policy.epsilon=0.2")  # fmt: skip
        name, indices = match.groups()
        if name:
            loc.append(int(name) if name.isdigit() else name)
        loc.extend(int(i) for i in re.findall(r"\[(-?\d+)\]", indices))
    return tuple(loc)


def parse_override(text: str) -> Override:
    """Parse ``KEY.PATH=VALUE``; raises :class:`ScenarioError` (source ``--set``)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise _fail(text, "expected KEY=VALUE, e.g. --set schedule.days=3")
    try:
        value = parse(raw).data if raw.strip() else None
    except YamlInputError as exc:
        raise _fail(text, f"the value is not valid YAML: {exc}") from None
    return Override(text, _path(text, key), value)


def _set(data: dict[str, Any], override: Override) -> None:
    node: Any = data
    loc = override.loc
    for depth, part in enumerate(loc):
        last = depth == len(loc) - 1
        where = dotted(loc[:depth]) or "the scenario"
        if isinstance(node, list):
            if not isinstance(part, int):
                raise _fail(override.text, f"{where} is a list; index it with a number")
            if not -len(node) <= part < len(node):
                raise _fail(override.text, f"{where} has {len(node)} entries; no index {part}")
        elif isinstance(node, dict):
            if isinstance(part, int):
                raise _fail(override.text, f"{where} is a mapping, not a list")
            if not last and not isinstance(node.get(part), dict | list):
                nxt = loc[depth + 1]
                if part in node and node[part] is not None:
                    raise _fail(override.text, f"{dotted(loc[: depth + 1])} is a single value")
                node[part] = [] if isinstance(nxt, int) else {}
        else:
            raise _fail(override.text, f"{where} is a single value, it has no {part!r}")
        if last:
            node[part] = override.value
        else:
            node = node[part]


def apply_overrides(data: dict[str, Any], overrides: Sequence[str | Override]) -> dict[str, Any]:
    """Apply ``KEY.PATH=VALUE`` overrides (VALUE parsed as YAML) to a raw scenario mapping, in
    place; returns it. Raises :class:`ScenarioError` naming the override that cannot apply."""
    for item in overrides:
        _set(data, item if isinstance(item, Override) else parse_override(item))
    return data
