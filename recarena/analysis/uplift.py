r"""Uplift evaluation metrics, computed here from first principles.

Notation
--------
Rows are ranked by decreasing score ``s``. For the top :math:`k` rows, :math:`N_T(k)` and
:math:`N_C(k)` count treated and control rows and :math:`Y_T(k)`, :math:`Y_C(k)` sum their
outcomes. The population has :math:`n` rows; :math:`u = k/n` is the fraction targeted.

Curves
------
* **Qini curve** (Radcliffe, 2007): :math:`Q(k) = Y_T(k) - Y_C(k)\,N_T(k)/N_C(k)`, the
  incremental responses among the targeted treated, with the control term taken as 0 while
  :math:`N_C(k) = 0`.
* **Uplift (gain) curve**: :math:`U(k) = \big(Y_T(k)/N_T(k) - Y_C(k)/N_C(k)\big)\,k`, the
  estimated incremental responses if the top :math:`k` were all treated, with an arm's mean
  taken as 0 while that arm is empty in the top :math:`k` (the convention of scikit-uplift).

Both end at :math:`Q(n) = N_T\,\widehat{\mathrm{ATE}}` and :math:`U(n) = n\,\widehat{\mathrm{ATE}}`
with :math:`\widehat{\mathrm{ATE}} = \bar Y_T - \bar Y_C`; the *random* targeting line joins
:math:`(0, 0)` to :math:`(1, C(1))`.

Ties
----
Rows with equal scores form one *tie group* and are never split by row order: curve points are
placed only at tie-group boundaries (plus the origin), so linear interpolation between points
equals averaging over orderings inside a tie group. Slices that cut through a tie group (top
:math:`k`, percentile bins, policy budgets) include every member of that group with the same
fractional weight (the overlapping share of the group's positions), so all results depend only
on the multiset of ``(score, t, y)`` rows, never on their order.

Areas and normalisations
------------------------
Areas use the trapezoidal rule over the curve points on the :math:`u \in [0, 1]` axis. For a
curve :math:`C` (Qini or uplift), the *area between model and random* is

.. math:: A(C) = \int_0^1 C(u)\,du - \tfrac12 C(1).

:func:`qini_coefficient` and :func:`auuc` report :math:`A` for the Qini and uplift curve,
with ``normalize`` one of

``None``
    :math:`A(C_{\text{model}})` in outcome units (incremental responses).
``"perfect"`` (scikit-uplift's ``qini_auc_score`` / ``uplift_auc_score``)
    :math:`A(C_{\text{model}}) / A(C_{\text{perfect}})`: the area between the model curve and
    the random line divided by the same area for the *perfect* ranking of the same rows,
    which scores every row by :math:`y\,(2t - 1)` (treated responders first, control
    responders last; for binary ``y`` the treated non-responders and control non-responders
    form one tie group in between). Random scores give about 0 and the perfect ranking gives
    exactly 1. The perfect ranking is a reference, not a proven maximum of the area, so a
    value slightly above 1 is possible in odd samples.
``"endpoint"`` (CausalML's ``get_qini`` / ``get_cumgain`` with ``normalize=True``)
    The curve is divided by the absolute value of its end point, :math:`C(u)/|C(1)|` (the
    total effect scaled to ±1), and :math:`A` is taken of that curve:
    :math:`A(C_{\text{model}}) / |C(1)|`. Random scores give about 0; the value has no fixed
    upper bound. CausalML's ``auuc_score`` reports the area *under* the normalised gain
    curve instead (not between), which is this value + 0.5 when :math:`C(1) > 0`
    (up to CausalML's per-row discretisation and its row-order tie breaking).

Degenerate denominators (:math:`A(C_{\text{perfect}}) = 0` or :math:`C(1) = 0`) give NaN with
an :class:`UpliftMetricWarning`.

Ground-truth metrics (simulation only): :func:`pehe`, :func:`oracle_qini_curve`,
:func:`true_gain_curve`, :func:`policy_value`, :func:`policy_regret`.

References
----------
.. [1] N. J. Radcliffe, "Using control groups to target on predicted lift: building and
   assessing uplift models", Direct Marketing Analytics Journal 1:14–21, 2007.
.. [2] P. Gutierrez and J.-Y. Gérardy, "Causal inference and uplift modelling: a review of the
   literature", PMLR 67:1–13, 2017.
.. [3] J. L. Hill, "Bayesian nonparametric modeling for causal inference", JCGS 20(1):217–240,
   2011 (PEHE).
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from recarena.typing import FloatArray, IntArray

__all__ = [
    "UpliftMetricWarning",
    "auuc",
    "oracle_qini_curve",
    "pehe",
    "perfect_qini_curve",
    "perfect_uplift_curve",
    "policy_regret",
    "policy_value",
    "qini_coefficient",
    "qini_curve",
    "true_gain_curve",
    "uplift_at_k",
    "uplift_by_percentile",
    "uplift_curve",
    "weighted_average_uplift",
]

Normalize = Literal["perfect", "endpoint"] | None


class UpliftMetricWarning(UserWarning):
    """An uplift metric is undefined for the given data (empty arm, zero denominator)."""


# --------------------------------------------------------------------------------------------
# validation and tie handling
# --------------------------------------------------------------------------------------------


def _as_1d_float(a: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {np.shape(a)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    return arr


def _check_yts(
    y: ArrayLike, t: ArrayLike, scores: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    ya = _as_1d_float(y, "y")
    ta = _as_1d_float(t, "t")
    sa = _as_1d_float(scores, "scores")
    if not (ya.size == ta.size == sa.size):
        raise ValueError(
            f"y, t and scores must have the same length, got {ya.size}, {ta.size}, {sa.size}"
        )
    if ya.size == 0:
        raise ValueError("empty input")
    if not np.isin(ta, (0.0, 1.0)).all():
        raise ValueError("treatment t must contain only 0 and 1")
    return ya, ta, sa


def _check_fraction(value: float, name: str, *, allow_zero: bool) -> float:
    v = float(value)
    lo_ok = v >= 0.0 if allow_zero else v > 0.0
    if not (lo_ok and v <= 1.0):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    return v


def _top_count(fraction: float, n: int) -> int:
    """Rows in a top-``fraction`` slice: ``ceil(fraction · n)``, robust to float round-off."""
    return min(n, math.ceil(round(fraction * n, 9)))


def _tie_groups(scores: FloatArray) -> tuple[IntArray, IntArray, IntArray]:
    """Tie groups in decreasing score order.

    Returns ``(group_of_row, start, end)``: the group index of every row, and for each group
    the half-open interval ``[start, end)`` of positions it occupies in the ranking.
    Depends only on the score values, not on row order.
    """
    order = np.argsort(-scores, kind="stable")
    s_sorted = scores[order]
    is_new = np.empty(scores.size, dtype=bool)
    is_new[0] = True
    is_new[1:] = s_sorted[1:] != s_sorted[:-1]
    start = np.flatnonzero(is_new).astype(np.int64)
    end = np.append(start[1:], scores.size).astype(np.int64)
    group_of_row = np.empty(scores.size, dtype=np.int64)
    group_of_row[order] = np.cumsum(is_new) - 1
    return group_of_row, start, end


def _interval_weights(scores: FloatArray, lo: float, hi: float) -> FloatArray:
    """Inclusion weight of every row in ranking positions ``[lo, hi)``, averaged over ties.

    A tie group occupying positions ``[a, b)`` puts the same weight
    ``|[a, b) ∩ [lo, hi)| / (b − a)`` on each of its rows.
    """
    group, start, end = _tie_groups(scores)
    overlap = np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0.0, None)
    share: FloatArray = overlap / (end - start)
    return share[group]


def _cumulative_at_ties(
    y: FloatArray, t: FloatArray, scores: FloatArray
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """``(k, N_T, N_C, Y_T, Y_C)`` at every tie-group boundary, with a leading 0 point.

    Rows are sorted by decreasing score, then by ``t`` and ``y`` inside a tie group, so the
    cumulative sums are bitwise independent of the input row order.
    """
    order = np.lexsort((y, t, -scores))
    ys, ts, ss = y[order], t[order], scores[order]
    cs_t = np.cumsum(ts)
    cs_yt = np.cumsum(ys * ts)
    cs_y = np.cumsum(ys)
    last = np.append(ss[1:] != ss[:-1], True)  # last position of each tie group
    idx = np.flatnonzero(last)
    k = np.concatenate(([0], idx + 1)).astype(np.int64)
    n_t: FloatArray = np.concatenate(([0.0], cs_t[idx]))
    n_c: FloatArray = k.astype(np.float64) - n_t
    y_t: FloatArray = np.concatenate(([0.0], cs_yt[idx]))
    y_c: FloatArray = np.concatenate(([0.0], cs_y[idx])) - y_t
    return k, n_t, n_c, y_t, y_c


def _safe_div(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num / den`` with 0 where ``den == 0``."""
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _perfect_scores(y: FloatArray, t: FloatArray) -> FloatArray:
    out: FloatArray = y * (2.0 * t - 1.0)
    return out


