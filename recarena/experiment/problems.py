"""A problem with a scenario, and the error that lists every problem with its file and line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from recarena.experiment.yaml_input import Loc

__all__ = ["Problem", "ScenarioError", "dotted"]


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
