"""The processing thread: turns raw input into session events and decides when to take frames.

Frame policy (docs/session-format.md, "Frames"):
- `before`: at the start of an action group (mouse-down, the first key of a typing burst, the
  first notch of a scroll), named in that event's `frame_before`;
- `after`: when the group settles (`settle` s after its last event, or at once when another
  action starts), named in the group's last event's `frame_after` (that event is held back
  until then, at most `settle` + one grab, so a kill still loses under a second);
- `window` shortly after a focus or title change, `idle_end` when input resumes after `idle`
  s, `resume` after a pause, `start` and `end`.
Within `min_frame_interval` of the last grab on that monitor the last frame is reused; a grab
identical to the monitor's previous frame is not stored again (FramePipeline).

Hotkeys never reach the log: a modifier press waits until the next key shows whether it starts
a pause or stop chord (then it is dropped with the chord), and whenever keys stop being logged
(pause, an excluded window, the end) the log gets a release for each modifier it still holds.
Clipboard text (clipboard.py) is written as a `clipboard` event, a copy or cut when ctrl+c or
ctrl+x came just before it."""

from __future__ import annotations

import json
import os
import platform
import queue
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolbox.core.session import SCHEMA_VERSION, SessionMeta

from .clipboard import ClipboardWatcher
from .config import Hotkey, RecorderConfig
from .frames import FramePipeline, Grab, Screen
from .keys import MODIFIER_GROUP, describe
from .window import UNKNOWN, WindowInfo, open_tracker
from .writer import SessionWriter, WriteError, new_session_id

TICK = 0.05
TIMINGS_ENV = "DATAMAKR_RECORDER_TIMINGS"  # bench: file to write input-callback durations to
PREGRAB_INTERVAL = 1.0  # seconds between unstored grabs while active
PRE_MAX_AGE = 1.5  # a pre-grab older than this is not used as a 'before' frame
WINDOW_FRAME_DELAY = 0.3  # let a newly focused window paint before grabbing it
CLIPBOARD_HOLD = 0.3  # a clipboard change waits this long for its ctrl+c / ctrl+x to be processed
COPY_KEY_WINDOW = 2.0  # a ctrl+c / ctrl+x at most this long before a clipboard change made it
COPY_KEYS = {"c": "copy", "x": "cut"}


def label_os_threads() -> None:
    """Give the OS threads their Python names (Linux), so `top -H` and /proc/<pid>/task show
    which of the recorder's threads uses the CPU. Best effort."""
    for thread in threading.enumerate():
        if thread.native_id is None:
            continue
        try:
            Path(f"/proc/self/task/{thread.native_id}/comm").write_text(thread.name[:15])
        except OSError:
            pass


@dataclass
class _Group:
    kind: str
    held: dict[str, Any]
    deadline: float
    monitor: int


@dataclass
class Stats:
    started: float = field(default_factory=time.time)
    inputs: int = 0
    max_queue: int = 0


