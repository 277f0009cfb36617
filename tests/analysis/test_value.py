"""Long-term value per starting user and counterfactual regret (recarena.analysis.value)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import recarena
from recarena.analysis.business import Metric
from recarena.analysis.stats import ARM, MEAN, METRIC, SEED
from recarena.analysis.value import add_counterfactual_regret, oracle_arm
from recarena.simulator.log import LIFECYCLE_ARRIVAL, Col, Table
from tests.simulator.helpers import DENSE_BEHAVIOUR, DENSE_POPULATION

WORST = {"kind": "plugin", "plugin": "tests.analysis.worst_slate_policy:WorstSlate"}


def test_counterfactual_regret_pairs_by_seed() -> None:
    per_run = pd.DataFrame(
        {SEED: [1, 1, 2, 2], ARM: ["o", "a", "o", "a"],
         Metric.VALUE_CLICKS: [5.0, 3.0, 7.0, 6.5], Metric.VALUE_REVENUE: [1.0, 2.0, 1.0, 1.0]}
    )  # fmt: skip
    out = add_counterfactual_regret(per_run, "o")
    assert out[Metric.CF_REGRET_CLICKS].tolist() == [0.0, 2.0, 0.0, 0.5]
    assert out[Metric.CF_REGRET_REVENUE].tolist() == [0.0, -1.0, 0.0, 0.0]  # can be negative
    assert Metric.CF_REGRET_CONVERSIONS not in out.columns  # no value column, no regret
    none = add_counterfactual_regret(per_run, None)
    assert none[Metric.CF_REGRET_CLICKS].isna().all()


def test_oracle_arm_is_found_by_policy_kind() -> None:
    arms = [
        {"name": "r", "policy": {"kind": "random"}},
        {"name": "best", "policy": {"kind": "oracle"}},
    ]
    assert oracle_arm({"arms": arms}) == "best"
    assert oracle_arm({"arms": arms[:1]}) is None


@pytest.fixture(scope="module")
def churning_world(tmp_path_factory: pytest.TempPathFactory) -> recarena.Results:
    # The world, reduced (600 users instead of 1,500): satisfaction drives churn hard.
    scenario = {
        "name": "worst_slate",
        "seeds": [1, 2, 3],
        "world": {
            "population": {**DENSE_POPULATION, "n_users": 600},
            "catalogue": {"n_items": 120},
            "behaviour": {**DENSE_BEHAVIOUR, "churn_satisfaction": 8},
        },
        "schedule": {"days": 21, "slate_size": 5},
        "arms": [
            {"name": "random", "policy": {"kind": "random"}},
            {"name": "worst", "policy": WORST},
            {"name": "oracle", "policy": {"kind": "oracle"}},
        ],
        "executor": {"kind": "inline"},
    }
    out = tmp_path_factory.mktemp("worst") / "out"
    return recarena.run(scenario, out, progress=False, allow_plugins=True)  # WORST is a plugin


def test_worst_slate_ranks_below_random_on_long_term_value(
    churning_world: recarena.Results,
) -> None:
    per_run = churning_world.per_run().set_index([SEED, ARM])
    worst = per_run.xs("worst", level=ARM)
    random = per_run.xs("random", level=ARM)
    # Myopic pseudo-regret barely separates them (the worst slates lose their users, whose
    # missing sessions cost nothing; on the 1,500-user world it even ranks the worst
    # arm above random). Long-term value does: far fewer expected clicks, conversions and
    # revenue per starting user on every seed, and a larger counterfactual regret.
    myopic = worst[Metric.TOTAL_REGRET] / random[Metric.TOTAL_REGRET]
    assert (myopic < 1.2).all()
    for metric in (Metric.VALUE_CLICKS, Metric.VALUE_CONVERSIONS, Metric.VALUE_REVENUE):
        assert (worst[metric] < 0.5 * random[metric]).all(), metric
    assert (worst[Metric.CF_REGRET_CLICKS] > random[Metric.CF_REGRET_CLICKS]).all()
    assert (worst[Metric.RETENTION] < random[Metric.RETENTION]).all()
    # The summary leads with the headline: value and counterfactual regret come first.
    summary = churning_world.summary()
    assert list(dict.fromkeys(summary[METRIC]))[:2] == [Metric.VALUE_CLICKS,
                                                        Metric.CF_REGRET_CLICKS]  # fmt: skip
    text = churning_world.summary_text()
    first = text.index("Long-term value per starting user and counterfactual regret")
    assert first < text.index("Key metrics per arm")
    assert text[first:].splitlines()[1].split()[2:4] == ["value:", "clicks/user"]
    means = summary[summary[METRIC] == Metric.VALUE_CLICKS].set_index(ARM)[MEAN]
    assert means["oracle"] > means["random"] > means["worst"]


def test_report_first_table_is_long_term_value(churning_world: recarena.Results) -> None:
    page = churning_world.report_path.read_text(encoding="utf-8")
    first = page.index("<table")
    assert page.index("Long-term value per starting user and counterfactual regret") < first
    assert "long-term value (expected clicks / starting user)" in page[first : first + 3000]
    assert "only myopically optimal" in page


def test_value_counts_starting_users_only() -> None:
    from recarena.analysis.value import long_term_value

    tables = {
        Table.LIFECYCLE: pd.DataFrame(
            {Col.T: [0.0, 0.0, 2.0], Col.USER: [0, 1, 2],
             Col.EVENT: np.full(3, LIFECYCLE_ARRIVAL, dtype=np.int8)}
        ),
        Table.DECISIONS: pd.DataFrame(
            {Col.USER: [0, 0, 2], Col.EXPECTED_REWARD: np.array([0.5, 0.25, 0.9], np.float32)}
        ),
    }  # fmt: skip
    v = long_term_value(tables)
    assert v[Metric.STARTING_USERS] == 2
    assert v[Metric.VALUE_CLICKS] == pytest.approx(0.375)  # (0.5 + 0.25) / 2; user 2 joined late
    assert v[Metric.VALUE_REVENUE] == 0.0
    assert math.isnan(long_term_value({})[Metric.VALUE_CLICKS])
