"""OCR engines read the text of an image, as words with boxes and confidence.

An engine is a plugin (`@register_ocr_engine("name")`) with validated `Options`. It sees one
RGB image (a crop of a frame, maybe upscaled) and returns `RawWord`s in that image's pixels; the
runner (runner.py) maps them back onto the frame, caches them and runs engines in a pool.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from PIL import Image

from toolbox.core.plugin import Plugin


class RawWord(NamedTuple):
    text: str
    x0: int
    y0: int
    x1: int
    y1: int
    conf: float  # 0..1
    line: int  # words of one line share the number


class OcrEngine(Plugin):
    """Read words from an image. `threads` is the number of CPU threads one call may use (the
    runner sets 1 when it runs several engines in a process pool)."""

    version: str = "1"  # bump when the output for the same image and options changes (cache key)
    image_mode: str = "RGB"  # the PIL mode of the images `read` is given (the runner converts crops once)

    def __init__(self, options=None, ctx=None, threads: int = 0) -> None:  # type: ignore[no-untyped-def]
        super().__init__(options, ctx)
        self.threads = threads

    def read(self, image: Image.Image) -> list[RawWord]:
        raise NotImplementedError

    def cache_key(self) -> str:
        """What decides the engine's output: name, version and options (not the thread count)."""
        return json.dumps([self.plugin_name, self.version, self.options.model_dump()], sort_keys=True)


def split_line(text: str, box: tuple[float, float, float, float], conf: float, line: int) -> list[RawWord]:
    """Words of a line read as one box, each given a share of the box by its character count
    (line-level engines such as rapidocr do not box single words)."""
    x0, y0, x1, y1 = box
    words = text.split()
    if not words:
        return []
    # Characters plus one space between words, spread evenly over the width.
    total = sum(len(w) for w in words) + len(words) - 1
    per_char = (x1 - x0) / max(total, 1)
    out: list[RawWord] = []
    pos = 0
    for word in words:
        wx0 = x0 + pos * per_char
        wx1 = wx0 + len(word) * per_char
        out.append(RawWord(word, round(wx0), round(y0), round(wx1), round(y1), conf, line))
        pos += len(word) + 1
    return out
