"""datasets -> tasks -> filters -> format -> output, as a stream of generators."""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
from tqdm import tqdm

from toolbox.core import registry
from toolbox.core.config import ConfigError, ExperimentConfig, PluginRef, plugin_options
from toolbox.core.dataset import Dataset
from toolbox.core.filter import Dropped, Filter, FunctionFilter, prepared_batches, worker_filters
from toolbox.core.format import Format, FormatError
from toolbox.core.io import atomic_writer, remove_stale_temps
from toolbox.core.models import Episode, LoggedEpisode
from toolbox.core.plugin import BuildContext, BuildStats, Plugin, log
from toolbox.core.session import Session
from toolbox.core.task import Task
from toolbox.core.tokens import TokenCounter, token_counter

# Raised by a plugin, these stop the build (a config problem found late); any other exception
# of a plugin costs the record it was working on, is counted and warned about, and the build goes on.
FATAL = (ConfigError, registry.PluginError)


class BuildFailed(Exception):
    """The build's output could not be written; one line for the user."""


if TYPE_CHECKING:
    from toolbox.core.executor import Executor


@dataclass
class Pipeline:
    datasets: list[Dataset]
    tasks: list[Task]
    filters: list[Filter]
    format: Format
    ctx: BuildContext
    executor: Executor  # where the per-record part runs (core/executor.py)
    config: ExperimentConfig  # what workers make their own pipelines from
    # When set, run() also writes every episode it saw, kept or dropped (with the drop reason),
    # one JSON object a line, to this file: the full episodes the HTML report renders.
    episodes_log: Path | None = None
    _log: EpisodesLog | None = field(default=None, repr=False)

    @property
    def stats(self) -> BuildStats:
        return self.ctx.stats


def instantiate(kind: str, ref: PluginRef, where: str, ctx: BuildContext) -> Plugin:
    plugin, options = plugin_options(kind, ref, where)
    if inspect.isfunction(plugin):  # a plain function registered as a filter
        if ref.options:
            raise ConfigError(f"{where} ({ref.name}): a function filter takes no options")
        plugin = type(plugin.__name__, (FunctionFilter,), {"func": staticmethod(plugin), "plugin_name": ref.name})
    instance = plugin(options, ctx)
    instance.plugin_name = ref.name
    return instance


def episodes_log_path(output: Path) -> Path:
    """Where a build asked for a report keeps its episodes: `<output>.episodes.jsonl`."""
    return output.with_name(output.name + ".episodes.jsonl")


def stats_path(output: Path) -> Path:
    """The build summary as JSON: `<output>.stats.json`."""
    return output.with_name(output.name + ".stats.json")


def dataset_inputs(pipeline: Pipeline) -> dict[str, Path]:
    """What the datasets read, by the `path` option (a file, a folder, or a glob)."""
    inputs: dict[str, Path] = {}
    for i, dataset in enumerate(pipeline.datasets):
        value = getattr(dataset.options, "path", None)
        if not isinstance(value, str):
            continue
        label = f"datasets[{i}] ({dataset.plugin_name})"
        if any(c in value for c in "*?["):
            with contextlib.suppress(ValueError, NotImplementedError, OSError):  # the dataset says what is wrong
                for n, path in enumerate(sorted(pipeline.ctx.base_dir.glob(value))):
                    inputs[f"{label} file {n + 1}"] = path.resolve()
        else:
            inputs[label] = pipeline.ctx.path(value)
    return inputs


def check_paths(outputs: dict[str, Path], inputs: dict[str, Path], cache_dir: Path) -> None:
    """Refuse, before any work, a build that would lose data or fail at its end: an output
    that is another output, that is or lies inside an input, that is a folder (or no regular
    file), or whose folder cannot be written; a cache_dir that is a file. ConfigError, one line."""
    seen: dict[Path, str] = {}
    for role, path in outputs.items():
        if path in seen:
            raise ConfigError(f"{role} and {seen[path]} are the same file: {path}")
        seen[path] = role
        for label, source in inputs.items():
            if path == source or path.is_relative_to(source):
                where = "is" if path == source else "is inside"
                raise ConfigError(f"{role} {path} {where} the input of {label} ({source}): it would be overwritten")
        if path.is_dir():
            raise ConfigError(f"{role} {path} is a folder; name a file")
        if path.exists() and not path.is_file():
            raise ConfigError(f"{role} {path} is not a regular file")
        _check_writable_folder(role, path.parent)
    if cache_dir.exists() and not cache_dir.is_dir():
        raise ConfigError(f"cache_dir {cache_dir} is a file; name a folder")
    _check_writable_folder("cache_dir", cache_dir)


