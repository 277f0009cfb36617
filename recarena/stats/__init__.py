"""Statistics for experiments: fixed-horizon tests, power, SRM, CUPED, sequential, Bayesian.

Pure functions of counts and samples on the bottom floor: nothing here imports the rest of
recarena or knows about the simulator. Every function
validates its inputs and raises :class:`ValueError` naming the offending argument and the
allowed range. Nothing draws from a global random state: the only stochastic routine
(:func:`prob_b_beats_a` with ``method="mc"``) takes an explicit :class:`numpy.random.Generator`.

Conventions
-----------
* Arm ``a`` is control, arm ``b`` is treatment. Differences are ``b - a`` and relative lifts
  are ``b / a - 1``.
* ``alternative`` is ``"two-sided"``, ``"larger"`` (H1: b > a) or ``"smaller"`` (H1: b < a),
  as in statsmodels. One-sided tests return one-sided confidence intervals whose open side is
  the parameter's natural limit (±inf for differences, -1 or +inf for relative lifts).

Contents
--------
Fixed horizon
    :func:`two_proportion_ztest`, :func:`welch_ttest`, :func:`adjust_pvalues`.
Design
    :func:`sample_size_two_proportions`, :func:`power_two_proportions`.
Health check
    :func:`srm_check`.
Variance reduction
    :func:`cuped_theta`, :func:`cuped`, :func:`cuped_ttest`, :func:`cuped_ratio_test`
    (ratio metrics per user, delta method).
Intervals
    :mod:`recarena.stats.intervals`: intervals inside a metric's range (Wilson at the
    Korn–Graubard effective size, log-scale t, Clopper–Pearson).
Sequential
    :func:`msprt_pvalues`, :func:`always_valid_ci` (mixture SPRT, safe under continuous
    monitoring) and :func:`group_sequential_bounds` (group-sequential designs in named
    conventions: O'Brien–Fleming-type spending per side or over both sides, Pocock-type
    spending, classical O'Brien–Fleming constants).
Bayesian
    :func:`prob_b_beats_a`.
"""

from __future__ import annotations

from recarena.stats._common import Alternative
from recarena.stats.bayes import BetaPosteriorComparison, prob_b_beats_a
from recarena.stats.cuped import (
    CupedRatioResult,
    CupedTTestResult,
    cuped,
    cuped_ratio_test,
    cuped_theta,
    cuped_ttest,
)
from recarena.stats.fixed_horizon import (
    TwoProportionZTestResult,
    WelchTTestResult,
    adjust_pvalues,
    two_proportion_ztest,
    welch_ttest,
)
from recarena.stats.group_sequential import (
    BOUNDARY_KINDS,
    BoundaryKind,
    GroupSequentialBounds,
    group_sequential_bounds,
    obrien_fleming_bounds,
)
from recarena.stats.msprt import ConfidenceSequence, always_valid_ci, msprt_pvalues
from recarena.stats.power import (
    PowerMethod,
    SampleSizeResult,
    power_two_proportions,
    sample_size_two_proportions,
)
from recarena.stats.srm import SRMResult, srm_check

__all__ = [
    "BOUNDARY_KINDS",
    "Alternative",
    "BetaPosteriorComparison",
    "BoundaryKind",
    "ConfidenceSequence",
    "CupedRatioResult",
    "CupedTTestResult",
    "GroupSequentialBounds",
    "PowerMethod",
    "SRMResult",
    "SampleSizeResult",
    "TwoProportionZTestResult",
    "WelchTTestResult",
    "adjust_pvalues",
    "always_valid_ci",
    "cuped",
    "cuped_ratio_test",
    "cuped_theta",
    "cuped_ttest",
    "group_sequential_bounds",
    "msprt_pvalues",
    "obrien_fleming_bounds",
    "power_two_proportions",
    "prob_b_beats_a",
    "sample_size_two_proportions",
    "srm_check",
    "two_proportion_ztest",
    "welch_ttest",
]
