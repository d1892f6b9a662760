"""`datamakr validate FILE [--format NAME]`: check every row of a JSONL file against a format's
rules. Without --format the format is the registered one most of the first rows are valid in; a
file that is not JSONL (Parquet, gzip, zip, HTML, a saved dataset folder...) is named in one line."""

from __future__ import annotations

import argparse
import sys
from itertools import islice
from pathlib import Path
from typing import Any

from toolbox.core import registry
from toolbox.core.format import Format
from toolbox.core.io import BadLine, read_jsonl
from toolbox.core.registry import register_command

SAMPLE_ROWS = 100  # rows read to detect the format, and to tell JSONL from other text

# leading bytes -> what the file is
MAGIC = [
    (b"PAR1", "a Parquet file (datasets or pandas read it)"),
    (b"\x1f\x8b", "gzip-compressed (gunzip it first)"),
    (b"PK\x03\x04", "a zip archive (unzip it first)"),
    (b"BZh", "bzip2-compressed (bunzip2 it first)"),
    (b"\xfd7zXZ\x00", "xz-compressed (unxz it first)"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed (unzstd it first)"),
    (b"ARROW1", "an Arrow file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
]


def what_file(path: Path) -> str | None:
    """What `path` is when it is plainly not JSONL (None: it may be)."""
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "state.json").exists():
            return "a folder holding a saved HF dataset (datasets.load_from_disk reads it)"
        return "a folder"
    with path.open("rb") as handle:
        head = handle.read(4096)
    for magic, what in MAGIC:
        if head.startswith(magic):
            return what
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if text.startswith(b"<"):
        return "XML or HTML markup"
    if b"\x00" in head:
        return "a binary file"
    if text.startswith(b"["):
        return "a JSON array (one document; JSONL has one JSON object a line)"
    return None


def read_rows(path: Path) -> tuple[list[tuple[int, Any]], str | None]:
    """The first rows, and what the file is if it is text but not JSONL (no JSON in its first rows)."""
    rows = list(islice(read_jsonl(path), SAMPLE_ROWS))
    if rows and all(isinstance(row, BadLine) for _, row in rows):
        return rows, f"text with no JSON in its first {len(rows)} lines"
    return rows, None


def detect_format(rows: list[tuple[int, Any]]) -> tuple[str | None, dict[str, int]]:
    """The registered format most rows are valid in (fewest problems on a tie; then by name), and
    the number of valid rows per format."""
    objects = [row for _, row in rows if not isinstance(row, BadLine)]
    scores: dict[str, tuple[int, int]] = {}
    for name in registry.names("formats"):
        fmt: Format = registry.get("formats", name)()
        problems = [fmt.validate(row) for row in objects]
        scores[name] = (sum(not p for p in problems), -sum(len(p) for p in problems))
    valid = {name: score[0] for name, score in scores.items()}
    best = max(scores, key=scores.__getitem__, default=None)  # the first of equals: names are sorted
    return (best if best is not None and valid[best] else None), valid


def validate_file(path: Path, format_name: str) -> tuple[int, list[str]]:
    """(rows read, one line per bad row: `path:line: reason`). Vision formats also find the
    images and grounding beside the file and round-trip every point (toolbox/vision/trajectory.py)."""
    fmt = registry.get("formats", format_name)()
    fmt.start(path)
    problems: list[str] = []
    rows = 0
    for number, row in read_jsonl(path):
        rows += 1
        if isinstance(row, BadLine):
            problems.append(f"{path}:{number}: not JSON ({row.reason})")
            continue
        errors = fmt.validate(row)
        if errors:
            problems.append(f"{path}:{number}: {'; '.join(errors)}")
    return rows, problems


@register_command("validate")
def validate_command(argv: list[str]) -> int:
    """Check every row of a JSONL file against a format's rules (detected unless --format names one)."""
    parser = argparse.ArgumentParser(
        prog="datamakr validate",
        description="Check every row of a JSONL file against a format's rules. Exit 1 if any row is invalid.",
    )
    parser.add_argument("file", type=Path)
    parser.add_argument(
        "--format", help=f"{', '.join(registry.names('formats'))}, ... (default: detected from the first rows)"
    )
    args = parser.parse_args(argv)
    try:
        return _validate(args.file, args.format)
    except (OSError, registry.PluginError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(f"error: {args.file}: {reason}", file=sys.stderr)
        return 2


def _validate(file: Path, format_name: str | None) -> int:
    what = what_file(file)
    sample, not_jsonl = read_rows(file) if what is None else ([], None)
    if what or not_jsonl:
        print(f"error: {file} is {what or not_jsonl}, not JSONL", file=sys.stderr)
        return 2
    detected = ""
    if format_name is None and not sample:
        print(f"{file}: 0 rows, 0 invalid (empty: no format to detect)")
        return 0
    if format_name is None:
        format_name, valid = detect_format(sample)
        if format_name is None:
            print(
                f"error: {file}: no row of the first {len(sample)} is valid in any registered format "
                f"({', '.join(valid)}); name the one it should be with --format to see its problems",
                file=sys.stderr,
            )
            return 2
        detected = ", detected"
    registry.get("formats", format_name, "--format")  # an unknown name is a one-line error
    rows, problems = validate_file(file, format_name)
    for line in problems:
        print(line)
    print(f"{file}: {rows} rows, {len(problems)} invalid ({format_name}{detected})")
    return 1 if problems else 0
