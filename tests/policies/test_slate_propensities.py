"""Per-slot and whole-slate propensities of the slate bandits against their definitions.

Formulas are checked against brute-force enumeration of small cases; every policy's logged
per-slot (and, where computable, whole-slate) propensities against the frequencies of 40,000
decisions drawn from one fixed state (seeded; tolerances are 4 binomial standard errors, plus
the stated Monte Carlo error where the propensity is an estimate).
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from recarena.contract import Decision, DecisionRequest, Surface
from recarena.policies import registry
from recarena.policies.bandits.selection import select_top_k
from recarena.policies.bandits.slate_propensities import (
    epsilon_greedy_slot_propensities,
    monte_carlo_slot_propensities,
    plackett_luce_slate_probability,
    tie_slot_propensities,
)
from recarena.policies.base import Policy
from tests.policies.test_bandits import make_spec, slate_feedback

N_ITEMS, K, N = 6, 3, 40_000


def _ordered_slates(n: int, k: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(n), k)))


def _tie_orderings(scores: np.ndarray, k: int, eligible: np.ndarray) -> Counter[tuple[int, ...]]:
    """Every top-k of ``scores`` under each ordering of the arms (uniform random tie-breaking
    is a uniformly random ordering among equal scores), counted."""
    arms = np.flatnonzero(eligible)
    slates: Counter[tuple[int, ...]] = Counter()
    for order in itertools.permutations(arms):
        ranked = sorted(order, key=lambda a: -scores[a])  # stable: ties keep the order's order
        slates[tuple(ranked[:k])] += 1
    return slates


def test_tie_slot_and_slate_probabilities_match_enumeration() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.9, 0.5, 0.1, np.inf])
    eligible = np.array([True, True, True, True, True, True, False])
    for k in (1, 2, 3, 4):
        counts = _tie_orderings(scores, k, eligible)
        total = sum(counts.values())
        slates = np.array(list(counts))
        got = tie_slot_propensities(scores, slates, eligible=eligible)
        np.testing.assert_allclose(got.slate, [counts[tuple(s)] / total for s in slates])
        for j in range(k):
            slot = Counter(s[j] for s, c in counts.items() for _ in range(c))
            np.testing.assert_allclose(got.slots[:, j], [slot[a] / total for a in slates[:, j]])
        # per-user scores (rows tied differently) give the same as shared ones
        per_user = tie_slot_propensities(np.tile(scores, (len(slates), 1)), slates,
                                         eligible=eligible)  # fmt: skip
        np.testing.assert_allclose(per_user.slots, got.slots)
        np.testing.assert_allclose(per_user.slate, got.slate)
    first = tie_slot_propensities(scores, slates, eligible=eligible, tie_break="first")
    assert (first.slots == 1).all() and (first.slate == 1).all()


@pytest.mark.parametrize("tie_break", ["random", "first"])
def test_epsilon_greedy_slot_and_slate_probabilities_match_enumeration(tie_break: str) -> None:
    means = np.array([0.6, 0.6, 0.3, 0.1, 0.6, 0.2])
    eligible = np.array([True, True, True, True, False, True])
    eps, m = 0.3, 5
    slates = np.array([s for s in _ordered_slates(6, K) if eligible[list(s)].all()])
    if tie_break == "random":
        greedy = _tie_orderings(means, K, eligible)
    else:
        greedy = Counter({(0, 1, 2): 1})
    total = sum(greedy.values())
    # exact law: (1-ε)·greedy + ε·uniform ordered k of m
    law = {tuple(s): (1 - eps) * greedy[tuple(s)] / total + eps / (5 * 4 * 3) for s in slates}
    got = epsilon_greedy_slot_propensities(
        means,
        eps,
        slates,
        eligible=eligible,
        tie_break=tie_break,  # type: ignore[arg-type]
    )
    np.testing.assert_allclose(got.slate, [law[tuple(s)] for s in slates])
    assert got.slate is not None and got.slate.sum() == pytest.approx(1.0)
    for j in range(K):
        marginal: Counter[int] = Counter()
        for s, p in law.items():
            marginal[s[j]] += p  # type: ignore[assignment]
        np.testing.assert_allclose(got.slots[:, j], [marginal[a] for a in slates[:, j]])
    assert got.slots.min() == pytest.approx(eps / m)


def test_plackett_luce_slate_probabilities_sum_to_one_with_forced_arms() -> None:
    means = np.array([0.3, np.inf, 0.1, 0.5, np.inf, 0.2])
    eligible = np.array([True, True, True, True, True, False])
    slates = np.array([s for s in _ordered_slates(6, K) if eligible[list(s)].all()])
    p = plackett_luce_slate_probability(means, 0.2, slates, eligible=eligible)
    assert p.sum() == pytest.approx(1.0)
    # forced arms 1 and 4 first, in random order; then Plackett-Luce over 0, 2, 3
    w = np.exp(np.array([0.3, 0.0, 0.1, 0.5]) / 0.2)
    row = np.flatnonzero((slates == [4, 1, 3]).all(axis=1))[0]
    assert p[row] == pytest.approx(0.5 * w[3] / (w[0] + w[2] + w[3]))
    assert (p[~np.isin(slates[:, :2], [1, 4]).all(axis=1)] == 0).all()
    # no cancellation: the weight left after an overwhelming first item is summed directly
    tiny = plackett_luce_slate_probability(np.array([0.0, -3.0, -3.5]), 0.01,
                                           np.array([[0, 1], [0, 2]]))  # fmt: skip
    np.testing.assert_allclose(tiny, [1 / (1 + np.exp(-50.0)), 1 / (1 + np.exp(50.0))],
                               rtol=1e-12)  # fmt: skip


def test_monte_carlo_slot_propensities_count_forced_slots_exactly() -> None:
    rng = np.random.default_rng(0)
    alpha, beta = np.array([2.0, 5.0, 1.0, 3.0, 1.0]), np.array([3.0, 2.0, 1.0, 3.0, 4.0])
    forced = np.array([False, False, True, False, False])

    def draw(m: int) -> np.ndarray:
        return rng.beta(alpha, beta, size=(m, 1, 5))

    slates = np.array([[2, 1, 0], [2, 3, 1]])
    p = monte_carlo_slot_propensities(draw, slates, 200_000, 5, forced=forced)
    assert (p[:, 0] == 1.0).all()  # the one forced arm is always first
    exact = draw(400_000)[:, 0, :]
    exact[:, 2] = -np.inf
    ranks = np.argsort(-exact, axis=1)
    for b, j in itertools.product(range(2), (1, 2)):
        assert p[b, j] == pytest.approx((ranks[:, j - 1] == slates[b, j]).mean(), abs=0.005)
    assert np.isnan(monte_carlo_slot_propensities(draw, slates, 0, 5)).all()


# ---------------------------------------------------------------- policies vs frequencies
def _stateful_policy(kind: str, **params: object) -> Policy:
    """A slate bandit after one feedback batch with ties (items 0 and 1 alike) and an
    unplayed item (5, forced first under round robin)."""
    contextual = kind.startswith("lin_")
    spec = make_spec({Surface.SLATE}, n_items=N_ITEMS, slate_size=K, n_features=2)
    policy = registry.make({"kind": kind, **params})
    policy.setup(spec, np.random.default_rng(7))
    slates = np.array([[0, 2, 3], [1, 2, 4], [0, 3, 4], [1, 3, 2]] * 10)
    clicked = np.array([0, 0, 1, -1] * 10)
    fb = slate_feedback(0.0, slates, clicked)
    if contextual:
        features = np.random.default_rng(1).normal(size=(len(slates), 2)).astype(np.float32)
        fb = type(fb)(**{**fb.__dict__, "features": features})
    policy.learn(fb)
    return policy


def _decide(policy: Policy, n: int) -> Decision:
    x = np.tile(np.array([[0.4, -0.8]], np.float32), (n, 1))  # one context for every user
    return policy.act(DecisionRequest(Surface.SLATE, 1.0, np.arange(n), x, np.ones(N_ITEMS, bool)))


EXACT = [
    ("epsilon_greedy", {"epsilon": 0.3}),
    ("epsilon_greedy", {"epsilon": 0.3, "tie_break": "first"}),
    ("epsilon_greedy", {"epsilon": 0.3, "init": "prior"}),
    ("ucb1", {"init": "prior", "prior_count": 0.5}),
    ("kl_ucb", {}),
    ("lin_ucb_items", {"tie_break": "random"}),
]


@pytest.mark.parametrize(("kind", "params"), EXACT, ids=lambda v: str(v))
def test_exact_slot_and_slate_propensities_match_frequencies(kind: str, params: dict) -> None:
    decision = _decide(_stateful_policy(kind, **params), N)
    assert decision.slot_propensities is not None and decision.slate_propensities is not None
    np.testing.assert_array_equal(decision.slot_propensities[:, 0], decision.propensities)
    _assert_slots_match(decision, mc_error=0.0)
    slates = [tuple(s) for s in decision.actions.tolist()]
    freq = Counter(slates)
    reported = dict(zip(slates, decision.slate_propensities.tolist(), strict=True))
    assert sum(reported.values()) <= 1 + 1e-9
    for slate, p in reported.items():
        assert freq[slate] / N == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / N) + 1e-12)


def _assert_slots_match(decision: Decision, mc_error: float) -> None:
    """Per slot j and item a: the frequency of a in slot j against the mean logged propensity."""
    slots = decision.slot_propensities
    assert slots is not None and np.isfinite(slots).all()
    for j in range(K):
        items = decision.actions[:, j]
        for a in np.unique(items):
            shown = items == a
            p = float(slots[shown, j].mean())
            freq = float(shown.mean())
            assert freq == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / N) + mc_error), (j, a)


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("softmax", {"temperature": 0.1}),
        ("thompson", {}),
        ("thompson", {"init": "prior", "model": "gaussian"}),
        ("discounted_thompson", {}),
    ],
    ids=lambda v: str(v),
)
def test_sampled_slot_propensities_of_a_small_batch_match_frequencies(
    kind: str, params: dict
) -> None:
    # A batch of 20 rests on 4,000 shared draws (SE ≤ 0.008); 40,000 decisions from the same
    # state give the frequencies.
    policy = _stateful_policy(kind, propensity_samples=4000, **params)
    small = _decide(policy, 20)
    large = _decide(policy, N)
    assert small.slot_propensities is not None
    for j in range(K):
        for a, p in zip(small.actions[:, j], small.slot_propensities[:, j], strict=True):
            freq = float((large.actions[:, j] == a).mean())
            assert p == pytest.approx(freq, abs=0.04), (j, a)
    if kind == "softmax":  # its whole slate is exact (Plackett-Luce)
        assert large.slate_propensities is not None
        slates = [tuple(s) for s in large.actions.tolist()]
        counts = Counter(slates)
        for slate, p in zip(slates, large.slate_propensities.tolist(), strict=True):
            assert counts[slate] / N == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / N) + 1e-12)
    else:
        assert large.slate_propensities is None  # not computable: logged NaN


def test_lin_thompson_items_slot_propensities_match_frequencies() -> None:
    m = 50
    decision = _decide(_stateful_policy("lin_thompson_items", propensity_samples=m), N)
    assert decision.slot_propensities is not None
    # each estimate is (1 + hits) / (1 + M): the user's own slate counts, an upward bias of
    # (1 - p)/(1 + M); undo it on the mean
    unbiased = (decision.slot_propensities * (1 + m) - 1) / m
    _assert_slots_match(
        Decision(decision.actions, unbiased[:, 0], slot_propensities=unbiased), mc_error=0.0
    )


def test_slots_of_a_padded_slate_repeat_the_last_slot() -> None:
    policy = _stateful_policy("epsilon_greedy", epsilon=0.2)
    available = np.zeros(N_ITEMS, bool)
    available[[0, 5]] = True  # two items on sale (5 unplayed: greedy first), three slots
    d = policy.act(DecisionRequest(Surface.SLATE, 1.0, np.arange(5), np.zeros((5, 2), np.float32),
                                   available))  # fmt: skip
    assert d.slot_propensities is not None and d.slate_propensities is not None
    assert (d.actions[:, 2] == d.actions[:, 1]).all()
    np.testing.assert_array_equal(d.slot_propensities[:, 2], d.slot_propensities[:, 1])
    # two items, two orders: (1-ε)·1 + ε/2 for the greedy order
    assert set(np.round(d.slate_propensities, 12)) <= {round(0.8 + 0.1, 12), round(0.1, 12)}


def test_select_top_k_slates_are_what_tie_propensities_assume() -> None:
    """The kernels' random tie-break orders tied arms uniformly (the formulas' premise)."""
    rng = np.random.default_rng(3)
    scores = np.array([0.5, 0.9, 0.5, 0.9, 0.5])
    slates = select_top_k(scores, 3, rng, batch_size=N)
    got = tie_slot_propensities(scores, slates)
    assert got.slate is not None
    keys = [tuple(s) for s in slates.tolist()]
    freq = Counter(keys)
    for key, p in zip(keys, got.slate.tolist(), strict=True):
        assert freq[key] / N == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / N))
