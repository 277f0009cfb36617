"""Bayesian comparison of two Beta posteriors: P(B > A) exactly, by quadrature or by sampling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import integrate, special

from recarena.stats._common import Number, _check_count, _check_positive, _check_successes

__all__ = ["BetaPosteriorComparison", "prob_b_beats_a"]


@dataclass(frozen=True, slots=True)
class BetaPosteriorComparison:
    """Result of :func:`prob_b_beats_a`.

    Attributes
    ----------
    prob_b_beats_a
        ``P(p_B > p_A | data)``.
    expected_loss_a
        Expected loss of shipping A: ``E[max(p_B − p_A, 0)]``.
    expected_loss_b
        Expected loss of shipping B: ``E[max(p_A − p_B, 0)]``.
    posterior_a, posterior_b
        Beta posterior parameters ``(α, β)``.
    method
        ``"exact"`` or ``"mc"``.
    """

    prob_b_beats_a: float
    expected_loss_a: float
    expected_loss_b: float
    posterior_a: tuple[float, float]
    posterior_b: tuple[float, float]
    method: Literal["exact", "mc"]


def _prob_x_greater_sum(a_x: float, b_x: float, a_y: float, b_y: float) -> float:
    """P(X > Y), X ~ Beta(a_x, b_x), Y ~ Beta(a_y, b_y), for integer ``a_x`` (Miller's sum)."""
    i = np.arange(int(a_x), dtype=np.float64)
    log_terms = (
        special.betaln(a_y + i, b_y + b_x)
        - np.log(b_x + i)
        - special.betaln(1.0 + i, b_x)
        - special.betaln(a_y, b_y)
    )
    return float(np.exp(log_terms).sum())


def _prob_x_greater_quad(a_x: float, b_x: float, a_y: float, b_y: float) -> float:
    """P(X > Y) = ∫_0^1 F_Y(F_X^{-1}(u)) du, by adaptive quadrature (any positive params)."""

    def integrand(u: float) -> float:
        return float(special.betainc(a_y, b_y, special.betaincinv(a_x, b_x, u)))

    value, _ = integrate.quad(integrand, 0.0, 1.0, epsabs=1e-13, epsrel=1e-11, limit=500)
    return float(value)


_MAX_SUM_TERMS = 5_000_000  # beyond this Miller's sum is slower than quadrature


def _prob_x_greater(a_x: float, b_x: float, a_y: float, b_y: float) -> float:
    """P(X > Y) for independent Betas: Miller's sum on the smaller integer shape, else quad."""
    x_ok = float(a_x).is_integer() and a_x <= _MAX_SUM_TERMS
    y_ok = float(a_y).is_integer() and a_y <= _MAX_SUM_TERMS
    if x_ok and (not y_ok or a_x <= a_y):
        p = _prob_x_greater_sum(a_x, b_x, a_y, b_y)
    elif y_ok:
        p = 1.0 - _prob_x_greater_sum(a_y, b_y, a_x, b_x)
    else:
        p = _prob_x_greater_quad(a_x, b_x, a_y, b_y)
    return min(1.0, max(0.0, p))


def prob_b_beats_a(
    successes_a: Number,
    n_a: Number,
    successes_b: Number,
    n_b: Number,
    prior: tuple[float, float] = (1.0, 1.0),
    method: Literal["exact", "mc"] = "exact",
    rng: np.random.Generator | None = None,
    n_draws: int = 200_000,
) -> BetaPosteriorComparison:
    r"""Posterior probability that B's rate exceeds A's, and the expected loss of each choice.

    Parameters
    ----------
    successes_a, n_a, successes_b, n_b
        Counts per arm (integers, ``0 <= successes <= n``, ``n >= 1``).
    prior
        Beta prior ``(α0, β0)`` shared by both arms, each in (0, inf). Default uniform.
    method
        ``"exact"``: closed form / numerical integration (deterministic); ``"mc"``: Monte
        Carlo from the posteriors.
    rng
        Required for ``method="mc"``: a :class:`numpy.random.Generator`. Ignored otherwise.
    n_draws
        Posterior draws per arm for ``"mc"``, integer >= 1.

    Returns
    -------
    BetaPosteriorComparison

    Notes
    -----
    Posteriors :math:`p_A \sim \mathrm{Beta}(a_A, b_A)` with :math:`a_A = \alpha_0 + s_A`,
    :math:`b_A = \beta_0 + n_A - s_A`, likewise for B.

    * Exact, :math:`a_B` integer (Evan Miller's closed form):

      .. math:: P(p_B > p_A) = \sum_{i=0}^{a_B - 1}
                \frac{B(a_A + i,\, b_A + b_B)}{(b_B + i)\, B(1 + i,\, b_B)\, B(a_A, b_A)},

      evaluated in log space. If only :math:`a_A` is an integer the same sum gives
      :math:`1 - P(p_A > p_B)`; otherwise
      :math:`P = \int_0^1 F_A(F_B^{-1}(u))\,du` by adaptive quadrature.
    * Expected loss of choosing B, using :math:`x\,\mathrm{Beta}(x; a, b) =
      \frac{a}{a+b}\mathrm{Beta}(x; a+1, b)`:
      :math:`E[(p_A - p_B)^+] = \frac{a_A}{a_A+b_A} P(p_A' > p_B) -
      \frac{a_B}{a_B+b_B} P(p_A > p_B')` with :math:`p_A' \sim \mathrm{Beta}(a_A+1, b_A)`,
      :math:`p_B' \sim \mathrm{Beta}(a_B+1, b_B)`; and
      :math:`E[(p_B - p_A)^+] = E[(p_A - p_B)^+] + E[p_B] - E[p_A]`.
    * Monte Carlo: sample means of :math:`1\{p_B > p_A\}` and of the positive parts over
      ``n_draws`` paired draws (standard error :math:`\le 0.5/\sqrt{n_{draws}}`).

    References
    ----------
    .. [1] Miller, E. (2015). "Formulas for Bayesian A/B testing".
       https://www.evanmiller.org/bayesian-ab-testing.html
    .. [2] Stucchio, C. (2015). "Bayesian A/B testing at VWO". VWO technical whitepaper
       (expected-loss decision rule).
    """
    s_a, na = _check_successes(successes_a, n_a, "successes_a", "n_a")
    s_b, nb = _check_successes(successes_b, n_b, "successes_b", "n_b")
    if len(prior) != 2:
        raise ValueError(f"prior must be a pair (alpha0, beta0), got {prior!r}")
    a0 = _check_positive(prior[0], "prior[0]")
    b0 = _check_positive(prior[1], "prior[1]")
    a_a, b_a = a0 + s_a, b0 + na - s_a
    a_b, b_b = a0 + s_b, b0 + nb - s_b

    if method == "exact":
        p_b_gt = _prob_x_greater(a_b, b_b, a_a, b_a)
        mean_a = a_a / (a_a + b_a)
        mean_b = a_b / (a_b + b_b)
        loss_b = mean_a * _prob_x_greater(a_a + 1.0, b_a, a_b, b_b) - mean_b * _prob_x_greater(
            a_a, b_a, a_b + 1.0, b_b
        )
        loss_b = max(0.0, loss_b)
        loss_a = max(0.0, loss_b + mean_b - mean_a)
    elif method == "mc":
        if not isinstance(rng, np.random.Generator):
            raise ValueError("rng must be a numpy.random.Generator when method='mc'")
        draws = _check_count(n_draws, "n_draws", minimum=1)
        pa = rng.beta(a_a, b_a, size=draws)
        pb = rng.beta(a_b, b_b, size=draws)
        diff = pb - pa
        p_b_gt = float(np.mean(diff > 0.0))
        loss_a = float(np.mean(np.maximum(diff, 0.0)))
        loss_b = float(np.mean(np.maximum(-diff, 0.0)))
    else:
        raise ValueError(f"method must be one of ('exact', 'mc'), got {method!r}")

    return BetaPosteriorComparison(
        prob_b_beats_a=p_b_gt,
        expected_loss_a=loss_a,
        expected_loss_b=loss_b,
        posterior_a=(a_a, b_a),
        posterior_b=(a_b, b_b),
        method=method,
    )