# --------------------------------------------------------------------------------------------
# curves
# --------------------------------------------------------------------------------------------


def qini_curve(y: ArrayLike, t: ArrayLike, scores: ArrayLike) -> tuple[IntArray, FloatArray]:
    r"""Qini curve :math:`Q(k) = Y_T(k) - Y_C(k)\,N_T(k)/N_C(k)`.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcomes (binary or real).
    t : array-like of shape (n,)
        Treatment indicator in {0, 1}.
    scores : array-like of shape (n,)
        Predicted uplift; higher means target first.

    Returns
    -------
    k : ndarray of int, shape (m + 1,)
        Number of rows targeted: 0, then the end of each of the ``m`` tie groups (last is n).
    q : ndarray of float, shape (m + 1,)
        :math:`Q(k)`, with the control term taken as 0 while :math:`N_C(k) = 0`; ``q[0] = 0``.
    """
    ya, ta, sa = _check_yts(y, t, scores)
    k, n_t, n_c, y_t, y_c = _cumulative_at_ties(ya, ta, sa)
    q: FloatArray = y_t - y_c * _safe_div(n_t, n_c)
    return k, q


def uplift_curve(y: ArrayLike, t: ArrayLike, scores: ArrayLike) -> tuple[IntArray, FloatArray]:
    r"""Uplift (cumulative gain) curve :math:`U(k) = (Y_T(k)/N_T(k) - Y_C(k)/N_C(k))\,k`.

    Parameters and returns as in :func:`qini_curve`; an arm's mean is taken as 0 while that
    arm has no row in the top :math:`k`.
    """
    ya, ta, sa = _check_yts(y, t, scores)
    k, n_t, n_c, y_t, y_c = _cumulative_at_ties(ya, ta, sa)
    u: FloatArray = (_safe_div(y_t, n_t) - _safe_div(y_c, n_c)) * k
    return k, u


