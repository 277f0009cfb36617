"""The offer model: who responds to an offer, what a contact earns, and its effect on churn.

One home for the campaign surface's equations, used by the engine (responses, the logged
NPV and the oracle columns), by the oracle (true incremental NPV) and by analysis (which
rebuilds the offers from the run directory's world tables).

Response (per user u, offer o; x_u the encoded features, z_u the latent response type)::

    logit P0_uo = a_o + w_o·x_u + shift(z_u)
    logit P1_uo = logit P0_uo + τ_uo,   τ_uo = sign(z_u) · (effect_o + β_o·x_u)

shift = (0, +3, −3, 0) and sign = (+1, 0, 0, −1) for (persuadable, sure thing, lost cause,
sleeping dog). An offer with ``cate: linear`` or ``nonlinear`` has a continuous effect
τ(x_u, ν_u) instead (:func:`continuous_effect`); its sleeping dogs are the users where τ < 0.

Value of a contact with value v, conversion cost c_conv and contact cost c: realised
NPV = 1[respond]·(v − c_conv) − c, and its expectation net of the organic value P0·v is the
incremental NPV. A contact multiplies the churn hazard by exp(−sign(z_u) · r_o)
for ``retention_days`` (r_o the offer's ``retention_effect``; with a continuous effect the
sign is that of τ_uo), and adds the offer's ``session_conversion_lift`` to the conversion
logit and ``session_activity_lift`` to the log visit rate of the contacted user's sessions
for as long: campaigns and recommendations interact.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from recarena.simulator import kernels
from recarena.simulator.world import RESPONSE_TYPES, Offers, World
from recarena.typing import FloatArray, IntArray

__all__ = [
    "RESPONSE_TYPES",
    "TYPE_EFFECT_SIGN",
    "TYPE_SHIFT",
    "contact_npv",
    "continuous_effect",
    "eligibility",
    "expected_incremental_npv",
    "incremental_value",
    "offer_eligibility",
    "offer_logits",
    "offer_probabilities",
    "response_probabilities",
    "retention_multiplier",
    "retention_sign",
]


#: Logit shift of P0 for each response type (sure things respond anyway, lost causes never).
TYPE_SHIFT = np.array([0.0, 3.0, -3.0, 0.0])
#: Sign of the treatment effect for each response type.
TYPE_EFFECT_SIGN = np.array([1.0, 0.0, 0.0, -1.0])


def continuous_effect(
    index: FloatArray, latent: FloatArray, effect: FloatArray, scale: FloatArray, nonlinear: bool
) -> FloatArray:
    """A continuous treatment effect in logits (arrays broadcast together).

    linear:     τ = effect_o + s (a_uo + ν_u)
    nonlinear:  τ = effect_o + s (tanh(2 a_uo) − a_uo²/2 + ν_u)

    a_uo = β_o·x_u is the observable index (learnable from features), ν_u ~ N(0, 0.5²) the
    user's unobservable part, s the offer's ``cate_scale``. The non-linear effect rises
    with a near 0 and falls below 0 for large |a|: sleeping dogs are the users where τ < 0.
    """
    shape = np.tanh(2.0 * index) - index**2 / 2.0 if nonlinear else index
    out: FloatArray = effect + scale * (shape + latent)
    return out


def offer_logits(
    features: NDArray[np.floating],
    response_type: NDArray[np.integer],
    offers: Offers,
    latent: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Untreated and treated response logits for every (user, offer), shape (B, O) each.

    logit P0 = a_o + w_o·x_u + shift(z_u);  logit P1 = logit P0 + τ_uo, with
    τ_uo = sign(z_u) · (effect_o + β_o·x_u) for ``cate: types`` and
    :func:`continuous_effect` of β_o·x_u and ν_u (``latent``, 0 when omitted) otherwise.
    """
    x = features.astype(np.float64)
    types = response_type.astype(np.int64)
    logit0 = offers.base_logit[None, :] + x @ offers.response_weights.T
    logit0 = logit0 + TYPE_SHIFT[types][:, None]
    index = x @ offers.effect_weights.T
    tau = TYPE_EFFECT_SIGN[types][:, None] * (offers.effect[None, :] + index)
    nu = np.zeros(x.shape[0]) if latent is None else np.asarray(latent, dtype=np.float64)
    for o, kind in enumerate(offers.cate):
        if kind != "types":
            tau[:, o] = continuous_effect(
                index[:, o], nu, offers.effect[o], offers.cate_scale[o], kind == "nonlinear"
            )
    return logit0, logit0 + tau


