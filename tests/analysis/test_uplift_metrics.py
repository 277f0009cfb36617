"""Uplift metrics against hand-worked cases, tie handling and ground-truth helpers."""

from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np
import pytest

from recarena.analysis.uplift import (
    UpliftMetricWarning,
    auuc,
    oracle_qini_curve,
    pehe,
    perfect_qini_curve,
    perfect_uplift_curve,
    policy_regret,
    policy_value,
    qini_coefficient,
    qini_curve,
    true_gain_curve,
    uplift_at_k,
    uplift_by_percentile,
    uplift_curve,
    weighted_average_uplift,
)

# --------------------------------------------------------------------------------------------
# The golden six-row case, worked by hand.
#
#   row   score  t  y
#    0    0.9    1  1
#    1    0.8    0  0      rows 1 and 2 tie
#    2    0.8    1  1
#    3    0.5    1  0
#    4    0.3    0  1
#    5    0.1    0  0
#
# Tie groups end at k = 1, 3, 4, 5, 6. Cumulative (N_T, Y_T, N_C, Y_C):
#   k=1: (1,1,0,0)  k=3: (2,2,1,0)  k=4: (3,2,1,0)  k=5: (3,2,2,1)  k=6: (3,2,3,1)
# Qini   Q = Y_T − Y_C N_T/N_C:      0, 1, 2, 2, 1/2, 1
# Uplift U = (Y_T/N_T − Y_C/N_C) k:  0, 1, 3, 8/3, 5/6, 2
# Trapezoids on u = k/6: ∫Q = 15/12, ∫U = 126/72 = 7/4.
# Area above random: A_Q = 15/12 − 1/2 = 3/4,  A_U = 7/4 − 1 = 3/4.
#
# Perfect ranking y(2t − 1) = [1, 0, 1, 0, −1, 0]: groups {0, 2}, {1, 3, 5}, {4}, ends 2, 5, 6.
#   Q* = 0, 2, 2, 1  -> ∫ = 2/6 + 1 + 1/4 = 19/12, A = 13/12
#   U* = 0, 2, 10/3, 2 -> ∫ = 1/3 + 4/3 + 4/9 = 19/9, A = 10/9
# --------------------------------------------------------------------------------------------

S6 = np.array([0.9, 0.8, 0.8, 0.5, 0.3, 0.1])
T6 = np.array([1, 0, 1, 1, 0, 0])
Y6 = np.array([1, 0, 1, 0, 1, 0])


def test_golden_qini_curve() -> None:
    k, q = qini_curve(Y6, T6, S6)
    np.testing.assert_array_equal(k, [0, 1, 3, 4, 5, 6])
    np.testing.assert_allclose(q, [0, 1, 2, 2, 0.5, 1])


def test_golden_uplift_curve() -> None:
    k, u = uplift_curve(Y6, T6, S6)
    np.testing.assert_array_equal(k, [0, 1, 3, 4, 5, 6])
    np.testing.assert_allclose(u, [0, 1, 3, 8 / 3, 5 / 6, 2])


def test_golden_perfect_curves() -> None:
    k, q = perfect_qini_curve(Y6, T6)
    np.testing.assert_array_equal(k, [0, 2, 5, 6])
    np.testing.assert_allclose(q, [0, 2, 2, 1])
    k, u = perfect_uplift_curve(Y6, T6)
    np.testing.assert_array_equal(k, [0, 2, 5, 6])
    np.testing.assert_allclose(u, [0, 2, 10 / 3, 2])


@pytest.mark.parametrize(
    ("normalize", "qini", "area"),
    [
        (None, 3 / 4, 3 / 4),
        ("perfect", (3 / 4) / (13 / 12), (3 / 4) / (10 / 9)),
        ("endpoint", (3 / 4) / 1, (3 / 4) / 2),
    ],
)
def test_golden_coefficients(
    normalize: Literal["perfect", "endpoint"] | None, qini: float, area: float
) -> None:
    assert qini_coefficient(Y6, T6, S6, normalize=normalize) == pytest.approx(qini, abs=1e-12)
    assert auuc(Y6, T6, S6, normalize=normalize) == pytest.approx(area, abs=1e-12)


