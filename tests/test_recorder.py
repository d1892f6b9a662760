"""record.py against a real X server (Xvfb + openbox), real windows (xterm) and real input
(xdotool through XTEST, seen by pynput through RECORD). Each test reads the session back with
the pipeline's own reader."""

from __future__ import annotations

import json
import resource
import select
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from tests.x11 import XServer, wait_for
from toolbox.activity.typed_text import Shortcut, produced_text, read_keys
from toolbox.core.session import Session, read_session

ROOT = Path(__file__).resolve().parent.parent
W, H = 1024, 768


class Rec:
    """record.py as a subprocess; `start` returns once it says it is recording."""

    def __init__(self, xs: XServer, out: Path, *args: str, preexec=None) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "record.py"), "--out", str(out), *args],
            env=xs.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=preexec,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode() if ready else ""
        if "recording to" not in line:
            self.proc.kill()
            raise AssertionError(f"record.py did not start: {line!r} {self.proc.stderr.read().decode()!r}")
        self.path = Path(line.split("recording to ", 1)[1].split()[0])

    def stop(self, sig: int = signal.SIGINT, timeout: float = 40) -> tuple[int, str, str]:
        self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = 40) -> tuple[int, str, str]:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return self.proc.returncode, out.decode(), err.decode()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def session(self) -> Session:
        return read_session(self.path)

    def wait_events(self, check, what: str, timeout: float = 20):
        """Poll the session on disk until check(events) is truthy (what a crash would keep)."""
        return wait_for(lambda: check(read_session(self.path).events), timeout=timeout, what=what)


@pytest.fixture
def rec_factory(x11: XServer, tmp_path: Path):
    started: list[Rec] = []

    def start(*args: str, **kw) -> Rec:
        rec = Rec(x11, tmp_path / "sessions", *args, **kw)
        started.append(rec)
        return rec

    yield start
    for rec in started:
        rec.kill()


def typed(events) -> str:
    return "".join(e.char for e in events if e.type == "key" and e.pressed and e.char)


def of(events, kind: str):
    return [e for e in events if e.type == kind]


def clipboard(path: Path) -> list[tuple[str, str]]:
    """(op, text) of the session's clipboard events, read from events.jsonl as written."""
    lines = (json.loads(line) for line in (path / "events.jsonl").read_text().splitlines())
    return [(e["op"], e["text"]) for e in lines if e["type"] == "clipboard"]


def set_clipboard(xs: XServer, text: str) -> None:
    """Another program takes the CLIPBOARD (xclip stays in the background to serve it)."""
    proc = subprocess.Popen(
        ["xclip", "-selection", "clipboard", "-i"], stdin=subprocess.PIPE, env=xs.env, stdout=subprocess.DEVNULL
    )
    proc.communicate(text.encode(), timeout=10)


