"""Randomness of a run: named child streams from one root seed.

One root :class:`numpy.random.SeedSequence` per run is spawned into named children
(``"world"``, ``"arrivals"``, ``"policy/<arm>"``…) by :class:`RandomStreams`. A child's seed
depends only on the root seed and the child's name, never on the order in which streams are
requested, so adding a stream never shifts another one. The per-decision common random
numbers are keyed by :meth:`RandomStreams.crn_seed` and drawn with
:func:`recarena.numerics.counter_rng.uniform`. No global numpy or :mod:`random` state is used
anywhere.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["RandomStreams"]


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
