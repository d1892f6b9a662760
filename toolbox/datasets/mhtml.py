"""Saved web pages (.mhtml), rendered offline in Chromium, tagged and OCR'd: `WebPage` records
for the web_screens task (toolbox/web/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from toolbox.core.config import ConfigError
from toolbox.core.dataset import Dataset
from toolbox.core.plugin import BuildContext
from toolbox.core.registry import register_dataset
from toolbox.web.models import WebPage
from toolbox.web.pages import PageReader, PageRequest, WebPageOptions


def input_files(ctx: BuildContext, pattern: str, suffixes: tuple[str, ...], where: str) -> list[Path]:
    """A glob's matches, a folder's files with one of `suffixes` (recursively), or one file;
    sorted. A ConfigError naming `where` if there are none."""
    path = ctx.path(pattern)
    if any(c in pattern for c in "*?["):
        files = sorted(p for p in ctx.base_dir.glob(pattern) if p.is_file())
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes and p.is_file())
    else:
        files = [path] if path.is_file() else []
    if not files:
        raise ConfigError(f"{where}.path: no {'/'.join(suffixes)} files at {path}")
    return files


@register_dataset("mhtml")
class MhtmlPages(Dataset):
    """Saved .mhtml pages rendered offline in Chromium: interactable elements tagged, screenshot OCR'd."""

    class Options(WebPageOptions):
        path: str

    options: Options

    def records(self) -> Iterator[WebPage]:
        files = input_files(self.ctx, self.options.path, (".mhtml", ".mht"), f"datasets ({self.plugin_name})")
        reader = PageReader(self.options, self.ctx)
        try:
            for _, page in reader.pages(PageRequest[None](path=f, item=None) for f in files):
                yield page
        finally:
            reader.close()
