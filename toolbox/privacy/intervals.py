"""Privacy for interval evidence, before a transcriber (offline or LLM) sees it: passwords
typed in sign-in contexts replaced, every text redacted with one map per interval, and frames
for a vision model blacked out (excluded windows are dropped before: exclusion.py)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from toolbox.activity.models import FrameRef, Interval
from toolbox.core.io import private_dir
from toolbox.core.models import EpisodeEvidence, EvidenceWord
from toolbox.core.session import Clipboard, Event, Marker, Session, Window
from toolbox.ocr_engines.words import Box, OcrWord, text_lines
from toolbox.privacy.exclusion import WindowExclusion
from toolbox.privacy.passwords import (
    blackout,
    is_sign_in_context,
    password_field_boxes,
    sensitive_word_boxes,
    unread_boxes,
)
from toolbox.privacy.redactor import PASSWORD, RedactionMap, Redactor

ScreenWord = TypeVar("ScreenWord", OcrWord, EvidenceWord)  # a word read by OCR, or as the evidence keeps it


def redact_words(words: Sequence[ScreenWord], redactor: Redactor, mapping: RedactionMap) -> list[ScreenWord]:
    """OCR words with redacted text: per line, so a secret split over words is found; the first
    word of a finding takes the placeholder, the others of it are dropped; words inside a
    password field become [PASSWORD]."""
    field_boxes = password_field_boxes(words) if redactor.options.passwords else []  # type: ignore[arg-type]
    out: list[ScreenWord] = []
    for line in text_lines(words):  # type: ignore[arg-type]
        text = " ".join(w.text for w in line)
        findings = redactor.find(text, mapping, screen=True)
        at = 0
        used: set[int] = set()
        for w in line:
            start, end = at, at + len(w.text)
            at = end + 1
            hit = next((i for i, f in enumerate(findings) if start < f.end and f.start < end), None)
            if hit is not None:
                if hit in used:
                    continue
                used.add(hit)
                f = findings[hit]
                mapping.counts[f.kind] += 1
                out.append(w.model_copy(update={"text": mapping.placeholder(f.kind, f.value, f.key)}))
            elif _inside(w.box, field_boxes) and not _is_label(w.text):
                mapping.counts["password"] += 1
                mapping.remember("password", w.text)
                out.append(w.model_copy(update={"text": PASSWORD}))
            else:
                out.append(w)
    return out


def _is_label(text: str) -> bool:
    from toolbox.privacy.passwords import _PASSWORD_LABEL, _label

    return bool(_PASSWORD_LABEL.match(_label(text)))


def _inside(box: Box, boxes: Sequence[Box]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(x0 <= cx <= x1 and y0 <= cy <= y1 for x0, y0, x1, y1 in boxes)


def _whole_finding(text: str, redactor: Redactor) -> bool:
    """The typed text is one e-mail address, phone or card (a user name, not a password):
    it gets its own placeholder instead of [PASSWORD]."""
    found = redactor.find(text)
    return (
        len(found) == 1
        and found[0].start == 0
        and found[0].end == len(text)
        and found[0].kind in ("email", "phone", "card", "iban")
    )


def learn_passwords(interval: Interval, redactor: Redactor, mapping: RedactionMap) -> list[int]:
    """Remember the text typed (or pasted) in a sign-in context as a password; the indexes of those actions."""
    if not redactor.options.passwords:
        return []
    screen = interval.screen_text()  # OCR of the main frame: the first action's window
    main_window = interval.windows[0] if interval.windows else None
    found = []
    for index, action in enumerate(interval.actions):
        title = action.title or main_window
        nearby = screen if title == main_window else action.target
        typed = (action.text or "").strip()
        if (
            (action.kind == "type" or action.shortcut == "paste")
            and typed
            and is_sign_in_context(title, nearby)
            and not _whole_finding(typed, redactor)
        ):
            mapping.remember("password", typed)
            found.append(index)
    return found


def without_excluded_clipboard(session: Session, exclusion: WindowExclusion) -> Session:
    """A copy of `session` whose clipboard events taken while an excluded window had the focus
    are `redacted` markers: their text is never read, and a later paste is not given an older text."""
    if not exclusion:
        return session
    events: list[Event] = []
    excluded = False
    for event in session.events:
        if isinstance(event, Window):
            excluded = exclusion.matches(event.title, event.app)
        elif isinstance(event, Clipboard) and excluded:
            event = Marker(t=event.t, type="marker", kind="redacted", text="clipboard of an excluded window")
        events.append(event)
    return dataclasses.replace(session, events=events)


def redact_interval(interval: Interval, redactor: Redactor, mapping: RedactionMap | None = None) -> Interval:
    """A copy of `interval` safe to show a model: text typed in a sign-in context is
    `[PASSWORD]` (and remembered, so it goes wherever else it shows up), then every text
    (titles, typed and submitted text, action targets and results, OCR words, metadata) is
    redacted with one map."""
    mapping = mapping if mapping is not None else RedactionMap()
    # every text field below is replaced, so a shallow copy (with copies of the actions) is enough
    copy = interval.model_copy(update={"actions": [a.model_copy() for a in interval.actions]})
    for index in learn_passwords(interval, redactor, mapping):
        mapping.counts["password"] += 1
        copy.actions[index].text = PASSWORD
    red = redactor.redact
    copy.screen_words = redact_words(copy.screen_words, redactor, mapping)
    copy.windows = [red(t, mapping) for t in copy.windows]
    copy.typed_text = red(copy.typed_text, mapping)
    copy.submitted = red(copy.submitted, mapping) if copy.submitted else copy.submitted
    copy.task = red(copy.task, mapping) if copy.task else copy.task
    for action in copy.actions:
        for name in ("text", "title", "target", "result"):
            value = getattr(action, name)
            if value and value != PASSWORD:  # target and result were read from the screen (OCR)
                setattr(action, name, redactor.redact(value, mapping, screen=name in ("target", "result")))
    # the report's copy: its strings redacted too (the interval's task above, once), then its
    # actions and words set to the interval's, redacted as the screen text they are
    # (its words, `ocr` and `screens`, are replaced below by the redacted words)
    evidence = copy.metadata.model_dump(mode="json", exclude_defaults=True, exclude={"task", "screens", "ocr"})
    copy.metadata = EpisodeEvidence.model_validate({**redactor.redact_data(evidence, mapping), "task": copy.task})
    if len(copy.metadata.actions) == len(copy.actions):  # one row per action, as activity makes them
        for row, action in zip(copy.metadata.actions, copy.actions):
            row.text, row.title, row.target, row.result = action.text, action.title, action.target, action.result
    copy.metadata.ocr = list(copy.screen_words)  # OCR words are evidence words
    copy.metadata.screens = {  # each step's screen, redacted as the main frame's words are (the main one reused)
        path: copy.metadata.ocr if path == copy.metadata.main_frame else redact_words(words, redactor, mapping)
        for path, words in interval.metadata.screens.items()
    }
    return copy


def outside(region: Box, size: tuple[int, int]) -> list[Box]:
    """The parts of a `size` frame outside `region`, as up to four boxes."""
    width, height = size
    x0, y0, x1, y1 = region
    parts = [(0, 0, width, y0), (0, y1, width, height), (0, y0, x0, y1), (x1, y0, width, y1)]
    return [p for p in parts if p[2] > p[0] and p[3] > p[1]]


def frame_blackout_boxes(
    words: Sequence[OcrWord],
    redactor: Redactor,
    mapping: RedactionMap,
    size: tuple[int, int] | None = None,
    region: Box | None = None,
    image_path: str | None = None,
) -> list[Box]:
    """What to black out on a frame before a model sees it: password fields, words that hold
    redacted text (found with `mapping`, so passwords typed elsewhere count too), and, when OCR
    read only `region` of the frame, everything outside it (text nobody checked). With
    `image_path` and `hide_unread` on, also whatever OCR did not read as a word.
    `words` are the frame's OCR words, unredacted."""
    boxes = password_field_boxes(words, size) if redactor.options.passwords else []
    boxes += sensitive_word_boxes(words, redactor, mapping)
    if region is not None and size is not None:
        boxes += outside(region, size)
    if image_path is not None and redactor.options.hide_unread:
        from PIL import Image

        with Image.open(image_path) as image:
            boxes += unread_boxes(image, words, region)
    return [tuple(int(v) for v in box) for box in boxes]  # type: ignore[misc]


def blacked_out_frame(
    frame: FrameRef,
    words: Sequence[OcrWord],
    redactor: Redactor,
    mapping: RedactionMap,
    out_dir: Path,
    region: Box | None = None,
    boxes: Sequence[Box] | None = None,
) -> FrameRef:
    """A copy of `frame` (written under `out_dir`, a 0700 folder) with password fields and
    redacted words blacked out (or the given `boxes`); the FrameRef returned points at it.
    `words` are the frame's OCR words, unredacted."""
    from PIL import Image

    private_dir(out_dir)
    if boxes is None:
        boxes = frame_blackout_boxes(words, redactor, mapping, (frame.width, frame.height), region)
    target = out_dir / f"{Path(frame.path).stem}-{frame.hash or 'x'}-redacted.png"
    with Image.open(frame.path) as image:
        blackout(image, boxes).save(target)
    os.chmod(target, 0o600)
    return frame.model_copy(update={"path": str(target)})