def perfect_qini_curve(y: ArrayLike, t: ArrayLike) -> tuple[IntArray, FloatArray]:
    """Qini curve of the perfect ranking, scores ``y·(2t − 1)`` (see the module notes)."""
    ya, ta, _ = _check_yts(y, t, np.zeros(np.size(y)))
    return qini_curve(ya, ta, _perfect_scores(ya, ta))


def perfect_uplift_curve(y: ArrayLike, t: ArrayLike) -> tuple[IntArray, FloatArray]:
    """Uplift curve of the perfect ranking, scores ``y·(2t − 1)`` (see the module notes)."""
    ya, ta, _ = _check_yts(y, t, np.zeros(np.size(y)))
    return uplift_curve(ya, ta, _perfect_scores(ya, ta))


def _area_above_random(k: IntArray, c: FloatArray) -> float:
    """Trapezoidal area between the curve and the random line, on the u = k/n axis."""
    u = k / k[-1]
    integral = 0.5 * float(np.sum((c[1:] + c[:-1]) * np.diff(u)))
    return integral - 0.5 * float(c[-1])


def _normalised_area(
    k: IntArray,
    c: FloatArray,
    normalize: Normalize,
    perfect: tuple[IntArray, FloatArray] | None,
    name: str,
) -> float:
    area = _area_above_random(k, c)
    if normalize is None:
        return area
    if normalize == "endpoint":
        den = abs(float(c[-1]))
        what = "the curve's end value (total effect) is 0"
    elif normalize == "perfect":
        assert perfect is not None
        den = _area_above_random(*perfect)
        what = "the perfect ranking has zero area above the random line"
    else:
        raise ValueError(f"normalize must be None, 'perfect' or 'endpoint', got {normalize!r}")
    if den == 0.0:
        warnings.warn(f"{name}: {what}; returning NaN", UpliftMetricWarning, stacklevel=3)
        return float("nan")
    return area / den


