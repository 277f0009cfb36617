"""Property-based checks of the common-random-number hash (recarena.numerics.counter_rng).

Hypothesis draws keys over the whole input domain (seeds up to 2⁶⁴ − 1, large user and
counter ids, every purpose) to check what the engine relies on: a draw lies in [0, 1), is a
pure function of its key whether computed alone, in a batch or in the compiled kernel, and a
change to any part of the key changes the draw.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recarena.numerics.counter_rng import Purpose, uniform, uniform_one

seeds = st.integers(min_value=0, max_value=2**64 - 1)
ids = st.integers(min_value=0, max_value=2**40)
slots = st.integers(min_value=0, max_value=2**20)
purposes = st.sampled_from(list(Purpose))


@settings(max_examples=300, deadline=None)
@given(seeds, ids, ids, slots, purposes)
def test_a_draw_is_a_uniform_of_its_key_alone(
    seed: int, user: int, counter: int, slot: int, purpose: Purpose
) -> None:
    single = float(uniform(seed, user, counter, slot, purpose))
    assert 0.0 <= single < 1.0
    compiled = uniform_one(np.uint64(seed), user, counter, slot, np.uint64(purpose))
    assert compiled == single
    batch = uniform(seed, np.array([user, user + 1, user]), counter, slot, purpose)
    assert batch[0] == single == batch[2]


@settings(max_examples=300, deadline=None)
@given(seeds, ids, ids, slots, purposes, st.sampled_from(["seed", "user", "counter", "slot"]))
def test_changing_any_part_of_the_key_changes_the_draw(
    seed: int, user: int, counter: int, slot: int, purpose: Purpose, part: str
) -> None:
    key = {"seed": seed, "user": user, "counter": counter, "slot": slot}
    other = dict(key)
    other[part] = (key[part] + 1) % (2**64 if part == "seed" else 2**41)
    a = float(uniform(key["seed"], key["user"], key["counter"], key["slot"], purpose))
    b = float(uniform(other["seed"], other["user"], other["counter"], other["slot"], purpose))
    # 53-bit outputs of a bijective mixer: a collision would be a 2⁻⁵³ event.
    assert a != b


@settings(max_examples=50, deadline=None)
@given(seeds, purposes)
def test_purposes_never_share_draws(seed: int, purpose: Purpose) -> None:
    users = np.arange(64)
    mine = uniform(seed, users, 0, 0, purpose)
    for other in Purpose:
        if other is not purpose:
            assert not np.any(mine == uniform(seed, users, 0, 0, other))
