r"""Confidence intervals that stay inside a metric's range, chosen by the range.

A report's number is a mean over :math:`k` independent replications (seeds) with standard
error :math:`\widehat{se} = s/\sqrt k` on :math:`\nu = k - 1` degrees of freedom. The
symmetric Student-t interval :math:`\bar x \pm t_\nu \widehat{se}` is right for a
difference, which can take either sign, but leaves the range of a rate or a count when
:math:`k` is small (two seeds: :math:`t_{0.975,1} = 12.7`, a CTR of 0.486 ± 1.629). The
interval is therefore built on the scale the range calls for:

=====================  ===============================  =======================================
range                  interval                         function
=====================  ===============================  =======================================
:math:`(-\infty,       Student t:                       :func:`range_interval` (``bounds``
\infty)`               :math:`\bar x \pm t_\nu se`      ``None``)
:math:`[a, \infty)`    t on the log scale of            :func:`range_interval`
or                     :math:`d = |\bar x - a|`:
:math:`(-\infty, b]`   :math:`a + d\,e^{\pm t_\nu
                       se/d}`
:math:`[a, b]`         Wilson at the Korn–Graubard      :func:`range_interval`,
                       effective sample size of         :func:`wilson_interval`
                       :math:`p = (\bar x - a)/(b-a)`
=====================  ===============================  =======================================

**Log scale.** By the delta method :math:`se(\log d) \approx se/d`, so
:math:`\log d \pm t_\nu\, se/d` maps back to :math:`[a + d e^{-t se/d},\; a + d e^{t se/d}]`:
positive, longer on the far side, and the t-interval to first order when :math:`se \ll d`.
A mean on the bound (every value on it) gives the zero-width interval at the bound.

**Bounded means (Korn & Graubard 1998).** For :math:`p \in [0, 1]` with standard error
:math:`se` from the replications, the effective sample size is the binomial one that has
that variance, :math:`n_\text{eff} = p(1-p)/se^2` (:math:`n/\text{deff}` with the design
effect :math:`\text{deff} = se^2 / (p(1-p)/n)`, which here absorbs the between-seed and
between-user variance of a clustered design). When the rate is built from counts of
:math:`n` Bernoulli trials, the design effect is not allowed below 1
(:math:`n_\text{eff} \le n`), and :math:`n_\text{eff} = n` when the replications show no
spread (:math:`p \in \{0, 1\}` or :math:`se = 0`), so an all-zero CTR still gets an upper
bound. The few replications are accounted for by shrinking the size by the squared ratio of
the normal to the t quantile,

.. math::

    n^* = n_\text{eff} \left(\frac{z_{(1+\ell)/2}}{t_{(1+\ell)/2,\,\nu}}\right)^2,

and the interval is Wilson's score interval (Wilson 1927) at :math:`n^*`:

.. math::

    \frac{p + \frac{z^2}{2n^*} \pm z\sqrt{\frac{p(1-p)}{n^*} + \frac{z^2}{4n^{*2}}}}
         {1 + \frac{z^2}{n^*}} \;\subset\; [0, 1].

When :math:`n^*` is large it is :math:`p \pm z\sqrt{p(1-p)/n^*} = p \pm t_\nu se`, the
t-interval; near 0 or 1 it stays inside and becomes asymmetric. Without replications
(plain binomial counts, :math:`se^2 = p(1-p)/n`, :math:`\nu = \infty`) it is the textbook
Wilson interval.

**Proportions of runs** (the share of seeds in which a test rejected) are binomial counts
of independent runs: :func:`clopper_pearson_interval`, exact (Clopper & Pearson 1934).

**Differences** (a paired difference between arms, counterfactual regret) can be negative
and their range is not a constraint worth transforming for: they keep the t-interval over
paired seeds, which is the honest choice for a mean of :math:`k` independent, roughly
normal differences.

References
----------
.. [1] Student (1908). "The probable error of a mean". *Biometrika* 6(1), 1–25.
.. [2] Wilson, E. B. (1927). "Probable inference, the law of succession, and statistical
   inference". *JASA* 22(158), 209–212.
.. [3] Clopper, C. J., Pearson, E. S. (1934). "The use of confidence or fiducial limits
   illustrated in the case of the binomial". *Biometrika* 26(4), 404–413.
.. [4] Korn, E. L., Graubard, B. I. (1998). "Confidence intervals for proportions with
   small expected number of positive counts estimated from survey data". *Survey
   Methodology* 24(2), 193–201.
.. [5] Agresti, A., Coull, B. A. (1998). "Approximate is better than 'exact' for interval
   estimation of binomial proportions". *The American Statistician* 52(2), 119–126.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import special
from scipy import stats as sps

from recarena.typing import FloatArray

__all__ = [
    "Bounds",
    "IntervalMethod",
    "clopper_pearson_interval",
    "interval_method",
    "range_interval",
    "wilson_interval",
]

Bounds = tuple[float, float]
#: Names of the intervals, as written in the summary tables' ``interval`` column.
IntervalMethod = Literal["t", "log_t", "wilson_kg"]


def _z(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    return float(special.ndtri((1.0 + level) / 2.0))


def wilson_interval(p: ArrayLike, n: ArrayLike, level: float = 0.95) -> tuple[FloatArray, ...]:
    r"""Wilson's score interval of a proportion :math:`p` observed on :math:`n` trials.

    Parameters
    ----------
    p
        Observed proportions in [0, 1] (values a rounding error outside are clipped).
    n
        Number of trials, > 0; may be an effective (non-integer) size, ``inf`` for none.
    level
        Two-sided confidence level :math:`\ell \in (0, 1)`.

    Returns
    -------
    (low, high)
        Arrays broadcast from ``p`` and ``n``:
        :math:`\big(p + \tfrac{z^2}{2n} \mp z\sqrt{p(1-p)/n + z^2/4n^2}\big)/(1 + z^2/n)`,
        inside [0, 1]; NaN where ``p`` or ``n`` is NaN.

    Examples
    --------
    >>> low, high = wilson_interval(0.5, 10)  # z = 1.96: 0.5 ± 0.2782 ... shrunk
    >>> round(float(low), 4), round(float(high), 4)
    (0.2366, 0.7634)

    References
    ----------
    .. [1] Wilson, E. B. (1927). *JASA* 22(158), 209–212.
    """
    z = _z(level)
    q = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    size = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        z2n = z * z / size
        centre = (q + z2n / 2.0) / (1.0 + z2n)
        half = z * np.sqrt(q * (1.0 - q) / size + z2n / size / 4.0) / (1.0 + z2n)
    # Wilson's interval contains p; min/max only remove rounding (p = 0 gave low = 6e-17).
    low = np.minimum(np.clip(centre - half, 0.0, 1.0), q)
    high = np.maximum(np.clip(centre + half, 0.0, 1.0), q)
    return low, high


def clopper_pearson_interval(
    successes: ArrayLike, n: ArrayLike, level: float = 0.95
) -> tuple[FloatArray, ...]:
    r"""Exact (Clopper–Pearson) interval of a binomial proportion ``successes / n``.

    :math:`[B_{\alpha/2}(x, n - x + 1),\; B_{1-\alpha/2}(x + 1, n - x)]` with :math:`B_q`
    the beta quantile, 0 at :math:`x = 0` and 1 at :math:`x = n`; NaN where :math:`n = 0`.

    References
    ----------
    .. [1] Clopper, C. J., Pearson, E. S. (1934). *Biometrika* 26(4), 404–413.
    """
    alpha = 1.0 - level
    _z(level)
    x = np.asarray(successes, dtype=np.float64)
    size = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x > 0, sps.beta.ppf(alpha / 2.0, x, size - x + 1.0), 0.0)
        high = np.where(x < size, sps.beta.ppf(1.0 - alpha / 2.0, x + 1.0, size - x), 1.0)
    empty = ~(size > 0)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def interval_method(bounds: Bounds | None) -> IntervalMethod:
    """The interval :func:`range_interval` builds for a metric of range ``bounds``."""
    if bounds is None:
        return "t"
    low, high = bounds
    if math.isfinite(low) and math.isfinite(high):
        return "wilson_kg"
    if math.isfinite(low) or math.isfinite(high):
        return "log_t"
    return "t"


def range_interval(
    mean: ArrayLike,
    se: ArrayLike,
    df: ArrayLike,
    level: float = 0.95,
    bounds: Bounds | None = None,
    trials: ArrayLike | None = None,
) -> tuple[FloatArray, ...]:
    r"""Interval of a mean over replications, inside ``bounds`` (module docstring).

    Parameters
    ----------
    mean
        The mean over replications :math:`\bar x` (inside ``bounds``; a rounding error
        outside is clipped).
    se
        Its standard error :math:`s/\sqrt k`.
    df
        Degrees of freedom of ``se``, :math:`\nu = k - 1` (``inf`` for a known variance).
    level
        Two-sided confidence level.
    bounds
        ``(a, b)`` the metric's range: ``None`` or both infinite → Student t; one side
        infinite → t on the log scale of the distance to the finite bound; both finite →
        Wilson at the Korn–Graubard effective size.
    trials
        For a rate in ``[0, 1]`` built from counts: the number of Bernoulli trials behind
        ``mean``, which caps the effective size (design effect ≥ 1) and sets it when the
        replications show no spread. Only with ``bounds = (0, 1)``.

    Returns
    -------
    (low, high)
        Arrays broadcast from the inputs, inside ``bounds``; NaN where ``se`` or ``df`` is
        NaN (one replication).

    Examples
    --------
    Two seeds with CTRs 0.357 and 0.615: t gives 0.486 ± 1.639; on [0, 1] the interval is

    >>> low, high = range_interval(0.486, 0.129, 1, bounds=(0.0, 1.0))
    >>> round(float(low), 3), round(float(high), 3)
    (0.021, 0.977)
    """
    z = _z(level)
    m = np.asarray(mean, dtype=np.float64)
    s = np.asarray(se, dtype=np.float64)
    nu = np.asarray(df, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        tq = np.where(nu > 0, sps.t.ppf((1.0 + level) / 2.0, np.where(nu > 0, nu, 1.0)), np.nan)
    method = interval_method(bounds)
    if trials is not None and bounds != (0.0, 1.0):
        raise ValueError(f"trials need bounds (0.0, 1.0) (a rate of counts), got {bounds!r}")
    if method == "t":
        return m - tq * s, m + tq * s
    assert bounds is not None
    a, b = bounds
    if method == "log_t":
        sign = 1.0 if math.isfinite(a) else -1.0
        edge = a if math.isfinite(a) else b
        d = np.maximum(sign * (m - edge), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = np.where(d > 0, np.exp(tq * s / d), 1.0)
        near, far = edge + sign * d / spread, edge + sign * d * spread
        far = np.where(np.isnan(tq * s), np.nan, far)
        near = np.where(np.isnan(tq * s), np.nan, near)
        return (near, far) if sign > 0 else (far, near)
    width = b - a
    p = np.clip((m - a) / width, 0.0, 1.0)
    sp = s / width
    with np.errstate(invalid="ignore", divide="ignore"):
        # no spread (se = 0, or p on a bound): the replications carry no size of their own
        spread = (sp > 0) & (p > 0) & (p < 1)
        n_eff = np.where(spread, p * (1.0 - p) / (sp * sp), np.where(np.isnan(sp), np.nan, np.inf))
        if trials is not None:
            n_eff = np.minimum(n_eff, np.asarray(trials, dtype=np.float64))
        n_star = n_eff * (z / tq) ** 2
    low, high = wilson_interval(p, n_star, level)
    # Back on the metric's scale the interval must still hold the mean (rounding aside).
    inside = np.clip(m, a, b)
    return np.minimum(a + width * low, inside), np.maximum(a + width * high, inside)
