"""Each bundled scenario's headline conclusion, asserted on a reduced run of it.

A scenario's description says what its results show; these tests keep that true. Each run
is the bundled scenario with fewer seeds, users or days (``Reduction``), seeded, and each
assertion is sized for that run; each takes seconds to a minute, so all run in the default
suite (scenarios whose point needs the full horizon keep it and shrink the population).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from recarena.experiment.loading import load_scenario, scenario_from_dict
from recarena.experiment.runner import run_scenario

SCENARIOS = Path(__file__).parents[2] / "scenarios"


@dataclass(frozen=True)
class Reduction:
    """How a bundled scenario is shrunk for its headline test."""

    seeds: list[int]
    users: int
    days: float | None = None
    arrivals: float | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


def reduced_run(name: str, reduction: Reduction, out: Path) -> Path:
    """Run the bundled scenario ``name`` reduced, in-process, with its report."""
    data: dict[str, Any] = load_scenario(SCENARIOS / f"{name}.yaml").model_dump(mode="json")
    data["seeds"] = reduction.seeds
    population = data["world"]["population"]
    population["n_users"] = reduction.users
    if reduction.arrivals is not None:
        population["arrivals_per_day"] = reduction.arrivals
    if reduction.days is not None:
        data["schedule"]["days"] = reduction.days
    for dotted, value in reduction.overrides.items():
        *path, key = dotted.split(".")
        node = data
        for part in path:
            node = node[part]
        node[key] = value
    data["executor"] = {"kind": "inline", "jobs": 1}
    run_scenario(scenario_from_dict(data, source=name), out, progress=False)
    assert_every_plot_says_what_to_read(out)
    return out


def assert_every_plot_says_what_to_read(out: Path) -> None:
    """Every figure of the report has a caption sentence (not just its file name)."""
    page = (out / "report.html").read_text(encoding="utf-8")
    figures = re.findall(r'<figure id="fig-([^"]+)">.*?<figcaption>(.*?) <code>', page, re.S)
    assert figures
    for name, caption in figures:
        assert caption != name and len(caption.split()) >= 6, (name, caption)


def per_run(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "metrics" / "per_run.csv")


def by_seed(out: Path, metric: str) -> pd.DataFrame:
    """``seed × arm`` table of one per-run metric."""
    return per_run(out).pivot(index="seed", columns="arm", values=metric)


def metrics(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / "metrics" / f"{name}.csv")


# ----------------------------------------------------------------------------- headlines
def quickstart(out: Path) -> None:
    """The oracle earns well above popularity, which earns well above random — on every seed
    (at the calibrated levels, a few percent of random sessions click)."""
    reward = by_seed(out, "mean_expected_reward")
    assert (reward["random"] < 0.05).all()
    assert (reward["oracle"] > 1.5 * reward["popularity"]).all()
    assert (reward["popularity"] > 2.5 * reward["random"]).all()


def aa_test(out: Path) -> None:
    """Analysed per user (the randomisation unit) the fixed-horizon test keeps its error rate
    near α at every heterogeneity; per session the rate grows with heterogeneity; peeking
    inflates it; with a pre-period, CUPED removes variance without raising the error rate."""
    fpr = metrics(out, "experiments_fpr").set_index(["arm", "rule", "unit"])["fpr"]
    for arm in ("aa_heterogeneity_0", "aa_heterogeneity_1", "aa_heterogeneity_3"):
        assert fpr[arm, "fixed", "user"] <= 0.15
        assert fpr[arm, "peeking", "user"] >= fpr[arm, "fixed", "user"]
    per_session = fpr.xs(("fixed", "session"), level=("rule", "unit"))
    assert per_session["aa_heterogeneity_3"] > 0.2  # four times α
    assert per_session["aa_heterogeneity_3"] > per_session["aa_heterogeneity_0"]
    # the pre-period arm: CUPED removes variance and keeps its error rate near α
    cuped = metrics(out, "experiments_cuped_summary").set_index("arm")
    assert list(cuped.index) == ["aa_heterogeneity_3_cuped"]
    row = cuped.loc["aa_heterogeneity_3_cuped"]
    assert row["variance_reduction_low"] > 0.2
    assert row["sd_estimate"] < 0.85 * row["sd_estimate_unadjusted"]
    assert fpr["aa_heterogeneity_3_cuped", "cuped", "user"] <= 0.15


def ab_vs_bandits(out: Path) -> None:
    """Thompson sampling loses less than the fixed 7-day A/B test that then deploys."""
    regret = by_seed(out, "regret_per_decision")
    assert regret["thompson"].mean() < regret["ab_fixed_7d"].mean()


def bandit_recs(out: Path) -> None:
    """Bandits over items with cascade credit beat most-popular and random slates."""
    reward = by_seed(out, "mean_expected_reward")
    for arm in ("epsilon_greedy", "thompson"):
        assert (reward[arm] > reward["popularity"]).all()
        assert (reward[arm] > reward["random"]).all()


def recsys_classic(out: Path) -> None:
    """Personalised recommenders beat popularity and random online; the oracle bounds all."""
    reward = by_seed(out, "mean_expected_reward")
    learned = ["item_knn", "als", "bpr", "svd"]
    assert (reward[learned].min(axis=1) > reward["popularity"]).all()
    assert (reward["popularity"] > reward["random"]).all()
    assert (reward["oracle"] > reward.drop(columns="oracle").max(axis=1)).all()


def mf_comparison(out: Path) -> None:
    """Online every MF model beats popularity; offline every model ranks far above random."""
    reward = by_seed(out, "mean_expected_reward")
    for arm in ("als", "bpr", "svd", "lightfm_mf"):
        assert (reward[arm] > reward["popularity"]).all()
    offline = metrics(out, "recsys_offline_summary")
    hits = offline[(offline["slice"] == "all") & (offline["metric"] == "hit_rate@10")]
    hits = hits.set_index("model")["mean"]
    assert (hits.drop("random") > 3 * hits["random"]).all()


def cold_start(out: Path) -> None:
    """Offline, on items nobody had clicked at the split, content and hybrid models rank and
    pure CF cannot (it scores them like popularity: not at all)."""
    offline = metrics(out, "recsys_offline_summary")
    cold = offline[(offline["slice"] == "cold_items") & (offline["metric"] == "ndcg@10")]
    ndcg = cold.set_index("model")["mean"]
    for content in ("lightfm_hybrid", "text_tfidf", "similar_items"):
        for cf in ("als", "item_knn"):
            assert ndcg[content] > ndcg[cf]


def ab_recommenders(out: Path) -> None:
    """Before the first refit the two full deployments serve the same popularity fallback
    with the same random numbers, so they are one draw of the early feedback loop; the A/B
    arm's halves learn from half the traffic each and draw another."""
    first_day = {}
    for arm in ("ab_knn_vs_als", "item_knn", "als"):
        decisions = pd.read_parquet(out / "runs" / "seed=1" / f"arm={arm}" / "decisions.parquet")
        first_day[arm] = decisions[decisions["t"] < 1.0].drop(columns=["propensity", "group"])
    pd.testing.assert_frame_equal(first_day["item_knn"], first_day["als"])
    assert not first_day["ab_knn_vs_als"].equals(first_day["item_knn"])


