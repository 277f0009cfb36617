"""The SimPy engine: event order, feedback delivery, campaigns, churn and availability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recarena.contract import FeedbackKind, Surface
from recarena.numerics.counter_rng import Purpose, uniform
from recarena.policies import registry
from recarena.simulator.campaigns import offer_eligibility
from recarena.simulator.engine import _PendingConversions, _time_order
from recarena.simulator.log import Col
from recarena.simulator.params import BehaviourParams, ScheduleParams
from recarena.simulator.reference import (
    reference_churn_probability,
    reference_exponential_from_uniform,
)
from recarena.simulator.rng import RandomStreams
from recarena.simulator.simulation import SimulationResult, simulate
from tests.simulator.helpers import SEQUENCE, OfferToAll, RecordingPolicy, world_params

PHASE = {
    "act:slate": 1,
    "learn:click": 2,
    "learn:conversion": 2,
    "daily": 3,
    "act:campaign": 4,
    "learn:response": 4,
    "fit": 5,
}


def _record(**schedule: object) -> tuple[SimulationResult, RecordingPolicy, RecordingPolicy, list]:
    session, campaign = RecordingPolicy(), RecordingPolicy()
    daily: list[tuple[float, int, str]] = []
    res = simulate(
        world_params(300, 60, behaviour={"conversion_delay_mean": 0.2}, offers=[{"name": "a"}]),
        ScheduleParams.model_validate(schedule),
        seed=4,
        session_policy=session,
        campaign_policy=campaign,
        progress=lambda t: daily.append((t, next(SEQUENCE), "daily")),
    )
    return res, session, campaign, daily


def test_equal_time_events_run_sessions_feedback_daily_campaign_retrain() -> None:
    res, session, campaign, daily = _record(
        days=3, slate_size=5, feedback_every=1.0, campaign_days=[1.0, 2.0], retrain_every=1.0
    )
    calls = sorted(session.calls + campaign.calls + daily, key=lambda call: call[1])
    for day in (1.0, 2.0):
        at = [what for t, _, what in calls if t == day]
        phases = [PHASE[what] for what in at]
        assert set(phases) == {1, 2, 3, 4, 5}, (day, at)
        assert phases == sorted(phases), (day, at)
    # Retraining alone at t = 3 still comes after the sessions, feedback and snapshot.
    at3 = [PHASE[what] for t, _, what in calls if t == 3.0]
    assert at3 == sorted(at3) and at3[-1] == 5 and at3[0] == 1
    assert res.stats.fits == 6  # two batch-fit policies × days 1, 2, 3


def test_retrain_sees_history_up_to_now() -> None:
    res, session, _, _ = _record(days=3, slate_size=5, retrain_every=1.0)
    decisions = res.log.frame("decisions")
    assert [h.t for h in session.histories] == [1.0, 2.0, 3.0]
    for history in session.histories:
        for table in (history.clicks, history.conversions, history.impressions):
            assert (table["t"] <= history.t).all()
        assert len(history.clicks) == int(decisions[decisions["t"] <= history.t]["click"].sum())
        assert len(history.impressions) == int((decisions["t"] <= history.t).sum())
    fits = res.log.frame("fits")
    np.testing.assert_array_equal(fits["t"], [1.0, 1.0, 2.0, 2.0, 3.0, 3.0])


@pytest.mark.parametrize("every", [0.0, 0.5, 1.0])
def test_feedback_every_buffers_click_feedback(every: float) -> None:
    res, session, _, _ = _record(days=3, slate_size=5, feedback_every=every)
    decisions = res.log.frame("decisions")
    clicks = [f for f in session.feedback if f.kind is FeedbackKind.CLICK]
    window = 0.05
    period = every if every > 0 else window
    for fb in clicks:
        assert fb.surface is Surface.SLATE and fb.clicked_position is not None
        # Delivered on the period's grid, about decisions made within the last period.
        assert abs(fb.t / period - round(fb.t / period)) < 1e-9
        assert fb.decision_time.max() <= fb.t + 1e-12
        assert fb.decision_time.min() > fb.t - period - 1e-12
    delivered = pd.DataFrame(
        {
            "user": np.concatenate([f.users for f in clicks]),
            "t": np.concatenate([f.decision_time for f in clicks]),
            "click": np.concatenate([f.rewards for f in clicks]).astype(np.int8),
        }
    )
    # Every decision of the (whole-day) horizon is delivered once, with its outcome.
    expected = decisions[["user", "t", "click"]]
    pd.testing.assert_frame_equal(
        delivered.sort_values(["t", "user"]).reset_index(drop=True),
        expected.sort_values(["t", "user"]).reset_index(drop=True),
        check_dtype=False,
    )
    n_expected = 3 / every if every > 0 else len(session.requests)
    assert len(clicks) == n_expected


def test_conversions_arrive_after_their_click_and_never_before() -> None:
    res, session, _, _ = _record(days=6, slate_size=5)
    decisions = res.log.frame("decisions")
    conv = res.log.frame("conversions")
    assert len(conv) > 30
    assert (conv["t"] >= conv["click_t"]).all() and (conv["t"] > conv["click_t"]).mean() > 0.99
    # Each conversion follows a logged click on the same item, for its item's revenue.
    clicked = decisions[decisions["click"] == 1][["user", "t", "clicked_item"]]
    merged = conv.merge(
        clicked.rename(columns={"t": "click_t"}), on=["user", "click_t"], how="left"
    )
    assert merged["clicked_item"].notna().all()
    np.testing.assert_array_equal(merged["item"], merged["clicked_item"])
    items = res.world.items
    np.testing.assert_allclose(conv["revenue"], (items.price * items.margin)[conv["item"]])
    # Delivered to the policy at the first window end at or after the conversion time.
    fb = [f for f in session.feedback if f.kind is FeedbackKind.CONVERSION]
    delivered = pd.DataFrame(
        {
            "user": np.concatenate([f.users for f in fb]),
            "click_t": np.concatenate([f.decision_time for f in fb]),
            "delivered": np.concatenate([np.full(f.size, f.t) for f in fb]),
            "item": np.concatenate([f.actions for f in fb]),
        }
    )
    both = conv.merge(delivered, on=["user", "click_t", "item"], validate="one_to_one")
    assert len(both) == len(conv)
    assert (both["delivered"] >= both["t"]).all()
    assert (both["delivered"] < both["t"] + 0.05 + 1e-9).all()
    assert (both["delivered"] > both["click_t"]).all()


def test_conversion_delay_is_exponential_with_its_mean() -> None:
    delay = 0.5
    res = simulate(
        world_params(400, 60, behaviour={"conversion_delay_mean": delay}),
        ScheduleParams(days=10, slate_size=5),
        seed=8,
        session_policy=registry.make({"kind": "popularity"}),
    )
    conv = res.log.frame("conversions")
    early = conv[conv["click_t"] < 6.0]  # P(delay > 4 days) = e^-8: no censoring to speak of
    lag = early["t"] - early["click_t"]
    assert len(lag) > 200
    assert abs(lag.mean() - delay) < 4.5 * delay / np.sqrt(len(lag))
    # With no delay, purchases happen at the click.
    res0 = simulate(
        world_params(200, 60, behaviour={"conversion_delay_mean": 0.0}),
        ScheduleParams(days=3, slate_size=5),
        seed=8,
        session_policy=registry.make({"kind": "random"}),
    )
    conv0 = res0.log.frame("conversions")
    assert len(conv0) > 0
    np.testing.assert_array_equal(conv0["t"], conv0["click_t"])


def test_campaign_budget_overspend_raises() -> None:
    params = world_params(100, 20, offers=[{"name": "a", "contact_cost": 2.0}])
    schedule = ScheduleParams(days=2, surface="none", campaign_days=[1.0], campaign_budget=50.0)
    with pytest.raises(ValueError, match="over the budget"):
        simulate(params, schedule, 1, campaign_policy=OfferToAll())
    # Within budget (budget ≥ 100 users × 2) the same policy runs.
    ok = ScheduleParams(days=2, surface="none", campaign_days=[1.0], campaign_budget=250.0)
    res = simulate(params, ok, 1, campaign_policy=OfferToAll())
    assert (res.log.frame("campaigns")["offer"] == 0).all()


def test_budgeted_policies_stay_within_budget() -> None:
    params = world_params(300, 20, offers=[{"name": "a", "contact_cost": 2.0},
                                           {"name": "b", "contact_cost": 0.5}])  # fmt: skip
    schedule = ScheduleParams(
        days=4, surface="none", campaign_days=[1.0, 3.0], campaign_budget=60.0
    )
    for kind in ("random", "oracle"):
        res = simulate(params, schedule, 2, campaign_policy=registry.make({"kind": kind}))
        camp = res.log.frame("campaigns")
        sent = camp[camp["offer"] >= 0]
        spend = sent.groupby("campaign")["offer"].apply(lambda o: np.array([2.0, 0.5])[o].sum())
        assert len(spend) > 0 and (spend <= 60.0 + 1e-9).all(), kind


def test_ineligible_offers_raise() -> None:
    params = world_params(
        100, 20, offers=[{"name": "a", "eligibility": {"feature": "age", "min": 0.0}}]
    )
    schedule = ScheduleParams(days=2, surface="none", campaign_days=[1.0])
    with pytest.raises(ValueError, match="ineligible"):
        simulate(params, schedule, 1, campaign_policy=OfferToAll())
    # The random pilot only sends offers to eligible users.
    res = simulate(params, schedule, 1, campaign_policy=registry.make({"kind": "random"}))
    camp = res.log.frame("campaigns")
    age = res.world.users.numeric[camp["user"], 0]
    assert (camp["offer"] >= 0).any()
    assert (age[camp["offer"] >= 0] >= 0.0).all()


def test_engine_rejects_inconsistent_setups() -> None:
    params = world_params(20, 10)
    random = registry.make({"kind": "random"})
    with pytest.raises(ValueError, match="no variants"):
        simulate(params, ScheduleParams(days=1, surface="variant"), 1, session_policy=random)
    with pytest.raises(ValueError, match="needs a session policy"):
        simulate(params, ScheduleParams(days=1), 1)
    with pytest.raises(ValueError, match="no campaign policy"):
        simulate(params, ScheduleParams(days=1, campaign_days=[0.5]), 1, session_policy=random)
    with pytest.raises(ValueError, match="no offers"):
        simulate(
            params,
            ScheduleParams(days=1, surface="none", campaign_days=[0.5]),
            1,
            campaign_policy=registry.make({"kind": "random"}),
        )


def test_churned_users_have_no_sessions_or_campaigns_after_churn() -> None:
    params = world_params(
        300,
        40,
        population={"arrivals_per_day": 10.0},
        behaviour={"churn_base_hazard": 0.2},
        offers=[{"name": "a"}],
    )
    schedule = ScheduleParams(days=10, slate_size=5, campaign_days=[3.0, 6.0, 9.0])
    res = simulate(
        params,
        schedule,
        6,
        session_policy=registry.make({"kind": "random"}),
        campaign_policy=registry.make({"kind": "random"}),
    )
    join = res.world.users.join_time
    life = res.log.frame("lifecycle")
    churn = life[life["event"] == 1].set_index("user")["t"]
    assert churn.index.is_unique and len(churn) > 100
    np.testing.assert_array_equal(churn % 1.0, 0.0)  # churn happens at the daily step
    dec = res.log.frame("decisions")
    assert (dec["t"] >= join[dec["user"]]).all()
    assert (dec["t"] > 0).all() and (dec["t"] <= 10.0).all()
    last = dec.groupby("user")["t"].max()
    churned = last.index.intersection(churn.index)
    assert len(churned) > 100
    assert (last[churned] <= churn[churned]).all()
    camp = res.log.frame("campaigns")
    churn_t = churn.reindex(camp["user"]).to_numpy()
    assert (join[camp["user"]] <= camp["t"]).all()
    assert not (churn_t <= camp["t"].to_numpy()).any()  # NaN (never churned) compares False
    # Later arrivals are served too, and the daily snapshot counts joined − churned users.
    assert (join[dec["user"]] > 0).sum() > 100
    snaps = res.log.frame("snapshots")
    for t, active in zip(snaps["t"], snaps["active_users"], strict=True):
        expected = int((join <= t).sum()) - int((churn <= t).sum())
        assert active == expected, t


def test_arrivals_are_logged_once_at_their_join_time() -> None:
    params = world_params(100, 20, population={"arrivals_per_day": 6.0})
    res = simulate(params, ScheduleParams(days=6, surface="none"), 3)
    life = res.log.frame("lifecycle")
    arrivals = life[life["event"] == 0].sort_values("user")
    join = res.world.users.join_time
    joined = np.flatnonzero(join <= 6.0)
    assert (join[joined] > 0).sum() > 15
    np.testing.assert_array_equal(arrivals["user"], joined)
    np.testing.assert_array_equal(arrivals["t"], join[joined])


def test_items_are_offered_only_after_release() -> None:
    params = world_params(300, 40, catalogue={"new_items_per_day": 8.0})
    session = RecordingPolicy()
    res = simulate(params, ScheduleParams(days=8, slate_size=5), 2, session_policy=session)
    release = res.world.items.release_time
    dec = res.log.frame("decisions")
    slates = np.stack(dec["slate"])
    assert (release[slates] <= dec["t"].to_numpy()[:, None]).all()
    assert (release[slates] > 0).mean() > 0.2  # new items do get shown
    for request in session.requests:
        assert not request.available_items[release > request.t].any()
        # Released by the last daily step ⇒ on sale.
        assert request.available_items[release <= np.floor(request.t - 1e-9)].all()
    random = simulate(params, ScheduleParams(days=8, slate_size=5), 2,
                      session_policy=registry.make({"kind": "random"}))  # fmt: skip
    dec = random.log.frame("decisions")
    assert (release[np.stack(dec["slate"])] <= dec["t"].to_numpy()[:, None]).all()


def test_random_campaign_controls_are_eligible_for_their_offer() -> None:
    """Each offer's control group is drawn from the users eligible for it (no confounding)."""
    offers = [{"name": "a"}, {"name": "b", "eligibility": {"feature": "age", "min": 0.5}}]
    params = world_params(600, 5, offers=offers)
    res = simulate(
        params,
        ScheduleParams(days=3, surface="none", campaign_days=[1.0, 2.0]),
        1,
        campaign_policy=registry.make({"kind": "random"}),
    )
    camp = res.log.frame("campaigns")
    users = camp["user"].to_numpy()
    eligible = offer_eligibility(res.world, users)
    about = camp["control_for"].to_numpy()
    assert eligible[np.arange(users.size), about].all()
    # Treated and control groups of the restricted offer look alike on the rule's feature.
    age = res.world.users.numeric[users, 0]
    for o in (0, 1):
        treated = age[camp["offer"].to_numpy() == o]
        control = age[(camp["offer"].to_numpy() < 0) & (about == o)]
        assert len(treated) > 30 and len(control) > 30
        se = np.sqrt(treated.var() / len(treated) + control.var() / len(control))
        assert abs(treated.mean() - control.mean()) < 4.5 * se, o


