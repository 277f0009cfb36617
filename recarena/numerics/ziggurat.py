"""Standard normal draws by the ziggurat method, compiled, from an explicit seed.

The daily drift of every user's taste needs n_users × d normals (800,000 for 100k users and
d = 8); numpy's generator took ≈ 10 ns each on the benchmark machine, ≈ 85 ns per decision of
a run, more than the drift step itself. Here a draw costs ≈ 3 ns: 99% of them are one 64-bit
word, a table look-up and a comparison.

Marsaglia & Tsang, "The ziggurat method for generating random variables", J. Stat. Softw.
5(8), 2000: the density e^{−x²/2} is covered by 256 horizontal layers of equal area v (the
bottom one with the tail beyond r). One 64-bit word picks a layer (8 bits), a sign (1 bit) and
a position within the layer's width (52 bits); a point inside the layer's rectangle under the
next layer up is accepted at once, one in the wedge is accepted when a uniform lands under
the density, and one in the base layer's tail is drawn from the tail by Marsaglia's method
(x = −ln U₁ / r, accepted when −2 ln U₂ > x²). The words come from the SplitMix64 sequence
(Steele, Lea & Flood, OOPSLA 2014) started at the seed: no global state; one seed, one
result.

Bottom floor: imports only :mod:`recarena.numerics.counter_rng` (its SplitMix64 finaliser).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

from recarena.numerics.counter_rng import mix64

__all__ = ["fill_standard_normals", "standard_normals"]

#: The tail's start r and each layer's area v for 256 layers (Marsaglia & Tsang, 2000).
_R = 3.6541528853610088
_V = 0.00492867323399
_U64 = np.uint64
_GAMMA = _U64(0x9E3779B97F4A7C15)  # SplitMix64's increment (the golden ratio)
_S1, _S8, _S11 = _U64(1), _U64(8), _U64(11)
_LOW8 = _U64(0xFF)
_LOW52 = _U64((1 << 52) - 1)
_TWO_M53 = 1.0 / float(1 << 53)


def _tables() -> tuple[NDArray[np.uint64], NDArray[np.float64], NDArray[np.float64]]:
    """(k_i, w_i, f_i) of the 256 layers: acceptance thresholds on the 52-bit position,
    the position's scale to x, and the density at each layer's edge.

    With f(x) = e^{−x²/2} and x_255 = r, each next edge down is x_i = √(−2 ln(v/x_{i+1} +
    f(x_{i+1}))) (equal areas); the bottom layer's width is v / f(r) (its rectangle plus the
    tail). k_{i+1} = 2⁵² x_i / x_{i+1} accepts positions inside the rectangle under layer i.
    """
    scale = float(1 << 52)
    k = np.zeros(256, dtype=np.uint64)
    w = np.zeros(256)
    f = np.zeros(256)
    edge = inner = _R
    base = _V / math.exp(-0.5 * _R * _R)
    k[0] = _U64(_R / base * scale)
    w[0], w[255] = base / scale, _R / scale
    f[0], f[255] = 1.0, math.exp(-0.5 * _R * _R)
    for i in range(254, 0, -1):
        edge = math.sqrt(-2.0 * math.log(_V / edge + math.exp(-0.5 * edge * edge)))
        k[i + 1] = _U64(edge / inner * scale)
        inner = edge
        f[i] = math.exp(-0.5 * edge * edge)
        w[i] = edge / scale
    return k, w, f


_K, _W, _F = _tables()


@njit(cache=True, nogil=True, inline="always")
def _next_word(state):  # type: ignore[no-untyped-def]  # numba: uint64 in, (uint64, uint64) out
    """SplitMix64: advance the state by γ and return (state, the finalised word)."""
    state += _GAMMA
    return state, mix64(state)


@njit(cache=True, nogil=True, inline="always")
def _unit(word):  # type: ignore[no-untyped-def]
    """The top 53 bits of a word as a uniform in [0, 1)."""
    return np.float64(word >> _S11) * _TWO_M53


@njit(cache=True, nogil=True)
def _fill(flat, seed, k, w, f, r):  # type: ignore[no-untyped-def]
    state = seed
    for n in range(flat.shape[0]):
        while True:
            state, word = _next_word(state)
            layer = word & _LOW8
            word >>= _S8
            negative = (word & _S1) != 0
            position = (word >> _S1) & _LOW52
            x = np.float64(position) * w[layer]
            if negative:
                x = -x
            if position < k[layer]:  # inside the rectangle: ≈ 99% of draws
                break
            if layer == 0:  # the tail beyond r
                while True:
                    state, first = _next_word(state)
                    state, second = _next_word(state)
                    beyond = -math.log1p(-_unit(first)) / r
                    if -2.0 * math.log1p(-_unit(second)) > beyond * beyond:
                        break
                x = -(r + beyond) if negative else r + beyond
                break
            state, word = _next_word(state)  # the wedge: under the density?
            if f[layer] + _unit(word) * (f[layer - 1] - f[layer]) < math.exp(-0.5 * x * x):
                break
        flat[n] = x


def fill_standard_normals(out: NDArray[np.floating], seed: int) -> None:
    """Fill ``out`` (float32 or float64, C-contiguous, any shape) with N(0, 1) draws in
    memory order from the SplitMix64 sequence started at ``seed`` (reduced mod 2⁶⁴)."""
    if not out.flags.c_contiguous:
        raise ValueError("fill_standard_normals needs a C-contiguous array")
    _fill(out.reshape(-1), _U64(int(seed) % (1 << 64)), _K, _W, _F, _R)


def standard_normals(
    shape: tuple[int, ...], rng: np.random.Generator, dtype: type = np.float32
) -> NDArray[np.floating]:
    """An array of N(0, 1) draws, seeded by one 64-bit word of ``rng`` (which advances by
    that word, so successive calls give fresh draws)."""
    out: NDArray[np.floating] = np.empty(shape, dtype=dtype)
    fill_standard_normals(out, int(rng.integers(0, 1 << 64, dtype=np.uint64)))
    return out
