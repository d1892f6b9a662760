"""Run an OCR engine over many frames, once: disk cache, near-duplicate skipping, process pool.

- Cache: one JSON file per (frame content hash, engine + options, region, upscale), so a rebuild
  never OCRs a frame twice, and a changed setting never returns stale words.
- Near duplicates: a frame whose region differs from one already read by only a few pixels (a
  blinking caret, a clock) reuses that frame's words. Compared on a grayscale thumbnail.
- Pool: frames left to read go to `workers` processes (one engine thread each) with a progress
  bar; a handful of frames is read in this process instead, since a pool costs more than it saves.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import orjson
from PIL import Image
from tqdm import tqdm

from toolbox.core import registry
from toolbox.ocr_engines.base import OcrEngine, RawWord
from toolbox.transcribers.base import OcrWord

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels
THUMB_WIDTH = 480
POOL_MIN_FRAMES = 4  # fewer frames than this are read in-process


class OcrRequest(NamedTuple):
    path: str  # the image file
    region: Box | None = None  # the part of the frame to read; None = the whole frame


@dataclass
class OcrSettings:
    engine: str = "rapidocr"
    engine_options: dict[str, Any] = field(default_factory=dict)
    scale: float = 1.0  # upscale the region before reading (small UI text reads better larger)
    workers: int = 0  # 0 = one per CPU core
    near_duplicate: float = 0.0005  # share of thumbnail pixels that may differ; 0 disables skipping
    progress: bool = True


@dataclass
class OcrRunStats:
    frames: int = 0
    cached: int = 0
    near_duplicates: int = 0
    read: int = 0
    failed: int = 0


class OcrRunner:
    def __init__(self, settings: OcrSettings, cache_dir: Path | None) -> None:
        self.settings = settings
        self.cache_dir = cache_dir
        self.engine = make_engine(settings.engine, settings.engine_options)
        self._local_engine: OcrEngine | None = None
        self._digests: dict[str, str] = {}
        self.stats = OcrRunStats()

    def read(self, requests: list[OcrRequest], problem: Callable[[str], None]) -> dict[OcrRequest, list[OcrWord] | None]:
        """Words for each request (None if its image cannot be read; `problem` gets one line)."""
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
        # Decode here: a broken image is reported once, and near duplicates need the pixels.
        unique: list[tuple[OcrRequest, str]] = []
        copies: list[tuple[OcrRequest, str, OcrRequest]] = []  # (request, key, same words as)
        thumbs: list[tuple[OcrRequest, tuple[int, int], np.ndarray]] = []
        for request, key in todo:
            try:
                with Image.open(request.path) as image:
                    image.load()
                    crop = image.crop(request.region) if request.region else image
                    thumb = thumbnail(crop)
                    size = crop.size
            except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for broken files
                problem(f"{request.path}: frame does not decode ({type(exc).__name__}: {str(exc)[:100]}); frame skipped")
                out[request] = None
                self.stats.failed += 1
                continue
            twin = self._near_twin(size, thumb, thumbs)
            if twin is not None:
                copies.append((request, key, twin))
                self.stats.near_duplicates += 1
            else:
                unique.append((request, key))
                thumbs.append((request, size, thumb))
        def done(i: int, words: list[OcrWord]) -> None:  # stored at once: an interrupted build keeps its work
            request, key = unique[i]
            out[request] = words
            self._store(key, words)
            self.stats.read += 1

        self._run(unique, done)
        for request, key, twin in copies:
            words = out[twin]
            out[request] = words
            if words is not None:
                self._store(key, words)
        return out

    # -- the work -------------------------------------------------------------------------------

    def _run(self, unique: list[tuple[OcrRequest, str]], done: Callable[[int, list[OcrWord]], None]) -> None:
        jobs = [(r.path, r.region, self.settings.scale) for r, _ in unique]
        workers = self.settings.workers or os.cpu_count() or 1
        workers = min(workers, max(1, len(jobs) // 2))
        quiet = not self.settings.progress or not sys.stderr.isatty()
        bar = tqdm(total=len(jobs), desc="ocr", unit="frame", disable=quiet, leave=False)
        try:
            if workers <= 1 or len(jobs) < POOL_MIN_FRAMES:
                if self._local_engine is None:
                    # one thread, as in the pool: multi-threaded tesseract (OpenMP) is slower on a busy machine
                    self._local_engine = make_engine(self.settings.engine, self.settings.engine_options, threads=1)
                for i, job in enumerate(jobs):
                    done(i, read_region(self._local_engine, *job))
                    bar.update()
                return
            with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                     initargs=(self.settings.engine, self.settings.engine_options)) as pool:
                futures: dict[Future[list[OcrWord]], int] = {pool.submit(_worker_read, *job): i for i, job in enumerate(jobs)}
                for future in as_completed(futures):
                    done(futures[future], future.result())
                    bar.update()
        finally:
            bar.close()

    def _near_twin(self, size: tuple[int, int], thumb: np.ndarray, seen: list[tuple[OcrRequest, tuple[int, int], np.ndarray]]) -> OcrRequest | None:
        limit = self.settings.near_duplicate
        if limit <= 0:
            return None
        for request, other_size, other in reversed(seen[-8:]):
            if other_size == size and other.shape == thumb.shape:
                changed = np.count_nonzero(np.abs(other.astype(np.int16) - thumb) > 24)
                if changed <= limit * thumb.size:
                    return request
        return None

    # -- cache ----------------------------------------------------------------------------------

    def _key(self, request: OcrRequest) -> str:
        digest = self._digests.get(request.path)
        if digest is None:
            digest = hashlib.sha1(Path(request.path).read_bytes()).hexdigest()
            self._digests[request.path] = digest
        what = [digest, self.engine.cache_key(), request.region, self.settings.scale]
        return hashlib.sha1(json.dumps(what).encode()).hexdigest()

    def _file(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / "ocr" / key[:2] / f"{key}.json"

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
        if file is None:
            return
        file.parent.mkdir(parents=True, exist_ok=True)
        # temp file + rename (no fsync: a lost cache entry is only read again)
        tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
        tmp.write_bytes(orjson.dumps([w.model_dump() for w in words]))
        os.replace(tmp, file)


def make_engine(name: str, options: dict[str, Any], threads: int = 0) -> OcrEngine:
    cls = registry.get("ocr_engines", name, "ocr")
    engine = cls(cls.Options.model_validate(options), None, threads=threads)
    engine.plugin_name = name
    return engine


def thumbnail(image: Image.Image) -> np.ndarray:
    gray = image.convert("L")
    if gray.width > THUMB_WIDTH:
        gray = gray.resize((THUMB_WIDTH, max(1, round(gray.height * THUMB_WIDTH / gray.width))), Image.BILINEAR)
    return np.asarray(gray, dtype=np.int16)


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
    return sort_words(out)


def sort_words(words: list[OcrWord]) -> list[OcrWord]:
    """Reading order: by line (top to bottom, lines within half a word height are one), then x."""
    if not words:
        return words
    ordered = sorted(words, key=lambda w: (w.box[1] + w.box[3]) / 2)
    rows: list[list[OcrWord]] = []
    for word in ordered:
        mid_y = (word.box[1] + word.box[3]) / 2
        if rows:
            last = rows[-1][0]
            if abs((last.box[1] + last.box[3]) / 2 - mid_y) <= max(4, (last.box[3] - last.box[1]) / 2):
                rows[-1].append(word)
                continue
        rows.append([word])
    return [w for row in rows for w in sorted(row, key=lambda w: w.box[0])]


# -- process pool worker ----------------------------------------------------------------------

_worker_engine: OcrEngine | None = None


def _init_worker(name: str, options: dict[str, Any]) -> None:
    global _worker_engine
    _worker_engine = make_engine(name, options, threads=1)


def _worker_read(path: str, region: Box | None, scale: float) -> list[OcrWord]:
    assert _worker_engine is not None
    return read_region(_worker_engine, path, region, scale)
