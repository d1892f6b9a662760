"""`datamakr export FILE (--to PATH | --push-to-hub REPO) [--val-size N]`: a built JSONL file as
Parquet, a `save_to_disk` folder, or a dataset on the Hugging Face Hub, always with a dataset
card (toolbox/core/card.py), optionally split into train and validation."""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolbox.commands.validate import detect_format, read_rows
from toolbox.core.card import dataset_card
from toolbox.core.io import make_private, private_umask
from toolbox.core.progress import on_terminal
from toolbox.core.registry import register_command
from toolbox.report import read_stats
from toolbox.vision.embed import embed_images

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict


class ExportError(Exception):
    """A problem with the arguments or the input, as one line for the user."""


@dataclass(frozen=True)
class Target:
    """Where the export goes: `kind` is parquet, folder or hub; `where` a path or a Hub repo id."""

    kind: str
    where: str


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="datamakr export",
        description="Export a built JSONL file with HF `datasets`: a Parquet file, a save_to_disk folder or a "
        "Hub dataset, with a dataset card (README.md) made from the build's stats.",
    )
    parser.add_argument("file", type=Path, help="a build's output (its .stats.json beside it feeds the card)")
    parser.add_argument("--to", type=Path, help="a .parquet file, or a folder (a name without a suffix)")
    parser.add_argument(
        "--push-to-hub",
        metavar="REPO",
        help="push to this Hub dataset repo (private), e.g. you/my-data; the token comes from HF_TOKEN "
        "(or a `huggingface-cli login`)",
    )
    parser.add_argument(
        "--val-size",
        type=float,
        help="also split off a validation set: a fraction (0.1) or a number of rows (200)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/validation split (default 0)")
    parser.add_argument(
        "--embed-images", action="store_true", help="vision formats: put the screenshots' bytes in (datasets.Image)"
    )
    return parser


@register_command("export")
def export_command(argv: list[str]) -> int:
    """Export a built JSONL file as Parquet, a save_to_disk folder or a Hub dataset, with a dataset card."""
    args = _parser().parse_args(argv)
    try:
        targets = export_targets(args.to, args.push_to_hub)
        if not args.file.is_file():
            raise ExportError(f"{args.file}: no such file")
        data = load(args.file, offline=args.push_to_hub is None)
        if args.embed_images:
            try:
                data = embed_images(data, args.file.resolve().parent)
            except (OSError, ValueError) as exc:
                raise ExportError(f"{args.file}: cannot embed images ({exc})") from None
        data = split(data, args.val_size, args.seed)
        stats = read_stats(args.file.with_name(args.file.name + ".stats.json"), [])
        fmt = _format_of(args.file, stats)
        for target in targets:
            with private_umask():  # exports are private like builds (0600 files, 0700 folders)
                card = write(data, target, args.file, stats, fmt)
            print(f"exported {_counts(data)} to {target.where}; card: {card}")
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def export_targets(to: Path | None, repo: str | None) -> list[Target]:
    """What `--to` and `--push-to-hub` ask for; an unknown suffix is an error, not a folder named `x.csv`."""
    if to is None and repo is None:
        raise ExportError("say where to: --to FILE.parquet, --to FOLDER, or --push-to-hub REPO")
    targets = []
    if to is not None:
        if to.suffix == ".parquet":
            targets.append(Target("parquet", str(to)))
        elif to.is_dir() or (to.suffix == "" and not to.exists()):
            targets.append(Target("folder", str(to)))
        else:
            what = f"{to.suffix!r} is not a kind export writes" if to.suffix else "a file is there already"
            raise ExportError(f"--to {to}: {what}; name a .parquet file, or a folder (no suffix) for save_to_disk")
    if repo is not None:
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise ExportError(f"--push-to-hub {repo}: a Hub repo id is OWNER/NAME")
        targets.append(Target("hub", repo))
    return targets


