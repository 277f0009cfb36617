r"""The decision machine of an A/B test: looks, a stopping rule, a winner.

A :class:`TestPlan` fixes the rule, the level and the look times; a :class:`SequentialTest`
receives cumulative successes and trials per variant at each look and reports a
:class:`TestOutcome`. Variant 0 is the control; each treatment k ≥ 1 is compared with it.
The same machine serves the ``ab_split`` policy (to know when to commit) and the analysis
that replays a test from the logs, so both decide identically on the same data.

Analysis unit
-------------
The plan's ``unit`` says what is independent. ``"session"``: every trial is (sessions of a
session-randomised design); comparisons use the pooled two-proportion z-test
(:func:`~recarena.stats.two_proportion_ztest`) and counts. ``"user"``: users were randomised,
so a user's sessions are correlated and each look takes per-user moments
(:class:`~recarena.stats.ratio.UnitMoments`); the rate of a variant is the ratio
clicks / sessions over its users and its variance comes from the delta method
(:func:`~recarena.stats.ratio.delta_method_ratio`, Deng et al. 2018); the z statistic is
:math:`(\hat R_k - \hat R_0)/\sqrt{V_k + V_0}`, and every rule below — including the
sequential ones at each look — uses that estimate and variance.

Rules (all two-sided at level :math:`\alpha`, family-wise over the K−1 comparisons):

* ``fixed`` — the z-test once, at the horizon :math:`H`; Holm's step-down adjustment across
  comparisons.
* ``peeking`` — the same z-test at *every* look, stopping at the first nominal rejection: the
  bad practice whose false-positive rate grows with the number of looks (Armitage, McPherson
  & Rowe 1969; Johari et al. 2017). Provided to measure that inflation.
* ``sequential_msprt`` — the always-valid p-values of the normal-mixture SPRT
  (:func:`~recarena.stats.msprt_pvalues`, mixing sd ``tau``), Holm-adjusted; stopping at any
  look keeps the type-I error ≤ α (Johari, Pekelis & Walsh 2015).
* ``bayes`` — at the horizon, the posterior probability that treatment k beats the control,
  :math:`P_k = P(r_k > r_0 \mid \text{data})`; comparison k is rejected when
  :math:`\min(P_k, 1 - P_k) \le \alpha / (2(K-1))`. Sessions: Beta(1, 1) priors and the
  exact :func:`~recarena.stats.prob_b_beats_a`; users: the normal posterior of the ratio
  difference with the delta-method variance (flat prior), :math:`P_k = \Phi(z_k)`.
* ``obrien_fleming`` — group-sequential boundaries
  (:func:`~recarena.stats.group_sequential_bounds`) in the plan's ``boundary`` convention
  (default ``obf_per_side``: Lan–DeMets O'Brien–Fleming-type spending at α/2 per side, as
  gsDesign and rpact tabulate; also ``obf_two_sided``, ``pocock_spending``,
  ``obf_classical``) at level α/(K−1) per comparison (Bonferroni); information fractions are
  calendar fractions :math:`(\tau_\ell - s) / (H - s)` from the test's start :math:`s`
  (0, or the end of a pre-period; traffic assumed steady), at most 50 looks.

The test *decides* at the first look where some comparison rejects; the winner is the
treatment with the highest observed rate among those significantly better than the control,
or the control when none is. A test that reaches :math:`H` without a rejection ends
inconclusive, with the ``fallback`` winner (the control, or the empirically best variant —
explore-then-commit, Garivier, Kaufmann & Lattimore 2016).

References
----------
.. [1] Johari, R., Koomen, P., Pekelis, L., Walsh, D. (2017). "Peeking at A/B tests: why it
   matters, and what to do about it". *KDD '17*.
.. [2] Lan, K. K. G., DeMets, D. L. (1983). "Discrete sequential boundaries for clinical
   trials". *Biometrika* 70(3).
.. [3] Holm, S. (1979). "A simple sequentially rejective multiple test procedure".
   *Scand. J. Statist.* 6(2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from recarena.stats.bayes import prob_b_beats_a
from recarena.stats.fixed_horizon import two_proportion_ztest
from recarena.stats.group_sequential import BoundaryKind, group_sequential_bounds
from recarena.stats.msprt import mixture_pvalues, msprt_pvalues
from recarena.stats.ratio import UnitMoments, delta_method_ratio
from recarena.typing import BoolArray, FloatArray

__all__ = [
    "MAX_OBF_LOOKS",
    "AnalysisUnit",
    "Fallback",
    "SequentialTest",
    "TestKind",
    "TestOutcome",
    "TestPlan",
    "before_start",
    "look_times",
    "test_plan",
]

TestKind = Literal["fixed", "peeking", "sequential_msprt", "obrien_fleming", "bayes"]

AnalysisUnit = Literal["user", "session"]


Fallback = Literal["control", "empirical_best"]


MAX_OBF_LOOKS = 50  # obrien_fleming_bounds handles at most 50 looks


def look_times(horizon: float, every: float) -> FloatArray:
    """Checkpoint times :math:`c, 2c, \\dots` below ``horizon``, then ``horizon`` itself.

    Multiples of ``every`` within 1e-9 of the horizon are merged into it.
    """
    if not (horizon > 0 and every > 0):
        raise ValueError(f"horizon and every must be > 0, got {horizon!r}, {every!r}")
    n_inner = math.ceil(horizon / every - 1e-9) - 1
    inner = np.arange(1, n_inner + 1, dtype=np.float64) * every
    return np.append(inner[inner < horizon - 1e-9], horizon)


@lru_cache(maxsize=64)
def _obf_z_bounds(fractions: tuple[float, ...], alpha: float, kind: BoundaryKind) -> FloatArray:
    bounds = group_sequential_bounds(len(fractions), alpha, list(fractions), kind)
    return np.asarray(bounds.z_bounds, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class TestPlan:
    """What is tested, when and how: the design of an A/B test's analysis.

    Attributes
    ----------
    test
        The decision rule (see the module docstring).
    alpha
        Family-wise two-sided level.
    looks
        Planned look times, increasing; the last is the test horizon H.
    start
        When the test's data begin (the end of a pre-period, 0 without one); information
        fractions are :math:`(\\tau_\\ell - \\text{start}) / (H - \\text{start})`.
    tau
        Mixing sd of the mSPRT (absolute difference of rates); τ² enters
        :func:`~recarena.stats.msprt_pvalues`.
    fallback
        Winner of an inconclusive test: ``"control"`` or ``"empirical_best"``.
    boundary
        Convention of the ``obrien_fleming`` rule's boundaries
        (:data:`~recarena.stats.group_sequential.BoundaryKind`).
    unit
        The analysis unit (module docstring): ``"session"`` (looks take counts) or
        ``"user"`` (looks also take per-user moments).
    """

    __test__ = False  # not a pytest test class, despite the name

    test: TestKind
    alpha: float
    looks: FloatArray
    tau: float = 0.01
    fallback: Fallback = "control"
    boundary: BoundaryKind = "obf_per_side"
    unit: AnalysisUnit = "session"
    start: float = 0.0

    @property
    def fractions(self) -> FloatArray:
        """Calendar information fractions of the looks, :math:`(\\tau_\\ell - s)/(H - s)`."""
        return np.asarray((self.looks - self.start) / (self.looks[-1] - self.start))

    def __post_init__(self) -> None:
        if self.test == "obrien_fleming":
            fractions = self.fractions
            if self.looks.size > MAX_OBF_LOOKS or np.diff(fractions, prepend=0.0).min() < 0.01:
                raise ValueError(
                    f"obrien_fleming needs at most {MAX_OBF_LOOKS} looks, each at least 1% of "
                    f"the horizon apart; got {self.looks.size} looks — raise checkpoint_every"
                )

    @property
    def n_looks(self) -> int:
        """Number of planned looks L."""
        return int(self.looks.size)

    def obf_bounds(self, n_comparisons: int) -> FloatArray:
        """|z| boundaries per look, at level α / (K−1) per comparison."""
        fractions = tuple(float(f) for f in self.fractions)
        return _obf_z_bounds(fractions, self.alpha / max(n_comparisons, 1), self.boundary)


@dataclass(frozen=True, eq=False)
class TestOutcome:
    """The state of a :class:`SequentialTest` after the looks seen so far.

    Attributes
    ----------
    looks
        Times of the looks evaluated, shape (L',).
    trials, successes
        Cumulative counts per variant and look, shape (K, L').
    z, p_nominal
        Pooled z statistic and nominal two-sided p-value of treatment k vs control, (K−1, L').
    p_sequential
        Always-valid mSPRT p-values (running minimum), (K−1, L'); computed for every test so
        trajectories can be compared.
    prob_better
        Posterior P(treatment k beats the control), (K−1, L'); computed for the ``bayes``
        rule only (NaN otherwise).
    std_error
        Standard error of rate_k − rate_0 used by the z statistic, (K−1, L') (unpooled:
        Bernoulli for sessions, delta method for users).
    threshold
        Per look, the |z| boundary of the O'Brien–Fleming design (``obrien_fleming``), else the
        level α; (L',).
    reject
        Comparisons rejected at each look under the plan's rule (after the multiplicity
        adjustment), (K−1, L').
    decided
        The test reached a decision (a rejection, or the last planned look).
    decision_look
        Index of the deciding look, -1 while undecided.
    decision_time
        Time of the deciding look (NaN while undecided).
    significant
        Some comparison was rejected at the deciding look.
    winner
        Variant to deploy (-1 while undecided).
    """

    __test__ = False  # not a pytest test class, despite the name

    looks: FloatArray
    trials: FloatArray
    successes: FloatArray
    z: FloatArray
    p_nominal: FloatArray
    p_sequential: FloatArray
    prob_better: FloatArray
    std_error: FloatArray
    threshold: FloatArray
    reject: BoolArray
    decided: bool
    decision_look: int
    decision_time: float
    significant: bool
    winner: int

    @property
    def rates(self) -> FloatArray:
        """Observed rates s/n per variant and look (NaN with no trials)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.trials > 0, self.successes / self.trials, np.nan)


class SequentialTest:
    """An A/B(/n) test fed one look at a time; shared by the policy and by the analysis.

    Parameters
    ----------
    plan
        The design.
    n_variants
        K ≥ 2 (variant 0 is the control).

    Notes
    -----
    :meth:`add_look` takes the cumulative counts at the next planned look. Each look's
    statistics depend only on that look's counts (and, for the mSPRT, on the running minimum
    of earlier p-values), so feeding the same counts gives the same outcome wherever the test
    runs.
    """

    def __init__(self, plan: TestPlan, n_variants: int) -> None:
        if n_variants < 2:
            raise ValueError(f"an A/B test needs at least 2 variants, got {n_variants}")
        self.plan = plan
        self.n_variants = n_variants
        self._trials: list[FloatArray] = []
        self._successes: list[FloatArray] = []
        self._z: list[FloatArray] = []
        self._p: list[FloatArray] = []
        self._p_seq: list[FloatArray] = []
        self._prob: list[FloatArray] = []
        self._se: list[FloatArray] = []
        self._threshold: list[float] = []
        self._reject: list[BoolArray] = []
        self._decision_look = -1
        self._significant = False
        self._winner = -1

    @property
    def n_seen(self) -> int:
        """Looks evaluated so far."""
        return len(self._trials)

    @property
    def done(self) -> bool:
        """All planned looks were evaluated."""
        return self.n_seen >= self.plan.n_looks

    @property
    def decided(self) -> bool:
        """The test has reached its decision."""
        return self._decision_look >= 0

    @property
    def winner(self) -> int:
        """The variant to deploy, -1 while undecided."""
        return self._winner

    def add_look(
        self, successes: ArrayLike, trials: ArrayLike, moments: UnitMoments | None = None
    ) -> None:
        """Evaluate the next planned look on cumulative counts, shape (K,) each.

        ``moments`` (per-user sums up to this look) are required when the plan's unit is
        ``"user"``; their successes and trials must equal ``successes`` and ``trials``.
        """
        if self.done:
            raise ValueError(f"all {self.plan.n_looks} planned looks were already evaluated")
        s = np.asarray(successes, dtype=np.float64).reshape(self.n_variants)
        n = np.asarray(trials, dtype=np.float64).reshape(self.n_variants)
        look = self.n_seen
        plan = self.plan
        if plan.unit == "user":
            if moments is None:
                raise ValueError("a per-user test needs the per-user moments at every look")
            z, p, se, p_seq, prob = _compare_users(moments, plan.tau**2, plan.test == "bayes")
        else:
            z, p, se = _compare_to_control(s, n)
            p_seq = msprt_pvalues(
                np.broadcast_to(s[0], s[1:].shape)[:, None],
                np.broadcast_to(n[0], n[1:].shape)[:, None],
                s[1:, None],
                n[1:, None],
                plan.tau**2,
            )[:, 0]
            prob = _beta_prob_better(s, n) if plan.test == "bayes" else np.full(s.size - 1, np.nan)
        if self._p_seq:
            p_seq = np.minimum(p_seq, self._p_seq[-1])
        threshold = plan.alpha
        final = look == plan.n_looks - 1
        if plan.test == "obrien_fleming":
            threshold = float(plan.obf_bounds(self.n_variants - 1)[look])
            reject = np.abs(z) >= threshold
        elif plan.test == "sequential_msprt":
            reject = _holm_reject(p_seq, plan.alpha)
        elif plan.test == "bayes":
            threshold = plan.alpha / (2.0 * (self.n_variants - 1))
            reject = (np.minimum(prob, 1.0 - prob) <= threshold) & final
        elif plan.test == "peeking" or final:
            reject = _holm_reject(p, plan.alpha)
        else:  # fixed horizon, before the horizon: no decision is taken
            reject = np.zeros(self.n_variants - 1, dtype=bool)
        self._prob.append(prob)
        self._se.append(se)
        self._trials.append(n)
        self._successes.append(s)
        self._z.append(z)
        self._p.append(p)
        self._p_seq.append(p_seq)
        self._threshold.append(threshold)
        self._reject.append(reject)
        if self.decided:
            return
        if reject.any():
            better = reject & (z > 0)
            rates = s / np.maximum(n, 1.0)
            candidates = np.concatenate([[0], 1 + np.flatnonzero(better)])
            self._winner = int(candidates[np.argmax(rates[candidates])])
            self._significant = True
            self._decision_look = look
        elif look == plan.n_looks - 1:
            rates = s / np.maximum(n, 1.0)
            self._winner = int(np.argmax(rates)) if plan.fallback == "empirical_best" else 0
            self._decision_look = look

    def outcome(self) -> TestOutcome:
        """The looks so far and the decision, as arrays."""
        k, n_seen = self.n_variants, self.n_seen

        def stack(values: list[NDArray[Any]], rows: int, dtype: type) -> NDArray[Any]:
            if not values:
                return np.zeros((rows, 0), dtype=dtype)
            return np.stack(values, axis=1).astype(dtype)

        look = self._decision_look
        return TestOutcome(
            looks=self.plan.looks[:n_seen].copy(),
            trials=stack(self._trials, k, np.float64),
            successes=stack(self._successes, k, np.float64),
            z=stack(self._z, k - 1, np.float64),
            p_nominal=stack(self._p, k - 1, np.float64),
            p_sequential=stack(self._p_seq, k - 1, np.float64),
            prob_better=stack(self._prob, k - 1, np.float64),
            std_error=stack(self._se, k - 1, np.float64),
            threshold=np.asarray(self._threshold, dtype=np.float64),
            reject=stack(self._reject, k - 1, np.bool_),
            decided=look >= 0,
            decision_look=look,
            decision_time=float(self.plan.looks[look]) if look >= 0 else math.nan,
            significant=self._significant,
            winner=self._winner,
        )


def _compare_to_control(s: FloatArray, n: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Pooled z, two-sided p and unpooled standard error of each treatment vs variant 0
    (z = 0, p = 1, se NaN if an arm is empty)."""
    k = s.size
    z = np.zeros(k - 1)
    p = np.ones(k - 1)
    se = np.full(k - 1, np.nan)
    if n[0] <= 0:
        return z, p, se
    for j in range(1, k):  # K−1 comparisons per look
        if n[j] > 0:
            result = two_proportion_ztest(s[0], n[0], s[j], n[j])
            z[j - 1], p[j - 1] = result.z, result.p_value
            r0, rj = s[0] / n[0], s[j] / n[j]
            se[j - 1] = math.sqrt(r0 * (1.0 - r0) / n[0] + rj * (1.0 - rj) / n[j])
    return z, p, se


def _compare_users(
    moments: UnitMoments, tau2: float, bayes: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per-user comparison of each treatment with variant 0: z, two-sided p, standard error,
    the look's mSPRT p-value and (for ``bayes``) the normal posterior P(better).

    A comparison whose variance is undefined (fewer than two users in an arm) gives z = 0,
    p = 1; a zero variance gives z = ±inf when the rates differ (no spread at all, as the
    pooled z-test) and 0 when they do not. Such looks are uninformative for the mSPRT."""
    ratio, var = delta_method_ratio(moments)
    estimate = ratio[1:] - ratio[0]
    variance = var[1:] + var[0]
    defined = np.isfinite(estimate) & np.isfinite(variance)
    positive = defined & (variance > 0)
    se = np.where(defined, np.sqrt(np.where(defined, variance, 0.0)), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(positive, estimate / np.where(positive, se, 1.0), np.sign(estimate) * np.inf)
    z = np.where(defined & (estimate != 0) | positive, z, 0.0)
    p = 2.0 * special.ndtr(-np.abs(z))
    p_seq = mixture_pvalues(estimate[:, None], np.where(positive, variance, np.nan)[:, None], tau2)
    prob = special.ndtr(z) if bayes else np.full(z.size, np.nan)
    return z, p, se, p_seq[:, 0], prob


def _beta_prob_better(s: FloatArray, n: FloatArray) -> FloatArray:
    """P(r_k > r_0) under Beta(1, 1) priors, exact (0.5 when an arm is empty)."""
    prob = np.full(s.size - 1, 0.5)
    if n[0] <= 0:
        return prob
    for j in range(1, s.size):
        if n[j] > 0:
            prob[j - 1] = prob_b_beats_a(s[0], n[0], s[j], n[j]).prob_b_beats_a
    return prob


def _holm_reject(p: FloatArray, alpha: float) -> BoolArray:
    """Holm's step-down rule: with p sorted ascending, reject H_(1), …, H_(r−1) where r is
    the first index with p_(r) > α / (m − r + 1) (Holm 1979). Equivalent to Holm-adjusted
    p-values ≤ α (:func:`recarena.stats.adjust_pvalues`), without statsmodels'
    per-call garbage collection."""
    m = p.size
    order = np.argsort(p, kind="stable")
    passes = p[order] <= alpha / (m - np.arange(m))
    first_failure = m if passes.all() else int(np.argmin(passes))
    reject = np.zeros(m, dtype=bool)
    reject[order[:first_failure]] = True
    return reject


def before_start(times: ArrayLike, start: float) -> BoolArray:
    """Which decision times belong to a pre-period ending at ``start``: :math:`t \\le`
    ``start`` (a batch decided at the window ending on ``start`` is still the pre-period);
    none when ``start`` is 0 (no pre-period)."""
    t = np.asarray(times, dtype=np.float64)
    return np.asarray((t <= start) & (start > 0.0), dtype=bool)


def test_plan(
    test: TestKind,
    alpha: float,
    horizon: float,
    checkpoint_every: float,
    tau: float = 0.01,
    fallback: Fallback = "control",
    boundary: BoundaryKind = "obf_per_side",
    unit: AnalysisUnit = "session",
    start: float = 0.0,
) -> TestPlan:
    """The design of a test whose data begin at ``start`` (after a pre-period), with a look
    every ``checkpoint_every`` days after it, up to ``horizon``."""
    if not 0.0 <= start < horizon:
        raise ValueError(f"start must lie in [0, horizon={horizon}), got {start!r}")
    return TestPlan(
        test=test,
        alpha=alpha,
        looks=start + look_times(horizon - start, checkpoint_every),
        tau=tau,
        fallback=fallback,
        boundary=boundary,
        unit=unit,
        start=start,
    )


test_plan.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite the name
