r"""Feedback-loop diagnostics of a slate policy over time, from its decisions table.

A recommender trained on the clicks its own slates produced can narrow what users see:
popular items get shown, clicked and shown again (Chaney, Stewart & Engelhardt, RecSys 2018;
Jiang et al., AIES 2019). These functions measure it per period (default: per day) from the
``decisions`` table of one run (slates and clicks only; no oracle column is needed).

For period :math:`d` with :math:`N_d` slates of size :math:`k` and :math:`c_{d,i}` the number
of slates showing item :math:`i`:

``coverage``
    share of the catalogue shown at least once, :math:`|\{i : c_{d,i} > 0\}| / n`;
``cumulative_coverage``
    share shown at least once up to and including :math:`d`;
``exposure_gini``
    Gini index of the exposure counts :math:`c_{d,\cdot}` over all n items (0 = every item
    shown equally, → 1 = all exposure on one item);
``popularity_percentile``
    mean, over the items shown, of their popularity percentile among the n items, where
    popularity is the number of clicks *before* period :math:`d` (so it is the bias the
    policy acts on, with no look-ahead; ties get the mean percentile, items never clicked
    share the lowest) — its drift upwards is popularity bias growing;
``overlap``
    homogenisation: mean share of items two slates of the period have in common,
    :math:`\frac{1}{k}\frac{\sum_i c_{d,i}(c_{d,i}-1)}{N_d(N_d-1)}` — the exact mean of
    :math:`|S_a \cap S_b|/k` over all pairs of distinct slates of the period (of different
    or the same users), in O(N k);
``click_gini``
    Gini index of the clicks of the period over the n items.

:func:`drift` fits an ordinary least-squares line per metric and reports the first and last
values and the slope per day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import rankdata

from recarena.simulator.log import Col, clicked_slots_array

__all__ = ["METRICS", "drift", "exposure_over_time", "gini"]

METRICS: tuple[str, ...] = (
    "coverage",
    "cumulative_coverage",
    "exposure_gini",
    "popularity_percentile",
    "overlap",
    "click_gini",
)


def gini(counts: NDArray[np.floating] | NDArray[np.integer]) -> float:
    r"""Gini index of non-negative counts over all n entries (zeros included).

    .. math:: G = \frac{\sum_{j=1}^{n} (2j - n - 1)\, x_{(j)}}{n \sum_j x_j}

    with :math:`x_{(j)}` ascending; NaN when every count is zero.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = x.size
    total = x.sum()
    if n == 0 or total == 0:
        return float("nan")
    j = np.arange(1, n + 1)
    return float(((2 * j - n - 1) * x).sum() / (n * total))


def exposure_over_time(
    decisions: pd.DataFrame,
    n_items: int,
    period: float = 1.0,
    slates: NDArray[np.integer] | None = None,
) -> pd.DataFrame:
    """Per-period coverage, popularity bias and homogenisation (module docstring).

    Parameters
    ----------
    decisions
        One run's decisions table (``t``, ``click``, ``clicked_item``, and ``slate`` unless
        ``slates`` is given).
    n_items
        Catalogue size n (including items released later: coverage is over all of them).
    period
        Length of a period in days.
    slates
        The slates as one ``(N, k)`` array aligned with the rows of ``decisions`` (e.g.
        :func:`recarena.simulator.log.read_slates`); default: the ``slate`` column.

    Returns
    -------
    pandas.DataFrame
        ``day`` (period end, days), ``slates`` and the columns of :data:`METRICS`.
    """
    if not len(decisions):
        return pd.DataFrame(columns=["day", "slates", *METRICS])
    t = decisions[Col.T].to_numpy(np.float64)
    if slates is None:
        slates = np.stack(list(decisions[Col.SLATE]))
    slates = np.asarray(slates, dtype=np.int64)
    k = slates.shape[1]
    if Col.CLICKED_SLOTS in decisions:  # several clicks per session (pbm, dcm): every one
        click_rows, click_slots = np.nonzero(
            clicked_slots_array(decisions[Col.CLICKED_SLOTS].to_numpy(), k)
        )
        clicked_items = slates[click_rows, click_slots]
    else:
        click_rows = np.flatnonzero(decisions[Col.CLICK].to_numpy() > 0)
        clicked_items = decisions[Col.CLICKED_ITEM].to_numpy(np.int64)[click_rows]
    # Period index with a small tolerance so a batch at exactly t = d·period closes period d.
    index = np.maximum(np.ceil(t / period - 1e-9).astype(np.int64) - 1, 0)
    click_period = index[click_rows]
    seen = np.zeros(n_items, dtype=bool)
    past_clicks = np.zeros(n_items)
    rows = []
    for d in np.unique(index):
        sel = index == d
        shown = slates[sel].ravel()
        shown = shown[shown >= 0]
        n_slates = int(sel.sum())
        exposure = np.bincount(shown, minlength=n_items).astype(np.float64)
        seen |= exposure > 0
        percentile = (rankdata(past_clicks) - 1) / max(n_items - 1, 1)
        pairs = n_slates * (n_slates - 1)
        overlap = (exposure * (exposure - 1)).sum() / pairs / k if pairs else float("nan")
        click_counts = np.bincount(clicked_items[click_period == d], minlength=n_items)
        rows.append(
            {
                "day": float((d + 1) * period),
                "slates": n_slates,
                "coverage": float((exposure > 0).mean()),
                "cumulative_coverage": float(seen.mean()),
                "exposure_gini": gini(exposure),
                "popularity_percentile": float(percentile[shown].mean()) if shown.size else np.nan,
                "overlap": float(overlap),
                "click_gini": gini(click_counts),
            }
        )
        past_clicks += click_counts
    return pd.DataFrame(rows)


def drift(series: pd.DataFrame, metrics: tuple[str, ...] = METRICS) -> pd.DataFrame:
    """First value, last value and OLS slope per day of each metric of
    :func:`exposure_over_time` (NaN periods skipped)."""
    rows = []
    for metric in metrics:
        frame = series[["day", metric]].dropna()
        x, y = frame["day"].to_numpy(np.float64), frame[metric].to_numpy(np.float64)
        slope = float(np.polyfit(x, y, 1)[0]) if x.size >= 2 else float("nan")
        rows.append(
            {
                "metric": metric,
                "first": float(y[0]) if y.size else float("nan"),
                "last": float(y[-1]) if y.size else float("nan"),
                "slope_per_day": slope,
            }
        )
    return pd.DataFrame(rows)
