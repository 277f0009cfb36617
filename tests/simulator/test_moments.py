"""The default world's moments sit in the published ranges docs/world.md lists.

One seeded run per policy (2,000 users, 28 days, seed 1). Each band is the published range
of the table in docs/world.md ('Moments'), with its source beside it; the seed's values sit
well inside (docs/world.md gives them), so a band failing means the defaults moved, not noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from recarena.policies import registry
from recarena.simulator.log import LIFECYCLE_CHURN
from recarena.simulator.params import ScheduleParams, WorldParams
from recarena.simulator.simulation import simulate

USERS, DAYS, SEED = 2000, 28, 1

#: Share of sessions with a click on a deployed recommender's slate: about 7% of shopping
#: visits click a recommendation (Salesforce, 150M sessions); the band is a factor 2 around it.
RECOMMENDER_SESSION_CLICKS = (0.035, 0.14)
#: CTR per shown item of untargeted (random) slates: display-ad CTRs, 0.05% over all formats
#: (DoubleClick benchmark) to about 0.5% (Google Ads display network benchmark).
UNTARGETED_ITEM_CTR = (0.0005, 0.005)
#: Purchases per click: 10.5% in-session purchase rate after a recommendation click (Monetate).
CONVERSION_PER_CLICK = (0.05, 0.2)
#: Churn of an established base within a month: median B2C monthly churn 6.8-8.1% (Recurly).
MONTHLY_CHURN = (0.03, 0.15)
#: DAU/MAU: e-commerce average 10%, consumer products average 30%, great 50% (Sequoia).
DAU_MAU = (0.15, 0.5)


def _moments(kind: str) -> dict[str, float]:
    world: dict[str, Any] = {"population": {"n_users": USERS}}
    schedule: dict[str, Any] = {"days": DAYS}
    policy: dict[str, Any] = {"kind": kind}
    if kind == "banner":  # one banner with a 5% click-through rate on the variant surface
        world["variants"] = [{"name": "banner", "ctr": 0.05}]
        schedule |= {"surface": "variant", "decision_window": 0.25}
        policy = {"kind": "fixed", "action": 0}
    elif kind == "popularity":
        policy["epsilon"] = 0.05
    res = simulate(
        WorldParams.model_validate(world),
        ScheduleParams(**schedule),
        SEED,
        session_policy=registry.make(policy),
    )
    decisions = res.log.frame("decisions")
    life = res.log.frame("lifecycle")
    conversions = res.log.frame("conversions")
    days = np.floor(decisions["t"]).astype(int)
    daily_users = pd.Series(decisions["user"].to_numpy()).groupby(days.to_numpy()).nunique()
    return {
        "session_clicks": float(decisions["click"].mean()),
        "conversion_per_click": len(conversions) / max(int(decisions["click"].sum()), 1),
        "churn": float((life["event"] == LIFECYCLE_CHURN).sum()) / USERS,
        "dau_mau": float(daily_users.mean()) / decisions["user"].nunique(),
        "sessions_per_user_day": len(decisions) / USERS / DAYS,
    }


@pytest.fixture(scope="module")
def moments() -> dict[str, dict[str, float]]:
    return {kind: _moments(kind) for kind in ("random", "popularity", "oracle", "banner")}


def test_click_rates_sit_in_published_ranges(moments: dict[str, dict[str, float]]) -> None:
    slate_size = ScheduleParams().slate_size
    assert UNTARGETED_ITEM_CTR[0] < moments["random"]["session_clicks"] / slate_size
    assert moments["random"]["session_clicks"] / slate_size < UNTARGETED_ITEM_CTR[1]
    low, high = RECOMMENDER_SESSION_CLICKS
    assert low < moments["popularity"]["session_clicks"] < high
    # The world keeps signal for learning: good slates earn several times random ones.
    assert moments["popularity"]["session_clicks"] > 3 * moments["random"]["session_clicks"]
    assert moments["oracle"]["session_clicks"] > 1.5 * moments["popularity"]["session_clicks"]


@pytest.mark.parametrize("kind", ["random", "popularity", "oracle"])
def test_conversion_per_click_sits_in_published_range(
    moments: dict[str, dict[str, float]], kind: str
) -> None:
    assert CONVERSION_PER_CLICK[0] < moments[kind]["conversion_per_click"] < CONVERSION_PER_CLICK[1]


@pytest.mark.parametrize("kind", ["random", "popularity", "oracle", "banner"])
def test_churn_and_stickiness_sit_in_published_ranges(
    moments: dict[str, dict[str, float]], kind: str
) -> None:
    assert MONTHLY_CHURN[0] < moments[kind]["churn"] < MONTHLY_CHURN[1]
    assert DAU_MAU[0] < moments[kind]["dau_mau"] < DAU_MAU[1]


def test_better_slates_keep_more_users(moments: dict[str, dict[str, float]]) -> None:
    random, oracle = moments["random"], moments["oracle"]
    assert oracle["churn"] < 0.8 * random["churn"]
    assert oracle["sessions_per_user_day"] > 1.1 * random["sessions_per_user_day"]
