"""Pseudo-regret and daily series: hand-worked frames and small simulations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recarena.analysis import regret as rg
from recarena.policies.registry import make
from recarena.simulator.log import LIFECYCLE_ARRIVAL, LIFECYCLE_CHURN, Col, Table
from recarena.simulator.params import (
    CatalogueParams,
    PopulationParams,
    ScheduleParams,
    VariantParams,
    WorldParams,
)
from recarena.simulator.simulation import simulate


def _decisions(
    t: list[float], click: list[int], mu: list[float], best: list[float]
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            Col.T: np.asarray(t, dtype=np.float64),
            Col.CLICK: np.asarray(click, dtype=np.int8),
            Col.EXPECTED_REWARD: np.asarray(mu, dtype=np.float32),
            Col.BEST_EXPECTED_REWARD: np.asarray(best, dtype=np.float32),
        }
    )


# Out of time order on purpose: sorted it is t = 0.2, 0.5, 1.0, 1.5.
DEC = _decisions([0.5, 0.2, 1.5, 1.0], [1, 0, 0, 1], [0.25, 0.5, 0.125, 0.75],
                 [0.5, 0.5, 0.625, 1.0])  # fmt: skip


def test_cumulative_regret_hand_worked() -> None:
    c = rg.cumulative_regret(DEC)
    assert list(c[Col.T]) == [0.2, 0.5, 1.0, 1.5]
    assert list(c[rg.REGRET]) == [0.0, 0.25, 0.25, 0.5]
    assert list(c[rg.CUM_REGRET]) == [0.0, 0.25, 0.5, 1.0]
    assert list(c[rg.CUM_DECISIONS]) == [1, 2, 3, 4]
    assert list(c[rg.CUM_REWARD]) == [0, 1, 2, 2]
    assert list(c[rg.CUM_EXPECTED_REWARD]) == [0.5, 0.75, 1.5, 1.625]


def test_regret_metrics_and_nan_oracle() -> None:
    m = rg.regret_metrics(DEC)
    assert m[rg.TOTAL_REGRET] == pytest.approx(1.0)
    assert m[rg.REGRET_PER_DECISION] == pytest.approx(0.25)
    no_oracle = DEC.assign(**{Col.BEST_EXPECTED_REWARD: np.float32(np.nan)})
    assert math.isnan(rg.regret_metrics(no_oracle)[rg.TOTAL_REGRET])
    assert math.isnan(rg.regret_metrics(DEC.iloc[:0])[rg.TOTAL_REGRET])


def test_cumulative_curve_counts_decisions_at_or_before_each_time() -> None:
    c = rg.cumulative_curve(DEC, np.array([0.1, 0.5, 0.9, 2.0]))
    assert list(c[rg.CUM_DECISIONS]) == [0, 2, 2, 4]
    assert list(c[rg.CUM_REGRET]) == [0.0, 0.25, 0.25, 1.0]
    assert list(c[rg.CUM_REWARD]) == [0, 1, 1, 2]
    empty = rg.cumulative_curve(DEC.iloc[:0], np.array([1.0, 2.0]))
    assert list(empty[rg.CUM_REGRET]) == [0.0, 0.0]


def test_time_grid() -> None:
    lin = rg.time_grid(5.0, 10)
    assert lin[0] == pytest.approx(0.5) and lin[-1] == 5.0 and lin.size == 10
    geo = rg.time_grid(5.0, 4, log=True)
    assert geo[0] == pytest.approx(0.005) and geo[-1] == 5.0
    np.testing.assert_allclose(geo[1:] / geo[:-1], 10.0)
    with pytest.raises(ValueError, match="horizon"):
        rg.time_grid(0.0)


def test_daily_series_hand_worked() -> None:
    a, c = LIFECYCLE_ARRIVAL, LIFECYCLE_CHURN
    tables = {
        Table.DECISIONS: DEC,  # day 1: t 0.2, 0.5, 1.0 ; day 2: t 1.5 ; day 3: none
        Table.CONVERSIONS: pd.DataFrame({Col.T: [0.7, 2.5], Col.REVENUE: [3.0, 4.0]}),
        Table.LIFECYCLE: pd.DataFrame(
            {
                Col.T: [0.0, 0.0, 0.0, 1.4, 1.0, 2.0],
                Col.USER: [0, 1, 2, 3, 0, 3],
                Col.EVENT: [a, a, a, a, c, c],
            }
        ),
        Table.SNAPSHOTS: pd.DataFrame(
            {Col.T: [1.0, 2.0, 3.0], Col.MEAN_SATISFACTION: [0.1, 0.2, 0.3]}
        ),
    }
    d = rg.daily_series(tables, horizon=3.0)
    assert list(d[rg.DAY]) == [1, 2, 3]
    assert list(d[Col.T]) == [1.0, 2.0, 3.0]
    assert list(d[rg.DECISIONS]) == [3, 1, 0]
    assert list(d[Col.CLICKS]) == [2, 0, 0]
    assert list(d[rg.CUM_REWARD]) == [2, 2, 2]
    np.testing.assert_allclose(d[rg.CUM_EXPECTED_REWARD], [1.5, 1.625, 1.625])
    np.testing.assert_allclose(d[rg.CUM_REGRET], [0.5, 1.0, 1.0])
    # end of day 1: 3 arrived, user 0 churned at t = 1.0 → 2; day 2: +user 3, −user 3 → 2
    assert list(d[Col.ACTIVE_USERS]) == [2, 2, 2]
    assert list(d[Col.MEAN_SATISFACTION]) == [0.1, 0.2, 0.3]
    assert list(d[Col.REVENUE]) == [3.0, 0.0, 4.0]
    assert list(d[rg.CUM_REVENUE]) == [3.0, 3.0, 7.0]


def test_daily_series_without_tables_and_fractional_horizon() -> None:
    d = rg.daily_series({}, horizon=2.5)
    assert list(d[rg.DAY]) == [1, 2, 3] and list(d[Col.T]) == [1.0, 2.0, 2.5]
    assert (d[rg.DECISIONS] == 0).all() and d[Col.MEAN_SATISFACTION].isna().all()


@pytest.mark.parametrize("surface", ["variant", "slate"])
def test_oracle_has_zero_regret_and_random_positive(surface: str) -> None:
    world = WorldParams(
        population=PopulationParams(n_users=150),
        catalogue=CatalogueParams(n_items=40),
        variants=[VariantParams(name="a", ctr=0.05, heterogeneity=1.0),
                  VariantParams(name="b", ctr=0.08, heterogeneity=1.0)],
    )  # fmt: skip
    schedule = ScheduleParams(days=2.0, surface=surface, slate_size=4)
    totals = {}
    for arm in ("oracle", "random"):
        result = simulate(world, schedule, 7, make({"kind": arm}), policy_stream=arm)
        decisions = result.log.frame(Table.DECISIONS)
        totals[arm] = rg.regret_metrics(decisions)
        daily = rg.daily_series({Table.DECISIONS: decisions}, schedule.days)
        assert daily[rg.CUM_REGRET].iloc[-1] == pytest.approx(totals[arm][rg.TOTAL_REGRET])
    assert abs(totals["oracle"][rg.REGRET_PER_DECISION]) < 1e-6
    assert totals["random"][rg.REGRET_PER_DECISION] > 1e-3
