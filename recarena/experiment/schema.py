"""The scenario schema: closed pydantic models for a YAML scenario file.

A scenario names a world recipe, a schedule, the arms to compare (each a policy for the
session surface and optionally one for the campaign surface), the seeds, and output
options. Every model is closed (``extra="forbid"``), so a misspelt key is an error. Policy
configs are validated against the policy registry (see :func:`validate_arms`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from recarena.analysis.options import AnalysisOptions
from recarena.simulator.params import (
    SCAN_MODELS,
    ScheduleParams,
    WorldParams,
    check_scanning_slate,
)
from recarena.typing import ClosedModel

__all__ = [
    "ArmConfig",
    "ExecutorConfig",
    "OPEConfig",
    "OutputConfig",
    "ScenarioConfig",
    "SweepConfig",
    "SweepLevel",
    "SweepMap",
    "SweepParameter",
]

#: Executors a scenario or ``--executor`` can name (see :mod:`recarena.experiment.executors`).
EXECUTORS = ("inline", "process", "dask")


def _not_dots(name: str) -> str:
    """Refuse ``.``, ``..`` and other all-dot names: they become directory names."""
    if not name.strip("."):
        raise ValueError(f"{name!r} is not a usable name (it would be a directory reference)")
    return name


class ArmConfig(ClosedModel):
    """One arm of the comparison.

    ``policy`` acts on the session surface (or on campaigns when the scenario has no session
    surface); ``campaign_policy`` acts on campaigns when both surfaces are used.
    """

    name: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$",
        description="arm name (letters, digits, _ . -)",
    )  # fmt: skip
    policy: dict[str, Any] = Field(description="{kind: <policy>, <parameters>} (see below)")
    campaign_policy: dict[str, Any] | None = Field(
        None, description="policy for the campaign surface when the session surface is used"
    )

    _name = field_validator("name")(_not_dots)


class ExecutorConfig(ClosedModel):
    """How runs are executed: in this process, a local process pool (joblib/loky), or a Dask
    distributed cluster (a local one on 127.0.0.1, or the scheduler at ``address``)."""

    kind: Literal["inline", "process", "dask"] = "process"
    jobs: int = Field(0, ge=0, le=256, description="workers; 0 = number of cores")
    address: str | None = Field(
        None, description="Dask scheduler address (tcp://host:port); none = a local cluster"
    )
    retries: int = Field(1, ge=0, le=10, description="times a failed run is tried again")
    shared_dir: bool = Field(
        True,
        description="workers write runs into the results directory (a shared file system); "
        "false = they send each run's files back to the driver",
    )
    worker_memory: str | None = Field(
        None,
        pattern=r"^\d+(\.\d+)?\s*(B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="memory of one worker, e.g. '4GB' (default: the cluster's limit, or the "
        "machine's memory divided by the workers)",
    )


class OutputConfig(ClosedModel):
    """What a run writes."""

    dir: str | None = Field(None, description="results directory (default results/<name>/<time>)")
    oracle_columns: bool = Field(
        True,
        description="log each decision's best expected reward (the exact oracle) for "
        "regret per decision; false drops that metric and its plots (value-based regret "
        "against an oracle arm stays) and saves about a fifth of the simulator's CPU time, "
        "two fifths when interests drift or evolve",
    )
    plots: bool = Field(True, description="write PNG plots and embed them in the report")


class OPEConfig(ClosedModel):
    """Off-policy evaluation checked against the truth (see docs/ope.md).

    The logging arm's log is used to estimate the value of each target arm, whose true value
    is its own on-policy run on the same seeds (common random numbers).
    """

    logging_arm: str = Field(description="arm whose log is evaluated (a randomised policy)")
    targets: list[str] = Field(
        min_length=1, description="arms to evaluate off-policy (stationary policies)"
    )
    reward_model: Literal["mean", "logistic"] = Field(
        "mean",
        description="reward model of DM/DR: per-variant mean (ignores features) or a "
        "logistic regression on the user's features per variant",
    )
    clip: float = Field(10.0, gt=0, description="weight cap M of clipped IPS")
    switch: float = Field(10.0, gt=0, description="weight threshold τ of switch-DR")
    level: float = Field(0.95, gt=0, lt=1, description="confidence level of the intervals")
    bootstrap: int = Field(
        200, ge=0, le=10_000,
        description="user-bootstrap refits of the reward model for DM's interval (0: analytic)",
    )  # fmt: skip


_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"
_WORD = re.compile(r"^[A-Za-z0-9_.\-]+$")


class SweepLevel(ClosedModel):
    """One level of a sweep parameter: its value (shown in keys and plots) and the scenario
    values it sets (``{key.path: value}``, applied in order)."""

    value: bool | int | float | str = Field(
        description="the level as shown in point keys and plots (letters, digits, _ . - or a "
        "number)"
    )
    set: dict[str, Any] = Field(min_length=1, description="{key.path: value} this level sets")


class SweepParameter(ClosedModel):
    """One axis of a sweep.

    Three forms: ``path`` + ``values`` (a list of values for one key path); ``path`` + ``low``
    / ``high`` (a range, for random and Latin-hypercube sampling; ``log`` samples log-uniformly,
    ``integer`` rounds); or ``levels`` (each level sets several key paths at once, e.g. the
    number of variants sets the world's variants and each A/B arm's variants).

    A key path is dotted; list elements are addressed by index (``arms.0``) or by their
    ``name`` (``arms.thompson.policy.prior_alpha``).
    """

    name: str = Field(
        min_length=1, max_length=32, pattern=_NAME,
        description="parameter name (in point keys, tables and plots)",
    )  # fmt: skip
    path: str | None = Field(None, min_length=1, description="dotted key path the values set")
    values: list[bool | int | float | str] | None = Field(
        None, min_length=1, description="values of the path (numbers, booleans or words)"
    )
    low: float | None = Field(None, description="lower end of a sampled range")
    high: float | None = Field(None, description="upper end of a sampled range")
    log: bool = Field(False, description="sample the range log-uniformly")
    integer: bool = Field(False, description="round sampled values to integers")
    levels: list[SweepLevel] | None = Field(
        None, min_length=1, description="levels, each setting several key paths"
    )

    @model_validator(mode="after")
    def _one_form(self) -> SweepParameter:
        forms = [self.values is not None, self.low is not None or self.high is not None,
                 self.levels is not None]  # fmt: skip
        if sum(forms) != 1:
            raise ValueError(
                f"parameter {self.name!r}: give exactly one of values, low/high or levels"
            )
        if (self.levels is None) == (self.path is None):
            raise ValueError(
                f"parameter {self.name!r}: values and low/high need a path; levels set "
                "their own paths (no path)"
            )
        if forms[1]:
            if self.low is None or self.high is None or not self.low < self.high:
                raise ValueError(f"parameter {self.name!r}: a range needs low < high")
            if self.log and self.low <= 0:
                raise ValueError(f"parameter {self.name!r}: a log range needs low > 0")
        shown = self.choices()
        unsafe = [v for v in shown or [] if isinstance(v, str) and not _WORD.match(v)]
        if unsafe:
            raise ValueError(
                f"parameter {self.name!r}: values name run directories, so words may only use "
                f"letters, digits, _ . - ; got {unsafe}"
            )
        if shown is not None and len({repr(v) for v in shown}) != len(shown):
            raise ValueError(f"parameter {self.name!r}: values must be distinct, got {shown}")
        return self

    def choices(self) -> list[Any] | None:
        """The finite values (or level values) of the parameter; ``None`` for a range."""
        if self.levels is not None:
            return [level.value for level in self.levels]
        return None if self.values is None else list(self.values)


class SweepMap(ClosedModel):
    """A map of the sweep report: ``arm − baseline`` of ``metric`` over parameters ``x``, ``y``."""

    metric: str = Field("regret_share", description="per-run metric (see docs/sweeps.md)")
    arm: str = Field(description="the arm whose value the map shows, minus the baseline's")
    baseline: str = Field(description="the arm subtracted")
    x: str = Field(description="parameter on the horizontal axis")
    y: str | None = Field(None, description="parameter on the vertical axis (none = a line plot)")


class SweepConfig(ClosedModel):
    """A parameter sweep: points over scenario key paths, each crossed with seeds × arms."""

    method: Literal["grid", "random", "latin_hypercube"] = Field(
        "grid", description="every combination, or ``samples`` random / Latin-hypercube points"
    )
    samples: int | None = Field(
        None, ge=1, le=100_000, description="points to draw (random and latin_hypercube)"
    )
    seed: int = Field(0, ge=0, description="seed of the sampler (random, latin_hypercube)")
    parameters: list[SweepParameter] = Field(min_length=1, description="the axes")
    maps: list[SweepMap] = Field(
        default_factory=list,
        description="difference maps of the report (default: second arm − first arm, "
        "regret_share, over the first two parameters)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> SweepConfig:
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"sweep parameter names must be distinct, got {names}")
        if self.method == "grid":
            ranged = [p.name for p in self.parameters if p.choices() is None]
            if ranged:
                raise ValueError(f"a grid needs values or levels; ranges given for {ranged}")
            if self.samples is not None:
                raise ValueError("samples is for random and latin_hypercube, not grid")
        elif self.samples is None:
            raise ValueError(f"method {self.method!r} needs samples")
        for m in self.maps:
            for axis in (m.x, m.y):
                if axis is not None and axis not in names:
                    raise ValueError(f"map axis {axis!r} is not a sweep parameter; have {names}")
        return self


class ScenarioConfig(ClosedModel):
    """A whole scenario."""

    name: str = Field(
        min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$",
        description="scenario name (letters, digits, _ . -)",
    )  # fmt: skip
    description: str = Field("", description="free text shown in the report")
    seeds: list[int] = Field(
        default_factory=lambda: [1], min_length=1, max_length=10_000,
        description="replications (distinct, 0 ≤ seed < 2³²)",
    )  # fmt: skip
    world: WorldParams = Field(default_factory=WorldParams, description="the world recipe")
    schedule: ScheduleParams = Field(default_factory=ScheduleParams, description="the clock")
    arms: list[ArmConfig] = Field(
        min_length=1, max_length=100, description="the policies to compare"
    )
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig, description="how to run")
    output: OutputConfig = Field(default_factory=OutputConfig, description="what to write")
    analysis: AnalysisOptions = Field(
        default_factory=AnalysisOptions, description="options of the report's sections"
    )
    ope: OPEConfig | None = Field(
        None, description="off-policy evaluation of target arms on a logging arm's log"
    )
    sweep: SweepConfig | None = Field(
        None, description="a parameter sweep over this scenario (see docs/sweeps.md)"
    )

    _name = field_validator("name")(_not_dots)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if any(not 0 <= s < 2**32 for s in v):
            raise ValueError(f"seeds must be non-negative integers below 2³², got {v}")
        if len(set(v)) != len(v):
            raise ValueError(f"seeds must be distinct, got {v}")
        return v

    # A field validator, not a model validator: it runs even when another field failed, so
    # one pass reports every problem.
    @field_validator("arms")
    @classmethod
    def _arms(cls, arms: list[ArmConfig]) -> list[ArmConfig]:
        names = [a.name for a in arms]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"arm names must be distinct; repeated: {duplicates}")
        return arms

    @model_validator(mode="after")
    def _named_arms(self) -> ScenarioConfig:
        names = [a.name for a in self.arms]
        for m in self.sweep.maps if self.sweep is not None else []:
            for arm in (m.arm, m.baseline):
                if arm not in names:
                    raise ValueError(f"sweep map arm {arm!r} is not an arm; have {names}")
        return self

    @model_validator(mode="after")
    def _scanning_slate(self) -> ScenarioConfig:
        behaviour, schedule = self.world.behaviour, self.schedule
        if behaviour.choice_model in SCAN_MODELS and schedule.surface == "slate":
            check_scanning_slate(behaviour, schedule.slate_size)
        return self

    @model_validator(mode="after")
    def _ope_arms(self) -> ScenarioConfig:
        if self.ope is not None:
            names = [a.name for a in self.arms]
            named = [self.ope.logging_arm, *self.ope.targets]
            unknown = [n for n in named if n not in names]
            if unknown:
                raise ValueError(f"ope names arms that do not exist: {unknown}; arms: {names}")
            if self.ope.logging_arm in self.ope.targets:
                raise ValueError("ope: the logging arm cannot also be a target")
            if len(set(self.ope.targets)) != len(self.ope.targets):
                raise ValueError(f"ope: targets must be distinct, got {self.ope.targets}")
        return self