def qini_coefficient(
    y: ArrayLike,
    t: ArrayLike,
    scores: ArrayLike,
    normalize: Normalize = "perfect",
) -> float:
    r"""Qini coefficient: area between the Qini curve and the random line.

    .. math:: A = \int_0^1 Q(u)\,du - \tfrac12 Q(1) \quad (\text{trapezoids on } u = k/n).

    Parameters
    ----------
    y, t, scores : array-like of shape (n,)
        Outcomes, treatment in {0, 1}, predicted uplift.
    normalize : {"perfect", "endpoint"} or None, default="perfect"
        ``"perfect"``: :math:`A_{\text{model}}/A_{\text{perfect}}` (scikit-uplift
        ``qini_auc_score``; perfect ranking = scores :math:`y(2t-1)`; random ≈ 0, perfect = 1).
        ``"endpoint"``: :math:`A_{\text{model}}/|Q(1)|`, i.e. :math:`A` of the curve scaled so
        it ends at ±1 (CausalML ``qini_score`` with ``normalize=True``, up to its per-row
        discretisation and row-order tie breaking). ``None``: raw :math:`A` in outcome units.
        NaN with a warning if the denominator is 0.

    Returns
    -------
    float
    """
    ya, ta, sa = _check_yts(y, t, scores)
    k, q = qini_curve(ya, ta, sa)
    perfect = perfect_qini_curve(ya, ta) if normalize == "perfect" else None
    return _normalised_area(k, q, normalize, perfect, "qini_coefficient")


def auuc(
    y: ArrayLike,
    t: ArrayLike,
    scores: ArrayLike,
    normalize: Normalize = "perfect",
) -> float:
    r"""Area under the uplift curve, measured above the random line.

    .. math:: A = \int_0^1 U(u)\,du - \tfrac12 U(1) \quad (\text{trapezoids on } u = k/n).

    Parameters
    ----------
    y, t, scores : array-like of shape (n,)
        Outcomes, treatment in {0, 1}, predicted uplift.
    normalize : {"perfect", "endpoint"} or None, default="perfect"
        ``"perfect"``: :math:`A_{\text{model}}/A_{\text{perfect}}` (scikit-uplift
        ``uplift_auc_score``, but with the same perfect ranking :math:`y(2t-1)` as the Qini
        coefficient; random ≈ 0, perfect = 1). ``"endpoint"``: :math:`A_{\text{model}}/|U(1)|`
        — the area between the CausalML-normalised gain curve (ending at ±1) and the
        diagonal; CausalML's ``auuc_score`` is this + 0.5 when :math:`U(1) > 0`.
        ``None``: raw :math:`A` in outcome units. NaN with a warning if the denominator is 0.

    Returns
    -------
    float
    """
    ya, ta, sa = _check_yts(y, t, scores)
    k, u = uplift_curve(ya, ta, sa)
    perfect = perfect_uplift_curve(ya, ta) if normalize == "perfect" else None
    return _normalised_area(k, u, normalize, perfect, "auuc")


# --------------------------------------------------------------------------------------------
# slices: uplift@k and percentile tables
# --------------------------------------------------------------------------------------------


def _weighted_rate(w: FloatArray, y: FloatArray) -> tuple[float, float, float]:
    """``(total weight, weighted mean, weighted population variance)``; NaNs if no weight."""
    total = float(w.sum())
    if total <= 0.0:
        return total, float("nan"), float("nan")
    mean = float(np.dot(w, y) / total)
    var = float(np.dot(w, (y - mean) ** 2) / total)
    return total, mean, var


def uplift_at_k(
    y: ArrayLike,
    t: ArrayLike,
    scores: ArrayLike,
    k: float = 0.3,
    strategy: Literal["overall", "by_group"] = "overall",
) -> float:
    r"""Uplift within the top :math:`k` fraction: treated response rate − control response rate.

    ``strategy="overall"``: rank all rows by score, take the top :math:`m = \lceil k n \rceil`
    positions, and return :math:`\bar y_{T} - \bar y_{C}` over the treated and control rows in
    that slice. ``strategy="by_group"``: rank treated and control rows separately, take the top
    :math:`\lceil k n_T \rceil` treated and :math:`\lceil k n_C \rceil` control rows, and
    return the difference of their mean outcomes.

    A tie group straddling the cut enters with equal fractional weights (see the module
    notes), so the result does not depend on row order.

    **Empty arm:** if the slice holds no control row (or no treated row) the difference is
    undefined: the function returns ``nan`` and emits an :class:`UpliftMetricWarning`.

    Parameters
    ----------
    y, t, scores : array-like of shape (n,)
        Outcomes, treatment in {0, 1}, predicted uplift.
    k : float in (0, 1], default=0.3
        Fraction of rows targeted.
    strategy : {"overall", "by_group"}, default="overall"

    Returns
    -------
    float
    """
    ya, ta, sa = _check_yts(y, t, scores)
    frac = _check_fraction(k, "k", allow_zero=False)
    if strategy == "overall":
        w = _interval_weights(sa, 0.0, _top_count(frac, ya.size))
        w_t, w_c = w * ta, w * (1.0 - ta)
    elif strategy == "by_group":
        w_t = np.zeros(ya.size)
        w_c = np.zeros(ya.size)
        for arm, w_arm in ((1.0, w_t), (0.0, w_c)):
            rows = np.flatnonzero(ta == arm)
            if rows.size:
                w_arm[rows] = _interval_weights(sa[rows], 0.0, _top_count(frac, rows.size))
    else:
        raise ValueError(f"strategy must be 'overall' or 'by_group', got {strategy!r}")
    n_t, rate_t, _ = _weighted_rate(w_t, ya)
    n_c, rate_c, _ = _weighted_rate(w_c, ya)
    if n_t <= 0.0 or n_c <= 0.0:
        empty = "control" if n_c <= 0.0 else "treated"
        warnings.warn(
            f"uplift_at_k: no {empty} rows in the top {frac:g} slice; returning NaN",
            UpliftMetricWarning,
            stacklevel=2,
        )
        return float("nan")
    return rate_t - rate_c


