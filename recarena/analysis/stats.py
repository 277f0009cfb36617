r"""Means and confidence intervals over replications (seeds).

Every number in a report is a mean over seeds with a Student-t interval: the seeds are the
independent replications of an experiment (DESIGN.md §7), so the sampling unit is the run, not
the user or the decision.

For values :math:`x_1, \dots, x_n` (NaNs dropped first),

.. math::

    \bar x = \frac1n \sum_i x_i, \qquad
    s^2 = \frac{1}{n-1} \sum_i (x_i - \bar x)^2, \qquad
    \bar x \pm t_{(1+\ell)/2,\; n-1}\, \frac{s}{\sqrt n},

with :math:`\ell` the confidence level, then clipped to the metric's range when one is given
(``bounds``: a rate's interval stays in [0, 1], a count's above 0 — with two seeds the
t-interval is wide enough to leave it, e.g. CTR 0.486 ± 1.629). With :math:`n = 1` there is
no spread to estimate and the bounds are NaN; with :math:`n = 0` everything is NaN. Zero
spread gives a zero-width interval. Reference: Student (1908), *The probable error of a mean*,
Biometrika 6(1).

Functions
---------
:func:`mean_ci`
    One sample → :class:`MeanCI`.
:func:`summarise`
    A wide per-run table (one row per seed × arm, one column per metric) → a long summary
    (arm, metric, mean, ci_low, ci_high, n_seeds).
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
from scipy import stats as sps

__all__ = [
    "ARM",
    "CI_HIGH",
    "CI_LOW",
    "MEAN",
    "METRIC",
    "N_SEEDS",
    "SEED",
    "MeanCI",
    "N",
    "band",
    "mean_ci",
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


class MeanCI(NamedTuple):
    """A mean with its two-sided Student-t confidence interval over ``n`` values."""

    mean: float
    ci_low: float
    ci_high: float
    n: int

    @property
    def half_width(self) -> float:
        """``(ci_high − ci_low) / 2`` (NaN when the bounds are)."""
        return (self.ci_high - self.ci_low) / 2.0


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")


def mean_ci(values: ArrayLike, level: float = 0.95) -> MeanCI:
    r"""Mean and Student-t confidence interval of a sample.

    Parameters
    ----------
    values
        The sample (e.g. one metric over seeds). NaNs are dropped; ±inf are kept (and give
        non-finite results, as they should).
    level
        Two-sided confidence level :math:`\ell \in (0, 1)`.

    Returns
    -------
    MeanCI
        ``(mean, ci_low, ci_high, n)``: :math:`\bar x \mp t_{(1+\ell)/2, n-1} s/\sqrt n`;
        NaN bounds when ``n < 2``, NaN mean when ``n = 0``.

    Examples
    --------
    >>> r = mean_ci([1.0, 2.0, 3.0])  # s = 1, t_{0.975, 2} = 4.3027
    >>> round(r.mean, 4), round(r.ci_low, 4), round(r.ci_high, 4), r.n
    (2.0, -0.4841, 4.4841, 3)
    """
    _check_level(level)
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return MeanCI(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return MeanCI(mean, math.nan, math.nan, 1)
    sem = float(x.std(ddof=1)) / math.sqrt(n)
    half = float(sps.t.ppf((1.0 + level) / 2.0, n - 1)) * sem
    return MeanCI(mean, mean - half, mean + half, n)


def _ordered(values: Iterable[Any]) -> list[Any]:
    """Distinct values in order of first appearance (arm order is the scenario's)."""
    return list(dict.fromkeys(values))


Bounds = tuple[float, float]


def _clip(low: Any, high: Any, bounds: Bounds | None) -> tuple[Any, Any]:
    """Interval bounds clipped to a metric's range (NaN stays NaN)."""
    if bounds is None:
        return low, high
    return np.clip(low, *bounds), np.clip(high, *bounds)


def summarise(
    per_run: pd.DataFrame,
    by: str = ARM,
    metrics: Sequence[str] | None = None,
    level: float = 0.95,
    bounds: Mapping[str, Bounds] | None = None,
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
        ``metric → (low, high)``: the metric's range; its interval is clipped to it.

    Returns
    -------
    pandas.DataFrame
        Long format, columns ``[by, metric, mean, ci_low, ci_high, n_seeds]``, groups in order
        of first appearance in ``per_run`` and metrics in column order. ``n_seeds`` counts the
        non-NaN values (a metric undefined on some seeds, e.g. CTR with no decisions, is
        averaged over the others).
    """
    _check_level(level)
    if by not in per_run.columns:
        raise KeyError(f"per_run has no column {by!r}; columns: {list(per_run.columns)}")
    if metrics is None:
        metrics = [
            c
            for c in per_run.columns
            if c not in (by, SEED) and pd.api.types.is_numeric_dtype(per_run[c])
            and not pd.api.types.is_bool_dtype(per_run[c])
        ]  # fmt: skip
    rows: list[dict[str, Any]] = []
    for group in _ordered(per_run[by]):
        part = per_run[per_run[by] == group]
        for metric in metrics:
            r = mean_ci(part[metric].to_numpy(dtype=np.float64), level)
            low, high = _clip(r.ci_low, r.ci_high, (bounds or {}).get(metric))
            rows.append(
                {by: group, METRIC: metric, MEAN: r.mean, CI_LOW: float(low),
                 CI_HIGH: float(high), N_SEEDS: r.n}
            )  # fmt: skip
    return pd.DataFrame(rows, columns=[by, METRIC, MEAN, CI_LOW, CI_HIGH, N_SEEDS])


def paired_differences(
    per_run: pd.DataFrame,
    baseline: str,
    by: str = ARM,
    metrics: Sequence[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Difference of every arm from ``baseline``, paired by seed, with a CI over seeds.

    d_s = m_{arm,s} − m_{baseline,s} for each seed s both ran; the mean and Student-t CI of
    d over seeds. Arms of one seed share the world and the random draws (common random
    numbers), so the paired interval is usually far narrower than the difference of two
    unpaired intervals: world-to-world variation cancels.

    Returns
    -------
    pandas.DataFrame
        Long format ``[by, metric, mean, ci_low, ci_high, n_seeds]`` for every arm except the
        baseline; ``mean`` is the mean difference.
    """
    if baseline not in set(per_run[by]):
        raise KeyError(f"baseline {baseline!r} is not among {_ordered(per_run[by])}")
    if metrics is None:
        metrics = [
            c
            for c in per_run.columns
            if c not in (by, SEED) and pd.api.types.is_numeric_dtype(per_run[c])
            and not pd.api.types.is_bool_dtype(per_run[c])
        ]  # fmt: skip
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
                 N_SEEDS: r.n}
            )  # fmt: skip
    return pd.DataFrame(rows, columns=[by, METRIC, MEAN, CI_LOW, CI_HIGH, N_SEEDS])


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
    regret at time ``t``); runs must share the ``x`` grid for the band to mean anything.

    Parameters
    ----------
    df
        Long data with columns ``by``, ``x`` and ``y``.
    x, y, by
        Column names: the axis, the value, the group (arm).
    level
        Confidence level of :func:`mean_ci`.
    bounds
        The range of ``y`` (e.g. ``(0, 1)`` for a share); the band is clipped to it.

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
    # t quantile per point (n may vary along x, e.g. runs of different lengths).
    with np.errstate(invalid="ignore", divide="ignore"):
        tq = np.where(count > 1, sps.t.ppf((1.0 + level) / 2.0, np.maximum(count - 1, 1)), np.nan)
        half = tq * out["std"].to_numpy(dtype=np.float64) / np.sqrt(count)
    low, high = _clip(out["mean"] - half, out["mean"] + half, bounds)
    result = pd.DataFrame(
        {
            by: out[by],
            x: out[x],
            MEAN: out["mean"].astype(np.float64),
            CI_LOW: low,
            CI_HIGH: high,
            N: out["count"].astype(np.int64),
        }
    )
    result["_order"] = result[by].map(order)
    result = result.sort_values(["_order", x], kind="stable").drop(columns="_order")
    return result.reset_index(drop=True)
