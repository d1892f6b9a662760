from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.managers import BaseManager
from typing import TYPE_CHECKING, Any

from toolbox.core.executor import Executor, Finished, InProcess, ShardJob, WorkerLost, run_shard
from toolbox.core.plugin import SHARED_ACROSS_WORKERS
from toolbox.core.processes import pool_processes
from toolbox.core.registry import register_executor

if TYPE_CHECKING:
    from toolbox.core.pipeline import Pipeline

# Workers start fresh (spawn), as on a cluster: they import the toolbox and the config's plugin
# files themselves, and inherit no thread or lock of the driver.
START_METHOD = "spawn"


@register_executor("local")
class LocalExecutor(Executor):
    """Shards in `workers` processes on this machine; 1 worker (the default): in this process."""

    def cpus_per_worker(self) -> int | None:
        workers = self.options.workers
        return None if workers == 1 else max(1, (os.cpu_count() or 1) // workers)

    def shared(self, pipeline: Pipeline) -> contextlib.AbstractContextManager[dict[type, Any]]:
        if self.options.workers == 1:
            return super().shared(pipeline)
        return _served(pipeline)

    @contextlib.contextmanager
    def runner(self, pipeline: Pipeline, provided: dict[type, Any]) -> Iterator[InProcess | _Pool]:
        if self.options.workers == 1:
            yield InProcess(provided)
            return
        pool = _Pool(self.options.workers, provided)
        try:
            yield pool
        except BaseException:
            pool.close(kill=True)
            raise
        pool.close(kill=False)


class _Manager(BaseManager):
    """Serves the build's one instance of each `shared_across_workers` class from a process of its own."""


@contextlib.contextmanager
def _served(pipeline: Pipeline) -> Iterator[dict[type, Any]]:
    for kind in SHARED_ACROSS_WORKERS:
        _Manager.register(_typeid(kind), kind)
    manager = _Manager(ctx=multiprocessing.get_context(START_METHOD))
    manager.start()
    try:
        proxies = {kind: getattr(manager, _typeid(kind))() for kind in SHARED_ACROSS_WORKERS}
        for kind, proxy in proxies.items():
            pipeline.ctx.provide(kind, proxy)
        yield proxies
    finally:
        manager.shutdown()


def _typeid(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}".replace(".", "_")


_provided: dict[type, Any] = {}  # in a worker process: the proxies its shards use


def _init_worker(provided: dict[type, Any]) -> None:
    _provided.update(provided)


def _run(job: ShardJob) -> bytes:
    return run_shard(job, _provided)


class _Pool:
    """`capacity` worker processes, each doing one shard at a time. Each is a pool of one, so a
    process that dies costs only its own shard (reported as `WorkerLost`), and is replaced."""

    def __init__(self, capacity: int, provided: dict[type, Any]) -> None:
        self.capacity = capacity
        self.provided = provided
        self._pools: list[ProcessPoolExecutor | None] = [None] * capacity
        self._processes: list[list[Any]] = [[] for _ in range(capacity)]  # each pool's, kept for its exit code
        self._running: dict[Future[bytes], tuple[int, ShardJob]] = {}

    def submit(self, job: ShardJob) -> None:
        busy = {slot for slot, _ in self._running.values()}
        slot = next(i for i in range(self.capacity) if i not in busy)
        pool = self._pools[slot]
        if pool is None:
            pool = self._pools[slot] = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context(START_METHOD),
                initializer=_init_worker,
                initargs=(self.provided,),
            )
        self._running[pool.submit(_run, job)] = (slot, job)
        self._processes[slot] = pool_processes(pool) or self._processes[slot]

    def wait(self) -> list[tuple[ShardJob, Finished | Exception]]:
        done, _ = wait(list(self._running), return_when=FIRST_COMPLETED)
        out: list[tuple[ShardJob, Finished | Exception]] = []
        for future in done:
            slot, job = self._running.pop(future)
            try:
                out.append((job, future.result()))
            except BrokenProcessPool:
                out.append((job, WorkerLost(f"its worker process died{_exit_status(self._processes[slot])}")))
                self._discard(slot)
            except Exception as exc:  # noqa: BLE001 - the shard's own error: counted, maybe retried
                out.append((job, exc))
        return out

    def close(self, kill: bool) -> None:
        """Wait for the workers to end; `kill`: stop them now (Ctrl+C, an error in the driver)."""
        for slot in range(self.capacity):
            if kill:
                for process in self._processes[slot]:
                    process.terminate()
            self._discard(slot)

    def _discard(self, slot: int) -> None:
        pool = self._pools[slot]
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._pools[slot] = None


def _exit_status(processes: list[Any]) -> str:
    for process in processes:
        process.join(timeout=1)
        code = process.exitcode
        if code is not None and code < 0:
            return f" (signal {-code})"
        if code:
            return f" (exit code {code})"
    return ""
