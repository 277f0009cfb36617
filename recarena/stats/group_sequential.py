r"""Group-sequential designs: two-sided symmetric boundaries in named conventions.

Boundaries differ by convention, and readers compare them with gsDesign, rpact or Jennison &
Turnbull's tables, so each convention is a named :data:`BoundaryKind`:

``obf_per_side``
    Lan–DeMets O'Brien–Fleming-type spending applied to each side at level α/2 (gsDesign
    ``sfLDOF``, rpact ``"asOF"``); 5 equal looks at α = 0.05: 4.877, 3.357, 2.680, 2.290,
    2.031. The default of the scenarios' ``obrien_fleming`` rule.
``obf_two_sided``
    The same spending function applied to the two-sided level α, as written in Lan & DeMets
    (1983): 4.383, 3.100, 2.553, 2.254, 2.064.
``pocock_spending``
    Lan–DeMets Pocock-type spending :math:`lpha^*(t) = lpha\ln(1 + (e - 1)t)` (gsDesign
    ``sfLDPocock``, rpact ``"asP"``; linear in α, so per side and two-sided coincide).
``obf_classical``
    O'Brien & Fleming's constants: :math:`c_k = C_B(K, lpha)/\sqrt{t_k}` with :math:`C_B`
    solved for an overall level α (Jennison & Turnbull 2000, Table 2.3: :math:`C_B(5, 0.05) =
    2.040`; gsDesign ``sfu="OF"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special

from recarena.stats._common import FloatArray, _check_alpha

__all__ = [
    "BOUNDARY_KINDS",
    "BoundaryKind",
    "GroupSequentialBounds",
    "group_sequential_bounds",
    "obrien_fleming_bounds",
]

BoundaryKind = Literal["obf_per_side", "obf_two_sided", "pocock_spending", "obf_classical"]
BOUNDARY_KINDS: tuple[BoundaryKind, ...] = (
    "obf_per_side", "obf_two_sided", "pocock_spending", "obf_classical"
)  # fmt: skip
#: How each convention is named in the report.
BOUNDARY_LABELS: dict[str, str] = {
    "obf_per_side": "Lan–DeMets O'Brien–Fleming-type spending, α/2 per side (gsDesign sfLDOF)",
    "obf_two_sided": "Lan–DeMets O'Brien–Fleming-type spending over both sides combined",
    "pocock_spending": "Lan–DeMets Pocock-type spending (gsDesign sfLDPocock)",
    "obf_classical": "classical O'Brien–Fleming constants (Jennison & Turnbull 2000, Table 2.3)",
}


@dataclass(frozen=True, slots=True)
class GroupSequentialBounds:
    """Result of :func:`obrien_fleming_bounds`: a two-sided group-sequential design.

    Reject H0 at the first look ``k`` where ``|Z_k| >= z_bounds[k]``, with ``Z_k`` the
    cumulative z-statistic at information fraction ``info_fractions[k]``.

    Attributes
    ----------
    info_fractions
        Information fraction at each look (last is 1).
    z_bounds
        Critical values for ``|Z_k|``.
    nominal_alpha
        Two-sided nominal level of each boundary, ``2·(1 − Φ(z_bounds[k]))``.
    cumulative_alpha
        Alpha spent up to and including each look, ``α*(t_k)``.
    alpha
        Overall two-sided level.
    kind
        The convention (:data:`BoundaryKind`).
    """

    info_fractions: tuple[float, ...]
    z_bounds: tuple[float, ...]
    nominal_alpha: tuple[float, ...]
    cumulative_alpha: tuple[float, ...]
    alpha: float
    kind: BoundaryKind = "obf_two_sided"


# Simpson grid for the recursive integration (odd size). On the score scale the continuation
# region is |S| < c·sqrt(t) <~ 4, so the spacing is <~ 0.013, i.e. >= 7 points per standard
# deviation of an increment when information steps are >= _MIN_INFO_STEP. Against a 2401-point
# grid the bounds agree to < 1e-7 (equal spacing up to 20 looks, and steps of 0.01).
_GS_GRID = 601


_MIN_INFO_STEP = 0.01


def _obf_spending(t: FloatArray, alpha: float) -> FloatArray:
    """Lan–DeMets O'Brien–Fleming-type spending function ``2 − 2Φ(z_{1−α/2}/√t)``."""
    z = -special.ndtri(alpha / 2.0)
    return np.asarray(2.0 * special.ndtr(-z / np.sqrt(t)), dtype=np.float64)