def _check_writable_folder(role: str, folder: Path) -> None:
    """`folder` exists and can be written, or can be made (its first existing parent can)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{role}: {existing} is a file, so {folder} cannot be made")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{role}: cannot write in {existing} (permission denied or read-only)")


def prepare_outputs(pipeline: Pipeline, outputs: dict[str, Path], inputs: dict[str, Path]) -> None:
    """Check the build's paths (`check_paths`), then delete the temp files a killed build left
    beside its outputs."""
    check_paths(outputs, {**inputs, **dataset_inputs(pipeline)}, pipeline.ctx.cache_dir)
    for path in outputs.values():
        remove_stale_temps(path)


def make_pipeline(config: ExperimentConfig, base_dir: Path, provided: dict[type, Any] | None = None) -> Pipeline:
    """Load the user's plugins, then look up and configure every step named in the config.
    `provided`: shared objects put into the context first (`BuildContext.provide`)."""
    for spec in config.plugins:
        try:
            registry.load_plugin(spec, base_dir)
        except registry.PluginError as exc:
            raise ConfigError(str(exc)) from None
    ctx = BuildContext(
        seed=config.seed,
        base_dir=base_dir,
        cache_dir=(base_dir / config.cache_dir),
        limit=config.limit,
        use_vision=config.use_vision,
    )
    for kind, obj in (provided or {}).items():
        ctx.provide(kind, obj)
    filters = list(config.filters)
    if config.max_length is not None:
        # the top-level max_length sets (or adds) the max_length filter
        for i, ref in enumerate(filters):
            if ref.name == "max_length" and "max_tokens" not in ref.options:
                filters[i] = PluginRef.model_validate(
                    {"name": "max_length", **ref.options, "max_tokens": config.max_length}
                )
        if not any(ref.name == "max_length" for ref in filters):
            filters.append(PluginRef.model_validate({"name": "max_length", "max_tokens": config.max_length}))
    pipeline = Pipeline(
        datasets=[instantiate("datasets", r, f"datasets[{i}]", ctx) for i, r in enumerate(config.datasets)],  # type: ignore[misc]
        tasks=[instantiate("tasks", r, f"tasks[{i}]", ctx) for i, r in enumerate(config.tasks)],  # type: ignore[misc]
        filters=[instantiate("filters", r, f"filters[{i}]", ctx) for i, r in enumerate(filters)],  # type: ignore[misc]
        format=instantiate("formats", config.format, "format", ctx),  # type: ignore[arg-type]
        ctx=ctx,
        executor=instantiate("executors", config.executor, "executor", ctx),  # type: ignore[arg-type]
        config=config,
        episodes_log=episodes_log_path(ctx.path(config.output)) if config.report else None,
    )
    counter = token_counter(ctx.path(config.tokenizer) if config.tokenizer else None, pipeline.format)
    ctx.shared(TokenCounter, lambda: counter)  # what max_length and the token figures count
    if config.tokenizer:
        pipeline.stats.extra["tokenizer"] = counter.name
    return pipeline


def records(pipeline: Pipeline) -> Iterator[Any]:
    stream = _all_records(pipeline)
    if pipeline.ctx.limit:
        stream = islice(stream, pipeline.ctx.limit)
    quiet = not (sys.stdout.isatty() and sys.stderr.isatty())
    yield from tqdm(stream, desc="records", unit="rec", disable=quiet, leave=False)


def describe(record: Any) -> str:
    """A record as a warning names it: a session by id and folder, an episode by id and file:line."""
    if isinstance(record, Session):
        return f"session {record.id} ({record.path})"
    if isinstance(record, Episode):
        src = record.source
        where = f"{src.path}:{src.line}" if src.path and src.line else src.path or src.session
        return f"episode {record.id}" + (f" ({where})" if where else "")
    return f"a {type(record).__name__} record"


def _failure(kind: str, name: str, record: str, exc: Exception, consequence: str) -> str:
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{kind} {name!r} failed on {record}: {type(exc).__name__}: {first}; {consequence}"


def _all_records(pipeline: Pipeline) -> Iterator[Any]:
    for dataset in pipeline.datasets:
        last: Any = None
        try:
            for record in dataset.records():
                pipeline.stats.read[dataset.plugin_name] += 1
                last = record
                yield record
        except FATAL:
            raise
        except Exception as exc:  # noqa: BLE001 - a plugin's bug costs its records, not the build
            where = f"the record after {describe(last)}" if last is not None else "its first record"
            message = _failure("dataset", dataset.plugin_name, where, exc, "the rest of this dataset is skipped")
            pipeline.stats.problem(f"dataset {dataset.plugin_name} failed", message)


def episodes(pipeline: Pipeline) -> Iterator[Episode]:
    """Every record goes to each task that accepts its type; episodes read from files pass
    through unchanged when no task takes them."""
    for record in records(pipeline):
        takers = [task for task in pipeline.tasks if isinstance(record, task.accepts)]
        if not takers and isinstance(record, Episode):
            pipeline.stats.episodes += 1
            yield record
        elif not takers:
            pipeline.stats.problem(
                "unused records",
                f"no task takes a {type(record).__name__} record; add a task such as 'interval_episodes'",
            )
        for task in takers:
            try:
                for episode in task.run(record):
                    pipeline.stats.episodes += 1
                    yield episode
            except FATAL:
                raise
            except Exception as exc:  # noqa: BLE001 - a plugin's bug costs this record, not the build
                message = _failure(
                    "task", task.plugin_name, describe(record), exc, "the rest of this record is skipped"
                )
                pipeline.stats.problem(f"task {task.plugin_name} failed", message)


def filtered(pipeline: Pipeline, stream: Iterator[Episode], filters: list[Filter] | None = None) -> Iterator[Episode]:
    for flt in pipeline.filters if filters is None else filters:
        stream = _drop_counted(pipeline, apply_filter(flt, stream))
    return stream


def apply_filter(flt: Filter, stream: Iterator[Episode]) -> Iterator[Episode | Dropped]:
    """A filter that checks one episode at a time is applied one episode at a time, so an error
    in its `check` drops that episode only (warned, and shown with the reason `failed`); one
    with a `batch` is given each batch to `prepare` first (a failure there only costs the
    head start). A filter that sees the whole stream (dedupe, the LLM judge) handles its own
    errors."""
    if type(flt).apply is not Filter.apply:
        yield from flt.apply(stream)
        return
    for batch in prepared_batches(flt, stream, on_error=_prepare_failed):
        for episode in batch:
            try:
                verdict = flt.outcome(episode)
            except FATAL:
                raise
            except Exception as exc:  # noqa: BLE001
                log.warning(_failure("filter", flt.plugin_name, describe(episode), exc, "episode dropped"))
                yield Dropped(episode, flt.plugin_name, "failed", f"{type(exc).__name__}: {str(exc)[:200]}")
                continue
            yield verdict


def _prepare_failed(flt: Filter, batch: list[Episode], exc: Exception) -> None:
    if isinstance(exc, FATAL):
        raise exc
    log.warning(_failure("filter", flt.plugin_name, f"{len(batch)} episodes", exc, "checked one by one"))


def built(pipeline: Pipeline, output: Path) -> Iterator[Episode]:
    """The episodes that pass every filter, in input order. The executor runs the per-record part
    (read, tasks, `worker_filters`) on shards of the input; the other filters run here."""
    workers_run = len(worker_filters(pipeline.filters))
    counter = pipeline.ctx.shared(TokenCounter, TokenCounter)
    with pipeline.executor.shared(pipeline) as provided:
        stream = _drop_counted(pipeline, pipeline.executor.verdicts(pipeline, output, provided))
        yield from filtered(pipeline, counter.ahead(stream), pipeline.filters[workers_run:])


def _drop_counted(pipeline: Pipeline, stream: Iterator[Episode | Dropped]) -> Iterator[Episode]:
    for item in stream:
        if isinstance(item, Dropped):
            _drop(pipeline, item.episode, item.filter, item.reason, item.detail)
        else:
            yield item


def _drop(pipeline: Pipeline, episode: Episode, filter_name: str, reason: str, detail: str = "") -> None:
    pipeline.stats.drop(filter_name, reason, episode.id, detail)
    pipeline.ctx.shared(TokenCounter, TokenCounter).forget(episode)
    if pipeline._log is not None:
        pipeline._log.write(episode, drop=(filter_name, reason, detail))


def _encode(pipeline: Pipeline, episode: Episode) -> tuple[list[dict[str, Any]], bytes] | None:
    """The episode's rows (one, or one per step for trajectory formats) and their output lines,
    validated; None (and a drop) if it cannot be written."""
    fmt = pipeline.format
    try:
        rows = fmt.encode_rows(episode)
        problems = [problem for row in rows for problem in fmt.validate(row)]
        if not problems:
            return rows, b"".join(orjson.dumps(row) + b"\n" for row in rows)
    except FormatError as exc:
        _drop(pipeline, episode, "format", exc.reason, str(exc))
        return None
    except FATAL:
        raise
    except Exception as exc:  # noqa: BLE001 - a format's bug (or a value JSON cannot hold) costs this episode
        log.warning(_failure("format", fmt.plugin_name, describe(episode), exc, "episode dropped"))
        _drop(pipeline, episode, "format", "failed", f"{type(exc).__name__}: {str(exc)[:200]}")
        return None
    _drop(pipeline, episode, "format", "invalid row", problems[0])
    return None


def run(pipeline: Pipeline, output: Path) -> BuildStats:
    """Build and write `output` atomically; every row is validated before it is written. Then
    the build context's finish callbacks run (e.g. the LLM metrics, the HTML report). A file
    that cannot be written (a full disk) is a BuildFailed; the earlier file stays."""
    stats = pipeline.stats
    log_path = pipeline.episodes_log
    log_file = atomic_writer(log_path) if log_path else contextlib.nullcontext()
    pipeline.format.start(output)
    counter = pipeline.ctx.shared(TokenCounter, TokenCounter)
    written = False
    try:
        with atomic_writer(output) as handle, log_file as log_handle:
            pipeline._log = EpisodesLog(log_handle, stats) if log_handle is not None else None
            for episode in built(pipeline, output):
                encoded = _encode(pipeline, episode)
                if encoded is None:
                    continue
                rows, lines = encoded
                handle.write(lines)
                stats.written += 1
                tokens = counter.count(episode, rows[0] if len(rows) == 1 else None)
                counter.forget(episode)
                stats.tokens += tokens
                if pipeline._log is not None:
                    pipeline._log.write(episode, tokens=tokens)
            if pipeline._log is not None:
                pipeline._log.finish()
        written = True
    except OSError as exc:
        where = exc.filename or (log_path if isinstance(exc, LogWriteError) else output)
        raise BuildFailed(
            f"{where}: cannot write ({exc.strerror or exc}); the earlier file, if any, is unchanged"
        ) from exc
    finally:
        pipeline._log = None
        counter.close(failed=not written)  # stopped (Ctrl+C, an error): its helpers too, at once
    pipeline.ctx.finish(output)
    return stats


class LogWriteError(OSError):
    """Writing the episodes log failed (so the message names the log, not the output)."""


class EpisodesLog:
    """Every episode a build saw, kept or dropped (with why), one `LoggedEpisode` a line: what
    the HTML report renders. Written only when a report is asked for."""

    def __init__(self, handle: IO[bytes], stats: BuildStats) -> None:
        self.handle, self.stats = handle, stats
        self.logged_drops: set[str] = set()

    def write(self, episode: Episode, drop: tuple[str, str, str] | None = None, tokens: int | None = None) -> None:
        flt, reason, detail = drop or (None, None, None)
        entry = LoggedEpisode(
            status="kept" if drop is None else "dropped",
            id=episode.id,
            filter=flt,
            reason=reason,
            detail=detail,
            tokens=tokens,
            episode=episode,
        )
        if drop is not None:
            self.logged_drops.add(episode.id)
        try:
            self._write(entry)
        except ValueError as exc:  # metadata a task filled with something JSON cannot hold
            self.stats.problem(
                "report", f"episode {episode.id}: metadata is not JSON ({str(exc)[:120]}); logged without it"
            )
            self._write(entry.model_copy(update={"episode": episode.model_copy(update={"metadata": {}})}))

    def finish(self) -> None:
        """Drops made before an episode existed (e.g. a transcriber giving up on an interval)."""
        for episode_id, flt, reason, detail in self.stats.dropped_episodes:
            if episode_id not in self.logged_drops:
                self._write(LoggedEpisode(status="dropped", id=episode_id, filter=flt, reason=reason, detail=detail))

    def _write(self, entry: LoggedEpisode) -> None:
        try:
            self.handle.write(entry.model_dump_json(exclude_defaults=True).encode("utf-8") + b"\n")
        except OSError as exc:
            raise LogWriteError(exc.errno, exc.strerror) from exc
