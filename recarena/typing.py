"""Array aliases and the closed-configuration base shared by every layer.

This module sits on the bottom floor: it imports nothing of recarena, so any module may use
it. Array aliases name the dtype a function expects (``FloatArray`` is float64 everywhere);
:class:`ClosedModel` is the base of every parameter and scenario model, so a misspelt key, a
NaN or an attempt to mutate a validated configuration is an error, never a silent default.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

__all__ = ["BoolArray", "ClosedModel", "Float32Array", "FloatArray", "IntArray"]

IntArray: TypeAlias = NDArray[np.int64]
FloatArray: TypeAlias = NDArray[np.float64]
Float32Array: TypeAlias = NDArray[np.float32]
BoolArray: TypeAlias = NDArray[np.bool_]


class ClosedModel(BaseModel):
    """A frozen pydantic model that rejects unknown keys and non-finite numbers.

    Closed (``extra="forbid"``) so a typo in a scenario is reported with the key path,
    frozen so a validated configuration cannot drift after it was checked, and
    ``allow_inf_nan=False`` so NaN or infinity never enters a run through a config value.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
