"""The offline, deterministic transcriber: each compiled action becomes a computer-use tool call,
answered by the screen text that appeared after it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from itertools import groupby
from typing import Any, Literal

from pydantic import Field

from toolbox.activity.models import Action, Interval
from toolbox.core.models import Episode, EpisodeEvidence, Source, ToolCall, ToolSpec, Turn, stable_id
from toolbox.core.plugin import Options
from toolbox.core.registry import register_transcriber
from toolbox.transcribers.base import Transcriber
from toolbox.vision.steps import trajectory_steps

_POINT = {
    "x": {"type": "integer", "description": "Screen x in pixels."},
    "y": {"type": "integer", "description": "Screen y in pixels."},
}
_TARGET = {"target": {"type": "string", "description": "The text on screen at that point (a button or link label)."}}

COMPUTER_TOOLS = [
    ToolSpec(
        name="click",
        description="Click a point on the screen.",
        parameters={
            "type": "object",
            "properties": {**_TARGET, **_POINT, "button": {"type": "string", "enum": ["left", "right", "middle"]}},
            "required": ["x", "y"],
        },
    ),
    ToolSpec(
        name="double_click",
        description="Double-click a point on the screen.",
        parameters={"type": "object", "properties": {**_TARGET, **_POINT}, "required": ["x", "y"]},
    ),
    ToolSpec(
        name="drag",
        description="Press at one point, move to another and release.",
        parameters={
            "type": "object",
            "properties": {**_POINT, "to_x": {"type": "integer"}, "to_y": {"type": "integer"}},
            "required": ["x", "y", "to_x", "to_y"],
        },
    ),
    ToolSpec(
        name="scroll",
        description="Scroll at a point.",
        parameters={
            "type": "object",
            "properties": {
                "direction": {"type": "string", "enum": ["up", "down", "left", "right"]},
                "amount": {"type": "integer", "description": "Wheel notches."},
                **_POINT,
            },
            "required": ["direction", "amount"],
        },
    ),
    ToolSpec(
        name="type_text",
        description="Type text with the keyboard into the focused field.",
        parameters={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    ),
    ToolSpec(
        name="press_keys",
        description='Press a key or a key combination, e.g. ["enter"] or ["ctrl", "c"].',
        parameters={
            "type": "object",
            "properties": {"keys": {"type": "array", "items": {"type": "string"}}},
            "required": ["keys"],
        },
    ),
    ToolSpec(
        name="switch_window",
        description="Bring the window with this title to the front.",
        parameters={"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]},
    ),
]


@register_transcriber("heuristic")
class HeuristicTranscriber(Transcriber):
    """Offline and deterministic: actions become click/type_text/press_keys/scroll/switch_window calls."""

    class Options(Options):
        system: str = "You operate a computer for the user with the tools given. Coordinates are screen pixels."
        submission_reply: bool = True  # text typed and sent with Enter at the end becomes the final reply
        # ...except in these apps, where Enter runs a command: there it stays type_text + press_keys
        command_apps: str = r"(?i)term|konsole|console|shell|iterm|powershell|cmd\.exe|tmux"
        summary_items: int = 6  # actions named in the closing message
        # `task`: the consecutive intervals of a session that share a task label become one
        # multi-step episode, so the user's request matches what the episode does; `interval`:
        # one episode per interval; `auto`: `task` for intervals with a label, else `interval`
        per: Literal["auto", "interval", "task"] = "auto"
        # a task longer than this many actions is split at interval boundaries into episodes
        # that each stay trainable; the parts after the first say they continue the task
        max_task_actions: int = Field(60, ge=1)

    def transcribe(self, intervals: Sequence[Interval]) -> Iterator[Episode]:
        per = self.options.per

        def group_key(interval: Interval) -> tuple[Any, ...]:
            if per == "interval" or (per == "auto" and not interval.task):
                return (interval.session_id, interval.index)
            return (interval.session_id, interval.task)

        groups = [list(group) for _, group in groupby(intervals, key=group_key)]
        for group in groups:
            for part, chunk in enumerate(split_by_actions(group, self.options.max_task_actions)):
                interval = chunk[0] if len(chunk) == 1 else merged(chunk)
                if part and interval.task:
                    interval = interval.model_copy(update={"task": f"{interval.task} (continued)"})
                if not interval.actions:
                    self.ctx.stats.drop(self.plugin_name, "no actions", interval.id)
                    continue
                yield self.episode(interval)

    def episode(self, interval: Interval) -> Episode:
        actions = list(interval.actions)
        reply: str | None = None
        in_terminal = any(re.search(self.options.command_apps, app) for app in interval.apps if app)
        if self.options.submission_reply and interval.submitted and len(actions) >= 2 and not in_terminal:
            reply = interval.submitted
            actions = actions[:-2]  # the typed reply and its Enter become the answer itself
        actions = with_enter_typed(actions)
        turns: list[Turn] = [Turn(role="user", content=request(interval))]
        for number, action in enumerate(actions):
            name, arguments = tool_call(action)
            call_id = f"call_{number}"
            turns.append(Turn(role="assistant", tool_calls=[ToolCall(id=call_id, name=name, arguments=arguments)]))
            turns.append(Turn(role="tool", tool_call_id=call_id, name=name, content=tool_result(action)))
        turns.append(Turn(role="assistant", content=reply or summary(actions, self.options.summary_items)))
        return Episode(
            id=stable_id(interval.session_id, interval.index, "interval_episodes"),
            system=self.options.system,
            tools=COMPUTER_TOOLS,
            turns=turns,
            source=Source(
                dataset="sessions",
                session=interval.session_id,
                interval=(interval.start, interval.end),
                path=interval.session_path,
            ),
            metadata={
                **interval.metadata.model_copy(
                    update={"steps": trajectory_steps(actions, interval.session_path)}
                ).as_metadata(),
                "transcriber": self.plugin_name,
            },
        )


def split_by_actions(intervals: list[Interval], limit: int) -> list[list[Interval]]:
    """Consecutive runs of intervals holding at most `limit` actions each (an interval with
    more stays whole)."""
    chunks: list[list[Interval]] = []
    count = 0
    for interval in intervals:
        if chunks and count + len(interval.actions) <= limit:
            chunks[-1].append(interval)
            count += len(interval.actions)
        else:
            chunks.append([interval])
            count = len(interval.actions)
    return chunks


def merged(intervals: list[Interval]) -> Interval:
    """Consecutive intervals of one task as one: actions and frames in order, the report's
    evidence joined, the last interval's screen and submission."""
    first, last = intervals[0], intervals[-1]
    return first.model_copy(
        update={
            "end": last.end,
            "windows": list(dict.fromkeys(w for i in intervals for w in i.windows)),
            "apps": list(dict.fromkeys(a for i in intervals for a in i.apps)),
            "metadata": EpisodeEvidence.joined([i.metadata for i in intervals]),
            "actions": [a for i in intervals for a in i.actions],
            "frames": [f for i in intervals for f in i.frames],
            "typed_text": "".join(i.typed_text for i in intervals),
            "submitted": last.submitted,
            "screen_words": last.screen_words,
        }
    )


