"""Where the per-record part of a build runs: in this process, in local worker processes, or on a
Ray cluster (the executors are plugins, in toolbox/executors/; this is their contract and what
they share).

The input is cut into shards (`Dataset.shards`: a session folder, a file). A worker takes one
shard through read -> tasks -> the leading per-episode filters (`worker_filters`) with a fresh
pipeline made from the build's config, and sends back, as JSON, every episode and drop in order,
the shard's counts (`BuildStats`) and what its shared objects did (`WorkerState`, e.g. the LLM
requests). The driver takes the shards back in input order, whatever order they finish in, and
runs the rest of the filters (dedupe, the judge) and the format itself; so the output is the
same bytes for any number of workers and any executor. In one process (`local`, 1 worker) the
shards go the same way, through the same JSON.

A finished shard is kept on disk (a marker under `<cache_dir>/shards/`, keyed by the output,
the config, the code and the shard's input digest) until the build's output is written, so a
build that was killed restarts where it stopped and ends with the same bytes. A shard whose
worker died is tried again (`retries`), then counted as failed, and the build goes on.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import resource
import shutil
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import orjson
from pydantic import BaseModel, Field
from pydantic_core import PydanticSerializationError, from_json, to_json

from toolbox.core.config import ExperimentConfig, PluginRef
from toolbox.core.dataset import Dataset, files_digest
from toolbox.core.filter import Dropped, Filter, worker_filters
from toolbox.core.io import write_atomic
from toolbox.core.memory import collect_shard
from toolbox.core.models import Episode, Source, ToolCall, ToolSpec, Turn
from toolbox.core.pipeline import FATAL, Pipeline, apply_filter, episodes, make_pipeline
from toolbox.core.plugin import SHARED_ACROSS_WORKERS, BuildContext, BuildStats, Options, Plugin, WorkerState, log
from toolbox.core.progress import progress

SHARD_FORMAT = 1  # part of every marker's key: a marker of another layout is never read
WINDOW_PER_SLOT = 4  # shards started at most this many times the capacity beyond the next one to take


class WorkerLost(Exception):
    """The process running a shard died (killed, out of memory, a crash in native code)."""


# -- what a worker sends back -----------------------------------------------------------------------


class ShardEvent(BaseModel):
    """An episode the worker's filters kept, or dropped (`drop`: filter, reason, detail)."""

    episode: Episode
    drop: tuple[str, str, str] | None = None


class ShardOutput(BaseModel):
    """One shard's result: what the driver replays, and what a marker holds."""

    version: int = SHARD_FORMAT
    shard: str
    events: list[ShardEvent] = Field(default_factory=list)
    stats: dict[str, Any]  # BuildStats.state() of the shard
    states: dict[str, dict[str, Any]] = Field(default_factory=dict)  # WorkerState kind -> shard_delta()
    reusable: bool = True  # may a restarted build take it from its marker
    seconds: float = 0.0  # time the worker spent on it
    worker: str = ""  # host:pid
    peak_rss_mb: float = 0.0  # the worker process's peak resident memory so far


@dataclass
class ShardJob:
    """What a worker needs to do one shard: paths and the config, never frames."""

    index: int  # position in the build's shard order
    dataset: int  # index into config.datasets
    shard: str  # Dataset.shards() value
    label: str  # how messages name it
    config: ExperimentConfig
    base_dir: Path
    marker: Path | None = None  # where the finished shard is kept; None: not kept
    limit: int | None = None  # read at most this many records (a build with `limit`)
    cpus: int | None = None  # CPUs the worker may use (its OCR processes)


@dataclass
class ShardReport:
    """How one shard went (bench/scale.py reads them)."""

    label: str
    reused: bool  # taken from its marker
    seconds: float
    worker: str
    peak_rss_mb: float
    size_mb: float  # its JSON, as it came back (Ray's object store holds it until its turn); 0: done in the driver


# -- the worker side ------------------------------------------------------------------------------------


class _OneShard(Dataset):
    """A dataset narrowed to one of its shards (counted under the dataset's name)."""

    def __init__(self, dataset: Dataset, shard: str) -> None:
        super().__init__(dataset.options, dataset.ctx)
        self.dataset, self.shard = dataset, shard
        self.plugin_name = dataset.plugin_name  # type: ignore[misc]

    def records(self) -> Iterator[Any]:
        return self.dataset.shard_records(self.shard)


