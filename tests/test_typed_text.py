"""Produced text from key events: random text typed with random corrections comes back exactly."""

from __future__ import annotations

import string
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from toolbox.activity.actions import compile_actions
from toolbox.activity.typed_text import SHIFTED, Shortcut, TextRun, produced_text, read_keys
from toolbox.core.session import Key, Window

UNSHIFT = {v: k for k, v in SHIFTED.items()}
ALPHABET = string.ascii_letters + string.digits + string.punctuation + " \n\t"


@dataclass
class K:
    t: float
    key: str
    char: str | None
    pressed: bool = True


class Typist:
    """Types like a person on a US keyboard, as a recorder reports it: `applied` recorders give the
    character after shift and caps lock (pynput), raw ones the bare key's character."""

    def __init__(self, draw, applied: bool) -> None:
        self.draw = draw
        self.applied = applied
        self.events: list[K] = []
        self.t = 0.0
        self.caps = False

    def press(self, key: str, char: str | None, release: bool = True) -> None:
        self.t += 0.05
        self.events.append(K(self.t, key, char))
        if release:
            self.t += 0.01
            self.events.append(K(self.t, key, char, pressed=False))

    def hold(self, key: str) -> None:
        self.t += 0.01
        self.events.append(K(self.t, key, None))

    def release(self, key: str) -> None:
        self.t += 0.01
        self.events.append(K(self.t, key, None, pressed=False))

    def toggle_caps(self) -> None:
        self.press("caps_lock", None)
        self.caps = not self.caps

    def type_char(self, c: str) -> None:
        if c == "\n":
            self.press("enter", "\n" if self.applied else None)
        elif c == "\t":
            self.press("tab", "\t" if self.applied else None)
        elif c == " ":
            self.press("space", " ")
        elif c.isalpha():
            if self.draw(st.integers(0, 4)) == 0:
                self.toggle_caps()
            shift = c.isupper() != self.caps
            shift_key = self.draw(st.sampled_from(["shift", "shift_l", "shift_r"]))
            if shift:
                self.hold(shift_key)
            shown = c if self.applied else c.lower()
            self.press(shown if self.applied else c.lower(), shown)
            if shift:
                self.release(shift_key)
        elif c in UNSHIFT:
            self.hold("shift")
            base = UNSHIFT[c]
            self.press(c if self.applied else base, c if self.applied else base)
            self.release("shift")
        else:
            self.press(c, c)

    def typo(self) -> None:
        """Type some wrong characters, then take them back with backspace, or with left + delete."""
        wrong = self.draw(st.text(alphabet=string.ascii_lowercase + ",.;", min_size=1, max_size=3))
        for c in wrong:
            self.type_char(c)
        if self.draw(st.booleans()):
            for _ in wrong:
                self.press("backspace", None)
        else:
            for _ in wrong:
                self.press("left", None)
            for _ in wrong:
                self.press("delete", None)

    def shortcut(self) -> None:
        """A shortcut in the middle of typing (copy): it types nothing."""
        self.hold("ctrl_l")
        self.press("c", None)
        self.release("ctrl_l")


def typed(data, text: str, applied: bool) -> Typist:
    """`text` typed with random typos (corrected) and shortcuts on the way."""
    typist = Typist(data.draw, applied)
    for c in text:
        if data.draw(st.integers(0, 5)) == 0:
            typist.typo()
        if c not in "\n\t" and data.draw(st.integers(0, 9)) == 0:
            typist.shortcut()
        typist.type_char(c)
    return typist


@settings(max_examples=150, deadline=None)
@given(st.data(), st.text(alphabet=ALPHABET, max_size=40), st.booleans())
def test_random_text_with_random_corrections_comes_back_exactly(data, text, applied):
    assert produced_text(typed(data, text, applied).events) == text