def test_typing_clicks_and_frames_then_ctrl_c(x11: XServer, rec_factory) -> None:
    wid = x11.xterm("notes", geometry="80x24+0+0")
    rec = rec_factory("--task", "write a note", "--full")
    text = "Hello, World; a,b=c! (Shift+comma: <)"
    x11.xdotool("type", "--window", wid, "--delay", "40", text)
    x11.xdotool("key", "--window", wid, "Return")
    rec.wait_events(lambda ev: typed(ev).endswith("\n"), "the Return key on disk")
    points = [(200, 150), (640, 400), (37, 711)]
    for x, y in points:
        x11.xdotool("mousemove", "--sync", str(x), str(y), "click", "1")
        rec.wait_events(
            lambda ev, x=x, y=y: any(
                c.x == x and c.y == y and not c.pressed and c.frame_after for c in of(ev, "click")
            ),
            f"click at {x},{y} settled",
        )
    code, out, err = rec.stop(signal.SIGINT)
    assert code == 0, err
    assert "saved" in out

    s = rec.session()
    assert s.problems == []
    assert s.meta.ended_at is not None and s.meta.ended_at >= s.meta.started_at
    assert s.meta.task == "write a note"
    assert [m.text for m in of(s.events, "marker") if m.kind == "task"] == ["write a note"]
    assert s.meta.monitors[0].width == W and s.meta.monitors[0].height == H
    # Text as typed, with shift and punctuation; comma is an ordinary key.
    assert typed(s.events) == text + "\n"
    keys = of(s.events, "key")
    assert any(k.key == "," and k.char == "," and k.pressed for k in keys)
    assert any(k.key in ("shift", "shift_l") and k.pressed for k in keys)
    assert any(k.key == "enter" and k.char == "\n" for k in keys)
    assert keys[0].frame_before and keys[-1].frame_after  # a typing burst is framed
    # Clicks: press and release at the exact coordinates, each with a readable frame.
    clicks = of(s.events, "click")
    assert [(c.x, c.y, c.pressed) for c in clicks] == [(x, y, p) for x, y in points for p in (True, False)]
    assert all(c.button == "left" for c in clicks)
    frames = {f.file: f for f in of(s.events, "frame")}
    for press, release in zip(clicks[::2], clicks[1::2]):
        for name in (press.frame_before, release.frame_after):
            assert name in frames, f"{name} has no frame event"
            with Image.open(s.path / name) as img:
                img.load()
                assert img.size == (W, H)
            assert (frames[name].width, frames[name].height) == (W, H)
    # Frames track the screen: the typed text changed it; the last frame is the end frame.
    ordered = of(s.events, "frame")
    assert ordered[0].reason == "start" and ordered[-1].reason == "end"
    assert len({f.hash for f in ordered}) >= 2
    # 'before' means before: the first key's frame is the screen before anything was typed.
    assert keys[0].frame_before == ordered[0].file
    assert len(ordered) == len(list((s.path / "frames").iterdir()))  # each stored once
    # Private: folders 0700, files 0600.
    assert stat.S_IMODE(s.path.stat().st_mode) == 0o700
    assert stat.S_IMODE((s.path / "frames").stat().st_mode) == 0o700
    for f in [s.path / "session.json", s.path / "events.jsonl", *(s.path / "frames").iterdir()]:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_focus_changes_are_window_events_with_titles(x11: XServer, rec_factory) -> None:
    alpha = x11.xterm("alpha", geometry="60x15+0+0")
    beta = x11.xterm("beta", geometry="60x15+420+330")
    x11.focus(alpha)
    rec = rec_factory()
    x11.xdotool("mousemove", "--sync", "30", "30")
    for wid in (beta, alpha, beta):
        x11.focus(wid)
        time.sleep(0.5)  # let the recorder's 0.25 s focus poll see each window
    rec.wait_events(
        lambda ev: [w.title for w in of(ev, "window")][-4:] == ["alpha", "beta", "alpha", "beta"],
        "window events alpha, beta, alpha, beta",
    )
    code, _, err = rec.stop(signal.SIGTERM)
    assert code == 0, err
    s = rec.session()
    windows = of(s.events, "window")
    assert [w.title for w in windows] == ["alpha", "beta", "alpha", "beta"]
    assert all(w.app == "XTerm" for w in windows)
    assert windows[1].bounds is not None and windows[1].bounds[0] >= 420 and windows[1].bounds[1] >= 330
    window_frames = [f for f in of(s.events, "frame") if f.reason == "window"]
    assert window_frames and all(f.t > windows[0].t for f in window_frames)
    assert s.meta.ended_at is not None


