"""Compile raw events into user-level actions: clicks, double clicks, drags, merged scrolls,
typed text, hotkeys and window switches. Thousands of raw events become a few dozen actions.

Each compiled action remembers the index of its first raw event, so that intervals can cut the
event list without losing any event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import BaseModel

from toolbox.activity.models import Action
from toolbox.activity.typed_text import KeyboardReader, Segment, Shortcut, TextRun
from toolbox.core.session import Click, Event, Key, Marker, Scroll, Window


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
    title: str | None = None
    app: str | None = None
    press: dict[str, tuple[int, Click]] = field(default_factory=dict)  # button -> pending press
    key_index: dict[float, int] = field(default_factory=dict)  # key press time -> event index
    key_count: int = 0


def compile_actions(events: list[Event], settings: ActionSettings | None = None) -> list[CompiledAction]:
    """Actions in time order. Every click, key press and scroll event ends up in one action;
    window events become switches only when no click or alt+tab explains them."""
    cfg = settings or ActionSettings()
    out: list[CompiledAction] = []
    state = _State()
    keyboard = KeyboardReader()

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
            else:
                out.append(CompiledAction(_hotkey(segment, state.title), first))

    def compile_event(index: int, event: Event) -> None:
        if isinstance(event, Key):
            if event.pressed:
                state.key_index.setdefault(event.t, index)
            emit_keys(keyboard.feed(event))
            return
        if isinstance(event, (Click, Scroll, Window, Marker)):
            emit_keys(keyboard.flush())  # focus may move: the text run ends here
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
    if (event.title, event.app) == (state.title, state.app):
        return
    first_seen = state.title is None and state.app is None
    state.title, state.app = event.title, event.app
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
