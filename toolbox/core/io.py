"""Files in and out. Atomic output: write beside the target, then rename, so a crash never
leaves a half-written file under the final name; files are created 0600 (mkstemp's mode).
Private folders, and one tolerant JSONL reader."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: str = "wb", fsync: bool = True) -> Iterator[IO]:
    """`fsync`: also survive a power cut, not only a killed process (costs a disk flush)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_atomic(path: str | Path, data: bytes, fsync: bool = True) -> None:
    with atomic_writer(path, fsync=fsync) as handle:
        handle.write(data)


PRIVATE_DIR_MODE = 0o700


def private_dir(path: str | Path) -> Path:
    """Make `path` (and missing parents) a folder only its owner can read: 0700 whatever the
    umask, also when it already existed with a wider mode. Caches and reports hold raw screen
    text, so they are kept like the recordings they come from."""
    folder = Path(path)
    folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    os.chmod(folder, PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask; an old folder kept its own
    return folder


@dataclass(frozen=True)
class BadLine:
    """A JSONL line that is not JSON. `truncated`: it is the file's last line, as a writer that
    was killed mid-line leaves it; readers expect that and only note it."""

    reason: str
    truncated: bool


def read_jsonl(path: str | Path) -> Iterator[tuple[int, Any | BadLine]]:
    """(line number, parsed value or BadLine) for every non-blank line, streamed. One reader
    for every JSONL input (events, data files, logs), so each reports bad lines the same way."""
    pending: tuple[int, str] | None = None  # a bad line: truncated only if no line follows it
    with Path(path).open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            if pending is not None:
                yield pending[0], BadLine(pending[1], truncated=False)
                pending = None
            try:
                yield number, orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                pending = (number, str(exc).splitlines()[0][:160])
    if pending is not None:
        yield pending[0], BadLine(pending[1], truncated=True)
