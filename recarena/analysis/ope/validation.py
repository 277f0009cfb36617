r"""Off-policy estimates against on-policy truth: bias, RMSE, coverage and ESS over seeds.

The truth of a target on a seed is its own on-policy run under common random numbers: the
mean over its decisions of the oracle's expected reward of what it showed
(``expected_reward``; the observed click when the oracle columns were not logged), or on
campaigns the mean response probability of the contacted (``p_treated``, 0 uncontacted). For
estimates :math:`\hat V_s` and truths :math:`V_s` over seeds s = 1..S:

.. math::

    \mathrm{bias} = \frac1S \sum_s (\hat V_s - V_s), \qquad
    \mathrm{RMSE} = \sqrt{\frac1S \sum_s (\hat V_s - V_s)^2}, \qquad
    \mathrm{coverage} = \frac1S \sum_s \mathbb 1[V_s \in \mathrm{CI}_s],

with a Clopper–Pearson interval on the coverage (it is a proportion over S seeds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recarena.simulator.log import Col
from recarena.stats.intervals import clopper_pearson_interval

__all__ = ["on_policy_value", "validation_summary"]


def on_policy_value(table: pd.DataFrame) -> float:
    """A run's value per decision, from its decisions or its campaigns table.

    Decisions: the mean ``expected_reward`` (the observed ``click`` without the oracle
    column). Campaigns: the mean over considered users of ``p_treated`` for those sent an
    offer and 0 for the rest — the expected responses to the campaign's contacts.
    """
    if Col.P_TREATED in table:
        sent = table[Col.OFFER].to_numpy() >= 0
        return float(np.where(sent, table[Col.P_TREATED].to_numpy(np.float64), 0.0).mean())
    if Col.EXPECTED_REWARD in table and table[Col.EXPECTED_REWARD].notna().all():
        return float(table[Col.EXPECTED_REWARD].mean())
    return float(table[Col.CLICK].mean())


def validation_summary(per_seed: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Summarise estimates against the truth per target and estimator.

    Parameters
    ----------
    per_seed
        ``seed, target, estimator, estimate, ci_low, ci_high, ess, truth``.
    level
        Level of the coverage's Clopper–Pearson interval.

    Returns
    -------
    pandas.DataFrame
        ``target, estimator, estimate, truth, bias, rmse, sd, coverage, coverage_low,
        coverage_high, ess, n_seeds``, in the input's order of targets and estimators.
    """
    frame = per_seed.assign(
        error=per_seed["estimate"] - per_seed["truth"],
        covered=(per_seed["ci_low"] <= per_seed["truth"])
        & (per_seed["truth"] <= per_seed["ci_high"]),
    )
    rows = []
    for (target, estimator), g in frame.groupby(["target", "estimator"], sort=False):
        s = len(g)
        hits = int(g["covered"].sum())
        low, high = clopper_pearson_interval(hits, s, level)
        rows.append(
            {
                "target": target,
                "estimator": estimator,
                "estimate": float(g["estimate"].mean()),
                "truth": float(g["truth"].mean()),
                "bias": float(g["error"].mean()),
                "rmse": float(np.sqrt((g["error"] ** 2).mean())),
                "sd": float(g["estimate"].std(ddof=1)) if s > 1 else float("nan"),
                "coverage": hits / s,
                "coverage_low": float(low),
                "coverage_high": float(high),
                "ess": float(g["ess"].mean()),
                "n_seeds": s,
            }
        )
    return pd.DataFrame(rows)
