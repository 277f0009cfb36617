r"""Doubly robust estimators: the direct method corrected by importance-weighted residuals.

.. math::

    \hat V_{\mathrm{DR}} = \frac1n \sum_i \Big[ \sum_a \pi(a|x_i)\, \hat q(x_i, a)
        + w_i \big(r_i - \hat q(x_i, a_i)\big) \Big]

is unbiased when either the propensities or the reward model are right, and its variance
is that of IPS on the residuals (Dudík, Langford & Li 2011, *Doubly robust policy
evaluation and learning*). Switch-DR drops the correction where the weight exceeds τ and
trusts the model there (Wang, Agarwal & Dudík 2017, *Optimal and adaptive off-policy
evaluation in contextual bandits*), in the per-decision form of Open Bandit Pipeline:

.. math::

    \hat V_{\mathrm{switch}} = \frac1n \sum_i \Big[ \sum_a \pi(a|x_i)\, \hat q(x_i, a)
        + \mathbb 1[w_i \le \tau]\, w_i \big(r_i - \hat q(x_i, a_i)\big) \Big].
"""

from __future__ import annotations

import numpy as np

from recarena.analysis.ope.direct import model_value
from recarena.analysis.ope.estimate import Estimate, kish_ess, ratio_estimate
from recarena.analysis.ope.feedback import FloatArray, LoggedFeedback

__all__ = ["doubly_robust", "switch_doubly_robust"]


def _corrected(
    name: str, log: LoggedFeedback, target: FloatArray, q_hat: FloatArray, w: FloatArray,
    level: float,
) -> Estimate:  # fmt: skip
    factual = q_hat[np.arange(log.size), log.action]
    terms = model_value(log, target, q_hat) + w * (log.reward - factual)
    return ratio_estimate(name, terms, ess=kish_ess(w), clusters=log.clusters, level=level)


def doubly_robust(
    log: LoggedFeedback, target: FloatArray, q_hat: FloatArray, level: float = 0.95
) -> Estimate:
    """Doubly robust estimate; ``q_hat`` is :math:`\\hat q(x_i, a)`, shape (n, K)."""
    return _corrected("dr", log, target, q_hat, log.weights(target), level)


def switch_doubly_robust(
    log: LoggedFeedback,
    target: FloatArray,
    q_hat: FloatArray,
    threshold: float,
    level: float = 0.95,
) -> Estimate:
    """Switch-DR: the residual correction only where :math:`w_i \\le \\tau` (``threshold``)."""
    if not threshold > 0:
        raise ValueError(f"switch threshold must be > 0, got {threshold}")
    w = log.weights(target)
    return _corrected("switch_dr", log, target, q_hat, np.where(w <= threshold, w, 0.0), level)
