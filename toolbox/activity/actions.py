"""Compile raw events into user-level actions: clicks, double clicks, drags, merged scrolls,
typed text, hotkeys (a paste with the text it pasted) and window switches. Thousands of raw
events become a few dozen actions.

Each compiled action remembers the index of its first raw event, so that intervals can cut the
event list without losing any event.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from toolbox.activity.models import Action, WindowState
from toolbox.activity.typed_text import KeyboardReader, Segment, Shortcut, TextRun, chord_keys
from toolbox.core.session import Click, Clipboard, Event, Key, Marker, Scroll, Window

# Markers after which the log may miss key releases (keys are not recorded while paused or while an
# excluded window has the focus): modifiers held before them are not held after.
KEY_STATE_RESETS = ("pause", "resume", "redacted")
# Markers after which the clipboard may hold anything (a copy nobody could see).
CLIPBOARD_UNKNOWN = ("pause", "redacted")
COPY_TEXT_SECONDS = 3.0  # the clipboard event of a copy or cut comes this soon after its keys


class ActionSettings(BaseModel):
    double_click_seconds: float = 0.5  # OS-like: second press within this time ...
    double_click_pixels: int = 6  # ... and this distance makes a double click
    drag_pixels: int = 8  # press and release further apart than this is a drag
    scroll_merge_seconds: float = 1.0  # scroll notches closer in time than this are one scroll
    window_after_action_seconds: float = 1.5  # a focus change this soon after an action is its effect


@dataclass
class CompiledAction:
    action: Action
    first: int  # index of its first raw event in the session's event list
    events: int = 1  # raw events it was compiled from
    app: str | None = None  # the application it happened in


@dataclass
class _State:
    window: WindowState | None = None
    clipboard: str | None = None  # the clipboard's text, when known
    press: dict[str, tuple[int, Click]] = field(default_factory=dict)  # button -> pending press
    key_index: dict[float, int] = field(default_factory=dict)  # key press time -> event index
    key_count: int = 0

    @property
    def title(self) -> str | None:
        return self.window.title if self.window else None

    @property
    def app(self) -> str | None:
        return self.window.app if self.window else None


def compile_actions(
    events: list[Event], settings: ActionSettings | None = None, recorder_hotkeys: Sequence[str] = ()
) -> list[CompiledAction]:
    """Actions in time order. Every click, key press and scroll event ends up in one action;
    window events become switches only when no click or alt+tab explains them, and a new title
    of the same window is no switch at all. `recorder_hotkeys`: the recorder's own chords
    (pause, stop: session.json), never actions."""
    cfg = settings or ActionSettings()
    out: list[CompiledAction] = []
    state = _State()
    keyboard = KeyboardReader()
    own_chords = [chord_keys(text) for text in recorder_hotkeys if text]

    def emit_keys(segments: list[Segment]) -> None:
        for segment in segments:
            first = state.key_index.get(segment.t, len(events) - 1)
            if isinstance(segment, TextRun):
                if segment.text:
                    out.append(
                        CompiledAction(
                            Action(kind="type", t=segment.t, t_end=segment.t_end, text=segment.text, title=state.title),
                            first,
                            segment.keys,
                        )
                    )
                if segment.ended_by:
                    end_first = state.key_index.get(segment.t_end, first)
                    out.append(
                        CompiledAction(
                            Action(kind="hotkey", t=segment.t_end, keys=[segment.ended_by], title=state.title),
                            end_first,
                        )
                    )
            elif not any(_is_chord(segment.keys, chord) for chord in own_chords):
                action = _hotkey(segment, state.title)
                if action.shortcut == "paste" and state.clipboard is not None:
                    action.text = state.clipboard
                out.append(CompiledAction(action, first))

    def compile_event(index: int, event: Event) -> None:
        if isinstance(event, Key):
            if event.pressed:
                state.key_index.setdefault(event.t, index)
            emit_keys(keyboard.feed(event))
            return
        if isinstance(event, Clipboard):
            _clipboard(event, state, out)
            return
        if isinstance(event, Window) and state.window is not None and state.window.same_window(_window_of(event)):
            state.window = _window_of(event)  # a new title of the same window: typing goes on
            return
        if isinstance(event, (Click, Scroll, Window, Marker)):
            emit_keys(keyboard.flush())  # focus may move: the text run ends here
        if isinstance(event, Marker):
            if event.kind in KEY_STATE_RESETS:
                keyboard.held.clear()
            if event.kind in CLIPBOARD_UNKNOWN:
                state.clipboard = None
        if isinstance(event, Click):
            _click(event, index, state, out, cfg)
        elif isinstance(event, Scroll):
            _scroll(event, index, state, out, cfg)
        elif isinstance(event, Window):
            _window(event, index, state, out, cfg)

    for index, event in enumerate(events):
        known = len(out)
        compile_event(index, event)
        for compiled in out[known:]:
            compiled.app = compiled.app or state.app
    emit_keys(keyboard.flush())
    for button, (index, press) in state.press.items():  # pressed, never released: a click
        out.append(
            CompiledAction(
                Action(kind=_click_kind(button), t=press.t, x=press.x, y=press.y, button=button, title=state.title),
                index,
            )
        )
    for compiled in out:
        compiled.app = compiled.app or state.app
    out.sort(key=lambda c: (c.action.t, c.first))
    return out


def _hotkey(shortcut: Shortcut, title: str | None) -> Action:
    return Action(kind="hotkey", t=shortcut.t, keys=shortcut.keys, shortcut=shortcut.name, title=title)


def _is_chord(keys: list[str], chord: frozenset[str]) -> bool:
    """The keys are the chord, give or take shift (as the recorder matches it)."""
    return set(keys) - {"shift"} == chord - {"shift"}


def _window_of(event: Window) -> WindowState:
    return WindowState(event.title, event.app, event.bounds)


def _clipboard(event: Clipboard, state: _State, out: list[CompiledAction]) -> None:
    """The clipboard now holds the event's text; a copy or cut just before it copied that text."""
    state.clipboard = event.text
    if event.op == "change":
        return
    for compiled in reversed(out):
        action = compiled.action
        if event.t - action.t > COPY_TEXT_SECONDS:
            return
        if action.kind == "hotkey" and action.shortcut == event.op and action.text is None:
            action.text = event.text
            return


