"""Run an OCR engine over many frames, once: disk cache, reuse of unchanged text, process pool.

- Cache: one JSON file per (frame content hash, engine + options, region, upscale, reuse mode), so a
  rebuild never OCRs a frame twice, and a changed setting never returns stale words. The folder
  (`<cache_dir>/ocr`) is private (0700, files 0600): it holds the raw text of people's screens.
- Reuse (`reuse`, on by default): each frame is compared at full resolution with the frames of the
  same region read just before it (changes.py). Nothing text-sized changed (a caret blink): the
  earlier frame's words are reused. Bands of lines changed (typing, a new line, a scroll): only
  those bands are read, across their changed columns, and the earlier frame's words outside them
  are kept (moved by the scroll, except in rows that did not scroll). Otherwise: read it whole.
  A changed band's lines that match a line read earlier among the same frames take the words
  read there (lines.py): after a scroll back up, only the lines never read are read.
- Pool: each frame is decoded once, here; the pixels to read (in the engine's image mode) go to
  `workers` processes (one engine each, loaded once) as soon as the frame is planned, so reading
  overlaps planning. A handful of frames is read in this process instead: a pool costs more than
  it saves.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson
from PIL import Image
from pydantic import TypeAdapter
from tqdm import tqdm

from toolbox.core import registry
from toolbox.core.io import private_dir, write_atomic
from toolbox.ocr_engines.base import OcrEngine, RawWord
from toolbox.ocr_engines.changes import (
    ChangeSettings,
    Span,
    changed_columns,
    changed_spans,
    gray,
    shifted_spans,
    vertical_shift,
)
from toolbox.ocr_engines.lines import LineMemory, LineRef, cut_lines, line_print
from toolbox.ocr_engines.words import Box, OcrWord, reading_order, same_line

_WORDS = TypeAdapter(list[OcrWord])
log = logging.getLogger("datamakr")
DEFAULT_ENGINE = "tesseract"  # best word recall per second in bench/RESULTS-ocr.md
BAND_PAD = 10  # a band is read with this many columns of its own edge repeated left and right: tesseract
# drops a glyph that touches the image's side ("ilter:" for "Filter:" in a band cut 4 px left of the
# line). Not above and below: a band's edge rows may cross the next line's descenders, and repeating
# them drew streaks that tesseract read as "eee" and "SSS", at 1.5x the CPU (measured on 307 bands).
POOL_MIN_FRAMES = 4  # fewer reads than this are done in-process
REUSE_VERSION = "changes-v3"  # part of the cache key: v1 (thumbnail) results may hide typed text; v3 reads
# changed columns only


class OcrRequest(NamedTuple):
    path: str  # the image file
    region: Box | None = None  # the part of the frame to read; None = the whole frame


@dataclass
class OcrSettings:
    engine: str = DEFAULT_ENGINE
    engine_options: dict[str, Any] = field(default_factory=dict)
    scale: float = 1.0  # upscale the region before reading (small UI text reads better larger)
    workers: int = 0  # 0 = one per CPU core
    reuse: bool = True  # reuse the words of unchanged text (changes.py); False: read every frame whole
    partial: bool = True  # with reuse on: read only the changed bands of lines of a frame
    partial_limit: float = 0.8  # changed bands taller than this share of the region: read it whole
    scroll_check: float = 0.5  # changed bands taller than this share: look for a scroll too
    max_bands: int = 4  # more separate changed bands than this: read it whole
    band_join: int = 32  # changed bands closer than this many rows are read as one
    history: int = 4  # earlier frames of the same region a frame is compared with
    line_memory: int = 2048  # lines read earlier (same `read`) a band's lines are matched with (lines.py); 0: none
    changes: ChangeSettings = field(default_factory=ChangeSettings)
    progress: bool = True


@dataclass
class OcrRunStats:
    frames: int = 0
    cached: int = 0
    near_duplicates: int = 0  # nothing text-sized changed: words reused
    read: int = 0  # frames the engine read, whole or in part
    partial: int = 0  # ... of which only the changed bands were read
    scrolled: int = 0  # ... of which the earlier words were moved by a scroll
    lines_reused: int = 0  # lines of changed bands that matched a line read earlier, so were not read
    failed: int = 0


class _Source(NamedTuple):
    """Where words of a re-read band come from: the read `key` (all its words), or the words of one
    line of it (middle inside `line`, frame pixels) moved by dx, dy."""

    key: str
    line: Box | None = None
    dx: int = 0
    dy: int = 0


@dataclass
class _Plan:
    """How one frame gets its words: read whole (base None), or the words of `base` with
    `spans` (rows of the region) read again; no spans = a near duplicate of `base`."""

    request: OcrRequest
    key: str
    base: OcrRequest | None = None
    spans: list[Span] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)  # the spans in frame pixels, across the whole region
    shift: int = 0  # the content scrolled up by this many rows since `base` (down if negative)
    pinned: list[Box] = field(default_factory=list)  # rows that did not scroll with it (frame pixels)
    region: Box = (0, 0, 0, 0)  # the region in frame pixels
    frame_height: int = 0
    frame_width: int = 0
    sources: list[list[_Source]] = field(default_factory=list)  # per box: where its words come from


@dataclass
class _Job:
    """One read: pixels of a frame (in the engine's image mode) and where they sit in it."""

    key: str  # where the words of this read are cached
    pixels: np.ndarray
    origin: tuple[int, int]  # the frame pixel of pixels[0, 0]
    frame_size: tuple[int, int]  # width, height of the whole frame (word midpoints are normalized by it)


class OcrRunner:
    def __init__(self, settings: OcrSettings, cache_dir: Path | None) -> None:
        self.settings = settings
        self.cache_dir = cache_dir
        self.engine = make_engine(settings.engine, settings.engine_options)
        self.local_engine: OcrEngine | None = None
        self._digests: dict[str, str] = {}
        self._private_dirs: set[Path] = set()
        self._cache_broken = False  # a cache write failed (full disk): the rest of the build does not try
        self._parsed: dict[bytes, list[OcrWord]] = {}  # cache entries parsed in this `read`, by a digest of their bytes
        self.lines = LineMemory(0)  # lines read in the current `read` (one session)
        self.stats = OcrRunStats()
        root = self._root()
        if root is not None and root.is_dir():
            private_dir(root)  # made by an older version with the umask's mode

    @property
    def reuse(self) -> bool:
        return self.settings.reuse

    def read(
        self, requests: list[OcrRequest], problem: Callable[[str], None]
    ) -> dict[OcrRequest, list[OcrWord] | None]:
        """Words for each request (None if its image cannot be read; `problem` gets one line).
        Requests are taken in order (time order): a frame reuses words of frames before it.

        What one call remembers (lines read, cache entries parsed) is dropped when it returns:
        lines are found again among these frames only, so what a session reads never depends on
        the sessions an OCR process read before it (workers, Ray: same bytes), and a session's
        words are freed with its episodes instead of staying for the collector to walk."""
        settings = self.settings
        self.lines = LineMemory(settings.line_memory if settings.reuse and settings.partial else 0)
        try:
            return self._read(requests, problem)
        finally:
            self.lines = LineMemory(0)
            self._parsed.clear()

    def _read(
        self, requests: list[OcrRequest], problem: Callable[[str], None]
    ) -> dict[OcrRequest, list[OcrWord] | None]:
        out: dict[OcrRequest, list[OcrWord] | None] = {}
        todo: list[tuple[OcrRequest, str]] = []
        for request in dict.fromkeys(requests):
            self.stats.frames += 1
            try:
                key = self._key(request)
            except OSError as exc:
                problem(f"{request.path}: cannot read frame ({exc.strerror or exc}); frame skipped")
                out[request] = None
                self.stats.failed += 1
                continue
            cached = self._load(key)
            if cached is not None:
                out[request] = cached
                self.stats.cached += 1
            else:
                todo.append((request, key))
        if not todo:
            return out
        results: dict[str, list[OcrWord]] = {}  # words of each read (whole frame or band) by its cache key
        errors: dict[str, str] = {}  # read key -> what went wrong

        def done(key: str, words: list[OcrWord]) -> None:  # stored at once: an interrupted build keeps its work
            results[key] = words
            errors.pop(key, None)  # frames with the same pixels share a key: one good read serves all
            self._store(key, words)

        def failed(key: str, exc: BaseException) -> None:
            if key not in results:
                errors[key] = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:160]}"

        with _Reads(self, len(todo), done, failed) as reads:  # reads start while later frames are still planned
            plans = self._plan(todo, out, problem, reads, results)
        again: list[_Plan] = []  # frames built on a failed read: read whole instead
        for plan in plans:  # in order: a base is always planned (and so finished) before its users
            if plan.base is None:
                if plan.key in errors:
                    self._failed(plan.request, errors[plan.key], out, problem)
                    continue
                words = results[plan.key]
                self.stats.read += 1
            else:
                base_words = out.get(plan.base)
                if base_words is None or any(s.key in errors for parts in plan.sources for s in parts):
                    again.append(_Plan(plan.request, plan.key))
                    continue
                bands = [(box, _band_words(parts, results, plan)) for box, parts in zip(plan.boxes, plan.sources)]
                words = merge_bands(base_words, bands, plan.shift, plan.region, plan.frame_height, plan.pinned)
                if plan.spans:
                    self.stats.read += 1
                    self.stats.partial += 1
                    self.stats.scrolled += bool(plan.shift)
                else:
                    self.stats.near_duplicates += 1
                self._store(plan.key, words)
            out[plan.request] = words
        if again:
            with _Reads(self, len(again), done, failed) as reads:
                for plan in again:
                    decoded = self._decode(plan.request, problem)
                    if decoded is None:
                        out[plan.request] = None
                    else:
                        _, engine_pixels, frame_size = decoded
                        origin = plan.request.region[:2] if plan.request.region else (0, 0)
                        reads.submit(_Job(plan.key, engine_pixels, origin, frame_size))
            for plan in again:
                if plan.key in results:
                    out[plan.request] = results[plan.key]
                    self.stats.read += 1
                elif plan.request not in out:
                    self._failed(plan.request, errors.get(plan.key, "no result"), out, problem)
        return out

    def _failed(
        self,
        request: OcrRequest,
        error: str,
        out: dict[OcrRequest, list[OcrWord] | None],
        problem: Callable[[str], None],
    ) -> None:
        """One frame the engine could not read: it has no screen text; the others keep theirs."""
        problem(f"{request.path}: OCR failed ({error}); frame has no screen text")
        out[request] = None
        self.stats.failed += 1

    def _decode(
        self, request: OcrRequest, problem: Callable[[str], None]
    ) -> tuple[np.ndarray, np.ndarray, tuple[int, int]] | None:
        """The region's gray pixels, its pixels in the engine's image mode and the frame's size;
        None (reported, counted) for a frame that does not decode."""
        if self.engine.image_mode == "L":
            fast = decode_gray(request.path, request.region)
            if fast is not None:
                return fast[0], fast[0], fast[1]
        try:
            with Image.open(request.path) as image:
                image.load()
                crop = image.crop(request.region) if request.region else image
                pixels = gray(crop)
                mode = self.engine.image_mode
                engine_pixels = pixels if mode == "L" else np.asarray(crop.convert(mode))
                return pixels, engine_pixels, image.size
        except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for broken files
            problem(f"{request.path}: frame does not decode ({type(exc).__name__}: {str(exc)[:100]}); frame skipped")
            self.stats.failed += 1
            return None

    # -- planning -------------------------------------------------------------------------------

    def _plan(
        self,
        todo: list[tuple[OcrRequest, str]],
        out: dict[OcrRequest, list[OcrWord] | None],
        problem: Callable[[str], None],
        reads: _Reads,
        results: dict[str, list[OcrWord]],
    ) -> list[_Plan]:
        """Decode each frame once (a broken image is reported here), decide how it is read, and
        hand the pixels to read (the region, or its changed bands) to `reads` at once."""
        plans: list[_Plan] = []
        # frames of this run that will have words, the latest few per region (a window comes back
        # after alt+tab), with their cache keys and frame sizes
        recent: dict[Box | None, list[tuple[OcrRequest, np.ndarray, str, tuple[int, int]]]] = {}
        for request, key in todo:
            same = next((entry for entry in recent.get(request.region, []) if entry[2] == key), None)
            if same is not None:  # the same file bytes as a recent frame: its words, not decoded again
                seen = recent.pop(request.region)
                base, pixels, _, frame_size = same
                region = request.region or (0, 0, pixels.shape[1], pixels.shape[0])
                plans.append(
                    _Plan(request, key, base, region=region, frame_height=frame_size[1], frame_width=frame_size[0])
                )
                recent[request.region] = [(request, pixels, key, frame_size), *seen][: max(self.settings.history, 1)]
                continue
            decoded = self._decode(request, problem)
            if decoded is None:
                out[request] = None
                continue
            pixels, engine_pixels, frame_size = decoded
            seen = recent.pop(request.region, [])
            plan = self._plan_one(request, key, pixels, frame_size[1], [(r, p) for r, p, _, _ in seen])
            plans.append(plan)
            origin = request.region[:2] if request.region else (0, 0)
            plan.frame_width = frame_size[0]
            if plan.base is None:
                reads.submit(_Job(key, engine_pixels, origin, frame_size))
                self._remember_lines(key, pixels, origin)
            for box in plan.boxes:
                plan.sources.append(
                    self._read_band(request, box, pixels, engine_pixels, origin, frame_size, reads, results)
                )
            recent[request.region] = [(request, pixels, key, frame_size), *seen][: max(self.settings.history, 1)]
            while len(recent) > 16:  # regions seen longest ago first
                del recent[next(iter(recent))]
        return plans

    def _read_band(
        self,
        request: OcrRequest,
        box: Box,
        pixels: np.ndarray,
        engine_pixels: np.ndarray,
        origin: tuple[int, int],
        frame_size: tuple[int, int],
        reads: _Reads,
        results: dict[str, list[OcrWord]],
    ) -> list[_Source]:
        """Hand the reads of one changed band to `reads`: the whole band, or, when some of its lines
        were read earlier among these frames (lines.py), the runs of its other lines; where its words come from."""
        x0, y0, x1, y1 = (box[0] - origin[0], box[1] - origin[1], box[2] - origin[0], box[3] - origin[1])
        band = pixels[y0:y1, x0:x1]
        lines = cut_lines(band, self.settings.changes) if self.lines.size else []
        prints = [line_print(band[line.ink[0] : line.ink[1]]) for line in lines]
        found = [self.lines.find(print_) for print_ in prints]
        if not any(found):
            parts = [(0, y1 - y0)]  # read it whole
        else:
            parts = []  # the runs of lines not found, by their reaches
            for line, ref in zip(lines, found):
                if ref is not None:
                    continue
                if parts and parts[-1][1] == line.reach[0]:
                    parts[-1] = (parts[-1][0], line.reach[1])
                else:
                    parts.append(line.reach)
        sources = []
        for top, bottom in parts:
            part = (box[0], box[1] + top, box[2], box[1] + bottom)
            part_key = self._band_key(request, part)
            sources.append(_Source(part_key))
            for line, print_, ref in zip(lines, prints, found):
                if ref is None and top <= line.ink[0] < bottom:
                    reach = (box[1] + line.reach[0], box[1] + line.reach[1])
                    self.lines.add(LineRef(part_key, box[0], box[2], box[1] + line.ink[0], reach), print_)
            cached = self._load(part_key)
            if cached is not None:
                results[part_key] = cached
                continue
            pixels_part = _padded(engine_pixels[y0 + top : y0 + bottom, x0:x1], BAND_PAD)
            reads.submit(_Job(part_key, pixels_part, (box[0] - BAND_PAD, box[1] + top), frame_size))
        for line, ref in zip(lines, found):
            if ref is not None:
                self.stats.lines_reused += 1
                where = (ref.x0, ref.reach[0], ref.x1, ref.reach[1])
                sources.append(_Source(ref.key, where, box[0] - ref.x0, box[1] + line.ink[0] - ref.top))
        return sources

    def _remember_lines(self, key: str, pixels: np.ndarray, origin: tuple[int, int]) -> None:
        """The lines of a region read whole (in read `key`), for later bands to find."""
        if not self.lines.size:
            return
        width = pixels.shape[1]
        for line in cut_lines(pixels, self.settings.changes):
            reach = (origin[1] + line.reach[0], origin[1] + line.reach[1])
            ref = LineRef(key, origin[0], origin[0] + width, origin[1] + line.ink[0], reach)
            self.lines.add(ref, line_print(pixels[line.ink[0] : line.ink[1]]))

    def _plan_one(
        self,
        request: OcrRequest,
        key: str,
        pixels: np.ndarray,
        frame_height: int,
        seen: list[tuple[OcrRequest, np.ndarray]],
    ) -> _Plan:
        """Compare with the latest frames of the same region (newest first): reuse the one with the
        fewest changed rows, after a scroll if that leaves fewer; else read the frame whole."""
        s = self.settings
        if not self.reuse or not seen:
            return _Plan(request, key)
        height = pixels.shape[0]
        best: tuple[int, OcrRequest, np.ndarray, list[Span], int, list[Span]] | None = None
        for other, other_pixels in seen:
            spans = changed_spans(other_pixels, pixels, s.changes)
            if spans is None:
                continue
            rows = sum(y1 - y0 for y0, y1 in spans)
            if best is None or rows < best[0]:
                best = (rows, other, other_pixels, spans, 0, [])
            if not spans:
                break
        if best is not None and best[0] > s.scroll_check * height and s.partial:
            other, other_pixels = seen[0]
            dy = vertical_shift(other_pixels, pixels)
            if dy:
                spans, pinned = shifted_spans(other_pixels, pixels, dy, s.changes)
                rows = sum(y1 - y0 for y0, y1 in spans)
                if rows < best[0]:
                    best = (rows, other, other_pixels, spans, dy, pinned)
        if best is None:
            return _Plan(request, key)
        rows, base, base_pixels, spans, dy, pinned = best
        if spans and (not s.partial or rows > s.partial_limit * height):
            return _Plan(request, key)
        spans = _join(spans, s.band_join)
        if len(spans) > s.max_bands:
            return _Plan(request, key)
        region = request.region or (0, 0, pixels.shape[1], height)
        x0, y0, x1, _ = region
        boxes = []
        for span in spans:  # lines are never cut, nor words
            left, right = changed_columns(base_pixels, pixels, span, dy, s.changes)
            boxes.append((x0 + left, y0 + span[0], x0 + right, y0 + span[1]))
        still = [(x0, y0 + top, x1, y0 + bottom) for top, bottom in pinned]
        return _Plan(request, key, base, spans, boxes, dy, still, region, frame_height)

    # -- cache ----------------------------------------------------------------------------------

    def _digest(self, path: str) -> str:
        digest = self._digests.get(path)
        if digest is None:
            with open(path, "rb") as handle:  # streamed: memory stays flat whatever the file's size
                digest = hashlib.file_digest(handle, "sha1").hexdigest()
            self._digests[path] = digest
        return digest

    def _key(self, request: OcrRequest) -> str:
        mode = REUSE_VERSION if self.reuse else "whole"
        what = [self._digest(request.path), self.engine.cache_key(), request.region, self.settings.scale, mode]
        return hashlib.sha1(json.dumps(what).encode()).hexdigest()

    def _band_key(self, request: OcrRequest, box: Box) -> str:
        what = [
            self._digest(request.path),
            self.engine.cache_key(),
            list(box),
            self.settings.scale,
            f"band-hpad{BAND_PAD}",
        ]
        return hashlib.sha1(json.dumps(what).encode()).hexdigest()

    def _root(self) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / "ocr"

    def _file(self, key: str) -> Path | None:
        root = self._root()
        return None if root is None else root / key[:2] / f"{key}.json"

    def _load(self, key: str) -> list[OcrWord] | None:
        file = self._file(key)
        if file is None:
            return None
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            return None
        except OSError:  # an unreadable cache entry is read again
            return None
        # Frames with the same words (near duplicates, a screen that came back) have entries with
        # the same bytes: parsed once, one list shared (no one changes a frame's words in place).
        digest = hashlib.blake2b(data, digest_size=16).digest()
        words = self._parsed.get(digest)
        if words is None:
            try:
                words = _WORDS.validate_json(data)  # parsed by pydantic-core
            except Exception:  # noqa: BLE001 - a damaged cache entry is read again
                return None
            if len(self._parsed) >= 4096:
                self._parsed.clear()
            self._parsed[digest] = words
        return words

    def _store(self, key: str, words: list[OcrWord]) -> None:
        file = self._file(key)
        if file is None or self._cache_broken:
            return
        try:
            self._private_dir(file.parent)
            # 0600 temp file + rename; no fsync: a lost entry is only read again
            write_atomic(file, orjson.dumps([w.model_dump() for w in words]), fsync=False)
        except OSError as exc:  # a full disk: the words are still used, only not kept for the next build
            self._cache_broken = True
            log.warning(
                "%s: cannot write the OCR cache (%s); screen text is still read, but not cached for the next build",
                exc.filename or file.parent,
                exc.strerror or exc,
            )

    def _private_dir(self, folder: Path) -> None:
        if folder in self._private_dirs:
            return
        root = self._root()
        assert root is not None
        private_dir(root)
        private_dir(folder)  # files in it are 0600: write_atomic creates them so
        self._private_dirs.add(folder)


