"""The scenario schema: closed pydantic models for a YAML scenario file.

A scenario names a world recipe, a schedule, the arms to compare (each a policy for the
session surface and optionally one for the campaign surface), the seeds, and output
options. Every model is closed (``extra="forbid"``), so a misspelt key is an error. Policy
configs are validated against the policy registry (see :func:`validate_arms`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from recarena.simulator.params import ScheduleParams, WorldParams
from recarena.typing import ClosedModel

__all__ = ["ArmConfig", "ExecutorConfig", "OPEConfig", "OutputConfig", "ScenarioConfig"]


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


class ExecutorConfig(ClosedModel):
    """How runs are executed: in this process, or a local process pool (joblib/loky)."""

    kind: Literal["inline", "process"] = "process"
    jobs: int = Field(0, ge=0, le=256, description="workers; 0 = number of cores")


class OutputConfig(ClosedModel):
    """What a run writes."""

    dir: str | None = Field(None, description="results directory (default results/<name>/<time>)")
    oracle_columns: bool = Field(True, description="compute the best-action oracle column")
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


class ScenarioConfig(ClosedModel):
    """A whole scenario."""

    name: str = Field(
        min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$",
        description="scenario name (letters, digits, _ . -)",
    )  # fmt: skip
    description: str = Field("", description="free text shown in the report")
    seeds: list[int] = Field(
        default_factory=lambda: [1], min_length=1, description="replications (distinct, ≥ 0)"
    )
    world: WorldParams = Field(default_factory=WorldParams, description="the world recipe")
    schedule: ScheduleParams = Field(default_factory=ScheduleParams, description="the clock")
    arms: list[ArmConfig] = Field(min_length=1, description="the policies to compare")
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig, description="how to run")
    output: OutputConfig = Field(default_factory=OutputConfig, description="what to write")
    analysis: dict[str, Any] = Field(
        default_factory=dict, description="options for analysis sections (see docs)"
    )
    ope: OPEConfig | None = Field(
        None, description="off-policy evaluation of target arms on a logging arm's log"
    )

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if any(s < 0 for s in v):
            raise ValueError(f"seeds must be non-negative integers, got {v}")
        if len(set(v)) != len(v):
            raise ValueError(f"seeds must be distinct, got {v}")
        return v

    @model_validator(mode="after")
    def _arms(self) -> ScenarioConfig:
        names = [a.name for a in self.arms]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"arm names must be distinct; repeated: {duplicates}")
        if self.ope is not None:
            named = [self.ope.logging_arm, *self.ope.targets]
            unknown = [n for n in named if n not in names]
            if unknown:
                raise ValueError(f"ope names arms that do not exist: {unknown}; arms: {names}")
            if self.ope.logging_arm in self.ope.targets:
                raise ValueError("ope: the logging arm cannot also be a target")
            if len(set(self.ope.targets)) != len(self.ope.targets):
                raise ValueError(f"ope: targets must be distinct, got {self.ope.targets}")
        return self
