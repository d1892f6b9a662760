"""Reading the OCR'd screen for actions: the text under the pointer (what was clicked) and the
observation a tool result shows (the window after the action, with what appeared and what went)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from toolbox.core.memo import ByIdentity
from toolbox.ocr_engines.words import Box, OcrWord, quotable, text_lines

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


@dataclass(frozen=True)
class ObservationLimits:
    lines: int = 14  # most lines shown (changed lines first, then the lines around them)
    gone: int = 6  # most gone lines listed one by one; the rest are counted
    chars: int = 900  # most characters in all
    line_chars: int = 160  # a longer line is cut


def readable(words: Sequence[OcrWord]) -> list[OcrWord]:
    """The words a tool result may quote: OCR noise left out, cursors cut off words
    (ocr_engines/words.py `quotable`)."""
    return [q for q in map(quotable, words) if q is not None]


def observation(
    before: Sequence[OcrWord] | None,
    after: Sequence[OcrWord],
    window: str,
    limits: ObservationLimits,
    y: float | None = None,
) -> str:
    """What a tool result shows: the focused window's text after the action in reading order,
    each line marked `+` if it appeared or `-` if it went away since `before` (None: the window
    was not on screen before, so nothing is marked), capped to the lines that changed and those
    around them (or around `y`, the pointer's row, when nothing changed).

        Window "notes.txt - Mousepad" (+ appeared, - gone):
          File Edit Search
        + Dear Maria,
        - Draft
          … 12 more lines
    """
    rows = screen_rows(after)
    if before is None:
        marked = [(" ", row) for row in rows]
        state = "newly focused"
    else:
        marked = _diff(screen_rows(before), rows)
        kinds = {mark for mark, _ in marked}
        state = ", ".join(name for mark, name in (("+", "+ appeared"), ("-", "- gone")) if mark in kinds)
        state = state or "no change"
    head = f'Window "{window}" ({state}):' if window else f"Screen ({state}):"
    if not marked:
        return f"{head}\n  (no text)"
    return head + "\n" + "\n".join(_shown(marked, limits, y))


def shown_lines(observation: str) -> list[tuple[str, str]]:
    """(mark, text) of the screen lines an `observation` lists: `+` appeared, `-` gone, ` `
    unchanged; the header and the "… N more lines" notes are left out. The reader of the
    format that `observation` writes, for a transcriber that answers from the screen."""
    out = []
    for line in observation.splitlines():
        mark, text = line[:1], line[2:]
        if mark in "+- " and len(line) > 2 and line[1] == " " and not text.lstrip().startswith("… "):
            out.append((mark, text))
    return out


Row = tuple[str, float]  # a line's text and its vertical middle (frame pixels)


_ROWS: ByIdentity[list[Row]] = ByIdentity(64)  # a few recent word lists' rows


def screen_rows(words: Sequence[OcrWord]) -> list[Row]:
    """The quotable lines of a frame's words. Remembered for the latest word lists: a frame's
    screen is the result of one action and the screen before the next, and lining up its words
    is most of a result's cost."""
    return _ROWS.get(words, lambda: _lines(readable(words)))


def _lines(words: Sequence[OcrWord]) -> list[Row]:
    return [
        (" ".join(w.text for w in line), sum(w.center_y for w in line) / len(line))
        for line in text_lines(words, engine_lines=True)
    ]


def _diff(before: list[Row], after: list[Row]) -> list[tuple[str, Row]]:
    """The after lines in order, `+` for new ones, with the lines that went (`-`) where they were."""
    key = lambda row: " ".join(row[0].casefold().split())  # noqa: E731
    matcher = SequenceMatcher(None, [key(r) for r in before], [key(r) for r in after], autojunk=False)
    out: list[tuple[str, Row]] = []
    for op, b0, b1, a0, a1 in matcher.get_opcodes():
        if op == "equal":
            out += [(" ", row) for row in after[a0:a1]]
            continue
        out += [("-", row) for row in before[b0:b1]]
        out += [("+", row) for row in after[a0:a1]]
    return out


def _shown(marked: list[tuple[str, Row]], limits: ObservationLimits, y: float | None) -> list[str]:
    """The lines to show, in order: new lines first (the first and the last ones when there are
    too many), then gone ones, then the lines nearest the change (or `y`); a note counts each run
    of lines left out, and the gone lines not listed."""
    new = [i for i, (mark, _) in enumerate(marked) if mark == "+"]
    gone = [i for i, (mark, _) in enumerate(marked) if mark == "-"]
    tail = min(3, len(new) // 2)
    new = new[: limits.lines - tail] + new[len(new) - tail :] if len(new) > limits.lines else new
    changed = new + gone
    if changed:
        distance = {i: min(abs(i - c) for c in changed) for i in range(len(marked))}
    elif y is not None:
        distance = {i: abs(row[1] - y) for i, (_, row) in enumerate(marked)}
    else:  # nothing changed, no pointer: the top and the bottom of the window (menus, a prompt)
        distance = {i: min(i, len(marked) - 1 - i) for i in range(len(marked))}
    context = sorted((i for i, (mark, _) in enumerate(marked) if mark == " "), key=lambda i: (distance[i], i))
    chosen: set[int] = set()
    size = 0
    for i in [*new, *gone[: limits.gone], *context]:
        line = len(marked[i][1][0]) + 3
        if chosen and (len(chosen) >= limits.lines or size + line > limits.chars):
            break
        chosen.add(i)
        size += line
    out: list[str] = []
    skipped = 0
    for i, (mark, (text, _)) in enumerate(marked):
        if i in chosen:
            if skipped:
                out.append(_more(skipped))
                skipped = 0
            out.append(f"{mark} {_cut(text, limits.line_chars)}")
        elif mark != "-":
            skipped += 1
    if skipped:
        out.append(_more(skipped))
    unlisted = sum(i not in chosen for i in gone)
    if unlisted:
        out.append("- " + _more(unlisted).strip() + " gone")
    return out


def _more(count: int) -> str:
    return f"  … {count} more line{'s' if count > 1 else ''}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
