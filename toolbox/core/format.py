"""Formats turn an episode into one JSON object (a line of the output), read it back, and
check rows against the format's rules."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from toolbox.core.models import Episode, ToolSpec, Turn
from toolbox.core.plugin import Plugin


class FormatError(ValueError):
    """The episode cannot be written in this format, or a row is not valid in it. `reason` is
    what the build summary counts the dropped episode under (the message is its detail)."""

    def __init__(self, message: str, reason: str = "cannot be written in this format") -> None:
        super().__init__(message)
        self.reason = reason


def parse_json(text: str) -> Any:
    """The value of JSON text; ValueError if it is not JSON. orjson first (several times faster),
    then Python's json for what only that one takes (NaN, integers beyond 64 bits, lone
    surrogates), so that what is valid stays exactly what `json.loads` accepts."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def trained_turns(episode: Episode) -> list[Turn]:
    """The turns a format without per-turn weights writes: up to the last assistant turn that is
    trained. A final answer marked untrainable (`weight: 0`: the transcriber found none), and the
    tool results only it would have read, are left out so that no trainer learns it; an earlier
    untrainable turn stays, as context these formats cannot mask."""
    turns = episode.turns
    if not any(turn.weight == 0 for turn in turns):
        return turns
    trained = [i for i, turn in enumerate(turns) if turn.role == "assistant" and turn.weight != 0]
    if not trained:
        raise FormatError("no trainable assistant turn")
    end = trained[-1] + 1
    return turns[:end] if any(turn.weight == 0 for turn in turns[end:]) else turns


class Format(Plugin):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rendered_tools: dict[bytes, Any] = {}
        self._decoded_tools: dict[str, list[ToolSpec]] = {}

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

    def decoded_tools(self, text: str, parse: Callable[[str], list[ToolSpec]]) -> list[ToolSpec]:
        """`parse(text)`, computed once per distinct text (the rows of a file share a few tool
        lists): validating the same specs for every row is most of decoding's time. Episodes
        share the ToolSpec objects (a new list each), which nothing changes in place."""
        tools = self._decoded_tools.get(text)
        if tools is None:
            if len(self._decoded_tools) >= 1024:
                self._decoded_tools.clear()
            tools = self._decoded_tools[text] = parse(text)
        return list(tools)

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

    # -- hand-off to trainers (toolbox/core/trainers.py writes these beside every build) ----------

    def llamafactory_dataset(self, file_name: str, columns: set[str]) -> dict[str, Any] | None:
        """This format's entry in LLaMA-Factory's dataset_info.json for a file whose rows have the
        keys `columns` (it reads a named column that no row has as an error); None: it cannot read it."""
        return None

    def axolotl_dataset(self, path: str) -> dict[str, Any] | None:
        """This format as an item of axolotl's `datasets:` list (None: it cannot read it)."""
        return None
