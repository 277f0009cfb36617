"""Offline vs online agreement (recarena.analysis.agreement) and clipped intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recarena.analysis.agreement import offline_online_tau
from recarena.analysis.business import METRIC_BOUNDS, METRIC_TRIALS
from recarena.analysis.stats import ARM, SEED, band, mean_ci, summarise


def _tables(offline_means: list[float], online_means: list[float], noise: float = 0.0):
    rng = np.random.default_rng(5)
    arms = ["a", "b", "c", "d"]
    off, on = [], []
    for seed in range(1, 6):
        for arm, m_off, m_on in zip(arms, offline_means, online_means, strict=True):
            off.append({SEED: seed, "model": arm, "metric": "ndcg@10",
                        "value": m_off + noise * rng.standard_normal()})  # fmt: skip
            on.append({SEED: seed, ARM: arm, "value_clicks": m_on + noise * rng.standard_normal()})
    return pd.DataFrame(off), pd.DataFrame(on)


def test_tau_is_one_when_orders_agree_and_minus_one_when_reversed() -> None:
    off, on = _tables([0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0])
    row = offline_online_tau(off, on, "value_clicks", n_boot=200).iloc[0]
    assert row["tau"] == 1.0 and row["ci_low"] == 1.0 and row["n_arms"] == 4
    off, on = _tables([0.4, 0.3, 0.2, 0.1], [1.0, 2.0, 3.0, 4.0])
    assert offline_online_tau(off, on, "value_clicks", n_boot=200).iloc[0]["tau"] == -1.0


def test_tau_matches_scipy_on_seed_means_and_the_bootstrap_brackets_it() -> None:
    off, on = _tables([0.1, 0.3, 0.2, 0.4], [1.0, 2.0, 3.0, 4.0], noise=0.05)
    row = offline_online_tau(off, on, "value_clicks", n_boot=500).iloc[0]
    m_off = off.groupby("model")["value"].mean()
    m_on = on.groupby(ARM)["value_clicks"].mean()
    assert row["tau"] == pytest.approx(stats.kendalltau(m_off, m_on.loc[m_off.index]).statistic)
    assert row["ci_low"] <= row["tau"] <= row["ci_high"]
    two_arms = off[off["model"].isin(["a", "b"])]
    assert math.isnan(offline_online_tau(two_arms, on, "value_clicks").iloc[0]["tau"])


def test_intervals_stay_inside_the_metric_range() -> None:
    # Two seeds: the t-interval of a CTR of about 0.49 spans ±1.6 (the example).
    per_run = pd.DataFrame({SEED: [1, 2], ARM: ["x", "x"], "ctr": [0.357, 0.615],
                            "decisions": [900.0, 1100.0], "clicks": [321.0, 677.0]})  # fmt: skip
    plain = summarise(per_run, metrics=["ctr"]).iloc[0]
    assert plain["ci_low"] < 0 and plain["ci_high"] > 1 and plain["interval"] == "t"
    ranged = summarise(per_run, bounds=METRIC_BOUNDS, trials=METRIC_TRIALS).set_index("metric")
    ctr = ranged.loc["ctr"]
    assert ctr["interval"] == "wilson_kg" and ctr["mean"] == plain["mean"]
    assert 0.0 < ctr["ci_low"] < ctr["mean"] < ctr["ci_high"] < 1.0
    clicks = ranged.loc["clicks"]
    assert clicks["interval"] == "log_t" and 0.0 < clicks["ci_low"] < clicks["mean"]
    daily = pd.DataFrame({SEED: [1, 2], ARM: ["x", "x"], "day": [1, 1], "share": [0.01, 0.2]})
    b = band(daily, "day", "share", bounds=(0.0, 1.0))
    assert 0.0 <= b["ci_low"].iloc[0] < 0.01 and b["ci_high"].iloc[0] < 1.0
    assert b["ci_low"].iloc[0] == pytest.approx(
        mean_ci([0.01, 0.2], bounds=(0.0, 1.0)).ci_low, rel=1e-12
    )


def test_fewer_than_three_seeds_warn(tmp_path) -> None:
    from recarena.experiment.loading import scenario_from_dict
    from recarena.experiment.runner import run_scenario

    config = scenario_from_dict({
        "name": "tiny", "seeds": [1],
        "world": {"population": {"n_users": 50}, "catalogue": {"n_items": 20}},
        "schedule": {"days": 1, "slate_size": 3},
        "arms": [{"name": "random", "policy": {"kind": "random"}}],
        "executor": {"kind": "inline"},
    })  # fmt: skip
    with pytest.warns(UserWarning, match="at least 3 seeds"):
        run_scenario(config, tmp_path / "out", progress=False, report=False)
