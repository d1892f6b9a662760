"""The evidence a value may be traced to, and where in it a value is found.

Sources: `typed` (text the person typed), `clipboard` (text they pasted), `screen` (OCR words of
a frame, with the frame and the word box; or screen text an action found under the pointer or
saw appear, with its frame and the character span), `window` (window titles), `label` (the
person's own label for the task), `action` (a recorded action's coordinates and keys) and
`earlier` (the digest of earlier intervals a request carried).

A value is found when its normal form (normalize.py) is a run of whole words of a source's
normal form, or, for values of at least `MIN_NEAR_CHARS` characters, when a run of whole words
is near enough (rapidfuzz `ratio` >= the threshold, measured in bench/RESULTS-llm.md) and has
exactly the same digits: OCR may misread a letter, never a number.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from rapidfuzz import fuzz, process

from toolbox.activity.models import Action, FrameRef, Interval
from toolbox.core.models import EpisodeEvidence, EvidenceAction
from toolbox.grounding.normalize import digits, normal, normal_form
from toolbox.ocr_engines.words import Box, OcrWord, text_lines
from toolbox.privacy.session import frame_key

SourceKind = Literal["typed", "clipboard", "screen", "window", "label", "action", "earlier"]
PRIORITY: tuple[SourceKind, ...] = ("typed", "clipboard", "screen", "window", "label", "action", "earlier")

NEAR_THRESHOLD = 90.0  # rapidfuzz ratio of a near match (bench/RESULTS-llm.md)
MIN_NEAR_CHARS = 6  # shorter values must match exactly (in normal form)
NEAR_CANDIDATES = 5  # sources tried for a near match, best first


class Found(BaseModel):
    """Where a value is in the evidence (JSON-ready: kept in `metadata.grounding`)."""

    source: SourceKind
    frame: str | None = None  # the frame, named inside the session folder
    box: Box | None = None  # the OCR words' box on that frame, in frame pixels
    span: tuple[int, int] | None = None  # characters of the source text, when it has no box
    interval: int | None = None
    score: int = 100  # 100: equal in normal form; below: a near match (rapidfuzz ratio)


@dataclass
class _Piece:
    source: SourceKind
    text: str
    norm: str
    where: list[int]  # per character of `norm`, its index in `text`
    frame: str | None
    interval: int | None
    words: list[tuple[int, int, Box]] = field(default_factory=list)  # characters of `text` -> word box


class Evidence:
    """Texts of the evidence, each with where it comes from; `find` says where a value is."""

    def __init__(self, threshold: float = NEAR_THRESHOLD) -> None:
        self.threshold = threshold
        self.pieces: list[_Piece] = []
        self._blob: str | None = None
        self._starts: list[int] = []
        self._memo: dict[str, Found | None] = {}

    def add_text(
        self, source: SourceKind, text: str | None, frame: str | None = None, interval: int | None = None
    ) -> None:
        if text and text.strip():
            norm, where = normal_form(text)
            if norm:
                self.pieces.append(_Piece(source, text, norm, where, frame, interval))
                self._blob = None

    def add_words(self, words: Iterable[Any], frame: str | None, interval: int | None = None) -> None:
        """OCR words (anything with `text`, `box`, `conf`, `mid`), line by line, each line one text
        whose matches are traced back to its words' boxes."""
        ocr = [w if isinstance(w, OcrWord) else OcrWord(text=w.text, box=w.box, conf=w.conf, mid=w.mid) for w in words]
        for line in text_lines(ocr):
            spans: list[tuple[int, int, Box]] = []
            at = 0
            for word in line:
                spans.append((at, at + len(word.text), tuple(word.box)))  # type: ignore[arg-type]
                at += len(word.text) + 1
            before = len(self.pieces)
            self.add_text("screen", " ".join(w.text for w in line), frame, interval)
            if len(self.pieces) > before:
                self.pieces[-1].words = spans

    def find(self, value: str) -> Found | None:
        """Where `value` is in the evidence, or None."""
        key = normal(value)
        if key not in self._memo:
            self._memo[key] = self._exact(key) or self._near(key)
        return self._memo[key]

    # -- matching ----------------------------------------------------------------------------

    def _index(self) -> str:
        """All normal forms in one string (an exact match is one `str.find`), sources in the
        order of `PRIORITY` and OCR words (with their boxes) before other screen text."""
        if self._blob is None:
            self.pieces.sort(key=lambda p: (PRIORITY.index(p.source), not p.words))
            self._starts = []
            at = 0
            for piece in self.pieces:
                self._starts.append(at)
                at += len(piece.norm) + 1
            self._blob = "\n".join(p.norm for p in self.pieces)
        return self._blob

    def _exact(self, key: str) -> Found | None:
        if not key:
            return None
        blob = self._index()
        at = blob.find(key)
        while at >= 0:
            end = at + len(key)
            if (at == 0 or blob[at - 1] in " \n") and (end == len(blob) or blob[end] in " \n"):
                i = bisect.bisect_right(self._starts, at) - 1
                return self._found(self.pieces[i], at - self._starts[i], end - self._starts[i], 100)
            at = blob.find(key, at + 1)
        return None

    def _near(self, key: str) -> Found | None:
        if len(key) < MIN_NEAR_CHARS or not self.pieces:
            return None
        best: tuple[float, _Piece, int, int] | None = None
        norms = [p.norm for p in self.pieces]
        candidates = process.extract(
            key, norms, scorer=fuzz.partial_ratio, score_cutoff=self.threshold, limit=NEAR_CANDIDATES
        )
        for _, _, i in candidates:
            piece = self.pieces[i]
            start, end = _word_window(key, piece.norm)
            score = fuzz.ratio(key, piece.norm[start:end])
            if score >= self.threshold and digits(key) == digits(piece.norm[start:end]):
                if best is None or score > best[0]:
                    best = (score, piece, start, end)
        if best is None:
            return None
        score, piece, start, end = best
        return self._found(piece, start, end, int(score))

    def _found(self, piece: _Piece, start: int, end: int, score: int) -> Found:
        first, last = piece.where[start], piece.where[end - 1] + 1
        boxes = [box for a, b, box in piece.words if a < last and first < b]
        if boxes:
            box = (
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            )
            return Found(source=piece.source, frame=piece.frame, box=box, interval=piece.interval, score=score)
        return Found(source=piece.source, frame=piece.frame, span=(first, last), interval=piece.interval, score=score)


