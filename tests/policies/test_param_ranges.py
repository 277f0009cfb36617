"""Every numeric policy parameter has an explicit finite range, and values outside it are
refused by ``recarena validate`` (exit 2) with the field's path and its allowed range.

The walk covers every registered policy's ``Params`` model and every model nested in it
(sub-policy variants, segment rules, candidate generators), list elements included, so a
new field cannot forget its range.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import annotated_types
import pytest
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from recarena.experiment.cli import main
from recarena.policies import registry

_NUMBERS = (int, float)


def _members(annotation: Any) -> list[Any]:
    """The types an annotation admits (Optional / unions unfolded)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    return [annotation]


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None]:
    low = high = None
    for item in metadata:
        if isinstance(item, FieldInfo):
            sub = _bounds(item.metadata)
            low, high = (
                sub[0] if sub[0] is not None else low,
                sub[1] if sub[1] is not None else high,
            )
        for name in ("ge", "gt"):
            if isinstance(item, (annotated_types.Ge, annotated_types.Gt)) and hasattr(item, name):
                low = getattr(item, name)
        for name in ("le", "lt"):
            if isinstance(item, (annotated_types.Le, annotated_types.Lt)) and hasattr(item, name):
                high = getattr(item, name)
    return low, high


def _numeric_fields(model: type[BaseModel], seen: set[type]) -> Iterator[tuple[str, Any, list]]:
    """(qualified name, field, constraints) of every numeric field and list element."""
    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        where = f"{model.__module__}.{model.__qualname__}.{name}"
        for member in _members(field.annotation):
            if member in _NUMBERS:
                yield where, field, list(field.metadata)
            elif typing.get_origin(member) in (list, tuple):
                for arg in typing.get_args(member):
                    if typing.get_origin(arg) is typing.Annotated:
                        inner, *metadata = typing.get_args(arg)
                        if inner in _NUMBERS:
                            yield f"{where}[]", field, metadata
                    elif arg in _NUMBERS:
                        yield f"{where}[]", field, []
                    elif isinstance(arg, type) and issubclass(arg, BaseModel):
                        yield from _numeric_fields(arg, seen)
            elif isinstance(member, type) and issubclass(member, BaseModel):
                yield from _numeric_fields(member, seen)


def _all_numeric_fields() -> list[tuple[str, Any, list]]:
    seen: set[type] = set()
    return [f for cls in registry.available().values() for f in _numeric_fields(cls.Params, seen)]


def test_the_walk_finds_nested_models_and_list_elements() -> None:
    names = {name.rsplit(".", 2)[-2] + "." + name.rsplit(".", 1)[-1]
             for name, _, _ in _all_numeric_fields()}  # fmt: skip
    assert {"SegmentRule.min", "ABSplitParams.weights[]", "GeneratorConfig.candidates"} <= names
    assert len(names) > 100


def test_every_numeric_policy_parameter_has_a_finite_range_and_a_description() -> None:
    missing = []
    for name, field, metadata in _all_numeric_fields():
        low, high = _bounds(metadata)
        finite = all(b is not None and math.isfinite(b) for b in (low, high))
        if not finite or not field.description:
            missing.append(f"{name}: range [{low}, {high}], description {field.description!r}")
    assert not missing, "numeric parameters without a finite range or description:\n" + "\n".join(
        missing
    )


# ------------------------------------------------------------------ rejected through validate
_WORLD = {"population": {"n_users": 100}, "catalogue": {"n_items": 20}}
_SCHEDULES = {
    "slate": {"days": 1, "surface": "slate", "slate_size": 3},
    "variant": {"days": 1, "surface": "variant"},
    "campaign": {"days": 2, "surface": "none", "campaign_days": [1]},
}