def with_enter_typed(actions: Sequence[Action]) -> list[Action]:
    """Typing followed by Enter becomes one type_text call whose text ends in a newline: the
    recorder's frame after the burst already shows what Enter did, so one call keeps each
    result true to its call."""
    out: list[Action] = []
    for action in actions:
        previous = out[-1] if out else None
        if (
            action.kind == "hotkey"
            and action.keys == ["enter"]
            and previous is not None
            and previous.kind == "type"
            and not (previous.text or "").endswith("\n")
        ):
            out[-1] = previous.model_copy(
                update={
                    "text": (previous.text or "") + "\n",
                    "t_end": action.t_end or action.t,
                    "frame_after": action.frame_after or previous.frame_after,
                    "result": action.result if action.result is not None else previous.result,
                }
            )
        else:
            out.append(action)
    return out


def request(interval: Interval) -> str:
    """The user turn: the task label, or what the window titles say the person worked in."""
    if interval.task:
        return interval.task
    titles = [t for t in interval.windows if t][:3]
    if not titles:
        apps = [a for a in interval.apps if a and a != "unknown"]
        return f"Continue the work in {apps[0]}." if apps else "Continue the work on the screen."
    quoted = [f"'{t}'" for t in titles]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return f"Continue the work in the window{'s' if len(titles) > 1 else ''} {listed}."


def tool_call(action: Action) -> tuple[str, dict[str, Any]]:
    point = {"x": action.x, "y": action.y}
    target = {"target": action.target} if action.target else {}
    if action.kind in ("click", "right_click"):
        button = "right" if action.kind == "right_click" else (action.button or "left")
        return "click", {**target, **point, **({"button": button} if button != "left" else {})}
    if action.kind == "double_click":
        return "double_click", {**target, **point}
    if action.kind == "drag":
        return "drag", {**point, "to_x": action.x2, "to_y": action.y2}
    if action.kind == "scroll":
        direction, amount = scroll_direction(action)
        return "scroll", {"direction": direction, "amount": amount, **point}
    if action.kind == "type":
        return "type_text", {"text": action.text or ""}
    if action.kind == "switch_window":
        return "switch_window", {"title": action.title or ""}
    return "press_keys", {"keys": list(action.keys)}


def scroll_direction(action: Action) -> tuple[str, int]:
    if abs(action.dy) >= abs(action.dx):
        return ("up" if action.dy > 0 else "down"), max(1, abs(action.dy))
    return ("right" if action.dx > 0 else "left"), max(1, abs(action.dx))


def tool_result(action: Action) -> str:
    """What the screen showed after the action: the new text near it, when OCR read it."""
    if action.result:
        return action.result
    if action.result is not None:  # read, and nothing new appeared
        return "No new text on the screen."
    return "Done."


def summary(actions: Sequence[Action], items: int) -> str:
    if not actions:
        return "Done."
    parts = [describe(a) for a in actions[:items]]
    more = len(actions) - items
    text = "; ".join(parts) + (f"; and {more} more step{'s' if more > 1 else ''}" if more > 0 else "")
    return f"Done: {text}."


def describe(action: Action) -> str:
    name, arguments = tool_call(action)
    if name in ("click", "double_click"):
        what = f"'{action.target}'" if action.target else f"({action.x}, {action.y})"
        return f"{'double-clicked' if name == 'double_click' else 'clicked'} {what}"
    if name == "type_text":
        text = action.text or ""
        entered = text.endswith("\n")
        return f"{'entered' if entered else 'typed'} {json.dumps(text.removesuffix(chr(10)) if entered else text, ensure_ascii=False)}"
    if name == "press_keys":
        return "pressed " + "+".join(action.keys)
    if name == "switch_window":
        return f"switched to '{action.title}'"
    if name == "scroll":
        return f"scrolled {arguments['direction']}"
    return "dragged"
