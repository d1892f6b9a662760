"""datasets -> tasks -> filters -> format -> output, as a stream of generators."""
from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Iterator

import orjson
from tqdm import tqdm

from toolbox.core import registry
from toolbox.core.config import ConfigError, ExperimentConfig, PluginRef, plugin_options
from toolbox.core.io import atomic_writer
from toolbox.core.models import Episode
from toolbox.core.plugin import BuildContext, BuildStats, Plugin
from toolbox.core.tokens import episode_tokens
from toolbox.datasets.base import Dataset
from toolbox.filters.base import Dropped, Filter, FunctionFilter
from toolbox.formats.base import Format, FormatError
from toolbox.tasks.base import Task


@dataclass
class Pipeline:
    datasets: list[Dataset]
    tasks: list[Task]
    filters: list[Filter]
    format: Format
    ctx: BuildContext

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


def make_pipeline(config: ExperimentConfig, base_dir: Path) -> Pipeline:
    """Load the user's plugins, then look up and configure every step named in the config."""
    for spec in config.plugins:
        try:
            registry.load_plugin(spec, base_dir)
        except registry.PluginError as exc:
            raise ConfigError(str(exc)) from None
    ctx = BuildContext(seed=config.seed, base_dir=base_dir, cache_dir=(base_dir / config.cache_dir), limit=config.limit)
    filters = list(config.filters)
    if config.max_length is not None:
        # the top-level max_length sets (or adds) the max_length filter
        for i, ref in enumerate(filters):
            if ref.name == "max_length" and "max_tokens" not in ref.options:
                filters[i] = PluginRef.model_validate({"name": "max_length", **ref.options, "max_tokens": config.max_length})
        if not any(ref.name == "max_length" for ref in filters):
            filters.append(PluginRef.model_validate({"name": "max_length", "max_tokens": config.max_length}))
    return Pipeline(
        datasets=[instantiate("datasets", r, f"datasets[{i}]", ctx) for i, r in enumerate(config.datasets)],  # type: ignore[misc]
        tasks=[instantiate("tasks", r, f"tasks[{i}]", ctx) for i, r in enumerate(config.tasks)],  # type: ignore[misc]
        filters=[instantiate("filters", r, f"filters[{i}]", ctx) for i, r in enumerate(filters)],  # type: ignore[misc]
        format=instantiate("formats", PluginRef.model_validate(config.format), "format", ctx),  # type: ignore[arg-type]
        ctx=ctx,
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
            pipeline.stats.problem("unused records", f"no task takes a {type(record).__name__} record; add a task such as 'interval_episodes'")
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
            pipeline.stats.drop(item.filter, item.reason, item.episode.id, item.detail)
        else:
            yield item


def run(pipeline: Pipeline, output: Path) -> BuildStats:
    """Build and write `output` atomically; every row is validated before it is written."""
    stats = pipeline.stats
    with atomic_writer(output) as handle:
        for episode in filtered(pipeline, episodes(pipeline)):
            try:
                row = pipeline.format.encode(episode)
            except FormatError as exc:
                stats.drop("format", "cannot be written in this format", episode.id, str(exc))
                continue
            problems = pipeline.format.validate(row)
            if problems:
                stats.drop("format", "invalid row", episode.id, problems[0])
                continue
            handle.write(orjson.dumps(row) + b"\n")
            stats.written += 1
            stats.tokens += episode_tokens(episode)
    return stats
