"""The images of the report: a small WebP thumbnail of every frame, and the full-size image.

- `link` (default): thumbnails go to `<report stem>_files/` beside the page; the full-size image
  is the recorded frame itself, referenced by a relative URL (nothing is copied).
- `embed`: thumbnail and a downscaled full image are inlined as data URIs, so the page is one
  file that can be mailed around (bigger; meant for small builds).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from PIL import Image

from toolbox.core.io import atomic_writer, private_dir
from toolbox.core.session import FrameFileError, FrameMissing, check_frame_file

FrameMode = Literal["link", "embed"]
THUMB_SIZE = (400, 400)  # shown ~350 CSS px wide
THUMB_QUALITY = 70
EMBED_FULL_SIZE = (1280, 1280)


@dataclass(frozen=True)
class FrameImage:
    thumb: str  # URL of the thumbnail
    full: str  # URL of the full-size image
    width: int  # of the original frame, the coordinate space of clicks and OCR boxes
    height: int


class FrameStore:
    def __init__(self, report: Path, mode: FrameMode = "link", workers: int = 2) -> None:
        self.report_dir = report.parent
        self.assets = report.with_name(report.stem + "_files")
        self.mode = mode
        self.workers = workers
        self.images: dict[Path, FrameImage | None] = {}
        self.problems: list[str] = []

    def prepare(self, sources: list[Path]) -> None:
        """Make the images of every frame, a few at a time (Pillow releases the GIL)."""
        todo = list(dict.fromkeys(s for s in sources if s not in self.images))
        if self.mode == "link" and todo:
            # thumbnails show raw screens (the page itself is written 0600, like every atomic write)
            private_dir(self.assets)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for source, image in zip(todo, pool.map(self._make, todo)):
                self.images[source] = image
        if self.mode == "link" and self.assets.is_dir():
            self._prune()

    def get(self, source: Path) -> FrameImage | None:
        if source not in self.images:
            self.prepare([source])
        return self.images[source]

    def _thumb_path(self, source: Path) -> Path:
        key = f"{source}\x1f{THUMB_SIZE}\x1f{THUMB_QUALITY}"  # a new size or quality makes new files
        return self.assets / (hashlib.sha1(key.encode()).hexdigest()[:20] + ".webp")

    def _url(self, path: Path) -> str:
        return quote(Path(os.path.relpath(path, self.report_dir)).as_posix())

    def _make(self, source: Path) -> FrameImage | None:
        try:
            check_frame_file(source)  # bytes and pixels bounded before anything is decoded
            with Image.open(source) as image:
                width, height = image.size
                if self.mode == "embed":
                    return FrameImage(
                        _data_uri(image, THUMB_SIZE, 60), _data_uri(image, EMBED_FULL_SIZE, 75), width, height
                    )
                thumb = self._thumb_path(source)
                if not (thumb.exists() and thumb.stat().st_mtime >= source.stat().st_mtime):
                    _save_webp(image, THUMB_SIZE, THUMB_QUALITY, thumb)
                return FrameImage(self._url(thumb), self._url(source), width, height)
        except (FileNotFoundError, FrameMissing):
            self.problems.append(f"{source}: frame file not found; shown as missing")
        except FrameFileError as exc:
            self.problems.append(f"{source}: {exc}; shown as missing")
        except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for broken files; one frame, not the page
            self.problems.append(
                f"{source}: cannot read the frame ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); "
                "shown as missing"
            )
        return None

    def _prune(self) -> None:
        """Drop thumbnails of an earlier report that this one no longer uses."""
        used = {self._thumb_path(s).name for s, image in self.images.items() if image is not None}
        for old in self.assets.glob("*.webp"):
            if old.name not in used:
                old.unlink(missing_ok=True)


def _scaled(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    small = image.copy()
    small.thumbnail(size, Image.Resampling.LANCZOS, reducing_gap=1.0)  # box-reduce first: ~5x faster, looks the same
    return small


def _save_webp(image: Image.Image, size: tuple[int, int], quality: int, target: Path) -> None:
    with atomic_writer(target, fsync=False) as handle:
        _scaled(image, size).save(handle, "WEBP", quality=quality, method=2)


def _data_uri(image: Image.Image, size: tuple[int, int], quality: int) -> str:
    buffer = io.BytesIO()
    _scaled(image, size).save(buffer, "WEBP", quality=quality, method=2)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
