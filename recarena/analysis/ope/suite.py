"""Every bandit estimator of one target on one log, in a fixed order."""

from __future__ import annotations

from recarena.analysis.ope.direct import direct_method
from recarena.analysis.ope.doubly_robust import doubly_robust, switch_doubly_robust
from recarena.analysis.ope.estimate import Estimate
from recarena.analysis.ope.feedback import FloatArray, LoggedFeedback
from recarena.analysis.ope.ips import clipped_ips, ips, snips
from recarena.analysis.ope.replay import replay

__all__ = ["ESTIMATORS", "estimate_all"]

#: Names of the estimators :func:`estimate_all` returns, in its order.
ESTIMATORS: tuple[str, ...] = ("replay", "ips", "snips", "clipped_ips", "dm", "dr", "switch_dr")


def estimate_all(
    log: LoggedFeedback,
    target: FloatArray,
    q_hat: FloatArray,
    *,
    clip: float,
    switch: float,
    level: float = 0.95,
    dm_replicates: FloatArray | None = None,
) -> list[Estimate]:
    r"""Replay, IPS, SNIPS, clipped IPS (at ``clip``), DM, DR and switch-DR (at ``switch``).

    ``target`` is π(·|x_i) and ``q_hat`` the reward model's :math:`\hat q(x_i, ·)`, both
    (n, K); ``dm_replicates`` the direct method's bootstrap values of this target (see
    :func:`~recarena.analysis.ope.direct.bootstrap_model_values`).
    """
    return [
        replay(log, target, level),
        ips(log, target, level),
        snips(log, target, level),
        clipped_ips(log, target, clip, level),
        direct_method(log, target, q_hat, level, dm_replicates),
        doubly_robust(log, target, q_hat, level),
        switch_doubly_robust(log, target, q_hat, switch, level),
    ]
