"""datasets -> tasks -> filters -> format -> output, as a stream of generators."""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any

import orjson
from tqdm import tqdm

from toolbox.core import registry
from toolbox.core.config import ConfigError, ExperimentConfig, PluginRef, plugin_options
from toolbox.core.dataset import Dataset
from toolbox.core.filter import Dropped, Filter, FunctionFilter
from toolbox.core.format import Format, FormatError
from toolbox.core.io import atomic_writer
from toolbox.core.models import Episode, LoggedEpisode
from toolbox.core.plugin import BuildContext, BuildStats, Plugin
from toolbox.core.task import Task
from toolbox.core.tokens import episode_tokens


@dataclass
class Pipeline:
    datasets: list[Dataset]
    tasks: list[Task]
    filters: list[Filter]
    format: Format
    ctx: BuildContext
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


def make_pipeline(config: ExperimentConfig, base_dir: Path) -> Pipeline:
    """Load the user's plugins, then look up and configure every step named in the config."""
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
    return Pipeline(
        datasets=[instantiate("datasets", r, f"datasets[{i}]", ctx) for i, r in enumerate(config.datasets)],  # type: ignore[misc]
        tasks=[instantiate("tasks", r, f"tasks[{i}]", ctx) for i, r in enumerate(config.tasks)],  # type: ignore[misc]
        filters=[instantiate("filters", r, f"filters[{i}]", ctx) for i, r in enumerate(filters)],  # type: ignore[misc]
        format=instantiate("formats", PluginRef.model_validate(config.format), "format", ctx),  # type: ignore[arg-type]
        ctx=ctx,
        episodes_log=episodes_log_path(ctx.path(config.output)) if config.report else None,
    )


def records(pipeline: Pipeline) -> Iterator[Any]:
    stream = _all_records(pipeline)
    if pipeline.ctx.limit:
        stream = islice(stream, pipeline.ctx.limit)
    quiet = not (sys.stdout.isatty() and sys.stderr.isatty())
    yield from tqdm(stream, desc="records", unit="rec", disable=quiet, leave=False)


def _all_records(pipeline: Pipeline) -> Iterator[Any]:
    for dataset in pipeline.datasets:
        for record in dataset.records():
            pipeline.stats.read[dataset.plugin_name] += 1
            yield record


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
            for episode in task.run(record):
                pipeline.stats.episodes += 1
                yield episode


def filtered(pipeline: Pipeline, stream: Iterator[Episode]) -> Iterator[Episode]:
    for flt in pipeline.filters:
        stream = _drop_counted(pipeline, flt.apply(stream))
    return stream


def _drop_counted(pipeline: Pipeline, stream: Iterator[Episode | Dropped]) -> Iterator[Episode]:
    for item in stream:
        if isinstance(item, Dropped):
            _drop(pipeline, item.episode, item.filter, item.reason, item.detail)
        else:
            yield item


def _drop(pipeline: Pipeline, episode: Episode, filter_name: str, reason: str, detail: str = "") -> None:
    pipeline.stats.drop(filter_name, reason, episode.id, detail)
    if pipeline._log is not None:
        pipeline._log.write(episode, drop=(filter_name, reason, detail))


def run(pipeline: Pipeline, output: Path) -> BuildStats:
    """Build and write `output` atomically; every row is validated before it is written. Then
    the build context's finish callbacks run (e.g. the LLM metrics, the HTML report)."""
    stats = pipeline.stats
    log_file = atomic_writer(pipeline.episodes_log) if pipeline.episodes_log else contextlib.nullcontext()
    pipeline.format.start(output)
    with atomic_writer(output) as handle, log_file as log:
        pipeline._log = EpisodesLog(log, stats) if log is not None else None
        for episode in filtered(pipeline, episodes(pipeline)):
            try:
                rows = pipeline.format.encode_rows(episode)
            except FormatError as exc:
                _drop(pipeline, episode, "format", exc.reason, str(exc))
                continue
            problems = [problem for row in rows for problem in pipeline.format.validate(row)]
            if problems:
                _drop(pipeline, episode, "format", "invalid row", problems[0])
                continue
            handle.write(b"".join(orjson.dumps(row) + b"\n" for row in rows))
            stats.written += 1
            tokens = episode_tokens(episode)
            stats.tokens += tokens
            if pipeline._log is not None:
                pipeline._log.write(episode, tokens=tokens)
        if pipeline._log is not None:
            pipeline._log.finish()
        pipeline._log = None
    pipeline.ctx.finish(output)
    return stats


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
        self.handle.write(entry.model_dump_json(exclude_defaults=True).encode("utf-8") + b"\n")
