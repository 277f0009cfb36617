r"""Importance-weighted estimators: IPS, self-normalised IPS and clipped IPS.

With importance weights :math:`w_i = \pi(a_i|x_i)/\pi_0(a_i|x_i)` (see
:mod:`recarena.analysis.ope.feedback`):

.. math::

    \hat V_{\mathrm{IPS}} = \frac1n \sum_i w_i r_i, \qquad
    \hat V_{\mathrm{SNIPS}} = \frac{\sum_i w_i r_i}{\sum_i w_i}, \qquad
    \hat V_{\mathrm{clip}} = \frac1n \sum_i \min(w_i, M)\, r_i .

IPS is unbiased when the logging policy gives every action the target takes a positive
probability (Horvitz & Thompson 1952; Precup et al. 2000), but its variance grows with the
weights — the further the target from the logger, the larger. SNIPS trades a small bias for
a lower variance (Swaminathan & Joachims 2015, *The self-normalized estimator for
counterfactual learning*). Clipping at M biases IPS downwards (for rewards ≥ 0) and bounds
its variance (Bottou et al. 2013, *Counterfactual reasoning and learning systems*).
"""

from __future__ import annotations

import numpy as np

from recarena.analysis.ope.estimate import Estimate, kish_ess, ratio_estimate
from recarena.analysis.ope.feedback import FloatArray, LoggedFeedback

__all__ = ["clipped_ips", "ips", "snips"]


def ips(log: LoggedFeedback, target: FloatArray, level: float = 0.95) -> Estimate:
    """Inverse propensity scoring; ``target`` is π(·|x_i), shape (n, K)."""
    w = log.weights(target)
    return ratio_estimate(
        "ips", w * log.reward, ess=kish_ess(w), clusters=log.clusters, level=level
    )


def snips(log: LoggedFeedback, target: FloatArray, level: float = 0.95) -> Estimate:
    """Self-normalised IPS (weights divided by their sum instead of n)."""
    w = log.weights(target)
    return ratio_estimate(
        "snips", w * log.reward, w, ess=kish_ess(w), clusters=log.clusters, level=level
    )


def clipped_ips(
    log: LoggedFeedback, target: FloatArray, threshold: float, level: float = 0.95
) -> Estimate:
    """IPS with every weight capped at ``threshold`` (M > 0)."""
    if not threshold > 0:
        raise ValueError(f"clipping threshold must be > 0, got {threshold}")
    w = np.minimum(log.weights(target), threshold)
    return ratio_estimate(
        "clipped_ips", w * log.reward, ess=kish_ess(w), clusters=log.clusters, level=level
    )
