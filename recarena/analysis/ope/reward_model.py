r"""Reward models fitted on a log, for the direct method and the doubly robust estimators.

:math:`\hat q(x, a) \approx \mathbb E[r \mid x, a]`, fitted on the logged decisions only
(the truth is never used):

``mean``
    :math:`\hat q(x, a) = \bar r_a`, the action's mean logged reward (the overall mean for
    an action never logged). It ignores the user, so it is misspecified whenever rewards
    depend on features — the setting where the direct method is biased and the doubly
    robust correction matters.
``logistic``
    One L2-regularised logistic regression of the reward on the user's encoded features per
    action (scikit-learn's ``LogisticRegression``, C = 1); an action with a single observed
    outcome falls back to ``mean``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression

from recarena.analysis.ope.feedback import FloatArray, IntArray

__all__ = ["RewardModelKind", "fit_reward_model"]

RewardModelKind = Literal["mean", "logistic"]


def fit_reward_model(
    features: NDArray[np.floating],
    action: IntArray,
    reward: FloatArray,
    n_actions: int,
    kind: RewardModelKind = "mean",
    sample_weight: FloatArray | None = None,
) -> FloatArray:
    """Fit :math:`\\hat q` on the log and predict it for every logged context and action.

    Parameters
    ----------
    features
        Encoded user features of each logged decision, shape (n, F) (unused by ``mean``).
    action, reward
        Logged actions and rewards, shape (n,).
    n_actions
        K.
    kind
        ``mean`` or ``logistic`` (module docstring).
    sample_weight
        A weight per logged decision (a bootstrap replicate's counts); default 1.

    Returns
    -------
    numpy.ndarray
        :math:`\\hat q(x_i, a)`, shape (n, K).
    """
    n = action.shape[0]
    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    overall = float(np.dot(weight, reward) / weight.sum()) if weight.sum() > 0 else 0.0
    counts = np.bincount(action, weights=weight, minlength=n_actions)
    sums = np.bincount(action, weights=weight * reward, minlength=n_actions)
    means = np.where(counts > 0, sums / np.maximum(counts, 1e-300), overall)
    q = np.tile(means, (n, 1))
    if kind == "mean":
        return q
    if kind != "logistic":
        raise ValueError(f"unknown reward model {kind!r}; choose 'mean' or 'logistic'")
    x = np.asarray(features, dtype=np.float64)
    binary = (reward > 0).astype(np.int64)
    for a in range(n_actions):
        rows = (action == a) & (weight > 0)
        if np.unique(binary[rows]).size < 2:
            continue  # one outcome only: the smoothed mean stands
        model = LogisticRegression(C=1.0, max_iter=500)
        model.fit(x[rows], binary[rows], sample_weight=weight[rows])
        q[:, a] = model.predict_proba(x)[:, 1]
    return q