def decode_gray(path: str, region: Box | None) -> tuple[np.ndarray, tuple[int, int]] | None:
    """The gray pixels of `region` of an image file and the image's size, decoded by OpenCV when it
    is installed (the `ocr` extra): a 1080p WebP frame in 15 ms of CPU instead of Pillow's 39 ms
    (Pillow decodes WebP through its animation decoder, to RGBA, then copies it), the same gray
    pixels. None when OpenCV is missing, cannot decode the file, or the region leaves the image:
    Pillow then decodes it (and reports a broken file)."""
    try:
        import cv2
    except ImportError:
        return None
    try:
        pixels = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    except (OSError, cv2.error):
        return None
    if pixels is None:
        return None
    height, width = pixels.shape
    if region is not None:
        x0, y0, x1, y1 = region
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            return None
        pixels = pixels[y0:y1, x0:x1]
    return np.ascontiguousarray(pixels), (width, height)


def _band_words(sources: list[_Source], results: dict[str, list[OcrWord]], plan: _Plan) -> list[OcrWord]:
    """The words of one re-read band, from its reads and the earlier reads of lines found again."""
    if len(sources) == 1 and sources[0].line is None:
        return results.get(sources[0].key, [])
    words: list[OcrWord] = []
    for number, source in enumerate(sources):  # lines of different reads stay different lines
        for word in results.get(source.key, []):
            if source.line is not None:
                x, y = (word.box[0] + word.box[2]) / 2, word.center_y
                x0, y0, x1, y1 = source.line
                if not (x0 <= x < x1 and y0 <= y < y1):
                    continue
            bx0, by0, bx1, by1 = word.box
            moved = (bx0 + source.dx, by0 + source.dy, bx1 + source.dx, by1 + source.dy)
            mid = (
                round((moved[0] + moved[2]) / 2 / plan.frame_width, 4),
                round((moved[1] + moved[3]) / 2 / plan.frame_height, 4),
            )
            words.append(word.model_copy(update={"box": moved, "mid": mid, "line": number * 100_000 + word.line}))
    return words


