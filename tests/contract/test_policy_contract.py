"""The contract suite: every named check, over every registered policy config and surface.

Test ids are ``kind[config index]-surface-check``, e.g. ``als[1]-slate-same_seed``.
"""

from __future__ import annotations

import pytest

from recarena.experiment.checks import CHECKS, ContractCase, applicable_checks, contract_cases
from recarena.policies import registry

CASES = contract_cases()

#: Known contract violations (case id, check) -> why, each fixed on its owner's branch. Marked
#: as strict expected failures, so the test fails as soon as the fix lands: remove the entry
#: then. Never a skip.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


def _params() -> list[object]:
    params = []
    for case in CASES:
        for check in applicable_checks(case.policy_class, case.surface):
            reason = KNOWN_VIOLATIONS.get((case.id, check))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(case, check, id=f"{case.id}-{check}", marks=marks))
    return params


@pytest.mark.parametrize(("case", "check"), _params())
def test_policy_contract(case: ContractCase, check: str) -> None:
    CHECKS[check](case)


def test_every_registered_policy_is_checked() -> None:
    assert {case.kind for case in CASES} == set(registry.available())


def test_known_violations_name_real_cases() -> None:
    ids = {(case.id, check) for case in CASES for check in CHECKS}
    assert set(KNOWN_VIOLATIONS) <= ids
