"""Richer sessions: position-based examination (pbm), several clicks (dcm), a time budget.

Each mechanism against its formula (the compiled row functions against the numpy references
of :mod:`recarena.simulator.reference`) and against seeded Monte-Carlo runs on the engine's
keyed uniforms; then what the engine logs and hands on (clicks per session, every clicked
slot, session minutes, the history's clicks, the policies' feedback). Thresholds are 4.5
standard errors for the sample size; the seeds are fixed.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from recarena.contract import Feedback
from recarena.experiment.schema import ScenarioConfig
from recarena.numerics.counter_rng import Purpose, uniform
from recarena.policies import registry
from recarena.simulator import behaviour as bh
from recarena.simulator import kernels
from recarena.simulator import reference as ref
from recarena.simulator.log import clicked_slots_array, clicked_slots_mask, read_clicked_slots
from recarena.simulator.params import BehaviourParams, ScheduleParams, WorldParams
from recarena.simulator.simulation import build_world, simulate
from recarena.simulator.state import SimState
from recarena.simulator.user_model import UserModel
from tests.simulator.helpers import RecordingPolicy, log_digest, world_params

SEED = 4242
N = 100_000


def _model(behaviour: dict[str, Any], k: int = 5, n_items: int = 40) -> UserModel:
    params = world_params(20, n_items, behaviour=behaviour)
    world = build_world(params, ScheduleParams(days=5), seed=3)
    state = SimState.initial(world, params.behaviour.fatigue_memory)
    return UserModel(world, state, params.behaviour, k)


def _play(model: UserModel, user: int, slate: np.ndarray, n: int = N) -> tuple[Any, ...]:
    """n sessions of one user on one slate, each with its own session counter: (clicked
    slots, clicks, E[clicks], P(any click), utilities, minutes)."""
    users = np.full(n, user)
    counter = np.arange(n, dtype=np.int32)
    slates = np.tile(slate, (n, 1))
    played = model.scan_sessions(np.uint64(SEED), users, counter, slates)
    return (played.slots, played.clicks, played.expected, played.any_click, played.utilities,
            played.minutes)  # fmt: skip


def _within(observed: np.ndarray, expected: np.ndarray, se: np.ndarray, z: float = 4.5) -> None:
    assert np.all(np.abs(observed - expected) <= z * se + 1e-12), (observed, expected, se)


# ---------------------------------------------------------------- against the references
def test_scan_probabilities_match_the_reference() -> None:
    rng = np.random.default_rng(1)
    b, k, m = 50, 6, 30
    u = rng.normal(0, 2, (b, k))
    slates = rng.integers(0, m, (b, k))
    lengths = rng.lognormal(1.0, 0.8, m)
    examination = np.sort(rng.uniform(0.2, 1, k))[::-1].copy()
    continuation = np.sort(rng.uniform(0, 1, k))[::-1].copy()
    t, u0, s = 0.8, 0.5, 0.1
    for budget in (np.inf, 12.0):
        scan = kernels.scan_model(continuation, budget, s, lengths)
        p = kernels.scan_click_probabilities(u, slates, (examination, t, u0), scan)
        g = ref.reference_budget_survival(s, budget)
        h = ref.reference_budget_survival(lengths[slates], budget)
        expected = ref.reference_scan_probabilities(u, examination, t, u0, continuation, g, h)
        np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-15)
        totals = kernels.scan_click_totals(u, slates, (examination, t, u0), scan)
        np.testing.assert_allclose(totals, p.sum(axis=1), rtol=1e-14)
    # λ ≡ 1 without a budget is the position-based model: P_j = ε_j α_j.
    ones = np.ones(k)
    pbm = kernels.scan_click_probabilities(
        u, slates, (examination, t, u0), kernels.scan_model(ones, np.inf, s, lengths)
    )
    np.testing.assert_allclose(pbm, examination * ref.reference_sigmoid((u - u0) / t), rtol=1e-14)
    assert bh.budget_survival(3.0, np.inf) == 1.0
    assert bh.budget_survival(3.0, 6.0) == pytest.approx(np.exp(-0.5), rel=1e-15)


def test_scan_sessions_match_the_reference_on_the_keyed_draws() -> None:
    model = _model(
        {"choice_model": "dcm", "session_budget_minutes": 8.0, "scan_minutes": 0.5,
         "examination_probabilities": [1.0, 0.8, 0.6, 0.5, 0.3],
         "continuation": [0.9, 0.7, 0.7, 0.4, 0.4], "no_choice_utility": 0.0}
    )  # fmt: skip
    rng = np.random.default_rng(2)
    n, k = 2000, 5
    users = rng.integers(0, 20, n)
    counter = rng.integers(0, 100, n).astype(np.int32)
    slates = np.array([rng.permutation(40)[:k] for _ in range(n)])
    played = model.scan_sessions(np.uint64(SEED), users, counter, slates)
    clicked, clicks, expected, any_click = (played.slots, played.clicks, played.expected,
                                            played.any_click)  # fmt: skip
    u, minutes = played.utilities, played.minutes
    # Every click once, by rank then row.
    starts = played.rank_starts
    assert starts[-1] == clicks.sum() == len(played.click_rows)
    for r in range(len(starts) - 1):
        rows = played.click_rows[starts[r] : starts[r + 1]]
        assert (np.diff(rows) > 0).all() and (clicks[rows] > r).all()
        rank = np.cumsum(clicked, axis=1)[rows, played.click_slots[starts[r] : starts[r + 1]]]
        assert (rank == r + 1).all()
    # The first click of each session and the log's bit mask, as the log would compute them.
    has = clicked.any(axis=1)
    first = np.where(has, clicked.argmax(axis=1), -1)
    np.testing.assert_array_equal(played.first_slot, first)
    np.testing.assert_array_equal(
        played.first_item, np.where(has, slates[np.arange(n), np.maximum(first, 0)], -1)
    )
    np.testing.assert_array_equal(played.clicked_mask, clicked_slots_mask(clicked))
    purposes = (Purpose.EXAMINATION, Purpose.SCAN_CLICK, Purpose.CONTINUATION)
    draws = np.stack([uniform(SEED, users[:, None], counter[:, None], np.arange(k)[None, :], p)
                      for p in purposes], axis=2)  # fmt: skip
    budget = ref.reference_exponential_from_uniform(
        uniform(SEED, users, counter, 0, Purpose.SESSION_BUDGET), 8.0
    )
    want, want_minutes = ref.reference_scan_session(
        u, model.world.items.length[slates], model.examination, 1.0, 0.0, model.scan[0], 0.5,
        draws, budget,
    )  # fmt: skip
    np.testing.assert_array_equal(clicked, want)
    np.testing.assert_array_equal(clicks, want.sum(axis=1))
    np.testing.assert_allclose(minutes, want_minutes, rtol=1e-12)
    assert (clicks >= 2).sum() > 50  # several clicks happen
    assert (minutes <= budget + 1e-12).all()  # the budget bounds the session's length
    np.testing.assert_array_equal(expected, model.click_probability(u, slates))
    np.testing.assert_array_equal(any_click, model.any_click_probability(u))


# ---------------------------------------------------------------- what each mechanism does
def test_pbm_click_through_by_position_is_examination_times_attractiveness() -> None:
    examination = [1.0, 0.6, 0.35, 0.2, 0.1]
    model = _model({"choice_model": "pbm", "examination_probabilities": examination,
                    "no_choice_utility": 0.5})  # fmt: skip
    slate = np.array([3, 7, 11, 2, 9])
    clicked, clicks, expected, _, u, _ = _play(model, 4, slate)
    attraction = ref.reference_sigmoid(u[0] - 0.5)
    ctr = clicked.mean(axis=0)
    want = np.asarray(examination) * attraction
    _within(ctr, want, np.sqrt(want * (1 - want) / N))
    # Position bias apart from the choice rule: the same items in reverse order have a
    # click-through by slot that follows ε_j, not the items' attractiveness.
    reversed_ctr = _play(model, 4, slate[::-1])[0].mean(axis=0)
    want_reversed = np.asarray(examination) * attraction[::-1]
    _within(reversed_ctr, want_reversed, np.sqrt(want_reversed * (1 - want_reversed) / N))
    # Clicks on different slots are independent: several per session.
    assert (clicks >= 2).mean() > 0.05
    assert expected[0] == pytest.approx(want.sum(), rel=1e-12)


def test_dcm_sessions_have_several_clicks_as_the_formula_says() -> None:
    model = _model({"choice_model": "dcm", "position_bias": "none", "continuation": 0.8,
                    "no_choice_utility": -0.5})  # fmt: skip
    slate = np.array([5, 1, 8, 13, 21])
    clicked, clicks, expected, _, u, _ = _play(model, 2, slate)
    # E[clicks] = Σ_j R_j α_j, R_{j+1} = R_j (1 − α_j (1 − λ)).
    alpha = ref.reference_sigmoid(u[0] + 0.5)
    reach = np.cumprod(np.r_[1.0, 1 - alpha[:-1] * 0.2])
    analytic = float((reach * alpha).sum())
    assert expected[0] == pytest.approx(analytic, rel=1e-12)
    assert analytic > 1.5
    _within(np.array([clicks.mean()]), np.array([analytic]), np.array([clicks.std() / np.sqrt(N)]))
    _within(clicked.mean(axis=0), reach * alpha, np.sqrt(reach * alpha / N))
    # λ = 0 is the cascade: at most one click, and P(any click) = 1 − Π(1 − α_j).
    cascade = _model({"choice_model": "dcm", "position_bias": "none", "continuation": 0.0,
                      "no_choice_utility": -0.5})  # fmt: skip
    _, once, expected_once, _, _, _ = _play(cascade, 2, slate)
    assert once.max() == 1
    assert expected_once[0] == pytest.approx(1 - np.prod(1 - alpha), rel=1e-12)


def test_time_budget_bounds_and_shortens_sessions() -> None:
    slate = np.array([0, 4, 9, 12, 30])
    results = {}
    for mean in (None, 30.0, 5.0):
        behaviour = {"choice_model": "dcm", "continuation": 0.9, "no_choice_utility": 0.0,
                     "scan_minutes": 0.2, "session_budget_minutes": mean}  # fmt: skip
        model = _model(behaviour)
        _, clicks, expected, _, _, minutes = _play(model, 7, slate, n=40_000)
        longest = 5 * 0.2 + model.world.items.length[slate].sum()
        assert (minutes >= 0).all() and (minutes <= longest + 1e-9).all()
        # The exponential budget is memoryless: E[clicks] stays exact with it.
        _within(np.array([clicks.mean()]), expected[:1], np.array([clicks.std() / 200.0]))
        results[mean] = (clicks.mean(), minutes.mean())
    assert results[5.0][0] < results[30.0][0] < results[None][0]
    assert results[5.0][1] < results[30.0][1] < results[None][1]
    assert results[5.0][1] < 5.0  # sessions last less than their mean budget on average


def test_best_slate_is_the_most_attractive_in_order_when_profiles_do_not_increase() -> None:
    """The claim behind the exact oracle: with ε_j and λ_j non-increasing, E[clicks] of a
    scanning session is largest for the k most attractive items in decreasing order."""
    rng = np.random.default_rng(7)
    k, m = 3, 6
    orders = np.array(list(itertools.permutations(range(m), k)))
    for _ in range(200):
        u = rng.normal(0, 2, m)
        examination = np.sort(rng.uniform(0, 1, k))[::-1].copy()
        continuation = np.sort(rng.uniform(0, 1, k))[::-1].copy()
        choice = (examination, 1.0, float(rng.normal()))
        scan = kernels.scan_model(continuation, np.inf, 0.0, np.ones(m))
        values = kernels.scan_click_totals(u[orders], orders, choice, scan)
        best = np.argsort(-u)[:k]
        top = kernels.scan_click_totals(u[best][None, :], best[None, :], choice, scan)[0]
        assert top >= values.max() - 1e-12


# ---------------------------------------------------------------- in the engine
PARAMS = world_params(
    200, 60, behaviour={"choice_model": "dcm", "continuation": 0.8, "no_choice_utility": 1.0,
                        "session_budget_minutes": 20.0, "fatigue_memory": 3},
)  # fmt: skip
SCHEDULE = ScheduleParams(days=4, slate_size=5)


def test_the_log_has_every_click_and_the_session_minutes(tmp_path: Path) -> None:
    res = simulate(PARAMS, SCHEDULE, 5, session_policy=registry.make({"kind": "random"}),
                   log_path=tmp_path)  # fmt: skip
    dec = res.log.frame("decisions")
    slots = clicked_slots_array(dec["clicked_slots"].to_numpy(), 5)
    np.testing.assert_array_equal(slots.sum(axis=1), dec["click"])
    assert dec["click"].max() >= 2
    first = np.where(slots.any(axis=1), np.argmax(slots, axis=1), -1)
    np.testing.assert_array_equal(first, dec["clicked_position"])
    np.testing.assert_array_equal(read_clicked_slots(tmp_path), slots)
    assert (dec["session_minutes"] >= 0).all() and dec["session_minutes"].mean() > 0
    # Realised clicks per session follow the logged expectation.
    click, expected = dec["click"].to_numpy(float), dec["expected_reward"].to_numpy(float)
    assert abs(click.mean() - expected.mean()) < 4.5 * click.std() / np.sqrt(len(dec))
    # A conversion can follow each click (its own draw: counted per click).
    assert res.log.rows["conversions"] > 0


def test_history_and_feedback_carry_every_click() -> None:
    policy = RecordingPolicy()
    schedule = SCHEDULE.model_copy(update={"retrain_every": 2.0, "keep_impressions": True})
    res = simulate(PARAMS, schedule, 5, session_policy=policy)
    dec = res.log.frame("decisions")
    history = policy.histories[-1]
    upto = dec[dec["t"] <= history.t]
    assert len(history.clicks) == int(upto["click"].sum()) > len(upto[upto["click"] > 0])
    feedback: list[Feedback] = [f for f in policy.feedback if f.clicked_slots is not None]
    assert feedback
    for f in feedback:
        np.testing.assert_array_equal(f.rewards, f.clicked_slots.sum(axis=1))


def test_policies_learning_online_count_every_click_of_a_session() -> None:
    """Popularity counts each clicked item of a session of several clicks, not only the
    first (Feedback.clicks)."""
    policy = registry.make({"kind": "popularity"})
    res = simulate(PARAMS, SCHEDULE, 5, session_policy=policy)
    dec = res.log.frame("decisions")
    slots = clicked_slots_array(dec["clicked_slots"].to_numpy(), 5)
    rows, cols = np.nonzero(slots)
    clicked = np.stack(dec["slate"].to_numpy())[rows, cols]
    expected = np.bincount(clicked, minlength=60)
    assert slots.sum() > (slots.any(axis=1)).sum()  # sessions with several clicks occur
    np.testing.assert_array_equal(policy.counts_, expected)  # type: ignore[attr-defined]


def test_feedback_clicks_are_every_clicked_slot_by_row() -> None:
    base = {"kind": "click", "surface": "slate", "t": 1.0, "users": np.arange(3),
            "actions": np.arange(12).reshape(3, 4), "rewards": np.array([2.0, 0.0, 1.0]),
            "features": np.zeros((3, 1), np.float32)}  # fmt: skip
    slots = np.array([[False, True, False, True], [False] * 4, [True, False, False, False]])
    several = Feedback(**base, clicked_position=np.array([1, -1, 0]), clicked_slots=slots)
    rows, cols = several.clicks()
    np.testing.assert_array_equal(rows, [0, 0, 2])
    np.testing.assert_array_equal(cols, [1, 3, 0])
    single = Feedback(**base, clicked_position=np.array([1, -1, 0]))
    rows, cols = single.clicks()
    np.testing.assert_array_equal(rows, [0, 2])
    np.testing.assert_array_equal(cols, [1, 0])


def test_common_random_numbers_pair_identical_arms() -> None:
    runs = [simulate(PARAMS, SCHEDULE, 9, session_policy=registry.make({"kind": "popularity"}))
            for _ in range(2)]  # fmt: skip
    assert log_digest(runs[0].log) == log_digest(runs[1].log)
    other = simulate(PARAMS, SCHEDULE, 10, session_policy=registry.make({"kind": "popularity"}))
    assert log_digest(other.log) != log_digest(runs[0].log)


# ---------------------------------------------------------------- configuration
@pytest.mark.parametrize(
    ("behaviour", "match"),
    [
        ({"examination_probabilities": [0.5, 0.9]}, "non-increasing"),
        ({"examination_probabilities": [1.2]}, r"\[0, 1\]"),
        ({"continuation": [0.2, 0.6]}, "non-increasing"),
        ({"continuation": -0.1}, r"\[0, 1\]"),
        ({"session_budget_minutes": 10.0}, "choice_model: pbm or dcm"),
    ],
)
def test_bad_session_parameters_are_named(behaviour: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        BehaviourParams.model_validate(behaviour)


def test_the_scenario_checks_the_profile_against_the_slate() -> None:
    base = {"name": "s", "arms": [{"name": "a", "policy": {"kind": "random"}}],
            "schedule": {"slate_size": 4}}  # fmt: skip
    world = {"behaviour": {"choice_model": "pbm", "examination_probabilities": [1.0, 0.5]}}
    with pytest.raises(ValidationError, match="examination_probabilities has 2 entries"):
        ScenarioConfig.model_validate({**base, "world": world})
    wide = {**base, "schedule": {"slate_size": 64}, "world": {"behaviour": {"choice_model": "dcm"}}}
    with pytest.raises(ValidationError, match="slate_size must be ≤ 63"):
        ScenarioConfig.model_validate(wide)
    assert WorldParams.model_validate(world).behaviour.examination_profile(2) == [1.0, 0.5]


def test_any_click_probability_matches_the_reference_and_the_draws() -> None:
    rng = np.random.default_rng(3)
    u = rng.normal(0, 2, (40, 5))
    examination = np.array([1.0, 0.8, 0.5, 0.5, 0.2])
    scan = kernels.scan_model(np.full(5, 0.6), 10.0, 0.7, np.ones(3))
    got = kernels.scan_any_clicks(u, (examination, 1.3, 0.2), scan)
    g = ref.reference_budget_survival(0.7, 10.0)
    np.testing.assert_allclose(
        got, ref.reference_scan_any_click(u, examination, 1.3, 0.2, g), rtol=1e-13
    )
    model = _model({"choice_model": "dcm", "continuation": 0.5, "no_choice_utility": 0.5,
                    "session_budget_minutes": 4.0, "scan_minutes": 0.5})  # fmt: skip
    _, clicks, _, any_click, u_played, _ = _play(model, 1, np.array([2, 6, 10, 14, 18]))
    want = model.any_click_probability(u_played[:1])[0]
    assert any_click[0] == want
    _within(np.array([(clicks > 0).mean()]), np.array([want]),
            np.array([np.sqrt(want * (1 - want) / N)]))  # fmt: skip
