"""Datasets read raw material and yield records (recorded sessions, episodes from files, ...)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from toolbox.core.plugin import Plugin

WHOLE = ""  # the shard of a dataset that is not split


class Dataset(Plugin):
    """Yield records. Report unreadable input with `self.ctx.stats.problem(...)` and go on.

    A dataset that can be read in parts (one session folder, one file) says so with `shards`
    and `shard_records`: an executor then spreads the parts over workers, and with
    `shard_digest` a restarted build reuses the parts it finished."""

    def records(self) -> Iterator[Any]:
        raise NotImplementedError

    def shards(self) -> list[str]:
        """The parts of the input, in input order (e.g. session folder paths); by default one."""
        return [WHOLE]

    def shard_records(self, shard: str) -> Iterator[Any]:
        """The records of one part, in order: together, the parts yield what `records` does."""
        return self.records()

    def shard_digest(self, shard: str) -> str | None:
        """A digest of what the part reads, so a restarted build reuses the finished part when
        it did not change; None (the default): the part is always done again."""
        return None


def files_digest(root: Path) -> str:
    """What a folder (or a file) holds, by the name, size and modification time of every file:
    cheap on a session of a thousand frames, and changed by any rewrite of a file."""
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        digest.update(
            f"{file.relative_to(root) if root.is_dir() else file.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
        )
    return digest.hexdigest()[:32]
