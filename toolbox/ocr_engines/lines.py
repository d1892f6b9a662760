"""Lines of text read earlier in a session, found again when they come back.

A frame is compared whole with the few frames of its region just before it (runner.py). Lines
that come back from farther away (a scroll back up a long page, a log jumping to its end after
the person had scrolled up, a page opened again) would be read again. So a band to read is cut
into lines at its blank rows, and a line whose pixels match a line read earlier takes
the words read there, moved to where it is now; only the other lines are read.

Two lines match when they have the same size and no pixel differs by more than half the line's
contrast. Compression moves a pixel of an unchanged line by about a quarter at most (measured on
WebP quality 48, the same line drawn 7 rows lower: 55 of 235 gray levels), while a changed glyph
moves some pixel by more than half ("l" for "I": 158; one digit for another: 227 and more). This
is stricter than the text-sized-change rule that lets a frame reuse the frame before it: that
rule ignores changes narrower than a letter (a caret), which is safe for one frame against the
next but not against any of thousands of earlier lines (a log line differing in one digit).
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

import numpy as np

from toolbox.ocr_engines.changes import DEFAULT, ChangeSettings, Span, blank_rows


class Line(NamedTuple):
    """A line of text in pixels to read (rows of those pixels)."""

    ink: Span  # the rows holding its ink
    reach: Span  # the rows whose words are its words: its ink and half the blank rows on each side


class LineRef(NamedTuple):
    """A line read earlier: which read holds its words, and where it was (frame pixels)."""

    key: str  # the read (cache key) whose words hold the line's words
    x0: int  # the frame column of its first pixel column
    x1: int
    top: int  # the frame row of its first ink row
    reach: Span  # frame rows: a word of that read whose middle is in them (and in x0..x1) is the line's


def cut_lines(pixels: np.ndarray, settings: ChangeSettings = DEFAULT) -> list[Line]:
    """The lines of gray `pixels`: runs of rows with ink, split where `settings.blank_run` or more
    blank rows (changes.blank_rows) lie between them; the reaches tile all the rows."""
    height = pixels.shape[0]
    if height == 0 or pixels.shape[1] < 2:
        return []
    ink = np.flatnonzero(~blank_rows(pixels, settings))
    if ink.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(ink) > settings.blank_run)
    starts = [int(ink[0]), *(int(ink[i + 1]) for i in breaks)]
    ends = [*(int(ink[i]) + 1 for i in breaks), int(ink[-1]) + 1]
    cuts = [0, *((end + start) // 2 for end, start in zip(ends, starts[1:])), height]
    return [Line((s, e), (cuts[i], cuts[i + 1])) for i, (s, e) in enumerate(zip(starts, ends))]


MAX_LINE_ROWS = 160  # a taller run of rows with ink is not a line of text (a picture, a chart): not kept
MAX_BYTES = 64 << 20  # the pixels kept, at most (2,048 lines of a 1200 px window take 40 MB; of a 4K screen, more)


class LinePrint(NamedTuple):
    """A line's pixels and what finds it among others, made once for looking it up and keeping it."""

    pixels: np.ndarray
    key: tuple[int, int, int, int]  # height, width, mean gray level, the 8-column block where its ink ends
    blocks: np.ndarray  # the mean of each block of 16 columns


def line_print(pixels: np.ndarray) -> LinePrint:
    signed = pixels.astype(np.int16)
    edges = np.flatnonzero((np.abs(np.diff(signed, axis=1)) > DEFAULT.edge_delta).any(axis=0))
    end = int(edges[-1]) // 8 if edges.size else -1  # lines of one window share a size and nearly a mean
    return LinePrint(pixels, (*pixels.shape[:2], round(float(pixels.mean())), end), _blocks(pixels))


class LineMemory:
    """The pixels of the last `size` lines read in a session (at most `MAX_BYTES` of them), found by
    size, mean gray level and where the ink ends, then by the means of 16-column blocks (a few
    differ a lot between two lines of different text), and last pixel by pixel."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._buckets: dict[tuple[int, int, int, int], _Bucket] = {}
        self._order: deque[tuple[tuple[int, int, int, int], LineRef, int]] = deque()  # oldest first, to forget
        self._bytes = 0

    def find(self, line: LinePrint) -> LineRef | None:
        """A line read earlier with these pixels (up to compression noise), or None."""
        if not self._buckets or line.pixels.shape[0] > MAX_LINE_ROWS:
            return None
        height, width, mean, end = line.key
        signed: np.ndarray | None = None
        for m in (mean, mean - 1, mean + 1):  # noise moves a line's mean by well under a level,
            for e in (end, end - 1, end + 1):  # and where its ink ends by a column or two
                bucket = self._buckets.get((height, width, m, e))
                if bucket is None:
                    continue
                for i in np.flatnonzero(np.abs(bucket.blocks() - line.blocks).max(axis=1) <= BLOCK_NOISE).tolist():
                    if signed is None:
                        signed = line.pixels.astype(np.int16)
                    if np.abs(signed - bucket.pixels[i]).max() <= bucket.limits[i]:
                        return bucket.refs[i]
        return None

    def add(self, ref: LineRef, line: LinePrint) -> None:
        """Remember a line about to be read (its words will be in read `ref.key`)."""
        pixels = line.pixels
        if self.size <= 0 or pixels.shape[0] > MAX_LINE_ROWS:
            return
        limit = max(DEFAULT.pixel_delta, (int(pixels.max()) - int(pixels.min())) // 2)
        self._buckets.setdefault(line.key, _Bucket()).add(ref, pixels.copy(), limit, line.blocks)
        self._order.append((line.key, ref, pixels.nbytes))
        self._bytes += pixels.nbytes
        while len(self._order) > self.size or self._bytes > MAX_BYTES:
            old_key, old_ref, nbytes = self._order.popleft()
            self._bytes -= nbytes
            if self._buckets[old_key].forget(old_ref):
                del self._buckets[old_key]


BLOCK = 16  # columns per block of a line's coarse signature
BLOCK_NOISE = 8.0  # gray levels a block's mean may move by between two copies of one line (compression)


class _Bucket:
    """Lines of one size, mean and ink end, with their block means as one array."""

    def __init__(self) -> None:
        self.refs: list[LineRef] = []
        self.pixels: list[np.ndarray] = []
        self.limits: list[int] = []
        self._blocks: list[np.ndarray] = []
        self._stacked: np.ndarray | None = None

    def add(self, ref: LineRef, pixels: np.ndarray, limit: int, blocks: np.ndarray) -> None:
        self.refs.append(ref)
        self.pixels.append(pixels)
        self.limits.append(limit)
        self._blocks.append(blocks)
        self._stacked = None

    def forget(self, ref: LineRef) -> bool:
        """Drop `ref`'s line; True when the bucket is empty."""
        i = next(i for i, other in enumerate(self.refs) if other is ref)
        for values in (self.refs, self.pixels, self.limits, self._blocks):
            del values[i]
        self._stacked = None
        return not self.refs

    def blocks(self) -> np.ndarray:
        if self._stacked is None:
            self._stacked = np.stack(self._blocks)
        return self._stacked


def _blocks(pixels: np.ndarray) -> np.ndarray:
    """The mean gray level of each block of `BLOCK` columns (the last, narrower block left out)."""
    height, width = pixels.shape[:2]
    whole = width // BLOCK * BLOCK
    if not whole:
        return np.zeros(1, dtype=np.float32)
    return pixels[:, :whole].reshape(height, -1, BLOCK).mean(axis=(0, 2), dtype=np.float32)
