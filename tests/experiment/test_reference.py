"""The committed YAML reference is the one the schema generates."""

from __future__ import annotations

from pathlib import Path

from recarena.experiment.reference import scenario_reference

REFERENCE = Path(__file__).parents[2] / "docs" / "scenario-reference.md"


def test_reference_is_up_to_date() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == scenario_reference(), (
        "docs/scenario-reference.md is stale: run "
        "`python -m recarena.experiment.reference > docs/scenario-reference.md`"
    )


def test_reference_lists_every_policy() -> None:
    from recarena.policies import registry

    text = scenario_reference()
    for kind in registry.available():
        assert f"### `{kind}`" in text