def _padded(pixels: np.ndarray, pad: int) -> np.ndarray:
    """`pixels` with `pad` columns repeated from its edges on the left and the right."""
    return np.pad(pixels, ((0, 0), (pad, pad)) + ((0, 0),) * (pixels.ndim - 2), mode="edge")


def _join(spans: list[Span], gap: int) -> list[Span]:
    out: list[Span] = []
    for y0, y1 in spans:
        if out and y0 - out[-1][1] < gap:
            out[-1] = (out[-1][0], y1)
        else:
            out.append((y0, y1))
    return out


def merge_bands(
    base: list[OcrWord],
    bands: list[tuple[Box, list[OcrWord]]],
    shift: int = 0,
    region: Box | None = None,
    frame_height: int = 0,
    pinned: list[Box] | None = None,
) -> list[OcrWord]:
    """The words of an earlier frame outside the re-read bands (moved up by `shift` rows if the
    content scrolled, except in the `pinned` rows, which did not scroll; words scrolled out of the
    region or under pinned rows dropped), plus the words read in the bands.
    A word belongs to a band when its middle is inside the band's box. A line read in a band is a
    new line, unless the band is narrower than the region and the line continues a kept line
    beside it (a word typed at the end of a line): then it takes that line's number."""

    def inside(word: OcrWord, boxes: list[Box]) -> bool:
        x, y = (word.box[0] + word.box[2]) / 2, word.center_y
        return any(box[0] <= x < box[2] and box[1] <= y < box[3] for box in boxes)

    if shift:
        assert region is not None and frame_height > 0
        still = pinned or []
        moved = [w for w in base if inside(w, still)]
        for w in base:
            x0, y0, x1, y1 = w.box
            y0, y1 = y0 - shift, y1 - shift
            if y0 >= region[1] and y1 <= region[3] and not inside(w, still):
                word = w.model_copy(
                    update={"box": (x0, y0, x1, y1), "mid": (w.mid[0], round((y0 + y1) / 2 / frame_height, 4))}
                )
                if not inside(word, still):
                    moved.append(word)
        base = moved
    band_boxes = [box for box, _ in bands]
    kept = [w for w in base if not inside(w, band_boxes)]
    next_line = max((w.line for w in kept), default=-1) + 1
    out = list(kept)
    for box, words in bands:
        narrow = region is not None and (box[0] > region[0] or box[2] < region[2])
        lines: dict[int, int] = {}
        for word in words:
            if word.line not in lines:
                beside = _line_beside(word, kept) if narrow else None
                lines[word.line] = next_line if beside is None else beside
                next_line += beside is None
        out.extend(w.model_copy(update={"line": lines[w.line]}) for w in words)
    return reading_order(out)


