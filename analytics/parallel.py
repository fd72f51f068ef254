"""Run the same function over chunks of series: in this process, in a process pool, or on Dask.

The seam between the analytics jobs and where they run. One machine: a pool of
processes (``workers``). More machines: a Dask distributed scheduler address
(``dask_address``, e.g. ``tcp://10.0.0.5:8786``); the same chunk function runs there,
so the jobs do not change when a city outgrows one machine.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

T = TypeVar("T")
R = TypeVar("R")


def chunks(items: Sequence[T], count: int) -> list[list[T]]:
    """``items`` split into at most ``count`` chunks of near-equal size, order kept."""
    count = max(1, min(count, len(items)))
    size, extra = divmod(len(items), count)
    out, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return [c for c in out if c]


def _one_thread_each() -> None:
    """A pool worker's numerical libraries use one thread: the pool is the parallelism.
    Two workers each running OpenBLAS on both cores made a pool of two barely faster than
    one process (speedup 1.2 on 2 cores; 1.96 with this)."""
    threadpool_limits(limits=1)


class Runner:
    """Maps a chunk function over chunks; holds its pool (or Dask client) between passes."""

    def __init__(self, *, workers: int = 1, dask_address: str | None = None) -> None:
        self.workers = max(1, workers)
        self.dask_address = dask_address
        self._pool: Executor | None = None
        self._client: Any = None

    def map(self, func: Callable[[list[T]], list[R]], items: Sequence[T], *, per_worker: int = 4) -> list[R]:
        """``func`` over chunks of ``items``; results concatenated in the order of ``items``."""
        if not items:
            return []
        if self.dask_address:
            client = self._dask()
            parts = chunks(items, per_worker * max(1, len(client.scheduler_info()["workers"])))
            futures = client.map(func, parts, pure=False)
            return [r for part in client.gather(futures) for r in part]
        if self.workers == 1:
            return func(list(items))
        if self._pool is None:
            # forkserver, not fork: the service forking itself would copy its MQTT client's
            # thread's locks into the workers half-held; a clean server process, with the
            # analytics modules imported once, forks them
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["analytics.passes"])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_one_thread_each)
        parts = chunks(items, per_worker * self.workers)
        return [r for part in self._pool.map(func, parts) for r in part]

    def _dask(self) -> Any:
        if self._client is None:
            from distributed import Client

            self._client = Client(self.dask_address, timeout="10s")  # type: ignore[no-untyped-call]
        return self._client

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
