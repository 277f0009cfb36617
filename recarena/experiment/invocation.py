"""The arguments of a sweep, checked the same way for the CLI and the Python API.

``recarena run`` and :func:`recarena.run` accept the same things and refuse the same things
with the same messages: seeds, worker counts, and where the results go.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from numbers import Integral
from pathlib import Path

from recarena.experiment.schema import ScenarioConfig

__all__ = ["InvocationError", "check_jobs", "check_seeds", "results_directory"]


class InvocationError(ValueError):
    """An argument of ``run`` that cannot be used; the message says what is allowed."""


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def check_seeds(seeds: object) -> list[int]:
    """A list of distinct integers in [0, 2³²), e.g. ``[1, 2, 3]``.

    A string, a single number or a float is refused rather than read as something else
    (``'12'`` is not ``[1, 2]``, ``1.7`` is not ``1``).
    """
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Sequence):
        raise InvocationError(f"seeds must be a list of integers like [1, 2, 3], got {seeds!r}")
    if not seeds or not all(_is_int(s) and 0 <= int(s) < 2**32 for s in seeds):
        raise InvocationError(
            f"seeds must be a non-empty list of integers in [0, 2³²), got {list(seeds)!r}"
        )
    values = [int(s) for s in seeds]
    if len(set(values)) != len(values):
        raise InvocationError(f"seeds must be distinct, got {values}")
    return values


def check_jobs(jobs: object) -> int | None:
    """``None`` (the scenario's executor) or a whole number ≥ 0 (0 = one per core)."""
    if jobs is None:
        return None
    if not isinstance(jobs, Integral) or isinstance(jobs, bool) or not 0 <= int(jobs) <= 256:
        raise InvocationError(
            f"jobs must be a whole number from 0 to 256 (1 = in this process, 0 = one per "
            f"core), got {jobs!r}"
        )
    return int(jobs)


def results_directory(config: ScenarioConfig, out: str | Path | None) -> tuple[Path, str]:
    """Where the results go and why, for the first line of output.

    ``out`` (``--out``) as given; else the scenario's ``output.dir`` or ``results/<name>``,
    with a time-stamped subdirectory; relative paths are relative to the working directory.
    """
    if out is not None:
        path, why = Path(out), "--out"
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        if config.output.dir:
            base = Path(config.output.dir)
            why = f"output.dir {config.output.dir!r} of the scenario"
        else:
            base = Path("results") / config.name
            why = "the default results/<scenario name>"
        path = base / stamp
    if not path.is_absolute():
        why += f", relative to the working directory {Path.cwd()}"
    return path, why
