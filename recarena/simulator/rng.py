"""Randomness: named child streams from one root seed, and counter-based common random numbers.

Two kinds of randomness live in a run.

* **Streams** (:class:`RandomStreams`): one root :class:`numpy.random.SeedSequence` per run,
  spawned into named children (``"world"``, ``"arrivals"``, ``"policy/<arm>"``…). A child's
  seed depends only on the root seed and the child's name, never on the order in which
  streams are requested, so adding a stream never shifts another one.
* **Common random numbers** (:func:`uniform`): a uniform in [0, 1) that is a pure function of
  ``(seed, user, counter, slot, purpose)``. The same user in the same session and slot gets
  the same draw whichever policy is deployed, so two arms of a comparison differ only by what
  their policies did, not by noise.

The mixing function is SplitMix64's finaliser (Steele, Lea & Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014), applied to a key built from the inputs with
odd 64-bit multipliers. No global numpy or :mod:`random` state is used anywhere.
"""

from __future__ import annotations

import hashlib
import math
from enum import IntEnum

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

__all__ = ["Purpose", "RandomStreams", "normal", "uniform"]

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
def _mix(z):  # type: ignore[no-untyped-def]  # numba: uint64 in, uint64 out
    """SplitMix64 finaliser: a bijection on uint64 with full avalanche."""
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
    key = _mix(_mix(key) + purpose)
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


def _name_key(name: str) -> int:
    """A stable 64-bit integer for a stream name (hashlib, not ``hash()``, which is salted)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


class RandomStreams:
    """Named, order-independent child generators of one root seed.

    ``streams.generator("world")`` returns a fresh :class:`numpy.random.Generator` (PCG64)
    seeded by ``SeedSequence([root_seed, key(name)])``; asking twice gives two generators in
    the same state, so a component that needs reproducibility asks once and keeps it.

    Parameters
    ----------
    seed
        Root seed of the run, a non-negative integer.
    """

    def __init__(self, seed: int) -> None:
        if not isinstance(seed, int | np.integer) or int(seed) < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)

    def seed_sequence(self, name: str) -> np.random.SeedSequence:
        """The :class:`~numpy.random.SeedSequence` of the stream called ``name``."""
        return np.random.SeedSequence([self.seed, _name_key(name)])

    def generator(self, name: str) -> np.random.Generator:
        """A new generator for the stream called ``name``."""
        return np.random.Generator(np.random.PCG64(self.seed_sequence(name)))

    def int_seed(self, name: str) -> int:
        """A 32-bit integer seed for libraries that take an int (CatBoost, implicit, torch)."""
        return int(self.seed_sequence(name).generate_state(1, dtype=np.uint32)[0])

    def crn_seed(self) -> int:
        """The 64-bit key for :func:`uniform`, derived from the root seed."""
        return int(self.seed_sequence("crn").generate_state(1, dtype=np.uint64)[0])
