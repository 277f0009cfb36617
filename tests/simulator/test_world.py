"""World generation: determinism, arrivals, response types, offers and features."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from recarena.simulator.params import ScheduleParams
from recarena.simulator.rng import RandomStreams
from recarena.simulator.simulation import build_world
from recarena.simulator.world import RESPONSE_TYPES, World, generate_world
from tests.simulator.helpers import world_params

OFFERS = [
    {"name": "coupon", "effect": 1.0, "effect_heterogeneity": 0.0},
    {"name": "gift", "eligibility": {"feature": "age", "min": -0.5, "max": 1.0}},
]


def _world(seed: int = 1, days: float = 10.0, **kwargs: object) -> World:
    params = world_params(**kwargs)  # type: ignore[arg-type]
    return generate_world(params, RandomStreams(seed).seed_sequence("world"), days)


def _arrays(world: World) -> dict[str, np.ndarray]:
    u, i = world.users, world.items
    return {
        "segment": u.segment,
        "numeric": u.numeric,
        "categorical": u.categorical,
        "preference": u.preference,
        "activity": u.activity,
        "join_time": u.join_time,
        "response_type": u.response_type,
        "vector": i.vector,
        "popularity": i.popularity,
        "price": i.price,
        "release_time": i.release_time,
        "features": world.features,
        "response_weights": world.offers.response_weights,
    }


def test_same_seed_same_world_and_different_seed_different_world() -> None:
    kwargs = {
        "population": {"arrivals_per_day": 4.0},
        "catalogue": {"new_items_per_day": 2.0},
        "offers": OFFERS,
    }
    a, b, c = _world(5, **kwargs), _world(5, **kwargs), _world(6, **kwargs)
    for name, value in _arrays(a).items():
        np.testing.assert_array_equal(value, _arrays(b)[name], err_msg=name)
    assert a.items.text == b.items.text
    assert not np.array_equal(a.users.preference[:300], c.users.preference[:300])
    assert not np.array_equal(a.items.price[:80], c.items.price[:80])
    # build_world (what simulate uses) is the same pure function of the seed.
    params, schedule = world_params(), ScheduleParams(days=10)
    np.testing.assert_array_equal(
        build_world(params, schedule, 3).users.preference,
        build_world(params, schedule, 3).users.preference,
    )


def test_users_and_items_come_from_independent_streams() -> None:
    base = _world(2)
    more_items = _world(2, n_items=120)
    more_users = _world(2, n_users=500)
    np.testing.assert_array_equal(base.users.preference, more_items.users.preference)
    np.testing.assert_array_equal(base.users.numeric, more_items.users.numeric)
    np.testing.assert_array_equal(base.items.vector, more_users.items.vector[:80])
    np.testing.assert_array_equal(base.items.price, more_users.items.price)


def test_shapes_features_and_ranges() -> None:
    w = _world(3, population={"arrivals_per_day": 2.0}, catalogue={"new_items_per_day": 1.0})
    n, m = w.n_users, w.n_items
    assert n > 300 and m > 80  # later arrivals and releases are pre-drawn
    assert w.users.preference.shape == (n, 8) and w.items.vector.shape == (m, 8)
    assert (w.users.join_time[:300] == 0).all() and (w.users.join_time[300:] > 0).all()
    assert (w.users.join_time <= 10.0).all() and (np.diff(w.users.join_time[300:]) >= 0).all()
    assert (w.items.release_time[:80] == 0).all() and (w.items.release_time[80:] > 0).all()
    assert (w.users.activity > 0).all() and (w.items.price > 0).all()
    assert ((w.items.margin >= 0.1) & (w.items.margin <= 0.4)).all()
    assert set(np.unique(w.users.segment)) <= set(range(4))
    # Encoded features: 3 numeric columns, then one-hot region (5) and device (3).
    assert w.features.shape == (n, 3 + 5 + 3)
    assert w.feature_names[:4] == ("age", "income", "tenure", "region=0")
    np.testing.assert_array_equal(w.features[:, :3], w.users.numeric)
    np.testing.assert_array_equal(w.features[:, 3:8].sum(axis=1), 1.0)
    np.testing.assert_array_equal(w.features[:, 8:].sum(axis=1), 1.0)
    np.testing.assert_array_equal(w.features[:, 3:8].argmax(axis=1), w.users.categorical[:, 0])
    assert all(len(text.split()) == 12 for text in w.items.text)


@pytest.mark.parametrize(
    "shares",
    [(0.3, 0.25, 0.3, 0.15), (0.1, 0.2, 0.3, 0.4), (0.5, 0.5, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)],
)
def test_response_type_shares_match_configuration(shares: tuple[float, ...]) -> None:
    w = _world(
        4,
        n_users=3000,
        population={"response_types": dict(zip(RESPONSE_TYPES, shares, strict=True))},
    )
    realised = np.bincount(w.users.response_type, minlength=4) / w.n_users
    np.testing.assert_allclose(realised, shares, atol=0.005)
    assert (realised[np.asarray(shares) == 0] == 0).all()


def test_response_types_are_predictable_from_features() -> None:
    """With feature strength > 0 the type depends on observable features (learnable)."""
    w = _world(4, n_users=4000, population={"response_type_feature_strength": 3.0})
    persuadable = w.users.response_type == 0
    x = w.features.astype(float)
    gaps = np.abs(x[persuadable].mean(axis=0) - x[~persuadable].mean(axis=0))
    assert gaps.max() > 0.1


def test_arrival_and_release_counts_are_poisson() -> None:
    """Counts over (0, T] ~ Poisson(Λ T): mean and dispersion over 200 seeds; times uniform."""
    rate_users, rate_items, days, n_seeds = 3.0, 2.0, 10.0, 200
    counts, join_times = [], []
    for seed in range(n_seeds):
        w = _world(
            seed,
            days=days,
            n_users=5,
            n_items=5,
            population={"arrivals_per_day": rate_users},
            catalogue={"new_items_per_day": rate_items, "description_words": 2},
        )
        counts.append((w.n_users - 5, w.n_items - 5))
        join_times.append(w.users.join_time[5:])
    c = np.asarray(counts, dtype=float)
    for j, rate in enumerate((rate_users, rate_items)):
        mu = rate * days
        assert abs(c[:, j].mean() - mu) < 4 * np.sqrt(mu / n_seeds)
        dispersion = c[:, j].var(ddof=1) / mu  # 1 for Poisson; sd ≈ √(2/n) ≈ 0.1
        assert 0.65 < dispersion < 1.35
    pooled = np.concatenate(join_times)
    assert stats.kstest(pooled, "uniform", args=(0, days)).pvalue > 1e-3


def test_no_arrivals_when_rate_is_zero() -> None:
    w = _world(1, population={"arrivals_per_day": 0.0})
    assert w.n_users == 300 and (w.users.join_time == 0).all()


def test_world_from_arrays_rejects_nan() -> None:
    import dataclasses

    from recarena.simulator.params import ScheduleParams, WorldParams
    from recarena.simulator.simulation import build_world
    from recarena.simulator.world import World

    good = build_world(WorldParams(), ScheduleParams(days=2), seed=3)
    price = good.items.price.copy()
    price[4] = np.nan
    items = dataclasses.replace(good.items, price=price)
    with pytest.raises(ValueError, match=r"items\.price has 1 non-finite"):
        World(good.users, items, good.offers, good.variants, good.numeric_names,
              good.categorical_levels)  # fmt: skip


@pytest.mark.parametrize("heterogeneity", [0.0, 1.0, 3.0])
def test_variant_ctr_is_the_population_mean_click_probability(heterogeneity: float) -> None:
    from scipy.special import expit

    from recarena.simulator.world import generate_world, mean_ctr_intercept

    params = world_params(
        3000, 20, variants=[{"name": "b", "ctr": 0.05, "heterogeneity": heterogeneity},
                            {"name": "c", "ctr": 0.2, "heterogeneity": heterogeneity,
                             "ctr_after_shift": 0.1}],
    )  # fmt: skip
    world = generate_world(params, np.random.SeedSequence(3), 14.0)
    x = world.features.astype(np.float64)
    v = world.variants
    # Reference: the mean over users of σ(a + w·x), computed directly.
    np.testing.assert_allclose(expit(v.logit + x @ v.weights.T).mean(axis=0), [0.05, 0.2],
                               rtol=1e-9)  # fmt: skip
    np.testing.assert_allclose(expit(v.logit_after_shift[1] + x @ v.weights[1]).mean(), 0.1,
                               rtol=1e-9)  # fmt: skip
    if heterogeneity == 0.0:
        np.testing.assert_allclose(v.logit, np.log([0.05 / 0.95, 0.2 / 0.8]), rtol=1e-12)
    else:  # the old reading (ctr as σ of the intercept) would be off the declared mean
        assert abs(expit(np.log(0.05 / 0.95) + x @ v.weights[0]).mean() - 0.05) > 0.002
    # Hand case: scores ±1 at ctr 0.5 → a = 0 by symmetry.
    assert mean_ctr_intercept(0.5, np.array([-1.0, 1.0])) == pytest.approx(0.0, abs=1e-12)
