"""Worker processes of a `concurrent.futures` pool."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import Any


def pool_processes(pool: ProcessPoolExecutor | None) -> list[Any]:
    """The pool's own processes: a private attribute, and the only way to stop a running task
    (or read a dead worker's exit code)."""
    return list((getattr(pool, "_processes", None) or {}).values())