def segmentation(out: Path) -> None:
    """k-means recovers the latent segments far better than RFM; every segment arm's slates
    beat global popularity."""
    scores = metrics(out, "segmentation_scores").groupby("method")["ari"].mean()
    assert scores["kmeans"] > scores["rfm"] + 0.2
    reward = by_seed(out, "mean_expected_reward")
    for arm in ("rules", "rfm", "kmeans"):
        assert (reward[arm] > reward["popularity"]).all()


def nba(out: Path) -> None:
    """On the evaluated campaigns, incremental-NPV targeting earns more than targeting by
    probability or by expected NPV, and the oracle the most."""
    outcomes = metrics(out, "nba_outcomes").groupby("arm")["expected_incremental_npv"].mean()
    assert outcomes["incremental"] > outcomes["probability"]
    assert outcomes["incremental"] > outcomes["expected_npv"]
    assert outcomes["oracle"] == outcomes.max()


def uplift_campaign(out: Path) -> None:
    """Uplift learners cause more incremental conversions than the response model, which
    also targets sure things and sleeping dogs; the oracle causes the most."""
    outcomes = metrics(out, "uplift_outcomes").groupby("arm")["true_incremental_conversions"]
    mean = outcomes.mean()
    assert mean[["s_learner", "t_learner", "x_learner"]].mean() > mean["response_model"]
    assert mean["oracle"] == mean.max()


