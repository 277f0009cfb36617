"""A plugin policy that forgets to implement ``_act``, for the loader's plugin checks."""

from __future__ import annotations

from typing import Literal

from recarena.policies.base import Policy, PolicyParams, Surface


class Unfinished(Policy):
    """Abstract: no ``_act``."""

    class Params(PolicyParams):
        kind: Literal["unfinished"] = "unfinished"

    kind = "unfinished"
    summary = "Never finished."
    surfaces = frozenset({Surface.SLATE})
