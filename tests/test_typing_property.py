"""Typed text comes back exactly: random text with random corrections (backspace, delete, arrows,
home/end, shift+arrow selections that are then typed over or erased), typed by xdotool into a real
editor (Mousepad) under Xvfb, recorded by record.py and read back by `toolbox.activity.typed_text`,
equals what the editor saved."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_recorder import Rec
from tests.x11 import XServer, wait_for
from toolbox.activity.typed_text import produced_text
from toolbox.core.session import read_session

ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_/()!?'\"@#$%&*+=<>[]{}"
EDIT_KEYS = ["BackSpace", "Delete", "Left", "Right", "Home", "End"]
SELECT_KEYS = ["shift+Left", "shift+Right", "shift+Home", "shift+End"]

typing = st.tuples(st.just("type"), st.text(alphabet=ALPHABET, min_size=1, max_size=8))
correction = st.tuples(st.just("key"), st.sampled_from(EDIT_KEYS))
selection = st.tuples(st.just("key"), st.sampled_from(SELECT_KEYS))
# Each example types first: an example that changes nothing leaves the editor's document clean,
# and an editor does not save a clean document (ctrl+s would never touch the file).
edits = st.tuples(typing, st.lists(st.one_of(typing, typing, correction, selection), max_size=13)).map(
    lambda first_rest: [first_rest[0], *first_rest[1]]
)


def xdotool_runs(ops: list[tuple[str, str]]) -> list[list[str]]:
    """xdotool command lines that type and press everything in order (about 25 ms a key).
    `type` takes the rest of its command line as text, so it ends one."""
    runs: list[list[str]] = [[]]
    for kind, value in ops:
        if kind == "type":
            runs[-1] += ["type", "--delay", "25", "--", value]
            runs.append([])
        else:
            runs[-1] += ["key", "--delay", "25", value]
    return [run for run in runs if run]


class Editor:
    """Mousepad on one file under a recording that runs for the whole test."""

    def __init__(self, xs: XServer, rec: Rec, path: Path, wid: str) -> None:
        self.xs, self.rec, self.path, self.wid = xs, rec, path, wid

    def type_and_save(self, ops: list[tuple[str, str]]) -> tuple[str, str]:
        """(what the editor saved, what the recording reads as typed) for one example."""
        self.xs.focus(self.wid)
        self.xs.xdotool("key", "--delay", "60", "ctrl+a", "BackSpace")  # start from an empty document
        time.sleep(0.3)
        start = time.time()
        for run in xdotool_runs(ops):
            self.xs.xdotool(*run)
        end = time.time()
        time.sleep(0.3)
        saved = self.path.stat().st_mtime_ns
        self.xs.xdotool("key", "ctrl+s")
        wait_for(lambda: self.path.stat().st_mtime_ns != saved, what="the editor to save")
        # keys are written in order: once a key pressed after `end` is on disk, all before it are
        self.rec.wait_events(lambda ev: any(e.type == "key" and e.t > end for e in ev), "the keys on disk")
        keys = [e for e in read_session(self.rec.path).events if e.type == "key" and start <= e.t <= end]
        return self.path.read_text(), produced_text(keys)


def test_typed_text_with_corrections_comes_back_exactly(x11: XServer, tmp_path: Path) -> None:
    doc = tmp_path / "draft.txt"
    doc.write_text("")
    wid = x11.mousepad(doc, tmp_path / "home")
    rec = Rec(x11, tmp_path / "sessions", "--no-clipboard")
    editor = Editor(x11, rec, doc, wid)

    @settings(max_examples=6, deadline=None, database=None)
    @given(edits)
    def typed_back_exactly(ops: list[tuple[str, str]]) -> None:
        saved, read = editor.type_and_save(ops)
        assert read == saved, ops

    try:
        typed_back_exactly()
    finally:
        rec.kill()
