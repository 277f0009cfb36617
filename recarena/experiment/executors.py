"""Where runs execute: in this process, a local process pool, or a Dask distributed cluster.

An :class:`Executor` maps a picklable function over items and yields results as they finish
(in any order). The runner gives it one item per (point, seed, arm); because every run is a
pure function of its scenario, seed and arm, where it runs cannot change what it writes.

* :class:`InlineExecutor` — one after another in this process (with per-day progress).
* :class:`PoolExecutor` — a local process pool (joblib's loky backend).
* :class:`DaskExecutor` — Dask distributed: a ``LocalCluster`` on 127.0.0.1 with ``workers``
  single-threaded worker processes, or the scheduler at ``address`` (``tcp://host:port``).
  Dask is the cluster engine because it is pure Python, installs from PyPI in seconds with no
  daemon, runs the same code on a laptop's ``LocalCluster`` and on a real cluster
  (SSH, Kubernetes, HPC job queues via dask-jobqueue), and streams results back with
  ``as_completed`` — all a sweep needs, without Ray's object store and runtime services.
  Install it with ``pip install 'recarena[cluster]'``.

Workers must run the same recarena (a remote cluster's version is checked before anything is
submitted): results are only bit-identical to a local run when the code is.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Sequence
from importlib import metadata
from types import TracebackType
from typing import Any, TypeVar

from recarena.experiment.footprint import machine_memory

__all__ = [
    "DaskExecutor",
    "Executor",
    "ExecutorError",
    "InlineExecutor",
    "PoolExecutor",
    "loopback_cluster",
    "make_executor",
]

T = TypeVar("T")
R = TypeVar("R")


class ExecutorError(RuntimeError):
    """The executor cannot start (missing engine, unreachable scheduler, version mismatch)."""


class Executor(ABC):
    """Runs a function over items; results come back as they finish."""

    #: ``inline``, ``process`` or ``dask``
    kind: str = ""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)

    @abstractmethod
    def map_unordered(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        on_lost: Callable[[T, BaseException], R],
    ) -> Generator[R, None, None]:
        """``fn(item)`` for every item, yielded in completion order; closing the generator
        stops what is still running.

        ``fn`` should catch its own exceptions; ``on_lost(item, error)`` makes the result of
        an item whose worker was lost (killed, disconnected) where the engine can tell.
        """

    def worker_memory(self) -> int:
        """Bytes one worker may use: the machine's memory shared by the workers."""
        return machine_memory() // self.workers

    def describe(self) -> str:
        """One line for the terminal, e.g. ``process pool, 2 workers``."""
        return f"{self.kind}, {self.workers} worker(s)"

    def close(self) -> None:
        """Release workers (nothing to do by default)."""
        return None

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class InlineExecutor(Executor):
    """One item after another in this process."""

    kind = "inline"

    def __init__(self) -> None:
        super().__init__(1)

    def map_unordered(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        on_lost: Callable[[T, BaseException], R],
    ) -> Generator[R, None, None]:
        for item in items:
            yield fn(item)


class PoolExecutor(Executor):
    """A local process pool (joblib's loky backend: workers are reused across items)."""

    kind = "process"

    def map_unordered(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        on_lost: Callable[[T, BaseException], R],
    ) -> Generator[R, None, None]:
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=self.workers, backend="loky", return_as="generator_unordered")
        # A lost loky worker breaks the whole pool (TerminatedWorkerError): the runner
        # reports it as the sweep's failure; finished runs stay for --resume.
        yield from parallel(delayed(fn)(item) for item in items)

    def describe(self) -> str:
        return f"local process pool, {self.workers} worker(s)"


