r"""Ratio metrics of user-randomised experiments: per-unit moments and the delta method.

When users are randomised but the metric is per session (clicks / sessions), sessions of one
user are correlated and a test that treats them as independent understates the variance
(Deng, Knoblich & Lu 2018). The analysis unit must be the randomisation unit: with
:math:`y_u` successes in :math:`n_u` trials of unit :math:`u`, the group's rate is the ratio
of means :math:`\hat R = \bar y / \bar n = \sum_u y_u / \sum_u n_u`, and its variance by the
delta method is

.. math::

    \widehat{\mathrm{Var}}(\hat R) = \frac{1}{m\,\bar n^2}\,
        \frac{1}{m-1}\sum_u (y_u - \hat R\, n_u)^2
    = \frac{m}{(m-1)\,(\sum_u n_u)^2}\Big(S_{yy} - 2\hat R S_{yn} + \hat R^2 S_{nn}\Big),

with :math:`m` units and :math:`S_{ab} = \sum_u a_u b_u`. This equals Deng et al.'s
:math:`\frac{1}{\mu_n^2}\mathrm{Var}(\bar y) - 2\frac{\mu_y}{\mu_n^3}\mathrm{Cov}(\bar y,
\bar n) + \frac{\mu_y^2}{\mu_n^4}\mathrm{Var}(\bar n)` with sample moments. When every unit
has one trial it is the Bernoulli variance :math:`\hat R(1-\hat R)/(m-1)` (the unpooled
z-test's, with :math:`m - 1` for :math:`m`).

The moments are sufficient statistics and add over units, so a sequential test can keep them
per look without keeping the units.

References
----------
.. [1] Deng, A., Knoblich, U., Lu, J. (2018). "Applying the delta method in metric analytics:
   a practical guide with novel ideas". *KDD '18*, 233–242.
.. [2] Kohavi, R., Tang, D., Xu, Y. (2020). *Trustworthy Online Controlled Experiments*,
   Cambridge University Press, ch. 18.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from recarena.stats._common import FloatArray

__all__ = ["UnitMoments", "delta_method_ratio", "moments_at_looks", "unit_moments"]


@dataclass(frozen=True, slots=True, eq=False)
class UnitMoments:
    """Per-group sums over analysis units, each of shape (K,).

    Attributes
    ----------
    units
        Units with at least one trial, :math:`m`.
    successes, trials
        :math:`\\sum_u y_u`, :math:`\\sum_u n_u`.
    sum_yy, sum_nn, sum_yn
        :math:`\\sum_u y_u^2`, :math:`\\sum_u n_u^2`, :math:`\\sum_u y_u n_u`.
    """

    units: FloatArray
    successes: FloatArray
    trials: FloatArray
    sum_yy: FloatArray
    sum_nn: FloatArray
    sum_yn: FloatArray


def unit_moments(
    successes: ArrayLike, trials: ArrayLike, group: ArrayLike, n_groups: int
) -> UnitMoments:
    """Sum per-unit successes and trials into per-group moments.

    Parameters
    ----------
    successes, trials
        :math:`y_u` and :math:`n_u` of each unit, shape (U,); units with :math:`n_u = 0`
        are ignored.
    group
        Group index of each unit in ``[0, n_groups)``, shape (U,).
    n_groups
        K.
    """
    y = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    g = np.asarray(group, dtype=np.int64)
    seen = n > 0
    y, n, g = y[seen], n[seen], g[seen]

    def total(weights: FloatArray | None) -> FloatArray:
        return np.asarray(np.bincount(g, weights, minlength=n_groups), dtype=np.float64)

    return UnitMoments(
        units=total(None), successes=total(y), trials=total(n),
        sum_yy=total(y * y), sum_nn=total(n * n), sum_yn=total(y * n),
    )  # fmt: skip


def delta_method_ratio(moments: UnitMoments) -> tuple[FloatArray, FloatArray]:
    """Per group, the ratio :math:`\\hat R = \\sum y / \\sum n` and its delta-method variance.

    Returns
    -------
    (ratio, variance)
        Arrays of shape (K,). Groups without trials have NaN ratio and variance; groups with
        one unit have variance NaN (no spread to estimate).
    """
    m, s, n = moments.units, moments.successes, moments.trials
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(n > 0, s / n, np.nan)
        ssd = moments.sum_yy - 2.0 * ratio * moments.sum_yn + ratio**2 * moments.sum_nn
        variance = np.where(m > 1, m * np.maximum(ssd, 0.0) / ((m - 1.0) * n**2), np.nan)
    return np.asarray(ratio, np.float64), np.asarray(variance, np.float64)


def moments_at_looks(
    times: ArrayLike,
    units: ArrayLike,
    groups: ArrayLike,
    outcomes: ArrayLike,
    looks: ArrayLike,
    n_groups: int,
) -> list[UnitMoments]:
    """Per-unit moments of the rows with :math:`t \\le \\tau_\\ell`, at each look
    :math:`\\tau_\\ell`.

    Parameters
    ----------
    times, units, groups, outcomes
        One entry per trial (e.g. a session): its time, unit id (e.g. user), group and
        binary or real outcome. A unit is a (unit id, group) pair; rows with a group outside
        ``[0, n_groups)`` or after the last look are ignored.
    looks
        Increasing look times, shape (L,).
    n_groups
        K.

    Returns
    -------
    list of UnitMoments
        One per look, cumulative.
    """
    t = np.asarray(times, dtype=np.float64)
    g = np.asarray(groups, dtype=np.int64)
    y = np.asarray(outcomes, dtype=np.float64)
    tau = np.asarray(looks, dtype=np.float64)
    bucket = np.searchsorted(tau, t, side="left")
    keep = (g >= 0) & (g < n_groups) & (bucket < tau.size)
    pairs = np.stack([np.asarray(units, dtype=np.int64)[keep], g[keep]], axis=1)
    keys, unit_of_row = np.unique(pairs, axis=0, return_inverse=True)
    unit_of_row = unit_of_row.ravel()
    bucket, y = bucket[keep], y[keep]
    y_unit = np.zeros(keys.shape[0])
    n_unit = np.zeros(keys.shape[0])
    out = []
    for look in range(tau.size):
        rows = bucket == look
        y_unit += np.bincount(unit_of_row[rows], y[rows], minlength=keys.shape[0])
        n_unit += np.bincount(unit_of_row[rows], minlength=keys.shape[0])
        out.append(unit_moments(y_unit, n_unit, keys[:, 1], n_groups))
    return out
