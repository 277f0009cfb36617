r"""Campaign targeting building blocks shared by campaign policies and their analysis.

Nothing here knows about the simulator or the policy interface: functions take arrays (the
rows of a campaign log, a feature matrix, a value matrix) and return arrays, so a policy
refitting from its :class:`~recarena.contract.History` and an analysis section reading a
run's ``campaigns`` table compute exactly the same thing.

Contents
--------
:func:`offer_samples`
    The training sample of one offer from campaign-log rows: treated rows sent that offer
    (:math:`t = 1`) and untreated rows that are its control group (:math:`t = 0`).
:func:`make_classifier`, :func:`make_regressor`, :func:`make_uplift_learner`
    Base models (logistic / linear regression or CatBoost) and the uplift learners of
    :mod:`recarena.models.uplift` by name, seeded.
:func:`greedy_allocation`, :func:`lp_allocation`, :func:`milp_allocation`
    One offer (or none) per user under a budget and a cap on contacts — the multiple-choice
    knapsack problem — greedily, by linear programming with rounding (with the certified
    optimality gap), or exactly by mixed-integer programming.

Propensity convention
---------------------
A campaign row is *randomised* when its logged propensity lies strictly in (0, 1): a
randomised pilot logs ``q / n_eligible`` for a treated row and ``1 − q`` for a control row,
while deterministic targeting logs 1 (or NaN when a policy does not log propensities).
Uplift learners are unbiased only on randomised rows (Rubin's unconfoundedness by design);
response models :math:`P(y = 1 \mid x, \text{treated})` may also use targeted rows because
targeting depends on :math:`x` only.

References
----------
.. [1] S. Martello and P. Toth, *Knapsack Problems: Algorithms and Computer Implementations*,
   Wiley, 1990, ch. 2 (greedy and LP relaxation of the knapsack problem).
.. [2] P. Sinha and A. A. Zoltners, "The multiple-choice knapsack problem", Operations
   Research 27(3):503–515, 1979 (the LP relaxation has at most two fractional variables
   per coupling constraint).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, sparse

from recarena.typing import BoolArray, FloatArray, IntArray

__all__ = [
    "BASE_MODELS",
    "UPLIFT_LEARNERS",
    "Allocation",
    "allocate",
    "greedy_allocation",
    "lp_allocation",
    "make_classifier",
    "make_regressor",
    "make_uplift_learner",
    "milp_allocation",
    "offer_samples",
    "positive_proba",
    "randomised",
    "take_in_order",
]


BaseModel = Literal["logistic", "catboost"]
UpliftLearnerName = Literal["s", "t", "x", "class_transformation", "transformed_outcome"]
#: Base models understood by :func:`make_classifier` / :func:`make_regressor`.
BASE_MODELS: tuple[str, ...] = ("logistic", "catboost")
#: Uplift learners understood by :func:`make_uplift_learner`.
UPLIFT_LEARNERS: tuple[str, ...] = ("s", "t", "x", "class_transformation", "transformed_outcome")

#: CatBoost settings used everywhere: small, single-threaded, silent, no files on disk.
CATBOOST_DEFAULTS: dict[str, Any] = {
    "iterations": 200,
    "depth": 4,
    "learning_rate": 0.1,
    "thread_count": 1,
    "verbose": False,
    "allow_writing_files": False,
}


# --------------------------------------------------------------------------------- samples
def randomised(propensity: NDArray[Any]) -> BoolArray:
    """Rows whose logged propensity lies strictly inside (0, 1) (see the module notes)."""
    p = np.asarray(propensity, dtype=np.float64)
    out: BoolArray = np.isfinite(p) & (p > 0.0) & (p < 1.0)
    return out


def offer_samples(
    offer: NDArray[Any],
    control_for: NDArray[Any],
    propensity: NDArray[Any],
    o: int,
    rows: Literal["randomised", "all"] = "randomised",
) -> tuple[IntArray, IntArray]:
    """Row indices and treatment indicator of offer ``o``'s training sample.

    Parameters
    ----------
    offer, control_for, propensity
        Campaign-log columns: offer sent (−1 = none), the offer an untreated row is a
        control for, the logged propensity.
    o
        The offer.
    rows
        ``"randomised"`` keeps only randomised rows (for uplift); ``"all"`` keeps every row.

    Returns
    -------
    index, t
        Positions of the rows in the log (treated with ``o``, or untreated controls of ``o``)
        and ``t`` = 1 for treated, 0 for control.
    """
    offer = np.asarray(offer)
    treated = offer == o
    control = (offer < 0) & (np.asarray(control_for) == o)
    keep = treated | control
    if rows == "randomised":
        keep &= randomised(propensity)
    index = np.flatnonzero(keep).astype(np.int64)
    return index, treated[index].astype(np.int64)


# --------------------------------------------------------------------------------- models
def make_classifier(base: BaseModel, seed: int) -> Any:
    """A probabilistic classifier: standardised logistic regression or CatBoost.

    ``logistic``: ``StandardScaler → LogisticRegression(C=1, lbfgs)`` (deterministic).
    ``catboost``: ``CatBoostClassifier`` with :data:`CATBOOST_DEFAULTS` and
    ``random_seed=seed`` (imported here, so catboost loads only when used).
    """
    if base == "catboost":
        from catboost import CatBoostClassifier

        return CatBoostClassifier(random_seed=seed, **CATBOOST_DEFAULTS)
    if base != "logistic":
        raise ValueError(f"base model must be one of {BASE_MODELS}, got {base!r}")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def make_regressor(base: BaseModel, seed: int) -> Any:
    """A regressor: ridge regression (α = 1, standardised inputs) or ``CatBoostRegressor``."""
    if base == "catboost":
        from catboost import CatBoostRegressor

        return CatBoostRegressor(random_seed=seed, **CATBOOST_DEFAULTS)
    if base != "logistic":
        raise ValueError(f"base model must be one of {BASE_MODELS}, got {base!r}")
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), Ridge(alpha=1.0))


def make_uplift_learner(
    name: UpliftLearnerName, base: BaseModel, seed: int, randomised_sample: bool = True
) -> Any:
    r"""An unfitted uplift learner of :mod:`recarena.models.uplift` by name.

    ======================  ==================================================================
    ``s``                   S-learner on :math:`[x, t, t x]` (interactions, so a logistic
                            base can express a heterogeneous effect)
    ``t``                   T-learner, one classifier per arm
    ``x``                   X-learner (Künzel et al. 2019): classifiers for
                            :math:`\mu_0, \mu_1`, regressors for the imputed effects,
                            blended by the propensity — the constant treated share on a
                            randomised sample, a fitted logistic model otherwise
    ``class_transformation``  Jaskowski & Jaroszewicz (2012); needs a 50/50 assignment
    ``transformed_outcome``   Athey & Imbens (2015) with the sample's treated share
    ======================  ==================================================================

    ``base`` picks logistic/ridge or CatBoost base models; ``seed`` fixes every random state.
    """
    from recarena.models import uplift as up

    clf = make_classifier(base, seed)
    if name == "s":
        return up.SLearner(clf, interactions=True, random_state=seed)
    if name == "t":
        return up.TLearner(clf, random_state=seed)
    if name == "x":
        return up.XLearner(
            clf,
            make_regressor(base, seed),
            propensity="mean" if randomised_sample else "model",
            random_state=seed,
        )
    if name == "class_transformation":
        return up.ClassTransformation(clf, random_state=seed)
    if name == "transformed_outcome":
        return up.TransformedOutcome(make_regressor(base, seed), random_state=seed)
    raise ValueError(f"uplift learner must be one of {UPLIFT_LEARNERS}, got {name!r}")


def positive_proba(model: Any, X: NDArray[Any]) -> FloatArray:
    """P(y = 1 | x) from a fitted classifier (0 when the class 1 was never seen)."""
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    classes = np.asarray(getattr(model, "classes_", [0, 1]))
    hit = np.flatnonzero(classes == 1)
    return proba[:, int(hit[0])] if hit.size else np.zeros(X.shape[0])


# --------------------------------------------------------------------------------- allocation
@dataclass(frozen=True)
class Allocation:
    """One offer per user (−1 = none) chosen under a budget.

    Attributes
    ----------
    actions
        Offer per user, shape (B,), −1 for no offer.
    value
        Objective of the chosen actions, :math:`\\sum_u V_{u a_u}`.
    bound
        An upper bound on the optimum: the LP relaxation's value (``lp``, ``milp``), NaN for
        ``greedy`` unless computed.
    gap
        Relative optimality gap :math:`(\\text{bound} - \\text{value}) / |\\text{bound}|`
        (0 when the bound is 0), NaN when no bound is known.
    method
        ``"greedy"``, ``"lp"`` or ``"milp"``.
    """

    actions: IntArray
    value: float
    bound: float
    gap: float
    method: str


def _gap(value: float, bound: float) -> float:
    if not np.isfinite(bound):
        return float("nan")
    if bound == 0.0:
        return 0.0
    return max(0.0, (bound - value) / abs(bound))


def _candidates(values: FloatArray) -> tuple[FloatArray, IntArray, FloatArray]:
    """Per user: best offer's value, the offer, and the matrix with non-positive entries masked."""
    masked = np.where(np.isfinite(values) & (values > 0), values, -np.inf)
    best = np.argmax(masked, axis=1).astype(np.int64)
    gain = masked[np.arange(values.shape[0]), best] if values.shape[0] else np.zeros(0)
    return gain, best, masked


