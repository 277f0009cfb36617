r"""The replay estimator (Li, Chu, Langford & Wang 2011, *Unbiased offline evaluation of
contextual-bandit-based news article recommendation algorithms*).

Replay keeps the logged decisions on which the target agrees with the logger and averages
their rewards. For a randomised target the agreement is a coin with probability
:math:`\pi(a_i|x_i)`; we use its expectation (no coin, lower variance):

.. math::

    \hat V_{\mathrm{replay}} = \frac{\sum_i \pi(a_i|x_i)\, r_i}{\sum_i \pi(a_i|x_i)} .

It is unbiased when the logger is uniformly random, as Li et al. assume; under a non-uniform
logger (ε-greedy) it over-weights the contexts where the logger already took the target's
action, and its bias shows in the validation table. Its effective sample size is the
(expected) number of accepted decisions' Kish size.
"""

from __future__ import annotations

from recarena.analysis.ope.estimate import Estimate, kish_ess, ratio_estimate
from recarena.analysis.ope.feedback import FloatArray, LoggedFeedback

__all__ = ["replay"]


def replay(log: LoggedFeedback, target: FloatArray, level: float = 0.95) -> Estimate:
    """Replay (rejection-sampling) estimate; ``target`` is π(·|x_i), shape (n, K)."""
    accept = log.target_of_logged(target)
    return ratio_estimate(
        "replay", accept * log.reward, accept, ess=kish_ess(accept), clusters=log.clusters,
        level=level,
    )  # fmt: skip
