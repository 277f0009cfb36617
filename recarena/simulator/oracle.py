"""The oracle: the simulator's ground truth about the value of any action.

For any user at the current time it gives the expected reward (click probability) of any
slate or variant, the best available action and its value, and the true response
probabilities and effect of any offer. Analysis uses it through the oracle columns of the
event log; the ``oracle`` policy (the upper bound) is handed it directly. Real policies never
see it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from recarena.arrays import has_repeats
from recarena.simulator import behaviour as bh
from recarena.simulator.params import BehaviourParams
from recarena.simulator.state import SimState
from recarena.simulator.world import World, offer_logits

__all__ = ["Oracle"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


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
        self._log_price = np.log(world.items.price)
        # float64 copy: per-slate gathers then need no conversion inside the einsum.
        self._vector64 = world.items.vector.astype(np.float64)

    # ------------------------------------------------------------------ slates
    def fatigue(self, users: I64, items: I64) -> F64:
        """κ·1[item in the user's recent ring], for items of shape (B, k)."""
        b = self.behaviour
        if b.fatigue == 0 or b.fatigue_memory == 0:
            return np.zeros(items.shape)
        return np.asarray(b.fatigue * self._recent(users, items), dtype=np.float64)

    def _recent(self, users: I64, items: I64) -> NDArray[np.bool_]:
        """1[item in the user's recent ring], for items of shape (B, k)."""
        # Same dtype on both sides: a mixed int32/int64 comparison takes numpy's slow
        # casting loop.
        ring = np.take(self.state.recent_items, users, axis=0).astype(items.dtype)
        # A loop over the R ring slots beats a (B, k, R) broadcast and reduction by ~6×.
        hit = items == ring[:, :1]
        for r in range(1, ring.shape[1]):
            hit |= items == ring[:, r : r + 1]
        return hit

    def slate_utilities(self, users: I64, slates: I64, distinct: bool = False) -> F64:
        """True utilities u_ui(t) of the items in each slate, shape (B, k).

        An item repeated in a slate (slates are padded when fewer than k items are on sale)
        is one option: its later copies get −inf, so they add no click probability.
        ``distinct=True`` promises that no row repeats an item (skips that check).
        """
        items = self.world.items
        b = self.behaviour
        # np.take is several times faster than fancy indexing for these gathers.
        u = bh.utilities(
            np.take(self.state.preference, users, axis=0).astype(np.float64),
            np.take(self._vector64, slates, axis=0),
            np.take(items.popularity, slates),
            np.take(self._log_price, slates),
            np.take(self.world.users.price_sensitivity, users),
            b.preference_weight,
        )
        if b.fatigue != 0 and b.fatigue_memory != 0:
            # u − κ·1[recent] without the (B, k) penalty array: subtracting 0.0 elsewhere
            # is exact, so the values are the same bits.
            np.subtract(u, b.fatigue, out=u, where=self._recent(users, slates))
        if not distinct and has_repeats(slates).any():
            order = np.argsort(slates, axis=1, kind="stable")
            ordered = np.take_along_axis(slates, order, axis=1)
            repeat = ordered[:, 1:] == ordered[:, :-1]
            u[np.nonzero(repeat)[0], order[:, 1:][repeat]] = -np.inf
        return u

    def slot_probabilities(self, users: I64, slates: I64) -> F64:
        """P(click at slot j) for each slate, shape (B, k), under the configured model."""
        return self._slot_probabilities(self.slate_utilities(users, slates))

    def _slot_probabilities(self, u: F64) -> F64:
        b = self.behaviour
        if b.choice_model == "mnl":
            return bh.mnl_click_probabilities(
                u, self.examination, b.temperature, b.no_choice_utility
            )
        return bh.cascade_click_probability(u, self.examination, b.temperature, b.no_choice_utility)

    def slate_click_probability(self, users: I64, slates: I64) -> F64:
        """Expected reward of a slate: P(any click), shape (B,)."""
        return self.slot_probabilities(users, slates).sum(axis=1)

    def catalogue_utilities(self, users: I64, available: NDArray[np.bool_]) -> F64:
        """True utilities of every item for each user, −inf for unavailable items, (B, m)."""
        items = self.world.items
        u = bh.utilities(
            self.state.preference[users],
            items.vector,
            items.popularity,
            self._log_price,
            self.world.users.price_sensitivity[users],
            self.behaviour.preference_weight,
        )
        if self.behaviour.fatigue and self.behaviour.fatigue_memory:
            ring = self.state.recent_items[users]
            rows = np.repeat(np.arange(users.shape[0]), ring.shape[1])
            cols = ring.ravel()
            keep = cols >= 0
            # Fancy-index assignment subtracts once even if the ring holds an item twice.
            u[rows[keep], cols[keep]] -= self.behaviour.fatigue
        u[:, ~available] = -np.inf
        return u

    def shortlist(
        self, users: I64, available: NDArray[np.bool_], size: int, block: int = 4096
    ) -> NDArray[np.int32]:
        """The ``size`` available items of highest utility *before* fatigue, per user.

        Fatigue only lowers the utility of the ≤ R items in a user's recent ring, so the k
        best items with fatigue always lie among the k + R best without it: the best slate
        can be re-found from this shortlist after every click, without rescoring the
        catalogue (until preferences drift or items are released).
        """
        items = self.world.items
        out = np.empty((users.shape[0], size), dtype=np.int32)
        for start in range(0, users.shape[0], block):
            rows = users[start : start + block]
            u = bh.utilities(
                self.state.preference[rows],
                items.vector,
                items.popularity,
                self._log_price,
                self.world.users.price_sensitivity[rows],
                self.behaviour.preference_weight,
            )
            u[:, ~available] = -np.inf
            out[start : start + block] = np.argpartition(-u, size - 1, axis=1)[:, :size]
        return out

    def best_values_from(self, users: I64, candidates: I64) -> F64:
        """Expected reward of the best slate drawn from each user's ``candidates`` (B, c).

        ``candidates`` must not repeat an item within a row (a shortlist never does).
        """
        u = self.slate_utilities(users, candidates, distinct=True)
        # The best slate shows the k highest utilities in decreasing order. Its value depends
        # only on those utility values, not on which of two tied items fills a slot, so a
        # plain descending sort gives the same numbers as ordering by (−u, item id).
        top = np.sort(u, axis=1)[:, : -self.slate_size - 1 : -1]
        return self._slot_probabilities(top).sum(axis=1)

    def best_slates(
        self, users: I64, available: NDArray[np.bool_], block: int = 4096
    ) -> tuple[I64, F64]:
        """The best slate for each user and its expected reward.

        Under both choice models P(any click) increases in every shown utility and, by the
        rearrangement inequality, is largest when the k highest-utility items are shown in
        decreasing order of utility (highest at the most examined slot). Ties are broken by
        lower item id.
        """
        k = min(self.slate_size, int(available.sum()))
        slates = np.empty((users.shape[0], self.slate_size), dtype=np.int64)
        values = np.empty(users.shape[0])
        for start in range(0, users.shape[0], block):
            rows = users[start : start + block]
            u = self.catalogue_utilities(rows, available)
            top = np.argpartition(-u, k - 1, axis=1)[:, :k]
            # Re-score the chosen items as the engine scores a shown slate (float64 affinity;
            # the catalogue matmul is float32), so the oracle arm's regret is exactly 0.
            top_u = self.slate_utilities(rows, top)
            # Sort by utility desc, then item id asc, for deterministic ties.
            order = np.lexsort((top, -top_u), axis=1)
            top = np.take_along_axis(top, order, axis=1)
            top_u = np.take_along_axis(top_u, order, axis=1)
            if k < self.slate_size:  # catalogue smaller than k: pad by repeating the best
                top = np.hstack([top, np.repeat(top[:, :1], self.slate_size - k, axis=1)])
                top_u = np.hstack([top_u, np.full((top.shape[0], self.slate_size - k), -np.inf)])
            slates[start : start + block] = top
            values[start : start + block] = self._slot_probabilities(top_u).sum(axis=1)
        return slates, values

    # ------------------------------------------------------------------ variants
    def variant_click_probabilities(self, users: I64) -> F64:
        """P(click | user, variant) = σ(logit_v(t) + w_v·x_u), shape (B, K)."""
        x = self.world.features[users].astype(np.float64)
        logits = self.state.variant_logit[None, :] + x @ self.world.variants.weights.T
        return bh.sigmoid(logits)

    # ------------------------------------------------------------------ offers
    def offer_probabilities(self, users: I64) -> tuple[F64, F64]:
        """(P0, P1): response probability without and with each offer, shape (B, O) each."""
        logit0, logit1 = offer_logits(self.world, users)
        return bh.sigmoid(logit0), bh.sigmoid(logit1)

    def offer_effects(self, users: I64) -> F64:
        """True conditional effect CATE_uo = P1_uo − P0_uo, shape (B, O)."""
        p0, p1 = self.offer_probabilities(users)
        return p1 - p0

    def offer_incremental_npv(self, users: I64) -> F64:
        """Expected incremental NPV of sending offer o versus nothing, shape (B, O).

        E[ΔNPV] = P1 (value − conversion cost) − contact cost − P0 value: a contacted user pays
        the conversion cost on every response, including those that would have happened
        anyway (and brought the full value) without the offer.
        """
        offers = self.world.offers
        p0, p1 = self.offer_probabilities(users)
        margin = (offers.value - offers.conversion_cost)[None, :]
        return p1 * margin - offers.contact_cost[None, :] - p0 * offers.value[None, :]
