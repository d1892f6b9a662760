"""Formats turn an episode into one JSON object (a line of the output), read it back, and
validate rows against the exact rules in DESIGN.md."""
from __future__ import annotations

from typing import Any

from toolbox.core.models import Episode
from toolbox.core.plugin import Plugin


class FormatError(ValueError):
    """The episode cannot be written in this format, or a row is not valid in it."""


class Format(Plugin):
    def encode(self, episode: Episode) -> dict[str, Any]:
        raise NotImplementedError

    def decode(self, row: dict[str, Any], episode_id: str, source: Any) -> Episode:
        raise NotImplementedError

    def validate(self, row: Any) -> list[str]:
        """Every rule the row breaks (empty if valid)."""
        raise NotImplementedError
