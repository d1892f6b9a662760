"""The focused window: title, application and bounds.

X11 via python-xlib: `_NET_ACTIVE_WINDOW` with `_NET_WM_NAME`, falling back to `WM_NAME`, and to
the input focus / the window under the pointer when there is no EWMH window manager. Windows via
ctypes; elsewhere (macOS, Wayland without XWayland) "unknown" rather than a crash."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class WindowInfo:
    title: str = "unknown"
    app: str = "unknown"
    bounds: tuple[int, int, int, int] | None = None  # left, top, width, height
    wid: int = 0

    def key(self) -> tuple[int, str, str]:
        return (self.wid, self.title, self.app)


UNKNOWN = WindowInfo()


class X11Windows:
    """One private X connection, used from one thread."""

    def __init__(self) -> None:
        from Xlib import X, display

        self._X = X
        self.d = display.Display()
        self.root = self.d.screen().root
        atom = self.d.intern_atom
        self.NET_ACTIVE = atom("_NET_ACTIVE_WINDOW")
        self.NET_NAME = atom("_NET_WM_NAME")
        self.NET_PID = atom("_NET_WM_PID")
        self.UTF8 = atom("UTF8_STRING")
        self.WM_STATE = atom("WM_STATE")

    def _prop(self, win, atom, kind):
        prop = win.get_full_property(atom, kind)
        return prop.value if prop is not None else None

    def _active(self):
        value = self._prop(self.root, self.NET_ACTIVE, self._X.AnyPropertyType)
        if value is not None and len(value) and value[0]:
            return self.d.create_resource_object("window", int(value[0]))
        focus = self.d.get_input_focus().focus
        if isinstance(focus, int) or focus in (None, self.root):
            focus = self.root.query_pointer().child
            if isinstance(focus, int) or not focus:
                return None
        return self._client(focus)

    def _client(self, win, depth: int = 0):
        """The client window (the one with WM_STATE) at or below a frame window."""
        if self._prop(win, self.WM_STATE, self._X.AnyPropertyType) is not None or depth > 3:
            return win
        for child in win.query_tree().children:
            found = self._client(child, depth + 1)
            if found is not None and self._prop(found, self.WM_STATE, self._X.AnyPropertyType) is not None:
                return found
        return win

    def current(self) -> WindowInfo:
        from Xlib.error import XError

        try:
            win = self._active()
            if win is None:
                return UNKNOWN
            name = self._prop(win, self.NET_NAME, self.UTF8)
            title = name.decode("utf-8", "replace") if isinstance(name, bytes) else None
            if title is None:
                raw = win.get_wm_name()
                title = raw.decode("latin-1") if isinstance(raw, bytes) else (raw or "")
            app = ""
            cls = win.get_wm_class()
            if cls:
                app = cls[1] or cls[0]
            if not app:
                pid = self._prop(win, self.NET_PID, self._X.AnyPropertyType)
                if pid is not None and len(pid):
                    try:
                        with open(f"/proc/{int(pid[0])}/comm") as fh:
                            app = fh.read().strip()
                    except OSError:
                        pass
            bounds = None
            try:
                geo = win.get_geometry()
                pos = win.translate_coords(self.root, 0, 0)
                bounds = (-pos.x, -pos.y, geo.width, geo.height)
            except XError:
                pass
            return WindowInfo(title=title, app=app or "unknown", bounds=bounds, wid=int(win.id))
        except (XError, ConnectionError, OSError, AttributeError):
            # The window vanished between calls, or the server went away: not fatal.
            return UNKNOWN

    def close(self) -> None:
        try:
            self.d.close()
        except Exception:  # noqa: BLE001
            pass


class WinWindows:
    def current(self) -> WindowInfo:
        import ctypes
        from ctypes import wintypes

        user32 = ctypes.windll.user32  # type: ignore[attr-defined]
        hwnd = user32.GetForegroundWindow()
        if not hwnd:
            return UNKNOWN
        length = user32.GetWindowTextLengthW(hwnd)
        buf = ctypes.create_unicode_buffer(length + 1)
        user32.GetWindowTextW(hwnd, buf, length + 1)
        rect = wintypes.RECT()
        user32.GetWindowRect(hwnd, ctypes.byref(rect))
        cls = ctypes.create_unicode_buffer(256)
        user32.GetClassNameW(hwnd, cls, 256)
        return WindowInfo(
            title=buf.value,
            app=cls.value or "unknown",
            wid=int(hwnd),
            bounds=(rect.left, rect.top, rect.right - rect.left, rect.bottom - rect.top),
        )

    def close(self) -> None:
        pass


class MacWindows:
    def current(self) -> WindowInfo:
        try:
            from AppKit import NSWorkspace  # type: ignore[import-not-found]

            app = NSWorkspace.sharedWorkspace().frontmostApplication()
            return WindowInfo(
                title=str(app.localizedName()),
                app=str(app.bundleIdentifier() or "unknown"),
                wid=int(app.processIdentifier()),
            )
        except Exception:  # noqa: BLE001 - pyobjc missing or no permission
            return UNKNOWN

    def close(self) -> None:
        pass


class NoWindows:
    def current(self) -> WindowInfo:
        return UNKNOWN

    def close(self) -> None:
        pass


def open_tracker():
    """The best tracker for this platform; never raises."""
    try:
        if sys.platform.startswith("win"):
            return WinWindows()
        if sys.platform == "darwin":
            return MacWindows()
        if os.environ.get("DISPLAY"):
            return X11Windows()
    except Exception as exc:  # noqa: BLE001
        print(f"record.py: window tracking unavailable ({exc}); windows will be 'unknown'", file=sys.stderr)
    return NoWindows()
