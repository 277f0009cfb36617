r"""The direct method: the target's value under a reward model fitted on the log.

.. math:: \hat V_{\mathrm{DM}} = \frac1n \sum_i \sum_a \pi(a \mid x_i)\, \hat q(x_i, a)

Low variance, but biased wherever :math:`\hat q` is wrong on the actions the target takes
(Dudík, Langford & Li 2011, *Doubly robust policy evaluation and learning*, §2). Its interval
treats :math:`\hat q` as known, so it covers the truth only when the model is right.
"""

from __future__ import annotations

from recarena.analysis.ope.estimate import Estimate, ratio_estimate
from recarena.analysis.ope.feedback import FloatArray, LoggedFeedback, target_matrix

__all__ = ["direct_method", "model_value"]


def model_value(log: LoggedFeedback, target: FloatArray, q_hat: FloatArray) -> FloatArray:
    r""":math:`\sum_a \pi(a|x_i)\, \hat q(x_i, a)` per decision, shape (n,)."""
    target = target_matrix(target, log.size, log.n_actions)
    if q_hat.shape != target.shape:
        raise ValueError(f"reward model has shape {q_hat.shape}, expected {target.shape}")
    return (target * q_hat).sum(axis=1)


def direct_method(
    log: LoggedFeedback, target: FloatArray, q_hat: FloatArray, level: float = 0.95
) -> Estimate:
    """The direct method; ``q_hat`` is :math:`\\hat q(x_i, a)`, shape (n, K)."""
    return ratio_estimate(
        "dm", model_value(log, target, q_hat), ess=float(log.size), clusters=log.clusters,
        level=level,
    )  # fmt: skip
