"""Monte-Carlo checks of whole runs against the mechanisms' formulas (seeded, small worlds).

Each check compares a count from the event log with its expectation under the model and
allows 4.5 standard errors; the seeds are fixed, so the outcome is deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest

from recarena.policies import registry
from recarena.simulator.campaigns import offer_logits
from recarena.simulator.log import LIFECYCLE_CHURN
from recarena.simulator.params import ScheduleParams
from recarena.simulator.simulation import simulate
from tests.simulator.helpers import OfferToAll, world_params

Z = 4.5


def _z(observed: float, expected: float, variance: float) -> float:
    return abs(observed - expected) / np.sqrt(variance)


# Static utilities (no fatigue, no drift) so slot probabilities can be recomputed afterwards.
STATIC = {"fatigue": 0.0, "drift_sd": 0.0, "no_choice_utility": 3.0}


@pytest.mark.parametrize("choice_model", ["mnl", "cascade"])
def test_slot_click_shares_match_the_choice_model(choice_model: str) -> None:
    params = world_params(400, 60, behaviour={**STATIC, "choice_model": choice_model})
    res = simulate(
        params, ScheduleParams(days=8, slate_size=5), 21,
        session_policy=registry.make({"kind": "random"}),
    )  # fmt: skip
    dec = res.log.frame("decisions")
    slates = np.stack(dec["slate"]).astype(np.int64)
    probs = res.engine.users.slot_probabilities(dec["user"].to_numpy(), slates)
    # The logged expected reward is P(any click) under the same model.
    np.testing.assert_allclose(dec["expected_reward"], probs.sum(axis=1), rtol=1e-6)
    position = dec["clicked_position"].to_numpy()
    for j in range(5):
        hits = float((position == j).sum())
        p = probs[:, j]
        assert _z(hits, p.sum(), (p * (1 - p)).sum()) < Z, (choice_model, j)
    p_any = probs.sum(axis=1)
    clicks = float(dec["click"].sum())
    assert _z(clicks, p_any.sum(), (p_any * (1 - p_any)).sum()) < Z
    assert len(dec) > 2000


def test_clicks_match_expected_reward_with_fatigue_and_drift() -> None:
    """With state that changes (fatigue, drift), the logged P(click) still predicts clicks."""
    params = world_params(400, 60, behaviour={"fatigue": 2.0, "drift_sd": 0.2})
    res = simulate(
        params, ScheduleParams(days=8, slate_size=5), 22,
        session_policy=registry.make({"kind": "popularity"}),
    )  # fmt: skip
    dec = res.log.frame("decisions")
    p = dec["expected_reward"].to_numpy(dtype=float)
    assert _z(float(dec["click"].sum()), p.sum(), (p * (1 - p)).sum()) < Z


def test_variant_clicks_match_click_probabilities() -> None:
    variants = [{"name": "a", "ctr": 0.1, "heterogeneity": 1.0}, {"name": "b", "ctr": 0.3}]
    res = simulate(
        world_params(400, 10, variants=variants), ScheduleParams(days=8, surface="variant"), 23,
        session_policy=registry.make({"kind": "random"}),
    )  # fmt: skip
    dec = res.log.frame("decisions")
    for arm in (0, 1):
        rows = dec[dec["action"] == arm]
        p = rows["expected_reward"].to_numpy(dtype=float)
        assert _z(float(rows["click"].sum()), p.sum(), (p * (1 - p)).sum()) < Z, arm
    assert dec[dec["action"] == 1]["click"].mean() == pytest.approx(0.3, abs=0.03)


def test_conversions_match_the_conversion_probability() -> None:
    """P(purchase | click) = σ(α + γ u) with u the clicked item's utility (static world)."""
    params = world_params(
        400, 60, behaviour={**STATIC, "conversion_intercept": -0.5, "conversion_slope": 0.7,
                            "conversion_delay_mean": 0.1}
    )  # fmt: skip
    res = simulate(
        params, ScheduleParams(days=8, slate_size=5), 24,
        session_policy=registry.make({"kind": "random"}),
    )  # fmt: skip
    dec = res.log.frame("decisions")
    clicked = dec[(dec["click"] == 1) & (dec["t"] < 7.0)]  # delays of > 1 day: e^-10
    users = clicked["user"].to_numpy()
    items = clicked["clicked_item"].to_numpy(dtype=np.int64)[:, None]
    u = res.engine.users.slate_utilities(users, items)[:, 0]
    p = 1 / (1 + np.exp(-(-0.5 + 0.7 * u)))
    conv = res.log.frame("conversions")
    n_conv = float((conv["click_t"] < 7.0).sum())
    assert len(clicked) > 500
    assert _z(n_conv, p.sum(), (p * (1 - p)).sum()) < Z


