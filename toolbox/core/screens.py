"""Screen steps: what a model that reads a screen as words at 2D positions (llama2d) learns
from. A step is a prompt (the task and the actions taken so far), the screen the next action was
taken on (its words, each at its midpoint as fractions of the screen's width and height) and
that action as text.

Web tasks put their steps in `Episode.metadata["screen_steps"]`; an episode made from a
recording has them in its evidence (each action, and the words of the frame before it:
`EpisodeEvidence.screens`), read by `screen_steps`.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from pydantic import BaseModel, Field

from toolbox.core.models import Episode, EpisodeEvidence, EvidenceAction

SCREEN_STEPS = "screen_steps"  # the Episode.metadata key
XY_DECIMALS = 4


class ScreenWord(BaseModel):
    text: str
    xy: tuple[float, float]  # the word's midpoint: x / width, y / height, in [0, 1]


class Screen(BaseModel):
    width: int = Field(gt=0)  # pixels the positions were measured in
    height: int = Field(gt=0)
    words: list[ScreenWord] = Field(default_factory=list)


class ScreenStep(BaseModel):
    prompt: str
    screen: Screen
    output: str  # the action taken on the screen ("" for a screen alone)


def step_prompt(task: str, previous: Sequence[str]) -> str:
    """The task and only the actions taken before this step, one a line."""
    done = "\n".join(previous) if previous else "none"
    return f"Task: {task}\nPrevious actions:\n{done}"


def norm(x: float, y: float, width: int, height: int) -> tuple[float, float]:
    """A point as fractions of the screen, clamped into [0, 1]."""
    return (
        round(min(max(x / width, 0.0), 1.0), XY_DECIMALS),
        round(min(max(y / height, 0.0), 1.0), XY_DECIMALS),
    )


def screen_steps(episode: Episode) -> list[ScreenStep]:
    """The episode's screen steps: a web task's, else those of its recorded actions."""
    if SCREEN_STEPS in episode.metadata:
        return [ScreenStep.model_validate(s) for s in episode.metadata[SCREEN_STEPS]]
    request = next((t.content for t in episode.turns if t.role == "user" and t.content), "")
    return recorded_steps(EpisodeEvidence.model_validate(episode.metadata), request)


def recorded_steps(evidence: EpisodeEvidence, task: str) -> list[ScreenStep]:
    """One step per recorded action whose frame before was read: that frame's words are the
    screen. Actions without one still count as previous actions of the later steps."""
    sizes = {f.path: (f.width, f.height) for f in evidence.frames}
    steps: list[ScreenStep] = []
    previous: list[str] = []
    for action in evidence.actions:
        size = sizes.get(action.frame_before or "")
        output = action_text(action, size)
        words = evidence.screens.get(action.frame_before or "")
        if size is not None and words is not None:
            screen = Screen(width=size[0], height=size[1], words=[ScreenWord(text=w.text, xy=w.mid) for w in words])
            steps.append(ScreenStep(prompt=step_prompt(task, previous), screen=screen, output=output))
        previous.append(output)
    return steps


def action_text(action: EvidenceAction, size: tuple[int, int] | None) -> str:
    """A recorded action in the step syntax: pointer actions at their point on the frame before
    (fractions of it) with the label under the pointer, typed text and keys quoted as JSON."""

    def point(x: int | None, y: int | None) -> str:
        if x is None or y is None or size is None:
            return ""
        nx, ny = norm(x, y, *size)
        return f" ({nx:.3f}, {ny:.3f})"

    def quoted(text: str | None) -> str:
        return f" {orjson.dumps(text).decode()}" if text else ""

    at = point(action.frame_x, action.frame_y)
    kind = action.kind
    if kind in ("click", "double_click", "right_click"):
        return f"{kind.upper()}{at}{quoted(action.target)}"
    if kind == "drag":
        return f"DRAG{at} ->{point(action.frame_x2, action.frame_y2)}"
    if kind == "scroll":
        vertical = abs(action.dy) >= abs(action.dx)
        amount = abs(action.dy if vertical else action.dx)
        direction = ("UP" if action.dy > 0 else "DOWN") if vertical else ("RIGHT" if action.dx > 0 else "LEFT")
        return f"SCROLL{at} {direction} {max(amount, 1)}"
    if kind == "type":
        return f"TYPE{quoted(action.text)}"
    if kind == "hotkey":
        return f"PRESS {'+'.join(action.keys)}"
    return f"SWITCH_WINDOW{quoted(action.title)}"
