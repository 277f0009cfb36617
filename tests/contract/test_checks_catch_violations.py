"""Each named contract check fails on a policy that breaks its clause, naming the clause."""

from __future__ import annotations

import pytest

from recarena.contract import Surface
from recarena.experiment.checks import CHECKS, ContractCase
from recarena.policies.registry import PLUGINS_ENV


@pytest.fixture(autouse=True)
def _plugins_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The broken policies below are plugins: code from outside recarena, allowed here."""
    monkeypatch.setenv(PLUGINS_ENV, "1")


def _case(name: str, surface: Surface = Surface.VARIANT) -> ContractCase:
    config: dict[str, object] = {
        "kind": "plugin",
        "plugin": f"tests.contract.broken_policies:{name}",
    }
    return ContractCase(config, surface, 0)


@pytest.mark.parametrize(
    ("policy", "check", "message"),
    [
        ("LiesAboutRandomness", "declared_flags", "declares randomised = False"),
        ("LiesAboutRandomness", "different_seed", "is not randomised"),
        ("ReadsFeatures", "declared_flags", "is not contextual"),
        ("IgnoresItsSeed", "same_seed", "same seed"),
        ("RefitsDifferently", "refit_idempotence", "fit twice"),
        ("DoesNotPickle", "pickle", "pickle"),
    ],
)
def test_check_fails_on_the_violation(policy: str, check: str, message: str) -> None:
    with pytest.raises((AssertionError, AttributeError, TypeError), match=message):
        CHECKS[check](_case(policy))


@pytest.mark.parametrize("policy", ["LiesAboutRandomness", "ReadsFeatures", "RefitsDifferently"])
def test_the_other_checks_pass(policy: str) -> None:
    """The broken policies break one clause each: their configs round-trip and their shapes
    are right, so the failures above come from the check named."""
    for check in ("round_trip", "not_set_up", "shapes"):
        CHECKS[check](_case(policy))


def test_logged_frequencies_catch_slot_propensities_that_do_not_match() -> None:
    case = _case("FirstSlotOnly", Surface.SLATE)
    for check in ("shapes", "declared_flags"):  # in range, finite: only the law is wrong
        CHECKS[check](case)
    with pytest.raises(AssertionError, match="the logged slots came back"):
        CHECKS["logged_frequencies"](case)
