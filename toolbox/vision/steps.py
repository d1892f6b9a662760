"""An episode's actions as trajectory steps (`Step`, toolbox/core/models.py): what the vision
formats export. Transcribers call `trajectory_steps` with the actions their episode shows."""

from __future__ import annotations

from collections.abc import Sequence

from toolbox.activity.models import Action, FrameRef
from toolbox.core.models import Step, StepAction
from toolbox.privacy.session import frame_key

POINTER = ("click", "double_click", "right_click", "drag", "scroll")
NORM_DECIMALS = 6


def trajectory_steps(
    actions: Sequence[Action], session_path: str, thoughts: Sequence[str | None] | None = None
) -> list[Step]:
    """One step per action, in order; `thoughts[i]` (when given) is the thought written before
    action i. Frames are named inside `session_path`."""
    return [
        _step(action, session_path, thoughts[i] if thoughts is not None and i < len(thoughts) else None)
        for i, action in enumerate(actions)
    ]


def _kind(action: Action) -> tuple[StepAction, list[str]]:
    """The step action and its keys. A window switch made with alt+tab is that hotkey; one no
    key explains (a window that opened on its own) is a wait for it."""
    if action.kind == "switch_window":
        return ("hotkey", list(action.keys)) if action.keys else ("wait", [])
    if action.kind == "hotkey" and action.shortcut == "paste":
        return "paste", list(action.keys)
    return action.kind, list(action.keys)  # type: ignore[return-value]


def _step(action: Action, session_path: str, thought: str | None) -> Step:
    kind, keys = _kind(action)
    frame = action.frame_before
    step = Step(
        action=kind,
        t=action.t,
        frame_before=frame_key(frame, session_path) if frame else None,
        frame_after=frame_key(action.frame_after, session_path) if action.frame_after else None,
        frame_size=(frame.width, frame.height) if frame else None,
        target=action.target,
        target_box=action.target_box,
        text=action.text if kind in ("type", "paste") else None,
        keys=keys if kind in ("hotkey", "paste") else [],
        scroll=(action.dx, action.dy) if kind == "scroll" else None,
        observation=action.result,
        thought=thought,
    )
    if kind in POINTER and frame is not None and action.x is not None and action.y is not None:
        step.point, step.point_norm = _on_frame(frame, action.x, action.y)
        if kind == "drag" and action.x2 is not None and action.y2 is not None:
            step.to_point, step.to_point_norm = _on_frame(frame, action.x2, action.y2)
    return step


def _on_frame(frame: FrameRef, x: int, y: int) -> tuple[tuple[int, int], tuple[float, float]]:
    """A virtual-screen point in frame pixels, and as fractions of the frame's monitor."""
    fx, fy = frame.to_frame(x, y)
    return (fx, fy), (round(fx / frame.width, NORM_DECIMALS), round(fy / frame.height, NORM_DECIMALS))
