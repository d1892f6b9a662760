"""A session's frames: references with monitor mapping, lookups by time, and the region of each
frame that OCR should read (the focused window, else the area around the pointer)."""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, field
from typing import Literal

from toolbox.activity.models import FrameRef, WindowState
from toolbox.core.session import Click, Frame, FrameFileError, MouseMove, Scroll, Session, Window
from toolbox.ocr_engines.words import Box

RegionMode = Literal["window", "pointer", "full"]


@dataclass
class SessionFrames:
    """The frames of one session that exist on disk, in time order."""

    session: Session
    refs: list[FrameRef] = field(default_factory=list)
    regions: dict[str, Box | None] = field(default_factory=dict)  # absolute path -> OCR region
    windows: dict[str, WindowState] = field(default_factory=dict)  # absolute path -> the focused window then
    _by_file: dict[str, FrameRef] = field(default_factory=dict)
    _times: list[float] = field(default_factory=list)
    _root: str | None = None  # the session folder, resolved, with a trailing separator

    def add(self, ref: FrameRef, file: str) -> None:
        self.refs.append(ref)
        self._by_file.setdefault(file, ref)

    def finish(self) -> None:
        self.refs.sort(key=lambda r: r.t)
        self._times = [r.t for r in self.refs]

    def drop(self, paths: set[str]) -> None:
        """Forget frames that turned out unreadable."""
        self.refs = [r for r in self.refs if r.path not in paths]
        self._by_file = {k: v for k, v in self._by_file.items() if v.path not in paths}
        self.finish()

    def named(self, file: str | None) -> FrameRef | None:
        return self._by_file.get(file) if file else None

    def before(self, t: float) -> FrameRef | None:
        """The last frame taken at or before t (the screen the person acted on)."""
        i = bisect.bisect_right(self._times, t + 1e-6)
        return self.refs[i - 1] if i else None

    def after(self, t: float) -> FrameRef | None:
        """The first frame taken after t."""
        i = bisect.bisect_right(self._times, t + 1e-6)
        return self.refs[i] if i < len(self.refs) else None

    def last_between(self, t0: float, t1: float) -> FrameRef | None:
        """The last frame taken after t0 and before t1 (both excluded)."""
        i = bisect.bisect_left(self._times, t1 - 1e-6)
        return self.refs[i - 1] if i and self.refs[i - 1].t > t0 + 1e-6 else None

    def relative(self, ref: FrameRef) -> str:
        """The frame's path inside the session folder (as the evidence names frames)."""
        if self._root is None:
            self._root = f"{self.session.path.resolve()}{os.sep}"
        return ref.path.removeprefix(self._root) if ref.path.startswith(self._root) else ref.path


def session_frames(
    session: Session, mode: RegionMode = "window", pointer_box: tuple[int, int] = (1000, 700)
) -> tuple[SessionFrames, list[str]]:
    """Frames whose files exist, each with its OCR region; problems name missing files."""
    monitors = {m.index: m for m in session.meta.monitors}
    frames = SessionFrames(session=session)
    problems: list[str] = []
    seen: set[str] = set()
    window = WindowState()
    pointer: tuple[int, int] | None = None
    for event in session.events:
        if isinstance(event, Window):
            window = WindowState(event.title, event.app, event.bounds)
        elif isinstance(event, (MouseMove, Click, Scroll)):
            pointer = (event.x, event.y)
        elif isinstance(event, Frame):
            if event.file in seen:
                continue
            seen.add(event.file)
            try:
                path = session.frame_path(event)
            except FrameFileError as exc:
                problems.append(f"{session.path / 'events.jsonl'}: {exc}; frame skipped")
                continue
            monitor = monitors.get(event.monitor)
            scale = event.width / monitor.width if monitor and monitor.width else 1.0
            ref = FrameRef(
                path=str(path),
                t=event.t,
                width=event.width,
                height=event.height,
                reason=event.reason,
                hash=event.hash,
                monitor_left=monitor.left if monitor else 0,
                monitor_top=monitor.top if monitor else 0,
                scale=round(scale, 6),
            )
            frames.add(ref, event.file)
            frames.regions[ref.path] = ocr_region(ref, mode, window.bounds, pointer, pointer_box)
            frames.windows[ref.path] = window
    frames.finish()
    return frames, problems


def ocr_region(
    ref: FrameRef,
    mode: RegionMode,
    bounds: tuple[int, int, int, int] | None,
    pointer: tuple[int, int] | None,
    pointer_box: tuple[int, int],
) -> Box | None:
    """The part of a frame to read: the focused window when its bounds are known and on this
    frame, else a box around the pointer, else everything (None). Nearly whole = whole."""
    region: Box | None = None
    if mode == "window" and bounds is not None:
        left, top, width, height = bounds
        x0, y0 = ref.to_frame(left, top)
        x1, y1 = ref.to_frame(left + width, top + height)
        region = _clamp((x0, y0, x1, y1), ref)
    if region is None and mode in ("window", "pointer") and pointer is not None:
        px, py = ref.to_frame(*pointer)
        half_w, half_h = round(pointer_box[0] * ref.scale / 2), round(pointer_box[1] * ref.scale / 2)
        region = _clamp((px - half_w, py - half_h, px + half_w, py + half_h), ref)
    if region is None:
        return None
    x0, y0, x1, y1 = region
    if (x1 - x0) * (y1 - y0) >= 0.9 * ref.width * ref.height:
        return None
    return region


def _clamp(box: Box, ref: FrameRef) -> Box | None:
    x0, y0 = max(0, box[0]), max(0, box[1])
    x1, y1 = min(ref.width, box[2]), min(ref.height, box[3])
    if x1 - x0 < 32 or y1 - y0 < 16:
        return None  # off this frame (another monitor) or too small to hold text
    return (x0, y0, x1, y1)
