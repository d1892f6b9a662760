"""Reading the OCR'd screen for actions: the text under the pointer (what was clicked) and the
text that appeared after an action (what it led to)."""

from __future__ import annotations

import math
from collections import Counter

from toolbox.ocr_engines.words import Box, OcrWord, text_lines

MAX_TARGET_WORDS = 6


def _distance(word: OcrWord, x: int, y: int) -> float:
    """Pixels from the point to the word's box (0 inside)."""
    dx = max(word.box[0] - x, 0, x - word.box[2])
    dy = max(word.box[1] - y, 0, y - word.box[3])
    return math.hypot(dx, dy)


def text_at(words: list[OcrWord], x: int, y: int, reach: int = 24) -> str | None:
    """The label under a point (frame pixels): the nearest word within `reach` pixels, grown to
    the words beside it on its line that sit close together (a button's or link's caption)."""
    found = target_at(words, x, y, reach)
    return found[0] if found else None


def target_at(words: list[OcrWord], x: int, y: int, reach: int = 24) -> tuple[str, Box | None] | None:
    """`text_at`'s label and the box around its words (frame pixels); the box only when the point
    is inside it (edges included): a label merely near the pointer is not the clicked target."""
    if not words:
        return None
    hit = min(words, key=lambda w: _distance(w, x, y))
    if _distance(hit, x, y) > reach:
        return None
    line = next(line for line in text_lines(words, engine_lines=True) if hit in line)
    at = line.index(hit)
    height = max(hit.height, 1)
    left = at
    while left > 0 and line[left].box[0] - line[left - 1].box[2] <= 1.2 * height and at - left < MAX_TARGET_WORDS // 2:
        left -= 1
    right = at
    while (
        right + 1 < len(line)
        and line[right + 1].box[0] - line[right].box[2] <= 1.2 * height
        and right - left + 1 < MAX_TARGET_WORDS
    ):
        right += 1
    label = line[left : right + 1]
    box = (
        min(w.box[0] for w in label),
        min(w.box[1] for w in label),
        max(w.box[2] for w in label),
        max(w.box[3] for w in label),
    )
    inside = box[0] <= x <= box[2] and box[1] <= y <= box[3]
    return " ".join(w.text for w in label), box if inside else None


def appeared_text(
    before: list[OcrWord], after: list[OcrWord], x: int | None = None, y: int | None = None, max_chars: int = 600
) -> str:
    """Lines of text that are on the screen after and were not before, nearest the action first
    when it has a point, then put back in reading order. Empty if nothing new was read."""
    seen = Counter(w.text.lower() for w in before)
    new: list[OcrWord] = []
    for word in after:
        key = word.text.lower()
        if seen[key] > 0:
            seen[key] -= 1
        else:
            new.append(word)
    if not new:
        return ""
    rows = text_lines(new, engine_lines=True)
    if x is not None and y is not None:
        rows.sort(key=lambda row: min(_distance(w, x, y) for w in row))
    chosen: list[list[OcrWord]] = []
    size = 0
    for row in rows:
        text = " ".join(w.text for w in row)
        if size and size + len(text) + 1 > max_chars:
            break
        chosen.append(row)
        size += len(text) + 1
    chosen.sort(key=lambda row: (min(w.center_y for w in row), row[0].box[0]))
    text = "\n".join(" ".join(w.text for w in row) for row in chosen)
    return text[:max_chars]
