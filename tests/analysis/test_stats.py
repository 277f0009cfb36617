"""Means and intervals over seeds (Student t, and inside a metric's range), hand-worked."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recarena.analysis.stats import (
    ARM,
    CI_HIGH,
    CI_LOW,
    INTERVAL,
    MEAN,
    METRIC,
    N_SEEDS,
    SEED,
    N,
    band,
    mean_ci,
    summarise,
)


def test_mean_ci_hand_worked_three_values() -> None:
    # x = 1, 2, 3: mean 2, s = 1, sem = 1/√3, t_{0.975, 2} = 4.302653 → half 2.484138.
    r = mean_ci([1.0, 2.0, 3.0])
    assert r.mean == pytest.approx(2.0)
    assert r.ci_low == pytest.approx(2.0 - 2.484138, abs=1e-6)
    assert r.ci_high == pytest.approx(2.0 + 2.484138, abs=1e-6)
    assert r.n == 3
    assert r.half_width == pytest.approx(2.484138, abs=1e-6)


def test_mean_ci_hand_worked_level_90() -> None:
    # mean 5, s² = 32/7, sem = 0.755929, t_{0.95, 7} = 1.894579 → half 1.432167.
    r = mean_ci([2, 4, 4, 4, 5, 5, 7, 9], level=0.90)
    assert r.mean == pytest.approx(5.0)
    assert r.ci_low == pytest.approx(3.567833, abs=1e-6)
    assert r.ci_high == pytest.approx(6.432167, abs=1e-6)


def test_mean_ci_single_value_has_nan_bounds() -> None:
    r = mean_ci([0.7])
    assert r.mean == 0.7 and r.n == 1
    assert math.isnan(r.ci_low) and math.isnan(r.ci_high)


def test_mean_ci_empty_and_all_nan() -> None:
    for values in ([], [math.nan, math.nan]):
        r = mean_ci(values)
        assert r.n == 0 and math.isnan(r.mean) and math.isnan(r.ci_low)


def test_mean_ci_drops_nan_and_zero_spread_gives_zero_width() -> None:
    r = mean_ci([3.0, math.nan, 3.0, 3.0])
    assert (r.mean, r.ci_low, r.ci_high, r.n) == (3.0, 3.0, 3.0, 3)


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 95])
def test_mean_ci_rejects_bad_level(level: float) -> None:
    with pytest.raises(ValueError, match="level"):
        mean_ci([1.0, 2.0], level=level)


def test_summarise_long_format_order_and_values() -> None:
    per_run = pd.DataFrame(
        {
            SEED: [1, 2, 3, 1, 2, 3],
            ARM: ["b", "b", "b", "a", "a", "a"],
            "ctr": [1.0, 2.0, 3.0, 0.5, 0.5, 0.5],
            "revenue": [10.0, math.nan, 30.0, 1.0, 2.0, 3.0],
            "label": ["x"] * 6,  # not numeric: ignored
        }
    )
    s = summarise(per_run)
    assert list(s.columns) == [ARM, METRIC, MEAN, CI_LOW, CI_HIGH, N_SEEDS, INTERVAL]
    assert set(s[INTERVAL]) == {"t"}  # no ranges given
    assert list(s[ARM]) == ["b", "b", "a", "a"]  # first-appearance order
    assert list(s[METRIC]) == ["ctr", "revenue", "ctr", "revenue"]
    b_ctr = s.iloc[0]
    assert b_ctr[MEAN] == pytest.approx(2.0)
    assert b_ctr[CI_HIGH] - b_ctr[MEAN] == pytest.approx(2.484138, abs=1e-6)
    b_rev = s.iloc[1]
    assert b_rev[N_SEEDS] == 2 and b_rev[MEAN] == pytest.approx(20.0)
    a_ctr = s.iloc[2]
    assert a_ctr[CI_LOW] == a_ctr[MEAN] == a_ctr[CI_HIGH] == 0.5


def test_summarise_explicit_metrics_and_missing_group_column() -> None:
    per_run = pd.DataFrame({SEED: [1, 2], ARM: ["a", "a"], "x": [1.0, 3.0], "y": [0, 0]})
    s = summarise(per_run, metrics=["x"], level=0.5)
    assert list(s[METRIC]) == ["x"]
    # t_{0.75, 1} = 1: half = s/√n = √2/√2 = 1.
    assert (s.iloc[0][CI_LOW], s.iloc[0][CI_HIGH]) == pytest.approx((1.0, 3.0))
    with pytest.raises(KeyError, match="policy"):
        summarise(per_run, by="policy")


def test_band_per_x_across_seeds() -> None:
    df = pd.DataFrame(
        {
            SEED: [1, 1, 2, 2, 3, 3, 1, 1],
            ARM: ["r", "r", "r", "r", "r", "r", "o", "o"],
            "t": [1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0],
            "y": [1.0, 10.0, 2.0, 10.0, 3.0, math.nan, 5.0, 6.0],
        }
    )
    b = band(df, "t", "y", ARM)
    assert list(b.columns) == [ARM, "t", MEAN, CI_LOW, CI_HIGH, N]
    assert list(zip(b[ARM], b["t"], strict=True)) == [("r", 1.0), ("r", 2.0), ("o", 1.0),
                                                      ("o", 2.0)]  # fmt: skip
    r1 = b.iloc[0]
    assert r1[MEAN] == pytest.approx(2.0) and r1[N] == 3
    assert r1[CI_HIGH] == pytest.approx(mean_ci([1.0, 2.0, 3.0]).ci_high)
    r2 = b.iloc[1]  # NaN dropped, zero spread
    assert r2[N] == 2 and r2[CI_LOW] == r2[CI_HIGH] == 10.0
    o1 = b.iloc[2]  # one seed: no band
    assert o1[MEAN] == 5.0 and np.isnan(o1[CI_LOW]) and np.isnan(o1[CI_HIGH])


def test_band_empty() -> None:
    b = band(pd.DataFrame({ARM: [], "t": [], "y": []}), "t", "y")
    assert len(b) == 0 and MEAN in b.columns


def test_paired_differences_cancel_world_variation() -> None:
    from recarena.analysis.stats import paired_differences

    # Worlds differ a lot between seeds (10, 20, 30) but arm b is always exactly 1 above a.
    per_run = pd.DataFrame(
        {"seed": [1, 2, 3, 1, 2, 3], "arm": ["a"] * 3 + ["b"] * 3,
         "ctr": [10.0, 20.0, 30.0, 11.0, 21.0, 31.0]}
    )  # fmt: skip
    out = paired_differences(per_run, "a")
    row = out.iloc[0]
    assert row["arm"] == "b" and row["metric"] == "ctr"
    assert row["mean"] == pytest.approx(1.0)
    assert row["ci_low"] == pytest.approx(1.0) and row["ci_high"] == pytest.approx(1.0)
    with pytest.raises(KeyError):
        paired_differences(per_run, "c")


def test_mean_ci_inside_the_range_by_metric_type() -> None:
    from scipy import stats
    from statsmodels.stats.proportion import proportion_confint

    # a rate of counts: Wilson at n* = n_eff (z/t₂)², n_eff = p(1-p)/se² (below the trials)
    values = [0.01, 0.02, 0.015]
    r = mean_ci(values, bounds=(0.0, 1.0), trials=[1000, 1000, 1000])
    p, se = 0.015, 0.005 / math.sqrt(3)
    n_star = p * (1 - p) / se**2 * (stats.norm.ppf(0.975) / stats.t.ppf(0.975, 2)) ** 2
    assert (r.ci_low, r.ci_high) == pytest.approx(
        proportion_confint(p * n_star, n_star, 0.05, "wilson"), rel=1e-9
    )
    assert r.method == "wilson_kg" and 0 < r.ci_low < r.mean < r.ci_high
    # a count: log scale; a difference: Student t
    assert mean_ci([1.0, 2.0, 3.0], bounds=(0.0, math.inf)).method == "log_t"
    assert mean_ci([-1.0, 2.0], bounds=None).ci_low < -1.0


def test_binomial_size_of_a_mean_of_rates_is_harmonic() -> None:
    from recarena.analysis.stats import _binomial_trials

    assert _binomial_trials(np.array([1000.0, 1000.0, 1000.0])) == pytest.approx(3000.0)
    # var of the mean of two rates on 1,000 and 3,000 trials = p(1-p)/4 · (1/1000 + 1/3000)
    assert _binomial_trials(np.array([1000.0, 3000.0])) == pytest.approx(4 / (1 / 1000 + 1 / 3000))


def test_summarise_uses_the_trials_column_and_names_the_interval() -> None:
    per_run = pd.DataFrame({SEED: [1, 2, 3], ARM: ["a"] * 3, "ctr": [0.0, 0.0, 0.0],
                            "decisions": [500.0, 500.0, 500.0]})  # fmt: skip
    s = summarise(per_run, metrics=["ctr"], bounds={"ctr": (0.0, 1.0)},
                  trials={"ctr": "decisions"}).iloc[0]  # fmt: skip
    # no clicks in 1,500 decisions still bounds the CTR above: Wilson at 1,500 (z/t₂)²
    assert s[CI_LOW] == 0.0 and 0.0 < s[CI_HIGH] < 0.02 and s[INTERVAL] == "wilson_kg"
    without = summarise(per_run, metrics=["ctr"], bounds={"ctr": (0.0, 1.0)}).iloc[0]
    assert without[CI_HIGH] == 0.0  # zero spread and no trials: a zero-width interval
