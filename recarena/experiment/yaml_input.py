"""Read a YAML scenario defensively: bounded size, depth and alias expansion, no duplicate keys.

A scenario is small (the bundled ones are under 4 KiB), so anything far beyond that is refused
before it can cost time or memory:

* the file is read as bytes, at most :data:`MAX_BYTES`, and must be UTF-8 (a UTF-16/32 byte
  order mark or an invalid byte is named with its line);
* the document may nest at most :data:`MAX_DEPTH` levels and use at most :data:`MAX_ALIASES`
  aliases, checked on the parser's event stream before anything is composed (PyYAML's
  composer recurses once per level, so a deep file would otherwise end in a
  ``RecursionError``);
* with every alias expanded (which is what validation sees) it may hold at most
  :data:`MAX_NODES` nodes — a "billion laughs" file of a few hundred bytes is refused from its
  composed graph, which is counted once per distinct node;
* a mapping may not repeat a key (PyYAML keeps the last one silently); both lines are named.

Only the safe constructor is used: nothing in a YAML file can make recarena import code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = [
    "MAX_ALIASES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Loc",
    "YamlDocument",
    "YamlInputError",
    "decode",
    "parse",
]

#: Largest scenario file read, in bytes.
MAX_BYTES = 1 << 20
#: Deepest nesting of mappings and sequences.
MAX_DEPTH = 64
#: Most aliases (``*name``) in one document.
MAX_ALIASES = 256
#: Most nodes in the document with every alias expanded.
MAX_NODES = 100_000

Loc = tuple[str | int, ...]

_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


class YamlInputError(ValueError):
    """A file that is not a usable YAML document; ``problems`` holds (loc, line, message)."""

    def __init__(self, problems: list[tuple[Loc, int | None, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _, _, message in problems))


@dataclass(frozen=True)
class YamlDocument:
    """A parsed document: its data and the 1-based line of every key path."""

    data: Any
    lines: dict[Loc, int]


def decode(raw: bytes) -> str:
    """UTF-8 text of ``raw`` (a UTF-8 byte order mark is allowed).

    Raises :class:`YamlInputError` for a file over :data:`MAX_BYTES`, a UTF-16/32 file or an
    invalid byte (with its line).
    """
    if len(raw) > MAX_BYTES:
        raise YamlInputError(
            [((), None, f"file is larger than {MAX_BYTES:,} bytes; a scenario is a few KiB")]
        )
    for bom, name in _BOMS.items():
        if raw.startswith(bom):
            raise YamlInputError([((), 1, f"file is {name}-encoded; save it as UTF-8")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
        raise YamlInputError([((), line, message + "save the file as UTF-8")]) from None


#: libyaml's safe loader when PyYAML was built with it (≈ 9× faster), else the pure-Python one.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_events(text: str) -> None:
    """Refuse a document nested deeper than :data:`MAX_DEPTH` or with more than
    :data:`MAX_ALIASES` aliases, from its event stream (before any recursive composing)."""
    depth = aliases = 0
    for event in yaml.parse(text, Loader=_LOADER):
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlInputError([((), line, f"nested deeper than {MAX_DEPTH} levels")])
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlInputError([((), line, f"more than {MAX_ALIASES} aliases")])


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


def _expanded_size(root: yaml.Node) -> int:
    """Nodes in the document with every alias expanded, counting each distinct node once.

    Iterative post-order over the node graph (aliases make it a DAG); ``size(n) = 1 +
    Σ size(children)``, memoised by node identity.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        if done:
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in _children(node)), MAX_NODES + 1)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    return sizes[id(root)]


def _walk(root: yaml.Node) -> tuple[dict[Loc, int], list[tuple[Loc, int | None, str]]]:
    """Line of every key path, and duplicate keys. An aliased node is walked once: later
    references map only their own path (errors inside them point at the alias)."""
    lines: dict[Loc, int] = {(): root.start_mark.line + 1}
    duplicates: list[tuple[Loc, int | None, str]] = []
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, Loc]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value)
                line = key.start_mark.line + 1
                if name in first and name != "<<":
                    where = ".".join(str(p) for p in (*loc, name))
                    duplicates.append(
                        ((*loc, name), line, f"duplicate key {where!r} (lines {first[name]} "
                         f"and {line}); YAML would silently keep the last one")
                    )  # fmt: skip
                first.setdefault(name, line)
                lines.setdefault((*loc, name), line)
                stack.append((value, (*loc, name)))
        elif isinstance(node, yaml.SequenceNode):
            for i, value in enumerate(node.value):
                lines.setdefault((*loc, i), value.start_mark.line + 1)
                stack.append((value, (*loc, i)))
    return lines, duplicates


def parse(text: str) -> YamlDocument:
    """Compose and construct one YAML document within the limits above.

    Raises :class:`YamlInputError` for a syntax error, a limit exceeded or a duplicate key.
    An empty document gives ``data=None``.
    """
    try:
        _check_events(text)
        loader = _LOADER(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return YamlDocument(None, {})
            size = _expanded_size(node)
            if size > MAX_NODES:
                raise YamlInputError(
                    [((), None, f"the document expands to more than {MAX_NODES:,} values "
                      "(aliases referring to aliases?); a scenario needs a few hundred")]
                )  # fmt: skip
            lines, duplicates = _walk(node)
            if duplicates:
                raise YamlInputError(duplicates)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        raise YamlInputError([((), line, f"YAML syntax error: {problem}")]) from None
    return YamlDocument(data, lines)
