"""Tests of the experiments analysis: helpers on hand-made frames, A/A error rates on the
simulator's variant surface, and the report section on a small results directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recarena.analysis import experiments as ex
from recarena.analysis.results import RunDirectory
from recarena.experiment.loading import scenario_from_dict
from recarena.experiment.runner import run_scenario
from recarena.policies import registry
from recarena.policies.experiments.ab_split import ABSplitParams
from recarena.simulator.log import Col
from recarena.simulator.params import (
    BehaviourParams,
    CatalogueParams,
    PopulationParams,
    ScheduleParams,
    VariantParams,
    WorldParams,
)
from recarena.simulator.simulation import simulate
from tests.simulator.helpers import DENSE_BEHAVIOUR, DENSE_POPULATION

ALPHA = 0.05


# ====================================================================== helpers on frames
def frame(**columns: Any) -> pd.DataFrame:
    return pd.DataFrame({k: np.asarray(v) for k, v in columns.items()})


def test_look_counts_are_cumulative_per_variant() -> None:
    f = frame(t=[0.2, 0.9, 1.0, 1.5, 2.5, 3.5], group=[0, 1, 0, 1, -1, 0],
              click=[1, 0, 1, 1, 1, 0])  # fmt: skip
    successes, trials = ex.look_counts(f, np.array([1.0, 2.0, 3.0]), 2)
    np.testing.assert_array_equal(trials, [[2, 2, 2], [1, 2, 2]])  # t = 1.0 is in look 1
    np.testing.assert_array_equal(successes, [[2, 2, 2], [0, 1, 1]])  # 3.5 is past the looks


def test_allocation_share_on_best_and_pick() -> None:
    f = frame(t=[0.5, 0.6, 1.2, 1.4, 1.9], action=[0, 1, 1, 1, 0],
              expected_reward=[0.1, 0.2, 0.2, 0.2, 0.1],
              best_expected_reward=[0.2, 0.2, 0.2, 0.2, 0.2])  # fmt: skip
    alloc = ex.daily_allocation(f, Col.ACTION, 2.0)
    np.testing.assert_allclose(alloc[ex.SHARE], [0.5, 0.5, 1 / 3, 2 / 3])
    share = ex.daily_share_on_best(f, 2.0)
    np.testing.assert_allclose(share[ex.SHARE_ON_BEST], [0.5, 2 / 3])
    assert ex.modal_choice(f, Col.ACTION, since=1.0) == 1
    assert ex.modal_choice(f, Col.ACTION, since=5.0) == -1
    np.testing.assert_allclose(ex.variant_values(f, Col.ACTION, 3, until=1.0), [0.1, 0.2, np.nan])


def test_expected_outcome_of_campaign_rows() -> None:
    f = frame(offer=[-1, 0], p_treated=[0.3, 0.4], p_control=[0.1, 0.2])
    np.testing.assert_allclose(ex.expected_outcome(f), [0.1, 0.4])


def test_proportion_ci_is_clopper_pearson() -> None:
    p, low, high = ex.proportion_ci(0, 10)
    assert p == 0.0 and low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / 10))
    assert np.isnan(ex.proportion_ci(0, 0)[0])


# ====================================================================== A/A on the simulator
def aa_world(n_users: int, heterogeneity: float = 0.0) -> WorldParams:
    """One banner with a 5% mean CTR; both groups of the split see it. With heterogeneity,
    users' click probabilities differ (σ(a + h w·x_u)), so a user's sessions are correlated."""
    return WorldParams(
        population=PopulationParams(
            n_users=n_users,
            n_segments=1,
            numeric_features=["x"],
            categorical_features={},
            **DENSE_POPULATION,
        ),
        catalogue=CatalogueParams(n_items=1, n_categories=1),
        behaviour=BehaviourParams(**DENSE_BEHAVIOUR),  # the aa_test scenario's levels
        variants=[VariantParams(name="banner", ctr=0.05, heterogeneity=heterogeneity)],
    )


AA_CONFIG = {
    "kind": "ab_split",
    "variants": [{"name": "A1", "policy": {"kind": "fixed"}},
                 {"name": "A2", "policy": {"kind": "fixed"}}],
}  # fmt: skip


def aa_rejections(
    seeds: range, n_users: int, days: float, heterogeneity: float = 0.0, window: float = 1.0
) -> dict[str, np.ndarray]:
    """Per rule (``<rule>`` per user, ``<rule>_session`` per session), whether each seed's A/A
    test rejected (daily looks, α = 5%)."""
    world = aa_world(n_users, heterogeneity)
    schedule = ScheduleParams(
        days=days, surface="variant", decision_window=window, keep_impressions=False
    )
    params = ex.ABDesign.from_config(ABSplitParams.model_validate(AA_CONFIG).model_dump())
    out: dict[str, list[bool]] = {}
    for seed in seeds:
        policy = registry.make(AA_CONFIG)
        result = simulate(world, schedule, seed, session_policy=policy, oracle_columns=False)
        decisions = result.log.frame("decisions")
        for unit in ex.UNITS:
            for method in ex.METHODS:
                name = method if unit == "user" else f"{method}_session"
                replay = ex.replay_test(decisions, params, days, method, unit)
                out.setdefault(name, []).append(replay.significant)
    return {m: np.asarray(v) for m, v in out.items()}


def cuped_runs(ctrs: tuple[float, ...], actions: tuple[int, int], seeds: range) -> pd.DataFrame:
    """Per seed, CUPED of an A/B split of the banners ``actions`` with a 7-day pre-period
    over 14 days (1,000 users, heterogeneity 3, 6-hour windows) and the oracle's true
    difference of the groups' CTRs in the test (``truth``: mean expected reward per session
    of each group, no click noise)."""
    variants = [VariantParams(name=f"V{i}", ctr=c, heterogeneity=3.0) for i, c in enumerate(ctrs)]
    world = WorldParams(
        population=PopulationParams(n_users=1000, **DENSE_POPULATION),
        catalogue=CatalogueParams(n_items=5, n_categories=1), variants=variants,
        behaviour=BehaviourParams(**DENSE_BEHAVIOUR),  # the aa_test scenario's levels
    )  # fmt: skip
    schedule = ScheduleParams(days=14.0, surface="variant", decision_window=0.25,
                              keep_impressions=False)  # fmt: skip
    config = {**AA_CONFIG, "pre_period_days": 7.0, "horizon_days": 14.0,
              "variants": [{"name": f"A{i}", "policy": {"kind": "fixed", "action": a}}
                           for i, a in enumerate(actions)]}  # fmt: skip
    params = ex.ABDesign.from_config(ABSplitParams.model_validate(config).model_dump())
    rows = []
    for seed in seeds:
        result = simulate(world, schedule, seed, session_policy=registry.make(config))
        decisions = result.log.frame("decisions")
        cuped = ex.cuped_comparisons(decisions, params, until=14.0).iloc[0]
        values = ex.variant_values(params.split(decisions)[1], Col.GROUP, 2, 14.0)
        rows.append({**cuped.to_dict(), "truth": values[1] - values[0]})
    return pd.DataFrame(rows)


def test_cuped_on_simulated_aa_and_ab_tests() -> None:
    """Seeds 1-30 of an A/A (both groups on one banner) and an A/B (CTR 5% vs 7%) with user
    heterogeneity 3 and a 7-day pre-period: CUPED removes variance in every A/A run and its
    estimates scatter less over seeds than the raw ones; in the A/B its estimate is unbiased
    for the oracle's true difference (the mean error is within 3 standard errors of 0)."""
    aa = cuped_runs((0.05,), (0, 0), range(1, 31))
    assert (aa["variance_reduction"] > 0.1).all()  # 0.17-0.84, mean 0.51
    assert aa["estimate"].std() < 0.85 * aa["estimate_unadjusted"].std()  # 0.0101 vs 0.0164
    ab = cuped_runs((0.05, 0.07), (0, 1), range(1, 31))
    assert (ab["variance_reduction"] > 0).all()
    error = ab["estimate"] - ab["truth"]
    assert abs(error.mean()) < 3 * error.std() / np.sqrt(len(error))  # −0.0012, SE 0.0013