def _pocock_spending(t: FloatArray, alpha: float) -> FloatArray:
    """Lan–DeMets Pocock-type spending function ``α ln(1 + (e − 1) t)``."""
    return np.asarray(alpha * np.log1p((math.e - 1.0) * t), dtype=np.float64)


def _simpson_weights(m: int, width: float) -> FloatArray:
    w = np.ones(m)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return np.asarray(w * width / (3.0 * (m - 1)), dtype=np.float64)


def _solve_score_bound(grid: FloatArray, mass: FloatArray, sd: float, spend: float) -> float:
    """Score-scale bound ``b`` with P(continue to here, then |S_prev + N(0, sd²)| >= b) = spend.

    ``mass`` holds quadrature weight × sub-density of the previous score on ``grid``.
    """

    def log_exit(b: float) -> float:
        tail = special.ndtr((-b - grid) / sd) + special.ndtr((grid - b) / sd)
        return math.log(max(float(mass @ tail), 1e-300))

    target = math.log(spend)
    upper = 1.0
    while log_exit(upper) > target:
        upper *= 2.0
    return float(optimize.brentq(lambda b: log_exit(b) - target, 0.0, upper, xtol=1e-12))


def _exit_mass(grid: FloatArray, mass: FloatArray, sd: float, b: float) -> float:
    """P(continue to the previous look, then |S_prev + N(0, sd²)| >= b)."""
    tail = special.ndtr((-b - grid) / sd) + special.ndtr((grid - b) / sd)
    return float(mass @ tail)


def _recursive_bounds(
    t: FloatArray, choose: Callable[[int, FloatArray, FloatArray, float], float]
) -> tuple[FloatArray, FloatArray]:
    """Walk the looks with recursive integration; ``choose(k, grid, mass, sd)`` gives look
    k's bound on the score scale (``grid``/``mass``: the previous score's sub-density on its
    continuation region; ``sd`` of the increment). Returns the z bounds and each look's
    exit probability under H0."""
    k_looks = t.size
    z_bounds = np.empty(k_looks)
    exits = np.empty(k_looks)
    b_first = choose(0, np.zeros(1), np.ones(1), math.sqrt(t[0]))
    z_bounds[0] = b_first / math.sqrt(t[0])
    exits[0] = 2.0 * special.ndtr(-z_bounds[0])
    if k_looks == 1:
        return z_bounds, exits
    # Sub-density of S_1 = sqrt(t_1) Z_1 on its continuation region (-b_1, b_1).
    grid = np.linspace(-b_first, b_first, _GS_GRID)
    sd1 = math.sqrt(t[0])
    dens = np.exp(-0.5 * (grid / sd1) ** 2) / (sd1 * math.sqrt(2.0 * math.pi))
    weights = _simpson_weights(_GS_GRID, 2.0 * b_first)
    for k in range(1, k_looks):
        sd = math.sqrt(t[k] - t[k - 1])
        mass = weights * dens
        b_k = choose(k, grid, mass, sd)
        z_bounds[k] = b_k / math.sqrt(t[k])
        exits[k] = _exit_mass(grid, mass, sd, b_k)
        if k < k_looks - 1:
            new_grid = np.linspace(-b_k, b_k, _GS_GRID)
            kernel = np.exp(-0.5 * ((new_grid[:, None] - grid[None, :]) / sd) ** 2) / (
                sd * math.sqrt(2.0 * math.pi)
            )
            dens = kernel @ mass
            grid = new_grid
            weights = _simpson_weights(_GS_GRID, 2.0 * b_k)
    return z_bounds, exits