def test_golden_uplift_at_k() -> None:
    # Top 3 (k = 0.5): rows 0, 1, 2 -> treated rate (1 + 1)/2, control rate 0/1.
    assert uplift_at_k(Y6, T6, S6, k=0.5) == pytest.approx(1.0)
    # Top 4: adds row 3 (t=1, y=0) -> treated 2/3, control 0.
    assert uplift_at_k(Y6, T6, S6, k=4 / 6) == pytest.approx(2 / 3)
    # Whole population: 2/3 − 1/3.
    assert uplift_at_k(Y6, T6, S6, k=1.0) == pytest.approx(1 / 3)
    # By group: treated ranked 0, 2, 3 and control ranked 1, 4, 5.
    # k = 2/3 -> top 2 treated (1, 1) and top 2 control (0, 1): 1 − 1/2.
    assert uplift_at_k(Y6, T6, S6, k=2 / 3, strategy="by_group") == pytest.approx(0.5)
    assert uplift_at_k(Y6, T6, S6, k=1 / 3, strategy="by_group") == pytest.approx(1.0)


def test_uplift_at_k_empty_control_slice_is_nan_with_warning() -> None:
    # Top 1 row (k = 1/6) is row 0, a treated row: no control rate exists.
    with pytest.warns(UpliftMetricWarning, match="no control rows"):
        value = uplift_at_k(Y6, T6, S6, k=1 / 6)
    assert math.isnan(value)


def test_uplift_at_k_empty_treated_slice_is_nan_with_warning() -> None:
    with pytest.warns(UpliftMetricWarning, match="no treated rows"):
        value = uplift_at_k(Y6, T6, -S6, k=2 / 6)  # bottom two rows, both controls
    assert math.isnan(value)


def test_uplift_at_k_tie_straddling_the_cut_is_shared() -> None:
    # scores 1, .5, .5, .5, 0; k = 0.4 -> 2 positions: row 0 fully, the tie group {1, 2, 3}
    # (positions 1-3) contributes 1/3 of each row.
    # treated: row 0 (w 1, y 1), row 1 (w 1/3, y 0) -> 1/(4/3) = 3/4
    # control: row 2 (w 1/3, y 1), row 3 (w 1/3, y 0) -> 1/2
    s = np.array([1.0, 0.5, 0.5, 0.5, 0.0])
    t = np.array([1, 1, 0, 0, 0])
    y = np.array([1, 0, 1, 0, 0])
    assert uplift_at_k(y, t, s, k=0.4) == pytest.approx(0.25)
    perm = np.array([3, 1, 4, 0, 2])
    assert uplift_at_k(y[perm], t[perm], s[perm], k=0.4) == pytest.approx(0.25)


def test_golden_uplift_by_percentile_and_weighted_average() -> None:
    # bins=3 cut positions at 0, 2, 4, 6. The tie group {1, 2} sits on positions 1-2, so it
    # is split half/half between bins 1 and 2.
    # bin 1: row 0 (t1 y1, w1), row 2 (t1 y1, w.5), row 1 (t0 y0, w.5) -> 1 − 0
    # bin 2: row 2 (w.5), row 3 (t1 y0, w1), row 1 (w.5) -> (0.5/1.5) − 0 = 1/3
    # bin 3: rows 4, 5 are controls -> uplift NaN
    with pytest.warns(UpliftMetricWarning, match="empty arm"):
        table = uplift_by_percentile(Y6, T6, S6, bins=3)
    assert list(table.index) == ["0-33.33", "33.33-66.67", "66.67-100"]
    np.testing.assert_allclose(table["n_treatment"], [1.5, 1.5, 0.0])
    np.testing.assert_allclose(table["n_control"], [0.5, 0.5, 2.0])
    np.testing.assert_allclose(table["response_rate_control"], [0.0, 0.0, 0.5])
    np.testing.assert_allclose(table["uplift"].iloc[:2], [1.0, 1 / 3])
    assert math.isnan(table["uplift"].iloc[2])
    # std: bin 2 treated weights (.5, 1) on y (1, 0): mean 1/3, var 2/9; control var 0.
    assert table["std_uplift"].iloc[1] == pytest.approx(math.sqrt((2 / 9) / 1.5))
    # Weighted by treated counts: (1.5·1 + 1.5·1/3)/3 = 2/3.
    with pytest.warns(UpliftMetricWarning):
        assert weighted_average_uplift(Y6, T6, S6, bins=3) == pytest.approx(2 / 3)