def take_in_order(
    order: IntArray, cost: FloatArray, budget: float = float("inf"), max_taken: int | None = None
) -> IntArray:
    """Walk ``order`` and keep each row whose ``cost`` still fits the budget, up to a cap.

    A row that does not fit is skipped (later, cheaper rows may still fit). Vectorised: the
    longest fitting prefix is taken at once; the first row that does not fit never will (the
    budget only shrinks), and neither will any row costlier than what is left.

    Returns the kept rows, in ``order``'s order.
    """
    cap = order.size if max_taken is None else max(0, int(max_taken))
    remaining = float(budget)
    kept: list[IntArray] = []
    while order.size and cap > 0:
        fits = np.cumsum(cost[order]) <= remaining + 1e-9
        n_fit = order.size if fits.all() else int(np.argmin(fits))
        take = order[: min(n_fit, cap)]
        kept.append(take)
        remaining -= float(cost[take].sum())
        cap -= take.size
        order = order[n_fit + 1 :]
        order = order[cost[order] <= remaining + 1e-9]
    return np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)


def greedy_allocation(
    values: FloatArray,
    costs: FloatArray,
    budget: float = float("inf"),
    max_treated: int | None = None,
) -> Allocation:
    r"""Greedy by value per cost over (user, offer) pairs.

    Pairs with :math:`V_{uo} > 0` are considered in decreasing order of value per cost
    :math:`V_{uo} / c_o` (zero-cost offers first; with an unlimited budget, in decreasing
    order of value); a pair is taken when its user has no offer yet, its cost fits what is
    left of the budget and the cap on contacts allows. Vectorised in rounds: each round gives
    every unassigned user its best pair among those that still fit and takes users in order
    (:func:`take_in_order`); a user whose pair did not fit competes again in the next round
    with its next-best pair that does. Ties by lower user index.

    Parameters
    ----------
    values
        (B, O) value of each offer for each user; −inf or ≤ 0 means "never send".
    costs
        (O,) cost of sending each offer (what the budget counts).
    budget
        Total cost allowed (``inf`` = unlimited).
    max_treated
        At most this many users are sent an offer (``None`` = no cap).
    """
    values = np.asarray(values, dtype=np.float64)
    costs = np.asarray(costs, dtype=np.float64)
    b = values.shape[0]
    _, _, masked = _candidates(values)
    ratio = np.where(costs[None, :] > 0, masked / np.maximum(costs[None, :], 1e-300), np.inf)
    key = np.where(np.isfinite(masked), ratio if np.isfinite(budget) else masked, -np.inf)
    actions = np.full(b, -1, dtype=np.int64)
    remaining = float(budget)
    cap = b if max_treated is None else max(0, int(max_treated))
    while cap > 0:
        open_key = np.where(
            (actions[:, None] < 0) & (costs[None, :] <= remaining + 1e-9), key, -np.inf
        )
        best = np.argmax(open_key, axis=1).astype(np.int64) if b else np.zeros(0, np.int64)
        best_key = open_key[np.arange(b), best] if b else np.zeros(0)
        users = np.flatnonzero(np.isfinite(best_key))
        if users.size == 0:
            break
        order = users[np.lexsort((users, -best_key[users]))]
        take = take_in_order(order, costs[best], remaining, cap)
        actions[take] = best[take]
        remaining -= float(costs[best[take]].sum())
        cap -= take.size
    treated = np.flatnonzero(actions >= 0)
    value = float(masked[treated, actions[treated]].sum())
    return Allocation(actions, value, float("nan"), float("nan"), "greedy")


