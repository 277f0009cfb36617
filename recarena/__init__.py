"""recarena: recommendation and personalization policies meet a simulated user population.

Run a scenario with :func:`run` (or ``recarena run FILE`` on the command line) and inspect
the :class:`Results`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Results", "__version__", "load", "run"]

if TYPE_CHECKING:
    from recarena.api import Results, load, run


def __getattr__(name: str) -> Any:
    # Lazy, so `import recarena` (and the CLI's --help) stays fast.
    if name in ("Results", "load", "run"):
        from recarena import api

        return getattr(api, name)
    raise AttributeError(f"module 'recarena' has no attribute {name!r}")
