"""Filters see the stream of episodes and keep, rewrite or drop each one (with a reason)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import ClassVar

from toolbox.core.models import Episode
from toolbox.core.plugin import Plugin


@dataclass(frozen=True)
class Drop:
    """Returned by a filter to drop an episode. `reason` is a short category counted in the
    build summary ("too long"); `detail` says more about this one ("3120 > 2048 tokens")."""

    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Dropped:
    episode: Episode
    filter: str
    reason: str
    detail: str = ""


Verdict = Episode | Drop


class Filter(Plugin):
    """Override `check` (one episode at a time) or `apply` (the whole stream, e.g. dedupe).

    A filter whose `check` remembers earlier episodes (exact dedupe) sets `whole_stream`: like
    one that overrides `apply`, it then sees every episode of the build, in input order, in
    one process; other filters may run on parts of the input in parallel (core/executor.py)."""

    whole_stream: ClassVar[bool] = False
    batch: ClassVar[int] = 1  # episodes handed to `prepare` at once before each is checked

    def check(self, episode: Episode) -> Verdict:
        return episode

    def prepare(self, episodes: list[Episode]) -> None:
        """Called with the next `batch` episodes before `check` sees them: work that is cheaper
        done for many at once (max_length counts their tokens together)."""

    def apply(self, episodes: Iterator[Episode]) -> Iterator[Episode | Dropped]:
        for group in prepared_batches(self, episodes):
            for episode in group:
                yield self.outcome(episode)

    def outcome(self, episode: Episode) -> Episode | Dropped:
        """`check`'s verdict on one episode, a drop named after this filter."""
        verdict = self.check(episode)
        if isinstance(verdict, Drop):
            return Dropped(episode, self.plugin_name, verdict.reason, verdict.detail)
        return verdict


def prepared_batches(
    flt: Filter,
    stream: Iterator[Episode],
    on_error: Callable[[Filter, list[Episode], Exception], None] | None = None,
) -> Iterator[list[Episode]]:
    """The stream in the filter's batches, each given to its `prepare` first. `on_error`: told
    of a `prepare` that failed (the batch is still checked); None: the error is raised."""
    while batch := list(islice(stream, flt.batch)):
        if flt.batch > 1:
            try:
                flt.prepare(batch)
            except Exception as exc:
                if on_error is None:
                    raise
                on_error(flt, batch, exc)
        yield batch


def needs_whole_stream(flt: Filter) -> bool:
    return flt.whole_stream or type(flt).apply is not Filter.apply


def worker_filters(filters: list[Filter]) -> list[Filter]:
    """The leading filters that look at one episode at a time: they run in the workers, on parts
    of the input. From the first that needs the whole stream on, filters run in the driver, in
    order (a later per-episode filter may see fewer episodes there, so it cannot go earlier)."""
    count = next((i for i, flt in enumerate(filters) if needs_whole_stream(flt)), len(filters))
    return filters[:count]


class FunctionFilter(Filter):
    """Wraps a plain function registered as a filter: it returns the episode (or None) to keep
    it, or a `Drop` / a reason string to drop it."""

    func: Callable[[Episode], Episode | Drop | str | None]

    def check(self, episode: Episode) -> Verdict:
        result = type(self).func(episode)
        if isinstance(result, str):
            return Drop(result)
        return episode if result is None else result
