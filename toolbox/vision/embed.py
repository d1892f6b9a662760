"""Screenshots embedded in a Hugging Face dataset: the vision formats' image paths (relative to
the JSONL) become `datasets.Image` values holding the files' bytes, so that one Parquet file (or
`save_to_disk` folder) carries the images and loads with them decoded. Used by `export
--embed-images`."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def embed_images(data: Any, folder: Path) -> Any:
    """`data` (a `datasets.Dataset` read from a llamafactory_vision or opencua JSONL in
    `folder`) with its `images` column, or each `traj` step's `image`, as embedded images."""
    from datasets import Image, List  # imported here: slow to import, and only export needs it

    def read(path: str) -> dict[str, Any]:
        return {"bytes": (folder / path).read_bytes(), "path": path}

    features = data.features.copy()
    if "images" in data.column_names:
        data = data.map(lambda row: {"images": [read(p) for p in row["images"]]})
        features["images"] = List(Image())
    elif "traj" in data.column_names:
        data = data.map(lambda row: {"traj": [{**step, "image": read(step["image"])} for step in row["traj"]]})
        features["traj"] = List({**features["traj"].feature, "image": Image()})
    else:
        raise ValueError("no images to embed: rows have neither 'images' (llamafactory_vision) nor 'traj' (opencua)")
    return data.cast(features)
