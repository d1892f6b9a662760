"""Words read from a frame by OCR, and the one rule that groups them into lines.

Every reader of screen words (the runner's reading order, the screen text an LLM or a
sign-in check sees, the redaction of words split over a line, the label under the pointer and
the text that appeared after an action) groups them with `text_lines`, so they all agree on
what a line is.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from toolbox.core.memo import ByIdentity
from toolbox.core.models import EvidenceWord

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels
MIN_LINE_SLACK = 4  # pixels: words this close in height are on one line, however small


class OcrWord(EvidenceWord):
    """A word as OCR read it: the evidence's word (text, box, confidence, normalized midpoint)
    and the engine's line. Being an EvidenceWord, it goes into an episode's evidence as it is
    (written there without `line`), not copied word by word."""

    line: int = 0  # words with the same number were read as one line (a label, a sentence)

    @property
    def center_y(self) -> float:
        return (self.box[1] + self.box[3]) / 2

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def same_line(a: OcrWord, b: OcrWord) -> bool:
    """Two words sit on one line when their vertical middles are at most half the taller word's
    height apart (at least `MIN_LINE_SLACK` pixels): a word with a descender or a capital stays
    on its line, the line below (a line height away) does not."""
    return abs(a.center_y - b.center_y) <= max(MIN_LINE_SLACK, a.height / 2, b.height / 2)


_LINES: ByIdentity[list[list[OcrWord]]] = ByIdentity(256)  # recent word lists' lines


def text_lines(words: Iterable[OcrWord], engine_lines: bool = False) -> list[list[OcrWord]]:
    """Words grouped into lines, top to bottom, each left to right. Taken top down, a word joins
    the line begun last when it is on the same line as that line's first word (`same_line`),
    else it begins a line. With `engine_lines`, a line also holds only words the engine read as
    one line (same `line` number): two columns side by side stay two lines.

    A frame's word list (never changed in place: frames share them) is lined up again and again
    (its password fields, its redaction, its observation), so the lines of the latest lists are
    remembered by identity."""
    if type(words) is not list:
        return _text_lines(words, engine_lines)
    lines = _LINES.get(words, lambda: _text_lines(words, engine_lines), engine_lines)
    return [list(line) for line in lines]  # the caller's own lists


def _text_lines(words: Iterable[OcrWord], engine_lines: bool) -> list[list[OcrWord]]:
    lines: list[list[OcrWord]] = []
    # engine line number (or 0 for all) -> its line begun last, with its first word's middle and
    # half height (`same_line` written out: this runs for every word of every screen shown)
    latest: dict[int, tuple[list[OcrWord], float, float]] = {}
    for word in sorted(words, key=_middle):
        x0, y0, x1, y1 = word.box
        middle, half = (y0 + y1) / 2, (y1 - y0) / 2
        key = word.line if engine_lines else 0
        begun = latest.get(key)
        if begun is None or abs(begun[1] - middle) > max(MIN_LINE_SLACK, begun[2], half):
            begun = latest[key] = ([], middle, half)
            lines.append(begun[0])
        begun[0].append(word)
    for line in lines:
        line.sort(key=_left)
    return lines


def _middle(word: OcrWord) -> float:
    return word.box[1] + word.box[3]


def _left(word: OcrWord) -> int:
    return word.box[0]


def reading_order(words: Iterable[OcrWord]) -> list[OcrWord]:
    """The words line by line, top to bottom, each line left to right."""
    return [word for line in text_lines(words) for word in line]


def lines_text(words: Iterable[OcrWord]) -> str:
    """The words as text: one line of text per line of words."""
    return "\n".join(" ".join(word.text for word in line) for line in text_lines(words))


# -- noise: what stays out of tool results (the OCR cache and the report keep every word) --------
# Measured on OCR of real app screens (bench/noise_bench.py, bench/RESULTS-noise.md).

MIN_RESULT_CONF = 0.3  # higher cuts cost real ids (run-0044, llama-13b read at 0.33-0.45) for little noise
_TRIM = ".,;:!?\"'`()[]{}<>*‘’“”"
# lone symbols that are text (shell, code, prose); other lone symbols are icons read as text
_TEXT_SYMBOLS = frozenset("$ # > < >> & && || | = == -> => - -- * / % : ~ { } [ ] ( ) [] {} () ... ? !".split())
_JUNK_TEXT = "|§¦¬«»©®¢¤"  # glyphs OCR makes of icons, cursors and rules, never inside a word
_JUNK = frozenset(_JUNK_TEXT)
# two-letter tokens that are words: English, shell commands, units and file types
_TWO_LETTER_WORDS = frozenset(
    """of to in is it on at by or be as we he do go no so up us my me if an am ok id vs pm tv hi oh ah ha ex
    ls cd rm mv cp ps df du wc vi ip db js py os io ui qa pr ci gb mb kb tb px pt em ms ns hz km kg cm mm ml
    sh md ts rs gz xz ai mr dr st jr sr ft lb oz""".split()
)


@lru_cache(maxsize=1 << 16)  # a session repeats its screen words frame after frame
def garbled(text: str) -> bool:
    """OCR garbage by its shape: a lone symbol that is not text, a lone letter other than a and I,
    a glyph of an icon or cursor mixed into a word, or a two-letter lowercase token that is no
    known two-letter word (fragments of small text: "ut", "th", "fj")."""
    if not any(ch.isalnum() for ch in text):
        return text not in _TEXT_SYMBOLS
    core = text.strip(_TRIM)
    if len(core) == 1 and core.isalpha():
        return core not in "aAI"
    if any(ch in _JUNK for ch in core):
        return True
    return (
        len(core) == 2
        and core.isascii()
        and core.isalpha()
        and not core.isupper()
        and (core.lower() not in _TWO_LETTER_WORDS)
    )


def quotable(word: OcrWord, min_conf: float = MIN_RESULT_CONF) -> OcrWord | None:
    """The word as a tool result may quote it, or None for noise (read with too little confidence,
    or garbled). A text cursor or an icon's glyph stuck to the edge of a word is cut off first
    ("C-204|" is C-204 with the cursor after it): only a glyph inside a word makes it garbage."""
    if word.conf < min_conf:
        return None
    text = _quoted(word.text)
    if text is None:
        return None
    return word if text == word.text else word.model_copy(update={"text": text})


@lru_cache(maxsize=1 << 16)
def _quoted(text: str) -> str | None:
    """`text` with a cursor glyph cut off its edges, or None when it is garbled."""
    core = text.strip(_JUNK_TEXT) if any(ch.isalnum() for ch in text) else text
    return None if garbled(core) else core


def is_noise(word: OcrWord, min_conf: float = MIN_RESULT_CONF) -> bool:
    """A word to keep out of tool results (`quotable` finds none in it)."""
    return quotable(word, min_conf) is None
