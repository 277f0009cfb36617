"""The oracle: a read-only view of the simulator's truth about the value of any action.

For any user at the current time it gives the best available slate or variant and its
expected reward, and the true incremental NPV of every offer. The engine fills the oracle
columns of the event log through it (``best_expected_reward``), and the ``oracle`` policy
(the upper bound, the only one that declares ``needs_oracle``) is handed it. It reads the
:class:`~recarena.simulator.user_model.UserModel` and the offer model of
:mod:`recarena.simulator.campaigns`, and never writes the world or its state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from recarena.simulator import campaigns, kernels
from recarena.simulator.user_model import UserModel, ids
from recarena.typing import FloatArray, IntArray

__all__ = ["SHORTLIST_SLACK", "BestValueCache", "OracleView"]

#: How :func:`~recarena.simulator.kernels.cached_best_values` values a sorted best slate.
_MODEL_CODES = {"mnl": kernels.MNL, "cascade": kernels.CASCADE, "pbm": kernels.SCANNING,
                "dcm": kernels.SCANNING}  # fmt: skip


#: Extra slates' worth of items in a shortlist when utilities move (drift, interest
#: evolution, satiation): c = (1 + SLACK) k + R. The wider the shortlist, the longer its
#: bound holds (see :func:`recarena.simulator.kernels.cached_best_values`); 2 kept ≥ 85%
#: of re-finds on the shortlist after 4 days of default OU drift on 200 items (measured).
SHORTLIST_SLACK = 2


@dataclass
class BestValueCache:
    """Per user: the value of the best slate, and the shortlist it is re-found from.

    The shortlist holds the user's c best items by base utility (before satiation and
    fatigue), the (c+1)-th base utility as a bound on every other item, and, when
    interests move, the θ_u they were scored with. Satiation and fatigue only lower
    utilities and drift moves them by a bounded amount, so while the shortlist's k-th best
    current utility beats the bound (plus the drift margin) the best slate is found among c
    items instead of m (:func:`recarena.simulator.kernels.cached_best_values`). With
    neither drift nor satiation, c = k + R suffices always: a click changes at most the
    R items of the fatigue ring.

    Attributes
    ----------
    value
        (n_users,) cached expected reward of the best slate.
    valid
        (n_users,) whether ``value`` is current.
    kth
        (n_users,) the k-th highest utility, the last of the best slate (−inf where
        unknown): a click that moves no item across it keeps ``value``.
    shortlist
        (n_users, c) int32 item ids, best first; a row starting with −1 is not computed.
    shortlist_utility
        (n_users, c) their base utilities.
    bound
        (n_users,) the (c+1)-th highest base utility when the shortlist was computed.
    anchor
        (n_users, d) float32 θ_u when the shortlist was computed; (0, 0) when interests
        never move.
    """

    value: FloatArray
    valid: NDArray[np.bool_]
    kth: FloatArray
    shortlist: NDArray[np.int32]
    shortlist_utility: FloatArray
    bound: FloatArray
    anchor: NDArray[np.float32]

    @classmethod
    def empty(cls, n_users: int, size: int, factors: int = 0) -> BestValueCache:
        """A cache with nothing computed for ``n_users`` users and shortlists of ``size``;
        ``factors`` = d keeps an anchor θ per user (interests that move), 0 none."""
        return cls(
            value=np.zeros(n_users),
            valid=np.zeros(n_users, dtype=bool),
            kth=np.full(n_users, -np.inf),
            shortlist=np.full((n_users, size), -1, dtype=np.int32),
            shortlist_utility=np.zeros((n_users, size)),
            bound=np.full(n_users, -np.inf),
            anchor=np.zeros((n_users if factors else 0, factors), dtype=np.float32),
        )

    def clear(self) -> None:
        """The catalogue changed: values and shortlists are stale."""
        self.valid[:] = False
        self.shortlist[:] = -1

    def invalidate(self, users: NDArray[np.int64] | None = None) -> None:
        """These users' utilities changed (all users' if None: drift, satiation recovery;
        or a click's interest evolution and satiation): their values are stale, their
        shortlists are re-checked against their bounds."""
        if users is None:
            self.valid[:] = False
        elif self.valid.shape[0]:
            self.valid[users] = False


class OracleView:
    """Best actions and their values, read from a user model (never written).

    Parameters
    ----------
    model
        The user model of the running simulation.
    """

    def __init__(self, model: UserModel) -> None:
        self._model = model

    @property
    def slate_size(self) -> int:
        """k."""
        return self._model.slate_size

    # ------------------------------------------------------------------ slates
    def slate_click_probability(self, users: IntArray, slates: IntArray) -> FloatArray:
        """Expected reward of a slate, P(any click), shape (B,), as the engine computes it."""
        return self._model.slate_click_probability(users, slates)

    def catalogue_utilities(self, users: IntArray, available: NDArray[np.bool_]) -> FloatArray:
        """True utilities of every item for each user, −inf where unavailable, shape (B, m)."""
        return self._model.catalogue_utilities(users, available)

    def best_slates(
        self, users: IntArray, available: NDArray[np.bool_]
    ) -> tuple[IntArray, FloatArray]:
        """The best slate for each user and its expected reward.

        Under the mnl and cascade models P(any click) increases in every shown utility and,
        by the rearrangement inequality, is largest when the k highest-utility items are
        shown in decreasing order of utility (highest at the most examined slot); under pbm
        and dcm (ε_j, λ_j non-increasing) E[clicks] does too (see
        :func:`~recarena.simulator.behaviour.scan_slot_probabilities`). Under a time budget
        the slate is the same (a long item can then be worth less than a shorter one a
        little less attractive: the value is exact, the slate a reference). Ties are broken
        by lower item id.
        """
        model = self._model
        k = min(model.slate_size, int(available.sum()))
        top: IntArray = kernels.top_items(
            model.people(), model.items, ids(users), available, k, True
        )
        # Scored as the engine scores a shown slate (same bits), so the oracle arm's regret
        # is exactly 0.
        top_u = model.slate_utilities(users, top, distinct=True)
        if k < model.slate_size:  # catalogue smaller than k: pad by repeating the best
            pad = model.slate_size - k
            top = np.hstack([top, np.repeat(top[:, :1], pad, axis=1)])
            top_u = np.hstack([top_u, np.full((top.shape[0], pad), -np.inf)])
        return top, model.click_probability(top_u, top)

    def long_term_slates(self, users: IntArray, available: NDArray[np.bool_]) -> IntArray:
        """The long-term reference slate: the k items of highest quality-weighted appeal.

        score_ui = exp(u_ui/T) · q_i, i.e. ranked by u_ui + T log q_i (ties by lower id),
        shown in decreasing order: under the MNL each shown item is chosen in proportion to
        exp(u/T), so this favours slates whose clicks land on good items (what moves
        satisfaction under ``satisfaction_signal: quality``), at some cost in clicks now.
        A reference for the long run, not an optimum: the exact long-horizon problem
        (satisfaction, churn, return) has no closed form.
        """
        model = self._model
        k = min(model.slate_size, int(available.sum()))
        u = model.catalogue_utilities(users, available)
        quality = np.maximum(model.world.items.quality, 1e-12)
        score = u + model.behaviour.temperature * np.log(quality)[None, :]
        order = np.argsort(-score, axis=1, kind="stable")[:, :k]  # stable: lower id first
        if k < model.slate_size:
            order = np.hstack([order, np.repeat(order[:, :1], model.slate_size - k, axis=1)])
        return order.astype(np.int64)

    def best_values(
        self, users: IntArray, available: NDArray[np.bool_], cache: BestValueCache
    ) -> FloatArray:
        """Expected reward of each user's best slate, through ``cache`` (updated in place).

        The same values, bit for bit, as :meth:`best_slates`; a stale user is re-scored from
        its shortlist in one compiled pass
        (:func:`~recarena.simulator.kernels.cached_best_values`).
        """
        model = self._model
        size = cache.shortlist.shape[1]
        if size >= int(available.sum()):  # a tiny catalogue: score it whole
            stale = users[~cache.valid[users]]
            cache.value[stale] = self.best_slates(stale, available)[1]
            cache.valid[stale] = True
            cache.kth[stale] = -np.inf
            return cache.value[users]
        code = _MODEL_CODES[model.behaviour.choice_model]
        values: FloatArray = kernels.cached_best_values(
            model.people(), model.items, model.choice, model.scan, code, ids(users), available,
            cache.value, cache.valid, cache.kth, cache.shortlist, cache.shortlist_utility,
            cache.bound, cache.anchor,
        )  # fmt: skip
        return values

    def keep_best_values(
        self, users: IntArray, entered: IntArray, evicted: IntArray, cache: BestValueCache
    ) -> None:
        """After clicks put ``entered`` into the users' rings (and pushed ``evicted`` out):
        mark stale only the cached best values those two items can move (see
        :func:`recarena.simulator.kernels.keep_best_values`).
        """
        model = self._model
        kernels.keep_best_values(
            model.people(), model.items, ids(users), ids(entered), ids(evicted),
            cache.valid, cache.kth,
        )  # fmt: skip

    # ------------------------------------------------------------------ variants
    def variant_click_probabilities(self, users: IntArray) -> FloatArray:
        """P(click | user, variant) of every variant, shape (B, K)."""
        return self._model.variant_click_probabilities(users)

    # ------------------------------------------------------------------ offers
    def offer_probabilities(self, users: IntArray) -> tuple[FloatArray, FloatArray]:
        """(P0, P1): response probability without and with each offer, shape (B, O) each."""
        return campaigns.offer_probabilities(self._model.world, users)

    def offer_incremental_npv(self, users: IntArray) -> FloatArray:
        """Expected incremental NPV of sending each offer versus nothing, shape (B, O)
        (:func:`recarena.simulator.campaigns.expected_incremental_npv`)."""
        p0, p1 = self.offer_probabilities(users)
        return campaigns.expected_incremental_npv(p0, p1, self._model.world.offers)
