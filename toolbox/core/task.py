"""Tasks turn records into episodes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from toolbox.core.models import Episode
from toolbox.core.plugin import Plugin


class Task(Plugin):
    """Make episodes from every record whose type is in `accepts`."""

    accepts: ClassVar[tuple[type, ...]] = ()

    def run(self, record: Any) -> Iterator[Episode]:
        raise NotImplementedError
