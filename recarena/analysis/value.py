r"""Long-term value per starting user and counterfactual regret against the oracle arm.

Per-decision pseudo-regret (:mod:`recarena.analysis.regret`) compares each decision with the
oracle's best action *on the arm's own trajectory*: sessions that never happen because a
policy drove users away cost it nothing, so a policy that loses its users can look better
than one that keeps them. The headline numbers here count those sessions.

Long-term value
---------------
Let :math:`\mathcal U_0` be the users present at the start (``lifecycle`` arrivals at
:math:`t \le 0`; the same users in every arm of a seed under common random numbers) and
:math:`U_0 = |\mathcal U_0|`. Over the horizon, per starting user,

.. math::

    V_\text{clicks} = \frac{1}{U_0} \sum_{i:\, u_i \in \mathcal U_0} \mu_i, \qquad
    V_\text{conv} = \frac{C_0}{U_0}, \qquad V_\text{rev} = \frac{R_0}{U_0},

with :math:`\mu_i` the oracle's P(click) of what decision :math:`i` showed (expected clicks,
no click noise), :math:`C_0` and :math:`R_0` the conversions and revenue of starting users
logged by the horizon (realised; the log holds no oracle column for them). A user who churned
contributes nothing after churning; a policy that keeps users gets their extra sessions. The
denominator does not depend on the policy, so values of arms compare directly.

Counterfactual regret
---------------------
For the arm whose policy is the oracle (``kind: oracle``), paired by seed under common random
numbers,

.. math:: \rho_\text{arm}(s) = V_\text{oracle}(s) - V_\text{arm}(s),

averaged over seeds with a confidence interval over seeds (the seed is the replication).
The oracle shows each session the slate with the highest current P(click): it is *myopically*
optimal, not necessarily the best long-term policy (a slate that satisfies users may keep
more of them). An arm can therefore have negative counterfactual regret; value differences
between arms stay meaningful either way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from recarena.analysis.stats import ARM, SEED
from recarena.simulator.log import LIFECYCLE_ARRIVAL, Col, Table
from recarena.typing import IntArray

__all__ = [
    "CF_REGRET",
    "STARTING_USERS",
    "VALUE",
    "VALUE_CLICKS",
    "VALUE_CONVERSIONS",
    "VALUE_REVENUE",
    "add_counterfactual_regret",
    "long_term_value",
    "oracle_arm",
    "starting_users",
]

STARTING_USERS = "starting_users"
VALUE_CLICKS = "value_clicks"
VALUE_CONVERSIONS = "value_conversions"
VALUE_REVENUE = "value_revenue"
#: The value metrics, in display order.
VALUE: tuple[str, ...] = (VALUE_CLICKS, VALUE_CONVERSIONS, VALUE_REVENUE)
#: Counterfactual-regret column of each value metric.
CF_REGRET: dict[str, str] = {v: f"cf_regret_{v.removeprefix('value_')}" for v in VALUE}

ORACLE_KIND = "oracle"


def starting_users(lifecycle: pd.DataFrame) -> IntArray:
    """Ids of the users present at the start: arrivals logged at :math:`t \\le 0`."""
    event = lifecycle[Col.EVENT].to_numpy()
    at_start = (event == LIFECYCLE_ARRIVAL) & (lifecycle[Col.T].to_numpy(np.float64) <= 0.0)
    return np.unique(lifecycle[Col.USER].to_numpy(np.int64)[at_start])


def long_term_value(tables: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """Value per starting user of one run (module docstring): expected clicks, conversions
    and revenue, plus ``starting_users``. NaN without a lifecycle table or starting users;
    ``value_clicks`` is NaN too when a decision lacks its oracle ``expected_reward``."""
    empty = pd.DataFrame()
    lifecycle = tables.get(Table.LIFECYCLE, empty)
    users = starting_users(lifecycle) if len(lifecycle) else np.zeros(0, np.int64)
    out = {**dict.fromkeys(VALUE, math.nan), STARTING_USERS: float(users.size)}
    if users.size == 0:
        return out
    decisions = tables.get(Table.DECISIONS, empty)
    if len(decisions):
        mine = np.isin(decisions[Col.USER].to_numpy(np.int64), users)
        expected = decisions[Col.EXPECTED_REWARD].to_numpy(np.float64)[mine]
        out[VALUE_CLICKS] = float(expected.sum()) / users.size
    else:
        out[VALUE_CLICKS] = 0.0
    conversions = tables.get(Table.CONVERSIONS, empty)
    if len(conversions):
        mine = np.isin(conversions[Col.USER].to_numpy(np.int64), users)
        out[VALUE_CONVERSIONS] = float(mine.sum()) / users.size
        revenue = conversions[Col.REVENUE].to_numpy(np.float64)[mine]
        out[VALUE_REVENUE] = float(revenue.sum()) / users.size
    else:
        out[VALUE_CONVERSIONS] = out[VALUE_REVENUE] = 0.0
    return out


def oracle_arm(scenario: Mapping[str, Any]) -> str | None:
    """Name of the first arm whose session policy is the oracle (``None`` when none is)."""
    for arm in scenario.get("arms") or []:
        if isinstance(arm, Mapping) and (arm.get("policy") or {}).get("kind") == ORACLE_KIND:
            return str(arm.get("name"))
    return None


def add_counterfactual_regret(per_run: pd.DataFrame, oracle: str | None) -> pd.DataFrame:
    """``per_run`` with a :data:`CF_REGRET` column per value metric present.

    Each row gets :math:`V_\\text{oracle}(s) - V_\\text{arm}(s)` for its seed ``s``: NaN when
    there is no oracle arm or the seed has no oracle run.
    """
    out = per_run.copy()
    for value, regret in CF_REGRET.items():
        if value not in out.columns:
            continue
        if oracle is None:
            out[regret] = math.nan
            continue
        reference = out.loc[out[ARM] == oracle].set_index(SEED)[value]
        out[regret] = out[SEED].map(reference).to_numpy(np.float64) - out[value].to_numpy(
            np.float64
        )
    return out