def run_shard(job: ShardJob, provided: dict[type, Any]) -> bytes:
    """Do one shard with a fresh pipeline (so nothing of another shard leaks into it) and return
    its `ShardOutput` as JSON; keep it as the shard's marker when it may be reused."""
    output, stats = _do_shard(job, provided)
    try:
        data = output.model_dump_json().encode("utf-8")
    except (PydanticSerializationError, ValueError):  # metadata JSON cannot hold: left out where it is
        output.events = [_json_safe(event, stats) for event in output.events]
        output.stats = stats.state()
        data = output.model_dump_json().encode("utf-8")
    _keep(job, output, data)
    return data


def run_shard_here(job: ShardJob, provided: dict[type, Any]) -> ShardOutput:
    """`run_shard` for a shard done in the driver's own process: the same `ShardOutput` its JSON
    would bring back, without making and parsing that JSON (a quarter of a file conversion's
    CPU). Episodes made only of JSON values (nearly all) come back as they are; any other goes
    through JSON like a worker's, so the output is the same bytes whatever the executor."""
    output, stats = _do_shard(job, provided)
    output.events = [_as_carried(event, stats) for event in output.events]
    output.stats = from_json(to_json(stats.state()))
    output.states = from_json(to_json(output.states))
    if job.marker is not None and output.reusable:
        _keep(job, output, output.model_dump_json().encode("utf-8"))
    return output


def _do_shard(job: ShardJob, provided: dict[type, Any]) -> tuple[ShardOutput, BuildStats]:
    _worker_logging()
    started = time.perf_counter()
    pipeline = make_pipeline(job.config, job.base_dir, provided)
    ctx = pipeline.ctx
    ctx.cpus, ctx.limit = job.cpus, job.limit
    filters = worker_filters(pipeline.filters)
    pipeline.datasets = [_OneShard(pipeline.datasets[job.dataset], job.shard)]
    events = [_event(item) for item in per_episode(pipeline, episodes(pipeline), filters)]
    states = ctx.worker_states()
    deltas = {_kind_name(kind): state.shard_delta() for kind, state in states.items()}  # before the stats: a
    # state may take its own figures out of them (the driver's state publishes the build's)
    output = ShardOutput(
        shard=job.label,
        events=events,
        stats=ctx.stats.state(),
        states=deltas,
        reusable=all(state.shard_reusable() for state in states.values()),
        seconds=round(time.perf_counter() - started, 3),
        worker=f"{socket.gethostname()}:{os.getpid()}",
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )
    return output, ctx.stats


def _keep(job: ShardJob, output: ShardOutput, data: bytes) -> None:
    if job.marker is not None and output.reusable:
        try:
            write_atomic(job.marker, data)
        except OSError as exc:  # the build goes on; only a restart would do this shard again
            log.warning("%s: cannot keep the finished shard for a restart (%s)", job.label, exc.strerror or exc)


def per_episode(pipeline: Pipeline, stream: Iterable[Episode], filters: list[Filter]) -> Iterator[Episode | Dropped]:
    """`stream` through per-episode filters, one episode at a time, keeping each drop in its
    place: the same order of kept and dropped episodes as the filters chained in one process."""
    out: Iterator[Episode | Dropped] = iter(stream)
    for flt in filters:
        out = _through(pipeline, flt, out)
    return out


def _through(pipeline: Pipeline, flt: Filter, stream: Iterator[Episode | Dropped]) -> Iterator[Episode | Dropped]:
    for item in stream:
        if isinstance(item, Dropped):
            yield item
        else:
            yield from apply_filter(flt, iter((item,)))


def _event(item: Episode | Dropped) -> ShardEvent:
    if isinstance(item, Dropped):
        return ShardEvent(episode=item.episode, drop=(item.filter, item.reason, item.detail))
    return ShardEvent(episode=item)


def _as_carried(event: ShardEvent, stats: BuildStats) -> ShardEvent:
    """The event as a worker's JSON brings it back: itself when it holds only JSON values."""
    if _only_json(event.episode):
        return event
    return ShardEvent.model_validate_json(_json_safe(event, stats).model_dump_json())