def _line_beside(word: OcrWord, kept: list[OcrWord]) -> int | None:
    """The line number of the nearest kept word on the same line as `word`, at most two word
    heights away (farther is another column of text), or None."""
    best: tuple[float, int] | None = None
    for other in kept:
        if same_line(other, word):
            gap = max(other.box[0] - word.box[2], word.box[0] - other.box[2], 0)
            if gap <= 2 * max(word.height, other.height) and (best is None or gap < best[0]):
                best = (gap, other.line)
    return None if best is None else best[1]


def make_engine(name: str, options: dict[str, Any], threads: int = 0) -> OcrEngine:
    cls = registry.get("ocr_engines", name, "ocr")
    engine = cls(cls.Options.model_validate(options), None, threads=threads)
    engine.plugin_name = name
    return engine


def read_region(engine: OcrEngine, path: str, region: Box | None, scale: float) -> list[OcrWord]:
    """OCR one frame's region; words come back in frame pixels, midpoints normalized by the frame."""
    with Image.open(path) as image:
        image.load()
        crop = image.crop(region) if region else image
        pixels = np.asarray(crop.convert(engine.image_mode))
        return read_pixels(engine, pixels, region[:2] if region else (0, 0), image.size, scale)


def read_pixels(
    engine: OcrEngine, pixels: np.ndarray, origin: tuple[int, int], frame_size: tuple[int, int], scale: float
) -> list[OcrWord]:
    """OCR pixels cut from a frame at `origin`; words in frame pixels, midpoints normalized by the frame."""
    crop = Image.fromarray(pixels)
    if scale != 1.0:
        crop = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))), Image.LANCZOS)
    return to_frame_words(engine.read(crop), scale, *origin, *frame_size)


