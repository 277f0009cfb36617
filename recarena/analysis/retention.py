r"""User retention: Kaplan–Meier survival from the lifecycle table, with Greenwood intervals.

Durations
---------
A user's time at risk starts at arrival (``event = 0`` in ``lifecycle``; the initial population
arrives at ``t = 0``) and ends at churn (``event = 1``, the *event*) or at the horizon
(*censored*). So ``duration = t_churn − t_join`` for churned users and
``duration = horizon − t_join`` otherwise: "time since arrival", the usual cohort view.
A user who churns without an arrival row (a log written before arrivals at ``t = 0`` were
logged) is taken to have joined at ``t = 0``.

Estimator
---------
With distinct event times :math:`t_1 < t_2 < \dots`, :math:`n_i` users at risk just before
:math:`t_i` (duration :math:`\ge t_i`) and :math:`d_i` events at :math:`t_i`,

.. math::

    \hat S(t) = \prod_{t_i \le t} \Bigl(1 - \frac{d_i}{n_i}\Bigr)

(Kaplan & Meier 1958, JASA 53(282)). A user censored at :math:`t_i` is still at risk at
:math:`t_i` (censoring is taken to happen just after events at the same time, the standard
convention).

Greenwood's variance (Greenwood 1926):

.. math::

    \widehat{\operatorname{Var}}\,\hat S(t) = \hat S(t)^2
    \sum_{t_i \le t} \frac{d_i}{n_i (n_i - d_i)}.

Confidence intervals, :math:`z = \Phi^{-1}((1+\ell)/2)`:

* ``"log-log"`` (default; Kalbfleisch & Prentice 1980, as in lifelines and R's
  ``conf.type="log-log"``): with :math:`\sigma = \sqrt{\sum d_i/(n_i(n_i-d_i))}\,/\,
  |\log \hat S|`, the interval is :math:`[\hat S^{\exp(z\sigma)}, \hat S^{\exp(-z\sigma)}]`,
  always inside :math:`[0, 1]`; it is :math:`[1, 1]` before the first event and
  :math:`[0, 0]` once :math:`\hat S = 0`.
* ``"plain"``: :math:`\hat S \pm z \sqrt{\widehat{\operatorname{Var}}}`, clipped to
  :math:`[0, 1]`.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from recarena.simulator.log import LIFECYCLE_ARRIVAL, LIFECYCLE_CHURN, Col

__all__ = [
    "AT_RISK",
    "CENSORED",
    "DURATION",
    "EVENTS",
    "JOIN",
    "KM_CI_HIGH",
    "KM_CI_LOW",
    "OBSERVED",
    "SE",
    "SURVIVAL",
    "TIME",
    "kaplan_meier",
    "lifecycle_durations",
    "retention_curve",
    "survival_at",
]

# Columns of the duration and survival tables.
JOIN = "join"
DURATION = "duration"
OBSERVED = "observed"
TIME = "time"
AT_RISK = "at_risk"
EVENTS = "events"
CENSORED = "censored"
SURVIVAL = "survival"
SE = "se"
KM_CI_LOW = "ci_low"
KM_CI_HIGH = "ci_high"

CIMethod = Literal["log-log", "plain"]
_KM_COLUMNS = [TIME, AT_RISK, EVENTS, CENSORED, SURVIVAL, SE, KM_CI_LOW, KM_CI_HIGH]


def lifecycle_durations(lifecycle: pd.DataFrame, horizon: float) -> pd.DataFrame:
    """Per-user time at risk from the ``lifecycle`` table.

    Parameters
    ----------
    lifecycle
        The lifecycle table (``t, user, event``).
    horizon
        End of observation (days); users still active are censored there.

    Returns
    -------
    pandas.DataFrame
        One row per user, sorted by user: ``user, join, duration, observed`` (``observed`` is
        True when the user churned, False when censored at the horizon).
    """
    event = lifecycle[Col.EVENT].to_numpy()
    arrivals = lifecycle.loc[event == LIFECYCLE_ARRIVAL, [Col.USER, Col.T]]
    churns = lifecycle.loc[event == LIFECYCLE_CHURN, [Col.USER, Col.T]]
    join = arrivals.groupby(Col.USER)[Col.T].min()
    churn = churns.groupby(Col.USER)[Col.T].min()
    users = join.index.union(churn.index)
    join_t = join.reindex(users).fillna(0.0).to_numpy(dtype=np.float64)
    churn_t = churn.reindex(users).to_numpy(dtype=np.float64)
    observed = ~np.isnan(churn_t)
    end = np.where(observed, churn_t, float(horizon))
    return pd.DataFrame(
        {
            Col.USER: users.to_numpy(dtype=np.int64),
            JOIN: join_t,
            DURATION: np.maximum(end - join_t, 0.0),
            OBSERVED: observed,
        }
    )


def kaplan_meier(
    durations: ArrayLike,
    observed: ArrayLike,
    level: float = 0.95,
    ci: CIMethod = "log-log",
) -> pd.DataFrame:
    """Kaplan–Meier survival with Greenwood standard errors and pointwise intervals.

    Parameters
    ----------
    durations
        Time at risk of each subject (≥ 0).
    observed
        True where the duration ends in the event (churn), False where it is censored.
    level
        Two-sided confidence level in (0, 1).
    ci
        ``"log-log"`` or ``"plain"`` (module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per distinct duration (event or censoring), preceded by a row at time 0 unless
        0 is itself a duration: ``time, at_risk, events, censored, survival, se, ci_low,
        ci_high``. ``survival`` is :math:`\\hat S` just after ``time`` (right-continuous step
        function). Empty input gives an empty table.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if ci not in ("log-log", "plain"):
        raise ValueError(f"ci must be 'log-log' or 'plain', got {ci!r}")
    d = np.asarray(durations, dtype=np.float64).ravel()
    e = np.asarray(observed, dtype=bool).ravel()
    if d.shape != e.shape:
        raise ValueError(f"durations and observed differ in length: {d.size} vs {e.size}")
    if d.size == 0:
        return pd.DataFrame({c: pd.Series(dtype=np.float64) for c in _KM_COLUMNS})
    if np.isnan(d).any() or (d < 0).any():
        raise ValueError("durations must be non-negative numbers (no NaN)")
    times, inverse = np.unique(d, return_inverse=True)
    events = np.bincount(inverse, weights=e.astype(np.float64), minlength=times.size)
    total = np.bincount(inverse, minlength=times.size).astype(np.float64)
    censored = total - events
    # at risk just before t_i: everyone whose duration is ≥ t_i.
    at_risk = d.size - np.concatenate([[0.0], np.cumsum(total)[:-1]])
    factor = 1.0 - events / at_risk
    survival = np.cumprod(factor)
    # Greenwood's sum; infinite once every subject at risk has had the event (S = 0 then).
    denom = at_risk * (at_risk - events)
    term = np.divide(events, denom, out=np.full_like(events, np.inf), where=denom > 0)
    term[events == 0] = 0.0
    greenwood = np.cumsum(term)
    zero = survival <= 0.0
    se = np.where(zero, 0.0, survival * np.sqrt(np.where(zero, 0.0, greenwood)))
    z = float(sps.norm.ppf((1.0 + level) / 2.0))
    if ci == "plain":
        low = np.clip(survival - z * se, 0.0, 1.0)
        high = np.clip(survival + z * se, 0.0, 1.0)
    else:
        low, high = _loglog_bounds(survival, greenwood, z)
    table = pd.DataFrame(
        {TIME: times, AT_RISK: at_risk, EVENTS: events, CENSORED: censored,
         SURVIVAL: survival, SE: se, KM_CI_LOW: low, KM_CI_HIGH: high}
    )  # fmt: skip
    if times[0] > 0.0:
        start = pd.DataFrame(
            {TIME: [0.0], AT_RISK: [float(d.size)], EVENTS: [0.0], CENSORED: [0.0],
             SURVIVAL: [1.0], SE: [0.0], KM_CI_LOW: [1.0], KM_CI_HIGH: [1.0]}
        )  # fmt: skip
        table = pd.concat([start, table], ignore_index=True)
    for col in (AT_RISK, EVENTS, CENSORED):
        table[col] = table[col].astype(np.int64)
    return table


def _loglog_bounds(
    survival: NDArray[np.float64], greenwood: NDArray[np.float64], z: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Kalbfleisch–Prentice bounds ``S^exp(±zσ)``, σ = √greenwood / |log S|."""
    low = survival.copy()
    high = survival.copy()
    inside = (survival > 0.0) & (survival < 1.0)
    log_s = np.log(survival[inside])
    sigma = np.sqrt(greenwood[inside]) / np.abs(log_s)
    low[inside] = np.exp(log_s * np.exp(z * sigma))
    high[inside] = np.exp(log_s * np.exp(-z * sigma))
    return low, high


def survival_at(km: pd.DataFrame, t: ArrayLike) -> NDArray[np.float64]:
    """Evaluate the Kaplan–Meier step function of :func:`kaplan_meier` at time(s) ``t``.

    :math:`\\hat S(t)` is the survival of the last row with ``time ≤ t`` (1 before the first
    row); NaN for an empty table.
    """
    at = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if len(km) == 0:
        return np.full(at.shape, math.nan)
    times = km[TIME].to_numpy(dtype=np.float64)
    surv = km[SURVIVAL].to_numpy(dtype=np.float64)
    idx = np.searchsorted(times, at, side="right") - 1
    return np.where(idx >= 0, surv[np.maximum(idx, 0)], 1.0)


def retention_curve(
    lifecycle: pd.DataFrame, horizon: float, level: float = 0.95, ci: CIMethod = "log-log"
) -> pd.DataFrame:
    """Kaplan–Meier retention of a run: :func:`lifecycle_durations` then :func:`kaplan_meier`."""
    durations = lifecycle_durations(lifecycle, horizon)
    return kaplan_meier(durations[DURATION], durations[OBSERVED], level=level, ci=ci)
