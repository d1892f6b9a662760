"""Progress bars for the long steps (OCR, LLM requests, synthetic batches, export): a total and
an ETA on a terminal, nothing when the output goes to a file or a pipe (logs stay clean)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def on_terminal() -> bool:
    return sys.stdout.isatty() and sys.stderr.isatty()


def progress(iterable: Iterable[T] | None = None, *, total: int | None = None, desc: str, unit: str = "it") -> tqdm[T]:
    """A tqdm bar on stderr that is there only on a terminal and goes when it is done."""
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not on_terminal(), leave=False, dynamic_ncols=True)