def load(file: Path, offline: bool) -> Dataset:
    if offline:
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import datasets  # slow to import, and only export needs it

    if not on_terminal():
        datasets.disable_progress_bars()  # datasets' own bars have a total and an ETA; a log gets none
    with tempfile.TemporaryDirectory() as cache:
        try:
            return datasets.Dataset.from_json(str(file), cache_dir=cache, keep_in_memory=True)
        except (ValueError, datasets.exceptions.DatasetGenerationError) as exc:
            raise ExportError(f"{file}: cannot be read as JSONL ({str(exc).splitlines()[0][:200]})") from None


def split(data: Dataset, val_size: float | None, seed: int) -> Dataset | DatasetDict:
    """`data` as it is, or a DatasetDict with train and validation (shuffled with `seed`)."""
    if val_size is None:
        return data
    size: float | int = int(val_size) if val_size >= 1 else val_size
    rows = math.ceil(size * len(data)) if isinstance(size, float) else size  # as train_test_split counts
    if val_size <= 0 or not 0 < rows < len(data):
        raise ExportError(
            f"--val-size {val_size}: {len(data)} row(s) cannot fill both a train and a validation split; "
            "give a fraction in (0, 1) or a number of rows below the total"
        )
    from datasets import DatasetDict

    parts = data.train_test_split(test_size=size, seed=seed)
    return DatasetDict({"train": parts["train"], "validation": parts["test"]})


def write(data: Dataset | DatasetDict, target: Target, source: Path, stats: dict[str, Any], fmt: str) -> str:
    """Write (or push) the data and its card; returns where the card went."""
    splits = _splits(data)
    if target.kind == "parquet":
        path = Path(target.where)
        path.parent.mkdir(parents=True, exist_ok=True)
        written = [path if len(splits) == 1 else path.with_suffix(f".{name}.parquet") for name in splits]
        for file, part in zip(written, splits.values()):  # one file, or NAME.train/.validation.parquet
            part.to_parquet(str(file))
        card_path = path.with_suffix(".README.md")
    elif target.kind == "folder":
        data.save_to_disk(target.where)
        written = [Path(target.where)]
        card_path = Path(target.where) / "README.md"
    else:
        return push(data, target.where, dataset_card(source, stats, _rows(splits), fmt, _hub_configs(splits)))
    card_path.write_text(dataset_card(source, stats, _rows(splits), fmt), encoding="utf-8")
    for made in [*written, card_path]:
        make_private(made)  # also when it existed before with a wider mode
    return str(card_path)


def push(data: Dataset | DatasetDict, repo: str, card: str) -> str:
    """The Hub: `push_to_hub` makes the (private) repo and uploads the data as Parquet under data/,
    then the card replaces the README it wrote (the card names the same data files)."""
    from huggingface_hub import DatasetCard

    token = os.environ.get("HF_TOKEN")  # None: huggingface_hub's own login, if any
    data.push_to_hub(repo, private=True, token=token)
    DatasetCard(card).push_to_hub(repo, token=token)
    return f"https://huggingface.co/datasets/{repo} (README.md)"


def _splits(data: Dataset | DatasetDict) -> dict[str, Dataset]:
    from datasets import DatasetDict

    return dict(data) if isinstance(data, DatasetDict) else {"train": data}


def _rows(splits: dict[str, Dataset]) -> dict[str, int]:
    return {name: len(part) for name, part in splits.items()}


def _counts(data: Dataset | DatasetDict) -> str:
    rows = _rows(_splits(data))
    total = sum(rows.values())
    return f"{total} rows" + (f" ({', '.join(f'{n} {k}' for k, n in rows.items())})" if len(rows) > 1 else "")


def _hub_configs(splits: dict[str, Dataset]) -> list[dict[str, Any]]:
    """The data file layout `push_to_hub` writes (data/SPLIT-*.parquet), for the card's header."""
    files = [{"split": name, "path": f"data/{name}-*"} for name in splits]
    return [{"config_name": "default", "data_files": files}]


def _format_of(file: Path, stats: dict[str, Any]) -> str:
    """The build's format (from its stats), else the one the first rows are valid in."""
    build = stats.get("build")
    if isinstance(build, dict) and isinstance(build.get("format"), str):
        return build["format"]
    rows, _ = read_rows(file)
    return detect_format(rows)[0] or "unknown"
