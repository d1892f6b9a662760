"""Formats turn an episode into one JSON object (a line of the output), read it back, and
check rows against the format's rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from toolbox.core.models import Episode, ToolSpec
from toolbox.core.plugin import Plugin


class FormatError(ValueError):
    """The episode cannot be written in this format, or a row is not valid in it. `reason` is
    what the build summary counts the dropped episode under (the message is its detail)."""

    def __init__(self, message: str, reason: str = "cannot be written in this format") -> None:
        super().__init__(message)
        self.reason = reason


class Format(Plugin):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rendered_tools: dict[bytes, Any] = {}

    def rendered_tools(self, tools: Sequence[ToolSpec], render: Callable[[Sequence[ToolSpec]], Any]) -> Any:
        """`render(tools)`, computed once per distinct tool list: most episodes of a build share
        one, and rendering specs (glaive's indented JSON above all) dominates encoding time."""
        key = orjson.dumps([(t.name, t.description, t.parameters) for t in tools])
        rendered = self._rendered_tools.get(key)
        if rendered is None:
            if len(self._rendered_tools) >= 1024:
                self._rendered_tools.clear()
            rendered = self._rendered_tools[key] = render(tools)
        return rendered

    def start(self, output: Path) -> None:
        """Called with the output file's path before the first row is encoded (by a build) or
        checked (by `validate`): formats whose rows come with files beside the output (images,
        a sidecar) write or find them there. Most formats need nothing."""

    def encode(self, episode: Episode) -> dict[str, Any]:
        raise NotImplementedError

    def encode_rows(self, episode: Episode) -> list[dict[str, Any]]:
        """The rows an episode becomes: one (`encode`) for most formats; a trajectory format
        writes one per step."""
        return [self.encode(episode)]

    def decode(self, row: dict[str, Any], episode_id: str, source: Any) -> Episode:
        raise NotImplementedError

    def validate(self, row: Any) -> list[str]:
        """Every rule the row breaks (empty if valid)."""
        raise NotImplementedError