def _lp_problem(
    masked: FloatArray, costs: FloatArray, budget: float, max_treated: int | None
) -> tuple[IntArray, IntArray, FloatArray, sparse.csr_array, FloatArray]:
    """Variables (user, offer) with positive value and the constraint matrix A x ≤ ub."""
    users, offers = np.nonzero(np.isfinite(masked))
    v = masked[users, offers]
    n = users.size
    rows = [users]
    cols = [np.arange(n)]
    data = [np.ones(n)]
    ub = [np.ones(masked.shape[0])]
    next_row = masked.shape[0]
    if np.isfinite(budget):
        rows.append(np.full(n, next_row))
        cols.append(np.arange(n))
        data.append(np.asarray(costs, dtype=np.float64)[offers])
        ub.append(np.array([budget]))
        next_row += 1
    if max_treated is not None:
        rows.append(np.full(n, next_row))
        cols.append(np.arange(n))
        data.append(np.ones(n))
        ub.append(np.array([float(max_treated)]))
        next_row += 1
    a = sparse.csr_array(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(next_row, n)
    )
    return users.astype(np.int64), offers.astype(np.int64), v, a, np.concatenate(ub)


def lp_allocation(
    values: FloatArray,
    costs: FloatArray,
    budget: float = float("inf"),
    max_treated: int | None = None,
) -> Allocation:
    r"""LP relaxation of the multiple-choice knapsack, rounded, with its optimality gap.

    .. math::
        \max_x \sum_{u,o} V_{uo} x_{uo} \quad \text{s.t.} \quad \sum_o x_{uo} \le 1\ \forall u,
        \quad \sum_{u,o} c_o x_{uo} \le \text{budget}, \quad \sum_{u,o} x_{uo} \le m,
        \quad 0 \le x \le 1,

    over the pairs with :math:`V_{uo} > 0`, solved by HiGHS (``scipy.optimize.linprog``). A
    basic optimum has at most two fractional variables per coupling constraint (Sinha &
    Zoltners 1979). Rounding: the variables at 1 are kept and the leftover budget is filled
    greedily (:func:`greedy_allocation` on the users left); for each fractional pair, the
    same after trimming the integral part (lowest value per cost first) to make room for that
    pair; the best candidate is returned. The LP optimum is an upper bound on every integer
    allocation, so ``gap`` certifies how far the rounded solution can be from the optimum.
    """
    values = np.asarray(values, dtype=np.float64)
    b = values.shape[0]
    _, _, masked = _candidates(values)
    users, offers, v, a, ub = _lp_problem(masked, costs, budget, max_treated)
    actions = np.full(b, -1, dtype=np.int64)
    if v.size == 0:
        return Allocation(actions, 0.0, 0.0, 0.0, "lp")
    res = optimize.linprog(-v, A_ub=a, b_ub=ub, bounds=(0.0, 1.0), method="highs")
    if res.status != 0:
        raise RuntimeError(f"LP allocation failed: {res.message}")
    bound = float(-res.fun)
    x = np.asarray(res.x)
    costs = np.asarray(costs, dtype=np.float64)
    whole = x > 1.0 - 1e-7
    fractional = np.flatnonzero((x > 1e-7) & ~whole)
    # Candidates: the integral part, and for each fractional pair the integral part trimmed
    # (lowest value per cost first) to make room for that pair; each is then filled greedily.
    seeds: list[tuple[IntArray, IntArray]] = [(users[whole], offers[whole])]
    kept = np.flatnonzero(whole)
    kept = kept[np.lexsort((kept, -v[kept] / np.maximum(costs[offers[kept]], 1e-300)))]
    for j in fractional:
        room = budget - costs[offers[j]]
        cap = None if max_treated is None else max_treated - 1
        if room < -1e-9 or (cap is not None and cap < 0):
            continue
        keep = take_in_order(np.arange(kept.size), costs[offers[kept]], room, cap)
        chosen = np.append(kept[keep], j)
        seeds.append((users[chosen], offers[chosen]))
    best: Allocation | None = None
    for seed_users, seed_offers in seeds:
        actions = _filled(values, costs, budget, max_treated, seed_users, seed_offers)
        sent = actions >= 0
        value = float(values[np.flatnonzero(sent), actions[sent]].sum())
        if best is None or value > best.value + 1e-12:
            best = Allocation(actions, value, bound, _gap(value, bound), "lp")
    assert best is not None
    return best


