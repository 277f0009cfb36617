"""Tests for recarena.numerics.prefetch: the hint is emitted, changes nothing, types clearly."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from recarena.numerics.prefetch import prefetch


@njit
def _row_sums_ahead(matrix, weights, rows):  # type: ignore[no-untyped-def]
    """Σ_f matrix[r, f] · weights[r] per listed row, hinting the rows two places ahead."""
    out = np.empty(rows.shape[0])
    for i in range(rows.shape[0]):
        if i + 2 < rows.shape[0]:
            prefetch(matrix, rows[i + 2])
            prefetch(weights, rows[i + 2])
        total = 0.0
        for f in range(matrix.shape[1]):
            total += matrix[rows[i], f]
        out[i] = total * weights[rows[i]]
    return out


def test_prefetch_changes_no_value() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(500, 7)).astype(np.float32)
    weights = rng.normal(size=500)
    rows = rng.integers(0, 500, size=300).astype(np.int32)
    expected = np.array([float(np.sum(matrix[r], dtype=np.float64)) * weights[r] for r in rows])
    np.testing.assert_allclose(_row_sums_ahead(matrix, weights, rows), expected, rtol=1e-12)


def test_prefetch_is_an_llvm_prefetch_per_array() -> None:
    _row_sums_ahead(np.zeros((4, 2)), np.zeros(4), np.arange(4))
    ir = next(iter(_row_sums_ahead.inspect_llvm().values()))
    assert "@llvm.prefetch" in ir
    # Two hints per row in the loop (the 2-D matrix and the 1-D weights).
    assert ir.count("call void @llvm.prefetch") >= 2


def test_prefetch_rejects_a_non_array() -> None:
    @njit
    def hint_a_number(x, i):  # type: ignore[no-untyped-def]
        prefetch(x, i)

    with pytest.raises(TypingError):
        hint_a_number(1.0, 0)
