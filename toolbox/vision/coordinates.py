"""Where a recorded point goes in each model's coordinates, and back.

A point is recorded in frame pixels (x right, y down, origin top left). The exported image is the
frame resized to `image_size` (see `export_size`); each convention writes the point as:

- `normalized`: 0-1 fractions of the image, 4 decimals (OpenCUA/AgentNet `pyautogui.click(x=0.7007, y=0.9438)`);
- `pixels`: whole pixels of the exported image (Anthropic and OpenAI computer use);
- `smart_resize`: whole pixels of the image after Qwen's smart_resize (Qwen2.5-VL, UI-TARS-1.5).
  The arithmetic is that of `pixels`: what makes it right is that the exported image already has
  the smart_resize size, so the model's processor leaves it as it is;
- `grid1000`: whole numbers on a 0-1000 grid over the image (Qwen3-VL, UI-TARS-1).

Each axis scales on its own: an image resized to a standard size (1920x1080 -> 1366x768) is not
scaled by exactly the same ratio in x and y.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

from toolbox.vision.resize import Size, VisionError, check_size

Convention = Literal["normalized", "pixels", "smart_resize", "grid1000"]
CONVENTIONS: tuple[str, ...] = get_args(Convention)

Point = tuple[float, float]  # (x, y) in frame pixels
Exported = tuple[float, float] | tuple[int, int]  # (x, y) in a convention's units
Box = tuple[float, float, float, float]  # (left, top, right, bottom) in frame pixels

NORMALIZED_DECIMALS = 4
GRID = 1000


def _extent(convention: str, image_size: Size) -> tuple[float, float]:
    """The exported coordinate that stands for the frame's right and bottom edge."""
    if convention == "normalized":
        return 1.0, 1.0
    if convention == "grid1000":
        return GRID, GRID
    if convention in ("pixels", "smart_resize"):
        return image_size
    raise VisionError(f"unknown coordinate convention {convention!r}; known: {', '.join(CONVENTIONS)}")


def encode(point: Point, convention: Convention, frame_size: Size, image_size: Size) -> Exported:
    """`point` (frame pixels) in `convention`, for an image exported at `image_size`."""
    check_size(frame_size, "frame size")
    check_size(image_size, "image size")
    x, y = point
    width, height = frame_size
    if not (0 <= x <= width and 0 <= y <= height):
        raise VisionError(f"point ({x}, {y}) is outside the {width}x{height} frame")
    extent_x, extent_y = _extent(convention, image_size)
    scaled_x, scaled_y = x / width * extent_x, y / height * extent_y
    if convention == "normalized":
        return round(scaled_x, NORMALIZED_DECIMALS), round(scaled_y, NORMALIZED_DECIMALS)
    if convention == "grid1000":
        return round(scaled_x), round(scaled_y)
    # pixel indices stop one short of the image's width and height
    return min(round(scaled_x), extent_x - 1), min(round(scaled_y), extent_y - 1)


def decode(exported: Exported, convention: Convention, frame_size: Size, image_size: Size) -> Point:
    """The frame-pixel point that `exported` (in `convention`, on an `image_size` image) stands for."""
    check_size(frame_size, "frame size")
    check_size(image_size, "image size")
    extent_x, extent_y = _extent(convention, image_size)
    return exported[0] / extent_x * frame_size[0], exported[1] / extent_y * frame_size[1]


def round_trip_ok(
    point: Point,
    exported: Exported,
    convention: Convention,
    frame_size: Size,
    image_size: Size,
    target_box: Box | None = None,
    tol_px: float = 2.0,
) -> bool:
    """Whether `exported`, mapped back onto the frame, lands inside `target_box` (the recorded
    target, frame pixels, edges included) or, with no box, within `tol_px` frame pixels of `point`."""
    back_x, back_y = decode(exported, convention, frame_size, image_size)
    if target_box is not None:
        left, top, right, bottom = target_box
        if left > right or top > bottom:
            raise VisionError(f"target box {target_box} has its right or bottom edge before its left or top edge")
        return left <= back_x <= right and top <= back_y <= bottom
    return math.hypot(back_x - point[0], back_y - point[1]) <= tol_px