def to_frame_words(words: list[RawWord], scale: float, ox: int, oy: int, width: int, height: int) -> list[OcrWord]:
    out = []
    for w in words:
        x0, y0 = round(w.x0 / scale) + ox, round(w.y0 / scale) + oy
        x1, y1 = round(w.x1 / scale) + ox, round(w.y1 / scale) + oy
        mid = (round((x0 + x1) / 2 / width, 4), round((y0 + y1) / 2 / height, 4))
        out.append(OcrWord(text=w.text, box=(x0, y0, x1, y1), conf=round(w.conf, 3), mid=mid, line=w.line))
    return reading_order(out)


class _Reads:
    """Where the reads of one `OcrRunner.read` run: a process pool (one engine per worker,
    loaded once; started at the first read), or this process for a handful of frames.
    Reads are handed over as they are planned; at most a few per worker wait, so the pixels
    waiting stay few. `done(key, words)` gets each result in this process, or `failed(key, exc)`
    what went wrong: one failed read (an engine error, a worker that died) costs that read only."""

    def __init__(
        self,
        runner: OcrRunner,
        frames: int,
        done: Callable[[str, list[OcrWord]], None],
        failed: Callable[[str, BaseException], None],
    ) -> None:
        settings = runner.settings
        self.runner, self.done, self.failed, self.scale = runner, done, failed, settings.scale
        workers = settings.workers or os.cpu_count() or 1
        self.workers = min(workers, max(1, frames // 2)) if frames >= POOL_MIN_FRAMES else 1
        self.pool: ProcessPoolExecutor | None = None
        self.waiting: dict[Future[list[OcrWord]], str] = {}
        quiet = not settings.progress or not sys.stderr.isatty()
        self.bar = tqdm(total=0, desc="ocr", unit="read", disable=quiet, leave=False)

    def __enter__(self) -> _Reads:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self._collect(wait(self.waiting).done)
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)
            self.bar.close()

    def submit(self, job: _Job) -> None:
        self.bar.total += 1
        if self.workers <= 1:
            runner = self.runner
            if runner.local_engine is None:
                # one thread, as in the pool: multi-threaded tesseract (OpenMP) is slower on a busy machine
                runner.local_engine = make_engine(runner.settings.engine, runner.settings.engine_options, threads=1)
            try:
                words = read_pixels(runner.local_engine, job.pixels, job.origin, job.frame_size, self.scale)
            except Exception as exc:  # noqa: BLE001 - engines and PIL raise many kinds
                self.failed(job.key, exc)
            else:
                self.done(job.key, words)
            self.bar.update()
            return
        if self.pool is None:
            s = self.runner.settings
            self.pool = ProcessPoolExecutor(
                max_workers=self.workers, initializer=_init_worker, initargs=(s.engine, s.engine_options, os.getpid())
            )
        if len(self.waiting) >= 4 * self.workers:
            self._collect(wait(self.waiting, return_when=FIRST_COMPLETED).done)
        try:
            future = self.pool.submit(_worker_read, job.pixels, job.origin, job.frame_size, self.scale)
        except Exception as exc:  # noqa: BLE001 - BrokenProcessPool: a worker died; this read fails
            self.failed(job.key, exc)
            self.bar.update()
            return
        self.waiting[future] = job.key

    def _collect(self, finished: set[Future[list[OcrWord]]]) -> None:
        for future in finished:
            key = self.waiting.pop(future)
            try:
                words = future.result()
            except Exception as exc:  # noqa: BLE001 - the worker's exception, or BrokenProcessPool
                self.failed(key, exc)
            else:
                self.done(key, words)
            self.bar.update()


# -- process pool worker ----------------------------------------------------------------------

_worker_engine: OcrEngine | None = None


def _init_worker(name: str, options: dict[str, Any], parent: int) -> None:
    global _worker_engine
    _die_with(parent)
    _worker_engine = make_engine(name, options, threads=1)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with(parent: int) -> None:
    """Ask the kernel to kill this worker when the build process dies, even by SIGKILL (Linux);
    a worker whose parent is already gone exits at once."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # no prctl: the pool's own shutdown is all there is
            pass
    if os.getppid() != parent:
        os._exit(1)


def _worker_read(
    pixels: np.ndarray, origin: tuple[int, int], frame_size: tuple[int, int], scale: float
) -> list[OcrWord]:
    assert _worker_engine is not None
    return read_pixels(_worker_engine, pixels, origin, frame_size, scale)
