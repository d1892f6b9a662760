"""Cut a session into activity intervals: at idle gaps, focus changes, Enter (a submission) and
task or pause markers. The intervals partition the event list, so no event is lost: events before
the first action belong to the first interval, events after the last action to the last one."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from toolbox.activity.actions import CompiledAction
from toolbox.core.session import Event, Marker, Window

CUT_MARKERS = ("task", "pause", "resume")


class IntervalSettings(BaseModel):
    idle_seconds: float = Field(default=8.0, gt=0)  # a pause longer than this between actions ends an interval
    cut_on_enter: bool = True  # Enter ends an interval (a command run, a message sent, a form submitted)
    cut_on_focus: bool = True  # a switch to another application starts a new interval
    max_actions: int = Field(default=40, ge=1)  # longer runs are split
    max_seconds: float = Field(default=300.0, gt=0)


@dataclass
class IntervalSlice:
    index: int
    first: int  # event index range [first, end)
    end: int
    actions: list[CompiledAction] = field(default_factory=list)
    task: str | None = None
    cut_reason: str = "start"  # why this interval starts: start, idle, enter, focus, marker, length


def cut_intervals(
    events: list[Event],
    actions: list[CompiledAction],
    settings: IntervalSettings | None = None,
    task: str | None = None,
) -> list[IntervalSlice]:
    cfg = settings or IntervalSettings()
    cuts: list[tuple[int, str]] = []  # (event index where an interval starts, why)
    group_start = 0  # index into actions of the current interval's first action
    for k in range(1, len(actions)):
        prev, cur = actions[k - 1], actions[k]
        reason, at = _cut(events, prev, cur, cfg, actions[group_start], k - group_start)
        if reason and (not cuts or at > cuts[-1][0]) and at > prev.first:
            cuts.append((at, reason))
            group_start = k
    # Slices: [0, cut1), [cut1, cut2), ..., [cutN, len(events))
    starts = [(0, "start"), *cuts]
    slices: list[IntervalSlice] = []
    for i, (first, reason) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(events)
        slices.append(IntervalSlice(index=i, first=first, end=end, cut_reason=reason))
    for compiled in actions:
        _slice_of(slices, compiled.first).actions.append(compiled)
    label = task
    for piece in slices:
        for event in events[piece.first : piece.end]:
            if isinstance(event, Marker) and event.kind == "task" and event.text:
                label = event.text.strip()
                break
        piece.task = label
    return slices


def _cut(
    events: list[Event],
    prev: CompiledAction,
    cur: CompiledAction,
    cfg: IntervalSettings,
    group_first: CompiledAction,
    group_size: int,
) -> tuple[str | None, int]:
    between = range(prev.first + 1, cur.first)
    for i in between:
        event = events[i]
        if isinstance(event, Marker) and event.kind in CUT_MARKERS:
            return "marker", i
    if cfg.cut_on_focus and (cur.action.kind == "switch_window" or (cur.app != prev.app and cur.app is not None)):
        for i in between:
            if isinstance(events[i], Window):
                return "focus", i
        return "focus", cur.first
    if cfg.cut_on_enter and prev.action.kind == "hotkey" and prev.action.keys == ["enter"]:
        return "enter", cur.first
    if cur.action.t - (prev.action.t_end or prev.action.t) > cfg.idle_seconds:
        return "idle", cur.first
    if group_size >= cfg.max_actions or cur.action.t - group_first.action.t > cfg.max_seconds:
        return "length", cur.first
    return None, cur.first


def _slice_of(slices: list[IntervalSlice], index: int) -> IntervalSlice:
    for piece in slices:
        if piece.first <= index < piece.end:
            return piece
    return slices[-1]
