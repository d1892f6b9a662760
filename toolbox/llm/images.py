"""Frames as image inputs: downscaled to a maximum side, sent as a data URL with the MIME type
of the actual image format (not the file extension)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path

from PIL import Image, UnidentifiedImageError

MIME = {"PNG": "image/png", "WEBP": "image/webp", "JPEG": "image/jpeg", "GIF": "image/gif"}


class ImageError(ValueError):
    pass


def image_data_url(path: str | Path, max_side: int, edit: Callable[[Image.Image], Image.Image] | None = None) -> str:
    """`data:<mime>;base64,...` of the image, scaled down (never up) so its longer side is at
    most `max_side`. The original bytes are sent when no scaling (and no `edit`) is needed.
    `edit` changes the full-size image first (the privacy blackout)."""
    file = Path(path)
    try:
        raw = file.read_bytes()
        with Image.open(io.BytesIO(raw)) as image:
            fmt = image.format or "PNG"
            if fmt not in MIME:
                fmt = "PNG"
            elif max(image.size) <= max_side and edit is None:
                return f"data:{MIME[fmt]};base64,{base64.b64encode(raw).decode()}"
            image.load()
            scaled = edit(image) if edit is not None else image.copy()
    except FileNotFoundError:
        raise ImageError(f"{file}: frame not found") from None
    except (OSError, UnidentifiedImageError) as exc:
        raise ImageError(f"{file}: cannot read frame ({exc})") from None
    scaled.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if fmt == "JPEG" and scaled.mode not in ("RGB", "L"):
        scaled = scaled.convert("RGB")
    buffer = io.BytesIO()
    scaled.save(buffer, format=fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
    return f"data:{MIME[fmt]};base64,{base64.b64encode(buffer.getvalue()).decode()}"