def _click_kind(button: str) -> str:
    return "right_click" if button == "right" else "click"


def _click(event: Click, index: int, state: _State, out: list[CompiledAction], cfg: ActionSettings) -> None:
    if event.pressed:
        state.press[event.button] = (index, event)
        return
    pending = state.press.pop(event.button, None)
    if pending is None:
        return  # a release whose press was before the recording (or skipped): nothing to compile
    first, press = pending
    distance = math.dist((press.x, press.y), (event.x, event.y))
    if distance > cfg.drag_pixels:
        out.append(
            CompiledAction(
                Action(
                    kind="drag",
                    t=press.t,
                    t_end=event.t,
                    x=press.x,
                    y=press.y,
                    x2=event.x,
                    y2=event.y,
                    button=event.button,
                    title=state.title,
                ),
                first,
                2,
            )
        )
        return
    previous = out[-1] if out else None
    if (
        previous is not None
        and previous.action.kind in ("click", "double_click")
        and previous.action.button == event.button
        and press.t - (previous.action.t_end or previous.action.t) <= cfg.double_click_seconds
        and math.dist((previous.action.x or 0, previous.action.y or 0), (press.x, press.y)) <= cfg.double_click_pixels
    ):
        previous.action.kind = "double_click"
        previous.action.t_end = event.t
        previous.events += 2
        return
    out.append(
        CompiledAction(
            Action(
                kind=_click_kind(event.button),
                t=press.t,
                t_end=event.t,
                x=press.x,
                y=press.y,
                button=event.button,
                title=state.title,
            ),
            first,
            2,
        )
    )


def _scroll(event: Scroll, index: int, state: _State, out: list[CompiledAction], cfg: ActionSettings) -> None:
    previous = out[-1] if out else None
    if (
        previous is not None
        and previous.action.kind == "scroll"
        and event.t - (previous.action.t_end or previous.action.t) <= cfg.scroll_merge_seconds
        and _sign(event.dy) == _sign(previous.action.dy)
        and _sign(event.dx) == _sign(previous.action.dx)
    ):
        previous.action.dx += event.dx
        previous.action.dy += event.dy
        previous.action.t_end = event.t
        previous.events += 1
        return
    out.append(
        CompiledAction(
            Action(
                kind="scroll",
                t=event.t,
                t_end=event.t,
                x=event.x,
                y=event.y,
                dx=event.dx,
                dy=event.dy,
                title=state.title,
            ),
            index,
        )
    )


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _window(event: Window, index: int, state: _State, out: list[CompiledAction], cfg: ActionSettings) -> None:
    first_seen = state.window is None
    state.window = _window_of(event)
    if first_seen:
        return  # the window the session started in: a state, not an action
    previous = out[-1] if out else None
    if (
        previous is not None
        and event.t - (previous.action.t_end or previous.action.t) <= cfg.window_after_action_seconds
    ):
        keys = previous.action.keys
        if previous.action.kind == "hotkey" and keys[-1:] == ["tab"] and ("alt" in keys or "cmd" in keys):
            previous.action = Action(kind="switch_window", t=previous.action.t, title=event.title, keys=keys)
            previous.app = event.app
            return
        if previous.action.kind in ("click", "double_click", "right_click", "drag"):
            previous.action.title = event.title  # the click landed in the window it focused
            previous.app = event.app
        return  # the focus or title change is the effect of the action just before it
    out.append(CompiledAction(Action(kind="switch_window", t=event.t, title=event.title), index))
