"""Run an OCR engine over many frames, once: disk cache, reuse of unchanged text, process pool.

- Cache: one JSON file per (frame content hash, engine + options, region, upscale, reuse mode), so a
  rebuild never OCRs a frame twice, and a changed setting never returns stale words. The folder
  (`<cache_dir>/ocr`) is private (0700, files 0600): it holds the raw text of people's screens.
- Reuse (`reuse`, on by default): each frame is compared at full resolution with the frames of the
  same region read just before it (changes.py). Nothing text-sized changed (a caret blink): the
  earlier frame's words are reused. A few bands of lines changed (typing, a new line): only those
  bands are read, and the earlier frame's words outside them are kept. Otherwise: read it whole.
- Pool: the reads left to do go to `workers` processes (one engine thread each) with a progress
  bar; a handful of reads is done in this process instead, since a pool costs more than it saves.
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
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson
from PIL import Image
from tqdm import tqdm

from toolbox.core import registry
from toolbox.core.io import private_dir, write_atomic
from toolbox.ocr_engines.base import OcrEngine, RawWord
from toolbox.ocr_engines.changes import ChangeSettings, Span, changed_spans, gray, shifted_spans, vertical_shift
from toolbox.ocr_engines.words import Box, OcrWord, reading_order

log = logging.getLogger("datamakr")

DEFAULT_ENGINE = "tesseract"  # best word recall per second in bench/RESULTS-ocr.md
POOL_MIN_FRAMES = 4  # fewer reads than this are done in-process
REUSE_VERSION = "changes-v2"  # part of the cache key: v1 (thumbnail) results may hide typed text


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
    partial_limit: float = 0.5  # changed bands taller than this share of the region: read it whole
    max_bands: int = 4  # more separate changed bands than this: read it whole
    band_join: int = 32  # changed bands closer than this many rows are read as one
    history: int = 4  # earlier frames of the same region a frame is compared with
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
    failed: int = 0


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
    region: Box = (0, 0, 0, 0)  # the region in frame pixels
    frame_height: int = 0


@dataclass
class _Job:
    path: str
    box: Box | None
    key: str  # where the words of this read are cached


class OcrRunner:
    def __init__(self, settings: OcrSettings, cache_dir: Path | None) -> None:
        self.settings = settings
        self.cache_dir = cache_dir
        self.engine = make_engine(settings.engine, settings.engine_options)
        self._local_engine: OcrEngine | None = None
        self._digests: dict[str, str] = {}
        self._private_dirs: set[Path] = set()
        self._cache_broken = False  # a cache write failed (full disk): the rest of the build does not try
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
        Requests are taken in order (time order): a frame reuses words of frames before it."""
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
        plans = self._plan(todo, out, problem)
        jobs: list[_Job] = []
        for plan in plans:
            if plan.base is None:
                jobs.append(_Job(plan.request.path, plan.request.region, plan.key))
            else:
                for box in plan.boxes:
                    key = self._band_key(plan.request, box)
                    if self._load(key) is None:
                        jobs.append(_Job(plan.request.path, box, key))
        results: dict[str, list[OcrWord]] = {}
        errors: dict[str, str] = {}  # job key -> what went wrong

        def done(job: _Job, words: list[OcrWord]) -> None:  # stored at once: an interrupted build keeps its work
            results[job.key] = words
            errors.pop(job.key, None)  # frames with the same pixels share a key: one good read serves all
            self._store(job.key, words)

        def failed(job: _Job, exc: BaseException) -> None:
            if job.key not in results:
                errors[job.key] = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:160]}"

        self._run(jobs, done, failed)
        again: list[_Plan] = []  # frames built on a failed read: read whole instead
        for plan in plans:  # in order: a base is always planned (and so finished) before its users
            if plan.base is None:
                if plan.key in errors:
                    self._failed(plan.request, errors[plan.key], out, problem)
                    continue
                words = results[plan.key]
                self.stats.read += 1
            else:
                band_keys = [self._band_key(plan.request, box) for box in plan.boxes]
                base_words = out.get(plan.base)
                if base_words is None or any(k in errors for k in band_keys):
                    again.append(_Plan(plan.request, plan.key))
                    continue
                bands = [(box, results.get(k) or self._load(k) or []) for box, k in zip(plan.boxes, band_keys)]
                words = merge_bands(base_words, bands, plan.shift, plan.region, plan.frame_height)
                if plan.spans:
                    self.stats.read += 1
                    self.stats.partial += 1
                    self.stats.scrolled += bool(plan.shift)
                else:
                    self.stats.near_duplicates += 1
                self._store(plan.key, words)
            out[plan.request] = words
        if again:
            self._run([_Job(p.request.path, p.request.region, p.key) for p in again], done, failed)
            for plan in again:
                if plan.key in results:
                    out[plan.request] = results[plan.key]
                    self.stats.read += 1
                else:
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

    # -- planning -------------------------------------------------------------------------------

    def _plan(
        self,
        todo: list[tuple[OcrRequest, str]],
        out: dict[OcrRequest, list[OcrWord] | None],
        problem: Callable[[str], None],
    ) -> list[_Plan]:
        """Decode each frame once (a broken image is reported here) and decide how it is read."""
        plans: list[_Plan] = []
        # frames of this run that will have words, the latest few per region (a window comes back after alt+tab)
        recent: dict[Box | None, list[tuple[OcrRequest, np.ndarray]]] = {}
        for request, key in todo:
            try:
                with Image.open(request.path) as image:
                    image.load()
                    pixels = gray(image.crop(request.region) if request.region else image)
                    frame_height = image.height
            except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for broken files
                problem(
                    f"{request.path}: frame does not decode ({type(exc).__name__}: {str(exc)[:100]}); frame skipped"
                )
                out[request] = None
                self.stats.failed += 1
                continue
            seen = recent.pop(request.region, [])
            plans.append(self._plan_one(request, key, pixels, frame_height, seen))
            recent[request.region] = [(request, pixels), *seen][: max(self.settings.history, 1)]
            while len(recent) > 16:  # regions seen longest ago first
                del recent[next(iter(recent))]
        return plans

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
        best: tuple[int, OcrRequest, list[Span], int] | None = None
        for other, other_pixels in seen:
            spans = changed_spans(other_pixels, pixels, s.changes)
            if spans is None:
                continue
            rows = sum(y1 - y0 for y0, y1 in spans)
            if best is None or rows < best[0]:
                best = (rows, other, spans, 0)
            if not spans:
                break
        if best is not None and best[0] > s.partial_limit * height and s.partial:
            other, other_pixels = seen[0]
            dy = vertical_shift(other_pixels, pixels)
            if dy:
                spans = shifted_spans(other_pixels, pixels, dy, s.changes)
                rows = sum(y1 - y0 for y0, y1 in spans)
                if rows < best[0]:
                    best = (rows, other, spans, dy)
        if best is None:
            return _Plan(request, key)
        rows, base, spans, dy = best
        if spans and (not s.partial or rows > s.partial_limit * height):
            return _Plan(request, key)
        spans = _join(spans, s.band_join)
        if len(spans) > s.max_bands:
            return _Plan(request, key)
        region = request.region or (0, 0, pixels.shape[1], height)
        x0, y0, x1, _ = region
        boxes = [(x0, y0 + top, x1, y0 + bottom) for top, bottom in spans]  # lines are never cut
        return _Plan(request, key, base, spans, boxes, dy, region, frame_height)

    # -- the work -------------------------------------------------------------------------------

    def _run(
        self,
        jobs: list[_Job],
        done: Callable[[_Job, list[OcrWord]], None],
        failed: Callable[[_Job, BaseException], None],
    ) -> None:
        """Read every job; `done` gets its words, or `failed` what went wrong: one failed read
        (an engine error, a worker that died) costs that read only."""
        if not jobs:
            return
        scale = self.settings.scale
        workers = self.settings.workers or os.cpu_count() or 1
        workers = min(workers, max(1, len(jobs) // 2))
        quiet = not self.settings.progress or not sys.stderr.isatty()
        bar = tqdm(total=len(jobs), desc="ocr", unit="read", disable=quiet, leave=False)
        try:
            if workers <= 1 or len(jobs) < POOL_MIN_FRAMES:
                if self._local_engine is None:
                    # one thread, as in the pool: multi-threaded tesseract (OpenMP) is slower on a busy machine
                    self._local_engine = make_engine(self.settings.engine, self.settings.engine_options, threads=1)
                for job in jobs:
                    try:
                        words = read_region(self._local_engine, job.path, job.box, scale)
                    except Exception as exc:  # noqa: BLE001 - engines and PIL raise many kinds
                        failed(job, exc)
                    else:
                        done(job, words)
                    bar.update()
                return
            with ProcessPoolExecutor(
                max_workers=workers,
                initializer=_init_worker,
                initargs=(self.settings.engine, self.settings.engine_options, os.getpid()),
            ) as pool:
                futures: dict[Future[list[OcrWord]], _Job] = {
                    pool.submit(_worker_read, job.path, job.box, scale): job for job in jobs
                }
                for future in as_completed(futures):
                    try:
                        words = future.result()
                    except Exception as exc:  # noqa: BLE001 - the worker's exception, or BrokenProcessPool
                        failed(futures[future], exc)
                    else:
                        done(futures[future], words)
                    bar.update()
        finally:
            bar.close()

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
        what = [self._digest(request.path), self.engine.cache_key(), list(box), self.settings.scale, "band"]
        return hashlib.sha1(json.dumps(what).encode()).hexdigest()

    def _root(self) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / "ocr"

    def _file(self, key: str) -> Path | None:
        root = self._root()
        return None if root is None else root / key[:2] / f"{key}.json"

    def _load(self, key: str) -> list[OcrWord] | None:
        file = self._file(key)
        if file is None or not file.exists():
            return None
        try:
            return [OcrWord.model_validate(w) for w in orjson.loads(file.read_bytes())]
        except Exception:  # noqa: BLE001 - a damaged cache entry is read again
            return None

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
) -> list[OcrWord]:
    """The words of an earlier frame outside the re-read bands (moved up by `shift` rows if the
    content scrolled; words scrolled out of the region dropped), plus the words read in the bands.
    A word belongs to a band when its vertical middle is inside it; band words get line numbers
    after the kept ones (a band's lines are new lines)."""

    def inside(word: OcrWord) -> bool:
        return any(box[1] <= word.center_y < box[3] for box, _ in bands)

    if shift:
        assert region is not None and frame_height > 0
        moved = []
        for w in base:
            x0, y0, x1, y1 = w.box
            y0, y1 = y0 - shift, y1 - shift
            if y0 >= region[1] and y1 <= region[3]:
                moved.append(
                    w.model_copy(
                        update={"box": (x0, y0, x1, y1), "mid": (w.mid[0], round((y0 + y1) / 2 / frame_height, 4))}
                    )
                )
        base = moved
    kept = [w for w in base if not inside(w)]
    next_line = max((w.line for w in kept), default=-1) + 1
    out = list(kept)
    for _, words in bands:
        lines = {line: next_line + i for i, line in enumerate(dict.fromkeys(w.line for w in words))}
        out.extend(w.model_copy(update={"line": lines[w.line]}) for w in words)
        next_line += len(lines)
    return reading_order(out)


def make_engine(name: str, options: dict[str, Any], threads: int = 0) -> OcrEngine:
    cls = registry.get("ocr_engines", name, "ocr")
    engine = cls(cls.Options.model_validate(options), None, threads=threads)
    engine.plugin_name = name
    return engine


def read_region(engine: OcrEngine, path: str, region: Box | None, scale: float) -> list[OcrWord]:
    """OCR one frame's region; words come back in frame pixels, midpoints normalized by the frame."""
    with Image.open(path) as image:
        image.load()
        width, height = image.size
        crop = image.crop(region) if region else image.copy()
    ox, oy = (region[0], region[1]) if region else (0, 0)
    if scale != 1.0:
        crop = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))), Image.LANCZOS)
    words = engine.read(crop)
    return to_frame_words(words, scale, ox, oy, width, height)


def to_frame_words(words: list[RawWord], scale: float, ox: int, oy: int, width: int, height: int) -> list[OcrWord]:
    out = []
    for w in words:
        x0, y0 = round(w.x0 / scale) + ox, round(w.y0 / scale) + oy
        x1, y1 = round(w.x1 / scale) + ox, round(w.y1 / scale) + oy
        mid = (round((x0 + x1) / 2 / width, 4), round((y0 + y1) / 2 / height, 4))
        out.append(OcrWord(text=w.text, box=(x0, y0, x1, y1), conf=round(w.conf, 3), mid=mid, line=w.line))
    return reading_order(out)


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


def _worker_read(path: str, region: Box | None, scale: float) -> list[OcrWord]:
    assert _worker_engine is not None
    return read_region(_worker_engine, path, region, scale)
