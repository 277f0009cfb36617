"""Export a logged arm to Open Bandit Pipeline's ``bandit_feedback`` format.

Open Bandit Pipeline (Saito et al. 2021, *Open Bandit Dataset and Pipeline*; the ``obp``
package) evaluates policies on a dict it calls ``bandit_feedback``::

    n_rounds        int            number of logged decisions n
    n_actions       int            K
    action          int64 (n,)     logged action
    position        int64 (n,)     slot of the action (0: one slot, as on banners)
    reward          float64 (n,)   click
    pscore          float64 (n,)   logging propensity π₀(a_i | x_i)
    context         float64 (n, F) the user's encoded features at the decision
    action_context  float64 (K, K) one-hot action features (banners have no public features)

:func:`export_obp` writes it as an ``.npz`` file (plus ``user`` and ``t`` columns, which
OBP ignores), and :func:`load_bandit_feedback` reads it back into the dict, scalars as
``int``. The contexts come from the seed's world (``world.features``), so this lives in the
experiment layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from recarena.analysis.ope import check_propensities
from recarena.experiment.loading import scenario_from_dict
from recarena.simulator.log import Col, Table, read_table
from recarena.simulator.simulation import build_world

__all__ = ["ExportError", "export_obp", "load_bandit_feedback"]

_SCALARS = ("n_rounds", "n_actions")


class ExportError(ValueError):
    """The run cannot be exported (message names what is missing and what is allowed)."""


def export_obp(run_dir: Path | str, arm: str, out: Path | str, seed: int | None = None) -> Path:
    """Write the ``bandit_feedback`` dict of one arm's run as ``out`` (``.npz``).

    Parameters
    ----------
    run_dir
        A results directory written by ``recarena run``.
    arm
        The arm to export (its policy must have logged propensities).
    out
        The ``.npz`` file to write.
    seed
        Which seed's run (default: the scenario's first seed).

    Raises
    ------
    ExportError
        Not a results directory, an unknown arm or seed, a surface other than ``variant``,
        or a log without propensities.
    """
    run_dir = Path(run_dir)
    scenario_file = run_dir / "scenario.yaml"
    if not scenario_file.exists():
        raise ExportError(f"{run_dir} is not a results directory (no scenario.yaml)")
    config = scenario_from_dict(
        yaml.safe_load(scenario_file.read_text(encoding="utf-8")), str(scenario_file)
    )
    arms = [a.name for a in config.arms]
    if arm not in arms:
        raise ExportError(f"no arm {arm!r} in {run_dir}; arms: {', '.join(arms)}")
    seed = config.seeds[0] if seed is None else seed
    if seed not in config.seeds:
        raise ExportError(f"no seed {seed} in {run_dir}; seeds: {config.seeds}")
    if config.schedule.surface != "variant":
        raise ExportError(
            f"only the variant surface exports to OBP's bandit_feedback; this run's surface "
            f"is {config.schedule.surface!r}"
        )
    log_dir = run_dir / "runs" / f"seed={seed}" / f"arm={arm}"
    if not log_dir.is_dir():
        raise ExportError(f"the run seed={seed} arm={arm} has not finished in {run_dir}")
    log = read_table(log_dir, Table.DECISIONS, [Col.T, Col.USER, Col.ACTION, Col.PROPENSITY,
                                                Col.CLICK])  # fmt: skip
    try:
        pscore = check_propensities(log[Col.PROPENSITY].to_numpy(np.float64), arm)
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    world = build_world(config.world, config.schedule, seed)
    users = log[Col.USER].to_numpy(np.int64)
    n_actions = len(world.variants)
    feedback: dict[str, Any] = {
        "n_rounds": len(log),
        "n_actions": n_actions,
        "action": log[Col.ACTION].to_numpy(np.int64),
        "position": np.zeros(len(log), dtype=np.int64),
        "reward": log[Col.CLICK].to_numpy(np.float64),
        "pscore": pscore,
        "context": world.features[users].astype(np.float64),
        "action_context": np.eye(n_actions),
        "user": users,
        "t": log[Col.T].to_numpy(np.float64),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.npz")
    np.savez_compressed(tmp, **feedback)
    tmp.replace(out)
    return out


def load_bandit_feedback(path: Path | str) -> dict[str, Any]:
    """Read an export back as OBP's ``bandit_feedback`` dict (``n_rounds``/``n_actions`` as int)."""
    with np.load(Path(path)) as data:
        return {k: int(data[k]) if k in _SCALARS else data[k] for k in data.files}
