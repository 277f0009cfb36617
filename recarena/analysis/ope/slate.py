r"""Off-policy estimators for slates (ordered lists of L items from m candidates).

A logged decision i shows the slate :math:`s_i = (s_{i1}, \dots, s_{iL})` and observes a
reward per slot :math:`r_{ij}` (a click on slot j); the slate's reward is
:math:`r_i = \sum_j r_{ij}`. Whole-slate IPS needs the probability of the whole slate, which
is tiny for any real slate policy; these estimators assume more about the reward and need
less of the propensity.

Independent-item IPS (IIPS; Li, Kim & Zitouni 2018, *Offline evaluation of ranking policies
with click models*, the item-position model) assumes a click on slot j depends only on the
item there, and reweights each slot by its own marginal propensity:

.. math::

    \hat V_{\mathrm{IIPS}} = \frac1n \sum_i \sum_j r_{ij}\,
        \frac{\pi(s_{ij} \text{ at } j \mid x_i)}{\pi_0(s_{ij} \text{ at } j \mid x_i)} .

Position-based IPS (PBM-IPS; ibid.) assumes a click is examination (probability
:math:`\theta_k` at position k) times attraction of the item, wherever it is shown; the
weight of an item is then its examination-weighted exposure under each policy:

.. math::

    \hat V_{\mathrm{PBM}} = \frac1n \sum_i \sum_j r_{ij}\,
        \frac{\sum_k \theta_k\, \pi(s_{ij} \text{ at } k \mid x_i)}
             {\sum_k \theta_k\, \pi_0(s_{ij} \text{ at } k \mid x_i)} .

The pseudoinverse estimator (Swaminathan, Krishnamurthy, Agarwal, Dudík, Langford, Jose &
Zitouni 2017, *Off-policy evaluation for slate recommendation*) assumes the slate's reward
is additive over (slot, item) pairs and needs only slate-level rewards. With
:math:`\mathbb 1_s \in \{0,1\}^{Lm}` the slot-item indicator of slate s,
:math:`\Gamma_{x} = \mathbb E_{\pi_0}[\mathbb 1_s \mathbb 1_s^\top \mid x]` and
:math:`\theta_{x} = \mathbb E_{\pi}[\mathbb 1_s \mid x]` the target's slot-item marginals,

.. math::

    \hat V_{\mathrm{PI}} = \frac1n \sum_i r_i\, \theta_{x_i}^\top \Gamma_{x_i}^{+}\,
        \mathbb 1_{s_i} ,

which for a uniformly random logger depends only on the target's probabilities of the logged
items in each slot (:func:`pseudoinverse_uniform`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from recarena.analysis.ope.estimate import Estimate, check_propensities, kish_ess, ratio_estimate
from recarena.analysis.ope.feedback import FloatArray, IntArray

__all__ = [
    "independent_item_ips",
    "position_based_ips",
    "pseudoinverse",
    "pseudoinverse_uniform",
    "slot_item_indicator",
    "uniform_slate_gamma",
]


def _slot_terms(
    name: str,
    slot_reward: FloatArray,
    weights: FloatArray,
    clusters: IntArray | None,
    level: float,
    slots: int,
) -> Estimate:
    terms = (slot_reward * weights).sum(axis=1)
    # The slate's reward is a count of clicks in [0, L].
    return ratio_estimate(
        name, terms, ess=kish_ess(weights.ravel()), clusters=clusters, level=level,
        bounds=(0.0, float(slots)),
    )  # fmt: skip


def independent_item_ips(
    slot_reward: FloatArray,
    target_slot: FloatArray,
    logging_slot: FloatArray,
    *,
    clusters: IntArray | None = None,
    arm: str = "logging",
    level: float = 0.95,
) -> Estimate:
    """IIPS from per-slot rewards and per-slot marginal propensities, each (n, L).

    ``logging_slot[i, j]`` is the logged probability that the logger put item
    :math:`s_{ij}` in slot j; ``target_slot[i, j]`` the target's.
    """
    slot_reward = np.asarray(slot_reward, dtype=np.float64)
    p0 = check_propensities(np.asarray(logging_slot).ravel(), arm).reshape(slot_reward.shape)
    w = np.asarray(target_slot, dtype=np.float64) / p0
    return _slot_terms("iips", slot_reward, w, clusters, level, slot_reward.shape[1])


def position_based_ips(
    slot_reward: FloatArray,
    target_positions: FloatArray,
    logging_positions: FloatArray,
    examination: FloatArray,
    *,
    clusters: IntArray | None = None,
    arm: str = "logging",
    level: float = 0.95,
) -> Estimate:
    """PBM-IPS; ``*_positions[i, j, k]`` = P(item :math:`s_{ij}` shown at position k), (n, L, L).

    ``examination`` holds :math:`\\theta_k`, shape (L,).
    """
    slot_reward = np.asarray(slot_reward, dtype=np.float64)
    theta = np.asarray(examination, dtype=np.float64)
    exposure0 = np.asarray(logging_positions, dtype=np.float64) @ theta
    exposure = np.asarray(target_positions, dtype=np.float64) @ theta
    scale = float(theta.max()) if theta.size else 1.0
    check_propensities((exposure0 / scale).ravel(), arm)
    return _slot_terms(
        "pbm_ips", slot_reward, exposure / exposure0, clusters, level, slot_reward.shape[1]
    )


def slot_item_indicator(slates: IntArray, n_items: int) -> NDArray[np.float64]:
    """:math:`\\mathbb 1_s`: shape (n, L·m), entry ``j·m + a`` is 1 when item a is in slot j."""
    slates = np.asarray(slates, dtype=np.int64)
    n, slots = slates.shape
    out = np.zeros((n, slots * n_items))
    out[np.arange(n)[:, None], np.arange(slots) * n_items + slates] = 1.0
    return out


def uniform_slate_gamma(n_items: int, slots: int) -> NDArray[np.float64]:
    """:math:`\\Gamma` of a uniformly random ordered slate of L distinct items from m.

    P(a at j) = 1/m; P(a at j, b at k) = 1/(m(m−1)) for j ≠ k, a ≠ b; 0 for the same item in
    two slots or two items in one slot.
    """
    m, size = n_items, slots * n_items
    slot = np.arange(size) // m
    item = np.arange(size) % m
    same_slot = slot[:, None] == slot[None, :]
    same_item = item[:, None] == item[None, :]
    pair = 1.0 / (m * (m - 1)) if m > 1 else 0.0
    gamma = np.where(~same_slot & ~same_item, pair, 0.0)
    gamma[np.arange(size), np.arange(size)] = 1.0 / m
    return gamma


def pseudoinverse(
    reward: FloatArray,
    slates: IntArray,
    target_marginals: FloatArray,
    gamma: FloatArray,
    *,
    clusters: IntArray | None = None,
    level: float = 0.95,
) -> Estimate:
    """The pseudoinverse estimator.

    Parameters
    ----------
    reward
        Slate-level reward :math:`r_i`, shape (n,).
    slates
        Logged slates, shape (n, L), item ids in [0, m).
    target_marginals
        :math:`\\theta_{x_i}` as (n, L, m) (``[i, j, a]`` = P(target puts a at j)), or (L, m)
        when it does not depend on the context.
    gamma
        :math:`\\Gamma` of the logger, (L·m, L·m) when shared by every context (e.g.
        :func:`uniform_slate_gamma`) or (n, L·m, L·m).
    """
    reward = np.asarray(reward, dtype=np.float64)
    slates = np.asarray(slates, dtype=np.int64)
    n, slots = slates.shape
    theta = np.asarray(target_marginals, dtype=np.float64)
    n_items = theta.shape[-1]
    theta = np.broadcast_to(theta.reshape(-1, slots * n_items), (n, slots * n_items))
    indicator = slot_item_indicator(slates, n_items)
    gamma = np.asarray(gamma, dtype=np.float64)
    if gamma.ndim == 2:
        w = np.einsum("ij,ij->i", theta @ np.linalg.pinv(gamma), indicator)
    else:
        w = np.einsum("ij,ijk,ik->i", theta, np.linalg.pinv(gamma), indicator)
    return ratio_estimate(
        "pseudoinverse", w * reward, ess=kish_ess(w), clusters=clusters, level=level,
        bounds=(0.0, float(slots)),
    )  # fmt: skip


def pseudoinverse_uniform(
    reward: FloatArray,
    target_positions: FloatArray,
    n_items: int,
    *,
    clusters: IntArray | None = None,
    level: float = 0.95,
) -> Estimate:
    r"""The pseudoinverse estimator under a uniformly random logger, without per-row Γ⁺ work.

    By symmetry, :math:`\Gamma^+ \mathbb 1_s` takes three values: x on the slate's own
    (slot, item) pairs, y on its items in the other slots, z on items not in the slate (read
    off the pseudoinverse of :func:`uniform_slate_gamma` once). So the weight of decision i
    is x A_i + y B_i + z (L − A_i − B_i), with A_i = Σ_j θ(j, s_ij) and B_i = Σ_j Σ_{k≠j}
    θ(k, s_ij), from ``target_positions[i, j, k]`` = P(the target shows item s_ij in slot k),
    (n, L, L); it equals :func:`pseudoinverse` with :func:`uniform_slate_gamma`.
    """
    positions = np.asarray(target_positions, dtype=np.float64)
    slots = positions.shape[1]
    canonical = slot_item_indicator(np.arange(slots)[None, :], n_items)[0]
    g = np.linalg.pinv(uniform_slate_gamma(n_items, slots)) @ canonical
    # own pair (slot 0, item 0); item 0 in slot 1; an item outside the slate in slot 0
    x = g[0]
    y = g[n_items] if slots > 1 else 0.0
    z = g[slots] if n_items > slots else 0.0
    own = np.trace(positions, axis1=1, axis2=2)
    other = positions.sum(axis=(1, 2)) - own
    w = x * own + y * other + z * (slots - own - other)
    return ratio_estimate(
        "pseudoinverse", w * np.asarray(reward, dtype=np.float64), ess=kish_ess(w),
        clusters=clusters, level=level, bounds=(0.0, float(slots)),
    )  # fmt: skip