def _filled(
    values: FloatArray,
    costs: FloatArray,
    budget: float,
    max_treated: int | None,
    seed_users: IntArray,
    seed_offers: IntArray,
) -> IntArray:
    """Actions with ``seed_users`` assigned ``seed_offers`` and the rest filled greedily."""
    actions = np.full(values.shape[0], -1, dtype=np.int64)
    actions[seed_users] = seed_offers
    spent = float(costs[seed_offers].sum())
    rest_budget = budget - spent if np.isfinite(budget) else budget
    rest_cap = None if max_treated is None else max_treated - seed_users.size
    free = actions < 0
    if free.any() and (rest_cap is None or rest_cap > 0) and rest_budget > 0:
        fill = greedy_allocation(values[free], costs, rest_budget, rest_cap)
        actions[np.flatnonzero(free)] = fill.actions
    return actions


def milp_allocation(
    values: FloatArray,
    costs: FloatArray,
    budget: float = float("inf"),
    max_treated: int | None = None,
    time_limit: float = 20.0,
) -> Allocation:
    """Exact integer allocation (the problem of :func:`lp_allocation` with x ∈ {0, 1}).

    Solved by HiGHS branch-and-bound (``scipy.optimize.milp``) to HiGHS' default relative
    MIP gap (10⁻⁴) within ``time_limit`` seconds; ``bound`` is the LP relaxation's value and
    ``gap`` the solution's gap to it (at most the instance's integrality gap plus the MIP
    tolerance). On large instances :func:`lp_allocation` is as good and much faster.
    """
    values = np.asarray(values, dtype=np.float64)
    b = values.shape[0]
    _, _, masked = _candidates(values)
    users, offers, v, a, ub = _lp_problem(masked, costs, budget, max_treated)
    actions = np.full(b, -1, dtype=np.int64)
    if v.size == 0:
        return Allocation(actions, 0.0, 0.0, 0.0, "milp")
    relaxed = optimize.linprog(-v, A_ub=a, b_ub=ub, bounds=(0.0, 1.0), method="highs")
    bound = float(-relaxed.fun) if relaxed.status == 0 else float("nan")
    res = optimize.milp(
        -v,
        constraints=optimize.LinearConstraint(a, -np.inf, ub),
        integrality=np.ones(v.size),
        bounds=optimize.Bounds(0.0, 1.0),
        options={"time_limit": time_limit, "disp": False},
    )
    if res.x is None:
        raise RuntimeError(f"MILP allocation failed: {res.message}")
    chosen = np.asarray(res.x) > 0.5
    actions[users[chosen]] = offers[chosen]
    value = float(v[chosen].sum())
    return Allocation(actions, value, bound, _gap(value, bound), "milp")


def allocate(
    method: Literal["greedy", "lp", "milp"],
    values: FloatArray,
    costs: FloatArray,
    budget: float = float("inf"),
    max_treated: int | None = None,
) -> Allocation:
    """Dispatch to :func:`greedy_allocation`, :func:`lp_allocation` or :func:`milp_allocation`."""
    if method == "greedy":
        return greedy_allocation(values, costs, budget, max_treated)
    if method == "lp":
        return lp_allocation(values, costs, budget, max_treated)
    if method == "milp":
        return milp_allocation(values, costs, budget, max_treated)
    raise ValueError(f"allocation method must be greedy, lp or milp, got {method!r}")