def _word_window(key: str, norm: str) -> tuple[int, int]:
    """The run of whole words of `norm` that the best partial alignment of `key` falls in."""
    aligned = fuzz.partial_ratio_alignment(key, norm)
    start, end = aligned.dest_start, aligned.dest_end
    while start < end and norm[start] == " ":
        start += 1
    while end > start and norm[end - 1] == " ":
        end -= 1
    start = norm.rfind(" ", 0, start) + 1
    space = norm.find(" ", end)
    return start, len(norm) if space < 0 else space


# -- what an episode's evidence holds ---------------------------------------------------------


def _add_actions(
    evidence: Evidence,
    actions: Sequence[Action] | Sequence[EvidenceAction],
    frame_name: Callable[[Any], str | None],
    interval: int | None,
) -> None:
    typed: list[str] = []
    for action in actions:
        pasted = action.shortcut == "paste" or action.kind == "paste"
        evidence.add_text("clipboard" if pasted else "typed", action.text, interval=interval)
        if action.kind == "type" and action.text:
            typed.append(action.text)
        elif action.kind == "hotkey" and action.keys in (["enter"], ["tab"]):
            typed.append("\n" if action.keys == ["enter"] else "\t")
        evidence.add_text("window", action.title, interval=interval)
        evidence.add_text("screen", action.target, frame_name(action.frame_before), interval)
        evidence.add_text("screen", getattr(action, "result", None), frame_name(action.frame_after), interval)
        numbers = [str(v) for v in (action.x, action.y, action.x2, action.y2) if v is not None]
        evidence.add_text("action", " ".join([*numbers, *action.keys]), interval=interval)
    evidence.add_text("typed", "".join(typed), interval=interval)  # text typed over several actions


def add_interval(evidence: Evidence, interval: Interval) -> None:
    """An interval as a transcriber sees it (redacted): its actions, screen words, titles, label."""

    def name(frame: FrameRef | None) -> str | None:
        return frame_key(frame, interval.session_path) if frame is not None else None

    _add_actions(evidence, interval.actions, name, interval.index)
    evidence.add_text("typed", interval.submitted, interval=interval.index)
    evidence.add_words(interval.screen_words, interval.metadata.main_frame, interval.index)
    for title in interval.windows:
        evidence.add_text("window", title, interval=interval.index)
    evidence.add_text("label", interval.task, interval=interval.index)


def add_metadata(evidence: Evidence, meta: EpisodeEvidence) -> None:
    """The evidence an episode carries in its metadata (`EpisodeEvidence`): every action's text,
    target and result, the (last interval's) screen words, titles and label."""
    last = meta.intervals[-1] if meta.intervals else meta.interval
    _add_actions(evidence, meta.actions, lambda frame: frame, None)
    evidence.add_words(meta.ocr, meta.main_frame, last)
    for title in meta.windows:
        evidence.add_text("window", title)
    evidence.add_text("label", meta.task)
