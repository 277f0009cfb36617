"""The headline of ``scenarios/ab_vs_bandits_map.yaml``, on a reduced grid (and in full, slow).

Reduced: two variants, a 20% lift, 1k and 20k users, three seeds, three arms — the corners of
the map where the answer flips: with much traffic Thompson sampling loses far less of the
28-day value than a fixed 7-day A/B test; with little traffic the A/B test beats UCB1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from recarena.experiment.loading import load_scenario, scenario_from_dict
from recarena.experiment.runner import run_scenario

SCENARIO = Path(__file__).parents[2] / "scenarios" / "ab_vs_bandits_map.yaml"


def reduced(seeds: list[int], traffic: list[int], arms: list[str]) -> Any:
    data: dict[str, Any] = load_scenario(SCENARIO).model_dump(mode="json")
    data["seeds"] = seeds
    data["arms"] = [a for a in data["arms"] if a["name"] in arms]
    variants, lift, users = data["sweep"]["parameters"]
    variants["levels"] = [lv for lv in variants["levels"] if lv["value"] == 2]
    for level in variants["levels"]:  # only the kept arms' variants
        level["set"] = {k: v for k, v in level["set"].items()
                        if not k.startswith("arms.") or k.split(".")[1] in arms}  # fmt: skip
    lift["levels"] = [lv for lv in lift["levels"] if lv["value"] == 0.2]
    users["values"] = traffic
    data["sweep"]["maps"] = [
        {"metric": "regret_share", "arm": "thompson", "baseline": "ab_fixed_7d",
         "x": "lift", "y": "traffic"}
    ]  # fmt: skip
    data["executor"] = {"kind": "inline"}
    return scenario_from_dict(data)


def _at(frame: pd.DataFrame, traffic: int) -> pd.DataFrame:
    return frame[frame["traffic"] == traffic]


def test_headline_on_a_reduced_grid(tmp_path: Path) -> None:
    config = reduced([1, 2, 3], [1000, 20000], ["ab_fixed_7d", "thompson", "ucb1"])
    out = run_scenario(config, tmp_path / "map", progress=False)
    per_run = pd.read_csv(out / "metrics" / "sweep_per_run.csv")
    assert len(per_run) == 2 * 3 * 3
    share = per_run.pivot_table(index=["traffic", "seed"], columns="arm", values="regret_share")
    # 20k users: Thompson loses under a third of the A/B test's share, on every seed
    # (measured over 5 seeds: 0.002 vs 0.025).
    busy = share.loc[20000]
    assert (busy["thompson"] < busy["ab_fixed_7d"] / 3).all()
    diff = pd.read_csv(out / "metrics" / "sweep_diff_0.csv")
    assert bool(_at(diff, 20000)["excludes_zero"].iloc[0])
    # 1k users: the A/B test beats UCB1, whose optimism explores too long for that traffic
    # (5 seeds: 0.026 vs 0.068).
    quiet = share.loc[1000]
    assert quiet["ab_fixed_7d"].mean() < 0.6 * quiet["ucb1"].mean()
    # and at a 20% lift the 7-day test ships B on every seed at both traffic levels
    ab = per_run[per_run["arm"] == "ab_fixed_7d"]
    assert (ab["correct"] == 1.0).all()
    assert (out / "plots" / "sweep_map_0.png").exists()


@pytest.mark.slow
def test_full_map(tmp_path: Path) -> None:
    """The whole grid, 60 points × 5 arms, at the 5 seeds the scenario's description reports
    (1,500 runs: ≈ 10 CPU-minutes and ≈ 15 GB of logs; the scenario's 20 seeds, 6,000 runs and
    ≈ 60 GB, are a cluster job)."""
    data: dict[str, Any] = load_scenario(SCENARIO).model_dump(mode="json")
    data["seeds"] = [1, 2, 3, 4, 5]
    out = run_scenario(scenario_from_dict(data), tmp_path / "map", jobs=0, progress=False)
    per_run = pd.read_csv(out / "metrics" / "sweep_per_run.csv")
    assert len(per_run) == 1500
    winners = pd.read_csv(out / "metrics" / "sweep_winners_regret_share.csv")
    busy = winners[(winners["traffic"] >= 20000) & (winners["lift"] >= 0.05)]
    # with much traffic and a lift worth finding, a bandit beats both A/B tests on value
    assert set(busy["winner"]) <= {"thompson", "epsilon_greedy"}
