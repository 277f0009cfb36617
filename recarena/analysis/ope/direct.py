r"""The direct method: the target's value under a reward model fitted on the log.

.. math:: \hat V_{\mathrm{DM}} = \frac1n \sum_i \sum_a \pi(a \mid x_i)\, \hat q(x_i, a)

Low variance, but biased wherever :math:`\hat q` is wrong on the actions the target takes
(Dudík, Langford & Li 2011, *Doubly robust policy evaluation and learning*, §2). Given
bootstrap replicates of the fitted model (:func:`bootstrap_model_values`), its interval is
the percentile interval of the refitted estimates, so it holds the model's sampling error —
but never its misspecification: a wrong model's interval misses the truth. Without
replicates the interval treats :math:`\hat q` as known.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from recarena.analysis.ope.estimate import Estimate, percentile_estimate, ratio_estimate
from recarena.analysis.ope.feedback import FloatArray, LoggedFeedback, target_matrix

__all__ = ["bootstrap_model_values", "direct_method", "model_value"]


def model_value(log: LoggedFeedback, target: FloatArray, q_hat: FloatArray) -> FloatArray:
    r""":math:`\sum_a \pi(a|x_i)\, \hat q(x_i, a)` per decision, shape (n,)."""
    target = target_matrix(target, log.size, log.n_actions)
    if q_hat.shape != target.shape:
        raise ValueError(f"reward model has shape {q_hat.shape}, expected {target.shape}")
    return (target * q_hat).sum(axis=1)


def bootstrap_model_values(
    log: LoggedFeedback,
    targets: Sequence[FloatArray],
    refit: Callable[[FloatArray], FloatArray],
    weights: FloatArray,
) -> FloatArray:
    r"""The direct method's value of each target on each bootstrap replicate.

    Parameters
    ----------
    log
        The logged feedback.
    targets
        π(·|x_i) of each target, (n, K) each.
    refit
        Fits the reward model with a weight per decision and returns its
        :math:`\hat q(x_i, ·)`, (n, K).
    weights
        Replicates as row weights, (B, n) (see
        :func:`~recarena.analysis.ope.estimate.cluster_bootstrap_weights`).

    Returns
    -------
    numpy.ndarray
        Shape (B, number of targets); one model fit per replicate serves every target.
    """
    out = np.empty((weights.shape[0], len(targets)))
    for b, w in enumerate(weights):
        q_b = refit(w)
        for t, target in enumerate(targets):
            out[b, t] = np.dot(w, model_value(log, target, q_b)) / w.sum()
    return out


def direct_method(
    log: LoggedFeedback,
    target: FloatArray,
    q_hat: FloatArray,
    level: float = 0.95,
    replicates: FloatArray | None = None,
) -> Estimate:
    r"""The direct method; ``q_hat`` is :math:`\hat q(x_i, a)`, shape (n, K).

    ``replicates`` (the target's column of :func:`bootstrap_model_values`) give the
    percentile interval; without them the interval is analytic with the model held fixed.
    """
    values = model_value(log, target, q_hat)
    if replicates is not None:
        return percentile_estimate(
            "dm", float(values.mean()), replicates, ess=float(log.size), n=log.size,
            level=level,
        )  # fmt: skip
    return ratio_estimate("dm", values, ess=float(log.size), clusters=log.clusters, level=level)
