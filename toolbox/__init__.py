"""datamakr's compile side: datasets -> tasks -> filters -> formats.

What a plugin author needs is importable from here."""
from toolbox.core.models import Episode, Source, ToolCall, ToolSpec, Turn
from toolbox.core.plugin import BuildContext, Options
from toolbox.core.registry import (
    register_dataset,
    register_filter,
    register_format,
    register_ocr_engine,
    register_task,
    register_transcriber,
)
from toolbox.filters.base import Drop, Filter

__all__ = [
    "BuildContext", "Drop", "Episode", "Filter", "Options", "Source", "ToolCall", "ToolSpec", "Turn",
    "register_dataset", "register_filter", "register_format", "register_ocr_engine", "register_task", "register_transcriber",
]
