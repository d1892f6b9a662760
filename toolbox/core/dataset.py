"""Datasets read raw material and yield records (recorded sessions, episodes from files, ...)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from toolbox.core.plugin import Plugin


class Dataset(Plugin):
    """Yield records. Report unreadable input with `self.ctx.stats.problem(...)` and go on."""

    def records(self) -> Iterator[Any]:
        raise NotImplementedError
