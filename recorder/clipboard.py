"""The X CLIPBOARD selection: its text each time its owner changes (a copy, a cut, a menu copy).

One thread with its own X connection: XFixes tells it when a program takes the CLIPBOARD; it asks
`may_read` (never while paused or while an excluded window has the focus, see core.Recorder) and
only then converts the selection to text (UTF8_STRING, else STRING; INCR transfers too), cut at
MAX_BYTES. What it read goes into the recorder's input queue as `(t, "clipboard", text)`; the
processing thread decides whether it was a copy, a cut or another change (docs/session-format.md)."""

from __future__ import annotations

import queue
import select
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .window import WindowInfo, X11Windows

MAX_BYTES = 64 * 1024
REPLY_TIMEOUT = 1.0  # seconds the owner has to answer a conversion (or send the next INCR chunk)


class ClipboardWatcher:
    """Reads the CLIPBOARD's text when its owner changes. X11 only; `start` raises RuntimeError
    when the server has no XFixes."""

    def __init__(self, out: queue.SimpleQueue[tuple[Any, ...]], may_read: Callable[[WindowInfo], bool]) -> None:
        self.out = out
        self.may_read = may_read
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._deferred: list[Any] = []  # owner changes that came while a read was waiting

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="clipboard", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(str(self._error))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(3.0)

    # watcher thread ---------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._open()
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                event = self._deferred.pop(0) if self._deferred else self._next_event(0.2)
                if event is not None and self._is_owner_change(event):
                    self._owner_changed(event)
        except Exception as exc:  # noqa: BLE001 - the X server went away: stop watching, keep recording
            print(f"record.py: clipboard no longer recorded ({exc})", file=sys.stderr)
        finally:
            self.windows.close()

    def _open(self) -> None:
        from Xlib import X
        from Xlib.ext import xfixes

        self.windows = X11Windows()  # own connection, used by this thread only
        d = self.d = self.windows.d
        if not d.has_extension("XFIXES"):
            raise RuntimeError("the X server has no XFIXES extension")
        d.xfixes_query_version()
        self._X = X
        self.CLIPBOARD = d.intern_atom("CLIPBOARD")
        self.UTF8 = d.intern_atom("UTF8_STRING")
        self.INCR = d.intern_atom("INCR")
        self.PROP = d.intern_atom("DATAMAKR_CLIPBOARD")
        self.win = self.windows.root.create_window(0, 0, 1, 1, 0, X.CopyFromParent, event_mask=X.PropertyChangeMask)
        d.xfixes_select_selection_input(self.win, self.CLIPBOARD, xfixes.XFixesSetSelectionOwnerNotifyMask)
        self._owner_event = d.extension_event.SetSelectionOwnerNotify[0]
        self._owner_sub = xfixes.XFixesSetSelectionOwnerNotify
        d.flush()

    def _next_event(self, timeout: float) -> Any:
        if not self.d.pending_events():
            ready, _, _ = select.select([self.d.fileno()], [], [], timeout)
            if not ready:
                return None
        return self.d.next_event() if self.d.pending_events() else None

    def _wait_for(self, check: Callable[[Any], bool]) -> Any:
        deadline = time.monotonic() + REPLY_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            event = self._next_event(left)
            if event is not None and check(event):
                return event
            if event is not None and self._is_owner_change(event):
                self._deferred.append(event)
        return None

    def _is_owner_change(self, event: Any) -> bool:
        return event.type == self._owner_event and getattr(event, "sub_code", None) == self._owner_sub

    def _owner_changed(self, event: Any) -> None:
        t = time.time()
        if event.owner == self._X.NONE or not self.may_read(self.windows.current()):
            return
        text = self._read(event.selection_timestamp)
        if text is not None:
            self.out.put((t, "clipboard", text))

    def _read(self, timestamp: int) -> str | None:
        """The selection as text, or None if its owner offers no text."""
        from Xlib import Xatom

        X = self._X
        for target, encoding in ((self.UTF8, "utf-8"), (Xatom.STRING, "latin-1")):
            self.win.convert_selection(self.CLIPBOARD, target, self.PROP, timestamp)
            self.d.flush()
            reply = self._wait_for(lambda e: e.type == X.SelectionNotify and e.requestor == self.win)
            if reply is None or reply.property == X.NONE:
                continue
            data = self._take_property()
            if data is None:
                continue
            return data[:MAX_BYTES].decode(encoding, "ignore")  # a character cut at the cap is dropped
        return None

    def _pop_property(self) -> Any:
        """The reply property (at most MAX_BYTES and a little more), then deleted."""
        prop = self.win.get_property(self.PROP, self._X.AnyPropertyType, 0, MAX_BYTES // 4 + 1)
        self.win.delete_property(self.PROP)
        self.d.flush()
        return prop

    def _take_property(self) -> bytes | None:
        """Read and delete the reply property; follows an INCR transfer until MAX_BYTES."""
        prop = self._pop_property()
        if prop is None:
            return None
        if prop.property_type != self.INCR:
            return _as_bytes(prop.value)
        data = b""
        while len(data) <= MAX_BYTES:  # each chunk: a new value of the property, deleted once read
            notify = self._wait_for(
                lambda e: (
                    e.type == self._X.PropertyNotify
                    and e.window == self.win
                    and e.atom == self.PROP
                    and e.state == self._X.PropertyNewValue
                )
            )
            if notify is None:
                return data or None
            chunk = self._pop_property()
            if chunk is None or not len(chunk.value):
                return data
            data += _as_bytes(chunk.value)
        return data  # over the cap: stop reading; the owner gives up the transfer on its own


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else bytes(value)
