"""Where a frame's text may have changed since an earlier frame of the same region.

Compared at full resolution, band by band (rows of `band_height` pixels across the whole
region): a band has changed when a run of changed columns in it is at least `min_text_width`
pixels wide (letter gaps of up to `letter_gap` pixels bridged). A typed word of two letters at
12 px is 8 px or more wide and counts; a blinking caret (1-2 px wide) or compression noise does
not. A solid cursor-sized block (a terminal's block cursor blinking) does not either.
A thumbnail cannot make this decision: at 480 px wide a short word is a handful of pixels,
under any threshold that also ignores a caret.

The changed bands are then grown to the blank rows around them (rows with almost no horizontal
edges, i.e. between lines of text), so that re-reading them never cuts a line of text in two.
A band is read again only across its changed columns (`changed_columns`), grown to a gap wider
than a space in both frames, so that no word is cut either: a pointer or a typed word costs the
engine a few words, not the whole width of the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

Span = tuple[int, int]  # y0, y1 (end excluded), in region rows


@dataclass(frozen=True)
class ChangeSettings:
    pixel_delta: int = 24  # gray levels two pixels must differ by to count as changed
    band_height: int = 16  # rows compared together (about one line of UI text)
    min_text_width: int = 4  # a narrower run of changed columns (a caret) is not text
    letter_gap: int = 3  # gaps between changed columns this narrow are bridged (letter spacing)
    solid_fill: float = 0.9  # a cursor-sized change filling this share of its box is a block cursor
    edge_delta: int = 32  # a horizontal step this large is an edge (text is full of them)
    blank_edges: int = 2  # a row with at most this many edges is blank (a descender or two is not)
    blank_run: int = 3  # a span ends only at this many blank rows in a row (the gap between lines)
    grow_limit: int = 48  # at most this many rows are added on each side looking for a blank row
    margin: int = 4  # blank rows kept around a span (the engine reads text better with a margin)
    column_gap: int = 12  # a band's columns end at this many columns blank in both frames (wider than a space)


DEFAULT = ChangeSettings()


def gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.uint8)


def changed_spans(before: np.ndarray, after: np.ndarray, settings: ChangeSettings = DEFAULT) -> list[Span] | None:
    """Row spans of `after` holding a text-sized change against `before`, grown to blank rows and
    merged; [] when nothing text-sized changed; None when the two cannot be compared (size)."""
    if before.shape != after.shape:
        return None
    bands = _changed_bands(before, after, settings)
    return _grown(bands, after, settings) if bands else []


def _grown(bands: list[Span], after: np.ndarray, settings: ChangeSettings) -> list[Span]:
    """Bands grown to the blank rows around them, merged."""
    height = after.shape[0]
    blank = _blank_rows_near(bands, after, settings)
    spans: list[Span] = []
    for y0, y1 in bands:
        y0, y1 = _grow(y0, y1, blank, height, settings)
        if spans and y0 <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], y1))
        else:
            spans.append((y0, y1))
    return spans


def vertical_shift(before: np.ndarray, after: np.ndarray, limit: float = 0.75) -> int:
    """The scroll between two frames: dy such that after[y] ~ before[y + dy] (content moved up by
    dy rows when dy > 0), or 0. Rows are compared by signature (the means of 16 column blocks);
    a shift wins when it matches clearly more rows holding text than no shift does.

    Not every shift is tried: rows vote for the shifts that could match them (a row of `before`
    whose mean is within one gray level, which every matching row is), and only the most voted
    shifts are counted. Exact row hashes would not do: a lossy frame's rows change a little when
    they move (measured on WebP frames: block means differ by up to ~0.9 gray levels)."""
    height = after.shape[0]
    if before.shape != after.shape or height < 32:
        return 0
    blocks = 16
    width = after.shape[1] // blocks * blocks
    sig_b = before[:, :width].reshape(height, blocks, -1).mean(axis=2, dtype=np.float32)
    sig_a = after[:, :width].reshape(height, blocks, -1).mean(axis=2, dtype=np.float32)
    content = np.ptp(sig_a, axis=1) + np.abs(np.diff(sig_a, axis=0, prepend=sig_a[:1])).max(axis=1) > 2.0

    def matched(dy: int) -> int:
        if dy >= 0:
            same = np.abs(sig_a[: height - dy] - sig_b[dy:]).max(axis=1) < 1.0
            return int((same & content[: height - dy]).sum())
        same = np.abs(sig_a[-dy:] - sig_b[: height + dy]).max(axis=1) < 1.0
        return int((same & content[-dy:]).sum())

    still = matched(0)
    best, best_rows = 0, still
    for dy in _likely_shifts(sig_a, sig_b, content, int(height * limit)):
        rows = matched(dy)
        if rows > best_rows:
            best, best_rows = dy, rows
    enough = best_rows >= max(1.5 * still, 0.25 * content.sum(), 8)
    return best if best and enough else 0


def _likely_shifts(
    sig_a: np.ndarray, sig_b: np.ndarray, content: np.ndarray, limit: int, count: int = 16, crowd: int = 64
) -> list[int]:
    """The `count` non-zero shifts (|dy| <= limit, ascending) most rows holding text vote for: each
    row of `sig_a` votes for every row of `sig_b` whose mean is within one gray level of its own
    (rows with more than `crowd` such rows, e.g. a plain background, do not vote)."""
    mean_a, mean_b = sig_a.mean(axis=1), sig_b.mean(axis=1)
    order = np.argsort(mean_b, kind="stable")
    sorted_b = mean_b[order]
    rows = np.flatnonzero(content)
    lo = np.searchsorted(sorted_b, mean_a[rows] - 1.0, "left")
    hi = np.searchsorted(sorted_b, mean_a[rows] + 1.0, "right")
    near = hi - lo
    voting = (near > 0) & (near <= crowd)
    rows, lo, near = rows[voting], lo[voting], near[voting]
    firsts = np.repeat(lo - np.concatenate(([0], np.cumsum(near)[:-1])), near)
    shifts = order[np.arange(int(near.sum())) + firsts] - np.repeat(rows, near)
    shifts = shifts[(shifts != 0) & (np.abs(shifts) <= limit)]
    if not len(shifts):
        return []
    votes = np.bincount(shifts + limit, minlength=2 * limit + 1)
    top = np.argsort(-votes, kind="stable")[:count]
    return sorted((top[votes[top] > 0] - limit).tolist())


def shifted_spans(
    before: np.ndarray, after: np.ndarray, dy: int, settings: ChangeSettings = DEFAULT
) -> tuple[list[Span], list[Span]]:
    """Like `changed_spans` after the content of `before` moved up by dy rows (down if dy < 0):
    the rows that scrolled in and the text-sized changes in the rest, and apart from those the
    pinned rows: rows that did not scroll (a title bar, a toolbar: no text-sized change in place),
    whose earlier words stay where they were."""
    height = after.shape[0]
    if dy > 0:
        moved = _changed_bands(before[dy:], after[: height - dy], settings) + [(height - dy, height)]
    else:
        moved = [(0, -dy)] + [
            (y0 - dy, y1 - dy) for y0, y1 in _changed_bands(before[: height + dy], after[-dy:], settings)
        ]
    changed_moved, changed_still = np.zeros(height, dtype=bool), np.zeros(height, dtype=bool)
    for y0, y1 in moved:
        changed_moved[y0:y1] = True
    for y0, y1 in _changed_bands(before, after, settings):
        changed_still[y0:y1] = True
    spans = _runs(changed_moved & changed_still)
    return (_grown(spans, after, settings) if spans else []), _runs(changed_moved & ~changed_still)


def _runs(rows: np.ndarray) -> list[Span]:
    """The runs of True rows, as spans."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], rows.view(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _changed_bands(before: np.ndarray, after: np.ndarray, s: ChangeSettings) -> list[Span]:
    # Rows that differ at all, first (cheap), so that unchanged regions cost one comparison.
    differs = np.flatnonzero((before != after).any(axis=1))
    if differs.size == 0:
        return []
    bands = np.unique(differs // s.band_height)
    rows = (bands[:, None] * s.band_height + np.arange(s.band_height)).ravel()
    rows = rows[rows < after.shape[0]]  # the last band may be short
    delta = np.abs(before[rows].astype(np.int16) - after[rows]) > s.pixel_delta  # all bands' rows at once
    out: list[Span] = []
    start = 0
    for band in bands.tolist():
        y0 = band * s.band_height
        y1 = min(y0 + s.band_height, after.shape[0])
        if _text_sized(delta[start : start + y1 - y0], s):
            if out and out[-1][1] == y0:
                out[-1] = (out[-1][0], y1)
            else:
                out.append((y0, y1))
        start += y1 - y0
    return out


def _text_sized(delta: np.ndarray, s: ChangeSettings) -> bool:
    """Whether a band's changed pixels hold a change that may be text: a run of changed columns
    (letter gaps bridged) at least `min_text_width` wide that is not a solid block (a terminal's
    block cursor: every pixel of its box changed; glyphs never fill their box)."""
    columns = np.flatnonzero(delta.any(axis=0))
    if columns.size == 0:
        return False
    breaks = np.flatnonzero(np.diff(columns) > s.letter_gap + 1)
    starts = np.concatenate(([columns[0]], columns[breaks + 1]))
    ends = np.concatenate((columns[breaks], [columns[-1]]))
    for x0, x1 in zip(starts.tolist(), ends.tolist()):
        if x1 - x0 + 1 < s.min_text_width:
            continue
        run = delta[:, x0 : x1 + 1]
        rows = np.flatnonzero(run.any(axis=1))
        box = run[rows[0] : rows[-1] + 1]
        if box.mean() < s.solid_fill or x1 - x0 + 1 > 2 * s.band_height:
            return True
    return False


def changed_columns(before: np.ndarray, after: np.ndarray, span: Span, dy: int, s: ChangeSettings = DEFAULT) -> Span:
    """Columns x0, x1 (end excluded) of rows `span` of `after` to read again: from the first to
    the last column that changed since `before` (whose rows moved up by dy: after[y] ~ before[y + dy]),
    grown on each side to `column_gap` columns blank in both frames, plus a margin. All columns when
    some of the rows have no counterpart in `before` (they scrolled in) or nothing changed."""
    top, bottom = span
    height, width = after.shape
    if top + dy < 0 or bottom + dy > height:
        return 0, width
    rows_after, rows_before = after[top:bottom], before[top + dy : bottom + dy]
    changed = np.flatnonzero((np.abs(rows_after.astype(np.int16) - rows_before) > s.pixel_delta).any(axis=0))
    if not changed.size:
        return 0, width
    blank = ~(_ink_columns(rows_after, s) | _ink_columns(rows_before, s))
    blank_before = np.concatenate(([0], np.cumsum(blank)))  # blank columns left of each column
    gap = s.column_gap
    # gap_ends[i]: columns i - gap .. i - 1 are all blank
    gap_ends = np.flatnonzero(blank_before[gap:] - blank_before[:-gap] == gap) + gap
    left = gap_ends[gap_ends <= changed[0]]
    right = gap_ends[gap_ends - gap > changed[-1]]
    x0 = max(0, int(left[-1]) - s.margin) if left.size else 0
    x1 = min(width, int(right[0]) - gap + s.margin) if right.size else width
    return x0, x1


def _ink_columns(image: np.ndarray, s: ChangeSettings) -> np.ndarray:
    """Per column: True when a horizontal edge (a glyph's stroke) touches it in any row."""
    edges = (np.abs(np.diff(image.astype(np.int16), axis=1)) > s.edge_delta).any(axis=0)
    ink = np.zeros(image.shape[1], dtype=bool)
    ink[:-1] |= edges
    ink[1:] |= edges
    return ink


def blank_rows(image: np.ndarray, settings: ChangeSettings = DEFAULT) -> np.ndarray:
    """Per row: True when it holds (almost) no horizontal edges - the space between text lines.
    A vertical border or separator adds two edges to every row; a line of text adds dozens."""
    edges = np.abs(np.diff(image.astype(np.int16), axis=1)) > settings.edge_delta
    return edges.sum(axis=1) <= settings.blank_edges


def _blank_rows_near(bands: list[Span], image: np.ndarray, s: ChangeSettings) -> np.ndarray:
    """`blank_rows` of the rows growing the bands may look at (the others are left True)."""
    reach = s.grow_limit + s.blank_run + s.margin + 3
    near = np.zeros(image.shape[0] + 1, dtype=np.int32)
    for y0, y1 in bands:
        near[max(0, y0 - reach)] += 1
        near[min(image.shape[0], y1 + reach)] -= 1
    rows = np.flatnonzero(np.cumsum(near[:-1]) > 0)
    blank = np.ones(image.shape[0], dtype=bool)
    blank[rows] = blank_rows(image[rows], s)
    return blank


def _grow(y0: int, y1: int, blank: np.ndarray, height: int, s: ChangeSettings) -> Span:
    run = s.blank_run
    top = y0
    while top > 0 and y0 - top < s.grow_limit and not blank[max(0, top - run) : top].all():
        top -= 1
    bottom = y1
    while bottom < height and bottom - y1 < s.grow_limit and not blank[bottom : bottom + run].all():
        bottom += 1
    # A margin of blank rows, stopping short of the next line's faint edges (antialiasing).
    kept = 0
    while top > 0 and kept < s.margin and blank[max(0, top - 3) : top].all():
        top -= 1
        kept += 1
    kept = 0
    while bottom < height and kept < s.margin and blank[bottom : bottom + 3].all():
        bottom += 1
        kept += 1
    return top, bottom
