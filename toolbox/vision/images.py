"""Screenshots for the vision formats: a recorded frame resized to exactly the exported size,
written as a file beside the output or as a data URL, and the size of an exported image read
back (what `validate` maps points through)."""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path
from typing import Literal

from PIL import Image, UnidentifiedImageError

from toolbox.core.io import write_atomic
from toolbox.vision.resize import Size, VisionError

ImageFormat = Literal["png", "jpeg", "webp"]
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
QUALITY = 90  # jpeg and webp


def resized(frame: Path, size: Size, frame_size: Size | None = None, rgb: bool = False) -> Image.Image:
    """The frame at exactly `size` (Lanczos; grayscale frames stay grayscale unless `rgb`).
    With `frame_size`, a frame whose file has another size is refused: its points would land
    elsewhere."""
    try:
        with Image.open(frame) as image:
            if frame_size is not None and image.size != tuple(frame_size):
                raise VisionError(
                    f"{frame}: the frame is {image.size[0]}x{image.size[1]}, the session says "
                    f"{frame_size[0]}x{frame_size[1]}"
                )
            image.draft(image.mode, size)  # JPEG frames decode at a smaller scale when they can
            mode = "RGB" if rgb or image.mode not in ("L", "RGB") else image.mode
            converted = image.convert(mode) if image.mode != mode else image
            return converted.resize(size, Image.Resampling.LANCZOS) if converted.size != size else converted.copy()
    except FileNotFoundError:
        raise VisionError(f"{frame}: frame not found") from None
    except (OSError, UnidentifiedImageError) as exc:
        raise VisionError(f"{frame}: cannot read the frame ({exc})") from None


def encoded(image: Image.Image, fmt: ImageFormat) -> bytes:
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, format="PNG", compress_level=3)  # level 6 costs ~50% more time for -10..+20% size
    else:
        image.save(buffer, format=fmt.upper(), quality=QUALITY)
    return buffer.getvalue()


def write_image(image: Image.Image, target: Path, fmt: ImageFormat) -> int:
    """Write `image` to `target` atomically and private (0600, like the output); its bytes."""
    data = encoded(image, fmt)
    write_atomic(target, data, fsync=False)
    return len(data)


def data_url(image: Image.Image, fmt: ImageFormat) -> str:
    return f"data:{MIME[fmt]};base64,{base64.b64encode(encoded(image, fmt)).decode()}"


def file_size(path: Path) -> Size:
    """(width, height) of an image file, from its header."""
    try:
        with Image.open(path) as image:
            return image.size
    except FileNotFoundError:
        raise VisionError(f"image {path} not found") from None
    except (OSError, UnidentifiedImageError) as exc:
        raise VisionError(f"image {path} cannot be read ({exc})") from None


def data_url_image(url: str) -> tuple[str, Size, str]:
    """(format, size, mode) of the image a `data:image/...;base64,` URL holds."""
    head, _, payload = url.partition(",")
    if not (head.startswith("data:image/") and head.endswith(";base64")):
        raise VisionError("image_url is not a base64 data URL of an image")
    try:
        raw = base64.b64decode(payload, validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            return (image.format or "").lower(), image.size, image.mode
    except (binascii.Error, ValueError):
        raise VisionError("image_url holds no valid base64") from None
    except (OSError, UnidentifiedImageError) as exc:
        raise VisionError(f"image_url holds no readable image ({exc})") from None
