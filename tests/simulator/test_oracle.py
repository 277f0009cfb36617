"""The oracle: best actions are truly best, the oracle arm has zero regret and wins."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from recarena.contract import Decision, DecisionRequest
from recarena.policies import registry
from recarena.simulator import kernels
from recarena.simulator.campaigns import offer_eligibility, offer_probabilities
from recarena.simulator.oracle import BestValueCache, OracleView
from recarena.simulator.params import BehaviourParams, ScheduleParams, WorldParams
from recarena.simulator.reference import reference_utilities
from recarena.simulator.simulation import build_world, simulate
from recarena.simulator.state import SimState
from recarena.simulator.user_model import UserModel
from tests.simulator.helpers import DENSE_BEHAVIOUR, RecordingPolicy, world_params

VARIANTS = [
    {"name": "a", "ctr": 0.05, "heterogeneity": 1.5},
    {"name": "b", "ctr": 0.08, "heterogeneity": 1.5},
    {"name": "c", "ctr": 0.04, "heterogeneity": 2.0, "ctr_after_shift": 0.2},
]
OFFERS = [
    {"name": "coupon", "value": 60.0, "contact_cost": 1.0, "conversion_cost": 5.0},
    {"name": "gift", "value": 120.0, "contact_cost": 4.0, "base_rate": 0.02, "effect": 1.5,
     "eligibility": {"feature": "age", "max": 0.5}},
]  # fmt: skip


def _run(params: WorldParams, schedule: ScheduleParams, kind: str, seed: int = 11) -> pd.DataFrame:
    res = simulate(params, schedule, seed, session_policy=registry.make({"kind": kind}))
    return res.log.frame("decisions")


@pytest.mark.parametrize(
    "choice_model",
    ["mnl", "cascade", "pbm", "dcm", {"choice_model": "dcm", "session_budget_minutes": 15.0}],
)
def test_oracle_arm_has_zero_regret_on_slates_and_beats_baselines(
    choice_model: str | dict[str, object],
) -> None:
    behaviour = choice_model if isinstance(choice_model, dict) else {"choice_model": choice_model}
    budget = "session_budget_minutes" in behaviour
    params = world_params(
        300,
        120,
        catalogue={"new_items_per_day": 3.0},
        behaviour={**behaviour, "drift_sd": 0.05},
    )
    schedule = ScheduleParams(days=10, slate_size=5)
    frames = {kind: _run(params, schedule, kind) for kind in ("oracle", "random", "popularity")}
    oracle = frames["oracle"]
    assert len(oracle) > 1000
    np.testing.assert_array_equal(oracle["expected_reward"], oracle["best_expected_reward"])
    for kind, frame in frames.items():
        # Nobody beats the best action: regret ≥ 0 on every decision (under a time budget
        # the best slate is a reference, not a proven optimum: not checked there).
        regret = frame["best_expected_reward"] - frame["expected_reward"]
        assert budget or (regret >= -1e-6).all(), kind
        if kind != "oracle":
            assert frame["expected_reward"].mean() < oracle["expected_reward"].mean(), kind
            assert frame["click"].sum() < oracle["click"].sum(), kind
            assert regret.mean() > 0.01, kind


def test_oracle_arm_has_zero_regret_on_variants_and_beats_baselines() -> None:
    params = world_params(400, 20, variants=VARIANTS, shift_day=4.0)
    schedule = ScheduleParams(days=8, surface="variant")
    frames = {kind: _run(params, schedule, kind) for kind in ("oracle", "random", "popularity")}
    oracle = frames["oracle"]
    np.testing.assert_array_equal(oracle["expected_reward"], oracle["best_expected_reward"])
    # Heterogeneous CTRs: the best variant differs between users.
    assert oracle["action"].nunique() > 1
    # Variant c's CTR jumps on the shift day: the oracle moves users to it from then on.
    early, late = oracle[oracle["t"] <= 4.0], oracle[oracle["t"] > 4.05]
    assert (late["action"] == 2).mean() > (early["action"] == 2).mean() + 0.3
    for kind in ("random", "popularity"):
        frame = frames[kind]
        assert (frame["best_expected_reward"] >= frame["expected_reward"] - 1e-7).all()
        assert frame["expected_reward"].mean() < oracle["expected_reward"].mean(), kind
        assert frame["click"].sum() < oracle["click"].sum(), kind


def _model(params: WorldParams, slate_size: int) -> UserModel:
    world = build_world(params, ScheduleParams(days=5), seed=2)
    state = SimState.initial(world, params.behaviour.fatigue_memory)
    return UserModel(world, state, params.behaviour, slate_size)


@pytest.mark.parametrize(
    "behaviour",
    [
        {"choice_model": "mnl", "position_bias": "log"},
        {"choice_model": "mnl", "position_bias": "power", "position_decay": 2.0},
        {"choice_model": "cascade", "position_bias": "log", "no_choice_utility": 1.0},
        {"choice_model": "cascade", "position_bias": "none", "temperature": 0.5},
        {"choice_model": "pbm", "examination_probabilities": [0.9, 0.5, 0.45]},
        {"choice_model": "dcm", "position_bias": "none", "no_choice_utility": -1.0,
         "continuation": 0.3},
        {"choice_model": "dcm", "examination_probabilities": [1.0, 0.7, 0.2],
         "continuation": [0.8, 0.5, 0.5], "no_choice_utility": 0.0, "temperature": 0.7},
    ],
)  # fmt: skip
def test_best_slate_is_best_by_brute_force(behaviour: dict[str, object]) -> None:
    """Enumerate every ordered slate of 3 out of the available items of a tiny catalogue."""
    params = world_params(6, 7, behaviour={**behaviour, "fatigue": 2.0, "fatigue_memory": 2})
    model = _model(params, slate_size=3)
    model.state.recent_items[:, 0] = [0, 3, -1, 5, 6, 2]  # some fatigue to respect
    available = np.ones(7, dtype=bool)
    available[4] = False
    users = np.arange(6)
    best, values = OracleView(model).best_slates(users, available)
    candidates = np.array(list(itertools.permutations(np.flatnonzero(available), 3)))
    for user in users:
        rows = np.full(len(candidates), user)
        all_values = model.slate_click_probability(rows, candidates)
        assert values[user] == pytest.approx(all_values.max(), rel=1e-6)
        # The value is the slate's expected reward computed exactly as the engine does.
        assert model.slate_click_probability(users[[user]], best[[user]])[0] == values[user]
        assert available[best[user]].all() and len(set(best[user])) == 3


def test_offer_oracle_formulas() -> None:
    params = world_params(50, 5, offers=OFFERS)
    model = _model(params, slate_size=3)
    users = np.arange(50)
    p0, p1 = OracleView(model).offer_probabilities(users)
    assert ((p0 > 0) & (p0 < 1) & (p1 > 0) & (p1 < 1)).all()
    np.testing.assert_array_equal((p0, p1), offer_probabilities(model.world, users))
    # P1 (value − conversion cost) − contact cost − P0 value
    margin = np.array([60.0 - 5.0, 120.0 - 10.0])
    np.testing.assert_allclose(
        OracleView(model).offer_incremental_npv(users),
        p1 * margin - np.array([1.0, 4.0]) - p0 * np.array([60.0, 120.0]),
    )


def test_oracle_campaign_policy_picks_the_best_eligible_offer_within_budget() -> None:
    params = world_params(400, 10, offers=OFFERS)
    schedule = ScheduleParams(days=3, surface="none", campaign_days=[1.0], campaign_budget=150.0)
    results = {
        kind: simulate(params, schedule, 5, campaign_policy=registry.make({"kind": kind}))
        for kind in ("oracle", "random")
    }
    camp = results["oracle"].log.frame("campaigns")
    world, oracle = results["oracle"].world, results["oracle"].engine.oracle
    users = camp["user"].to_numpy()
    gain = oracle.offer_incremental_npv(users)
    gain = np.where(offer_eligibility(world, users), gain, -np.inf)
    treated = camp["offer"].to_numpy() >= 0
    assert treated.any()
    np.testing.assert_array_equal(camp["offer"][treated], gain[treated].argmax(axis=1))
    assert (gain[treated].max(axis=1) > 0).all()
    spend = np.array([1.0, 4.0])[camp["offer"][treated]].sum()
    assert spend <= 150.0 + 1e-9
    # Expected incremental NPV of what was sent: the oracle beats the random pilot.
    totals = {}
    for kind, res in results.items():
        frame = res.log.frame("campaigns")
        sent = frame["offer"].to_numpy()
        g = res.engine.oracle.offer_incremental_npv(frame["user"].to_numpy())
        totals[kind] = g[np.flatnonzero(sent >= 0), sent[sent >= 0]].sum()
    assert totals["oracle"] > totals["random"]


def test_behaviour_params_are_shared_with_the_oracle() -> None:
    params = world_params(5, 5, behaviour={"choice_model": "cascade"})
    model = _model(params, slate_size=4)
    assert model.behaviour == BehaviourParams(**DENSE_BEHAVIOUR, choice_model="cascade")
    assert model.examination.shape == (4,)


class _OracleProbe(RecordingPolicy):
    """Random slates; asks the oracle for the best value at each decision, as it is then."""

    kind = "oracle_probe"
    needs_oracle = True

    def _setup(self) -> None:
        super()._setup()
        self.best: list[np.ndarray] = []

    def _act(self, request: DecisionRequest) -> Decision:
        _, values = self.oracle_.best_slates(request.users, request.available_items)
        self.best.append(values)
        return super()._act(request)


@pytest.mark.parametrize(
    ("releases", "drift", "sessions"),
    [(4.0, 0.0, {}), (0.0, 0.1, {}),
     (2.0, 0.0, {"choice_model": "dcm", "continuation": 0.8, "no_choice_utility": 2.0}),
     # Every utility moves: the shortlists' bounds decide when a value is re-found.
     (1.0, 0.1, {"satiation": 0.5, "interest_rate": 0.05, "drift_reversion_days": 10.0})],
)  # fmt: skip
def test_logged_best_value_is_the_oracle_value_at_decision_time(
    releases: float, drift: float, sessions: dict[str, object]
) -> None:
    """The engine caches best values per user; fatigue, drift, releases, interest evolution
    and satiation (and the clicks of sessions with several) must refresh them."""
    params = world_params(
        250, 60, catalogue={"new_items_per_day": releases},
        behaviour={"fatigue": 3.0, "fatigue_memory": 3, "drift_sd": drift, **sessions},
    )  # fmt: skip
    probe = _OracleProbe()
    res = simulate(params, ScheduleParams(days=6, slate_size=5), 13, session_policy=probe)
    logged = res.log.frame("decisions")["best_expected_reward"].to_numpy()
    np.testing.assert_allclose(logged, np.concatenate(probe.best).astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("choice_model", ["mnl", "cascade", "pbm", "dcm"])
def test_catalogue_smaller_than_the_slate(choice_model: str) -> None:
    """Padded slates repeat items; a repeated item is one option and adds no click chance,
    so nobody beats the oracle (which pads with nothing) and its regret stays 0."""
    params = world_params(200, 3, behaviour={"choice_model": choice_model})
    schedule = ScheduleParams(days=3, slate_size=5)
    frames = {kind: _run(params, schedule, kind) for kind in ("oracle", "random", "popularity")}
    oracle = frames["oracle"]
    assert (np.stack(oracle["slate"])[:, 3:] == np.stack(oracle["slate"])[:, :1]).all()
    np.testing.assert_array_equal(oracle["expected_reward"], oracle["best_expected_reward"])
    for kind, frame in frames.items():
        assert (frame["best_expected_reward"] >= frame["expected_reward"] - 1e-6).all(), kind
        assert frame["clicked_position"].max() < 3, kind  # only a first copy can be clicked


def test_repeated_items_in_a_slate_count_once() -> None:
    params = world_params(4, 6, behaviour={"fatigue": 0.0})
    model = _model(params, slate_size=4)
    users = np.arange(4)
    distinct = np.array([[0, 1, 2, 3]] * 4)
    padded = np.array([[0, 1, 0, 0]] * 4)
    u_distinct = model.slate_utilities(users, distinct)
    u_padded = model.slate_utilities(users, padded)
    np.testing.assert_array_equal(u_padded[:, :2], u_distinct[:, :2])
    assert np.isneginf(u_padded[:, 2:]).all()
    probs = model.slot_probabilities(users, padded)
    np.testing.assert_array_equal(probs[:, 2:], 0.0)
    # The same two items without the copies: same P(click) as a slate with empty slots.
    two = model.utility_slot_probabilities(np.hstack([u_distinct[:, :2], np.full((4, 2), -np.inf)]))
    np.testing.assert_allclose(probs.sum(axis=1), two.sum(axis=1), rtol=1e-12)


@pytest.mark.parametrize("fatigue", [0.0, 1.25])
def test_slate_utilities_are_the_catalogue_utilities_of_the_shown_items(fatigue: float) -> None:
    """The compiled per-slate pass computes the same formula as the catalogue matmul."""
    params = world_params(50, 30, behaviour={"fatigue": fatigue, "fatigue_memory": 3})
    model = _model(params, slate_size=6)
    rng = np.random.default_rng(4)
    model.state.recent_items[:] = rng.integers(-1, 30, model.state.recent_items.shape)
    users = rng.permutation(50)[:40]
    slates = np.stack([rng.permutation(30)[:6] for _ in users])
    available = np.ones(30, dtype=bool)
    catalogue = model.catalogue_utilities(users, available)
    expected = np.take_along_axis(catalogue, slates, axis=1)
    np.testing.assert_array_equal(model.slate_utilities(users, slates), expected)
    # Both are the documented formula (in float64).
    world, state, b = model.world, model.state, model.behaviour
    ring = state.recent_items[users]
    penalty = fatigue * (np.arange(30)[None, :, None] == ring[:, None, :]).any(axis=2)
    formula = reference_utilities(
        state.preference[users], world.items.vector, world.items.popularity,
        np.log(world.items.price), world.users.price_sensitivity[users],
        b.preference_weight, penalty,
    )  # fmt: skip
    np.testing.assert_allclose(catalogue, formula, rtol=0, atol=1e-5)
    ring = model.state.recent_items[users]
    assert (slates[:, :, None] == ring[:, None, :]).any(axis=2).any()  # fatigue is exercised


def test_fused_mnl_sessions_equal_the_separate_steps_bit_for_bit() -> None:
    params = world_params(60, 25, behaviour={"fatigue": 0.8, "fatigue_memory": 4})
    model = _model(params, slate_size=5)
    rng = np.random.default_rng(9)
    model.state.recent_items[:] = rng.integers(-1, 25, model.state.recent_items.shape)
    users = rng.integers(0, 60, 500)
    slates = rng.integers(0, 25, (500, 5))  # with repeats: later copies are −inf
    draws = rng.random(500)
    position, expected, clicked, utility = model.mnl_sessions(users, slates, draws)
    u = model.slate_utilities(users, slates)
    probs = model.utility_slot_probabilities(u)
    np.testing.assert_array_equal(position, kernels.mnl_choice(probs, draws))
    np.testing.assert_array_equal(expected, model.click_probability(u))
    np.testing.assert_allclose(expected, probs.sum(axis=1), rtol=1e-14)
    hit = position >= 0
    assert 0 < hit.sum() < 500
    rows = np.flatnonzero(hit)
    np.testing.assert_array_equal(clicked[hit], slates[rows, position[hit]])
    np.testing.assert_array_equal(utility[hit], u[rows, position[hit]])
    assert (clicked[~hit] == -1).all() and np.isnan(utility[~hit]).all()


SESSION_MODELS = [
    {"choice_model": "mnl"}, {"choice_model": "cascade"}, {"choice_model": "pbm"},
    {"choice_model": "dcm", "session_budget_minutes": 10.0},
]  # fmt: skip


@pytest.mark.parametrize("behaviour", SESSION_MODELS)
def test_cached_best_values_under_moving_utilities_equal_the_best_slates(
    behaviour: dict[str, object],
) -> None:
    """Drift, interest evolution and satiation move every utility: the cached values
    must still equal a whole-catalogue search to the bit, whether the shortlist's bound
    holds (shortlist kept), fails (shortlist recomputed) or cannot decide (heavy
    satiation: the catalogue scored whole)."""
    params = world_params(
        60, 50, behaviour={**behaviour, "fatigue": 1.1, "fatigue_memory": 3, "satiation": 0.4,
                           "drift_sd": 0.1},
    )  # fmt: skip
    world = build_world(params, ScheduleParams(days=5), seed=2)
    groups = int(world.items.category.max()) + 1
    state = SimState.initial(world, 3, groups)
    model = UserModel(world, state, params.behaviour, slate_size=4)
    oracle = OracleView(model)
    rng = np.random.default_rng(5)
    available = np.ones(50, dtype=bool)
    d = world.items.vector.shape[1]
    cache = BestValueCache.empty(60, 4 + 3 + 2 * 4, d)
    users = np.arange(60)
    kept = recomputed = 0
    for step in range(12):
        values = oracle.best_values(users, available, cache)
        np.testing.assert_array_equal(values, oracle.best_slates(users, available)[1])
        anchor = cache.anchor.copy()
        # Small steps mostly keep the shortlists; a large one every few steps breaks them.
        size = 0.8 if step % 4 == 3 else 0.02
        state.preference += (size * rng.standard_normal(state.preference.shape)).astype(np.float32)
        state.satiation[rng.integers(0, 60, 30), rng.integers(0, groups, 30)] += 1.0
        state.recent_items[:, step % 3] = rng.integers(0, 50, 60)
        cache.invalidate()
        oracle.best_values(users, available, cache)
        moved = (cache.anchor != anchor).any(axis=1)
        kept += int((~moved).sum())
        recomputed += int(moved.sum())
    assert kept > 100 and recomputed > 50
    # Satiation so heavy on the users' favourite categories that no shortlist decides.
    state.satiation[:] = 0.0
    best = oracle.best_slates(users, available)[0]
    state.satiation[users[:, None], world.items.category[best]] = 50.0
    cache.invalidate()
    values = oracle.best_values(users, available, cache)
    np.testing.assert_array_equal(values, oracle.best_slates(users, available)[1])


def test_shortlist_is_the_top_items_by_utility_then_lower_id() -> None:
    params = world_params(30, 40, behaviour={"fatigue": 0.0})
    model = _model(params, slate_size=5)
    users = np.arange(30)
    available = np.ones(40, dtype=bool)
    available[[3, 17, 28]] = False
    # Items 10–13 copy item 9: exact ties, which the lower id must win.
    model.world.items.popularity[10:14] = model.world.items.popularity[9]
    model.world.items.vector[10:14] = model.world.items.vector[9]
    model.world.items.price[10:14] = model.world.items.price[9]
    model = _refresh(model)
    u = model.catalogue_utilities(users, available)

    def top(rows: np.ndarray, on_sale: np.ndarray, size: int) -> np.ndarray:
        found: np.ndarray = kernels.top_items(model.people(), model.items, rows, on_sale, size,
                                              False)  # fmt: skip
        return found

    shortlists = top(users, available, 8)
    for row in range(30):
        ids = np.flatnonzero(available)
        expected = ids[np.lexsort((ids, -u[row, ids]))][:8]
        np.testing.assert_array_equal(shortlists[row], expected)
    # Fewer available items than asked: padded with −1.
    few = np.zeros(40, dtype=bool)
    few[[5, 6]] = True
    short = top(users[:3], few, 4)
    assert (short[:, 2:] == -1).all() and set(short[0, :2]) == {5, 6}


def _refresh(model: UserModel) -> UserModel:
    """A new user model over the (edited) world, so cached item arrays are rebuilt."""
    return UserModel(model.world, model.state, model.behaviour, model.slate_size)


@pytest.mark.parametrize("behaviour", SESSION_MODELS)
def test_cached_best_values_follow_ring_changes_and_equal_the_best_slates(
    behaviour: dict[str, object],
) -> None:
    params = world_params(60, 40, behaviour={**behaviour, "fatigue": 1.1, "fatigue_memory": 3})
    model = _model(params, slate_size=5)
    rng = np.random.default_rng(8)
    ring = model.state.recent_items
    available = np.ones(40, dtype=bool)
    cache = BestValueCache.empty(60, 5 + 3)
    users = rng.permutation(60)[:45]
    for step in range(4):
        clicked = rng.permutation(60)[:20]
        ring[clicked, step % 3] = rng.integers(0, 40, 20)
        cache.valid[clicked] = False  # as a click that touches the shortlist does
        if step == 2:  # a release: every shortlist is recomputed
            available[[7, 19]] = False
            cache.clear()
        values = OracleView(model).best_values(users, available, cache)
        np.testing.assert_array_equal(values, OracleView(model).best_slates(users, available)[1])
    assert cache.valid[users].all() and (cache.shortlist[users, 0] >= 0).all()


@pytest.mark.parametrize("memory", [1, 3])
def test_a_cached_best_value_that_stays_valid_after_clicks_is_still_exact(memory: int) -> None:
    """The invalidation rule never keeps a value the clicks changed (checked to the bit)."""
    params = world_params(80, 30, behaviour={"fatigue": 0.7, "fatigue_memory": memory})
    model = _model(params, slate_size=4)
    available = np.ones(30, dtype=bool)
    cache = BestValueCache.empty(80, 4 + memory)
    users = np.arange(80)
    rng = np.random.default_rng(21)
    kept = changed = 0
    for _ in range(25):
        OracleView(model).best_values(users, available, cache)
        clicked_users = np.sort(rng.permutation(80)[:30])
        # Half the clicks on a user's best items (they move the value), half anywhere.
        best = OracleView(model).best_slates(clicked_users, available)[0]
        items = np.where(rng.random(30) < 0.5, best[np.arange(30), rng.integers(0, 4, 30)],
                         rng.integers(0, 30, 30))  # fmt: skip
        before = OracleView(model).best_slates(clicked_users, available)[1]
        _, evicted = kernels.record_clicks(
            np.uint64(1), clicked_users, np.zeros(30, dtype=np.int32), items, np.zeros(30),
            model.state.recent_items, model.state.recent_pos, memory, np.zeros(30), 0.0,
            np.zeros(model.world.n_users), 1.0, 0.0, 1.0, np.uint64(4), np.uint64(5), 0,
        )  # fmt: skip
        OracleView(model).keep_best_values(clicked_users, items, evicted, cache)
        after = OracleView(model).best_slates(clicked_users, available)[1]
        still = cache.valid[clicked_users]
        np.testing.assert_array_equal(cache.value[clicked_users][still], after[still])
        kept += int(still.sum())
        changed += int((after != before).sum())
    assert kept > 100 and changed > 100  # both branches of the rule are exercised
