"""Figures of a results directory: curves with CI bands, retention, metric bars.

Every function returns a :class:`matplotlib.figure.Figure` built directly (not through
``pyplot``) and attached to an Agg canvas, so making plots here never changes the pyplot
backend or figure registry of the calling process (a notebook keeps its inline backend and
no figure leaks into ``plt.get_fignums()``). Save with :func:`save`, embed with
:func:`to_png`.

Curves are drawn as the mean over seeds with a shaded band inside the series' range
(:func:`recarena.analysis.stats.band`: Wilson–Korn–Graubard for shares, log-scale t for
counts, Student t otherwise); with a single seed there is no band. Arm colours come
from :func:`arm_colors` so an arm has the same colour in every figure of a report.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from recarena.analysis import regret as rg
from recarena.analysis import retention as rt
from recarena.analysis.business import METRIC_LABELS
from recarena.analysis.stats import ARM, CI_HIGH, CI_LOW, MEAN, METRIC, N, band
from recarena.simulator.log import Col

__all__ = [
    "arm_colors",
    "band_plot",
    "cumulative_regret_plot",
    "cumulative_reward_plot",
    "legend_below",
    "metric_bars",
    "new_figure",
    "outside_legend",
    "retention_plot",
    "save",
    "to_png",
]

DPI = 110
#: A colour per arm (RGB in [0, 1]).
Colors = Mapping[str, tuple[float, float, float]]
#: :func:`metric_bars` draws horizontal bars for more groups than this.
HORIZONTAL_FROM = 5


def new_figure(width: float = 7.0, height: float = 4.2) -> Figure:
    """A blank figure on its own Agg canvas (no pyplot state involved)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def outside_legend(ax: Axes, title: str | None = None) -> None:
    """The axis' legend to the right of the plotting area, where it covers no data (the
    constrained layout makes room for it)."""
    ax.legend(title=title, fontsize="small", title_fontsize="small", loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)  # fmt: skip


def legend_below(ax: Axes, ncols: int = 3) -> None:
    """The axis' legend under the plotting area (for small multiples whose data fill the
    panel, e.g. stacked shares)."""
    ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.22),
              ncols=ncols, borderaxespad=0.0)  # fmt: skip


