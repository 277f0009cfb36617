r"""Offline vs online agreement: does an offline metric rank the arms as their online value does?

For arms :math:`a = 1..A` with an offline metric :math:`m_a` (the arm's policy refitted on a
logged arm and scored on held-out interactions, :mod:`recarena.experiment.evaluate`) and an
online long-term value :math:`v_a` (:mod:`recarena.analysis.value`), both averaged over the
same seeds, the agreement is Kendall's :math:`\tau_b` between the two orderings
(:func:`scipy.stats.kendalltau`, ties counted as in Kendall 1945): +1 when the offline metric
orders the arms exactly as the online value, −1 when it reverses them.

Uncertainty: a percentile bootstrap over seeds (Efron & Tibshirani 1993, ch. 13). Each
replicate resamples the seeds with replacement, averages both the offline metric and the
online value of every arm over the resampled seeds (the pairing by seed is kept) and
recomputes :math:`\tau_b`; replicates where it is undefined (an ordering all ties) are left
out. With few arms :math:`\tau` takes few values (e.g. 0, ±1/3, ±2/3, ±1 for 3 arms), so
the interval is coarse: read it as "how stable is the ordering over seeds".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from recarena.analysis.stats import ARM, SEED

__all__ = ["offline_online_tau"]


def _tau(x: np.ndarray, y: np.ndarray) -> float:
    if np.unique(x).size < 2 or np.unique(y).size < 2:
        return math.nan
    return float(stats.kendalltau(x, y).statistic)


def offline_online_tau(
    offline: pd.DataFrame,
    online: pd.DataFrame,
    value: str,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Kendall τ between each offline metric's ordering of the arms and their online value.

    Parameters
    ----------
    offline
        Long table ``seed, model, metric, value`` (one slice), ``model`` being the arm name.
    online
        Per-run table with ``seed, arm`` and the column ``value``.
    value
        The online value column (e.g. ``value_clicks``).
    n_boot
        Bootstrap replicates over seeds.
    level
        Confidence level.
    seed
        Seed of the bootstrap's generator.

    Returns
    -------
    pandas.DataFrame
        ``metric, online, tau, ci_low, ci_high, n_arms, n_seeds``; one row per offline
        metric, NaN where fewer than 3 arms or no spread.
    """
    columns = ["metric", "online", "tau", "ci_low", "ci_high", "n_arms", "n_seeds"]
    rows = []
    online_wide = online.pivot_table(index=SEED, columns=ARM, values=value)
    for metric, part in offline.groupby("metric", sort=False):
        off_wide = part.pivot_table(index=SEED, columns="model", values="value")
        arms = [a for a in off_wide.columns if a in online_wide.columns]
        seeds = sorted(set(off_wide.index) & set(online_wide.index))
        row = {"metric": metric, "online": value, "tau": math.nan, "ci_low": math.nan,
               "ci_high": math.nan, "n_arms": len(arms), "n_seeds": len(seeds)}  # fmt: skip
        if len(arms) >= 3 and seeds:
            off = off_wide.loc[seeds, arms].to_numpy(np.float64)
            on = online_wide.loc[seeds, arms].to_numpy(np.float64)
            row["tau"] = _tau(np.nanmean(off, axis=0), np.nanmean(on, axis=0))
            rng = np.random.default_rng(seed)
            draws = rng.integers(0, len(seeds), (n_boot, len(seeds)))
            taus = np.array([_tau(np.nanmean(off[d], axis=0), np.nanmean(on[d], axis=0))
                             for d in draws])  # fmt: skip
            taus = taus[~np.isnan(taus)]
            if taus.size:
                tail = (1.0 - level) / 2.0
                row["ci_low"], row["ci_high"] = np.quantile(taus, [tail, 1.0 - tail]).tolist()
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