def check_aa(rejections: dict[str, np.ndarray], level: float) -> None:
    """Fixed-horizon and O'Brien–Fleming: α inside the exact CI of the observed rate;
    peeking: the whole CI above α; mSPRT: observed rate at most α."""
    for method in ("fixed", "obrien_fleming"):
        r = rejections[method]
        _, low, high = ex.proportion_ci(int(r.sum()), r.size, level)
        assert low <= ALPHA <= high, (method, r.mean(), low, high)
    r = rejections["peeking"]
    _, low, _ = ex.proportion_ci(int(r.sum()), r.size, level)
    assert low > ALPHA, ("peeking", r.mean(), low)
    assert rejections["sequential_msprt"].mean() <= ALPHA


def test_aa_false_positive_rates() -> None:
    """300 seeds, 7 daily looks: CI-path version of the A/A check (~15 s)."""
    check_aa(aa_rejections(range(300), n_users=1000, days=7.0), level=0.99)


def test_per_user_analysis_holds_alpha_where_sessions_do_not() -> None:
    """Heterogeneity 3 (sessions of a user strongly correlated), 120 seeds: the per-user
    fixed-horizon rate stays inside the 99.9% binomial band of α = 5% (0–15 of 120); the
    per-session rate is above it (0.35 over 300 seeds on the bundled world)."""
    r = aa_rejections(range(120), n_users=1000, days=7.0, heterogeneity=3.0)
    low, high = stats.binom.interval(0.999, 120, ALPHA)
    assert low <= r["fixed"].sum() <= high, r["fixed"].mean()
    assert r["fixed_session"].sum() > high, r["fixed_session"].mean()


