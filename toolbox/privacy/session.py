"""Redaction of one recorded session's intervals, before any transcriber sees them.

One `RedactionMap` serves the whole session, so a placeholder names the same value in every
interval (an episode may span several: `per: task`), and a password typed in one interval is
replaced wherever it shows up in the others, earlier ones included (a first pass learns them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolbox.activity.models import FrameRef, Interval
from toolbox.core.models import Episode
from toolbox.ocr_engines.words import Box, OcrWord
from toolbox.privacy.episodes import redact_episode
from toolbox.privacy.intervals import frame_blackout_boxes, learn_passwords, redact_interval
from toolbox.privacy.redactor import RedactionMap, Redactor


class FrameWords:
    """The unredacted OCR words of every frame of a session, and the region each was read
    from, as the OCR runner returned them. Lives in memory only: never written anywhere."""

    def __init__(self) -> None:
        self.words: dict[str, list[OcrWord]] = {}
        self.regions: dict[str, Box | None] = {}

    def add(self, path: str, region: Box | None, words: list[OcrWord]) -> None:
        self.words[path] = words
        self.regions[path] = region


def frame_key(frame: FrameRef, session_path: str) -> str:
    """How metadata names a frame: its path inside the session folder (else the full path)."""
    path = Path(frame.path)
    try:
        return path.relative_to(session_path).as_posix()
    except ValueError:
        return str(path)


def frame_boxes(interval: Interval, frame: FrameRef) -> list[Box] | None:
    """The boxes to black out on `frame` of a redacted interval; None when nobody could check
    the frame (no OCR words for it): such a frame must not be shown to a model."""
    boxes = interval.metadata.frame_blackout.get(frame_key(frame, interval.session_path))
    return None if boxes is None else list(boxes)


# metadata keys of a session's episode that hold the interval's OCR words, redacted with the
# session's map as screen text (redact_interval): not walked through again, word by word
EVIDENCE_WORDS = frozenset({"ocr", "screens"})


class SessionRedaction:
    def __init__(self, redactor: Redactor, frame_words: FrameWords | None = None) -> None:
        self.redactor = redactor
        self.frame_words = frame_words or FrameWords()
        self.mapping = RedactionMap()
        self.totals: Counter[str] = Counter()

    def intervals(self, intervals: Sequence[Interval], frames: bool = False) -> list[Interval]:
        """Redacted copies. With `frames`, each copy's metadata also says what to black out on
        each of its frames (for a vision model)."""
        learner = RedactionMap()
        for interval in intervals:  # first pass: learn the passwords typed anywhere in the session
            learn_passwords(interval, self.redactor, learner)
        for value, kind in learner.known().items():
            self.mapping.remember(kind, value)
        out = []
        for interval in intervals:
            before = Counter(self.mapping.counts)
            safe = redact_interval(interval, self.redactor, self.mapping)
            if frames:
                safe.metadata.frame_blackout = self._blackout(interval)
            made = self.mapping.counts - before
            self.totals.update(made)
            safe.metadata.redactions = dict(sorted(made.items()))
            out.append(safe)
        return out

    def _blackout(self, interval: Interval) -> dict[str, list[Box]]:
        table: dict[str, list[Box]] = {}
        for frame in interval.frames:
            words = self.frame_words.words.get(frame.path)
            if words is None:
                continue  # never read: no entry, so it is never sent
            boxes = frame_blackout_boxes(
                words,
                self.redactor,
                self.mapping,
                (frame.width, frame.height),
                self.frame_words.regions.get(frame.path),
                frame.path,
            )
            table[frame_key(frame, interval.session_path)] = boxes
        return table

    def episode(self, episode: Episode) -> Episode:
        """The episode a transcriber wrote from redacted evidence, redacted once more (a model
        may put pieces together) with the session's map."""
        totals: dict[str, Any] = {}
        safe = redact_episode(episode, self.redactor, totals, self.mapping, EVIDENCE_WORDS)
        self.totals.update(totals)
        return safe