#: (policy config, surface, key path under the arm's policy, text of the allowed range)
REJECTED: list[tuple[dict[str, Any], str, str, str]] = [
    ({"kind": "epsilon_greedy", "epsilon": 1.5}, "slate", "epsilon", "[0, 1]"),
    ({"kind": "epsilon_greedy", "schedule": "decaying", "c": 1e9}, "slate", "c", "(0, 1000]"),
    ({"kind": "softmax", "temperature": 1e-300}, "slate", "temperature", "[1e-06, 1e+06]"),
    ({"kind": "softmax", "propensity_samples": 10**9}, "slate", "propensity_samples", "100000]"),
    ({"kind": "ucb1", "exploration": -1}, "variant", "exploration", "[0, 100]"),
    ({"kind": "ucb1", "refresh_every": 1e9}, "variant", "refresh_every", "[0, 3650]"),
    ({"kind": "thompson", "prior_count": 1e300}, "variant", "prior_count", "(0, 1e+06]"),
    ({"kind": "lin_ucb", "ridge": 1e-300}, "variant", "ridge", "[1e-06, 1e+06]"),
    ({"kind": "lin_thompson", "v": 1e6}, "variant", "v", "(0, 100]"),
    ({"kind": "sw_ucb", "window": 1e7}, "variant", "window", "(0, 3650]"),
    ({"kind": "als", "factors": 100_000}, "slate", "factors", "[1, 1024]"),
    ({"kind": "als", "regularization": -0.1}, "slate", "regularization", "[0, 10000]"),
    ({"kind": "als", "iterations": 10**6}, "slate", "iterations", "[1, 500]"),
    ({"kind": "bpr", "learning_rate": 50}, "slate", "learning_rate", "(0, 10]"),
    ({"kind": "lightfm", "max_sampled": 10**7}, "slate", "max_sampled", "[1, 10000]"),
    ({"kind": "mf_dot", "epochs": 10**5}, "slate", "epochs", "[1, 1000]"),
    ({"kind": "dssm", "temperature": 0}, "slate", "temperature", "[0.0001, 100]"),
    ({"kind": "neumf", "weight_decay": 1e3}, "slate", "weight_decay", "[0, 10]"),
    ({"kind": "popularity", "half_life": 1e-9}, "slate", "half_life", "[0.001, 3650]"),
    ({"kind": "item_knn", "bm25_k1": 1e9}, "slate", "bm25_k1", "(0, 100]"),
    ({"kind": "two_stage", "iterations": 100_000}, "slate", "iterations", "[1, 10000]"),
    ({"kind": "two_stage", "max_training_users": 10**9}, "slate", "max_training_users",
     "[1, 1e+07]"),
    ({"kind": "association_rules", "basket_days": 1e6}, "slate", "basket_days", "(0, 3650]"),
    ({"kind": "uplift", "suppression_days": 1e9}, "campaign", "suppression_days", "[0, 3650]"),
    ({"kind": "lookalike", "top_k": 10**12}, "campaign", "top_k", "[1, 1e+08]"),
    ({"kind": "nba", "max_contacts": 10**6}, "campaign", "max_contacts", "[1, 10000]"),
    ({"kind": "segment", "method": "rules",
      "rules": [{"feature": "income", "min": 1e300}]},
     "campaign", "rules[0].min", "[-1e+12, 1e+12]"),
    ({"kind": "ab_split", "weights": [1, -2],
      "variants": [{"name": "A", "policy": {"kind": "random"}},
                   {"name": "B", "policy": {"kind": "random"}}]},
     "variant", "weights[1]", "(0, 1e+06]"),
]  # fmt: skip


def _scenario(policy: dict[str, Any], surface: str) -> dict[str, Any]:
    world = dict(_WORLD)
    if surface == "variant":
        world["variants"] = [{"name": "A", "ctr": 0.05}, {"name": "B", "ctr": 0.06}]
    if surface == "campaign":
        world["offers"] = [{"name": "voucher"}]
    return {"name": "ranges", "world": world, "schedule": _SCHEDULES[surface],
            "arms": [{"name": "a", "policy": policy}]}  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "surface", "key", "allowed"),
    REJECTED,
    ids=[f"{p['kind']}-{k}" for p, _, k, _ in REJECTED],
)
def test_out_of_range_parameters_are_refused_with_path_and_range(
    policy: dict[str, Any],
    surface: str,
    key: str,
    allowed: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(_scenario(policy, surface)))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = next((x for x in err.splitlines() if f"arms[0].policy.{key}:" in x), None)
    assert line is not None, err
    assert str(path) in line and "allowed range" in line and allowed in line, line


def test_the_same_scenarios_validate_with_in_range_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The corpus fails for its one bad value: the defaults of each kind validate."""
    for kind, surface in {(p["kind"], s) for p, s, _, _ in REJECTED if p["kind"] != "ab_split"}:
        path = tmp_path / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(_scenario({"kind": kind}, surface)))
        assert main(["validate", str(path)]) == 0, (kind, capsys.readouterr().err)


@pytest.mark.parametrize(
    ("policy", "key"),
    [
        ({"kind": "lookalike", "offer": 3}, "offer"),
        (
            {"kind": "segment", "method": "kmeans", "n_segments": 2, "segment_offers": [0, 5]},
            "segment_offers[1]",
        ),
    ],
)
def test_offer_indices_beyond_the_worlds_offers_are_refused(
    policy: dict[str, Any], key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A range the catalogue decides is checked against the world, not the parameter model."""
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(_scenario(policy, "campaign")))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"arms[0].policy.{key}: offer" in err and "world.offers has 1" in err, err