def _only_json(episode: Episode) -> bool:
    """Does the episode come back from JSON equal to itself: the models' own classes, and in
    their free-form fields (metadata, arguments, parameters) only what JSON gives back alike
    (not a tuple, a set, a float such as inf, a key that is not a string, a datetime)."""
    if type(episode) is not Episode or type(episode.source) is not Source:
        return False
    if not all(type(tool) is ToolSpec and _json_value(tool.parameters) for tool in episode.tools):
        return False
    for turn in episode.turns:
        if type(turn) is not Turn:
            return False
        if not all(type(call) is ToolCall and _json_value(call.arguments) for call in turn.tool_calls):
            return False
    return not episode.metadata or _json_value(episode.metadata)


def _json_value(value: Any) -> bool:
    try:
        return bool(orjson.loads(orjson.dumps(value)) == value)
    except (TypeError, ValueError):  # orjson cannot write it (a set, a key that is not a string)
        return False


def _json_safe(event: ShardEvent, stats: BuildStats) -> ShardEvent:
    """The event as JSON can carry it: metadata a plugin filled with something JSON cannot hold
    is left out (formats do not write it), as the episodes log does."""
    try:
        event.model_dump_json()
        return event
    except (PydanticSerializationError, ValueError) as exc:
        episode = event.episode
        stats.problem("episode metadata", f"episode {episode.id}: metadata is not JSON ({str(exc)[:120]}); left out")
        return event.model_copy(update={"episode": episode.model_copy(update={"metadata": {}})})


def _worker_logging() -> None:
    """A worker process that nobody configured logs warnings as the CLI does."""
    if not logging.getLogger().handlers and not log.handlers:
        logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")