def _replay_user(
    crn: int, user: int, t0: float, rate0: float, rewards: np.ndarray, b: BehaviourParams
) -> tuple[np.ndarray, np.ndarray, float]:
    """Session times and satisfaction trajectory one user must have, from the equations."""
    times, sat, s, t, rate = [], [], 0.0, t0, rate0
    for counter in range(len(rewards) + 1):
        u = uniform(crn, user, counter, 0, Purpose.SESSION_GAP)
        t = t + float(reference_exponential_from_uniform(u, 1.0 / rate))
        times.append(t)
        if counter < len(rewards):
            s = (1 - b.satisfaction_rate) * s + b.satisfaction_rate * (
                float(rewards[counter]) - b.satisfaction_baseline
            )
            sat.append(s)
            rate = rate0 * np.exp(b.activity_satisfaction * s)
    return np.array(times), np.array(sat), s


def test_sessions_satisfaction_and_churn_replay_from_their_equations() -> None:
    """Rebuild every user's session times, satisfaction and churn day from the log alone.

    s ← (1 − η) s + η (r − r₀) after each session (r = logged expected reward); the next
    gap is Exp(λ_u exp(β_a s)) drawn from the user's (counter, SESSION_GAP) uniform; at each
    daily step the user churns iff the (day, CHURN) uniform < 1 − exp(−h₀ exp(−β_s s) Δt).
    """
    seed, days = 12, 8.0
    params = world_params(
        200,
        50,
        population={"arrivals_per_day": 5.0},
        behaviour={"churn_base_hazard": 0.08, "churn_satisfaction": 4.0,
                   "activity_satisfaction": 2.0, "satisfaction_rate": 0.3},
    )  # fmt: skip
    res = simulate(params, ScheduleParams(days=days, slate_size=5), seed,
                   session_policy=registry.make({"kind": "random"}))  # fmt: skip
    b, world = params.behaviour, res.world
    crn = RandomStreams(seed).crn_seed()
    dec = res.log.frame("decisions").sort_values(["user", "session"])
    life = res.log.frame("lifecycle")
    churn = life[life["event"] == 1].set_index("user")["t"]
    assert len(churn) > 20
    by_user = dict(list(dec.groupby("user")))
    joined = np.flatnonzero(world.users.join_time <= days)
    for user in joined:
        group = by_user.get(user)
        rewards = np.zeros(0) if group is None else group["expected_reward"].to_numpy(float)
        logged = np.zeros(0) if group is None else group["t"].to_numpy()
        times, sat, s_end = _replay_user(
            crn, int(user), world.users.join_time[user], world.users.activity[user], rewards, b
        )
        np.testing.assert_allclose(logged, times[:-1], rtol=0, atol=1e-6)
        assert res.engine.state.satisfaction[user] == pytest.approx(s_end, abs=1e-6)
        # Churn: the first day whose uniform falls under the churn probability.
        churn_day = np.inf
        for day in range(1, int(days) + 1):
            if world.users.join_time[user] > day:
                continue
            s_day = sat[logged <= day][-1] if (logged <= day).any() else 0.0
            p = reference_churn_probability(
                b.churn_base_hazard, b.churn_satisfaction, np.array(s_day), 1.0
            )
            if uniform(crn, int(user), day, 0, Purpose.CHURN) < p:
                churn_day = float(day)
                break
        assert churn.get(user, np.inf) == churn_day, user
        # No session was skipped: the next one falls after the horizon or after churning.
        assert times[-1] > min(days, churn_day) - 1e-9


