"""Kaplan–Meier with Greenwood intervals, checked against a hand-worked example."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recarena.analysis.retention import (
    AT_RISK,
    CENSORED,
    DURATION,
    EVENTS,
    JOIN,
    KM_CI_HIGH,
    KM_CI_LOW,
    OBSERVED,
    SE,
    SURVIVAL,
    TIME,
    kaplan_meier,
    lifecycle_durations,
    retention_curve,
    survival_at,
)
from recarena.simulator.log import LIFECYCLE_ARRIVAL, LIFECYCLE_CHURN, Col

# Six subjects: events at 1, 2, 3, 5; censored at 2 and 4.
DURATIONS = [1.0, 2.0, 2.0, 3.0, 4.0, 5.0]
OBSERVED_ = [True, True, False, True, False, True]


def test_kaplan_meier_hand_worked() -> None:
    """
    t  n  d  c   S                      Greenwood Σ d/(n(n−d))     se = S√Σ
    1  6  1  0   5/6       = 0.833333   1/30          = 0.033333   0.152145
    2  5  1  1   5/6·4/5   = 0.666667   + 1/20        = 0.083333   0.192450
    3  3  1  0   ·2/3      = 0.444444   + 1/6         = 0.250000   0.222222
    4  2  0  1   0.444444 (no event)                               0.222222
    5  1  1  0   0                                                 0
    """
    km = kaplan_meier(DURATIONS, OBSERVED_, ci="plain")
    assert list(km[TIME]) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert list(km[AT_RISK]) == [6, 6, 5, 3, 2, 1]
    assert list(km[EVENTS]) == [0, 1, 1, 1, 0, 1]
    assert list(km[CENSORED]) == [0, 0, 1, 0, 1, 0]
    np.testing.assert_allclose(km[SURVIVAL], [1, 5 / 6, 2 / 3, 4 / 9, 4 / 9, 0], atol=1e-12)
    np.testing.assert_allclose(km[SE], [0, 0.152145, 0.192450, 0.222222, 0.222222, 0], atol=1e-6)
    # plain: S ± 1.959964·se clipped to [0, 1]; at t = 3: 0.444444 ∓ 0.435548.
    assert km[KM_CI_LOW].iloc[3] == pytest.approx(0.008897, abs=1e-6)
    assert km[KM_CI_HIGH].iloc[3] == pytest.approx(0.879992, abs=1e-6)
    assert km[KM_CI_HIGH].iloc[1] == 1.0  # clipped


def test_kaplan_meier_loglog_hand_worked() -> None:
    # t = 1: log S = −0.182322, σ = √(1/30)/0.182322 = 1.001386, zσ = 1.962680;
    # low = S^exp(zσ) = exp(−0.182322·7.117403) = 0.273123,
    # high = S^exp(−zσ) = exp(−0.182322·0.140501) = 0.974712.
    km = kaplan_meier(DURATIONS, OBSERVED_)
    assert km[KM_CI_LOW].iloc[1] == pytest.approx(0.273123, abs=1e-5)
    assert km[KM_CI_HIGH].iloc[1] == pytest.approx(0.974712, abs=1e-5)
    # before any event the band is [1, 1]; once S = 0 it is [0, 0]
    assert (km[KM_CI_LOW].iloc[0], km[KM_CI_HIGH].iloc[0]) == (1.0, 1.0)
    assert (km[KM_CI_LOW].iloc[-1], km[KM_CI_HIGH].iloc[-1]) == (0.0, 0.0)
    inside = (km[SURVIVAL] > 0) & (km[SURVIVAL] < 1)
    assert (km.loc[inside, KM_CI_LOW] < km.loc[inside, SURVIVAL]).all()
    assert (km.loc[inside, KM_CI_HIGH] > km.loc[inside, SURVIVAL]).all()


def test_kaplan_meier_matches_statsmodels() -> None:
    from statsmodels.duration.survfunc import SurvfuncRight

    rng = np.random.default_rng(3)
    d = np.round(rng.exponential(5.0, 300), 1)
    e = rng.random(300) < 0.7
    km = kaplan_meier(d, e)
    sf = SurvfuncRight(d, e.astype(float))
    at = np.asarray(sf.surv_times)
    np.testing.assert_allclose(survival_at(km, at), sf.surv_prob, rtol=1e-10)
    ours_se = km.set_index(TIME).loc[at, SE].to_numpy()
    finite = np.isfinite(sf.surv_prob_se)
    np.testing.assert_allclose(ours_se[finite], np.asarray(sf.surv_prob_se)[finite], rtol=1e-8)


def test_kaplan_meier_no_events_and_empty() -> None:
    km = kaplan_meier([2.0, 3.0], [False, False])
    assert (km[SURVIVAL] == 1.0).all() and (km[SE] == 0).all()
    empty = kaplan_meier([], [])
    assert len(empty) == 0 and np.isnan(survival_at(empty, 1.0)).all()


def test_kaplan_meier_validates() -> None:
    with pytest.raises(ValueError, match="length"):
        kaplan_meier([1.0, 2.0], [True])
    with pytest.raises(ValueError, match="non-negative"):
        kaplan_meier([-1.0], [True])
    with pytest.raises(ValueError, match="ci"):
        kaplan_meier([1.0], [True], ci="wald")  # type: ignore[arg-type]


def test_survival_at_step_function() -> None:
    km = kaplan_meier(DURATIONS, OBSERVED_)
    got = survival_at(km, np.array([0.0, 0.99, 1.0, 2.5, 4.9, 5.0, 99.0]))
    np.testing.assert_allclose(got, [1, 1, 5 / 6, 2 / 3, 4 / 9, 0, 0])


def _lifecycle(rows: list[tuple[float, int, int]]) -> pd.DataFrame:
    t, user, event = zip(*rows, strict=True)
    return pd.DataFrame({Col.T: t, Col.USER: user, Col.EVENT: np.array(event, dtype=np.int8)})


def test_lifecycle_durations_censoring_and_late_arrivals() -> None:
    a, c = LIFECYCLE_ARRIVAL, LIFECYCLE_CHURN
    lc = _lifecycle([(0.0, 0, a), (0.0, 1, a), (0.5, 2, a), (2.0, 3, a),
                     (1.0, 0, c), (3.0, 2, c), (2.0, 9, c)])  # fmt: skip
    d = lifecycle_durations(lc, horizon=4.0)
    assert list(d[Col.USER]) == [0, 1, 2, 3, 9]
    assert list(d[JOIN]) == [0.0, 0.0, 0.5, 2.0, 0.0]  # user 9: no arrival row → joined at 0
    assert list(d[DURATION]) == [1.0, 4.0, 2.5, 2.0, 2.0]
    assert list(d[OBSERVED]) == [True, False, True, False, True]
    km = retention_curve(lc, horizon=4.0)
    # durations 1*, 2*, 2, 2.5*, 4: S(1)=4/5, S(2)=4/5·3/4=3/5, S(2.5)=3/5·1/2=3/10
    assert survival_at(km, 4.0)[0] == pytest.approx(0.3)
