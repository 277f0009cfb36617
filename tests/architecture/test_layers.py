"""The package's layers import one way only: a newcomer can read the house bottom-up.

The import graph is built from the source (every ``import`` statement, including those inside
functions and ``TYPE_CHECKING`` blocks, which are dependencies all the same) and checked
against :data:`ALLOWED`: a package may import itself and the packages listed for it, nothing
else. A test also fails on any cycle between packages.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import recarena

ROOT = Path(recarena.__file__).parent

#: Which top-level parts of recarena each part may import (besides itself).
#: Floor 0 (``typing``, ``contract``, ``numerics``, ``stats``) imports nothing above it.
ALLOWED: dict[str, frozenset[str]] = {
    "typing": frozenset(),
    "contract": frozenset({"typing"}),
    "numerics": frozenset({"typing"}),
    "stats": frozenset({"typing", "numerics"}),
    "simulator": frozenset({"typing", "contract", "numerics"}),
    "models": frozenset({"typing", "contract", "numerics", "stats"}),
    "policies": frozenset({"typing", "contract", "numerics", "stats", "models"}),
    "analysis": frozenset({"typing", "numerics", "stats", "models", "simulator"}),
    "experiment": frozenset(
        {"typing", "contract", "numerics", "stats", "simulator", "models", "policies", "analysis"}
    ),
    # Gymnasium environments over a world's user model: beside the experiment layer.
    "gym": frozenset({"typing", "contract", "numerics", "simulator"}),
    "api": frozenset({"typing", "experiment", "analysis"}),
    "__init__": frozenset({"api"}),
}

#: The only simulator modules the analysis layer may read: the run directory's format (the
#: event log and the world tables), the scenario's parameter models, and the offer model's
#: equations (pure functions analysis evaluates on the world tables, so that true effects
#: and incremental NPV have one home). Everything else it learns from the run directory.
ANALYSIS_MAY_READ = frozenset(
    {
        "recarena.simulator.log",
        "recarena.simulator.params",
        "recarena.simulator.world_tables",
        "recarena.simulator.campaigns",
    }
)


def _part(module: str) -> str:
    """The top-level part of recarena a module belongs to (``__init__`` for the package)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    head = ROOT.parent.joinpath(*name.split("."))
    return head.with_suffix(".py").exists() or (head / "__init__.py").exists()


def import_edges() -> Iterator[tuple[str, str, int]]:
    """(importing module, imported recarena module, line) for every import in the package.

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module, else
    ``pkg``.
    """
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                subs = [f"{base}.{alias.name}" for alias in node.names]
                targets = [t for t in subs if _is_module(t)] or [base]
            else:
                continue
            for target in targets:
                if target == "recarena" or target.startswith("recarena."):
                    yield module, target, node.lineno


def layer_violations(edges: Iterable[tuple[str, str, int]]) -> list[str]:
    """Every edge that breaks :data:`ALLOWED` or :data:`ANALYSIS_MAY_READ`, as text."""
    found = []
    for module, target, line in edges:
        src, dst = _part(module), _part(target)
        if src == dst:
            continue
        allowed = ALLOWED.get(src)
        if allowed is None:
            found.append(f"{module}: part {src!r} has no entry in ALLOWED")
        elif dst not in allowed:
            found.append(f"{module}:{line} imports {target} ({src} -> {dst} is not allowed)")
        elif src == "analysis" and dst == "simulator" and target not in ANALYSIS_MAY_READ:
            found.append(f"{module}:{line} imports {target} (analysis reads the run directory)")
    return sorted(set(found))


def part_cycles(edges: Iterable[tuple[str, str, int]]) -> list[str]:
    """Parts that can reach themselves through imports between parts."""
    graph: dict[str, set[str]] = {}
    for module, target, _ in edges:
        if _part(module) != _part(target):
            graph.setdefault(_part(module), set()).add(_part(target))

    def reaches(start: str, goal: str, seen: frozenset[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    return sorted(p for p in graph if reaches(p, p, frozenset({p})))


def test_every_import_goes_down_a_layer() -> None:
    assert layer_violations(import_edges()) == []


def test_no_cycle_between_parts() -> None:
    assert part_cycles(import_edges()) == []


def test_the_rules_catch_upward_imports_and_cycles() -> None:
    edges = [
        ("recarena.simulator.engine", "recarena.policies.base", 3),
        ("recarena.analysis.campaigns", "recarena.simulator.world", 7),
        ("recarena.policies.base", "recarena.simulator.engine", 9),
    ]
    found = layer_violations(edges)
    assert found == [
        "recarena.analysis.campaigns:7 imports recarena.simulator.world "
        "(analysis reads the run directory)",
        "recarena.policies.base:9 imports recarena.simulator.engine "
        "(policies -> simulator is not allowed)",
        "recarena.simulator.engine:3 imports recarena.policies.base "
        "(simulator -> policies is not allowed)",
    ]
    assert part_cycles(edges) == ["policies", "simulator"]


def test_the_graph_sees_imports_inside_functions() -> None:
    edges = list(import_edges())
    assert ("recarena.experiment.runner", "recarena.analysis.report") in {
        (m, t) for m, t, _ in edges
    }
