"""The session folder on disk: crash-safe and private.

events.jsonl is append-only and flushed at least every `flush_interval` (the OS keeps what was
written if the process is killed); session.json is rewritten atomically (temp file + rename).
Folders are 0700, files 0600. Any OSError becomes a `WriteError` with a one-line message."""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from toolbox.core.io import PRIVATE_DIR_MODE as DIR_MODE
from toolbox.core.io import private_dir, write_atomic
from toolbox.core.session import SessionMeta

FILE_MODE = 0o600


class WriteError(Exception):
    """The session folder cannot be written (full disk, unwritable folder, ...)."""


def new_session_id(now: float | None = None) -> str:
    """UTC start time + short random suffix: sorts by time, never collides in practice."""
    stamp = datetime.fromtimestamp(now or time.time(), tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def _describe(exc: OSError, path: Path | str) -> str:
    reason = exc.strerror or str(exc)
    return f"cannot write to {exc.filename or path}: {reason}"


class SessionWriter:
    """Owns one session folder. Thread-safe: the processing thread and the frame encoder both
    append events."""

    def __init__(self, root: Path, meta: SessionMeta, flush_interval: float = 0.25) -> None:
        self.meta = meta
        self.path = Path(root) / meta.id
        self.frames_dir = self.path / "frames"
        self.flush_interval = flush_interval
        self._lock = threading.Lock()
        self._buffer: list[bytes] = []
        self._last_flush = time.monotonic()
        self.events_written = 0
        self.bytes_written = 0
        try:
            Path(root).mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            private_dir(self.frames_dir)
            private_dir(self.path)
            fd = os.open(self.path / "events.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
            self._events = os.fdopen(fd, "ab", buffering=0)
            self.write_meta()
        except OSError as exc:
            raise WriteError(_describe(exc, self.path)) from exc

    # events -----------------------------------------------------------------------------
    def append(self, event: dict[str, Any]) -> None:
        line = orjson.dumps(event) + b"\n"
        with self._lock:
            self._buffer.append(line)
            self.events_written += 1

    def flush(self, force: bool = False) -> None:
        """Write buffered lines if the interval passed (or force). Raises WriteError."""
        now = time.monotonic()
        with self._lock:
            if not self._buffer or (not force and now - self._last_flush < self.flush_interval):
                return
            data = b"".join(self._buffer)
            self._buffer.clear()
            self._last_flush = now
            try:
                view = memoryview(data)
                while view:  # unbuffered file: write() may be partial (e.g. file size limit)
                    written = self._events.write(view)
                    if not written:
                        raise OSError(28, "No space left on device", str(self.path / "events.jsonl"))
                    view = view[written:]
            except OSError as exc:
                raise WriteError(_describe(exc, self.path / "events.jsonl")) from exc
            self.bytes_written += len(data)

    # frames and metadata ----------------------------------------------------------------
    def write_frame(self, name: str, data: bytes) -> None:
        try:
            write_atomic(self.frames_dir / name, data, fsync=False)  # many a minute; a kill cannot tear them
        except OSError as exc:
            raise WriteError(_describe(exc, self.frames_dir / name)) from exc
        with self._lock:
            self.bytes_written += len(data)

    def write_meta(self) -> None:
        try:
            write_atomic(
                self.path / "session.json", orjson.dumps(self.meta.model_dump(mode="json"), option=orjson.OPT_INDENT_2)
            )
        except OSError as exc:
            raise WriteError(_describe(exc, self.path / "session.json")) from exc

    def close(self) -> None:
        try:
            self.flush(force=True)
            os.fsync(self._events.fileno())
        finally:
            try:
                self._events.close()
            except OSError as exc:
                print(f"record.py: {_describe(exc, self.path)}", file=sys.stderr)
