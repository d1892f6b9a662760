"""Image sizes: Qwen's `smart_resize` and plain fitting inside a box.

Sizes outside `smart_resize` are (width, height), like PIL's `Image.size`. `smart_resize` keeps its
published (height, width) order so that it can be compared with the reference line by line.
"""

from __future__ import annotations

import math

Size = tuple[int, int]  # (width, height) in pixels

MAX_ASPECT_RATIO = 200  # smart_resize refuses longer strips (qwen_vl_utils MAX_RATIO)


class VisionError(ValueError):
    """A bad size, point, convention or model family; the message is one line."""


def check_size(size: Size, what: str) -> None:
    """Raise unless both sides are positive integers."""
    width, height = size
    if not (isinstance(width, int) and isinstance(height, int)) or width <= 0 or height <= 0:
        raise VisionError(f"{what} must be positive whole pixels, got {width}x{height}")


def smart_resize(
    height: int,
    width: int,
    factor: int = 28,
    min_pixels: int = 56 * 56,
    max_pixels: int = 14 * 14 * 4 * 1280,
) -> tuple[int, int]:
    """(height, width) of the image a Qwen-VL processor actually feeds the model.

    As published in qwen_vl_utils (Qwen2-VL, Qwen2.5-VL, Qwen3-VL) and transformers'
    Qwen2VLImageProcessor: each side goes to the nearest multiple of `factor` (never below one
    `factor`); if that area is over `max_pixels`, both sides are scaled down by the same ratio and
    floored to multiples of `factor`; if it is under `min_pixels`, scaled up and ceiled. The
    defaults are transformers' image-processor defaults; models override them in their
    preprocessor config (see `families.py`). Python's `round` (half to even) is the reference's.
    """
    check_size((width, height), "image size")
    if factor <= 0 or min_pixels > max_pixels:
        raise VisionError(
            f"smart_resize needs factor > 0 and min_pixels <= max_pixels, got {factor}, {min_pixels}, {max_pixels}"
        )
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_ASPECT_RATIO:
        raise VisionError(
            f"aspect ratio {ratio:.1f} of {width}x{height} is over {MAX_ASPECT_RATIO}; smart_resize refuses it"
        )
    new_height = max(factor, round(height / factor) * factor)
    new_width = max(factor, round(width / factor) * factor)
    if new_height * new_width > max_pixels:
        shrink = math.sqrt(height * width / max_pixels)
        new_height = math.floor(height / shrink / factor) * factor
        new_width = math.floor(width / shrink / factor) * factor
    elif new_height * new_width < min_pixels:
        grow = math.sqrt(min_pixels / (height * width))
        new_height = math.ceil(height * grow / factor) * factor
        new_width = math.ceil(width * grow / factor) * factor
    return new_height, new_width


def fit_within(size: Size, box: Size) -> Size:
    """The largest size with `size`'s aspect ratio inside `box`; never larger than `size`."""
    check_size(size, "image size")
    check_size(box, "box")
    width, height = size
    scale = min(box[0] / width, box[1] / height)
    if scale >= 1:
        return size
    return max(1, round(width * scale)), max(1, round(height * scale))
