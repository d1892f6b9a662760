"""The episode: what tasks make, filters see and formats write (docs/architecture.md).

An episode carries everything any output format needs, so every format is a pure function of it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ToolSpec(BaseModel):
    """A function the assistant may call, with JSON-schema parameters."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Turn(BaseModel):
    """One message. `assistant` turns may hold text, calls or both (text = thought before calls);
    `tool` turns answer the call named by `tool_call_id`."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None  # the function a tool turn answers
    weight: Literal[0, 1] | None = None  # training weight, assistant turns only


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: str
    session: str | None = None
    interval: tuple[float, float] | None = None
    path: str | None = None
    line: int | None = None


class Episode(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    system: str | None = None
    tools: list[ToolSpec] = Field(default_factory=list)
    turns: list[Turn] = Field(default_factory=list)
    source: Source
    # anything steps add: an interval task's `EpisodeEvidence` fields, the transcriber's and
    # filters' own keys (`llm_judge`, `trimmed_turns`, ...); formats do not write it
    metadata: dict[str, Any] = Field(default_factory=dict)

    def text(self) -> str:
        """All the text of the conversation, in order (used by dedupe and quality checks)."""
        parts: list[str] = []
        for turn in self.turns:
            if turn.content:
                parts.append(turn.content)
            for call in turn.tool_calls:
                parts.append(call.name)
                parts.extend(str(v) for v in call.arguments.values())
        return "\n".join(parts)

    def tool_call_count(self) -> int:
        return sum(len(t.tool_calls) for t in self.turns)


class EvidenceFrame(BaseModel):
    """A frame of the episode's intervals, named by its path inside the session folder."""

    path: str
    t: float
    width: int
    height: int
    reason: str = ""  # why the recorder took it: "before", "after", ...


class EvidenceAction(BaseModel):
    """An action as the report draws it: x, y (and the drag's end x2, y2) in virtual-screen
    pixels; frame_x, frame_y the same point on `frame_before`."""

    kind: str
    t: float
    x: int | None = None
    y: int | None = None
    target: str | None = None  # the screen text under the pointer
    frame_before: str | None = None
    frame_after: str | None = None
    frame_x: int | None = None
    frame_y: int | None = None
    x2: int | None = None
    y2: int | None = None
    frame_x2: int | None = None  # the drag's end on `frame_before`
    frame_y2: int | None = None
    text: str | None = None
    title: str | None = None
    shortcut: str | None = None
    keys: list[str] = Field(default_factory=list)
    result: str | None = None  # the screen text the action led to (what grounding may trace a value to)
    dx: int = 0  # a scroll's wheel notches (dy > 0 is up)
    dy: int = 0


class EvidenceWord(BaseModel):
    """A word OCR read on the main frame (made from an OCR word by its attributes)."""

    model_config = ConfigDict(from_attributes=True)
    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels
    conf: float
    mid: tuple[float, float]  # normalized midpoint: x / width, y / height


StepAction = Literal[
    "click", "double_click", "right_click", "drag", "scroll", "type", "hotkey", "paste", "wait", "terminate"
]


class Step(BaseModel):
    """One action of an episode as a vision-language agent's trajectory step (README "Vision
    trajectories"): its screenshots, the action in the step action space and where it pointed.
    Frames are named inside the session folder (`EpisodeEvidence.session_path`); points are
    pixels of `frame_before` (the recorder's multi-monitor and HiDPI mapping applied), and the
    same point as 0-1 fractions of its monitor. Texts are as redacted as the episode's."""

    action: StepAction
    t: float
    frame_before: str | None = None  # the screen the action was taken on
    frame_after: str | None = None  # the screen it led to
    frame_size: tuple[int, int] | None = None  # frame_before's (width, height)
    point: tuple[int, int] | None = None  # where it pointed (a drag's press)
    point_norm: tuple[float, float] | None = None
    to_point: tuple[int, int] | None = None  # a drag's release
    to_point_norm: tuple[float, float] | None = None
    target: str | None = None  # the label under the pointer (OCR)
    target_box: tuple[int, int, int, int] | None = None  # its box (x0, y0, x1, y1), when the point is inside it
    text: str | None = None  # typed (or pasted) text
    keys: list[str] = Field(default_factory=list)  # hotkey, paste
    scroll: tuple[int, int] | None = None  # (dx, dy) wheel notches; dy > 0 is up
    observation: str | None = None  # screen text that appeared after the action
    thought: str | None = None  # why, when a transcriber wrote it


