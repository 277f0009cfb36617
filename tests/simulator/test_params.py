"""Parameter validation: bad recipes fail early with a ValidationError naming the parameter."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from recarena.simulator.params import (
    PopulationParams,
    ResponseTypeShares,
    ScheduleParams,
    WorldParams,
)

# (recipe, location of the error, name the message must contain)
BAD_WORLDS: list[tuple[dict[str, Any], tuple[Any, ...], str]] = [
    ({"population": {"arrivals_per_day": -1.0}}, ("population", "arrivals_per_day"), ""),
    ({"population": {"activity_mean": -1.0}}, ("population", "activity_mean"), ""),
    ({"population": {"activity_mean": 0.0}}, ("population", "activity_mean"), ""),
    ({"population": {"n_users": 0}}, ("population", "n_users"), ""),
    ({"catalogue": {"new_items_per_day": -0.5}}, ("catalogue", "new_items_per_day"), ""),
    ({"catalogue": {"n_items": 0}}, ("catalogue", "n_items"), ""),
    ({"behaviour": {"churn_base_hazard": -0.01}}, ("behaviour", "churn_base_hazard"), ""),
    ({"behaviour": {"temperature": 0.0}}, ("behaviour", "temperature"), ""),
    ({"behaviour": {"conversion_delay_mean": -1.0}}, ("behaviour", "conversion_delay_mean"), ""),
    ({"behaviour": {"drift_sd": -0.1}}, ("behaviour", "drift_sd"), ""),
    ({"behaviour": {"choice_model": "probit"}}, ("behaviour", "choice_model"), ""),
    ({"behaviour": {"position_bias": "exp"}}, ("behaviour", "position_bias"), ""),
    ({"behaviour": {"temprature": 1.0}}, ("behaviour", "temprature"), ""),
    (
        {"population": {"response_types": {"persuadable": 0.5}}},
        ("population", "response_types"),
        "must sum to 1",
    ),
    (
        {"population": {"response_types": {"persuadable": 0.45, "sleeping_dog": -0.05}}},
        ("population", "response_types", "sleeping_dog"),
        "",
    ),
    (
        {"population": {"segment_shares": [0.5, 0.6, 0.0, 0.0]}},
        ("population", "segment_shares"),
        "must sum to 1",
    ),
    (
        {"population": {"segment_shares": [0.5, 0.5]}},  # 2 shares, 4 segments
        ("population",),
        "segment_shares",
    ),
    (
        {"population": {"categorical_features": {"region": 1}}},
        ("population", "categorical_features"),
        "'region'",
    ),
    ({"catalogue": {"margin_low": 0.5, "margin_high": 0.2}}, ("catalogue",), "margin_low"),
    ({"offers": [{"name": "a", "base_rate": 1.5}]}, ("offers", 0, "base_rate"), ""),
    ({"offers": [{"name": "a", "contact_cost": -1.0}]}, ("offers", 0, "contact_cost"), ""),
    ({"offers": [{"name": "a"}, {"name": "a"}]}, (), "offer names"),
    (
        {"offers": [{"name": "a", "eligibility": {"feature": "region", "min": 0.0}}]},
        (),
        "eligibility feature 'region'",
    ),
    ({"variants": [{"name": "v", "ctr": 0.0}]}, ("variants", 0, "ctr"), ""),
    ({"variants": [{"name": "v", "ctr": 0.1}, {"name": "v", "ctr": 0.2}]}, (), "variant"),
    ({"shift_day": -1.0}, ("shift_day",), ""),
]

BAD_SCHEDULES: list[tuple[dict[str, Any], tuple[Any, ...], str]] = [
    ({"days": 0.0}, ("days",), ""),
    ({"days": -3.0}, ("days",), ""),
    ({"decision_window": 0.0}, ("decision_window",), ""),
    ({"feedback_every": -1.0}, ("feedback_every",), ""),
    ({"retrain_every": 0.0}, ("retrain_every",), ""),
    ({"campaign_days": [3.0, -1.0]}, ("campaign_days",), "campaign_days"),
    ({"campaign_budget": 0.0}, ("campaign_budget",), ""),
    ({"surface": "grid"}, ("surface",), ""),
    ({"slate_size": 0}, ("slate_size",), ""),
    ({"checkpoint_every": -1.0}, ("checkpoint_every",), ""),
]


def _check(exc: ValidationError, loc: tuple[Any, ...], text: str) -> None:
    errors = exc.errors()
    locs = [tuple(e["loc"]) for e in errors]
    assert loc in locs, f"expected an error at {loc}, got {locs}"
    message = str(exc)
    name = next((part for part in reversed(loc) if isinstance(part, str)), None)
    if name is not None:
        assert name in message
    if text:
        assert text in message


@pytest.mark.parametrize(("recipe", "loc", "text"), BAD_WORLDS, ids=lambda v: str(v)[:60])
def test_bad_world_parameters_raise_validation_error(
    recipe: dict[str, Any], loc: tuple[Any, ...], text: str
) -> None:
    with pytest.raises(ValidationError) as info:
        WorldParams.model_validate(recipe)
    _check(info.value, loc, text)


@pytest.mark.parametrize(("recipe", "loc", "text"), BAD_SCHEDULES, ids=lambda v: str(v)[:60])
def test_bad_schedule_parameters_raise_validation_error(
    recipe: dict[str, Any], loc: tuple[Any, ...], text: str
) -> None:
    with pytest.raises(ValidationError) as info:
        ScheduleParams.model_validate(recipe)
    _check(info.value, loc, text)


def test_direct_construction_validates_too() -> None:
    with pytest.raises(ValidationError, match="sum to 1"):
        ResponseTypeShares(persuadable=0.2, sure_thing=0.2, lost_cause=0.2, sleeping_dog=0.2)
    with pytest.raises(ValidationError, match="arrivals_per_day"):
        PopulationParams(arrivals_per_day=-2.0)


def test_good_parameters_validate_and_round_trip() -> None:
    recipe = {
        "population": {
            "n_users": 50,
            "n_segments": 2,
            "segment_shares": [0.25, 0.75],
            "response_types": {
                "persuadable": 0.5,
                "sure_thing": 0.5,
                "lost_cause": 0.0,
                "sleeping_dog": 0.0,
            },
        },
        "catalogue": {"n_items": 1},
        "behaviour": {"choice_model": "cascade", "position_bias": "power"},
        "offers": [{"name": "a", "eligibility": {"feature": "age", "min": 0.0}}],
        "variants": [{"name": "v", "ctr": 0.1, "ctr_after_shift": 0.2}],
        "shift_day": 3.0,
    }
    params = WorldParams.model_validate(recipe)
    assert WorldParams.model_validate(params.model_dump()) == params
    assert WorldParams.model_validate_json(params.model_dump_json()) == params
    schedule = ScheduleParams(campaign_days=[5.0, 1.0, 3.0])
    assert schedule.campaign_days == [1.0, 3.0, 5.0]
    assert ScheduleParams.model_validate(schedule.model_dump()) == schedule


def test_params_are_frozen() -> None:
    params = WorldParams()
    with pytest.raises(ValidationError):
        params.catalogue.n_items = 5  # type: ignore[misc]