class Recorder:
    def __init__(
        self, cfg: RecorderConfig, *, listen: bool = True, on_fatal: Callable[[str], None] | None = None
    ) -> None:
        self.cfg = cfg
        self.listen = listen
        self.inputs: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.stop_requested = threading.Event()
        self.fatal: str | None = None
        self._on_fatal = on_fatal
        self._done = threading.Event()
        self._finish = threading.Event()
        self._patterns = [re.compile(p, re.IGNORECASE) for p in cfg.exclude_window]
        self._pause_key = Hotkey.parse(cfg.pause_hotkey) if cfg.pause_hotkey else None
        self._stop_key = Hotkey.parse(cfg.stop_hotkey) if cfg.stop_hotkey else None
        self.paused = False
        self.excluded = False
        self.stats = Stats()
        self.writer: SessionWriter | None = None
        self.frames: FramePipeline | None = None
        self.listeners = None
        self.clipboard: ClipboardWatcher | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None

    # lifecycle (main thread) ------------------------------------------------------------
    def start(self) -> Path:
        """Create the session folder and start capturing. Raises WriteError if the folder cannot
        be written, RuntimeError if the screen cannot be opened."""
        started = time.time()
        meta = SessionMeta(
            schema_version=SCHEMA_VERSION,
            id=new_session_id(started),
            started_at=started,
            platform=f"{platform.system().lower()}",
            recorder=self.cfg.public(),
            task=self.cfg.task,
        )
        self._meta = meta
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            raise self._start_error
        assert self.writer is not None
        if self.listen:
            from .inputs import InputListeners

            self.listeners = InputListeners(self.inputs, measure=bool(os.environ.get(TIMINGS_ENV)))
            self.listeners.start()
            if self.cfg.clipboard:
                self._watch_clipboard()
        label_os_threads()
        return self.writer.path

    def _watch_clipboard(self) -> None:
        if not (sys.platform.startswith("linux") and os.environ.get("DISPLAY")):
            return  # X11 only (docs/session-format.md)
        watcher = ClipboardWatcher(self.inputs, self._clipboard_allowed)
        try:
            watcher.start()
        except RuntimeError as exc:
            print(f"record.py: clipboard not recorded ({exc})", file=sys.stderr)
            return
        self.clipboard = watcher

    def _clipboard_allowed(self, focused: WindowInfo) -> bool:
        """Asked by the clipboard thread before it reads the clipboard, with the window focused now."""
        return not self.paused and not self._is_excluded(focused)

    def stop(self) -> None:
        """Finish: stop listening, let the processing thread drain and take the last frame,
        wait for the encoder, then write ended_at."""
        if self.clipboard is not None:
            self.clipboard.stop()
        if self.listeners is not None:
            stopper = threading.Thread(target=self.listeners.stop, daemon=True)
            stopper.start()
            stopper.join(3.0)
            if os.environ.get(TIMINGS_ENV):  # benchmark hook: seconds spent in each input callback
                Path(os.environ[TIMINGS_ENV]).write_text(json.dumps(self.listeners.timings))
        self._finish.set()
        if self._thread is not None:
            self._thread.join(30.0)

    def fail(self, message: str) -> None:
        """A write failed: remember the first message and ask everything to stop."""
        if self.fatal is None:
            self.fatal = message
            if self._on_fatal:
                self._on_fatal(message)
        self.stop_requested.set()

    # processing thread ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self.screen = Screen()
            self.tracker = open_tracker()
            self._meta.monitors = list(self.screen.monitors)
            self.writer = SessionWriter(self.cfg.out, self._meta, self.cfg.flush_interval)
            self.frames = FramePipeline(
                self.writer,
                self.screen,
                fmt=self.cfg.frame_format,
                quality=self.cfg.frame_quality,
                scale=self.cfg.scale,
                gray=self.cfg.gray,
                max_queue=self.cfg.frame_queue,
                on_error=self.fail,
                method=self.cfg.webp_method,
                resample=self.cfg.resample,
            )
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._start_error = exc
            self._ready.set()
            return
        self._init_state()
        self._ready.set()
        try:
            self._begin()
            while not self._finish.is_set() and self.fatal is None:
                try:
                    item = self.inputs.get(timeout=TICK)
                except queue.Empty:
                    item = None
                if item is not None:
                    self._handle(item)
                self._timers(time.time())
                self.writer.flush()
            if self.fatal is None:
                self._end()
        except WriteError as exc:
            self.fail(str(exc))
        finally:
            self._shutdown()

    def _init_state(self) -> None:
        self.window: WindowInfo = UNKNOWN
        self._window_checked = 0.0
        self._group: _Group | None = None
        self._last_input = time.time()
        self._last_move = 0.0
        self._pending_move: tuple[float, int, int] | None = None
        self._pos: tuple[int, int] | None = None
        self._held_mods: set[str] = set()
        self._swallow: set[str] = set()  # key releases not to record (hotkeys, unrecorded presses)
        self._mod_presses: list[tuple[dict[str, Any], int, bool]] = []  # waiting: (event, monitor, idle_end)
        self._logged_mods: set[str] = set()  # modifiers the log holds down (pressed, not yet released)
        self._copy_keys: list[tuple[float, str]] = []  # recent ctrl+c / ctrl+x: (t, "copy" | "cut")
        self._clips: list[tuple[float, str]] = []  # clipboard text waiting for its copy key: (t, text)
        self._last_grab: dict[int, tuple[float, str | None]] = {}
        self._pre: dict[int, Grab] = {}  # latest grab per monitor, stored or not
        self._last_action = 0.0  # t of the last action event (click, key, scroll)
        self._window_frame_at: float | None = None

    def _begin(self) -> None:
        now = time.time()
        if self.cfg.task:
            self._emit({"t": now, "type": "marker", "kind": "task", "text": self.cfg.task})
        self._check_window(now, schedule_frame=False)
        if not self.excluded:
            self._capture(self._window_monitor(), "start", force=True, unique=True)
        self.writer.flush(force=True)

    def _end(self) -> None:
        while True:  # input that arrived before stop was asked
            try:
                self._handle(self.inputs.get_nowait())
            except queue.Empty:
                break
        self._flush_move()
        self._flush_clips(time.time(), wait=False)
        if not (self.paused or self.excluded):
            self._flush_mod_presses()
            self._close_group(capture=True)
            self._capture(self._window_monitor(), "end", force=True, unique=True)
        else:
            self._close_group(capture=False)
        self._stop_logging_keys(time.time())

    def _shutdown(self) -> None:
        assert self.writer is not None and self.frames is not None
        self.frames.close()
        self._meta.ended_at = time.time()
        self._meta.monitors = list(self.screen.monitors)
        self._meta.__pydantic_extra__ = dict(self._meta.__pydantic_extra__ or {})
        self._meta.__pydantic_extra__["stats"] = self.summary()
        try:
            self.writer.close()
            self.writer.write_meta()
        except (WriteError, OSError) as exc:
            self.fail(str(exc))
        self.tracker.close()
        self.screen.close()
        self._done.set()

    def summary(self) -> dict[str, Any]:
        f = self.frames
        return {
            "events": self.writer.events_written if self.writer else 0,
            "frames": f.stored if f else 0,
            "frames_duplicate": f.duplicates if f else 0,
            "frames_dropped": f.dropped if f else 0,
            "bytes": self.writer.bytes_written if self.writer else 0,
        }

    # events -----------------------------------------------------------------------------
    def _emit(self, event: dict[str, Any]) -> None:
        event["t"] = round(event["t"], 3)
        if event["type"] == "key" and event["key"] in MODIFIER_GROUP:
            (self._logged_mods.add if event["pressed"] else self._logged_mods.discard)(event["key"])
        self.writer.append({k: v for k, v in event.items() if v is not None})

    def _handle(self, item: tuple[Any, ...]) -> None:
        t, kind = item[0], item[1]
        self.stats.inputs += 1
        if kind == "key":
            self._on_key(t, item[2], item[3])
            return
        if self.paused:
            return
        if self._patterns:
            self._check_window(t)
        if self.excluded:
            return
        if kind == "clipboard":
            self._clips.append((t, item[2]))
            return
        if kind != "move":
            self._flush_mod_presses()  # ctrl+click: the modifier is logged before the click
        idle_end = t - self._last_input >= self.cfg.idle
        self._last_input = t
        if kind == "move":
            self._pos = (item[2], item[3])
            if idle_end:
                self._capture(self.screen.monitor_at(*self._pos), "idle_end", force=True)
            if t - self._last_move >= self.cfg.move_interval:
                self._emit({"t": t, "type": "mouse_move", "x": item[2], "y": item[3]})
                self._last_move, self._pending_move = t, None
            else:
                self._pending_move = (t, item[2], item[3])
        elif kind == "click":
            x, y, button, pressed = item[2:]
            self._pos = (x, y)
            event = {
                "t": t,
                "type": "click",
                "x": x,
                "y": y,
                "button": getattr(button, "name", str(button)),
                "pressed": pressed,
            }
            self._action("click", event, self.screen.monitor_at(x, y), new_group=pressed, idle_end=idle_end)
        elif kind == "scroll":
            x, y, dx, dy = item[2:]
            self._pos = (x, y)
            event = {"t": t, "type": "scroll", "x": x, "y": y, "dx": int(dx), "dy": int(dy)}
            self._action("scroll", event, self.screen.monitor_at(x, y), new_group=False, idle_end=idle_end)

    def _on_key(self, t: float, key: Any, pressed: bool) -> None:
        name, char = describe(key)
        group = MODIFIER_GROUP.get(name)
        if group:
            (self._held_mods.add if pressed else self._held_mods.discard)(group)
        if not pressed and name.lower() in self._swallow:
            self._swallow.discard(name.lower())
            return
        if pressed and not group:
            for hotkey, action in ((self._stop_key, self._hotkey_stop), (self._pause_key, self._toggle_pause)):
                if hotkey is not None and hotkey.matches(self._held_mods, name):
                    self._swallow.add(name.lower())
                    self._drop_mod_presses()  # the chord's modifiers are not logged either
                    action(t)
                    return
        if self.paused:
            if pressed:
                self._swallow.add(name.lower())
            return
        if self._patterns:
            self._check_window(t)
        if self.excluded:
            if pressed:
                self._swallow.add(name.lower())
            return
        idle_end = t - self._last_input >= self.cfg.idle
        self._last_input = t
        event = {"t": t, "type": "key", "key": name, "char": char if pressed else None, "pressed": pressed}
        monitor = self.screen.monitor_at(*self._pos) if self._pos else self._window_monitor()
        if group and pressed:  # wait: it may be the start of a hotkey chord
            self._mod_presses.append((event, monitor, idle_end))
            return
        self._flush_mod_presses()
        if pressed and name.lower() in COPY_KEYS and self._held_mods & {"ctrl", "cmd"}:
            self._copy_keys.append((t, COPY_KEYS[name.lower()]))
        self._action("key", event, monitor, new_group=False, idle_end=idle_end)

    def _flush_mod_presses(self) -> None:
        """Log the waiting modifier presses: the key that came next is not a hotkey."""
        presses, self._mod_presses = self._mod_presses, []
        for event, monitor, idle_end in presses:
            self._action("key", event, monitor, new_group=False, idle_end=idle_end)

    def _drop_mod_presses(self) -> None:
        for event, _, _ in self._mod_presses:
            self._swallow.add(event["key"].lower())
        self._mod_presses = []

    def _stop_logging_keys(self, t: float) -> None:
        """Keys stop being logged (pause, excluded window, end): release in the log every
        modifier it holds, so nothing typed later reads as a shortcut. The real releases that
        come later are not logged."""
        self._drop_mod_presses()
        for name in sorted(self._logged_mods):
            self._emit({"t": t, "type": "key", "key": name, "pressed": False})
            self._swallow.add(name.lower())
        self._logged_mods.clear()

    def _flush_clips(self, now: float, wait: bool = True) -> None:
        """Write clipboard changes that waited CLIPBOARD_HOLD for the ctrl+c / ctrl+x that made them."""
        while self._clips and (not wait or now - self._clips[0][0] >= CLIPBOARD_HOLD):
            t, text = self._clips.pop(0)
            made_by = [(k, op) for k, op in self._copy_keys if t - COPY_KEY_WINDOW <= k <= t + CLIPBOARD_HOLD]
            if made_by:  # each key makes one copy
                self._copy_keys = [(k, o) for k, o in self._copy_keys if k > made_by[-1][0]]
            self._emit({"t": t, "type": "clipboard", "op": made_by[-1][1] if made_by else "change", "text": text})
        self._copy_keys = [(k, o) for k, o in self._copy_keys if k >= now - COPY_KEY_WINDOW - CLIPBOARD_HOLD]

    def _action(self, kind: str, event: dict[str, Any], monitor: int, *, new_group: bool, idle_end: bool) -> None:
        self._flush_move()
        group = self._group
        if group is not None and (new_group or group.kind != kind or group.monitor != monitor):
            self._close_group(capture=True, until=event["t"])
            group = None
        if group is None:
            self._window_frame_at = None  # the before frame shows the new window too
            # Clicks act on release, so a grab at mouse-down is still 'before'; keys and wheel
            # notches act at once, so they use the latest grab taken before them.
            span = None if kind == "click" or idle_end else (self._last_action, event["t"])
            event["frame_before"] = self._capture(
                monitor, "idle_end" if idle_end else "before", force=idle_end, window=span
            )
            self._group = _Group(kind, event, event["t"] + self.cfg.settle, monitor)
        else:
            self._emit(group.held)
            group.held = event
            group.deadline = event["t"] + self.cfg.settle
        self._last_action = event["t"]

    def _close_group(self, capture: bool, until: float | None = None) -> None:
        """End the open action group; its last event gets the 'after' frame. `until`: a new
        action starts then, so prefer a grab taken before it."""
        group, self._group = self._group, None
        if group is None:
            return
        if capture:
            span = (group.held["t"], until) if until is not None else None
            group.held["frame_after"] = self._capture(group.monitor, "after", window=span)
        self._emit(group.held)

    def _flush_move(self) -> None:
        if self._pending_move is not None:
            t, x, y = self._pending_move
            self._emit({"t": t, "type": "mouse_move", "x": x, "y": y})
            self._last_move, self._pending_move = t, None

    def _timers(self, now: float) -> None:
        if self._pending_move is not None and now - self._last_move >= self.cfg.move_interval:
            self._flush_move()
        if self._group is not None and now >= self._group.deadline:
            self._close_group(capture=not (self.paused or self.excluded))
        if now - self._window_checked >= self.cfg.window_poll:
            self._check_window(now)
        self._flush_clips(now)
        if self._window_frame_at is not None and now >= self._window_frame_at:
            self._window_frame_at = None
            if not (self.paused or self.excluded):
                self._capture(self._window_monitor(), "window")
        self._pregrab(now)

    # hotkeys ----------------------------------------------------------------------------
    def _hotkey_stop(self, t: float) -> None:
        self._emit({"t": t, "type": "marker", "kind": "note", "text": "stop hotkey"})
        self.stop_requested.set()

    def _toggle_pause(self, t: float) -> None:
        if not self.paused:
            self._flush_move()
            self._flush_clips(t, wait=False)
            self._close_group(capture=False)
            self._stop_logging_keys(t)
            self._window_frame_at = None
            self._pre.clear()
            self.paused = True
            self._emit({"t": t, "type": "marker", "kind": "pause", "text": None})
        else:
            self.paused = False
            self._emit({"t": t, "type": "marker", "kind": "resume", "text": None})
            self.window = UNKNOWN  # re-announce the focused window
            self._check_window(t, schedule_frame=False)
            if not self.excluded:
                self._capture(self._window_monitor(), "resume", force=True)
        self.writer.flush(force=True)

    # windows and frames -----------------------------------------------------------------
    def _check_window(self, now: float, schedule_frame: bool = True) -> None:
        self._window_checked = now
        if self.paused:
            return
        info = self.tracker.current()
        if info.key() == self.window.key():
            return
        self.window = info
        if self._is_excluded(info):
            if not self.excluded:
                self._flush_move()
                self._flush_clips(now, wait=False)  # read while a window that is not excluded had the focus
                self._close_group(capture=False)  # the screen may already show the excluded window
                self._stop_logging_keys(now)
                self._window_frame_at = None
                self._pre.clear()
                self._emit({"t": now, "type": "marker", "kind": "redacted", "text": "excluded window focused"})
            self.excluded = True
            return
        self.excluded = False
        self._emit(
            {
                "t": now,
                "type": "window",
                "title": info.title,
                "app": info.app,
                "bounds": list(info.bounds) if info.bounds else None,
            }
        )
        if schedule_frame:
            self._window_frame_at = now + WINDOW_FRAME_DELAY

    def _is_excluded(self, info: WindowInfo) -> bool:
        return any(p.search(info.title) or p.search(info.app) for p in self._patterns)

    def _window_monitor(self) -> int:
        b = self.window.bounds
        if b:
            return self.screen.monitor_at(b[0] + b[2] // 2, b[1] + b[3] // 2)
        return self.screen.monitor_at(*self._pos) if self._pos else 0

    def _capture(
        self,
        monitor: int,
        reason: str,
        force: bool = False,
        unique: bool = False,
        window: tuple[float, float] | None = None,
    ) -> str | None:
        """The frame for `reason`. With `window=(since, until)`, a pre-grab taken in that span is
        used instead of grabbing now (a key's echo is on screen within milliseconds, so a grab
        taken after the key press is no longer 'before')."""
        now = time.time()
        pre = self._pre.get(monitor)
        if window is not None and pre is not None and window[0] <= pre.t < window[1] and now - pre.t <= PRE_MAX_AGE:
            file = self.frames.store(pre, reason)
            self._last_grab[monitor] = (pre.t, file)
            return file
        last = self._last_grab.get(monitor)
        if not force and last is not None and last[1] is not None and now - last[0] < self.cfg.min_frame_interval:
            return last[1]
        if unique:
            self.frames.forget(monitor)
        grab = self.frames.grab(monitor)
        file = self.frames.store(grab, reason)
        self._keep_pre(grab)
        self._last_grab[monitor] = (grab.t, file)
        return file

    def _keep_pre(self, grab: Grab) -> None:
        if self.frames.is_stored(grab):
            grab.raw = b""  # store() will only need the checksum to name the stored file
        self._pre[grab.monitor] = grab

    def _pregrab(self, now: float) -> None:
        """While the person is active (not idle, paused or excluded, no action open or waiting), keep a
        grab at most PREGRAB_INTERVAL old in memory: the 'before' frame for the next key or
        scroll. Not stored unless used."""
        if self.paused or self._group is not None or self._mod_presses or now - self._last_input >= self.cfg.idle:
            return  # (a waiting modifier press will want the grab taken before it)
        latest = max((g.t for g in self._pre.values()), default=0.0)
        if now - latest < PREGRAB_INTERVAL:
            return
        if self._patterns:
            self._check_window(now)  # never keep a grab of an excluded window
        if self.excluded:
            return
        monitor = self.screen.monitor_at(*self._pos) if self._pos else self._window_monitor()
        self._keep_pre(self.frames.grab(monitor))