class DaskExecutor(Executor):
    """Dask distributed: a local cluster on 127.0.0.1, or an existing scheduler.

    Parameters
    ----------
    workers
        Worker processes of the local cluster (ignored with ``address``).
    address
        Scheduler address of an existing cluster; ``None`` starts a ``LocalCluster`` bound to
        127.0.0.1 (never another interface), closed with the executor.
    memory_limit
        Memory limit of each local worker, bytes (default: the machine's share).
    """

    kind = "dask"

    def __init__(
        self, workers: int, address: str | None = None, memory_limit: int | None = None
    ) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ExecutorError(
                "the dask executor needs Dask distributed: pip install 'recarena[cluster]'"
            ) from None
        self.address = address
        self._cluster: Any = None
        if address is None:
            super().__init__(workers)
            limit = memory_limit if memory_limit is not None else machine_memory() // self.workers
            self._cluster = loopback_cluster(self.workers, limit)
            self.client: Any = Client(self._cluster)
        else:
            try:
                self.client = Client(address, timeout="20s")
            except (OSError, TimeoutError) as exc:
                message = f"cannot reach the Dask scheduler at {address}: {exc}"
                raise ExecutorError(message) from None
            super().__init__(max(1, len(self._workers_info())))
        self._memory_limit = memory_limit
        self._check_versions()

    def _workers_info(self) -> dict[str, Any]:
        info: dict[str, Any] = self.client.scheduler_info(n_workers=-1).get("workers", {})
        return info

    def _check_versions(self) -> None:
        mine = _recarena_version()
        try:
            versions = self.client.run(_recarena_version)
        except Exception as exc:  # e.g. workers that cannot import recarena at all
            self.close()
            raise ExecutorError(f"Dask workers cannot run recarena: {exc}") from None
        wrong = {w: v for w, v in versions.items() if v != mine}
        if wrong:
            self.close()
            raise ExecutorError(
                f"Dask workers must run recarena {mine} like this driver (results are only "
                f"identical with identical code); found {wrong}"
            )

    def map_unordered(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        on_lost: Callable[[T, BaseException], R],
    ) -> Generator[R, None, None]:
        from distributed import as_completed

        if not items:
            return
        futures = self.client.map(fn, list(items), pure=False, retries=0)
        item_of = {f.key: item for f, item in zip(futures, items, strict=True)}
        try:
            for future in as_completed(futures):
                try:
                    yield future.result()
                except Exception as exc:  # worker lost (KilledWorker, comm error, …)
                    yield on_lost(item_of[future.key], exc)
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def worker_memory(self) -> int:
        if self._memory_limit is not None:
            return self._memory_limit
        limits = [int(w.get("memory_limit") or 0) for w in self._workers_info().values()]
        limits = [x for x in limits if x > 0]
        return min(limits) if limits else machine_memory() // self.workers

    def describe(self) -> str:
        where = self.address or "local cluster on 127.0.0.1"
        return f"dask ({where}), {self.workers} worker(s)"

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def loopback_cluster(workers: int, memory_limit: int | str = "auto") -> Any:
    """A Dask ``LocalCluster`` whose scheduler, nannies, workers and HTTP endpoints all
    listen on 127.0.0.1 only (by default the HTTP servers would bind every interface).

    ``workers`` single-threaded worker processes: a run is single-threaded, so one process
    per core uses the cores without oversubscribing them.
    """
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        worker_dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"dashboard": False},
        memory_limit=memory_limit,
    )


def _recarena_version() -> str:
    return metadata.version("recarena")


def make_executor(
    kind: str, workers: int, address: str | None = None, memory_limit: int | None = None
) -> Executor:
    """The executor called ``kind`` (``inline``, ``process`` or ``dask``).

    ``workers`` 0 means one per core; ``address`` only applies to ``dask``.
    """
    if workers == 0:
        workers = os.cpu_count() or 1
    if kind == "inline":
        return InlineExecutor()
    if kind == "process":
        return PoolExecutor(workers)
    if kind == "dask":
        return DaskExecutor(workers, address, memory_limit)
    raise ValueError(f"unknown executor {kind!r}; allowed: inline, process, dask")
