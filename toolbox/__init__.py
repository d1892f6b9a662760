"""datamakr's compile side: datasets -> tasks -> filters -> formats.

What a plugin author needs is importable from here."""

from toolbox.core.dataset import Dataset
from toolbox.core.filter import Drop, Filter
from toolbox.core.format import Format, FormatError
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
from toolbox.core.task import Task

__version__ = "0.1.0"  # the `datamakr` distribution's version (pyproject.toml reads it from here)

__all__ = [
    "BuildContext",
    "Dataset",
    "Drop",
    "Episode",
    "Filter",
    "Format",
    "FormatError",
    "Options",
    "Source",
    "Task",
    "ToolCall",
    "ToolSpec",
    "Turn",
    "register_dataset",
    "register_filter",
    "register_format",
    "register_ocr_engine",
    "register_task",
    "register_transcriber",
]
