"""A run whose oracle columns would hold NaN or infinity stops loudly."""

from __future__ import annotations

import numpy as np
import pytest

from recarena.simulator.engine import _check_finite
from recarena.simulator.log import Col


def test_non_finite_oracle_column_stops_the_run() -> None:
    _check_finite(Col.EXPECTED_REWARD, np.array([0.1, 0.9]))
    for bad in (np.nan, np.inf):
        with pytest.raises(FloatingPointError, match="expected_reward"):
            _check_finite(Col.EXPECTED_REWARD, np.array([0.1, bad]))