def _kind_name(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


# -- the driver side -----------------------------------------------------------------------------------


# A finished shard: its JSON, or a call that fetches it (Ray leaves it in the object store until
# the driver takes it, so the shards waiting for their turn do not fill the driver's memory), or,
# done in the driver's process, the `ShardOutput` itself (`run_shard_here`)
Finished = bytes | Callable[[], bytes] | ShardOutput


class ShardRunner(Protocol):
    """How an executor runs shards: up to `capacity` at once, results as they finish."""

    capacity: int

    def submit(self, job: ShardJob) -> None: ...

    def wait(self) -> list[tuple[ShardJob, Finished | Exception]]:
        """Block until at least one submitted shard finished: its result, or why it failed
        (`WorkerLost` if its process died)."""
        ...


class Executor(Plugin):
    """Runs the per-record part of a build on shards; see the module docstring. A subclass says
    how shards run (`runner`); the order, retries, markers and merging are the same for all."""

    class Options(Options):
        workers: int = Field(1, ge=1)  # shards at once
        retries: int = Field(2, ge=0)  # a shard whose worker died is tried this many more times

    options: Options

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reports: list[ShardReport] = []  # one per shard of the last build, in input order

    def runner(self, pipeline: Pipeline, provided: dict[type, Any]) -> contextlib.AbstractContextManager[ShardRunner]:
        """A runner for this build; `provided` goes to every worker (`make_pipeline`)."""
        raise NotImplementedError

    def shared(self, pipeline: Pipeline) -> contextlib.AbstractContextManager[dict[type, Any]]:
        """The build's one instance of each `shared_across_workers` class, as the workers reach
        it (the driver's context gets the same), for as long as the build runs (the driver's
        filters use them too). In one process: the driver's own objects."""
        return contextlib.nullcontext({kind: pipeline.ctx.shared(kind, kind) for kind in SHARED_ACROSS_WORKERS})

    def cpus_per_worker(self) -> int | None:
        """CPUs each worker may use (its OCR processes); None: every core."""
        return None

    def verdicts(self, pipeline: Pipeline, output: Path, provided: dict[type, Any]) -> Iterator[Episode | Dropped]:
        """Every episode the workers kept or dropped, shard by shard in input order (drops not yet
        counted: the driver counts them as it takes them, in the same place as in one process).
        `provided`: from `shared`, for every worker. With a `limit`, one shard at a time, each
        reading at most what is left of it."""
        ctx = pipeline.ctx
        jobs = plan(pipeline, output, self.cpus_per_worker())
        self.reports = []
        remaining = ctx.limit
        with self.runner(pipeline, provided) as runner:
            window = 1 if remaining else WINDOW_PER_SLOT * runner.capacity
            schedule = _Schedule(runner, self.options.retries, deque(jobs), window)
            for job in progress(jobs, desc="shards", unit="shard"):
                result, attempts = schedule.result(job, remaining)
                if isinstance(result, Exception):
                    ctx.stats.problem("shards", f"{job.label}: {_one_line(result)} after {attempts} attempts; skipped")
                    continue
                shard = result if isinstance(result, ShardOutput) else ShardOutput.model_validate_json(result)
                size_mb = 0.0 if isinstance(result, ShardOutput) else len(result) / 1e6
                self.reports.append(
                    ShardReport(job.label, attempts == 0, shard.seconds, shard.worker, shard.peak_rss_mb, size_mb)
                )
                merge(ctx, shard, reused=attempts == 0)
                collect_shard()
                for event in shard.events:
                    yield Dropped(event.episode, *event.drop) if event.drop else event.episode
                if remaining is not None:
                    remaining -= sum(shard.stats["read"].values())
                    if remaining <= 0:
                        return


@dataclass
class _Schedule:
    """Shards started (at most `window` beyond the one the driver waits for), tried again when
    their worker failed, and handed out in input order."""

    runner: ShardRunner
    retries: int
    waiting: deque[ShardJob]
    window: int
    results: dict[int, tuple[Finished | Exception, int]] = field(default_factory=dict)
    attempts: Counter[int] = field(default_factory=Counter)
    running: int = 0

    def result(self, job: ShardJob, limit: int | None) -> tuple[bytes | ShardOutput | Exception, int]:
        """The job's JSON (or why it failed for good) and its attempts (0: from its marker)."""
        while True:
            while job.index not in self.results:
                self._start(job.index + self.window, limit)
                if job.index not in self.results:
                    self._collect()
            result, attempts = self.results.pop(job.index)
            if not callable(result):
                return result, attempts
            try:
                return result(), attempts
            except Exception as exc:  # noqa: BLE001 - e.g. lost with its node before the driver took it
                self._failed(job, exc)

    def _start(self, before: int, limit: int | None) -> None:
        while self.waiting and self.running < self.runner.capacity and self.waiting[0].index < before:
            job = self.waiting.popleft()
            kept = _read_marker(job.marker)
            if kept is not None:
                self.results[job.index] = (kept, 0)
                continue
            job.limit = limit
            self.attempts[job.index] += 1
            self.runner.submit(job)
            self.running += 1

    def _collect(self) -> None:
        for job, result in self.runner.wait():
            self.running -= 1
            if isinstance(result, Exception):
                self._failed(job, result)
            else:
                self.results[job.index] = (result, self.attempts[job.index])

    def _failed(self, job: ShardJob, error: Exception) -> None:
        """Try the job again (before any later one), or give it up after `retries` more tries."""
        if isinstance(error, FATAL):
            raise error
        tries = self.attempts[job.index]
        if tries > self.retries:
            self.results[job.index] = (error, tries)
            return
        log.warning("%s: %s; trying again (attempt %d of %d)", job.label, _one_line(error), tries + 1, self.retries + 1)
        position = next((i for i, waiting in enumerate(self.waiting) if waiting.index > job.index), len(self.waiting))
        self.waiting.insert(position, job)


def merge(ctx: BuildContext, shard: ShardOutput, reused: bool) -> None:
    """A shard's counts and shared-object work into the driver's, as if done here. A shard
    taken from its marker brings its counts, not its requests (this build did not make them)."""
    ctx.stats.merge(BuildStats.from_state(shard.stats))
    if reused:
        ctx.stats.extra["shards_reused"] = ctx.stats.extra.get("shards_reused", 0) + 1
        return
    driver_states = {_kind_name(kind): state for kind, state in ctx.worker_states().items()}
    for name, delta in shard.states.items():
        state = driver_states.get(name)
        if state is None:  # a plugin used it only in workers: make the driver's
            module, _, qualname = name.rpartition(".")
            kind: type[WorkerState] = getattr(importlib.import_module(module), qualname)
            state = ctx.shared(kind, lambda kind=kind: kind(ctx))  # type: ignore[misc, call-arg]
        state.merge_shard(delta)


def plan(pipeline: Pipeline, output: Path, cpus: int | None) -> list[ShardJob]:
    """The build's shards in input order, each with its marker path (markers of this output
    made with another config or code are removed first; all of them once the output is written)."""
    assert pipeline.config is not None, "a pipeline made by make_pipeline"
    ctx = pipeline.ctx
    folder = ctx.cache_dir / "shards" / hashlib.sha256(str(output).encode()).hexdigest()[:16]
    filters = worker_filters(pipeline.filters)
    jobs: list[ShardJob] = []
    keys: set[str] = set()
    for d, dataset in enumerate(pipeline.datasets):
        key = config_digest(pipeline, dataset, filters)
        keys.add(key)
        for shard in dataset.shards():
            digest = None if ctx.limit else dataset.shard_digest(shard)
            jobs.append(
                ShardJob(
                    index=len(jobs),
                    dataset=d,
                    shard=shard,
                    label=f"{dataset.plugin_name} {Path(shard).name}" if shard else dataset.plugin_name,
                    config=pipeline.config,
                    base_dir=ctx.base_dir,
                    marker=folder / f"{key}-{digest}.json" if digest else None,
                    cpus=cpus,
                )
            )
    if folder.is_dir():
        for stale in folder.iterdir():
            if stale.name.split("-", 1)[0] not in keys:
                stale.unlink(missing_ok=True)
    ctx.on_finish(lambda _output: _remove_markers(folder))
    return jobs


def _remove_markers(folder: Path) -> None:
    """The build is written: its markers go, and the `shards` folder too if no other build has any."""
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()


def config_digest(pipeline: Pipeline, dataset: Dataset, filters: list[Filter]) -> str:
    """What a shard's result depends on besides its input: the dataset, tasks and worker filters
    with their options, the seed, vision, the user's plugin files and this code."""
    assert pipeline.config is not None
    config = pipeline.config

    def described(plugin: Plugin) -> list[Any]:
        return [plugin.plugin_name, plugin.options.model_dump(mode="json")]

    plugin_files = [
        [spec, files_digest(pipeline.ctx.base_dir / spec)] for spec in config.plugins if spec.endswith(".py")
    ]
    parts = {
        "format": SHARD_FORMAT,
        "dataset": described(dataset),
        "tasks": [described(t) for t in pipeline.tasks],
        "filters": [described(f) for f in filters],
        "seed": config.seed,
        "use_vision": config.use_vision,
        "plugins": [config.plugins, plugin_files],
        "code": code_digest(),
    }
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


@cache
def code_digest() -> str:
    """The toolbox's source, so a marker made by other code is never reused."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for file in sorted(root.rglob("*.py")):
        digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def _read_marker(marker: Path | None) -> bytes | None:
    """A finished shard's result, if its marker is there and whole."""
    if marker is None:
        return None
    try:
        data = marker.read_bytes()
        if ShardOutput.model_validate_json(data).version == SHARD_FORMAT:
            return data
    except (OSError, ValueError):  # missing or damaged: the shard is done again
        pass
    return None


def _one_line(exc: Exception) -> str:
    text = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def executor_ref(ref: PluginRef, name: str | None, workers: int | None) -> PluginRef:
    """`--executor` and `--workers` over the YAML's `executor:`. Another executor than the
    YAML's starts from its defaults (the YAML's options are for the one it names)."""
    options = dict(ref.options) if name in (None, ref.name) else {}
    if workers is not None:
        options["workers"] = workers
    return PluginRef.model_validate({"name": name or ref.name, **options})


@dataclass
class InProcess:
    """Runs each shard here when asked for its result: one worker, today's single process."""

    provided: dict[type, Any]
    capacity: int = 1
    _queue: deque[ShardJob] = field(default_factory=deque)

    def submit(self, job: ShardJob) -> None:
        self._queue.append(job)

    def wait(self) -> list[tuple[ShardJob, Finished | Exception]]:
        job = self._queue.popleft()
        try:
            return [(job, run_shard_here(job, self.provided))]
        except Exception as exc:  # noqa: BLE001 - a shard's failure is counted, the build goes on
            return [(job, exc)]
