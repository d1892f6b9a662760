"""Produced text from key events: what the person typed, after shift, caps lock and corrections.

Key events carry a canonical `key` name and, for keys that type, the `char` (docs/session-format.md). Some
recorders apply shift and caps lock to `char`, some report the bare key; the reader here gives
the same text for both, because it recomputes the case from the modifier state it tracks.

Shortcuts (ctrl/cmd/alt + key) become named `Shortcut`s, never text. Enter and Tab end a text
run (`TextRun.ended_by`), so that an action compiler can emit "type" and "press enter" apart
while `produced_text` still returns the exact text, newlines and tabs included.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Aliases of key names from different recorders and toolkits (pynput, xdotool, X11 keysyms).
KEY_ALIASES = {
    "return": "enter",
    "kp_enter": "enter",
    "linefeed": "enter",
    "control": "ctrl",
    "control_l": "ctrl_l",
    "control_r": "ctrl_r",
    "shift_lock": "caps_lock",
    "capslock": "caps_lock",
    "caps": "caps_lock",
    "super": "cmd",
    "super_l": "cmd_l",
    "super_r": "cmd_r",
    "meta": "cmd",
    "meta_l": "cmd_l",
    "meta_r": "cmd_r",
    "win": "cmd",
    "windows": "cmd",
    "command": "cmd",
    "iso_level3_shift": "alt_gr",
    "mode_switch": "alt_gr",
    "escape": "esc",
    "del": "delete",
    "kp_delete": "delete",
    "back_space": "backspace",
    "iso_left_tab": "tab",
    "prior": "page_up",
    "next": "page_down",
    "pageup": "page_up",
    "pagedown": "page_down",
    "kp_left": "left",
    "kp_right": "right",
    "kp_home": "home",
    "kp_end": "end",
    "kp_insert": "insert",
}
MODIFIERS = {
    "shift": "shift",
    "shift_l": "shift",
    "shift_r": "shift",
    "ctrl": "ctrl",
    "ctrl_l": "ctrl",
    "ctrl_r": "ctrl",
    "alt": "alt",
    "alt_l": "alt",
    "alt_r": "alt",
    "cmd": "cmd",
    "cmd_l": "cmd",
    "cmd_r": "cmd",
    "alt_gr": "alt_gr",  # types characters on many layouts: not a shortcut modifier
}
SHORTCUT_MODIFIERS = ("ctrl", "cmd", "alt")
# US layout: what shift makes of a key that reports its unshifted character.
SHIFTED = dict(zip("`1234567890-=[]\\;',./", '~!@#$%^&*()_+{}|:"<>?'))
SHORTCUT_NAMES = {
    ("c",): "copy",
    ("v",): "paste",
    ("shift", "v"): "paste",  # a terminal's paste (elsewhere: paste as plain text)
    ("shift", "c"): "copy",  # a terminal's copy (ctrl+c interrupts there)
    ("x",): "cut",
    ("a",): "select_all",
    ("z",): "undo",
    ("y",): "redo",
    ("shift", "z"): "redo",
    ("s",): "save",
    ("f",): "find",
    ("p",): "print",
    ("t",): "new_tab",
    ("w",): "close_tab",
    ("n",): "new_window",
    ("l",): "focus_address_bar",
    ("r",): "reload",
    ("tab",): "next_tab",
    ("shift", "tab"): "previous_tab",
    ("o",): "open",
    ("q",): "quit",
    ("insert",): "copy",  # ctrl+insert
}
ALT_NAMES = {("tab",): "switch_app", ("shift", "tab"): "switch_app", ("f4",): "close_window"}
# Keys that move the caret inside the text being typed.
CARET_KEYS = {"left", "right", "home", "end"}


class KeyLike(Protocol):
    t: float
    key: str
    char: str | None
    pressed: bool


def canonical_key(name: str) -> str:
    """Lower-case canonical key name: `Return` -> `enter`, `Control_L` -> `ctrl_l`, `Key.shift` -> `shift`."""
    low = name.strip()
    if low.lower().startswith("key."):
        low = low[4:]
    if len(low) == 1:
        return low.lower()
    low = low.lower()
    return KEY_ALIASES.get(low, low)


@dataclass
class TextRun:
    """Text typed without leaving the field: ends at Enter, Tab, a shortcut, a click or a pause."""

    text: str
    t: float
    t_end: float
    ended_by: str | None = None  # "enter" or "tab" when that key ended the run
    keys: int = 0  # key presses that went into it (typos and corrections included)


@dataclass
class Shortcut:
    """A key combination or a lone non-text key (esc, f5, up): a named action, never text."""

    keys: list[str]
    t: float
    name: str | None = None  # "copy", "paste", "switch_app", ... when known


Segment = TextRun | Shortcut


@dataclass
class KeyboardReader:
    """Incremental: `feed` key events in time order, `flush` when focus may have moved (a click,
    a window change). Returns the finished segments as they complete."""

    held: set[str] = field(default_factory=set)  # modifier groups held down
    caps_lock: bool = False
    _buffer: list[str] = field(default_factory=list)
    _caret: int = 0
    _t0: float | None = None
    _t1: float = 0.0
    _presses: int = 0
    _anchor: int | None = None  # the selection's other end (shift + caret keys), as editors keep it

    def feed(self, event: KeyLike) -> list[Segment]:
        key = canonical_key(event.key)
        group = MODIFIERS.get(key)
        if not event.pressed:
            if group:
                self.held.discard(group)
            return []
        if group:
            self.held.add(group)
            return []
        if key == "caps_lock":
            self.caps_lock = not self.caps_lock
            return []
        mods = [m for m in SHORTCUT_MODIFIERS if m in self.held]
        if mods:
            return self._shortcut(mods, key, event.t)
        if key == "insert" and "shift" in self.held:
            return [*self.flush(), Shortcut(keys=["shift", "insert"], t=event.t, name="paste")]
        if key in ("enter", "tab"):
            self._touch(event.t)
            return self._end_run(ended_by=key)
        if key in ("backspace", "delete") and self._delete_selection():
            self._touch(event.t)
            return []
        if key == "backspace":
            if self._caret > 0:
                del self._buffer[self._caret - 1]
                self._caret -= 1
            self._touch(event.t)
            return []
        if key == "delete":
            if self._caret < len(self._buffer):
                del self._buffer[self._caret]
            self._touch(event.t)
            return []
        if key in CARET_KEYS and self._t0 is not None:
            self._move_caret(key)
            self._touch(event.t)
            return []
        char = self._char(key, event.char)
        if char is None:  # a key that types nothing: esc, f5, up, page_down, a lone caret key ...
            return [*self.flush(), Shortcut(keys=[key], t=event.t)]
        self._delete_selection()  # typing over a selection replaces it
        self._buffer.insert(self._caret, char)
        self._caret += 1
        self._touch(event.t)
        return []

    def _move_caret(self, key: str) -> None:
        """Shift extends the selection from where it started; without shift left and right
        first collapse a selection to its start or end (GTK, browsers, Qt and Windows agree)."""
        selected = self._selection()
        if "shift" not in self.held:
            self._anchor = None
            if selected and key in ("left", "right"):
                self._caret = selected[0] if key == "left" else selected[1]
                return
        elif self._anchor is None:
            self._anchor = self._caret
        self._caret = {
            "left": max(0, self._caret - 1),
            "right": min(len(self._buffer), self._caret + 1),
            "home": 0,
            "end": len(self._buffer),
        }[key]

    def _selection(self) -> tuple[int, int] | None:
        if self._anchor is None or self._anchor == self._caret:
            return None
        return min(self._anchor, self._caret), max(self._anchor, self._caret)

    def _delete_selection(self) -> bool:
        selected = self._selection()
        self._anchor = None
        if selected is None:
            return False
        del self._buffer[selected[0] : selected[1]]
        self._caret = selected[0]
        return True

    def flush(self) -> list[Segment]:
        """End the current run (focus may have moved); modifier state is kept."""
        return self._end_run(ended_by=None)

    def _char(self, key: str, char: str | None) -> str | None:
        if key == "space":
            return " "
        if char is None or char in ("\n", "\r", "\t"):
            char = key if len(key) == 1 else None
        if char is None or len(char) != 1 or not char.isprintable():
            return None
        shift = "shift" in self.held
        if char.isalpha() and char.lower() != char.upper() and len(char.lower()) == len(char.upper()) == 1:
            # Recompute the case from the modifiers: right for raw and for already-applied chars.
            return char.upper() if shift != self.caps_lock else char.lower()
        if shift and char in SHIFTED:
            return SHIFTED[char]
        return char

    def _shortcut(self, mods: list[str], key: str, t: float) -> list[Segment]:
        out = self.flush()
        extra = ["shift"] if "shift" in self.held else []
        combo = tuple(extra + [key])
        name = None
        if mods in (["ctrl"], ["cmd"]):
            name = SHORTCUT_NAMES.get(combo)
        elif mods == ["alt"]:
            name = ALT_NAMES.get(combo)
        if key == "backspace" and mods in (["ctrl"], ["alt"]):  # delete the word before the caret
            return self._delete_word(t)
        out.append(Shortcut(keys=[*mods, *extra, key], t=t, name=name))
        return out

    def _delete_word(self, t: float) -> list[Segment]:
        start = self._caret
        while start > 0 and self._buffer[start - 1] == " ":
            start -= 1
        while start > 0 and self._buffer[start - 1] != " ":
            start -= 1
        del self._buffer[start : self._caret]
        self._caret = start
        self._touch(t)
        return []

    def _touch(self, t: float) -> None:
        if self._t0 is None:
            self._t0 = t
        self._t1 = t
        self._presses += 1

    def _end_run(self, ended_by: str | None) -> list[Segment]:
        if self._t0 is None:
            return []
        run = TextRun(text="".join(self._buffer), t=self._t0, t_end=self._t1, ended_by=ended_by, keys=self._presses)
        self._buffer, self._caret, self._t0, self._presses, self._anchor = [], 0, None, 0, None
        if not run.text and ended_by is None:
            return []  # typed and erased everything: nothing was produced
        return [run]


def chord_keys(text: str) -> frozenset[str]:
    """A chord as the recorder's settings write it ("ctrl+alt+p", "ctrl-alt-p") as the key names a
    `Shortcut` holds."""
    names = (canonical_key(part) for part in text.replace("-", "+").split("+") if part.strip())
    return frozenset(MODIFIERS.get(name, name) for name in names)


def read_keys(events: Iterable[KeyLike]) -> list[Segment]:
    """Text runs and shortcuts of a key event stream, in order."""
    reader = KeyboardReader()
    out: list[Segment] = []
    for event in events:
        out.extend(reader.feed(event))
    out.extend(reader.flush())
    return out


def produced_text(events: Iterable[KeyLike]) -> str:
    """Exactly the text the events produce: corrections applied, Enter as a newline, Tab as a tab."""
    return join_runs(s for s in read_keys(events) if isinstance(s, TextRun))


def join_runs(runs: Iterable[TextRun] | Sequence[TextRun]) -> str:
    ends = {"enter": "\n", "tab": "\t", None: ""}
    return "".join(run.text + ends[run.ended_by] for run in runs)
