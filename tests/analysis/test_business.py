"""Per-run business metrics: hand-made tables and consistency with a simulated run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recarena.analysis.business import (
    CAMPAIGN_METRICS,
    CORE_METRICS,
    KEY_METRICS,
    METRIC_BOUNDS,
    METRIC_LABELS,
    SESSION_METRICS,
    Metric,
    metric_bounds,
    run_metrics,
)
from recarena.policies.registry import make
from recarena.simulator.log import LIFECYCLE_ARRIVAL, LIFECYCLE_CHURN, Col, Table
from recarena.simulator.params import (
    CatalogueParams,
    OfferParams,
    PopulationParams,
    ScheduleParams,
    WorldParams,
)
from recarena.simulator.simulation import simulate


def _tables() -> dict[str, pd.DataFrame]:
    a, c = LIFECYCLE_ARRIVAL, LIFECYCLE_CHURN
    return {
        Table.DECISIONS: pd.DataFrame(
            {Col.T: [0.1, 0.2, 0.3, 0.4], Col.USER: [0, 1, 2, 4],
             Col.CLICK: np.array([1, 0, 1, 0], dtype=np.int8),
             Col.EXPECTED_REWARD: np.array([0.5, 0.25, 0.5, 0.25], dtype=np.float32),
             Col.BEST_EXPECTED_REWARD: np.array([0.5, 0.5, 0.75, 0.5], dtype=np.float32)}
        ),
        Table.CONVERSIONS: pd.DataFrame({Col.T: [0.5], Col.USER: [1], Col.REVENUE: [12.0]}),
        Table.LIFECYCLE: pd.DataFrame(
            {Col.T: [0.0, 0.0, 0.0, 0.0, 0.35, 1.0], Col.USER: [0, 1, 2, 3, 4, 2],
             Col.EVENT: np.array([a, a, a, a, a, c], dtype=np.int8)}
        ),
        Table.CAMPAIGNS: pd.DataFrame(
            {Col.T: [1.0] * 4 + [2.0] * 2, Col.USER: [0, 1, 2, 3, 0, 1],
             Col.OFFER: [0, -1, 1, -1, 0, 1],
             Col.RESPONDED: np.array([1, 0, 0, 1, 0, 1], dtype=np.int8),
             Col.TRUE_EFFECT: np.array([0.1, 0.3, -0.05, 0.0, 0.2, 0.25], dtype=np.float32),
             Col.NPV: [89.0, 0.0, -1.0, 0.0, -1.0, 89.0],
             # row 0 would have responded anyway (value 100): 89 − 100 = −11
             Col.INCREMENTAL_NPV: [-11.0, 0.0, -1.0, 0.0, -1.0, 89.0]}
        ),
    }  # fmt: skip


def test_run_metrics_hand_worked() -> None:
    m = run_metrics(_tables(), horizon=2.0)
    assert m[Metric.DECISIONS] == 4 and m[Metric.CLICKS] == 2
    assert m[Metric.CTR] == 0.5
    assert m[Metric.MEAN_EXPECTED_REWARD] == pytest.approx(0.375)
    assert m[Metric.TOTAL_REGRET] == pytest.approx(0.75)  # 0 + 0.25 + 0.25 + 0.25
    assert m[Metric.REGRET_PER_DECISION] == pytest.approx(0.1875)
    assert m[Metric.CONVERSIONS] == 1 and m[Metric.CONVERSION_RATE] == 0.5
    assert m[Metric.REVENUE] == 12.0
    assert m[Metric.USERS] == 5 and m[Metric.REVENUE_PER_USER] == 12.0 / 5
    assert m[Metric.CHURNED_USERS] == 1 and m[Metric.ACTIVE_USERS_END] == 4
    # KM: 5 at risk when user 2 churns at age 1 (user 4 joined at 0.35, age 1 is at 1.35 < 2)
    assert m[Metric.RETENTION] == pytest.approx(0.8)
    # value per starting user (users 0-3; user 4 arrived later): decisions of users 0, 1, 2
    assert m[Metric.STARTING_USERS] == 4
    assert m[Metric.VALUE_CLICKS] == pytest.approx((0.5 + 0.25 + 0.5) / 4)
    assert m[Metric.VALUE_CONVERSIONS] == 0.25 and m[Metric.VALUE_REVENUE] == 3.0
    # campaigns: treated rows 0, 2, 4, 5 (users 0, 2, 0, 1); control rows 1, 3
    assert m[Metric.CAMPAIGN_ROWS] == 6
    assert m[Metric.CONTACTS] == 4 and m[Metric.CONTACTED_USERS] == 3
    assert m[Metric.RESPONSE_RATE_TREATED] == 0.5
    assert m[Metric.RESPONSE_RATE_CONTROL] == 0.5
    assert m[Metric.CAMPAIGN_NPV] == pytest.approx(176.0)  # contacts only
    assert m[Metric.INCREMENTAL_NPV] == pytest.approx(76.0)  # −11 − 1 − 1 + 89
    assert m[Metric.TRUE_INCREMENTAL_RESPONSES] == pytest.approx(0.5)  # 0.1 − 0.05 + 0.2 + 0.25
    assert m[Metric.NPV_PER_CONTACTED_USER] == pytest.approx(176.0 / 3)
    assert list(m) == [*CORE_METRICS, *CAMPAIGN_METRICS]


def test_run_metrics_without_campaigns_or_tables() -> None:
    tables = _tables()
    tables[Table.CAMPAIGNS] = tables[Table.CAMPAIGNS].iloc[:0]
    m = run_metrics(tables, horizon=2.0)
    assert list(m) == list(CORE_METRICS)
    empty = run_metrics({}, horizon=1.0)
    assert empty[Metric.DECISIONS] == 0 and empty[Metric.REVENUE] == 0
    for name in (Metric.CTR, Metric.MEAN_EXPECTED_REWARD, Metric.TOTAL_REGRET,
                 Metric.CONVERSION_RATE, Metric.REVENUE_PER_USER, Metric.RETENTION):  # fmt: skip
        assert math.isnan(empty[name]), name


def test_sessions_of_several_clicks_count_every_click_and_their_minutes() -> None:
    tables = _tables()
    tables[Table.CAMPAIGNS] = tables[Table.CAMPAIGNS].iloc[:0]
    decisions = tables[Table.DECISIONS]
    decisions[Col.CLICK] = np.array([3, 0, 1, 0], dtype=np.int8)  # pbm, dcm: counts
    decisions[Col.EXPECTED_REWARD] = np.array([2.5, 0.25, 1.5, 0.25], dtype=np.float32)
    decisions[Col.SESSION_MINUTES] = np.array([12.0, 0.5, 4.0, 1.5], dtype=np.float32)
    m = run_metrics(tables, horizon=2.0)
    assert m[Metric.CLICKS] == 4 and m[Metric.CTR] == 0.5  # CTR: sessions with a click
    assert m[Metric.MEAN_EXPECTED_REWARD] == pytest.approx(1.125)
    assert m[Metric.MINUTES_PER_SESSION] == pytest.approx(4.5)
    assert m[Metric.MINUTES_PER_USER] == pytest.approx(18.0 / 5)
    assert list(m) == [*CORE_METRICS, *SESSION_METRICS]
    # Expected clicks per decision are not a share: unbounded above under pbm and dcm.
    assert metric_bounds(False) is METRIC_BOUNDS
    assert metric_bounds(True)[Metric.MEAN_EXPECTED_REWARD] == (0.0, math.inf)
    assert metric_bounds(True)[Metric.CTR] == (0.0, 1.0)
    assert Metric.REGRET_PER_DECISION not in metric_bounds(True)


def test_every_metric_has_a_label_with_unit() -> None:
    for name in (*CORE_METRICS, *SESSION_METRICS, *CAMPAIGN_METRICS, *KEY_METRICS):
        assert "(" in METRIC_LABELS[name], name


def test_run_metrics_agree_with_the_engine_counters() -> None:
    world = WorldParams(
        population=PopulationParams(n_users=200, arrivals_per_day=15),
        catalogue=CatalogueParams(n_items=40),
        offers=[OfferParams(name="a")],
    )
    schedule = ScheduleParams(days=4.0, slate_size=4, campaign_days=[1.0, 3.0])
    result = simulate(world, schedule, 3, make({"kind": "random"}), make({"kind": "random"}))
    tables = {name: result.log.frame(name) for name in result.log.schemas}
    m = run_metrics(tables, schedule.days)
    snaps = tables[Table.SNAPSHOTS]
    assert m[Metric.DECISIONS] == result.stats.decisions
    assert m[Metric.CLICKS] == snaps[Col.CLICKS].sum()
    assert m[Metric.REVENUE] == pytest.approx(snaps[Col.REVENUE].sum())
    # lifecycle holds every arrival (the t = 0 population included) and every churn
    assert m[Metric.ACTIVE_USERS_END] == snaps[Col.ACTIVE_USERS].iloc[-1]
    assert m[Metric.CAMPAIGN_ROWS] == result.stats.campaign_decisions
    assert 0.0 < m[Metric.RETENTION] <= 1.0
