"""The oracle: a read-only view of the simulator's truth about the value of any action.

For any user at the current time it gives the best available slate or variant and its
expected reward, and the true incremental NPV of every offer. The engine fills the oracle
columns of the event log through it (``best_expected_reward``), and the ``oracle`` policy
(the upper bound, the only one that declares ``needs_oracle``) is handed it. It reads the
:class:`~recarena.simulator.user_model.UserModel` and the offer model of
:mod:`recarena.simulator.campaigns`, and never writes the world or its state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from recarena.simulator import campaigns, kernels
from recarena.simulator.user_model import UserModel, ids
from recarena.typing import FloatArray, IntArray

__all__ = ["BestValueCache", "OracleView"]


@dataclass
class BestValueCache:
    """Per user: the value of the best slate, and the shortlist it is re-found from.

    A click only changes the user's fatigue ring, which lowers at most R items, so the best
    slate lies among the k + R best items *before* fatigue: that shortlist is computed once
    per user (until drift or a release changes utilities) and a value made stale by a click
    is re-found from it, not from the whole catalogue.

    Attributes
    ----------
    value
        (n_users,) cached P(click) of the best slate.
    valid
        (n_users,) whether ``value`` is current.
    kth
        (n_users,) the k-th highest fatigue-adjusted utility, the last of the best slate
        (−inf where unknown): a click that moves no item across it keeps ``value``.
    shortlist
        (n_users, k + R) int32 item ids, best first; a row starting with −1 is not computed.
    shortlist_utility
        (n_users, k + R) their utilities before fatigue (the compiled pass re-finds a value from
        these and the ring alone).
    """

    value: FloatArray
    valid: NDArray[np.bool_]
    kth: FloatArray
    shortlist: NDArray[np.int32]
    shortlist_utility: FloatArray

    @classmethod
    def empty(cls, n_users: int, size: int) -> BestValueCache:
        """A cache with nothing computed for ``n_users`` users and shortlists of ``size``."""
        return cls(
            value=np.zeros(n_users),
            valid=np.zeros(n_users, dtype=bool),
            kth=np.full(n_users, -np.inf),
            shortlist=np.full((n_users, size), -1, dtype=np.int32),
            shortlist_utility=np.zeros((n_users, size)),
        )

    def clear(self) -> None:
        """Preferences or the catalogue changed: everything is stale."""
        self.valid[:] = False
        self.shortlist[:] = -1

    def forget(self, users: NDArray[np.int64]) -> None:
        """These users' utilities changed (interest evolution, satiation): stale, shortlist too."""
        if self.valid.shape[0]:
            self.valid[users] = False
            self.shortlist[users, 0] = -1


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

    def shortlist(self, users: IntArray, available: NDArray[np.bool_], size: int) -> IntArray:
        """The ``size`` available items of highest utility *before* fatigue, per user.

        Fatigue only lowers the utility of the ≤ R items in a user's recent ring, so the k
        best items with fatigue always lie among the k + R best without it: the best slate
        can be re-found from this shortlist after every click, without rescoring the
        catalogue (until preferences drift or items are released). Ordered by (utility ↓,
        item id ↑); padded with −1 when fewer than ``size`` items are available.
        """
        model = self._model
        top: IntArray = kernels.top_items(model.people(), model.items, ids(users), available, size,
                                     False)  # fmt: skip
        return top

    def best_values_from(self, users: IntArray, candidates: IntArray) -> FloatArray:
        """Expected reward of the best slate drawn from each user's ``candidates`` (B, c).

        ``candidates`` must not repeat an item within a row (a shortlist never does).
        """
        model = self._model
        u = model.slate_utilities(users, candidates, distinct=True)
        k = model.slate_size
        if math.isinf(model.scan[1]):
            # The best slate shows the k highest utilities in decreasing order. Its value
            # depends only on those utility values, not on which of two tied items fills a
            # slot, so a plain descending sort gives the same numbers as ordering by
            # (−u, item id).
            top = np.sort(u, axis=1)[:, : -k - 1 : -1]
            return model.click_probability(top)
        # Under a time budget the items' lengths count too: order by (−u, item id), as
        # best_slates does.
        order = np.lexsort((candidates, -u), axis=1)[:, :k]
        rows = np.arange(u.shape[0])[:, None]
        return model.click_probability(u[rows, order], candidates[rows, order])

    def best_values(
        self, users: IntArray, available: NDArray[np.bool_], cache: BestValueCache
    ) -> FloatArray:
        """Expected reward of each user's best slate, through ``cache`` (updated in place).

        The same values, bit for bit, as :meth:`best_slates`; a stale user is re-scored from
        the shortlist (:meth:`shortlist`, :meth:`best_values_from`); under the mnl, pbm and
        dcm models in one compiled pass that re-finds it from the shortlist's cached
        utilities.
        """
        model = self._model
        size = cache.shortlist.shape[1]
        if size >= int(available.sum()):  # a tiny catalogue: score it whole
            stale = users[~cache.valid[users]]
            cache.value[stale] = self.best_slates(stale, available)[1]
            cache.valid[stale] = True
            cache.kth[stale] = -np.inf
            return cache.value[users]
        if model.behaviour.choice_model != "cascade":
            values: FloatArray = kernels.cached_best_values(
                model.people(), model.items, model.choice, model.scan, model.scanning,
                ids(users), available, cache.value, cache.valid, cache.kth, cache.shortlist,
                cache.shortlist_utility,
            )  # fmt: skip
            return values
        stale = users[~cache.valid[users]]
        if stale.size:
            missing = stale[cache.shortlist[stale, 0] < 0]
            if missing.size:
                cache.shortlist[missing] = self.shortlist(missing, available, size)
            candidates = np.take(cache.shortlist, stale, axis=0).astype(np.int64)
            cache.value[stale] = self.best_values_from(stale, candidates)
            cache.valid[stale] = True
            cache.kth[stale] = -np.inf
        return cache.value[users]

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
