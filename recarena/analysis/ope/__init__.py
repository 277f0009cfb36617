"""Off-policy evaluation: estimators of a target policy's value from another policy's log.

Pure functions on logged feedback (no simulator, no policies): :mod:`.feedback` (the input),
:mod:`.estimate` (the result, its interval and effective sample size), :mod:`.ips` (IPS,
SNIPS, clipped IPS), :mod:`.reward_model` and :mod:`.direct` (the direct method),
:mod:`.doubly_robust` (DR, switch-DR), :mod:`.replay`, :mod:`.slate` (IIPS, PBM-IPS,
pseudoinverse) and :mod:`.suite` (every bandit estimator at once). Formulas and references
in each module and in ``docs/ope.md``.
"""

from recarena.analysis.ope.direct import direct_method
from recarena.analysis.ope.doubly_robust import doubly_robust, switch_doubly_robust
from recarena.analysis.ope.estimate import (
    Estimate,
    MissingPropensityError,
    check_propensities,
    kish_ess,
)
from recarena.analysis.ope.feedback import LoggedFeedback
from recarena.analysis.ope.ips import clipped_ips, ips, snips
from recarena.analysis.ope.replay import replay
from recarena.analysis.ope.reward_model import fit_reward_model
from recarena.analysis.ope.slate import (
    independent_item_ips,
    position_based_ips,
    pseudoinverse,
    pseudoinverse_uniform,
)
from recarena.analysis.ope.suite import ESTIMATORS, estimate_all

__all__ = [
    "ESTIMATORS",
    "Estimate",
    "LoggedFeedback",
    "MissingPropensityError",
    "check_propensities",
    "clipped_ips",
    "direct_method",
    "doubly_robust",
    "estimate_all",
    "fit_reward_model",
    "independent_item_ips",
    "ips",
    "kish_ess",
    "position_based_ips",
    "pseudoinverse",
    "pseudoinverse_uniform",
    "replay",
    "snips",
    "switch_doubly_robust",
]
