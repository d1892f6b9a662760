"""What the web datasets yield: a rendered page with its tagged elements and OCR words, and a
Mind2Web action on such a page (toolbox/datasets/mhtml.py, mind2web.py; the web_screens task
turns both into episodes)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from toolbox.ocr_engines.words import Box, OcrWord


class WebTag(BaseModel):
    """An interactable element of a rendered page, numbered in document order: its visible box
    (page pixels), what it says, and what identifies it."""

    n: int
    tag: str  # the element's tag name: a, button, input, select, ...
    box: Box
    text: str = ""  # its label: text, value, placeholder, aria-label
    role: str = ""
    type: str = ""
    id: str = ""
    cls: str = ""  # its class attribute, whitespace folded
    node: str | None = None  # its backend_node_id attribute (Mind2Web's snapshots carry one)
    value: str | None = None  # an input's value, a select's chosen option

    @property
    def center(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2


class WebTarget(BaseModel):
    """The element an action was taken on, as Mind2Web describes it."""

    node: str | None = None  # backend node id
    id: str | None = None
    cls: str | None = None
    tag: str | None = None
    box: tuple[float, float, float, float] | None = None  # x, y, width, height in page pixels


class TargetMatch(BaseModel):
    """Which tag the target is (None: not found, and why)."""

    tag: int | None = None
    how: str | None = None  # backend_node_id, class/id or box
    reason: str | None = None


class WebPage(BaseModel):
    """An MHTML page rendered at `width` x `height` (the screen, CSS pixels = screenshot pixels):
    its screenshot (kept in the build's cache), tags and OCR words (boxes in screen pixels,
    midpoints as fractions of the screen)."""

    path: str  # the .mhtml file
    url: str
    title: str = ""
    width: int
    height: int
    screenshot: str
    tags: list[WebTag] = Field(default_factory=list)
    words: list[OcrWord] = Field(default_factory=list)
    target: TargetMatch | None = None
    missing: int = 0  # resources the page asked for that the archive lacks (refused)


class Mind2WebStep(BaseModel):
    """One Mind2Web action on the page it was taken on, its target found among the page's tags."""

    page: WebPage
    annotation_id: str
    action_uid: str
    index: int  # the action's position in its task
    website: str = ""
    task: str  # confirmed_task
    previous: list[str] = Field(default_factory=list)  # the earlier actions' action_reprs, in order
    op: Literal["CLICK", "TYPE", "SELECT"]
    value: str = ""
    target_tag: int