def test_session_counts_are_poisson_in_the_activity_rate() -> None:
    """With β_a = 0 and no churn a user's sessions form a Poisson process of rate λ_u."""
    days = 14.0
    params = world_params(
        500, 40, behaviour={"activity_satisfaction": 0.0, "churn_base_hazard": 0.0}
    )
    res = simulate(
        params, ScheduleParams(days=days, slate_size=5), 25,
        session_policy=registry.make({"kind": "random"}),
    )  # fmt: skip
    dec = res.log.frame("decisions")
    rate = res.world.users.activity
    counts = np.bincount(dec["user"], minlength=rate.size)
    mu = rate * days
    assert _z(counts.sum(), mu.sum(), mu.sum()) < Z
    dispersion = ((counts - mu) ** 2).sum() / mu.sum()  # ≈ 1; sd ≈ 0.08 here
    assert 0.65 < dispersion < 1.35
    # Session counters run 0, 1, 2, … per user, in time order.
    for _, group in dec.groupby("user"):
        np.testing.assert_array_equal(group["session"], np.arange(len(group)))
        assert group["t"].is_monotonic_increasing
    # First gap (counter 0) ~ Exp(λ_u): mean of λ_u · gap is 1 (censoring ≈ 0 for λ_u T > 8).
    first = dec[dec["session"] == 0].set_index("user")["t"]
    keep = first.index[mu[first.index] > 8]
    scaled = first[keep].to_numpy() * rate[keep]
    assert abs(scaled.mean() - 1.0) < Z / np.sqrt(len(scaled))


@pytest.mark.parametrize("checkpoint", [1.0, 0.5])
def test_churn_survival_follows_the_hazard(checkpoint: float) -> None:
    """No sessions ⇒ satisfaction stays 0 ⇒ constant hazard h₀: S(t) = exp(−h₀ t)."""
    hazard, n = 0.3, 10_000  # sized so that P = h·Δt instead of 1 − exp(−h Δt) fails
    params = world_params(n, 5, behaviour={"churn_base_hazard": hazard})
    res = simulate(params, ScheduleParams(days=14, surface="none", checkpoint_every=checkpoint), 26)
    life = res.log.frame("lifecycle")
    churn_t = life[life["event"] == LIFECYCLE_CHURN]["t"].to_numpy()
    times = np.arange(1, 15) * 1.0
    survival = np.array([1 - (churn_t <= t).sum() / n for t in times])
    expected = np.exp(-hazard * times)
    se = np.sqrt(expected * (1 - expected) / n)
    assert (np.abs(survival - expected) < Z * se).all(), (survival, expected)
    snaps = res.log.frame("snapshots").set_index("t")
    np.testing.assert_array_equal(snaps.loc[times, "active_users"], np.round(survival * n))


def test_satisfaction_lowers_the_churn_hazard() -> None:
    """h = h₀ exp(−β s): good slates (oracle) keep more users than random ones."""
    params = world_params(600, 80, behaviour={"churn_base_hazard": 0.1, "churn_satisfaction": 10.0})
    alive = {}
    for kind in ("oracle", "random"):
        res = simulate(params, ScheduleParams(days=10, slate_size=5), 27,
                       session_policy=registry.make({"kind": kind}))  # fmt: skip
        alive[kind] = res.log.frame("snapshots")["active_users"].iloc[-1]
    assert alive["oracle"] > alive["random"] + 50


