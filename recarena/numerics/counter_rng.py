"""Counter-based common random numbers: a uniform that is a pure function of its key.

:func:`uniform` maps ``(seed, user, counter, slot, purpose)`` to a float in [0, 1). The same
user in the same session and slot gets the same draw whichever policy is deployed, so two
arms of a comparison differ only by what their policies did, not by noise; a policy that
needs a sticky hash of a user (an A/B assignment) uses the same function with its own
:class:`Purpose`.

The mixing function is SplitMix64's finaliser (Steele, Lea & Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014), applied to a key built from the inputs with
odd 64-bit multipliers. Bottom floor: imports nothing of recarena.
"""

from __future__ import annotations

import math
from enum import IntEnum

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

__all__ = ["Purpose", "mix64", "normal", "uniform", "uniform_one"]

_U64 = np.uint64
# Odd constants (golden-ratio and SplitMix64 / Murmur3 multipliers) that spread each input
# over all 64 bits before the finaliser; distinct per input so swapped inputs do not collide.
_K_USER = _U64(0x9E3779B97F4A7C15)
_K_COUNTER = _U64(0xBF58476D1CE4E5B9)
_K_SLOT = _U64(0x94D049BB133111EB)
_K_PURPOSE = _U64(0xD6E8FEB86659FD93)
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = _U64(30), _U64(27), _U64(31), _U64(11)
_TWO_M53 = 1.0 / float(1 << 53)


class Purpose(IntEnum):
    """What a common random number is used for; part of its key so uses never share draws."""

    SESSION_GAP = 1
    CHOICE = 2
    CASCADE = 3
    CONVERSION = 4
    CONVERSION_DELAY = 5
    CHURN = 6
    OFFER_RESPONSE = 7
    VARIANT_CLICK = 8
    ASSIGNMENT = 9
    WIN_BACK = 10
    EXAMINATION = 11
    SCAN_CLICK = 12
    CONTINUATION = 13
    SESSION_BUDGET = 14


def uniform(
    seed: int,
    user: ArrayLike,
    counter: ArrayLike,
    slot: ArrayLike = 0,
    purpose: int = 0,
) -> NDArray[np.float64]:
    """Counter-based uniform draws in [0, 1), a pure function of their key.

    ``u = (mix(mix(seed ⊕ K₁·user ⊕ K₂·counter ⊕ K₃·slot ⊕ K₄·purpose) + purpose) >> 11)·2⁻⁵³``

    with all arithmetic modulo 2⁶⁴ and ``mix`` the SplitMix64 finaliser
    z ← (z ⊕ z≫30)·M₁; z ← (z ⊕ z≫27)·M₂; z ⊕ z≫31.

    Parameters
    ----------
    seed
        The run's root seed (any non-negative int; reduced mod 2⁶⁴).
    user, counter, slot
        Integer arrays broadcast together: user id, per-user counter (session index, day…),
        slot within the decision (position in a slate, offer index…).
    purpose
        A :class:`Purpose` so that different mechanisms never reuse a draw.

    Returns
    -------
    numpy.ndarray
        float64 array of the broadcast shape.
    """
    arrays = [np.asarray(x, dtype=np.int64) for x in (user, counter, slot)]
    shapes = {a.shape for a in arrays if a.ndim}
    # Each input goes in flat with n entries, or one entry that the kernel repeats (a scalar
    # slot needs no broadcast copy). The engine's calls (equal 1-d arrays and scalars) skip
    # numpy's broadcasting helpers, which cost several times the kernel on a batch.
    if len(shapes) <= 1 and all(a.ndim <= 1 for a in arrays):
        shape = shapes.pop() if shapes else ()
        flat = [a.reshape(-1) for a in arrays]
    else:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        flat = [a.reshape(1) if a.size == 1 else np.broadcast_to(a, shape).ravel() for a in arrays]
    n = math.prod(shape)
    out: NDArray[np.float64] = _uniform_kernel(
        _U64(seed % (1 << 64)),
        *(np.ascontiguousarray(a) for a in flat),
        _U64(purpose),
        n,
    )
    return out.reshape(shape)


@njit(cache=True, nogil=True)
def mix64(z):  # type: ignore[no-untyped-def]  # numba: uint64 in, uint64 out
    """SplitMix64 finaliser: a bijection on uint64 with full avalanche (also the output
    step of :mod:`recarena.numerics.ziggurat`'s SplitMix64 sequence)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, nogil=True)
def uniform_one(seed, user, counter, slot, purpose):  # type: ignore[no-untyped-def]
    """:func:`uniform` of one key, for compiled loops; seed and purpose as ``np.uint64``.

    Every operand is uint64 (numba would promote a uint64/int64 mix to float64).
    """
    key = (
        seed
        ^ (np.uint64(user) * _K_USER)
        ^ (np.uint64(counter) * _K_COUNTER)
        ^ (np.uint64(slot) * _K_SLOT)
        ^ (purpose * _K_PURPOSE)
    )
    key = mix64(mix64(key) + purpose)
    return np.float64(key >> _S11) * _TWO_M53


@njit(cache=True, nogil=True)
def _uniform_kernel(seed, user, counter, slot, purpose, n):  # type: ignore[no-untyped-def]
    # One compiled pass: the numpy form made ~12 temporaries per call. An input of length 1
    # is repeated (stride 0).
    out = np.empty(n)
    su, sc, ss = user.shape[0] > 1, counter.shape[0] > 1, slot.shape[0] > 1
    for i in range(n):
        out[i] = uniform_one(seed, user[i * su], counter[i * sc], slot[i * ss], purpose)
    return out


def normal(
    seed: int, user: ArrayLike, counter: ArrayLike, slot: ArrayLike = 0, purpose: int = 0
) -> NDArray[np.float64]:
    """Counter-based standard normal draws (Box–Muller on two keyed uniforms)."""
    u1 = uniform(seed, user, counter, slot, purpose)
    u2 = uniform(seed, user, counter, np.asarray(slot) + (1 << 20), purpose)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
