"""A real X server for tests: Xvfb on a free display (chosen by Xvfb itself via -displayfd),
openbox so that focus changes are real, and small helpers to start windows and drive xdotool.

Use the `x11` fixture (conftest.py) or `XServer` directly:

    with XServer(1024, 768) as xs:
        wid = xs.xterm("notes")
        xs.xdotool("type", "--window", wid, "hello")
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
NEEDED = ("Xvfb", "xdotool", "openbox", "xterm", "xprop", "mousepad", "xclip")


def missing_tools() -> list[str]:
    return [tool for tool in NEEDED if shutil.which(tool) is None]


def wait_for(check: Callable[[], T], timeout: float = 20.0, interval: float = 0.1, what: str = "condition") -> T:
    """Poll until check() returns something truthy; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class XServer:
    def __init__(self, width: int = 1024, height: int = 768, wm: bool = True) -> None:
        self.width, self.height, self.wm = width, height, wm
        self.display = ""
        self._procs: list[subprocess.Popen] = []
        self._old_display: str | None = None

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DISPLAY"] = self.display
        return env

    def start(self) -> XServer:
        read_fd, write_fd = os.pipe()
        xvfb = subprocess.Popen(
            [
                "Xvfb",
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                f"{self.width}x{self.height}x24",
                "-nolisten",
                "tcp",
                "+extension",
                "RECORD",
                "-noreset",
            ],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        self._procs.append(xvfb)
        number = b""
        with os.fdopen(read_fd, "rb") as fh:
            while not number.endswith(b"\n"):
                chunk = fh.read(1)
                if not chunk:
                    self.stop()
                    raise RuntimeError("Xvfb exited before reporting its display")
                number += chunk
        self.display = f":{int(number)}"
        self._old_display = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = self.display
        if self.wm:
            self.spawn(["openbox", "--sm-disable"])
            wait_for(
                lambda: "_NET_SUPPORTING_WM_CHECK(WINDOW)" in self.run("xprop", "-root", check=False),
                what="openbox to manage the screen",
            )
        return self

    def spawn(self, cmd: list[str], env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(
            cmd, env={**self.env, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw
        )
        self._procs.append(proc)
        return proc

    def run(self, *cmd: str, check: bool = True, timeout: float = 20.0) -> str:
        res = subprocess.run(list(cmd), env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
        return res.stdout

    def xdotool(self, *args: str) -> str:
        return self.run("xdotool", *args)

    def xterm(self, title: str, geometry: str = "80x20+0+0", font_size: int = 14, extra: tuple[str, ...] = ()) -> str:
        """Start an xterm with a fixed title running a plain shell; wait until it is mapped
        and focused; return its window id."""
        self.spawn(
            [
                "xterm",
                "-T",
                title,
                "-n",
                title,
                "-geometry",
                geometry,
                "-fa",
                "Monospace",
                "-fs",
                str(font_size),
                "+ah",
                "-xrm",
                "XTerm*allowTitleOps: false",
                *extra,
                "-e",
                "sh",
                "-c",
                "PS1='$ ' exec sh",
            ]
        )
        wid = wait_for(
            lambda: self.run("xdotool", "search", "--name", f"^{title}$", check=False).split(),
            what=f"xterm {title!r} to appear",
        )[0]
        self.focus(wid)
        return wid

    def window(self, name_regex: str, timeout: float = 30.0) -> str:
        """The id of the first visible window whose title matches, once there is one."""
        return wait_for(
            lambda: self.run("xdotool", "search", "--onlyvisible", "--name", name_regex, check=False).split(),
            timeout=timeout,
            what=f"a window named {name_regex!r}",
        )[0]

    def mousepad(self, path: Path, home: Path, user: int | None = None) -> str:
        """Mousepad (Xfce's GTK text editor) editing `path`, with default settings kept in memory
        and its state under `home`; focused; returns its window id. Its title is
        "<path> - Mousepad", with a leading "*" once modified. `user`: run it as that user id
        (from root, by setpriv; `home` and the folder of `path` are given to it), as a person's
        editor runs: as root, Mousepad shows a warning bar across its window."""
        env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "GSETTINGS_BACKEND": "memory"}
        env |= {"NO_AT_BRIDGE": "1", "XDG_RUNTIME_DIR": str(home)}
        prefix: list[str] = []
        if user is not None:
            home.mkdir(parents=True, exist_ok=True)
            home.chmod(0o700)
            for owned in (home, path.parent, path):
                os.chown(owned, user, user)
            prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
        self.spawn([*prefix, "mousepad", "--disable-server", str(path)], env=env)
        wid = self.window(re.escape(path.name) + " - Mousepad$")
        self.focus(wid)
        return wid

    def chromium(self, url: str, title_regex: str, profile: Path, geometry: tuple[int, int, int, int]) -> str:
        """Chromium showing `url` as an app window (no tabs or address bar) at (x, y, width,
        height); focused; returns its window id once the page's title matches."""
        x, y, w, h = geometry
        self.spawn(
            [
                "chromium",
                "--no-sandbox",  # tests run as root
                "--test-type",  # no infobar about that flag over the page
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-gpu",
                "--password-store=basic",
                f"--user-data-dir={profile}",
                f"--window-position={x},{y}",
                f"--window-size={w},{h}",
                f"--app={url}",
            ]
        )
        wid = self.window(title_regex, timeout=60)
        self.focus(wid)
        return wid

    def focus(self, wid: str) -> None:
        self.run("xdotool", "windowactivate", "--sync", wid, check=False, timeout=10)
        wait_for(
            lambda: self.run("xdotool", "getactivewindow", check=False).strip() == wid,
            what=f"window {wid} to be focused",
        )

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self._procs):
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        if self._old_display is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = self._old_display

    def __enter__(self) -> XServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def session_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in Path(root).glob("*/session.json"))
