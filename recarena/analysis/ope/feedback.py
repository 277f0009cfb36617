r"""Logged bandit feedback: what the off-policy estimators read from an event log.

A log of n decisions by a logging policy :math:`\pi_0` holds, per decision i, the action
:math:`a_i` (a variant, or an offer index), the reward :math:`r_i` (click or response),
the propensity :math:`p_i = \pi_0(a_i \mid x_i)` and the user (the cluster of the interval).
A target policy :math:`\pi` is given as its action distribution on the same decisions,
an (n, K) matrix :math:`\pi(a \mid x_i)`; its importance weight on decision i is

.. math:: w_i = \pi(a_i \mid x_i) / p_i .
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recarena.analysis.ope.estimate import check_propensities
from recarena.typing import FloatArray, IntArray

__all__ = ["LoggedFeedback", "target_matrix"]


@dataclass(frozen=True)
class LoggedFeedback:
    """Decisions of one logging arm, validated.

    Attributes
    ----------
    action
        Logged action index in ``[0, n_actions)``, shape (n,).
    reward
        Observed reward, shape (n,).
    pscore
        Logging propensity of the logged action, in (0, 1], shape (n,).
    n_actions
        Size K of the action space.
    clusters
        User per decision (for cluster-robust intervals), or ``None``.
    arm
        The logging arm's name (for messages).
    """

    action: IntArray
    reward: FloatArray
    pscore: FloatArray
    n_actions: int
    clusters: IntArray | None = None
    arm: str = "logging"

    def __post_init__(self) -> None:
        n = self.action.shape[0]
        for name in ("reward", "pscore"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected ({n},)")
        if n and (self.action.min() < 0 or self.action.max() >= self.n_actions):
            raise ValueError(f"actions must lie in [0, {self.n_actions})")
        object.__setattr__(self, "pscore", check_propensities(self.pscore, self.arm))

    @property
    def size(self) -> int:
        """Number of logged decisions n."""
        return int(self.action.shape[0])

    def weights(self, target: FloatArray) -> FloatArray:
        """Importance weights :math:`w_i = \\pi(a_i|x_i) / p_i` of a target (n, K)."""
        return self.target_of_logged(target) / self.pscore

    def target_of_logged(self, target: FloatArray) -> FloatArray:
        """:math:`\\pi(a_i \\mid x_i)`: the target's probability of each logged action."""
        target = target_matrix(target, self.size, self.n_actions)
        return target[np.arange(self.size), self.action]


def target_matrix(target: FloatArray, n: int, n_actions: int) -> FloatArray:
    """``target`` checked to be an (n, K) matrix of distributions (rows sum to 1)."""
    target = np.asarray(target, dtype=np.float64)
    if target.shape != (n, n_actions):
        raise ValueError(
            f"target probabilities have shape {target.shape}, expected {(n, n_actions)}"
        )
    if n and (not np.isfinite(target).all() or (target < 0).any()
              or not np.allclose(target.sum(axis=1), 1.0, atol=1e-6)):  # fmt: skip
        raise ValueError("target probabilities must be finite, ≥ 0, and sum to 1 per decision")
    return target
