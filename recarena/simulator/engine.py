"""The SimPy engine: the world lives through time while policies act on it.

Processes (clock in days), and the fixed order in which they run when they fall on the same
instant (lower first; SimPy orders same-time events by priority, then by scheduling order):

1. ``sessions`` every ``decision_window``: all sessions that happened in (t − Δ, t] are
   handled as one vectorised batch (in rounds, if a user had several). Δ → 0 is exact
   event-by-event simulation; a larger Δ trades exactness of within-window feedback for speed.
   A batch is simultaneous, so its rows go in user-id order, not time order: every per-user
   array is then read and written in ascending address order, which cut the engine's time by
   ~12%. Each user's sessions stay in time order (a later one comes in a later round); sort
   the decisions table by ``t`` for one timeline.
2. ``feedback``: conversions that have happened by t are logged and delivered; buffered click
   feedback reaches the policy every ``feedback_every`` days (0 = every window).
3. ``daily`` every ``checkpoint_every``: item releases, churn, preference drift, the
   variant shift, arrivals logged, a snapshot row.
4. ``campaign`` on each of ``campaign_days``.
5. ``retrain`` every ``retrain_every``: ``policy.fit(history)``, timed and logged.

Randomness: arrivals, item releases and drift come from the world's streams, and every
user-level draw (session gaps, choices, conversions, churn, offer responses) is a
counter-based uniform keyed by (user, counter, slot, purpose), so arms that deploy different
policies on the same seed see the same draws wherever their histories agree.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from recarena.contract import (
    Decision,
    DecisionRequest,
    EnvironmentSpec,
    Feedback,
    FeedbackKind,
    PolicyProtocol,
    Surface,
)
from recarena.numerics.counter_rng import Purpose, uniform
from recarena.numerics.ziggurat import standard_normals
from recarena.simulator import campaigns, kernels
from recarena.simulator.history import HistoryStore
from recarena.simulator.log import (
    LIFECYCLE_ARRIVAL,
    LIFECYCLE_CHURN,
    LIFECYCLE_RETURN,
    Col,
    EventLog,
    Table,
    slot_propensity_columns,
)
from recarena.simulator.oracle import SHORTLIST_SLACK, BestValueCache, OracleView
from recarena.simulator.params import BehaviourParams, ScheduleParams
from recarena.simulator.state import SimState
from recarena.simulator.user_model import UserModel
from recarena.simulator.world import World
from recarena.typing import FloatArray, IntArray

__all__ = ["Engine", "RunStats", "environment_spec"]


# Priorities of same-time events (lower runs first). SimPy itself uses 0 (urgent) and 1.
PHASE_SESSIONS = 10
PHASE_FEEDBACK = 20
PHASE_DAILY = 30
PHASE_CAMPAIGN = 40
PHASE_RETRAIN = 50


class _PhasedTimeout(simpy.events.Event):
    """A timeout with an explicit priority, so same-time processes run in a fixed order."""

    def __init__(self, env: simpy.Environment, delay: float, priority: int) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, priority, delay)  # type: ignore[arg-type]  # SimPy types it as an enum


@dataclass
class RunStats:
    """What a run did and how long it took."""

    decisions: int = 0
    campaign_decisions: int = 0
    fits: int = 0
    seconds: float = 0.0
    act_seconds: float = 0.0
    fit_seconds: float = 0.0
    fallbacks: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def decisions_per_second(self) -> float:
        """Session decisions per wall-clock second."""
        return self.decisions / self.seconds if self.seconds else float("nan")


def environment_spec(
    world: World, schedule: ScheduleParams, surfaces: frozenset[Surface]
) -> EnvironmentSpec:
    """The observable description of ``world`` handed to policies."""
    items, offers = world.items, world.offers
    return EnvironmentSpec(
        surfaces=surfaces,
        n_items=world.n_items,
        slate_size=schedule.slate_size,
        item_category=items.category,
        item_price=items.price,
        item_release_time=items.release_time,
        item_text=items.text,
        n_categories=int(items.category.max()) + 1 if len(items) else 0,
        n_variants=len(world.variants),
        n_offers=len(offers),
        offer_value=offers.value,
        offer_contact_cost=offers.contact_cost,
        offer_conversion_cost=offers.conversion_cost,
        offer_names=offers.names,
        feature_names=world.feature_names,
        horizon=schedule.days,
    )


@dataclass
class _Outcome:
    """What a batch of sessions did.

    ``click`` the clicks per session (bool for the single-click models, counts under pbm and
    dcm), ``position``/``clicked`` the first click's slot and item (−1 for none),
    ``expected``/``best`` the expected reward of what was shown and of the best action;
    ``scan`` what scanning sessions add (:class:`_Scan`).
    """

    click: NDArray[Any]
    position: IntArray
    clicked: IntArray
    expected: FloatArray
    best: FloatArray
    scan: _Scan | None = None

    @property
    def slots(self) -> NDArray[np.bool_] | None:
        """Every clicked slot (B, k) under pbm and dcm, else ``None``."""
        return None if self.scan is None else self.scan.slots


@dataclass
class _Scan:
    """What scanning sessions (pbm, dcm) add: the clicked slots (B, k) and as a bit mask per
    session (B,), the minutes each session lasted and P(any click) of what was shown."""

    slots: NDArray[np.bool_]
    mask: NDArray[np.int64]
    minutes: FloatArray
    any_click: FloatArray


@dataclass
class _ClickBuffer:
    """Click feedback waiting for the next delivery to the policy."""

    chunks: list[dict[str, NDArray[Any]]] = field(default_factory=list)

    def add(self, **columns: NDArray[Any]) -> None:
        self.chunks.append(columns)

    def pop(self) -> dict[str, NDArray[Any]] | None:
        chunks, self.chunks = self.chunks, []
        if len(chunks) <= 1:  # delivered every window: one batch, nothing to merge
            return chunks[0] if chunks else None
        return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


class _PendingConversions:
    """Purchases that will happen later, in growable columns kept in arrival order.

    A delivery takes the rows with τ ≤ t and marks them delivered; the columns are
    compacted only once delivered rows make up half of them, so a window costs one
    comparison over the pending times instead of a copy of every column.
    """

    def __init__(self) -> None:
        self.columns: dict[str, NDArray[Any]] = {}
        self.delivered = np.zeros(0, dtype=bool)
        self.size = 0
        self.live = 0

    def add(self, columns: dict[str, NDArray[Any]]) -> None:
        n = columns[Col.T].shape[0]
        end = self.size + n
        if not self.columns or end > self.delivered.shape[0]:
            self._grow(columns, end)
        for k, v in columns.items():
            self.columns[k][self.size : end] = v
        self.delivered[self.size : end] = False
        self.size = end
        self.live += n

    def _grow(self, template: dict[str, NDArray[Any]], needed: int) -> None:
        capacity = max(1024, 2 * needed)
        grown = {k: np.empty(capacity, dtype=v.dtype) for k, v in template.items()}
        for k, v in self.columns.items():
            grown[k][: self.size] = v[: self.size]
        delivered = np.ones(capacity, dtype=bool)
        delivered[: self.size] = self.delivered[: self.size]
        self.columns, self.delivered = grown, delivered

    def pop_due(self, t: float) -> dict[str, NDArray[Any]] | None:
        """Every purchase with τ ≤ t, sorted by τ (stable), or ``None``."""
        if self.live == 0:
            return None
        times = self.columns[Col.T][: self.size]
        delivered = self.delivered[: self.size]
        due = np.flatnonzero((times <= t) & ~delivered)
        if due.size == 0:
            return None
        order = due[_time_order(times[due])]
        done = {k: v[order] for k, v in self.columns.items()}
        delivered[due] = True
        self.live -= due.shape[0]
        if 2 * self.live <= self.size:  # compact: keep the undelivered rows, in order
            keep = ~delivered
            for v in self.columns.values():
                v[: self.live] = v[: self.size][keep]
            self.delivered[: self.live] = False
            self.size = self.live
        return done


class Engine:
    """Runs one arm (a session policy and/or a campaign policy) on one world and seed.

    Parameters
    ----------
    world
        The static world.
    behaviour, schedule
        Behaviour parameters and the clock.
    crn_seed
        Key of the common random numbers (:meth:`RandomStreams.crn_seed`).
    drift_rng
        Generator for preference drift (the run's ``"drift"`` stream; identical across arms):
        each day's normals are a ziggurat sequence seeded by one word of it
        (:func:`recarena.numerics.ziggurat.standard_normals`).
    session_policy, campaign_policy
        Set-up policies, or ``None`` where the surface is unused.
    log
        Where events go.
    oracle_columns
        Compute ``best_expected_reward`` (the costliest oracle column on large catalogues).
    progress
        Called with the simulation time after each daily step.
    """

    def __init__(
        self,
        world: World,
        behaviour: BehaviourParams,
        schedule: ScheduleParams,
        crn_seed: int,
        drift_rng: np.random.Generator,
        session_policy: PolicyProtocol | None,
        campaign_policy: PolicyProtocol | None,
        log: EventLog,
        oracle_columns: bool = True,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        self.world = world
        self.behaviour = behaviour
        self.schedule = schedule
        self.seed = crn_seed
        self._seed64 = np.uint64(crn_seed % (1 << 64))  # the key as the compiled passes take it
        self.drift_rng = drift_rng
        self.session_policy = session_policy
        self.campaign_policy = campaign_policy
        self.log = log
        self.oracle_columns = oracle_columns
        self.progress = progress
        self.surface = schedule.session_surface
        if self.surface is not None and session_policy is None:
            raise ValueError(f"the {schedule.surface} surface needs a session policy")
        if self.surface is Surface.VARIANT and len(world.variants) == 0:
            raise ValueError("schedule.surface is 'variant' but the world has no variants")
        if schedule.campaign_days and campaign_policy is None:
            raise ValueError("campaign_days are set but no campaign policy was given")
        if schedule.campaign_days and len(world.offers) == 0:
            raise ValueError("campaign_days are set but the world has no offers")
        satiation_columns = world.items.category.max() + 1 if behaviour.satiation > 0 else 1
        self.state = SimState.initial(world, behaviour.fatigue_memory, int(satiation_columns))
        self.users = UserModel(world, self.state, behaviour, schedule.slate_size)
        self.oracle = OracleView(self.users)
        refits = [p for p in (session_policy, campaign_policy) if p is not None and p.batch_fit]
        if schedule.retrain_every is None:
            refits = []
        keep = schedule.keep_impressions
        if keep is None:  # 64 bytes per decision: only when something can read them
            keep = bool(refits)
        # Only the history some policy reads is kept; keep_impressions=True asks for all of
        # it (to fit other models on the run's history afterwards).
        windows = [w for p in refits if (w := p.history_window()) is not None]
        window = math.inf if schedule.keep_impressions else max(windows, default=None)
        self.history = HistoryStore(world.feature_names, keep, window)
        self.stats = RunStats()
        self.available = world.items.release_time <= 0.0
        # Shortlists of k + R items: the best slate after any R fatigued items; wider when
        # drift, interest evolution or satiation move utilities (see the cache).
        k = schedule.slate_size
        shortlist = k + (behaviour.fatigue_memory if behaviour.fatigue else 0)
        moving = behaviour.drift_sd > 0 or behaviour.interest_rate > 0
        if moving or behaviour.satiation > 0:
            shortlist += SHORTLIST_SLACK * k
        self._best = BestValueCache.empty(
            world.n_users if oracle_columns else 0,
            shortlist,
            world.items.vector.shape[1] if moving and oracle_columns else 0,
        )
        self._clicks = _ClickBuffer()
        self._pending = _PendingConversions()
        self._campaign_index = 0
        budget = schedule.campaign_budget
        self._budget = float("inf") if budget is None else float(budget)
        self._day_counters = {"sessions": 0, "clicks": 0, "revenue": 0.0}
        self._item_revenue = world.items.price * world.items.margin
        # Per-user tolerances and a campaign's lifts of the visit rate and the purchase logit
        # are read only when some user or offer has one (None / empty = none): each per-user
        # array read per decision is one more cache miss.
        offers = world.offers
        self._tolerance = world.users.tolerance if np.any(world.users.tolerance) else None
        self._activity_lift = (
            self.state.activity_lift if np.any(offers.session_activity_lift) else np.zeros(0)
        )
        self._conversion_lift = (
            self.state.conversion_lift if np.any(offers.session_conversion_lift) else np.zeros(0)
        )
        u = uniform(self.seed, np.arange(world.n_users), 0, 0, Purpose.SESSION_GAP)
        self.state.next_session = world.users.join_time + kernels.exponential_draws(
            u, 1.0 / world.users.activity
        )

    # ------------------------------------------------------------------ running
    def run(self) -> RunStats:
        """Simulate ``schedule.days`` days and close the log."""
        start = time.perf_counter()
        initial = np.flatnonzero(self.world.users.join_time <= 0.0)
        self._lifecycle(np.zeros(initial.size), initial, LIFECYCLE_ARRIVAL)
        if self.oracle_columns and self.surface is Surface.SLATE:
            # Fill the best-value cache for the starting population in one sequential pass:
            # nearly every user needs it within days, and in ascending-id order the per-user
            # rows stream through the cache (about twice as cheap as batch by batch). The
            # values are those a later batch would compute (nothing has changed yet). Blocks
            # bound the temporaries of the whole-catalogue path (tiny catalogues).
            for first in range(0, initial.size, 1 << 16):
                self.oracle.best_values(initial[first : first + (1 << 16)], self.available,
                                        self._best)  # fmt: skip
        env = simpy.Environment()
        s = self.schedule
        if self.surface is not None:
            env.process(self._every(env, s.decision_window, PHASE_SESSIONS, self._sessions))
        env.process(self._every(env, s.decision_window, PHASE_FEEDBACK, self._deliver))
        env.process(self._every(env, s.checkpoint_every, PHASE_DAILY, self._daily))
        if s.campaign_days:
            env.process(self._at(env, s.campaign_days, PHASE_CAMPAIGN, self._campaign))
        if s.retrain_every is not None:
            env.process(self._every(env, s.retrain_every, PHASE_RETRAIN, self._retrain))
        env.run(until=s.days + 1e-9)
        self.log.close()
        self.stats.seconds = time.perf_counter() - start
        return self.stats

    def _every(
        self, env: simpy.Environment, period: float, phase: int, step: Callable[[float], None]
    ) -> Generator[simpy.events.Event, Any, None]:
        n = 1
        while n * period <= self.schedule.days + 1e-9:
            # Absolute times (n·period) so rounding never accumulates across many windows.
            yield _PhasedTimeout(env, n * period - env.now, phase)
            self.state.t = float(env.now)
            step(float(env.now))
            n += 1

    def _at(
        self, env: simpy.Environment, times: list[float], phase: int, step: Callable[[float], None]
    ) -> Generator[simpy.events.Event, Any, None]:
        for at in times:
            if at > self.schedule.days:
                break
            yield _PhasedTimeout(env, at - env.now, phase)
            self.state.t = float(env.now)
            step(float(env.now))

    def _append(self, table: str, columns: dict[str, NDArray[Any]]) -> None:
        """Append an event once: to the log, and through it to the history (its observable
        view, :data:`recarena.simulator.history.VIEWS`)."""
        self.log.append(table, columns)
        self.history.observe(table, columns)

    # ------------------------------------------------------------------ sessions
    def _sessions(self, t_end: float) -> None:
        state = self.state
        due = np.flatnonzero(state.next_session <= t_end)  # ascending user ids
        while due.size:
            users, times = due, state.next_session[due]
            self._handle_sessions(users, times, t_end)
            # Counters, gaps and next times in one compiled pass; only this round's users can
            # have another session in the window (the others' were already past t_end).
            due = kernels.next_sessions(
                self._seed64, users, times, state.session_count,
                self.world.users.activity, state.satisfaction,
                float(self.behaviour.activity_satisfaction), self._activity_lift,
                state.next_session, t_end, np.uint64(Purpose.SESSION_GAP),
            )  # fmt: skip

    def _handle_sessions(self, users: IntArray, times: FloatArray, t_end: float) -> None:
        assert self.session_policy is not None and self.surface is not None
        state = self.state
        request = DecisionRequest(
            surface=self.surface,
            t=t_end,
            users=users,
            features=np.take(self.world.features, users, axis=0),
            available_items=self.available,
        )
        tic = time.perf_counter()
        decision = self.session_policy.act(request)
        self.stats.act_seconds += time.perf_counter() - tic
        counter = state.session_count[users]
        if self.surface is Surface.SLATE:
            outcome = self._slate_outcomes(users, times, counter, decision.actions)
        else:
            outcome = self._variant_outcomes(users, counter, decision.actions)
        self._update_satisfaction(users, outcome, decision.actions)
        self._log_decisions(users, times, counter, decision, outcome)
        if self.session_policy.online:  # learn() is a no-op otherwise: skip the buffering
            feedback: dict[str, NDArray[Any]] = dict(
                users=users,
                actions=decision.actions,
                rewards=outcome.click.astype(np.float64),
                features=request.features,
                clicked_position=outcome.position,
                propensities=_or_nan(decision.propensities, users.shape[0]),
                decision_time=times,
            )
            if outcome.slots is not None:
                feedback["clicked_slots"] = outcome.slots
            self._clicks.add(**feedback)
        self.stats.decisions += users.shape[0]
        self._day_counters["sessions"] += users.shape[0]
        self._day_counters["clicks"] += int(outcome.click.sum())
        if self.schedule.feedback_every == 0:
            self._flush_clicks(t_end)

    def _slate_outcomes(
        self, users: IntArray, times: FloatArray, counter: NDArray[np.int32], slates: IntArray
    ) -> _Outcome:
        if self.users.scanning:
            return self._scan_outcomes(users, times, counter, slates)
        if self.behaviour.choice_model == "mnl":
            draws = uniform(self.seed, users, counter, 0, Purpose.CHOICE)
            position, expected, clicked, utility = self.users.mnl_sessions(users, slates, draws)
        else:
            slot_draws = uniform(
                self.seed, users[:, None], counter[:, None], np.arange(slates.shape[1])[None, :],
                Purpose.CASCADE,
            )  # fmt: skip
            position, expected, clicked, utility = self.users.cascade_sessions(
                users, slates, slot_draws
            )
        best = self._best_values(users)
        click = position >= 0
        if click.any():
            self._record_clicks(
                users[click], times[click], counter[click], clicked[click], utility[click], 0
            )
        return _Outcome(click, position, clicked, expected, best)

    def _scan_outcomes(
        self, users: IntArray, times: FloatArray, counter: NDArray[np.int32], slates: IntArray
    ) -> _Outcome:
        """Scanning sessions (pbm, dcm), each with any number of clicks."""
        played = self.users.scan_sessions(self._seed64, users, counter, slates)
        best = self._best_values(users)
        # The first click of every session, then the second, …: one user at most once per
        # round, as the ring and the oracle cache updates need.
        starts = played.rank_starts
        for r in range(starts.shape[0] - 1):
            rows = played.click_rows[starts[r] : starts[r + 1]]
            cols = played.click_slots[starts[r] : starts[r + 1]]
            self._record_clicks(users[rows], times[rows], counter[rows], slates[rows, cols],
                                played.utilities[rows, cols], r)  # fmt: skip
        scan = _Scan(played.slots, played.clicked_mask, played.minutes, played.any_click)
        return _Outcome(played.clicks, played.first_slot, played.first_item, played.expected,
                        best, scan)  # fmt: skip

    def _best_values(self, users: IntArray) -> FloatArray:
        """The oracle's best expected reward at decision time (NaN without oracle columns)."""
        if self.oracle_columns:
            return self.oracle.best_values(users, self.available, self._best)
        return np.full(users.shape, np.nan)

    def _record_clicks(
        self,
        users: IntArray,
        times: FloatArray,
        counter: NDArray[np.int32],
        items: IntArray,
        utility: FloatArray,
        rank: int,
    ) -> None:
        b = self.behaviour
        state = self.state
        # Ring update and purchase draws in one compiled pass.
        delay, evicted = kernels.record_clicks(
            self._seed64, users, np.ascontiguousarray(counter), items,
            np.ascontiguousarray(utility), state.recent_items, state.recent_pos,
            b.fatigue_memory, self.world.items.quality, b.conversion_intercept,
            self._conversion_lift, b.conversion_slope, b.conversion_quality,
            b.conversion_delay_mean,
            np.uint64(Purpose.CONVERSION), np.uint64(Purpose.CONVERSION_DELAY), rank,
        )  # fmt: skip
        if b.interest_rate > 0 or b.satiation > 0:
            # Consumption moves θ_u and σ_u: every utility of these users changes.
            world_items = self.world.items
            kernels.consume(users, items, state.preference, world_items.vector,
                            b.interest_rate, state.satiation, world_items.category)  # fmt: skip
            self._best.invalidate(users)
            if b.interest_rate > 0:
                self.users.interests_moved(users)
        elif self.oracle_columns and b.fatigue_memory:
            self.oracle.keep_best_values(users, items, evicted, self._best)
        converts = ~np.isnan(delay)
        if converts.any():
            self._pending.add(
                {Col.T: times[converts] + delay[converts], Col.CLICK_T: times[converts],
                 Col.USER: users[converts], Col.ITEM: items[converts],
                 Col.REVENUE: self._item_revenue[items[converts]]}
            )  # fmt: skip

    def _variant_outcomes(
        self, users: IntArray, counter: NDArray[np.int32], actions: IntArray
    ) -> _Outcome:
        rows = np.arange(users.shape[0])
        probs = self.users.variant_click_probabilities(users)
        expected = probs[rows, actions]
        click = uniform(self.seed, users, counter, 0, Purpose.VARIANT_CLICK) < expected
        position = np.where(click, 0, -1).astype(np.int64)
        clicked = np.where(click, actions, -1).astype(np.int64)
        return _Outcome(click, position, clicked, expected, probs.max(axis=1))

    def _log_decisions(
        self,
        users: IntArray,
        times: FloatArray,
        counter: NDArray[np.int32],
        decision: Decision,
        outcome: _Outcome,
    ) -> None:
        n = users.shape[0]
        _check_finite(Col.EXPECTED_REWARD, outcome.expected)
        slate = self.surface is Surface.SLATE
        fallback = decision.fallback
        if fallback is not None:
            self.stats.fallbacks += int(fallback.sum())
        columns: dict[str, NDArray[Any]] = {
            Col.T: times,
            Col.USER: users,
            Col.SESSION: counter,
            Col.ACTION: np.full(n, -1) if slate else decision.actions,
            Col.PROPENSITY: _or_nan(decision.propensities, n),
            Col.GROUP: decision.group if decision.group is not None else np.full(n, -1),
            Col.FALLBACK: fallback if fallback is not None else np.zeros(n, dtype=bool),
            Col.CLICK: outcome.click,
            Col.CLICKED_POSITION: outcome.position,
            Col.CLICKED_ITEM: outcome.clicked,
            Col.EXPECTED_REWARD: outcome.expected,
            Col.BEST_EXPECTED_REWARD: outcome.best,
        }
        if outcome.scan is not None:
            columns[Col.CLICKED_SLOTS] = outcome.scan.mask
            columns[Col.SESSION_MINUTES] = outcome.scan.minutes
        if slate:
            columns[Col.SLATE] = decision.actions
            columns.update(_slate_propensity_columns(decision, n))
        self._append(Table.DECISIONS, columns)

    def _flush_clicks(self, t: float) -> None:
        merged = self._clicks.pop()
        if merged is None or self.session_policy is None or self.surface is None:
            return
        self.session_policy.learn(
            Feedback(
                kind=FeedbackKind.CLICK,
                surface=self.surface,
                t=t,
                users=merged["users"],
                actions=merged["actions"],
                rewards=merged["rewards"],
                features=merged["features"],
                clicked_position=merged["clicked_position"]
                if self.surface is Surface.SLATE
                else None,
                clicked_slots=merged.get("clicked_slots"),
                propensities=merged["propensities"],
                decision_time=merged["decision_time"],
            )
        )

    # ------------------------------------------------------------------ feedback
    def _deliver(self, t: float) -> None:
        every = self.schedule.feedback_every
        if every > 0 and _crosses(t, self.schedule.decision_window, every):
            self._flush_clicks(t)
        done = self._pending.pop_due(t)
        if done is None:
            return
        self._append(Table.CONVERSIONS, done)
        self._day_counters["revenue"] += float(done[Col.REVENUE].sum())
        if self.session_policy is not None and self.surface is not None:
            n = done[Col.USER].shape[0]
            self.session_policy.learn(
                Feedback(
                    kind=FeedbackKind.CONVERSION,
                    surface=self.surface,
                    t=t,
                    users=done[Col.USER],
                    actions=done[Col.ITEM],
                    rewards=done[Col.REVENUE],
                    features=self.world.features[done[Col.USER]],
                    decision_time=done[Col.CLICK_T],
                    propensities=np.full(n, np.nan),
                )
            )

    # ------------------------------------------------------------------ daily
    def _daily(self, t: float) -> None:
        state, world, b = self.state, self.world, self.behaviour
        dt = self.schedule.checkpoint_every
        available = world.items.release_time <= t
        if (available != self.available).any():
            self.available = available
            self._best.clear()
        arrived = np.flatnonzero((world.users.join_time > t - dt) & (world.users.join_time <= t))
        arrived = arrived[world.users.join_time[arrived] > 0]  # t = 0 users logged at start
        if arrived.size:
            self._lifecycle(world.users.join_time[arrived], arrived, LIFECYCLE_ARRIVAL)
        dormant = np.flatnonzero(~state.alive & state.joined(world))  # churned before today
        active = np.flatnonzero(state.active(world))
        state.retention_multiplier[state.retention_until <= t] = 1.0
        ended = state.lift_until <= t
        state.conversion_lift[ended] = 0.0
        state.activity_lift[ended] = 0.0
        self._recover(np.flatnonzero(state.joined(world)), dt)
        p_churn = kernels.churn_probabilities(
            b.churn_base_hazard,
            b.churn_satisfaction,
            state.satisfaction[active],
            dt,
            state.retention_multiplier[active],
        )
        day = round(t / dt)
        churned = active[uniform(self.seed, active, day, 0, Purpose.CHURN) < p_churn]
        if churned.size:
            state.alive[churned] = False
            state.next_session[churned] = np.inf
            self._lifecycle(np.full(churned.size, t), churned, LIFECYCLE_CHURN)
        if b.win_back_hazard > 0 and dormant.size:
            self._win_back(t, day, dormant)
        if b.drift_sd > 0:
            noise = standard_normals(state.preference.shape, self.drift_rng)
            if b.drift_reversion_days is None:
                state.preference += np.float32(b.drift_sd * np.sqrt(dt)) * noise
            else:
                kernels.ou_drift(state.preference, world.users.preference, dt,
                                 b.drift_reversion_days, b.drift_sd, noise)  # fmt: skip
            self._best.invalidate()
            self.users.interests_moved()
        if t >= world.variants.shift_day:
            state.variant_logit = world.variants.logit_after_shift.copy()
        still = active[state.alive[active]]
        self.log.append(
            Table.SNAPSHOTS,
            {Col.T: np.array([t]), Col.ACTIVE_USERS: np.array([still.size]),
             Col.MEAN_SATISFACTION: np.array([_mean(state.satisfaction[still])]),
             Col.SESSIONS: np.array([self._day_counters["sessions"]]),
             Col.CLICKS: np.array([self._day_counters["clicks"]]),
             Col.REVENUE: np.array([self._day_counters["revenue"]]),
             Col.INTEREST_ENTROPY: np.array([self.users.interest_entropy(still)])},
        )  # fmt: skip
        self._day_counters = {"sessions": 0, "clicks": 0, "revenue": 0.0}
        if self.progress is not None:
            self.progress(t)

    def _update_satisfaction(self, users: IntArray, outcome: _Outcome, actions: IntArray) -> None:
        """s ← (1 − η) s + η (r − r₀,u): r is P(click) of what was shown (``relevance``; P(any
        click) under pbm and dcm) or the quality of the item consumed (``quality``, slates only; the
        mean quality of the items consumed in a session of several clicks)."""
        b, state = self.behaviour, self.state
        if self._tolerance is None:
            baseline = np.full(users.shape[0], b.satisfaction_baseline)
        else:
            baseline = b.satisfaction_baseline + self._tolerance[users]
        relevance = outcome.expected
        if outcome.scan is not None and b.satisfaction_signal == "relevance":
            relevance = outcome.scan.any_click
        if b.satisfaction_signal == "quality" and self.surface is Surface.SLATE:
            quality = self.world.items.quality
            if outcome.slots is None:
                relevance = kernels.consumed_relevances(
                    outcome.clicked, quality, baseline, b.no_click_cost
                )
            else:
                consumed = np.where(outcome.slots, quality[actions], 0.0).sum(axis=1)
                relevance = kernels.session_relevances(
                    outcome.click, consumed, baseline, b.no_click_cost
                )
        state.satisfaction[users] = kernels.satisfaction_updates(
            state.satisfaction[users], relevance, b.satisfaction_rate, baseline
        )

    def _recover(self, joined: IntArray, dt: float) -> None:
        """Between visits: satisfaction decays toward 0 (dormant users' too) and category
        satiation recovers."""
        b, state = self.behaviour, self.state
        if b.satisfaction_half_life is not None and joined.size:
            satisfaction = state.satisfaction[joined]
            kernels.decay(satisfaction, dt, b.satisfaction_half_life)
            state.satisfaction[joined] = satisfaction
        if b.satiation > 0:
            kernels.decay(state.satiation, dt, b.satiation_half_life)
            self._best.invalidate()

    def _win_back(self, t: float, day: int, dormant: IntArray) -> None:
        """Dormant users come back with P = 1 − exp(−h_w Δt / m_u); their next session is an
        exponential gap away (rate λ_u e^{β_a s_u}, keyed by their session counter)."""
        b, state, users = self.behaviour, self.state, self.world.users
        p = kernels.win_back_probabilities(
            b.win_back_hazard, state.retention_multiplier[dormant], self.schedule.checkpoint_every
        )
        back = dormant[uniform(self.seed, dormant, day, 0, Purpose.WIN_BACK) < p]
        if not back.size:
            return
        state.alive[back] = True
        rate = kernels.activity_rates(
            users.activity[back], b.activity_satisfaction, state.satisfaction[back]
        )
        draws = uniform(self.seed, back, state.session_count[back], 1, Purpose.SESSION_GAP)
        state.next_session[back] = t + kernels.exponential_draws(draws, 1.0 / rate)
        self._lifecycle(np.full(back.size, t), back, LIFECYCLE_RETURN)

    def _lifecycle(self, times: FloatArray, users: IntArray, event: int) -> None:
        columns = {Col.T: times, Col.USER: users, Col.EVENT: np.full(users.size, event)}
        self._append(Table.LIFECYCLE, columns)

    # ------------------------------------------------------------------ campaigns
    def _campaign(self, t: float) -> None:
        assert self.campaign_policy is not None
        world, state = self.world, self.state
        users = np.flatnonzero(state.active(world))
        if users.size == 0:
            return
        index = self._campaign_index
        self._campaign_index += 1
        request = DecisionRequest(
            surface=Surface.CAMPAIGN,
            t=t,
            users=users,
            features=world.features[users],
            available_items=self.available,
            eligible=campaigns.offer_eligibility(world, users),
            budget=self._budget,
            campaign=index,
        )
        tic = time.perf_counter()
        decision = self.campaign_policy.act(request)
        self.stats.act_seconds += time.perf_counter() - tic
        offers = decision.actions
        treated = offers >= 0
        if request.eligible is not None and treated.any():
            ok = request.eligible[np.flatnonzero(treated), offers[treated]]
            if not ok.all():
                raise ValueError(
                    f"campaign policy {self.campaign_policy.kind!r} sent offers to "
                    f"{int((~ok).sum())} ineligible users"
                )
        o = world.offers
        spend = float(o.contact_cost[offers[treated]].sum())
        if spend > self._budget + 1e-9:
            raise ValueError(
                f"campaign policy {self.campaign_policy.kind!r} spent {spend:.2f} on contacts, "
                f"over the budget of {self._budget:.2f}"
            )
        control_for = (
            decision.control_for if decision.control_for is not None else np.zeros_like(offers)
        )
        about = np.where(treated, offers, control_for)
        rows = np.arange(users.size)
        p0, p1 = campaigns.offer_probabilities(world, users)
        p_treated, p_control = p1[rows, about], p0[rows, about]
        p_real = np.where(treated, p_treated, p_control)
        draw = uniform(self.seed, users, index, 0, Purpose.OFFER_RESPONSE)
        responded = draw < p_real
        # One draw couples the two potential outcomes (common random numbers), so the
        # counterfactual untreated response of a treated user is known to the simulator.
        responded_untreated = draw < p_control
        npv, incremental = campaigns.contact_npv(o, about, treated, responded, responded_untreated)
        if treated.any():
            sent = offers[treated]
            sign = campaigns.retention_sign(
                world.users.response_type[users[treated]], o, sent,
                (p_treated - p_control)[treated],
            )  # fmt: skip
            effect = o.retention_effect[sent]
            lasting = effect > 0
            hit = users[treated][lasting]
            state.retention_multiplier[hit] = campaigns.retention_multiplier(
                sign[lasting], effect[lasting]
            )
            state.retention_until[hit] = t + o.retention_days[sent][lasting]
            coupled = (o.session_conversion_lift[sent] != 0) | (o.session_activity_lift[sent] != 0)
            if coupled.any():
                lifted = users[treated][coupled]
                state.conversion_lift[lifted] = o.session_conversion_lift[sent][coupled]
                state.activity_lift[lifted] = o.session_activity_lift[sent][coupled]
                state.lift_until[lifted] = t + o.retention_days[sent][coupled]
        propensity = _or_nan(decision.propensities, users.size)
        _check_finite(Col.P_TREATED, p_treated)
        _check_finite(Col.P_CONTROL, p_control)
        columns = {
            Col.T: np.full(users.size, t), Col.CAMPAIGN: np.full(users.size, index),
            Col.USER: users, Col.OFFER: offers, Col.CONTROL_FOR: about,
            Col.PROPENSITY: propensity,
            Col.GROUP: decision.group if decision.group is not None else np.full(users.size, -1),
            Col.RESPONDED: responded, Col.P_TREATED: p_treated, Col.P_CONTROL: p_control,
            Col.TRUE_EFFECT: p_treated - p_control, Col.NPV: npv,
            Col.INCREMENTAL_NPV: incremental,
        }  # fmt: skip
        self._append(Table.CAMPAIGNS, columns)
        self.stats.campaign_decisions += users.size
        self.campaign_policy.learn(
            Feedback(
                kind=FeedbackKind.RESPONSE,
                surface=Surface.CAMPAIGN,
                t=t,
                users=users,
                actions=offers,
                rewards=responded.astype(np.float64),
                features=request.features,
                propensities=propensity,
                decision_time=np.full(users.size, t),
            )
        )

    # ------------------------------------------------------------------ retraining
    def _retrain(self, t: float) -> None:
        policies = {id(p): p for p in (self.session_policy, self.campaign_policy) if p is not None}
        for policy in policies.values():
            if not policy.batch_fit:
                continue
            history = self.history.snapshot(t, self.world.features, self.state.joined(self.world))
            tic = time.perf_counter()
            policy.fit(history)
            seconds = time.perf_counter() - tic
            self.stats.fits += 1
            self.stats.fit_seconds += seconds
            rows = len(history.clicks) + len(history.campaigns)
            self.log.append(
                Table.FITS,
                {
                    Col.T: np.array([t]),
                    Col.SECONDS: np.array([seconds]),
                    Col.ROWS: np.array([rows]),
                },
            )


def _time_order(times: FloatArray) -> IntArray:
    """The order that sorts ``times``, equal times in input order (a stable sort).

    The vectorised (unstable) quicksort is ~5× faster than numpy's stable sort on floats;
    ties, which continuous event times practically never have, fall back to the stable one
    so that the order never depends on the machine's sorting kernel.
    """
    order = np.argsort(times)
    ordered = times[order]
    if ordered.shape[0] > 1 and (ordered[1:] == ordered[:-1]).any():
        return np.argsort(times, kind="stable")
    return order


def _mean(values: FloatArray) -> float:
    return float(values.mean()) if values.size else 0.0


def _check_finite(column: str, values: FloatArray) -> None:
    """A run whose oracle columns hold NaN or infinity stops here, rather than finishing with
    a silently wrong regret (parameters at the edge of their ranges can overflow)."""
    if not np.isfinite(values).all():
        raise FloatingPointError(
            f"the oracle column {column!r} is not finite (NaN or infinity): the world's "
            "parameters overflow the behaviour model (e.g. a very large "
            "behaviour.preference_weight or a very small temperature)"
        )


def _or_nan(values: NDArray[Any] | None, n: int) -> FloatArray:
    return np.full(n, np.nan) if values is None else np.asarray(values, dtype=np.float64)


def _slate_propensity_columns(decision: Decision, n: int) -> dict[str, NDArray[Any]]:
    """The slate's logged propensities: whole slate, and per slot (slot 0 = ``propensities``
    when the policy reports no per-slot values)."""
    k = decision.actions.shape[1]
    slots = decision.slot_propensities
    if slots is None:
        slots = np.full((n, k), np.nan)
        slots[:, 0] = _or_nan(decision.propensities, n)
    columns: dict[str, NDArray[Any]] = {
        Col.SLATE_PROPENSITY: _or_nan(decision.slate_propensities, n)
    }
    for j, name in enumerate(slot_propensity_columns(k)):
        columns[name] = slots[:, j]
    return columns


def _crosses(t: float, step: float, period: float) -> bool:
    """True when a multiple of ``period`` lies in (t − step, t]."""
    return int(np.floor(t / period + 1e-9)) > int(np.floor((t - step) / period + 1e-9))
