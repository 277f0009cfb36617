"""SIGTERM handled as Ctrl-C is, for the command line.

``kill``, ``timeout``, job schedulers and container runtimes stop a process with SIGTERM,
whose default action ends the interpreter on the spot: no ``finally`` runs, so a process
pool's workers outlive it (loky keeps idle workers for minutes, each holding its memory and
the parent's output pipes), the sweep's temporary run directories stay, and the results
directory is not tidied. Raised as an exception in the main thread instead, SIGTERM unwinds
the way a KeyboardInterrupt does: the pool aborts and stops its workers, the runner removes
what it created if no run finished, the lock is released, and finished runs are kept for
``--resume``.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Terminated", "sigterm_as_interrupt"]


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived. A KeyboardInterrupt, so that every handler that cleans up after
    Ctrl-C (joblib's pool, the runner, the lock) cleans up after it too."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    # A second SIGTERM while cleaning up ends the process at once, as a second Ctrl-C would
    # be expected to.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Terminated


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread; the previous
    handler is restored after it. Elsewhere than the main thread (where Python cannot set a
    handler) the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
