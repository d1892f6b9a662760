"""Render an MHTML archive offline in Chromium (through Playwright) and tag what can be clicked.

Every request the page makes is answered from the archive (Playwright routing); a request for
anything the archive lacks is refused, so nothing reaches the network and no local file is
read. Page scripts are off by default (a snapshot is the page as it was, and its scripts would
only ask for more). Form values recorded as attributes are restored, then the interactable
elements are tagged (page.js) and the screen is photographed: the viewport, or with `full_page`
the whole page up to `max_height`, whose rendered height is the screen's height.
"""

from __future__ import annotations

import shutil
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from toolbox.web.mhtml import Archive
from toolbox.web.models import TargetMatch, WebTag, WebTarget

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright, Route

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
    "--font-render-hinting=none",
]


class RenderSettings(BaseModel):
    width: int = Field(default=1280, ge=200, le=8192)  # viewport, CSS pixels (Mind2Web's width)
    height: int = Field(default=1080, ge=200, le=8192)
    full_page: bool = True  # the whole page, not just the viewport, up to max_height
    max_height: int = Field(default=3240, ge=200, le=32768)  # a cap only: a short page keeps its own height
    javascript: bool = False  # run the page's own scripts
    timeout: float = Field(default=30.0, gt=0)  # seconds to load one page
    chromium: str | None = None  # the browser binary; default: Debian's chromium, else Playwright's own


class Rendered(BaseModel):
    """A rendered page: the screen's size (CSS pixels = screenshot pixels), its screenshot,
    the tagged elements, the target's tag when one was asked for, and the URLs the page asked
    for that the archive does not hold (refused)."""

    width: int
    height: int
    png: bytes = Field(repr=False)
    tags: list[WebTag]
    target: TargetMatch | None = None
    restored: int = 0  # form values put back
    missing: list[str] = Field(default_factory=list)


@cache
def page_script() -> str:
    return resources.files("toolbox.web").joinpath("page.js").read_text(encoding="utf-8")


def _call(name: str) -> str:
    return f"(args) => ({page_script()}).{name}(args)"


def chromium_path(configured: str | None) -> str | None:
    """The browser to launch: the configured one, else the first system Chromium found, else
    None (Playwright's own download, if any)."""
    if configured:
        return configured
    return next((p for p in CHROMIUM_PATHS if Path(p).exists()), None) or shutil.which("chromium")


class Renderer:
    """One browser for many pages (launched on first use); each page gets a fresh context.
    Use as a context manager, or call `close()`."""

    def __init__(self, settings: RenderSettings) -> None:
        self.settings = settings
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def browser(self) -> Browser:
        if self._browser is None:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=chromium_path(self.settings.chromium), args=LAUNCH_ARGS
            )
        return self._browser

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None

    def render(self, archive: Archive, target: WebTarget | None = None, max_distance: float = 50.0) -> Rendered:
        s = self.settings
        context = self.browser().new_context(
            viewport={"width": s.width, "height": s.height},
            device_scale_factor=1,
            java_script_enabled=s.javascript,
            service_workers="block",
        )
        missing: list[str] = []

        def serve(route: Route) -> None:
            resource = archive.get(route.request.url)
            if resource is None:
                missing.append(route.request.url)
                route.abort("blockedbyclient")
            else:
                route.fulfill(status=200, headers={"content-type": resource.content_type}, body=resource.body)

        try:
            context.set_default_timeout(s.timeout * 1000)
            context.route("**/*", serve)
            page = context.new_page()
            page.goto(archive.url, wait_until="load")
            restored = page.evaluate(_call("restore"))
            height = s.height
            if s.full_page:
                height = min(max(page.evaluate(_call("pageHeight")), s.height), s.max_height)
                if height != s.height:
                    page.set_viewport_size({"width": s.width, "height": height})
            args: dict[str, Any] = {"target": target.model_dump() if target else None, "maxDistance": max_distance}
            found = page.evaluate(_call("tag"), args)
            png = page.screenshot(type="png", animations="disabled", caret="hide")
        finally:
            context.close()
        return Rendered(
            width=s.width,
            height=height,
            png=png,
            tags=[WebTag.model_validate(t) for t in found["tags"]],
            target=TargetMatch.model_validate(found["target"]) if found["target"] else None,
            restored=restored,
            missing=missing,
        )
