"""The evidence of what a person did: actions compiled from raw events, the frames they were
taken on, and the activity intervals a session is cut into (what a transcriber turns into
episodes, what an audit shows and what an LLM request is built from)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from toolbox.core.models import EpisodeEvidence
from toolbox.ocr_engines.words import OcrWord, lines_text


@dataclass(frozen=True)
class WindowState:
    """The focused window as the last window event described it."""

    title: str = ""
    app: str = ""
    bounds: tuple[int, int, int, int] | None = None

    def same_window(self, other: WindowState) -> bool:
        """One window whatever its title says (an editor adds "*" when the text changes, a browser
        names the page) or wherever it is moved: the same app, with the same title or at the same
        place (or no place known)."""
        if self.app != other.app:
            return False
        return self.title == other.title or self.bounds is None or other.bounds is None or self.bounds == other.bounds


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
    text: str | None = None  # typed text (kind == "type"); the clipboard's text of a copy, cut or paste hotkey
    keys: list[str] = Field(default_factory=list)  # hotkey, e.g. ["ctrl", "c"]
    dx: int = 0
    dy: int = 0
    title: str | None = None  # window title (switch_window), or the window the action happened in
    target: str | None = None  # the screen text under the pointer, when OCR has it
    target_box: tuple[int, int, int, int] | None = None  # the target's box on frame_before, when the point is in it
    shortcut: str | None = None  # a hotkey's name when known: "copy", "paste", "switch_app"
    frame_before: FrameRef | None = None
    frame_after: FrameRef | None = None
    result: str | None = None  # what the action led to: the window after it, changes marked (screen.observation)


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
        """The OCR words as lines of text, top to bottom."""
        return lines_text(self.screen_words)
