"""Tests for recarena.numerics.topk: ties, exclusion, padding, agreement with a full sort."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recarena.numerics.topk import top_k


def _reference_top_k(scores: np.ndarray, k: int, exclude: np.ndarray | None) -> np.ndarray:
    """Full stable sort: score descending, lower id first on ties; -1 for ineligible."""
    out = np.full((scores.shape[0], k), -1)
    for r, row in enumerate(scores):
        ok = np.isfinite(row) | (row > 0)
        if exclude is not None:
            ok &= ~exclude[r]
        ids = np.flatnonzero(ok)
        ids = ids[np.argsort(-row[ids], kind="stable")][:k]
        out[r, : ids.size] = ids
    return out


def test_top_k_ties_prefer_lower_ids() -> None:
    scores = np.array([[1, 3, 3, 2, 3], [0, 0, 0, 0, 0]], dtype=np.float32)
    idx, val = top_k(scores, 2)
    np.testing.assert_array_equal(idx, [[1, 2], [0, 1]])
    np.testing.assert_array_equal(val, [[3, 3], [0, 0]])
    assert val.dtype == np.float32 and idx.dtype == np.int64
    idx4, _ = top_k(scores, 4)
    np.testing.assert_array_equal(idx4, [[1, 2, 4, 3], [0, 1, 2, 3]])
    # -0.0 and 0.0 are a tie
    idx_z, _ = top_k(np.array([[-0.0, 0.0, -1.0]]), 2)
    np.testing.assert_array_equal(idx_z, [[0, 1]])


def test_top_k_exclusion_and_padding() -> None:
    scores = np.array([[1, 3, 3, 2, 3], [5, 4, 3, 2, 1]], dtype=np.float32)
    mask = np.zeros_like(scores, dtype=bool)
    mask[0, 1] = True
    mask[1, :4] = True
    idx, val = top_k(scores, 3, exclude_mask=mask)
    np.testing.assert_array_equal(idx, [[2, 4, 3], [4, -1, -1]])
    np.testing.assert_array_equal(val, [[3, 3, 2], [1, -np.inf, -np.inf]])
    idx_sp, val_sp = top_k(scores, 3, exclude_mask=sp.csr_array(mask))
    np.testing.assert_array_equal(idx_sp, idx)
    np.testing.assert_array_equal(val_sp, val)
    # -inf scores are never returned; k > n_items pads
    idx_inf, _ = top_k(np.array([[0.0, -np.inf, 2.0]]), 5)
    np.testing.assert_array_equal(idx_inf, [[2, 0, -1, -1, -1]])
    assert (scores == np.array([[1, 3, 3, 2, 3], [5, 4, 3, 2, 1]])).all()  # input untouched
    with pytest.raises(ValueError, match="NaN"):
        top_k(np.array([[0.0, np.nan]]), 1)
    with pytest.raises(ValueError, match="shape"):
        top_k(scores, 1, exclude_mask=mask[:1])


@pytest.mark.parametrize("block_rows", [None, 1, 7])
def test_top_k_matches_stable_full_sort_with_many_ties(block_rows: int | None) -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 4, size=(50, 40)).astype(np.float32)  # heavy ties
    scores[3] = 1.0  # one all-tied row
    exclude = rng.random(scores.shape) < 0.3
    exclude[5, :38] = True  # fewer eligible items than k
    for k in (1, 5, 17, 40, 45):
        idx, _ = top_k(scores, k, block_rows=block_rows)
        np.testing.assert_array_equal(idx, _reference_top_k(scores, k, None))
        idx_x, val_x = top_k(scores, k, exclude_mask=exclude, block_rows=block_rows)
        ref = _reference_top_k(scores, k, exclude)
        np.testing.assert_array_equal(idx_x, ref)
        expect = np.where(ref >= 0, np.take_along_axis(scores, np.maximum(ref, 0), 1), -np.inf)
        np.testing.assert_array_equal(val_x, expect)
    # continuous scores: plain descending order
    cont = rng.random((8, 100)).astype(np.float32)
    idx_c, val_c = top_k(cont, 10, block_rows=block_rows)
    np.testing.assert_array_equal(idx_c, np.argsort(-cont, axis=1, kind="stable")[:, :10])
    assert (np.diff(val_c, axis=1) <= 0).all()


@pytest.mark.parametrize("block_rows", [None, 3])
def test_top_k_large_catalogue_matches_stable_full_sort(block_rows: int | None) -> None:
    """Catalogues with more than 2k chunks go through the blockwise kernel."""
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 6, size=(20, 3001)).astype(np.float32)  # heavy ties
    scores[2] = 1.0
    scores[4, ::3] = -np.inf
    exclude = rng.random(scores.shape) < 0.3
    exclude[5, :2995] = True  # fewer eligible items than k
    cont = rng.standard_normal((9, 3001))
    for k in (1, 10, 23):
        idx, val = top_k(scores, k, block_rows=block_rows)
        ref = _reference_top_k(scores, k, None)
        np.testing.assert_array_equal(idx, ref)
        np.testing.assert_array_equal(val, np.take_along_axis(scores, ref, 1))
        for mask in (exclude, sp.csr_array(exclude)):
            idx_x, val_x = top_k(scores, k, exclude_mask=mask, block_rows=block_rows)
            ref = _reference_top_k(scores, k, exclude)
            np.testing.assert_array_equal(idx_x, ref)
            expect = np.where(ref >= 0, np.take_along_axis(scores, np.maximum(ref, 0), 1), -np.inf)
            np.testing.assert_array_equal(val_x, expect)
        np.testing.assert_array_equal(top_k(cont, k)[0], _reference_top_k(cont, k, None))
    bad = scores.copy()
    bad[1, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        top_k(bad, 5)
    with pytest.raises(ValueError, match="NaN"):
        top_k(bad, 5, exclude_mask=np.ones(bad.shape, dtype=bool))
