"""The compiled ziggurat normals: the N(0, 1) law (moments, tails, the whole distribution),
determinism and independence of seeds. Seeded; thresholds sized for these seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from recarena.numerics.ziggurat import _F, _K, _W, fill_standard_normals, standard_normals

N = 2_000_000


@pytest.fixture(scope="module")
def draws() -> np.ndarray:
    out = np.empty(N)
    fill_standard_normals(out, 20261207)
    return out


def test_moments_are_those_of_a_standard_normal(draws: np.ndarray) -> None:
    se = 1.0 / math.sqrt(N)
    assert abs(draws.mean()) < 4.5 * se
    assert abs(draws.var() - 1.0) < 4.5 * math.sqrt(2.0) * se
    assert abs(stats.skew(draws)) < 4.5 * math.sqrt(6.0) * se
    assert abs(stats.kurtosis(draws)) < 4.5 * math.sqrt(24.0) * se


def test_the_whole_distribution_and_the_tails_beyond_r(draws: np.ndarray) -> None:
    assert stats.kstest(draws, "norm").pvalue > 1e-3
    # Beyond r = 3.654 every draw comes from the tail algorithm; beyond 4.5 from deep in it.
    for cut in (2.0, 3.0, 3.654, 4.5):
        p = 2.0 * stats.norm.sf(cut)
        observed = (np.abs(draws) > cut).mean()
        assert abs(observed - p) < 4.5 * math.sqrt(p * (1 - p) / N) + 1e-12, cut
    # Positive and negative halves alike (the sign bit).
    assert abs((draws > 0).mean() - 0.5) < 4.5 * 0.5 / math.sqrt(N)


def test_the_layers_have_equal_areas_and_the_edges_decrease() -> None:
    """Layer i spans x_i (width w_i 2⁵²) at height f_i: areas x_i (f_{i−1} − f_i) are v."""
    edges = _W * float(1 << 52)
    areas = edges[1:] * (_F[:-1] - _F[1:])
    np.testing.assert_allclose(areas, 0.00492867323399, rtol=1e-9)
    # The base layer: its rectangle up to r plus the tail beyond it, also of area v.
    tail = np.sqrt(np.pi / 2) * stats.norm.sf(3.6541528853610088) * 2
    assert edges[0] * _F[255] == pytest.approx(3.6541528853610088 * _F[255] + tail, rel=1e-9)
    assert (np.diff(edges[1:]) > 0).all() and (np.diff(_F) < 0).all()
    assert _K[1] == 0  # the top layer has no rectangle under another layer


def test_one_seed_one_result_and_seeds_differ() -> None:
    a = np.empty((300, 8), dtype=np.float32)
    b = np.empty((300, 8), dtype=np.float32)
    fill_standard_normals(a, 7)
    fill_standard_normals(b, 7)
    assert a.tobytes() == b.tobytes()
    fill_standard_normals(b, 8)
    assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 4.5 / math.sqrt(a.size)
    # Through a generator: one word of it per call, so successive calls differ.
    rng1, rng2 = np.random.default_rng(3), np.random.default_rng(3)
    first = standard_normals((50, 4), rng1)
    assert first.dtype == np.float32
    assert first.tobytes() == standard_normals((50, 4), rng2).tobytes()
    assert first.tobytes() != standard_normals((50, 4), rng1).tobytes()


def test_a_strided_array_is_refused() -> None:
    with pytest.raises(ValueError, match="C-contiguous"):
        fill_standard_normals(np.empty((4, 6))[:, ::2], 1)
