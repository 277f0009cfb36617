"""Tests for recarena.analysis.ranking: hand-worked golden cases, conventions."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.metrics import ndcg_score

from recarena.analysis import ranking as rk

# --------------------------------------------------------------------------------------
# The shared golden case, k = 3, catalogue of 10 items.
#
#   user  recs          relevant R_u        notes
#   u0    [0, 1, 2]     {1, 2, 5, 7}        |R| = 4 > k; hits at ranks 2 and 3
#   u1    [3, -, -]     {3, 9}              short list (1 item); hit at rank 1
#   u2    [-, -, -]     {4}                 no recommendations -> 0 everywhere
#   u3    [6, 7, 8]     {}                  no relevant items -> NaN ("skip") or 0 ("zero")
#   u4    [2, 9, 4]     {4}                 |R| = 1 < k; hit at rank 3
#
# Discounts: d1 = 1, d2 = 1/log2(3) = 0.63093, d3 = 1/log2(4) = 0.5, d4 = 1/log2(5) = 0.43068.
# --------------------------------------------------------------------------------------

K = 3
N_ITEMS = 10
RECS = np.array(
    [
        [0, 1, 2],
        [3, -1, -1],
        [-1, -1, -1],
        [6, 7, 8],
        [2, 9, 4],
    ]
)
REL: list[set[int]] = [{1, 2, 5, 7}, {3, 9}, {4}, set(), {4}]
D1, D2, D3, D4 = 1.0, 1 / math.log2(3), 0.5, 1 / math.log2(5)
NAN = np.nan


def rel_csr() -> sp.csr_array:
    return rk.as_relevance_matrix(REL, n_items=N_ITEMS)


def assert_per_user(actual: np.ndarray, expected: list[float]) -> None:
    np.testing.assert_allclose(actual, np.array(expected, dtype=float), rtol=1e-12, atol=1e-12)


# ---- accuracy metrics: golden values ------------------------------------------------


def test_hit_rate_golden_and_empty_relevant_conventions() -> None:
    # u0 hit, u1 hit, u2 no recs -> 0, u3 skipped, u4 hit.
    per = rk.hit_rate_at_k_per_user(RECS, REL, K)
    assert_per_user(per, [1, 1, 0, NAN, 1])
    assert rk.hit_rate_at_k(RECS, REL, K) == pytest.approx(3 / 4)  # skip: 4 users counted
    assert rk.hit_rate_at_k(RECS, REL, K, empty_relevant="zero") == pytest.approx(3 / 5)


def test_precision_golden_both_divisors() -> None:
    # divisor k: u0 2/3, u1 1/3 (short list penalised), u2 0, u4 1/3 -> mean (4/3)/4 = 1/3
    per = rk.precision_at_k_per_user(RECS, REL, K)
    assert_per_user(per, [2 / 3, 1 / 3, 0, NAN, 1 / 3])
    assert rk.precision_at_k(RECS, REL, K) == pytest.approx(1 / 3)
    # "zero" keeps u3 as 0: (4/3)/5 = 4/15
    assert rk.precision_at_k(RECS, REL, K, empty_relevant="zero") == pytest.approx(4 / 15)
    # divisor n_recommended: u1 1/1, u2 (no items) 0 -> (2/3 + 1 + 0 + 1/3)/4 = 1/2
    per_n = rk.precision_at_k_per_user(RECS, REL, K, divisor="n_recommended")
    assert_per_user(per_n, [2 / 3, 1, 0, NAN, 1 / 3])
    assert rk.precision_at_k(RECS, REL, K, divisor="n_recommended") == pytest.approx(1 / 2)


def test_recall_golden_both_divisors() -> None:
    # |R| divisor: u0 2/4, u1 1/2, u2 0, u4 1/1 -> mean 2/4
    assert_per_user(rk.recall_at_k_per_user(RECS, REL, K), [0.5, 0.5, 0, NAN, 1])
    assert rk.recall_at_k(RECS, REL, K) == pytest.approx(0.5)
    # min(|R|, k): only u0 changes (2/3) -> (2/3 + 1/2 + 0 + 1)/4 = 13/24
    per = rk.recall_at_k_per_user(RECS, REL, K, divisor="min_k_relevant")
    assert_per_user(per, [2 / 3, 0.5, 0, NAN, 1])
    assert rk.recall_at_k(RECS, REL, K, divisor="min_k_relevant") == pytest.approx(13 / 24)


def test_mrr_golden() -> None:
    # first hit: u0 rank 2, u1 rank 1, u2 none, u4 rank 3 -> (1/2 + 1 + 0 + 1/3)/4 = 11/24
    assert_per_user(rk.mrr_at_k_per_user(RECS, REL, K), [1 / 2, 1, 0, NAN, 1 / 3])
    assert rk.mrr_at_k(RECS, REL, K) == pytest.approx(11 / 24)


def test_map_golden_both_divisors() -> None:
    # u0: hits at 2, 3: P@2 = 1/2, P@3 = 2/3, sum 7/6.  min(|R|,k) = 3 -> 7/18 ; |R| = 4 -> 7/24
    # u1: hit at 1: P@1 = 1.                             min = 2     -> 1/2  ; |R| = 2 -> 1/2
    # u4: hit at 3: P@3 = 1/3.                           min = 1     -> 1/3  ; |R| = 1 -> 1/3
    per = rk.map_at_k_per_user(RECS, REL, K)
    assert_per_user(per, [7 / 18, 1 / 2, 0, NAN, 1 / 3])
    assert rk.map_at_k(RECS, REL, K) == pytest.approx(11 / 36)  # (7+9+0+6)/18 / 4
    per_r = rk.map_at_k_per_user(RECS, REL, K, divisor="relevant")
    assert_per_user(per_r, [7 / 24, 1 / 2, 0, NAN, 1 / 3])
    assert rk.map_at_k(RECS, REL, K, divisor="relevant") == pytest.approx(9 / 32)  # (27/24)/4


def test_ndcg_golden_each_ideal_convention() -> None:
    # DCG: u0 d2 + d3, u1 d1, u2 0, u4 d3.
    # ideal="min_k_relevant": IDCG over min(k, |R|) hits: u0 d1+d2+d3, u1 d1+d2, u4 d1.
    dflt = [(D2 + D3) / (D1 + D2 + D3), D1 / (D1 + D2), 0, NAN, D3 / D1]
    assert_per_user(rk.ndcg_at_k_per_user(RECS, REL, K), dflt)
    # ideal="k": IDCG = d1+d2+d3 for everyone; differs where |R| < k (u1, u4).
    k_ideal = [(D2 + D3) / (D1 + D2 + D3), D1 / (D1 + D2 + D3), 0, NAN, D3 / (D1 + D2 + D3)]
    assert_per_user(rk.ndcg_at_k_per_user(RECS, REL, K, ideal="k"), k_ideal)
    # ideal="all_relevant": IDCG over all of R; differs where |R| > k (u0: 4 items).
    all_ideal = [(D2 + D3) / (D1 + D2 + D3 + D4), D1 / (D1 + D2), 0, NAN, D3 / D1]
    assert_per_user(rk.ndcg_at_k_per_user(RECS, REL, K, ideal="all_relevant"), all_ideal)
    # the three means are pairwise distinct
    means = {rk.ndcg_at_k(RECS, REL, K, ideal=i) for i in ("min_k_relevant", "k", "all_relevant")}
    assert len(means) == 3
    assert rk.ndcg_at_k(RECS, REL, K) == pytest.approx(np.nanmean(dflt))


def test_ndcg_graded_both_gains() -> None:
    # One user, recs [0, 1, 2], grades {0: 1, 2: 3, 5: 2}; ideal order 3, 2, 1.
    recs = np.array([[0, 1, 2]])
    rel = [{0: 1.0, 2: 3.0, 5: 2.0}]
    # linear:      DCG = 1*d1 + 3*d3 = 2.5 ;      IDCG = 3*d1 + 2*d2 + 1*d3
    lin = (1 * D1 + 3 * D3) / (3 * D1 + 2 * D2 + 1 * D3)
    # exponential: gains 1, 7, 3: DCG = 1 + 7*d3 ; IDCG = 7*d1 + 3*d2 + 1*d3
    expo = (1 * D1 + 7 * D3) / (7 * D1 + 3 * D2 + 1 * D3)
    assert rk.ndcg_at_k(recs, rel, 3) == pytest.approx(lin)
    assert rk.ndcg_at_k(recs, rel, 3, gain="exponential") == pytest.approx(expo)
    assert lin != pytest.approx(expo)
    # graded relevance: hits are grade > 0 for the binary metrics (items 0 and 2 of 3)
    assert rk.precision_at_k(recs, rel, 3) == pytest.approx(2 / 3)
    # ideal="k" counts hits, so it refuses graded relevance
    with pytest.raises(ValueError, match="binary"):
        rk.ndcg_at_k(recs, rel, 3, ideal="k")


def test_ndcg_binary_gains_coincide() -> None:
    lin = rk.ndcg_at_k_per_user(RECS, REL, K, gain="linear")
    expo = rk.ndcg_at_k_per_user(RECS, REL, K, gain="exponential")
    np.testing.assert_allclose(lin, expo)


def _scores_from_recs(recs: np.ndarray, n_items: int) -> np.ndarray:
    """Scores putting the listed items strictly above every other item, in list order."""
    scores = np.zeros((recs.shape[0], n_items))
    for u, row in enumerate(recs):
        for j, item in enumerate(row):
            scores[u, item] = recs.shape[1] - j + 1.0
    return scores


@pytest.mark.parametrize("gain", ["linear", "exponential"])
def test_ndcg_matches_sklearn(gain: Literal["linear", "exponential"]) -> None:
    # sklearn: linear gains on y_true, IDCG over the top-k of the ideal ordering, users
    # with all-zero y_true score 0 -> ideal="min_k_relevant", empty_relevant="zero".
    rng = np.random.default_rng(7)
    n_users, n_items, k = 40, 25, 5
    grades = rng.integers(0, 4, size=(n_users, n_items)) * (rng.random((n_users, n_items)) < 0.3)
    grades[0] = 0  # one user with nothing relevant
    recs = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :k]
    ours = rk.ndcg_at_k_per_user(
        recs, sp.csr_array(grades.astype(float)), k, gain=gain, empty_relevant="zero"
    )
    y_true = grades.astype(float) if gain == "linear" else np.exp2(grades) - 1.0
    y_score = _scores_from_recs(recs, n_items)
    expected = [ndcg_score(y_true[[u]], y_score[[u]], k=k) for u in range(n_users)]
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-12)
    assert rk.ndcg_at_k(
        recs, sp.csr_array(grades.astype(float)), k, gain=gain, empty_relevant="zero"
    ) == pytest.approx(ndcg_score(y_true, y_score, k=k))


def test_relevance_forms_agree_and_k_truncates() -> None:
    # list of sets, CSR matrix, and a frame give identical results
    frame = pd.DataFrame(
        [(u, i) for u, items in enumerate(REL) for i in items], columns=["user", "item"]
    )
    csr = rk.relevance_from_frame(frame, n_users=5, n_items=N_ITEMS)
    for rel in (REL, rel_csr(), csr, sp.csr_matrix(csr)):
        assert_per_user(rk.map_at_k_per_user(RECS, rel, K), [7 / 18, 1 / 2, 0, NAN, 1 / 3])
    # extra columns beyond k are ignored: append a relevant item (5 for u0) at rank 4
    wide = np.hstack([RECS, np.array([[5], [-1], [-1], [-1], [-1]])])
    assert_per_user(rk.precision_at_k_per_user(wide, REL, K), [2 / 3, 1 / 3, 0, NAN, 1 / 3])
    # k larger than the list width: missing slots are empty (precision still divides by k)
    assert_per_user(rk.precision_at_k_per_user(RECS, REL, 6), [1 / 3, 1 / 6, 0, NAN, 1 / 6])


def test_all_users_skipped_gives_nan_without_warning() -> None:
    recs = np.array([[0, 1], [2, -1]])
    assert math.isnan(rk.ndcg_at_k(recs, [set(), set()], 2))
    assert rk.ndcg_at_k(recs, [set(), set()], 2, empty_relevant="zero") == 0.0


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="twice"):
        rk.precision_at_k(np.array([[1, 1, -1]]), [{1}], 3)
    with pytest.raises(ValueError, match="-1"):
        rk.precision_at_k(np.array([[1, -2]]), [{1}], 2)
    with pytest.raises(TypeError):
        rk.precision_at_k(np.array([[1.0, 2.0]]), [{1}], 2)
    with pytest.raises(ValueError, match="out of range"):
        rk.precision_at_k(np.array([[10]]), sp.csr_array((1, 10)), 1)
    with pytest.raises(ValueError, match="users"):
        rk.precision_at_k(RECS, REL[:3], K)
    with pytest.raises(ValueError, match="k must be"):
        rk.precision_at_k(RECS, REL, 0)
    with pytest.raises(ValueError, match="empty_relevant"):
        rk.precision_at_k(RECS, REL, K, empty_relevant="drop")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        rk.ndcg_at_k(np.array([[0]]), [{0: -1.0}], 1)


def test_relevance_from_frame_weights_and_duplicates() -> None:
    frame = pd.DataFrame(
        {"user": [0, 0, 1, 1, 2], "item": [3, 3, 0, 2, 1], "weight": [1.0, 2.0, 0.0, 4.0, 1.0]}
    )
    mx = rk.relevance_from_frame(frame, weight_col="weight")
    assert mx.shape == (3, 4)
    assert mx[0, 3] == 2.0  # max of the repeated pair
    assert mx[1, 0] == 0.0 and mx.nnz == 3  # zero weight dropped
    sm = rk.relevance_from_frame(frame, weight_col="weight", duplicates="sum", n_items=6)
    assert sm[0, 3] == 3.0 and sm.shape == (3, 6)
    binary = rk.relevance_from_frame(frame)
    assert set(binary.data.tolist()) == {1.0} and binary.nnz == 4
    with pytest.raises(ValueError, match="repeated"):
        rk.relevance_from_frame(frame, duplicates="error")
    with pytest.raises(ValueError, match="out of range"):
        rk.relevance_from_frame(frame, n_items=3)


# ---- coverage, popularity, novelty -----------------------------------------------


def test_coverage_golden() -> None:
    # items shown: {0,1,2} ∪ {3} ∪ {6,7,8} ∪ {2,9,4} = 9 of 10 (item 5 never shown)
    assert rk.catalogue_coverage(RECS, N_ITEMS) == pytest.approx(0.9)
    # cut to k=1: {0, 3, 6, 2} -> 4/10
    assert rk.catalogue_coverage(RECS, N_ITEMS, 1) == pytest.approx(0.4)
    # 4 of 5 users got a list (u2 did not)
    assert_per_user(rk.user_coverage_per_user(RECS), [1, 1, 0, 1, 1])
    assert rk.user_coverage(RECS) == pytest.approx(0.8)
    assert rk.user_coverage(RECS, min_items=2) == pytest.approx(0.6)


def test_gini_golden() -> None:
    # uniform counts -> 0
    uniform = np.array([[0, 1], [2, 3], [1, 0], [3, 2]])
    assert rk.gini_index(uniform, 4) == pytest.approx(0.0, abs=1e-12)
    # all slots on one item, n=4: sorted counts (0,0,0,c): (2*4-5)c / (4c) = 3/4 ; /(3c) = 1
    one = np.array([[2], [2], [2]])
    assert rk.gini_index(one, 4) == pytest.approx(0.75)
    assert rk.gini_index(one, 4, denominator="n_minus_1") == pytest.approx(1.0)
    # golden case: counts sorted (0,1,1,1,1,1,1,1,1,2), total 10, n = 10.
    # sum (2j-11) c_j = (-7-5-3-1+1+3+5+7)*1 + 9*2 = 18 -> 18/100 ; n-1: 18/90
    assert rk.gini_index(RECS, N_ITEMS) == pytest.approx(0.18)
    assert rk.gini_index(RECS, N_ITEMS, denominator="n_minus_1") == pytest.approx(0.2)
    assert math.isnan(rk.gini_index(np.full((2, 2), -1), 4))


POP = np.array([8.0, 4.0, 2.0, 1.0, 1.0])  # sum 16 -> p = 1/2, 1/4, 1/8, 1/16, 1/16
SMALL_RECS = np.array([[0, 1, -1], [3, 4, 2], [-1, -1, -1]])


def test_novelty_golden() -> None:
    # self-information (bits) 1, 2, 3, 4, 4: u0 (1+2)/2, u1 (4+4+3)/3, u2 empty -> NaN
    per = rk.novelty_per_user(SMALL_RECS, POP)
    assert_per_user(per, [1.5, 11 / 3, NAN])
    assert rk.novelty(SMALL_RECS, POP) == pytest.approx((1.5 + 11 / 3) / 2)
    # denominator 32 (e.g. number of training users): every p halves -> +1 bit
    assert_per_user(rk.novelty_per_user(SMALL_RECS, POP, denominator=32), [2.5, 14 / 3, NAN])
    # an item unseen in training is floored at one count: p = 1/16, 4 bits, not inf
    pop0 = np.array([8.0, 4.0, 2.0, 2.0, 0.0])
    assert rk.novelty_per_user(np.array([[4]]), pop0)[0] == pytest.approx(4.0)


def test_arp_golden() -> None:
    # u0 (8+4)/2 = 6, u1 (1+1+2)/3 = 4/3, u2 empty -> NaN
    per = rk.average_recommendation_popularity_per_user(SMALL_RECS, POP)
    assert_per_user(per, [6.0, 4 / 3, NAN])
    assert rk.average_recommendation_popularity(SMALL_RECS, POP) == pytest.approx((6 + 4 / 3) / 2)


# ---- diversity, serendipity, calibration -----------------------------------------


def test_ild_category_golden() -> None:
    cats = np.array([0, 0, 1, 1, 2])
    recs = np.array([[0, 1, 2], [0, -1, 3], [4, -1, -1]])
    # u0 cats (0,0,1): pairs 0,1,1 -> 2/3 ; u1 (0,1) -> 1 ; u2 single item -> NaN
    per = rk.intra_list_diversity_per_user(recs, item_category=cats)
    assert_per_user(per, [2 / 3, 1.0, NAN])
    assert rk.intra_list_diversity(recs, item_category=cats) == pytest.approx((2 / 3 + 1) / 2)


def test_ild_cosine_golden() -> None:
    vecs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]])
    # d(0,1) = 1, d(0,2) = d(1,2) = 1 - 1/sqrt2 -> (3 - sqrt2)/3 ; items 0 and 3 parallel -> 0
    recs = np.array([[0, 1, 2], [0, 3, -1]])
    per = rk.intra_list_diversity_per_user(recs, item_vectors=vecs)
    assert_per_user(per, [(3 - math.sqrt(2)) / 3, 0.0])
    with pytest.raises(ValueError, match="exactly one"):
        rk.intra_list_diversity(recs)


def test_serendipity_golden() -> None:
    base = np.array([2, 3, 9])  # the popularity list, shared by all users
    # u0 [0,1,2]: relevant 1, 2; 2 is expected -> 1 serendipitous; unexpected {0,1}
    # u1 [3]:     relevant 3 is expected -> 0; no unexpected items -> 0
    # u2: no recs -> 0 ; u3 skipped ; u4 [2,9,4]: relevant 4 unexpected; unexpected {4}
    per_k = rk.serendipity_per_user(RECS, REL, base, K)
    assert_per_user(per_k, [1 / 3, 0, 0, NAN, 1 / 3])
    assert rk.serendipity(RECS, REL, base, K) == pytest.approx(1 / 6)
    per_u = rk.serendipity_per_user(RECS, REL, base, K, divisor="unexpected")
    assert_per_user(per_u, [1 / 2, 0, 0, NAN, 1])
    # per-user baseline: expecting exactly the recommended items leaves nothing serendipitous
    assert np.nansum(rk.serendipity_per_user(RECS, REL, RECS, K)) == 0.0


def test_calibration_kl() -> None:
    cats = np.array([0, 0, 1, 1])
    # u0: history {0, 2} -> p = (1/2, 1/2); recs (1, 3) -> q = (1/2, 1/2) -> KL = 0
    # u1: history {0, 1, 2} -> p = (2/3, 1/3); recs (0, 1) -> q = (1, 0);
    #     q~ = 0.99 q + 0.01 p = (0.99 + 0.02/3, 0.01/3)
    #     KL = 2/3 ln((2/3)/q~0) + 1/3 ln((1/3)/q~1)
    # u2: empty history -> NaN ; u3: empty list -> NaN
    recs = np.array([[1, 3], [0, 1], [0, 1], [-1, -1]])
    history = [{0, 2}, {0, 1, 2}, set(), {1}]
    q0, q1 = 0.99 + 0.01 * 2 / 3, 0.01 / 3
    u1 = 2 / 3 * math.log((2 / 3) / q0) + 1 / 3 * math.log((1 / 3) / q1)
    per = rk.calibration_kl_per_user(recs, history, cats)
    assert_per_user(per, [0.0, u1, NAN, NAN])
    assert rk.calibration_kl(recs, history, cats) == pytest.approx(u1 / 2)
    # alpha = 1 makes q~ = p -> 0 ; alpha = 0 with a missing history category -> inf
    assert np.nansum(rk.calibration_kl_per_user(recs, history, cats, alpha=1.0)) == 0.0
    assert rk.calibration_kl_per_user(recs, history, cats, alpha=0.0)[1] == math.inf
    # 2-D p(c|i) rows: items 0,1 are all-category-0, items 2,3 are 50/50
    # history {2} -> p = (1/2, 1/2); recs (3) -> q = (1/2, 1/2) -> 0
    soft = np.array([[1.0, 0.0], [2.0, 0.0], [1.0, 1.0], [0.5, 0.5]])
    out = rk.calibration_kl_per_user(np.array([[3, -1]]), [{2}], soft)
    assert out[0] == pytest.approx(0.0, abs=1e-12)


# ---- bootstrap ------------------------------------------------------------------


def test_bootstrap_ci_contains_mean_and_is_deterministic() -> None:
    values = np.random.default_rng(3).normal(0.4, 0.2, size=300)
    lo, hi = rk.bootstrap_ci(values, rng=np.random.default_rng(11))
    assert lo < values.mean() < hi
    assert hi - lo < 0.1  # ~ 2 * 1.96 * 0.2 / sqrt(300) = 0.045
    assert rk.bootstrap_ci(values, rng=np.random.default_rng(11)) == (lo, hi)
    assert rk.bootstrap_ci(values, rng=np.random.default_rng(12)) != (lo, hi)
    # NaNs are ignored: same draws as without them
    with_nan = np.concatenate([values, [np.nan, np.nan]])
    assert rk.bootstrap_ci(with_nan, rng=np.random.default_rng(11)) == (lo, hi)
    # degenerate inputs
    assert rk.bootstrap_ci([0.5, 0.5, 0.5], rng=np.random.default_rng(0)) == (0.5, 0.5)
    assert all(math.isnan(x) for x in rk.bootstrap_ci([np.nan], rng=np.random.default_rng(0)))
    # a narrower confidence level gives a narrower interval
    lo90, hi90 = rk.bootstrap_ci(values, alpha=0.1, rng=np.random.default_rng(11))
    assert lo <= lo90 and hi90 <= hi


# ---- report ---------------------------------------------------------------------


def test_ranking_report_rows_values_and_ci() -> None:
    pop = np.arange(1.0, N_ITEMS + 1)
    cats = np.arange(N_ITEMS) % 3
    kwargs: dict[str, Any] = {
        "item_popularity": pop,
        "item_category": cats,
        "history": REL,
        "baseline_recs": np.array([2, 3, 9]),
        "n_items": N_ITEMS,
    }
    rep = rk.ranking_report(RECS, REL, K, rng=np.random.default_rng(5), n_boot=200, **kwargs)
    assert list(rep.columns) == ["value", "ci_low", "ci_high", "n_users"]
    assert rep.loc["map@3", "value"] == pytest.approx(11 / 36)
    assert rep.loc["ndcg@3", "value"] == pytest.approx(rk.ndcg_at_k(RECS, REL, K))
    assert rep.loc["catalogue_coverage@3", "value"] == pytest.approx(0.9)
    assert rep.loc["gini@3", "value"] == pytest.approx(0.18)
    assert rep.loc["serendipity@3", "value"] == pytest.approx(1 / 6)
    assert rep.loc["novelty@3", "value"] == pytest.approx(rk.novelty(RECS, pop, K))
    assert rep.loc["calibration_kl@3", "value"] == pytest.approx(
        rk.calibration_kl(RECS, REL, cats, K)
    )
    assert rep.loc["precision@3", "n_users"] == 4  # u3 skipped
    assert rep.loc["user_coverage@3", "n_users"] == 5
    assert rep.loc["novelty@3", "n_users"] == 4  # u2 has an empty list
    per_user_rows = rep.drop(index=["catalogue_coverage@3", "gini@3"])
    assert (per_user_rows["ci_low"] <= per_user_rows["value"] + 1e-12).all()
    assert (per_user_rows["value"] <= per_user_rows["ci_high"] + 1e-12).all()
    assert rep.loc[["catalogue_coverage@3", "gini@3"], "ci_low"].isna().all()
    again = rk.ranking_report(RECS, REL, K, rng=np.random.default_rng(5), n_boot=200, **kwargs)
    pd.testing.assert_frame_equal(rep, again)
    # options are forwarded; no rng -> no intervals
    zero = rk.ranking_report(RECS, REL, K, empty_relevant="zero", ideal="k")
    assert zero.loc["hit_rate@3", "value"] == pytest.approx(3 / 5)
    assert zero.loc["ndcg@3", "value"] == pytest.approx(
        rk.ndcg_at_k(RECS, REL, K, ideal="k", empty_relevant="zero")
    )
    assert zero["ci_low"].isna().all()
    assert "novelty@3" not in zero.index and "catalogue_coverage@3" not in zero.index
