"""Files in and out. Atomic output: write beside the target, then rename, so a crash never
leaves a half-written file under the final name; files are created 0600 (mkstemp's mode).
Private folders, and one tolerant JSONL reader."""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any

import orjson

WRITE_BUFFER = 1 << 20


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: str = "wb", fsync: bool = True) -> Iterator[IO]:
    """`fsync`: also survive a power cut, not only a killed process (costs a disk flush).
    The temp file (`.<name>.<random>.tmp`) is locked while it is written, so
    `remove_stale_temps` can tell one a killed build left from one being written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when the process ends, however it ends
        # 1 MB buffers: each write lets go of the GIL, and another thread of the build (the
        # token helpers' result thread) may then hold it for a switch interval (5 ms)
        with os.fdopen(fd, mode, buffering=WRITE_BUFFER) as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_stale_temps(path: str | Path) -> int:
    """Delete the temp files of `path` that a killed writer left beside it (atomic_writer's
    names, no process holding their lock); how many were deleted."""
    target = Path(path)
    removed = 0
    with contextlib.suppress(OSError):
        for tmp in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
            try:
                fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # a live writer holds it
                continue
            else:
                tmp.unlink(missing_ok=True)
                removed += 1
            finally:
                os.close(fd)
    return removed


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


MAX_LINE_BYTES = 64 * 2**20  # a longer JSONL line is skipped without being held in memory


def read_jsonl(
    path: str | Path, max_line: int = MAX_LINE_BYTES, part: LinePart | None = None
) -> Iterator[tuple[int, Any | BadLine]]:
    """(line number, parsed value or BadLine) for every non-blank line, streamed. One reader
    for every JSONL input (events, data files, logs), so each reports bad lines the same way.
    A line longer than `max_line` bytes is a BadLine, skipped as it is read. `part`: only the
    lines that begin in that byte range (`line_parts`), numbered as in the whole file."""
    pending: tuple[int, str] | None = None  # a bad line: truncated only if no line follows it
    start, end, first = part if part is not None else (0, None, 1)
    with Path(path).open("rb") as handle:
        handle.seek(start)
        position = start
        for number, raw in enumerate(iter(partial(handle.readline, max_line + 1), b""), start=first):
            if end is not None and position >= end:
                break
            position += len(raw)
            if len(raw) > max_line:  # no newline within max_line bytes: skip the rest of the line unread
                if not raw.endswith(b"\n"):
                    while (rest := handle.readline(2**20)) and not rest.endswith(b"\n"):
                        position += len(rest)
                    position += len(rest)
                raw = None
            elif not raw.strip():
                continue
            if pending is not None:
                yield pending[0], BadLine(pending[1], truncated=False)
                pending = None
            if raw is None:
                yield number, BadLine(f"line longer than {max_line:,} bytes", truncated=False)
                continue
            try:
                yield number, orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                pending = (number, str(exc).splitlines()[0][:160])
    if pending is not None:
        yield pending[0], BadLine(pending[1], truncated=end is None or position >= os.path.getsize(path))


LinePart = tuple[int, int, int]  # start byte, end byte, number of its first line


def line_parts(path: str | Path, size: int) -> list[LinePart]:
    """A text file cut into parts of about `size` bytes, each ending at the end of a line, with the
    number of each part's first line (newlines counted in 1 MiB blocks: a second per few GB)."""
    parts: list[LinePart] = []
    start, first, lines, at = 0, 1, 0, 0
    with Path(path).open("rb") as handle:
        while block := handle.read(1 << 20):
            # the current part ends at the first line end at or past start + size
            while start + size < at + len(block):
                newline = block.find(b"\n", max(0, start + size - at))
                if newline < 0:
                    break
                parts.append((start, at + newline + 1, first))
                start, first = at + newline + 1, lines + block.count(b"\n", 0, newline + 1) + 1
            lines += block.count(b"\n")
            at += len(block)
    if start < at:
        parts.append((start, at, first))
    return parts


def make_private(path: str | Path) -> None:
    """A file 0600, or a folder and everything in it 0700 / 0600 (e.g. what a library wrote)."""
    target = Path(path)
    if not target.is_dir():
        os.chmod(target, 0o600)
        return
    for folder, _, files in os.walk(target):
        os.chmod(folder, PRIVATE_DIR_MODE)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o600)


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files and folders made inside are 0600 / 0700 whatever the user's umask (for writers,
    such as a library's, that take no mode)."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)
