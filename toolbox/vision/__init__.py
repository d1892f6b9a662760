"""Vision: screenshots and points in the coordinates vision-language agent models expect.

- `resize`: Qwen's `smart_resize` and fitting a size inside a box.
- `coordinates`: the conventions (normalized, pixels, smart_resize, grid1000), encode/decode of a
  frame point, and the round-trip check every exported point must pass.
- `families`: model-family presets (coordinates, image size, action names) and `export_size`.
"""

from toolbox.vision.coordinates import (
    CONVENTIONS,
    Box,
    Convention,
    Exported,
    Point,
    decode,
    encode,
    round_trip_ok,
)
from toolbox.vision.families import (
    ACTIONS,
    FAMILIES,
    ModelFamily,
    export_size,
    model_family,
)
from toolbox.vision.resize import Size, VisionError, fit_within, smart_resize

__all__ = [
    "ACTIONS",
    "CONVENTIONS",
    "FAMILIES",
    "Box",
    "Convention",
    "Exported",
    "ModelFamily",
    "Point",
    "Size",
    "VisionError",
    "decode",
    "encode",
    "export_size",
    "fit_within",
    "model_family",
    "round_trip_ok",
    "smart_resize",
]
