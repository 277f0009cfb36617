"""Shared types, argument checks and small numerical helpers of the A/B statistics.

Every check raises :class:`ValueError` naming the offending argument and its allowed range.
"""

from __future__ import annotations

import math
from typing import Any, Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from recarena.typing import FloatArray

__all__ = ["Alternative", "FloatArray", "Number"]


Alternative: TypeAlias = Literal["two-sided", "larger", "smaller"]


Number: TypeAlias = int | float | np.integer[Any] | np.floating[Any]


_ALTERNATIVES = ("two-sided", "larger", "smaller")


_INF = math.inf


def _check_alpha(alpha: Number, name: str = "alpha") -> float:
    value = float(alpha)
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise ValueError(f"{name} must be in the open interval (0, 1), got {alpha!r}")
    return value


def _check_alternative(alternative: str) -> Alternative:
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")
    return alternative  # type: ignore[return-value]


def _check_count(value: Number, name: str, minimum: int = 0) -> int:
    x = float(value)
    if not math.isfinite(x) or not x.is_integer() or x < minimum:
        raise ValueError(f"{name} must be an integer in [{minimum}, inf), got {value!r}")
    return int(x)


def _check_successes(successes: Number, n: Number, s_name: str, n_name: str) -> tuple[int, int]:
    n_int = _check_count(n, n_name, minimum=1)
    s_int = _check_count(successes, s_name)
    if s_int > n_int:
        raise ValueError(f"{s_name} must be an integer in [0, {n_name}={n_int}], got {s_int}")
    return s_int, n_int


def _check_probability(p: Number, name: str, *, open_interval: bool = True) -> float:
    x = float(p)
    ok = math.isfinite(x) and ((0.0 < x < 1.0) if open_interval else (0.0 <= x <= 1.0))
    if not ok:
        rng = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name} must be in {rng}, got {p!r}")
    return x


def _check_positive(value: Number, name: str) -> float:
    x = float(value)
    if not (math.isfinite(x) and x > 0.0):
        raise ValueError(f"{name} must be a finite number in (0, inf), got {value!r}")
    return x


def _check_sample(x: ArrayLike, name: str, min_size: int) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} observations, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values in (-inf, inf) (no NaN/inf)")
    return arr


def _check_count_array(x: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] < 1:
        raise ValueError(f"{name} must be an array with at least one look, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.floor(arr)):
        raise ValueError(f"{name} must contain integers in [0, inf) (no NaN/inf/negatives)")
    if np.any(np.diff(arr, axis=-1) < 0):
        raise ValueError(f"{name} must be cumulative: non-decreasing along the last axis")
    return arr


def _check_cumulative_pair(
    successes: ArrayLike, n: ArrayLike, s_name: str, n_name: str
) -> tuple[FloatArray, FloatArray]:
    s_arr = _check_count_array(successes, s_name)
    n_arr = _check_count_array(n, n_name)
    if s_arr.shape != n_arr.shape:
        raise ValueError(
            f"{s_name} and {n_name} must have the same shape, got {s_arr.shape} and {n_arr.shape}"
        )
    if np.any(s_arr > n_arr):
        raise ValueError(f"{s_name} must be in [0, {n_name}] at every look")
    if np.any(np.diff(n_arr - s_arr, axis=-1) < 0):
        raise ValueError(
            f"{n_name} - {s_name} (failures) must be cumulative: non-decreasing over looks"
        )
    return s_arr, n_arr


def _normal_pvalue(stat: float, alternative: Alternative) -> float:
    if alternative == "two-sided":
        return float(min(1.0, 2.0 * special.ndtr(-abs(stat))))
    if alternative == "larger":
        return float(special.ndtr(-stat))
    return float(special.ndtr(stat))


def _t_pvalue(stat: float, df: float, alternative: Alternative) -> float:
    if alternative == "two-sided":
        return float(min(1.0, 2.0 * special.stdtr(df, -abs(stat))))
    if alternative == "larger":
        return float(special.stdtr(df, -stat))
    return float(special.stdtr(df, stat))


def _interval(
    estimate: float, se: float, crit_two: float, crit_one: float, alternative: Alternative
) -> tuple[float, float]:
    """``estimate ± crit·se`` on the side(s) given by ``alternative``."""
    if alternative == "two-sided":
        return (estimate - crit_two * se, estimate + crit_two * se)
    if alternative == "larger":
        return (estimate - crit_one * se, _INF)
    return (-_INF, estimate + crit_one * se)


def _log_ratio_lift(
    num: float,
    den: float,
    se_log: float,
    z_two: float,
    z_one: float,
    alternative: Alternative,
) -> tuple[float, tuple[float, float]]:
    """Lift ``num/den − 1`` and its delta-method interval built on ``log(num/den)``."""
    nan_ci = (math.nan, math.nan)
    if den == 0.0:
        return math.nan, nan_ci
    lift = num / den - 1.0
    if not (num > 0.0 and den > 0.0 and math.isfinite(se_log)):
        return lift, nan_ci
    lo, hi = _interval(math.log(num / den), se_log, z_two, z_one, alternative)
    return lift, (math.expm1(lo), math.expm1(hi))