@pytest.mark.slow
@pytest.mark.parametrize("heterogeneity", [0.0, 1.0, 3.0])
def test_aa_rates_per_user_and_per_session_on_the_bundled_world(heterogeneity: float) -> None:
    """The aa_test world (2,000 users, 14 days, 6-hour windows, daily looks), 300 seeds per
    heterogeneity: every rule's A/A rate with its exact 95% interval, per user and per
    session (printed; run with -s). The per-user fixed-horizon rate lies in [0.03, 0.08]."""
    r = aa_rejections(range(300), n_users=2000, days=14.0, heterogeneity=heterogeneity,
                      window=0.25)  # fmt: skip
    for name, values in r.items():
        rate, low, high = ex.proportion_ci(int(values.sum()), values.size, 0.95)
        print(f"AA h={heterogeneity:g} {name:28s} {values.sum():4d}/{values.size} "
              f"{rate:.3f} [{low:.3f}, {high:.3f}]")  # fmt: skip
    assert 0.03 <= r["fixed"].mean() <= 0.08
    _, low, _ = ex.proportion_ci(int(r["sequential_msprt"].sum()), 300, 0.95)
    assert low <= ALPHA


@pytest.mark.slow
def test_aa_false_positive_rates_many_seeds() -> None:
    """2,000 seeds, 14 daily looks (a few minutes)."""
    rejections = aa_rejections(range(1000, 3000), n_users=1000, days=14.0)
    check_aa(rejections, level=0.99)
    assert rejections["peeking"].mean() > 2 * ALPHA


# ====================================================================== a results directory
def small_scenario(out: Path) -> Path:
    fixed = [{"name": n, "policy": {"kind": "fixed", "action": a}} for n, a in (("A", 0), ("B", 1))]
    same = [{"name": n, "policy": {"kind": "fixed", "action": 0}} for n in ("A1", "A2")]
    data = {
        "name": "exp_small",
        "seeds": [1, 2],
        "world": {"population": {"n_users": 800}, "catalogue": {"n_items": 5},
                  "variants": [{"name": "A", "ctr": 0.03}, {"name": "B", "ctr": 0.09}]},
        "schedule": {"days": 6, "surface": "variant", "decision_window": 0.5},
        "arms": [
            {"name": "ab", "policy": {"kind": "ab_split", "variants": fixed, "commit": True,
                                      "test": "sequential_msprt", "msprt_tau": 0.05}},
            {"name": "aa", "policy": {"kind": "ab_split", "variants": same}},
            {"name": "thompson", "policy": {"kind": "thompson"}},
            {"name": "meta", "policy": {"kind": "bandit_over_policies", "policies": fixed}},
        ],
        "executor": {"kind": "inline"},
    }  # fmt: skip
    return run_scenario(scenario_from_dict(data), out, progress=False, report=False)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_scenario(tmp_path_factory.mktemp("exp") / "out")


def test_analyse_experiments_scores_every_arm(results: Path) -> None:
    analysis = ex.analyse_experiments(RunDirectory(results))
    assert analysis is not None
    runs = analysis.runs.set_index(["arm", "seed"])
    assert set(runs.index.get_level_values(0)) == {"ab", "aa", "thompson", "meta"}
    ab = runs.loc["ab"]
    assert ab["significant"].all() and (ab["winner_name"] == "B").all() and (ab["best"] == 1).all()
    assert (ab["correct"] == 1).all()
    assert runs.loc["aa"]["null"].all() and runs.loc["aa"]["correct"].isna().all()
    # thompson is scored against the A/B arm's variant values; meta against the same split
    assert (runs.loc["thompson"]["best"] == 1).all() and (runs.loc["meta"]["best"] == 1).all()
    fpr = analysis.false_positive_rates()
    assert set(fpr["arm"]) == {"aa"} and set(fpr["rule"]) == set(ex.METHODS)
    assert (fpr["runs"] == 2).all()
    summary = analysis.summary().set_index("arm")
    assert summary.loc["ab", "p_correct"] == 1.0 and summary.loc["ab", "rejected_share"] == 1.0
    assert np.isnan(summary.loc["aa", "p_correct"])
    alloc = analysis.allocation
    daily = alloc.groupby(["arm", "seed", ex.DAY])[ex.SHARE].sum()
    np.testing.assert_allclose(daily.dropna(), 1.0)
    traj = analysis.trajectories
    ab_traj = traj[traj["arm"] == "ab"]
    assert (ab_traj[Col.T] <= runs.loc["ab"]["decision_time"].max()).all()  # cut at commit


