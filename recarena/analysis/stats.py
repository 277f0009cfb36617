r"""Means and confidence intervals over replications (seeds).

Every number in a report is a mean over seeds with a confidence interval over seeds: the
seeds are the independent replications of an experiment (DESIGN.md §7), so the sampling unit
is the run, not the user or the decision. For values :math:`x_1, \dots, x_k` (NaNs dropped
first),

.. math::

    \bar x = \frac1k \sum_i x_i, \qquad
    \widehat{se} = \frac{s}{\sqrt k}, \quad
    s^2 = \frac{1}{k-1} \sum_i (x_i - \bar x)^2, \qquad \nu = k - 1,

and the interval is built on the scale of the metric's range (``bounds``), by
:func:`recarena.stats.intervals.range_interval` (formulas and references there):

* no range (a difference, a regret that can be negative): Student t,
  :math:`\bar x \pm t_{\nu}\, \widehat{se}`;
* a count or a non-negative value (``(0, inf)``): t on the log scale,
  :math:`\bar x\, e^{\pm t_\nu \widehat{se}/\bar x}`;
* a rate or share (``(0, 1)``): Wilson's interval at the Korn–Graubard effective sample
  size :math:`n_\text{eff} = \bar x(1-\bar x)/\widehat{se}^2`, scaled by
  :math:`(z/t_\nu)^2`; for a rate of counts (``trials``, e.g. a CTR's decisions) the design
  effect is at least 1, so :math:`n_\text{eff}` never exceeds the trials.

Every interval stays inside the range (two seeds no longer give CTR 0.486 ± 1.629). With
:math:`k = 1` there is no spread to estimate and the bounds are NaN; with :math:`k = 0`
everything is NaN. Zero spread gives a zero-width interval, except for a rate of counts,
which keeps its binomial width.

Functions
---------
:func:`mean_ci`
    One sample → :class:`MeanCI`.
:func:`summarise`
    A wide per-run table (one row per seed × arm, one column per metric) → a long summary
    (arm, metric, mean, ci_low, ci_high, n_seeds, interval).
:func:`paired_differences`
    Every arm minus a baseline, paired by seed (t-intervals: differences have either sign).
:func:`band`
    A per-run time series → its mean ± CI across seeds at every x.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from recarena.stats.intervals import Bounds, IntervalMethod, interval_method, range_interval
from recarena.typing import FloatArray

__all__ = [
    "ARM",
    "CI_HIGH",
    "CI_LOW",
    "INTERVAL",
    "MEAN",
    "METRIC",
    "N_SEEDS",
    "SEED",
    "Bounds",
    "MeanCI",
    "N",
    "band",
    "mean_ci",
    "paired_differences",
    "summarise",
]

# Column names of the tables built here (and of the per-run tables they consume).
SEED = "seed"
ARM = "arm"
METRIC = "metric"
MEAN = "mean"
CI_LOW = "ci_low"
CI_HIGH = "ci_high"
N_SEEDS = "n_seeds"
N = "n"
INTERVAL = "interval"


class MeanCI(NamedTuple):
    """A mean with its two-sided confidence interval over ``n`` values, built by ``method``
    (:data:`recarena.stats.intervals.IntervalMethod`)."""

    mean: float
    ci_low: float
    ci_high: float
    n: int
    method: IntervalMethod = "t"

    @property
    def half_width(self) -> float:
        """``(ci_high − ci_low) / 2`` (NaN when the bounds are)."""
        return (self.ci_high - self.ci_low) / 2.0


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")


def _binomial_trials(trials: FloatArray) -> float:
    r"""Binomial size of a mean of :math:`k` rates on :math:`n_s` trials each: the
    :math:`n` with :math:`p(1-p)/n = \frac{1}{k^2}\sum_s p(1-p)/n_s`, i.e.
    :math:`k^2 / \sum_s n_s^{-1}` (:math:`\sum_s n_s` when the sizes are equal)."""
    with np.errstate(divide="ignore"):
        return float(trials.size**2 / np.sum(1.0 / trials)) if trials.size else math.nan


def mean_ci(
    values: ArrayLike,
    level: float = 0.95,
    bounds: Bounds | None = None,
    trials: ArrayLike | None = None,
) -> MeanCI:
    r"""Mean and confidence interval of a sample of replications, inside ``bounds``.

    Parameters
    ----------
    values
        The sample (e.g. one metric over seeds). NaNs are dropped; ±inf are kept (and give
        non-finite results, as they should).
    level
        Two-sided confidence level :math:`\ell \in (0, 1)`.
    bounds
        The metric's range (module docstring): ``None`` → Student t, ``(0, inf)`` → t on
        the log scale, ``(0, 1)`` → Wilson at the Korn–Graubard effective size.
    trials
        For a rate of counts: the Bernoulli trials behind each value (same length as
        ``values``; entries where the value is NaN are dropped with it). Needs
        ``bounds = (0, 1)``.

    Returns
    -------
    MeanCI
        ``(mean, ci_low, ci_high, n, method)``; NaN bounds when ``n < 2``, NaN mean when
        ``n = 0``.

    Examples
    --------
    >>> r = mean_ci([1.0, 2.0, 3.0])  # s = 1, t_{0.975, 2} = 4.3027
    >>> round(r.mean, 4), round(r.ci_low, 4), round(r.ci_high, 4), r.n
    (2.0, -0.4841, 4.4841, 3)
    >>> r = mean_ci([1.0, 2.0, 3.0], bounds=(0.0, math.inf))  # 2·exp(±4.3027·0.5774/2)
    >>> round(r.ci_low, 4), round(r.ci_high, 4), r.method
    (0.5776, 6.9255, 'log_t')
    """
    _check_level(level)
    x = np.asarray(values, dtype=np.float64).ravel()
    keep = ~np.isnan(x)
    x = x[keep]
    n = int(x.size)
    method = interval_method(bounds)
    if n == 0:
        return MeanCI(math.nan, math.nan, math.nan, 0, method)
    mean = float(x.mean())
    if n == 1:
        return MeanCI(mean, math.nan, math.nan, 1, method)
    sem = float(x.std(ddof=1)) / math.sqrt(n)
    size = None
    if trials is not None:
        size = _binomial_trials(np.asarray(trials, dtype=np.float64).ravel()[keep])
    low, high = range_interval(mean, sem, n - 1, level, bounds, size)
    return MeanCI(mean, float(low), float(high), n, method)


def _ordered(values: Iterable[Any]) -> list[Any]:
    """Distinct values in order of first appearance (arm order is the scenario's)."""
    return list(dict.fromkeys(values))


def _metric_columns(per_run: pd.DataFrame, by: str) -> list[str]:
    """Every numeric, non-boolean column except ``by`` and ``seed``."""
    return [
        c
        for c in per_run.columns
        if c not in (by, SEED) and pd.api.types.is_numeric_dtype(per_run[c])
        and not pd.api.types.is_bool_dtype(per_run[c])
    ]  # fmt: skip


def summarise(
    per_run: pd.DataFrame,
    by: str = ARM,
    metrics: Sequence[str] | None = None,
    level: float = 0.95,
    bounds: Mapping[str, Bounds] | None = None,
    trials: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Mean and CI over seeds of every metric, per group.

    Parameters
    ----------
    per_run
        One row per run (seed × arm), one column per metric, plus ``by`` (and usually
        ``seed``).
    by
        The grouping column (the arm).
    metrics
        Metric columns to summarise; default: every numeric column except ``by`` and ``seed``.
    level
        Confidence level of :func:`mean_ci`.
    bounds
        ``metric → (low, high)``: the metric's range, which picks its interval
        (:func:`mean_ci`); metrics without one get a Student-t interval.
    trials
        ``metric → column``: for a rate of counts, the per-run column holding its
        Bernoulli trials (e.g. ``ctr → decisions``), used when that column is present.

    Returns
    -------
    pandas.DataFrame
        Long format, columns ``[by, metric, mean, ci_low, ci_high, n_seeds, interval]``,
        groups in order of first appearance in ``per_run`` and metrics in column order.
        ``n_seeds`` counts the non-NaN values (a metric undefined on some seeds, e.g. CTR
        with no decisions, is averaged over the others); ``interval`` names the interval
        (``t``, ``log_t``, ``wilson_kg``).
    """
    _check_level(level)
    if by not in per_run.columns:
        raise KeyError(f"per_run has no column {by!r}; columns: {list(per_run.columns)}")
    if metrics is None:
        metrics = _metric_columns(per_run, by)
    rows: list[dict[str, Any]] = []
    for group in _ordered(per_run[by]):
        part = per_run[per_run[by] == group]
        for metric in metrics:
            column = (trials or {}).get(metric)
            counts = part[column].to_numpy(np.float64) if column in part.columns else None
            r = mean_ci(part[metric].to_numpy(np.float64), level, (bounds or {}).get(metric),
                        counts)  # fmt: skip
            rows.append(
                {by: group, METRIC: metric, MEAN: r.mean, CI_LOW: r.ci_low, CI_HIGH: r.ci_high,
                 N_SEEDS: r.n, INTERVAL: r.method}
            )  # fmt: skip
    return pd.DataFrame(rows, columns=[by, METRIC, MEAN, CI_LOW, CI_HIGH, N_SEEDS, INTERVAL])


def paired_differences(
    per_run: pd.DataFrame,
    baseline: str,
    by: str = ARM,
    metrics: Sequence[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Difference of every arm from ``baseline``, paired by seed, with a CI over seeds.

    :math:`d_s = m_{arm,s} - m_{baseline,s}` for each seed :math:`s` both ran; the mean and
    Student-t CI of :math:`d` over seeds. A difference can take either sign, so the
    t-interval over the paired seeds is the honest one (no range to stay inside). Arms of
    one seed share the world and the random draws (common random numbers), so the paired
    interval is usually far narrower than the difference of two unpaired intervals:
    world-to-world variation cancels.

    Returns
    -------
    pandas.DataFrame
        Long format ``[by, metric, mean, ci_low, ci_high, n_seeds, interval]`` for every arm
        except the baseline; ``mean`` is the mean difference.
    """
    if baseline not in set(per_run[by]):
        raise KeyError(f"baseline {baseline!r} is not among {_ordered(per_run[by])}")
    if metrics is None:
        metrics = _metric_columns(per_run, by)
    base = per_run[per_run[by] == baseline].set_index(SEED)
    rows: list[dict[str, Any]] = []
    for group in _ordered(per_run[by]):
        if group == baseline:
            continue
        part = per_run[per_run[by] == group].set_index(SEED)
        seeds = part.index.intersection(base.index)
        for metric in metrics:
            diff = part.loc[seeds, metric].to_numpy(np.float64) - base.loc[seeds, metric].to_numpy(
                np.float64
            )
            r = mean_ci(diff, level)
            rows.append(
                {by: group, METRIC: metric, MEAN: r.mean, CI_LOW: r.ci_low, CI_HIGH: r.ci_high,
                 N_SEEDS: r.n, INTERVAL: r.method}
            )  # fmt: skip
    return pd.DataFrame(rows, columns=[by, METRIC, MEAN, CI_LOW, CI_HIGH, N_SEEDS, INTERVAL])


def band(
    df: pd.DataFrame,
    x: str,
    y: str,
    by: str = ARM,
    level: float = 0.95,
    bounds: Bounds | None = None,
) -> pd.DataFrame:
    """Mean ± CI of a time series across replications, at every ``x``.

    Each row of ``df`` is one replication's value ``y`` at ``x`` (e.g. one seed's cumulative
    regret at time ``t``); runs must share the ``x`` grid for the band to mean anything. The
    interval at each point is :func:`mean_ci`'s for the range ``bounds``, so a band is the
    summary tables' interval drawn over time.

    Parameters
    ----------
    df
        Long data with columns ``by``, ``x`` and ``y``.
    x, y, by
        Column names: the axis, the value, the group (arm).
    level
        Confidence level of :func:`mean_ci`.
    bounds
        The range of ``y`` (e.g. ``(0, 1)`` for a share, ``(0, inf)`` for a count); the
        band is built inside it.

    Returns
    -------
    pandas.DataFrame
        Columns ``[by, x, mean, ci_low, ci_high, n]`` sorted by group (first-appearance order)
        then ``x``; ``n`` is the number of non-NaN replications at that point.
    """
    _check_level(level)
    columns = [by, x, MEAN, CI_LOW, CI_HIGH, N]
    if len(df) == 0:
        return pd.DataFrame(columns=columns)
    order = {g: i for i, g in enumerate(_ordered(df[by]))}
    values = df[[by, x, y]].copy()
    values[y] = values[y].astype(np.float64)
    grouped = values.dropna(subset=[y]).groupby([by, x], sort=False)[y]
    out = grouped.agg(["mean", "std", "count"]).reset_index()
    count = out["count"].to_numpy(dtype=np.float64)
    # n may vary along x (e.g. runs of different lengths): se and df per point.
    with np.errstate(invalid="ignore", divide="ignore"):
        se = out["std"].to_numpy(dtype=np.float64) / np.sqrt(count)
    mean = out["mean"].to_numpy(dtype=np.float64)
    low, high = range_interval(mean, se, count - 1.0, level, bounds)
    result = pd.DataFrame(
        {
            by: out[by],
            x: out[x],
            MEAN: mean,
            CI_LOW: low,
            CI_HIGH: high,
            N: out["count"].astype(np.int64),
        }
    )
    result["_order"] = result[by].map(order)
    result = result.sort_values(["_order", x], kind="stable").drop(columns="_order")
    return result.reset_index(drop=True)
