"""Off-policy estimators against values worked out by hand on a four-decision log."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from recarena.analysis import ope
from recarena.analysis.ope.slate import slot_item_indicator, uniform_slate_gamma

# Four decisions, two actions; the target always takes action 0.
ACTION = np.array([0, 1, 0, 1])
REWARD = np.array([1.0, 0.0, 0.0, 1.0])
PSCORE = np.array([0.5, 0.5, 0.8, 0.2])
TARGET = np.tile([1.0, 0.0], (4, 1))
Q_HAT = np.tile([0.6, 0.4], (4, 1))


@pytest.fixture
def log() -> ope.LoggedFeedback:
    return ope.LoggedFeedback(ACTION, REWARD, PSCORE, n_actions=2, arm="eps")


def test_bandit_estimators_match_hand_worked_values(log: ope.LoggedFeedback) -> None:
    # weights w = (2, 0, 1.25, 0)
    assert ope.ips(log, TARGET).value == pytest.approx(2.0 / 4)
    assert ope.snips(log, TARGET).value == pytest.approx(2.0 / 3.25)
    assert ope.clipped_ips(log, TARGET, 1.5).value == pytest.approx(1.5 / 4)
    assert ope.replay(log, TARGET).value == pytest.approx(0.5)
    assert ope.direct_method(log, TARGET, Q_HAT).value == pytest.approx(0.6)
    # DR terms: 0.6 + 2(1 - 0.6), 0.6, 0.6 + 1.25(0 - 0.6), 0.6
    assert ope.doubly_robust(log, TARGET, Q_HAT).value == pytest.approx(2.45 / 4)
    # switch-DR at 1.5 drops the first correction (w = 2 > 1.5)
    assert ope.switch_doubly_robust(log, TARGET, Q_HAT, 1.5).value == pytest.approx(1.65 / 4)


def test_effective_sample_size_is_kish(log: ope.LoggedFeedback) -> None:
    assert ope.ips(log, TARGET).ess == pytest.approx(3.25**2 / (4 + 1.25**2))
    assert ope.replay(log, TARGET).ess == pytest.approx(2.0)
    assert ope.direct_method(log, TARGET, Q_HAT).ess == 4.0
    assert ope.kish_ess(np.zeros(3)) == 0.0


def test_snips_interval_is_the_delta_method(log: ope.LoggedFeedback) -> None:
    est = ope.snips(log, TARGET, level=0.5)
    v = 2.0 / 3.25
    residual = np.array([2 - 2 * v, 0.0, -1.25 * v, 0.0])
    se = math.sqrt(4 / 3 * float(residual @ residual) / 3.25**2)
    z = sps.norm.ppf(0.75)
    assert (est.ci_low, est.ci_high) == pytest.approx((v - z * se, v + z * se))


def test_interval_is_cluster_robust_and_clipped() -> None:
    reward = np.array([1.0, 1.0, 0.0, 0.0])
    one_user_each = ope.LoggedFeedback(ACTION, reward, PSCORE, 2, clusters=np.arange(4))
    paired = ope.LoggedFeedback(ACTION, reward, PSCORE, 2, clusters=np.array([7, 7, 9, 9]))
    target = np.full((4, 2), 0.5)
    narrow = ope.direct_method(one_user_each, target, np.tile([0.3, 0.5], (4, 1)), level=0.5)
    assert narrow.ci_low == narrow.ci_high == pytest.approx(0.4)  # no spread at all
    wide = ope.ips(paired, target, level=0.5)
    # terms 1, 1, 0, 0 (w·r with w = 1, 1, .625, 2.5): per-user residual sums ±(2·(1 − v))
    v = 0.5
    se = math.sqrt(2 / 1 * 2 * (2 * (1 - v)) ** 2 / 16)
    assert wide.ci_high - v == pytest.approx(min(sps.norm.ppf(0.75) * se, 1 - v))
    assert 0.0 <= wide.ci_low <= wide.ci_high <= 1.0


def test_log_without_propensities_names_the_arm() -> None:
    with pytest.raises(ope.MissingPropensityError, match="'greedy'"):
        ope.LoggedFeedback(ACTION, REWARD, np.full(4, np.nan), 2, arm="greedy")
    with pytest.raises(ope.MissingPropensityError, match="outside"):
        ope.LoggedFeedback(ACTION, REWARD, np.array([0.5, 0.0, 1.0, 1.0]), 2, arm="x")


def test_target_must_be_a_distribution(log: ope.LoggedFeedback) -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        ope.ips(log, np.full((4, 2), 0.7))
    with pytest.raises(ValueError, match="shape"):
        ope.ips(log, np.ones((3, 2)))


def test_reward_models() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    action = rng.integers(0, 2, 4000)
    p = 1 / (1 + np.exp(-(x[:, 0] * np.where(action == 0, 2.0, -2.0))))
    reward = (rng.random(4000) < p).astype(float)
    mean = ope.fit_reward_model(x, action, reward, 2, "mean")
    for a in (0, 1):
        assert mean[0, a] == pytest.approx(reward[action == a].mean())
    unseen = ope.fit_reward_model(x, action, reward, 3, "mean")
    assert unseen[0, 2] == pytest.approx(reward.mean())  # never logged: the overall mean
    logistic = ope.fit_reward_model(x, action, reward, 2, "logistic")
    truth0 = 1 / (1 + np.exp(-2 * x[:, 0]))
    assert np.abs(logistic[:, 0] - truth0).mean() < 0.03  # seeded; the mean model is ~0.35 off
    assert np.abs(mean[:, 0] - truth0).mean() > 0.25


def test_ips_and_dr_are_unbiased_in_expectation_over_the_logger() -> None:
    # Exact expectation: enumerate every action of a context-free logger.
    p0 = np.array([0.5, 0.3, 0.2])
    q = np.array([0.1, 0.5, 0.9])
    target = np.array([0.1, 0.2, 0.7])
    wrong_model = np.array([0.9, 0.9, 0.1])
    truth = float(target @ q)
    ips_mean = dr_mean = 0.0
    for a in range(3):
        for r, pr in ((1.0, q[a]), (0.0, 1 - q[a])):
            log = ope.LoggedFeedback(np.array([a]), np.array([r]), np.array([p0[a]]), 3)
            ips_mean += p0[a] * pr * ope.ips(log, target[None]).value
            dr_mean += p0[a] * pr * ope.doubly_robust(log, target[None], wrong_model[None]).value
    assert ips_mean == pytest.approx(truth)
    assert dr_mean == pytest.approx(truth)


# ------------------------------------------------------------------------- slates
def test_independent_item_ips_by_hand() -> None:
    est = ope.independent_item_ips(
        np.array([[0.0, 1.0], [1.0, 0.0]]),
        np.array([[0.5, 0.2], [0.3, 0.3]]),
        np.array([[0.25, 0.1], [0.6, 0.5]]),
    )
    assert est.value == pytest.approx((2.0 + 0.5) / 2)
    with pytest.raises(ope.MissingPropensityError, match="'slates'"):
        ope.independent_item_ips(np.ones((1, 2)), np.ones((1, 2)), np.full((1, 2), np.nan),
                                 arm="slates")  # fmt: skip


def test_position_based_ips_by_hand() -> None:
    theta = np.array([1.0, 0.5])
    target = np.array([[[0.5, 0.5], [0.0, 1.0]]])  # item of slot 0 / slot 1 at positions 0, 1
    logging = np.array([[[0.25, 0.25], [0.5, 0.0]]])
    est = ope.position_based_ips(np.array([[1.0, 1.0]]), target, logging, theta)
    # slot 0: 0.75 / 0.375 = 2; slot 1: 0.5 / 0.5 = 1
    assert est.value == pytest.approx(3.0)


def _ordered_slates(m: int, slots: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(m), slots)))


def test_uniform_gamma_is_the_enumerated_second_moment() -> None:
    slates = _ordered_slates(4, 2)
    ones = slot_item_indicator(slates, 4)
    assert np.allclose(uniform_slate_gamma(4, 2), ones.T @ ones / len(slates))


def test_pseudoinverse_closed_form_and_unbiasedness_under_uniform_logging() -> None:
    m, slots = 4, 2
    rng = np.random.default_rng(3)
    slates = _ordered_slates(m, slots)
    # A target: a random distribution over ordered slates, and its slot-item marginals.
    target_probs = rng.dirichlet(np.ones(len(slates)))
    marginals = (target_probs @ slot_item_indicator(slates, m)).reshape(slots, m)
    gamma = uniform_slate_gamma(m, slots)
    reward = np.ones(len(slates))
    est = ope.pseudoinverse(reward, slates, marginals, gamma)
    # The closed form under the uniform logger reads the target's probabilities of the
    # logged items in every slot: the same estimate and interval, decision by decision.
    positions = marginals[:, slates].transpose(1, 2, 0)  # [i, j, k] = θ(k, s_ij)
    fast = ope.pseudoinverse_uniform(reward, positions, m)
    assert (fast.value, fast.ci_low, fast.ci_high) == pytest.approx(
        (est.value, est.ci_low, est.ci_high)
    )
    assert fast.ess == pytest.approx(est.ess)
    # Additive slate reward phi[j, a]: the exact expectation over the uniform logger is the
    # target's value (Swaminathan et al. 2017, Prop. 1).
    phi = rng.uniform(0, 0.4, size=(slots, m))
    slate_reward = phi[np.arange(slots), slates].sum(axis=1)
    expected = ope.pseudoinverse(slate_reward, slates, marginals, gamma).value
    assert expected == pytest.approx(float((marginals * phi).sum()))
    per_context = ope.pseudoinverse(slate_reward, slates, np.broadcast_to(marginals, (12, 2, 4)),
                                    np.broadcast_to(gamma, (12, 8, 8)))  # fmt: skip
    assert per_context.value == pytest.approx(expected)