def test_offer_responses_match_p0_and_p1() -> None:
    offers = [
        {"name": "coupon", "base_rate": 0.1, "effect": 1.0},
        {"name": "gift", "base_rate": 0.05, "effect": 2.0, "conversion_cost": 20.0},
    ]
    params = world_params(2000, 5, offers=offers, behaviour={"churn_base_hazard": 0.0})
    schedule = ScheduleParams(days=8, surface="none", campaign_days=[1.0, 2.0, 3.0, 4.0, 5.0])
    res = simulate(params, schedule, 28, campaign_policy=registry.make({"kind": "random"}))
    camp = res.log.frame("campaigns")
    users = camp["user"].to_numpy()
    about = camp["control_for"].to_numpy()
    treated = camp["offer"].to_numpy() >= 0
    np.testing.assert_array_equal(about[treated], camp["offer"].to_numpy()[treated])
    # Oracle columns are the world's P1/P0 of the offer each row is about.
    logit0, logit1 = offer_logits(
        res.world.features[users], res.world.users.response_type[users], res.world.offers
    )
    rows = np.arange(users.size)
    p1 = 1 / (1 + np.exp(-logit1[rows, about]))
    p0 = 1 / (1 + np.exp(-logit0[rows, about]))
    np.testing.assert_allclose(camp["p_treated"], p1, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(camp["p_control"], p0, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(camp["true_effect"], p1 - p0, atol=1e-6)
    responded = camp["responded"].to_numpy().astype(float)
    for group, p in ((treated, p1), (~treated, p0)):
        assert group.sum() > 3000
        pg = p[group]
        assert _z(responded[group].sum(), pg.sum(), (pg * (1 - pg)).sum()) < Z
    # Per offer and response type: persuadables gain, sleeping dogs lose, others unchanged.
    types = res.world.users.response_type[users]
    effect = camp["true_effect"].to_numpy()
    assert (effect[types == 0] > 0).mean() > 0.9 and (effect[types == 3] < 0).mean() > 0.9
    np.testing.assert_allclose(effect[(types == 1) | (types == 2)], 0.0, atol=1e-6)
    # Realised NPV of a contact: value − conversion cost on response, − contact cost; 0 for
    # untreated rows. Incremental NPV also subtracts the value of the counterfactual untreated
    # response, which shares the treated response's uniform (p0 ≤ p1 ⇒ it implies a response).
    value = np.array([100.0, 100.0])[about]
    conv_cost = np.array([10.0, 20.0])[about]
    gain = responded * (value - conv_cost) - 1.0
    np.testing.assert_allclose(camp["npv"], np.where(treated, gain, 0.0))
    incremental = camp["incremental_npv"].to_numpy()
    np.testing.assert_array_equal(incremental[~treated], 0.0)
    lost = gain - incremental  # value of the untreated counterfactual response (0 or value)
    assert np.isin(np.round(lost[treated], 9), [0.0, 100.0]).all()
    # With p0 > p1 (sleeping dogs) the counterfactual may respond while the treated did not.
    sure = treated & (camp["p_control"].to_numpy() <= camp["p_treated"].to_numpy())
    assert (responded[sure] >= (lost[sure] > 0)).all()


def test_retention_offer_scales_the_churn_hazard_by_response_type() -> None:
    """Contact multiplies the hazard by exp(−sign·effect) for ``retention_days``:
    lower for persuadables, higher for sleeping dogs, unchanged for the others."""
    effect, h0, n = 1.5, 0.1, 6000
    params = world_params(
        n, 5, offers=[{"name": "save", "retention_effect": effect, "retention_days": 2.5}],
        behaviour={"churn_base_hazard": h0},
    )  # fmt: skip
    schedule = ScheduleParams(days=6, surface="none", campaign_days=[1.0])
    res = simulate(params, schedule, 29, campaign_policy=OfferToAll())
    camp = res.log.frame("campaigns")
    assert (camp["offer"] == 0).all()
    life = res.log.frame("lifecycle")
    churn = life[life["event"] == LIFECYCLE_CHURN].set_index("user")["t"]
    churn_t = churn.reindex(np.arange(n)).to_numpy()  # NaN = never churned
    types = res.world.users.response_type
    treated = np.zeros(n, dtype=bool)
    treated[camp["user"]] = True
    sign = np.array([1.0, 0.0, 0.0, -1.0])
    for day in range(2, 7):
        # Contact at day 1 (after that day's churn step) lasts until 3.5: days 2 and 3.
        on = day <= 3
        for code in range(4):
            at_risk = treated & (types == code) & ~(churn_t < day)
            churned = float((churn_t[at_risk] == day).sum())
            hazard = h0 * (np.exp(-sign[code] * effect) if on else 1.0)
            p = 1 - np.exp(-hazard)
            n_risk = at_risk.sum()
            assert _z(churned, n_risk * p, n_risk * p * (1 - p)) < Z, (day, code)
