"""Sweep analysis against hand-computed cases: paired differences, winners, sensitivity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from recarena.analysis.sweep import (
    arm_differences,
    sensitivity,
    sweep_summary,
    winners,
)

PARAMS = ["lift", "traffic"]
NOISE = (0.002, 0.0, -0.001)


def _per_run() -> pd.DataFrame:
    """Two arms on a 2 × 2 grid, 3 seeds. ``b`` loses 0.01 more than ``a`` wherever
    lift = 0.2, plus seed noise (0.002, 0, −0.001) everywhere."""
    rows = []
    for lift in (0.01, 0.2):
        for traffic in (1000, 5000):
            for seed, noise in zip((1, 2, 3), NOISE, strict=True):
                base = 0.02 + seed * 0.003
                gap = 0.01 if lift == 0.2 else 0.0
                rows.append({"lift": lift, "traffic": traffic, "seed": seed, "arm": "a",
                             "regret_share": base, "correct": 1.0})  # fmt: skip
                rows.append({"lift": lift, "traffic": traffic, "seed": seed, "arm": "b",
                             "regret_share": base + gap + noise,
                             "correct": float(seed != 1)})  # fmt: skip
    frame = pd.DataFrame(rows)
    for metric in ("decisions", "clicks", "mean_expected_reward", "total_regret",
                   "regret_per_decision", "share_on_best"):  # fmt: skip
        frame[metric] = np.nan
    return frame


def test_paired_difference_and_its_interval() -> None:
    diff = arm_differences(_per_run(), PARAMS, "b", "a", "regret_share")
    assert len(diff) == 4
    row = diff[(diff["lift"] == 0.2) & (diff["traffic"] == 1000)].iloc[0]
    d = 0.01 + np.array(NOISE)  # 0.012, 0.010, 0.009
    half = sps.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
    assert row["mean"] == pytest.approx(d.mean())
    assert row["ci_low"] == pytest.approx(d.mean() - half)
    assert row["ci_high"] == pytest.approx(d.mean() + half)
    assert bool(row["excludes_zero"]) and int(row["n_seeds"]) == 3
    flat = diff[diff["lift"] == 0.01]  # noise only: the interval contains 0
    assert np.allclose(flat["mean"], np.mean(NOISE)) and not flat["excludes_zero"].any()


def test_a_proportion_difference_stays_in_range() -> None:
    diff = arm_differences(_per_run(), PARAMS, "b", "a", "correct")
    # d = −1, 0, 0: the t-interval reaches below −1 and is clipped there
    assert (diff["ci_low"] >= -1.0).all() and (diff["ci_high"] <= 1.0).all()
    assert diff["mean"].iloc[0] == pytest.approx(-1 / 3)


def test_summary_uses_exact_intervals_for_proportions() -> None:
    summary = sweep_summary(_per_run(), PARAMS)
    row = summary[(summary["arm"] == "b") & (summary["metric"] == "correct")].iloc[0]
    ci = sps.binomtest(2, 3).proportion_ci(0.95, method="exact")
    assert row["mean"] == pytest.approx(2 / 3)
    assert row["ci_low"] == pytest.approx(ci.low) and row["ci_high"] == pytest.approx(ci.high)


def test_winners_and_sensitivity() -> None:
    per_run = _per_run()
    summary = sweep_summary(per_run, PARAMS)
    table = winners(summary, per_run, PARAMS, "regret_share")
    # a has the lower regret share everywhere; separated only where b is 0.01 worse
    assert set(table["winner"]) == {"a"}
    assert table.set_index(PARAMS)["separated"].to_dict() == {
        (0.01, 1000): False, (0.01, 5000): False, (0.2, 1000): True, (0.2, 5000): True
    }  # fmt: skip
    diff = arm_differences(per_run, PARAMS, "b", "a", "regret_share")
    sens = sensitivity(diff, table, PARAMS).set_index("parameter")
    # all of the difference's variance is the lift's main effect; traffic explains none
    assert sens.loc["lift", "variance_share"] == pytest.approx(1.0)
    assert sens.loc["traffic", "variance_share"] == pytest.approx(0.0, abs=1e-12)
    assert sens.loc["lift", "effect_range"] == pytest.approx(0.010)
    assert sens.loc["lift", "winner_changes"] == 0.0 and sens.loc["lift", "pairs"] == 2
    assert list(sens.index) == ["lift", "traffic"]
