"""How a build uses Python's garbage collector."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn


@contextmanager
def collected_between_shards() -> Iterator[None]:
    """Run a build without the collector's automatic runs; `collect_shard` (after each shard)
    frees the reference cycles the shard left.

    A build keeps many objects alive at once (a stream filter such as near_dedupe holds every
    episode; a session's OCR words and evidence), and the collector walks every object that
    survives its youngest generation, again when it is promoted: measured on a warm rebuild of a
    one-hour session, 4.0-4.5 s without the collector against 4.6-5.6 s with it (full runs
    already off: they took decoding 20,000 glaive rows held in memory to 2.5x the time). Few of
    a build's objects are cycles (no model or word is), so waiting for the end of a shard costs
    little memory."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def collect_shard() -> None:
    """A shard is done: free its cycles, and move what it keeps out of the young generations
    (one walk of the shard's new objects). Nothing outside `collected_between_shards`."""
    if not gc.isenabled():
        gc.collect(1)


def exit_without_final_collection(code: int) -> NoReturn:
    """End the process (a command's entry point, its outputs closed) without the collection
    Python runs as it exits. That collection walks every object still alive for cycles to free
    (after a one-hour session's rebuild: 0.4-0.5 s of a 4-5 s run) just before the process ends
    and frees them anyway. Everything else is as `sys.exit`: exit handlers run, files are flushed
    and closed, and objects are freed by their reference counts as the modules are torn down.
    Not for a library call of `main`: the caller's process goes on."""
    gc.freeze()  # the objects move to the permanent generation, which no collection walks
    sys.exit(code)
