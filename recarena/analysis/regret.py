r"""Pseudo-regret and daily time series of a run.

Pseudo-regret
-------------
Every session decision :math:`i` logs the oracle's expected reward of what was shown,
:math:`\mu_i` (``expected_reward``: P(click) of the slate or variant), and of the best action
available to that user at that moment, :math:`\mu_i^*` (``best_expected_reward``). The
cumulative pseudo-regret after the first :math:`n` decisions (in time order) is

.. math:: R_n = \sum_{i \le n} \bigl(\mu_i^* - \mu_i\bigr),

the expected clicks lost to not acting like the oracle (Bubeck & Cesa-Bianchi 2012,
*Regret analysis of stochastic and nonstochastic multi-armed bandit problems*, §1). It is
measured against the per-decision best action, not against the best fixed arm, and it uses
expectations, so it carries none of the click noise of the realised reward. The per-decision
regret is :math:`R_N / N`. Runs logged without oracle columns (``best_expected_reward`` NaN)
have NaN regret.

"Best" is the oracle's best *slate* for the user's current state; the users' future (fatigue,
satisfaction, churn) depends on what every arm showed, so :math:`R_n` compares each arm
against a myopic oracle on that arm's own trajectory. Regret can be slightly negative when a
policy's action ties or beats the oracle's greedy slate (the slate search is itself greedy).

Time axes
---------
Curves are sampled on a shared grid of times (:func:`time_grid`) so replications line up for
:func:`recarena.analysis.stats.band`; day ``d`` of :func:`daily_series` covers
:math:`((d-1)\,p,\; d\,p]` for period :math:`p` (1 day), so a quantity "at day d" includes
everything up to and including time :math:`d\,p`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from recarena.simulator.log import (
    LIFECYCLE_ARRIVAL,
    LIFECYCLE_CHURN,
    LIFECYCLE_RETURN,
    Col,
    Table,
)

__all__ = [
    "CUM_DECISIONS",
    "CUM_EXPECTED_REWARD",
    "CUM_REGRET",
    "CUM_REVENUE",
    "CUM_REWARD",
    "DAY",
    "DECISIONS",
    "REGRET",
    "REGRET_PER_DECISION",
    "TOTAL_REGRET",
    "cumulative_curve",
    "cumulative_regret",
    "daily_series",
    "regret_metrics",
    "time_grid",
]

# Columns of the series built here (snapshot-derived ones reuse the log's names).
DAY = "day"
DECISIONS = "decisions"
REGRET = "regret"
CUM_DECISIONS = "cum_decisions"
CUM_REWARD = "cum_reward"
CUM_EXPECTED_REWARD = "cum_expected_reward"
CUM_REGRET = "cum_regret"
CUM_REVENUE = "cum_revenue"
# Metric names (per run).
TOTAL_REGRET = "total_regret"
REGRET_PER_DECISION = "regret_per_decision"


def _table(tables: Mapping[str, pd.DataFrame], name: str, columns: list[str]) -> pd.DataFrame:
    """A table, or an empty frame with ``columns`` when the run has none."""
    if name in tables:
        return tables[name]
    return pd.DataFrame({c: pd.Series(dtype=np.float64) for c in columns})


def _ordered_decisions(decisions: pd.DataFrame) -> pd.DataFrame:
    t = decisions[Col.T].to_numpy(dtype=np.float64)
    if t.size > 1 and (np.diff(t) < 0).any():
        return decisions.iloc[np.argsort(t, kind="stable")]
    return decisions


def cumulative_regret(decisions: pd.DataFrame) -> pd.DataFrame:
    """Per-decision running totals, in time order.

    Parameters
    ----------
    decisions
        The decisions table (needs ``t, click, expected_reward, best_expected_reward``).

    Returns
    -------
    pandas.DataFrame
        One row per decision: ``t``, ``regret`` (:math:`\\mu^*_i - \\mu_i`), ``cum_decisions``
        (:math:`n`), ``cum_reward`` (clicks so far), ``cum_expected_reward``
        (:math:`\\sum \\mu_i`) and ``cum_regret`` (:math:`R_n`). Oracle values are promoted
        from the log's float32 to float64 before summing.
    """
    d = _ordered_decisions(decisions)
    expected = d[Col.EXPECTED_REWARD].to_numpy(dtype=np.float64)
    regret = d[Col.BEST_EXPECTED_REWARD].to_numpy(dtype=np.float64) - expected
    return pd.DataFrame(
        {
            Col.T: d[Col.T].to_numpy(dtype=np.float64),
            REGRET: regret,
            CUM_DECISIONS: np.arange(1, len(d) + 1, dtype=np.int64),
            CUM_REWARD: np.cumsum(d[Col.CLICK].to_numpy(dtype=np.int64)),
            CUM_EXPECTED_REWARD: np.cumsum(expected),
            CUM_REGRET: np.cumsum(regret),
        }
    )


def regret_metrics(decisions: pd.DataFrame) -> dict[str, float]:
    """Total pseudo-regret :math:`R_N` and per-decision regret :math:`R_N / N`.

    Both are NaN when there are no decisions or when any ``best_expected_reward`` is NaN (a
    run logged without oracle columns).
    """
    n = len(decisions)
    if n == 0:
        return {TOTAL_REGRET: math.nan, REGRET_PER_DECISION: math.nan}
    best = decisions[Col.BEST_EXPECTED_REWARD].to_numpy(dtype=np.float64)
    expected = decisions[Col.EXPECTED_REWARD].to_numpy(dtype=np.float64)
    total = float(np.sum(best - expected))
    return {TOTAL_REGRET: total, REGRET_PER_DECISION: total / n}


def time_grid(
    horizon: float, n: int = 200, log: bool = False, start: float | None = None
) -> NDArray[np.float64]:
    """Times at which to sample cumulative curves.

    Parameters
    ----------
    horizon
        Last time (days).
    n
        Number of points.
    log
        Geometric spacing from ``start`` (default ``horizon / 1000``) to ``horizon``, for a
        log-time axis; linear spacing in ``(0, horizon]`` otherwise.
    start
        First time of a geometric grid.

    Returns
    -------
    numpy.ndarray
        Increasing float64 times ending exactly at ``horizon``.
    """
    if horizon <= 0:
        raise ValueError(f"horizon must be > 0, got {horizon!r}")
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n!r}")
    if log:
        first = horizon / 1000.0 if start is None else start
        if not 0 < first < horizon:
            raise ValueError(f"start must lie in (0, horizon), got {first!r}")
        grid = np.geomspace(first, horizon, n)
    else:
        grid = np.linspace(0.0, horizon, n + 1)[1:]
    grid[-1] = horizon
    return grid


def cumulative_curve(decisions: pd.DataFrame, times: ArrayLike) -> pd.DataFrame:
    """Cumulative decisions, clicks, expected reward and regret at each of ``times``.

    The value at time :math:`\\tau` sums the decisions with :math:`t \\le \\tau`.

    Returns
    -------
    pandas.DataFrame
        ``t, cum_decisions, cum_reward, cum_expected_reward, cum_regret`` (0 before the first
        decision).
    """
    per = cumulative_regret(decisions)
    at = np.asarray(times, dtype=np.float64)
    idx = np.searchsorted(per[Col.T].to_numpy(), at, side="right") - 1

    def pick(col: str, dtype: type) -> np.ndarray:
        values = per[col].to_numpy(dtype=dtype)
        if values.size == 0:
            return np.zeros(at.shape, dtype=dtype)
        return np.where(idx >= 0, values[np.maximum(idx, 0)], 0).astype(dtype)

    return pd.DataFrame(
        {
            Col.T: at,
            CUM_DECISIONS: pick(CUM_DECISIONS, np.int64),
            CUM_REWARD: pick(CUM_REWARD, np.int64),
            CUM_EXPECTED_REWARD: pick(CUM_EXPECTED_REWARD, np.float64),
            CUM_REGRET: pick(CUM_REGRET, np.float64),
        }
    )


def _bins(t: np.ndarray, period: float, n_days: int) -> np.ndarray:
    """Day index 1..n_days of times ``t``: day d covers ((d−1)p, dp]; t = 0 goes to day 1."""
    day = np.ceil(t / period - 1e-9).astype(np.int64)
    return np.clip(day, 1, n_days)


def _per_day(bins: np.ndarray, weights: np.ndarray | None, n_days: int) -> np.ndarray:
    counts = np.bincount(bins, weights=weights, minlength=n_days + 1)
    return np.asarray(counts[1 : n_days + 1], dtype=np.float64)


def daily_series(
    tables: Mapping[str, pd.DataFrame], horizon: float, period: float = 1.0
) -> pd.DataFrame:
    """One row per day of a run.

    Parameters
    ----------
    tables
        The run's tables (``decisions``, ``conversions``, ``lifecycle``, ``snapshots``); any
        may be absent.
    horizon
        Length of the run (days).
    period
        Length of a "day" (the bin width), default 1.

    Returns
    -------
    pandas.DataFrame
        Columns: ``day`` (1, 2, …), ``t`` (end of the day, ``day · period``, capped at the
        horizon), ``decisions`` and ``clicks`` in the day, ``cum_decisions``, ``cum_reward``
        (clicks so far), ``cum_expected_reward``, ``cum_regret`` (:math:`R` at the end of the
        day), ``active_users`` at the end of the day (arrivals minus churns with
        :math:`t \\le` end of day, from ``lifecycle``), ``mean_satisfaction`` (the last snapshot
        at or before the end of the day; NaN before the first), ``interest_entropy`` (likewise),
        ``revenue`` in the day (from
        ``conversions``, by purchase time) and ``cum_revenue``.
    """
    if horizon <= 0 or period <= 0:
        raise ValueError(f"horizon and period must be > 0, got {horizon!r}, {period!r}")
    n_days = max(1, math.ceil(horizon / period - 1e-9))
    decisions = _table(
        tables, Table.DECISIONS, [Col.T, Col.CLICK, Col.EXPECTED_REWARD, Col.BEST_EXPECTED_REWARD]
    )
    conversions = _table(tables, Table.CONVERSIONS, [Col.T, Col.REVENUE])
    lifecycle = _table(tables, Table.LIFECYCLE, [Col.T, Col.USER, Col.EVENT])
    snapshots = _table(tables, Table.SNAPSHOTS, [Col.T, Col.MEAN_SATISFACTION])

    ends = np.minimum(np.arange(1, n_days + 1, dtype=np.float64) * period, horizon)
    dbin = _bins(decisions[Col.T].to_numpy(dtype=np.float64), period, n_days)
    expected = decisions[Col.EXPECTED_REWARD].to_numpy(dtype=np.float64)
    regret = decisions[Col.BEST_EXPECTED_REWARD].to_numpy(dtype=np.float64) - expected
    n_dec = _per_day(dbin, None, n_days)
    clicks = _per_day(dbin, decisions[Col.CLICK].to_numpy(dtype=np.float64), n_days)
    exp_day = _per_day(dbin, expected, n_days)
    # bincount cannot carry NaN per bin meaningfully; track NaN regret explicitly.
    nan_regret = _per_day(dbin, np.isnan(regret).astype(np.float64), n_days) > 0
    reg_day = _per_day(dbin, np.nan_to_num(regret, nan=0.0), n_days)
    cum_regret = np.cumsum(reg_day)
    cum_regret[np.cumsum(nan_regret) > 0] = np.nan

    cbin = _bins(conversions[Col.T].to_numpy(dtype=np.float64), period, n_days)
    revenue = _per_day(cbin, conversions[Col.REVENUE].to_numpy(dtype=np.float64), n_days)

    lt = lifecycle[Col.T].to_numpy(dtype=np.float64)
    ev = lifecycle[Col.EVENT].to_numpy()
    arrived = np.sort(lt[ev == LIFECYCLE_ARRIVAL])
    churned = np.sort(lt[ev == LIFECYCLE_CHURN])
    returned = np.sort(lt[ev == LIFECYCLE_RETURN])  # dormant users back (win-back hazard)
    active = (
        np.searchsorted(arrived, ends + 1e-9, side="right")
        - np.searchsorted(churned, ends + 1e-9, side="right")
        + np.searchsorted(returned, ends + 1e-9, side="right")
    )

    snaps = snapshots.sort_values(Col.T, kind="stable")
    st = snaps[Col.T].to_numpy(dtype=np.float64)
    sat = snaps[Col.MEAN_SATISFACTION].to_numpy(dtype=np.float64)
    si = np.searchsorted(st, ends + 1e-9, side="right") - 1
    satisfaction = (
        np.where(si >= 0, sat[np.maximum(si, 0)], np.nan) if sat.size else np.full(n_days, np.nan)
    )
    interest = np.full(n_days, np.nan)  # absent from logs written before it existed
    if Col.INTEREST_ENTROPY in snaps.columns and sat.size:
        values = snaps[Col.INTEREST_ENTROPY].to_numpy(dtype=np.float64)
        interest = np.where(si >= 0, values[np.maximum(si, 0)], np.nan)

    return pd.DataFrame(
        {
            DAY: np.arange(1, n_days + 1, dtype=np.int64),
            Col.T: ends,
            DECISIONS: n_dec.astype(np.int64),
            Col.CLICKS: clicks.astype(np.int64),
            CUM_DECISIONS: np.cumsum(n_dec).astype(np.int64),
            CUM_REWARD: np.cumsum(clicks).astype(np.int64),
            CUM_EXPECTED_REWARD: np.cumsum(exp_day),
            CUM_REGRET: cum_regret,
            Col.ACTIVE_USERS: active.astype(np.int64),
            Col.MEAN_SATISFACTION: satisfaction,
            Col.INTEREST_ENTROPY: interest,
            Col.REVENUE: revenue,
            CUM_REVENUE: np.cumsum(revenue),
        }
    )
