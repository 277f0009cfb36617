"""Typed options of the report sections: the scenario's ``analysis:`` block.

Each optional report section reads one key of ``analysis:`` and declares its options here as
a closed pydantic model (``extra="forbid"``), so a misspelt option fails ``recarena
validate`` with its line and a "did you mean", and a wrong type or an out-of-range value is
refused before anything runs rather than after the whole sweep. :class:`AnalysisOptions`
composes them; :mod:`recarena.experiment.schema` composes it into the scenario.

Each section model also says when it applies (:meth:`SectionOptions.applies`): the
validator refuses options for a section the scenario's surfaces cannot produce (``recsys``
on a variant scenario, ``uplift`` without campaigns), and :data:`ARM_FIELDS` lists the
options that name an arm, which must name one of the scenario's arms.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from recarena.models.targeting import BaseModel as BaseLearner
from recarena.models.targeting import UpliftLearnerName
from recarena.typing import ClosedModel

__all__ = [
    "ARM_FIELDS",
    "AnalysisOptions",
    "CampaignOutcomeOptions",
    "LookalikeOptions",
    "NbaOptions",
    "RecsysOptions",
    "RuleOption",
    "SectionOptions",
    "SegmentationOptions",
    "UpliftOptions",
    "analysis_options",
]

#: Options that name an arm of the scenario.
ARM_FIELDS: tuple[str, ...] = ("baseline_arm", "reference_arm", "random_arm", "log_arm")


class SectionOptions(ClosedModel):
    """Base of a section's options: closed, frozen, finite numbers."""

    #: What the section needs, said in validation errors.
    needs: ClassVar[str] = ""

    @classmethod
    def applies(cls, surface: str, campaigns: bool) -> bool:
        """Whether the section can say anything for a scenario with this session surface
        (``slate``, ``variant`` or ``none``) and with or without campaign days."""
        return True


class RecsysOptions(SectionOptions):
    """``analysis.recsys``: online recommender metrics, feedback loops and offline evaluation."""

    needs: ClassVar[str] = "the slate surface (schedule.surface: slate)"

    offline: bool = Field(True, description="refit every arm on a logged arm and score offline")
    log_arm: str | None = Field(
        None, description="arm whose log trains the offline models (default: a random arm)"
    )
    protocol: Literal["time_split", "leave_last_one_out"] = Field(
        "time_split", description="offline split of the log"
    )
    test_fraction: float = Field(0.2, gt=0, lt=1, description="share of time held out")
    catalogue: Literal["at_split", "all"] = Field(
        "at_split", description="items ranked offline: released by the split, or all"
    )
    k: int = Field(10, ge=1, le=100, description="cut-off of the ranking metrics")
    sampled_negatives: int | None = Field(
        None, ge=1, le=100_000, description="rank among this many sampled negatives"
    )

    @classmethod
    def applies(cls, surface: str, campaigns: bool) -> bool:
        """Only slates are ranked."""
        return surface == "slate"


class RuleOption(ClosedModel):
    """A heuristic segment: users whose numeric ``feature`` lies in [min, max]."""

    feature: str = Field(description="a numeric feature of world.population")
    min: float | None = Field(None, description="lower bound (None = none)")
    max: float | None = Field(None, description="upper bound (None = none)")


class SegmentationOptions(SectionOptions):
    """``analysis.segmentation``: recovered segments scored against the latent ones."""

    reference_arm: str | None = Field(None, description="arm whose purchases give RFM")
    rules: list[RuleOption] | None = Field(
        None, max_length=100, description="heuristic segments (default: signs of 2 features)"
    )
    k: int | None = Field(None, ge=2, le=100, description="k-means clusters (default: latent)")
    n_init: int = Field(10, ge=1, le=100, description="k-means restarts")
    rfm_bins: int = Field(5, ge=2, le=20, description="quantile bins of each RFM score")
    from_campaign: int | None = Field(
        None, ge=0, le=10_000,
        description="score the segment offers on the campaigns from this one (after the pilot)",
    )  # fmt: skip
    baseline_arm: str | None = Field(None, description="arm paired differences are taken from")


class CampaignOutcomeOptions(SectionOptions):
    """Options shared by the sections that score targeting campaigns."""

    needs: ClassVar[str] = "campaigns (schedule.campaign_days)"

    from_campaign: int = Field(
        1, ge=0, le=10_000, description="first campaign scored (earlier ones are the pilot)"
    )
    baseline_arm: str | None = Field(None, description="arm paired differences are taken from")

    @classmethod
    def applies(cls, surface: str, campaigns: bool) -> bool:
        """Only campaigns are scored."""
        return campaigns


class UpliftOptions(CampaignOutcomeOptions):
    """``analysis.uplift``: targeting outcomes and uplift learners cross-fitted on the pilot."""

    learners: list[UpliftLearnerName] = Field(
        default_factory=lambda: list(typing.get_args(UpliftLearnerName)),
        min_length=1,
        description="uplift learners evaluated on the pilot",
    )
    base_model: BaseLearner = Field("logistic", description="classifier inside each learner")
    folds: int = Field(4, ge=2, le=20, description="cross-fitting folds")
    budget_fraction: float = Field(
        0.3, gt=0, le=1, description="share of users targeted for uplift@k and policy value"
    )


class NbaOptions(CampaignOutcomeOptions):
    """``analysis.nba``: Next Best Action campaign outcomes."""


class LookalikeOptions(SectionOptions):
    """``analysis.lookalike``: churn models and churns prevented by a retention campaign."""

    needs: ClassVar[str] = "campaigns (schedule.campaign_days)"

    reference_arm: str | None = Field(
        None, description="arm without contacts that churns are compared with (default: first)"
    )
    random_arm: str | None = Field(None, description="arm targeting at random, same size")
    campaign: int = Field(0, ge=0, le=10_000, description="index of the campaign scored")
    label_days: float = Field(7.0, gt=0, le=365, description="churn label window (days)")
    lookback_days: float = Field(14.0, gt=0, le=365, description="feature window (days)")
    models: list[BaseLearner] = Field(
        default_factory=lambda: list(typing.get_args(BaseLearner)), min_length=1,
        description="churn classifiers compared",
    )  # fmt: skip

    @classmethod
    def applies(cls, surface: str, campaigns: bool) -> bool:
        """Only campaigns are scored."""
        return campaigns


class AnalysisOptions(ClosedModel):
    """The scenario's ``analysis:`` block: one key per optional report section."""

    baseline_arm: str | None = Field(
        None, description="arm paired differences are taken from (default: the first arm)"
    )
    recsys: RecsysOptions | None = Field(None, description="recommender section")
    segmentation: SegmentationOptions | None = Field(None, description="segmentation section")
    uplift: UpliftOptions | None = Field(None, description="uplift targeting section")
    nba: NbaOptions | None = Field(None, description="Next Best Action section")
    lookalike: LookalikeOptions | None = Field(None, description="look-alike retention section")

    def sections(self) -> dict[str, SectionOptions]:
        """The sections asked for, by key."""
        return {
            name: value
            for name in type(self).model_fields
            if isinstance(value := getattr(self, name), SectionOptions)
        }


def analysis_options(scenario: Mapping[str, Any]) -> AnalysisOptions:
    """The typed ``analysis:`` block of a scenario mapping (defaults when absent)."""
    return AnalysisOptions.model_validate(scenario.get("analysis") or {})