def _info_fractions(k_looks: int, info_fractions: ArrayLike | None) -> FloatArray:
    if info_fractions is None:
        return np.arange(1, k_looks + 1, dtype=np.float64) / k_looks
    t = np.asarray(info_fractions, dtype=np.float64)
    if t.shape != (k_looks,):
        raise ValueError(f"info_fractions must have length n_looks={k_looks}, got {t.shape}")
    if (
        not np.all(np.isfinite(t))
        or t[0] < _MIN_INFO_STEP
        or np.any(np.diff(t) < _MIN_INFO_STEP)
        or abs(t[-1] - 1.0) > 1e-12
    ):
        raise ValueError(
            "info_fractions must be increasing in [0.01, 1] in steps of at least 0.01, ending at 1"
        )
    t = t.copy()
    t[-1] = 1.0
    return t


def group_sequential_bounds(
    n_looks: int,
    alpha: float = 0.05,
    info_fractions: ArrayLike | None = None,
    kind: BoundaryKind = "obf_per_side",
) -> GroupSequentialBounds:
    r"""Two-sided symmetric group-sequential boundaries in a named convention.

    Parameters
    ----------
    n_looks
        Number of analyses including the final one, integer in [1, 50].
    alpha
        Overall two-sided type-I error in (0, 1).
    info_fractions
        Information fraction at each look: increasing in [0.01, 1] in steps of at least 0.01
        (finer steps would need a finer integration grid), ending at 1. Default equally spaced
        ``k / n_looks``.
    kind
        The convention (:data:`BoundaryKind`, see the module docstring); default
        ``"obf_per_side"``, the one gsDesign and rpact tabulate.

    Returns
    -------
    GroupSequentialBounds

    Notes
    -----
    A spending function :math:`lpha^*(t)` with :math:`lpha^*(1) = lpha` lets look
    :math:`k` spend :math:`lpha^*(t_k) - lpha^*(t_{k-1})`; its critical value :math:`c_k`
    solves

    .. math:: P_{H_0}ig(|Z_1| < c_1, \dots, |Z_{k-1}| < c_{k-1}, |Z_k| \ge c_kig)
              = lpha^*(t_k) - lpha^*(t_{k-1}),

    where the cumulative z-statistics are jointly normal with
    :math:`\mathrm{corr}(Z_i, Z_j) = \sqrt{t_i/t_j}` (:math:`i \le j`). O'Brien–Fleming-type:
    :math:`lpha^*(t) = 2 - 2\Phi(z_{1-lpha/2}/\sqrt t)` over both sides
    (``obf_two_sided``), or :math:`4 - 4\Phi(z_{1-lpha/4}/\sqrt t)`, i.e. that function at
    α/2 per side, doubled (``obf_per_side``; exact for symmetric bounds because both tails
    exit with equal probability). Pocock-type: :math:`lpha\ln(1 + (e-1)t)`. Classical
    O'Brien–Fleming: :math:`c_k = C/\sqrt{t_k}` with :math:`C` found by Brent's method so that
    the total exit probability is α. Probabilities come from recursive numerical integration
    (Armitage, McPherson & Rowe 1969) on the score scale :math:`S_k = \sqrt{t_k} Z_k`, whose
    increments are independent :math:`N(0, t_k - t_{k-1})`: the sub-density of :math:`S_k` on
    the continuation region is propagated with Simpson's rule on a grid of 601 points.

    References
    ----------
    .. [1] Lan, K. K. G., DeMets, D. L. (1983). "Discrete sequential boundaries for clinical
       trials". *Biometrika* 70(3), 659–663.
    .. [2] O'Brien, P. C., Fleming, T. R. (1979). "A multiple testing procedure for clinical
       trials". *Biometrics* 35(3), 549–556.
    .. [3] Armitage, P., McPherson, C. K., Rowe, B. C. (1969). "Repeated significance tests on
       accumulating data". *JRSS A* 132(2), 235–244.
    .. [4] Jennison, C., Turnbull, B. W. (2000). *Group Sequential Methods with Applications to
       Clinical Trials*, Chapman & Hall/CRC, ch. 2, 7 and 19.
    """
    if isinstance(n_looks, bool) or not isinstance(n_looks, int | np.integer):
        raise ValueError(f"n_looks must be an integer in [1, 50], got {n_looks!r}")
    k_looks = int(n_looks)
    if not 1 <= k_looks <= 50:
        raise ValueError(f"n_looks must be an integer in [1, 50], got {n_looks!r}")
    alpha = _check_alpha(alpha)
    if kind not in BOUNDARY_KINDS:
        raise ValueError(f"kind must be one of {list(BOUNDARY_KINDS)}, got {kind!r}")
    t = _info_fractions(k_looks, info_fractions)

    if kind == "obf_classical":

        def fixed(constant: float) -> Callable[[int, FloatArray, FloatArray, float], float]:
            return lambda k, grid, mass, sd: constant  # S_k bound = (C/√t_k)·√t_k

        def excess(constant: float) -> float:
            return float(_recursive_bounds(t, fixed(constant))[1].sum()) - alpha

        z_final = float(-special.ndtri(alpha / 2.0))
        constant = float(optimize.brentq(excess, z_final, 4.0 * z_final + 10.0, xtol=1e-12))
        z_bounds, exits = _recursive_bounds(t, fixed(constant))
        cum_spend = np.cumsum(exits)
    else:
        if kind == "obf_per_side":
            cum_spend = 2.0 * _obf_spending(t, alpha / 2.0)
        elif kind == "obf_two_sided":
            cum_spend = _obf_spending(t, alpha)
        else:
            cum_spend = _pocock_spending(t, alpha)
        spend = np.diff(cum_spend, prepend=0.0)

        def spending(k: int, grid: FloatArray, mass: FloatArray, sd: float) -> float:
            if k == 0:  # S_1 ~ N(0, t_1): the first bound is exact
                return float(-special.ndtri(spend[0] / 2.0)) * sd
            return _solve_score_bound(grid, mass, sd, float(spend[k]))

        z_bounds, _ = _recursive_bounds(t, spending)

    nominal = 2.0 * special.ndtr(-z_bounds)
    return GroupSequentialBounds(
        info_fractions=tuple(float(v) for v in t),
        z_bounds=tuple(float(v) for v in z_bounds),
        nominal_alpha=tuple(float(v) for v in nominal),
        cumulative_alpha=tuple(float(v) for v in cum_spend),
        alpha=alpha,
        kind=kind,
    )


def obrien_fleming_bounds(
    n_looks: int,
    alpha: float = 0.05,
    info_fractions: ArrayLike | None = None,
    *,
    per_side: bool = False,
) -> GroupSequentialBounds:
    """Lan–DeMets O'Brien–Fleming-type boundaries (:func:`group_sequential_bounds`).

    ``per_side=False`` is ``kind="obf_two_sided"`` (the spending function on the two-sided
    level, as in Lan & DeMets 1983; 5 equal looks: 4.383, 3.100, 2.553, 2.254, 2.064);
    ``per_side=True`` is ``kind="obf_per_side"`` (α/2 per side, gsDesign ``sfLDOF``: 4.877,
    3.357, 2.680, 2.290, 2.031).
    """
    kind: BoundaryKind = "obf_per_side" if per_side else "obf_two_sided"
    return group_sequential_bounds(n_looks, alpha, info_fractions, kind)
