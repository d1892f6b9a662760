from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from toolbox.core.registry import register_command
from toolbox.vision.embed import embed_images


@register_command("export")
def export_command(argv: list[str]) -> int:
    """Export a built JSONL file as a Hugging Face dataset (save_to_disk folder) or Parquet."""
    parser = argparse.ArgumentParser(
        prog="build_data.py export", description="Export a built JSONL file with HF `datasets`."
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--to", type=Path, required=True, help="a folder (HF save_to_disk) or a .parquet file")
    parser.add_argument(
        "--embed-images", action="store_true", help="vision formats: put the screenshots' bytes in (datasets.Image)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from datasets import Dataset  # imported here: it is slow to import and only export needs it

    if not args.file.is_file():
        print(f"error: {args.file}: no such file", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as cache:
        data = Dataset.from_json(str(args.file), cache_dir=cache)
        if args.embed_images:
            try:
                data = embed_images(data, args.file.resolve().parent)
            except (OSError, ValueError) as exc:
                print(f"error: {args.file}: cannot embed images ({exc})", file=sys.stderr)
                return 2
        if args.to.suffix == ".parquet":
            data.to_parquet(str(args.to))
        else:
            data.save_to_disk(str(args.to))
    print(f"exported {len(data)} rows to {args.to}")
    return 0
