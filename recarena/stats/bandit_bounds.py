"""Bandit lower bounds: the Bernoulli KL divergence and the Lai–Robbins regret constant.

References
----------
.. [1] Lai, T. L., Robbins, H. (1985). "Asymptotically efficient adaptive allocation rules".
   *Advances in Applied Mathematics* 6(1).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import xlogy

from recarena.typing import FloatArray

__all__ = ["KL_EPS", "bernoulli_kl", "lai_robbins_constant"]

#: Clip for q in kl(p, q), so kl stays finite at q in {0, 1}.
KL_EPS = 1e-15


def bernoulli_kl(p: ArrayLike, q: ArrayLike) -> FloatArray:
    """Bernoulli Kullback–Leibler divergence kl(p, q) = p ln(p/q) + (1-p) ln((1-p)/(1-q)).

    ``q`` is clipped to [1e-15, 1 - 1e-15]; 0·ln 0 = 0.
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    q = np.clip(np.asarray(q, dtype=np.float64), KL_EPS, 1.0 - KL_EPS)
    return xlogy(p, p) - xlogy(p, q) + xlogy(1.0 - p, 1.0 - p) - xlogy(1.0 - p, 1.0 - q)


def lai_robbins_constant(means: ArrayLike) -> float:
    """Lai–Robbins constant Σ_{i: Δᵢ>0} Δᵢ / kl(μᵢ, μ*) of a Bernoulli bandit.

    Any uniformly good policy has ``liminf R(T) / ln T ≥`` this constant (Lai & Robbins 1985,
    "Asymptotically efficient adaptive allocation rules"); KL-UCB and Thompson sampling attain it.
    """
    mu = np.asarray(means, dtype=np.float64)
    best = mu.max()
    gap = best - mu
    sub = gap > 0
    return float(np.sum(gap[sub] / bernoulli_kl(mu[sub], best)))
