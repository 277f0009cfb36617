"""An advisory lock on a results directory, held for the whole sweep.

Two sweeps writing into one directory would delete each other's temporary run directories
and race on the manifest. The lock is ``fcntl.flock`` on ``<dir>/.recarena.lock``, which holds
the holder's PID for the message a second process gets (emptied on release). The kernel
drops a flock when its holder dies, so the lock of a killed process is free: the next sweep
takes it over (and says so: a PID is still recorded) without any staleness heuristics.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

__all__ = ["LOCK_FILE", "ResultsDirectoryLocked", "ResultsLock"]

LOCK_FILE = ".recarena.lock"


class ResultsDirectoryLocked(RuntimeError):
    """Another live process holds the results directory."""


class ResultsLock:
    """Context manager holding the lock of ``directory`` (which must exist).

    Attributes
    ----------
    taken_over
        The PID recorded by a previous holder that died without releasing it, if any.
    """

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / LOCK_FILE
        self.taken_over: int | None = None
        self._fd: int | None = None

    def _recorded_pid(self) -> int | None:
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return int(text) if text.isdigit() else None

    def acquire(self) -> None:
        """Take the lock; raise :class:`ResultsDirectoryLocked` naming the holder's PID."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = self._recorded_pid()
            holder = f"PID {pid}" if pid is not None else "another process"
            raise ResultsDirectoryLocked(
                f"results directory {self.path.parent} is in use by {holder} (a sweep is "
                "running into it); wait for it to finish or choose another --out"
            ) from None
        previous = self._recorded_pid()
        if previous is not None and previous != os.getpid():
            self.taken_over = previous
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        """Give the lock up. The file stays, emptied (unlinking it could let a process that
        opened it just before lock an orphaned inode while a third locks a new file)."""
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> ResultsLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
