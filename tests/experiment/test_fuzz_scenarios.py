"""Property-based robustness of the scenario loader: mutated bundled scenarios never give a
traceback or a hang.

Every bundled scenario is mutated (values replaced by odd ones — huge, negative, NaN, wrong
type —, keys deleted, unknown keys added, list entries duplicated; or its text cut, spliced
and garbled) and loaded from a file. Each case must either validate (and then be priced by
the cost estimate) or raise :class:`ScenarioError` whose message names the file; anything
else is a bug. Each case has a time limit (hypothesis' ``deadline``, and an alarm that stops
a hang). The default run checks 2,200 cases in well under a minute; ``pytest -m slow`` runs
ten times as many.
"""

from __future__ import annotations

import copy
import math
import signal
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recarena.experiment.cost import CostError, check_cost, estimate_run
from recarena.experiment.loading import ScenarioError, load_scenario
from recarena.experiment.scenarios import bundled_scenarios

TEXTS = {p.stem: p.read_text(encoding="utf-8") for p in bundled_scenarios()}
TREES = {name: yaml.safe_load(text) for name, text in TEXTS.items()}
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
HANG_SECONDS = 10
FAST = settings(
    max_examples=1600,
    deadline=timedelta(seconds=3),
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FAST_TEXT = settings(FAST, max_examples=600)
SLOW = settings(FAST, max_examples=16_000, derandomize=False)
SLOW_TEXT = settings(FAST, max_examples=6_000, derandomize=False)

ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 10**9, 1e-300, 1e308, -1e308, 0.5]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["..", ".", "none", "slate", "plugin", "random", "fixed", "abc", ""]),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=4),
    st.dictionaries(st.text(max_size=6), st.integers(min_value=-3, max_value=3), max_size=2),
)


def _paths(node: Any, loc: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path of a YAML tree (mappings and lists)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*loc, key)
            yield from _paths(value, (*loc, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield (*loc, i)
            yield from _paths(value, (*loc, i))


def _parent(tree: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc[:-1]:
        tree = tree[part]
    return tree


@st.composite
def mutated_tree(draw: st.DrawFn) -> Any:
    """A bundled scenario with one to three structural mutations."""
    tree = copy.deepcopy(TREES[draw(st.sampled_from(sorted(TREES)))])
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(tree))
        if not paths:
            break
        loc = paths[draw(st.integers(0, len(paths) - 1))]
        parent, key = _parent(tree, loc), loc[-1]
        op = draw(st.sampled_from(["replace", "replace", "delete", "add", "duplicate"]))
        if op == "replace":
            parent[key] = draw(ODD)
        elif op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(ODD)
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(key, parent[key])
    return tree


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    """A bundled scenario's text, cut, spliced or garbled."""
    text = TEXTS[draw(st.sampled_from(sorted(TEXTS)))]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "cut", "truncate", "repeat_line"]))
        if op == "insert":
            junk = draw(st.one_of(st.text(max_size=8), st.sampled_from(
                ["&a ", "*a", "<<: *a", "{", "[", "- ", ": ", "\t", "!!python/name:os.system ",
                 "\x00", "\ufeff", "---\n", "'", '"', "#", "\n  ", "? "])))  # fmt: skip
            text = text[:at] + junk + text[at:]
        elif op == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        elif op == "truncate":
            text = text[:at]
        else:
            lines = text.splitlines(keepends=True)
            i = draw(st.integers(0, max(len(lines) - 1, 0)))
            text = "".join(lines[: i + 1] + lines[i : i + 1] + lines[i + 1 :])
    return text


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Hang(f"a case took longer than {HANG_SECONDS} s")


def _check_file(path: Path) -> None:
    """Load ``path``: a config (priced) or a ScenarioError naming the file; nothing else."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        config = load_scenario(path)
    except ScenarioError as exc:
        assert str(exc).startswith(str(path)), str(exc)
        return
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    cost = estimate_run(config)
    assert math.isfinite(cost.peak_bytes) and cost.decisions >= 0
    try:
        check_cost(config, workers=1)
    except CostError as exc:
        assert "--force" in str(exc)


_DIR = Path(tempfile.mkdtemp(prefix="recarena-fuzz-"))


def _dump(tree: Any) -> Path:
    path = _DIR / "mutant.yaml"
    text = yaml.dump(tree, Dumper=DUMPER, sort_keys=False, allow_unicode=True)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


def _write(text: str) -> Path:
    path = _DIR / "garbled.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


@FAST
@given(mutated_tree())
def test_mutated_scenarios_fail_cleanly(tree: Any) -> None:
    _check_file(_dump(tree))


@FAST_TEXT
@given(mutated_text())
def test_garbled_scenario_text_fails_cleanly(text: str) -> None:
    _check_file(_write(text))


@pytest.mark.slow
@SLOW
@given(mutated_tree())
def test_mutated_scenarios_fail_cleanly_long(tree: Any) -> None:
    _check_file(_dump(tree))


@pytest.mark.slow
@SLOW_TEXT
@given(mutated_text())
def test_garbled_scenario_text_fails_cleanly_long(text: str) -> None:
    _check_file(_write(text))


def test_every_bundled_scenario_is_in_the_pool() -> None:
    assert len(TREES) >= 10 and all(isinstance(t, dict) for t in TREES.values())