def test_pending_conversions_come_out_exactly_when_due_and_in_time_order() -> None:
    rng = np.random.default_rng(3)
    window = 0.05
    pending = _PendingConversions()
    times = np.concatenate([rng.uniform(0, 2, 300), np.arange(1, 40) * window])  # and on edges
    added = np.zeros(times.size, dtype=bool)
    seen: list[np.ndarray] = []
    for n in range(1, 45):
        t = n * window
        fresh = ~added & (times > t - 3 * window)  # rows arrive a little before they are due
        if fresh.any():
            pending.add({Col.T: times[fresh], Col.USER: np.flatnonzero(fresh)})
            added |= fresh
        done = pending.pop_due(t)
        if done is not None:
            assert (done[Col.T] <= t).all()
            assert (np.diff(done[Col.T]) >= 0).all()
            np.testing.assert_array_equal(times[done[Col.USER]], done[Col.T])
            seen.append(done[Col.USER])
        delivered = np.concatenate(seen) if seen else np.array([], dtype=np.int64)
        expected = np.flatnonzero(added & (times <= t))
        np.testing.assert_array_equal(np.sort(delivered), expected)


def test_time_order_is_a_stable_sort_with_or_without_ties() -> None:
    rng = np.random.default_rng(5)
    distinct = rng.random(500)
    np.testing.assert_array_equal(_time_order(distinct), np.argsort(distinct, kind="stable"))
    tied = rng.integers(0, 20, 500).astype(np.float64)  # many equal times
    order = _time_order(tied)
    np.testing.assert_array_equal(order, np.argsort(tied, kind="stable"))
    assert _time_order(np.array([])).size == 0


def test_run_seconds_is_the_wall_clock_of_the_run() -> None:
    # Regression: a loop variable once reused the start timer's name, so ``seconds`` was
    # measured from a block offset (0) rather than from the run's start: it grew with the
    # machine's uptime and decisions/s came out tiny.
    import time

    tic = time.perf_counter()
    res = simulate(
        world_params(200, 40),
        ScheduleParams.model_validate({"days": 2, "slate_size": 5}),
        seed=1,
        session_policy=registry.make({"kind": "random"}),
    )
    wall = time.perf_counter() - tic
    assert 0.0 < res.stats.seconds <= wall
    assert res.stats.decisions_per_second >= res.stats.decisions / wall
