"""Filters see the stream of episodes and keep, rewrite or drop each one (with a reason)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

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
    """Override `check` (one episode at a time) or `apply` (the whole stream, e.g. dedupe)."""

    def check(self, episode: Episode) -> Verdict:
        return episode

    def apply(self, episodes: Iterator[Episode]) -> Iterator[Episode | Dropped]:
        for episode in episodes:
            verdict = self.check(episode)
            if isinstance(verdict, Drop):
                yield Dropped(episode, self.plugin_name, verdict.reason, verdict.detail)
            else:
                yield verdict


class FunctionFilter(Filter):
    """Wraps a plain function registered as a filter: it returns the episode (or None) to keep
    it, or a `Drop` / a reason string to drop it."""

    func: Callable[[Episode], Episode | Drop | str | None]

    def check(self, episode: Episode) -> Verdict:
        result = type(self).func(episode)
        if isinstance(result, str):
            return Drop(result)
        return episode if result is None else result