def nonstationary(out: Path) -> None:
    """With this much traffic, stationary UCB1 follows the day-14 shift within days and
    loses less than the forgetting bandits, which keep paying for re-exploration."""
    regret = by_seed(out, "regret_per_decision")
    assert (regret["ucb1"] < regret["discounted_ucb"]).all()
    summary = metrics(out, "experiments_summary").set_index("arm")
    assert summary.loc["ucb1", "share_on_best_last_day"] > 0.5


def lookalike_retention(out: Path) -> None:
    """The churn classifiers find churners (ROC-AUC well above 0.5)."""
    auc = metrics(out, "lookalike_churn_auc").groupby("model")["roc_auc"].mean()
    assert (auc > 0.6).all()


def ope_validation(out: Path) -> None:
    """Close to the logger, IPS, SNIPS and DR are nearly unbiased; on the oracle target the
    per-banner reward model of DM misses (it ignores the features) and DR repairs it."""
    ope = metrics(out, "ope").set_index(["target", "estimator"])
    for estimator in ("ips", "snips", "dr"):
        assert abs(ope.loc[("always_B", estimator), "bias"]) < 0.01
    assert ope.loc[("oracle", "dm"), "bias"] < -0.02
    assert abs(ope.loc[("oracle", "dr"), "bias"]) < abs(ope.loc[("oracle", "dm"), "bias"]) / 2


Check = Callable[[Path], None]
HEADLINES: dict[str, tuple[Reduction, Check]] = {
    # popularity needs a week of the calibrated world's sparse clicks to settle
    "quickstart": (Reduction([1, 2], users=1500, days=7), quickstart),
    "aa_test": (Reduction(list(range(1, 21)), users=400), aa_test),
    "ab_vs_bandits": (Reduction([1, 2], users=3000, days=10), ab_vs_bandits),
    "bandit_recs": (Reduction([1, 2], users=600, days=5), bandit_recs),
    "recsys_classic": (Reduction([1], users=400, days=4, arrivals=10), recsys_classic),
    "mf_comparison": (Reduction([1], users=600, days=5, arrivals=10), mf_comparison),
    "cold_start": (Reduction([1], users=500, days=6, arrivals=30), cold_start),
    "ab_recommenders": (Reduction([1], users=400, days=1.5, arrivals=10), ab_recommenders),
    "segmentation": (Reduction([1], users=800, days=6, arrivals=10), segmentation),
    "uplift_campaign": (Reduction([1, 2], users=3000), uplift_campaign),
    "ope_validation": (Reduction([1, 2, 3], users=800, days=5), ope_validation),
    # the shift is on day 14: the run needs days after it
    "nonstationary": (Reduction([1], users=3000, days=24), nonstationary),
    # pilots on days 1 and 8, evaluated campaigns on days 15 and 22
    "nba": (Reduction([1], users=3000), nba),
    # the first retention campaign is on day 21, and its labels need 7 more days
    "lookalike_retention": (Reduction([1], users=1500, days=29), lookalike_retention),
}


def test_every_bundled_scenario_has_a_headline_test() -> None:
    bundled = {p.stem for p in SCENARIOS.glob("*.yaml")}
    # Scenarios whose headline needs its own fixtures live in their own modules: the sweep's
    # map on a reduced grid, the learned-ranker and neural scenarios, the long-term worlds.
    own_module = {
        "ab_vs_bandits_map": "test_ab_vs_bandits_map.py",
        "two_stage": "test_model_headlines.py",
        "neural": "test_model_headlines.py",
        "clickbait_trap": "test_long_term_scenarios.py",
        "filter_bubble": "test_long_term_scenarios.py",
        "drift": "test_long_term_scenarios.py",
    }
    for name, module in own_module.items():
        assert name in (Path(__file__).parent / module).read_text(encoding="utf-8"), name
    assert bundled == set(HEADLINES) | set(own_module)


@pytest.mark.parametrize("name", list(HEADLINES))
def test_headline(name: str, tmp_path: Path) -> None:
    reduction, check = HEADLINES[name]
    check(reduced_run(name, reduction, tmp_path / name))
