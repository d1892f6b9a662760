"""Transcribers write episodes from the evidence of activity intervals.

The interval task (toolbox/tasks/interval_episodes.py) cuts a session into `Interval`s and
fills in the evidence: actions, typed text, screen text (OCR). A transcriber turns a batch of
intervals into episodes: `heuristic` offline and deterministic, `openai` through an LLM.
These models are also what an audit shows and what an LLM request is built from.
"""
from __future__ import annotations

from typing import Iterator, Literal, Sequence

from pydantic import BaseModel, Field

from toolbox.core.models import Episode, EpisodeEvidence
from toolbox.core.plugin import Plugin


class OcrWord(BaseModel):
    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels
    conf: float
    mid: tuple[float, float]  # normalized midpoint: x / width, y / height
    line: int = 0  # words with the same number were read as one line (a label, a sentence)


class FrameRef(BaseModel):
    path: str  # absolute path of the image
    t: float
    width: int
    height: int
    reason: str = ""
    hash: str = ""
    monitor_left: int = 0  # the frame's monitor offset in virtual-screen coordinates
    monitor_top: int = 0
    scale: float = 1.0  # frame pixels per screen pixel (recorders may store frames downscaled)

    def to_frame(self, x: int, y: int) -> tuple[int, int]:
        """A virtual-screen point in this frame's pixels."""
        return round((x - self.monitor_left) * self.scale), round((y - self.monitor_top) * self.scale)


class Action(BaseModel):
    """One user-level action compiled from raw events."""

    kind: Literal["click", "double_click", "right_click", "drag", "scroll", "type", "hotkey", "switch_window"]
    t: float
    t_end: float | None = None
    x: int | None = None
    y: int | None = None
    x2: int | None = None  # drag end
    y2: int | None = None
    button: str | None = None
    text: str | None = None  # typed text (kind == "type")
    keys: list[str] = Field(default_factory=list)  # hotkey, e.g. ["ctrl", "c"]
    dx: int = 0
    dy: int = 0
    title: str | None = None  # window title (switch_window), or the window the action happened in
    target: str | None = None  # the screen text under the pointer, when OCR has it
    shortcut: str | None = None  # a hotkey's name when known: "copy", "paste", "switch_app"
    frame_before: FrameRef | None = None
    frame_after: FrameRef | None = None
    result: str | None = None  # screen text that appeared after the action


class Interval(BaseModel):
    session_id: str
    session_path: str
    index: int
    start: float
    end: float
    task: str | None = None  # the session's task label, if the person gave one
    windows: list[str] = Field(default_factory=list)  # titles seen, in order
    apps: list[str] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    typed_text: str = ""  # all text produced in the interval
    submitted: str | None = None  # text typed and then submitted with Enter, if the interval ends so
    screen_words: list[OcrWord] = Field(default_factory=list)  # OCR of the interval's main frame
    frames: list[FrameRef] = Field(default_factory=list)
    metadata: EpisodeEvidence = Field(default_factory=EpisodeEvidence)  # what a report shows of it

    @property
    def id(self) -> str:
        return f"{self.session_id}/{self.index}"

    def screen_text(self) -> str:
        """OCR words as lines, top to bottom."""
        lines: list[list[OcrWord]] = []
        for word in sorted(self.screen_words, key=lambda w: (w.mid[1], w.mid[0])):
            if lines and abs(lines[-1][-1].mid[1] - word.mid[1]) < 0.01:
                lines[-1].append(word)
            else:
                lines.append([word])
        return "\n".join(" ".join(w.text for w in sorted(line, key=lambda w: w.mid[0])) for line in lines)


class Transcriber(Plugin):
    """Turn intervals into episodes. Gets a batch (all intervals of a session) so that an LLM
    transcriber can work on several at once, or on the whole task. An interval it cannot
    transcribe is counted with `self.ctx.stats.drop(self.plugin_name, reason, interval.id)`."""

    def transcribe(self, intervals: Sequence[Interval]) -> Iterator[Episode]:
        raise NotImplementedError
