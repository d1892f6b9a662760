"""Filters see the stream of episodes and keep, rewrite or drop each one (with a reason)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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
    # prepare the next batch on a thread while this one is checked: for a `prepare` that spends
    # its time outside the GIL (max_length: tiktoken), and touches nothing `check` changes
    prepare_on_thread: ClassVar[bool] = False

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
    """The stream in the filter's batches, each given to its `prepare` first; with
    `prepare_on_thread`, the next batch is prepared on a thread while this one is checked.
    `on_error`: told of a `prepare` that failed (the batch is still checked); None: raise."""
    if flt.batch == 1:
        while batch := list(islice(stream, 1)):
            yield batch
        return
    if not flt.prepare_on_thread:
        while batch := list(islice(stream, flt.batch)):
            _prepared(flt, batch, None, on_error)
            yield batch
        return
    with ThreadPoolExecutor(1, thread_name_prefix=f"prepare-{flt.plugin_name}") as pool:
        batch = list(islice(stream, flt.batch))
        pending = pool.submit(flt.prepare, batch)
        while batch:
            following = list(islice(stream, flt.batch))  # read while `batch` is being prepared
            _prepared(flt, batch, pending, on_error)
            pending = pool.submit(flt.prepare, following) if following else None
            yield batch
            batch = following


def _prepared(
    flt: Filter,
    batch: list[Episode],
    pending: Future[None] | None,
    on_error: Callable[[Filter, list[Episode], Exception], None] | None,
) -> None:
    """`flt.prepare(batch)`, or wait for it on its thread (`pending`)."""
    try:
        flt.prepare(batch) if pending is None else pending.result()
    except Exception as exc:
        if on_error is None:
            raise
        on_error(flt, batch, exc)


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