def test_deciles_without_ties_have_integer_counts() -> None:
    rng = np.random.default_rng(3)
    n = 1000
    t = rng.integers(0, 2, n)
    y = rng.integers(0, 2, n).astype(float)
    s = rng.random(n)
    table = uplift_by_percentile(y, t, s)
    assert len(table) == 10
    np.testing.assert_allclose(table["n_treatment"] + table["n_control"], 100.0)
    assert table["n_treatment"].sum() == pytest.approx(t.sum())
    top = np.argsort(-s)[:100]
    expected = y[top][t[top] == 1].mean() - y[top][t[top] == 0].mean()
    assert table["uplift"].iloc[0] == pytest.approx(expected)
    assert uplift_at_k(y, t, s, k=0.1) == pytest.approx(expected)


# --------------------------------------------------------------------------------------------
# Independent brute-force reference (no ties) and tie invariance
# --------------------------------------------------------------------------------------------


def _naive_curves(y: np.ndarray, t: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-by-row recomputation from scratch for every k (valid for distinct scores)."""
    order = np.argsort(-s)
    q, u = [0.0], [0.0]
    for k in range(1, len(s) + 1):
        top = order[:k]
        yt, yc = y[top][t[top] == 1], y[top][t[top] == 0]
        nt, nc = len(yt), len(yc)
        q.append(yt.sum() - (yc.sum() * nt / nc if nc else 0.0))
        mean_t = yt.mean() if nt else 0.0
        mean_c = yc.mean() if nc else 0.0
        u.append((mean_t - mean_c) * k)
    return np.array(q), np.array(u)


def test_curves_match_brute_force_without_ties() -> None:
    rng = np.random.default_rng(11)
    n = 200
    t = rng.integers(0, 2, n)
    y = rng.normal(size=n) + t
    s = rng.random(n)
    q_ref, u_ref = _naive_curves(y, t, s)
    k, q = qini_curve(y, t, s)
    np.testing.assert_array_equal(k, np.arange(n + 1))
    np.testing.assert_allclose(q, q_ref, atol=1e-9)
    _, u = uplift_curve(y, t, s)
    np.testing.assert_allclose(u, u_ref, atol=1e-9)


def test_constant_scores_give_zero_area() -> None:
    rng = np.random.default_rng(5)
    t = rng.integers(0, 2, 300)
    y = (rng.random(300) < 0.3 + 0.2 * t).astype(float)
    s = np.full(300, 0.7)
    k, _ = qini_curve(y, t, s)
    np.testing.assert_array_equal(k, [0, 300])  # one tie group: a single segment
    for normalize in (None, "perfect", "endpoint"):
        assert qini_coefficient(y, t, s, normalize=normalize) == pytest.approx(0.0, abs=1e-12)
        assert auuc(y, t, s, normalize=normalize) == pytest.approx(0.0, abs=1e-12)


def test_row_permutation_invariance_with_ties() -> None:
    rng = np.random.default_rng(2024)
    n = 600
    t = rng.integers(0, 2, n)
    x = rng.random(n)
    y = (rng.random(n) < 0.2 + 0.3 * x * t).astype(float)
    s = np.round(x, 1)  # 11 distinct values: heavy ties
    perm = rng.permutation(n)
    yp, tp, sp = y[perm], t[perm], s[perm]

    for curve in (qini_curve, uplift_curve):
        k1, c1 = curve(y, t, s)
        k2, c2 = curve(yp, tp, sp)
        np.testing.assert_array_equal(k1, k2)
        np.testing.assert_array_equal(c1, c2)  # bitwise: within-tie order is canonical
        assert len(k1) == np.unique(s).size + 1  # points only at distinct-score boundaries
    for normalize in (None, "perfect", "endpoint"):
        assert qini_coefficient(y, t, s, normalize) == qini_coefficient(yp, tp, sp, normalize)
        assert auuc(y, t, s, normalize) == auuc(yp, tp, sp, normalize)
    for k in (0.05, 0.13, 0.3, 0.77):
        for strategy in ("overall", "by_group"):
            assert uplift_at_k(y, t, s, k, strategy) == pytest.approx(
                uplift_at_k(yp, tp, sp, k, strategy), rel=1e-12
            )
    tab1 = uplift_by_percentile(y, t, s, bins=7)
    tab2 = uplift_by_percentile(yp, tp, sp, bins=7)
    np.testing.assert_allclose(tab1.to_numpy(), tab2.to_numpy(), rtol=1e-12)
    tau = 0.3 * x
    for budget in (0.1, 0.25, 0.5):
        assert policy_value(tau, s, budget) == pytest.approx(
            policy_value(tau[perm], sp, budget), rel=1e-12
        )


def test_tie_grouping_differs_from_row_order_tie_breaking() -> None:
    # Two tied rows, treated responder and control non-responder: breaking the tie by row
    # order would put a point at k=1 whose value depends on which row comes first.
    y = np.array([0, 1])
    t = np.array([0, 1])
    s = np.array([0.5, 0.5])
    k, q = qini_curve(y, t, s)
    np.testing.assert_array_equal(k, [0, 2])
    np.testing.assert_allclose(q, [0, 1])
    assert qini_curve(y[::-1], t[::-1], s[::-1])[1].tolist() == q.tolist()


# --------------------------------------------------------------------------------------------
# Normalisations
# --------------------------------------------------------------------------------------------


def _rct(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    t = (rng.random(n) < 0.5).astype(int)
    y = (rng.random(n) < 0.2 + 0.2 * x * t).astype(float)
    return x, t, y, rng.random(n)


def test_perfect_scores_give_one_under_perfect_normalisation() -> None:
    _, t, y, _ = _rct(0, 5000)
    perfect = y * (2 * t - 1)
    assert qini_coefficient(y, t, perfect, "perfect") == pytest.approx(1.0, abs=1e-12)
    assert auuc(y, t, perfect, "perfect") == pytest.approx(1.0, abs=1e-12)
    # Any strictly increasing transform of the perfect score is the same ranking.
    assert qini_coefficient(y, t, np.exp(3 * perfect) - 7, "perfect") == pytest.approx(1.0)


def test_random_scores_give_about_zero() -> None:
    # Over 60 seeds (n = 5000) the random-score spread was sd 0.015 (Qini, perfect), 0.022
    # (AUUC, perfect), 0.033 (Qini, endpoint) and 0.032 (AUUC, endpoint); thresholds are
    # about 3 sd. Seed 0 gives 0.008, 0.014, 0.025, 0.029.
    x, t, y, noise = _rct(0, 5000)
    assert abs(qini_coefficient(y, t, noise, "perfect")) < 0.045
    assert abs(auuc(y, t, noise, "perfect")) < 0.07
    assert abs(qini_coefficient(y, t, noise, "endpoint")) < 0.1
    assert abs(auuc(y, t, noise, "endpoint")) < 0.1
    # The true-effect ranking does clearly better than noise (0.085 here).
    assert qini_coefficient(y, t, x, "perfect") > 0.06


def test_normalised_values_are_scale_free_and_raw_values_scale() -> None:
    x, t, y, _ = _rct(1, 2000)
    for metric in (qini_coefficient, auuc):
        raw = metric(y, t, x, None)
        assert metric(3.0 * y, t, x, None) == pytest.approx(3.0 * raw)
        for normalize in ("perfect", "endpoint"):
            assert metric(3.0 * y, t, x, normalize) == pytest.approx(metric(y, t, x, normalize))


def test_endpoint_normalisation_with_zero_total_effect_is_nan() -> None:
    y = np.array([1, 0, 1, 0])
    t = np.array([1, 1, 0, 0])  # both arms respond at 1/2: Q(1) = U(1) = 0
    s = np.array([0.4, 0.3, 0.2, 0.1])
    with pytest.warns(UpliftMetricWarning, match="end value"):
        assert math.isnan(qini_coefficient(y, t, s, "endpoint"))
    with pytest.warns(UpliftMetricWarning):
        assert math.isnan(auuc(y, t, s, "endpoint"))


# --------------------------------------------------------------------------------------------
# Ground-truth metrics
# --------------------------------------------------------------------------------------------


def test_pehe_is_rmse_by_default() -> None:
    tau, tau_hat = np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0])
    assert pehe(tau, tau_hat) == pytest.approx(math.sqrt(5 / 3))
    assert pehe(tau, tau_hat, squared=True) == pytest.approx(5 / 3)
    assert pehe(tau, tau) == 0.0


def test_golden_policy_value_and_regret() -> None:
    # budget 1/2 of 4 rows = 2 positions: row 1 (score .9), then half of the tie {2, 3}.
    # value = (−1 + 0.5·2 + 0.5·0)/4 = 0; oracle takes rows 0, 2: (3 + 2)/4.
    tau = np.array([3.0, -1.0, 2.0, 0.0])
    s = np.array([0.1, 0.9, 0.5, 0.5])
    assert policy_value(tau, s, 0.5) == pytest.approx(0.0)
    assert policy_value(tau, tau, 0.5) == pytest.approx(1.25)
    assert policy_regret(tau, s, 0.5) == pytest.approx(1.25)
    assert policy_regret(tau, tau, 0.5) == 0.0
    assert policy_value(tau, s, 1.0) == pytest.approx(tau.mean())
    assert policy_value(tau, s, 0.0) == 0.0


def test_policy_regret_is_nonnegative_and_oracle_curves() -> None:
    rng = np.random.default_rng(9)
    n = 500
    tau = rng.normal(size=n)
    t = rng.integers(0, 2, n)
    y = rng.normal(size=n) + t * tau
    noisy = tau + rng.normal(size=n)
    for budget in (0.1, 0.3, 0.9):
        assert policy_regret(tau, noisy, budget) >= 0.0
    k, q = oracle_qini_curve(tau, y, t)
    k2, q2 = qini_curve(y, t, tau)
    np.testing.assert_array_equal(k, k2)
    np.testing.assert_array_equal(q, q2)
    kg, g = true_gain_curve(tau)
    np.testing.assert_allclose(g, np.concatenate(([0.0], np.cumsum(np.sort(tau)[::-1]))))
    _, g_noisy = true_gain_curve(tau, noisy)
    assert np.all(g_noisy <= g + 1e-12)  # the oracle ranking dominates pointwise
    assert kg[-1] == n


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="same length"):
        qini_curve([1, 0], [1, 0, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="only 0 and 1"):
        auuc([1, 0], [2, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="finite"):
        qini_curve([1, 0], [1, 0], [np.nan, 0.2])
    with pytest.raises(ValueError, match="normalize"):
        qini_coefficient(Y6, T6, S6, normalize="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must lie"):
        uplift_at_k(Y6, T6, S6, k=0.0)
    with pytest.raises(ValueError, match="strategy"):
        uplift_at_k(Y6, T6, S6, k=0.5, strategy="per_arm")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bins"):
        uplift_by_percentile(Y6, T6, S6, bins=7)
    with pytest.raises(ValueError, match="budget_fraction"):
        policy_value([1.0, 2.0], [0.1, 0.2], 1.5)
    with pytest.raises(ValueError, match="equal shapes"):
        pehe([1.0, 2.0], [1.0])


def test_no_warning_on_well_posed_inputs() -> None:
    x, t, y, _ = _rct(4, 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qini_coefficient(y, t, x)
        auuc(y, t, x, "endpoint")
        uplift_at_k(y, t, x, k=0.2)
        uplift_by_percentile(y, t, x)