def test_report_section_writes_tables_and_figures(results: Path) -> None:
    from recarena.analysis.registry import SECTIONS
    from recarena.analysis.report import write_report
    from recarena.analysis.sections import experiments as section

    assert sum(getattr(s, "title", "") == section.TITLE for s in SECTIONS) == 1
    report = write_report(results)
    html = report.read_text(encoding="utf-8")
    assert section.TITLE in html and "A/A false-positive rates" in html
    for name in ("experiments_runs", "experiments_summary", "experiments_fpr",
                 "experiments_allocation", "experiments_trajectories"):  # fmt: skip
        assert (results / "metrics" / f"{name}.csv").exists(), name
    for name in ("experiments_regret_logt", "experiments_allocation", "experiments_pvalues",
                 "experiments_share_on_best", "experiments_confidence_sequences"):  # fmt: skip
        assert (results / "plots" / f"{name}.png").exists(), name


def test_bernoulli_means_only_for_plain_stationary_banners() -> None:
    from recarena.analysis.sections.experiments import bernoulli_means

    variants = [{"name": "A", "ctr": 0.05}, {"name": "B", "ctr": 0.06}]
    base = {"world": {"variants": variants}, "schedule": {"surface": "variant"}}
    np.testing.assert_allclose(bernoulli_means(base, 10.0), [0.05, 0.06])  # type: ignore[arg-type]
    hetero = {**base, "world": {"variants": [{**variants[0], "heterogeneity": 0.5}, variants[1]]}}
    assert bernoulli_means(hetero, 10.0) is None
    shifted = {**base, "world": {"variants": variants, "shift_day": 5}}
    assert bernoulli_means(shifted, 10.0) is None
    assert bernoulli_means(shifted, 4.0) is not None
    assert bernoulli_means({**base, "schedule": {"surface": "slate"}}, 10.0) is None


def test_ab_health_flags_srm_and_cuped_uses_the_pre_period() -> None:
    rng = np.random.default_rng(11)
    n_users = 4000
    group = (rng.random(n_users) < 0.56).astype(np.int64)  # designed 50/50: a mismatch
    rate = rng.beta(1, 9, n_users)  # persistent per-user click rates: pre predicts post
    rows = []
    for day in range(1, 8):
        pre = day <= 2  # everyone on the control during the 2-day pre-period
        rows.append(pd.DataFrame({
            Col.T: day - 0.5, Col.USER: np.arange(n_users),
            Col.GROUP: np.zeros(n_users, np.int64) if pre else group,
            Col.CLICK: rng.random(n_users) < rate,
        }))  # fmt: skip
    frame = pd.concat(rows, ignore_index=True)
    config = {**AA_CONFIG, "pre_period_days": 2.0}
    params = ex.ABDesign.from_config(ABSplitParams.model_validate(config).model_dump())
    health = ex.ab_health(frame, params, until=7.0)
    counts = np.bincount(group, minlength=2)  # assignment counted on the test's rows only
    assert health["srm_p"] == pytest.approx(stats.chisquare(counts).pvalue, rel=1e-9)
    assert health["srm_mismatch"] == 1.0
    # y: clicks per session on days 3-7 (5 sessions), x: on days 1-2 (2 sessions); with
    # v = var(rate) = 0.0082 and E[r(1 − r)] = 0.082, ρ = v / √((v + 0.082/2)(v + 0.082/5))
    # = 0.235, so ρ² = 0.055 (its sampling sd at 4,000 users is about 0.01)
    assert 0.03 < health["cuped_variance_reduction"] < 0.09
    assert health["cuped_variance_reduction"] == pytest.approx(health["cuped_rho"] ** 2)
    table = ex.cuped_comparisons(frame, params, until=7.0)
    assert list(table["users_control"] + table["users_treatment"]) == [n_users]
    assert table["estimate"].iloc[0] == pytest.approx(health["cuped_estimate"])
    # without a pre-period there is no covariate the treatment cannot have touched
    plain = ex.ABDesign.from_config(ABSplitParams.model_validate(AA_CONFIG).model_dump())
    assert np.isnan(ex.ab_health(frame, plain, until=7.0)["cuped_variance_reduction"])
    assert len(ex.cuped_comparisons(frame, plain, until=7.0)) == 0
    balanced = frame.assign(**{Col.GROUP: np.tile(np.arange(n_users) % 2, 7)})
    assert ex.ab_health(balanced, params, until=7.0)["srm_mismatch"] == 0.0
