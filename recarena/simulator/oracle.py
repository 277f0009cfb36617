"""The oracle: the simulator's ground truth about the value of any action.

For any user at the current time it gives the expected reward (click probability) of any
slate or variant, the best available action and its value, and the true response
probabilities and effect of any offer. Analysis uses it through the oracle columns of the
event log; the ``oracle`` policy (the upper bound) is handed it directly. Real policies never
see it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from recarena.simulator import behaviour as bh
from recarena.simulator import kernels
from recarena.simulator.params import BehaviourParams
from recarena.simulator.state import SimState
from recarena.simulator.world import World, offer_logits
from recarena.typing import FloatArray, IntArray

__all__ = ["BestValueCache", "Oracle"]


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
        (n_users, k + R) their utilities before fatigue (the MNL pass re-finds a value from
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


class Oracle:
    """Ground truth for a world in a given (live) state.

    Parameters
    ----------
    world, state
        The static world and the live state it is evaluated in (read, never written).
    behaviour
        The behaviour parameters (choice model, temperature, position bias…).
    slate_size
        k.
    """

    def __init__(
        self, world: World, state: SimState, behaviour: BehaviourParams, slate_size: int
    ) -> None:
        self.world = world
        self.state = state
        self.behaviour = behaviour
        self.slate_size = slate_size
        self.examination = bh.examination_weights(
            slate_size, behaviour.position_bias, behaviour.position_decay
        )
        items = world.items
        # The static model for the compiled passes (see recarena.simulator.kernels): φ, φᵀ in
        # float64 for the catalogue passes (exact conversion), b, log p, w/√d and κ (0 turns
        # the ring test off).
        self._items = (
            items.vector,
            np.ascontiguousarray(items.vector.T, dtype=np.float64),
            items.popularity,
            np.log(items.price),
            float(behaviour.preference_weight / np.sqrt(items.vector.shape[1])),
            float(behaviour.fatigue) if behaviour.fatigue_memory else 0.0,
        )
        self._choice = (
            self.examination,
            float(behaviour.temperature),
            float(behaviour.no_choice_utility),
        )

    def _people(self) -> tuple[NDArray[np.float32], FloatArray, NDArray[np.int32]]:
        """The live per-user state the compiled passes read: θ, ρ and the fatigue ring."""
        state = self.state
        return state.preference, self.world.users.price_sensitivity, state.recent_items

    # ------------------------------------------------------------------ slates
    def slate_utilities(
        self, users: IntArray, slates: IntArray, distinct: bool = False
    ) -> FloatArray:
        """True utilities u_ui(t) of the items in each slate, shape (B, k).

        u_ui = w·θ_u·φ_i/√d + b_i − ρ_u log p_i − κ·1[i recently consumed by u], as
        :func:`recarena.simulator.behaviour.utilities`, with the affinity in float64; one
        compiled pass per slate (:func:`recarena.simulator.kernels.slate_utilities`).

        An item repeated in a slate (slates are padded when fewer than k items are on sale)
        is one option: its later copies get −inf, so they add no click probability.
        ``distinct=True`` promises that no row repeats an item (skips that check).
        """
        u: FloatArray = kernels.slate_utilities(
            self._people(), self._items, _ids(users), _ids(slates), distinct
        )
        return u

    def slot_probabilities(self, users: IntArray, slates: IntArray) -> FloatArray:
        """P(click at slot j) for each slate, shape (B, k), under the configured model."""
        return self._slot_probabilities(self.slate_utilities(users, slates))

    def _slot_probabilities(self, u: FloatArray) -> FloatArray:
        b = self.behaviour
        if b.choice_model == "mnl":
            return bh.mnl_click_probabilities(
                u, self.examination, b.temperature, b.no_choice_utility
            )
        return bh.cascade_click_probability(u, self.examination, b.temperature, b.no_choice_utility)

    def slate_click_probability(self, users: IntArray, slates: IntArray) -> FloatArray:
        """Expected reward of a slate: P(any click), shape (B,)."""
        return self._click_probability(self.slate_utilities(users, slates))

    def _click_probability(self, u: FloatArray) -> FloatArray:
        """P(any click) = Σ_j P(slot j) of slates with utilities ``u`` (B, k).

        Every expected reward (the engine's logged one, the best slate's, the oracle
        policy's) is summed by this one function, so equal slates give equal bits and the
        oracle arm's regret is exactly 0.
        """
        b = self.behaviour
        if b.choice_model == "mnl":
            totals: FloatArray = kernels.mnl_click_totals(np.ascontiguousarray(u), self._choice)
            return totals
        return self._slot_probabilities(u).sum(axis=1)

    def mnl_sessions(
        self, users: IntArray, slates: IntArray, uniforms: FloatArray
    ) -> tuple[IntArray, FloatArray, IntArray, FloatArray]:
        """Play one MNL session per row: who clicks what, in one compiled pass.

        The same utilities (:meth:`slate_utilities`), probabilities
        (:func:`~recarena.simulator.behaviour.mnl_click_probabilities`), inverse-CDF draw
        (:func:`~recarena.simulator.behaviour.mnl_choice`) and P(click)
        (:meth:`_click_probability`) as the separate steps, bit for bit, without their
        (B, k) temporaries.

        Returns
        -------
        tuple
            (clicked position or −1, P(click), clicked item or −1, utility of the clicked
            item or NaN), each of shape (B,).
        """
        outcome: tuple[IntArray, FloatArray, IntArray, FloatArray] = kernels.slate_outcomes(
            self._people(),
            self._items,
            self._choice,
            _ids(users),
            _ids(slates),
            np.ascontiguousarray(uniforms, dtype=np.float64),
        )
        return outcome

    def catalogue_utilities(self, users: IntArray, available: NDArray[np.bool_]) -> FloatArray:
        """True utilities of every item for each user, −inf for unavailable items, (B, m).

        The same formula and bits as :meth:`slate_utilities` of the same items.
        """
        u: FloatArray = kernels.catalogue_utilities(
            self._people(), self._items, _ids(users), available
        )
        return u

    def shortlist(self, users: IntArray, available: NDArray[np.bool_], size: int) -> IntArray:
        """The ``size`` available items of highest utility *before* fatigue, per user.

        Fatigue only lowers the utility of the ≤ R items in a user's recent ring, so the k
        best items with fatigue always lie among the k + R best without it: the best slate
        can be re-found from this shortlist after every click, without rescoring the
        catalogue (until preferences drift or items are released). Ordered by (utility ↓,
        item id ↑); padded with −1 when fewer than ``size`` items are available.
        """
        top: IntArray = kernels.top_items(
            self._people(), self._items, _ids(users), available, size, False
        )
        return top

    def best_values_from(self, users: IntArray, candidates: IntArray) -> FloatArray:
        """Expected reward of the best slate drawn from each user's ``candidates`` (B, c).

        ``candidates`` must not repeat an item within a row (a shortlist never does).
        """
        u = self.slate_utilities(users, candidates, distinct=True)
        # The best slate shows the k highest utilities in decreasing order. Its value depends
        # only on those utility values, not on which of two tied items fills a slot, so a
        # plain descending sort gives the same numbers as ordering by (−u, item id).
        top = np.sort(u, axis=1)[:, : -self.slate_size - 1 : -1]
        return self._click_probability(top)

    def best_values(
        self, users: IntArray, available: NDArray[np.bool_], cache: BestValueCache
    ) -> FloatArray:
        """Expected reward of each user's best slate, through ``cache`` (updated in place).

        The same values, bit for bit, as :meth:`best_slates`; a stale user is re-scored from
        the shortlist (:meth:`shortlist`, :meth:`best_values_from`); under the MNL model in one
        compiled pass that re-finds it from the shortlist's cached utilities.
        """
        b = self.behaviour
        size = cache.shortlist.shape[1]
        if size >= int(available.sum()):  # a tiny catalogue: score it whole
            stale = users[~cache.valid[users]]
            cache.value[stale] = self.best_slates(stale, available)[1]
            cache.valid[stale] = True
            cache.kth[stale] = -np.inf
            return cache.value[users]
        if b.choice_model == "mnl":
            values: FloatArray = kernels.cached_best_mnl_values(
                self._people(), self._items, self._choice, _ids(users), available,
                cache.value, cache.valid, cache.kth, cache.shortlist, cache.shortlist_utility,
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
        kernels.keep_best_values(
            self._people(), self._items, _ids(users), _ids(entered), _ids(evicted),
            cache.valid, cache.kth,
        )  # fmt: skip

    def best_slates(
        self, users: IntArray, available: NDArray[np.bool_]
    ) -> tuple[IntArray, FloatArray]:
        """The best slate for each user and its expected reward.

        Under both choice models P(any click) increases in every shown utility and, by the
        rearrangement inequality, is largest when the k highest-utility items are shown in
        decreasing order of utility (highest at the most examined slot). Ties are broken by
        lower item id.
        """
        k = min(self.slate_size, int(available.sum()))
        top: IntArray = kernels.top_items(
            self._people(), self._items, _ids(users), available, k, True
        )
        # Scored as the engine scores a shown slate (same bits), so the oracle arm's regret
        # is exactly 0.
        top_u = self.slate_utilities(users, top, distinct=True)
        if k < self.slate_size:  # catalogue smaller than k: pad by repeating the best
            pad = self.slate_size - k
            top = np.hstack([top, np.repeat(top[:, :1], pad, axis=1)])
            top_u = np.hstack([top_u, np.full((top.shape[0], pad), -np.inf)])
        return top, self._click_probability(top_u)

    # ------------------------------------------------------------------ variants
    def variant_click_probabilities(self, users: IntArray) -> FloatArray:
        """P(click | user, variant) = σ(logit_v(t) + w_v·x_u), shape (B, K)."""
        x = self.world.features[users].astype(np.float64)
        logits = self.state.variant_logit[None, :] + x @ self.world.variants.weights.T
        return bh.sigmoid(logits)

    # ------------------------------------------------------------------ offers
    def offer_probabilities(self, users: IntArray) -> tuple[FloatArray, FloatArray]:
        """(P0, P1): response probability without and with each offer, shape (B, O) each."""
        logit0, logit1 = offer_logits(self.world, users)
        return bh.sigmoid(logit0), bh.sigmoid(logit1)

    def offer_effects(self, users: IntArray) -> FloatArray:
        """True conditional effect CATE_uo = P1_uo − P0_uo, shape (B, O)."""
        p0, p1 = self.offer_probabilities(users)
        return p1 - p0

    def offer_incremental_npv(self, users: IntArray) -> FloatArray:
        """Expected incremental NPV of sending offer o versus nothing, shape (B, O).

        E[ΔNPV] = P1 (value − conversion cost) − contact cost − P0 value: a contacted user pays
        the conversion cost on every response, including those that would have happened
        anyway (and brought the full value) without the offer.
        """
        offers = self.world.offers
        p0, p1 = self.offer_probabilities(users)
        margin = (offers.value - offers.conversion_cost)[None, :]
        return p1 * margin - offers.contact_cost[None, :] - p0 * offers.value[None, :]


def _ids(values: NDArray[np.integer]) -> IntArray:
    """Ids as the contiguous int64 array the compiled passes are specialised for."""
    return np.ascontiguousarray(values, dtype=np.int64)
