r"""Behaviour aggregates and churn labels from an activity log, for look-alike churn models.

A look-alike churn model learns who leaves from users whose fate is already known: at a
*cut-off* :math:`c`, every user who has joined and not churned by :math:`c` is described by
observable features and behaviour aggregates over the *look-back window* :math:`(c - W, c]`,
and labelled 1 if the user churned in the *label window* :math:`(c, c + H]`. The fitted
classifier then scores the active base at a later time with the same aggregates, and the
highest scores are the users "most similar to those who churned".

Aggregates (:data:`BEHAVIOUR_FEATURES`), per user, at cut-off :math:`c`
-----------------------------------------------------------------------
==================  ==========================================================================
``sessions``        sessions in :math:`(c - W, c]` (only when sessions are logged)
``ctr``             clicks / sessions in the window (0 without sessions; only with sessions)
``clicks``          clicks in the window
``conversions``     purchases in the window
``revenue``         revenue of those purchases
``days_since_click``  :math:`c - t_{\text{last click}}` over all history up to :math:`c`;
                    :math:`c - t_{\text{join}}` for a user who never clicked
``days_observed``   :math:`\min(W, c - t_{\text{join}})`, so new users are recognisable
==================  ==========================================================================

In the simulator, low satisfaction both lowers the click-through rate of what a user is
shown and raises the churn hazard (``docs/world.md``), so the aggregates carry real signal.

The same code serves a policy (from :class:`~recarena.contract.History`) and the analysis
(from a run's event log) through :class:`ActivityLog`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from recarena.models.targeting import make_classifier
from recarena.typing import FloatArray, IntArray

__all__ = [
    "BEHAVIOUR_FEATURES",
    "ActivityLog",
    "ChurnSample",
    "behaviour_aggregates",
    "churn_sample",
    "make_churn_classifier",
]


BEHAVIOUR_FEATURES: tuple[str, ...] = (
    "sessions",
    "ctr",
    "clicks",
    "conversions",
    "revenue",
    "days_since_click",
    "days_observed",
)


@dataclass(frozen=True)
class ActivityLog:
    """What a real system logs about its users, as plain arrays.

    Attributes
    ----------
    session_t, session_user
        One entry per session (``None`` when sessions are not logged).
    click_t, click_user
        One entry per click.
    purchase_t, purchase_user, purchase_revenue
        One entry per purchase.
    join_t
        Arrival time by user id (NaN for users who never arrived), shape (n_users,).
    churn_t
        Churn time by user id (+inf for users who have not churned), shape (n_users,).
    """

    session_t: FloatArray | None
    session_user: IntArray | None
    click_t: FloatArray
    click_user: IntArray
    purchase_t: FloatArray
    purchase_user: IntArray
    purchase_revenue: FloatArray
    join_t: FloatArray
    churn_t: FloatArray

    @classmethod
    def from_frames(
        cls,
        sessions: pd.DataFrame | None,
        clicks: pd.DataFrame,
        purchases: pd.DataFrame,
        lifecycle: pd.DataFrame,
        churn_event: Any,
        arrival_event: Any,
    ) -> ActivityLog:
        """Build from frames with columns ``t, user`` (+ ``revenue`` for purchases) and a
        lifecycle frame ``t, user, event`` whose events are ``arrival_event``/``churn_event``.

        ``sessions=None`` (or an empty frame while clicks exist) means sessions are unknown.
        """

        def col(frame: pd.DataFrame, name: str, dtype: Any) -> NDArray[Any]:
            if len(frame) == 0 or name not in frame.columns:
                return np.zeros(0, dtype=dtype)
            return frame[name].to_numpy(dtype=dtype)

        users = [col(f, "user", np.int64) for f in (clicks, purchases, lifecycle)]
        if sessions is not None and len(sessions):
            users.append(col(sessions, "user", np.int64))
        n = int(max((u.max() + 1 for u in users if u.size), default=0))
        join = np.full(n, np.nan)
        churn = np.full(n, np.inf)
        if len(lifecycle):
            event = lifecycle["event"].to_numpy()
            who = col(lifecycle, "user", np.int64)
            when = col(lifecycle, "t", np.float64)
            arrived = event == arrival_event
            join[who[arrived]] = when[arrived]
            churned = event == churn_event
            churn[who[churned]] = when[churned]
        known = sessions is not None and (len(sessions) > 0 or len(clicks) == 0)
        return cls(
            session_t=col(sessions, "t", np.float64) if known and sessions is not None else None,
            session_user=col(sessions, "user", np.int64)
            if known and sessions is not None
            else None,
            click_t=col(clicks, "t", np.float64),
            click_user=col(clicks, "user", np.int64),
            purchase_t=col(purchases, "t", np.float64),
            purchase_user=col(purchases, "user", np.int64),
            purchase_revenue=col(purchases, "revenue", np.float64),
            join_t=join,
            churn_t=churn,
        )

    @property
    def n_users(self) -> int:
        """Users ever seen (length of ``join_t``)."""
        return int(self.join_t.shape[0])

    def alive(self, t: float) -> IntArray:
        """Users who have joined by ``t`` and not churned by ``t``, ascending."""
        ok = (self.join_t <= t) & (self.churn_t > t)
        return np.flatnonzero(ok).astype(np.int64)

    def feature_names(self) -> tuple[str, ...]:
        """The aggregate columns this log supports (no session columns without sessions)."""
        if self.session_t is None:
            return tuple(f for f in BEHAVIOUR_FEATURES if f not in ("sessions", "ctr"))
        return BEHAVIOUR_FEATURES


def _window_counts(
    t: FloatArray,
    user: IntArray,
    weights: FloatArray | None,
    users: IntArray,
    lo: float,
    hi: float,
    n: int,
) -> FloatArray:
    inside = (t > lo) & (t <= hi)
    sums = np.bincount(
        user[inside], weights=None if weights is None else weights[inside], minlength=n
    )
    out: FloatArray = sums[users].astype(np.float64)
    return out


def behaviour_aggregates(
    log: ActivityLog, users: IntArray, cutoff: float, lookback: float
) -> FloatArray:
    """The aggregates of the module docstring for ``users`` at ``cutoff``, shape (n, A).

    Columns in the order of :meth:`ActivityLog.feature_names`. Users unknown to the log
    (ids beyond ``log.n_users``) get zero activity and ``days_observed = 0``.
    """
    users = np.asarray(users, dtype=np.int64)
    n = max(log.n_users, int(users.max()) + 1 if users.size else 0)
    lo = cutoff - lookback
    clicks = _window_counts(log.click_t, log.click_user, None, users, lo, cutoff, n)
    purchases = _window_counts(log.purchase_t, log.purchase_user, None, users, lo, cutoff, n)
    revenue = _window_counts(
        log.purchase_t, log.purchase_user, log.purchase_revenue, users, lo, cutoff, n
    )
    join = np.full(n, cutoff)
    join[: log.n_users] = np.where(np.isnan(log.join_t), cutoff, log.join_t)
    last_click = join.copy()
    past = log.click_t <= cutoff
    np.maximum.at(last_click, log.click_user[past], log.click_t[past])
    columns = {
        "clicks": clicks,
        "conversions": purchases,
        "revenue": revenue,
        "days_since_click": cutoff - last_click[users],
        "days_observed": np.minimum(lookback, cutoff - join[users]),
    }
    if log.session_t is not None and log.session_user is not None:
        sessions = _window_counts(log.session_t, log.session_user, None, users, lo, cutoff, n)
        columns["sessions"] = sessions
        columns["ctr"] = np.divide(clicks, sessions, out=np.zeros_like(clicks), where=sessions > 0)
    return np.column_stack([columns[name] for name in log.feature_names()]).astype(np.float64)


@dataclass(frozen=True)
class ChurnSample:
    """Users alive at a cut-off, their aggregates and whether they churned in the label window."""

    users: IntArray
    aggregates: FloatArray
    churned: IntArray
    cutoff: float


def churn_sample(
    log: ActivityLog, cutoff: float, label_days: float, lookback: float
) -> ChurnSample:
    """Users alive at ``cutoff``, aggregates over ``(cutoff − lookback, cutoff]``, and labels
    ``1[churn in (cutoff, cutoff + label_days]]``."""
    users = log.alive(cutoff)
    agg = behaviour_aggregates(log, users, cutoff, lookback)
    churn = log.churn_t[users]
    label = ((churn > cutoff) & (churn <= cutoff + label_days)).astype(np.int64)
    return ChurnSample(users, agg, label, cutoff)


def make_churn_classifier(model: Literal["logistic", "catboost"], seed: int) -> Any:
    """The churn classifier: standardised logistic regression or CatBoost (see
    :func:`recarena.models.targeting.make_classifier`)."""
    return make_classifier(model, seed)
