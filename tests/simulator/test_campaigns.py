"""The offer model: response logits by type, eligibility, NPV accounting and retention."""

from __future__ import annotations

import numpy as np

from recarena.simulator.campaigns import (
    contact_npv,
    expected_incremental_npv,
    offer_eligibility,
    offer_logits,
    offer_probabilities,
    retention_multiplier,
    retention_sign,
)
from recarena.simulator.reference import reference_sigmoid
from recarena.simulator.rng import RandomStreams
from recarena.simulator.world import World, generate_world
from tests.simulator.helpers import world_params

OFFERS = [
    {"name": "coupon", "effect": 1.0, "effect_heterogeneity": 0.0},
    {"name": "gift", "eligibility": {"feature": "age", "min": -0.5, "max": 1.0}},
]


def _world(seed: int = 1, **kwargs: object) -> World:
    params = world_params(**kwargs)  # type: ignore[arg-type]
    return generate_world(params, RandomStreams(seed).seed_sequence("world"), 10.0)


def test_offer_logits_follow_response_types() -> None:
    w = _world(7, n_users=2000, offers=OFFERS)
    users = np.arange(w.n_users)
    logit0, logit1 = offer_logits(w.features[users], w.users.response_type[users], w.offers)
    tau = logit1 - logit0
    types = w.users.response_type
    # Offer 0 has no effect heterogeneity: τ = +effect, 0, 0, −effect by type.
    np.testing.assert_allclose(tau[types == 0, 0], 1.0)
    np.testing.assert_allclose(tau[types == 1], 0.0)
    np.testing.assert_allclose(tau[types == 2], 0.0)
    np.testing.assert_allclose(tau[types == 3, 0], -1.0)
    # Offer 1: τ = ±(effect + β·x), heterogeneous, mirrored between the two types.
    x = w.features.astype(float)
    scale = w.offers.effect[1] + x @ w.offers.effect_weights[1]
    sign = np.array([1.0, 0.0, 0.0, -1.0])[types]
    np.testing.assert_allclose(tau[:, 1], sign * scale, atol=1e-9)
    assert np.std(tau[types == 0, 1]) > 0.05
    # Sure things respond without the offer far more often than lost causes.
    p0 = 1 / (1 + np.exp(-logit0))
    assert p0[types == 1].mean() > 0.3 > 0.01 > p0[types == 2].mean()
    np.testing.assert_array_equal(
        retention_sign(w.users.response_type[users]), np.array([1, 0, 0, -1])[types]
    )


def test_offer_eligibility_rule() -> None:
    w = _world(7, offers=OFFERS)
    users = np.arange(w.n_users)
    mask = offer_eligibility(w, users)
    age = w.users.numeric[:, 0]
    assert mask[:, 0].all()
    np.testing.assert_array_equal(mask[:, 1], (age >= -0.5) & (age <= 1.0))
    assert 0 < mask[:, 1].sum() < w.n_users


def test_probabilities_are_the_sigmoid_of_the_logits() -> None:
    w = _world(3, n_users=500, offers=OFFERS)
    users = np.arange(w.n_users)
    logit0, logit1 = offer_logits(w.features, w.users.response_type, w.offers)
    p0, p1 = offer_probabilities(w, users)
    np.testing.assert_allclose(p0, reference_sigmoid(logit0), rtol=1e-14)
    np.testing.assert_allclose(p1, reference_sigmoid(logit1), rtol=1e-14)


def test_npv_accounting() -> None:
    w = _world(3, n_users=50, offers=OFFERS)
    offers = w.offers
    p0, p1 = np.array([[0.1, 0.2]]), np.array([[0.3, 0.25]])
    expected = (
        p1 * (offers.value - offers.conversion_cost) - offers.contact_cost - p0 * offers.value
    )
    np.testing.assert_allclose(expected_incremental_npv(p0, p1, offers), expected)
    about = np.array([0, 1, 0, 1])
    treated = np.array([True, True, True, False])
    responded = np.array([True, False, True, True])
    untreated = np.array([True, False, False, True])
    npv, incremental = contact_npv(offers, about, treated, responded, untreated)
    v, c_conv, c = offers.value[about], offers.conversion_cost[about], offers.contact_cost[about]
    np.testing.assert_allclose(npv, np.where(treated, responded * (v - c_conv) - c, 0.0))
    np.testing.assert_allclose(incremental, np.where(treated, npv - untreated * v, 0.0))
    assert npv[3] == 0.0 and incremental[3] == 0.0