def uplift_by_percentile(
    y: ArrayLike, t: ArrayLike, scores: ArrayLike, bins: int = 10
) -> pd.DataFrame:
    r"""Response rates and uplift per score quantile bin (deciles by default).

    Ranking positions ``0 … n−1`` (decreasing score) are cut into ``bins`` consecutive bins
    with integer edges :math:`\lfloor j n / \text{bins} \rfloor`, the first bin holding the
    highest scores. A tie group spanning an edge is shared between bins with equal fractional
    weights, so counts can be fractional when scores tie.

    Parameters
    ----------
    y, t, scores : array-like of shape (n,)
        Outcomes, treatment in {0, 1}, predicted uplift.
    bins : int, default=10
        Number of bins, between 1 and n.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``percentile`` labels (``"0-10"``, ``"10-20"``, …; top scores first) with
        columns ``n_treatment``, ``n_control`` (weighted counts), ``response_rate_treatment``,
        ``response_rate_control``, ``uplift`` (treated − control rate) and ``std_uplift``
        (:math:`\sqrt{v_T/n_T + v_C/n_C}` with in-bin population variances). Rates and uplift
        are NaN for a bin with an empty arm, with an :class:`UpliftMetricWarning`.
    """
    ya, ta, sa = _check_yts(y, t, scores)
    n = ya.size
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or not 1 <= bins <= n:
        raise ValueError(f"bins must be an integer in [1, n={n}], got {bins!r}")
    nb = int(bins)
    edges = [(j * n) // nb for j in range(nb + 1)]
    rows = []
    labels = []
    empty_bins = []
    for j in range(nb):
        w = _interval_weights(sa, edges[j], edges[j + 1])
        n_t, rate_t, var_t = _weighted_rate(w * ta, ya)
        n_c, rate_c, var_c = _weighted_rate(w * (1.0 - ta), ya)
        label = f"{100 * j / nb:.4g}-{100 * (j + 1) / nb:.4g}"
        if n_t <= 0.0 or n_c <= 0.0:
            empty_bins.append(label)
            uplift = std = float("nan")
        else:
            uplift = rate_t - rate_c
            std = math.sqrt(var_t / n_t + var_c / n_c)
        labels.append(label)
        rows.append((n_t, n_c, rate_t, rate_c, uplift, std))
    if empty_bins:
        warnings.warn(
            f"uplift_by_percentile: bins {empty_bins} have an empty arm; their uplift is NaN",
            UpliftMetricWarning,
            stacklevel=2,
        )
    return pd.DataFrame(
        rows,
        index=pd.Index(labels, name="percentile"),
        columns=[
            "n_treatment",
            "n_control",
            "response_rate_treatment",
            "response_rate_control",
            "uplift",
            "std_uplift",
        ],
    )


def weighted_average_uplift(y: ArrayLike, t: ArrayLike, scores: ArrayLike, bins: int = 10) -> float:
    r"""Average of the per-bin uplifts of :func:`uplift_by_percentile`, weighted by treated count.

    .. math:: \mathrm{WAU} = \frac{\sum_b n_{T,b}\,\mathrm{uplift}_b}{\sum_b n_{T,b}},

    over bins whose uplift is defined (bins with an empty arm are skipped, with the warning of
    :func:`uplift_by_percentile`). NaN if no bin is defined.
    """
    table = uplift_by_percentile(y, t, scores, bins=bins)
    ok = table["uplift"].notna()
    w = table.loc[ok, "n_treatment"].to_numpy(dtype=np.float64)
    u = table.loc[ok, "uplift"].to_numpy(dtype=np.float64)
    if w.sum() <= 0.0:
        return float("nan")
    return float(np.dot(w, u) / w.sum())


# --------------------------------------------------------------------------------------------
# ground truth (simulation)
# --------------------------------------------------------------------------------------------


def pehe(tau_true: ArrayLike, tau_hat: ArrayLike, squared: bool = False) -> float:
    r"""Precision in estimating heterogeneous effects (Hill, 2011).

    .. math:: \mathrm{PEHE} = \sqrt{\tfrac1n \textstyle\sum_i (\hat\tau_i - \tau_i)^2}

    By default the **root** mean squared error (RMSE, same units as the effect);
    ``squared=True`` returns the mean squared error (Hill's original :math:`\epsilon_{PEHE}`).
    """
    a = _as_1d_float(tau_true, "tau_true")
    b = _as_1d_float(tau_hat, "tau_hat")
    if a.shape != b.shape or a.size == 0:
        raise ValueError(
            f"tau_true and tau_hat must be non-empty with equal shapes, got {a.shape} and {b.shape}"
        )
    mse = float(np.mean((b - a) ** 2))
    return mse if squared else math.sqrt(mse)


def oracle_qini_curve(
    tau_true: ArrayLike, y: ArrayLike, t: ArrayLike
) -> tuple[IntArray, FloatArray]:
    """Qini curve of the observed ``(y, t)`` when rows are ranked by the true effect.

    Equal to ``qini_curve(y, t, scores=tau_true)``: the best curve a model can hope for on
    this sample up to outcome noise (unlike :func:`perfect_qini_curve`, which peeks at ``y``).
    """
    return qini_curve(y, t, tau_true)


def true_gain_curve(
    tau_true: ArrayLike, scores: ArrayLike | None = None
) -> tuple[IntArray, FloatArray]:
    r"""Cumulative *true* effect of targeting the top :math:`k` rows by ``scores``.

    :math:`G(k) = \sum_{i \in \text{top } k} \tau_i` at every tie-group boundary (ties in
    ``scores`` are averaged, as everywhere in this module). ``scores=None`` ranks by
    ``tau_true`` itself (the oracle curve).
    """
    tau = _as_1d_float(tau_true, "tau_true")
    s = tau if scores is None else _as_1d_float(scores, "scores")
    if s.shape != tau.shape or tau.size == 0:
        raise ValueError("tau_true and scores must be non-empty with equal shapes")
    order = np.lexsort((tau, -s))
    cs = np.cumsum(tau[order])
    ss = s[order]
    idx = np.flatnonzero(np.append(ss[1:] != ss[:-1], True))
    k = np.concatenate(([0], idx + 1)).astype(np.int64)
    return k, np.concatenate(([0.0], cs[idx]))


def policy_value(tau_true: ArrayLike, scores: ArrayLike, budget_fraction: float) -> float:
    r"""Per-capita true effect captured by treating the top ``budget_fraction`` by score.

    .. math:: V(s, b) = \frac1n \sum_i w_i\,\tau_i,

    where :math:`w_i \in [0, 1]` marks the top :math:`m = \lceil b\,n \rceil` rows by ``scores``
    (fractional for a tie group straddling the cut). This is the value of the targeting policy
    relative to treating nobody, averaged over the whole population; the mean effect per
    *treated* user is ``V · n / m``.
    """
    tau = _as_1d_float(tau_true, "tau_true")
    s = _as_1d_float(scores, "scores")
    if s.shape != tau.shape or tau.size == 0:
        raise ValueError("tau_true and scores must be non-empty with equal shapes")
    b = _check_fraction(budget_fraction, "budget_fraction", allow_zero=True)
    w = _interval_weights(s, 0.0, _top_count(b, tau.size))
    return float(np.dot(w, tau) / tau.size)


def policy_regret(tau_true: ArrayLike, scores: ArrayLike, budget_fraction: float) -> float:
    r"""Regret against oracle targeting under the same budget.

    .. math:: R(s, b) = V(\tau, b) - V(s, b) \ge 0,

    with :math:`V` from :func:`policy_value`; the oracle ranks by the true effect itself.
    """
    return policy_value(tau_true, tau_true, budget_fraction) - policy_value(
        tau_true, scores, budget_fraction
    )