def response_probabilities(
    features: NDArray[np.floating],
    response_type: NDArray[np.integer],
    offers: Offers,
    latent: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """(P0, P1) = σ of :func:`offer_logits`: response without and with each offer, (B, O)."""
    logit0, logit1 = offer_logits(features, response_type, offers, latent)
    p0: FloatArray = kernels.sigmoids(logit0)
    p1: FloatArray = kernels.sigmoids(logit1)
    return p0, p1


def offer_probabilities(world: World, users: IntArray) -> tuple[FloatArray, FloatArray]:
    """(P0, P1) of every offer for ``users`` of ``world``, shape (B, O) each."""
    return response_probabilities(
        world.features[users], world.users.response_type[users], world.offers,
        world.users.cate_latent[users],
    )  # fmt: skip


def incremental_value(
    p0: FloatArray,
    p1: FloatArray,
    value: FloatArray,
    conversion_cost: FloatArray,
    contact_cost: FloatArray,
) -> FloatArray:
    """Expected incremental NPV of a contact versus none (arrays broadcast together).

    E[ΔNPV] = P1 (v − c_conv) − c − P0 v: a contacted user pays the conversion cost on every
    response, including those that would have happened anyway (and brought the full value)
    without the offer.
    """
    out: FloatArray = p1 * (value - conversion_cost) - contact_cost - p0 * value
    return out


def expected_incremental_npv(p0: FloatArray, p1: FloatArray, offers: Offers) -> FloatArray:
    """:func:`incremental_value` of every offer, from (B, O) response probabilities."""
    return incremental_value(
        p0, p1, offers.value[None, :], offers.conversion_cost[None, :],
        offers.contact_cost[None, :],
    )  # fmt: skip


def contact_npv(
    offers: Offers,
    about: IntArray,
    treated: NDArray[np.bool_],
    responded: NDArray[np.bool_],
    responded_untreated: NDArray[np.bool_],
) -> tuple[FloatArray, FloatArray]:
    """Realised NPV of each row and its increment over the untreated counterfactual.

    npv = 1[respond]·(v − c_conv) − c for a contact, 0 otherwise; incremental = npv −
    1[would have responded untreated]·v for a contact, 0 otherwise (``about`` is the offer
    sent, or the one an untreated row is a control for).
    """
    margin = offers.value[about] - offers.conversion_cost[about]
    gain = responded * margin - offers.contact_cost[about]
    npv = np.where(treated, gain, 0.0)
    incremental = np.where(treated, gain - responded_untreated * offers.value[about], 0.0)
    return npv, incremental


def retention_sign(
    response_type: NDArray[np.integer],
    offers: Offers | None = None,
    sent: IntArray | None = None,
    effect: FloatArray | None = None,
) -> FloatArray:
    """+1 for persuadables (contact lowers churn), −1 for sleeping dogs, 0 otherwise.

    For an offer with a continuous effect (``sent`` offers of ``offers``), the sign of its
    true effect on the user (``effect``, e.g. P1 − P0) instead.
    """
    sign: FloatArray = TYPE_EFFECT_SIGN[response_type.astype(np.int64)]
    if offers is not None and sent is not None and effect is not None:
        continuous = np.array([kind != "types" for kind in offers.cate], dtype=bool)[sent]
        sign = np.where(continuous, np.sign(effect), sign)
    return sign


def retention_multiplier(sign: FloatArray, effect: FloatArray) -> FloatArray:
    """Churn-hazard multiplier of a contact: exp(−sign(z_u) · r_o)."""
    out: FloatArray = np.exp(-(sign * effect))
    return out


def eligibility(
    numeric: NDArray[np.floating], rules: tuple[tuple[int, float, float] | None, ...]
) -> NDArray[np.bool_]:
    """Boolean (B, O): offer o's rule (numeric feature column, low, high) holds for the row.

    ``numeric`` are the users' numeric features (the first columns of the encoded feature
    matrix); a ``None`` rule makes the offer eligible for everyone.
    """
    out = np.ones((numeric.shape[0], len(rules)), dtype=bool)
    for o, rule in enumerate(rules):
        if rule is not None:
            col, lo, hi = rule
            values = numeric[:, col]
            out[:, o] = (values >= lo) & (values <= hi)
    return out


def offer_eligibility(world: World, users: IntArray) -> NDArray[np.bool_]:
    """Boolean (B, O): offer o's eligibility rule holds for user u of ``world``."""
    return eligibility(world.users.numeric[users], world.offers.eligibility)
