"""MHTML files to `WebPage` records: render (render.py), keep the screenshot and the tags in the
build's cache, OCR the screenshots.

Pages go in batches: a batch is rendered one page after another in one browser, then its
screenshots are OCR'd together (the OCR runner reads them in parallel, one process per core,
and caches the words) while the browser renders the next batch. A rendered page is cached by
the archive's bytes, the render settings and the target, so a rebuild neither renders nor
reads anything again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, Field, field_validator

from toolbox.core.config import ConfigError, PluginRef, plugin_options
from toolbox.core.io import private_dir, write_atomic
from toolbox.core.plugin import BuildContext
from toolbox.ocr_engines.runner import DEFAULT_ENGINE, OcrRequest, OcrRunner, OcrSettings
from toolbox.web.mhtml import ArchiveError, read_archive
from toolbox.web.models import TargetMatch, WebPage, WebTag, WebTarget
from toolbox.web.render import Renderer, RenderSettings

RENDER_VERSION = "1"  # part of the cache key: bump when page.js or the rendering changes what it returns
T = TypeVar("T")


class WebPageOptions(RenderSettings):
    """How pages are rendered and read; shared by the `mhtml` and `mind2web` datasets."""

    ocr: PluginRef = Field(default_factory=lambda: PluginRef(name=DEFAULT_ENGINE))
    ocr_workers: int = Field(default=0, ge=0)  # OCR processes; 0 = one per CPU core
    batch: int = Field(default=8, ge=1)  # pages rendered before their screenshots are OCR'd together

    @field_validator("ocr")
    @classmethod
    def _engine_exists(cls, value: PluginRef) -> PluginRef:
        try:
            plugin_options("ocr_engines", value, "ocr")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value


class PageRequest(BaseModel, Generic[T]):
    path: Path
    target: WebTarget | None = None
    item: T  # what the caller gets back beside the page


class _Cached(BaseModel):
    url: str
    title: str
    width: int
    height: int
    tags: list[WebTag]
    target: TargetMatch | None
    missing: int


class PageReader:
    """Reads pages for a dataset; `close()` (or the build's end) shuts the browser."""

    def __init__(self, options: WebPageOptions, ctx: BuildContext, max_distance: float = 50.0) -> None:
        self.options = options
        self.ctx = ctx
        self.max_distance = max_distance
        self.settings = RenderSettings.model_validate(options.model_dump(include=set(RenderSettings.model_fields)))
        self.renderer = Renderer(self.settings)
        self.folder = ctx.cache_dir / "web"
        self._ocr: OcrRunner | None = None

    def close(self) -> None:
        self.renderer.close()

    def ocr(self) -> OcrRunner:
        if self._ocr is None:
            private_dir(self.ctx.cache_dir / "ocr")
            ref = self.options.ocr
            self._ocr = OcrRunner(
                OcrSettings(engine=ref.name, engine_options=ref.options, workers=self.options.ocr_workers, reuse=False),
                cache_dir=self.ctx.cache_dir,
            )
        return self._ocr

    def pages(self, requests: Iterable[PageRequest[T]]) -> Iterator[tuple[T, WebPage]]:
        """Each readable request's item and page, in order; unreadable ones are counted problems.
        A batch is OCR'd in a thread while the browser renders the next one (Playwright stays on
        this thread), so both cores work."""
        stream = iter(requests)
        with ThreadPoolExecutor(max_workers=1) as ocr_thread:
            reading: tuple[list[tuple[PageRequest[T], WebPage]], Future[dict[OcrRequest, Any]]] | None = None
            while True:
                batch = list(islice(stream, self.options.batch))
                done = [(r, page) for r in batch if (page := self._render(r)) is not None]
                if reading is not None:
                    yield from self._with_words(*reading)
                if not batch:
                    return
                reading = (
                    done,
                    ocr_thread.submit(self.ocr().read, [OcrRequest(p.screenshot) for _, p in done], self._problem),
                )

    def _with_words(
        self, done: list[tuple[PageRequest[T], WebPage]], reading: Future[dict[OcrRequest, Any]]
    ) -> Iterator[tuple[T, WebPage]]:
        try:
            words = reading.result()
        except Exception as exc:  # noqa: BLE001 - an engine failure costs these pages, not the build
            self._problem(f"OCR failed ({type(exc).__name__}: {str(exc)[:160]}); {len(done)} pages skipped")
            return
        for request, page in done:
            found = words.get(OcrRequest(page.screenshot))
            if found is not None:  # None: the screenshot did not decode (a counted problem)
                page.words = found
                yield request.item, page

    def _problem(self, message: str) -> None:
        self.ctx.stats.problem("pages", message)

    def _render(self, request: PageRequest[T]) -> WebPage | None:
        path = request.path
        try:
            data = path.read_bytes()
        except OSError as exc:
            self._problem(f"{path}: cannot read ({exc.strerror or exc}); skipped")
            return None
        what = [RENDER_VERSION, hashlib.sha1(data).hexdigest(), self.settings.model_dump(exclude={"timeout"})]
        what.append([request.target.model_dump() if request.target else None, self.max_distance])
        key = hashlib.sha1(orjson.dumps(what)).hexdigest()
        folder = private_dir(self.folder / key[:2])
        png, meta = folder / f"{key}.png", folder / f"{key}.json"
        try:
            cached = _Cached.model_validate_json(meta.read_bytes()) if png.exists() else None
        except (OSError, ValueError):
            cached = None  # a damaged entry is rendered again
        if cached is None:
            try:
                archive = read_archive(data)
                rendered = self.renderer.render(archive, request.target, self.max_distance)
            except ArchiveError as exc:
                self._problem(f"{path}: not an MHTML page ({exc}); skipped")
                return None
            except Exception as exc:  # noqa: BLE001 - Playwright raises its own kinds (timeouts, a crashed page)
                self._problem(f"{path}: cannot render ({str(exc).splitlines()[0][:160]}); skipped")
                return None
            cached = _Cached(
                url=archive.url,
                title=archive.title,
                width=rendered.width,
                height=rendered.height,
                tags=rendered.tags,
                target=rendered.target,
                missing=len(rendered.missing),
            )
            write_atomic(png, rendered.png, fsync=False)
            write_atomic(meta, cached.model_dump_json().encode(), fsync=False)
        return WebPage(path=str(path), screenshot=str(png), **cached.model_dump())
