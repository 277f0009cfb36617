"""A software prefetch hint for compiled loops over scattered rows.

The engine's per-user passes read a few rows of each user in a batch (θ_u, ρ_u, the fatigue
ring, the oracle's cached shortlist), and a batch's users are scattered over arrays of
10⁵–10⁶ rows, so nearly every row is a cache miss. The out-of-order core overlaps the misses
of little more than the user it is copying; naming the rows of a user a few places ahead
lets their loads run while earlier users are processed (on this project's 100k-user
benchmark, the oracle's re-find of a best slate after a move ran ≈ 20% faster with its rows
and the user's rows requested four users ahead).

``prefetch`` is the LLVM intrinsic ``llvm.prefetch`` (read, keep in all cache levels, data
cache; LLVM Language Reference Manual): a hint that never faults and changes no value, so a
pass gives the same bits with or without it.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["prefetch"]

_READ, _KEEP_EVERYWHERE, _DATA_CACHE = 0, 3, 1


@intrinsic
def prefetch(typingctx: Any, array: Any, index: Any) -> Any:
    """Ask the CPU to start loading the cache line of ``array[index]`` (for an array of
    several dimensions, the first element of row ``index``). Compiled code only.

    ``index`` must be a valid row of ``array``; the load itself is never waited for.
    """
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        first = [context.get_constant(types.intp, 0)] * (array_type.ndim - 1)
        row = context.cast(builder, args[1], signature.args[1], types.intp)
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, [row, *first])
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        hint = builder.module.declare_intrinsic(
            "llvm.prefetch",
            [byte_pointer],
            ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
        )
        builder.call(
            hint,
            [builder.bitcast(pointer, byte_pointer), ir.Constant(i32, _READ),
             ir.Constant(i32, _KEEP_EVERYWHERE), ir.Constant(i32, _DATA_CACHE)],
        )  # fmt: skip
        return context.get_dummy_value()

    return types.void(array, index), codegen
