"""Figures of a sweep: difference heat maps, difference lines and winner maps over parameters.

Each figure shows two parameters (``x`` horizontally; ``y`` vertically for maps, one line per
``y`` level for line plots), with one panel per combination of the remaining parameters.
Levels are placed at equal spacing in sorted order (sweep levels such as 1k, 5k, 20k, 100k
are usually geometric). Cells whose confidence interval excludes 0 are outlined (maps) or
drawn as filled markers (lines). Figures are built on their own Agg canvas
(:func:`recarena.analysis.plots.new_figure`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import ListedColormap, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from recarena.analysis.plots import arm_colors, new_figure
from recarena.analysis.stats import CI_HIGH, CI_LOW, MEAN
from recarena.analysis.sweep import EXCLUDES_ZERO

__all__ = ["difference_heatmaps", "difference_lines", "level_label", "panels", "winner_map"]

_MAX_PANELS = 12


def level_label(value: Any) -> str:
    """A parameter level for axes and titles: ``0.05``, ``1k``, ``100k``, ``12,500``."""
    if isinstance(value, float | np.floating):
        v = float(value)
        return f"{v:g}" if abs(v) < 1e4 else f"{v:.3g}"
    if isinstance(value, int | np.integer) and abs(int(value)) >= 1000:
        v = int(value)
        return f"{v // 1000}k" if v % 1000 == 0 else f"{v:,}"
    return str(value)


def panels(
    frame: pd.DataFrame, parameters: Sequence[str], shown: Sequence[str]
) -> list[tuple[str, pd.DataFrame]]:
    """One ``(title, rows)`` per combination of the parameters not in ``shown`` (at most 12)."""
    rest = [p for p in parameters if p not in shown]
    if not rest:
        return [("", frame)]
    out = []
    levels = [sorted(frame[p].unique()) for p in rest]
    for combo in itertools.islice(itertools.product(*levels), _MAX_PANELS):
        mask = np.ones(len(frame), dtype=bool)
        for p, v in zip(rest, combo, strict=True):
            mask &= (frame[p] == v).to_numpy()
        if mask.any():
            title = ", ".join(f"{p}={level_label(v)}" for p, v in zip(rest, combo, strict=True))
            out.append((title, frame[mask]))
    return out


def _grid(n: int) -> tuple[int, int]:
    cols = min(n, 3)
    return math.ceil(n / cols), cols


def _axes(fig: Figure, n: int) -> list[Any]:
    rows, cols = _grid(n)
    axes = fig.subplots(rows, cols, squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return flat[:n]


def difference_heatmaps(
    diff: pd.DataFrame,
    parameters: Sequence[str],
    x: str,
    y: str,
    title: str,
    label: str,
) -> Figure:
    """Heat maps of a difference (``mean`` column) over ``x`` × ``y``, one per panel.

    Colour is the mean difference on a diverging scale centred at 0 (blue below, red
    above); each cell is annotated with its value, and cells whose CI excludes 0
    (``excludes_zero``) are outlined in black.
    """
    groups = panels(diff, parameters, [x, y])
    xs, ys = sorted(diff[x].unique()), sorted(diff[y].unique())
    rows, cols = _grid(len(groups))
    fig = new_figure(4.2 * cols + 1.0, 3.4 * rows + 0.6)
    values = diff[MEAN].to_numpy(dtype=np.float64)
    bound = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-(bound or 1.0), vmax=bound or 1.0)
    image = None
    for ax, (name, part) in zip(_axes(fig, len(groups)), groups, strict=True):
        grid = np.full((len(ys), len(xs)), np.nan)
        marked = np.zeros_like(grid, dtype=bool)
        for row in part.itertuples(index=False):
            i, j = ys.index(getattr(row, y)), xs.index(getattr(row, x))
            grid[i, j] = getattr(row, MEAN)
            marked[i, j] = bool(getattr(row, EXCLUDES_ZERO))
        image = ax.imshow(grid, cmap="RdBu_r", norm=norm, origin="lower", aspect="auto")
        for i, j in itertools.product(range(len(ys)), range(len(xs))):
            if np.isnan(grid[i, j]):
                continue
            dark = abs(grid[i, j]) > 0.6 * (bound or 1.0)
            ax.text(j, i, f"{grid[i, j]:.2g}", ha="center", va="center", fontsize=7,
                    color="white" if dark else "black",
                    fontweight="bold" if marked[i, j] else "normal")  # fmt: skip
            if marked[i, j]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=1.8,
                                       edgecolor="black"))  # fmt: skip
        ax.set_xticks(range(len(xs)), [level_label(v) for v in xs])
        ax.set_yticks(range(len(ys)), [level_label(v) for v in ys])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(name, fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=fig.axes, shrink=0.8, label=label)
    fig.suptitle(f"{title}\n(outlined: 95% CI over seeds excludes 0)", fontsize=10)
    return fig


def difference_lines(
    diff: pd.DataFrame,
    parameters: Sequence[str],
    x: str,
    y: str | None,
    title: str,
    label: str,
) -> Figure:
    """The difference against ``x``, one line per ``y`` level with its CI band.

    Markers are filled where the CI excludes 0 and hollow where it does not; a dashed line
    marks 0.
    """
    groups = panels(diff, parameters, [x] if y is None else [x, y])
    xs = sorted(diff[x].unique())
    ys = [None] if y is None else sorted(diff[y].unique())
    colours = colormaps["viridis"](np.linspace(0.0, 0.9, max(len(ys), 1)))
    rows, cols = _grid(len(groups))
    fig = new_figure(4.2 * cols + 0.6, 3.2 * rows + 0.6)
    for ax, (name, part) in zip(_axes(fig, len(groups)), groups, strict=True):
        for colour, level in zip(colours, ys, strict=True):
            line = part if level is None or y is None else part[part[y] == level]
            line = line.assign(_j=line[x].map(xs.index)).sort_values("_j")
            j = line["_j"].to_numpy()
            ax.fill_between(j, line[CI_LOW], line[CI_HIGH], color=colour, alpha=0.15, lw=0)
            ax.plot(j, line[MEAN], color=colour,
                    label=None if level is None else f"{y}={level_label(level)}")  # fmt: skip
            sig = line[EXCLUDES_ZERO].to_numpy(dtype=bool)
            ax.scatter(j[sig], line[MEAN].to_numpy()[sig], color=colour, s=22, zorder=3)
            ax.scatter(j[~sig], line[MEAN].to_numpy()[~sig], facecolor="white",
                       edgecolor=colour, s=22, zorder=3)  # fmt: skip
        ax.axhline(0.0, color="black", lw=0.8, ls="--")
        ax.set_xticks(range(len(xs)), [level_label(v) for v in xs])
        ax.set_xlabel(x)
        ax.set_ylabel(label)
        ax.set_title(name, fontsize=9)
        if y is not None:
            ax.legend(fontsize=7)
    fig.suptitle(f"{title}\n(filled markers: 95% CI over seeds excludes 0)", fontsize=10)
    return fig


def winner_map(
    table: pd.DataFrame, parameters: Sequence[str], x: str, y: str, arms: Sequence[str], title: str
) -> Figure:
    """Which arm wins each point (colour); pale where the winner's CI overlaps the
    runner-up's (``separated`` false)."""
    groups = panels(table, parameters, [x, y])
    xs, ys = sorted(table[x].unique()), sorted(table[y].unique())
    colours = arm_colors(list(arms))
    cmap = ListedColormap([colours[a] for a in arms])
    rows, cols = _grid(len(groups))
    fig = new_figure(4.2 * cols + 1.6, 3.4 * rows + 0.6)
    for ax, (name, part) in zip(_axes(fig, len(groups)), groups, strict=True):
        grid = np.full((len(ys), len(xs)), np.nan)
        alpha = np.ones_like(grid)
        for row in part.itertuples(index=False):
            i, j = ys.index(getattr(row, y)), xs.index(getattr(row, x))
            grid[i, j] = list(arms).index(str(row.winner))
            alpha[i, j] = 1.0 if row.separated else 0.35
            ax.text(j, i, str(row.winner), ha="center", va="center", fontsize=6)
        ax.imshow(grid, cmap=cmap, vmin=-0.5, vmax=len(arms) - 0.5, origin="lower",
                  aspect="auto", alpha=alpha)  # fmt: skip
        ax.set_xticks(range(len(xs)), [level_label(v) for v in xs])
        ax.set_yticks(range(len(ys)), [level_label(v) for v in ys])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(name, fontsize=9)
    handles = [Patch(color=colours[a], label=a) for a in arms]
    fig.legend(handles=handles, loc="outside right center", fontsize=8)
    fig.suptitle(f"{title}\n(pale: not separated from the runner-up, paired 95% CI)",
                 fontsize=10)  # fmt: skip
    return fig
