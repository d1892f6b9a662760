"""The `ray` executor: shards as Ray tasks on a cluster, the build's shared limits in a Ray actor.

Ray is an optional extra (`pip install datamakr[ray]`, or `pip install ray`): it is imported
when a build uses this executor, never by `--list` or another executor. Workers get paths (the
session folders, the cache folder), so every node must see them at the same path: a shared
filesystem. They import the toolbox and the config's plugin files themselves.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from toolbox.core.executor import Executor, Finished, ShardJob, WorkerLost, run_shard
from toolbox.core.plugin import SHARED_ACROSS_WORKERS
from toolbox.core.registry import register_executor

if TYPE_CHECKING:
    from toolbox.core.pipeline import Pipeline

TOOLBOX_PARENT = str(Path(__file__).resolve().parents[2])  # what a local cluster's workers import from


def _ray() -> Any:
    """The `ray` package, imported on first use (a missing one names the `ray` extra: cli.py)."""
    import ray

    return ray


@register_executor("ray")
class RayExecutor(Executor):
    """Shards as Ray tasks (`address`, else RAY_ADDRESS, else a local cluster); shared limits in an actor."""

    class Options(Executor.Options):
        address: str | None = None  # e.g. ray://head:10001 or auto; None: RAY_ADDRESS, else start a local cluster
        workers: int | None = Field(None, ge=1)  # shards at once; None: the cluster's CPUs / cpus_per_shard
        cpus_per_shard: float = Field(1.0, gt=0)  # CPUs a shard's OCR uses; reading and writing need none more
        memory_mb: int | None = Field(None, gt=0)  # memory a shard reserves on its node (Ray's `memory`)
        runtime_env: dict[str, Any] = Field(default_factory=dict)  # passed to ray.init (e.g. working_dir, pip)

    options: Options

    def cpus_per_worker(self) -> int | None:
        return max(1, math.ceil(self.options.cpus_per_shard))

    @contextlib.contextmanager
    def shared(self, pipeline: Pipeline) -> Iterator[dict[type, Any]]:
        """Connect (or start a local cluster), then serve each shared object from an actor
        that needs no CPU; the driver calls it too."""
        ray = _ray()
        started = not ray.is_initialized()
        if started:
            address = self.options.address or os.environ.get("RAY_ADDRESS") or None
            runtime_env = dict(self.options.runtime_env)
            if address is None:  # a local cluster: its workers import this toolbox
                env_vars = runtime_env.setdefault("env_vars", {})
                env_vars.setdefault(
                    "PYTHONPATH", os.pathsep.join(filter(None, [TOOLBOX_PARENT, os.environ.get("PYTHONPATH")]))
                )
            ray.init(address=address, runtime_env=runtime_env or None, include_dashboard=False, logging_level="WARNING")
        actors = {kind: ray.remote(num_cpus=0)(kind).remote() for kind in SHARED_ACROSS_WORKERS}
        try:
            proxies = {kind: ActorProxy(actor) for kind, actor in actors.items()}
            for kind, proxy in proxies.items():
                pipeline.ctx.provide(kind, proxy)
            yield proxies
        finally:
            for actor in actors.values():
                ray.kill(actor)
            if started:
                ray.shutdown()

    @contextlib.contextmanager
    def runner(self, pipeline: Pipeline, provided: dict[type, Any]) -> Iterator[_RayRunner]:
        ray = _ray()
        o = self.options
        capacity = o.workers or max(1, int(ray.cluster_resources().get("CPU", 1) // o.cpus_per_shard))
        resources: dict[str, Any] = {"num_cpus": o.cpus_per_shard, "max_retries": 0}  # retries are the build's
        if o.memory_mb:
            resources["memory"] = o.memory_mb * 1024 * 1024
        runner = _RayRunner(ray, ray.remote(_shard_in_parts).options(num_returns=2, **resources), capacity, provided)
        try:
            yield runner
        finally:
            runner.cancel()


class ActorProxy:
    """An actor's methods as plain blocking calls: what `Budget` calls in every worker."""

    def __init__(self, actor: Any) -> None:
        self._actor = actor

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self._actor, name)
        ray = _ray()
        return lambda *args: ray.get(method.remote(*args))


def _shard_in_parts(job: ShardJob, provided: dict[type, Any]) -> tuple[int, bytes]:
    """A shard's result as two objects: its size, which tells the driver it finished, and its
    JSON, which stays in the object store until the driver takes it."""
    data = run_shard(job, provided)
    return len(data), data


class _RayRunner:
    def __init__(self, ray: Any, task: Any, capacity: int, provided: dict[type, Any]) -> None:
        self.ray, self.task, self.capacity, self.provided = ray, task, capacity, provided
        self._running: dict[Any, tuple[ShardJob, Any]] = {}  # size ref -> (job, JSON ref)

    def submit(self, job: ShardJob) -> None:
        size, data = self.task.remote(job, self.provided)
        self._running[size] = (job, data)

    def wait(self) -> list[tuple[ShardJob, Finished | Exception]]:
        ray = self.ray
        ready, _ = ray.wait(list(self._running), num_returns=1)
        out: list[tuple[ShardJob, Finished | Exception]] = []
        for ref in ready:
            job, data = self._running.pop(ref)
            try:
                ray.get(ref)
                out.append((job, functools.partial(ray.get, data)))
            except ray.exceptions.RayTaskError as exc:  # the shard's own error, raised in the worker
                cause = exc.cause if isinstance(exc.cause, Exception) else exc
                out.append((job, cause))
            except ray.exceptions.RayError as exc:  # the worker or its node died, the object was lost
                out.append((job, WorkerLost(f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}")))
        return out

    def cancel(self) -> None:
        for ref in self._running:  # a task's first result stands for the task
            with contextlib.suppress(Exception):
                self.ray.cancel(ref, force=True)
        self._running.clear()
