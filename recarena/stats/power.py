"""Power and sample size for comparing two proportions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy import optimize, special

from recarena.stats._common import (
    Alternative,
    Number,
    _check_alpha,
    _check_alternative,
    _check_positive,
    _check_probability,
)

__all__ = [
    "PowerMethod",
    "SampleSizeResult",
    "power_two_proportions",
    "sample_size_two_proportions",
]

#: How the normal approximation treats the variance: ``"cohens_h"`` works on the arcsine
#: scale (variance free of p, Cohen 1988); ``"pooled_unpooled"`` uses the pooled rate's
#: variance under H0 and the two rates' own variances under H1 (Fleiss, Levin & Paik 2003,
#: §4.2; the formula of most online calculators and of statsmodels'
#: ``power_proportions_2indep``).
PowerMethod = Literal["cohens_h", "pooled_unpooled"]


@dataclass(frozen=True, slots=True)
class SampleSizeResult:
    """Result of :func:`sample_size_two_proportions`.

    Attributes
    ----------
    n_a, n_b
        Required sample sizes (rounded up); ``n_b ≈ ratio · n_a``.
    p_a, p_b
        Baseline rate and the rate under the alternative.
    cohens_h
        ``2·asin(√p_b) − 2·asin(√p_a)``.
    alpha, power, ratio, alternative
        Design inputs.
    achieved_power
        Power at the rounded sizes (≥ ``power``), by the same ``method``.
    method
        The normal approximation used (:data:`PowerMethod`).
    """

    n_a: int
    n_b: int
    p_a: float
    p_b: float
    cohens_h: float
    alpha: float
    power: float
    ratio: float
    alternative: Alternative
    achieved_power: float
    method: PowerMethod = "cohens_h"

    @property
    def total(self) -> int:
        """Total sample size ``n_a + n_b``."""
        return self.n_a + self.n_b


def _cohens_h(p_a: float, p_b: float) -> float:
    return 2.0 * math.asin(math.sqrt(p_b)) - 2.0 * math.asin(math.sqrt(p_a))


def _power_h(h: float, n_eff: float, alpha: float, alternative: Alternative) -> float:
    """Normal-approximation power for effect ``h`` on the arcsine scale (both tails)."""
    shift = h * math.sqrt(n_eff)
    if alternative == "two-sided":
        crit = float(-special.ndtri(alpha / 2.0))
        return float(special.ndtr(shift - crit) + special.ndtr(-crit - shift))
    crit = float(-special.ndtri(alpha))
    if alternative == "larger":
        return float(special.ndtr(shift - crit))
    return float(special.ndtr(-shift - crit))


def _pooled_unpooled_sds(p_a: float, p_b: float, ratio: float) -> tuple[float, float]:
    """sd of √n_a (p̂_b − p̂_a) under H0 (pooled rate p̄) and under H1 (each rate's own)."""
    pooled = (p_a + ratio * p_b) / (1.0 + ratio)
    sd_null = math.sqrt(pooled * (1.0 - pooled) * (1.0 + 1.0 / ratio))
    sd_alt = math.sqrt(p_a * (1.0 - p_a) + p_b * (1.0 - p_b) / ratio)
    return sd_null, sd_alt


def _power_pooled_unpooled(
    p_a: float, p_b: float, n_a: float, ratio: float, alpha: float, alternative: Alternative
) -> float:
    """Power with the pooled H0 and unpooled H1 variances (both tails when two-sided)."""
    sd_null, sd_alt = _pooled_unpooled_sds(p_a, p_b, ratio)
    shift = (p_b - p_a) * math.sqrt(n_a)
    if alternative == "two-sided":
        crit = float(-special.ndtri(alpha / 2.0)) * sd_null
        return float(special.ndtr((shift - crit) / sd_alt) + special.ndtr((-shift - crit) / sd_alt))
    crit = float(-special.ndtri(alpha)) * sd_null
    sign = 1.0 if alternative == "larger" else -1.0
    return float(special.ndtr((sign * shift - crit) / sd_alt))


def power_two_proportions(
    p_a: float,
    p_b: float,
    n_per_group: Number,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
    method: PowerMethod = "cohens_h",
) -> float:
    r"""Power of the two-proportion z-test by a normal approximation.

    Parameters
    ----------
    p_a, p_b
        True rates in control and treatment, each in [0, 1].
    n_per_group
        Size of group A (> 0); group B has ``ratio · n_per_group``.
    alpha
        Level in (0, 1).
    ratio
        ``n_b / n_a``, in (0, inf).
    alternative
        ``"two-sided"``, ``"larger"`` (H1: p_b > p_a) or ``"smaller"``.
    method
        ``"cohens_h"`` (default) or ``"pooled_unpooled"`` (:data:`PowerMethod`).

    Returns
    -------
    float
        Power in [0, 1]. With ``"cohens_h"`` identical to statsmodels
        ``NormalIndPower().power(proportion_effectsize(p_b, p_a), n_per_group, alpha, ratio)``;
        with ``"pooled_unpooled"`` to ``power_proportions_2indep(p_a - p_b, p_b, n_b,
        ratio=1/ratio)`` (its first group is our b).

    Notes
    -----
    Cohen's h: :math:`h = 2\arcsin\sqrt{p_b} - 2\arcsin\sqrt{p_a}`,
    :math:`n_{eff} = n_a n_b/(n_a+n_b)`; two-sided power is
    :math:`\Phi(h\sqrt{n_{eff}} - z_{1-\alpha/2}) + \Phi(-h\sqrt{n_{eff}} - z_{1-\alpha/2})`,
    one-sided ("larger") :math:`\Phi(h\sqrt{n_{eff}} - z_{1-\alpha})`.

    Pooled null, unpooled alternative: with :math:`\delta = p_b - p_a`, :math:`r = n_b/n_a`,
    :math:`\bar p = (p_a + r p_b)/(1 + r)`, :math:`\sigma_0^2 = \bar p(1-\bar p)(1 + 1/r)`
    and :math:`\sigma_1^2 = p_a(1-p_a) + p_b(1-p_b)/r`, two-sided power is
    :math:`\Phi\big((\delta\sqrt{n_a} - z_{1-\alpha/2}\sigma_0)/\sigma_1\big) +
    \Phi\big((-\delta\sqrt{n_a} - z_{1-\alpha/2}\sigma_0)/\sigma_1\big)`.

    References
    ----------
    .. [1] Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*,
       2nd ed., Erlbaum, ch. 6.
    .. [2] Fleiss, J. L., Levin, B., Paik, M. C. (2003). *Statistical Methods for Rates and
       Proportions*, 3rd ed., Wiley, §4.2.
    """
    pa = _check_probability(p_a, "p_a", open_interval=False)
    pb = _check_probability(p_b, "p_b", open_interval=False)
    n = _check_positive(n_per_group, "n_per_group")
    alpha = _check_alpha(alpha)
    ratio = _check_positive(ratio, "ratio")
    alternative = _check_alternative(alternative)
    method = _check_method(method)
    if method == "pooled_unpooled":
        return _power_pooled_unpooled(pa, pb, n, ratio, alpha, alternative)
    n_eff = n * ratio / (1.0 + ratio)
    return _power_h(_cohens_h(pa, pb), n_eff, alpha, alternative)


def _check_method(method: str) -> PowerMethod:
    if method not in ("cohens_h", "pooled_unpooled"):
        raise ValueError(f"method must be 'cohens_h' or 'pooled_unpooled', got {method!r}")
    return method  # type: ignore[return-value]


def sample_size_two_proportions(
    p_base: float,
    mde_abs: float | None = None,
    *,
    lift: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
    method: PowerMethod = "cohens_h",
) -> SampleSizeResult:
    r"""Sample size per group for the two-proportion z-test (normal approximation).

    Parameters
    ----------
    p_base
        Control rate, in (0, 1).
    mde_abs
        Minimum detectable effect as an absolute difference ``p_b − p_base``. Give exactly one
        of ``mde_abs`` and ``lift``; ``p_base + mde_abs`` must lie in [0, 1] and differ from
        ``p_base``.
    lift
        Minimum detectable effect as a relative lift: ``p_b = p_base · (1 + lift)``.
    alpha
        Level in (0, 1).
    power
        Target power in (alpha, 1).
    ratio
        ``n_b / n_a`` in (0, inf).
    alternative
        ``"two-sided"``, ``"larger"`` (needs ``p_b > p_base``) or ``"smaller"`` (needs
        ``p_b < p_base``).
    method
        ``"cohens_h"`` (default) or ``"pooled_unpooled"`` (:data:`PowerMethod`).

    Returns
    -------
    SampleSizeResult
        ``n_a = ceil(n*)`` and ``n_b = ceil(ratio · n*)``. With ``"cohens_h"``, ``n*`` solves
        the power equation exactly and ``n_a`` equals ``ceil`` of statsmodels
        ``NormalIndPower().solve_power(proportion_effectsize(p_b, p_base), power=power,
        alpha=alpha, ratio=ratio)``. With ``"pooled_unpooled"``, ``n*`` is the calculators'
        closed form :math:`n^* = \big((z_{1-\alpha/2}\sigma_0 + z_{power}\sigma_1)/
        \delta\big)^2` (one tail; :math:`\sigma_0, \sigma_1` as in
        :func:`power_two_proportions`), e.g. 10% → 12% at α = 0.05 and 80% power: 3,841 per
        group (statsmodels ``samplesize_proportions_2indep_onetail``: 3840.85).

    Notes
    -----
    Starting from the one-tail closed form
    :math:`n^{(0)} = (1 + 1/r)\,\big((z_{1-\alpha/2} + z_{power}) / h\big)^2` (with
    :math:`z_{1-\alpha}` for one-sided tests), the exact root of the power function in
    :func:`power_two_proportions` (which, for two-sided tests, also counts the opposite tail)
    is found with Brent's method on :math:`(0, n^{(0)}]`.

    References
    ----------
    .. [1] Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*,
       2nd ed., Erlbaum, ch. 6.
    .. [2] Chow, S.-C., Shao, J., Wang, H. (2008). *Sample Size Calculations in Clinical
       Research*, 2nd ed., Chapman & Hall, §4.2.
    .. [3] Fleiss, J. L., Levin, B., Paik, M. C. (2003). *Statistical Methods for Rates and
       Proportions*, 3rd ed., Wiley, §4.2.
    """
    pa = _check_probability(p_base, "p_base")
    alpha = _check_alpha(alpha)
    power = _check_probability(power, "power")
    if power <= alpha:
        raise ValueError(f"power must be in (alpha={alpha}, 1), got {power!r}")
    ratio = _check_positive(ratio, "ratio")
    alternative = _check_alternative(alternative)
    method = _check_method(method)
    if (mde_abs is None) == (lift is None):
        raise ValueError("give exactly one of mde_abs and lift")
    if mde_abs is not None:
        mde = float(mde_abs)
        if not math.isfinite(mde) or mde == 0.0:
            raise ValueError(f"mde_abs must be finite and non-zero, got {mde_abs!r}")
        pb = pa + mde
        if not 0.0 <= pb <= 1.0:
            raise ValueError(
                f"mde_abs must be in [-p_base, 1 - p_base] = [{-pa}, {1.0 - pa}], got {mde}"
            )
    else:
        rel = float(lift)  # type: ignore[arg-type]
        if not math.isfinite(rel) or rel == 0.0:
            raise ValueError(f"lift must be finite and non-zero, got {lift!r}")
        pb = pa * (1.0 + rel)
        if not 0.0 <= pb <= 1.0:
            raise ValueError(f"lift must be in [-1, 1/p_base - 1] = [-1, {1.0 / pa - 1.0}]")
    if alternative == "larger" and pb <= pa:
        raise ValueError("alternative='larger' needs a positive effect (mde_abs > 0 or lift > 0)")
    if alternative == "smaller" and pb >= pa:
        raise ValueError("alternative='smaller' needs a negative effect (mde_abs < 0 or lift < 0)")

    h = _cohens_h(pa, pb)
    if alternative == "two-sided":
        crit = float(-special.ndtri(alpha / 2.0))
    else:
        crit = float(-special.ndtri(alpha))
    z_power = float(special.ndtri(power))
    if method == "pooled_unpooled":
        sd_null, sd_alt = _pooled_unpooled_sds(pa, pb, ratio)
        n_star = ((crit * sd_null + z_power * sd_alt) / (pb - pa)) ** 2
        n_a = max(1, math.ceil(n_star))
        return SampleSizeResult(
            n_a=n_a, n_b=max(1, math.ceil(ratio * n_star)), p_a=pa, p_b=pb, cohens_h=h,
            alpha=alpha, power=power, ratio=ratio, alternative=alternative,
            achieved_power=_power_pooled_unpooled(pa, pb, n_a, ratio, alpha, alternative),
            method=method,
        )  # fmt: skip
    k = (1.0 + ratio) / ratio  # n_a = k · n_eff
    n_closed = k * ((crit + z_power) / h) ** 2

    def gap(n_a: float) -> float:
        return _power_h(h, n_a / k, alpha, alternative) - power

    if gap(n_closed) <= 0.0:  # only possible through rounding; the closed form is an upper bound
        n_star = n_closed
    else:
        n_star = float(optimize.brentq(gap, n_closed * 1e-9, n_closed, xtol=1e-10, rtol=1e-14))
    n_a = max(1, math.ceil(n_star))
    n_b = max(1, math.ceil(ratio * n_star))
    achieved = _power_h(h, n_a * n_b / (n_a + n_b), alpha, alternative)
    return SampleSizeResult(
        n_a=n_a,
        n_b=n_b,
        p_a=pa,
        p_b=pb,
        cohens_h=h,
        alpha=alpha,
        power=power,
        ratio=ratio,
        alternative=alternative,
        achieved_power=achieved,
    )