def action_text(actions) -> str:
    """The text a list of compiled actions types (Enter and Tab as characters)."""
    ends = {("enter",): "\n", ("tab",): "\t"}
    return "".join(
        a.text if a.kind == "type" else ends.get(tuple(a.keys), "") for a in actions if a.kind != "switch_window"
    )


@settings(max_examples=100, deadline=None)
@given(st.data(), st.text(alphabet=ALPHABET, max_size=40), st.booleans())
def test_a_title_change_of_the_same_window_keeps_the_typing_whole(data, text, applied):
    """An editor adds "*" to its title once the text changes, a browser names the page: typing
    (with its corrections) goes on in the same window, as one run, and is no window switch."""
    bounds = [0, 0, 800, 600]
    session = [Window(t=0.0, type="window", title="notes.txt - Mousepad", app="mousepad", bounds=bounds)]
    for e in typed(data, text, applied).events:
        if data.draw(st.integers(0, 6)) == 0:
            title = data.draw(st.sampled_from(["*notes.txt - Mousepad", "notes.txt - Mousepad", "Saving…"]))
            session.append(Window(t=e.t - 0.001, type="window", title=title, app="mousepad", bounds=bounds))
        session.append(Key(t=e.t, type="key", key=e.key, char=e.char, pressed=e.pressed))
    with_titles = [c.action for c in compile_actions(session)]
    without = [c.action for c in compile_actions([ev for ev in session if isinstance(ev, Key)])]
    assert action_text(with_titles) == text
    assert [a.kind for a in with_titles] == [a.kind for a in without]  # no run cut, no switch


def keys(*spec: str) -> list[K]:
    """'a' types a, '+ctrl' holds ctrl, '-ctrl' releases it."""
    out, t = [], 0.0
    for s in spec:
        t += 0.1
        if s.startswith("+") and len(s) > 1:
            out.append(K(t, s[1:], None))
        elif s.startswith("-") and len(s) > 1:
            out.append(K(t, s[1:], None, pressed=False))
        else:
            out.append(K(t, s, s if len(s) == 1 else None))
    return out


def test_comma_and_sentence_punctuation_are_text():
    assert produced_text(keys("h", "i", ",", "space", "y", "o", "u", "!")) == "hi, you!"


def test_shortcuts_are_named_actions_not_text():
    segments = read_keys(
        keys("a", "b", "+ctrl_l", "a", "c", "-ctrl_l", "+alt", "tab", "-alt", "+cmd", "v", "-cmd", "x")
    )
    assert [s.text for s in segments if isinstance(s, TextRun)] == ["ab", "x"]
    assert [(s.name, s.keys) for s in segments if isinstance(s, Shortcut)] == [
        ("select_all", ["ctrl", "a"]),
        ("copy", ["ctrl", "c"]),
        ("switch_app", ["alt", "tab"]),
        ("paste", ["cmd", "v"]),
    ]


def test_xdotool_style_names_and_caps_lock():
    # X keysym names (Return, Shift_L, Caps_Lock, BackSpace) mean the same as pynput's.
    events = keys("Caps_Lock", "a", "b", "Caps_Lock", "+Shift_L", "c", "-Shift_L", "d", "BackSpace", "e", "Return")
    runs = read_keys(events)
    assert runs == [TextRun(text="ABCe", t=runs[0].t, t_end=runs[0].t_end, ended_by="enter", keys=runs[0].keys)]


def test_enter_and_tab_end_runs_and_stay_in_the_text():
    runs = read_keys(keys("a", "tab", "b", "enter"))
    assert [(r.text, r.ended_by) for r in runs] == [("a", "tab"), ("b", "enter")]
    assert produced_text(keys("a", "tab", "b", "enter")) == "a\tb\n"


def test_lone_navigation_keys_are_actions_and_end_the_run():
    segments = read_keys(keys("a", "esc", "b"))
    assert [type(s).__name__ for s in segments] == ["TextRun", "Shortcut", "TextRun"]
    assert segments[1].keys == ["esc"]
