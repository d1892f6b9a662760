"""Frames: grab + checksum on the caller's thread (cheap: a few ms at 1080p), hash + compress + write on one
encoder worker. When the encoder falls behind, new frames are dropped and counted; the caller
never waits, so input processing never stalls on encoding."""

from __future__ import annotations

import hashlib
import io
import os
import queue
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from toolbox.core.session import Monitor

from .writer import SessionWriter, WriteError


@dataclass
class Grab:
    """One screenshot, not yet stored: BGRA bytes at physical resolution + a fast checksum."""

    t: float
    monitor: int
    raw: bytes
    size: tuple[int, int]
    crc: int


@dataclass
class _Job:
    file: str
    raw: bytes
    size: tuple[int, int]
    out_size: tuple[int, int]
    t: float
    monitor: int
    reason: str
    hash: str


class Screen:
    """Monitor geometry and grabbing (mss). Use from one thread only (mss is thread-bound)."""

    def __init__(self) -> None:
        import mss

        self._sct = mss.MSS() if hasattr(mss, "MSS") else mss.mss()
        self._mss_monitors = self._sct.monitors[1:] or self._sct.monitors[:1]
        self.monitors = [
            Monitor(index=i, left=m["left"], top=m["top"], width=m["width"], height=m["height"])
            for i, m in enumerate(self._mss_monitors)
        ]

    def monitor_at(self, x: int | None, y: int | None) -> int:
        if x is not None and y is not None:
            for m in self.monitors:
                if m.left <= x < m.left + m.width and m.top <= y < m.top + m.height:
                    return m.index
        return 0

    def grab(self, index: int) -> tuple[bytes, tuple[int, int]]:
        """BGRA bytes at the monitor's physical resolution; sets the monitor's scale (HiDPI:
        physical pixels per input-coordinate unit) from the first grab."""
        shot = self._sct.grab(self._mss_monitors[index])
        mon = self.monitors[index]
        if mon.width and shot.width != mon.width:
            mon.scale = round(shot.width / mon.width, 3)
        return bytes(shot.raw), (shot.width, shot.height)

    def close(self) -> None:
        try:
            self._sct.close()
        except Exception:  # noqa: BLE001 - best effort at shutdown
            pass


class FramePipeline:
    """Decides whether a grab is new (hash against the monitor's previous frame), and queues
    new ones for the encoder thread. Returns the frame's relative path at once."""

    def __init__(
        self,
        writer: SessionWriter,
        screen: Screen,
        fmt: str = "webp",
        quality: int = 60,
        scale: float = 1.0,
        gray: bool = False,
        max_queue: int = 4,
        on_error: Callable[[str], None] | None = None,
        method: int = 2,
        resample: str = "bicubic",
    ) -> None:
        self.writer = writer
        self.screen = screen
        self.fmt = fmt
        self.quality = quality
        self.scale = scale
        self.gray = gray
        self.method = method
        self.resample = resample
        self.on_error = on_error or (lambda msg: print(msg, file=sys.stderr))
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=max_queue)
        self._seq = 0
        self._last: dict[int, tuple[str, str]] = {}  # monitor -> (hash, file)
        self.stored = 0
        self.duplicates = 0
        self.dropped = 0
        self.grab_seconds = 0.0
        self.encode_seconds = 0.0
        self._thread = threading.Thread(target=self._run, name="frame-encoder", daemon=True)
        self._thread.start()

    def grab(self, monitor: int) -> Grab:
        started = time.perf_counter()
        t = time.time()
        raw, size = self.screen.grab(monitor)
        crc = zlib.crc32(raw)
        self.grab_seconds += time.perf_counter() - started
        return Grab(t, monitor, raw, size, crc)

    def is_stored(self, grab: Grab) -> bool:
        last = self._last.get(grab.monitor)
        return last is not None and last[0] == grab.crc

    def store(self, grab: Grab, reason: str) -> str | None:
        """Queue a grab for encoding. Returns its frame file (or the previous file if the screen
        is identical to the monitor's last stored frame), or None if it had to be dropped."""
        last = self._last.get(grab.monitor)
        if last and last[0] == grab.crc:
            self.duplicates += 1
            return last[1]
        self._seq += 1
        file = f"frames/{self._seq:06d}.{self.fmt}"
        w, h = grab.size
        out = grab.size if self.scale >= 1.0 else (max(1, round(w * self.scale)), max(1, round(h * self.scale)))
        try:
            self._queue.put_nowait(_Job(file, grab.raw, grab.size, out, grab.t, grab.monitor, reason, ""))
        except queue.Full:
            self.dropped += 1
            return None
        self._last[grab.monitor] = (grab.crc, file)
        return file

    def capture(self, monitor: int, reason: str) -> str | None:
        """Grab now and store (see `store`)."""
        return self.store(self.grab(monitor), reason)

    def forget(self, monitor: int) -> None:
        """Store the next grab of this monitor even if identical (start and end frames)."""
        self._last.pop(monitor, None)

    def backlog(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 10.0) -> None:
        """Finish queued frames (bounded wait), then stop the worker."""
        self._queue.put(None)
        self._thread.join(timeout)

    # worker ------------------------------------------------------------------------------
    def encode(self, job: _Job) -> bytes:
        from PIL import Image

        img = Image.frombuffer("RGB", job.size, job.raw, "raw", "BGRX", 0, 1)
        if self.gray:
            img = img.convert("L")
        if job.out_size != job.size:
            img = img.resize(job.out_size, Image.Resampling[self.resample.upper()], reducing_gap=2.0)
        buf = io.BytesIO()
        if self.fmt == "webp":
            img.save(buf, "WEBP", quality=self.quality, method=self.method)
        else:
            img.save(buf, "PNG", compress_level=6)
        return buf.getvalue()

    def _run(self) -> None:
        try:  # Linux: lower this thread's priority only, so encoding yields to the user's work
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        failed = False
        while True:
            job = self._queue.get()
            if job is None:
                return
            if failed:
                continue
            started = time.perf_counter()
            try:
                job.hash = hashlib.sha1(job.raw).hexdigest()[:16]
                data = self.encode(job)
                self.writer.write_frame(job.file.split("/", 1)[1], data)
            except WriteError as exc:
                failed = True
                self.on_error(str(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - one bad frame must not end the recording
                self.dropped += 1
                print(f"record.py: frame {job.file} not stored: {exc}", file=sys.stderr)
                continue
            finally:
                self.encode_seconds += time.perf_counter() - started
                job.raw = b""
            self.stored += 1
            self.writer.append(
                {
                    "t": round(job.t, 3),
                    "type": "frame",
                    "file": job.file,
                    "monitor": job.monitor,
                    "width": job.out_size[0],
                    "height": job.out_size[1],
                    "reason": job.reason,
                    "hash": job.hash,
                }
            )