def arm_colors(arms: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """A fixed colour per arm, by position in ``arms`` (tab10, then tab20 beyond 10 arms)."""
    palette = colormaps["tab10" if len(arms) <= 10 else "tab20"]
    n = 10 if len(arms) <= 10 else 20
    return {arm: tuple(palette(i % n)[:3]) for i, arm in enumerate(arms)}  # type: ignore[misc]


def _colors(
    arms: Sequence[str], colors: Mapping[str, tuple[float, float, float]] | None
) -> Mapping[str, tuple[float, float, float]]:
    if colors is None:
        return arm_colors(arms)
    missing = [a for a in arms if a not in colors]
    return {**arm_colors(missing), **colors} if missing else colors


def band_plot(
    bands: pd.DataFrame,
    x: str,
    *,
    by: str = ARM,
    title: str,
    xlabel: str,
    ylabel: str,
    colors: Mapping[str, tuple[float, float, float]] | None = None,
    log_x: bool = False,
    level: float = 0.95,
    step: bool = False,
) -> Figure:
    """Plot a :func:`recarena.analysis.stats.band` frame: one line and shaded band per group.

    Parameters
    ----------
    bands
        Output of :func:`~recarena.analysis.stats.band` (``by, x, mean, ci_low, ci_high, n``).
    x
        The x column.
    title, xlabel, ylabel
        Text; put units in the labels.
    colors
        Colour per group (default :func:`arm_colors` in order of appearance).
    log_x
        Logarithmic x axis (non-positive x values are dropped).
    level
        The band's confidence level, for the legend note.
    step
        Draw a right-continuous step function (survival curves) instead of a line.
    """
    fig = new_figure(width=8.4)  # room for the legend right of the data
    ax = fig.add_subplot()
    groups = list(dict.fromkeys(bands[by])) if len(bands) else []
    palette = _colors(groups, colors)
    max_n = 0
    for group in groups:
        part = bands[bands[by] == group]
        if log_x:
            part = part[part[x] > 0]
        xs = part[x].to_numpy(dtype=np.float64)
        mean = part[MEAN].to_numpy(dtype=np.float64)
        low = part[CI_LOW].to_numpy(dtype=np.float64)
        high = part[CI_HIGH].to_numpy(dtype=np.float64)
        n = int(part[N].max()) if len(part) else 0
        max_n = max(max_n, n)
        color = palette[group]
        label = f"{group} (n={n})"
        if step:
            ax.step(xs, mean, where="post", color=color, label=label, linewidth=1.8)
        else:
            ax.plot(xs, mean, color=color, label=label, linewidth=1.8)
        ok = np.isfinite(low) & np.isfinite(high)
        if ok.any():
            ax.fill_between(xs, low, high, where=ok, color=color, alpha=0.2, linewidth=0,
                            step="post" if step else None)  # fmt: skip
    if log_x:
        ax.set_xscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if groups:
        note = f"line: mean over seeds; band: {level:.0%} CI" if max_n > 1 else "one seed"
        outside_legend(ax, title=note)
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    return fig


def cumulative_reward_plot(
    curves: pd.DataFrame,
    *,
    colors: Mapping[str, tuple[float, float, float]] | None = None,
    level: float = 0.95,
    log_x: bool = False,
    expected: bool = False,
) -> Figure:
    """Cumulative reward over time per arm.

    Parameters
    ----------
    curves
        Per-run curves (``seed, arm`` plus the columns of
        :func:`recarena.analysis.regret.cumulative_curve`), sampled on a shared time grid.
    expected
        Plot the cumulative *expected* reward (oracle P(click) summed, noise-free) instead of
        realised clicks.
    """
    y = rg.CUM_EXPECTED_REWARD if expected else rg.CUM_REWARD
    what = "expected clicks" if expected else "clicks"
    return band_plot(
        band(curves, Col.T, y, ARM, level, bounds=(0.0, math.inf)),  # counts of clicks
        Col.T,
        title=f"Cumulative reward ({what})",
        xlabel="time (days, log scale)" if log_x else "time (days)",
        ylabel=f"cumulative reward ({what})",
        colors=colors,
        log_x=log_x,
        level=level,
    )


def cumulative_regret_plot(
    curves: pd.DataFrame,
    *,
    colors: Mapping[str, tuple[float, float, float]] | None = None,
    level: float = 0.95,
    log_x: bool = False,
) -> Figure:
    """Cumulative pseudo-regret :math:`R(t)` over time per arm (see :mod:`.regret`).

    On a log-time axis a regret that grows like :math:`\\log t` shows as a straight line and
    linear regret as an exponential-looking curve.
    """
    return band_plot(
        band(curves, Col.T, rg.CUM_REGRET, ARM, level, bounds=(0.0, math.inf)),
        Col.T,
        title="Cumulative pseudo-regret vs the oracle",
        xlabel="time (days, log scale)" if log_x else "time (days)",
        ylabel="cumulative regret (expected clicks lost)",
        colors=colors,
        log_x=log_x,
        level=level,
    )


def retention_plot(
    survival: pd.DataFrame,
    *,
    colors: Mapping[str, tuple[float, float, float]] | None = None,
    level: float = 0.95,
) -> Figure:
    """Kaplan–Meier retention per arm.

    Parameters
    ----------
    survival
        Per-run survival on a shared grid: ``seed, arm, time, survival`` (e.g.
        :func:`recarena.analysis.retention.survival_at` of each run's curve).
    """
    # A t-interval over a handful of seeds can leave [0, 1]; a share cannot.
    bands = band(survival, rt.TIME, rt.SURVIVAL, ARM, level, bounds=(0.0, 1.0))
    fig = band_plot(
        bands,
        rt.TIME,
        title="Retention (Kaplan–Meier)",
        xlabel="time since arrival (days)",
        ylabel="share of users still active",
        colors=colors,
        level=level,
        step=True,
    )
    ax = fig.axes[0]
    low, _ = ax.get_ylim()
    ax.set_ylim(max(0.0, low), 1.005)
    return fig


def metric_bars(
    summary: pd.DataFrame,
    metrics: Sequence[str],
    *,
    by: str = ARM,
    colors: Mapping[str, tuple[float, float, float]] | None = None,
    labels: Mapping[str, str] | None = None,
    level: float = 0.95,
    ncols: int = 3,
    title: str = "Metrics per arm",
) -> Figure:
    """Bar chart per metric: the mean per arm with its CI as an error bar.

    Parameters
    ----------
    summary
        Long summary from :func:`recarena.analysis.stats.summarise`.
    metrics
        Metrics to show (one panel each, in this order); metrics absent from ``summary`` are
        skipped.
    labels
        Panel titles with units (default :data:`recarena.analysis.business.METRIC_LABELS`).
    title
        Figure title; the whisker convention is appended.
    """
    labels = METRIC_LABELS if labels is None else labels
    present = [m for m in metrics if (summary[METRIC] == m).any()]
    groups = list(dict.fromkeys(summary[by]))
    palette = _colors(groups, colors)
    # Beyond a few groups, vertical bars' labels collide: draw horizontal bars with the
    # names once, on the left column, and size the figure to the number of names.
    horizontal = len(groups) > HORIZONTAL_FROM
    ncols = max(1, min(ncols if not horizontal else 2, len(present)))
    nrows = max(1, math.ceil(len(present) / ncols))
    if horizontal:
        name_width = 0.075 * max((len(str(g)) for g in groups), default=4)
        width, height = name_width + 3.4 * ncols + 0.4, (0.6 + 0.24 * len(groups)) * nrows + 0.6
    else:
        width, height = 3.4 * ncols + 0.6, 2.9 * nrows + 0.5
    fig = new_figure(width=max(width, 6.4), height=height)  # the title needs ~6 inches
    pos = np.arange(len(groups))
    first_axis = None
    for i, metric in enumerate(present):
        ax = fig.add_subplot(nrows, ncols, i + 1, sharey=first_axis if horizontal else None)
        first_axis = first_axis or ax
        part = summary[summary[METRIC] == metric].set_index(by).reindex(groups)
        mean = part[MEAN].to_numpy(dtype=np.float64)
        low = part[CI_LOW].to_numpy(dtype=np.float64)
        high = part[CI_HIGH].to_numpy(dtype=np.float64)
        err = np.vstack([np.nan_to_num(mean - low, nan=0.0), np.nan_to_num(high - mean, nan=0.0)])
        bar_colors = [palette[g] for g in groups]
        style: dict[str, Any] = {"capsize": 3, "ecolor": "black", "error_kw": {"linewidth": 1}}
        if horizontal:
            ax.barh(pos, np.nan_to_num(mean, nan=0.0), color=bar_colors, xerr=err, **style)
            ax.set_yticks(pos, [str(g) for g in groups])
            ax.tick_params(axis="y", labelleft=i % ncols == 0)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4))  # wide numbers do not collide
            ax.grid(True, axis="x", alpha=0.3)
        else:
            ax.bar(pos, np.nan_to_num(mean, nan=0.0), color=bar_colors, yerr=err, **style)
            ax.set_xticks(pos, [str(g) for g in groups], rotation=30 if len(groups) > 3 else 0,
                          ha="right" if len(groups) > 3 else "center")  # fmt: skip
            ax.grid(True, axis="y", alpha=0.3)
        # Panels are ~3.4 inches wide: long labels wrap instead of running off the figure.
        ax.set_title(textwrap.fill(labels.get(metric, metric), width=42), fontsize="medium")
    if horizontal and first_axis is not None:
        first_axis.invert_yaxis()  # the first group on top, as in the tables
    if not present:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no metrics", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(f"{title} (bars: mean over seeds; whiskers: {level:.0%} CI)")
    return fig


def to_png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def save(fig: Figure, path: Path | str, dpi: int = DPI) -> Path:
    """Write the figure (format from the suffix, e.g. ``.png``); creates parent folders."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    return out