def test_sigkill_keeps_what_was_typed_a_second_ago(x11: XServer, rec_factory) -> None:
    wid = x11.xterm("shell")
    rec = rec_factory()
    x11.xdotool("type", "--window", wid, "--delay", "30", "echo kill, test")
    typed_at = time.monotonic()
    rec.wait_events(lambda ev: typed(ev) == "echo kill, test", "typed keys on disk", timeout=20)
    # Flushed at least once a second (plus the 0.5 s hold of the burst's last key for its
    # 'after' frame); allow for a loaded machine.
    assert time.monotonic() - typed_at < 5
    rec.proc.send_signal(signal.SIGKILL)
    rec.wait()
    s = rec.session()  # still readable
    assert s.meta.ended_at is None
    assert typed(s.events) == "echo kill, test"
    for f in of(s.events, "frame"):
        assert (s.path / f.file).exists()


def test_pause_hotkey_keeps_only_markers(x11: XServer, rec_factory) -> None:
    wid = x11.xterm("shell")
    rec = rec_factory()
    x11.xdotool("type", "--window", wid, "--delay", "40", "one ")
    rec.wait_events(lambda ev: typed(ev) == "one ", "first words")
    x11.xdotool("key", "ctrl+alt+p")
    rec.wait_events(lambda ev: any(m.type == "marker" and m.kind == "pause" for m in ev), "pause marker")
    x11.xdotool("type", "--window", wid, "--delay", "40", "secret")
    x11.xdotool("mousemove", "--sync", "300", "300", "click", "1")
    x11.xdotool("key", "ctrl+alt+p")
    rec.wait_events(lambda ev: any(m.type == "marker" and m.kind == "resume" for m in ev), "resume marker")
    x11.xdotool("type", "--window", wid, "--delay", "40", "two")
    rec.wait_events(lambda ev: typed(ev).endswith("two"), "words after resume")
    code, _, err = rec.stop()
    assert code == 0, err
    s = rec.session()
    assert typed(s.events) == "one two"
    markers = [m for m in of(s.events, "marker") if m.kind in ("pause", "resume")]
    assert [m.kind for m in markers] == ["pause", "resume"]
    paused = [e for e in s.events if markers[0].t < e.t < markers[1].t]
    assert paused == [], paused
    assert not of(s.events, "click")
    assert not any(k.key == "p" for k in of(s.events, "key"))  # the hotkey itself is not a keystroke


def test_excluded_window_keeps_no_keys_and_no_frames(x11: XServer, rec_factory) -> None:
    notes = x11.xterm("notes", geometry="60x15+0+0")
    bank = x11.xterm("Sign in - Bank", geometry="60x15+420+330")
    x11.focus(notes)
    rec = rec_factory("--exclude-window", "sign in", "--exclude-window", "keepass")
    x11.xdotool("type", "--window", notes, "--delay", "40", "visible")
    rec.wait_events(lambda ev: typed(ev) == "visible", "text in the notes window")
    x11.focus(bank)
    x11.xdotool("type", "--delay", "40", "hunter2")
    x11.xdotool("mousemove", "--sync", "600", "450", "click", "1")
    x11.focus(notes)
    x11.xdotool("type", "--window", notes, "--delay", "40", " again")
    rec.wait_events(lambda ev: typed(ev).endswith("again"), "text after leaving the excluded window")
    code, _, err = rec.stop()
    assert code == 0, err
    s = rec.session()
    assert typed(s.events) == "visible again"
    redacted = [m for m in of(s.events, "marker") if m.kind == "redacted"]
    assert len(redacted) == 1
    back = [w for w in of(s.events, "window") if w.t > redacted[0].t][0]
    assert back.title == "notes"
    inside = [e for e in s.events if redacted[0].t < e.t < back.t]
    assert inside == [], inside
    assert not any("Sign in" in w.title for w in of(s.events, "window"))
    assert "Sign in" not in (s.path / "events.jsonl").read_text()