def test_retention_multiplier_lowers_persuadables_and_raises_sleeping_dogs() -> None:
    sign = retention_sign(np.array([0, 1, 2, 3]))
    m = retention_multiplier(sign, np.full(4, 0.5))
    np.testing.assert_allclose(m, [np.exp(-0.5), 1.0, 1.0, np.exp(0.5)])


def test_continuous_effects_match_their_formulas_and_have_sleeping_dogs() -> None:
    offers = [
        {"name": "lin", "cate": "linear", "cate_scale": 0.7, "effect": 0.5},
        {"name": "curve", "cate": "nonlinear", "cate_scale": 1.0, "effect": 0.3,
         "effect_heterogeneity": 1.0},
    ]  # fmt: skip
    w = _world(4, n_users=3000, offers=offers)
    users = np.arange(w.n_users)
    logit0, logit1 = offer_logits(w.features, w.users.response_type, w.offers, w.users.cate_latent)
    tau = logit1 - logit0
    index = w.features.astype(float) @ w.offers.effect_weights.T
    nu = w.users.cate_latent
    assert 0.4 < nu.std() < 0.6
    np.testing.assert_allclose(tau[:, 0], 0.5 + 0.7 * (index[:, 0] + nu), atol=1e-12)
    a = index[:, 1]
    np.testing.assert_allclose(tau[:, 1], 0.3 + (np.tanh(2 * a) - a**2 / 2 + nu), atol=1e-12)
    # Every response type is affected; the non-linear effect turns negative for large |a|.
    for z in range(4):
        assert np.abs(tau[w.users.response_type == z]).mean() > 0.1
    assert 0.05 < (tau[:, 1] < 0).mean() < 0.6
    assert tau[np.abs(a) > 2, 1].mean() < 0 < tau[np.abs(a) < 0.5, 1].mean()
    # The retention sign of a continuous offer is the sign of its effect on the user.
    p0, p1 = offer_probabilities(w, users)
    sent = np.ones(w.n_users, dtype=np.int64)
    sign = retention_sign(w.users.response_type, w.offers, sent, p1[:, 1] - p0[:, 1])
    np.testing.assert_array_equal(sign, np.sign(tau[:, 1]))


def test_a_contact_lifts_the_session_surface() -> None:
    """An offer with session lifts raises the contacted users' visits and purchases."""
    from recarena.policies import registry
    from recarena.simulator.params import ScheduleParams
    from recarena.simulator.simulation import simulate

    def run(lift: float) -> tuple[float, float]:
        params = world_params(
            1500, 50,
            offers=[{"name": "coupon", "retention_days": 10.0, "session_activity_lift": lift,
                     "session_conversion_lift": lift}],
        )  # fmt: skip
        schedule = ScheduleParams(days=8, slate_size=5, campaign_days=[2.0])
        res = simulate(
            params, schedule, 6, session_policy=registry.make({"kind": "random"}),
            campaign_policy=registry.make({"kind": "random", "treat_fraction": 0.5}),
        )  # fmt: skip
        camp = res.log.frame("campaigns")
        treated = camp.loc[camp["offer"] >= 0, "user"].to_numpy()
        dec = res.log.frame("decisions")
        after = dec[(dec["t"] > 2.0) & dec["user"].isin(treated)]
        conv = res.log.frame("conversions")
        bought = conv[(conv["click_t"] > 2.0) & conv["user"].isin(treated)]
        return len(after) / treated.size, len(bought) / max(after["click"].sum(), 1)

    visits0, conversion0 = run(0.0)
    visits1, conversion1 = run(0.7)
    assert visits1 > 1.5 * visits0  # e^0.7 ≈ 2× the visit rate for 6 of the 8 days
    assert conversion1 > conversion0 + 0.05