class EpisodeEvidence(BaseModel):
    """What an episode made from recorded intervals shows beside its conversation: where and
    when it was recorded, its frames, actions and screen words. The interval task builds it per
    interval (activity, then privacy redacts it), transcribers join it per episode and put its
    fields into `Episode.metadata` (`as_metadata`), beside keys of their own and of filters;
    the report reads it back with `model_validate` (an episode from a file has none: all empty)."""

    session: str | None = None
    session_path: str | None = None  # the folder frame paths are relative to
    interval: int | None = None  # the (first) interval's index in its session
    intervals: list[int] = Field(default_factory=list)  # every interval's, when the episode joins several
    start: float | None = None
    end: float | None = None
    cut: str | None = None  # why the first interval began
    windows: list[str] = Field(default_factory=list)  # titles seen, in order
    apps: list[str] = Field(default_factory=list)
    frames: list[EvidenceFrame] = Field(default_factory=list)
    main_frame: str | None = None  # the frame `ocr` was read on
    actions: list[EvidenceAction] = Field(default_factory=list)
    ocr: list[EvidenceWord] = Field(default_factory=list)
    # the words of each action's frame before, by frame path: the screen each step was taken on
    # (core/screens.py: a recorded episode as screen steps)
    screens: dict[str, list[EvidenceWord]] = Field(default_factory=dict)
    # per frame path: what to black out before a model sees the frame (coordinates only, no
    # text: safe to keep); a frame not named here was never checked and is not sent
    frame_blackout: dict[str, list[tuple[int, int, int, int]]] = Field(default_factory=dict)
    redactions: dict[str, int] = Field(default_factory=dict)  # placeholders made, per kind
    task: str | None = None  # the person's label for the task
    steps: list[Step] = Field(default_factory=list)  # set by transcribers: one per action the episode shows

    def as_metadata(self) -> dict[str, Any]:
        """The fields set, as JSON-ready `Episode.metadata` entries."""
        return self.model_dump(mode="json", exclude_defaults=True)

    @classmethod
    def joined(cls, parts: Sequence[EpisodeEvidence]) -> EpisodeEvidence:
        """Consecutive intervals as one episode: from the first's start (and cut and task) to
        the last's end, windows, apps, frames and actions in order, the last's screen."""
        if len(parts) == 1:
            return parts[0]
        first, last = parts[0], parts[-1]
        redactions: Counter[str] = Counter()
        for part in parts:
            redactions.update(part.redactions)
        return last.model_copy(
            update={
                "interval": first.interval,
                "intervals": [p.interval for p in parts if p.interval is not None],
                "start": first.start,
                "end": last.end,
                "cut": first.cut,
                "task": first.task,
                "windows": list(dict.fromkeys(w for p in parts for w in p.windows)),
                "apps": list(dict.fromkeys(a for p in parts for a in p.apps)),
                "frames": [f for p in parts for f in p.frames],
                "actions": [a for p in parts for a in p.actions],
                "frame_blackout": {k: v for p in parts for k, v in p.frame_blackout.items()},
                "screens": {k: v for p in parts for k, v in p.screens.items()},
                "redactions": dict(sorted(redactions.items())),
                "steps": [s for p in parts for s in p.steps],
            }
        )


class LoggedEpisode(BaseModel):
    """One line of the episodes log `<output>.episodes.jsonl` (core/pipeline.py `EpisodesLog`
    writes it, the report reads it): an episode a build kept or dropped, and why."""

    status: Literal["kept", "dropped"]
    id: str
    filter: str | None = None
    reason: str | None = None
    detail: str | None = None
    tokens: int | None = None
    episode: Episode | None = None  # None: dropped before an episode was made


def stable_id(*parts: object) -> str:
    """A short id that depends only on its parts, so reruns give the same ids."""
    digest = hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return digest[:16]


__all__ = [
    "Episode",
    "EpisodeEvidence",
    "EvidenceAction",
    "EvidenceFrame",
    "EvidenceWord",
    "LoggedEpisode",
    "Source",
    "Step",
    "ToolCall",
    "ToolSpec",
    "Turn",
    "stable_id",
]