def test_stop_hotkey_ends_cleanly(x11: XServer, rec_factory) -> None:
    x11.xterm("shell")
    rec = rec_factory("--stop-hotkey", "ctrl+alt+x")
    x11.xdotool("key", "ctrl+alt+x")
    code, out, err = rec.wait(timeout=40)
    assert code == 0, err
    s = rec.session()
    assert s.meta.ended_at is not None
    assert of(s.events, "key") == []  # the stop chord is not a keystroke, not even its modifiers
    end = of(s.events, "frame")[-1]
    assert end.reason == "end"
    # the default: grayscale frames at 0.75 of the screen, and the event says so.
    assert (end.width, end.height) == (768, 576)
    with Image.open(s.path / end.file) as img:
        assert img.size == (768, 576)
        r, g, b = img.convert("RGB").split()
        # gray (WebP stores it as YUV, so channels differ by rounding only; xterm's colours would not)
        assert max(ImageChops.difference(r, g).getextrema()[1], ImageChops.difference(g, b).getextrema()[1]) <= 16


def test_unwritable_folder_is_one_clear_line(x11: XServer, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = subprocess.run(
        [sys.executable, str(ROOT / "record.py"), "--out", str(blocker / "sessions")],
        env=x11.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write" in lines[0] and str(blocker) in lines[0], res.stderr


def _ignore_sigxfsz() -> None:  # in the child: a write past the size limit fails with EFBIG
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_disk_full_mid_recording_stops_cleanly(x11: XServer, rec_factory) -> None:
    """A file size limit makes writes fail like a full disk (EFBIG instead of ENOSPC)."""
    wid = x11.xterm("shell")
    rec = rec_factory(preexec=_ignore_sigxfsz)
    resource.prlimit(rec.proc.pid, resource.RLIMIT_FSIZE, (20000, 20000))  # once started: 20 kB per file
    for _ in range(6):
        if rec.proc.poll() is not None:
            break
        x11.xdotool("type", "--window", wid, "--delay", "5", "a, long line of typing to fill the log " * 3)
    code, out, err = rec.wait(timeout=40)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "cannot write" in lines[0] and "recording stopped" in lines[0], err
    s = rec.session()  # what was saved still reads
    assert typed(s.events).startswith("a, long")


def test_copy_in_a_browser_and_paste_in_an_editor(x11: XServer, rec_factory, tmp_path: Path) -> None:
    page = tmp_path / "order.html"
    page.write_text(
        "<title>Order 4471 - Shop</title><body style='font-size:22px'><p>Tracking id:</p>"
        "<input value='ZX-9048-QT' style='font-size:22px' autofocus></body>"
    )
    browser = x11.chromium(page.as_uri(), "^Order 4471", tmp_path / "profile", (0, 0, 600, 400))
    reply = tmp_path / "reply.txt"
    reply.write_text("")
    editor = x11.mousepad(reply, tmp_path / "home")
    x11.xdotool("windowmove", editor, "420", "300")
    rec = rec_factory()
    x11.focus(browser)
    x11.xdotool("key", "--delay", "150", "ctrl+a", "ctrl+c")
    rec.wait_events(lambda ev: any(k.type == "key" and k.key == "c" and not k.pressed for k in ev), "ctrl+c logged")
    x11.focus(editor)
    x11.xdotool("type", "--delay", "40", "id: ")
    x11.xdotool("key", "--delay", "150", "ctrl+v", "ctrl+s")
    wait_for(lambda: reply.read_text() == "id: ZX-9048-QT", what="the editor to save the pasted id")
    code, _, err = rec.stop()
    assert code == 0, err
    assert clipboard(rec.path) == [("copy", "ZX-9048-QT")]
    events = [json.loads(line) for line in (rec.path / "events.jsonl").read_text().splitlines()]
    copy_t = next(e["t"] for e in events if e["type"] == "clipboard")
    presses = {e["key"]: e["t"] for e in events if e["type"] == "key" and e["pressed"] and e["key"] in "cv"}
    assert presses["c"] <= copy_t < presses["v"]


def test_clipboard_of_excluded_windows_is_never_read(x11: XServer, rec_factory, tmp_path: Path) -> None:
    vault, notes = tmp_path / "vault.txt", tmp_path / "notes.txt"
    vault.write_text("hunter2")
    notes.write_text("")
    vault_win = x11.mousepad(vault, tmp_path / "home1")
    notes_win = x11.mousepad(notes, tmp_path / "home2")
    rec = rec_factory("--exclude-window", "vault")
    x11.focus(vault_win)
    time.sleep(0.5)  # the recorder sees the excluded window
    x11.xdotool("key", "--delay", "150", "ctrl+a", "ctrl+c")  # a copy in the excluded window
    set_clipboard(x11, "s3cret-token")  # another program copies while the excluded window has the focus
    time.sleep(0.5)
    x11.focus(notes_win)
    x11.xdotool("type", "--delay", "40", "draft")
    x11.xdotool("key", "--delay", "150", "ctrl+a", "ctrl+x")
    rec.wait_events(lambda ev: any(k.type == "key" and k.key == "x" for k in ev), "ctrl+x logged")
    time.sleep(0.5)
    set_clipboard(x11, "from a menu")  # a copy without ctrl+c
    time.sleep(1.0)
    code, _, err = rec.stop()
    assert code == 0, err
    assert clipboard(rec.path) == [("cut", "draft"), ("change", "from a menu")]
    log = (rec.path / "events.jsonl").read_text()
    assert "hunter2" not in log and "s3cret" not in log


def test_no_clipboard_flag(x11: XServer, rec_factory) -> None:
    x11.xterm("shell")
    rec = rec_factory("--no-clipboard")
    set_clipboard(x11, "not recorded")
    x11.xdotool("type", "--delay", "40", "ok")
    rec.wait_events(lambda ev: typed(ev) == "ok", "typing")
    time.sleep(0.5)
    code, _, err = rec.stop()
    assert code == 0, err
    assert clipboard(rec.path) == []
    assert rec.session().meta.recorder["clipboard"] is False


def test_pause_and_resume_leave_no_modifier_held(x11: XServer, rec_factory) -> None:
    """The pause chord is not logged, and a modifier the log holds at the pause is released in
    the log before the pause marker: `pwd` typed after resume reads as plain keys."""
    wid = x11.xterm("shell")
    rec = rec_factory()
    x11.xdotool("type", "--window", wid, "--delay", "40", "one")
    x11.xdotool("keydown", "shift", "key", "a")  # shift still held when the pause chord comes
    rec.wait_events(lambda ev: typed(ev) == "oneA", "typing before the pause")
    x11.xdotool("key", "ctrl+alt+p")
    rec.wait_events(lambda ev: any(m.type == "marker" and m.kind == "pause" for m in ev), "pause marker")
    x11.xdotool("keyup", "shift")
    x11.xdotool("key", "ctrl+alt+p")
    rec.wait_events(lambda ev: any(m.type == "marker" and m.kind == "resume" for m in ev), "resume marker")
    x11.xdotool("type", "--window", wid, "--delay", "40", "pwd")
    rec.wait_events(lambda ev: typed(ev).endswith("pwd"), "typing after resume")
    code, _, err = rec.stop()
    assert code == 0, err
    s = rec.session()
    keys = of(s.events, "key")
    assert not [k for k in keys if k.key.startswith(("ctrl", "alt"))]  # the chord's keys are not in the log
    assert [k.key for k in keys if k.key == "p"] == ["p", "p"]  # only pwd's p (press and release)
    pause = next(m for m in of(s.events, "marker") if m.kind == "pause")
    held: set[str] = set()
    for k in keys:
        if k.t <= pause.t and k.key.startswith("shift"):
            (held.add if k.pressed else held.discard)(k.key)
    assert held == set(), "the log still holds shift at the pause"
    assert not any(isinstance(seg, Shortcut) for seg in read_keys(keys))
    assert produced_text(keys) == "oneApwd"
