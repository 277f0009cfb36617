"""The contract suite over every registered policy and every surface it declares."""

from __future__ import annotations

import pytest

from recarena.contract import Surface
from recarena.experiment.checks import check_policy, contract_cases

CASES = contract_cases()


@pytest.mark.parametrize(
    ("config", "surface"), CASES, ids=[f"{c['kind']}-{s.value}" for c, s in CASES]
)
def test_policy_contract(config: dict[str, object], surface: Surface) -> None:
    check_policy(config, surface)


def test_every_registered_policy_is_checked() -> None:
    from recarena.policies import registry

    checked = {str(c["kind"]) for c, _ in CASES}
    assert checked == set(registry.available())
