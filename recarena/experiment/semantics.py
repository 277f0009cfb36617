"""Checks across fields of a scenario, run before anything is built or written.

The schema checks each field alone; these check that the fields make sense together: every
arm's policy against the registry and the scenario's surfaces, fixed actions and offers
against the world, the surfaces against what they need (variants, offers, enough items),
the clock's periods against its decision window, and the ``analysis:`` block against the
arms and the surfaces. They run on whatever parts of the scenario are valid
(:class:`ScenarioParts`), so one pass reports every problem it can.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from recarena.analysis.options import ARM_FIELDS, AnalysisOptions
from recarena.experiment.problems import RANGE_ERRORS, Problem, allowed_range
from recarena.experiment.schema import ArmConfig, ScenarioConfig
from recarena.experiment.yaml_input import Loc
from recarena.policies import registry
from recarena.policies.base import Surface
from recarena.simulator.params import ScheduleParams, WorldParams

__all__ = ["ScenarioParts", "semantic_problems", "unknown_key"]


def unknown_key(key: str, allowed: list[str], what: str = "key", context: str = "") -> str:
    """``unknown key 'x'<context>. Did you mean 'y'? Allowed: ...``."""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {key!r}{context}.{hint} Allowed: {', '.join(sorted(set(allowed)))}"


@dataclass
class ScenarioParts:
    """The parts of a scenario that are valid on their own (``None`` where one is not)."""

    world: WorldParams | None = None
    schedule: ScheduleParams | None = None
    arms: dict[int, ArmConfig] = field(default_factory=dict)
    analysis: AnalysisOptions | None = None
    arm_names: list[str] | None = None

    @classmethod
    def of(cls, config: ScenarioConfig) -> ScenarioParts:
        """Every part of a valid scenario."""
        return cls(
            config.world,
            config.schedule,
            dict(enumerate(config.arms)),
            config.analysis,
            [a.name for a in config.arms],
        )

    @classmethod
    def salvage(cls, data: Mapping[str, Any]) -> ScenarioParts:
        """Validate each part of a raw scenario alone, keeping those that pass."""

        def part(model: type[BaseModel], value: Any) -> Any:
            value = {} if value is None else value
            try:
                return model.model_validate(value)
            except ValidationError as exc:
                # Misspelt keys alone (reported already): check the rest as written.
                errors = exc.errors()
                typos = {e["loc"][0] for e in errors if e["type"] == "extra_forbidden"}
                if any(len(e["loc"]) != 1 for e in errors):
                    return None
                if len(typos) != len(errors) or not isinstance(value, Mapping):
                    return None
            try:
                return model.model_validate({k: v for k, v in value.items() if k not in typos})
            except ValidationError:
                return None

        raw_arms = data.get("arms")
        arms = {}
        if isinstance(raw_arms, list):
            arms = {i: a for i, raw in enumerate(raw_arms) if (a := part(ArmConfig, raw))}
        names = None
        if isinstance(raw_arms, list) and len(arms) == len(raw_arms):
            names = [a.name for a in arms.values()]
        return cls(
            part(WorldParams, data.get("world")),
            part(ScheduleParams, data.get("schedule")),
            arms,
            part(AnalysisOptions, data.get("analysis")),
            names,
        )


def semantic_problems(parts: ScenarioParts) -> list[Problem]:
    """Every cross-field problem that the valid parts allow checking."""
    return [
        *_surface_problems(parts),
        *_clock_problems(parts.schedule),
        *_policy_problems(parts),
        *_fixed_action_problems(parts),
        *_pre_period_problems(parts),
        *_offer_index_problems(parts),
        *_analysis_problems(parts),
    ]


def _surface_problems(parts: ScenarioParts) -> Iterator[Problem]:
    schedule, world = parts.schedule, parts.world
    if schedule is None:
        return
    campaigns = bool(schedule.campaign_days)
    if schedule.surface == "none" and not campaigns:
        yield Problem(
            ("schedule", "surface"),
            "surface is 'none' and there are no campaign_days: nothing would be decided",
        )
    if world is None:
        return
    if campaigns and not world.offers:
        yield Problem(
            ("world", "offers"),
            f"schedule.campaign_days has {len(schedule.campaign_days)} campaign(s) but there "
            "are no offers to make; add offers or remove campaign_days",
        )
    if schedule.surface == "variant" and not world.variants:
        yield Problem(("world", "variants"), "the variant surface needs at least one variant")
    n_items = world.catalogue.n_items
    if schedule.surface == "slate" and schedule.slate_size > n_items:
        yield Problem(
            ("schedule", "slate_size"),
            f"slate_size {schedule.slate_size} is larger than the catalogue "
            f"(world.catalogue.n_items = {n_items}); a slate shows distinct items",
        )


def _clock_problems(schedule: ScheduleParams | None) -> Iterator[Problem]:
    if schedule is None:
        return
    window = schedule.decision_window
    periods = {
        "retrain_every": schedule.retrain_every,
        "feedback_every": schedule.feedback_every or None,
        "checkpoint_every": schedule.checkpoint_every,
    }
    for name, every in periods.items():
        if every is not None and every < window:
            yield Problem(
                ("schedule", name),
                f"{name} ({every:g} days) is shorter than decision_window ({window:g}); "
                "it can happen at most once a window",
            )


def _policy_problems(parts: ScenarioParts) -> Iterator[Problem]:
    """Every arm's policy configs against the registry and the scenario's surfaces."""
    schedule = parts.schedule
    surface = schedule.session_surface if schedule is not None else None
    campaigns = schedule is not None and bool(schedule.campaign_days)
    for i, arm in parts.arms.items():
        roles = [("policy", arm.policy, surface or Surface.CAMPAIGN)]
        if arm.campaign_policy is not None:
            roles.append(("campaign_policy", arm.campaign_policy, Surface.CAMPAIGN))
        elif campaigns and surface is not None:
            yield Problem(
                ("arms", i),
                "the scenario has campaign_days and a session surface, so "
                "this arm needs a campaign_policy",
            )
        for role, config, needed in roles:
            loc: Loc = ("arms", i, role)
            try:
                cls, _ = registry.parse_params(config)
            except registry.UnknownPolicyError as exc:
                yield Problem((*loc, "kind"), str(exc))
                continue
            except ValidationError as exc:
                yield from _params_problems(exc, config, loc)
                continue
            except ValueError as exc:  # plugin path, plugin not allowed, plugin params
                yield Problem((*loc, "plugin"), str(exc))
                continue
            if schedule is not None and needed not in cls.surfaces:
                yield Problem(
                    (*loc, "kind"),
                    f"policy {cls.kind!r} cannot act on the {needed} "
                    f"surface; it supports {sorted(s.value for s in cls.surfaces)}",
                )


def _params_problems(
    exc: ValidationError, config: Mapping[str, Any], loc: Loc
) -> Iterator[Problem]:
    kind = config.get("kind")
    known = registry.available().get(str(kind))
    params_model = known.Params if known is not None else None
    for error in exc.errors():
        eloc = tuple(error["loc"])
        if error["type"] == "extra_forbidden" and params_model is not None:
            allowed = list(params_model.model_fields)
            msg = unknown_key(str(eloc[-1]), allowed, "parameter", f" for policy {kind!r}")
        else:
            msg = error["msg"]
            if "input" in error and not isinstance(error["input"], dict | list):
                msg += f" (got {error['input']!r})"
            hint = allowed_range(params_model, eloc) if error["type"] in RANGE_ERRORS else None
            if hint:
                msg += f"; {hint}"
        yield Problem((*loc, *eloc), msg)


def _fixed_configs(config: Any, loc: Loc) -> Iterator[tuple[Loc, Mapping[str, Any]]]:
    """Every ``kind: fixed`` policy config inside ``config`` (sub-policies of experiments
    included), with its key path."""
    if isinstance(config, Mapping):
        if config.get("kind") == "fixed":
            yield loc, config
        for key, value in config.items():
            yield from _fixed_configs(value, (*loc, str(key)))
    elif isinstance(config, list):
        for i, value in enumerate(config):
            yield from _fixed_configs(value, (*loc, i))


def _fixed_action_problems(parts: ScenarioParts) -> Iterator[Problem]:
    world, schedule = parts.world, parts.schedule
    if world is None or schedule is None:
        return
    for i, arm in parts.arms.items():
        surface = schedule.surface if schedule.surface != "none" else "campaign"
        for role, config in (("policy", arm.policy), ("campaign_policy", arm.campaign_policy)):
            where = "campaign" if role == "campaign_policy" else surface
            for loc, fixed in _fixed_configs(config, ("arms", i, role)):
                action = fixed.get("action", 0)
                if not isinstance(action, int):
                    continue  # the policy's own validation names it
                if where == "variant" and not 0 <= action < len(world.variants):
                    yield Problem(
                        (*loc, "action"),
                        f"action {action} is not a variant index: world.variants has "
                        f"{len(world.variants)} (indices 0–{len(world.variants) - 1})",
                    )
                elif where == "campaign" and not -1 <= action < len(world.offers):
                    yield Problem(
                        (*loc, "action"),
                        f"action {action} is not an offer index: world.offers has "
                        f"{len(world.offers)} (indices 0–{len(world.offers) - 1}, -1 = none)",
                    )


def _pre_period_problems(parts: ScenarioParts) -> Iterator[Problem]:
    """An A/B split's pre-period must end on a decision-window boundary (so a session and
    the request serving it fall on the same side of it) and before the test horizon."""
    schedule = parts.schedule
    if schedule is None:
        return
    for i, arm in parts.arms.items():
        for role in ("policy", "campaign_policy"):
            config = getattr(arm, role)
            if not isinstance(config, Mapping) or config.get("kind") != "ab_split":
                continue
            pre = config.get("pre_period_days") or 0.0
            if not isinstance(pre, int | float) or pre <= 0:
                continue  # absent, or the policy's own validation names it
            loc: Loc = ("arms", i, role, "pre_period_days")
            ratio = pre / schedule.decision_window
            if abs(ratio - round(ratio)) > 1e-6:
                yield Problem(
                    loc,
                    f"pre_period_days ({pre:g}) must be a whole multiple of "
                    f"schedule.decision_window ({schedule.decision_window:g})",
                )
            horizon = config.get("horizon_days") or schedule.days
            if isinstance(horizon, int | float) and pre >= horizon:
                yield Problem(
                    loc, f"pre_period_days ({pre:g}) must be shorter than the test horizon "
                    f"({horizon:g} days: horizon_days, or schedule.days)",
                )  # fmt: skip


#: Campaign-policy parameters that name offers by index (a list: one per segment).
_OFFER_INDEX_FIELDS = {"lookalike": "offer", "segment": "segment_offers"}


def _offer_index_problems(parts: ScenarioParts) -> Iterator[Problem]:
    """Offers named by index in campaign policies exist in the world (``-1`` = none where a
    list allows it)."""
    world = parts.world
    if world is None:
        return
    n_offers = len(world.offers)
    for i, arm in parts.arms.items():
        for role in ("policy", "campaign_policy"):
            config = getattr(arm, role)
            field = _OFFER_INDEX_FIELDS.get(str(config.get("kind"))) if config else None
            value = None if field is None or config is None else config.get(field)
            if field is None or value is None:
                continue
            entries = value if isinstance(value, list) else [value]
            for j, offer in enumerate(entries):
                if isinstance(offer, int) and offer >= n_offers:
                    loc: Loc = ("arms", i, role, field)
                    yield Problem(
                        (*loc, j) if isinstance(value, list) else loc,
                        f"offer {offer} does not exist: world.offers has {n_offers} "
                        f"(indices 0–{n_offers - 1})",
                    )


def _analysis_problems(parts: ScenarioParts) -> Iterator[Problem]:
    analysis = parts.analysis
    if analysis is None:
        return
    names = parts.arm_names
    if names is not None:
        arm_options: list[tuple[Loc, Any]] = [(("analysis", "baseline_arm"), analysis.baseline_arm)]
        for key, options in analysis.sections().items():
            for name in ARM_FIELDS:
                if name in type(options).model_fields:
                    arm_options.append((("analysis", key, name), getattr(options, name)))
        for loc, arm in arm_options:
            if arm is not None and arm not in names:
                yield Problem(loc, unknown_key(str(arm), names, "arm"))
    schedule = parts.schedule
    if schedule is not None:
        campaigns = bool(schedule.campaign_days)
        for key, options in analysis.sections().items():
            if not options.applies(schedule.surface, campaigns):
                yield Problem(
                    ("analysis", key),
                    f"the {key} section needs {options.needs}; this scenario has none, so "
                    "these options would be ignored",
                )
        n_campaigns = len(schedule.campaign_days)
        for key in ("uplift", "nba"):
            options = getattr(analysis, key)
            if options is not None and campaigns and options.from_campaign >= n_campaigns:
                yield Problem(
                    ("analysis", key, "from_campaign"),
                    f"from_campaign {options.from_campaign} leaves no campaign to score "
                    f"(schedule.campaign_days has {n_campaigns})",
                )
        look = analysis.lookalike
        if look is not None and campaigns and look.campaign >= n_campaigns:
            yield Problem(
                ("analysis", "lookalike", "campaign"),
                f"campaign {look.campaign} does not exist "
                f"(schedule.campaign_days has {n_campaigns}; indices from 0)",
            )
    segmentation = analysis.segmentation
    if segmentation is not None and segmentation.rules and parts.world is not None:
        numeric = list(parts.world.population.numeric_features)
        for j, rule in enumerate(segmentation.rules):
            if rule.feature not in numeric:
                yield Problem(
                    ("analysis", "segmentation", "rules", j, "feature"),
                    unknown_key(rule.feature, numeric, "numeric feature")
                    if numeric
                    else f"rule on {rule.feature!r}, but world.population has no numeric features",
                )
