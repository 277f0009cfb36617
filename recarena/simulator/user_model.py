"""The user model: how the simulated users respond to what they are shown, in a live state.

For any user at the current time it gives the true utilities of items, the probability of a
click at each slot of a slate or on a variant, and it plays sessions (who clicks what) on
the common random numbers. The engine runs every session through it; the best actions and
their values are the oracle's (:mod:`recarena.simulator.oracle`), which reads this model.
The equations are the row functions of :mod:`recarena.simulator.behaviour`, applied to
batches by :mod:`recarena.simulator.kernels`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from recarena.numerics.counter_rng import Purpose
from recarena.simulator import behaviour as bh
from recarena.simulator import kernels
from recarena.simulator.params import SCAN_MODELS, BehaviourParams, check_scanning_slate
from recarena.simulator.state import SimState
from recarena.simulator.world import World
from recarena.typing import FloatArray, IntArray

__all__ = ["ScanSessions", "UserModel", "ids"]


@dataclass(frozen=True)
class ScanSessions:
    """What a batch of scanning sessions (``pbm``, ``dcm``) did.

    Attributes
    ----------
    slots
        (B, k) bool: every clicked slot.
    clicks
        (B,) clicks per session.
    expected
        (B,) E[clicks], as :meth:`UserModel.click_probability` computes it.
    any_click
        (B,) P(at least one click), as :meth:`UserModel.any_click_probability` does.
    utilities
        (B, k) the shown items' utilities.
    minutes
        (B,) how long each session lasted.
    click_rows, click_slots
        Every click as (row, slot), by its rank in its session, then row.
    rank_starts
        Where the clicks of each rank begin in ``click_rows`` (one more than the most clicks).
    first_slot, first_item
        (B,) each session's first clicked slot and its item (−1 without a click).
    clicked_mask
        (B,) int64 the clicked slots as a bit mask, bit j = slot j
        (:func:`~recarena.simulator.log.clicked_slots_mask` of ``slots``).
    """

    slots: NDArray[np.bool_]
    clicks: IntArray
    expected: FloatArray
    any_click: FloatArray
    utilities: FloatArray
    minutes: FloatArray
    click_rows: IntArray
    click_slots: IntArray
    rank_starts: IntArray
    first_slot: IntArray
    first_item: IntArray
    clicked_mask: IntArray


class UserModel:
    """The users of a world in a given (live) state.

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
        self.scanning = behaviour.choice_model in SCAN_MODELS
        if self.scanning:  # ε_j: examination probabilities (explicit, or the profile)
            check_scanning_slate(behaviour, slate_size)
            self.examination = bh.examination_probabilities(
                slate_size, behaviour.position_bias, behaviour.position_decay,
                behaviour.examination_profile(slate_size),
            )  # fmt: skip
        else:
            self.examination = bh.examination_weights(
                slate_size, behaviour.position_bias, behaviour.position_decay
            )
        items = world.items
        # The static model for the compiled passes (see recarena.simulator.kernels): φ, φᵀ in
        # float64 for the catalogue passes (exact conversion), b, log p, w/√d, κ (0 turns
        # the ring test off), the categories and κ_b (0 turns satiation off).
        self.items = (
            items.vector,
            np.ascontiguousarray(items.vector.T, dtype=np.float64),
            items.popularity,
            np.log(items.price),
            float(behaviour.preference_weight / np.sqrt(items.vector.shape[1])),
            float(behaviour.fatigue) if behaviour.fatigue_memory else 0.0,
            items.category,
            float(behaviour.satiation),
        )
        counts = np.bincount(items.category, minlength=int(items.category.max()) + 1)
        sums = np.zeros((counts.size, items.vector.shape[1]))
        np.add.at(sums, items.category, items.vector.astype(np.float64))
        self._category_centres = sums / np.maximum(counts, 1)[:, None]
        # Each user's interest entropy, computed when first asked for and again only after
        # θ_u moved (drift: everyone, daily; interest evolution: the users who clicked), so
        # the daily snapshot costs a gather plus the softmax of the users whose θ changed.
        n_users = state.preference.shape[0]
        self._entropy = np.zeros(n_users)
        self._entropy_stale = np.ones(n_users, dtype=bool)
        self.choice = (
            self.examination,
            float(behaviour.temperature),
            float(behaviour.no_choice_utility),
        )
        budget = behaviour.session_budget_minutes
        # The scanning models' continuation, time budget (∞ = none) and item lengths.
        self.scan = kernels.scan_model(
            behaviour.continuation_profile(slate_size),
            float("inf") if budget is None else float(budget),
            float(behaviour.scan_minutes),
            items.length,
        )

    def people(self) -> tuple[NDArray[np.float32], FloatArray, NDArray[np.int32], FloatArray]:
        """The live per-user state the compiled passes read: θ, ρ, the fatigue ring and the
        category satiation."""
        state = self.state
        return (
            state.preference, self.world.users.price_sensitivity, state.recent_items,
            state.satiation,
        )  # fmt: skip

    # ------------------------------------------------------------------ slates
    def slate_utilities(
        self, users: IntArray, slates: IntArray, distinct: bool = False
    ) -> FloatArray:
        """True utilities u_ui(t) of the items in each slate, shape (B, k).

        u_ui = w·θ_u·φ_i/√d + b_i − ρ_u log p_i − κ·1[i recently consumed by u]
        (:func:`~recarena.simulator.behaviour.utility`,
        :func:`~recarena.simulator.behaviour.fatigued`); one compiled pass per slate.

        An item repeated in a slate (slates are padded when fewer than k items are on sale)
        is one option: its later copies get −inf, so they add no click probability.
        ``distinct=True`` promises that no row repeats an item (skips that check).
        """
        u: FloatArray = kernels.slate_utilities(
            self.people(), self.items, ids(users), ids(slates), distinct
        )
        return u

    def slot_probabilities(self, users: IntArray, slates: IntArray) -> FloatArray:
        """Expected clicks at slot j for each slate, shape (B, k), under the configured
        model (P(click at slot j) under the single-click models)."""
        return self.utility_slot_probabilities(self.slate_utilities(users, slates), slates)

    def utility_slot_probabilities(
        self, u: FloatArray, slates: IntArray | None = None
    ) -> FloatArray:
        """Expected clicks at slot j of slates with utilities ``u`` (B, k).

        ``slates`` (the item ids, for their lengths) are needed only under a time budget.
        """
        u = np.ascontiguousarray(u, dtype=np.float64)
        model = self.behaviour.choice_model
        if model == "mnl":
            probabilities: FloatArray = kernels.mnl_click_probabilities(u, self.choice)
        elif model == "cascade":
            probabilities = kernels.cascade_click_probabilities(u, self.choice)
        else:
            probabilities = kernels.scan_click_probabilities(
                u, self._slates_for(u, slates), self.choice, self.scan
            )
        return probabilities

    def slate_click_probability(self, users: IntArray, slates: IntArray) -> FloatArray:
        """Expected reward of a slate: E[clicks] (P(any click) under the single-click
        models), shape (B,)."""
        return self.click_probability(self.slate_utilities(users, slates), slates)

    def click_probability(self, u: FloatArray, slates: IntArray | None = None) -> FloatArray:
        """Expected reward E[clicks] = Σ_j (expected clicks at slot j) of slates with
        utilities ``u`` (B, k): P(any click) under the single-click models.

        Every expected reward (the engine's logged one, the best slate's, the oracle
        policy's) is summed by this one function, so equal slates give equal bits and the
        oracle arm's regret is exactly 0. ``slates`` (the item ids, for their lengths) are
        needed only under a time budget.
        """
        u = np.ascontiguousarray(u, dtype=np.float64)
        model = self.behaviour.choice_model
        if model == "mnl":
            totals: FloatArray = kernels.mnl_click_totals(u, self.choice)
        elif model == "cascade":
            totals = kernels.cascade_click_totals(u, self.choice)
        else:
            totals = kernels.scan_click_totals(
                u, self._slates_for(u, slates), self.choice, self.scan
            )
        return totals

    def any_click_probability(self, u: FloatArray) -> FloatArray:
        """P(at least one click) of scanning sessions (pbm, dcm) on slates with utilities
        ``u`` (B, k) (:func:`~recarena.simulator.behaviour.scan_any_click`)."""
        out: FloatArray = kernels.scan_any_clicks(
            np.ascontiguousarray(u, dtype=np.float64), self.choice, self.scan
        )
        return out

    def _slates_for(self, u: FloatArray, slates: IntArray | None) -> IntArray:
        """The slates' item ids for the scanning kernels (which read only their lengths, and
        only under a time budget: any ids do without one)."""
        if slates is None:
            if not math.isinf(self.scan[1]):
                raise ValueError("under a time budget the expected clicks need the slates")
            return np.zeros(u.shape, dtype=np.int64)
        return ids(slates)

    def mnl_sessions(
        self, users: IntArray, slates: IntArray, uniforms: FloatArray
    ) -> tuple[IntArray, FloatArray, IntArray, FloatArray]:
        """Play one MNL session per row: who clicks what, in one compiled pass.

        The same utilities (:meth:`slate_utilities`), probabilities, inverse-CDF draw and
        P(click) (:meth:`click_probability`) as the separate steps, bit for bit, without
        their (B, k) temporaries.

        Returns
        -------
        tuple
            (clicked position or −1, P(click), clicked item or −1, utility of the clicked
            item or NaN), each of shape (B,).
        """
        outcome: tuple[IntArray, FloatArray, IntArray, FloatArray] = kernels.slate_outcomes(
            self.people(), self.items, self.choice, ids(users), ids(slates),
            np.ascontiguousarray(uniforms, dtype=np.float64),
        )  # fmt: skip
        return outcome

    def cascade_sessions(
        self, users: IntArray, slates: IntArray, uniforms: FloatArray
    ) -> tuple[IntArray, FloatArray, IntArray, FloatArray]:
        """Play one cascade session per row (one uniform per slot, ``uniforms`` (B, k)).

        Returns the same four columns as :meth:`mnl_sessions`.
        """
        u = self.slate_utilities(users, slates)
        position: IntArray = kernels.cascade_choices(
            u, self.choice, np.ascontiguousarray(uniforms, dtype=np.float64)
        )
        expected = self.click_probability(u)
        rows = np.arange(users.shape[0])
        slot = np.maximum(position, 0)
        clicked = np.where(position >= 0, slates[rows, slot], -1)
        utility = np.where(position >= 0, u[rows, slot], np.nan)
        return position, expected, clicked, utility

    def scan_sessions(
        self, seed: np.uint64, users: IntArray, counter: NDArray[np.int32], slates: IntArray
    ) -> ScanSessions:
        """Play one scanning session (``pbm``, ``dcm``) per row on the keyed uniforms
        (:func:`~recarena.simulator.kernels.scan_outcomes`)."""
        purposes = np.array(
            [Purpose.EXAMINATION, Purpose.SCAN_CLICK, Purpose.CONTINUATION,
             Purpose.SESSION_BUDGET], dtype=np.uint64,
        )  # fmt: skip
        outcome = kernels.scan_outcomes(
            seed, self.people(), self.items, self.choice, self.scan, ids(users),
            np.ascontiguousarray(counter, dtype=np.int64), ids(slates), purposes,
        )  # fmt: skip
        return ScanSessions(*outcome)

    def catalogue_utilities(self, users: IntArray, available: NDArray[np.bool_]) -> FloatArray:
        """True utilities of every item for each user, −inf for unavailable items, (B, m).

        The same formula and bits as :meth:`slate_utilities` of the same items.
        """
        u: FloatArray = kernels.catalogue_utilities(
            self.people(), self.items, ids(users), available
        )
        return u

    def interest_entropy(self, users: IntArray) -> float:
        """Mean over ``users`` of the entropy (bits) of their interest over item categories.

        H_u = −Σ_g p_ug log₂ p_ug,  p_ug ∝ exp((w/√d) θ_u(t)·φ̄_g),

        φ̄_g the mean latent vector of category g's items: how spread a user's taste is over
        the catalogue's categories. Interest evolution toward consumed items lowers it (a
        filter bubble); 0 when no user is given.
        """
        if users.size == 0:
            return 0.0
        stale = users[self._entropy_stale[users]]
        if stale.size:
            self._entropy[stale] = self._user_entropies(stale)
            self._entropy_stale[stale] = False
        return float(self._entropy[users].mean())

    def interests_moved(self, users: IntArray | None = None) -> None:
        """θ_u changed for these users (all if None): their entropies are recomputed when
        next asked for."""
        if users is None:
            self._entropy_stale[:] = True
        else:
            self._entropy_stale[users] = True

    def _user_entropies(self, users: IntArray) -> FloatArray:
        """H_u of each of ``users`` (see :meth:`interest_entropy`)."""
        entropies: FloatArray = kernels.interest_entropies(
            self.state.preference, ids(users), self._category_centres, self.items[4]
        )
        return entropies

    # ------------------------------------------------------------------ variants
    def variant_click_probabilities(self, users: IntArray) -> FloatArray:
        """P(click | user, variant) = σ(logit_v(t) + w_v·x_u), shape (B, K)."""
        x = self.world.features[users].astype(np.float64)
        logits = self.state.variant_logit[None, :] + x @ self.world.variants.weights.T
        probabilities: FloatArray = kernels.sigmoids(logits)
        return probabilities


def ids(values: NDArray[np.integer]) -> IntArray:
    """Ids as the contiguous int64 array the compiled passes are specialised for."""
    return np.ascontiguousarray(values, dtype=np.int64)
